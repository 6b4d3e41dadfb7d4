"""Compensations for stages 4-6 (DNS, Heroku, secret switch, paused services): each twice = once, each
safe when its resource is gone. AWS is moto in-process; Heroku is FakeHeroku."""

from __future__ import annotations

import json
import time

import boto3
import pytest
from fn2_helpers import APP, EXECUTION_ID, create_secret, load_handler, with_changes

import heroku2aws.compensations.dns as comp
from heroku2aws.compensations import COMPENSATIONS, Progress
from heroku2aws.contracts.errors import HerokuControlFailed
from heroku2aws.contracts.ledger import parse_entry
from heroku2aws.steps.import_config import upsert_secret
from heroku2aws.steps.rollback import roll_back
from heroku2aws.steps.switch_secrets import switch
from heroku2aws_rehearsal.heroku_api import FakeHeroku

ZONE = "acme-example.com"
RECORD = "shop.acme-example.com"
HEROKU_TARGET = "tranquil-reef-8k2lq9x1vbn3m5c7z4a6s0d8.herokudns.com"
ALB = "acme-storefront-1234567890.us-east-1.elb.amazonaws.com"
TOKEN = "HRKU-comp-0123456789abcdef0123456789abcdef"


def _run(kind: str, item: dict, cfg: dict) -> Progress:
    progress = Progress()
    COMPENSATIONS[kind](parse_entry({"kind": kind, **item}), cfg, progress)
    return progress


def test_given_the_rollback_module_when_imported_then_every_stage_4_to_6_kind_is_registered():
    assert {"dns", "heroku-maintenance", "heroku-formation", "secret-switch", "aws-services-paused",
            "target-database", "target-redis"} <= set(COMPENSATIONS)


# ------------------------------------------------------------------------------ DNS


@pytest.fixture
def zone(moto) -> str:
    r53 = boto3.client("route53")
    return r53.create_hosted_zone(Name=ZONE, CallerReference="t")["HostedZone"]["Id"].split("/")[-1]


def _records(zone_id: str) -> list[dict]:
    sets = boto3.client("route53").list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    return sorted((rs for rs in sets if rs["Name"] == RECORD + "."), key=lambda rs: rs.get("SetIdentifier", ""))


def _weighted(zone_id: str, original: list[dict], aws_weight: int) -> None:
    """What stage 4 does: the plain CNAME out, weighted heroku/aws CNAMEs in (one batch), then a step."""
    changes = [{"Action": "DELETE", "ResourceRecordSet": rs} for rs in original if not rs.get("SetIdentifier")]
    for ident, weight, value in (("heroku", 100 - aws_weight, HEROKU_TARGET), ("aws", aws_weight, ALB)):
        changes.append({"Action": "UPSERT", "ResourceRecordSet": {
            "Name": RECORD, "Type": "CNAME", "SetIdentifier": ident, "Weight": weight, "TTL": 60,
            "ResourceRecords": [{"Value": value}]}})
    boto3.client("route53").change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": changes})


def _dns_item(zone_id: str, original: list[dict]) -> dict:
    # the ledger item passes through JSON (Step Functions state)
    return json.loads(json.dumps({"zone_id": zone_id, "record_name": RECORD, "original": original,
                                  "heroku_target": HEROKU_TARGET, "alb_target": ALB, "ttl": 60}))


@pytest.fixture
def plain_cname(zone) -> list[dict]:
    boto3.client("route53").change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [{
        "Action": "CREATE", "ResourceRecordSet": {"Name": RECORD, "Type": "CNAME", "TTL": 300,
                                                  "ResourceRecords": [{"Value": HEROKU_TARGET}]}}]})
    return _records(zone)


def test_given_weighted_records_when_dns_is_undone_then_the_original_cname_is_back_exactly(zone, plain_cname, cfg):
    _weighted(zone, plain_cname, 50)
    progress = _run("dns", _dns_item(zone, plain_cname), cfg)
    assert _records(zone) == plain_cname
    assert progress.pending == []
    assert len(progress.actions) == 1 and "deleted 2" in progress.actions[0]


def test_given_dns_undone_when_undone_again_then_nothing_is_changed(zone, plain_cname, cfg):
    _weighted(zone, plain_cname, 100)
    _run("dns", _dns_item(zone, plain_cname), cfg)
    again = _run("dns", _dns_item(zone, plain_cname), cfg)
    assert again.actions == [] and again.pending == []
    assert _records(zone) == plain_cname


