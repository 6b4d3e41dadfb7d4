"""Compensations for stages 4-6 (traffic shift, write freeze, data copy, secret switch).

Registered into :data:`heroku2aws.rollback.COMPENSATIONS` (imported at the bottom of
:mod:`heroku2aws.rollback`). The rollback runs them newest first with ``(item, cfg, progress)``,
where ``item`` is the ledger entry and ``cfg`` the execution input (a dict). Each one:

- is idempotent: a second run finds nothing left to do and reports nothing (``progress.did`` is
  called only for what it changes, or for what it had to leave to a person);
- is safe when its resource is absent (zone, record, app, secret, service, schema, server);
- calls ``progress.wait(...)`` when something is still in progress, so the state machine calls
  again after a Wait (which blocks the older entries until then).

Kinds (ledger items as the ASL writes them):

``dns`` ``{zone_id, record_name, original: [ResourceRecordSet], heroku_target, alb_target, ttl}``
    Route 53 back to ``original`` exactly, in ONE atomic change batch: the weighted CNAMEs
    ``heroku``/``aws`` (and a plain CNAME) that are there now and not in ``original`` are deleted,
    the ``original`` records not there now (or different now) are UPSERTed. Then ``GetChange`` until INSYNC for up to
    :data:`DNS_INSYNC_WAIT` s; still PENDING: ``progress.wait``. Already original: nothing.
``heroku-maintenance`` ``{app, was}``
    Maintenance mode back to ``was``.
``heroku-formation`` ``{app, formation: [{type, quantity, size}]}``
    Quantities and sizes back (process types the app no longer has are reported and left).
``secret-switch`` ``{app}``
    DATABASE_URL / REDIS_URL in ``heroku2aws/<app>/config`` back to the source (if the secret exists).
``aws-services-paused`` ``{cluster, services: [{name, desired}]}``
    Desired counts back; a new deployment when the running one predates the config secret's last
    change (so the tasks read the restored URLs). A deployment already newer than the secret: nothing.
``target-database`` ``{schemas: [...]}``
    The target Postgres emptied so a re-run starts clean: non-``public`` schemas ``DROP SCHEMA …
    CASCADE`` then ``CREATE SCHEMA``; in ``public`` every table, view, sequence, function and type
    (extension members left alone). Recorded only when preflight found the target empty. Sessions
    that hold locks on those objects (the app's tasks) are terminated when they block the drop.
``target-redis`` ``{}``
    ``FLUSHALL`` on the target Redis when it has keys (recorded only when preflight found it empty).

Heroku API errors: 429/5xx/unreachable (``HerokuApiError`` after the client's retries) wait and try again; an app that
no longer exists is nothing to do; anything else raises :class:`~heroku2aws.errors.HerokuControlFailed`
(a person is needed: restoring traffic to a Heroku app left in maintenance would be worse). Emptying the
targets never blocks the rollback: when it cannot be done it is reported ("NOT emptied"), and the next
preflight refuses a non-empty target.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from .errors import SecretSwitchFailed
from .obs import get_logger
from .rollback import Progress, register

log = get_logger("compensations")

DNS_INSYNC_WAIT = 30.0
DNS_POLL = 2.0
LOCK_TIMEOUT = "10s"
_BOTO = Config(retries={"mode": "standard", "max_attempts": 5})


def _code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


# ------------------------------------------------------------------------------ DNS


def _fqdn(name: str) -> str:
    name = str(name or "").strip().lower().replace("\\052", "*")
    return name if name.endswith(".") else name + "."


def _value(v: str) -> str:
    return str(v).strip().lower().rstrip(".")


def _canonical(rs: dict[str, Any]) -> tuple:
    alias = rs.get("AliasTarget") or None
    return (
        _fqdn(rs.get("Name", "")), rs.get("Type"), rs.get("SetIdentifier") or None,
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


def _record_sets(r53, zone_id: str, name: str) -> list[dict[str, Any]]:
    sets: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"HostedZoneId": zone_id, "StartRecordName": name}
    while True:
        page = r53.list_resource_record_sets(**kwargs)
        batch = page.get("ResourceRecordSets") or []
        sets += [rs for rs in batch if _fqdn(rs["Name"]) == name]
        if (not page.get("IsTruncated") or (batch and _fqdn(batch[-1]["Name"]) != name)
                or _fqdn(page.get("NextRecordName", "")) != name):
            return sets
        kwargs.update(StartRecordName=page["NextRecordName"], StartRecordType=page["NextRecordType"])
        if page.get("NextRecordIdentifier"):
            kwargs["StartRecordIdentifier"] = page["NextRecordIdentifier"]
        else:
            kwargs.pop("StartRecordIdentifier", None)


def _key(rs: dict[str, Any]) -> tuple:
    return _fqdn(rs.get("Name", "")), rs.get("Type"), rs.get("SetIdentifier") or None


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


@register("dns")
def undo_dns(item: dict, cfg: dict, progress: Progress) -> None:
    r53 = boto3.client("route53", config=_BOTO)
    zone_id = str(item["zone_id"]).split("/")[-1]
    name = _fqdn(item["record_name"])
    try:
        current = _record_sets(r53, zone_id, name)
    except ClientError as exc:
        if _code(exc) == "NoSuchHostedZone":
            progress.did(f"hosted zone {zone_id} no longer exists: no DNS to restore")
            return
        raise
    changes = dns_changes(item.get("original") or [], current)
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


# ------------------------------------------------------------------------------ Heroku


def _heroku(cfg: dict):
    from .heroku_control import client_for

    heroku = cfg.get("heroku") or {}
    return client_for(heroku["api_key_secret_arn"], heroku.get("api_url"))


def _heroku_call(app: str, what: str, progress: Progress, fn) -> Any:
    """Run ``fn``; a transient Heroku error waits, a missing app is reported; None in both cases."""
    from .errors import HerokuControlFailed
    from .heroku import HerokuApiError

    try:
        return fn()
    except HerokuApiError as exc:  # transient, after the client's own retries
        progress.wait(f"Heroku API unavailable for the {what} of {app} ({exc.status or 'unreachable'} {exc.id})")
        return None
    except HerokuControlFailed as exc:
        if exc.status == 404:
            progress.did(f"Heroku app {app} not found: no {what} to restore")
            return None
        raise


@register("heroku-formation")
def undo_heroku_formation(item: dict, cfg: dict, progress: Progress) -> None:
    from .heroku_control import restore_formation

    app = item["app"]
    formation = [f for f in item.get("formation") or [] if isinstance(f, dict) and f.get("type")]
    if not formation:
        return
    client = _heroku(cfg)
    result = _heroku_call(app, "formation", progress, lambda: restore_formation(client, app, formation))
    if result is None:
        return
    if result["changed"]:
        shown = ", ".join(f"{f['type']}={f['quantity']}" for f in result["formation"] if f["type"] in result["changed"])
        progress.did(f"restored Heroku formation of {app}: {shown}")
    if result["skipped"]:
        progress.did(f"Heroku app {app} no longer has process type(s) {', '.join(result['skipped'])}: left")


@register("heroku-maintenance")
def undo_heroku_maintenance(item: dict, cfg: dict, progress: Progress) -> None:
    from .heroku_control import set_maintenance

    app = item["app"]
    was = bool(item.get("was", False))
    client = _heroku(cfg)
    changed = _heroku_call(app, "maintenance mode", progress, lambda: set_maintenance(client, app, was))
    if changed:
        progress.did(f"Heroku maintenance mode of {app} back {'on' if was else 'off'}")


# ------------------------------------------------------------------------------ config secret


@register("secret-switch")
def undo_secret_switch(item: dict, cfg: dict, progress: Progress) -> None:
    from .switch_secrets import config_secret_name, describe, switch

    app = item["app"]
    if describe(app) is None:
        return
    source = cfg.get("source") or {}
    try:
        result = switch(app, "source", source["postgres_secret_arn"], source.get("redis_secret_arn"),
                        f"rollback:{app}")
    except SecretSwitchFailed as exc:
        progress.did(f"left secret {config_secret_name(app)}: {exc}")
        return
    if result["changed"]:
        progress.did(f"pointed {config_secret_name(app)} back at the Heroku data stores")


# ------------------------------------------------------------------------------ ECS services


def _secret_changed_at(cfg: dict) -> datetime | None:
    from .switch_secrets import describe

    app = (cfg.get("heroku") or {}).get("app")
    if not app:
        return None
    desc = describe(app)
    return (desc or {}).get("LastChangedDate")


@register("aws-services-paused")
def undo_services_paused(item: dict, cfg: dict, progress: Progress) -> None:
    ecs = boto3.client("ecs", config=_BOTO)
    cluster = item["cluster"]
    wanted = {s["name"]: int(s.get("desired") or 0) for s in item.get("services") or [] if s.get("name")}
    if not wanted:
        return
    changed_at = _secret_changed_at(cfg)
    names = sorted(wanted)
    for i in range(0, len(names), 10):
        try:
            described = ecs.describe_services(cluster=cluster, services=names[i:i + 10])["services"]
        except ClientError as exc:
            if _code(exc) in ("ClusterNotFoundException", "ServiceNotFoundException"):
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
                if _code(exc) in ("ServiceNotFoundException", "ServiceNotActiveException"):
                    continue
                raise
            progress.did(f"service {name} back to {desired} task(s)" + (" with a new deployment" if stale else ""))


# ------------------------------------------------------------------------------ target data stores


_SYSTEM = ("pg_catalog", "information_schema", "pg_toast")

# Application objects of one schema that no extension owns, with the DROP statement for each kind.
_PUBLIC_OBJECTS = """
SELECT kind, name, args FROM (
  SELECT CASE c.relkind WHEN 'v' THEN 1 WHEN 'm' THEN 1 WHEN 'f' THEN 2 ELSE 2 END AS ord,
         CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'f' THEN 'FOREIGN TABLE'
                        WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS kind,
         c.relname AS name, NULL::text AS args
    FROM pg_catalog.pg_class c
   WHERE c.relnamespace = %(ns)s AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
     AND NOT c.relispartition
     AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::regclass
                       AND d.objid = c.oid AND d.objsubid = 0 AND d.deptype IN ('e', 'a', 'i'))
  UNION ALL
  SELECT 3, CASE p.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE' ELSE 'FUNCTION' END,
         p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid)
    FROM pg_catalog.pg_proc p
   WHERE p.pronamespace = %(ns)s
     AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_proc'::regclass
                       AND d.objid = p.oid AND d.deptype = 'e')
  UNION ALL
  SELECT 4, CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, t.typname, NULL
    FROM pg_catalog.pg_type t
   WHERE t.typnamespace = %(ns)s AND t.typtype IN ('e', 'd', 'r', 'c', 'm')
     AND (t.typtype <> 'c' OR (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid) = 'c')
     AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_type'::regclass
                       AND d.objid = t.oid AND d.deptype IN ('e', 'i'))
) o ORDER BY ord, kind, name
"""

_HAS_OBJECTS = """
SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class WHERE relnamespace = %(ns)s)
    OR EXISTS (SELECT 1 FROM pg_catalog.pg_proc WHERE pronamespace = %(ns)s)
    OR EXISTS (SELECT 1 FROM pg_catalog.pg_type WHERE typnamespace = %(ns)s)
