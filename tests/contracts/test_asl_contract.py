"""The contract between the ASL and the Python code, read from the ASL itself (never a hand-written list).

``statemachine/migration.asl.json`` is loaded and walked (nested Parallel branches and Map processors included),
and the test fails when:

- a ledger ``kind`` the ASL records (``{'kind': 'dms', …}`` in its JSONata) has no model in
  ``contracts/ledger.py`` or no compensation in ``compensations.COMPENSATIONS``, or an entry records a field its
  model does not have (or leaves out one it requires);
- an ``ErrorEquals`` name on a Lambda task is neither AWS's (``heroku2aws_conformance.rules.errors_a_task_can_raise``)
  nor an error class in ``contracts/errors.py``;
- a result field the ASL reads — ``$states.result.Payload.<field>``, ``$<var>.<field>`` after
  ``<var> := $states.result.Payload``, or ``$states.input.<field>`` in the Choice that follows a task whose output
  is its Payload — is not in that step's result model (``contracts/results.py``), field by field down the path;
- a resource name the ASL builds from the app (``'h2a-' & $cfg.heroku.app``, ``$cfg.heroku.app & '-' & …``, or from
  a variable bound to the app's name) is not one ``contracts/names.py`` builds, or a ``heroku2aws:*`` tag key is not
  one of its tags.

Each rule is shown to catch its mistake by mutating a copy of the ASL.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import re
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from heroku2aws.compensations import COMPENSATIONS
from heroku2aws.contracts import errors as error_classes
from heroku2aws.contracts import names
from heroku2aws.contracts.ledger import KINDS
from heroku2aws.contracts.results import result_model
from heroku2aws_conformance.rules import errors_a_task_can_raise

ROOT = Path(__file__).resolve().parents[2]
ASL = ROOT / "statemachine" / "migration.asl.json"
TEMPLATE = ROOT / "template.yaml"
FUNCTIONS = ROOT / "functions"
SAMPLE_APP = "sample-app"

# ----------------------------------------------------------------------------------------------- walking


def walk_states(states: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """``(path, state, the states of its scope)`` for every state, nested Parallel branches and Maps included."""
    for name, state in states.items():
        yield f"{path}{name}", state, states
        for branch in state.get("Branches", []):
            yield from walk_states(branch["States"], f"{path}{name}/")
        inner = state.get("ItemProcessor") or state.get("Iterator")
        if inner:
            yield from walk_states(inner["States"], f"{path}{name}/")


def own_fields(state: dict[str, Any]) -> dict[str, Any]:
    """The state without its nested states (they are walked on their own)."""
    return {k: v for k, v in state.items() if k not in ("Branches", "ItemProcessor", "Iterator")}


def strings(value: Any, key: str | None = None) -> Iterator[tuple[str | None, str]]:
    """``(the key it is under, the string)`` for every string in a JSON value."""
    if isinstance(value, str):
        yield key, value
    elif isinstance(value, list):
        for item in value:
            yield from strings(item, key)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from strings(v, k)


def jsonata(text: str) -> str | None:
    m = re.fullmatch(r"\s*\{%(.*)%\}\s*", text, re.S)
    return m.group(1) if m else None


# ----------------------------------------------------------------------------------------------- JSONata reading


def paths_after(expr: str, var: str) -> Iterator[list[str]]:
    """The field paths read after ``$var`` in a JSONata expression (predicates ``[…]`` skipped)."""
    for m in re.finditer(rf"\${re.escape(var)}(?![\w(])", expr):
        i, path = m.end(), []
        while i < len(expr):
            if expr[i] == "." and (f := re.match(r"\.([A-Za-z_]\w*)(?!\s*\()", expr[i:])):
                path.append(f.group(1))
                i += f.end()
            elif expr[i] == "[":
                i = _closing(expr, i) + 1
            else:
                break
        yield path


def _closing(expr: str, start: int) -> int:
    """The index of the bracket that closes the one at ``start`` (quotes respected)."""
    depth, quote = 0, None
    for i in range(start, len(expr)):
        c = expr[i]
        if quote:
            quote = None if c == quote else quote
        elif c in "'\"":
            quote = c
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                return i
    return len(expr) - 1


def object_keys(expr: str, start: int) -> list[str]:
    """The keys of the JSONata object literal that opens at ``start``."""
    end, keys, depth, quote, expect_key = _closing(expr, start), [], 0, None, False
    i = start
    while i <= end:
        c = expr[i]
        if quote:
            quote = None if c == quote else quote
        elif c in "'\"":
            if depth == 1 and expect_key and (m := re.match(r"(['\"])([^'\"]*)\1\s*:", expr[i:])):
                keys.append(m.group(2))
                i += m.end()
                expect_key = False
                continue
            quote = c
        elif c in "([{":
            depth += 1
            expect_key = depth == 1
        elif c in ")]}":
            depth -= 1
        elif c == "," and depth == 1:
            expect_key = True
        elif not c.isspace():
            expect_key = False
        i += 1
    return keys


def ledger_entries(asl: dict[str, Any]) -> Iterator[tuple[str, str, list[str]]]:
    """``(state, kind, the entry's keys)`` for every ledger entry literal the ASL records."""
    for path, state, _ in walk_states(asl["States"]):
        for _, text in strings(own_fields(state)):
            for m in re.finditer(r"\{\s*'kind'\s*:\s*'([^']*)'", text):
                yield path, m.group(1), object_keys(text, m.start())


def kinds_compared(asl: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """``(state, kind)`` for every kind the ASL filters or compares its ledger on (``kind in [...]``, ``kind = '…'``)."""
    for path, state, _ in walk_states(asl["States"]):
        for _, text in strings(own_fields(state)):
            for m in re.finditer(r"\.kind\s+in\s+\[([^\]]*)\]", text):
                yield from ((path, k) for k in re.findall(r"'([^']*)'", m.group(1)))
            yield from ((path, k) for k in re.findall(r"\.kind\s*!?=\s*'([^']*)'", text))


# ----------------------------------------------------------------------------------------------- models


def field_problem(model: Any, path: list[str]) -> str | None:
    """Why ``path`` is not in ``model`` (a model, a list of them, an optional one), or None (unchecked below a
    ``dict``/``Any``)."""
    tp = model
    for i, part in enumerate(path):
        tp = _unwrap(tp)
        if not (isinstance(tp, type) and issubclass(tp, BaseModel)):
            return None
        fields = {f.alias or n: f for n, f in tp.model_fields.items()}
        if part not in fields:
            return f"{'.'.join(path[:i + 1])}: {tp.__name__} has no field {part!r}"
        tp = fields[part].annotation
    return None


def _unwrap(tp: Any) -> Any:
    while True:
        origin = typing.get_origin(tp)
        if origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        elif origin is list:  # JSONata maps a path over an array
            tp = typing.get_args(tp)[0]
        else:
            return tp


def function_steps(template: dict[str, Any]) -> dict[str, str]:
    """``{"ImportConfigFunctionArn": "import_config", …}`` from the state machine's DefinitionSubstitutions and the
    functions' ``CodeUri`` (``functions/<step>/``)."""
    resources = template["Resources"]
    code = {lid: Path(r["Properties"]["CodeUri"]).name for lid, r in resources.items()
            if r["Type"] == "AWS::Serverless::Function"}
    [machine] = [r for r in resources.values() if r["Type"] == "AWS::Serverless::StateMachine"]
    out = {}
    for sub, value in machine["Properties"].get("DefinitionSubstitutions", {}).items():
        target = value.get("Fn::GetAtt") if isinstance(value, dict) else None
        if target and target[0] in code:
            out[sub] = code[target[0]]
    return out


def lambda_tasks(asl: dict[str, Any], steps: dict[str, str]
                 ) -> Iterator[tuple[str, dict[str, Any], dict[str, Any], str, type[BaseModel]]]:
    """``(path, state, its scope, step, the step's result model)`` for every Lambda task."""
    for path, state, scope in walk_states(asl["States"]):
        if state.get("Type") != "Task" or not str(state.get("Resource", "")).endswith(":lambda:invoke"):
            continue
        args = state.get("Arguments") or {}
        sub = re.fullmatch(r"\$\{(\w+)\}", str(args.get("FunctionName", "")))
        step = steps.get(sub.group(1)) if sub else None
        assert step, f"{path}: FunctionName {args.get('FunctionName')!r} is none of the template's functions"
        payload = {k: v for k, v in (args.get("Payload") or {}).items() if isinstance(v, str) and jsonata(v) is None}
        yield path, state, scope, step, result_model(step, payload)


# ----------------------------------------------------------------------------------------------- the checks


def ledger_findings(asl: dict[str, Any]) -> list[str]:
    out = []
    for path, kind, keys in ledger_entries(asl):
        if kind not in COMPENSATIONS:
            out.append(f"{path}: ledger kind {kind!r} has no compensation (compensations.COMPENSATIONS)")
        model = KINDS.get(kind)
        if model is None:
            out.append(f"{path}: ledger kind {kind!r} has no model in contracts/ledger.py")
            continue
        fields = set(model.model_fields)
        out += [f"{path}: ledger {kind!r} records {k!r}, not a field of {model.__name__}" for k in keys if k not in fields]
        required = {n for n, f in model.model_fields.items() if f.is_required()}
        out += [f"{path}: ledger {kind!r} leaves out {k!r}, required by {model.__name__}" for k in sorted(required - set(keys))]
    out += [f"{path}: the ASL compares the ledger with kind {kind!r}, which no entry has"
            for path, kind in kinds_compared(asl) if kind not in KINDS]
    return out


def error_findings(asl: dict[str, Any]) -> list[str]:
    ours = {n for n, v in vars(error_classes).items() if isinstance(v, type) and issubclass(v, Exception)}
    out = []
    for path, state, _ in walk_states(asl["States"]):
        resource = str(state.get("Resource", ""))
        if state.get("Type") != "Task" or not resource.endswith(":lambda:invoke"):
            continue
        aws = errors_a_task_can_raise(resource) or frozenset()
        for rule in [*state.get("Retry", []), *state.get("Catch", [])]:
            for name in rule.get("ErrorEquals", []):
                if name not in aws and name not in ours:
                    out.append(f"{path}: ErrorEquals {name!r} is neither an error AWS reports for {resource} nor a "
                               "class in contracts/errors.py")
    return out


def result_findings(asl: dict[str, Any], steps: dict[str, str]) -> list[str]:
    out: list[str] = []
    bound: dict[str, tuple[str, Any]] = {}  # variable -> (where it was assigned, the type it holds)
    for path, state, scope, step, model in lambda_tasks(asl, steps):
        where = f"{path} ({step} -> {model.__name__})"
        for _, text in strings(own_fields(state)):
            for read in paths_after(jsonata(text) or "", "states.result.Payload"):
                if problem := field_problem(model, read):
                    out.append(f"{where}: reads $states.result.Payload.{problem}")
        for var, value in (state.get("Assign") or {}).items():
            expr = jsonata(value) if isinstance(value, str) else None
            if expr and (m := re.fullmatch(r"\s*\$states\.result\.Payload((?:\.\w+)*)\s*", expr)):
                tp: Any = model
                for part in [p for p in m.group(1).split(".") if p]:
                    tp = _unwrap(tp).model_fields[part].annotation if field_problem(tp, [part]) is None else Any
                bound[var] = (where, tp)
        nxt = scope.get(state.get("Next", ""), {})
        if jsonata(str(state.get("Output", ""))) == " $states.result.Payload " and nxt.get("Type") == "Choice":
            for _, text in strings(nxt.get("Choices", [])):
                for read in paths_after(jsonata(text) or "", "states.input"):
                    if problem := field_problem(model, read):
                        out.append(f"{where}: the Choice {state['Next']!r} reads $states.input.{problem}")
    for path, state, _ in walk_states(asl["States"]):
        for _, text in strings(own_fields(state)):
            expr = jsonata(text) or ""
            for var, (where, tp) in bound.items():
                for read in paths_after(expr, var):
                    if problem := field_problem(tp, read):
                        out.append(f"{path}: reads ${var}.{problem} (assigned from {where})")
    return out


#: ``$cfg.heroku.app``, or ``$app`` where the ASL binds it to the app once (the ``names`` it assigns at validation).
def app_concatenations(expr: str) -> Iterator[str]:
    """Every concatenation of string literals with the app's name in a JSONata expression: ``$cfg.heroku.app``, or a
    variable the expression binds to a ``….heroku.app`` (``$app := $states.result.Payload.heroku.app``)."""
    apps = [r"\$cfg\.heroku\.app"] + [rf"\${v}\b(?!\s*:=)" for v in re.findall(r"\$(\w+)\s*:=\s*[$\w.]*\.heroku\.app\b", expr)]
    app = "(?:" + "|".join(apps) + ")"
    for m in re.finditer(rf"(?:'[^']*'\s*&\s*)*{app}(?:\s*&\s*(?:'[^']*'|\$[\w.]+))*", expr):
        if "'" in m.group(0):
            yield m.group(0)


def name_findings(asl: dict[str, Any]) -> list[str]:
    """A concatenation whose literals hold no space is a resource's name (a message has spaces): it must be one
    contracts/names.py builds."""
    known = names.resource_names(SAMPLE_APP)
    out = []
    for path, state, _ in walk_states(asl["States"]):
        fields = own_fields(state)
        for key, text in strings(fields):
            if key == "Key" and text.startswith("heroku2aws:") and text not in (names.APP_TAG, names.MANAGED_TAG,
                                                                                 names.EXECUTION_TAG):
                out.append(f"{path}: tags {text!r}, not one of contracts/names.py's tags")
            for concat in app_concatenations(jsonata(text) or ""):
                parts = [p.strip() for p in concat.split("&")]
                literals = [p[1:-1] for p in parts if p.startswith("'")]
                if any(c.isspace() for lit in literals for c in lit):
                    continue  # a message that mentions the app
                name = "".join(p[1:-1] if p.startswith("'") else "*" if not re.fullmatch(r"\$[\w.]*app", p)
                               else SAMPLE_APP for p in parts)
                if name not in known and not fnmatch.fnmatchcase(name, names.ecs_name(SAMPLE_APP, "*")) \
                        and not fnmatch.fnmatchcase(name, names.schedule_name(SAMPLE_APP, "*")):
                    out.append(f"{path}: builds the name {concat!r} (for app {SAMPLE_APP}: {name!r}), not one "
                               f"contracts/names.py builds ({', '.join(sorted(known))}, "
                               f"{names.ecs_name(SAMPLE_APP, '<type>')})")
    return out


def contract_findings(asl: dict[str, Any], template: dict[str, Any]) -> list[str]:
    steps = function_steps(template)
    return ledger_findings(asl) + error_findings(asl) + result_findings(asl, steps) + name_findings(asl)


# ----------------------------------------------------------------------------------------------- tests


@pytest.fixture(scope="module")
def asl() -> dict[str, Any]:
    return json.loads(ASL.read_text())


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    from heroku2aws_rehearsal.deploy import load_template

    return load_template(TEMPLATE)


def test_given_the_asl_when_read_then_it_keeps_its_contract_with_the_code(asl, template):
    assert contract_findings(asl, template) == []


def test_given_the_asl_when_read_then_every_function_kind_and_read_is_seen(asl, template):
    """The reading itself: every function is mapped, kinds and reads are found (an empty walk proves nothing)."""
    steps = function_steps(template)
    assert set(steps.values()) == {p.name for p in FUNCTIONS.iterdir() if (p / "app.py").exists()}
    assert {kind for _, kind, _ in ledger_entries(asl)} == set(KINDS) == set(COMPENSATIONS)
    tasks = {step for _, _, _, step, _ in lambda_tasks(asl, steps)}
    assert tasks == set(steps.values())
    reads = [r for _, s, _ in walk_states(asl["States"]) for _, t in strings(own_fields(s))
             for r in paths_after(jsonata(t) or "", "plan")]
    assert ["target", "postgres_empty"] in reads


def _replace_once(asl: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    """A copy of the ASL with the first string holding ``old`` changed (the original is never touched)."""
    mutated = copy.deepcopy(asl)
    done = False

    def visit(value: Any) -> Any:
        nonlocal done
        if isinstance(value, str) and not done and old in value:
            done = True
            return value.replace(old, new, 1)
        if isinstance(value, list):
            return [visit(v) for v in value]
        if isinstance(value, dict):
            return {k: visit(v) for k, v in value.items()}
        return value

    mutated = visit(mutated)
    assert done, f"{old!r} is not in the ASL any more: update this mutation"
    return mutated


def _add_error_name(asl: dict[str, Any], name: str) -> dict[str, Any]:
    mutated = copy.deepcopy(asl)
    for _, state, _ in walk_states(mutated["States"]):
        if str(state.get("Resource", "")).endswith(":lambda:invoke") and state.get("Catch"):
            state["Catch"][0]["ErrorEquals"].insert(0, name)
            return mutated
    raise AssertionError("no Lambda task with a Catch")


@pytest.mark.parametrize(("mutation", "expected"), [
    (lambda a: _replace_once(a, "'kind': 'dms'", "'kind': 'dms-everything'"), "has no compensation"),
    (lambda a: _replace_once(a, "'kind': 'secret-switch', 'app'", "'kind': 'secret-switch', 'colour': 'red', 'app'"),
     "records 'colour'"),
    (lambda a: _replace_once(a, "'kind': 'heroku-maintenance', 'app': $cfg.heroku.app, ",
                             "'kind': 'heroku-maintenance', "), "leaves out 'app'"),
    (lambda a: _replace_once(a, "$i.kind in ['target-database'", "$i.kind in ['target-db'"), "which no entry has"),
    (lambda a: _add_error_name(a, "HerokuRateLimited"), "'HerokuRateLimited' is neither"),
    (lambda a: _replace_once(a, "$plan.target.postgres_empty", "$plan.target.postgres_is_empty"),
     "TargetState has no field 'postgres_is_empty'"),
    (lambda a: _replace_once(a, "$states.result.Payload.actions", "$states.result.Payload.done_actions"),
     "RollbackResult has no field 'done_actions'"),
    (lambda a: _replace_once(a, "$states.input.stable", "$states.input.steady"),
     "CheckServicesResult has no field 'steady'"),
    # (the names mutations hold whether the ASL builds a name where it uses it or once, into a variable)
    (lambda a: _replace_once(a, "'h2a-' & $", "'h2a_' & $"), "'h2a_sample-app"),
    (lambda a: _replace_once(a, "& '-source'", "& '-src'"), "'h2a-sample-app-src'"),
    (lambda a: _replace_once(a, "'kind': 'dms', 'app': $cfg.heroku.app, 'id': ",
                             "'kind': 'dms', 'app': $cfg.heroku.app, 'id': 'heroku2aws-' & $cfg.heroku.app & "),
     "'heroku2aws-sample-app"),
    (lambda a: _replace_once(a, "heroku2aws:execution", "heroku2aws:run"), "tags 'heroku2aws:run'"),
], ids=["kind without compensation", "stray ledger field", "missing ledger field", "compared kind",
        "unknown error name", "result field via a variable", "result field via the Payload", "result field in a Choice",
        "DMS id", "DMS endpoint id", "ledger id", "tag key"])
def test_given_a_broken_contract_when_checked_then_it_is_caught(asl, template, mutation, expected):
    found = contract_findings(mutation(asl), template)
    assert any(expected in f for f in found), found
