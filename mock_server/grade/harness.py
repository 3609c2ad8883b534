"""The child process that calls a graded client: standard library only, so that it runs in the
client's own environment (an old g4f release's, say) with nothing of this project installed.

    python harness.py TARGET

It loads TARGET, writes one JSON line describing it (or why it cannot be loaded, then exits
3), then reads calls as JSON lines on standard input and answers each with one JSON line:
what reached the caller (the answer, or the error and its chain) and how long the call took.
The protocol has standard output to itself: whatever the client prints goes to standard error.

Nothing here may leave loopback: an audit hook refuses every connection and name lookup made
through Python's sockets for any other address, so a client that ignores both the base URL and
the proxy it is given fails its checks instead of calling the real site.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import inspect
import ipaddress
import json
import os
import sys
import time
import types
from collections.abc import Callable
from typing import Any, TextIO

MODEL = "gpt-3.5-turbo"
# The shapes a provider took in g4f's history, in the order a class's own methods are chosen.
CLASS_METHODS = ("create_completion", "create_async", "create_async_generator")
# What the card keeps of an error, besides its class and message.
ATTRIBUTES = ("status_code", "retry_after", "reason")
MESSAGE_CHARS = 300
CHAIN_DEPTH = 5
LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost")


def _is_loopback(host: Any) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    if host.lower().rstrip(".") in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]").split("%")[0]).is_loopback
    except ValueError:
        return False


def _guard(event: str, args: tuple[Any, ...]) -> None:
    if event == "socket.getaddrinfo" and not _is_loopback(args[0]):
        raise ConnectionRefusedError(f"the grader lets the client reach loopback only, "
                                      f"not {args[0]!r}")
    if event == "socket.connect":
        address = args[1]
        if isinstance(address, tuple) and not _is_loopback(address[0]):
            raise ConnectionRefusedError(f"the grader lets the client reach loopback only, "
                                         f"not {address[0]!r}")


# --- loading ---------------------------------------------------------------------------------

def _bare_package(name: str, folder: str) -> types.ModuleType:
    """Package ``name`` at ``folder`` without running its ``__init__``: g4f's imports every
    other provider (and what each needs); the graded file needs only its own imports."""
    if name in sys.modules:
        return sys.modules[name]
    package = types.ModuleType(name)
    package.__path__ = [folder]
    package.__package__ = name
    spec = importlib.util.spec_from_loader(name, loader=None, is_package=True)
    assert spec is not None
    spec.submodule_search_locations = [folder]
    package.__spec__ = spec
    sys.modules[name] = package
    return package


def _load_file(path: str) -> types.ModuleType:
    """A file as the module it is in its package (its relative imports resolved against the
    folders above that hold an ``__init__.py``), the packages' own ``__init__`` not run."""
    path = os.path.abspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such file: {path}")
    folder, file_name = os.path.split(path)
    parts = [os.path.splitext(file_name)[0]]
    while os.path.isfile(os.path.join(folder, "__init__.py")):
        folder, package = os.path.split(folder)
        parts.insert(0, package)
    sys.path.insert(0, folder)
    for depth in range(1, len(parts)):
        _bare_package(".".join(parts[:depth]), os.path.join(folder, *parts[:depth]))
    name = ".".join(parts)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path} as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _load_object(target: str) -> Any:
    """``module:attribute``, ``package.module.Attribute``, ``package.module``, a file path or
    ``path.py:attribute``."""
    module_name, colon, attribute = target.rpartition(":") if ".py:" in target else (
        target.partition(":"))
    if module_name.endswith(".py") or (not colon and (target.endswith(".py")
                                                      or os.sep in target)):
        found: Any = _load_file(module_name if colon else target)
        for part in attribute.split(".") if colon else ():
            found = getattr(found, part)
        return found
    if colon:
        found = importlib.import_module(module_name)
        for part in attribute.split("."):
            found = getattr(found, part)
        return found
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as error:
        parent, _, attribute = target.rpartition(".")
        if not parent or error.name != target:
            raise
        return getattr(importlib.import_module(parent), attribute)


def _provider_classes(module: types.ModuleType) -> list[type]:
    return [value for value in vars(module).values()
            if inspect.isclass(value) and value.__module__ == module.__name__
            and any(callable(getattr(value, method, None)) for method in CLASS_METHODS)]


def _method_of(cls: type) -> str:
    """The class's own method of the three (its nearest class that defines one)."""
    for klass in cls.__mro__:
        for method in CLASS_METHODS:
            if method in vars(klass):
                return method
    raise TypeError(f"{cls.__name__} has none of {', '.join(CLASS_METHODS)}")


