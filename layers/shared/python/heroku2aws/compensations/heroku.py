"""``heroku-maintenance`` and ``heroku-formation``: Heroku back to how the freeze found it.

Heroku API errors: 429/5xx/unreachable (``HerokuApiError`` after the client's retries) wait and try again; an app
that no longer exists is nothing to do; anything else raises
:class:`~heroku2aws.contracts.errors.HerokuControlFailed` (a person is needed: restoring traffic to a Heroku app
left in maintenance would be worse).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from ..clients.heroku import HerokuClient
from ..contracts.errors import HerokuApiError, HerokuControlFailed
from ..contracts.ledger import HerokuFormation, HerokuMaintenance
from ..steps.heroku_control import client_for, restore_formation, set_maintenance
from .progress import Progress

T = TypeVar("T")


def _heroku(cfg: dict[str, Any]) -> HerokuClient:
    heroku = cfg.get("heroku") or {}
    return client_for(heroku["api_key_secret_arn"], heroku.get("api_url"))


def _heroku_call(app: str, what: str, progress: Progress, fn: Callable[[], T]) -> T | None:
    """Run ``fn``; a transient Heroku error waits, a missing app is reported; None in both cases."""
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


def undo_heroku_formation(item: HerokuFormation, cfg: dict[str, Any], progress: Progress) -> None:
    app = item.app
    formation = [f for f in item.formation if isinstance(f, dict) and f.get("type")]
    if not formation:
        return
    client = _heroku(cfg)
    result = _heroku_call(app, "formation", progress, lambda: restore_formation(client, app, formation))
    if result is None:
        return
    if result.changed:
        shown = ", ".join(f"{f.type}={f.quantity}" for f in result.formation if f.type in result.changed)
        progress.did(f"restored Heroku formation of {app}: {shown}")
    if result.skipped:
        progress.did(f"Heroku app {app} no longer has process type(s) {', '.join(result.skipped)}: left")


def undo_heroku_maintenance(item: HerokuMaintenance, cfg: dict[str, Any], progress: Progress) -> None:
    app = item.app
    was = item.was
    client = _heroku(cfg)
    changed = _heroku_call(app, "maintenance mode", progress, lambda: set_maintenance(client, app, was))
    if changed:
        progress.did(f"Heroku maintenance mode of {app} back {'on' if was else 'off'}")
