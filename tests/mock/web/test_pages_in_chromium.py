"""The chat page and the inspector in a real Chromium (Debian's, driven by Playwright) against
the live mock server.

The page must flatten the conversation exactly as the provider does (docs/provider.md, What it
sends) and post the provider's body; its errors must be visible; the inspector must show the journal
escaped and clear it. The page never reaches beyond loopback: every other request is aborted and
counted. The chat and inspector tests also take the README's screenshots: into a temporary folder on
every run, into docs/screenshots/ when AICHAT_SCREENSHOT_DIR names it (`make screenshots`).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from playwright.sync_api import Browser, Page, Request, Response, Route, expect, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from aichat.Aichat import flatten
from mock_server.testing.remote import RemoteMock

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    # Loopback traffic must never go through a proxy taken from the environment.
    "--no-proxy-server",
    # Re-rastering only what changed leaves the anti-aliasing of rounded corners to the
    # page's history; whole tiles keep the screenshots the same from run to run.
    "--disable-partial-raster",
]
VIEWPORT = {"width": 1000, "height": 700}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
BODY_KEYS = ["message", "temperature", "presence_penalty", "top_p", "frequency_penalty"]
TIMEOUT_MS = 10_000


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """One headless Chromium for the module. A missing browser fails: CI must not go green
    by skipping the only test of the pages."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: the browser tests need Debian's Chromium "
                    f"(run `make browser`, which installs it with apt-get)", pytrace=False)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield browser
        browser.close()


@dataclass
class Tab:
    """A page in a fresh browser context, and what it tried that it should not have."""

    page: Page
    blocked: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_loads: list[str] = field(default_factory=list)
    policy_violations: list[str] = field(default_factory=list)

    def problems(self) -> dict[str, list[str]]:
        return {name: found for name, found in (("blocked", self.blocked),
                                                ("page errors", self.page_errors),
                                                ("failed loads", self.failed_loads),
                                                ("policy violations", self.policy_violations))
                if found}


