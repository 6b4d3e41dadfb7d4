"""Engine contract tests: one per seam between moto and AWS's behaviour.

Each runs a small state machine through the emulation and asserts what AWS would do. These test
the engine, so their definitions are inline; the workflow's own tests run statemachine/*.asl.json.
"""

from __future__ import annotations

import json
import textwrap
import time

import engine_helpers
import pytest
from engine_helpers import run, task_failures

from heroku2aws_cli.executions import history
from heroku2aws_rehearsal.patches import local
from heroku2aws_rehearsal.services.stepfunctions.errors import sdk_error_name

# ---------------------------------------------------------------------------------------- names


@pytest.mark.parametrize(("service", "code", "expected"), [
    ("secretsmanager", "ResourceNotFoundException", "SecretsManager.ResourceNotFoundException"),
    ("acmpca", "ResourceNotFoundException", "AcmPca.ResourceNotFoundException"),
    ("s3", "BucketAlreadyExists", "S3.BucketAlreadyExistsException"),
    ("databasemigration", "ResourceNotFoundFault", "DatabaseMigration.ResourceNotFoundException"),
    ("ecs", "ClusterNotFoundException", "Ecs.ClusterNotFoundException"),
    ("rds", "DBInstanceNotFoundFault", "Rds.DbInstanceNotFoundException"),
])
def test_error_names_follow_aws_documented_convention(service, code, expected):
    # AWS's documented examples: AcmPca.ResourceNotFoundException, S3.BucketAlreadyExistsException.
    assert sdk_error_name(service, code) == expected


# ---------------------------------------------------------------------------------------- aws-sdk


def test_catch_on_secretsmanager_resource_not_found_fires(aws):
    desc, events = run(aws, {
        "Read": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:secretsmanager:getSecretValue",
                 "Arguments": {"SecretId": "no-such-secret"},
                 "Catch": [{"ErrorEquals": ["SecretsManager.ResourceNotFoundException"], "Next": "Caught",
                            "Output": "{% $states.errorOutput %}"}], "Next": "NotCaught"},
        "Caught": {"Type": "Succeed"},
        "NotCaught": {"Type": "Fail", "Error": "NotCaught"}}, "Read")
    assert desc["status"] == "SUCCEEDED"
    assert task_failures(events) == ["SecretsManager.ResourceNotFoundException"]
    assert json.loads(desc["output"])["Error"] == "SecretsManager.ResourceNotFoundException"


def test_aws_sdk_ecs_calls_map_pascal_case_both_ways(aws):
    aws.client("ecs").create_cluster(clusterName="contract")
    desc, _ = run(aws, {
        "Register": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:ecs:registerTaskDefinition",
                     "Arguments": {"Family": "contract", "RequiresCompatibilities": ["FARGATE"], "NetworkMode": "awsvpc",
                                   "Cpu": "256", "Memory": "512",
                                   "ContainerDefinitions": [{"Name": "app", "Image": "busybox", "Essential": True,
                                                             "PortMappings": [{"ContainerPort": 5000}]}]},
                     "Output": "{% $states.result.TaskDefinition %}", "Next": "Describe"},
        "Describe": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:ecs:describeClusters",
                     "Arguments": {"Clusters": ["contract"]},
                     "Output": "{% {'td': $states.input, 'cluster': $states.result.Clusters[0]} %}", "End": True}},
        "Register")
    assert desc["status"] == "SUCCEEDED", desc.get("cause")
    out = json.loads(desc["output"])
    assert out["td"]["TaskDefinitionArn"].endswith(":task-definition/contract:1")
    assert out["td"]["ContainerDefinitions"][0]["PortMappings"][0]["ContainerPort"] == 5000
    assert out["cluster"]["ClusterName"] == "contract"


