"""Folding an execution's history into the rows of the live view (rehearse and watch).

Events carry ``previousEventId`` as AWS (and the engine) write them; the fold must attribute each
one to its own state even when Parallel branches and Map iterations interleave.
"""

from __future__ import annotations

from datetime import UTC, datetime

from heroku2aws_cli.executions import fold


class Events:
    """A history under construction: ``add`` returns the new event's id."""

    def __init__(self) -> None:
        self.events: list[dict] = []

    def add(self, kind: str, prev: int | None, name: str | None = None, error: str | None = None) -> int:
        i = len(self.events) + 1
        e = {"id": i, "previousEventId": prev or 0, "type": kind,
             "timestamp": datetime(2026, 1, 1, 0, 0, 0, tzinfo=UTC).replace(second=min(i, 59))}
        if kind.endswith("StateEntered"):
            e["stateEnteredEventDetails"] = {"name": name}
        elif kind.endswith("StateExited"):
            e["stateExitedEventDetails"] = {"name": name}
        if error:
            key = "executionFailedEventDetails" if kind.startswith("Execution") else "taskFailedEventDetails"
            e[key] = {"error": error, "cause": "..."}
        self.events.append(e)
        return i


def rows(events: list[dict]) -> list[tuple[int, str, str, str | None]]:
    return [(sum(1 for _ in r.ancestors()) - 1, r.name, r.status, r.error) for r in fold(events)]


def parallel_with_a_failing_branch() -> Events:
    """Copy the data: branch 1 is inside a long task when branch 2's task fails (as the engine writes it)."""
    h = Events()
    start = h.add("ExecutionStarted", None)
    p = h.add("ParallelStateEntered", start, "Copy the data")
    ps = h.add("ParallelStateStarted", p)
    c1 = h.add("ChoiceStateEntered", ps, "Which database strategy?")
    c1x = h.add("ChoiceStateExited", c1, "Which database strategy?")
    schema = h.add("TaskStateEntered", c1x, "Copy the schema to RDS")
    c2 = h.add("ChoiceStateEntered", ps, "Is there Redis to copy?")
    c2x = h.add("ChoiceStateExited", c2, "Is there Redis to copy?")
    redis = h.add("TaskStateEntered", c2x, "Restore Redis into ElastiCache")
    failed = h.add("TaskFailed", redis, error="States.TaskFailed")
    sched = h.add("TaskScheduled", schema)
    started = h.add("TaskStarted", sched)
    pf = h.add("ParallelStateFailed", failed)
    h.add("TaskFailed", started, error="States.Runtime")  # the cancelled branch's last words
    px = h.add("ParallelStateExited", pf, "Copy the data")
    rb = h.add("TaskStateEntered", px, "Roll back what was created")
    h.add("TaskScheduled", rb)
    return h


def test_a_branch_failure_lands_on_its_own_state_and_the_sibling_branch_is_aborted():
    assert rows(parallel_with_a_failing_branch().events) == [
        (0, "Copy the data", "CAUGHT", "States.TaskFailed"),
        (1, "Which database strategy?", "SUCCEEDED", None),
        (1, "Copy the schema to RDS", "ABORTED", None),
        (1, "Is there Redis to copy?", "SUCCEEDED", None),
        (1, "Restore Redis into ElastiCache", "FAILED", "States.TaskFailed"),
        (0, "Roll back what was created", "RUNNING", None),
    ]


