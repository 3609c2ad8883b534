"""The chat page and the inspector in a real Chromium (Debian's, driven by Playwright) against
the live mock server.

The page must flatten the conversation exactly as the provider does (docs/provider.md, What it
sends) and post the provider's body; its errors must be visible, each thing said once, and it
must say when the next answer is scripted; the inspector must show the journal escaped, tell
the chat page's requests from the provider's, clear it, and drive the reply queue as the demo's
control panel (docs/mock-server.md, The pages). The page never reaches beyond loopback: every
other request is aborted and counted. A scripted demo takes the README's screenshots, with the
version the pages showed in their metadata: into a temporary folder on every run, into
docs/screenshots/ when AICHAT_SCREENSHOT_DIR names it (`make screenshots`).
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
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Request,
    Response,
    Route,
    expect,
    sync_playwright,
)
from playwright.sync_api import Error as PlaywrightError

import aichat
from aichat.Aichat import flatten
from mock_server.testing.remote import RemoteMock
from support import png
from support.paths import project_version

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
    """A page in a fresh browser context (and any other page opened in it), and what they
    tried that they should not have."""

    context: BrowserContext
    page: Page = field(init=False)
    blocked: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_loads: list[str] = field(default_factory=list)
    policy_violations: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.page = self.open()

    def open(self) -> Page:
        """Another page of the context, watched as the first one is."""
        page = self.context.new_page()

        def watch_load(response: Response) -> None:
            # /api/text answers errors on purpose, and the admin API refuses what the tests
            # send it to refuse; a page, file or poll (GET) failing is a broken page.
            if (response.status >= 400 and response.request.method == "GET"
                    and urlsplit(response.url).path != "/api/text"):
                self.failed_loads.append(f"{response.status} {response.url}")

        page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        # The pages' Content-Security-Policy refusing something the pages themselves do.
        page.on("console", lambda message: self.policy_violations.append(message.text)
                if message.type == "error" and "Content Security Policy" in message.text
                else None)
        page.on("response", watch_load)
        return page

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
    blocked: list[str] = []

    def loopback_only(route: Route, request: Request) -> None:
        if urlsplit(request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            blocked.append(request.url)
            route.abort("blockedbyclient")

    context.route("**/*", loopback_only)
    tab = Tab(context, blocked=blocked)
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


def screenshot(page: Page, name: str, version: str) -> Path:
    """A PNG of the page, with ``version`` (what the page showed) in its metadata."""
    # A test run must not rewrite tracked files; `make screenshots` asks for that explicitly.
    folder = Path(os.environ.get("AICHAT_SCREENSHOT_DIR")
                  or Path(tempfile.gettempdir()) / "aichat-screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    shot = page.screenshot(animations="disabled", caret="hide")
    target.write_bytes(png.with_text(shot, png.VERSION_KEY, version))
    assert png.texts(target.read_bytes())[png.VERSION_KEY] == version
    return target


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
    # Chromium sends a request again when a reused keep-alive connection closes without an
    # answer, on each other idle connection it keeps to the host (at most 6) before a new one:
    # each of its attempts must meet the fault.
    ({"fault": "disconnect", "times": 7}, ["Network error"]),
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
    assert 1 <= faults.count("disconnect") <= 7, faults

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


# docs/mock-server.md, Faults: each fault's status and reason; the page's banner says the status
# line, then what the body and Retry-After add to it, each once.
BANNERS = [
    ({"fault": "server_error"}, "HTTP 500 Internal Server Error", None),
    ({"fault": "bad_gateway"}, "HTTP 502 Bad Gateway", None),
    ({"fault": "rate_limit", "retry_after": 7}, "HTTP 429 Too Many Requests", "retry after 7 s"),
    ({"fault": "unavailable", "message": "Down for maintenance until noon."},
     "HTTP 503 Service Unavailable", "Down for maintenance until noon."),
]


def test_an_error_banner_says_each_thing_once(tab: Tab, remote_mock: RemoteMock) -> None:
    page = open_chat(tab, remote_mock)
    error = page.locator("#error")
    for reply, title, detail in BANNERS:
        remote_mock.queue(reply)
        send(page, "Hello?")
        expect(error.locator(".error-title")).to_have_text(title)
        if detail is None:
            expect(error.locator(".error-detail")).to_have_count(0)
            expect(error).to_have_text(title)
        else:
            expect(error.locator(".error-detail")).to_have_text(detail)


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
    other.reply("For the namespace", match={"last_turn": "Hi"})
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

        # The queue shown is a namespace's: the default one's for every namespace.
        queue = page.locator("#queued tr.queued-reply")
        expect(page.locator("#queue-namespace")).to_have_text("· default namespace")
        expect(queue).to_have_count(0)

        page.locator("#namespace-filter").select_option("inspected")
        expect(rows).to_have_count(1)
        expect(rows.first.locator("td.namespace")).to_have_text("inspected")
        expect(page.locator("#total")).to_have_text("1")
        expect(page.locator("#queue-namespace")).to_have_text("· namespace inspected")
        expect(queue).to_have_count(1)
        expect(queue.locator(".for")).to_have_text("last turn is “Hi”")
        page.locator("#namespace-filter").select_option("")
        expect(rows).to_have_count(1)
        expect(rows.first.locator("td.namespace")).to_have_text("default")
        expect(queue).to_have_count(0)

        # The inspector of one namespace shows it alone, with no filter, and its queue, where
        # the picker queues.
        page.goto(other.url_for("/__mock__/"))
        expect(page.locator("#entries tr.entry")).to_have_count(1)
        assert page.locator("#namespace-filter").count() == 0
        expect(page.locator(".namespace-badge")).to_have_text("namespace inspected")
        expect(page.locator("#queue-namespace")).to_have_text("· namespace inspected")
        expect(queue).to_have_count(1)
        page.locator("#clear").click()
        expect(page.locator("#entries tr.entry")).to_have_count(0)
        assert other.requests == [] and len(remote_mock.requests) == 1

        # The namespace's chat page says what its queue holds for the next message.
        chat = tab.open()
        chat.goto(other.url_for("/chat"))
        notice = chat.locator("#scripted")
        expect(notice).to_have_text("Scripted for some messages only: last turn is “Hi” → "
                                    "“For the namespace” (1 use left)")
        queue_fault(page, "html")
        expect(queue).to_have_count(2)
        assert [reply["fault"] for reply in other.queued] == [None, "html"]
        assert remote_mock.queued == []
        expect(notice).to_have_text("Next answer scripted: fault html · 200 (1 use left) · "
                                    "1 more queued")
    finally:
        other.reset()
        other.close()
        http.close()


# --- the inspector as the demo's control panel -----------------------------------------------

# The picker's fields besides the fault (docs/mock-server.md, The pages), by the reply field
# each fills: the text typed goes to the admin API as it is.
PICKER_FIELDS = ("times", "retry-after", "status", "message", "delay", "match")


def open_inspector(page: Page, mock: RemoteMock) -> Page:
    page.goto(mock.url_for("/__mock__/"))
    expect(page.locator("#queued")).not_to_contain_text("Loading")
    return page


def queue_fault(page: Page, fault: str, *, standing: bool = False, **typed: str) -> None:
    """Queue ``fault`` with the inspector's picker, the fields named in ``typed`` filled in
    (``retry_after`` is the Retry-After field), the others left empty."""
    page.locator("#fault-name").select_option(fault)
    page.locator("#fault-standing").set_checked(False)
    for name in PICKER_FIELDS:
        page.locator(f"#fault-{name}").fill(typed.pop(name.replace("-", "_"), ""))
    assert typed == {}, f"no such field {typed}"
    page.locator("#fault-standing").set_checked(standing)
    page.locator("#queue-fault").click()


def test_a_rate_limit_queued_in_the_inspector_meets_the_chat_page(
        tab: Tab, remote_mock: RemoteMock) -> None:
    """Queue a rate limit from the inspector, send from the chat page: the 429 shows in both
    pages, and the queue is empty after."""
    inspector = open_inspector(tab.page, remote_mock)
    expect(inspector.locator("#queued")).to_contain_text("Nothing queued")
    queue_fault(inspector, "rate_limit", retry_after="5")
    queued = inspector.locator("#queued tr.queued-reply")
    expect(queued).to_have_count(1)
    [reply] = remote_mock.queued
    assert {name: reply[name] for name in ("fault", "retry_after", "times", "match")} == {
        "fault": "rate_limit", "retry_after": 5, "times": 1, "match": None}
    expect(queued.locator(".id")).to_have_text(reply["id"])
    expect(queued.locator(".answer")).to_contain_text("fault rate_limit")
    expect(queued.locator(".uses")).to_have_text("1")
    expect(inspector.locator("#queue-status")).to_contain_text(
        f"queued rate_limit as {reply['id']}")

    chat = tab.open()
    chat.goto(remote_mock.url_for("/chat"))
    notice = chat.locator("#scripted")
    expect(notice).to_contain_text("Next answer scripted: fault rate_limit")
    send(chat, "Are you there?")
    error = chat.locator("#error")
    expect(error.locator(".error-title")).to_have_text("HTTP 429 Too Many Requests")
    expect(error.locator(".error-detail")).to_have_text("retry after 5 s")
    expect(notice).to_be_hidden()  # used up: the next answer is the reply mode's

    # The inspector, polling, shows the chat page's 429 and an empty queue.
    inspector.bring_to_front()
    newest = inspector.locator("#entries tr.entry").first
    expect(newest.locator("td.status")).to_contain_text("429")
    expect(newest.locator("td.status .fault")).to_have_text("rate_limit")
    expect(newest.locator("td.path .source")).to_have_text("chat page")
    expect(queued).to_have_count(0)
    expect(inspector.locator("#queued")).to_contain_text("Nothing queued")
    assert remote_mock.queued == []
    [entry] = api_entries(remote_mock)
    assert (entry["status"], entry["fault"]) == (429, "rate_limit")


def test_the_control_panel_removes_clears_and_shows_what_the_mock_refuses(
        tab: Tab, remote_mock: RemoteMock) -> None:
    page = open_inspector(tab.page, remote_mock)
    rows = page.locator("#queued tr.queued-reply")
    queue_fault(page, "server_error", times="2", match="boom")
    expect(rows).to_have_count(1)
    queue_fault(page, "cloudflare", delay="250")
    expect(rows).to_have_count(2)
    queue_fault(page, "upstream_error", standing=True, message="The model is overloaded.")
    expect(rows).to_have_count(3)
    first, second, third = remote_mock.queued
    assert (first["fault"], first["times"], first["match"]) == (
        "server_error", 2, {"last_turn_contains": "boom"})
    assert (second["fault"], second["delay_ms"], second["times"]) == ("cloudflare", 250, 1)
    assert (third["fault"], third["message"], third["times"]) == (
        "upstream_error", "The model is overloaded.", None)
    expect(rows.nth(0).locator(".for")).to_have_text("last turn contains “boom”")
    expect(rows.nth(0).locator(".uses")).to_have_text("2")
    expect(rows.nth(1).locator(".for")).to_have_text("every message")
    expect(rows.nth(2).locator(".uses")).to_have_text("standing")
    expect(rows.nth(2).locator(".answer")).to_contain_text("The model is overloaded.")

    page.get_by_role("button", name=f"Remove {second['id']}").click()
    expect(rows).to_have_count(2)
    assert [reply["id"] for reply in remote_mock.queued] == [first["id"], third["id"]]

    # What the mock refuses is said in its own words, and nothing is queued.
    http = requests.Session()
    http.trust_env = False
    for fault, typed in (("disconnect", {"status": "500"}), ("rate_limit", {"times": "0"}),
                         ("html", {"delay": "soon"})):
        payload = {"fault": fault, **{("delay_ms" if name == "delay" else name):
                                      int(value) if value.isdigit() else value
                                      for name, value in typed.items()}}
        refusal = http.post(remote_mock.url_for("/__mock__/replies"), json=payload, timeout=30)
        assert refusal.status_code == 400
        queue_fault(page, fault, **typed)
        expect(page.locator("#queue-status")).to_have_text(
            "not queued: " + refusal.json()["error"])
    http.close()
    expect(rows).to_have_count(2)
    assert len(remote_mock.queued) == 2

    page.locator("#clear-queue").click()
    expect(rows).to_have_count(0)
    expect(page.locator("#queue-status")).to_have_text("cleared 2 replies")
    expect(page.locator("#clear-queue")).to_be_disabled()
    assert remote_mock.queued == []


def test_the_inspector_tells_the_chat_pages_requests_and_leaves_the_browsers_headers_alone(
        tab: Tab, remote_mock: RemoteMock, no_ambient_configuration: None) -> None:
    page = open_chat(tab, remote_mock)
    send(page, "From the page")
    expect(page.locator("#conversation .message.assistant")).to_have_count(1)
    aichat.complete([{"role": "user", "content": "From the provider"}],
                    base_url=remote_mock.base_url)
    http = requests.Session()
    http.trust_env = False
    # Another client that claims a chat page of another site: its headers are flagged.
    http.post(remote_mock.url_for("/api/text"), json={"message": "user: From curl\nassistant:"},
              headers={"Referer": "http://127.0.0.1:1/chat"}, timeout=30)
    http.close()
    by_turn = {entry["json"]["message"].split("\n")[0]: entry
               for entry in api_entries(remote_mock)}
    from_page, from_provider, from_curl = (by_turn[f"user: From {name}"]
                                           for name in ("the page", "the provider", "curl"))
    # The browser's headers do differ from the provider's (its user agent, origin, referer).
    assert {"user-agent", "origin", "referer"} <= set(from_page["header_diff"])
    assert from_provider["header_diff"] == {}
    assert from_curl["header_diff"]

    page.goto(remote_mock.url_for("/__mock__/"))
    rows = page.locator("#entries tr.entry")
    expect(rows).to_have_count(4)  # and GET /chat
    row = {entry_id: rows.filter(has=page.locator(f"td.id:text-is('{entry['id']}')"))
           for entry_id, entry in (("page", from_page), ("provider", from_provider),
                                   ("curl", from_curl))}
    expect(row["page"].locator("td.path .source")).to_have_text("chat page")
    expect(row["page"].locator("td.header-diff")).to_have_text("a browser's own")
    expect(row["page"].locator("td.header-diff .count")).to_have_count(0)
    expect(row["page"].locator("td.violations")).to_have_text("none")
    for other in ("provider", "curl"):
        expect(row[other].locator("td.path .source")).to_have_count(0)
    expect(row["provider"].locator("td.header-diff")).to_have_text("none")
    expect(row["curl"].locator("td.header-diff .count")).to_have_text(
        str(len(from_curl["header_diff"])))


def test_the_inspector_marks_the_requests_that_came_through_the_proxy(
        chromium: Browser, aichat_intercept: RemoteMock) -> None:
    """docs/mock-server.md, the inspector: a request the mock answered as an intercepting
    proxy (--intercept) is marked "via proxy", with where it went in the tag's title."""
    aichat.complete([{"role": "user", "content": "Through the proxy"}])
    context = chromium.new_context(viewport=VIEWPORT, locale="en-US", timezone_id="UTC")
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        page.goto(aichat_intercept.url_for("/__mock__/"))
        tag = page.locator("#entries tr.entry td.path .source")
        expect(tag).to_have_text("via proxy")
        expect(tag).to_have_attribute("title", "https://chat-gpt.org")
    finally:
        context.close()


