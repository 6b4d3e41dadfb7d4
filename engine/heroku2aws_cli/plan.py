"""``heroku2aws plan --input FILE``: check an execution input and show what the workflow would do with it.

Validates the input exactly as the workflow's first stage does (``heroku2aws.steps.validate_input``): every problem
is named by its dotted field path and no value is ever repeated, so a secret pasted into a field is not
printed. Then it shows, for this input: the stages in order; the resources the workflow would create (the
config secret, the DMS subnet group / instance / endpoints / task ``h2a-<app>`` for the DMS strategies, one
ECS service ``<app>-<type>`` per Procfile process, the weighted records); the DNS steps with their bake
times and health gates; the waits and deadlines; the approval gate; and estimates — state transitions and
their cost ($0.025 per 1,000), the run's duration, DMS instance-hours.

The estimates come from walking the state machine (``--asl``, default the project's) along the path this
input would take: Choice conditions that depend only on the input are evaluated (JSONata), the others take
the way forward; every polling loop is counted as many times as the thing it waits for usually takes
divided by the input's poll interval (the assumptions are printed with the plan). Any ASL works — nested
Parallel branches and Map item processors included — the figures are estimates, not promises.

``--preflight`` also runs the workflow's real preflight (``heroku2aws.steps.preflight``) from this machine —
the sources and secrets must be reachable — and adds its findings and the write-freeze estimate.
``--heroku`` reads the app from Heroku with your own key (``HEROKU_API_KEY`` or the Heroku CLI's netrc, as
``heroku2aws init`` does; the stores are not connected to) and adds what becomes of each add-on (migrated, kept,
replaced by its AWS counterpart) and the estimates: the landing a month beside the app's Heroku bill today, and the
migration once (``heroku2aws.landing.costs``: public list prices, their source and date in the code).
``--json`` prints the plan as one JSON object, last line. Exit status: 0 planned; 1 preflight refused or
could not run; 2 invalid input or arguments.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import project
from .executions import PRICE_PER_TRANSITION

DEFAULT_ASL = project.ASL
PLACEHOLDER = re.compile(r"\{\{\s*[A-Za-z0-9_]+\s*\}\}")
MAX_STEPS = 20000

#: How long the things a polling loop waits for usually take on AWS (seconds). The first pattern that
#: matches the loop's state names wins; the plan prints the ones it used.
POLL_EXPECTATIONS: list[tuple[str, str, float, str | None]] = [
    # (pattern, what, usual seconds, the input's timing that bounds it)
    (r"delet|gone|tear", "DMS resources deleted", 300, "dms_timeout_seconds"),
    (r"full load", "DMS full load", 600, "dms_timeout_seconds"),  # preflight's copy estimate when known
    (r"connection", "DMS connection tests", 60, "dms_timeout_seconds"),
    (r"instance", "DMS replication instance available", 600, "dms_timeout_seconds"),
    (r"replication task|task ready", "DMS replication task ready", 60, "dms_timeout_seconds"),
    (r"dns|sync", "Route 53 change INSYNC", 60, "dns_insync_timeout_seconds"),
    (r"roll", "rollback step", 60, None),
    (r"redeploy|resum", "redeployed ECS services stable and healthy", 180, "service_stable_timeout_seconds"),
    (r"service|ecs", "ECS services stable and healthy", 180, "service_stable_timeout_seconds"),
]
DEFAULT_POLL_EXPECTATION = 60.0
#: Seconds a Task state takes, by integration (when nothing better is known).
TASK_SECONDS = {"lambda": 3.0, "aws-sdk": 1.0, "sync": 120.0, "other": 1.0}
ASSUMED_WAIT_SECONDS = 30.0


class PlanError(Exception):
    """The input cannot be planned: ``problems`` are value-free ``path: what is wrong`` lines."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


# ------------------------------------------------------------------ input


