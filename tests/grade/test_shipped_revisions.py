"""Two Aichat files that g4f releases shipped, graded unchanged through the mock's intercept
(docs/mock-server.md, "Unmodified clients"): the June 2023 module over requests (g4f 0.0.1.5)
and the AsyncProvider over aiohttp (g4f 0.0.2.7). Each card is compared with an expected card
written from reading that file (tests/grade/expected/, with the reading), never from a run.

Both call https://chat-gpt.org themselves, so these need the mock's ``--intercept``. Each is
installed as released, from the package index, into an environment of its own under .history/
(the same cache make history uses), with what it imports at their versions of its release's
day: make test does that before the tests run, which fetch nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mock_server.grade.history import EXTRA
from mock_server.grade.revisions import Cache, Revision, environment
from mock_server.grade.runner import grade
from support.paths import ROOT

EXPECTED = Path(__file__).resolve().parent / "expected"
# Prepared by make test before the tests run (the Makefile's history-envs): nothing is fetched
# here.
CACHE = Cache(ROOT / ".history", offline=True)

pytestmark = pytest.mark.intercept


@pytest.mark.parametrize("release", ["0.0.1.5", "0.0.2.7"])
def test_a_shipped_revision_gets_the_card_its_code_deserves(release: str) -> None:
    wanted = json.loads((EXPECTED / f"g4f-{release}.json").read_text("utf-8"))
    read = CACHE.read(release)
    assert (read.path, read.sha256) == (wanted["file"], wanted["sha256"])
    assert read.sha256 is not None and read.path is not None
    env = environment(CACHE, Revision(read.sha256, read.path, [read]))
    card = grade(env.target, python=env.python, extra=EXTRA)
    assert card.intercept, "the mock has no --intercept"
    assert (card.shape, card.route) == (wanted["shape"], wanted["route"])
    got = {row.key: row for row in card.rows}
    assert list(got) == list(wanted["rows"])
    wrong = {}
    for key, expect in wanted["rows"].items():
        row = got[key]
        said = "; ".join(row.problems) or row.seen
        missing = [word for word in expect.get("names", []) if word not in said]
        if row.verdict != expect["verdict"] or missing:
            wrong[key] = f"{row.verdict} ({said}), expected {expect['verdict']} naming {missing}"
    assert wrong == {}
