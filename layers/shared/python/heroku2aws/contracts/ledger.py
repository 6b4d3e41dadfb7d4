"""The ledger: what an execution may have created or changed, recorded by the ASL before each stage.

The ASL appends entries to its ``$ledger`` variable in JSONata (``{'kind': 'dms', 'app': …, 'id': …}``);
the rollback function reads them back newest first and runs the compensation registered for each kind
(:data:`heroku2aws.compensations.COMPENSATIONS`). Each kind is a model here with a ``Literal`` kind.
``tests/contracts/test_asl_contract.py`` reads every entry the ASL records and fails when its kind has no
model or no compensation, or when it records a field its model does not have.

Entries pass through Step Functions state as JSON: the models accept and ignore unknown fields at run time
(a rollback must never fail on its own ledger); the contract test is where a stray field is caught.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

__all__ = ["KINDS", "AppImage", "AwsServicesPaused", "ConfigSecret", "Dms", "DnsRecords", "EcsServices", "HerokuFormation",
           "HerokuMaintenance", "LedgerEntry", "ScheduledJobs", "SecretSwitch", "SourceReadOnly", "SourceSecrets",
           "TargetDatabase", "TargetRedis",
           "parse_entry"]


class _Entry(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class ConfigSecret(_Entry):
    """Stage 3: the config secret ``heroku2aws/<app>/config`` (deleted with a recovery window)."""

    kind: Literal["config-secret"]
    app: str


class EcsServices(_Entry):
    """Stage 3: the app's ECS services and task definitions (tagged ``heroku2aws:app``)."""

    kind: Literal["ecs-services"]
    app: str
    cluster: str


class Dms(_Entry):
    """Stage 3: the DMS task, endpoints, instance and subnet group ``h2a-<app>`` (also the finalize teardown)."""

    kind: Literal["dms"]
    app: str
    id: str


class DnsRecords(_Entry):
    """Stage 4: the record as it was before the traffic shift (``original``: Route 53's ResourceRecordSets)."""

    kind: Literal["dns"]
    zone_id: str
    record_name: str
    original: list[dict[str, Any]] = Field(default_factory=list)
    heroku_target: str | None = None
    alb_target: str | None = None
    ttl: int | None = None


class HerokuMaintenance(_Entry):
    """Stage 6: Heroku's maintenance mode as it ``was``."""

    kind: Literal["heroku-maintenance"]
    app: str
    was: bool = False


class HerokuFormation(_Entry):
    """Stage 6: the Heroku formation (``[{type, quantity, size}]``) before the freeze."""

    kind: Literal["heroku-formation"]
    app: str
    formation: list[dict[str, Any]] = Field(default_factory=list)


class SourceReadOnly(_Entry):
    """Stage 6: the source database made read-only for the freeze (``default_transaction_read_only`` reset)."""

    kind: Literal["source-read-only"]
    app: str


class AwsServicesPaused(_Entry):
    """Stage 6: the ECS services' desired counts (``[{name, desired}]``) before they were paused."""

    kind: Literal["aws-services-paused"]
    cluster: str
    services: list[dict[str, Any]] = Field(default_factory=list)


class TargetDatabase(_Entry):
    """Stage 6: the target Postgres, empty at preflight (emptied again so a re-run starts clean)."""

    kind: Literal["target-database"]
    schemas: list[str] = Field(default_factory=list)


class TargetRedis(_Entry):
    """Stage 6: the target Redis, empty at preflight (flushed again)."""

    kind: Literal["target-redis"]


class SourceSecrets(_Entry):
    """Stage 1b (minimal input, Landing=create): ``heroku2aws/<app>/source-postgres`` and ``source-redis``, written
    from Heroku's config vars (deleted with a recovery window, like the config secret)."""

    kind: Literal["source-secrets"]
    app: str


class ScheduledJobs(_Entry):
    """Stage 3: the EventBridge Scheduler schedules made of Heroku Scheduler's jobs (``h2a-<app>.<job>``, deleted)."""

    kind: Literal["scheduled-jobs"]
    app: str
    names: list[str] = Field(default_factory=list)


class SecretSwitch(_Entry):
    """Stage 6: DATABASE_URL / REDIS_URL in the config secret pointed at the targets (pointed back)."""

    kind: Literal["secret-switch"]
    app: str


class AppImage(_Entry):
    """Build stage: the image tags the build pushed to the app's ECR repository (``BatchDeleteImage`` by tag)."""

    kind: Literal["app-image"]
    app: str
    repository: str
    tags: list[str] = Field(default_factory=list)


LedgerEntry = Annotated[
    AppImage | ConfigSecret | EcsServices | Dms | DnsRecords | HerokuMaintenance | HerokuFormation | AwsServicesPaused
    | TargetDatabase | TargetRedis | SecretSwitch | SourceReadOnly | SourceSecrets | ScheduledJobs,
    Field(discriminator="kind"),
]

#: kind -> its model.
KINDS: dict[str, type[_Entry]] = {
    get_args(model.model_fields["kind"].annotation)[0]: model
    for model in (AppImage, ConfigSecret, EcsServices, Dms, DnsRecords, HerokuMaintenance, HerokuFormation,
                  AwsServicesPaused, TargetDatabase, TargetRedis, SecretSwitch, SourceReadOnly, SourceSecrets,
                  ScheduledJobs)
}

_ADAPTER: TypeAdapter[LedgerEntry] = TypeAdapter(LedgerEntry)


def parse_entry(item: dict[str, Any]) -> LedgerEntry:
    """One ledger entry as its model; ``ValueError`` naming the kind when no model has it."""
    kind = item.get("kind") if isinstance(item, dict) else None
    if kind not in KINDS:
        raise ValueError(f"no compensation for ledger entry of kind {kind!r}")
    return _ADAPTER.validate_python(item)