def test_given_a_record_that_did_not_exist_before_when_dns_is_undone_then_the_weighted_records_go(zone, cfg):
    _weighted(zone, [], 10)
    progress = _run("dns", _dns_item(zone, []), cfg)
    assert _records(zone) == []
    assert "deleted 2" in progress.actions[0]


def test_given_an_earlier_weighted_original_when_dns_is_undone_then_its_weights_come_back(zone, cfg):
    _weighted(zone, [], 0)  # an earlier, interrupted run left heroku 100 / aws 0
    original = _records(zone)
    _weighted(zone, original, 50)
    _run("dns", _dns_item(zone, original), cfg)
    assert _records(zone) == original


def test_given_a_deleted_hosted_zone_when_dns_is_undone_then_it_is_reported_not_raised(zone, cfg):
    boto3.client("route53").delete_hosted_zone(Id=zone)
    progress = _run("dns", _dns_item(zone, []), cfg)
    assert progress.pending == []
    assert "no longer exists" in progress.actions[0]


def test_given_a_change_that_stays_pending_when_dns_is_undone_then_rollback_waits(zone, plain_cname, cfg, monkeypatch):
    real = boto3.client("route53")

    class Pending:
        def __getattr__(self, name):
            return getattr(real, name)

        def change_resource_record_sets(self, **kw):
            out = real.change_resource_record_sets(**kw)
            out["ChangeInfo"]["Status"] = "PENDING"
            return out

        def get_change(self, Id):  # noqa: N803
            return {"ChangeInfo": {"Id": Id, "Status": "PENDING"}}

    monkeypatch.setattr(comp, "client", lambda service, **kw: Pending())
    monkeypatch.setattr(comp, "DNS_INSYNC_WAIT", 0.2)
    monkeypatch.setattr(comp, "DNS_POLL", 0.05)
    _weighted(zone, plain_cname, 50)
    progress = _run("dns", _dns_item(zone, plain_cname), cfg)
    assert len(progress.pending) == 1 and "PENDING" in progress.pending[0]
    assert _records(zone) == plain_cname


# ------------------------------------------------------------------------------ Heroku


@pytest.fixture
def heroku():
    with FakeHeroku(token=TOKEN) as fake:
        fake.add_app(APP, maintenance=True, formation=[
            {"type": "web", "quantity": 0, "size": "standard-2X"}, {"type": "worker", "quantity": 0,
                                                                     "size": "standard-1X"}])
        yield fake


@pytest.fixture
def heroku_cfg(cfg, moto, heroku) -> dict:
    arn = create_secret(f"heroku2aws/{APP}/heroku-api-key", TOKEN)
    return with_changes(cfg, heroku__api_key_secret_arn=arn, heroku__api_url=heroku.url)


FORMATION = [{"type": "web", "quantity": 3, "size": "standard-2X", "command": "puma"},
             {"type": "worker", "quantity": 1, "size": "standard-1X", "command": "sidekiq"}]


def test_given_a_frozen_app_when_formation_is_undone_then_the_dynos_come_back_once(heroku_cfg, heroku):
    first = _run("heroku-formation", {"app": APP, "formation": FORMATION}, heroku_cfg)
    assert first.actions == [f"restored Heroku formation of {APP}: web=3, worker=1"]
    heroku.clear_requests()
    second = _run("heroku-formation", {"app": APP, "formation": FORMATION}, heroku_cfg)
    assert second.actions == [] and second.pending == []
    assert [r for r in heroku.requests if r["method"] == "PATCH"] == []
    assert {t: p["quantity"] for t, p in heroku.get_app_state(APP)["formation"].items()} == {"web": 3, "worker": 1}


def test_given_maintenance_on_when_it_is_undone_then_it_is_back_off_once(heroku_cfg, heroku):
    first = _run("heroku-maintenance", {"app": APP, "was": False}, heroku_cfg)
    assert first.actions == [f"Heroku maintenance mode of {APP} back off"]
    assert heroku.get_app_state(APP)["maintenance"] is False
    second = _run("heroku-maintenance", {"app": APP, "was": False}, heroku_cfg)
    assert second.actions == []


def test_given_an_app_that_was_in_maintenance_already_when_undone_then_it_stays_on(heroku_cfg, heroku):
    progress = _run("heroku-maintenance", {"app": APP, "was": True}, heroku_cfg)
    assert progress.actions == []
    assert heroku.get_app_state(APP)["maintenance"] is True


