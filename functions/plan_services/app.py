"""Stage 3 - the ECS task definitions and services (heroku2aws.steps.plan_services)."""

from __future__ import annotations

from heroku2aws.contracts.events import PlanServicesEvent
from heroku2aws.obs import logger
from heroku2aws.steps.plan_services import plan_services
from heroku2aws.steps.validate_input import parse_event


@logger.inject_lambda_context(correlation_id_path="execution_id", log_event=False)
def lambda_handler(event: dict, context) -> dict:
    request = parse_event(PlanServicesEvent, event)
    return plan_services(request.input, request.plan, request.config, request.execution_id).model_dump(mode="json")
