"""Rollback: undo what the execution's ledger holds (see heroku2aws.rollback)."""

from __future__ import annotations

from heroku2aws.obs import logger
from heroku2aws.rollback import roll_back


@logger.inject_lambda_context(correlation_id_path="execution_id")
def lambda_handler(event: dict, context) -> dict:
    return roll_back(event.get("ledger") or [], event.get("input") or {}, event.get("previous_actions"))