@pytest.fixture
def tab(chromium: Browser, remote_mock: RemoteMock) -> Iterator[Tab]:
    context = chromium.new_context(viewport=VIEWPORT, locale="en-US", timezone_id="UTC",
                                   color_scheme="light", service_workers="block")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    tab = Tab(page)

    def loopback_only(route: Route, request: Request) -> None:
        if urlsplit(request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            tab.blocked.append(request.url)
            route.abort("blockedbyclient")

    def watch_load(response: Response) -> None:
        # /api/text answers errors on purpose; anything else failing is a broken page.
        if response.status >= 400 and urlsplit(response.url).path != "/api/text":
            tab.failed_loads.append(f"{response.status} {response.url}")

    context.route("**/*", loopback_only)
    page.on("pageerror", lambda error: tab.page_errors.append(str(error)))
    # The pages' Content-Security-Policy refusing something the pages themselves do.
    page.on("console", lambda message: tab.policy_violations.append(message.text)
            if message.type == "error" and "Content Security Policy" in message.text else None)
    page.on("response", watch_load)
    yield tab
    context.close()
    assert tab.problems() == {}


def open_chat(tab: Tab, mock: RemoteMock) -> Page:
    page = tab.page
    page.goto(mock.url_for("/chat"))
    expect(page.locator("#send")).to_be_visible()
    return page


def send(page: Page, text: str, *, wait: bool = True) -> None:
    """Enter ``text`` and send it with Enter (a multi-line text is typed key by key, its
    newlines with Shift+Enter); with ``wait``, until the page shows the outcome."""
    prompt = page.locator("#prompt")
    if "\n" in text:
        prompt.click()
        for number, line in enumerate(text.split("\n")):
            if number:
                prompt.press("Shift+Enter")
            prompt.press_sequentially(line)
    else:
        prompt.fill(text)
    prompt.press("Enter")
    if wait:
        wait_idle(page)


def wait_idle(page: Page) -> None:
    """Until no request is in flight; checked every frame, not on expect's slower backoff."""
    page.wait_for_function(
        "() => document.getElementById('conversation').getAttribute('aria-busy') === 'false'")


def api_entries(mock: RemoteMock) -> list[dict[str, Any]]:
    return mock.journal(path="/api/text")["requests"]


def assert_provider_body(entry: dict[str, Any], messages: list[dict[str, str]]) -> None:
    """The entry's body is the provider's, byte for byte as the page serialises it."""
    message = flatten(messages)
    expected = {"message": message, "temperature": 1, "presence_penalty": 0, "top_p": 1,
                "frequency_penalty": 0}
    assert entry["body"] == json.dumps(expected, separators=(",", ":"), ensure_ascii=False)
    pairs = json.loads(entry["body"], object_pairs_hook=list)
    assert [key for key, _ in pairs] == BODY_KEYS
    assert [type(value) for _, value in pairs] == [str, int, int, int, int]
    assert entry["json"] == expected
    assert (entry["method"], entry["status"], entry["violations"]) == ("POST", 200, [])


def assistant_replies(page: Page) -> list[str]:
    return page.locator("#conversation .message.assistant .content").all_text_contents()


def screenshot(page: Page, name: str) -> None:
    # A test run must not rewrite tracked files; `make screenshots` asks for that explicitly.
    folder = Path(os.environ.get("AICHAT_SCREENSHOT_DIR")
                  or Path(tempfile.gettempdir()) / "aichat-screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    page.screenshot(path=str(target), animations="disabled", caret="hide")
    assert target.read_bytes().startswith(PNG_SIGNATURE), f"{target} is not a PNG"


# --- the flattening rule ----------------------------------------------------------------------

roles = st.sampled_from(["system", "user", "assistant"]) | st.text(max_size=12)
conversations = st.lists(st.fixed_dictionaries({"role": roles, "content": st.text(max_size=40)}),
                         max_size=6)


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(conversations, min_size=1, max_size=40))
def test_the_pages_flattening_is_the_providers(tab: Tab, remote_mock: RemoteMock,
                                               batch: list[list[dict[str, str]]]) -> None:
    page = tab.page
    if page.url == "about:blank":
        open_chat(tab, remote_mock)
    # One round trip per batch of conversations keeps the property cheap.
    results = page.evaluate(
        "(batch) => batch.map((messages) => { const flat = chatPage.flatten(messages);"
        " return [flat, JSON.stringify(chatPage.requestBody(flat))]; })", batch)
    for messages, (flat, body) in zip(batch, results, strict=True):
        assert flat == flatten(messages)
        assert body == json.dumps({"message": flat, "temperature": 1, "presence_penalty": 0,
                                   "top_p": 1, "frequency_penalty": 0},
                                  separators=(",", ":"), ensure_ascii=False)


def test_the_spec_examples(tab: Tab, remote_mock: RemoteMock) -> None:
    page = open_chat(tab, remote_mock)
    run = "(messages) => chatPage.flatten(messages)"
    assert page.evaluate(run, [{"role": "user", "content": "Hello"}]) == "user: Hello\nassistant:"
    assert page.evaluate(run, []) == "assistant:"


# --- the chat page --------------------------------------------------------------------------------

def test_a_conversation_posts_the_whole_flattened_history(tab: Tab,
                                                          remote_mock: RemoteMock) -> None:
    page = open_chat(tab, remote_mock)
    expect(page.locator("#send")).to_be_disabled()  # nothing typed yet
    page.locator("#system-box summary").click()
    page.locator("#system").fill("You are a helpful assistant.")
    system = {"role": "system", "content": "You are a helpful assistant."}

    send(page, "Hello, mock!")
    expect(page.locator("#conversation .message.assistant")).to_have_count(1)
    assert assistant_replies(page) == ["You said: Hello, mock!"]
    first = [system, {"role": "user", "content": "Hello, mock!"}]
    [entry] = api_entries(remote_mock)
    assert_provider_body(entry, first)

    # A slow answer: the button stays disabled until it comes, even with text typed.
    remote_mock.queue({"delay_ms": 600})
    second_text = "Two lines:\nnaïve café ✓ — Grüße"
    send(page, second_text, wait=False)
    expect(page.locator("#status")).to_contain_text("Waiting")
    expect(page.locator("#conversation")).to_have_attribute("aria-busy", "true")
    page.locator("#prompt").fill("typed while waiting")
    expect(page.locator("#send")).to_be_disabled()
    page.locator("#prompt").press("Enter")  # ignored while a request is in flight
    wait_idle(page)
    expect(page.locator("#conversation .message.assistant")).to_have_count(2)
    expect(page.locator("#send")).to_be_enabled()
    assert assistant_replies(page)[1] == "You said: " + second_text
    second = [*first, {"role": "assistant", "content": "You said: Hello, mock!"},
              {"role": "user", "content": second_text}]
    entries = api_entries(remote_mock)
    assert len(entries) == 2
    assert_provider_body(entries[1], second)

    page.locator("#prompt").fill("")
    page.locator("#conversation").evaluate("(node) => { node.scrollTop = 0; }")
    screenshot(page, "chat.png")

    page.locator("#new-chat").click()
    expect(page.locator("#conversation .message")).to_have_count(0)
    send(page, "Fresh start")
    expect(page.locator("#conversation .message.assistant")).to_have_count(1)
    entries = api_entries(remote_mock)
    assert len(entries) == 3
    assert_provider_body(entries[2], [system, {"role": "user", "content": "Fresh start"}])
    assert tab.problems() == {}


FAULTS = [
    ({"fault": "rate_limit", "retry_after": 7}, ["HTTP 429", "retry after 7 s"]),
    ({"fault": "upstream_error", "message": "The model is overloaded; try again later."},
     ["The site refused", "The model is overloaded; try again later."]),
    ({"fault": "cloudflare"}, ["HTTP 403", "HTML page", "Just a moment..."]),
    ({"fault": "server_error"}, ["HTTP 500"]),
    ({"fault": "malformed_json"}, ["HTTP 200", "not JSON"]),
    ({"fault": "empty_body"}, ["HTTP 200", "empty"]),
    # Chromium sends a request again (up to twice) when a reused keep-alive connection closes
    # without an answer: each of its attempts must meet the fault.
    ({"fault": "disconnect", "times": 3}, ["Network error"]),
]


def test_faults_are_shown_and_leave_the_conversation_out(tab: Tab,
                                                         remote_mock: RemoteMock) -> None:
    page = open_chat(tab, remote_mock)
    error = page.locator("#error")
    send(page, "Before the storm")
    expect(page.locator("#conversation .message.assistant")).to_have_count(1)
    expect(error).to_be_hidden()
    for number, (reply, texts) in enumerate(FAULTS):
        remote_mock.queue(reply)
        text = f"Attempt {number}"
        send(page, text)
        for needle in texts:
            expect(error).to_contain_text(needle)
        expect(error).to_be_visible()
        # The unanswered turn leaves the conversation and its text comes back to the input.
        expect(page.locator("#conversation .message")).to_have_count(2)
        expect(page.locator("#prompt")).to_have_value(text)
        page.locator("#prompt").fill("")
        # Disconnects Chromium did not retry into must not leak into the next attempt.
        remote_mock.admin.clear_replies()
    faults = [entry["fault"] for entry in api_entries(remote_mock)]
    # One entry per attempt, plus Chromium's retries of the disconnected POST right after it.
    attempts = [fault for index, fault in enumerate(faults)
                if not (fault == "disconnect" and faults[index - 1] == "disconnect")]
    assert attempts == [None] + [reply["fault"] for reply, _ in FAULTS]
    assert 1 <= faults.count("disconnect") <= 3, faults

    send(page, "After the storm")
    expect(page.locator("#conversation .message.assistant")).to_have_count(2)
    expect(error).to_be_hidden()
    assert_provider_body(api_entries(remote_mock)[-1], [
        {"role": "user", "content": "Before the storm"},
        {"role": "assistant", "content": "You said: Before the storm"},
        {"role": "user", "content": "After the storm"},
    ])


def test_an_http_error_shows_the_message_of_its_json_body(tab: Tab,
                                                         remote_mock: RemoteMock) -> None:
    page = open_chat(tab, remote_mock)
    remote_mock.queue({"status": 400, "response": False, "message": "invalid request: nope"})
    send(page, "Anything")
    expect(page.locator("#error")).to_contain_text("HTTP 400")
    expect(page.locator("#error")).to_contain_text("invalid request: nope")


def test_the_pages_policy_and_the_network_guard_keep_a_page_in(tab: Tab,
                                                               remote_mock: RemoteMock) -> None:
    """The page's own Content-Security-Policy stops a request to another origin before it
    leaves; the guard the other tests rely on stops what the policy does not (a navigation)."""
    page = open_chat(tab, remote_mock)
    seen = page.evaluate("""() => new Promise((resolve) => {
        const violated = [];
        document.addEventListener("securitypolicyviolation",
                                  (event) => violated.push(event.effectiveDirective));
        fetch("http://example.com/x").then(() => resolve(["sent"]),
                                           () => setTimeout(() => resolve(violated), 100));
    })""")
    assert seen == ["connect-src"]
    assert tab.blocked == [], "refused by the page's policy, before the network"
    assert tab.policy_violations and all("http://example.com/x" in text
                                         for text in tab.policy_violations)
    tab.policy_violations.clear()
    with pytest.raises(PlaywrightError):
        page.goto("http://example.com/y")
    assert tab.blocked == ["http://example.com/y"]
    tab.blocked.clear()


# --- the inspector --------------------------------------------------------------------------

def test_the_inspector_shows_the_journal_escaped_and_clears_it(tab: Tab,
                                                               remote_mock: RemoteMock) -> None:
    page = open_chat(tab, remote_mock)
    hostile = '<img src=x onerror="window.pwned = 1">'
    send(page, "Hi inspector " + hostile)
    expect(page.locator("#conversation .message.assistant")).to_have_count(1)
    http = requests.Session()
    http.trust_env = False
    # A contract breach, an unknown path and a fault, for the other columns.
    http.post(remote_mock.url_for("/api/text"), json={"message": 42}, timeout=30)
    http.get(remote_mock.url_for("/favicon.ico"), timeout=30)
    remote_mock.queue({"fault": "rate_limit"})
    http.post(remote_mock.url_for("/api/text"), json={"message": "user: Hi\nassistant:"},
              timeout=30)

    page.goto(remote_mock.url_for("/__mock__/"))
    rows = page.locator("#entries tr.entry")
    expect(rows).to_have_count(5)
    expect(page.locator("#total")).to_have_text("5")
    table = page.locator("#journal")
    # The message column shows the last user turn; the whole prompt is its tooltip.
    chat_text = rows.filter(has_text="Hi inspector").locator(".message-text")
    expect(chat_text).to_have_text("Hi inspector " + hostile)
    assert chat_text.get_attribute("title") == "user: Hi inspector " + hostile + "\nassistant:"
    expect(table).to_contain_text("message: 42 is not of type 'string'")
    expect(rows.first).to_contain_text("rate_limit")  # newest first
    assert page.locator("#journal img").count() == 0
    assert page.evaluate("() => window.pwned") is None
    screenshot(page, "inspector.png")

    # An entry's full JSON, which stays open while the table redraws for a new request.
    chat_row = rows.filter(has_text="Hi inspector")
    chat_row.locator("button.expand").click()
    details = page.locator("#details-" + (chat_row.get_attribute("data-id") or ""))
    expect(details).to_be_visible()
    shown = json.loads(details.locator("pre").text_content() or "")
    [entry] = [entry for entry in remote_mock.requests if entry["id"] == shown["id"]]
    assert shown == entry
    http.post(remote_mock.url_for("/api/text"),
              json={"message": "user: polled in\nassistant:"}, timeout=30)
    expect(rows).to_have_count(6)  # no reload: the page polls
    expect(rows.first).to_contain_text("polled in")
    expect(details).to_be_visible()

    page.locator("#clear").click()
    expect(rows).to_have_count(0)
    expect(page.locator("#entries")).to_contain_text("No requests recorded yet")
    expect(page.locator("#total")).to_have_text("0")
    assert remote_mock.journal()["total"] == 0
    http.close()


def test_the_inspector_shows_every_namespace_the_last_turn_and_what_it_cuts(
        tab: Tab, remote_mock: RemoteMock) -> None:
    other = remote_mock.within("inspected")
    http = requests.Session()
    http.trust_env = False
    try:
        long_turn = "\n".join(f"line {number}" for number in range(1, 8))
        conversation = [{"role": "system", "content": "Be brief."},
                        {"role": "user", "content": "First question"},
                        {"role": "assistant", "content": "First answer"},
                        {"role": "user", "content": long_turn}]
        http.post(other.url_for("/api/text"), json={"message": flatten(conversation)},
                  timeout=30)
        http.post(remote_mock.url_for("/api/text"),
                  json={"message": "user: " + "x" * 300 + "\nassistant:"}, timeout=30)

        page = tab.page
        page.goto(remote_mock.url_for("/__mock__/"))
        rows = page.locator("#entries tr.entry")
        expect(rows).to_have_count(2)  # every namespace
        expect(page.locator("#total")).to_have_text("2")
        newest, oldest = rows.nth(0), rows.nth(1)
        expect(newest.locator("td.namespace")).to_have_text("default")
        expect(oldest.locator("td.namespace")).to_have_text("inspected")
        # The last user turn, with what is left out said: the turns before it, the lines
        # after the fourth, the characters after the 240th.
        cell = oldest.locator("td.message-cell")
        expect(cell.locator(".cut-before")).to_have_text("⋯ 3 earlier turns")
        expect(cell.locator(".message-text")).to_have_text("line 1\nline 2\nline 3\nline 4")
        expect(cell.locator(".cut-after")).to_have_text("… 3 more lines")
        assert cell.locator(".message-text").get_attribute("title") == flatten(conversation)
        expect(newest.locator(".message-text")).to_have_text("x" * 240)
        expect(newest.locator(".cut-after")).to_have_text("… 60 more characters")
        assert newest.locator(".cut-before").count() == 0

        page.locator("#namespace-filter").select_option("inspected")
        expect(rows).to_have_count(1)
        expect(rows.first.locator("td.namespace")).to_have_text("inspected")
        expect(page.locator("#total")).to_have_text("1")
        page.locator("#namespace-filter").select_option("")
        expect(rows).to_have_count(1)
        expect(rows.first.locator("td.namespace")).to_have_text("default")

        # The inspector of one namespace shows it alone, with no filter.
        page.goto(other.url_for("/__mock__/"))
        expect(page.locator("#entries tr.entry")).to_have_count(1)
        assert page.locator("#namespace-filter").count() == 0
        expect(page.locator(".namespace-badge")).to_have_text("namespace inspected")
        page.locator("#clear").click()
        expect(page.locator("#entries tr.entry")).to_have_count(0)
        assert other.requests == [] and len(remote_mock.requests) == 1
    finally:
        other.reset()
        other.close()
        http.close()
