"""The kit's admin client over HTTP against a scripted loopback server: what it does when the
connection under a call goes away."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mock_server.testing.remote import AdminClient, MockAdminError
from support.fake_site import LoopbackServer, Reply, closed_port, serving


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    yield from serving()


def test_a_kept_alive_connection_closed_under_a_call_is_tried_again_once(
        server: LoopbackServer) -> None:
    """The mock closes a connection idle past its keep-alive timeout (docs/mock-server.md);
    a call that meets that close on the kept-alive connection goes again on a fresh one."""
    server.script(Reply(200, b'{"first": true}', [("Content-Type", "application/json")],
                        close=True, linger=0.5),
                  Reply.json({"second": True}))
    client = AdminClient(server.base_url)
    assert client.call("GET", "/health") == {"first": True}
    assert client.call("GET", "/health") == {"second": True}
    assert server.connections == 2


def test_a_connection_that_breaks_twice_is_an_admin_error(server: LoopbackServer) -> None:
    server.script(Reply.drop(), Reply.drop(), Reply.json({"never": True}))
    with pytest.raises(MockAdminError, match=r"GET .*/__mock__/health"):
        AdminClient(server.base_url).call("GET", "/health")
    assert server.connections == 2  # once again, not more


def test_a_mock_that_is_not_there_is_an_admin_error_at_once() -> None:
    with pytest.raises(MockAdminError):
        AdminClient(f"http://127.0.0.1:{closed_port()}").call("GET", "/health")
