"""The checked-in execution-input schema is the model's, and every example in events/ satisfies it."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import jsonschema
import pytest

from heroku2aws.contracts.input import ExecutionInput, json_schema
from heroku2aws_cli import schema as schema_cmd

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_FILE = ROOT / "schema" / "execution-input.schema.json"
EVENTS = sorted((ROOT / "events").glob("*.json"))
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")

ACCOUNT = "123456789012"
SECRET = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:heroku2aws/sample-app/{{}}-AbC123"
#: Plausible values, of the shape the engine fills in at run time, for every placeholder events/ uses.
PLACEHOLDER_VALUES = {
    "heroku_api_key_secret_arn": SECRET.format("heroku-api-key"),
    "heroku_api_url": "http://127.0.0.1:43117",
    "source_postgres_secret_arn": SECRET.format("source-postgres"),
    "source_redis_secret_arn": SECRET.format("source-redis"),
    "target_postgres_secret_arn": SECRET.format("target-postgres"),
    "target_redis_secret_arn": SECRET.format("target-redis"),
    "cluster_arn": f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/sample-app",
    "subnet_a": "subnet-0a1b2c3d4e5f60718",
    "subnet_b": "subnet-0f1e2d3c4b5a69788",
    "security_group": "sg-0123456789abcdef0",
    "execution_role_arn": f"arn:aws:iam::{ACCOUNT}:role/ecsTaskExecutionRole",
    "target_group_arn": f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:targetgroup/sample-app-web/6d0ecf831eec9f09",
    "load_balancer_arn": f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:loadbalancer/app/sample-app/50dc6c495c0c9188",
    "load_balancer_dns": "sample-app-1234567890.us-east-1.elb.amazonaws.com",
    "health_url": "http://127.0.0.1:43118/health",
    "hosted_zone_id": "Z0123456789ABCDEFGHIJ",
    "record_name": "www.example.com",
    "heroku_dns_target": "sample-app-7d3f9a1c.herokudns.com",
    "vpc": "vpc-0123456789abcdef0",
    "procfile": "release: python manage.py migrate\nweb: gunicorn app:app --bind 0.0.0.0:$PORT\nworker: python worker.py\n",
}


def fill(text: str) -> str:
    unknown = sorted({m.group(1) for m in PLACEHOLDER.finditer(text)} - set(PLACEHOLDER_VALUES))
    assert not unknown, f"placeholders without a plausible value in this test: {unknown} — add them to PLACEHOLDER_VALUES"
    # as the engine fills them: JSON-escaped, inside the string the placeholder stands in
    return PLACEHOLDER.sub(lambda m: json.dumps(PLACEHOLDER_VALUES[m.group(1)])[1:-1], text)


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def differences(a, b, path: str = "") -> list[str]:
    """JSON pointers where ``a`` and ``b`` differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b)):
            out += differences(a.get(key, "<missing>"), b.get(key, "<missing>"), f"{path}/{key}")
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in differences(x, y, f"{path}/{i}")]
    return [] if a == b else [path or "/"]


def test_checked_in_schema_is_the_generated_one():
    assert SCHEMA_FILE.exists(), "schema/execution-input.schema.json is missing: run `heroku2aws schema --write`"
    diff = differences(json.loads(SCHEMA_FILE.read_text()), json_schema())
    assert not diff, f"schema file out of date at {diff[:5]}: run `heroku2aws schema --write`"
    assert SCHEMA_FILE.read_text() == schema_cmd.render(), "not formatted as generated: run `heroku2aws schema --write`"


def test_schema_command_check_and_write(tmp_path, capsys):
    target = tmp_path / "execution-input.schema.json"
    assert schema_cmd.main(["--check", "--output", str(target)]) == 1
    assert schema_cmd.main(["--write", "--output", str(target)]) == 0
    assert schema_cmd.main(["--check", "--output", str(target)]) == 0
    capsys.readouterr()
    assert schema_cmd.main([]) == 0
    assert json.loads(capsys.readouterr().out) == json_schema()


def test_there_are_examples():
    names = {p.name for p in EVENTS}
    assert {"production.json", "rehearsal.json"} <= names


@pytest.mark.parametrize("path", EVENTS, ids=lambda p: p.name)
def test_every_example_validates_against_the_schema(path, validator):
    doc = json.loads(fill(path.read_text()))
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    assert not errors, [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in errors]
    ExecutionInput.model_validate(doc)  # and the model (which also checks what a schema cannot) agrees


def test_rehearsal_example_has_placeholders_to_fill():
    text = (ROOT / "events" / "rehearsal.json").read_text()
    assert PLACEHOLDER.search(text), "events/rehearsal.json has no {{placeholders}}: this test fills nothing"


@pytest.mark.parametrize(("dotted", "bad"), [
    ("heroku.api_key_secret_arn", "HRKU-0123456789abcdef0123456789abcdef"),
    ("ecs.subnets", ["subnet-XYZ"]),
    ("dns.ttl", 300),
    ("database.strategy", "logical-replication"),
    ("surprise", True),
])
def test_the_schema_refuses_a_broken_example(dotted, bad, validator):
    doc = copy.deepcopy(json.loads((ROOT / "events" / "production.json").read_text()))
    node = doc
    *parents, last = dotted.split(".")
    for p in parents:
        node = node[p]
    node[last] = bad
    assert list(validator.iter_errors(doc)), f"the schema accepted {dotted}"
