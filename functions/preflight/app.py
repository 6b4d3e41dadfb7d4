"""Stage 2 - the preflight checks and the plan (see heroku2aws.preflight for the event and return shapes)."""

from __future__ import annotations

from heroku2aws.obs import logger
from heroku2aws.preflight import run_preflight
from heroku2aws.validation import StageEvent, parse_event


@logger.inject_lambda_context(correlation_id_path="execution_id", log_event=False)
def lambda_handler(event: dict, context) -> dict:
    request = parse_event(StageEvent, event)
    return run_preflight(request.input).model_dump(mode="json")
