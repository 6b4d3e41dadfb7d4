"""Stage 6 - DATABASE_URL / REDIS_URL in the app's config secret to the targets or back (heroku2aws.steps.switch_secrets)."""

from __future__ import annotations

from heroku2aws.contracts.events import SwitchSecretsEvent
from heroku2aws.obs import logger
from heroku2aws.steps.switch_secrets import switch_secrets
from heroku2aws.steps.validate_input import parse_event


@logger.inject_lambda_context(correlation_id_path="execution_id", log_event=False)
def lambda_handler(event: dict, context) -> dict:
    request = parse_event(SwitchSecretsEvent, event)
    return switch_secrets(request.input, request.to, request.execution_id).model_dump(mode="json")