def test_aws_sdk_databasemigration_resolves_to_dms_and_names_its_errors(aws):
    desc, events = run(aws, {
        "Create": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:databasemigration:createReplicationSubnetGroup",
                   "Arguments": {"ReplicationSubnetGroupIdentifier": "g1", "ReplicationSubnetGroupDescription": "d",
                                 "SubnetIds": ["subnet-1", "subnet-2"]},
                   "Next": "Again"},
        "Again": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:databasemigration:describeReplicationTasks",
                  "Arguments": {"Filters": [{"Name": "replication-task-id", "Values": ["nope"]}]},
                  "Catch": [{"ErrorEquals": ["DatabaseMigration.ResourceNotFoundException"], "Next": "Done"}],
                  "Next": "Done"},
        "Done": {"Type": "Succeed"}}, "Create")
    assert desc["status"] == "SUCCEEDED", desc.get("cause")
    groups = aws.client("dms").describe_replication_subnet_groups()["ReplicationSubnetGroups"]
    assert [g["ReplicationSubnetGroupIdentifier"] for g in groups] == ["g1"]
    assert all(e.startswith("DatabaseMigration.") for e in task_failures(events))


def test_a_call_missing_a_required_parameter_is_refused_and_creates_nothing(aws):
    """AWS refuses a create whose required name is null; moto alone would create a nameless resource."""
    desc, events = run(aws, {
        "Create": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:databasemigration:createReplicationSubnetGroup",
                   "Arguments": {"ReplicationSubnetGroupIdentifier": None,
                                 "ReplicationSubnetGroupDescription": "d", "SubnetIds": ["subnet-1"]},
                   "End": True}}, "Create")
    assert desc["status"] == "FAILED"
    # DMS's model declares no ValidationException: it arrives as the service's generic exception.
    assert desc["error"] == "DatabaseMigration.DatabaseMigrationException", desc
    assert "ReplicationSubnetGroupIdentifier" in desc["cause"]
    assert aws.client("dms").describe_replication_subnet_groups()["ReplicationSubnetGroups"] == []


# ---------------------------------------------------------------------------------------- ECS tasks


def _task_definition(aws, family: str, command: list[str], secret_arn: str | None = None) -> str:
    container = {"name": "main", "image": "rehearsal", "essential": True, "command": command,
                 "environment": [{"name": "GREETING", "value": "hello"}]}
    if secret_arn:
        container["secrets"] = [{"name": "API_TOKEN", "valueFrom": f"{secret_arn}:token::"}]
    return aws.client("ecs").register_task_definition(
        family=family, requiresCompatibilities=["FARGATE"], networkMode="awsvpc", cpu="256", memory="512",
        executionRoleArn=engine_helpers.role(aws, "task-execution", "ecs-tasks.amazonaws.com"),  # reads the secrets
        containerDefinitions=[container])["taskDefinition"]["taskDefinitionArn"]


def _network(aws) -> dict:
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24")["Subnet"]["SubnetId"]
    return {"AwsvpcConfiguration": {"Subnets": [subnet], "AssignPublicIp": "DISABLED"}}


@pytest.mark.parametrize("exit_code", [0, 3])
def test_run_task_sync_returns_the_process_exit_code(aws, tmp_path, exit_code):
    aws.client("ecs").create_cluster(clusterName="c")
    secret = aws.client("secretsmanager").create_secret(Name="t", SecretString=json.dumps({"token": "s3cr3t"}))["ARN"]
    out = tmp_path / "env.json"
    script = textwrap.dedent(f"""
        import json, os, sys
        json.dump({{"GREETING": os.environ.get("GREETING"), "API_TOKEN": os.environ.get("API_TOKEN")}},
                  open({str(out)!r}, "w"))
        sys.exit({exit_code})
    """)
    td = _task_definition(aws, "exit", ["python", "-c", script], secret)
    desc, events = run(aws, {
        "Run": {"Type": "Task", "Resource": "arn:aws:states:::ecs:runTask.sync",
                "Arguments": {"Cluster": "c", "TaskDefinition": td, "LaunchType": "FARGATE",
                              "NetworkConfiguration": _network(aws)},
                "Output": "{% {'exit': $states.result.Containers[0].ExitCode, 'status': $states.result.LastStatus} %}",
                "End": True}}, "Run")
    # The container saw its environment and its secret resolved, as the ECS agent injects them.
    assert json.loads(out.read_text()) == {"GREETING": "hello", "API_TOKEN": "s3cr3t"}
    if exit_code == 0:
        assert desc["status"] == "SUCCEEDED", desc.get("cause")
        assert json.loads(desc["output"]) == {"exit": 0, "status": "STOPPED"}
    else:
        assert desc["status"] == "FAILED"
        assert task_failures(events) == ["States.TaskFailed"]
        failed = next(e for e in events if e["type"] == "TaskFailed")
        assert json.loads(failed["taskFailedEventDetails"]["cause"])["Containers"][0]["ExitCode"] == exit_code


