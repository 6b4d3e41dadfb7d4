"""The worst-case history of one execution, counted from the ASL: it must stay under 25,000 events.

Step Functions fails an execution whose history would pass 25,000 events, and no Catch sees it
(quotas page: https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html, "Maximum execution
history size: 25,000 events"). A poll loop bounded only by a deadline could pass it: one poll a second
for a 7-day DMS deadline is 600,000 polls. So each loop's Wait grows its interval with the time already
waited: ``$max([$cfg.timings.poll_seconds, $floor(($millis() - $deadline + timeout * 1000) / D)])``, at
least ``1000 / D`` of the elapsed time (10 %: a load that takes an hour is seen done at most 6 minutes
late, while the first polls come every ``poll_seconds``). The polls of such a loop grow with the logarithm
of its timeout, not linearly; this module adds every state's events up with:

- the largest timings the input's schema accepts and the smallest poll interval (``worst_case_input``);
- every state counted, on every branch of every Choice (a path takes only some: an over-estimate);
- each state in a loop counted once per poll of that loop (its waits simulated at the smallest intervals
  the expression allows, every task taking no time, + 2);
- each Map's states counted once per item, at the most items the input allows (traffic steps, process types);
- each Retry at its MaxAttempts, every attempt failing (3 events each) before the state succeeds;
- the events per state from the guide's history event types (``*StateEntered``/``*StateExited``, a task's
  ``TaskScheduled``/``TaskStarted``/``TaskSubmitted``/``TaskSucceeded``, ``Map``/``Parallel`` start and end,
  one ``MapIterationStarted``/``Succeeded`` pair per item).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import project

HISTORY_LIMIT = 25_000
DEFAULT_ASL = project.ASL

_LOOP_WAIT = re.compile(r"\$millis\(\)\s*-\s*\$([A-Za-z]+)\s*\+\s*\$cfg\.timings\.([a-z_]+)\s*\*\s*1000\)\s*/\s*(\d+)")


def worst_case_input() -> dict[str, Any]:
    """The timings at the schema's limits (smallest poll, largest deadlines) and the most Map items."""
    from heroku2aws.contracts.input import Scheduler, Timings, Traffic
    from heroku2aws.steps.plan_services import MAX_PROCESS_TYPES

    timings: dict[str, Any] = {}
    for name, info in Timings.model_fields.items():
        bounds = {type(m).__name__: m for m in info.metadata}
        if name == "poll_seconds":
            timings[name] = getattr(bounds.get("Ge"), "ge", 1)
        elif "Le" in bounds:
            timings[name] = bounds["Le"].le
    steps = Traffic.model_fields["steps"]
    max_steps = next(m.max_length for m in steps.metadata if hasattr(m, "max_length"))
    jobs = next(m.max_length for m in Scheduler.model_fields["jobs"].metadata if hasattr(m, "max_length"))
    return {"timings": timings, "traffic_steps": max_steps, "process_types": MAX_PROCESS_TYPES, "scheduler_jobs": jobs}


@dataclass
class Loop:
    wait: str
    deadline: str
    timeout_field: str
    polls: int
    body: list[str]


@dataclass
class Bound:
    events: int
    loops: list[Loop] = field(default_factory=list)
    by_state: dict[str, int] = field(default_factory=dict)

    @property
    def within_limit(self) -> bool:
        return self.events < HISTORY_LIMIT


def _retry_events(state: dict[str, Any]) -> int:
    return sum(3 * int(r.get("MaxAttempts", 3)) for r in state.get("Retry") or [])


def _events(state: dict[str, Any]) -> int:
    kind = state.get("Type")
    if kind == "Task":
        resource = str(state.get("Resource", ""))
        # Entered, Scheduled, Started, (Submitted for .sync / token), Succeeded, Exited.
        task = 6 if resource.endswith((".sync", ".waitForTaskToken")) else 5
        return task + _retry_events(state)
    if kind in ("Parallel", "Map"):
        return 4 + _retry_events(state)  # Entered, Started, Succeeded, Exited
    return 2  # Pass, Choice, Wait, Succeed, Fail: Entered and Exited


def _successors(state: dict[str, Any]) -> Iterator[str]:
    if isinstance(state.get("Next"), str):
        yield state["Next"]
    for choice in state.get("Choices") or []:
        if isinstance(choice.get("Next"), str):
            yield choice["Next"]
    if isinstance(state.get("Default"), str):
        yield state["Default"]
    for catch in state.get("Catch") or []:
        if isinstance(catch.get("Next"), str):
            yield catch["Next"]


