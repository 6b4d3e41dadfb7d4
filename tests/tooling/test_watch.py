"""``heroku2aws watch``: an execution followed through the engine's emulated Step Functions endpoint."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime

import pytest
from botocore.exceptions import EndpointConnectionError

from heroku2aws_cli import main as cli
from heroku2aws_cli.executions import History, history
from heroku2aws_cli.watch import explain, parse_arn

REPORT = {"app": "sample-app", "verification": {"postgres": "ok", "redis": "ok"}, "traffic": {"aws": 100}}


def machine(aws, states: dict, start_at: str) -> str:
    # IAM is enforced in the emulator: the machine's role is trusted by Step Functions and may read secrets, so
    # the failure the test wants is the missing secret, not an AccessDenied.
    iam = aws.client("iam")
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    try:
        role = iam.create_role(RoleName="watch", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        iam.put_role_policy(RoleName="watch", PolicyName="read-secrets", PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]}))
    except iam.exceptions.EntityAlreadyExistsException:
        role = iam.get_role(RoleName="watch")["Role"]["Arn"]
    definition = {"QueryLanguage": "JSONata", "StartAt": start_at, "States": states}
    return aws.client("stepfunctions").create_state_machine(
        name=f"watch-{uuid.uuid4().hex[:8]}", definition=json.dumps(definition), roleArn=role)["stateMachineArn"]


def start(aws, sm_arn: str, payload: dict | None = None) -> str:
    return aws.client("stepfunctions").start_execution(
        stateMachineArn=sm_arn, name=f"run-{uuid.uuid4().hex[:8]}", input=json.dumps(payload or {}))["executionArn"]


def run_watch(capsys, *args: str) -> tuple[int, str, str]:
    rc = cli.main(["watch", *args])
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def last_json(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


HAPPY = {
    "Get ready": {"Type": "Pass", "Next": "Wait a moment"},
    "Wait a moment": {"Type": "Wait", "Seconds": 2, "Next": "Is it done?"},
    "Is it done?": {"Type": "Choice", "Choices": [{"Condition": "{% $states.input.n = 1 %}", "Next": "Assemble the report"}],
                    "Default": "Not done"},
    "Not done": {"Type": "Fail", "Error": "NotDone"},
    "Assemble the report": {"Type": "Pass", "Output": REPORT, "End": True},
}


def test_watch_follows_a_running_execution_to_success(aws, capsys):
    arn = start(aws, machine(aws, HAPPY, "Get ready"), {"n": 1})
    t0 = time.monotonic()
    rc, out, err = run_watch(capsys, arn, "--endpoint-url", aws.endpoint, "--json", "--interval", "0.2")
    assert rc == 0, err
    assert time.monotonic() - t0 >= 1, "watch returned before the 2 s Wait was over"
    assert "RUNNING" in err.splitlines()[0], "watch did not join the execution while it ran"
    result = last_json(out)
    assert result["status"] == "SUCCEEDED"
    assert result["error"] is None and result["cause"] is None
    assert [s["name"] for s in result["states"]] == ["Get ready", "Wait a moment", "Is it done?", "Assemble the report"]
    assert {s["status"] for s in result["states"]} == {"SUCCEEDED"}
    assert result["states"][1]["seconds"] >= 1.9
    assert result["transitions"] == 4
    assert result["output"] == REPORT
    # the report, pretty-printed, after the summary (on stderr with --json)
    assert "SUCCEEDED" in err and "4 state transitions" in err
    assert '"verification": {' in err


def test_watch_without_json_shows_the_states_and_the_report(aws, capsys):
    arn = start(aws, machine(aws, HAPPY, "Get ready"), {"n": 1})
    rc, out, err = run_watch(capsys, arn, "--endpoint-url", aws.endpoint, "--interval", "0.2")
    assert rc == 0, err
    for name in ("Get ready", "Wait a moment", "Is it done?", "Assemble the report"):
        assert name in out
    assert '"postgres": "ok"' in out
    assert not out.strip().splitlines()[-1].startswith("{\"status\"")


def test_watch_reports_a_failed_execution_with_its_error_and_caught_states(aws, capsys):
    states = {
        "Read the secret": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:secretsmanager:getSecretValue",
                            "Arguments": {"SecretId": "no-such-secret"},
                            "Catch": [{"ErrorEquals": ["SecretsManager.ResourceNotFoundException"],
                                       "Next": "Migration rolled back"}],
                            "Next": "Migration rolled back"},
        "Migration rolled back": {"Type": "Fail", "Error": "MigrationRolledBack", "Cause": "the secret is missing"},
    }
    arn = start(aws, machine(aws, states, "Read the secret"))
    rc, out, err = run_watch(capsys, arn, "--endpoint-url", aws.endpoint, "--json", "--interval", "0.2")
    assert rc == 1, err
    result = last_json(out)
    assert result["status"] == "FAILED"
    assert result["error"] == "MigrationRolledBack" and result["cause"] == "the secret is missing"
    assert [s["name"] for s in result["states"]] == ["Read the secret", "Migration rolled back"]
    assert result["states"][0]["status"] == "CAUGHT"
    assert result["states"][0]["error"] == "SecretsManager.ResourceNotFoundException"
    assert "MigrationRolledBack" in err


def test_an_aborted_execution_exits_1(aws, capsys):
    states = {"Wait long": {"Type": "Wait", "Seconds": 600, "End": True}}
    arn = start(aws, machine(aws, states, "Wait long"))
    aws.client("stepfunctions").stop_execution(executionArn=arn, error="Operator", cause="changed my mind")
    rc, out, _ = run_watch(capsys, arn, "--endpoint-url", aws.endpoint, "--json")
    assert rc == 1
    assert last_json(out)["status"] == "ABORTED"


def test_an_unknown_execution_is_a_clear_message_and_exit_2(aws, capsys):
    arn = "arn:aws:states:us-east-1:123456789012:execution:no-such-machine:no-such-run"
    rc, out, err = run_watch(capsys, arn, "--endpoint-url", aws.endpoint, "--json")
    assert rc == 2
    assert "no such execution" in err and arn in err
    assert "Traceback" not in err + out and out == ""


@pytest.mark.parametrize("args", [
    ["not-an-arn"],
    ["arn:aws:states:us-east-1:123456789012:stateMachine:migration"],
    ["arn:aws:states:us-east-1:123456789012:execution:m:n", "--interval", "0"],
    ["arn:aws:states:us-east-1:123456789012:execution:m:n", "--profile", f"no-such-profile-{uuid.uuid4().hex[:6]}"],
    [],
])
def test_bad_arguments_exit_2_without_a_traceback(args, capsys):
    try:
        rc = cli.main(["watch", *args])
    except SystemExit as exc:  # argparse's own errors
        rc = exc.code
    err = capsys.readouterr().err
    assert rc == 2
    assert "Traceback" not in err and err.strip()


def test_arn_parts_and_error_messages():
    parts = parse_arn("arn:aws:states:eu-west-1:111122223333:execution:heroku2aws-acme:acme-20260101T000000-123")
    assert (parts["region"], parts["machine"], parts["name"]) == ("eu-west-1", "heroku2aws-acme", "acme-20260101T000000-123")
    assert parse_arn("arn:aws:states:us-east-1:111122223333:express:m:n:5f1c")["name"] == "n"
    message = explain(EndpointConnectionError(endpoint_url="http://127.0.0.1:9"), "arn", "us-east-1", "http://127.0.0.1:9")
    assert message.startswith("cannot reach http://127.0.0.1:9")


# ------------------------------------------------------------------ paging (runner.history)


class PagedSfn:
    """GetExecutionHistory as AWS pages it: maxResults (capped by ``page``), nextToken, reverseOrder."""

    def __init__(self, events: list[dict], page: int = 3, honours_reverse: bool = True) -> None:
        self.events, self.page, self.honours_reverse, self.calls = events, page, honours_reverse, 0

    def get_execution_history(self, executionArn, maxResults=100, nextToken=None, reverseOrder=False):  # noqa: N803
        self.calls += 1
        ordered = list(reversed(self.events)) if (reverseOrder and self.honours_reverse) else list(self.events)
        start = int(nextToken or 0)
        size = min(maxResults, self.page)
        chunk = ordered[start:start + size]
        out = {"events": chunk}
        if start + size < len(ordered):
            out["nextToken"] = str(start + size)
        return out


def event(i: int, kind: str, name: str | None = None) -> dict:
    e = {"id": i, "type": kind, "timestamp": datetime(2026, 1, 1, 0, 0, i, tzinfo=UTC)}
    if kind.endswith("StateEntered"):
        e["stateEnteredEventDetails"] = {"name": name}
    elif kind.endswith("StateExited"):
        e["stateExitedEventDetails"] = {"name": name}
    return e


def events_for(names: list[str], first_id: int = 1) -> list[dict]:
    out, i = [], first_id
    for name in names:
        out += [event(i, "PassStateEntered", name), event(i + 1, "PassStateExited", name)]
        i += 2
    return out


@pytest.mark.parametrize("honours_reverse", [True, False])
def test_history_reads_every_page_then_only_new_events(honours_reverse):
    evs = [event(1, "ExecutionStarted")] + events_for([f"S{i}" for i in range(10)], first_id=2)
    sfn = PagedSfn(list(evs), page=3, honours_reverse=honours_reverse)
    h = history(sfn, "arn")
    assert [e["id"] for e in h.events] == list(range(1, 22))
    assert sfn.calls == 7  # 21 events, 3 a page
    assert [s.name for s in h.states] == [f"S{i}" for i in range(10)] and h.transitions == 10

    sfn.events += events_for(["T0"], first_id=22)  # two new events: one page when newest-first
    sfn.calls = 0
    h2 = history(sfn, "arn", previous=h)
    assert [e["id"] for e in h2.events] == list(range(1, 24))
    assert h2.states[-1].name == "T0" and h2.transitions == 11
    if honours_reverse:
        assert sfn.calls == 1

    sfn.events += events_for(["U0", "U1", "U2", "U3"], first_id=24)  # 8 new events: pages until a known id
    sfn.calls = 0
    h3 = history(sfn, "arn", previous=h2)
    assert [e["id"] for e in h3.events] == list(range(1, 32))
    assert [s.name for s in h3.states][-4:] == ["U0", "U1", "U2", "U3"]
    if honours_reverse:
        assert sfn.calls == 3
    assert history(sfn, "arn").events == h3.events


def test_history_without_previous_is_unchanged_for_an_empty_history():
    assert history(PagedSfn([]), "arn").events == []
    assert isinstance(history(PagedSfn([]), "arn", previous=History()), History)


def test_concurrent_map_iterations_of_the_same_state_all_close():
    evs = [event(1, "MapStateEntered", "Map it"),
           event(2, "WaitStateEntered", "Inner wait"), event(3, "WaitStateEntered", "Inner wait"),
           event(4, "WaitStateExited", "Inner wait"), event(5, "WaitStateExited", "Inner wait"),
           event(6, "MapStateExited", "Map it")]
    h = history(PagedSfn(evs, page=100), "arn")
    assert [(s.name, s.status) for s in h.states] == [("Map it", "SUCCEEDED"), ("Inner wait", "SUCCEEDED"),
                                                       ("Inner wait", "SUCCEEDED")]


def test_an_endpoint_that_does_not_answer_is_exit_2_quickly(capsys, monkeypatch):
    from heroku2aws_rehearsal.servers import free_port

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "watch-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "watch-test")
    endpoint = f"http://127.0.0.1:{free_port()}"
    t0 = time.monotonic()
    rc, out, err = run_watch(capsys, "arn:aws:states:us-east-1:123456789012:execution:m:n", "--endpoint-url", endpoint)
    assert rc == 2
    assert f"cannot reach {endpoint}" in err and "Traceback" not in err
    assert time.monotonic() - t0 < 20
