"""``heroku2aws init --app APP --domain DOMAIN``: read the app from Heroku, size its AWS landing, write its config.

What it reads
    From the Heroku Platform API (schema: heroku/platform-api ``schema.json``; the endpoints are those the
    published schema defines, and the rehearsal's stand-in serves them in the schema's shapes): the app (region,
    stack, generation), its formation (quantity, ``dyno_size``), the current release and its slug's
    ``process_types``, add-ons with their plans (``addon_service``, ``plan``, ``billed_price``) and attachments,
    domains (custom hostnames and their ``*.herokudns.com`` targets), and config var NAMES.
    Postgres version and size, Redis version and memory: the Platform API does not expose them (Heroku's data
    services keep them behind their own APIs), so init asks the stores themselves, read-only, through the app's
    DATABASE_URL and REDIS_URL (``SHOW server_version``, ``pg_database_size``; ``INFO server``, ``INFO memory``),
    with a 10 s timeout; the URLs are used to connect and nothing else (never printed, never written). When a
    store cannot be reached from this machine (``--no-connect``, a Private Space), the sizes come from the plan
    tables alone and the Postgres major version must be given (``--postgres-version``).
    From AWS: the Route 53 hosted zone of the domain (the public zone with the longest matching suffix), the
    account, and whether the Heroku key's secret ``heroku2aws/<app>/heroku-api-key`` exists.

The API key
    ``HEROKU_API_KEY``, else the Heroku CLI's netrc entry for ``api.heroku.com`` (``~/.netrc`` or ``$NETRC``), as
    the Heroku CLI itself reads it. It is sent to the Heroku API and nowhere else: never printed, never written.

What it writes
    ``samconfig.toml``'s ``[<app>.deploy.parameters]`` (``sam deploy --config-env <app>``; the other environments
    of the file are kept as they are, comments included: tomlkit round-trips the file) and ``events/<app>.json``,
    the minimal execution input (the app, the Heroku key's secret, the domain; everything else comes from the
    landing stack). It prints what it found, what it chose and why, the add-ons' fate, and the estimates.

Refusals (exit 2, nothing written): no API key; the key refused (401) or without access to the app (403); no such
app (404); the domain not one of the app's custom domains, or in no hosted zone of the account; a Postgres or Redis
plan the tables do not know (``--db-class`` and ``--cache-node-type`` let the user size it instead: a wrong guess
would be worse than a question).
"""

from __future__ import annotations

import argparse
import json
import netrc
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from heroku2aws.clients.heroku import HerokuApiError, HerokuClient
from heroku2aws.contracts import sizes
from heroku2aws.landing import costs
from heroku2aws.landing.addons import AddonLine, addon_lines
from heroku2aws.landing.parameters import LandingParameters
from heroku2aws.landing.plans import (
    GIB,
    RDS_CLASSES,
    PostgresChoice,
    RedisChoice,
    UnknownPlan,
    choose_postgres,
    choose_redis,
    redis_engine_for,
)

from . import project

__all__ = ["InitError", "Survey", "api_key", "choose", "find_hosted_zone", "main", "run", "survey",
           "write_events", "write_samconfig"]

NETRC_HOST = "api.heroku.com"
HEROKU_AWS_REGIONS = {"us": "us-east-1", "eu": "eu-west-1", "virginia": "us-east-1", "oregon": "us-west-2",
                      "frankfurt": "eu-central-1", "dublin": "eu-west-1", "tokyo": "ap-northeast-1",
                      "sydney": "ap-southeast-2", "montreal": "ca-central-1", "mumbai": "ap-south-1"}
CONNECT_TIMEOUT = 10
KEY_SECRET = "heroku2aws/{app}/heroku-api-key"


class InitError(Exception):
    """A refusal: the message says what is wrong and what to do (never a secret)."""


# ------------------------------------------------------------------ the key


