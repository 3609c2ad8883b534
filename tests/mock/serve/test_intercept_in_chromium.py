"""Chromium, unchanged, at the site's own address through ``aichat-mock --intercept``: the
recipe of docs/mock-server.md ("Each client, unchanged") run as it is written there, in a home
of the test's own: ``certutil`` adds the mock's CA to the NSS database Chromium reads on Linux,
and Chromium (Debian's, driven by Playwright) starts with the recipe's ``--proxy-server``. The
chat page loads from ``https://chat-gpt.org/chat`` and sends a message; the mock journals the
page and the message ``via`` the proxy, and the message's body is the provider's.

Chromium trusts the CA, it does not ignore certificate errors: with a database that lacks the
CA, the same page is refused.

Nothing leaves loopback. The page's requests for any other host are aborted and counted (there
are none). Chromium's own background requests go to the proxy, which refuses them: its net log,
read after it stops, shows every TCP connection it opened went to the mock and no UDP socket
sent a byte; name lookups are mapped to nothing (``--host-resolver-rules``). How many requests
of its own it made is recorded as the test's property ``chromium_own_requests``.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Request, Route, expect, sync_playwright
from playwright.sync_api import Error as PlaywrightError

import aichat
from mock_server.testing.remote import RemoteMock
from support import expected
from support.markdown import code_blocks

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CERTUTIL = "/usr/bin/certutil"
RECIPE = ("docs/mock-server.md", "Each client, unchanged")
SITE_HOST = "chat-gpt.org"
# Where the recipe finds the CA: the mock's default state folder, in the test's own home.
RECIPE_CA = Path(".local", "state", "aichat-mock", "ca.pem")
NSS_DB = Path(".pki", "nssdb")
# Any name lookup Chromium would make fails at once; the proxy's address is a literal.
RESOLVER_RULES = "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"
# A UDP socket that only connects (to learn a route) and never sends is not traffic.
QUIET_UDP = {"SOCKET_ALIVE", "UDP_CONNECT", "UDP_LOCAL_ADDRESS"}
TIMEOUT_MS = 10_000
TEXT = "Hello from Chromium"


def recipe() -> tuple[str, list[str]]:
    """The recipe's two commands: certutil's, and Chromium's arguments."""
    [block] = code_blocks(*RECIPE, "sh")
    trust, start = block.splitlines()
    assert trust.startswith("certutil ") and start.startswith("chromium "), block
    return trust, shlex.split(start)[1:]


@pytest.fixture
def home(tmp_path: Path, aichat_intercept: RemoteMock) -> Path:
    """A home with an empty NSS database, as Chromium makes it on its first start, and the
    mock's CA where the mock keeps it by default."""
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CERTUTIL, os.X_OK)):
        pytest.fail(f"{CHROMIUM} or {CERTUTIL} is missing: `make browser` installs Debian's "
                    f"chromium and libnss3-tools with apt-get", pytrace=False)
    folder = tmp_path / "home"
    (folder / NSS_DB).mkdir(parents=True)
    subprocess.run([CERTUTIL, "-d", f"sql:{folder / NSS_DB}", "-N", "--empty-password"],
                   check=True, capture_output=True, timeout=30)
    (folder / RECIPE_CA).parent.mkdir(parents=True)
    assert aichat_intercept.ca_file is not None
    shutil.copyfile(aichat_intercept.ca_file, folder / RECIPE_CA)
    return folder


def trust_the_ca(home: Path) -> None:
    """The recipe's certutil command, as written, in that home."""
    trust, _ = recipe()
    done = subprocess.run(["bash", "-c", trust], env={**os.environ, "HOME": str(home)},
                          capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr


@contextmanager
def chromium(home: Path, proxy: str, net_log: Path) -> Iterator[tuple[Browser, str]]:
    """Chromium with the recipe's arguments (its proxy moved to the test's mock), in ``home``;
    and the URL the recipe opens."""
    arguments = recipe()[1]
    flags = [f"--proxy-server={proxy}" if flag.startswith("--proxy-server=") else flag
             for flag in arguments if flag.startswith("--")]
    [url] = [argument for argument in arguments if not argument.startswith("--")]
    assert any(flag.startswith("--proxy-server=") for flag in flags), arguments
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), env={**os.environ, "HOME": str(home)},
            args=[*flags, RESOLVER_RULES, f"--log-net-log={net_log}"])
        try:
            yield browser, url
        finally:
            browser.close()


