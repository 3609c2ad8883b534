"""The ``aichat`` command: ask the chat-gpt.org text API (or any server speaking it) once."""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn, TextIO

from . import Aichat, __version__

EPILOG = """\
examples:
  aichat "Hello, how are you?"
  echo "Translate to French: good morning" | aichat
  aichat --system "Answer in one word." "Capital of France?"
  aichat --base-url http://127.0.0.1:8080 --json "Hello"  # a local mock
  aichat --proxy http://user:pass@proxy.example:3128 "Hello"

The base URL may also come from the AICHAT_BASE_URL environment variable;
without --proxy, the proxy variables of the environment (HTTPS_PROXY,
NO_PROXY...) apply.
Exit status: 0 on a reply, 1 when the request fails, 2 on a usage error
(standard input that is not text in its encoding included), 141 when standard
output is a closed pipe.
"""


def number(text: str) -> int | float:
    """A number as the user wrote it: "1" stays the JSON integer 1, as the defaults are."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aichat",
        description="Send one prompt to the chat-gpt.org text API and print the reply.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("prompt", nargs="?",
                        help="the question to ask; read from standard input when left out")
    parser.add_argument("--base-url", metavar="URL",
                        help="server to ask (default: $AICHAT_BASE_URL or "
                             f"{Aichat.DEFAULT_BASE_URL})")
    parser.add_argument("--system", metavar="TEXT",
                        help="a system message sent before the prompt")
    parser.add_argument("--temperature", type=number, metavar="T",
                        help="sampling temperature, 0 to 2 (default 1)")
    parser.add_argument("--top-p", type=number, metavar="P",
                        help="nucleus sampling, 0 to 1 (default 1)")
    parser.add_argument("--timeout", type=number, metavar="SECONDS",
                        help="give up after this many seconds in all: connecting, sending, "
                             "reading the answer, and the retries with their waits "
                             f"(default {Aichat.DEFAULT_TIMEOUT:g})")
    parser.add_argument("--max-retries", type=int, metavar="N",
                        help=f"retries on connection failures, 429 and 502-504 "
                             f"(default {Aichat.DEFAULT_MAX_RETRIES})")
    parser.add_argument("--proxy", metavar="URL",
                        help="send the request through this proxy, e.g. "
                             "http://user:pass@host:3128 (socks5:// needs PySocks)")
    parser.add_argument("--json", action="store_true",
                        help="print the whole response object as JSON instead of the reply text")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}",
                        help="print the version of g4f-aichat and exit")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; its exit status. No traceback, whatever befalls the standard streams."""
    try:
        try:
            return _main(argv)
        finally:
            if sys.stdout is not None:
                sys.stdout.flush()  # here, where a closed pipe can still be told apart
    except KeyboardInterrupt:  # Ctrl-C while reading standard input or waiting for the site
        return 130
    except BrokenPipeError:  # the reader went away, as in "aichat hi | head -c0": say nothing
        _forget_stdout()
        return 141
    except OSError as error:  # standard output failed otherwise: a full disk, an I/O error
        _forget_stdout()
        _say(f"aichat: cannot write to standard output: {error}")
        return 1


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    prompt = args.prompt
    if prompt is None:
        prompt = _read_stdin(parser).rstrip("\n")
    else:
        _check_text(prompt, "the prompt argument")
    if args.system is not None:
        _check_text(args.system, "--system")
    if not prompt.strip():
        parser.error("the prompt is empty")

    messages: list[dict[str, str]] = []
    if args.system is not None:
        messages.append({"role": "system", "content": args.system})
    messages.append({"role": "user", "content": prompt})
    options: dict[str, Any] = {
        "base_url": args.base_url, "temperature": args.temperature, "top_p": args.top_p,
        "timeout": args.timeout, "max_retries": args.max_retries, "proxy": args.proxy,
    }
    try:
        data = Aichat.fetch(messages, **options)
    except Aichat.AichatInputError as error:
        parser.error(str(error))
    except Aichat.AichatError as error:
        _say(f"aichat: {type(error).__name__}: {error}")
        return 1
    if sys.stdout is None:  # started with standard output closed
        _say("aichat: standard output is closed; the reply was not printed")
        return 1
    write(json.dumps(data, ensure_ascii=False) if args.json else data["message"])
    return 0


def _read_stdin(parser: argparse.ArgumentParser) -> str:
    """The prompt from standard input, which must be text in its encoding (the stream's own
    error handler, surrogateescape in the C locale, would let any bytes through)."""
    stdin = sys.stdin
    if stdin is None or stdin.isatty():
        parser.error("give a prompt as an argument or on standard input")
    encoding = getattr(stdin, "encoding", None) or "utf-8"
    buffer = getattr(stdin, "buffer", None)
    try:
        if buffer is None:  # a text-only stream put in its place
            text = stdin.read()
            _check_text(text, "standard input", encoding)
            return text
        strict = io.TextIOWrapper(buffer, encoding=encoding, errors="strict")
        try:
            return strict.read()
        finally:
            strict.detach()  # standard input stays open
    except UnicodeDecodeError as error:
        _usage_error(f"standard input is not {encoding} text ({error.reason} at byte "
                     f"{error.start}); send the prompt in {encoding}")
    except OSError as error:
        _say(f"aichat: cannot read standard input: {error}")
        raise SystemExit(1) from None


def _check_text(text: str, what: str, encoding: str | None = None) -> None:
    """Refuse text that came from bytes not valid in their encoding (lone surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        encoding = encoding or sys.getfilesystemencoding()
        _usage_error(f"{what} is not {encoding} text; send the prompt in {encoding}")


def _usage_error(message: str) -> NoReturn:
    _say(f"aichat: error: {message}")
    raise SystemExit(2)


def _say(line: str) -> None:
    """One line on standard error, if there is one to write to."""
    if sys.stderr is None:
        return
    try:
        _print(line, sys.stderr)
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed or broken standard error: nowhere left to say it
        pass


def _forget_stdout() -> None:
    """Point standard output at the null device, so that the interpreter's last flush of what
    could not be written neither fails nor prints a warning."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, sys.stdout.fileno())
        finally:
            os.close(null)
    except (OSError, ValueError, AttributeError):  # no real file under sys.stdout
        pass


def write(text: str) -> None:
    """Print a reply whatever it holds: a lone surrogate (legal in JSON) or a character the
    terminal's encoding lacks is replaced instead of ending in a traceback."""
    _print(text, sys.stdout)


def _print(text: str, stream: TextIO) -> None:
    try:
        print(text, file=stream)
    except UnicodeEncodeError:
        encoding = getattr(stream, "encoding", None) or "utf-8"
        print(text.encode(encoding, errors="replace").decode(encoding, errors="replace"),
              file=stream)