def api_key(env: dict[str, str] | None = None) -> str:
    """``HEROKU_API_KEY``, else the password of the netrc entry for api.heroku.com (as the Heroku CLI stores it)."""
    env = dict(os.environ) if env is None else env
    key = (env.get("HEROKU_API_KEY") or "").strip()
    if key:
        return key
    path = env.get("NETRC") or str(Path(env.get("HOME") or Path.home()) / ".netrc")
    try:
        entry = netrc.netrc(path).authenticators(NETRC_HOST)
    except FileNotFoundError:
        entry = None
    except (netrc.NetrcParseError, OSError) as exc:
        raise InitError(f"no Heroku API key: HEROKU_API_KEY is not set and {path} cannot be read "
                        f"({exc.__class__.__name__}, line {getattr(exc, 'lineno', '?')})") from None
    if entry and entry[2]:
        return entry[2]
    raise InitError("no Heroku API key: set HEROKU_API_KEY (`export HEROKU_API_KEY=$(heroku auth:token)`) or log in "
                    f"with the Heroku CLI (`heroku login` writes the {NETRC_HOST} entry of {path})")


# ------------------------------------------------------------------ what Heroku says


@dataclass
class Process:
    type: str
    quantity: int
    size: str
    command: str
    cpu: int
    memory: int
    size_note: str


@dataclass
class StoreFacts:
    """A data store as init found it: its add-on line, and what the store itself answered (or why not)."""

    line: AddonLine
    version: str | None = None
    bytes: int | None = None
    source: str = "the plan tables (not connected)"


@dataclass
class Survey:
    app: str
    region: str
    stack: str
    generation: str
    formation: list[Process]
    process_types: dict[str, str]
    release_version: int | None
    addons: list[AddonLine]
    domains: list[dict[str, Any]]
    config_var_names: list[str]
    postgres: StoreFacts | None
    redis: StoreFacts | None
    notes: list[str] = field(default_factory=list)

    @property
    def aws_region(self) -> str | None:
        return HEROKU_AWS_REGIONS.get(self.region)


def _heroku(call, app: str):
    try:
        return call()
    except HerokuApiError as exc:
        if exc.status == 401:
            raise InitError("the Heroku API refused the key (401): log in again (`heroku login`) or set a valid "
                            "HEROKU_API_KEY") from None
        if exc.status == 403:
            raise InitError(f"the Heroku key has no access to app {app} (403 {exc.id}): use the key of a "
                            "collaborator or team member of the app") from None
        if exc.status == 404:
            raise InitError(f"no Heroku app named {app} (404): check --app (`heroku apps` lists yours)") from None
        if exc.status == 0:
            raise InitError(f"the Heroku API cannot be reached: {exc.message}") from None
        raise InitError(f"the Heroku API answered {exc.status} {exc.id}") from None


def _store_line(lines: list[AddonLine], service: str, attachment: str) -> AddonLine | None:
    mine = [line for line in lines if line.service == service]
    return next((line for line in mine if attachment in line.attachments), mine[0] if mine else None)


def _postgres_facts(url: str | None) -> tuple[str | None, int | None, str]:
    if not url:
        return None, None, "the plan tables (the app has no DATABASE_URL)"
    from heroku2aws.postgres.common import DatabaseError, connect

    try:
        with connect(url, label="Heroku Postgres", connect_timeout=CONNECT_TIMEOUT, pin_settings=False,
                     autocommit=True) as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]
            size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        return str(version).split()[0], int(size), "the database itself (read-only, via DATABASE_URL)"
    except DatabaseError as exc:   # scrubbed: no password in it
        return None, None, f"the plan tables (could not connect: {exc})"


