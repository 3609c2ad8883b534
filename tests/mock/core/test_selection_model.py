"""docs/mock-server.md's selection rule as a hypothesis state machine: replies with matches are
queued into two namespaces, removed by id (and unknown ids tried), and requests sent; after each
step the answer, the entry's reply_id and each queue must be what a small model of the rule says.

The model is written from the sentences of docs/mock-server.md alone: a valid request takes the
first reply in queue order whose match holds (every key given holds), its times goes down by one
unless it is null and at 0 it leaves the queue; when none holds, echo answers "You said: <last user
turn>". The prompts are built from turns here, so the model knows each request's last user turn
without parsing it back.

It runs twice: against the engine in this process, and against the mock's command with two
worker processes sharing the SQLite store, every request on a new connection so that both
workers answer.
"""

from __future__ import annotations

import itertools
import json
import os
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from mock_server.core.engine import Engine
from mock_server.core.errors import UnknownReplyError
from mock_server.core.wire import IncomingRequest
from mock_server.testing.child_process import MockProcess
from mock_server.testing.remote import RemoteMock
from support.raw_client import session

WORDS = ["sun", "rain", "sun rain"]
ROLES = ["system", "user", "assistant"]
DEFAULTS = {"temperature": 1, "presence_penalty": 0, "top_p": 1, "frequency_penalty": 0}
NAMESPACES = ["", "b"]  # the test's two: its own default and one more


# --- the model of docs/mock-server.md -------------------------------------------------------------


@dataclass
class Sent:
    """A request as the model sees it: its turns, parameters and headers."""

    turns: list[tuple[str, str]]
    temperature: float
    headers: dict[str, str]

    @property
    def prompt(self) -> str:  # the flattening of docs/provider.md
        return "".join(f"{role}: {content}\n" for role, content in self.turns) + "assistant:"

    @property
    def last_turn(self) -> str:
        users = [content for role, content in self.turns if role == "user"]
        return users[-1] if users else ""


def holds(match: dict[str, Any] | None, sent: Sent) -> bool:
    """docs/mock-server.md's match table: every key given must hold."""
    for key, value in (match or {}).items():
        if key == "message" and sent.prompt != value:
            return False
        if key == "message_contains" and value not in sent.prompt:
            return False
        if key == "message_regex" and re.search(value, sent.prompt) is None:
            return False
        if key == "last_turn" and sent.last_turn != value:
            return False
        if key == "last_turn_contains" and value not in sent.last_turn:
            return False
        if key == "params" and any({**DEFAULTS, "temperature": sent.temperature}[name] != number
                                   for name, number in value.items()):
            return False
        if key == "headers" and any(sent.headers.get(name.lower()) != expected
                                    for name, expected in value.items()):
            return False
    return True


@dataclass
class ModelReply:
    id: str
    message: str
    match: dict[str, Any] | None
    times: int | None


@dataclass
class Model:
    queues: dict[str, list[ModelReply]] = field(
        default_factory=lambda: {name: [] for name in NAMESPACES})

    def answer(self, namespace: str, sent: Sent) -> tuple[str, str | None]:
        """What the mock must answer, and the id of the reply that answers (or None)."""
        queue = self.queues[namespace]
        for index, reply in enumerate(queue):
            if holds(reply.match, sent):
                if reply.times is not None:
                    reply.times -= 1
                    if reply.times == 0:
                        del queue[index]
                return reply.message, reply.id
        return "You said: " + sent.last_turn, None


# --- what the machine drives -----------------------------------------------------------------


class Target(Protocol):
    def queue(self, namespace: str, reply: dict[str, Any]) -> str: ...
    def remove(self, namespace: str, reply_id: str) -> bool: ...
    def send(self, namespace: str, sent: Sent) -> tuple[str, str | None]: ...
    def listing(self, namespace: str) -> list[tuple[str, int | None]]: ...
    def close(self) -> None: ...


