"""The execution input: one typed model, and the JSON Schema generated from it.

Only Secrets Manager ARNs travel here: the console shows every execution's input and output, so a
secret value (Heroku API key, database password, connection URL) is refused wherever it appears.
``schema/execution-input.schema.json`` is generated from this module (``python -m heroku2aws.contracts.input``)
and a test fails when the two disagree.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .schedules import ScheduleExpressionError, check_expression
from .sizes import FARGATE_MEMORY, is_valid_fargate, lookup

#: A Secrets Manager secret's ARN: the one pattern (the schema publishes it; clients.secret_values matches it).
SECRET_ARN_PATTERN = r"^arn:aws[\w-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@!-]+$"
SECRET_ARN = re.compile(SECRET_ARN_PATTERN)
LOOKS_SECRET = re.compile(r"(://[^/\s]*:[^@/\s]+@)|(^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$)|"
                           r"(^HRKU-)|(^(sk|rk|pk)_(live|test)_)", re.IGNORECASE)

Strategy = Literal["dms-full-load", "dms-cdc", "dump-restore"]


#: Hosts a Heroku API URL may name with http:// (the key stays on this machine: the rehearsal's stand-in).
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]"})
#: What the region and account of an ARN are, for the coherence check (arn:PARTITION:SERVICE:REGION:ACCOUNT:...).
_ARN_PARTS = re.compile(r"^arn:[^:]+:[^:]+:([^:]*):([^:]*):")


def _unique(values: list[str], what: str) -> list[str]:
    twice = sorted({v for v in values if values.count(v) > 1})
    if twice:
        raise ValueError(f"{what} lists {', '.join(twice)} more than once")
    return values


def _secret_arn(value: str) -> str:
    if not isinstance(value, str) or not SECRET_ARN.match(value):
        if isinstance(value, str) and LOOKS_SECRET.search(value):
            raise ValueError("looks like a secret value: store it in Secrets Manager and pass the secret's ARN")
        raise ValueError("must be a Secrets Manager secret ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME)")
    return value


SecretArn = Annotated[str, Field(pattern=SECRET_ARN_PATTERN, max_length=2048,
                                 description="ARN of a Secrets Manager secret (never the value).")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Heroku(_Model):
    # Heroku's own rule (3-30 characters, a lower-case letter first, letters, digits and dashes) narrowed to
    # what AWS accepts in the names built from it: a DMS identifier ("h2a-<app>-...") "can't end with a hyphen
    # or contain two consecutive hyphens" (botocore dms/2016-01-01, CreateReplicationInstance
    # ReplicationInstanceIdentifier). So every dash is followed by a letter or digit.
    app: str = Field(min_length=3, max_length=30, pattern=r"^[a-z](?:[a-z0-9]|-[a-z0-9])+$",
                     description="Heroku app name (no trailing or doubled dash: DMS identifiers are built from it).")
    api_key_secret_arn: SecretArn = Field(description="Secret whose value is the Heroku API key "
                                          "(plain string or JSON {\"api_key\": ...}).")
    api_url: str = Field(default="https://api.heroku.com", pattern=r"^https?://[^\s@]+$",
                         description="Heroku Platform API base URL (the rehearsal points it at its stand-in).")

    @field_validator("api_key_secret_arn", mode="before")
    @classmethod
    def _arn(cls, v):
        return _secret_arn(v)

    @field_validator("api_url")
    @classmethod
    def _https(cls, v: str) -> str:
        """https:// only: the API key goes in every request's Authorization header."""
        scheme, _, rest = v.partition("://")
        host = rest.split("/", 1)[0].rsplit(":", 1)[0] if not rest.startswith("[") else rest.split("]", 1)[0] + "]"
        if scheme.lower() != "https" and host.lower() not in LOOPBACK_HOSTS:
            raise ValueError("must be an https:// URL: over http:// the Heroku API key would cross the network in "
                             "clear text (http:// is taken only for this machine: 127.0.0.1, localhost)")
        return v


class DataStores(_Model):
    postgres_secret_arn: SecretArn = Field(description="Secret JSON {host, port, username, password, dbname} "
                                           "(the format DMS reads; an optional url field is accepted).")
    redis_secret_arn: SecretArn | None = Field(default=None, description="Secret JSON {url} (redis:// or "
                                               "rediss://). Omit when the app has no Redis.")

    @field_validator("postgres_secret_arn", "redis_secret_arn", mode="before")
    @classmethod
    def _arns(cls, v):
        return v if v is None else _secret_arn(v)


