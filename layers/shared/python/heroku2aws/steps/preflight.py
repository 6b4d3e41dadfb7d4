"""Stage 2, "Run the preflight checks": read everything, change nothing, return the plan or refuse.

Event (built by the ASL)::

    {"input": <normalised execution input>, "execution_id": "<execution ARN>"}

Return (:class:`~heroku2aws.contracts.results.PreflightPlan` as JSON)::

    {"app": "acme-storefront",
     "strategy": "dms-full-load" | "dms-cdc" | "dump-restore",
     "heroku": {"name", "region", "stack", "maintenance": bool,
                "config_var_names": [names only, sorted], "config_var_count": int,
                "formation": [{"type", "quantity", "size", "command"}],     # as Heroku reports it
                "addon_attachments": [config var names the add-ons set, sorted]},
     "postgres": {"source_dbname", "target_dbname",
                  "schemas": [application schemas of the source],
                  "table_mappings": {"rules": [...]},        # DMS TableMappings (heroku2aws.postgres.mappings)
                  "source": <PostgresAnalysis.compact() as JSON, without available_extensions>,
                  "target": {"version", "version_num", "database", "user_tables": int, "empty": bool}},
     "redis": null | {"source": {"version", "used_memory", "maxmemory", "maxmemory_policy", "keys",
                                 "keys_per_db": {"0": n, ...}, "tls": bool},
                      "target": {... the same ...}},
     "target": {"postgres_empty": bool, "redis_empty": bool},   # redis_empty is true when there is no Redis
     "dns": {"hosted_zone_id" (no /hostedzone/ prefix), "zone_name" (trailing dot), "private_zone": bool,
             "record_name" (lower case, trailing dot), "record_exists": bool,
             "kind": "absent" | "cname-to-heroku" | "weighted",
             "current": [the record's ResourceRecordSets exactly as Route 53 returns them (Name, Type, TTL,
                         ResourceRecords, SetIdentifier, Weight): a DELETE change can use them as they are]},
     "processes": [{"type", "quantity", "size", "cpu", "memory"}],   # what plan_services will create
     "estimates": {"database_bytes", "redis_bytes", "redis_keys", "postgres_copy_seconds",
                   "redis_copy_seconds", "verify_seconds", "write_freeze_seconds",
                   "components": [{"name", "seconds", "basis"}], "basis": "...",   # heroku2aws.freeze_estimate
                   "rates": {name: value}, "assumptions": {name: value, ...}},
     "warnings": ["..."]}

Every check runs, then :class:`~heroku2aws.contracts.errors.PreflightFailed` lists *every* refusal at once
("preflight refused the migration of <app> (N problems): 1) ...; 2) ..."):

- a secret that cannot be read or is not in its format (names the input field and the ARN);
- the Heroku API key refused (401), an app the key may not read (403), an unknown app (404), the API
  unreachable; REDIS_URL on Heroku but no Redis secrets in the input; config var names ECS cannot take;
- the app's DATABASE or REDIS add-on attached to another app too (names the apps: they would keep writing
  through the freeze);
- a server that does not answer (``source Postgres`` / ``target Postgres`` / ``source Redis`` / ``target
  Redis`` ``unreachable: <reason>``, never its URL or password);
- ``dms-cdc`` without REPLICATION ("the source role <role> lacks REPLICATION; Heroku Postgres never grants
  it: use dms-full-load") or without ``wal_level=logical``; large objects under a DMS strategy;
  extensions the target cannot install (RDS for PostgreSQL 15's list when the target is unreadable);
  a target database with user tables (no strategy accepts one);
- a hosted zone that does not exist, a record outside the zone or at its apex, a record that cannot
  become weighted CNAMEs (other types, alias, other routing policies, a CNAME to something other than
  ``dns.heroku_target``);
- a Procfile that does not parse, a dyno size with no Fargate match, no ``web`` process type;
- ``heroku.app`` other than the stack's ``HEROKU2AWS_APP``.

Heroku answers 429 / 5xx that outlast the client's own retries are raised as ``HerokuApiError``
(transient: worth a Retry in the ASL).

No secret value leaves this function: config vars are reported by NAME, URLs never appear, and
third-party error texts are scrubbed of every secret value this function read.

Environment: ``HEROKU2AWS_APP`` (optional: the stack's app; a different ``heroku.app`` is refused),
``AWS_REGION`` (a warning when the Heroku app runs in another AWS region); boto3 reads ``AWS_ENDPOINT_URL``.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import asdict
from typing import Any
from urllib.parse import urlsplit

import psycopg
from botocore.exceptions import ClientError

from .. import freeze_estimate
from ..clients import connections
from ..clients.aws import client, error_code
from ..clients.heroku import HerokuClient
from ..clients.route53 import fqdn, record_sets
from ..contracts import names
from ..contracts.errors import HerokuApiError, InvalidInput, PreflightFailed
from ..contracts.input import ExecutionInput
from ..contracts.results import (
    DnsReport,
    Estimates,
    HerokuProcess,
    HerokuReport,
    PostgresPlan,
    PreflightPlan,
    ProcessPlan,
    RedisPlan,
    RedisReport,
    TargetPostgresReport,
    TargetState,
)
from ..contracts.sizes import dyno_size_of
from ..obs import get_logger
from ..redaction import scrub, url_password
from .import_config import bad_names, split_config
from .plan_services import MAX_STATE_PAYLOAD_BYTES, build_plan, dyno_to_fargate, process_types

log = get_logger("preflight")

__all__ = ["ASSUMPTIONS", "estimate", "inspect_dns", "inspect_redis", "inspect_target_postgres", "run_preflight",
           "sizes_of"]

# ------------------------------------------------------------------------------ assumptions

#: The write freeze's estimate: measured rates and stated assumptions (heroku2aws.freeze_estimate).
ASSUMPTIONS: dict[str, float] = {k: float(v) for k, v in asdict(freeze_estimate.ASSUMED).items()}
#: The verify function's Timeout in template.yaml (Lambda's maximum). Verification no longer runs there for the
#: copy's tables (the copy tasks verify them: issue 18), so it bounds no database size.
VERIFY_FUNCTION_SECONDS = 900
#: Below this many free connections on the source, warn: the ECS services open their own pools.
MIN_CONNECTION_HEADROOM = 10

MB = 1024 * 1024


class Findings:
    """Refusals and warnings collected across every check."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.warnings: list[str] = []
        self.secrets: list[str] = []

    def refuse(self, message: str) -> None:
        self.problems.append(scrub(message, secrets=self.secrets))

    def warn(self, message: str) -> None:
        self.warnings.append(scrub(message, secrets=self.secrets))

    def reason(self, exc: BaseException) -> str:
        """An exception's text, safe to show: no URL, no known secret."""
        text = re.sub(r"\s*\(?[a-zA-Z][a-zA-Z0-9+.-]*://[^\s)]+\)?", "", str(exc).strip()) or type(exc).__name__
        return scrub(text, secrets=self.secrets)[:300]


