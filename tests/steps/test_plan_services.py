"""Stage 3: the Procfile / formation as ECS requests."""

from __future__ import annotations

import json

import pytest
from helpers import EXECUTION_ID, ROOT, load_handler, with_changes

from heroku2aws.contracts.errors import InvalidInput
from heroku2aws.steps.plan_services import (
    DYNO_SIZES,
    FARGATE_MEMORY,
    PROCESS_WRAPPER,
    container_command,
    fargate_size,
    parse_procfile,
)

handler = load_handler("plan_services")

SECRET_ARN = "arn:aws:secretsmanager:us-east-1:111122223333:secret:heroku2aws/acme-storefront/config-AbCdEf"
CONFIG = {"secret_arn": SECRET_ARN, "secret_name": "heroku2aws/acme-storefront/config", "created": True,
          "changed": True, "imported": ["DATABASE_URL", "RAILS_ENV", "REDIS_URL", "SECRET_KEY_BASE"],
          "excluded": ["HEROKU_POSTGRESQL_ONYX_URL"]}
FORMATION = [
    {"type": "web", "quantity": 2, "size": "Standard-2X", "command": "bundle exec puma -C config/puma.rb"},
    {"type": "worker", "quantity": 1, "size": "performance-m", "command": "bundle exec sidekiq"},
]


def invoke(cfg, context, plan=None, config=CONFIG):
    event = {"input": cfg, "plan": plan if plan is not None else {"heroku": {"formation": FORMATION}},
             "config": config, "execution_id": EXECUTION_ID}
    return handler(event, context)


def test_given_a_procfile_with_web_worker_and_release_when_planned_then_two_services_and_a_release_task(
        production_input, context):
    out = invoke(production_input, context)

    assert [s["type"] for s in out["services"]] == ["web", "worker"]
    web, worker = out["services"]
    assert web["task_definition"]["Family"] == "acme-storefront-web"
    assert web["service"]["ServiceName"] == "acme-storefront-web"
    assert web["service"]["DesiredCount"] == 2
    assert (web["task_definition"]["Cpu"], web["task_definition"]["Memory"]) == ("512", "1024")
    assert worker["service"]["DesiredCount"] == 1
    assert (worker["task_definition"]["Cpu"], worker["task_definition"]["Memory"]) == ("1024", "3072")
    release = out["release"]
    assert release["Family"] == "acme-storefront-release"
    assert release["ContainerDefinitions"][0]["Command"] == container_command("bundle exec rails db:migrate", "release")
    assert release["ContainerDefinitions"][0]["StopTimeout"] == 30
    assert (release["Cpu"], release["Memory"]) == ("512", "1024")  # the web size
    assert out["release_run"]["Cluster"] == production_input["ecs"]["cluster_arn"]
    assert "TaskDefinition" not in out["release_run"]


def test_given_the_web_type_when_planned_then_it_listens_on_the_port_behind_the_target_group(production_input,
                                                                                            context):
    cfg = with_changes(production_input, ecs__port=8080)
    web = invoke(cfg, context)["services"][0]
    container = web["task_definition"]["ContainerDefinitions"][0]
    assert container["PortMappings"] == [{"ContainerPort": 8080, "Protocol": "tcp"}]
    assert container["Environment"] == [{"Name": "PORT", "Value": "8080"}]
    assert web["service"]["LoadBalancers"] == [{"TargetGroupArn": cfg["load_balancer"]["target_group_arn"],
                                                "ContainerName": "web", "ContainerPort": 8080}]
    assert web["service"]["HealthCheckGracePeriodSeconds"] > 0


def test_given_a_worker_when_planned_then_it_has_no_port_and_no_load_balancer(production_input, context):
    worker = invoke(production_input, context)["services"][1]
    container = worker["task_definition"]["ContainerDefinitions"][0]
    assert "PortMappings" not in container
    assert container["Environment"] == []
    assert "LoadBalancers" not in worker["service"]
    assert "HealthCheckGracePeriodSeconds" not in worker["service"]


def _registered(out: dict) -> list[dict]:
    """The task definitions the real ASL registers from this plan: its "Register the release task definition" and
    "Register the task definition" Arguments, evaluated as the emulation evaluates them."""
    from heroku2aws_rehearsal.services.stepfunctions.jsonata import Evaluator

    asl = json.loads((ROOT / "statemachine" / "migration.asl.json").read_text())
    branch = asl["States"]["Prepare the AWS side"]["Branches"][0]["States"]
    release_args = branch["Register the release task definition"]["Arguments"]
    item_args = branch["Create the ECS services"]["ItemProcessor"]["States"]["Register the task definition"]["Arguments"]
    evaluator = Evaluator()

    def evaluate(template: str, item: dict | None) -> dict:
        body = template.removeprefix("{%").removesuffix("%}").strip()
        bindings = {"$services": out, "$states": {"input": item or {}}}
        return evaluator.evaluate(Evaluator.encode_declarations(bindings) + body)

    return [evaluate(release_args, None), *(evaluate(item_args, s) for s in out["services"])]


