"""``aws-services-paused``: the ECS services' desired counts back, redeployed when older than the secret (moto)."""

from __future__ import annotations

import time

import boto3
import pytest
from helpers import APP, EXECUTION_ID, run_compensation, with_changes

from heroku2aws.steps.import_config import upsert_secret


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
    progress = run_compensation("aws-services-paused", paused["item"], paused["cfg"])
    after = _services(paused["cluster"])
    assert {n: s["desiredCount"] for n, s in after.items()} == {f"{APP}-web": 2, f"{APP}-worker": 1}
    assert all(after[n]["deployments"][0]["id"] != before[n] for n in before)
    assert len(progress.actions) == 2 and all("with a new deployment" in a for a in progress.actions)


def test_given_services_already_restored_when_undone_again_then_nothing_is_redeployed(paused):
    run_compensation("aws-services-paused", paused["item"], paused["cfg"])
    ids = {n: s["deployments"][0]["id"] for n, s in _services(paused["cluster"]).items()}
    again = run_compensation("aws-services-paused", paused["item"], paused["cfg"])
    assert again.actions == []
    assert {n: s["deployments"][0]["id"] for n, s in _services(paused["cluster"]).items()} == ids


def test_given_deleted_services_or_cluster_when_undone_then_nothing_fails(paused):
    ecs = boto3.client("ecs")
    ecs.delete_service(cluster=paused["cluster"], service=f"{APP}-worker", force=True)
    progress = run_compensation("aws-services-paused", paused["item"], paused["cfg"])
    assert progress.actions == [f"service {APP}-web back to 2 task(s) with a new deployment"]
    gone = {**paused["item"], "cluster": paused["cluster"].replace("acme-storefront", "no-such-cluster")}
    assert run_compensation("aws-services-paused", gone, paused["cfg"]).actions == []
