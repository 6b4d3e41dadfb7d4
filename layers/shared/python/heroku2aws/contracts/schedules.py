"""EventBridge Scheduler's recurring schedule expressions, checked as the service checks them.

Heroku Scheduler jobs (every 10 minutes, every hour at :MM, every day at HH:MM UTC) become EventBridge Scheduler
schedules; the execution input gives each job's expression and this module refuses one EventBridge Scheduler would
refuse, before anything is created. The rules, from the EventBridge Scheduler User Guide, "Schedule types"
(https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html) and the CreateSchedule API reference
(``ScheduleExpression``: ``at(...)``, ``rate(value unit)``, ``cron(fields)``):

- ``rate(value unit)``: ``value`` a positive whole number; ``unit`` ``minute | minutes | hour | hours | day |
  days``, singular exactly when the value is 1 (``rate(1 minute)``, ``rate(5 minutes)``).
- ``cron(minutes hours day-of-month month day-of-week year)``: six fields; minutes 0-59, hours 0-23,
  day-of-month 1-31, month 1-12 or JAN-DEC, day-of-week 1-7 or SUN-SAT, year 1970-2199; wildcards ``, - * /`` in
  every field, ``?`` in day-of-month and day-of-week, ``L`` and ``W`` in day-of-month, ``L`` and ``#`` in
  day-of-week. One of day-of-month and day-of-week must be ``?`` (a value or ``*`` in one needs ``?`` in the
  other: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html, "Limits"), and
  ``#`` stands alone in its field.
- ``at(...)`` makes a one-time schedule: refused here (a Heroku Scheduler job recurs).
"""

from __future__ import annotations

import re

__all__ = ["ScheduleExpressionError", "check_expression"]


class ScheduleExpressionError(ValueError):
    """The expression is not one EventBridge Scheduler accepts for a recurring schedule."""


_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.*)\)$")
_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
_DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]

#: field -> (name, low, high, names or None)
_FIELDS = [("minutes", 0, 59, None), ("hours", 0, 23, None), ("day-of-month", 1, 31, None),
           ("month", 1, 12, _MONTHS), ("day-of-week", 1, 7, _DAYS), ("year", 1970, 2199, None)]


def _value(text: str, low: int, high: int, names: list[str] | None, field: str) -> int:
    if names and text.upper() in names:
        return names.index(text.upper()) + 1
    if not text.isdigit():
        raise ScheduleExpressionError(f"cron {field}: {text!r} is not a number" + (
            f" or one of {'-'.join((names[0], names[-1]))}" if names else ""))
    number = int(text)
    if not low <= number <= high:
        raise ScheduleExpressionError(f"cron {field}: {number} is outside {low}-{high}")
    return number


def _check_field(text: str, index: int) -> None:
    field, low, high, names = _FIELDS[index]
    if text == "?":
        if field not in ("day-of-month", "day-of-week"):
            raise ScheduleExpressionError(f"cron {field}: '?' is only for day-of-month and day-of-week")
        return
    if field == "day-of-month" and re.fullmatch(r"L|LW|\d{1,2}W", text):
        if text.endswith("W") and text not in ("LW",):
            _value(text[:-1], low, high, None, field)
        return
    if field == "day-of-week":
        if "#" in text:
            m = re.fullmatch(r"([A-Za-z]{3}|\d)#([1-5])", text)
            if m is None:
                raise ScheduleExpressionError(f"cron day-of-week: {text!r}: '#' takes one day and an instance 1-5 "
                                              "(3#2: the second Tuesday), alone in the field")
            _value(m[1], low, high, names, field)
            return
        if re.fullmatch(r"([A-Za-z]{3}|\d)?L", text):
            if text != "L":
                _value(text[:-1], low, high, names, field)
            return
    for part in text.split(","):
        if not part:
            raise ScheduleExpressionError(f"cron {field}: an empty list item in {text!r}")
        base, _, step = part.partition("/")
        if step and (not step.isdigit() or int(step) == 0):
            raise ScheduleExpressionError(f"cron {field}: the increment in {part!r} must be a positive number")
        if base == "*":
            continue
        first, dash, last = base.partition("-")
        _value(first, low, high, names, field)
        if dash:
            _value(last, low, high, names, field)


def check_expression(expression: str) -> str:
    """``expression`` when EventBridge Scheduler accepts it for a recurring schedule, else
    :class:`ScheduleExpressionError` saying what is wrong."""
    if not isinstance(expression, str) or not 1 <= len(expression) <= 256:
        raise ScheduleExpressionError("a schedule expression is 1 to 256 characters")
    if expression.startswith("at("):
        raise ScheduleExpressionError("at(...) is a one-time schedule: a Heroku Scheduler job recurs (use rate(...) "
                                      "or cron(...))")
    if expression.startswith("rate("):
        m = _RATE.match(expression)
        if m is None:
            raise ScheduleExpressionError("rate(value unit): a positive whole number and minute(s), hour(s) or day(s), "
                                          "one space between")
        value, unit = int(m[1]), m[2]
        if value == 0:
            raise ScheduleExpressionError("rate(value unit): the value must be positive")
        if (value == 1) != (not unit.endswith("s")):
            raise ScheduleExpressionError(f"rate({value} {unit}): the unit is singular exactly when the value is 1")
        return expression
    m = _CRON.match(expression)
    if m is None:
        raise ScheduleExpressionError("not a schedule expression: rate(value unit) or cron(fields)")
    fields = m[1].split(" ")
    if len(fields) != 6 or any(not f for f in fields):
        raise ScheduleExpressionError("cron(minutes hours day-of-month month day-of-week year): six fields, one "
                                      "space between")
    for index, text in enumerate(fields):
        _check_field(text, index)
    if (fields[2] == "?") == (fields[4] == "?"):
        raise ScheduleExpressionError("cron: exactly one of day-of-month and day-of-week must be '?'")
    return expression
