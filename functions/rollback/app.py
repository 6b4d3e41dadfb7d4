"""Rollback: undo what the execution's ledger holds (heroku2aws.steps.rollback)."""

from __future__ import annotations

from heroku2aws.contracts.events import RollbackEvent
from heroku2aws.obs import logger
from heroku2aws.steps.rollback import rollback
from heroku2aws.steps.validate_input import parse_event


@logger.inject_lambda_context(correlation_id_path="execution_id")
def lambda_handler(event: dict, context) -> dict:
    request = parse_event(RollbackEvent, event)
    return rollback(request).model_dump(mode="json")
