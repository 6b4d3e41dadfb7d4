"""Stage 4 - the health gate after each traffic step (heroku2aws.steps.health_gate)."""

from __future__ import annotations

from heroku2aws.contracts.events import HealthGateEvent
from heroku2aws.obs import logger
from heroku2aws.steps.health_gate import health_gate
from heroku2aws.steps.validate_input import parse_event


@logger.inject_lambda_context(correlation_id_path="execution_id", log_event=False)
def lambda_handler(event: dict, context) -> dict:
    request = parse_event(HealthGateEvent, event)
    return health_gate(request.input, request.step, request.window_seconds).model_dump(mode="json")