def test_given_a_deleted_heroku_app_when_undone_then_it_is_reported_not_raised(heroku_cfg):
    cfg = with_changes(heroku_cfg, heroku__app="gone-app")
    f = _run("heroku-formation", {"app": "gone-app", "formation": FORMATION}, cfg)
    m = _run("heroku-maintenance", {"app": "gone-app", "was": False}, cfg)
    assert "not found" in f.actions[0] and "not found" in m.actions[0]
    assert f.pending == m.pending == []


def test_given_a_heroku_outage_when_undone_then_rollback_waits_and_tries_again(heroku_cfg, heroku, no_backoff):
    heroku.fail_next(f"/apps/{APP}", times=20, status=503)
    progress = _run("heroku-maintenance", {"app": APP, "was": False}, heroku_cfg)
    assert len(progress.pending) == 1 and "503" in progress.pending[0]
    assert heroku.get_app_state(APP)["maintenance"] is True


def test_given_a_revoked_api_key_when_undone_then_it_raises_for_a_person(heroku_cfg, heroku):
    arn = create_secret(f"heroku2aws/{APP}/revoked", "HRKU-revoked-0123456789abcdef0123456789ab")
    with pytest.raises(HerokuControlFailed, match="401"):
        _run("heroku-maintenance", {"app": APP, "was": False}, with_changes(heroku_cfg, heroku__api_key_secret_arn=arn))


# ------------------------------------------------------------------------------ secret switch


@pytest.fixture
def switched(cfg, moto) -> dict:
    src = create_secret(f"heroku2aws/{APP}/source-postgres", {"host": "src.example.com", "port": 5432,
                        "username": "u", "password": "src-pw-123", "dbname": "d"})
    tgt = create_secret(f"heroku2aws/{APP}/target-postgres", {"host": "rds.example.com", "port": 5432,
                        "username": "u", "password": "tgt-pw-456", "dbname": "d"})
    doc = with_changes(cfg, source__postgres_secret_arn=src, target__postgres_secret_arn=tgt,
                       source__redis_secret_arn=None, target__redis_secret_arn=None)
    upsert_secret(f"heroku2aws/{APP}/config", {"A": "1", "DATABASE_URL": "placeholder"}, APP, EXECUTION_ID)
    switch(APP, "target", tgt, None, EXECUTION_ID)
    return doc


def _database_url() -> str:
    sm = boto3.client("secretsmanager")
    return json.loads(sm.get_secret_value(SecretId=f"heroku2aws/{APP}/config")["SecretString"])["DATABASE_URL"]


def test_given_a_switched_secret_when_undone_then_it_names_the_source_again_once(switched):
    first = _run("secret-switch", {"app": APP}, switched)
    assert "back at the Heroku data stores" in first.actions[0]
    assert "src.example.com" in _database_url()
    second = _run("secret-switch", {"app": APP}, switched)
    assert second.actions == []


def test_given_no_config_secret_when_the_switch_is_undone_then_nothing_happens(cfg, moto):
    progress = _run("secret-switch", {"app": APP}, cfg)
    assert progress.actions == [] and progress.pending == []


# ------------------------------------------------------------------------------ paused AWS services


@pytest.fixture
def paused(cfg, moto) -> dict:
    ecs = boto3.client("ecs")
    cluster = ecs.create_cluster(clusterName="acme-storefront")["cluster"]["clusterArn"]
    ecs.register_task_definition(family=f"{APP}-web", containerDefinitions=[
        {"name": "web", "image": "nginx", "memory": 512}])
    for name, n in ((f"{APP}-web", 2), (f"{APP}-worker", 1)):
        ecs.create_service(cluster=cluster, serviceName=name, taskDefinition=f"{APP}-web", desiredCount=n)
        ecs.update_service(cluster=cluster, service=name, desiredCount=0)  # stage 6 pauses them
    time.sleep(1.1)  # moto keeps LastChangedDate to the second: the secret changes strictly after the deployments
    upsert_secret(f"heroku2aws/{APP}/config", {"DATABASE_URL": "x"}, APP, EXECUTION_ID)
    return {"cfg": with_changes(cfg, ecs__cluster_arn=cluster), "cluster": cluster,
            "item": {"cluster": cluster, "services": [{"name": f"{APP}-web", "desired": 2},
                                                      {"name": f"{APP}-worker", "desired": 1}]}}


def _services(cluster: str) -> dict:
    svcs = boto3.client("ecs").describe_services(cluster=cluster, services=[f"{APP}-web", f"{APP}-worker"])["services"]
    return {s["serviceName"]: s for s in svcs}