def load_input(path: Path) -> tuple[Any, int]:
    """The parsed input and how many ``{{placeholders}}`` its text has."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise PlanError([f"--input {path}: no such file"]) from None
    except OSError as exc:
        raise PlanError([f"--input {path}: cannot be read ({exc.strerror})"]) from None
    except UnicodeDecodeError as exc:  # JSON is UTF-8 (RFC 8259 section 8.1): the byte offset only, never the bytes
        raise PlanError([f"(input): not JSON — not UTF-8 text (byte {exc.start})"]) from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:  # position only: the message never quotes the text
        raise PlanError([f"(input): not JSON — {exc.msg} at line {exc.lineno} column {exc.colno}"]) from None
    except RecursionError:  # the workflow's own answer for such an input (validate_input.MAX_DEPTH)
        raise PlanError(["(input): nests objects or arrays too deeply"]) from None
    return raw, len(PLACEHOLDER.findall(text))


def validate(raw: Any):
    """The model, or :class:`PlanError` listing every problem by its dotted path (no values)."""
    from heroku2aws.contracts.errors import InvalidInput
    from heroku2aws.steps.validate_input import validate_input

    try:
        cfg = validate_input(raw)
    except InvalidInput as exc:
        text = str(exc)
        head, _, rest = text.partition("): ")
        problems = [p.strip() for p in rest.split("; ") if p.strip()] if rest else [text]
        raise PlanError(problems) from None
    if cfg.ecs.procfile is not None:
        from heroku2aws.steps.plan_services import parse_procfile

        try:
            parse_procfile(cfg.ecs.procfile)
        except InvalidInput as exc:  # names the line and the process type, never the command
            raise PlanError([str(exc)]) from None
    return cfg


def process_types(cfg, preflight: dict | None) -> tuple[list[dict[str, Any]] | None, str]:
    """The process types (``release`` included) and where they come from; None when unknown."""
    if preflight and preflight.get("processes"):
        return [dict(p) for p in preflight["processes"]], "the Procfile and the Heroku formation (preflight)"
    if cfg.ecs.procfile is not None:
        from heroku2aws.steps.plan_services import parse_procfile

        return [{"type": t} for t in parse_procfile(cfg.ecs.procfile)], "input.ecs.procfile"
    return None, "the Heroku formation, read by preflight (run `plan --preflight` to list it)"


# ------------------------------------------------------------------ JSONata, three-valued


_VARIABLE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)\b(?!\s*\()|\$\$|\$(?![A-Za-z_$])")


def _jsonata_body(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    m = re.fullmatch(r"\s*\{%(.*)%\}\s*", value, re.DOTALL)
    return m.group(1).strip() if m else None


def _split_top(expr: str, word: str) -> list[str]:
    """``expr`` split on a keyword operator (``and`` / ``or``) outside brackets and strings."""
    operator = re.compile(rf"\s+{word}\s+")
    parts: list[str] = []
    depth, quote, start, i = 0, "", 0, 0
    while i < len(expr):
        ch = expr[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if ch == quote:
                quote = ""
        elif ch in "'\"`":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0 and ch.isspace():
            m = operator.match(expr, i)
            if m:
                parts.append(expr[start:i])
                start = i = m.end()
                continue
        i += 1
    parts.append(expr[start:])
    return [p.strip() for p in parts if p.strip()]


class Evaluator:
    """Evaluates JSONata against the variables an input determines; unknown anything else."""

    def __init__(self, bindings: dict[str, Any]) -> None:
        self.bindings = bindings
        try:
            import jsonata

            self._jsonata = jsonata
        except ImportError:  # no evaluation: every condition is unknown, the walk still works
            self._jsonata = None

    def decidable(self, expr: str) -> bool:
        if self._jsonata is None:
            return False
        for m in _VARIABLE.finditer(expr):
            name = m.group(1)
            if name is None or name == "states" or name not in self.bindings:
                return False
        return True

    def value(self, expr: str) -> tuple[bool, Any]:
        """(known, value) of an expression."""
        if not self.decidable(expr):
            return False, None
        try:
            return True, self._jsonata.Jsonata(expr).evaluate(None, self.bindings)
        except Exception:  # an expression this evaluator cannot run: unknown, never fatal
            return False, None

    def condition(self, expr: str) -> tuple[bool | None, int]:
        """(True | False | None for unknown, how many of its parts are known to hold)."""
        disjuncts = _split_top(expr, "or")
        if len(disjuncts) > 1:
            results = [self.condition(d) for d in disjuncts]
            if any(r is True for r, _ in results):
                return True, 1
            if all(r is False for r, _ in results):
                return False, 0
            return None, max(s for r, s in results if r is None)
        known, val = self.value(expr)
        if known:
            return bool(val), 1 if val else 0
        conjuncts = _split_top(expr, "and")
        if len(conjuncts) == 1:
            return None, 0
        held = 0
        for c in conjuncts:
            k, v = self.value(c)
            if k and not v:
                return False, 0
            held += int(bool(k and v))
        return None, held


# ------------------------------------------------------------------ the walk


def _successors(state: dict[str, Any]) -> list[str]:
    out = [r.get("Next") for r in state.get("Choices") or []]
    out += [state.get("Default"), state.get("Next")]
    return [n for n in out if isinstance(n, str)]


def _can_finish(states: dict[str, Any]) -> set[str]:
    """States from which some path (Catch edges aside) ends the (sub)machine without a Fail state."""
    ok = {n for n, s in states.items() if s.get("Type") == "Succeed" or s.get("End") is True}
    changed = True
    while changed:
        changed = False
        for name, state in states.items():
            if name not in ok and any(n in ok for n in _successors(state)):
                ok.add(name)
                changed = True
    return ok


@dataclass
class Walk:
    cfg: Any
    evaluator: Evaluator
    copy_seconds: dict[str, float] = field(default_factory=dict)  # from preflight: postgres, redis, verify
    transitions: float = 0
    entered: dict[str, float] = field(default_factory=dict)
    waits: list[dict[str, Any]] = field(default_factory=list)
    polls: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    marks: dict[str, float] = field(default_factory=dict)
    approvals: list[dict[str, Any]] = field(default_factory=list)
    steps: int = 0

    # ---------------------------------------------------------------- durations
    def wait_seconds(self, state: dict[str, Any], name: str) -> float:
        seconds = state.get("Seconds")
        if isinstance(seconds, int | float):
            return float(seconds)
        body = _jsonata_body(seconds)
        if body is not None:
            known, value = self.evaluator.value(body)
            if known and isinstance(value, int | float):
                return float(value)
        self._note(f"Wait {name!r}: its time depends on the run; assumed {ASSUMED_WAIT_SECONDS:.0f} s")
        return ASSUMED_WAIT_SECONDS

    def loop_polls(self, state: dict[str, Any], name: str, expected: float) -> tuple[int, float]:
        """(polls, mean seconds between them) of a loop that waits ``expected`` seconds in all.

        A loop whose Wait grows with the time already waited (``history._loop_wait``) polls every poll_seconds
        at first, then at a share of the elapsed time; any other Wait is taken as a fixed interval."""
        from .history import _loop_wait, waits_until

        try:
            _deadline, _field, divisor = _loop_wait(state.get("Seconds"))
        except ValueError:
            wait = self.wait_seconds(state, name)
            return max(1, math.ceil(expected / max(wait, 1.0))), wait
        polls = max(1, waits_until(expected, float(self.cfg.timings.poll_seconds), divisor) - 1)
        return polls, round(expected / polls, 1)

    def task_seconds(self, name: str, state: dict[str, Any]) -> float:
        resource = str(state.get("Resource", ""))
        text = name.lower()
        if resource.endswith(".waitForTaskToken"):
            return 0.0  # the approval (or callback) wait: counted separately
        if "verif" in text and "verify" in self.copy_seconds:
            return self.copy_seconds["verify"]
        if resource.endswith(".sync"):
            if "redis" in text:
                return self.copy_seconds.get("redis", TASK_SECONDS["sync"])
            if "dump" in text or "restore postgres" in text:
                return self.copy_seconds.get("postgres", 600.0)
            return TASK_SECONDS["sync"]
        if ":lambda:" in resource or "Function" in resource:
            return TASK_SECONDS["lambda"]
        if ":aws-sdk:" in resource:
            return TASK_SECONDS["aws-sdk"]
        return TASK_SECONDS["other"]

    def poll_expectation(self, names: list[str]) -> tuple[str, float]:
        """What a polling loop waits for and how long that usually takes, capped by the input's deadline."""
        text = " ".join(names).lower()
        for pattern, what, seconds, timing in POLL_EXPECTATIONS:
            if re.search(pattern, text):
                if what == "DMS full load" and "postgres" in self.copy_seconds:
                    what, seconds = "DMS full load (preflight's estimate)", max(self.copy_seconds["postgres"], 1.0)
                deadline = getattr(self.cfg.timings, timing, None) if timing else None
                if deadline is not None and seconds > deadline:
                    warning = (f"{what} usually takes ≈ {_duration(seconds)}, but timings.{timing} is {deadline} s: "
                               "on AWS that loop would reach its deadline and the migration would roll back")
                    if warning not in self.warnings:
                        self.warnings.append(warning)
                    seconds = float(deadline)
                return what, seconds
        return "the polled condition", DEFAULT_POLL_EXPECTATION

    def _note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    # ---------------------------------------------------------------- states
    def enter(self, name: str, mult: float) -> None:
        self.transitions += mult
        self.entered[name] = self.entered.get(name, 0) + mult

    def machine(self, machine: dict[str, Any], t: float, mult: float) -> float:
        """Walk a (sub)machine from its StartAt; returns the time it ends."""
        states: dict[str, Any] = machine.get("States") or {}
        finishing = _can_finish(states)
        name = machine.get("StartAt")
        local: Counter = Counter()
        while isinstance(name, str) and name in states:
            self.steps += 1
            local[name] += 1
            if self.steps > MAX_STEPS or local[name] > 3:
                self._note(f"the walk went round {name!r} more than it should; the estimate stops there")
                return t
            state = states[name]
            kind = state.get("Type")
            self.enter(name, mult)
            nxt = state.get("Next")
            if kind == "Task":
                resource = str(state.get("Resource", ""))
                if resource.endswith("createReplicationInstance"):
                    self.marks.setdefault("dms_instance_created", t)
                if resource.endswith(".waitForTaskToken"):
                    self.approvals.append({"state": name, "at": t,
                                           "timeout_seconds": self._timeout(state)})
                t += self.task_seconds(name, state)
            elif kind == "Wait":
                seconds = self.wait_seconds(state, name)
                self.waits.append({"state": name, "seconds": seconds, "times": mult})
                t += seconds
            elif kind == "Choice":
                nxt, t = self.choose(name, state, states, finishing, t, mult)
            elif kind == "Parallel":
                ends = [self.machine(branch, t, mult) for branch in state.get("Branches") or []]
                t = max(ends, default=t)
            elif kind == "Map":
                t = self.map(name, state, t, mult)
            elif kind in {"Succeed", "Fail"}:
                if kind == "Fail":
                    self._note(f"the expected path ends in the Fail state {name!r}")
                return t
            if state.get("End") is True:
                return t
            name = nxt
        if name is not None:
            self._note(f"the ASL names a state that does not exist: {name!r}")
        return t

    def _timeout(self, state: dict[str, Any]) -> float | None:
        value = state.get("TimeoutSeconds")
        if isinstance(value, int | float):
            return float(value)
        body = _jsonata_body(value)
        if body is not None:
            known, v = self.evaluator.value(body)
            if known and isinstance(v, int | float):
                return float(v)
        return None

    def map(self, name: str, state: dict[str, Any], t: float, mult: float) -> float:
        processor = state.get("ItemProcessor") or state.get("Iterator") or {}
        items: int | None = None
        body = _jsonata_body(state.get("Items"))
        if body is not None:
            known, value = self.evaluator.value(body)
            if known and isinstance(value, list):
                items = len(value)
        elif isinstance(state.get("Items"), list):
            items = len(state["Items"])
        if items is None:
            items = 1
            self._note(f"Map {name!r}: how many items it gets is only known at run time; assumed 1")
        if items == 0:
            return t
        concurrency = state.get("MaxConcurrency")
        concurrency = concurrency if isinstance(concurrency, int) and concurrency > 0 else items
        end = self.machine(processor, t, mult * items)
        return t + (end - t) * math.ceil(items / concurrency)

    def poll_cycle(self, choice: str, states: dict[str, Any], target: str | None) -> list[str] | None:
        """[Wait, …] when ``target`` is a Wait state whose Next chain comes back to ``choice``."""
        if target not in states or states[target].get("Type") != "Wait":
            return None
        cycle: list[str] = []
        name = target
        for _ in range(8):
            if name == choice:
                return cycle
            if name not in states or states[name].get("Type") in {"Choice", "Parallel", "Map", "Succeed", "Fail"}:
                return None
            cycle.append(name)
            name = states[name].get("Next")
        return None

    def choose(self, name: str, state: dict[str, Any], states: dict[str, Any], finishing: set[str], t: float,
               mult: float) -> tuple[str | None, float]:
        candidates: list[tuple[str, int]] = []
        for rule in state.get("Choices") or []:
            target = rule.get("Next")
            body = _jsonata_body(rule.get("Condition"))
            verdict, held = self.evaluator.condition(body) if body is not None else (None, 0)
            if verdict is True:
                return target, t
            if verdict is None:
                candidates.append((target, held))
        default = state.get("Default")
        forward = [(c, h) for c, h in candidates if c in finishing]
        best = max(forward, key=lambda ch: ch[1])[0] if forward else None  # max keeps the first of equals
        cycle = self.poll_cycle(name, states, default)
        if cycle:
            what, expected = self.poll_expectation([name, *cycle])
            wait_state = states[cycle[0]]
            per_poll = sum(self.wait_seconds(wait_state, cycle[0]) if i == 0 else self.task_seconds(n, states[n])
                           for i, n in enumerate(cycle))
            polls, wait = self.loop_polls(wait_state, cycle[0], expected)
            for n in cycle:
                self.enter(n, mult * polls)
            self.enter(name, mult * polls)
            self.polls.append({"choice": name, "wait": cycle[0], "seconds_between_polls": wait, "polls": polls * mult,
                               "expecting": what, "expected_seconds": expected})
            self.waits.append({"state": cycle[0], "seconds": wait, "times": polls * mult})
            t += polls * per_poll
            if best is None:
                self._note(f"Choice {name!r}: no way forward out of its polling loop; the estimate stops there")
            return best, t
        if isinstance(default, str) and default in finishing and not any(h for c, h in forward):
            return default, t
        if best is not None:
            return best, t
        return (default if isinstance(default, str) else (candidates[0][0] if candidates else None)), t


