"""The bad-input corpus: malformed and hostile execution inputs, each through the deployed state
machine. Each ends with a clear error naming the problem, echoes no pasted secret, creates nothing."""

from __future__ import annotations

import copy
import json
import time
import uuid

import pytest

PASTED = {
    "heroku.api_key_secret_arn": "HRKU-0123456789abcdef0123456789abcdef",
    "source.postgres_secret_arn": "postgres://app:hunter2hunter2@ec2-1-2-3-4.compute-1.amazonaws.com:5432/d8f",
    "source.redis_secret_arn": "rediss://:p4ssw0rdp4ssw0rd@ec2-5-6-7-8.compute-1.amazonaws.com:6380",
    "target.postgres_secret_arn": "0b9f1c2e-5d4a-4e3b-9c8d-7f6e5d4c3b2a",
}


def _set(doc: dict, dotted: str, value) -> dict:
    doc = copy.deepcopy(doc)
    node = doc
    *parents, last = dotted.split(".")
    for p in parents:
        node = node[p]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return doc


_DELETE = object()


def corpus(base: dict) -> list[tuple[str, object, str]]:
    """(case id, execution input, what the error must name)."""
    cases: list[tuple[str, object, str]] = []
    for field in ["heroku", "source", "target", "ecs", "load_balancer", "dns", "database"]:
        cases.append((f"missing {field}", _set(base, field, _DELETE), field))
    for field in ["heroku.app", "heroku.api_key_secret_arn", "source.postgres_secret_arn", "target.postgres_secret_arn",
                  "ecs.cluster_arn", "ecs.subnets", "ecs.security_groups", "ecs.execution_role_arn",
                  "load_balancer.target_group_arn", "load_balancer.health_url", "dns.hosted_zone_id",
                  "dns.record_name", "dns.heroku_target", "database.dms_subnet_ids"]:
        cases.append((f"missing {field}", _set(base, field, _DELETE), field))
    for field, value in [("heroku.app", 123), ("ecs.subnets", "subnet-0abc1234"), ("traffic.steps", "10,50,100"),
                         ("timings.poll_seconds", "one"), ("approval.required", "yes"), ("ecs.port", -1),
                         ("ecs.port", 70000), ("dns.ttl", 3600), ("dns.ttl", 0), ("version", 2)]:
        cases.append((f"{field}={value!r}", _set(base, field, value), field))
    for strategy in ["dms", "pg_dump", "", "DMS-FULL-LOAD"]:
        cases.append((f"strategy {strategy!r}", _set(base, "database.strategy", strategy), "database.strategy"))
    for steps in [[], [0, 100], [10, 300], [50, 10, 100], [10, 50], [100, 100], [-5, 100], [10, 50, 100, 256]]:
        cases.append((f"steps {steps}", _set(base, "traffic.steps", steps), "traffic.steps"))
    for field, value in [("timings.poll_seconds", -1), ("timings.bake_seconds", 10**9),
                         ("timings.dms_timeout_seconds", 0), ("timings.approval_timeout_seconds", 10**9),
                         ("timings.service_stable_timeout_seconds", -30)]:
        cases.append((f"{field}={value}", _set(base, field, value), field))
    for field, value in PASTED.items():
        cases.append((f"secret pasted in {field}", _set(base, field, value), field))
    cases += [
        ("unknown top-level field", {**base, "privileged": True}, "privileged"),
        ("unknown nested field", _set(base, "ecs.privileged", True), "ecs.privileged"),
        ("app name with shell characters", _set(base, "heroku.app", "app; rm -rf /"), "heroku.app"),
        ("record name not a domain", _set(base, "dns.record_name", "not a domain"), "dns.record_name"),
        ("heroku target outside herokudns.com", _set(base, "dns.heroku_target", "evil.example.com"), "dns.heroku_target"),
        ("health url with credentials", _set(base, "load_balancer.health_url", "http://u:p@x/health"),
         "load_balancer.health_url"),
        ("same secret for source and target", _set(base, "target.postgres_secret_arn", base["source"]["postgres_secret_arn"]),
         "postgres_secret_arn"),
        ("redis on one side only", _set(base, "target.redis_secret_arn", _DELETE), "redis_secret_arn"),
        ("oversize payload", _set(base, "ecs.procfile", "web: " + "x" * 40_000), "32 KiB"),
        ("not an object: list", [base], "object"),
        ("not an object: string", "migrate please", "object"),
        ("not an object: null", None, "object"),
        ("empty object", {}, "heroku"),
        ("cluster ARN of another service", _set(base, "ecs.cluster_arn", "arn:aws:s3:::bucket"), "ecs.cluster_arn"),
        ("subnet id malformed", _set(base, "ecs.subnets", ["subnet-XYZ"]), "ecs.subnets"),
    ]
    return cases


