"""Route 53 helpers written once: a record name in canonical form, one name's record sets."""

from __future__ import annotations

from typing import Any

from .aws import client

__all__ = ["fqdn", "record_sets"]


def fqdn(name: str) -> str:
    """Lower case, ``\\052`` as ``*``, with the trailing dot (the form Route 53 returns names in)."""
    name = str(name or "").strip().lower().replace("\\052", "*")
    return name if name.endswith(".") else name + "."


def record_sets(zone_id: str, name: str, route53: Any = None) -> list[dict[str, Any]]:
    """Every ResourceRecordSet named ``name`` (an :func:`fqdn`) in the zone, exactly as Route 53 returns them,
    following ``ListResourceRecordSets``' pages while they are still at that name."""
    route53 = route53 or client("route53")
    sets: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"HostedZoneId": zone_id, "StartRecordName": name}
    while True:
        page = route53.list_resource_record_sets(**kwargs)
        batch = page.get("ResourceRecordSets") or []
        sets += [rs for rs in batch if fqdn(rs["Name"]) == name]
        if (not page.get("IsTruncated") or (batch and fqdn(batch[-1]["Name"]) != name)
                or fqdn(page.get("NextRecordName", "")) != name):
            return sets
        kwargs.update(StartRecordName=page["NextRecordName"], StartRecordType=page["NextRecordType"])
        if page.get("NextRecordIdentifier"):
            kwargs["StartRecordIdentifier"] = page["NextRecordIdentifier"]
        else:
            kwargs.pop("StartRecordIdentifier", None)