# ------------------------------------------------------------------ the plan


def bindings_for(cfg, processes: list[dict[str, Any]] | None, preflight: dict | None) -> dict[str, Any]:
    """The state machine's variables as far as this input (and preflight) determine them."""
    app = cfg.heroku.app
    out: dict[str, Any] = {"cfg": cfg.model_dump(mode="json")}
    if preflight is not None:
        out["plan"] = preflight
    if processes is not None:
        types = [p["type"] for p in processes]
        services = [{"type": t, "service": {"ServiceName": f"{app}-{t}"}} for t in types if t != "release"]
        out["services"] = {"release": {"Family": f"{app}-release"} if "release" in types else None,
                           "services": services}
        names = [s["service"]["ServiceName"] for s in services]
        out["prepared"] = {"services": names, "desired": [{"service": n} for n in names],
                           "config": {"secret_arn": None}}
    return out


def _resources(cfg, processes: list[dict[str, Any]] | None, processes_from: str) -> list[dict[str, Any]]:
    app = cfg.heroku.app
    db = cfg.database
    out: list[dict[str, Any]] = [{
        "stage": 3, "kind": "Secrets Manager secret", "name": f"heroku2aws/{app}/config",
        "details": "every Heroku config var except the add-on attachments; DATABASE_URL/REDIS_URL point at Heroku "
                   "until stage 6 points them at RDS/ElastiCache",
        "after": "kept (the app's configuration)" + ("" if cfg.rollback.keep_secret else "; deleted on rollback")}]
    if db.strategy != "dump-restore":
        ident = f"h2a-{app}"
        migration_type = "full-load-and-cdc" if db.strategy == "dms-cdc" else "full-load"
        out += [
            {"stage": 3, "kind": "DMS replication subnet group", "name": ident,
             "details": f"subnets {', '.join(db.dms_subnet_ids)}", "after": "deleted in stage 7"},
            {"stage": 3, "kind": "DMS replication instance", "name": ident,
             "details": f"{db.dms_instance_class}, {db.dms_allocated_storage_gb} GB, private, single-AZ, "
                        f"security groups {', '.join(db.dms_security_group_ids)}", "after": "deleted in stage 7"},
            {"stage": 3, "kind": "DMS source endpoint", "name": f"{ident}-source",
             "details": "Heroku Postgres, SSL required, credentials read by DMS from source.postgres_secret_arn",
             "after": "deleted in stage 7"},
            {"stage": 3, "kind": "DMS target endpoint", "name": f"{ident}-target",
             "details": "RDS, credentials read by DMS from target.postgres_secret_arn", "after": "deleted in stage 7"},
            {"stage": 3, "kind": "DMS replication task", "name": ident,
             "details": f"{migration_type}; " + ("started after stage 3, while Heroku serves; stopped once the freeze "
                                                 "has drained it" if db.strategy == "dms-cdc"
                                                 else "started only inside the write freeze"),
             "after": "deleted in stage 7"},
        ]
    keep = "kept" + ("" if cfg.rollback.keep_services else "; deleted on rollback")
    if processes is None:
        out.append({"stage": 3, "kind": "ECS services", "name": f"{app}-<type> for each process type",
                    "details": f"process types from {processes_from}", "after": keep})
    else:
        for p in processes:
            t = p["type"]
            size = f", {p['size']} → {p.get('cpu')} CPU units / {p.get('memory')} MiB" if p.get("size") else ""
            count = f", {p['quantity']} task(s)" if "quantity" in p else ""
            if t == "release":
                out.append({"stage": 3, "kind": "ECS task definition (run once)", "name": f"{app}-release",
                            "details": "the release command, run once before the services start" + size,
                            "after": "kept"})
                continue
            web = t == "web"
            details = (f"Fargate, behind the target group on port {cfg.ecs.port}" if web else "Fargate, no load balancer")
            out.append({"stage": 3, "kind": "ECS service", "name": f"{app}-{t}",
                        "details": details + count + size + f"; task definition {app}-{t}", "after": keep})
    if cfg.scheduler.jobs:
        from heroku2aws.contracts import names

        out.append({"stage": 3, "kind": "ECS task definition (scheduled jobs)", "name": f"{app}-scheduler",
                    "details": "the app's image, config vars and logs; each schedule gives its command and size",
                    "after": keep})
        out += [{"stage": 3, "kind": "EventBridge Scheduler schedule", "name": names.schedule_name(app, job.name),
                 "details": f"{job.schedule} ({job.timezone}), runs `{job.command}` on {job.size}; DISABLED until "
                            "the switch (stage 6), then ENABLED",
                 "after": "kept (runs the job on AWS); deleted on rollback"} for job in cfg.scheduler.jobs]
    zone, record = cfg.dns.hosted_zone_id, cfg.dns.record_name
    out += [
        {"stage": 4, "kind": "Route 53 weighted CNAME", "name": f"{record} (set heroku)",
         "details": f"→ {cfg.dns.heroku_target}, TTL {cfg.dns.ttl} s, zone {zone}; replaces the plain CNAME",
         "after": "weight 0 after the switch; rollback restores the original record"},
        {"stage": 4, "kind": "Route 53 weighted CNAME", "name": f"{record} (set aws)",
         "details": f"→ {cfg.load_balancer.dns_name}, TTL {cfg.dns.ttl} s, zone {zone}",
         "after": "weight 100 after the switch"},
    ]
    return out


