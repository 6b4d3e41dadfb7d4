"""``config-secret`` (delete the imported secret), ``source-secrets`` (delete the source connection secrets written
from Heroku's config vars) and ``secret-switch`` (point it back at the Heroku stores)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from ..clients.aws import client, error_code
from ..contracts import names
from ..contracts.errors import HerokuApiError, SecretSwitchFailed
from ..contracts.input import ExecutionInput
from ..contracts.ledger import ConfigSecret, SecretSwitch, SourceSecrets
from ..steps.switch_secrets import describe, heroku_stores_for, switch
from .progress import Progress, log


def undo_config_secret(item: ConfigSecret, cfg: dict[str, Any], progress: Progress) -> None:
    name = names.config_secret_name(item.app)
    if cfg.get("rollback", {}).get("keep_secret"):
        progress.did(f"kept secret {name} (rollback.keep_secret)")
        return
    _delete_workflow_secret(name, item.app, progress)


def undo_source_secrets(item: SourceSecrets, cfg: dict[str, Any], progress: Progress) -> None:
    """The source connection secrets written from Heroku's config vars (minimal input): deleted, recoverable."""
    for store in ("postgres", "redis"):
        _delete_workflow_secret(names.source_secret_name(item.app, store), item.app, progress)


def _delete_workflow_secret(name: str, app: str, progress: Progress) -> None:
    sm = client("secretsmanager")
    try:
        desc = sm.describe_secret(SecretId=name)
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return
        raise
    if desc.get("DeletedDate"):
        return
    # Only the secret the workflow created: a user's own secret tagged heroku2aws:app under the same prefix is
    # never deleted (and the role may not delete it either).
    if not names.is_workflow_secret(desc.get("Tags"), app):
        progress.did(f"left secret {name}: not tagged {names.MANAGED_TAG}=true and {names.APP_TAG}={app}")
        return
    # A recovery window, not a force delete: a person can still restore it for 7 days.
    sm.delete_secret(SecretId=desc["ARN"], RecoveryWindowInDays=7)
    progress.did(f"deleted secret {name} (recoverable for 7 days)")


def undo_secret_switch(item: SecretSwitch, cfg: dict[str, Any], progress: Progress) -> None:
    app = item.app
    if describe(app) is None:
        return
    source = cfg.get("source") or {}
    # Heroku's current values (credentials it may have rotated since stage 3); when Heroku cannot be read at all
    # (the key refused), the source connection secrets - anything beats an app left pointed at the targets.
    heroku = None
    try:
        heroku = heroku_stores_for(ExecutionInput.model_validate(cfg))
    except HerokuApiError as exc:
        progress.wait(f"Heroku API unavailable to read the config vars of {app} ({exc.status or 'unreachable'} {exc.id})")
        return
    except (SecretSwitchFailed, ValueError) as exc:
        log.warning("Heroku config vars not readable: the source secrets are used",
                    extra={"app": app, "reason": str(exc)[:200]})
    try:
        result = switch(app, "source", source["postgres_secret_arn"], source.get("redis_secret_arn"),
                        f"rollback:{app}", heroku=heroku)
    except SecretSwitchFailed as exc:
        progress.did(f"left secret {names.config_secret_name(app)}: {exc}")
        return
    if result.changed:
        progress.did(f"pointed {names.config_secret_name(app)} back at the Heroku data stores")