def _reach(states: dict[str, Any], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        name = todo.pop()
        if name in seen or name not in states:
            continue
        seen.add(name)
        todo.extend(_successors(states[name]))
    return seen


def _map_items(state: dict[str, Any], worst: dict[str, Any]) -> int:
    items = str(state.get("Items", ""))
    if "traffic.steps" in items:
        return int(worst["traffic_steps"])
    if "scheduler" in items:   # Heroku Scheduler's jobs: $cfg.scheduler.jobs, $services.scheduler.schedules
        return int(worst.get("scheduler_jobs", 25))
    if "services" in items or "desired" in items:
        return int(worst["process_types"])
    raise ValueError(f"Map over {items!r}: its largest item count is unknown to the history bound")


def _loop_wait(expression: Any) -> tuple[str, str, int]:
    """(deadline variable, timeout field, divisor) of a loop's Wait from its Seconds expression."""
    text = str(expression)
    found = _LOOP_WAIT.search(text)
    if not found or "$cfg.timings.poll_seconds" not in text:
        raise ValueError(f"a poll loop's Wait must stretch its interval with the time waited, got {text!r}")
    return found.group(1), found.group(2), int(found.group(3))


def waits_until(timeout: float, poll: float, divisor: int) -> int:
    """How many Waits a loop can make before its deadline: each waits max(poll, floor(elapsed_ms / divisor)) s."""
    elapsed, waits = 0.0, 0
    while elapsed <= timeout:
        elapsed += max(poll, math.floor(elapsed * 1000 / divisor))
        waits += 1
    return waits


def _restarts(states: dict[str, Any], body: list[str], deadline: str) -> list[str]:
    """States in the loop that set its deadline afresh (which would let the loop run for ever)."""
    out = []
    for name in body:
        value = (states[name].get("Assign") or {}).get(deadline)
        if value is not None and not str(value).replace(" ", "").startswith(f"{{%$exists(${deadline})?${deadline}:"):
            out.append(name)
    return out


def _machine(states: dict[str, Any], worst: dict[str, Any], mult: int, bound: Bound, prefix: str) -> int:
    visits = {name: 1 for name in states}
    # Loops of one scope that share a deadline share its clock (the DMS set-up's instance, connection-test and
    # task loops; the freeze's full load or change-capture drain): together they wait at most as often as one.
    # So the loop costing most per poll gets the waits, the others only their first and last poll.
    groups: dict[str, list[tuple[float, str, list[str], str, int]]] = {}
    for name, state in states.items():
        if state.get("Type") != "Wait" or not isinstance(state.get("Next"), str):
            continue
        body = sorted(n for n in _reach(states, state["Next"]) if name in _reach(states, n))
        if not body:
            continue  # not a loop (a bake, a one-off pause)
        deadline, timeout_field, divisor = _loop_wait(state.get("Seconds"))
        if restarts := _restarts(states, body, deadline):
            raise ValueError(f"{prefix}{name}: ${deadline} is set afresh inside its own loop by {restarts}")
        waits = waits_until(float(worst["timings"][timeout_field]), float(worst["timings"]["poll_seconds"]), divisor)
        cost = sum(_events(states[member]) for member in body)
        groups.setdefault(deadline, []).append((cost, name, body, timeout_field, waits))
    for deadline, loops in groups.items():
        waits = max(loop[4] for loop in loops)
        for i, (_, name, body, timeout_field, _own) in enumerate(sorted(loops, reverse=True)):
            polls = (waits if i == 0 else 0) + 2
            bound.loops.append(Loop(wait=prefix + name, deadline=deadline, timeout_field=timeout_field,
                                    polls=polls * mult, body=body))
            for member in body:
                visits[member] += polls - 1
    total = 0
    for name, state in states.items():
        count = _events(state)
        if state.get("Type") == "Parallel":
            count += sum(_machine(b["States"], worst, 1, bound, f"{prefix}{name} / ") for b in state["Branches"])
        elif state.get("Type") == "Map":
            items = _map_items(state, worst)
            inner = _machine(state["ItemProcessor"]["States"], worst, items, bound, f"{prefix}{name} / ")
            count += items * (2 + inner)  # MapIterationStarted/Succeeded per item
        events = count * visits[name]
        bound.by_state[prefix + name] = events * mult
        total += events
    return total


def history_bound(asl: dict[str, Any] | None = None, worst: dict[str, Any] | None = None) -> Bound:
    """An upper bound of one execution's history events (see the module docstring)."""
    asl = asl if asl is not None else json.loads(Path(DEFAULT_ASL).read_text())
    worst = worst or worst_case_input()
    bound = Bound(events=0)
    bound.events = 2 + _machine(asl["States"], worst, 1, bound, "")  # ExecutionStarted, ExecutionSucceeded/Failed
    return bound