def test_given_the_config_secret_when_planned_then_every_key_is_a_secret_reference_never_plain_env(
        production_input, context):
    out = invoke(production_input, context)
    assert out["secrets"] == {"arn": SECRET_ARN, "names": CONFIG["imported"]}
    for td in _registered(out):
        container = td["ContainerDefinitions"][0]
        assert container["Secrets"] == [{"Name": k, "ValueFrom": f"{SECRET_ARN}:{k}::"} for k in CONFIG["imported"]]
        assert {e["Name"] for e in container["Environment"]} <= {"PORT"}
        assert container["Command"] and td["Family"].startswith("acme-storefront-")


def test_given_many_process_types_and_config_vars_when_planned_then_the_payloads_fit_a_state(
        production_input, context):
    """20 process types and 400 config vars: written out per task definition the result was ~1.6 MB, over the 256 KiB
    Step Functions allows a task's result (States.DataLimitExceeded, which no Catch sees). The secrets now come back
    once; each task definition the ASL registers is still complete and under the quota."""
    from heroku2aws.steps.plan_services import MAX_PROCESS_TYPES, MAX_STATE_PAYLOAD_BYTES

    procfile = "\n".join(["web: bin/web", "release: bin/release",
                          *(f"worker{i}: bin/worker {i}" for i in range(MAX_PROCESS_TYPES - 2))])
    keys = sorted(f"CONFIG_VAR_{i:04d}_{'X' * 40}" for i in range(400))
    out = invoke(with_changes(production_input, ecs__procfile=procfile), context,
                 config={**CONFIG, "imported": keys})
    size = len(json.dumps(out, separators=(",", ":")).encode())
    assert size < MAX_STATE_PAYLOAD_BYTES, size
    registered = _registered(out)
    assert len(registered) == MAX_PROCESS_TYPES
    for td in registered:
        assert [s["Name"] for s in td["ContainerDefinitions"][0]["Secrets"]] == keys
        assert len(json.dumps(td, separators=(",", ":")).encode()) < MAX_STATE_PAYLOAD_BYTES


def test_given_config_vars_whose_task_definition_cannot_fit_a_state_when_planned_then_refused_with_the_reason(
        production_input, context):
    keys = sorted(f"V{i:04d}" for i in range(2500))  # 2,500 vars: 12.5 KB of names, each a ~110-byte Secrets entry
    with pytest.raises(InvalidInput, match=r"task definition acme-storefront-\w+ would be \d+ bytes .*\(2500 vars"):
        invoke(production_input, context, config={**CONFIG, "imported": keys})


def test_given_the_plan_when_planned_then_requests_have_the_shape_ecs_takes(production_input, context):
    out = invoke(production_input, context)
    td = out["services"][0]["task_definition"]
    assert td["RequiresCompatibilities"] == ["FARGATE"]
    assert td["NetworkMode"] == "awsvpc"
    assert td["ExecutionRoleArn"] == production_input["ecs"]["execution_role_arn"]
    assert td["TaskRoleArn"] == production_input["ecs"]["task_role_arn"]
    container = td["ContainerDefinitions"][0]
    assert container["Image"] == production_input["ecs"]["image"]
    assert container["Essential"] is True
    assert container["LogConfiguration"]["LogDriver"] == "awslogs"
    svc = out["services"][0]["service"]
    assert svc["Cluster"] == production_input["ecs"]["cluster_arn"]
    assert svc["LaunchType"] == "FARGATE"
    assert svc["NetworkConfiguration"] == {"AwsvpcConfiguration": {
        "Subnets": production_input["ecs"]["subnets"], "SecurityGroups": production_input["ecs"]["security_groups"],
        "AssignPublicIp": "DISABLED"}}
    assert svc["EnableECSManagedTags"] is True
    assert svc["PropagateTags"] == "SERVICE"
    assert "TaskDefinition" not in svc
    tags = {t["Key"]: t["Value"] for t in svc["Tags"]}
    assert tags["heroku2aws:app"] == "acme-storefront"
    assert tags["heroku2aws:execution"] == EXECUTION_ID
    assert tags["heroku2aws:managed"] == "true"
    assert {t["Key"]: t["Value"] for t in td["Tags"]} == tags


