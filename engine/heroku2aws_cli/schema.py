"""``heroku2aws schema``: the execution input's JSON Schema, generated from ``heroku2aws.contracts.input``.

Prints the schema; ``--write`` writes ``schema/execution-input.schema.json`` (or ``--output FILE``), the
file the README points users at and a test compares with the model. ``--check`` exits 1 when the file
and the model disagree.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import project

SCHEMA_PATH = project.SCHEMA


def render() -> str:
    """The schema as the checked-in file holds it (2-space indent, trailing newline)."""
    from heroku2aws.contracts.input import json_schema

    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="heroku2aws schema", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help="write the schema file instead of printing it")
    group.add_argument("--check", action="store_true", help="exit 1 when the schema file is out of date")
    parser.add_argument("--output", type=Path, default=SCHEMA_PATH, help="the schema file (default %(default)s)")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.output.read_text() if args.output.exists() else None
        if current != text:
            print(f"{args.output} is out of date: run `heroku2aws schema --write`", file=sys.stderr)
            return 1
        return 0
    if args.write:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text)
        print(f"wrote {args.output}", file=sys.stderr)
        return 0
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