def test_given_paused_services_when_undone_then_counts_are_back_with_a_new_deployment(paused):
    before = {n: s["deployments"][0]["id"] for n, s in _services(paused["cluster"]).items()}
    progress = _run("aws-services-paused", paused["item"], paused["cfg"])
    after = _services(paused["cluster"])
    assert {n: s["desiredCount"] for n, s in after.items()} == {f"{APP}-web": 2, f"{APP}-worker": 1}
    assert all(after[n]["deployments"][0]["id"] != before[n] for n in before)
    assert len(progress.actions) == 2 and all("with a new deployment" in a for a in progress.actions)


def test_given_services_already_restored_when_undone_again_then_nothing_is_redeployed(paused):
    _run("aws-services-paused", paused["item"], paused["cfg"])
    ids = {n: s["deployments"][0]["id"] for n, s in _services(paused["cluster"]).items()}
    again = _run("aws-services-paused", paused["item"], paused["cfg"])
    assert again.actions == []
    assert {n: s["deployments"][0]["id"] for n, s in _services(paused["cluster"]).items()} == ids


def test_given_deleted_services_or_cluster_when_undone_then_nothing_fails(paused):
    ecs = boto3.client("ecs")
    ecs.delete_service(cluster=paused["cluster"], service=f"{APP}-worker", force=True)
    progress = _run("aws-services-paused", paused["item"], paused["cfg"])
    assert progress.actions == [f"service {APP}-web back to 2 task(s) with a new deployment"]
    gone = {**paused["item"], "cluster": paused["cluster"].replace("acme-storefront", "no-such-cluster")}
    assert _run("aws-services-paused", gone, paused["cfg"]).actions == []


# ------------------------------------------------------------------------------ the rollback function


def test_given_a_stage_4_to_6_ledger_when_rolled_back_twice_then_the_second_pass_does_nothing(
        zone, plain_cname, heroku_cfg, heroku, context):
    _weighted(zone, plain_cname, 100)
    ledger = [{"kind": "dns", **_dns_item(zone, plain_cname)},
              {"kind": "heroku-maintenance", "app": APP, "was": False},
              {"kind": "heroku-formation", "app": APP, "formation": FORMATION},
              {"kind": "secret-switch", "app": APP}]
    event = {"ledger": ledger, "input": heroku_cfg, "failure": {"Error": "DataMismatch"}, "execution_id": EXECUTION_ID}
    first = load_handler("rollback")(event, context)
    # a pass that changed something is not done: a confirming pass must find nothing left
    assert first["done"] is False and first["pending"] == []
    # newest first: formation before maintenance, both before DNS
    kinds = ["formation" if "formation" in a else "maintenance" if "maintenance" in a else "dns" for a in first["actions"]]
    assert kinds == ["formation", "maintenance", "dns"]
    second = roll_back(ledger, heroku_cfg, first["actions"])
    assert second.model_dump() == {"done": True, "pending": [], "actions": []}
    assert _records(zone) == plain_cname
    state = heroku.get_app_state(APP)
    assert state["maintenance"] is False and state["formation"]["web"]["quantity"] == 3
    assert TOKEN not in json.dumps([first, second.model_dump()])


def test_given_a_secret_that_lands_after_the_first_pass_when_rolled_back_again_then_the_confirming_pass_finds_it(moto):
    """A create in flight when a Parallel branch failed can land after a rollback pass: only a pass
    that changes nothing ends the rollback, so the late resource is found and deleted."""
    ledger = [{"kind": "config-secret", "app": APP}]
    first = roll_back(ledger, {})
    assert first.model_dump() == {"done": True, "pending": [], "actions": []}  # nothing there: nothing to confirm
    upsert_secret(f"heroku2aws/{APP}/config", {"A": "1"}, APP, EXECUTION_ID)  # the late create lands
    second = roll_back(ledger, {}, first.actions)
    assert second.done is False and second.actions == [f"deleted secret heroku2aws/{APP}/config (recoverable for 7 days)"]
    third = roll_back(ledger, {}, second.actions)
    assert third.model_dump() == {"done": True, "pending": [], "actions": []}


def test_given_notes_that_repeat_every_pass_when_rolled_back_twice_then_the_rollback_settles():
    ledger = [{"kind": "config-secret", "app": APP}]
    cfg = {"rollback": {"keep_secret": True}}
    first = roll_back(ledger, cfg)
    assert first.done is False and first.actions == [f"kept secret heroku2aws/{APP}/config (rollback.keep_secret)"]
    assert roll_back(ledger, cfg, first.actions).done is True