def _stages(cfg, processes: list[dict[str, Any]] | None, processes_from: str) -> list[dict[str, Any]]:
    db, app = cfg.database, cfg.heroku.app
    copy = {"dms-full-load": f"DMS full load (task h2a-{app}) inside the write freeze",
            "dms-cdc": "DMS full load then CDC, before the freeze; the freeze waits for CDC to catch up",
            "dump-restore": f"pg_dump -Fd -j {db.dump_restore_jobs} | pg_restore -j {db.dump_restore_jobs} in an ECS task"}
    types = ", ".join(p["type"] for p in processes) if processes is not None else f"from {processes_from}"
    redis = "Redis restored into ElastiCache (SCAN + DUMP/RESTORE in an ECS task)" if cfg.source.redis_secret_arn \
        else "no Redis (source.redis_secret_arn not given)"
    steps = " → ".join(f"{s} %" for s in cfg.traffic.steps)
    stages = [
        {"stage": 1, "name": "Validate input", "does": "the input against the model: passed (this plan)"},
        {"stage": 2, "name": "Preflight", "does": "Heroku app, config vars, formation; source Postgres and Redis; "
                                                   "targets reachable and empty; hosted zone and record. Changes nothing."},
        {"stage": 3, "name": "Prepare the AWS side", "does": (
            f"config vars into heroku2aws/{app}/config; then in parallel: "
            + ("DMS set up (subnet group, instance, endpoints, connection tests, task); " if db.strategy != "dump-restore"
               else "no DMS (dump-restore); ")
            + f"ECS services for the process types ({types}), pointed at the Heroku data stores; wait until stable and healthy"
            + ("; then (dms-cdc) RDS gets the schema, DMS loads it and keeps applying Heroku's changes, indexes and "
               "constraints added after the load" if db.strategy == "dms-cdc" else ""))},
        {"stage": 4, "name": "Shift traffic", "does": (
            f"weighted CNAMEs, AWS {steps}; after each step wait for INSYNC, bake {cfg.timings.bake_seconds} s, "
            f"health gate (targets healthy, ALB 5xx rate ≤ {cfg.traffic.max_5xx_rate:.2%}, "
            f"probe {cfg.load_balancer.health_url}); "
            "a failed gate puts the traffic back on Heroku")},
        {"stage": 5, "name": "Approve the switchover", "does": (
            f"an SNS message with a task token; waits up to {cfg.timings.approval_timeout_seconds} s; a rejection or "
            "the timeout rolls back" if cfg.approval.required else "skipped (approval.required is false)")},
        {"stage": 6, "name": "Switch the data stores (write freeze)", "does": (
            f"Heroku maintenance on, dynos to 0 (formation recorded), AWS services paused; Postgres: {copy[db.strategy]}; "
            f"{redis}; parity verified; sequences set; the config secret pointed at RDS/ElastiCache; services redeployed "
            "and health-checked; Heroku stays in maintenance")},
        {"stage": 7, "name": "Finalize", "does": ("DMS torn down; " if db.strategy != "dump-restore" else "")
            + "the report published (SNS) and returned as the execution's output"},
    ]
    return stages


