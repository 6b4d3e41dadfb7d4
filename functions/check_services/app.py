"""Stage 3 - are the ECS services stable and healthy? (heroku2aws.steps.check_services)."""

from __future__ import annotations

from heroku2aws.contracts.events import CheckServicesEvent
from heroku2aws.obs import logger
from heroku2aws.steps.check_services import check_services
from heroku2aws.steps.validate_input import parse_event


@logger.inject_lambda_context(correlation_id_path="execution_id", log_event=False)
def lambda_handler(event: dict, context) -> dict:
    request = parse_event(CheckServicesEvent, event)
    return check_services(request.input, request.services).model_dump(mode="json")
