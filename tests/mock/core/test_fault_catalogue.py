"""The mock's fault catalogue, answer by answer, in process: each fault's status, headers and body
as docs/mock-server.md and the fault table of docs/mock-server.md describe them, with and without
the
``message`` and ``status`` a scripted reply may give. Quick enough to run for every mutant of
mock_server/core/faults.py (make mutants)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mock_server import Engine, IncomingRequest
from mock_server.core import faults
from support.contract_data import FAULT_ERRORS

BODY = json.dumps({"message": "user: Hello\nassistant:"}).encode()
TEXT = "text/plain; charset=utf-8"
HTML = "text/html; charset=utf-8"
JSON = "application/json"
# docs/mock-server.md: the body text of the faults that answer text, when no message is given.
TEXT_FAULTS = {"rate_limit": (429, "Too Many Requests"),
               "server_error": (500, "Internal Server Error"),
               "bad_gateway": (502, "Bad Gateway"),
               "unavailable": (503, "Service Unavailable")}


def headers_of(answer: Any) -> dict[str, str]:
    return {name.lower(): value for name, value in answer.headers}


def test_the_catalogue_is_the_specs() -> None:
    assert sorted(faults.FAULTS) == sorted(FAULT_ERRORS)
    for name, (_, status) in FAULT_ERRORS.items():
        fault = faults.FAULTS[name]
        assert fault.name == name
        assert fault.status == (0 if status is None else status), name
        assert fault.summary


@pytest.mark.parametrize("name", sorted(TEXT_FAULTS))
def test_text_faults(name: str) -> None:
    status, text = TEXT_FAULTS[name]
    answer = faults.render(name)
    assert (answer.status, headers_of(answer), answer.body) == (
        status, {"content-type": TEXT}, text.encode())
    assert not answer.disconnect
    custom = faults.render(name, message="Slow down, café")
    assert (custom.status, custom.body) == (status, "Slow down, café".encode())
    assert faults.render(name, status=504).status == 504
    assert faults.render(name, message="").body == b""


def test_cloudflare_is_a_challenge_page() -> None:
    answer = faults.render("cloudflare")
    assert answer.status == 403
    assert headers_of(answer) == {"content-type": HTML, "server": "cloudflare",
                                  "cf-mitigated": "challenge", "cache-control": "no-store"}
    page = answer.body.decode()
    assert page.startswith("<!DOCTYPE html>")
    assert "<title>Just a moment...</title>" in page
    assert "chat-gpt.org needs to review the security of your connection" in page
    custom = faults.render("cloudflare", message="<b>Hold on</b> & wait").body.decode()
    assert "<p>&lt;b&gt;Hold on&lt;/b&gt; &amp; wait</p>" in custom
    assert "needs to review" not in custom
    assert faults.render("cloudflare", status=503).status == 503


def test_html_is_a_page_where_json_was_expected() -> None:
    answer = faults.render("html")
    assert answer.status == 200
    assert headers_of(answer) == {"content-type": HTML}
    assert answer.body == (b"<!DOCTYPE html><html><head><title>chat-gpt.org</title></head>"
                           b"<body>Please enable JavaScript to continue.</body></html>")
    custom = faults.render("html", message="a < b").body
    assert b"<body>a &lt; b</body>" in custom


def test_upstream_error_is_the_site_refusing() -> None:
    answer = faults.render("upstream_error")
    assert (answer.status, headers_of(answer)) == (200, {"content-type": JSON})
    assert json.loads(answer.body) == {
        "response": False, "message": "Sorry, the model is overloaded. Please try again later."}
    assert list(json.loads(answer.body)) == ["response", "message"]
    custom = faults.render("upstream_error", message="Привет")
    assert custom.body == '{"response": false, "message": "Привет"}'.encode()


def test_malformed_json_is_cut_mid_string() -> None:
    answer = faults.render("malformed_json", message="ignored")
    assert (answer.status, headers_of(answer)) == (200, {"content-type": JSON})
    assert answer.body == b'{"response": true, "message": "cut of'
    with pytest.raises(ValueError):
        json.loads(answer.body)


def test_empty_body_has_no_body_and_no_content_type() -> None:
    answer = faults.render("empty_body", message="ignored")
    assert (answer.status, answer.headers, answer.body, answer.disconnect) == (200, (), b"",
                                                                               False)


def test_disconnect_answers_nothing() -> None:
    answer = faults.render("disconnect", message="ignored")
    assert answer.disconnect is True
    assert (answer.status, answer.headers, answer.body) == (0, (), b"")


@pytest.mark.parametrize("name", sorted(FAULT_ERRORS))
def test_the_engine_answers_each_fault_as_the_catalogue_renders_it(name: str) -> None:
    engine = Engine()
    engine.queue_replies({"fault": name})
    outcome = engine.handle(IncomingRequest("POST", "/api/text", headers={}, body=BODY,
                                            remote_addr="127.0.0.1"))
    expected = faults.render(name)
    assert outcome.answer.disconnect is expected.disconnect
    status = FAULT_ERRORS[name][1]
    if status is not None:
        assert (outcome.answer.status, outcome.answer.body) == (status, expected.body)
    assert outcome.entry["fault"] == name
    assert outcome.entry["status"] == status
