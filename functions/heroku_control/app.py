"""Stage 6 - Heroku maintenance mode and formation: freeze, restore, status (see heroku2aws.heroku_control)."""

from __future__ import annotations

from heroku2aws.heroku_control import HerokuControlEvent, control
from heroku2aws.obs import logger
from heroku2aws.validation import parse_event


@logger.inject_lambda_context(correlation_id_path="execution_id", log_event=False)
def lambda_handler(event: dict, context) -> dict:
    request = parse_event(HerokuControlEvent, event)
    return control(request)
