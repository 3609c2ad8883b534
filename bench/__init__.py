"""Benchmarks and reliability runs of the provider and the mock server (``make bench``,
``make soak``). Loopback only; every run is bounded in requests and time."""