# ------------------------------------------------------------------------------ Redis


def inspect_redis(url: str, label: str, findings: Findings) -> RedisReport | None:
    """Version, memory, eviction policy and key counts of one Redis; ``None`` (and a refusal) when unreachable."""
    import redis

    pw = url_password(url)
    if pw:
        findings.secrets.append(pw)
    client = connections.redis_client(url)
    try:
        server = client.info("server")
        memory = client.info("memory")
        keyspace = client.info("keyspace")
    except redis.exceptions.RedisError as exc:
        findings.refuse(f"{label} unreachable: {type(exc).__name__}: {findings.reason(exc)}")
        return None
    finally:
        client.close()
    per_db = {}
    for name, stats in keyspace.items():
        if name.startswith("db") and isinstance(stats, dict):
            per_db[name[2:]] = int(stats.get("keys", 0))
    policy = memory.get("maxmemory_policy")
    return RedisReport(
        version=str(server.get("redis_version", "unknown")),
        used_memory=int(memory.get("used_memory", 0)),
        maxmemory=int(memory["maxmemory"]) if "maxmemory" in memory else None,
        maxmemory_policy=str(policy) if policy is not None else None,
        keys=sum(per_db.values()),
        keys_per_db=per_db,
        tls=urlsplit(url).scheme == "rediss",
        run_id=str(server.get("run_id") or ""),  # one server's own random id: the same whatever the name reaching it
    )


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version)[:3])


def check_redis_pair(source: RedisReport, target: RedisReport, findings: Findings) -> None:
    same = getattr(source, "run_id", "") or None
    if same is not None and same == getattr(target, "run_id", ""):
        findings.refuse("source and target Redis are the same server (the same run_id, reached through both "
                        "secrets): the copy would write the source's keys onto themselves and verify nothing; give "
                        "the ElastiCache target in target.redis_secret_arn")
    if _version_tuple(target.version)[:2] < _version_tuple(source.version)[:2]:
        findings.warn(f"target Redis {target.version} is older than the source's {source.version}: RESTORE of "
                      "keys in a newer RDB format fails, and those keys take the slower type-aware copy")
    if target.keys:
        findings.warn(f"target Redis already holds {target.keys} keys: the copy overwrites keys of the same name "
                      "and leaves the others, so key-count parity will not hold")
    if target.maxmemory and target.maxmemory < source.used_memory:
        findings.warn(f"target Redis maxmemory ({target.maxmemory // MB} MiB) is below the source's used memory "
                      f"({source.used_memory // MB} MiB): the copy may not fit")
    if source.maxmemory_policy and target.maxmemory_policy and source.maxmemory_policy != target.maxmemory_policy:
        findings.warn(f"eviction policy differs: source {source.maxmemory_policy}, target "
                      f"{target.maxmemory_policy}")


