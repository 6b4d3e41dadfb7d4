"""``dms``: the DMS task, endpoints, replication instance and subnet group ``h2a-<app>``."""

from __future__ import annotations

from functools import partial
from typing import Any

from ..clients.aws import client
from ..contracts import names
from ..contracts.ledger import Dms
from .progress import Progress, describe_or_none, ignore_gone


def undo_dms(item: Dms, cfg: dict[str, Any], progress: Progress) -> None:
    """Task, then endpoints, then instance, then subnet group: each only once the previous is gone."""
    dms = client("dms")
    ident = item.id
    tasks = describe_or_none(lambda: dms.describe_replication_tasks(
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
            ignore_gone(partial(dms.delete_replication_task, ReplicationTaskArn=task["ReplicationTaskArn"]))
            progress.did(f"deleting DMS task {ident}")
            progress.wait(f"DMS task {ident} deleting")
    if progress.pending:
        return
    for side in ("source", "target"):
        endpoint_id = names.dms_endpoint_id(item.app, side)
        found = describe_or_none(partial(_listed, dms.describe_endpoints, "Endpoints", "endpoint-id", endpoint_id))
        for endpoint in found:
            if endpoint.get("Status") == "deleting":
                progress.wait(f"DMS endpoint {endpoint_id} deleting")
                continue
            ignore_gone(partial(dms.delete_endpoint, EndpointArn=endpoint["EndpointArn"]))
            progress.did(f"deleted DMS endpoint {endpoint_id}")
    instances = describe_or_none(lambda: dms.describe_replication_instances(
        Filters=[{"Name": "replication-instance-id", "Values": [ident]}]).get("ReplicationInstances", []))
    for instance in instances:
        if instance.get("ReplicationInstanceStatus") != "deleting":
            ignore_gone(partial(dms.delete_replication_instance,
                                ReplicationInstanceArn=instance["ReplicationInstanceArn"]))
            progress.did(f"deleting DMS instance {ident}")
        progress.wait(f"DMS instance {ident} deleting")
    if instances:
        return
    groups = describe_or_none(lambda: dms.describe_replication_subnet_groups(
        Filters=[{"Name": "replication-subnet-group-id", "Values": [ident]}]).get("ReplicationSubnetGroups", []))
    for _group in groups:
        ignore_gone(lambda: dms.delete_replication_subnet_group(ReplicationSubnetGroupIdentifier=ident))
        progress.did(f"deleted DMS subnet group {ident}")


def _listed(describe: Any, key: str, filter_name: str, ident: str) -> list[Any]:
    """What a DMS Describe* call lists under ``key`` for one identifier."""
    return list(describe(Filters=[{"Name": filter_name, "Values": [ident]}]).get(key, []))
