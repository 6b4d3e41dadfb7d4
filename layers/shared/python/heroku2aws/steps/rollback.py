"""Rollback: undo what the execution's ledger holds, newest first (also the finalize stage's DMS teardown).

Event (built by the ASL): :class:`~heroku2aws.contracts.events.RollbackEvent` —
``{"ledger": [...], "input": <execution input>, "failure": {...}, "execution_id", "previous_actions": [str] | null}``.

Return: :class:`~heroku2aws.contracts.results.RollbackResult` — ``{"done": bool, "pending": [str],
"actions": [str]}``, names and ids only.

Each ledger entry is parsed into its model (:mod:`heroku2aws.contracts.ledger`) and handed to the
compensation registered for its kind (:data:`heroku2aws.compensations.COMPENSATIONS`). A compensation that
is still in progress (pending) blocks the older ones, which may depend on it being gone (DMS instance before
subnet group): the state machine calls again after a Wait.

A pass is only "done" once nothing it did changed anything: either it did nothing, or it did exactly
what the previous pass did (notes that repeat, such as "kept secret …"). A resource whose create call
was in flight when a Parallel branch failed can appear just after a pass; the confirming pass finds it.
"""

from __future__ import annotations

import json
from typing import Any

from ..compensations import COMPENSATIONS, Progress
from ..contracts.events import RollbackEvent
from ..contracts.ledger import parse_entry
from ..contracts.results import RollbackResult
from ..obs import get_logger

log = get_logger("rollback")

__all__ = ["roll_back", "rollback"]


def roll_back(ledger: list[dict[str, Any]], cfg: dict[str, Any],
              previous_actions: list[str] | None = None) -> RollbackResult:
    """Run every compensation, newest first; see the module docstring."""
    progress = Progress()
    for item in reversed(ledger or []):
        entry = parse_entry(item)
        COMPENSATIONS[entry.kind](entry, cfg, progress)
        if progress.pending:
            break
    settled = not progress.actions or progress.actions == (previous_actions or None)
    result = RollbackResult(done=not progress.pending and settled, pending=progress.pending, actions=progress.actions)
    log.info("rollback pass", extra={"result": json.dumps(result.model_dump())})
    return result


def rollback(event: RollbackEvent) -> RollbackResult:
    return roll_back(event.ledger or [], event.input or {}, event.previous_actions)