# ------------------------------------------------------------------------------ Postgres


def analyse_postgres(url: str, label: str, findings: Findings, **options):
    """The analysis module's report of one database (``options``: ``analyze``'s); ``None`` (and a refusal) when it
    cannot be read."""
    from ..postgres.analysis import analyze
    from ..postgres.common import DatabaseError

    pw = url_password(url)
    if pw:
        findings.secrets.append(pw)
    try:
        return analyze(url, **options)
    except (DatabaseError, psycopg.Error) as exc:
        findings.refuse(f"{label} unreachable: {findings.reason(exc)}")
        return None


def inspect_target_postgres(url: str, findings: Findings) -> TargetPostgresReport | None:
    """Version and emptiness of the target database (and what it could install)."""
    analysis = analyse_postgres(url, "target Postgres", findings)
    if analysis is None:
        return None
    return TargetPostgresReport(version=analysis.server_version, version_num=analysis.server_version_num,
                                database=analysis.database, user_tables=analysis.table_count,
                                empty=analysis.table_count == 0, available_extensions=analysis.available_extensions)


def check_postgres(cfg: ExecutionInput, source, target: TargetPostgresReport | None, findings: Findings) -> None:
    """The refusals and warnings that depend on the source analysis (and the target's report)."""
    strategy = cfg.database.strategy
    rep = source.replication
    if strategy == "dms-cdc":
        if not rep.can_replicate:
            findings.refuse(f"database.strategy dms-cdc: the source role {rep.role} lacks REPLICATION; Heroku "
                            "Postgres never grants it: use dms-full-load")
        elif rep.wal_level != "logical":
            findings.refuse(f"database.strategy dms-cdc: the source's wal_level is {rep.wal_level}, CDC needs "
                            "logical: use dms-full-load")
        if source.tables_without_key:
            findings.warn(f"dms-cdc: {len(source.tables_without_key)} table(s) without a primary key or unique "
                          f"NOT NULL index ({', '.join(source.tables_without_key[:10])}): DMS applies no UPDATE or "
                          "DELETE to them during CDC; verification will catch a difference")
    elif source.tables_without_key:
        findings.warn(f"{len(source.tables_without_key)} table(s) without a primary key "
                      f"({', '.join(source.tables_without_key[:10])}): copied whole, but verified by checksum only")
    if source.large_objects and strategy != "dump-restore":
        findings.refuse(f"the source has {source.large_objects} large object(s) and DMS does not copy them: use "
                        "database.strategy dump-restore")
    if target is not None:
        available = set(target.available_extensions)
        missing = sorted(e.name for e in source.extensions if e.name not in available)
        where = f"the target ({target.version})"
    else:
        missing = list(source.unsupported_extensions)
        where = "RDS for PostgreSQL"
    if missing:
        findings.refuse(f"the source uses extension(s) {where} does not offer: {', '.join(missing)}")
    if target is not None:
        if not target.empty:
            findings.refuse(f"target Postgres database {target.database} is not empty ({target.user_tables} user "
                            "table(s)): the copy needs an empty database")
        if target.version_num // 10000 < source.server_version_num // 10000:
            findings.warn(f"target Postgres {target.version} is older than the source's {source.server_version}")
    conns = source.connections
    if conns.available < max(MIN_CONNECTION_HEADROOM, conns.in_use):
        findings.warn(f"source Postgres has {conns.available} free connection(s) of {conns.max_connections} with "
                      f"{conns.in_use} in use: the ECS services open their own pools next to the dynos' and DMS "
                      "needs several")
    for w in source.warnings:
        if "REPLICATION" not in w and "without a primary key" not in w and "not offered by RDS" not in w:
            findings.warn(f"source Postgres: {w}")


# ------------------------------------------------------------------------------ DNS