def guarded_page(browser: Browser, blocked: list[str]) -> Page:
    """A page whose requests for anything but the site (which the proxy serves) are aborted
    and listed in ``blocked``."""
    context = browser.new_context(service_workers="block")
    context.set_default_timeout(TIMEOUT_MS)

    def site_only(route: Route, request: Request) -> None:
        if urlsplit(request.url).hostname == SITE_HOST:
            route.continue_()
        else:
            blocked.append(request.url)
            route.abort("blockedbyclient")

    context.route("**/*", site_only)
    return context.new_page()


def read_net_log(path: Path) -> list[tuple[str, int, dict[str, Any]]]:
    """Chromium's net log as (event name, source id, parameters)."""
    data = json.loads(path.read_text("utf-8"))
    names = {number: name for name, number in data["constants"]["logEventTypes"].items()}
    return [(names[event["type"]], event["source"]["id"], event.get("params") or {})
            for event in data["events"]]


def assert_only_loopback(events: list[tuple[str, int, dict[str, Any]]], mock: str,
                         record: Callable[[str, object], None]) -> None:
    address = urlsplit(mock).netloc
    connected = {params["address"] for name, _, params in events
                 if name == "TCP_CONNECT_ATTEMPT" and "address" in params}
    assert connected == {address}, f"Chromium connected to {connected}, not the mock alone"
    udp = {source for name, source, _ in events if name == "UDP_CONNECT"}
    sent = {name for name, source, _ in events if source in udp} - QUIET_UDP
    assert not sent, f"a UDP socket of Chromium's did more than connect: {sent}"
    started = [params["url"] for name, _, params in events
               if name == "URL_REQUEST_START_JOB" and "url" in params]
    own = [url for url in started if urlsplit(url).hostname not in (SITE_HOST, "127.0.0.1")]
    record("chromium_own_requests", len(own))


def test_chromium_loads_the_chat_page_at_the_sites_address_and_sends_a_message(
        aichat_intercept: RemoteMock, home: Path, tmp_path: Path,
        record_property: Callable[[str, object], None]) -> None:
    trust_the_ca(home)
    net_log = tmp_path / "net-log.json"
    blocked: list[str] = []
    with chromium(home, aichat_intercept.base_url, net_log) as (browser, url):
        page = guarded_page(browser, blocked)
        loaded = page.goto(url)
        assert loaded is not None and loaded.ok and loaded.url == f"{expected.SITE}/chat"
        assert (loaded.security_details() or {}).get("protocol", "").startswith("TLS")
        page.locator("#prompt").fill(TEXT)
        page.locator("#prompt").press("Enter")
        expect(page.locator("#conversation .message.assistant .content")).to_have_text(
            f"You said: {TEXT}")
    assert blocked == []

    chat, message = aichat_intercept.requests
    assert [(entry["method"], entry["path"]) for entry in (chat, message)] == [
        ("GET", "/chat"), ("POST", "/api/text")]
    for entry in (chat, message):
        assert (entry["via"], entry["scheme"], entry["host"]) == ("proxy", "https", SITE_HOST)
    # The page's body is the provider's: the same fields, in the same order, of the same types.
    page_body = json.loads(message["body"], object_pairs_hook=list)
    assert aichat.complete([{"role": "user", "content": TEXT}]) == f"You said: {TEXT}"
    provider_body = json.loads(aichat_intercept.requests[-1]["body"], object_pairs_hook=list)
    assert page_body == provider_body == list(expected.body(f"user: {TEXT}\nassistant:").items())
    assert [type(value) for _, value in page_body] == [type(value) for _, value in provider_body]
    assert message["violations"] == []

    assert_only_loopback(read_net_log(net_log), aichat_intercept.base_url, record_property)


def test_without_the_ca_chromium_refuses_the_mocks_certificate(
        aichat_intercept: RemoteMock, home: Path, tmp_path: Path,
        record_property: Callable[[str, object], None]) -> None:
    net_log = tmp_path / "net-log.json"
    blocked: list[str] = []
    with chromium(home, aichat_intercept.base_url, net_log) as (browser, url):
        page = guarded_page(browser, blocked)
        with pytest.raises(PlaywrightError, match="ERR_CERT_AUTHORITY_INVALID"):
            page.goto(url)
    assert blocked == []
    assert aichat_intercept.requests == []  # refused in the handshake, before any request
    assert_only_loopback(read_net_log(net_log), aichat_intercept.base_url, record_property)
