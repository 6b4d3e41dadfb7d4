"""``ecs-services`` (scale to 0 and delete the app's services, deregister its task definitions) and
``aws-services-paused`` (desired counts back, redeployed when older than the config secret's last change)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from ..clients.aws import client, error_code, is_not_found
from ..contracts import names
from ..contracts.ledger import AwsServicesPaused, EcsServices
from ..steps.check_services import DESCRIBE_BATCH
from ..steps.switch_secrets import describe
from .progress import Progress


def undo_ecs_services(item: EcsServices, cfg: dict[str, Any], progress: Progress) -> None:
    ecs = client("ecs")
    app, cluster = item.app, item.cluster
    arns: list[str] = []
    try:
        for page in ecs.get_paginator("list_services").paginate(cluster=cluster):
            arns += page["serviceArns"]
    except ClientError as exc:
        if error_code(exc) == "ClusterNotFoundException":
            return
        raise
    keep = cfg.get("rollback", {}).get("keep_services")
    for i in range(0, len(arns), DESCRIBE_BATCH):
        described = ecs.describe_services(cluster=cluster, services=arns[i:i + DESCRIBE_BATCH],
                                          include=["TAGS"])["services"]
        for svc in described:
            if svc.get("status") != "ACTIVE" or not names.is_app_resource(svc.get("tags"), app):
                continue
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
                if not is_not_found(exc):
                    raise
    # Task definitions of the app's families (<app>-<type>), tagged by the plan.
    families = ecs.list_task_definition_families(familyPrefix=names.ecs_family_prefix(app),
                                                 status="ACTIVE").get("families", [])
    for family in families:
        for arn in ecs.list_task_definitions(familyPrefix=family, status="ACTIVE").get("taskDefinitionArns", []):
            td = ecs.describe_task_definition(taskDefinition=arn, include=["TAGS"])
            if not names.is_app_resource(td.get("tags"), app):
                continue
            ecs.deregister_task_definition(taskDefinition=arn)
            progress.did(f"deregistered {arn.rsplit('/', 1)[-1]}")


def _secret_changed_at(cfg: dict[str, Any]) -> datetime | None:
    app = (cfg.get("heroku") or {}).get("app")
    if not app:
        return None
    return (describe(app) or {}).get("LastChangedDate")


def undo_services_paused(item: AwsServicesPaused, cfg: dict[str, Any], progress: Progress) -> None:
    ecs = client("ecs", retrying=True)
    cluster = item.cluster
    wanted = {s["name"]: int(s.get("desired") or 0) for s in item.services if s.get("name")}
    if not wanted:
        return
    changed_at = _secret_changed_at(cfg)
    service_names = sorted(wanted)
    for i in range(0, len(service_names), DESCRIBE_BATCH):
        try:
            described = ecs.describe_services(cluster=cluster, services=service_names[i:i + DESCRIBE_BATCH])["services"]
        except ClientError as exc:
            if error_code(exc) in ("ClusterNotFoundException", "ServiceNotFoundException"):
                return
            raise
        for svc in described:
            if svc.get("status") != "ACTIVE":
                continue
            name = svc["serviceName"]
            desired = wanted.get(name, wanted.get(svc.get("serviceArn", ""), 0))
            primary = next((d for d in svc.get("deployments") or [] if d.get("status") == "PRIMARY"), None)
            started = (primary or {}).get("createdAt")
            stale = bool(changed_at and started and started < changed_at)
            if svc.get("desiredCount") == desired and not stale:
                continue
            try:
                ecs.update_service(cluster=cluster, service=name, desiredCount=desired, forceNewDeployment=stale)
            except ClientError as exc:
                if error_code(exc) in ("ServiceNotFoundException", "ServiceNotActiveException"):
                    continue
                raise
            progress.did(f"service {name} back to {desired} task(s)" + (" with a new deployment" if stale else ""))