def test_given_no_procfile_when_planned_then_the_formation_commands_are_used_and_no_release(production_input,
                                                                                           context):
    cfg = with_changes(production_input, ecs__procfile=None, ecs__task_role_arn=None, ecs__assign_public_ip=True)
    out = invoke(cfg, context)
    assert out["release"] is None and out["release_run"] is None
    assert [s["type"] for s in out["services"]] == ["web", "worker"]
    worker = out["services"][1]["task_definition"]
    assert worker["ContainerDefinitions"][0]["Command"][-2:] == ["worker", "bundle exec sidekiq"]
    assert "TaskRoleArn" not in worker
    assert out["services"][0]["service"]["NetworkConfiguration"]["AwsvpcConfiguration"]["AssignPublicIp"] == "ENABLED"
    assert any("no Procfile" in w for w in out["warnings"])


def test_given_web_scaled_to_zero_on_heroku_when_planned_then_web_still_gets_one_task(production_input, context):
    plan = {"heroku": {"formation": [{"type": "web", "quantity": 0, "size": "basic", "command": "x"}]}}
    out = invoke(production_input, context, plan=plan)
    assert out["services"][0]["service"]["DesiredCount"] == 1
    worker = out["services"][1]
    assert worker["service"]["DesiredCount"] == 0  # in the Procfile, not scaled on Heroku
    assert any("'worker' is not in the Heroku formation" in w for w in out["warnings"])


def test_given_an_unknown_dyno_size_when_planned_then_invalid_input_names_it(production_input, context):
    plan = {"heroku": {"formation": [{"type": "web", "quantity": 1, "size": "mega-9x", "command": "x"}]}}
    with pytest.raises(InvalidInput, match="unknown dyno size 'mega-9x'"):
        invoke(production_input, context, plan=plan)


def test_given_a_config_without_secret_arn_when_planned_then_invalid_input(production_input, context):
    with pytest.raises(InvalidInput, match="config.secret_arn"):
        invoke(production_input, context, config={"imported": []})


def test_given_a_procfile_with_comments_and_blank_lines_when_parsed_then_types_in_order():
    text = "# comment\n\nweb: gunicorn app:app --bind 0.0.0.0:$PORT\n  worker:python worker.py  \r\nclock: x: y\n"
    assert parse_procfile(text) == {"web": "gunicorn app:app --bind 0.0.0.0:$PORT", "worker": "python worker.py",
                                    "clock": "x: y"}


@pytest.mark.parametrize(("text", "problem"), [
    ("web: a\nweb: b\n", r"line 2: process type 'web' is defined twice"),
    ("web a\n", r"line 1: not a 'name: command' line"),
    ("we b: a\n", r"line 1: invalid process type name"),
    ("web:\n", r"line 1: not a 'name: command' line"),
    ("# only a comment\n\n", r"defines no process type"),
])
def test_given_a_bad_procfile_when_parsed_then_invalid_input_names_the_line(text, problem):
    with pytest.raises(InvalidInput, match=problem):
        parse_procfile(text)


def test_given_a_bad_procfile_in_the_input_when_planned_then_invalid_input(production_input, context):
    with pytest.raises(InvalidInput, match="defined twice"):
        invoke(with_changes(production_input, ecs__procfile="web: a\nweb: b\n"), context)


def test_given_any_command_when_converted_then_the_wrapper_runs_it_under_bash_verbatim():
    # Behaviour (signals, .profile.d, bash syntax) is proven in test_plan_services_commands.py.
    command = "gunicorn app:app --bind 0.0.0.0:$PORT"
    assert container_command(command, "web") == ["/bin/bash", "-c", PROCESS_WRAPPER, "web", command]


def test_given_every_dyno_size_in_the_table_when_checked_then_it_is_a_valid_fargate_size():
    for size, (cpu, memory, _) in DYNO_SIZES.items():
        low, high, step = FARGATE_MEMORY[cpu]
        assert low <= memory <= high and memory % step == 0 and memory != 1536, size


@pytest.mark.parametrize(("size", "expected"), [
    ("standard-1x", ("256", "512")), ("eco", ("256", "512")), ("standard-2x", ("512", "1024")),
    ("performance-m", ("1024", "3072")), ("performance-l", ("4096", "16384")),
    ("performance-l-ram", ("4096", "30720")), ("performance-xl", ("8192", "61440")),
    ("performance-2xl", ("16384", "122880")), ("dyno-2c-4gb", ("2048", "4096")),
    ("dyno-1c-0.5gb", ("1024", "2048")),
])
def test_given_a_dyno_size_when_planned_then_the_documented_fargate_size(production_input, context, size, expected):
    plan = {"heroku": {"formation": [{"type": "web", "quantity": 1, "size": size, "command": "x"}]}}
    td = invoke(with_changes(production_input, ecs__procfile="web: run"), context, plan=plan)["services"][0]
    assert (td["task_definition"]["Cpu"], td["task_definition"]["Memory"]) == expected


def test_given_fargate_limits_when_sizing_then_the_smallest_valid_combination():
    assert fargate_size(256, 1536) == (256, 2048)
    assert fargate_size(300, 512) == (512, 1024)
    with pytest.raises(ValueError):
        fargate_size(16384, 200_000)
