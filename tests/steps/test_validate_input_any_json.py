"""Any input gives the workflow's answer (issue 14, 7): whatever JSON value reaches stage 1 - hostile, deep,
huge, of the wrong type anywhere, or the production input with any field replaced by any value - the step
returns the model or raises ``InvalidInput`` with a reason; never another exception, never a value echoed."""

from __future__ import annotations

import json
import math

from hypothesis import HealthCheck, given, settings
from input_strategies import BASE, MARK, json_values, mutated_inputs

from heroku2aws.contracts.errors import InvalidInput
from heroku2aws.contracts.input import ExecutionInput
from heroku2aws.steps.validate_input import validate_input


def _check(raw) -> None:
    try:
        model = validate_input(raw)
    except InvalidInput as exc:
        text = str(exc)
        assert text.startswith(("execution input", "execution input must")), text
        assert MARK not in text
        return
    assert isinstance(model, ExecutionInput)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_any_json_value_is_the_model_or_invalid_input(raw):
    _check(raw)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_inputs())
def test_the_production_input_with_any_field_replaced_is_the_model_or_invalid_input(raw):
    _check(raw)


def test_values_json_cannot_carry_or_python_cannot_encode_are_invalid_input():
    for raw in [{"heroku": float("nan")}, {"heroku": math.inf}, {"a": {1, 2}}, {"a": b"bytes"}, {"\ud800": 1},
                [BASE], "x", None, 3, {**BASE, "heroku": {**BASE["heroku"], "app": "\ud800"}}]:
        _check(raw)
    deep: dict = {}
    node = deep
    for _ in range(5000):  # deeper than the recursion limit of a naive walk
        node["a"] = {}
        node = node["a"]
    _check({"heroku": deep})
    _check(json.loads(json.dumps(BASE)))
