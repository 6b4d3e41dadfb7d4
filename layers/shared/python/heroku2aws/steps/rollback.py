"""Compensations: undo what the execution's ledger holds, newest first.

The ledger is written *ahead* of each stage (what the stage may create is recorded before it is
created), so every compensation must accept that its resource may not exist, may exist only in
part, or may already be half deleted. Each one is idempotent: "not found" is success. Slow
deletions (a DMS instance takes minutes) are not waited for here: the function reports them as
pending and the state machine calls it again after a Wait.

A pass is only "done" once nothing it did changed anything: either it did nothing, or it did exactly
what the previous pass did (notes that repeat, such as "kept secret …"). A resource whose create call
was in flight when a Parallel branch failed can appear just after a pass; the confirming pass finds it.

Event: ``{"ledger": [...], "input": <execution input>, "failure": {...}, "execution_id",
"previous_actions": [str] | null}``.
Returns: ``{"done": bool, "pending": [str], "actions": [str]}`` — names and ids only.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
from botocore.exceptions import ClientError

from .obs import get_logger

log = get_logger("rollback")

MANAGED_TAG = "heroku2aws:app"
SECRET_MANAGED_TAG = "heroku2aws:managed"


class Progress:
    def __init__(self) -> None:
        self.pending: list[str] = []
        self.actions: list[str] = []

    def did(self, what: str) -> None:
        self.actions.append(what)
        log.info("compensation", extra={"action": what})

    def wait(self, what: str) -> None:
        self.pending.append(what)


def _code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


_GONE = {"ResourceNotFoundException", "ResourceNotFoundFault", "ServiceNotFoundException",
         "ServiceNotActiveException", "ClusterNotFoundException"}


def _gone(exc: ClientError) -> bool:
    return _code(exc) in _GONE


# ------------------------------------------------------------------------------ config secret


def config_secret_name(app: str) -> str:
    return f"heroku2aws/{app}/config"


def undo_config_secret(item: dict, cfg: dict, progress: Progress) -> None:
    if cfg.get("rollback", {}).get("keep_secret"):
        progress.did(f"kept secret {config_secret_name(item['app'])} (rollback.keep_secret)")
        return
    sm = boto3.client("secretsmanager")
    name = config_secret_name(item["app"])
    try:
        desc = sm.describe_secret(SecretId=name)
    except ClientError as exc:
        if _code(exc) == "ResourceNotFoundException":
            return
        raise
    if desc.get("DeletedDate"):
        return
    tags = {t["Key"]: t["Value"] for t in desc.get("Tags", [])}
    # Only the secret the workflow created (heroku2aws:managed=true, set by config_import): a user's own secret
    # tagged heroku2aws:app under the same prefix is never deleted (and the role may not delete it either).
    if tags.get(MANAGED_TAG) != item["app"] or tags.get(SECRET_MANAGED_TAG) != "true":
        progress.did(f"left secret {name}: not tagged {SECRET_MANAGED_TAG}=true and {MANAGED_TAG}={item['app']}")
        return
    # A recovery window, not a force delete: a person can still restore it for 7 days.
    sm.delete_secret(SecretId=desc["ARN"], RecoveryWindowInDays=7)
    progress.did(f"deleted secret {name} (recoverable for 7 days)")


# ------------------------------------------------------------------------------ ECS services


def _managed(tags: list[dict] | None, app: str) -> bool:
    return any((t.get("key") or t.get("Key")) == MANAGED_TAG and (t.get("value") or t.get("Value")) == app
               for t in tags or [])


def undo_ecs_services(item: dict, cfg: dict, progress: Progress) -> None:
    ecs = boto3.client("ecs")
    app, cluster = item["app"], item["cluster"]
    arns: list[str] = []
    try:
        for page in ecs.get_paginator("list_services").paginate(cluster=cluster):
            arns += page["serviceArns"]
    except ClientError as exc:
        if _code(exc) == "ClusterNotFoundException":
            return
        raise
    for i in range(0, len(arns), 10):
        described = ecs.describe_services(cluster=cluster, services=arns[i:i + 10], include=["TAGS"])["services"]
        for svc in described:
            if svc.get("status") != "ACTIVE" or not _managed(svc.get("tags"), app):
                continue
            keep = cfg.get("rollback", {}).get("keep_services")
            if svc.get("desiredCount", 0):
                ecs.update_service(cluster=cluster, service=svc["serviceName"], desiredCount=0)
                progress.did(f"scaled service {svc['serviceName']} to 0")
            if keep:
                progress.did(f"kept service {svc['serviceName']} at 0 (rollback.keep_services)")
                continue
            try:
                ecs.delete_service(cluster=cluster, service=svc["serviceName"], force=True)
                progress.did(f"deleted service {svc['serviceName']}")
            except ClientError as exc:
                if not _gone(exc):
                    raise
    # Task definitions of the app's families (<app>-<type>), tagged by the plan.
    families = ecs.list_task_definition_families(familyPrefix=f"{app}-", status="ACTIVE").get("families", [])
    for family in families:
        for arn in ecs.list_task_definitions(familyPrefix=family, status="ACTIVE").get("taskDefinitionArns", []):
            td = ecs.describe_task_definition(taskDefinition=arn, include=["TAGS"])
            if not _managed(td.get("tags"), app):
                continue
            ecs.deregister_task_definition(taskDefinition=arn)
            progress.did(f"deregistered {arn.rsplit('/', 1)[-1]}")


# ------------------------------------------------------------------------------ DMS


def undo_dms(item: dict, cfg: dict, progress: Progress) -> None:
    """Task, then endpoints, then instance, then subnet group: each only once the previous is gone."""
    dms = boto3.client("dms")
    ident = item["id"]
    tasks = _describe(lambda: dms.describe_replication_tasks(
        Filters=[{"Name": "replication-task-id", "Values": [ident]}], WithoutSettings=True).get("ReplicationTasks", []))
    for task in tasks:
        status = task["Status"]
        if status in {"running", "starting"}:
            dms.stop_replication_task(ReplicationTaskArn=task["ReplicationTaskArn"])
            progress.did(f"stopping DMS task {ident}")
            progress.wait(f"DMS task {ident} stopping")
        elif status in {"stopping", "deleting", "creating", "modifying", "moving"}:
            progress.wait(f"DMS task {ident} {status}")
        else:
            _ignore_gone(lambda t=task: dms.delete_replication_task(ReplicationTaskArn=t["ReplicationTaskArn"]))
            progress.did(f"deleting DMS task {ident}")
            progress.wait(f"DMS task {ident} deleting")
    if progress.pending:
        return
    for suffix in ("source", "target"):
        endpoint_id = f"{ident}-{suffix}"
        found = _describe(lambda e=endpoint_id: dms.describe_endpoints(
            Filters=[{"Name": "endpoint-id", "Values": [e]}]).get("Endpoints", []))
        for endpoint in found:
            if endpoint.get("Status") == "deleting":
                progress.wait(f"DMS endpoint {endpoint_id} deleting")
                continue
            _ignore_gone(lambda e=endpoint: dms.delete_endpoint(EndpointArn=e["EndpointArn"]))
            progress.did(f"deleted DMS endpoint {endpoint_id}")
    instances = _describe(lambda: dms.describe_replication_instances(
        Filters=[{"Name": "replication-instance-id", "Values": [ident]}]).get("ReplicationInstances", []))
    for instance in instances:
        if instance.get("ReplicationInstanceStatus") != "deleting":
            _ignore_gone(lambda i=instance: dms.delete_replication_instance(
                ReplicationInstanceArn=i["ReplicationInstanceArn"]))
            progress.did(f"deleting DMS instance {ident}")
        progress.wait(f"DMS instance {ident} deleting")
    if instances:
        return
    groups = _describe(lambda: dms.describe_replication_subnet_groups(
        Filters=[{"Name": "replication-subnet-group-id", "Values": [ident]}]).get("ReplicationSubnetGroups", []))
    for _group in groups:
        _ignore_gone(lambda: dms.delete_replication_subnet_group(ReplicationSubnetGroupIdentifier=ident))
        progress.did(f"deleted DMS subnet group {ident}")


def _describe(call: Callable[[], list]) -> list:
    try:
        return call()
    except ClientError as exc:
        if _gone(exc):
            return []
        raise


def _ignore_gone(call: Callable[[], Any]) -> None:
    try:
        call()
    except ClientError as exc:
        if not _gone(exc):
            raise


# ------------------------------------------------------------------------------ dispatcher

COMPENSATIONS: dict[str, Callable[[dict, dict, Progress], None]] = {
    "config-secret": undo_config_secret,
    "ecs-services": undo_ecs_services,
    "dms": undo_dms,
}


def register(kind: str) -> Callable:
    def deco(fn: Callable[[dict, dict, Progress], None]) -> Callable[[dict, dict, Progress], None]:
        COMPENSATIONS[kind] = fn
        return fn
    return deco


def roll_back(ledger: list[dict], cfg: dict, previous_actions: list[str] | None = None) -> dict:
    """Run every compensation, newest first. A compensation that is still in progress (pending)
    blocks the older ones, which may depend on it being gone (DMS instance before subnet group).
    Done when nothing is pending and the pass changed nothing (see the module docstring)."""
    progress = Progress()
    for item in reversed(ledger or []):
        kind = item.get("kind")
        fn = COMPENSATIONS.get(kind)
        if fn is None:
            raise ValueError(f"no compensation for ledger entry of kind {kind!r}")
        fn(item, cfg, progress)
        if progress.pending:
            break
    settled = not progress.actions or progress.actions == (previous_actions or None)
    result = {"done": not progress.pending and settled, "pending": progress.pending, "actions": progress.actions}
    log.info("rollback pass", extra={"result": json.dumps(result)})
    return result
from . import compensations  # noqa: E402,F401