def load(target: str) -> tuple[Callable[..., Any], str, str]:
    """The callable to grade, its shape and the name it is known by."""
    found = _load_object(target)
    if isinstance(found, types.ModuleType):
        function = getattr(found, "_create_completion", None)
        if callable(function):
            return function, "_create_completion", f"{found.__name__}._create_completion"
        classes = _provider_classes(found)
        named = [cls for cls in classes if cls.__name__ == found.__name__.rpartition(".")[2]]
        if len(named) == 1 or len(classes) == 1:
            found = (named or classes)[0]
        else:
            raise TypeError(f"{found.__name__} has no _create_completion and "
                            f"{len(classes)} provider classes; name one as module:Class")
    if inspect.isclass(found):
        method = _method_of(found)
        return getattr(found, method), method, f"{found.__module__}.{found.__qualname__}"
    if callable(found):
        return found, "_create_completion", getattr(found, "__qualname__", target)
    raise TypeError(f"{target} is neither a module, a class nor a function")


# --- calling ---------------------------------------------------------------------------------

def _accepted(function: Callable[..., Any]) -> tuple[set[str], bool]:
    """The keyword names the function takes, and whether it takes any (``**kwargs``)."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return set(), True
    names = {p.name for p in parameters
             if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    return names, any(p.kind == p.VAR_KEYWORD for p in parameters)


def _text_of(chunks: list[Any]) -> str:
    # Today's g4f yields objects besides text (a finish reason, usage): the answer is the text.
    return "".join(chunk for chunk in chunks if isinstance(chunk, str))


def call(function: Callable[..., Any], shape: str, messages: Any, kwargs: dict[str, Any]
         ) -> str:
    names, any_keyword = _accepted(function)
    given = {key: value for key, value in kwargs.items() if key in names or any_keyword}
    if shape in ("_create_completion", "create_completion"):
        result = function(MODEL, messages, False, **given)
        if isinstance(result, str):
            return result
        return _text_of(list(result))
    if "stream" in names and shape == "create_async_generator":
        given.setdefault("stream", False)
    if shape == "create_async":
        answer = asyncio.run(function(MODEL, messages, **given))
        return answer if isinstance(answer, str) else _text_of([answer])

    async def collect() -> str:
        return _text_of([chunk async for chunk in function(MODEL, messages, **given)])

    return asyncio.run(collect())


def _name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def describe(error: BaseException) -> list[dict[str, Any]]:
    """The error and those it was raised from, outermost first."""
    chain: list[dict[str, Any]] = []
    current: BaseException | None = error
    while current is not None and len(chain) < CHAIN_DEPTH:
        attributes = {}
        for attribute in ATTRIBUTES:
            value = getattr(current, attribute, None)
            if isinstance(value, (int, float, str)) and not isinstance(value, bool):
                attributes[attribute] = value
        chain.append({"class": _name(type(current)),
                      "mro": [_name(klass) for klass in type(current).__mro__],
                      "message": str(current)[:MESSAGE_CHARS], "attributes": attributes})
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__)
    return chain


def serve(function: Callable[..., Any], shape: str, lines: TextIO, out: TextIO) -> None:
    for line in lines:
        request = json.loads(line)
        names = _accepted(function)[0]
        kwargs = dict(request["kwargs"])
        # Passed only where the callable names them: a proxy given to a client that only
        # passes **kwargs along would send it through the proxy where it takes a base URL.
        kwargs.update({key: value for key, value in request.get("named", {}).items()
                       if key in names})
        started = time.monotonic()
        try:
            answer = call(function, shape, request["messages"], kwargs)
            result: dict[str, Any] = {"outcome": "answer", "answer": answer}
        except BaseException as error:  # whatever reaches the caller is what is graded
            result = {"outcome": "error", "chain": describe(error)}
        result["elapsed"] = round(time.monotonic() - started, 3)
        out.write(json.dumps(result) + "\n")
        out.flush()


def main() -> int:
    # Standard output is the protocol's; the client's prints go to standard error.
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    sys.addaudithook(_guard)
    # Run from the caller's folder, as ``python -m`` would, not from this file's.
    sys.path[0] = os.getcwd()
    target = sys.argv[1]
    try:
        function, shape, name = load(target)
    except BaseException as error:
        reason = f"{type(error).__name__}: {error}".replace("\n", " ")
        out.write(json.dumps({"loaded": False, "error": reason}) + "\n")
        out.flush()
        return 3
    names, any_keyword = _accepted(function)
    out.write(json.dumps({"loaded": True, "shape": shape, "name": name,
                          "keywords": sorted(names), "any_keyword": any_keyword,
                          "python": sys.version.split()[0]}) + "\n")
    out.flush()
    serve(function, shape, sys.stdin, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
