"""Stage 6 - verify the copy, or whether change capture has caught up (heroku2aws.steps.verify_data)."""

from __future__ import annotations

from heroku2aws.contracts.events import VerifyDataEvent
from heroku2aws.obs import logger, metrics
from heroku2aws.steps.validate_input import parse_event
from heroku2aws.steps.verify_data import verify_data


@metrics.log_metrics  # the rows, tables and keys verified, the seconds it took (steps.verify_data)
@logger.inject_lambda_context(correlation_id_path="execution_id", log_event=False)
def lambda_handler(event: dict, context) -> dict:
    request = parse_event(VerifyDataEvent, event)
    return verify_data(request).model_dump(mode="json")
