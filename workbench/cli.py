"""`workbench …` command line: parse → library call → exit code.

Each area keeps its subcommands in `workbench/commands/<area>.py` with a
`register(subparsers)` function, so areas never edit each other's code. Exit codes
(DESIGN.md): 0 when the command did its work, 2 for bad input (message on stderr),
1 for an unexpected failure.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from collections.abc import Sequence
from typing import Any

from workbench import jsonio
from workbench.errors import BadInput

# Areas whose `register` is called, in help order. A module that is missing is skipped so
# that a partial install still gives a working CLI.
COMMAND_MODULES = (
    "policies",
    "demo",
    "train",
    "datasets",
    "verify",
    "recommend",
    "runs",
    "batch",
    "lab",
)


def add_common(parser: argparse.ArgumentParser, *, json_flag: bool = True) -> None:
    """The flags every command takes: `--db URL` and (for commands with output) `--json`."""
    parser.add_argument("--db", metavar="URL", default=None, help="results store URL")
    if json_flag:
        parser.add_argument(
            "--json", action="store_true", help="print one JSON object or list and nothing else"
        )


def print_json(obj: Any) -> None:
    """Print `obj` as JSON on stdout (non-finite numbers as strings)."""
    sys.stdout.write(jsonio.dumps(obj, indent=2) + "\n")
    sys.stdout.flush()


def build_parser() -> argparse.ArgumentParser:
    """The full parser with every available area registered."""
    parser = argparse.ArgumentParser(
        prog="workbench", description="LR Workbench: learning-rate policies for deep learning"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"workbench.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"workbench.commands.{name}":
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `workbench` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(func(args) or 0)
    except BadInput as exc:
        print(f"workbench {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and the like: not a failure
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keep Python's exit flush quiet
        return 0
    except KeyboardInterrupt:
        print(f"workbench {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception:  # an unexpected failure: show it whole, exit 1
        traceback.print_exc()
        return 1


if __name__ == "__main__":
    sys.exit(main())
