"""``heroku2aws asl``: stamp the ASL's repeated parts from their one source, ``statemachine/policies.json``.

The deployed file stays ``statemachine/migration.asl.json`` (the one the tests run and SAM ships). What it
repeats — the first retrier of every Task (by integration), the Heroku retrier of the functions that call
Heroku, the catcher that records why a state failed — is written once in ``policies.json`` and stamped in:

    heroku2aws asl --check    # exit 1 when the ASL and the policies disagree (a test runs this)
    heroku2aws asl --write    # rewrite the ASL from the policies

Every retrier comes from the policies (a Task has no retrier of its own); catchers of specific errors
(``DatabaseMigration.…``) are the state's own and left as they are. The JSON is written as the repository
keeps it (``render``: 2-space indent, short lists and flat objects on one line).
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import project

ASL_PATH = project.ASL
POLICIES_PATH = project.POLICIES


def load_policies(path: Path = POLICIES_PATH) -> dict[str, Any]:
    return json.loads(path.read_text())


def integration(resource: str) -> str:
    """``arn:aws:states:::aws-sdk:ecs:describeServices`` -> ``aws-sdk:ecs``; optimized ones keep their action."""
    tail = resource.split(":::", 1)[-1]
    return tail.rsplit(":", 1)[0] if tail.startswith("aws-sdk:") else tail


def tasks(machine: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every state, nested Parallel branches and Map item processors included."""
    for name, state in machine["States"].items():
        yield name, state
        for branch in state.get("Branches") or []:
            yield from tasks(branch)
        if "ItemProcessor" in state:
            yield from tasks(state["ItemProcessor"])


def _retriers(state: dict[str, Any], policies: dict[str, Any]) -> list[dict[str, Any]]:
    kind = integration(str(state.get("Resource", "")))
    if kind not in policies["retry"]:
        raise KeyError(f"no retry policy for the integration {kind!r}: add it to policies.json")
    stamped: list[dict[str, Any]] = []
    if policies["retry"][kind] is not None:
        stamped.append(copy.deepcopy(policies["retry"][kind]))
    arguments = state.get("Arguments")
    function = str(arguments.get("FunctionName", "")) if isinstance(arguments, dict) else ""
    for extra in policies.get("retry_extra", {}).values():
        if function in extra["functions"]:
            stamped.append(copy.deepcopy(extra["retrier"]))
    return stamped


def _catchers(state: dict[str, Any], policies: dict[str, Any]) -> list[dict[str, Any]]:
    catch = policies["catch"]
    out = []
    for catcher in state.get("Catch") or []:
        if catcher.get("Next") in catch["targets"] and catcher.get("ErrorEquals") == catch["catcher"]["ErrorEquals"]:
            stamped = copy.deepcopy(catch["catcher"])
            out.append({"ErrorEquals": stamped.pop("ErrorEquals"), "Next": catcher["Next"], **stamped})
        else:
            out.append(catcher)
    return out


def stamp(asl: dict[str, Any], policies: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ASL with every Task's retriers and failure catchers taken from the policies."""
    policies = policies or load_policies()
    out = copy.deepcopy(asl)
    for _name, state in tasks(out):
        if state.get("Type") == "Task":
            retry = _retriers(state, policies)
            if retry:
                state["Retry"] = retry
            else:
                state.pop("Retry", None)
        if "Catch" in state:  # Task, Parallel and Map states
            state["Catch"] = _catchers(state, policies)
    return out


#: Lines of the ASL are at most this wide where a list or a flat object can be written on one line.
WIDTH = 120


def _flat(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def _shallow(value: Any) -> bool:
    """A list of scalars, or an object whose values are scalars or such lists (a retrier, a tag, a Choice rule)."""
    if isinstance(value, list):
        return all(not isinstance(v, dict | list) for v in value)
    if isinstance(value, dict):
        return all(not isinstance(v, dict) and (not isinstance(v, list) or _shallow(v)) for v in value.values())
    return True


def _render(value: Any, indent: int, key_width: int = 0) -> str:
    if not isinstance(value, dict | list) or not value:
        return _flat(value)
    one_line = _flat(value)
    if _shallow(value) and indent + key_width + len(one_line) <= WIDTH:
        return one_line
    pad = " " * (indent + 2)
    if isinstance(value, list):
        return "[\n" + ",\n".join(pad + _render(v, indent + 2) for v in value) + "\n" + " " * indent + "]"
    items = [pad + _flat(k) + ": " + _render(v, indent + 2, len(_flat(k)) + 2) for k, v in value.items()]
    return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"


def render(asl: dict[str, Any]) -> str:
    """The ASL as the repository keeps it: 2-space indent, short lists and flat objects (retriers' error names,
    tags, Choice rules) on one line when they fit in WIDTH columns, one trailing newline."""
    return _render(asl, 0) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="heroku2aws asl", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--check", action="store_true", help="exit 1 when the ASL and policies.json disagree")
    group.add_argument("--write", action="store_true", help="rewrite the ASL from policies.json")
    parser.add_argument("--asl", type=Path, default=ASL_PATH)
    args = parser.parse_args(argv)
    current = args.asl.read_text()
    wanted = render(stamp(json.loads(current)))
    if args.write:
        if wanted != current:
            args.asl.write_text(wanted)
        print(f"{args.asl}: {'rewritten' if wanted != current else 'already as the policies say'}")
        return 0
    if wanted != current:
        print(f"{args.asl} and {POLICIES_PATH.name} disagree: run `heroku2aws asl --write`", file=sys.stderr)
        return 1
    print(f"{args.asl}: as the policies say")
    return 0


if __name__ == "__main__":
    sys.exit(main())
