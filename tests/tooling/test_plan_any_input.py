"""``heroku2aws plan --input`` with any file (issue 14, 7): any bytes, any JSON value, the production input with
any field replaced - exit status 2 with the workflow's answer (the problems, by field), 0 for a valid input;
never a traceback, never a value of the file echoed."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from input_strategies import MARK, json_values, mutated_inputs

from heroku2aws_cli.plan import main as plan_main

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def _run(data: bytes, capsys) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "input.json"
        path.write_bytes(data)
        rc = plan_main(["--input", str(path), "--json"])
    out, err = capsys.readouterr()
    assert rc in (0, 2), (rc, err[-500:])
    assert "Traceback" not in err
    if rc == 2:
        answer = json.loads(out.strip().splitlines()[-1])
        assert answer["valid"] is False and answer["problems"]
        assert MARK not in out and MARK not in err


@SETTINGS
@given(st.binary(max_size=300))
def test_any_bytes(capsys, data):
    _run(data, capsys)


@SETTINGS
@given(json_values)
def test_any_json_value(capsys, raw):
    _run(json.dumps(raw).encode(), capsys)


@SETTINGS
@given(mutated_inputs())
def test_the_production_input_with_any_field_replaced(capsys, raw):
    _run(json.dumps(raw).encode(), capsys)


def test_deep_nesting_and_bad_encodings(capsys):
    _run(b"[" * 100_000 + b"]" * 100_000, capsys)
    _run(b'{"heroku": ' + b"[" * 5000 + b"]" * 5000 + b"}", capsys)
    _run(b"\xff\xfe{not utf-8", capsys)
    _run(b'{"heroku": "\\ud800"}', capsys)
    _run(b"", capsys)
