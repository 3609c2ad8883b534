"""``aichat-mock grade TARGET`` (also ``python -m mock_server.grade TARGET``): the report card
of a client of the site against a fresh mock. Exit 0 when every check passes, 1 when one
fails, 2 when the target cannot be loaded (or the command is used wrongly)."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Sequence
from typing import Any

from .card import write_json
from .client import LoadError
from .runner import JOBS, grade

EPILOG = """\
TARGET is a provider in any shape g4f gave one: a module with _create_completion (2023),
a class with create_completion, create_async or create_async_generator, or today's adapter;
as module:attribute, a dotted name, or a file path. Examples:
  aichat-mock grade aichat.Aichat
  aichat-mock grade aichat.g4f_provider:Aichat --markdown card.md
  aichat-mock grade path/to/Aichat.py --python path/to/venv/bin/python
"""


def _keyword(text: str) -> tuple[str, Any]:
    name, equals, value = text.partition("=")
    if not equals or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"expected NAME=JSON; got {text!r}")
    try:
        return name, json.loads(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{name}: {value!r} is not JSON") from None


def _jobs(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 16:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to 16; got {text!r}")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aichat-mock grade",
        description="Run a client of chat-gpt.org, unchanged, against a fresh mock and print "
                    "its report card: the wire of each golden case, each fault of the "
                    "catalogue, Retry-After, a trickling answer, a refusal.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("target", metavar="TARGET")
    parser.add_argument("--python", default=sys.executable, metavar="PATH",
                        help="the Python the client runs in (default: this one)")
    parser.add_argument("--kwarg", type=_keyword, action="append", default=[],
                        metavar="NAME=JSON",
                        help="a keyword argument given to every call, as a caller would "
                             "(repeatable), e.g. cookies='{\"session\": \"x\"}'")
    parser.add_argument("--json", metavar="FILE", help="also write the card as JSON")
    parser.add_argument("--markdown", metavar="FILE", help="also write the card as Markdown")
    parser.add_argument("--jobs", type=_jobs, default=JOBS, metavar="N",
                        help=f"checks run at once, each with a mock of its own (default {JOBS})")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if shutil.which(args.python) is None:
        print(f"aichat-mock grade: no Python at {args.python}", file=sys.stderr)
        return 2
    try:
        card = grade(args.target, python=args.python, jobs=args.jobs, extra=dict(args.kwarg))
    except LoadError as error:
        print(f"aichat-mock grade: {error}".replace("\n", " "), file=sys.stderr)
        return 2
    print(card.text(), flush=True)
    try:
        if args.json:
            write_json(card, args.json)
        if args.markdown:
            with open(args.markdown, "w", encoding="utf-8") as file:
                file.write(card.markdown())
    except OSError as error:
        print(f"aichat-mock grade: cannot write the card: {error.strerror or error}",
              file=sys.stderr)
        return 2
    return 0 if card.passed else 1
