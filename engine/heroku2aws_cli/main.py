"""The ``heroku2aws`` command line.

Each subcommand lives in its own module and exposes ``main(argv: list[str]) -> int``; this
dispatcher imports only the one asked for, so ``heroku2aws redis-copy`` never loads moto.
"""

from __future__ import annotations

import importlib
import sys

# subcommand -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("heroku2aws_cli.init", "read a Heroku app, size its AWS landing, write samconfig.toml and its input"),
    "rehearse": ("heroku2aws_rehearsal.rehearse", "run the whole migration locally against emulated AWS"),
    "redis-copy": ("heroku2aws.tasks.redis_restore", "copy every key from one Redis to another, verified"),
    "pg-verify": ("heroku2aws.postgres.verify_cli", "compare two Postgres databases table by table"),
    "diagram": ("heroku2aws_cli.diagram", "the state machine as a Mermaid flowchart (or into the README)"),
    "watch": ("heroku2aws_cli.watch", "follow an execution on AWS as the rehearsal shows it, then its report"),
    "plan": ("heroku2aws_cli.plan", "validate an execution input and show what the workflow would do"),
    "schema": ("heroku2aws_cli.schema", "the execution input's JSON Schema (print, or --write the checked-in file)"),
    "asl": ("heroku2aws_cli.asl", "stamp the ASL's retriers and catchers from statemachine/policies.json (--check/--write)"),
}


def _usage() -> str:
    width = max(map(len, COMMANDS))
    lines = ["usage: heroku2aws COMMAND [options]", "", "commands:"]
    lines += [f"  {name.ljust(width)}  {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "Run `heroku2aws COMMAND --help` for a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in {"-h", "--help", "help"}:
        print(_usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"heroku2aws: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