def _dns_steps(cfg) -> list[dict[str, Any]]:
    out = [{"step": 0, "aws_percent": 0, "heroku_weight": 100, "aws_weight": 0,
            "what": "the plain CNAME becomes two weighted CNAMEs (Heroku 100, AWS 0)"}]
    for i, step in enumerate(cfg.traffic.steps, start=1):
        out.append({"step": i, "aws_percent": step, "heroku_weight": 100 - step, "aws_weight": step,
                    "insync_timeout_seconds": cfg.timings.dns_insync_timeout_seconds,
                    "bake_seconds": cfg.timings.bake_seconds, "health_gate": True})
    return out


def _deadlines(cfg) -> list[dict[str, Any]]:
    t = cfg.timings
    out = [
        {"name": "poll interval", "seconds": t.poll_seconds, "bounds": "every polling loop"},
        {"name": "ECS services stable and healthy", "seconds": t.service_stable_timeout_seconds,
         "bounds": "stage 3 and the redeploy in stage 6"},
        {"name": "DNS change INSYNC", "seconds": t.dns_insync_timeout_seconds, "bounds": "each traffic step"},
        {"name": "bake at each weight", "seconds": t.bake_seconds, "bounds": "each traffic step"},
    ]
    if cfg.database.strategy != "dump-restore":
        out.append({"name": "DMS", "seconds": t.dms_timeout_seconds,
                    "bounds": "instance, connection tests, task, the full load, teardown"})
    if cfg.approval.required:
        out.append({"name": "approval", "seconds": t.approval_timeout_seconds, "bounds": "stage 5; the timeout rolls back"})
    return out