def test_running_task_is_running_while_its_process_lives(aws):
    ecs = aws.client("ecs")
    ecs.create_cluster(clusterName="c")
    td = _task_definition(aws, "sleeper", ["python", "-c", "import time; time.sleep(30)"])
    subnets = _network(aws)["AwsvpcConfiguration"]["Subnets"]
    task = ecs.run_task(cluster="c", taskDefinition=td, launchType="FARGATE",
                        networkConfiguration={"awsvpcConfiguration": {"subnets": subnets}})["tasks"][0]
    assert ecs.describe_tasks(cluster="c", tasks=[task["taskArn"]])["tasks"][0]["lastStatus"] == "RUNNING"
    ecs.stop_task(cluster="c", task=task["taskArn"], reason="test")
    described = ecs.describe_tasks(cluster="c", tasks=[task["taskArn"]])["tasks"][0]
    assert described["lastStatus"] == "STOPPED"
    assert described["containers"][0]["exitCode"] == -15  # SIGTERM, as docker reports 143


def test_a_sync_task_in_a_cancelled_branch_is_stopped_and_the_sibling_failure_wins(aws):
    """A sibling branch fails while a runTask.sync is in flight: the Parallel fails with the sibling's
    error, promptly; the cancelled state's ECS task is stopped; and the cancelled branch's token wait
    does not crash (moto popped the task's output in place of its skipped TimeoutSeconds)."""
    aws.client("ecs").create_cluster(clusterName="c")
    td = _task_definition(aws, "long", ["python", "-c", "import time; time.sleep(20)"])
    started = time.monotonic()
    desc, events = run(aws, {
        "Both": {"Type": "Parallel", "End": True, "Branches": [
            {"StartAt": "Run", "States": {"Run": {
                "Type": "Task", "Resource": "arn:aws:states:::ecs:runTask.sync", "End": True,
                "Arguments": {"Cluster": "c", "TaskDefinition": td, "LaunchType": "FARGATE",
                              "NetworkConfiguration": _network(aws)}}}},
            {"StartAt": "Pause", "States": {
                "Pause": {"Type": "Wait", "Seconds": 1, "Next": "Fail"},
                "Fail": {"Type": "Fail", "Error": "Sibling.Failed", "Cause": "the other branch"}}},
        ]}}, "Both")
    assert desc["status"] == "FAILED" and desc["error"] == "Sibling.Failed", desc
    assert time.monotonic() - started < 15, "the Parallel waited for the cancelled task"
    # Step Functions stops the aborted state's task (what ecs:StopTask in the .sync policy is for)
    ecs = aws.client("ecs")
    stopped = time.monotonic() + 10
    while True:
        tasks = ecs.describe_tasks(cluster="c", tasks=ecs.list_tasks(cluster="c", desiredStatus="STOPPED")["taskArns"]
                                   + ecs.list_tasks(cluster="c")["taskArns"])["tasks"]
        if tasks and all(t["lastStatus"] == "STOPPED" for t in tasks) or time.monotonic() > stopped:
            break
        time.sleep(0.2)
    assert [(t["lastStatus"], t.get("stoppedReason")) for t in tasks] == [
        ("STOPPED", "Step Functions: the state was aborted")]
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (
        StateTaskServiceCallback,
    )
    # what the stopped frame hands the token wait: the task's output instead of a number of seconds
    assert StateTaskServiceCallback._wait_for_task_token_timeout(None, {"Tasks": []}, None) is None