def _redis_facts(url: str | None) -> tuple[str | None, int | None, str]:
    if not url:
        return None, None, "the plan tables (the app has no REDIS_URL)"
    import redis

    from heroku2aws.redis.errors import ConfigError
    from heroku2aws.redis.urls import parse_endpoint

    try:
        ep = parse_endpoint(url, tls_verify=False, label="Heroku Key-Value Store")
        client = redis.Redis(host=ep.host, port=ep.port, username=ep.username, password=ep.password, ssl=ep.tls,
                             ssl_cert_reqs=None if ep.tls else "required", socket_connect_timeout=CONNECT_TIMEOUT,
                             socket_timeout=CONNECT_TIMEOUT)
        try:
            server, memory = client.info("server"), client.info("memory")
        finally:
            client.close()
        return (str(server.get("redis_version") or "") or None, int(memory.get("used_memory") or 0),
                "the server itself (INFO, via REDIS_URL)")
    except ConfigError as exc:
        return None, None, f"the plan tables (REDIS_URL: {exc})"
    except redis.RedisError as exc:
        return None, None, f"the plan tables (could not connect: {exc.__class__.__name__})"


def survey(api: HerokuClient, app: str, *, connect: bool = True) -> Survey:
    """Everything init reads from Heroku (and, with ``connect``, from the stores themselves)."""
    info = _heroku(lambda: api.get_app(app), app)
    formation = _heroku(lambda: api.get_formation(app), app)
    releases = _heroku(lambda: api.releases(app), app)
    current = max((r for r in releases if r.get("current") and r.get("status") == "succeeded"),
                  key=lambda r: r.get("version") or 0, default=None)
    process_types: dict[str, str] = {}
    if current and (current.get("slug") or {}).get("id"):
        slug = _heroku(lambda: api.slug(app, current["slug"]["id"]), app)
        process_types = dict(slug.get("process_types") or {})
    lines = addon_lines(app, _heroku(lambda: api.addons(app), app), _heroku(lambda: api.addon_attachments(app), app))
    domains = _heroku(lambda: api.domains(app), app)
    config = _heroku(lambda: api.get_config_vars(app), app)
    procs = []
    for f in sorted(formation, key=lambda f: str(f.get("type"))):
        size = sizes.dyno_size_of(f) or sizes.DEFAULT_SIZE
        found = sizes.lookup(size)
        cpu, memory, note = found if found is not None else (*sizes.fargate_size(1024, 2048), "unknown size")
        procs.append(Process(type=str(f.get("type")), quantity=int(f.get("quantity") or 0), size=size,
                             command=str(f.get("command") or process_types.get(str(f.get("type")), "")),
                             cpu=cpu, memory=memory, size_note=note))
    pg_line = _store_line(lines, "heroku-postgresql", "DATABASE")
    redis_line = _store_line(lines, "heroku-redis", "REDIS")
    pg = StoreFacts(pg_line) if pg_line else None
    rd = StoreFacts(redis_line) if redis_line else None
    if connect and pg is not None:
        pg.version, pg.bytes, pg.source = _postgres_facts(config.get("DATABASE_URL"))
    if connect and rd is not None:
        rd.version, rd.bytes, rd.source = _redis_facts(config.get("REDIS_URL") or config.get("REDIS_TLS_URL"))
    names = sorted(config)
    del config   # values go no further than this function: only the names are kept
    return Survey(app=str(info.get("name") or app), region=str((info.get("region") or {}).get("name") or "unknown"),
                  stack=str((info.get("stack") or {}).get("name") or "unknown"),
                  generation=str((info.get("generation") or {}).get("name") or "cedar"),
                  formation=procs, process_types=process_types,
                  release_version=int(current["version"]) if current else None, addons=lines,
                  domains=[d for d in domains if isinstance(d, dict)],
                  config_var_names=names,
                  postgres=pg, redis=rd)


# ------------------------------------------------------------------ AWS


def find_hosted_zone(route53: Any, domain: str) -> dict[str, Any]:
    """The public hosted zone whose name is the longest suffix of ``domain`` (``{"id", "name"}``, bare id)."""
    want = domain.rstrip(".").lower() + "."
    best: dict[str, Any] | None = None
    for page in route53.get_paginator("list_hosted_zones").paginate():
        for zone in page["HostedZones"]:
            name = zone["Name"].lower()
            if (zone.get("Config") or {}).get("PrivateZone"):
                continue
            if (want == name or want.endswith("." + name)) and (best is None or len(name) > len(best["name"])):
                best = {"id": zone["Id"].split("/")[-1], "name": name}
    if best is None:
        raise InitError(f"{domain} is in no public Route 53 hosted zone of this account: create the zone of its "
                        "domain (and delegate it) or use the account that holds it")
    return best