def run_preflight(cfg, region: str | None, profile: str | None, endpoint_url: str | None) -> dict[str, Any]:
    """The real preflight from this machine: ``{"ok", "plan" | "problems", "warnings"}``."""
    try:
        from heroku2aws.steps import preflight as pf
    except ImportError as exc:
        return {"ok": False, "ran": False, "problems": [f"heroku2aws.steps.preflight is not available ({exc.name or exc})"]}
    run = getattr(pf, "run_preflight", None)
    if run is None:
        return {"ok": False, "ran": False, "problems": ["heroku2aws.steps.preflight has no run_preflight() yet"]}
    from heroku2aws.contracts.errors import Heroku2AwsError
    from heroku2aws.redaction import scrub

    arn_region = cfg.heroku.api_key_secret_arn.split(":")[3]
    env = {"AWS_REGION": region or os.environ.get("AWS_REGION") or arn_region,
           "AWS_DEFAULT_REGION": region or os.environ.get("AWS_DEFAULT_REGION") or arn_region}
    if profile:
        env["AWS_PROFILE"] = profile
    if endpoint_url:
        env["AWS_ENDPOINT_URL"] = endpoint_url
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        result = run(cfg)
    except Heroku2AwsError as exc:  # PreflightFailed & co: value-free by contract
        return {"ok": False, "ran": True, "error": type(exc).__name__, "problems": [scrub(str(exc))]}
    except Exception as exc:  # unreachable servers, no credentials, …: the class and a scrubbed message
        return {"ok": False, "ran": False, "error": type(exc).__name__, "problems": [scrub(str(exc))[:500]]}
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    doc = result.model_dump(mode="json") if hasattr(result, "model_dump") else dict(result)
    return {"ok": True, "ran": True, "plan": doc, "warnings": list(doc.get("warnings") or [])}


def make_plan(cfg, asl: dict, preflight: dict | None = None, placeholders: int = 0) -> dict[str, Any]:
    pf_plan = (preflight or {}).get("plan") if preflight and preflight.get("ok") else None
    processes, processes_from = process_types(cfg, pf_plan)
    estimates_pf = (pf_plan or {}).get("estimates") or {}
    copy_seconds = {}
    if estimates_pf:
        copy_seconds = {"postgres": float(estimates_pf.get("postgres_copy_seconds") or 0),
                        "redis": float(estimates_pf.get("redis_copy_seconds") or 0),
                        "verify": float(estimates_pf.get("verify_seconds") or 0)}
    walk = Walk(cfg=cfg, evaluator=Evaluator(bindings_for(cfg, processes, pf_plan)), copy_seconds=copy_seconds)
    end = walk.machine(asl, 0.0, 1)
    transitions = int(math.ceil(walk.transitions))
    approval_wait = sum(a["timeout_seconds"] or cfg.timings.approval_timeout_seconds for a in walk.approvals)
    created = walk.marks.get("dms_instance_created")
    dms_hours = None
    if created is not None:
        low = (end - created) / 3600
        after = sum(a["timeout_seconds"] or cfg.timings.approval_timeout_seconds for a in walk.approvals
                    if a["at"] >= created)
        dms_hours = {"min": round(low, 2), "max": round(low + after / 3600, 2), "instance_class": cfg.database.dms_instance_class,
                     "note": "from CreateReplicationInstance to the end of the run; max includes waiting out the approval"}
    if "postgres" not in copy_seconds:
        walk._note("copy durations are guesses without --preflight (database size unknown)")
    approval_states = [a["state"] for a in walk.approvals]
    plan: dict[str, Any] = {
        "valid": True,
        "app": cfg.heroku.app,
        "strategy": cfg.database.strategy,
        "stages": _stages(cfg, processes, processes_from),
        "resources": _resources(cfg, processes, processes_from),
        "processes": processes,
        "dns_steps": _dns_steps(cfg),
        "waits": _merge_waits(walk.waits),
        "polls": walk.polls,
        "deadlines": _deadlines(cfg),
        "approval": {"required": cfg.approval.required, "timeout_seconds": cfg.timings.approval_timeout_seconds,
                     "states": approval_states,
                     "how": "aws stepfunctions send-task-success --task-token <token from the SNS message> "
                            "--task-output '{\"approved\": true}'; a rejection or the timeout rolls back"},
        "estimates": {
            "state_transitions": transitions,
            "cost_usd": round(transitions * PRICE_PER_TRANSITION, 4),
            "price_per_1000_transitions_usd": PRICE_PER_TRANSITION * 1000,
            "duration_seconds": {"min": round(end), "max": round(end + approval_wait)},
            "dms_instance_hours": dms_hours,
            "history_events_max": _history(cfg, asl),
            "write_freeze_seconds": estimates_pf.get("write_freeze_seconds"),
            # heroku2aws.freeze_estimate: the components (each with what it is computed from) and the basis
            "write_freeze": {"components": estimates_pf.get("components") or [], "basis": estimates_pf.get("basis")}
            if estimates_pf else None,
            # postgres/parallel_load.py: MaxFullLoadSubTasks and the tables split, each choice with its reason
            "dms_full_load": ((pf_plan or {}).get("postgres") or {}).get("dms_full_load") or None
            if cfg.database.strategy != "dump-restore" else None,
            "assumptions": {
                "poll_expectations_seconds": {p["expecting"]: p["expected_seconds"] for p in walk.polls},
                "task_seconds": TASK_SECONDS,
                "approval": "given at once (min) / at its timeout (max)",
            },
        },
        "states_entered": {k: round(v, 2) for k, v in walk.entered.items()},
        "warnings": walk.warnings,
        "notes": walk.notes,
        "preflight": preflight,
    }
    if placeholders:
        plan["notes"].insert(0, f"the input has {placeholders} {{{{placeholders}}}}: only `heroku2aws rehearse` fills them")
    return plan