class EngineTarget:
    def __init__(self) -> None:
        self.engine = Engine()

    def queue(self, namespace: str, reply: dict[str, Any]) -> str:
        ids: list[str] = self.engine.queue_replies(reply, namespace=namespace)["ids"]
        return ids[0]

    def remove(self, namespace: str, reply_id: str) -> bool:
        try:
            self.engine.remove_reply(reply_id, namespace=namespace)
        except UnknownReplyError:
            return False
        return True

    def send(self, namespace: str, sent: Sent) -> tuple[str, str | None]:
        body = json.dumps({"message": sent.prompt, **DEFAULTS, "temperature": sent.temperature})
        outcome = self.engine.handle(IncomingRequest(
            method="POST", path="/api/text", headers=dict(sent.headers),
            body=body.encode(), namespace=namespace))
        assert outcome.answer.status == 200
        return json.loads(outcome.answer.body)["message"], outcome.entry["reply_id"]

    def listing(self, namespace: str) -> list[tuple[str, int | None]]:
        return [(reply["id"], reply["times"])
                for reply in self.engine.replies(namespace=namespace)["replies"]]

    def close(self) -> None:
        self.engine.close()


_RUNS = itertools.count(1)


class LiveTarget:
    """The session's mock command; the test's two namespaces are fresh ones of its own."""

    def __init__(self, root: RemoteMock) -> None:
        run = next(_RUNS)
        self.mocks = {name: root.within(f"state-{run}{'-' + name if name else ''}")
                      for name in NAMESPACES}
        self.http = session()

    def queue(self, namespace: str, reply: dict[str, Any]) -> str:
        return self.mocks[namespace].reply(**reply)

    def remove(self, namespace: str, reply_id: str) -> bool:
        try:
            self.mocks[namespace].remove(reply_id)
        except UnknownReplyError:
            return False
        return True

    def send(self, namespace: str, sent: Sent) -> tuple[str, str | None]:
        mock = self.mocks[namespace]
        before = mock.journal(limit=0)["total"]
        response = self.http.post(mock.url_for("/api/text"), timeout=30, json={
            "message": sent.prompt, **DEFAULTS, "temperature": sent.temperature},
            headers={**sent.headers, "Connection": "close"})
        assert response.status_code == 200, response.text
        page = mock.journal(limit=1)
        assert page["total"] == before + 1
        return response.json()["message"], page["requests"][0]["reply_id"]

    def listing(self, namespace: str) -> list[tuple[str, int | None]]:
        return [(reply["id"], reply["times"]) for reply in self.mocks[namespace].queued]

    def close(self) -> None:
        for mock in self.mocks.values():
            mock.reset()
            mock.close()
        self.http.close()


# --- the machine ---------------------------------------------------------------------------

words = st.sampled_from(WORDS)
turns = st.lists(st.tuples(st.sampled_from(ROLES), words), min_size=1, max_size=3)
sents = st.builds(Sent, turns, st.sampled_from([0.5, 1, 1.0]),
                  st.sampled_from([{}, {"x-k": "a"}, {"x-k": "b"}]))
matches = st.none() | st.dictionaries(
    st.sampled_from(["message", "message_contains", "message_regex", "last_turn",
                     "last_turn_contains", "params", "headers"]),
    st.just(None), min_size=1, max_size=2).flatmap(lambda keys: st.fixed_dictionaries({
        key: {
            "message": sents.map(lambda sent: sent.prompt),
            "message_contains": words,
            "message_regex": st.sampled_from(["^user: sun", "rain\\nassistant:$", "(sun|rain) r",
                                              "^system"]),
            "last_turn": words,
            "last_turn_contains": st.sampled_from(["sun", "rain", " "]),
            "params": st.sampled_from([{"temperature": 0.5}, {"temperature": 1.0}]),
            "headers": st.sampled_from([{"X-K": "a"}, {"x-k": None}]),
        }[key] for key in keys}))


# The test's own default namespace twice as often as the other.
namespaces = st.sampled_from(["", *NAMESPACES])
times = st.sampled_from([1, 2, None])


