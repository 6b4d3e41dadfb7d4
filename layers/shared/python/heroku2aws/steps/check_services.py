"""Stage 3, "Check the ECS services": are the services stable and their load-balancer targets healthy?

Event (built by the ASL)::

    {"input": <normalised execution input>,
     "services": ["<app>-web", ...]            # names or ARNs, or objects with "ServiceName"
                                               # (also {"service": {"ServiceName"}} as plan_services returns)
     "execution_id": "<execution ARN>"}

Return::

    {"stable": bool, "healthy": bool,
     "services": [{"name", "status", "desired", "running", "pending", "deployments", "rollout_state"}],
     "targets": [{"id", "port", "state", "reason"}]}

- ``stable``: every service is ACTIVE with exactly one deployment, that deployment is PRIMARY with
  ``rolloutState`` COMPLETED (or no rollout state), and ``runningCount == desiredCount``.
- ``healthy``: the input's target group has at least one registered target and every one is ``healthy``.

"Not yet" is an answer, never an error: the ASL polls with a deadline. Errors
(:class:`~heroku2aws.contracts.errors.ServicesNotReady`) only when waiting cannot help: a service missing or not
ACTIVE, a deployment the circuit breaker marked FAILED, or the target group gone. Other AWS errors
(throttling) propagate as boto3's ``ClientError`` for the ASL to retry.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from ..clients.aws import client, error_code
from ..contracts.errors import ServicesNotReady
from ..contracts.input import ExecutionInput
from ..contracts.results import CheckServicesResult, ServiceReport, TargetReport
from ..obs import get_logger

log = get_logger("check_services")

__all__ = ["check_services", "service_names"]

#: DescribeServices takes at most 10 services.
DESCRIBE_BATCH = 10
#: The codes of a target group that does not exist (ELBv2's model declares TargetGroupNotFoundException).
TARGET_GROUP_NOT_FOUND = ("TargetGroupNotFound", "TargetGroupNotFoundException")


def service_names(items: list[Any]) -> list[str]:
    """Service names (or ARNs) from the forms the ASL may pass."""
    names: list[str] = []
    for item in items:
        name = None
        if isinstance(item, str):
            name = item
        elif isinstance(item, dict):
            name = item.get("ServiceName") or item.get("serviceName") or item.get("name")
            inner = item.get("service") or item.get("Service")
            if not name and isinstance(inner, dict):
                name = inner.get("ServiceName") or inner.get("serviceName")
        if not name or not isinstance(name, str):
            raise ServicesNotReady(f"services[{len(names)}] names no ECS service")
        if name not in names:
            names.append(name)
    return names


def _service_report(svc: dict[str, Any]) -> tuple[ServiceReport, bool]:
    name = svc.get("serviceName", "?")
    status = svc.get("status")
    if status != "ACTIVE":
        raise ServicesNotReady(f"ECS service {name} is {status}, not ACTIVE")
    deployments = svc.get("deployments") or []
    primary = next((d for d in deployments if d.get("status") == "PRIMARY"), None)
    rollout = primary.get("rolloutState") if primary else None
    if rollout == "FAILED":
        reason = (primary or {}).get("rolloutStateReason") or "the deployment circuit breaker stopped it"
        raise ServicesNotReady(f"ECS service {name}: deployment FAILED: {reason}")
    desired = int(svc.get("desiredCount") or 0)
    running = int(svc.get("runningCount") or 0)
    stable = (primary is not None and len(deployments) == 1 and rollout in (None, "COMPLETED")
              and running == desired)
    return ServiceReport(name=name, status=status, desired=desired, running=running,
                         pending=int(svc.get("pendingCount") or 0), deployments=len(deployments),
                         rollout_state=rollout), stable


def check_services(cfg: ExecutionInput, services: list[Any], *, ecs=None, elbv2=None) -> CheckServicesResult:
    """Stable / healthy now (see the module docstring)."""
    ecs = ecs or client("ecs")
    elbv2 = elbv2 or client("elbv2")
    names = service_names(services)
    if not names:
        raise ServicesNotReady("no ECS service to check")
    reports: list[ServiceReport] = []
    stable = True
    for i in range(0, len(names), DESCRIBE_BATCH):
        batch = names[i:i + DESCRIBE_BATCH]
        try:
            resp = ecs.describe_services(cluster=cfg.ecs.cluster_arn, services=batch)
        except ClientError as exc:
            if error_code(exc) == "ClusterNotFoundException":
                raise ServicesNotReady(f"ECS cluster {cfg.ecs.cluster_arn} not found") from None
            raise
        failures = resp.get("failures") or []
        if failures:
            missing = ", ".join(f"{(f.get('arn') or '?').rsplit('/', 1)[-1]} ({f.get('reason', 'unknown')})"
                                for f in failures)
            raise ServicesNotReady(f"ECS services not found: {missing}")
        by_name = {s.get("serviceName"): s for s in resp.get("services") or []}
        by_arn = {s.get("serviceArn"): s for s in resp.get("services") or []}
        for name in batch:
            svc = by_name.get(name) or by_arn.get(name)
            if svc is None:
                raise ServicesNotReady(f"ECS service {name} not found")
            report, ok = _service_report(svc)
            reports.append(report)
            stable = stable and ok
    tg = cfg.load_balancer.target_group_arn
    try:
        health = elbv2.describe_target_health(TargetGroupArn=tg).get("TargetHealthDescriptions") or []
    except ClientError as exc:
        if error_code(exc) in TARGET_GROUP_NOT_FOUND:
            raise ServicesNotReady(f"target group {tg} not found") from None
        raise
    targets = [TargetReport(id=(d.get("Target") or {}).get("Id"), port=(d.get("Target") or {}).get("Port"),
                            state=(d.get("TargetHealth") or {}).get("State"),
                            reason=(d.get("TargetHealth") or {}).get("Reason")) for d in health]
    healthy = bool(targets) and all(t.state == "healthy" for t in targets)
    result = CheckServicesResult(stable=stable, healthy=healthy, services=reports, targets=targets)
    log.info("ECS services checked", extra=result.model_dump(mode="json", include={"stable", "healthy", "services"}))
    return result