def heroku_landing(cfg, api=None) -> dict[str, Any]:
    """The add-on lines and the estimates (``heroku2aws_cli.init.landing_summary``) for the input's app, read with
    the user's own Heroku key; ``{"error": ...}`` (value-free) when it cannot be read."""
    from heroku2aws.clients.heroku import HerokuClient

    from . import init

    try:
        api = api or HerokuClient(init.api_key(), os.environ.get("HEROKU_API_URL") or cfg.heroku.api_url, retries=2)
        found = init.survey(api, cfg.heroku.app, connect=False)
    except init.InitError as exc:
        return {"error": str(exc)}
    database = getattr(cfg, "database", None)
    return init.landing_summary(found, strategy=getattr(database, "strategy", "dms-full-load"),
                                dms_instance_class=getattr(database, "dms_instance_class", "dms.t3.medium"))


def _history(cfg, asl: dict) -> dict[str, Any]:
    """The most history events an execution can write, for this input's timings and at the schema's limits."""
    from heroku2aws.steps.plan_services import MAX_PROCESS_TYPES

    from .history import HISTORY_LIMIT, history_bound

    this = {"timings": cfg.timings.model_dump(), "traffic_steps": len(cfg.traffic.steps),
            "process_types": MAX_PROCESS_TYPES, "scheduler_jobs": len(cfg.scheduler.jobs)}
    try:
        return {"this_input": history_bound(asl, this).events, "schema_worst_case": history_bound(asl).events,
                "limit": HISTORY_LIMIT}
    except (ValueError, KeyError) as exc:  # an ASL the bound cannot read (a loop without a stretched interval)
        return {"error": str(exc), "limit": HISTORY_LIMIT}


