"""Stage 4 - the health gate after each traffic step (see heroku2aws.health_gate for the shapes)."""

from __future__ import annotations

from heroku2aws.health_gate import HealthGateEvent, health_gate
from heroku2aws.obs import logger
from heroku2aws.validation import parse_event


@logger.inject_lambda_context(correlation_id_path="execution_id", log_event=False)
def lambda_handler(event: dict, context) -> dict:
    request = parse_event(HealthGateEvent, event)
    return health_gate(request.input, request.step, request.window_seconds)