def key_secret_arn(sm: Any, sts: Any, app: str, region: str) -> tuple[str, bool]:
    """The ARN of ``heroku2aws/<app>/heroku-api-key`` and whether it exists (a partial ARN when it does not yet)."""
    name = KEY_SECRET.format(app=app)
    try:
        return str(sm.describe_secret(SecretId=name)["ARN"]), True
    except Exception as exc:   # ResourceNotFoundException (or no permission): tell the user what to create
        if getattr(exc, "response", {}).get("Error", {}).get("Code") not in ("ResourceNotFoundException",):
            raise InitError(f"cannot look up the secret {name}: {exc.__class__.__name__}") from None
    account = sts.get_caller_identity()["Account"]
    return f"arn:aws:secretsmanager:{region}:{account}:secret:{name}", False


# ------------------------------------------------------------------ the choices


@dataclass
class Choices:
    params: LandingParameters
    postgres: PostgresChoice | None
    redis: RedisChoice | None
    why: list[str]
    warnings: list[str]
    record: dict[str, Any]


def choose(s: Survey, domain: str, zone_id: str, *, postgres_version: str | None = None,
           db_class: str | None = None, db_storage_gb: int | None = None, db_multi_az: bool | None = None,
           cache_node_type: str | None = None, health_check_path: str = "/", app_port: int = 5000,
           github_repository: str = "", vpc: tuple[str, tuple[str, ...], tuple[str, ...]] | None = None) -> Choices:
    """The landing's parameters for what the survey found, with the reason for each choice."""
    why: list[str] = []
    warnings: list[str] = []
    # The template's own constraints (HealthCheckPath, AppPort): refused here, not by `sam deploy` later.
    if not re.fullmatch(r"/[\x21-\x7e]{0,1023}", health_check_path):
        raise InitError(f"--health-path {health_check_path!r}: a path starting with '/', printable ASCII, no spaces")
    if not 1 <= app_port <= 65535:
        raise InitError(f"--port {app_port}: not a TCP port")
    custom = {str(d.get("hostname")).lower(): d for d in s.domains if d.get("kind") == "custom"}
    record = custom.get(domain.lower().rstrip("."))
    if record is None:
        listed = ", ".join(sorted(custom)) or "none"
        raise InitError(f"{domain} is not a custom domain of {s.app} (its custom domains: {listed}): the switch "
                        "moves the app's own domain from Heroku's DNS target to the ALB")
    pg: PostgresChoice | None = None
    pg_version = ""
    db = dict(instance_class="db.t4g.micro", storage=20, multi_az=False)
    if s.postgres is not None:
        plan = s.postgres.line.plan
        try:
            pg = choose_postgres(plan, data_bytes=s.postgres.bytes)
            db = dict(instance_class=pg.instance_class, storage=pg.storage_gb, multi_az=pg.multi_az)
            why += [f"Postgres {plan} -> {reason}" for reason in pg.why]
        except UnknownPlan as exc:
            if not db_class:
                raise InitError(f"{exc}: size it yourself with --db-class (and --db-storage-gb, --db-multi-az)") \
                    from None
            warnings.append(f"{exc}: sized by --db-class")
        if db_class:
            if db_class not in RDS_CLASSES and not re.fullmatch(r"db\.[a-z0-9]+\.[a-z0-9]+", db_class):
                raise InitError(f"--db-class {db_class}: not an RDS instance class name")
            db["instance_class"] = db_class
            why.append(f"Postgres -> {db_class}: --db-class")
        if db_storage_gb is not None:
            db["storage"] = db_storage_gb
            why.append(f"Postgres -> {db_storage_gb} GiB gp3: --db-storage-gb")
        if db_multi_az is not None:
            db["multi_az"] = db_multi_az
            why.append(f"Postgres Multi-AZ {'on' if db_multi_az else 'off'}: --db-multi-az")
        version = postgres_version or s.postgres.version
        if not version:
            raise InitError(f"the Postgres version of {s.app} is unknown ({s.postgres.source}): give its major "
                            "version with --postgres-version (`heroku pg:info` shows it)")
        m = re.match(r"^(\d+)", version)
        if m is None or not 12 <= int(m[1]) <= 99:
            raise InitError(f"--postgres-version {version}: not a PostgreSQL major version")
        pg_version = m[1]
        why.append(f"Postgres {pg_version}: Heroku's major version (" +
                   ("--postgres-version" if postgres_version else s.postgres.source) + ")")
        if pg is not None and (pg.instance_class, pg.storage_gb, pg.multi_az) != (
                db["instance_class"], db["storage"], db["multi_az"]):
            pg = PostgresChoice(pg.plan, str(db["instance_class"]), int(db["storage"]), bool(db["multi_az"]), pg.why)
    rd: RedisChoice | None = None
    redis = dict(engine="redis", version="", node="cache.t4g.micro", replicas=0)
    if s.redis is not None:
        plan = s.redis.line.plan
        try:
            rd = choose_redis(plan, version=s.redis.version)
            redis = dict(engine=rd.engine, version=rd.engine_version, node=rd.node_type, replicas=rd.replicas)
            why += [f"Redis {plan} -> {reason}" for reason in rd.why]
        except UnknownPlan as exc:
            if not cache_node_type:
                raise InitError(f"{exc}: size it yourself with --cache-node-type") from None
            warnings.append(f"{exc}: sized by --cache-node-type")
            engine, version, reason = redis_engine_for(s.redis.version)
            redis.update(engine=engine, version=version)
            why.append(f"Redis -> {reason}")
        if cache_node_type:
            if not re.fullmatch(r"cache\.[a-z0-9]+\.[a-z0-9]+", cache_node_type):
                raise InitError(f"--cache-node-type {cache_node_type}: not an ElastiCache node type name")
            redis["node"] = cache_node_type
            why.append(f"Redis -> {cache_node_type}: --cache-node-type")
        if s.redis.version:
            why.append(f"Redis source version {s.redis.version} ({s.redis.source})")
        if rd is not None and rd.node_type != redis["node"]:
            rd = RedisChoice(rd.plan, str(redis["node"]), rd.replicas, rd.engine, rd.engine_version, rd.why)
    for p in s.formation:
        why.append(f"{p.type}: {p.size} -> Fargate {p.cpu / 1024:g} vCPU / {p.memory / 1024:g} GB"
                   + (f" ({p.size_note})" if p.size_note else "") + f", x{p.quantity}")
        if p.size_note:
            warnings.append(f"{p.type}: {p.size_note}")
    if s.postgres and s.postgres.bytes is not None and pg is not None and s.postgres.bytes > 0.8 * pg.storage_gb * GIB:
        warnings.append(f"the database ({s.postgres.bytes / GIB:.1f} GiB) fills most of {pg.storage_gb} GiB")
    vpc_id, public, private = vpc or ("", (), ())
    params = LandingParameters(
        app_name=s.app, hosted_zone_id=zone_id, landing="create", domain=domain.rstrip("."),
        existing_vpc_id=vpc_id, existing_public_subnet_ids=public, existing_private_subnet_ids=private,
        postgres_engine_version=pg_version, db_instance_class=str(db["instance_class"]),
        db_allocated_storage_gb=int(db["storage"]), db_multi_az=bool(db["multi_az"]),
        redis_engine=redis["engine"], redis_engine_version=str(redis["version"]),  # type: ignore[arg-type]
        redis_node_type=str(redis["node"]), redis_replicas=int(redis["replicas"]), app_port=app_port,
        health_check_path=health_check_path, github_repository=github_repository)
    return Choices(params, pg, rd, why, warnings, record)


