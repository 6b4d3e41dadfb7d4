"""Stage 2 - the preflight checks and the plan (heroku2aws.steps.preflight)."""

from __future__ import annotations

from heroku2aws.contracts.events import StageEvent
from heroku2aws.obs import logger
from heroku2aws.steps.preflight import run_preflight
from heroku2aws.steps.validate_input import parse_event


@logger.inject_lambda_context(correlation_id_path="execution_id", log_event=False)
def lambda_handler(event: dict, context) -> dict:
    request = parse_event(StageEvent, event)
    return run_preflight(request.input).model_dump(mode="json")