def inspect_dns(cfg: ExecutionInput, findings: Findings, route53=None) -> DnsReport | None:
    """The hosted zone and the record's current answer; refusals when weighted CNAMEs cannot be made."""
    r53 = route53 or client("route53")
    zone_id = cfg.dns.hosted_zone_id.split("/")[-1]
    record = fqdn(cfg.dns.record_name)
    heroku = fqdn(cfg.dns.heroku_target)
    try:
        zone = r53.get_hosted_zone(Id=zone_id)["HostedZone"]
    except ClientError as exc:
        if error_code(exc) in ("NoSuchHostedZone", "InvalidInput"):
            findings.refuse(f"Route 53 hosted zone {zone_id} (dns.hosted_zone_id) not found")
            return None
        raise
    zone_name = fqdn(zone["Name"])
    private = bool((zone.get("Config") or {}).get("PrivateZone"))
    if private:
        findings.warn(f"hosted zone {zone_name} is private: the public does not resolve {record} through it")
    if record == zone_name:
        findings.refuse(f"dns.record_name {record} is the zone apex: a CNAME cannot live there (use a subdomain)")
    elif not record.endswith("." + zone_name):
        findings.refuse(f"dns.record_name {record} is not in hosted zone {zone_name} ({zone_id})")
        return None
    sets = record_sets(zone_id, record, r53)
    kind = "absent"
    other_types = sorted({rs["Type"] for rs in sets if rs["Type"] != "CNAME"})
    cnames = [rs for rs in sets if rs["Type"] == "CNAME"]
    if other_types:
        findings.refuse(f"{record} has {', '.join(other_types)} record(s): weighted CNAMEs cannot coexist with them")
    elif not cnames:
        findings.warn(f"{record} does not exist yet: it is created at the first traffic step, and no traffic "
                      "reaches the app through it today")
    elif any(rs.get("AliasTarget") for rs in cnames):
        findings.refuse(f"{record} is an alias record: the traffic shift needs plain (weighted) CNAMEs")
    elif len(cnames) == 1 and not cnames[0].get("SetIdentifier"):
        target = fqdn(cnames[0]["ResourceRecords"][0]["Value"])
        if target != heroku:
            findings.refuse(f"{record} is a CNAME to {target}, not to dns.heroku_target {heroku}")
        kind = "cname-to-heroku"
    elif all(rs.get("SetIdentifier") and "Weight" in rs for rs in cnames):
        kind = "weighted"
        if not any(fqdn(v) == heroku for rs in cnames for v in (r["Value"] for r in rs.get("ResourceRecords", []))):
            findings.warn(f"{record} is already weighted but no record points at dns.heroku_target {heroku}")
        else:
            findings.warn(f"{record} is already a weighted record set (an earlier run?): the traffic shift takes "
                          "it over")
    else:
        findings.refuse(f"{record} uses a routing policy other than simple or weighted: convert it by hand first")
    ttls = [int(rs["TTL"]) for rs in sets if rs.get("TTL") is not None]
    if ttls and max(ttls) > cfg.dns.ttl:
        findings.warn(f"{record} has TTL {max(ttls)} s: resolvers may keep the old answer that long after each "
                      f"change; lower it to {cfg.dns.ttl} s a day before the migration")
    return DnsReport(hosted_zone_id=zone_id, zone_name=zone_name, private_zone=private, record_name=record,
                     record_exists=bool(sets), kind=kind, current=sets)


# ------------------------------------------------------------------------------ estimates


#: DMS's account-wide roles, by the fixed names DMS looks for ("Creating the IAM roles to use with AWS DMS",
#: DMS user guide): without dms-vpc-role CreateReplicationSubnetGroup fails in a fresh account.
DMS_VPC_ROLE = "dms-vpc-role"
DMS_LOGS_ROLE = "dms-cloudwatch-logs-role"