def test_map_iterations_of_the_same_state_close_by_their_own_events():
    h = Events()
    m = h.add("MapStateEntered", 1, "Create the ECS services")
    ms = h.add("MapStateStarted", m)
    i1 = h.add("MapIterationStarted", ms)
    a = h.add("TaskStateEntered", i1, "Register the task definition")
    i2 = h.add("MapIterationStarted", ms)
    b = h.add("TaskStateEntered", i2, "Register the task definition")
    bs = h.add("TaskScheduled", b)
    bx = h.add("TaskStateExited", h.add("TaskSucceeded", bs), "Register the task definition")  # the second ends first
    h.add("MapIterationSucceeded", bx)
    fold_now = fold(h.events)
    assert [(r.name, r.status) for r in fold_now[1:]] == [("Register the task definition", "RUNNING"),
                                                           ("Register the task definition", "SUCCEEDED")]
    assert fold_now[1].entered < fold_now[2].entered and fold_now[1].seconds > 0
    ax = h.add("TaskStateExited", h.add("TaskFailed", h.add("TaskScheduled", a), error="Ecs.ClientException"),
               "Register the task definition")
    h.add("MapStateExited", h.add("MapIterationSucceeded", ax), "Create the ECS services")
    assert rows(h.events) == [(0, "Create the ECS services", "SUCCEEDED", None),
                              (1, "Register the task definition", "CAUGHT", "Ecs.ClientException"),
                              (1, "Register the task definition", "SUCCEEDED", None)]


def test_a_state_after_a_container_is_its_sibling_and_a_retried_success_is_a_success():
    h = Events()
    p = h.add("ParallelStateEntered", 1, "Prepare the AWS side")
    child = h.add("PassStateEntered", h.add("ParallelStateStarted", p), "Inside")
    px = h.add("ParallelStateExited", h.add("ParallelStateSucceeded", h.add("PassStateExited", child, "Inside")),
               "Prepare the AWS side")
    t = h.add("TaskStateEntered", px, "Set the DNS weights")
    retry = h.add("TaskScheduled", h.add("TaskFailed", h.add("TaskStarted", h.add("TaskScheduled", t)),
                                         error="Route53.ThrottlingException"), None)
    h.add("TaskStateExited", h.add("TaskSucceeded", h.add("TaskStarted", retry)), "Set the DNS weights")
    runs = fold(h.events)
    assert rows(h.events) == [(0, "Prepare the AWS side", "SUCCEEDED", None), (1, "Inside", "SUCCEEDED", None),
                              (0, "Set the DNS weights", "SUCCEEDED", None)]
    assert runs[-1].retried == ["Route53.ThrottlingException"]


def test_the_fail_state_carries_the_execution_error_and_its_time_stops_there():
    h = parallel_with_a_failing_branch()
    fail = h.add("FailStateEntered", len(h.events), "Migration rolled back")
    h.add("ExecutionFailed", fail, error="MigrationRolledBack")
    runs = fold(h.events)
    assert (runs[-1].name, runs[-1].status, runs[-1].error, runs[-1].seconds) == (
        "Migration rolled back", "FAILED", "MigrationRolledBack", 1.0)
    assert runs[-2].status == "ABORTED"  # the rollback task the history never closed, once the execution ended


def test_aws_aborted_events_end_the_states_of_a_cancelled_branch_as_aborted():
    """On AWS the cancelled branch's running state gets a TaskStateAborted event of its own."""
    h = Events()
    p = h.add("ParallelStateEntered", 1, "Copy the data")
    ps = h.add("ParallelStateStarted", p)
    dump = h.add("TaskStateEntered", ps, "Dump and restore Postgres")
    started = h.add("TaskStarted", h.add("TaskScheduled", dump))
    redis = h.add("TaskStateEntered", ps, "Restore Redis into ElastiCache")
    failed = h.add("TaskFailed", h.add("TaskStarted", h.add("TaskScheduled", redis)), error="States.TaskFailed")
    h.add("TaskStateAborted", started)
    h.add("ParallelStateExited", h.add("ParallelStateFailed", failed), "Copy the data")
    assert rows(h.events) == [(0, "Copy the data", "CAUGHT", "States.TaskFailed"),
                              (1, "Dump and restore Postgres", "ABORTED", None),
                              (1, "Restore Redis into ElastiCache", "FAILED", "States.TaskFailed")]