# ---------------------------------------------------------------------------------------- Lambda


def test_lambda_exception_is_caught_by_its_error_type_and_functions_are_isolated(aws, tmp_path, monkeypatch):
    monkeypatch.setenv("H2A_SHOULD_NOT_LEAK", "leaked")
    code = tmp_path / "fn"
    code.mkdir()
    (code / "app.py").write_text(textwrap.dedent("""
        import os, sys

        class PaymentDeclined(Exception):
            pass

        def handler(event, context):
            if event.get("fail"):
                raise PaymentDeclined("card declined")
            return {"env_leak": os.environ.get("H2A_SHOULD_NOT_LEAK"), "mine": os.environ.get("MINE"),
                    "name": context.function_name, "engine_importable": "heroku2aws_rehearsal" in sys.modules}
    """))
    role = engine_helpers.role(aws, "fn", "lambda.amazonaws.com")
    fn = aws.client("lambda").create_function(FunctionName="payments", Runtime="python3.12", Role=role,
                                              Handler="app.handler", Code={"ZipFile": b"PK\x05\x06" + b"\0" * 18})
    local.FUNCTIONS["payments"] = local.LocalFunction(name="payments", arn=fn["FunctionArn"], handler="app.handler",
                                                      code_dir=code, layer_dirs=[], environment={"MINE": "yes"})
    desc, events = run(aws, {
        "Ok": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
               "Arguments": {"FunctionName": fn["FunctionArn"], "Payload": {}},
               "Assign": {"ok": "{% $states.result.Payload %}"}, "Next": "Fail"},
        "Fail": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                 "Arguments": {"FunctionName": fn["FunctionArn"], "Payload": {"fail": True}},
                 "Catch": [{"ErrorEquals": ["PaymentDeclined"], "Next": "Caught", "Output": "{% $states.errorOutput %}"}],
                 "Next": "NotCaught"},
        "Caught": {"Type": "Pass", "Output": "{% {'ok': $ok, 'error': $states.input} %}", "End": True},
        "NotCaught": {"Type": "Fail"}}, "Ok")
    assert desc["status"] == "SUCCEEDED", desc.get("cause")
    out = json.loads(desc["output"])
    assert out["ok"] == {"env_leak": None, "mine": "yes", "name": "payments", "engine_importable": False}
    assert out["error"]["Error"] == "PaymentDeclined"
    assert json.loads(out["error"]["Cause"])["errorMessage"] == "card declined"


# ---------------------------------------------------------------------------------------- Heroku / servers


def test_heroku_stand_in_refuses_a_bad_token():
    from heroku2aws.clients.heroku import HerokuApiError, HerokuClient
    from heroku2aws_rehearsal.heroku_api import FakeHeroku

    with FakeHeroku(token="right") as fake:
        fake.add_app("app-one", config_vars={"A": "1"}, formation=[])
        assert HerokuClient("right", base_url=fake.url).get_app("app-one")["name"] == "app-one"
        with pytest.raises(HerokuApiError) as err:
            HerokuClient("wrong", base_url=fake.url).get_app("app-one")
        assert err.value.status == 401


def test_servers_are_gone_after_the_engine_stops():
    import socket

    from heroku2aws_rehearsal.servers import PostgresServer, RedisServer

    pg = PostgresServer(name="gone").start()
    redis = RedisServer(name="gone").start()
    ports, roots, pids = (pg.port, redis.port), (pg.root, redis.root), (pg.proc.pid, redis.proc.pid)
    pg.stop()
    redis.stop()
    time.sleep(0.2)
    for port in ports:
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still answers"
    assert not any(r.exists() for r in roots)
    import os

    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_history_folds_into_states(aws):
    desc, events = run(aws, {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "End": True}}, "A")
    sfn = aws.client("stepfunctions")
    hist = history(sfn, desc["executionArn"])
    assert [(s.name, s.status) for s in hist.states] == [("A", "SUCCEEDED"), ("B", "SUCCEEDED")]
    assert hist.transitions == 2


