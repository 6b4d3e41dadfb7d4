"""``heroku2aws plan``: what the workflow would do with an input, and a refusal that never echoes values."""

from __future__ import annotations

import copy
import json
import sys
import types
from pathlib import Path

import pytest

import heroku2aws.steps
from heroku2aws.contracts.errors import PreflightFailed
from heroku2aws_cli import main as cli
from heroku2aws_cli.plan import make_plan, validate

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = json.loads((ROOT / "events" / "production.json").read_text())
APP = PRODUCTION["heroku"]["app"]
STAGES = ["Validate input", "Preflight", "Prepare the AWS side", "Shift traffic", "Approve the switchover",
          "Switch the data stores (write freeze)", "Finalize"]


def write(tmp_path: Path, doc: dict, name: str = "input.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def changed(**changes) -> dict:
    """The production example with ``a__b=value`` changes (None removes the key)."""
    doc = copy.deepcopy(PRODUCTION)
    for dotted, value in changes.items():
        node = doc
        *parents, last = dotted.split("__")
        for p in parents:
            node = node[p]
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value
    return doc


def plan(capsys, *args: str) -> tuple[int, str, str]:
    rc = cli.main(["plan", *args])
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def last_json(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


# ------------------------------------------------------------------ a valid input


def test_valid_input_lists_stages_resources_dns_steps_and_estimates(tmp_path, capsys):
    rc, out, err = plan(capsys, "--input", str(write(tmp_path, PRODUCTION)), "--json")
    assert rc == 0, err
    p = last_json(out)
    assert p["valid"] is True and p["app"] == APP and p["strategy"] == "dms-full-load"
    assert [s["name"] for s in p["stages"]] == STAGES
    names = {(r["kind"], r["name"]) for r in p["resources"]}
    assert ("Secrets Manager secret", f"heroku2aws/{APP}/config") in names
    for kind in ("DMS replication subnet group", "DMS replication instance", "DMS replication task"):
        assert (kind, f"h2a-{APP}") in names
    assert ("DMS source endpoint", f"h2a-{APP}-source") in names and ("DMS target endpoint", f"h2a-{APP}-target") in names
    assert ("ECS service", f"{APP}-web") in names and ("ECS service", f"{APP}-worker") in names  # from the Procfile
    assert ("ECS service", f"{APP}-release") not in names and ("ECS task definition (run once)", f"{APP}-release") in names
    records = [r for r in p["resources"] if r["kind"] == "Route 53 weighted CNAME"]
    assert [r["name"] for r in records] == ["shop.acme-example.com (set heroku)", "shop.acme-example.com (set aws)"]
    steps = p["dns_steps"][1:]
    assert [(d["aws_weight"], d["heroku_weight"]) for d in steps] == [(10, 90), (50, 50), (100, 0)]
    assert all(d["bake_seconds"] == 300 for d in steps)
    assert p["approval"]["required"] is True and p["approval"]["states"] == ["Ask for approval to switch the data stores"]
    waits = {w["state"]: w for w in p["waits"]}
    assert waits["Bake at this weight"]["times"] == 3 and waits["Bake at this weight"]["seconds"] == 300
    e = p["estimates"]
    assert 100 < e["state_transitions"] < 2000
    assert e["cost_usd"] == round(e["state_transitions"] * 0.025 / 1000, 4)
    assert e["dms_instance_hours"]["min"] > 0
    assert e["dms_instance_hours"]["max"] == pytest.approx(e["dms_instance_hours"]["min"] + 86400 / 3600, abs=0.02)
    assert e["duration_seconds"]["max"] - e["duration_seconds"]["min"] == 86400
    # the same, for a person (stderr with --json)
    for text in (f"heroku2aws/{APP}/config", f"h2a-{APP}-source", f"{APP}-worker", "state transitions ≈",
                 "DMS instance-hours", "Bake at this weight", "Ask for approval to switch the data stores"):
        assert text in err, text


def test_plan_without_json_prints_to_stdout(tmp_path, capsys):
    rc, out, _ = plan(capsys, "--input", str(write(tmp_path, PRODUCTION)))
    assert rc == 0
    assert f"h2a-{APP}" in out and "1. Validate input" in out and "7. Finalize" in out
    assert not out.strip().splitlines()[-1].startswith("{")


def test_dump_restore_creates_no_dms_and_costs_fewer_transitions():
    full = make_plan(validate(PRODUCTION), json.loads((ROOT / "statemachine" / "migration.asl.json").read_text()))
    dump = make_plan(validate(changed(database__strategy="dump-restore")),
                     json.loads((ROOT / "statemachine" / "migration.asl.json").read_text()))
    assert not any(r["kind"].startswith("DMS") for r in dump["resources"])
    assert dump["estimates"]["dms_instance_hours"] is None
    assert dump["estimates"]["state_transitions"] < full["estimates"]["state_transitions"]


def test_dms_cdc_says_the_load_and_change_capture_run_before_the_freeze():
    asl = json.loads((ROOT / "statemachine" / "migration.asl.json").read_text())
    cdc = make_plan(validate(changed(database__strategy="dms-cdc")), asl)
    full = make_plan(validate(PRODUCTION), asl)
    task = next(r for r in cdc["resources"] if r["kind"] == "DMS replication task")
    assert "full-load-and-cdc" in task["details"] and "while Heroku serves" in task["details"]
    assert "inside the write freeze" in next(r for r in full["resources"] if r["kind"] == "DMS replication task")["details"]
    prepare = next(s for s in cdc["stages"] if s["stage"] == 3)["does"]
    assert "keeps applying Heroku's changes" in prepare
    assert "keeps applying" not in next(s for s in full["stages"] if s["stage"] == 3)["does"]


def test_no_approval_no_procfile(tmp_path, capsys):
    doc = changed(approval__required=False, ecs__procfile=None)
    rc, out, _ = plan(capsys, "--input", str(write(tmp_path, doc)), "--json")
    assert rc == 0
    p = last_json(out)
    assert p["approval"]["states"] == []
    assert p["estimates"]["duration_seconds"]["min"] == p["estimates"]["duration_seconds"]["max"]
    services = [r for r in p["resources"] if r["kind"] == "ECS services"]
    assert services and "formation" in services[0]["details"]
    assert any("only known at run time" in n for n in p["notes"])


def test_estimates_follow_the_inputs_poll_interval(tmp_path, capsys):
    # Loops poll at least every timeout / N (the history bound), so the interval tells only above that floor.
    slow = changed(timings__poll_seconds=1800)
    rc, out, _ = plan(capsys, "--input", str(write(tmp_path, slow, "slow.json")), "--json")
    assert rc == 0
    p_slow = last_json(out)
    rc, out, _ = plan(capsys, "--input", str(write(tmp_path, PRODUCTION)), "--json")
    assert p_slow["estimates"]["state_transitions"] < last_json(out)["estimates"]["state_transitions"]
    history = p_slow["estimates"]["history_events_max"]
    assert history["this_input"] <= history["schema_worst_case"] < history["limit"] == 25000


# ------------------------------------------------------------------ invalid input


def test_invalid_input_exits_2_naming_each_field_path(tmp_path, capsys):
    doc = changed(ecs__subnets=["subnet-XYZ"], dns__ttl=300, database__strategy="logical")
    rc, out, err = plan(capsys, "--input", str(write(tmp_path, doc)), "--json")
    assert rc == 2
    for path in ("ecs.subnets[0]", "dns.ttl", "database.strategy"):
        assert path in err, path
    result = last_json(out)
    assert result["valid"] is False
    assert any(p.startswith("ecs.subnets[0]") for p in result["problems"])
    assert "subnet-XYZ" not in out + err


SECRETS = {
    "heroku__api_key_secret_arn": "HRKU-5f0d6c1e8a7b4c3d2e1f0a9b8c7d6e5f",
    "source__postgres_secret_arn": "postgres://u8x2:Tr0ub4dor-and-3@ec2-1-2-3-4.compute-1.amazonaws.com:5432/d5x",
    "ecs__image": "registry.example.com/app:latest?auth=https://deploy:hunter2-Zq9@registry.example.com",
}


@pytest.mark.parametrize("field", list(SECRETS))
def test_a_pasted_secret_is_never_echoed(tmp_path, capsys, field):
    secret = SECRETS[field]
    rc, out, err = plan(capsys, "--input", str(write(tmp_path, changed(**{field: secret}))), "--json")
    assert rc == 2
    path = field.replace("__", ".")
    assert path in err
    for fragment in (secret, secret[8:30], "Tr0ub4dor", "hunter2", "5f0d6c1e8a7b"):
        if fragment in secret:
            assert fragment not in out + err, f"{fragment!r} echoed"


def test_a_procfile_that_does_not_parse_is_invalid_input(tmp_path, capsys):
    doc = changed(ecs__procfile="web: bundle exec puma\nthis line has no colon\n")
    rc, _, err = plan(capsys, "--input", str(write(tmp_path, doc)))
    assert rc == 2
    assert "ecs.procfile line 2" in err and "this line" not in err


def test_not_json_and_missing_file_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"heroku": {"api_key_secret_arn": "HRKU-abc", }')
    rc, out, err = plan(capsys, "--input", str(bad))
    assert rc == 2 and "not JSON" in err and "HRKU" not in out + err
    rc, _, err = plan(capsys, "--input", str(tmp_path / "missing.json"))
    assert rc == 2 and "no such file" in err


def test_the_rehearsal_input_with_placeholders_is_refused_with_a_hint(capsys):
    rc, out, err = plan(capsys, "--input", str(ROOT / "events" / "rehearsal.json"), "--json")
    assert rc == 2
    assert "heroku.api_key_secret_arn" in err
    assert "{{placeholders}}: only `heroku2aws rehearse` fills them" in err


# ------------------------------------------------------------------ any ASL


def test_the_walk_counts_maps_nested_parallels_and_polling_loops():
    asl = {"QueryLanguage": "JSONata", "StartAt": "A", "States": {
        "A": {"Type": "Pass", "Next": "Fan out"},
        "Fan out": {"Type": "Map", "Items": "{% $cfg.traffic.steps %}", "MaxConcurrency": 1, "ItemProcessor": {
            "StartAt": "Both", "States": {"Both": {"Type": "Parallel", "End": True, "Branches": [
                {"StartAt": "L", "States": {"L": {"Type": "Pass", "End": True}}},
                {"StartAt": "R", "States": {"R": {"Type": "Wait", "Seconds": 5, "End": True}}}]}}}, "Next": "Check"},
        "Check": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sts:getCallerIdentity", "Next": "Done?"},
        "Done?": {"Type": "Choice", "Choices": [
            {"Condition": "{% $states.input.failed %}", "Next": "Broken"},
            {"Condition": "{% $states.input.ok %}", "Next": "Finish"}], "Default": "Wait a bit"},
        "Wait a bit": {"Type": "Wait", "Seconds": "{% $cfg.timings.poll_seconds %}", "Next": "Check"},
        "Broken": {"Type": "Fail", "Error": "Broken"},
        "Finish": {"Type": "Succeed"}}}
    p = make_plan(validate(PRODUCTION), asl)  # 3 traffic steps, poll every 30 s
    # A + Map + 3 × (Parallel + L + R) + Check + Done? + 2 polls × (Wait, Check, Done?) + Finish
    assert p["estimates"]["state_transitions"] == 1 + 1 + 3 * 3 + 1 + 1 + 2 * 3 + 1
    assert p["states_entered"]["R"] == 3 and "Broken" not in p["states_entered"]
    assert p["polls"][0]["polls"] == 2 and p["polls"][0]["choice"] == "Done?"
    assert p["estimates"]["duration_seconds"]["min"] >= 3 * 5 + 2 * 30
    assert p["estimates"]["dms_instance_hours"] is None


# ------------------------------------------------------------------ --preflight


def fake_preflight(monkeypatch, behaviour):
    module = types.ModuleType("heroku2aws.steps.preflight")
    module.run_preflight = behaviour
    monkeypatch.setitem(sys.modules, "heroku2aws.steps.preflight", module)
    monkeypatch.setattr(heroku2aws.steps, "preflight", module, raising=False)


def test_preflight_adds_the_write_freeze_and_the_formation(tmp_path, capsys, monkeypatch):
    seen = {}

    def run(cfg):
        import os

        seen["app"], seen["endpoint"] = cfg.heroku.app, os.environ.get("AWS_ENDPOINT_URL")
        return {"app": cfg.heroku.app, "warnings": ["the source has 3 tables without a primary key"],
                "processes": [{"type": "web", "quantity": 2, "size": "standard-2x", "cpu": 512, "memory": 1024},
                              {"type": "clock", "quantity": 1, "size": "standard-1x", "cpu": 256, "memory": 512}],
                "estimates": {"postgres_copy_seconds": 1200, "redis_copy_seconds": 30, "verify_seconds": 240,
                              "write_freeze_seconds": 1800}}

    fake_preflight(monkeypatch, run)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    rc, out, err = plan(capsys, "--input", str(write(tmp_path, PRODUCTION)), "--preflight", "--endpoint-url",
                        "http://127.0.0.1:1", "--json")
    assert rc == 0, err
    assert seen == {"app": APP, "endpoint": "http://127.0.0.1:1"}
    import os

    assert "AWS_ENDPOINT_URL" not in os.environ  # restored
    p = last_json(out)
    assert p["estimates"]["write_freeze_seconds"] == 1800
    assert ("ECS service", f"{APP}-clock") in {(r["kind"], r["name"]) for r in p["resources"]}
    # 1,200 s of full load, polled every 30 s for the first 300 s, then every 10 % of the time waited: 24 polls
    assert any(poll["expecting"].startswith("DMS full load (preflight") and poll["polls"] == 24 for poll in p["polls"]), \
        p["polls"]
    assert "write freeze ≈ 30 min" in err and "without a primary key" in err


def test_the_plan_lists_the_freeze_components_and_each_dms_choice(tmp_path, capsys, monkeypatch):
    """Issue 18, 4-5: the freeze estimate's components with what each is computed from, and the DMS full load's
    MaxFullLoadSubTasks and ranges with their reasons and AWS's guidance, as preflight gave them."""
    components = [{"name": "freeze entry", "seconds": 20, "basis": "assumed: Heroku maintenance"},
                  {"name": "Postgres: DMS full load", "seconds": 640, "basis": "12 GB at 2 MB/s x 8 subtasks"},
                  {"name": "switch", "seconds": 300, "basis": "assumed: redeploy"}]
    dms = {"MaxFullLoadSubTasks": 8, "why": "14 load unit(s); capped by the replication instance",
           "ranges": [{"table": "public.events", "segments": 4, "columns": ["id"], "why": "40.0 GiB, above its share"}],
           "not_split": {"public.blobs": "DMS cannot range on k (text)"},
           "guidance": ["https://docs.aws.amazon.com/dms/latest/userguide/CHAP_Tasks.CustomizingTasks.TaskSettings"
                        ".FullLoad.html"]}

    def run(cfg):
        return {"app": cfg.heroku.app, "warnings": [], "postgres": {"dms_full_load": dms},
                "estimates": {"postgres_copy_seconds": 640, "redis_copy_seconds": 0, "verify_seconds": 60,
                              "write_freeze_seconds": 960, "components": components,
                              "basis": "an estimate: the sizes preflight measured divided by rates measured on X"}}

    fake_preflight(monkeypatch, run)
    rc, out, err = plan(capsys, "--input", str(write(tmp_path, PRODUCTION)), "--preflight", "--json")
    assert rc == 0, err
    p = last_json(out)
    assert p["estimates"]["write_freeze"]["components"] == components
    assert p["estimates"]["dms_full_load"]["MaxFullLoadSubTasks"] == 8
    assert "write freeze ≈ 16 min (an estimate)" in err
    assert "Postgres: DMS full load: ≈ 11 min — 12 GB at 2 MB/s x 8 subtasks" in err
    assert "an estimate: the sizes preflight measured" in err
    assert "MaxFullLoadSubTasks 8 — 14 load unit(s); capped by the replication instance" in err
    assert "public.events split into 4 parallel-load ranges on id: 40.0 GiB, above its share" in err
    assert "public.blobs loaded whole: DMS cannot range on k (text)" in err
    assert "AWS guidance: https://docs.aws.amazon.com/dms/latest/userguide/" in err


def test_a_preflight_refusal_exits_1_and_lists_the_problems(tmp_path, capsys, monkeypatch):
    def run(cfg):
        raise PreflightFailed("preflight refused the migration of acme-storefront (1 problem): 1) dms-cdc needs REPLICATION")

    fake_preflight(monkeypatch, run)
    rc, out, err = plan(capsys, "--input", str(write(tmp_path, PRODUCTION)), "--preflight", "--json")
    assert rc == 1
    p = last_json(out)
    assert p["preflight"]["ok"] is False and p["preflight"]["ran"] is True
    assert "needs REPLICATION" in err


def test_a_deadline_shorter_than_what_it_bounds_is_a_warning(tmp_path, capsys):
    rc, out, err = plan(capsys, "--input", str(write(tmp_path, changed(timings__dms_timeout_seconds=120))), "--json")
    assert rc == 0
    p = last_json(out)
    assert any("timings.dms_timeout_seconds is 120 s" in w for w in p["warnings"])
    assert "would reach its deadline" in err
    assert last_json(plan(capsys, "--input", str(write(tmp_path, PRODUCTION, "p.json")), "--json")[1])["warnings"] == []
