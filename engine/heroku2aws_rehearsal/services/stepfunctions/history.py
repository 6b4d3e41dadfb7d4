"""The execution history quota: 25,000 events, after which the execution fails.

Source: AWS Step Functions developer guide, "Avoid reaching the history quota",
https://docs.aws.amazon.com/step-functions/latest/dg/bp-history-limit.html — "a hard quota of 25,000 entries
in the execution event history. When an execution reaches 24,999 events, it waits for the next event to happen.
If the event number 25,000 is ExecutionSucceeded, the execution finishes successfully. If [it] isn't
ExecutionSucceeded, the ExecutionFailed event is logged and the state machine execution fails"; and "Quotas for
Standard Workflows", https://docs.aws.amazon.com/step-functions/latest/dg/limits.html ("Maximum execution
history size: 25,000 events. If the execution history reaches this quota, the execution will fail"). The
failure is ``States.Runtime`` / "The execution reached the maximum number of history events (25000).", as AWS
reports it (seen in executions that hit the quota). It ends the execution: no Retry or Catch sees it.

moto kept appending events for ever, so a runaway poll loop stayed green in rehearsal.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

LOG = logging.getLogger(__name__)

MAX_HISTORY_EVENTS = 25_000
ERROR = "States.Runtime"
CAUSE = f"The execution reached the maximum number of history events ({MAX_HISTORY_EVENTS})."


#: The execution's own terminal events.
ENDINGS = frozenset({"ExecutionFailed", "ExecutionSucceeded", "ExecutionAborted", "ExecutionTimedOut"})


class HistoryLimitReached(Exception):  # noqa: N818 - raised into the interpreter to end the state in progress
    """Raised in the thread that tried to add event 25,000: the state it was running must stop there."""


def apply() -> None:
    from moto.stepfunctions.parser.api import ExecutionFailedEventDetails, HistoryEventType
    from moto.stepfunctions.parser.asl.eval import environment as env_mod
    from moto.stepfunctions.parser.asl.eval.event import event_manager as em
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    manager_cls = em.EventManager
    original_init = manager_cls.__init__
    original_add = manager_cls.add_event

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.root_env = None  # the execution's Environment, set when it creates this manager
        self.limit_reached = False
        self.quota_lock = threading.Lock()  # add_event's own _mutex is not reentrant

    def add_event(self, context, event_type, event_details=None, timestamp=None, update_source_event_id=True) -> int:
        with self.quota_lock:
            if self.limit_reached:
                if event_type in ENDINGS:  # the interpreter closing the execution it already lost: nothing to add
                    return self._event_id_gen._next_id - 1
                raise HistoryLimitReached(CAUSE)
            # The last event the quota allows is the one that must end the execution, unless it is its success.
            if self._event_id_gen._next_id < MAX_HISTORY_EVENTS or event_type == HistoryEventType.ExecutionSucceeded:
                return original_add(self, context, event_type, event_details, timestamp, update_source_event_id)
            self.limit_reached = True
            details = ExecutionFailedEventDetails(error=ERROR, cause=CAUSE)
            context.source_event_id = self._event_id_gen._next_id - 1
            original_add(self, context, HistoryEventType.ExecutionFailed,
                         EventDetails(executionFailedEventDetails=details))
        LOG.warning("execution failed: %s", CAUSE)
        if self.root_env is not None:
            self.root_env.set_error(details)
        raise HistoryLimitReached(CAUSE)

    manager_cls.__init__ = __init__
    manager_cls.add_event = add_event

    env_cls = env_mod.Environment
    original_env_init = env_cls.__init__
    original_set_error = env_cls.set_error

    def env_init(self, *args: Any, **kwargs: Any) -> None:
        original_env_init(self, *args, **kwargs)
        self.event_manager.root_env = self  # frames replace their manager with the execution's, keeping this

    def set_error(self, error) -> None:
        """Once the quota ended the execution, whatever unwinds after it (a Catch trying to route, the
        interpreter's own error handler) cannot replace its error."""
        if getattr(self.event_manager, "limit_reached", False):
            error = ExecutionFailedEventDetails(error=ERROR, cause=CAUSE)
        original_set_error(self, error)

    env_cls.__init__ = env_init
    env_cls.set_error = set_error