class FargateSize(_Model):
    """A Fargate task size (Linux): a valid CPU / memory combination, as
    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html#fargate-tasks-size lists."""

    cpu: Literal[256, 512, 1024, 2048, 4096, 8192, 16384] = Field(description="CPU units (1024 = 1 vCPU).")
    memory: int = Field(ge=512, le=122880, description="Memory in MiB.")

    @model_validator(mode="after")
    def _valid_combination(self) -> FargateSize:
        if not is_valid_fargate(self.cpu, self.memory):
            low, high, step = FARGATE_MEMORY[self.cpu]
            allowed = "512, 1024 or 2048" if self.cpu == 256 else f"{low}-{high} in steps of {step}"
            raise ValueError(f"not a Fargate task size: {self.cpu} CPU units take {allowed} MiB, not {self.memory}")
        return self


class Ecs(_Model):
    cluster_arn: str = Field(pattern=r"^arn:aws[\w-]*:ecs:[a-z0-9-]+:[0-9]{12}:cluster/[A-Za-z0-9_-]{1,255}$")
    image: str | None = Field(default=None, min_length=3, max_length=1024, pattern=r"^[^\s]+$",
                              description="The app's container image. Without one the workflow builds it from the "
                                          "release Heroku is running (its slug on heroku/heroku:<stack>) and pushes "
                                          "it to the stack's repository heroku2aws/<app>, tagged v<release>.")
    subnets: list[Annotated[str, Field(pattern=r"^subnet-[0-9a-f]{8,17}$")]] = Field(min_length=1, max_length=16)
    security_groups: list[Annotated[str, Field(pattern=r"^sg-[0-9a-f]{8,17}$")]] = Field(min_length=1, max_length=5)
    assign_public_ip: bool = False
    execution_role_arn: str = Field(pattern=r"^arn:aws[\w-]*:iam::[0-9]{12}:role/[\w+=,.@/-]+$",
                                    description="Task execution role: pulls the image, reads the app's secret.")
    task_role_arn: str | None = Field(default=None, pattern=r"^arn:aws[\w-]*:iam::[0-9]{12}:role/[\w+=,.@/-]+$")
    port: int = Field(default=5000, ge=1, le=65535, description="The port the web process listens on ($PORT).")
    procfile: str | None = Field(default=None, max_length=20000,
                                 description="The Procfile's text; omitted: the Heroku formation's commands.")
    dyno_sizes: dict[Annotated[str, Field(pattern=r"^[A-Za-z0-9.-]{1,40}$")], FargateSize] = Field(
        default_factory=dict, max_length=64,
        description="Overrides of the dyno size -> Fargate size table (README, 'Dyno sizes'), by Heroku size "
                    "name (case-insensitive): {\"performance-l\": {\"cpu\": 4096, \"memory\": 16384}}.")


    @field_validator("subnets", "security_groups")
    @classmethod
    def _no_repeats(cls, v: list[str], info) -> list[str]:
        return _unique(v, f"ecs.{info.field_name}")

    @field_validator("procfile")
    @classmethod
    def _no_bom(cls, v: str | None) -> str | None:
        if v is not None and v.startswith("\ufeff"):
            raise ValueError("starts with a byte-order mark (U+FEFF, as some editors save UTF-8): save the "
                             "Procfile as UTF-8 without one (Heroku reads 'web:' there, not '\\ufeffweb:')")
        return v


class LoadBalancer(_Model):
    target_group_arn: str = Field(pattern=r"^arn:aws[\w-]*:elasticloadbalancing:[a-z0-9-]+:[0-9]{12}:targetgroup/.+$")
    load_balancer_arn: str = Field(pattern=r"^arn:aws[\w-]*:elasticloadbalancing:[a-z0-9-]+:[0-9]{12}:loadbalancer/.+$")
    dns_name: str = Field(pattern=r"^[A-Za-z0-9.-]+$", max_length=253)
    health_url: str = Field(pattern=r"^https?://[^\s@]+$", description="URL the synthetic probe requests.")


