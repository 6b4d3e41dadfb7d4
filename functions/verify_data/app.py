"""Stage 6 - verify the copy: Postgres parity, sequence sync, Redis parity; or, with ``check: cdc-drained``,
whether change capture has caught up (see heroku2aws.verify_data)."""

from __future__ import annotations

from heroku2aws.obs import logger
from heroku2aws.validation import parse_event
from heroku2aws.verify_data import VerifyDataEvent, cdc_drained, verify_data


@logger.inject_lambda_context(correlation_id_path="execution_id", log_event=False)
def lambda_handler(event: dict, context) -> dict:
    request = parse_event(VerifyDataEvent, event)
    return cdc_drained(request.input) if request.check == "cdc-drained" else verify_data(request.input)