def _merge_waits(waits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = {}
    for w in waits:
        m = merged.setdefault(w["state"], {"state": w["state"], "seconds": w["seconds"], "times": 0})
        m["times"] += w["times"]
    for m in merged.values():
        m["times"] = round(m["times"], 2)
        m["total_seconds"] = round(m["seconds"] * m["times"])
    return list(merged.values())


# ------------------------------------------------------------------ output


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(round(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def render(console, plan: dict[str, Any]) -> None:
    """The plan for a person. Lines are never wrapped (names stay whole) and never read as markup."""
    from rich.text import Text

    def line(text: str, style: str = "") -> None:
        console.print(Text(text, style=style), soft_wrap=True)

    def rule(title: str) -> None:
        console.print()
        line(f"── {title} ──", "bold cyan")

    line(f"Plan for {plan['app']} — strategy {plan['strategy']}", "bold")
    rule("stages")
    for s in plan["stages"]:
        console.print(Text.assemble((f"{s['stage']}. {s['name']}", "bold"), f" — {s['does']}"), soft_wrap=True)
    rule("resources it would create")
    for r in plan["resources"]:
        console.print(Text.assemble(f"stage {r['stage']}  {r['kind']}: ", (r["name"], "bold")), soft_wrap=True)
        line(f"    {r['details']}; afterwards: {r['after']}", "dim")
    rule("DNS steps")
    for d in plan["dns_steps"]:
        if d["step"] == 0:
            line(f"0. {d['what']}")
        else:
            line(f"{d['step']}. AWS {d['aws_percent']} % (weights Heroku {d['heroku_weight']} / AWS {d['aws_weight']}): "
                 f"wait for INSYNC (≤ {d['insync_timeout_seconds']} s), bake {d['bake_seconds']} s, health gate")
    rule("waits and deadlines")
    for w in plan["waits"]:
        line(f"wait  {w['state']}: {w['seconds']:g} s × {w['times']:g} ≈ {_duration(w['total_seconds'])}")
    for d in plan["deadlines"]:
        line(f"limit {d['name']}: {d['seconds']} s ({d['bounds']})")
    rule("approval")
    a = plan["approval"]
    if a["required"]:
        line(f"required: {', '.join(a['states']) or 'the approval state'} waits up to {a['timeout_seconds']} s; "
             f"approve with {a['how']}")
    else:
        line("not required: the switchover follows the last traffic step directly")
    rule("estimates")
    e = plan["estimates"]
    line(f"state transitions ≈ {e['state_transitions']} (≈ ${e['cost_usd']:.4f} at "
         f"${e['price_per_1000_transitions_usd']:.3f} per 1,000)")
    h = e["history_events_max"]
    if "error" in h:
        line(f"history: cannot bound it ({h['error']})")
    else:
        line(f"history ≤ {h['this_input']:,} events with these timings, ≤ {h['schema_worst_case']:,} with any the "
             f"schema accepts (Step Functions fails an execution at {h['limit']:,})")
    duration = e["duration_seconds"]
    line(f"duration ≈ {_duration(duration['min'])}"
         + (f" (up to {_duration(duration['max'])} if the approval is waited out)" if duration["max"] != duration["min"] else ""))
    h = e["dms_instance_hours"]
    if h:
        line(f"DMS instance-hours ({h['instance_class']}) ≈ {h['min']}" + (f" – {h['max']}" if h["max"] != h["min"] else ""))
    else:
        line("DMS instance-hours: 0 (no DMS on this path)")
    for p in plan["polls"]:
        line(f"assumed: {p['expecting']} takes ≈ {_duration(p['expected_seconds'])} → {p['polls']:g} polls of "
             f"{p['choice']!r}", "dim")
    for warning in plan["warnings"]:
        line(f"warning: {warning}", "yellow")
    pf = plan.get("preflight")
    if pf is not None:
        rule("preflight")
        if pf.get("ok"):
            line(f"passed; write freeze ≈ {_duration(e['write_freeze_seconds'])} (an estimate)", "green")
            freeze = e.get("write_freeze") or {}
            for c in freeze.get("components") or []:
                line(f"  {c['name']}: ≈ {_duration(c['seconds'])} — {c['basis']}")
            if freeze.get("basis"):
                line(f"  {freeze['basis']}", "dim")
            dms = e.get("dms_full_load")
            if dms:
                line(f"DMS full load: MaxFullLoadSubTasks {dms['MaxFullLoadSubTasks']} — {dms['why']}")
                for r in dms.get("ranges") or []:
                    line(f"  {r['table']} split into {r['segments']} parallel-load ranges on "
                         f"{', '.join(r['columns'])}: {r['why']}")
                for table, why in (dms.get("not_split") or {}).items():
                    line(f"  {table} loaded whole: {why}")
                for url in dms.get("guidance") or []:
                    line(f"  AWS guidance: {url}", "dim")
            for w in pf.get("warnings") or []:
                line(f"warning: {w}", "yellow")
        else:
            line("refused:" if pf.get("ran") else "could not run:", "red")
            for problem in pf.get("problems") or []:
                line(f"  {problem}")
    for note in plan["notes"]:
        line(f"note: {note}", "dim")
    landing = plan.get("landing")
    if landing is not None:
        rule("add-ons")
        if "error" in landing:
            line(f"could not read the app from Heroku: {landing['error']}", "red")
        else:
            for addon in landing["addons"]:
                line(addon["line"])
            for reason in landing["sizes"]:
                line(f"size: {reason}", "dim")
            rule("what it costs (estimates)")
            for estimate in landing["estimates"].values():
                for text in estimate["lines"]:
                    line(text)
            for note in landing["notes"]:
                line(f"note: {note}", "yellow")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="heroku2aws plan", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", type=Path, required=True, help="the execution input (JSON)")
    parser.add_argument("--asl", type=Path, default=DEFAULT_ASL, help="the state machine (default %(default)s)")
    parser.add_argument("--preflight", action="store_true", help="also run the real preflight from this machine")
    parser.add_argument("--region", help="AWS region for --preflight (default: the secrets' region)")
    parser.add_argument("--profile", help="AWS profile for --preflight")
    parser.add_argument("--endpoint-url", help="AWS endpoint for --preflight (e.g. a local emulation)")
    parser.add_argument("--heroku", action="store_true",
                        help="read the app's add-ons and plans from Heroku (your key) and show their fate and the costs")
    parser.add_argument("--json", action="store_true", help="print the plan as one JSON object, last line")
    args = parser.parse_args(argv)
    from rich.console import Console

    console = Console(stderr=args.json)
    placeholders = 0
    try:
        raw, placeholders = load_input(args.input)
        cfg = validate(raw)
    except PlanError as exc:
        from rich.text import Text

        n = len(exc.problems)
        errors = Console(stderr=True)
        errors.print(Text(f"the input is invalid ({n} problem{'s' if n != 1 else ''}):", style="red"), soft_wrap=True)
        for problem in exc.problems:
            errors.print(Text(f"  {problem}"), soft_wrap=True)
        if placeholders:
            errors.print(Text(f"the input has {placeholders} {{{{placeholders}}}}: only `heroku2aws rehearse` fills them",
                              style="yellow"), soft_wrap=True)
        if args.json:
            print(json.dumps({"valid": False, "problems": exc.problems}))
        return 2
    try:
        asl = json.loads(args.asl.read_text())
    except (OSError, ValueError) as exc:
        print(f"heroku2aws plan: --asl {args.asl}: {exc.__class__.__name__}", file=sys.stderr)
        return 2
    preflight = None
    if args.preflight:
        with console.status("running preflight"):
            preflight = run_preflight(cfg, args.region, args.profile, args.endpoint_url)
    plan = make_plan(cfg, asl, preflight, placeholders)
    if args.heroku:
        with console.status("reading the app from Heroku"):
            plan["landing"] = heroku_landing(cfg)
    render(console, plan)
    if args.json:
        print(json.dumps(plan, default=str))
    return 1 if preflight is not None and not preflight.get("ok") else 0


if __name__ == "__main__":
    sys.exit(main())