"""


def _empty_schemas(conn, schemas: list[str]) -> list[str]:
    """Empty each schema in one transaction; the list of what was done (names only)."""
    from psycopg import sql

    done: list[str] = []
    with conn.transaction():
        conn.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(LOCK_TIMEOUT)))
        for schema in schemas:
            row = conn.execute("SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = %s", (schema,)).fetchone()
            if row is None:
                continue
            ns = row[0]
            if schema != "public":
                if not conn.execute(_HAS_OBJECTS, {"ns": ns}).fetchone()[0]:
                    continue
                conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
                conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
                done.append(f"schema {schema} dropped and created empty")
                continue
            dropped = 0
            for kind, name, args in conn.execute(_PUBLIC_OBJECTS, {"ns": ns}).fetchall():
                target: sql.Composable = sql.Identifier(schema, name)
                if args is not None:
                    target = sql.SQL("{}({})").format(target, sql.SQL(args))
                conn.execute(sql.SQL("DROP {} IF EXISTS {} CASCADE").format(sql.SQL(kind), target))
                dropped += 1
            if dropped:
                done.append(f"{dropped} object(s) dropped from schema public")
    return done


def _terminate_others(conn) -> int:
    """Terminate the other sessions on this database that this role may signal; how many."""
    rows = conn.execute(
        "SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity "
        "WHERE datname = pg_catalog.current_database() AND pid <> pg_catalog.pg_backend_pid() "
        "AND backend_type = 'client backend' "
        "AND pg_catalog.pg_has_role(current_user, usesysid, 'MEMBER')").fetchall()
    return sum(1 for (ok,) in rows if ok)


@register("target-database")
def undo_target_database(item: dict, cfg: dict, progress: Progress) -> None:
    import psycopg

    from . import connections
    from .postgres.common import INTERNAL_SCHEMAS, schema_is_internal, scrub

    arn = (cfg.get("target") or {}).get("postgres_secret_arn")
    if not arn:
        return
    url = connections.postgres_url(arn, default_sslmode=connections.TARGET_SSLMODE)
    try:
        conn = psycopg.connect(url, connect_timeout=15, application_name="heroku2aws-rollback", autocommit=True)
    except psycopg.Error as exc:
        progress.did(f"target database NOT emptied (cannot connect: {scrub(str(exc).strip(), url)[:200]}); "
                     "empty it before a re-run (preflight refuses a non-empty target)")
        return
    try:
        schemas = [s for s in item.get("schemas") or [] if isinstance(s, str)]
        if not schemas:  # not recorded: every application schema (the target was empty at preflight)
            schemas = [r[0] for r in conn.execute(
                "SELECT nspname FROM pg_catalog.pg_namespace WHERE nspname <> ALL(%s) AND nspname NOT LIKE 'pg\\_%%' "
                "ORDER BY 1", (list(INTERNAL_SCHEMAS),)).fetchall()]
        schemas = [s for s in dict.fromkeys(schemas) if not schema_is_internal(s) and s not in _SYSTEM]
        for attempt in (1, 2):
            try:
                for line in _empty_schemas(conn, schemas):
                    progress.did(f"target database: {line}")
                return
            except psycopg.errors.LockNotAvailable:
                if attempt == 2:
                    progress.did("target database NOT emptied: other sessions hold locks on its tables; empty it "
                                 "before a re-run (preflight refuses a non-empty target)")
                    return
                n = _terminate_others(conn)
                progress.did(f"target database: terminated {n} session(s) that blocked emptying it")
    except psycopg.Error as exc:
        progress.did(f"target database NOT emptied ({type(exc).__name__}: {scrub(str(exc).strip(), url)[:200]}); "
                     "empty it before a re-run (preflight refuses a non-empty target)")
    finally:
        conn.close()


@register("target-redis")
def undo_target_redis(item: dict, cfg: dict, progress: Progress) -> None:
    import redis

    from . import connections
    from .redis_copy import scrub

    arn = (cfg.get("target") or {}).get("redis_secret_arn")
    if not arn:
        return
    url = connections.redis_url(arn)
    client = connections.redis_client(url)
    try:
        keyspace = client.info("keyspace")
        keys = sum(int(v.get("keys", 0)) for k, v in keyspace.items() if k.startswith("db") and isinstance(v, dict))
        if not keys:
            return
        client.flushall()
        progress.did(f"target Redis flushed ({keys} key(s))")
    except redis.RedisError as exc:
        progress.did(f"target Redis NOT flushed ({type(exc).__name__}: {scrub(str(exc), url)[:200]}); "
                     "flush it by hand before a re-run")
    finally:
        client.close()