class Dns(_Model):
    hosted_zone_id: str = Field(pattern=r"^(/hostedzone/)?[A-Z0-9]{1,32}$",
                                description="The zone's ID; a `/hostedzone/` prefix is accepted and removed.")

    @field_validator("hosted_zone_id")
    @classmethod
    def _bare_zone_id(cls, v: str) -> str:
        # boto3 strips "/hostedzone/" from HostedZoneId; Step Functions' aws-sdk:route53 integration passes the
        # value as given and Route 53 refuses it, so the normalised input carries the bare ID.
        return v.removeprefix("/hostedzone/")
    record_name: str = Field(pattern=r"^([A-Za-z0-9_-]{1,63}\.)+[A-Za-z]{2,63}\.?$", max_length=253)
    heroku_target: str = Field(pattern=r"^[A-Za-z0-9.-]+\.herokudns\.com\.?$",
                               description="The CNAME target Heroku gave the custom domain.")
    ttl: int = Field(default=60, ge=1, le=60, description="TTL of both weighted records (<= 60 s).")


class Database(_Model):
    strategy: Strategy = "dms-full-load"
    dms_instance_class: str = Field(default="dms.t3.medium", pattern=r"^dms\.[a-z0-9]+\.[a-z0-9]+$")
    dms_allocated_storage_gb: int = Field(default=50, ge=5, le=6144)
    # Needed by the DMS strategies only (dump-restore creates no DMS resource): ExecutionInput checks it.
    dms_subnet_ids: list[Annotated[str, Field(pattern=r"^subnet-[0-9a-f]{8,17}$")]] | None = Field(
        default=None, min_length=2, max_length=16)
    dms_security_group_ids: list[Annotated[str, Field(pattern=r"^sg-[0-9a-f]{8,17}$")]] | None = Field(
        default=None, min_length=1, max_length=5)
    dump_restore_jobs: int = Field(default=4, ge=1, le=32)

    @field_validator("dms_subnet_ids", "dms_security_group_ids")
    @classmethod
    def _no_repeats(cls, v: list[str] | None, info) -> list[str] | None:
        return v if v is None else _unique(v, f"database.{info.field_name}")


class Traffic(_Model):
    steps: list[Annotated[int, Field(ge=1, le=100)]] = Field(default=[10, 50, 100], min_length=1, max_length=10,
                                                            description="AWS share in percent, ending at 100.")
    max_5xx_rate: float = Field(default=0.01, ge=0, le=1)

    @field_validator("steps")
    @classmethod
    def _increasing(cls, v: list[int]) -> list[int]:
        if any(b <= a for a, b in zip(v, v[1:], strict=False)):
            raise ValueError("steps must increase")
        if v[-1] != 100:
            raise ValueError("the last step must be 100 (all traffic on AWS)")
        return v


class Timings(_Model):
    """Every Wait state reads its seconds from here: a rehearsal waits seconds, production minutes."""

    poll_seconds: int = Field(default=30, ge=1, le=3600)
    bake_seconds: int = Field(default=300, ge=0, le=86400)
    dns_insync_timeout_seconds: int = Field(default=600, ge=1, le=86400)
    dms_timeout_seconds: int = Field(default=21600, ge=1, le=604800)
    service_stable_timeout_seconds: int = Field(default=1800, ge=1, le=86400)
    approval_timeout_seconds: int = Field(default=86400, ge=1, le=604800)


class Approval(_Model):
    required: bool = True


class Rollback(_Model):
    keep_secret: bool = Field(default=False, description="Keep the imported config-var secret on rollback.")
    keep_services: bool = Field(default=False, description="Keep the ECS services (scaled to 0) on rollback.")


class SchedulerJob(_Model):
    """One Heroku Scheduler job (Heroku Scheduler has no public API: the user copies its jobs here). The workflow
    creates it as the EventBridge Scheduler schedule ``h2a-<app>.<name>`` running the app's image with the command,
    disabled until the switch."""

    # The schedule's name "h2a-<app>.<name>" must fit CreateSchedule's Name (1-64 of [0-9a-zA-Z-_.]: botocore
    # scheduler CreateSchedule): 4 + 30 (the longest app name) + 1 + 29.
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,28}$", description="The job's name (names its schedule).")
    command: str = Field(min_length=1, max_length=4096, description="The command, as Heroku Scheduler runs it.")
    schedule: str = Field(min_length=1, max_length=256,
                          description="rate(value unit) or cron(minutes hours day-of-month month day-of-week year), "
                                      "as EventBridge Scheduler takes them: every 10 minutes is rate(10 minutes), "
                                      "hourly at :30 cron(30 * * * ? *), daily at 02:00 cron(0 2 * * ? *).")
    timezone: str = Field(default="UTC", min_length=1, max_length=50, pattern=r"^[A-Za-z][A-Za-z0-9_+/-]*$",
                          description="The time zone the expression is read in (Heroku Scheduler's is UTC).")
    size: str = Field(default="standard-1x", pattern=r"^[A-Za-z0-9.-]{1,40}$",
                      description="The job's dyno size (Fargate size by the same table as the processes).")

    @field_validator("schedule")
    @classmethod
    def _expression(cls, v: str) -> str:
        try:
            return check_expression(v)
        except ScheduleExpressionError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("command")
    @classmethod
    def _no_secret(cls, v: str) -> str:
        if LOOKS_SECRET.search(v):
            raise ValueError("looks like it holds a secret value: read it from a config var in the command instead")
        return v

    @field_validator("size")
    @classmethod
    def _known_size(cls, v: str) -> str:
        if lookup(v) is None:
            raise ValueError("not a Heroku dyno size heroku2aws knows (README, 'Dyno sizes')")
        return v


