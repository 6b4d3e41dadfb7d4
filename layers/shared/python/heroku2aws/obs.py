"""The one place that builds observability objects (Powertools Logger / Tracer / Metrics).

Settings come from ``POWERTOOLS_*`` environment variables (template Globals for Lambda, the task
definition for ECS tasks). Outside Lambda the same Logger prints the same JSON lines.
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "heroku2aws")

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE, disabled=os.environ.get("POWERTOOLS_TRACE_DISABLED", "").lower() == "true"
                or "AWS_LAMBDA_FUNCTION_NAME" not in os.environ)
metrics = Metrics(service=SERVICE, namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "heroku2aws"))


def get_logger(child: str) -> Logger:
    """A child logger that shares the service's handler and keys."""
    return Logger(service=SERVICE, child=True, name=f"{SERVICE}.{child}")