def inspect_roles(cfg: ExecutionInput, findings: Findings, iam=None) -> None:
    """DMS's account roles (DMS strategies) and the names the workflow needs for the app's ECS roles.

    The state machine may pass only roles named ``heroku2aws-<app>-*`` (template.yaml, iam:PassRole), so another
    role would fail at the first RegisterTaskDefinition; refused here, before anything is created.
    """
    iam = iam or client("iam")
    app = cfg.heroku.app

    def role(name: str) -> dict[str, Any] | None:
        try:
            return iam.get_role(RoleName=name)["Role"]
        except ClientError as exc:
            if error_code(exc) == "NoSuchEntity":
                return None
            findings.warn(f"could not check IAM role {name} ({error_code(exc)})")
            return {}

    if cfg.database.strategy != "dump-restore":
        if role(DMS_VPC_ROLE) is None:
            findings.refuse(f"IAM role {DMS_VPC_ROLE} is missing: DMS needs it in every account. Deploy this stack "
                            "with CreateDmsServiceRoles=true, or create it (trusting dms.amazonaws.com, with the managed "
                            "policy service-role/AmazonDMSVPCManagementRole)")
        if role(DMS_LOGS_ROLE) is None:
            findings.warn(f"IAM role {DMS_LOGS_ROLE} is missing: DMS task logs will not reach CloudWatch (deploy with "
                          "CreateDmsServiceRoles=true, or create it with service-role/AmazonDMSCloudWatchLogsRole)")
    for field, arn in (("ecs.execution_role_arn", cfg.ecs.execution_role_arn), ("ecs.task_role_arn", cfg.ecs.task_role_arn)):
        if not arn:
            continue
        name = arn.rsplit("/", 1)[-1]
        prefix = names.role_prefix(app)
        if not name.startswith(prefix):
            findings.refuse(f"{field}: IAM role {name} is not named {prefix}*; the stack may pass only roles so "
                            f"named to ECS (iam:PassRole): create one such as {prefix}execution with the same "
                            "policies")
        elif role(name) is None:
            findings.refuse(f"{field}: IAM role {name} not found")


