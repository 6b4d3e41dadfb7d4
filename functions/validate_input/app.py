"""Stage 1 - validate the execution input (heroku2aws.steps.validate_input)."""

from __future__ import annotations

from heroku2aws.contracts.events import ValidateEvent
from heroku2aws.obs import logger
from heroku2aws.steps.validate_input import parse_event, validate_input


@logger.inject_lambda_context(correlation_id_path="execution_id", log_event=False)
def lambda_handler(event: dict, context) -> dict:
    request = parse_event(ValidateEvent, event)
    return validate_input(request.input).model_dump(mode="json")
