"""Stage 1 - validate the execution input (see heroku2aws.validation for the event and return shapes)."""

from __future__ import annotations

from heroku2aws.obs import logger
from heroku2aws.validation import ValidateEvent, parse_event, validate_input


@logger.inject_lambda_context(correlation_id_path="execution_id", log_event=False)
def lambda_handler(event: dict, context) -> dict:
    request = parse_event(ValidateEvent, event)
    result = validate_input(request.input)
    logger.info("execution input is valid", extra={"app": result.heroku.app, "strategy": result.database.strategy})
    return result.model_dump(mode="json")