# ------------------------------------------------------------------ the files


def write_samconfig(path: Path, env: str, params: LandingParameters, region: str) -> None:
    """Set ``[<env>.deploy.parameters]`` (and ``[<env>.build.parameters]`` when absent) in samconfig.toml, keeping
    every other environment, key and comment of the file (tomlkit round-trip)."""
    import tomlkit

    doc = tomlkit.parse(path.read_text()) if path.exists() else tomlkit.document()
    if "version" not in doc:
        doc["version"] = 0.1
    env_table = doc.get(env)
    if env_table is None:
        env_table = tomlkit.table(is_super_table=True)
        doc[env] = env_table
    deploy = env_table.get("deploy")
    if deploy is None:
        deploy = tomlkit.table(is_super_table=True)
        env_table["deploy"] = deploy
    parameters = tomlkit.table()
    parameters["stack_name"] = f"heroku2aws-{params.app_name}"
    parameters["capabilities"] = "CAPABILITY_IAM CAPABILITY_NAMED_IAM"
    parameters["confirm_changeset"] = True
    parameters["resolve_s3"] = True
    parameters["region"] = region
    parameters["parameter_overrides"] = params.to_overrides()
    deploy["parameters"] = parameters
    if "build" not in env_table:
        build = tomlkit.table(is_super_table=True)
        build_params = tomlkit.table()
        build_params["cached"] = True
        build_params["parallel"] = True
        build["parameters"] = build_params
        env_table["build"] = build
    path.parent.mkdir(parents=True, exist_ok=True)  # --out may name a directory that does not exist yet
    path.write_text(tomlkit.dumps(doc))


