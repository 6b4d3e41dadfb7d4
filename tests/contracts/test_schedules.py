"""Scheduler jobs in the execution input: EventBridge Scheduler's expression rules (schedule-types.html) enforced."""

from __future__ import annotations

import copy

import pytest
from pydantic import ValidationError

from heroku2aws.contracts.errors import InvalidInput
from heroku2aws.contracts.input import ExecutionInput
from heroku2aws.contracts.schedules import ScheduleExpressionError, check_expression
from heroku2aws.steps.validate_input import validate_input

VALID = ["rate(1 minute)", "rate(10 minutes)", "rate(1 hour)", "rate(2 hours)", "rate(1 day)", "rate(7 days)",
         "cron(0 2 * * ? *)", "cron(30 * * * ? *)", "cron(0/10 * * * ? *)", "cron(15 10 ? * MON-FRI *)",
         "cron(0 8 1 * ? *)", "cron(0 18 ? * 6L 2026-2030)", "cron(0 9 ? * 2#1 *)", "cron(0 12 L * ? *)",
         "cron(0 12 15W * ? *)", "cron(5,35 14 * JAN,JUL ? *)", "cron(0 0 ? * SUN *)"]

INVALID = {
    "rate(0 minutes)": "positive", "rate(1 minutes)": "singular", "rate(5 minute)": "singular",
    "rate(10 seconds)": "rate(value unit)", "rate(10  minutes)": "rate(value unit)", "rate(-1 hours)": "rate(",
    "cron(0 2 * * * *)": "exactly one of day-of-month and day-of-week", "cron(0 2 ? * ? *)": "exactly one",
    "cron(0 2 * *)": "six fields", "cron(60 * * * ? *)": "outside 0-59", "cron(0 24 * * ? *)": "outside 0-23",
    "cron(0 0 32 * ? *)": "outside 1-31", "cron(0 0 ? 13 * *)": "outside 1-12", "cron(0 0 ? * 8 *)": "outside 1-7",
    "cron(0 0 * * ? 1969)": "outside 1970-2199", "cron(0 ? * * ? *)": "only for day-of-month",
    "cron(0/0 * * * ? *)": "increment", "cron(0 0 ? * 2#6 *)": "'#'", "cron(0 0 ? * 2#1,3#2 *)": "'#'",
    "at(2026-12-05T03:00:00)": "one-time", "every day": "not a schedule expression", "": "1 to 256",
    "cron(0 0 ? FOO * *)": "not a number",
}


@pytest.mark.parametrize("expression", VALID)
def test_expressions_eventbridge_scheduler_accepts(expression):
    assert check_expression(expression) == expression


@pytest.mark.parametrize(("expression", "why"), INVALID.items())
def test_expressions_it_refuses(expression, why):
    with pytest.raises(ScheduleExpressionError, match=__import__("re").escape(why)):
        check_expression(expression)


def with_jobs(production_input, jobs):
    doc = copy.deepcopy(production_input)
    doc["scheduler"] = {"jobs": jobs}
    return doc


def test_the_input_takes_jobs_with_defaults(production_input):
    cfg = ExecutionInput.model_validate(with_jobs(production_input, [
        {"name": "nightly-report", "command": "bin/rake reports:nightly", "schedule": "cron(0 2 * * ? *)"},
        {"name": "sweep", "command": "python -m app.sweep", "schedule": "rate(10 minutes)", "size": "Performance-M",
         "timezone": "Europe/Paris"}]))
    assert [(j.name, j.timezone, j.size) for j in cfg.scheduler.jobs] == [
        ("nightly-report", "UTC", "standard-1x"), ("sweep", "Europe/Paris", "Performance-M")]
    assert ExecutionInput.model_validate(production_input).scheduler.jobs == []


@pytest.mark.parametrize(("job", "field"), [
    ({"name": "Nightly", "command": "x", "schedule": "rate(1 day)"}, "name"),
    ({"name": "a" * 30, "command": "x", "schedule": "rate(1 day)"}, "name"),
    ({"name": "n", "command": "", "schedule": "rate(1 day)"}, "command"),
    ({"name": "n", "command": "psql postgres://u:hunter2@db/x -c 'select 1'", "schedule": "rate(1 day)"}, "command"),
    ({"name": "n", "command": "x", "schedule": "rate(1 days)"}, "schedule"),
    ({"name": "n", "command": "x", "schedule": "rate(1 day)", "size": "enormous-9x"}, "size"),
    ({"name": "n", "command": "x", "schedule": "rate(1 day)", "retries": 3}, "retries"),
])
def test_bad_jobs_are_refused_by_field_without_their_values(production_input, job, field):
    with pytest.raises(InvalidInput) as refused:   # the workflow's first stage: value-free messages
        validate_input(with_jobs(production_input, [job]))
    assert f"scheduler.jobs[0].{field}" in str(refused.value)
    assert "hunter2" not in str(refused.value)


def test_job_names_are_unique(production_input):
    job = {"name": "n", "command": "x", "schedule": "rate(1 day)"}
    with pytest.raises(ValidationError, match="unique"):
        ExecutionInput.model_validate(with_jobs(production_input, [job, job]))
