"""The one place that builds the observability objects: Powertools Logger and Metrics.

Settings come from ``POWERTOOLS_*`` environment variables (template Globals for Lambda, the task
definitions for ECS tasks). Outside Lambda the same Logger prints the same JSON lines.

Metrics are the figures an operator wants from a migration, as CloudWatch embedded metrics under
``POWERTOOLS_METRICS_NAMESPACE``: rows and tables verified, keys copied and verified, seconds per copy and
verification. The step that knows a figure adds it (:func:`count`, :func:`seconds`); a Lambda handler
publishes with ``@metrics.log_metrics``, an ECS task with :func:`publish_task_metrics` before it exits.
Tracing is Lambda's and Step Functions' own (``Tracing: Active``): no X-Ray SDK in the code.
"""

from __future__ import annotations

import logging
import os
import sys

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

__all__ = ["MetricUnit", "count", "get_logger", "logger", "metrics", "publish_task_metrics", "seconds"]

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "heroku2aws")



class _CurrentStdout(logging.StreamHandler):
    """Powertools' default handler keeps the ``sys.stdout`` of the moment the Logger was built; this one writes to
    whatever ``sys.stdout`` is when a line is logged (the same stream in Lambda and ECS; in a CLI or a test that
    swaps stdout, a handler bound to an old, closed stream prints '--- Logging error ---' instead of the line)."""

    @property  # type: ignore[override]
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, _value) -> None:
        pass


logger = Logger(service=SERVICE, logger_handler=_CurrentStdout())
metrics = Metrics(service=SERVICE, namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "heroku2aws"))


def get_logger(child: str) -> Logger:
    """A child logger that shares the service's handler and keys."""
    return Logger(service=SERVICE, child=True, name=f"{SERVICE}.{child}")


def count(name: str, value: float, unit: MetricUnit = MetricUnit.Count) -> None:
    """A figure for the operator: rows, tables, keys (``Count``), bytes (``Bytes``), a rate (``CountPerSecond``)."""
    metrics.add_metric(name=name, unit=unit, value=value)


def seconds(name: str, value: float) -> None:
    """How long a stage of the copy or the verification took."""
    metrics.add_metric(name=name, unit=MetricUnit.Seconds, value=round(value, 3))


def publish_task_metrics() -> None:
    """An ECS task's figures, as one embedded-metrics line on stdout (CloudWatch Logs turns it into metrics).

    Only where the task definition asks for them (``POWERTOOLS_METRICS_NAMESPACE`` set): the same module run by a
    person from the command line prints no metrics line.
    """
    if os.environ.get("POWERTOOLS_METRICS_NAMESPACE"):
        metrics.flush_metrics(raise_on_empty_metrics=False)
    else:
        metrics.clear_metrics()
