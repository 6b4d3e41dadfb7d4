"""Stage 6 - Heroku maintenance mode and formation: freeze, restore, status (heroku2aws.steps.heroku_control)."""

from __future__ import annotations

from heroku2aws.contracts.events import HerokuControlEvent
from heroku2aws.obs import logger
from heroku2aws.steps.heroku_control import heroku_control
from heroku2aws.steps.validate_input import parse_event


@logger.inject_lambda_context(correlation_id_path="execution_id", log_event=False)
def lambda_handler(event: dict, context) -> dict:
    request = parse_event(HerokuControlEvent, event)
    return heroku_control(request).model_dump(mode="json")
