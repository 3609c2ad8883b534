"""The ``aichat`` command: ask the chat-gpt.org text API (or any server speaking it) once."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from typing import Any

from . import Aichat

EPILOG = """\
examples:
  aichat "Hello, how are you?"
  echo "Translate to French: good morning" | aichat
  aichat --system "Answer in one word." "Capital of France?"
  aichat --base-url http://127.0.0.1:8080 --json "Hello"      # ask a local mock server

The base URL may also come from the AICHAT_BASE_URL environment variable.
Exit status: 0 on a reply, 1 when the request fails, 2 on a usage error.
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
                        help="give up after this many seconds "
                             f"(default {Aichat.DEFAULT_TIMEOUT:g})")
    parser.add_argument("--max-retries", type=int, metavar="N",
                        help=f"retries on connection failures, 429 and 502-504 "
                             f"(default {Aichat.DEFAULT_MAX_RETRIES})")
    parser.add_argument("--json", action="store_true",
                        help="print the whole response object as JSON instead of the reply text")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _ask(parser, args)
    except KeyboardInterrupt:  # Ctrl-C while reading standard input or waiting for the site
        return 130


def _ask(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    prompt = args.prompt
    if prompt is None:
        if sys.stdin is None or sys.stdin.isatty():
            parser.error("give a prompt as an argument or on standard input")
        try:
            prompt = sys.stdin.read().rstrip("\n")
        except UnicodeDecodeError as error:
            parser.error(f"standard input is not {error.encoding} text: {error.reason}")
    if not prompt.strip():
        parser.error("the prompt is empty")

    messages: list[dict[str, str]] = []
    if args.system is not None:
        messages.append({"role": "system", "content": args.system})
    messages.append({"role": "user", "content": prompt})
    options: dict[str, Any] = {
        "base_url": args.base_url, "temperature": args.temperature, "top_p": args.top_p,
        "timeout": args.timeout, "max_retries": args.max_retries,
    }
    try:
        data = Aichat.fetch(messages, **options)
    except Aichat.AichatInputError as error:
        parser.error(str(error))
    except Aichat.AichatError as error:
        print(f"aichat: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    write(json.dumps(data, ensure_ascii=False) if args.json else data["message"])
    return 0


def write(text: str) -> None:
    """Print a reply whatever it holds: a lone surrogate (legal in JSON) or a character the
    terminal's encoding lacks is replaced instead of ending in a traceback."""
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    try:
        print(text)
    except UnicodeEncodeError:
        print(text.encode(encoding, errors="replace").decode(encoding, errors="replace"))
