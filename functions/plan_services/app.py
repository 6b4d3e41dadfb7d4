"""Stage 3 - the ECS task definitions and services (see heroku2aws.services_plan for the shapes)."""

from __future__ import annotations

from heroku2aws.obs import logger
from heroku2aws.services_plan import PlanServicesEvent, plan_services
from heroku2aws.validation import parse_event


@logger.inject_lambda_context(correlation_id_path="execution_id", log_event=False)
def lambda_handler(event: dict, context) -> dict:
    request = parse_event(PlanServicesEvent, event)
    result = plan_services(request.input, request.plan, request.config, request.execution_id)
    logger.info("ECS services planned", extra={
        "services": [s["service"]["ServiceName"] for s in result["services"]],
        "release": bool(result["release"]), "warnings": result["warnings"]})
    return result