# The corpus runs once per worker that needs it (a minute of executions): keep its tests on one worker.
CORPUS = pytest.mark.xdist_group("bad_input_corpus")


@pytest.fixture(scope="module")
def corpus_runs(rehearsal_world):
    """Start every case at once (executions run concurrently), then collect them."""
    world = rehearsal_world
    world.refresh()
    base = world.execution_input()
    sfn = world.aws.client("stepfunctions")
    before = world.inventory()
    started = []
    for case_id, payload, expect in corpus(base):
        arn = sfn.start_execution(stateMachineArn=world.ids["state_machine_arn"], name=f"bad-{uuid.uuid4().hex[:12]}",
                                  input=json.dumps(payload))["executionArn"]
        started.append((case_id, arn, expect, payload))
    results = {}
    deadline = time.monotonic() + 180
    for case_id, arn, expect, payload in started:
        while True:
            desc = sfn.describe_execution(executionArn=arn)
            if desc["status"] != "RUNNING" or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        results[case_id] = (desc, expect, payload)
    return results, before, world.inventory()


def test_the_corpus_is_large(rehearsal_world):
    assert len(corpus(rehearsal_world.execution_input())) >= 50


@CORPUS
def test_every_bad_input_ends_in_invalid_input_naming_the_problem(corpus_runs):
    results, _, _ = corpus_runs
    wrong = {}
    for case_id, (desc, expect, _payload) in results.items():
        if desc["status"] != "FAILED" or desc.get("error") != "InvalidInput" or expect not in (desc.get("cause") or ""):
            wrong[case_id] = (desc["status"], desc.get("error"), (desc.get("cause") or "")[:300])
    assert not wrong, json.dumps(wrong, indent=1)


@CORPUS
def test_no_pasted_secret_is_echoed_in_the_error(corpus_runs):
    results, _, _ = corpus_runs
    for case_id, (desc, _, _) in results.items():
        for value in PASTED.values():
            assert value not in (desc.get("cause") or ""), case_id
            assert "hunter2hunter2" not in (desc.get("cause") or "") and "p4ssw0rdp4ssw0rd" not in (desc.get("cause") or "")


@CORPUS
def test_bad_input_creates_nothing(corpus_runs):
    _, before, after = corpus_runs
    assert after == before


@pytest.mark.parametrize(("case", "patch", "expect"), [
    ("unknown Heroku app", {"heroku.app": "no-such-app"}, "no-such-app"),
    ("wrong Heroku token", {"heroku.api_key_secret_arn": "WRONG_KEY"}, "Heroku API key"),
    ("unreachable source", {"source.postgres_secret_arn": "UNREACHABLE"}, "source Postgres"),
    ("secret that does not exist", {"source.redis_secret_arn":
                                    "arn:aws:secretsmanager:us-east-1:123456789012:secret:heroku2aws/sample-app/nope"},
     "source.redis_secret_arn"),
])
def test_preflight_refusals_name_the_problem_and_create_nothing(world, rehearse, case, patch, expect):
    sm = world.aws.client("secretsmanager")
    tags = [{"Key": "heroku2aws:app", "Value": "sample-app"}]
    resolved = {}
    for key, value in patch.items():
        if value == "WRONG_KEY":
            value = sm.create_secret(Name="heroku2aws/sample-app/wrong-key", SecretString="HRKU-" + "0" * 32,
                                     Tags=tags)["ARN"]
        elif value == "UNREACHABLE":
            from heroku2aws_rehearsal.servers import free_port

            value = sm.create_secret(Name="heroku2aws/sample-app/unreachable", Tags=tags, SecretString=json.dumps(
                {"host": "127.0.0.1", "port": free_port(), "username": "app", "password": "x" * 12, "dbname": "app"}))["ARN"]
        resolved[key] = value
    world.baseline = world.inventory()
    report = rehearse(overrides=resolved)
    assert report["status"] == "FAILED"
    assert report["error"] == "MigrationRolledBack"
    cause = json.loads(report["cause"])
    assert cause["Error"] == "PreflightFailed", cause
    assert expect in cause["Cause"], cause
    assert report["leftovers"] == []
