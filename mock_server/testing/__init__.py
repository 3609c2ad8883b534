"""The testing kit: one interface to a mock for a test (``kit.AichatMock``) and its carriers: a
mock served from a thread of the test process (``thread_server.LiveServer``), one with no
socket at all on ``responses`` (``socketless.InProcessMock``), a client for a mock that runs
anywhere else (``remote.RemoteMock``), and the ``aichat-mock`` command run as a child process
(``child_process.MockProcess``); the pytest fixtures (``pytest_plugin``).
"""
