"""g4f's own OpenAI-compatible API server with the Aichat provider in it, offline.

``python -m aichat.g4f_api [--host 127.0.0.1] [--port 1337] [--base-url URL]`` runs g4f's
API server (``g4f.api``, FastAPI on uvicorn, as g4f ships it) in this process with
``aichat.g4f_provider.Aichat`` registered as ``Aichat``, so that ::

    POST /v1/chat/completions {"provider": "Aichat", "model": "gpt-3.5-turbo", "messages": [...]}

goes through the provider to ``--base-url`` (default: ``AICHAT_BASE_URL``, else the site).
``Aichat`` is also the server's default provider: a request that names none goes there too.

g4f 8.x has no documented way to add a provider to its API server; ``register()`` does it
through g4f's own objects, unpatched, and checks that g4f then resolves the name to this
provider. A g4f release that moves one of those objects makes it raise ``G4fMovedError``,
which names the object; the command says so in one line (docs/provider.md, "g4f's API
server").
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
from collections.abc import Iterator, Sequence
from importlib import metadata
from typing import Any

from . import Aichat as seed

NAME = "Aichat"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 1337  # g4f's own default for its API server
#: The start of the line the command prints once it listens, before the API's base URL.
LISTENING = "aichat.g4f_api listening on "
# A request still running when the server is told to stop gets this long to finish (g4f's
# own run_api allows 600 s, which would hold Ctrl-C for as long as the site hangs).
GRACEFUL_SHUTDOWN_SECONDS = 5
EXTRA = "g4f-aichat[g4f]"
#: The exit status after Ctrl-C (SIGINT).
INTERRUPTED = 130


class G4fMovedError(RuntimeError):
    """The installed g4f no longer has an object the registration goes through."""


def _moved(what: str) -> G4fMovedError:
    try:
        version = "g4f " + metadata.version("g4f")
    except metadata.PackageNotFoundError:  # importable, but not installed as a distribution
        version = "this g4f"
    return G4fMovedError(
        f"{version} moved {what}, which aichat.g4f_api registers the Aichat provider "
        f"through; install a g4f that the {EXTRA} extra allows")


def register() -> None:
    """Make ``Aichat`` a provider name that g4f's API server resolves, with nothing fetched
    online. Idempotent; the objects it goes through are g4f 8.x's:

    - ``ProviderLoader.loaded``: the providers g4f has resolved, by name, which
      ``ProviderLoader.from_name`` answers from first. ``Aichat`` is added to it (and
      ``aichat``: g4f looks a name up as given, then lower-cased).
    - ``AbstractClientFactory._live_providers``: the list of providers g4f fetches from g4f.dev
      while it holds none. It is seeded as known and empty.
    - ``G4FSpace``, one of g4f's own names, which ``g4f.api`` imports and g4f builds from that
      list: it gets a stand-in that is not working (g4f.dev's service is out of reach offline).

    Then ``AbstractClientFactory.create_provider``, which the API calls with the request's
    ``provider``, must give this provider for ``Aichat``.
    """
    from g4f.client.factory import AbstractClientFactory
    from g4f.Provider import ProviderLoader

    from .g4f_provider import Aichat

    loaded = getattr(ProviderLoader, "loaded", None)
    if not isinstance(loaded, dict):
        raise _moved("g4f.Provider.ProviderLoader.loaded (the dict of the providers it has "
                     "resolved, by name)")
    if not isinstance(getattr(AbstractClientFactory, "_live_providers", None), dict):
        raise _moved("g4f.client.factory.AbstractClientFactory._live_providers (the dict of "
                     "the providers g4f fetches from g4f.dev)")
    if not AbstractClientFactory._live_providers:
        AbstractClientFactory._live_providers = {"providers": {}, "defaultModels": {}}
    loaded.setdefault("G4FSpace", _offline_g4f_space())
    loaded[NAME] = loaded[NAME.lower()] = Aichat
    try:
        resolved = AbstractClientFactory.create_provider(None, NAME)
    except Exception as error:  # whatever g4f raises, the resolution is what moved
        raise _moved(f"its provider resolution (AbstractClientFactory.create_provider(None, "
                     f"{NAME!r}) raised {type(error).__name__}: {error})") from error
    if resolved is not Aichat:
        raise _moved(f"its provider resolution (AbstractClientFactory.create_provider(None, "
                     f"{NAME!r}) gave {resolved!r}, not aichat.g4f_provider.Aichat)")


def _offline_g4f_space() -> type:
    from g4f import errors as g4f_errors
    from g4f.providers.base_provider import AbstractProvider

    class G4FSpace(AbstractProvider):  # type: ignore[misc]  # g4f is untyped
        """Stands in for g4f's ``G4FSpace``, which g4f builds from the list it fetches from
        g4f.dev; offline there is no list, and the service is out of reach anyway."""

        url = None
        working = False

        @classmethod
        def create_completion(cls, model: str, messages: list[Any], stream: bool = False,
                              **kwargs: Any) -> Iterator[str]:
            raise g4f_errors.ProviderNotWorkingError(
                f"G4FSpace is g4f.dev's service, out of reach of this offline API server; "
                f"ask the provider {NAME}")
            yield ""  # unreachable: it makes this a generator, as g4f calls it

    return G4FSpace


def _g4f_app() -> Any:
    """g4f's API application (``g4f.api.create_app()``) with the provider registered; a
    package that is not installed raises ``ModuleNotFoundError``, anything else that fails
    ``G4fMovedError``."""
    register()
    try:
        import g4f.api

        return g4f.api.create_app()
    except ModuleNotFoundError:
        raise
    except Exception as error:  # e.g. a name g4f.api resolves online as it is imported
        raise _moved(f"what g4f.api needs as it is imported or built (it raised "
                     f"{type(error).__name__}: {error})") from error


def port_number(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"must be from 0 to 65535; got {port}")
    return port


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m aichat.g4f_api",
        description="g4f's OpenAI-compatible API server with the Aichat provider registered "
                    "as 'Aichat' (also the default provider); nothing but the provider's "
                    "requests to the base URL leaves the machine.")
    parser.add_argument("--host", default=DEFAULT_HOST,
                        help=f"address to listen on (default {DEFAULT_HOST})")
    parser.add_argument("--port", type=port_number, default=DEFAULT_PORT,
                        help=f"port to listen on, 0 for a free one (default {DEFAULT_PORT})")
    parser.add_argument("--base-url", metavar="URL",
                        help=f"the site the provider asks (default: ${seed.BASE_URL_ENV}, "
                             f"else {seed.DEFAULT_BASE_URL})")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the server until SIGINT (then exit 130) or SIGTERM; its exit status. Usage errors
    exit 2, a missing extra, a moved g4f or a busy port exit 1, each with one line."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        api_url = seed.endpoint(args.base_url)  # the provider's own check of a base URL
    except seed.AichatInputError as error:
        parser.error(str(error))
    base_url = api_url[:-len(seed.API_PATH)]
    try:
        import g4f.debug
        import uvicorn
        from g4f.config import AppConfig

        # g4f's clients otherwise ask PyPI for a newer g4f in a thread, once.
        g4f.debug.version_check = False
        app = _g4f_app()
    except ModuleNotFoundError as error:
        missing = (error.name or "").partition(".")[0] or str(error)
        return _fail(f"g4f's API server needs {missing}, which is not installed: "
                     f'pip install "{EXTRA}"')
    except G4fMovedError as error:
        return _fail(str(error))
    # The provider reads its base URL from the environment on every call.
    os.environ[seed.BASE_URL_ENV] = base_url
    AppConfig.set_config(provider=NAME)
    try:
        family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
        listener = socket.create_server((args.host.strip("[]"), args.port), family=family)
    except OSError as error:
        return _fail(f"cannot listen on {args.host}:{args.port}: {error.strerror or error}")
    host, port = listener.getsockname()[:2]
    shown_host = f"[{host}]" if ":" in host else host
    config = uvicorn.Config(app, timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS)
    # Ctrl-C ends it with 130 however it was started, from the line that says it listens on.
    # A shell starts a background job with SIGINT ignored: uvicorn takes the signal over all
    # the same while it serves, but puts the ignoring back before it raises the signal again,
    # which would then end it with 0 (and one that came before uvicorn took it over would be
    # lost).
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        # Once the socket listens a client's connection waits in its backlog until uvicorn
        # serves.
        print(f"{LISTENING}http://{shown_host}:{port}/v1", flush=True)
        print(f"aichat.g4f_api: provider {NAME} (the default) asks {base_url}", flush=True)
        uvicorn.Server(config).run(sockets=[listener])
    except KeyboardInterrupt:
        # uvicorn raises the Ctrl-C it took over again once it has shut down (or it came
        # before uvicorn took it over): the usual status of a command stopped by Ctrl-C.
        return INTERRUPTED
    return 0


def _fail(message: str) -> int:
    print(f"aichat.g4f_api: {message}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
