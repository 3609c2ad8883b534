"""The request edge's split of a path (docs/mock-server.md, Namespaces and Routes): the
namespace of a /ns/{name} prefix, the path within it, and whether that path is the admin
API's (/__mock__ and below)."""

from __future__ import annotations

import pytest

from mock_server.core import edge


@pytest.mark.parametrize(("path", "target"), [
    ("/api/text", ("", "/api/text", False)),
    ("/__mock__", ("", "/__mock__", True)),
    ("/__mock__/requests", ("", "/__mock__/requests", True)),
    ("/__mockery", ("", "/__mockery", False)),
    ("/ns/alice/api/text", ("alice", "/api/text", False)),
    ("/ns/alice/__mock__/requests", ("alice", "/__mock__/requests", True)),
])
def test_a_path_is_split_into_namespace_path_and_admin(path: str,
                                                       target: tuple[str, str, bool]) -> None:
    found = edge.split(path)
    assert isinstance(found, edge.Target)
    assert tuple(found) == target
    assert (found.namespace, found.path, found.admin) == target
