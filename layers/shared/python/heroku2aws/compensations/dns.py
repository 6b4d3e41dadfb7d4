"""``dns``: the record back to what it was before the traffic shift, in one atomic change batch.

Records there now whose identity (name, type, set identifier) the original lacks are deleted (the weighted CNAMEs
``heroku``/``aws`` and a plain CNAME), the original records not there now (or different now) are UPSERTed.
Then ``GetChange`` until INSYNC for up to :data:`DNS_INSYNC_WAIT` s; still PENDING: ``progress.wait``.
Already original: nothing.
"""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import ClientError

from ..clients.aws import client, error_code
from ..clients.route53 import fqdn, record_sets
from ..contracts.ledger import DnsRecords
from .progress import Progress

DNS_INSYNC_WAIT = 30.0
DNS_POLL = 2.0


def _value(v: str) -> str:
    return str(v).strip().lower().rstrip(".")


def _canonical(rs: dict[str, Any]) -> tuple:
    alias = rs.get("AliasTarget") or None
    return (
        fqdn(rs.get("Name", "")), rs.get("Type"), rs.get("SetIdentifier") or None,
        None if rs.get("Weight") is None else int(rs["Weight"]),
        None if rs.get("TTL") is None else int(rs["TTL"]),
        tuple(sorted(_value(r.get("Value", "")) for r in rs.get("ResourceRecords") or [])),
        None if alias is None else (_value(alias.get("DNSName", "")), alias.get("HostedZoneId"),
                                    bool(alias.get("EvaluateTargetHealth"))),
    )


_RRSET_KEYS = ("Name", "Type", "SetIdentifier", "Weight", "Region", "GeoLocation", "Failover", "MultiValueAnswer",
               "TTL", "ResourceRecords", "AliasTarget", "HealthCheckId", "TrafficPolicyInstanceId",
               "CidrRoutingConfig", "GeoProximityLocation")


def _clean(rs: dict[str, Any]) -> dict[str, Any]:
    """A ResourceRecordSet fit for ChangeResourceRecordSets (integers where the API wants them)."""
    out = {k: rs[k] for k in _RRSET_KEYS if rs.get(k) is not None}
    for k in ("TTL", "Weight"):
        if k in out:
            out[k] = int(out[k])
    return out


def _key(rs: dict[str, Any]) -> tuple:
    return fqdn(rs.get("Name", "")), rs.get("Type"), rs.get("SetIdentifier") or None


def dns_changes(original: list[dict[str, Any]], current: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The change batch that turns ``current`` into ``original``, or ``[]``.

    Records there now whose identity (name, type, set identifier) the original lacks are DELETEd;
    original records that are absent or differ are UPSERTed (never a DELETE and a write of the same
    record in one batch).
    """
    original = [rs for rs in original or [] if rs.get("Type") == "CNAME"]
    ours = {None, "heroku", "aws"} | {rs.get("SetIdentifier") or None for rs in original}
    touchable = [rs for rs in current if rs.get("Type") == "CNAME" and (rs.get("SetIdentifier") or None) in ours]
    want = {_key(rs) for rs in original}
    have = {_canonical(rs) for rs in touchable}
    deletes = [{"Action": "DELETE", "ResourceRecordSet": _clean(rs)} for rs in touchable if _key(rs) not in want]
    upserts = [{"Action": "UPSERT", "ResourceRecordSet": _clean(rs)} for rs in original if _canonical(rs) not in have]
    return deletes + upserts


def undo_dns(item: DnsRecords, cfg: dict[str, Any], progress: Progress) -> None:
    r53 = client("route53", retrying=True)
    zone_id = item.zone_id.split("/")[-1]
    name = fqdn(item.record_name)
    try:
        current = record_sets(zone_id, name, r53)
    except ClientError as exc:
        if error_code(exc) == "NoSuchHostedZone":
            progress.did(f"hosted zone {zone_id} no longer exists: no DNS to restore")
            return
        raise
    changes = dns_changes(item.original, current)
    if not changes:
        return
    change = r53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={
        "Comment": "heroku2aws rollback: the record as it was before the migration", "Changes": changes})
    change_id = change["ChangeInfo"]["Id"]
    status = change["ChangeInfo"].get("Status")
    deleted = sum(c["Action"] == "DELETE" for c in changes)
    progress.did(f"restored DNS {name}: wrote {len(changes) - deleted} original record(s), deleted {deleted} "
                 f"(change {change_id.split('/')[-1]})")
    deadline = time.monotonic() + DNS_INSYNC_WAIT
    while status != "INSYNC" and time.monotonic() < deadline:
        time.sleep(DNS_POLL)
        status = r53.get_change(Id=change_id)["ChangeInfo"]["Status"]
    if status != "INSYNC":
        progress.wait(f"DNS change {change_id.split('/')[-1]} for {name} is {status}")
