"""``heroku2aws rehearse --input`` with any file (issue 14, 7): a file that is not JSON is refused before anything
starts (exit 2, as StartExecution refuses it); any JSON value is started and answered by the workflow's first
state - the execution's name never needs a well-formed input."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from input_strategies import json_values, mutated_inputs

from heroku2aws_rehearsal.rehearse import _app_of, main


@settings(max_examples=300, deadline=None)
@given(json_values | mutated_inputs())
def test_any_json_value_gets_an_execution_name(raw):
    name = _app_of(raw)
    assert re.fullmatch(r"[a-z][a-z0-9-]{1,29}", name)


def test_the_app_names_its_execution_when_it_can():
    assert _app_of({"heroku": {"app": "acme-storefront"}}) == "acme-storefront"
    assert _app_of({"heroku": {"app": "app; rm -rf /"}}) == "invalid-input"
    assert _app_of([{"heroku": {"app": "x"}}]) == "invalid-input"


@pytest.mark.parametrize("data", [b"\x80", b"{", b"", b"[" * 100_000])
def test_a_file_that_is_not_json_is_refused_before_anything_starts(tmp_path, capsys, data):
    path = tmp_path / "input.json"
    path.write_bytes(data)
    with pytest.raises(SystemExit) as exit_:
        main(["--input", str(path)])
    assert exit_.value.code == 2
    assert "not JSON" in capsys.readouterr().err