def write_events(path: Path, app: str, key_arn: str, domain: str) -> dict[str, Any]:
    """``events/<app>.json``: the minimal execution input (interface B: the app, its key's secret, the domain)."""
    doc = {"version": 1, "heroku": {"app": app, "api_key_secret_arn": key_arn}, "dns": {"record_name": domain}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2) + "\n")
    return doc


# ------------------------------------------------------------------ the whole command


@dataclass
class Result:
    survey: Survey
    choices: Choices
    zone: dict[str, Any]
    key_arn: str
    key_exists: bool
    region: str
    samconfig: Path
    events: Path
    estimates: list[costs.Estimate]


def tasks_of(s: Survey) -> list[costs.TaskSize]:
    return [costs.TaskSize(p.type, p.quantity, p.cpu, p.memory) for p in s.formation]


def estimates(s: Survey, c: Choices, region: str) -> list[costs.Estimate]:
    nat = 0 if c.params.existing_vpc_id else 1
    landing = costs.landing_monthly(tasks_of(s), c.postgres, c.redis, nat_gateways=nat, region=region)
    heroku = costs.heroku_monthly([(p.type, p.quantity, p.size) for p in s.formation], s.addons)
    once = costs.migration_one_time(strategy="dms-full-load", data_bytes=s.postgres.bytes if s.postgres else None,
                                    landing_monthly_total=landing.total, heroku_monthly_total=heroku.total)
    return [landing, heroku, once]


def landing_summary(s: Survey, *, strategy: str = "dms-full-load", dms_instance_class: str = "dms.t3.medium",
                    region: str | None = None) -> dict[str, Any]:
    """What ``heroku2aws plan --heroku`` shows beside the plan: the add-ons' lines and the three estimates, for the
    sizes the plan tables give (a plan they do not know is named and left unpriced, never guessed)."""
    notes: list[str] = []
    pg = rd = None
    if s.postgres is not None:
        try:
            pg = choose_postgres(s.postgres.line.plan, data_bytes=s.postgres.bytes)
        except UnknownPlan as exc:
            notes.append(f"{exc}: not priced")
    if s.redis is not None:
        try:
            rd = choose_redis(s.redis.line.plan, version=s.redis.version)
        except UnknownPlan as exc:
            notes.append(f"{exc}: not priced")
    aws_region = region or s.aws_region
    landing = costs.landing_monthly(tasks_of(s), pg, rd, region=aws_region)
    heroku = costs.heroku_monthly([(p.type, p.quantity, p.size) for p in s.formation], s.addons)
    once = costs.migration_one_time(strategy=strategy, data_bytes=s.postgres.bytes if s.postgres else None,
                                    dms_instance_class=dms_instance_class, landing_monthly_total=landing.total,
                                    heroku_monthly_total=heroku.total)
    return {"addons": [{"plan": line.plan, "action": line.mapping.action, "counterpart": line.mapping.counterpart,
                        "line": line.text()} for line in s.addons],
            "sizes": [reason for choice in (pg, rd) if choice is not None for reason in choice.why],
            "estimates": {e.title: {"total_usd": e.total, "unpriced": e.unpriced, "lines": e.text()}
                          for e in (landing, heroku, once)},
            "notes": notes}