class Scheduler(_Model):
    # At most 25: each job adds about 74 events to an execution's worst-case history (creating and enabling its
    # schedule), and 25 keep the schema's worst case under Step Functions' 25,000 (heroku2aws_cli.history).
    jobs: list[SchedulerJob] = Field(default_factory=list, max_length=25,
                                     description="Heroku Scheduler's jobs, created as EventBridge Scheduler schedules.")

    @field_validator("jobs")
    @classmethod
    def _unique(cls, v: list[SchedulerJob]) -> list[SchedulerJob]:
        names = [j.name for j in v]
        if len(names) != len(set(names)):
            raise ValueError("job names must be unique (each names its schedule)")
        return v


class ExecutionInput(_Model):
    """What an execution of the migration state machine takes."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, title="heroku2aws execution input")

    version: Literal[1] = 1
    heroku: Heroku
    source: DataStores
    target: DataStores
    ecs: Ecs
    load_balancer: LoadBalancer
    dns: Dns
    database: Database
    traffic: Traffic = Traffic()
    timings: Timings = Timings()
    approval: Approval = Approval()
    rollback: Rollback = Rollback()
    scheduler: Scheduler = Scheduler()

    @model_validator(mode="after")
    def _coherent(self) -> ExecutionInput:
        if self.source.postgres_secret_arn == self.target.postgres_secret_arn:
            raise ValueError("source.postgres_secret_arn and target.postgres_secret_arn are the same secret")
        if (self.source.redis_secret_arn is None) != (self.target.redis_secret_arn is None):
            raise ValueError("give both source.redis_secret_arn and target.redis_secret_arn, or neither")
        if self.source.redis_secret_arn is not None and self.source.redis_secret_arn == self.target.redis_secret_arn:
            raise ValueError("source.redis_secret_arn and target.redis_secret_arn are the same secret: the copy would "
                             "overwrite the source with itself")
        if self.database.strategy != "dump-restore":
            missing = [f"database.{f}" for f in ("dms_subnet_ids", "dms_security_group_ids")
                       if getattr(self.database, f) is None]
            if missing:
                raise ValueError(f"{' and '.join(missing)} are needed by the {self.database.strategy} strategy (its DMS "
                                 "replication instance runs there); dump-restore needs neither")
        self._one_region()
        return self

    def _one_region(self) -> None:
        """Every regional ARN in one region: the state machine, its Lambdas and DMS call ECS, ELB and Secrets Manager
        in their own region, where a cluster or secret of another region is 'not found' inside the migration."""
        arns = {"ecs.cluster_arn": self.ecs.cluster_arn, "load_balancer.target_group_arn":
                self.load_balancer.target_group_arn, "load_balancer.load_balancer_arn": self.load_balancer.load_balancer_arn,
                "heroku.api_key_secret_arn": self.heroku.api_key_secret_arn,
                "source.postgres_secret_arn": self.source.postgres_secret_arn,
                "target.postgres_secret_arn": self.target.postgres_secret_arn,
                "source.redis_secret_arn": self.source.redis_secret_arn,
                "target.redis_secret_arn": self.target.redis_secret_arn,
                "ecs.execution_role_arn": self.ecs.execution_role_arn, "ecs.task_role_arn": self.ecs.task_role_arn}
        parts = {f: m.groups() for f, a in arns.items() if a and (m := _ARN_PARTS.match(a))}
        for index, what in ((0, "region"),):
            values = [p[index] for p in parts.values() if p[index]]
            usual = max(dict.fromkeys(values), key=values.count)  # the most common (the cluster's first on a tie)
            odd = [f"{f} ({p[index]})" for f, p in parts.items() if p[index] and p[index] != usual]
            if odd:
                raise ValueError(f"{', '.join(odd)} not in {what} {usual} of the other resources: the workflow "
                                 f"reaches the resources of its own {what} only")


# ------------------------------------------------------------------ the minimal input (Landing=create, issue 16)
# Interface B: the app, the Heroku key's secret and the domain, plus optional choices; the validate step completes it
# from the landing stack (heroku2aws.steps.validate_input.complete_from_landing) and the "Create the source secrets"
# step from Heroku's live config vars (heroku2aws.steps.complete_input). Every later step sees ExecutionInput.

HEROKU_TARGET_PATTERN = r"^[A-Za-z0-9.-]+\.herokudns\.com\.?$"
RECORD_NAME_PATTERN = r"^([A-Za-z0-9_-]{1,63}\.)+[A-Za-z]{2,63}\.?$"
#: Keys only the full (bring-your-own) input has: any of them at the top level means the full shape.
FULL_ONLY_KEYS = ("source", "target", "load_balancer")


class LandingDns(_Model):
    record_name: str = Field(pattern=RECORD_NAME_PATTERN, max_length=253,
                             description="The app's custom domain (the landing's Domain).")
    heroku_target: str | None = Field(default=None, pattern=HEROKU_TARGET_PATTERN,
                                      description="Omit: read from Heroku's domain (GET /apps/{app}/domains/{host}).")
    ttl: int = Field(default=60, ge=1, le=60)


class LandingDatabase(_Model):
    strategy: Strategy = "dms-full-load"
    dms_instance_class: str = Field(default="dms.t3.medium", pattern=r"^dms\.[a-z0-9]+\.[a-z0-9]+$")
    dms_allocated_storage_gb: int = Field(default=50, ge=5, le=6144)
    dump_restore_jobs: int = Field(default=4, ge=1, le=32)


class LandingEcs(_Model):
    procfile: str | None = Field(default=None, max_length=20000)
    dyno_sizes: dict[Annotated[str, Field(pattern=r"^[A-Za-z0-9.-]{1,40}$")], FargateSize] = Field(
        default_factory=dict, max_length=64)


class MinimalInput(_Model):
    """The execution input of a stack deployed with Landing=create: what only the user knows."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, title="heroku2aws minimal execution input")

    version: Literal[1] = 1
    heroku: Heroku
    dns: LandingDns
    image: str | None = Field(default=None, min_length=3, max_length=1024, pattern=r"^[^\s]+$",
                              description="The app's container image.")
    health_url: str | None = Field(default=None, pattern=r"^https?://[^\s@]+$",
                                   description="Omit: https://<the landing's ALB><HealthCheckPath>.")
    ecs: LandingEcs = LandingEcs()
    database: LandingDatabase = LandingDatabase()
    traffic: Traffic = Traffic()
    timings: Timings = Timings()
    approval: Approval = Approval()
    rollback: Rollback = Rollback()
    scheduler: Scheduler = Scheduler()


class PendingDns(Dns):
    heroku_target: str | None = Field(default=None, pattern=HEROKU_TARGET_PATTERN)  # type: ignore[assignment]


class PendingInput(ExecutionInput):
    """A minimal input completed from the landing, before the workflow has created the source secrets from Heroku's
    config vars (``source`` absent) and read the domain's DNS target (``dns.heroku_target`` absent)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, title="heroku2aws pending execution input")

    source: DataStores | None = None  # type: ignore[assignment]
    dns: PendingDns  # type: ignore[assignment]

    @model_validator(mode="after")
    def _coherent(self) -> PendingInput:
        if self.source is not None and self.source.postgres_secret_arn == self.target.postgres_secret_arn:
            raise ValueError("source.postgres_secret_arn and target.postgres_secret_arn are the same secret")
        return self


def is_minimal(raw: dict) -> bool:
    """True when ``raw`` has the minimal shape (none of the keys only the full input has)."""
    return not any(key in raw for key in FULL_ONLY_KEYS)


def json_schema() -> dict:
    schema = ExecutionInput.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://github.com/heroku2aws/heroku2aws/schema/execution-input.schema.json"
    return schema


if __name__ == "__main__":
    print(json.dumps(json_schema(), indent=2))
