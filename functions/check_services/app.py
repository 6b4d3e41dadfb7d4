"""Stage 3 - are the ECS services stable and healthy? (see heroku2aws.services_check for the shapes)."""

from __future__ import annotations

from heroku2aws.obs import logger
from heroku2aws.services_check import CheckServicesEvent, check_services
from heroku2aws.validation import parse_event


@logger.inject_lambda_context(correlation_id_path="execution_id", log_event=False)
def lambda_handler(event: dict, context) -> dict:
    request = parse_event(CheckServicesEvent, event)
    result = check_services(request.input, request.services)
    logger.info("ECS services checked", extra={"stable": result["stable"], "healthy": result["healthy"],
                                               "services": result["services"]})
    return result
