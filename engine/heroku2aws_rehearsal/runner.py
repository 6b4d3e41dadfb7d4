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
    status: str = "RUNNING"  # RUNNING | SUCCEEDED | FAILED | CAUGHT
    error: str | None = None

    @property
    def seconds(self) -> float | None:
        end = self.exited or datetime.now(UTC)
        return round((end - self.entered).total_seconds(), 3)


@dataclass
class History:
    events: list[dict] = field(default_factory=list)
    states: list[StateRun] = field(default_factory=list)

    @property
    def transitions(self) -> int:
        return sum(1 for e in self.events if e["type"].endswith("StateEntered"))


def fold(events: list[dict]) -> list[StateRun]:
    """History events -> one row per state entry (nested Map/Parallel states included)."""
    runs: list[StateRun] = []
    # Map iterations run the same states side by side: every open entry of a name is kept (oldest first)
    open_by_name: dict[str, list[StateRun]] = {}
    last_open: StateRun | None = None
    for e in events:
        t = e["type"]
        if t.endswith("StateEntered"):
            name = e["stateEnteredEventDetails"]["name"]
            run = StateRun(name=name, entered=e["timestamp"])
            runs.append(run)
            open_by_name.setdefault(name, []).append(run)
            last_open = run
        elif t.endswith("StateExited"):
            name = e["stateExitedEventDetails"]["name"]
            pending = open_by_name.get(name) or []
            if pending:
                closed = pending.pop(0)
                closed.exited = e["timestamp"]
                closed.status = "CAUGHT" if closed.error else "SUCCEEDED"
        elif t.endswith("Failed") or t.endswith("TimedOut") or t.endswith("Aborted"):
            details = next((v for k, v in e.items() if k.endswith("EventDetails")), {}) or {}
            target = last_open if last_open and last_open.exited is None else None
            if target is not None:
                target.error = details.get("error") or t
                if t == "ExecutionFailed" or t.startswith("Execution"):
                    continue
                target.status = "FAILED"
    for run in runs:
        if run.exited is None and run.error:
            run.status = "FAILED"
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
