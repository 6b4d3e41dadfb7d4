"""Stage 3 - import the Heroku config vars into Secrets Manager (heroku2aws.steps.import_config)."""

from __future__ import annotations

from heroku2aws.contracts.events import StageEvent
from heroku2aws.obs import logger
from heroku2aws.steps.import_config import import_config
from heroku2aws.steps.validate_input import parse_event


@logger.inject_lambda_context(correlation_id_path="execution_id", log_event=False)
def lambda_handler(event: dict, context) -> dict:
    request = parse_event(StageEvent, event)
    return import_config(request.input, request.execution_id).model_dump(mode="json")