def run(api: HerokuClient, app: str, domain: str, *, route53: Any, secretsmanager: Any, sts: Any, region: str | None,
        out: Path, connect: bool = True, **choice_options: Any) -> Result:
    """Survey, choose, write: what ``main`` does, with the clients given (the rehearsal passes emulated ones)."""
    s = survey(api, app, connect=connect)
    aws_region = region or s.aws_region or "us-east-1"
    zone = find_hosted_zone(route53, domain)
    c = choose(s, domain, zone["id"], **choice_options)
    key_arn, key_exists = key_secret_arn(secretsmanager, sts, s.app, aws_region)
    samconfig, events = out / "samconfig.toml", out / "events" / f"{s.app}.json"
    write_samconfig(samconfig, s.app, c.params, aws_region)
    write_events(events, s.app, key_arn, c.params.domain)
    return Result(s, c, zone, key_arn, key_exists, aws_region, samconfig, events, estimates(s, c, aws_region))


def report(r: Result) -> list[str]:
    s, c = r.survey, r.choices
    out = [f"found: {s.app} on Heroku ({s.region} -> {r.region}, {s.stack}, {s.generation} generation"
           + (f", release v{s.release_version}" if s.release_version else "") + ")"]
    out += [f"  process {p.type}: x{p.quantity} {p.size}  `{p.command}`" for p in s.formation]
    extra = sorted(set(s.process_types) - {p.type for p in s.formation})
    if extra:
        out.append(f"  process types without dynos: {', '.join(extra)}")
    out.append(f"  domain {c.params.domain} -> {c.record.get('cname')} (Route 53 zone {r.zone['name']} {r.zone['id']})")
    out.append(f"  {len(s.config_var_names)} config vars: {', '.join(s.config_var_names)}")
    for store, label in ((s.postgres, "Postgres"), (s.redis, "Redis")):
        if store is not None:
            size = f", {store.bytes / 1024 ** 2:,.1f} MiB" if store.bytes is not None else ""
            out.append(f"  {label}: {store.line.plan}, version {store.version or 'unknown'}{size} (from {store.source})")
    out.append("add-ons:")
    out += [f"  {line.text()}" for line in s.addons] or ["  none"]
    out.append("chose (and why):")
    out += [f"  {reason}" for reason in c.why]
    out += [f"  warning: {w}" for w in c.warnings]
    for est in r.estimates:
        out += est.text()
    out.append(f"wrote {r.samconfig} [{s.app}.deploy.parameters] and {r.events}")
    if not r.key_exists:
        out.append(f"next: store the Heroku key in Secrets Manager first: aws secretsmanager create-secret --name "
                   f"{KEY_SECRET.format(app=s.app)} --secret-string \"$(heroku auth:token)\" --region {r.region}")
    if any(line.service == "scheduler" for line in s.addons):
        out.append("next: Heroku Scheduler has no API: copy its jobs into events/"
                   f"{s.app}.json as \"scheduler\": {{\"jobs\": [{{\"name\", \"command\", \"schedule\": "
                   "\"cron(...)\" or \"rate(...)\"}]}")
    out.append(f"then: sam build && sam deploy --config-env {s.app}, and start the execution with events/{s.app}.json")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="heroku2aws init", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--app", required=True, help="the Heroku app")
    parser.add_argument("--domain", required=True, help="the app's custom domain the ALB will serve")
    parser.add_argument("--out", type=Path, default=project.ROOT, help="where samconfig.toml and events/ are "
                                                                       "(default %(default)s)")
    parser.add_argument("--region", help="AWS region of the landing (default: the one the Heroku region runs in)")
    parser.add_argument("--profile", help="AWS profile")
    parser.add_argument("--ci", choices=["github"], help="create the CI deploy role (with --repo)")
    parser.add_argument("--repo", default="", help="owner/name of the GitHub repository the deploy role trusts")
    parser.add_argument("--app-dir", type=Path, help="the app's repository checkout, where --ci github writes "
                        ".github/workflows/deploy-to-aws.yml (default: <out>/ci/<app>/, to copy into it)")
    parser.add_argument("--health-path", default="/", help="the web process's health check path (default /)")
    parser.add_argument("--port", type=int, default=5000, help="the port the web process listens on ($PORT)")
    parser.add_argument("--vpc-id", default="", help="reuse this VPC instead of creating one")
    parser.add_argument("--public-subnets", default="", help="its public subnets (comma-separated), with --vpc-id")
    parser.add_argument("--private-subnets", default="", help="its private subnets (comma-separated), with --vpc-id")
    parser.add_argument("--no-connect", action="store_true", help="do not connect to the data stores")
    parser.add_argument("--postgres-version", help="Heroku Postgres major version, when init cannot read it")
    parser.add_argument("--db-class", help="RDS class instead of the plan's (required for an unknown plan)")
    parser.add_argument("--db-storage-gb", type=int, help="gp3 GiB instead of the plan's storage")
    parser.add_argument("--db-multi-az", choices=["true", "false"], help="Multi-AZ instead of the plan's HA")
    parser.add_argument("--cache-node-type", help="ElastiCache node type instead of the plan's")
    args = parser.parse_args(argv)
    if args.ci and not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", args.repo or ""):
        parser.error("--ci github needs --repo owner/name")
    if bool(args.vpc_id) != bool(args.public_subnets and args.private_subnets):
        parser.error("--vpc-id needs --public-subnets and --private-subnets (and they need --vpc-id)")
    try:
        import boto3

        key = api_key()
        api = HerokuClient(key, os.environ.get("HEROKU_API_URL"), retries=2)
        session = boto3.Session(profile_name=args.profile, region_name=args.region)
        region = args.region or session.region_name
        result = run(api, args.app, args.domain, route53=session.client("route53"),
                     secretsmanager=session.client("secretsmanager", region_name=region or "us-east-1"),
                     sts=session.client("sts"), region=args.region, out=args.out, connect=not args.no_connect,
                     postgres_version=args.postgres_version, db_class=args.db_class,
                     db_storage_gb=args.db_storage_gb,
                     db_multi_az=None if args.db_multi_az is None else args.db_multi_az == "true",
                     cache_node_type=args.cache_node_type, health_check_path=args.health_path, app_port=args.port,
                     github_repository=args.repo if args.ci else "",
                     vpc=(args.vpc_id, _ids(args.public_subnets), _ids(args.private_subnets)) if args.vpc_id else None)
    except InitError as exc:
        print(f"heroku2aws init: {exc}", file=sys.stderr)
        return 2
    for line in report(result):
        print(line)
    if args.ci == "github":
        from . import ci_github

        types = sorted(set(result.survey.process_types) | {p.type for p in result.survey.formation})
        account = session.client("sts").get_caller_identity()["Account"]
        app_dir = args.app_dir or args.out / "ci" / result.survey.app
        path = ci_github.write_workflow(app_dir, result.survey.app, args.repo, account, result.region, types)
        print(f"wrote {path}: builds and deploys on every push to main, as role "
              f"{ci_github.deploy_role_name(result.survey.app)} (the stack creates it: GitHubRepository={args.repo})")
    return 0


def _ids(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


if __name__ == "__main__":
    sys.exit(main())

