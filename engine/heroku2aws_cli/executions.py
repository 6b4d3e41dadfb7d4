"""Start an execution, follow its history as the console's graph view would, and build the report."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

PRICE_PER_TRANSITION = 0.025 / 1000  # Standard workflows, USD


@dataclass
class StateRun:
    name: str
    entered: datetime
    exited: datetime | None = None
    status: str = "RUNNING"  # RUNNING | SUCCEEDED | FAILED | CAUGHT | ABORTED
    error: str | None = None
    kind: str = ""  # the state type: Task, Parallel, Map, Choice, ...
    parent: StateRun | None = field(default=None, repr=False)
    retried: list[str] = field(default_factory=list)  # errors a Retry recovered from
    failed_at: datetime | None = None

    @property
    def seconds(self) -> float | None:
        end = self.exited or self.failed_at or datetime.now(UTC)
        return round((end - self.entered).total_seconds(), 3)

    @property
    def is_container(self) -> bool:
        return self.kind in _CONTAINERS

    def ancestors(self):
        run = self
        while run is not None:
            yield run
            run = run.parent


@dataclass
class History:
    events: list[dict] = field(default_factory=list)
    states: list[StateRun] = field(default_factory=list)

    @property
    def transitions(self) -> int:
        return sum(1 for e in self.events if e["type"].endswith("StateEntered"))


_CONTAINERS = ("Parallel", "Map")
_SCHEDULED = ("TaskScheduled", "LambdaFunctionScheduled", "ActivityScheduled")
_ENDED = ("Failed", "TimedOut", "Aborted")


def _kind(event_type: str) -> str:
    for suffix in ("StateEntered", "StateExited"):
        if event_type.endswith(suffix):
            return event_type[: -len(suffix)]
    return ""


def fold(events: list[dict]) -> list[StateRun]:
    """History events -> one row per state entry (nested Map/Parallel states included).

    Each event is attributed to its state by following ``previousEventId``, as the console does, so
    side-by-side branches and Map iterations of the same state are told apart, a branch's failure
    lands on its own state, and the states of a branch cancelled by its sibling's failure end
    ABORTED rather than running forever. Events without ids fall back to names and order.
    """
    runs: list[StateRun] = []
    owner: dict[Any, StateRun] = {}  # event id -> the state it belongs to
    open_by_name: dict[str, list[StateRun]] = {}
    last_open: StateRun | None = None

    def close(run: StateRun, at, status: str) -> None:
        run.exited, run.status = at, status
        if run in open_by_name.get(run.name, []):
            open_by_name[run.name].remove(run)

    def end_cancelled(run: StateRun, at) -> None:
        """A state its branch or execution ended: a failure stays one, anything else was aborted."""
        close(run, at, "FAILED" if run.status == "FAILED" else "ABORTED")

    def abort_inside(container: StateRun, at) -> None:
        for r in runs:
            if r.exited is None and r is not container and container in r.ancestors():
                end_cancelled(r, at)

    for e in events:
        t = e["type"]
        prev = owner.get(e.get("previousEventId"))
        kind = next((c for c in _CONTAINERS if t.startswith(c)), None)
        if kind and prev is not None:  # a container's own event: the container itself, not the branch state before it
            start = prev if prev.exited is None else prev.parent
            prev = next((r for r in (start.ancestors() if start else ()) if r.kind == kind), prev)
        if t.endswith("StateEntered"):
            name = e["stateEnteredEventDetails"]["name"]
            # after a container's start event its child; after a state's exit that state's sibling
            parent = None if prev is None else prev if prev.exited is None and prev.is_container else prev.parent
            run = StateRun(name=name, entered=e["timestamp"], kind=_kind(t), parent=parent)
            runs.append(run)
            open_by_name.setdefault(name, []).append(run)
            owner[e.get("id")] = run
            last_open = run
            continue
        if t.endswith("StateExited"):
            name = e["stateExitedEventDetails"]["name"]
            run = prev if prev is not None and prev.name == name and prev.exited is None else \
                next(iter(open_by_name.get(name) or []), None)
            if run is not None:
                if run.is_container:
                    abort_inside(run, e["timestamp"])
                close(run, e["timestamp"], "CAUGHT" if run.error else "SUCCEEDED")
                owner[e.get("id")] = run
            continue
        run = prev if prev is not None else (last_open if last_open and last_open.exited is None else None)
        if run is None or run.status == "ABORTED":  # a cancelled branch's last words change nothing
            continue
        owner[e.get("id")] = run
        details = next((v for k, v in e.items() if k.endswith("EventDetails")), None) or {}
        if t in _SCHEDULED and run.error:  # a Retry: the state is trying again
            run.retried.append(run.error)
            run.error, run.status, run.failed_at = None, "RUNNING", None
        elif t.endswith("StateAborted"):  # AWS's word for a state its cancelled branch or stopped execution ended
            if run.is_container:
                abort_inside(run, e["timestamp"])
            if run.exited is None:
                end_cancelled(run, e["timestamp"])
        elif t.startswith("Execution") and t.endswith(_ENDED):
            if run.exited is None:
                run.error = run.error or details.get("error") or t
                run.status, run.failed_at = "FAILED", run.failed_at or e["timestamp"]
        elif t.endswith(_ENDED):
            child_error = None
            if kind and e.get("previousEventId") in owner:
                child_error = owner[e["previousEventId"]].error
            run.error = details.get("error") or child_error or run.error or t
            run.status, run.failed_at = "FAILED", e["timestamp"]
            if kind:
                abort_inside(run, e["timestamp"])
    ended = next((e for e in reversed(events) if e["type"].startswith("Execution") and e["type"] != "ExecutionStarted"),
                 None)
    for run in runs:
        if run.exited is None and run.error:
            run.status = "FAILED"
        elif run.exited is None and ended is not None:
            close(run, ended["timestamp"], "ABORTED")
    return runs


def history(sfn, execution_arn: str, previous: History | None = None) -> History:
    """The execution's whole history, every page of it.

    With ``previous`` (an earlier result for the same execution) only the events after it are read,
    newest first, stopping at the first page that reaches back to what is known: following a long
    execution then costs one GetExecutionHistory call per poll instead of one per 1,000 events
    (AWS throttles that API). Events are merged by id, so an API that ignores ``reverseOrder`` is fine.
    """
    known = previous.events if previous is not None else []
    last_id = max((e["id"] for e in known), default=0)
    kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
    if last_id:
        kwargs["reverseOrder"] = True
    fresh: dict[int, dict] = {}
    newest_first = bool(last_id)
    first = True
    while True:
        page = sfn.get_execution_history(**kwargs)
        if first and newest_first and page["events"] and page["events"][0]["id"] < last_id:
            newest_first = False  # reverseOrder ignored: read every page, oldest first
        first = False
        for e in page["events"]:
            if e["id"] > last_id:
                fresh[e["id"]] = e
        reached_known = newest_first and any(e["id"] <= last_id for e in page["events"])
        if reached_known or not page.get("nextToken"):
            break
        kwargs["nextToken"] = page["nextToken"]
    events = list(known) + [fresh[i] for i in sorted(fresh)]
    return History(events=events, states=fold(events))


def execution_name(app: str) -> str:
    """Names carry the app and a timestamp, so the console's list reads by itself."""
    return f"{app}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}-{int(time.time() * 1000) % 1000:03d}"


def start(sfn, state_machine_arn: str, payload: dict, name: str) -> str:
    return sfn.start_execution(stateMachineArn=state_machine_arn, name=name,
                               input=json.dumps(payload))["executionArn"]


def follow(sfn, execution_arn: str, deadline_s: float, on_update: Callable[[History, dict], None] | None = None,
           interval: float = 0.25) -> tuple[dict, History]:
    """Poll until the execution ends (or the deadline, which raises TimeoutError)."""
    end = time.monotonic() + deadline_s
    hist: History | None = None
    while True:
        desc = sfn.describe_execution(executionArn=execution_arn)
        hist = history(sfn, execution_arn, previous=hist)
        if on_update:
            on_update(hist, desc)
        if desc["status"] != "RUNNING":
            return desc, hist
        if time.monotonic() > end:
            sfn.stop_execution(executionArn=execution_arn, error="RehearsalTimeout",
                               cause=f"the rehearsal's deadline of {deadline_s:.0f}s passed")
            raise TimeoutError(f"execution still RUNNING after {deadline_s:.0f}s: {execution_arn}")
        time.sleep(interval)
