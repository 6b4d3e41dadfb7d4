"""Fault injection for rehearsals: a named state fails once (``--fail-at``), with a name AWS could raise there.

A transient-fault test arms an AWS error name (``Lambda.TooManyRequestsException``) to prove a Retry; an
armed name the state's integration can never raise (``Ecs.ThrottlingException``: ECS's model declares no
throttling exception) would prove a Retry that never fires on AWS, so it is refused — at ``arm`` when the
state is found in a deployed definition, else when the state is entered (the fault then never fires and
the rehearsal reports it unfired). What an integration can raise: ``heroku2aws_conformance.rules``.
"""

from __future__ import annotations

import json
import logging
import threading

from heroku2aws_conformance import rules

LOG = logging.getLogger(__name__)

#: The rehearsal's own marker: not an AWS name on purpose, so nothing but States.ALL can catch it.
INJECTED_FAILURE = "Rehearsal.InjectedFailure"


class ImpossibleFault(ValueError):
    """An armed error name the state's integration could never raise on AWS."""


def raisable(resource: str | None, error: str) -> bool:
    """Could a Task with this ``Resource`` (None: not a Task) fail with ``error`` on AWS?"""
    if error == INJECTED_FAILURE:
        return True
    if resource is None:
        return error in rules.STATES_ERRORS
    known = rules.errors_a_task_can_raise(resource)
    custom = any(resource.endswith(r.split(":::")[1]) for r in rules.OPTIMIZED_CUSTOM_ERRORS)
    if custom and not error.startswith("States."):
        return True  # lambda:invoke's errorType, the SendTaskFailure caller's Error: any name
    if known is None:
        return error in rules.TASK_STATES_ERRORS
    return error in known


def _deployed_resources(state: str) -> list[str | None] | None:
    """The Resource of every state named ``state`` in the deployed state machines (None for non-Task states);
    None when no deployed definition has that state."""
    from moto.stepfunctions.models import stepfunctions_backends
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    found: list[str | None] = []

    def visit(machine: dict) -> None:
        for name, spec in (machine.get("States") or {}).items():
            if not isinstance(spec, dict):
                continue
            if name == state:
                found.append(spec.get("Resource") if spec.get("Type") == "Task" else None)
            for branch in spec.get("Branches") or []:
                visit(branch)
            for key in ("ItemProcessor", "Iterator"):
                if isinstance(spec.get(key), dict):
                    visit(spec[key])

    for account in [*stepfunctions_backends.values(), *stepfunctions_parser_backends.values()]:
        for backend in list(account.values()):
            for machine in list(getattr(backend, "state_machines", [])):
                try:
                    visit(json.loads(machine.definition))
                except (TypeError, ValueError):
                    continue
    return found or None


class FaultInjector:
    """Make named states fail: ``arm("Create the ECS services", times=1)``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: dict[str, list[tuple[str, str] | None]] = {}
        self.fired: list[tuple[str, str]] = []
        self.refused: list[tuple[str, str]] = []

    def arm(self, state: str, error: str = INJECTED_FAILURE, cause: str | None = None,
            times: int = 1, skip: int = 0) -> None:
        """Fail the next ``times`` entries of ``state`` after letting ``skip`` entries pass."""
        resources = _deployed_resources(state)
        if resources is not None and not any(raisable(r, error) for r in resources):
            raise ImpossibleFault(f"{error} cannot be raised by state {state!r} (resource {resources[0]}) on AWS")
        cause = cause or f"Failure injected by the rehearsal at state {state!r}"
        with self._lock:
            self._armed.setdefault(state, []).extend([None] * skip + [(error, cause)] * times)

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()
            self.fired.clear()
            self.refused.clear()

    def take(self, state: str, resource: str | None = None) -> tuple[str, str] | None:
        with self._lock:
            pending = self._armed.get(state)
            if not pending:
                return None
            fault = pending.pop(0)
            if fault is None:
                return None
            if not raisable(resource, fault[0]):
                LOG.error("refused to inject %s at %r: its integration (%s) never raises it", fault[0], state, resource)
                self.refused.append((state, fault[0]))
                return None
            self.fired.append((state, fault[0]))
            return fault


def apply(faults: FaultInjector) -> None:
    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.execute_state import ExecutionState
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    original = ExecutionState._evaluate_with_timeout

    def _evaluate_with_timeout(self, env) -> None:
        resource = getattr(getattr(self, "resource", None), "resource_arn", None)
        fault = faults.take(self.name, resource)
        if fault is not None:
            error, cause = fault
            raise FailureEventException(FailureEvent(
                env=env,
                error_name=CustomErrorName(error),
                event_type=HistoryEventType.TaskFailed,
                event_details=EventDetails(taskFailedEventDetails=TaskFailedEventDetails(
                    error=error, cause=cause, resource="rehearsal", resourceType="rehearsal")),
            ))
        return original(self, env)

    ExecutionState._evaluate_with_timeout = _evaluate_with_timeout
