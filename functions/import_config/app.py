"""Stage 3 - import the Heroku config vars into Secrets Manager (see heroku2aws.config_import for the shapes)."""

from __future__ import annotations

from heroku2aws.config_import import ImportConfigEvent, import_config
from heroku2aws.obs import logger
from heroku2aws.validation import parse_event


@logger.inject_lambda_context(correlation_id_path="execution_id", log_event=False)
def lambda_handler(event: dict, context) -> dict:
    request = parse_event(ImportConfigEvent, event)
    return import_config(request.input, request.execution_id).model_dump(mode="json")