# --- the README's screenshots ----------------------------------------------------------------

SYSTEM_PROMPT = "You are a concise travel assistant."
# The demo's conversation: each visitor's message and the answer scripted for it.
CONVERSATION = [
    ("What should I pack for three days in Lisbon in May?",
     "Light layers, a thin rain jacket and comfortable shoes: the city is built on seven hills."),
    ("Which neighbourhood is best for a first visit?",
     "Baixa or Chiado: central, walkable, and close to the trams and the river."),
]
SUMMARY = ("Summarise the plan in one line.", "Pack light, stay in Baixa, ride tram 28 early.")
RATE_LIMITED = "Thanks! Is a day trip to Sintra worth it?"


def test_the_readme_screenshots(tab: Tab, remote_mock: RemoteMock,
                                no_ambient_configuration: None) -> None:
    """The demo the screenshots show, as a demo-giver runs it (docs/mock-server.md, The pages):
    answers scripted for the visitor's messages, the provider asking too, a rate limit queued
    from the inspector that the next message meets, and the next fault waiting in the queue."""
    version = remote_mock.health()["version"]
    assert version == project_version(), "the mock serving the pages is this package"
    for question, answer in [*CONVERSATION, SUMMARY]:
        remote_mock.reply(answer, match={"last_turn": question})

    chat = open_chat(tab, remote_mock)
    chat.locator("#system-box summary").click()
    chat.locator("#system").fill(SYSTEM_PROMPT)
    expect(chat.locator("#scripted")).to_contain_text("Scripted for some messages only")
    for question, answer in CONVERSATION:
        send(chat, question)
        expect(chat.locator("#conversation .message.assistant .content").last).to_have_text(
            answer)
    assert aichat.complete([{"role": "system", "content": SYSTEM_PROMPT},
                            {"role": "user", "content": SUMMARY[0]}],
                           base_url=remote_mock.base_url) == SUMMARY[1]

    inspector = open_inspector(tab.open(), remote_mock)
    queue_fault(inspector, "rate_limit", retry_after="30")
    expect(inspector.locator("#queued tr.queued-reply")).to_have_count(1)

    chat.bring_to_front()
    expect(chat.locator("#scripted")).to_contain_text("Next answer scripted: fault rate_limit")
    send(chat, RATE_LIMITED)
    expect(chat.locator("#error .error-title")).to_have_text("HTTP 429 Too Many Requests")
    expect(chat.locator("#scripted")).to_be_hidden()
    chat.locator("#conversation").evaluate("(node) => { node.scrollTop = 0; }")
    screenshot(chat, "chat.png", version)

    inspector.bring_to_front()
    queue_fault(inspector, "unavailable", retry_after="60", match="Sintra")
    expect(inspector.locator("#queued tr.queued-reply")).to_have_count(1)
    expect(inspector.locator("#queued .for")).to_have_text("last turn contains “Sintra”")
    rows = inspector.locator("#entries tr.entry")
    expect(rows).to_have_count(5)  # GET /chat, three answered, one rate limited
    expect(rows.first.locator("td.status")).to_contain_text("429")
    expect(inspector.locator(".version")).to_have_text(version)
    inspector.locator("#queue-fault").blur()
    screenshot(inspector, "inspector.png", version)