class Selection(RuleBasedStateMachine):
    target: Target  # set by the test that runs the machine

    queued = Bundle("queued")

    def __init__(self) -> None:
        super().__init__()
        self.model = Model()
        self.numbers = itertools.count(1)

    @initialize()
    def start(self) -> None:
        self.target = type(self).make_target()

    @staticmethod
    def make_target() -> Target:
        raise NotImplementedError

    def teardown(self) -> None:
        if hasattr(self, "target"):
            self.target.close()

    def _queue(self, namespace: str, match: dict[str, Any] | None,
               times: int | None) -> tuple[str, str]:
        message = f"reply {next(self.numbers)}"
        reply_id = self.target.queue(namespace, {"message": message, "match": match,
                                                 "times": times})
        self.model.queues[namespace].append(ModelReply(reply_id, message, match, times))
        return namespace, reply_id

    # Two rules that queue, to keep the queues from running dry as requests use them up.
    @rule(target=queued, namespace=namespaces, match=matches, times=times)
    def queue(self, namespace: str, match: dict[str, Any] | None,
              times: int | None) -> tuple[str, str]:
        return self._queue(namespace, match, times)

    @rule(target=queued, namespace=namespaces, match=matches, times=times)
    def queue_another(self, namespace: str, match: dict[str, Any] | None,
                      times: int | None) -> tuple[str, str]:
        return self._queue(namespace, match, times)

    @rule(queued=consumes(queued), namespace=namespaces)
    def remove(self, queued: tuple[str, str], namespace: str) -> None:
        """Remove a reply by its id, from its own namespace or (unknown there) the other."""
        owner, reply_id = queued
        queue = self.model.queues[namespace]
        present = namespace == owner and any(reply.id == reply_id for reply in queue)
        assert self.target.remove(namespace, reply_id) is present
        self.model.queues[namespace] = [reply for reply in queue if reply.id != reply_id]

    @rule(namespace=namespaces, sent=sents)
    def send(self, namespace: str, sent: Sent) -> None:
        assert self.target.send(namespace, sent) == self.model.answer(namespace, sent)

    @invariant()
    def the_queues_are_the_models(self) -> None:
        if hasattr(self, "target"):
            for namespace in NAMESPACES:
                assert self.target.listing(namespace) == [
                    (reply.id, reply.times) for reply in self.model.queues[namespace]]


def run(make_target: Any, examples: int, steps: int) -> None:
    machine = type("Machine", (Selection,), {"make_target": staticmethod(make_target)})
    # derandomize: the same runs every time (CI must not pass or fail by chance); the rules
    # above keep the queues full enough that requests meet several replies that hold.
    # make mutants-mock runs the machine again for each mutant (mutmut sets MUTANT_UNDER_TEST,
    # read here, as the run starts): a quarter of the examples, a failure not shrunk.
    mutant = bool(os.environ.get("MUTANT_UNDER_TEST"))
    run_state_machine_as_test(machine, settings=settings(
        max_examples=examples // 4 if mutant else examples, stateful_step_count=steps,
        deadline=None, database=None, derandomize=True,
        phases=[Phase.explicit, Phase.reuse, Phase.generate] if mutant else list(Phase),
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]))


def test_the_engine_selects_as_the_model_says() -> None:
    run(EngineTarget, examples=60, steps=25)


def test_the_mock_command_selects_as_the_model_says() -> None:
    with MockProcess(["--workers", "2"]) as process:
        run(lambda: LiveTarget(process.mock), examples=12, steps=20)


def test_the_model_reads_the_spec_as_written() -> None:
    """The model itself, on the examples of docs/mock-server.md: a check of the oracle."""
    sent = Sent([("system", "sun"), ("user", "rain"), ("assistant", "sun"), ("user", "sun rain")],
                0.5, {"x-k": "a"})
    assert sent.prompt == "system: sun\nuser: rain\nassistant: sun\nuser: sun rain\nassistant:"
    assert sent.last_turn == "sun rain"
    assert holds({"last_turn_contains": "rain", "params": {"temperature": 0.5},
                  "headers": {"X-K": "a"}}, sent)
    assert not holds({"last_turn": "rain"}, sent)
    assert holds({"params": {"top_p": 1.0}}, sent), "1 == 1.0"
    assert not holds({"headers": {"x-k": None}}, sent)
    model = Model()
    model.queues[""] = [ModelReply("r1", "one", {"last_turn": "x"}, 1),
                        ModelReply("r2", "two", None, 2), ModelReply("r3", "three", None, None)]
    assert [model.answer("", sent) for _ in range(4)] == [
        ("two", "r2"), ("two", "r2"), ("three", "r3"), ("three", "r3")]
    assert [reply.id for reply in model.queues[""]] == ["r1", "r3"]
    assert Model().answer("b", sent) == ("You said: sun rain", None)