_ECR_IMAGE = re.compile(r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/([^:@]+):([\w][\w.-]{0,127})$")


def inspect_task_image(findings: Findings, ecr=None) -> None:
    """The image every ECS data task runs (HEROKU2AWS_TASK_IMAGE): when it lives in ECR, is it there? A stack
    deployed without ``make image`` would otherwise fail inside the write freeze, at the first task."""
    image = os.environ.get("HEROKU2AWS_TASK_IMAGE", "")
    found = _ECR_IMAGE.match(image)
    if not found:
        return  # an image elsewhere (a public registry): ECS pulls it, nothing to check here
    repository, tag = found.group(3), found.group(4)
    ecr = ecr or client("ecr", region_name=found.group(2))
    try:
        ecr.describe_images(registryId=found.group(1), repositoryName=repository, imageIds=[{"imageTag": tag}])
    except ClientError as exc:
        code = error_code(exc)
        if code in ("ImageNotFoundException", "RepositoryNotFoundException"):
            findings.refuse(f"the tasks' image {repository}:{tag} is not in ECR: run `make image STACK=<this stack>` "
                            "(or deploy with TaskImage set to an image built from docker/task.Dockerfile)")
        else:
            findings.warn(f"could not check the tasks' image {repository}:{tag} ({code})")


def sizes_of(source, redis_bytes: int = 0, redis_keys: int = 0) -> freeze_estimate.Sizes:
    """What the estimate needs from the source's analysis: table and index bytes, the largest load unit's."""
    stored = [t for t in source.tables if t.kind != "partitioned"]
    largest = max(stored, key=lambda t: t.size_bytes - t.index_bytes, default=None)
    split = {r.table: len(r.boundaries) + 1 for r in (source.parallel_load.ranges if source.parallel_load else [])}
    unit = max(((t.size_bytes - t.index_bytes) / split.get(t.name, 1) for t in stored), default=0)
    return freeze_estimate.Sizes(
        data_bytes=source.data_bytes, index_bytes=source.index_bytes,
        largest_data_bytes=int(unit if split else (largest.size_bytes - largest.index_bytes if largest else 0)),
        largest_index_bytes=largest.index_bytes if largest else 0, redis_keys=redis_keys, redis_bytes=redis_bytes)


def estimate(strategy: str, sizes: freeze_estimate.Sizes, jobs: int, subtasks: int = 8, load_units: int = 1) -> Estimates:
    """The write freeze, estimated from measured rates and stated assumptions (heroku2aws.freeze_estimate)."""
    e = freeze_estimate.estimate_freeze(strategy, sizes, jobs=jobs, subtasks=subtasks, load_units=load_units)
    assumptions = {**e.assumptions, "dms_full_load_mb_per_s": e.assumptions["dms_bytes_per_s_per_subtask"] * subtasks / MB}
    return Estimates(database_bytes=sizes.data_bytes + sizes.index_bytes, redis_bytes=sizes.redis_bytes,
                     redis_keys=sizes.redis_keys, postgres_copy_seconds=math.ceil(e.postgres_copy_seconds),
                     redis_copy_seconds=math.ceil(e.redis_seconds), verify_seconds=math.ceil(e.verify_seconds),
                     write_freeze_seconds=e.seconds, assumptions=assumptions,
                     components=[c.model_dump() for c in e.components], basis=e.basis, rates=e.rates)


# ------------------------------------------------------------------------------ processes


def _representative_secret_arn(cfg: ExecutionInput) -> str:
    """An ARN as long as the config secret's will be (its region and account from the cluster's ARN)."""
    region, account = cfg.ecs.cluster_arn.split(":")[3:5]
    return f"arn:aws:secretsmanager:{region}:{account}:secret:{names.config_secret_name(cfg.heroku.app)}-AbCdEf"


def inspect_processes(cfg: ExecutionInput, formation: list[dict[str, Any]] | None,
                      findings: Findings, config_names: list[str] | None = None) -> list[ProcessPlan]:
    """What plan_services will create, checked now so a bad Procfile or size fails before anything exists; with
    the config var names, also that the plan and each task definition fit a Step Functions state (256 KiB)."""
    if formation is None and cfg.ecs.procfile is None:
        return []  # Heroku unreadable: already refused
    try:
        types, warnings = process_types(cfg.ecs.procfile, formation or [], cfg.ecs.dyno_sizes)
        if config_names is not None:  # + the two store URLs import_config may add; the longest execution ARN
            keys = sorted({*config_names, "DATABASE_URL", "REDIS_URL"})
            build_plan(cfg, formation or [], _representative_secret_arn(cfg), keys,
                       f"arn:aws:states:us-east-1:123456789012:execution:{'x' * 80}:{'x' * 80}")
    except InvalidInput as exc:
        findings.refuse(str(exc))
        return []
    for w in warnings:
        findings.warn(w)
    out = []
    for p in types:
        cpu, memory, note = dyno_to_fargate(p.size, cfg.ecs.dyno_sizes)
        if note:
            findings.warn(f"{p.type} ({p.size}): {note}")
        out.append(ProcessPlan(type=p.type, quantity=p.quantity, size=p.size, cpu=cpu, memory=memory))
    if not any(p.type == "web" for p in out):
        findings.refuse("no web process type: the load balancer would have no target and traffic could not move")
    return out


# ------------------------------------------------------------------------------ Heroku

#: Heroku region -> the AWS region it runs in (Common Runtime and Private Spaces).
HEROKU_AWS_REGIONS = {"us": "us-east-1", "eu": "eu-west-1", "virginia": "us-east-1", "oregon": "us-west-2",
                      "frankfurt": "eu-central-1", "dublin": "eu-west-1", "tokyo": "ap-northeast-1",
                      "sydney": "ap-southeast-2", "montreal": "ca-central-1", "mumbai": "ap-south-1"}


#: The attachments whose add-ons the migration copies (DATABASE_URL, REDIS_URL).
STORE_ATTACHMENTS = ("DATABASE", "REDIS")


def apps_sharing_the_stores(api: HerokuClient, app: str) -> dict[str, list[str]]:
    """``{"<attachment> (<add-on name>)": ["other-app as ATTACHMENT", ...]}`` for the data stores another app is
    attached to (Platform API: the app's attachments, then "List by Add-on", GET /addons/{addon}/addon-attachments)."""
    found: dict[str, list[str]] = {}
    for attachment in api.addon_attachments(app):
        addon = attachment.get("addon") or {}
        if attachment.get("name") not in STORE_ATTACHMENTS or not addon.get("id"):
            continue
        here = (attachment.get("app") or {}).get("id")
        others = sorted({f"{(a.get('app') or {}).get('name')} as {a.get('name')}"
                         for a in api.addon_attachments_of_addon(addon["id"])
                         if (a.get("app") or {}).get("id") not in (here, None)
                         and (a.get("app") or {}).get("name") != app})
        if others:
            found[f"{attachment['name']} ({addon.get('name') or addon['id']})"] = others
    return found


def inspect_heroku(cfg: ExecutionInput, api: HerokuClient, findings: Findings) -> HerokuReport | None:
    """The app, its config var NAMES, formation and add-on attachments; refusals for 401 / 403 / 404."""
    app = cfg.heroku.app
    try:
        info = api.get_app(app)
        config_vars = api.get_config_vars(app)
        formation = api.get_formation(app)
        attachments = api.addon_attachment_names(app)
        shared = apps_sharing_the_stores(api, app)
    except HerokuApiError as exc:
        if exc.status == 401:
            findings.refuse("Heroku API key refused (401): the key in heroku.api_key_secret_arn is not valid")
        elif exc.status == 403:
            findings.refuse(f"Heroku API key may not read app {app} (403 {exc.id})")
        elif exc.status == 404:
            findings.refuse(f"Heroku app {app} not found (404): check heroku.app and the key's account")
        elif exc.status == 0:
            findings.refuse(f"Heroku API unreachable at {cfg.heroku.api_url}")
        else:
            raise
        return None
    findings.secrets += [str(v) for v in config_vars.values() if v is not None and len(str(v)) >= 8]
    for store, others in shared.items():
        findings.refuse(f"the {store} add-on is also attached to other app(s): {', '.join(others)}; they would keep "
                        "writing to it while it is copied (the freeze stops only this app's dynos) and lose it after "
                        "the switch: detach it from them, or move them first")
    var_names = sorted(config_vars)
    kept, excluded = split_config(config_vars, attachments)
    bad = bad_names(kept)
    if bad:
        findings.refuse(f"config var name(s) ECS cannot pass as environment variables: {', '.join(bad)}")
    if "REDIS_URL" in config_vars and cfg.source.redis_secret_arn is None:
        findings.refuse("the Heroku app has REDIS_URL (a Redis add-on) but the input gives no "
                        "source.redis_secret_arn / target.redis_secret_arn")
    if "DATABASE_URL" not in config_vars:
        findings.warn("the Heroku app has no DATABASE_URL: is source.postgres_secret_arn its database?")
    region = ((info.get("region") or {}).get("name")) or "unknown"
    aws_region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if aws_region and HEROKU_AWS_REGIONS.get(region, aws_region) != aws_region:
        findings.warn(f"the Heroku app runs in {region} ({HEROKU_AWS_REGIONS[region]}), this stack in {aws_region}: "
                      "until the switchover the ECS services reach the Heroku data stores across regions")
    return HerokuReport(
        name=info.get("name", app),
        region=region,
        stack=((info.get("stack") or {}).get("name")) or "unknown",
        maintenance=bool(info.get("maintenance")),
        config_var_names=var_names,
        config_var_count=len(var_names),
        # the schema's dyno_size first (``size`` is deprecated): heroku/platform-api schema.json, "formation"
        formation=[HerokuProcess(type=f.get("type"), quantity=int(f.get("quantity") or 0), size=dyno_size_of(f),
                                 command=f.get("command")) for f in formation],
        addon_attachments=sorted(attachments),
    )


# ------------------------------------------------------------------------------ the whole preflight


def _read(findings: Findings, field: str, arn: str | None, read):
    """A value from a secret, or ``None`` and a refusal naming the input field (never the value)."""
    if arn is None:
        return None
    try:
        value = read(arn)
    except ClientError as exc:
        code = error_code(exc) or "error"
        findings.refuse(f"{field}: cannot read secret {arn} ({code})")
        return None
    except connections.SecretFormatError as exc:
        findings.refuse(f"{field}: {exc}")
        return None
    findings.secrets.append(value)
    pw = url_password(value)
    if pw:
        findings.secrets.append(pw)
    return value


def run_preflight(cfg: ExecutionInput, *, heroku=None, route53=None, iam=None) -> PreflightPlan:
    """Every check (see the module docstring); the plan, or ``PreflightFailed`` listing every problem."""
    f = Findings()
    app = cfg.heroku.app
    stack_app = os.environ.get("HEROKU2AWS_APP")
    if stack_app and stack_app != app:
        f.refuse(f"heroku.app {app} is not this stack's app {stack_app} (HEROKU2AWS_APP): deploy a stack for {app} "
                 "(its IAM roles only reach that app's secrets and services)")
    api_key = _read(f, "heroku.api_key_secret_arn", cfg.heroku.api_key_secret_arn, connections.heroku_api_key)
    src_pg = _read(f, "source.postgres_secret_arn", cfg.source.postgres_secret_arn, connections.postgres_url)
    tgt_pg = _read(f, "target.postgres_secret_arn", cfg.target.postgres_secret_arn,
                   lambda arn: connections.postgres_url(arn, default_sslmode=connections.TARGET_SSLMODE))
    src_redis = _read(f, "source.redis_secret_arn", cfg.source.redis_secret_arn, connections.redis_url)
    tgt_redis = _read(f, "target.redis_secret_arn", cfg.target.redis_secret_arn, connections.redis_url)

    heroku_report = None
    if heroku is not None or api_key is not None:
        heroku_report = inspect_heroku(cfg, heroku or HerokuClient(api_key, cfg.heroku.api_url), f)

    dms = cfg.database.strategy != "dump-restore"
    source = analyse_postgres(src_pg, "source Postgres", f, parallel_load=dms,
                              dms_instance_class=cfg.database.dms_instance_class) if src_pg else None
    target = inspect_target_postgres(tgt_pg, f) if tgt_pg else None
    if source is not None:
        check_postgres(cfg, source, target, f)

    redis_report = None
    src_r = inspect_redis(src_redis, "source Redis", f) if src_redis else None
    tgt_r = inspect_redis(tgt_redis, "target Redis", f) if tgt_redis else None
    if src_r and tgt_r:
        check_redis_pair(src_r, tgt_r, f)
    if cfg.source.redis_secret_arn:
        redis_report = RedisPlan(source=src_r, target=tgt_r)

    dns = inspect_dns(cfg, f, route53)
    stack_zone = os.environ.get("HEROKU2AWS_HOSTED_ZONE_ID")
    if stack_zone and cfg.dns.hosted_zone_id != stack_zone:
        f.refuse(f"dns.hosted_zone_id {cfg.dns.hosted_zone_id} is not this stack's zone {stack_zone} (HostedZoneId): the "
                 "workflow may change records in that zone only")
    inspect_roles(cfg, f, iam)
    inspect_task_image(f)
    processes = inspect_processes(cfg, [p.model_dump() for p in heroku_report.formation] if heroku_report else None, f,
                                  [n for n in heroku_report.config_var_names if not bad_names([n])] if heroku_report else None)

    if f.problems:
        n = len(f.problems)
        listed = "; ".join(f"{i}) {p}" for i, p in enumerate(f.problems, start=1))
        log.warning("preflight refused", extra={"problems": f.problems, "warnings": f.warnings})
        raise PreflightFailed(f"preflight refused the migration of {app} ({n} problem{'s' if n > 1 else ''}): "
                              f"{listed}")
    if source is None or target is None or dns is None or heroku_report is None:  # every None comes with a problem
        raise PreflightFailed(f"preflight could not inspect everything for {app}")

    from ..postgres.lobs import dms_lob_settings
    from ..postgres.mappings import dms_table_mappings

    source_doc = source.compact(max_tables=50, max_listed=50).model_dump(mode="json", exclude={
        "available_extensions", "parallel_load"})
    parallel = source.parallel_load
    estimates = estimate(cfg.database.strategy,
                         sizes_of(source, src_r.used_memory if src_r else 0, src_r.keys if src_r else 0),
                         cfg.database.dump_restore_jobs, subtasks=parallel.max_full_load_subtasks if parallel else 8,
                         load_units=parallel.load_units if parallel else len(source.tables))
    plan = PreflightPlan(
        app=app,
        strategy=cfg.database.strategy,
        heroku=heroku_report,
        postgres=PostgresPlan(source_dbname=source.database, target_dbname=target.database,
                              schemas=list(source.schemas),
                              table_mappings=dms_table_mappings(source) if dms else {"rules": []},  # DMS's only
                              source=source_doc, target=target, dms_lob_settings=dms_lob_settings(source.lobs),
                              dms_full_load=source.parallel_load.summary() if source.parallel_load else {}),
        redis=redis_report,
        target=TargetState(postgres_empty=target.empty, redis_empty=(tgt_r.keys == 0) if tgt_r else True),
        dns=dns,
        processes=processes,
        estimates=estimates,
        warnings=f.warnings,
    )
    check_plan_size(plan.app, plan.model_dump(mode="json"))
    log.info("preflight passed", extra={"strategy": plan.strategy, "warnings": plan.warnings,
                                        "write_freeze_seconds": plan.estimates.write_freeze_seconds})
    return plan


def check_plan_size(app: str, doc: dict[str, Any]) -> None:
    """``PreflightFailed`` naming the largest parts when the plan would not fit the state that returns it: over
    Step Functions' 256 KiB a task's result fails with States.DataLimitExceeded, which no Catch handles (nothing would
    be rolled back; plan_services.MAX_STATE_PAYLOAD_BYTES cites the quota)."""
    size = _json_bytes(doc)
    if size <= MAX_STATE_PAYLOAD_BYTES:
        return
    parts = {"postgres.table_mappings": doc["postgres"]["table_mappings"], "postgres.schemas": doc["postgres"]["schemas"],
             "postgres.source": doc["postgres"]["source"], "heroku.config_var_names": doc["heroku"]["config_var_names"]}
    largest = ", ".join(f"{k} {_json_bytes(v):,} B" for k, v in sorted(parts.items(), key=lambda kv: -_json_bytes(kv[1])))
    raise PreflightFailed(f"preflight refused the migration of {app}: its plan is {size:,} bytes, over the "
                          f"{MAX_STATE_PAYLOAD_BYTES:,} bytes a Step Functions state carries ({largest}; "
                          f"{len(doc['postgres']['schemas'])} schemas each take a DMS selection rule): use the "
                          "dump-restore strategy, or fewer schemas")


def _json_bytes(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