def test_dms_full_load_moves_every_row(aws):
    """StartReplicationTask on a full-load task copies the data between the endpoints' databases."""
    from heroku2aws_rehearsal.servers import PostgresServer

    with PostgresServer(name="dms-src").start() as src, PostgresServer(name="dms-tgt").start() as tgt:
        src.sql("postgres", "create table t(id int primary key, v text); "
                            "insert into t select g, md5(g::text) from generate_series(1, 5000) g")
        tgt.sql("postgres", "create table t(id int primary key, v text)")
        dms = aws.client("dms")

        def endpoint(server, kind):
            return dms.create_endpoint(EndpointIdentifier=f"e-{kind}", EndpointType=kind, EngineName="postgres",
                                       ServerName="127.0.0.1", Port=server.port, DatabaseName="postgres",
                                       Username=server.superuser, Password=server.password)["Endpoint"]["EndpointArn"]

        instance = dms.create_replication_instance(ReplicationInstanceIdentifier="ri",
                                                   ReplicationInstanceClass="dms.t3.micro")
        task = dms.create_replication_task(
            ReplicationTaskIdentifier="t", SourceEndpointArn=endpoint(src, "source"),
            TargetEndpointArn=endpoint(tgt, "target"),
            ReplicationInstanceArn=instance["ReplicationInstance"]["ReplicationInstanceArn"], MigrationType="full-load",
            TableMappings=json.dumps({"rules": [{"rule-type": "selection", "rule-id": "1", "rule-name": "1",
                                                 "object-locator": {"schema-name": "public", "table-name": "%"},
                                                 "rule-action": "include"}]}),
            ReplicationTaskSettings=json.dumps({"FullLoadSettings": {"TargetTablePrepMode": "DO_NOTHING"}}),
        )["ReplicationTask"]["ReplicationTaskArn"]
        dms.start_replication_task(ReplicationTaskArn=task, StartReplicationTaskType="start-replication")
        deadline = time.monotonic() + 60
        while True:
            described = dms.describe_replication_tasks(
                Filters=[{"Name": "replication-task-arn", "Values": [task]}])["ReplicationTasks"][0]
            if described["Status"] in {"stopped", "failed"} or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert described["Status"] == "stopped", described
        assert "FULL_LOAD_ONLY_FINISHED" in described["StopReason"]
        assert described["ReplicationTaskStats"]["FullLoadProgressPercent"] == 100
        assert tgt.sql("postgres", "select count(*), md5(string_agg(v, ',' order by id)) from t") == \
            src.sql("postgres", "select count(*), md5(string_agg(v, ',' order by id)) from t")
        # A second start-replication is refused, as AWS refuses it; reload-target is the way.
        with pytest.raises(dms.exceptions.InvalidResourceStateFault):
            dms.start_replication_task(ReplicationTaskArn=task, StartReplicationTaskType="start-replication")


def test_jsonata_variables_reach_the_expression_as_they_were_assigned(aws):
    """Variables travel to JSONata as bindings (not re-parsed source): values with quotes, control
    characters and nesting arrive intact, a later Assign wins, and whole numbers stay integers."""
    tricky = 'a "quoted" \x1e\x1f; value := $x'
    desc, _ = run(aws, {
        "First": {"Type": "Pass", "Assign": {"v": "{% $states.input.tricky %}", "n": 1}, "Next": "Second"},
        "Second": {"Type": "Pass", "Assign": {"n": "{% $n + 41 %}", "doc": {"deep": ["{% $v %}", 2.5]}},
                   "Next": "Third"},
        "Third": {"Type": "Pass", "Output": "{% {'v': $v, 'n': $n, 'doc': $doc, 'len': $length($v)} %}",
                  "End": True}}, "First", payload={"tricky": tricky})
    assert desc["status"] == "SUCCEEDED", desc
    assert json.loads(desc["output"]) == {"v": tricky, "n": 42, "doc": {"deep": [tricky, 2.5]}, "len": len(tricky)}
