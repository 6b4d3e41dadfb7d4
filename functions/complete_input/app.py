"""Stage 1b - create the source secrets from Heroku's config vars (heroku2aws.steps.complete_input)."""

from __future__ import annotations

from heroku2aws.contracts.events import CompleteInputEvent
from heroku2aws.obs import logger
from heroku2aws.steps.complete_input import complete_input
from heroku2aws.steps.validate_input import parse_event


@logger.inject_lambda_context(correlation_id_path="execution_id", log_event=False)
def lambda_handler(event: dict, context) -> dict:
    request = parse_event(CompleteInputEvent, event)
    return complete_input(request.input, request.execution_id).model_dump(mode="json")
