"""Stage 6 "Freeze writes on Heroku" and its undo: maintenance mode and the formation, via the Platform API.

Event (built by the ASL)::

    {"input": <normalised execution input>, "action": "freeze" | "read-only" | "restore" | "status",
     "formation": [{"type", "quantity", "size"}],   # restore only (extra keys such as "command" ignored)
     "maintenance": bool,                           # restore only (default false)
     "execution_id": "<execution ARN>"}

Return:

- ``freeze``: ``{"formation": [{"type", "quantity", "size"}], "maintenance_was": bool,
  "scaled_to_zero": [types], "stopped_dynos": [names]}`` — the formation and the maintenance flag as they
  were *before* this call, read first; then maintenance goes on, then every process type with dynos is
  scaled to 0 (one batch update), then every one-off dyno still running (``run.N`` from ``heroku run``,
  ``scheduler.N`` from Heroku Scheduler: any dyno whose type is not in the formation) is stopped — neither
  maintenance mode nor the formation stops them. A retried freeze finds maintenance on, 0 dynos and no
  one-off dyno, and changes nothing.
- ``read-only``: the source database made read-only at the database level and proven by a write probe
  (:mod:`heroku2aws.postgres.freeze`): ``{"database", "terminated_sessions", "untouched_sessions",
  "write_probe": "refused"}``; :class:`~heroku2aws.contracts.errors.WriteFreezeFailed` when it cannot be done
  or a new session can still write (the copy must not start). One-off dynos started after the freeze (the
  next Scheduler run) connect read-only and cannot write.
- ``restore``: ``{"formation": [{"type", "quantity", "size"}] (after), "maintenance": bool,
  "changed": [types], "skipped": [types the app no longer has]}`` — the formation first (dynos boot
  before maintenance is lifted), then maintenance. Only what differs is sent: a second restore
  changes nothing.
- ``status``: ``{"formation": [...], "maintenance": bool}``.

Transient API errors (429, 5xx, network) are retried by :class:`~heroku2aws.clients.heroku.HerokuClient`;
when they outlast its retries they stay ``HerokuApiError`` (the ASL's Retry on that name tries again
later). Any other error answer (401, 403, 404, 422) raises :class:`~heroku2aws.contracts.errors.HerokuControlFailed`
with Heroku's error ``id`` and ``message`` (never the API key). An unreadable key secret is
``HerokuControlFailed`` too.

Environment: none of its own (boto3 reads ``AWS_REGION`` / ``AWS_ENDPOINT_URL``; the API base URL
is ``input.heroku.api_url``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError

from ..clients import connections, heroku
from ..clients.aws import error_code
from ..clients.heroku import HerokuClient
from ..contracts.errors import HerokuApiError, HerokuControlFailed, WriteFreezeFailed
from ..contracts.events import HerokuControlEvent
from ..contracts.results import FormationItem, FreezeResult, ReadOnlyResult, RestoreResult, StatusResult
from ..contracts.sizes import dyno_size_of
from ..obs import get_logger
from ..redaction import scrub

log = get_logger("heroku_control")

__all__ = ["client_for", "formation_of", "freeze", "freeze_database", "restore", "heroku_control",
           "restore_formation", "set_maintenance", "status", "stop_one_off_dynos"]


def client_for(api_key_secret_arn: str, api_url: str | None) -> HerokuClient:
    """:func:`heroku2aws.clients.heroku.client_for`, with an unreadable key secret as ``HerokuControlFailed``."""
    try:
        return heroku.client_for(api_key_secret_arn, api_url)
    except ClientError as exc:
        code = error_code(exc) or "ClientError"
        raise HerokuControlFailed(f"cannot read the Heroku API key secret {api_key_secret_arn}: {code}") from None
    except connections.SecretFormatError as exc:
        raise HerokuControlFailed(str(exc)) from None


#: Answers worth another try later (0: no answer at all): raised as HerokuApiError for the ASL's Retry.
TRANSIENT = frozenset({0, 429, 500, 502, 503, 504})


def _failed(what: str, app: str, exc: HerokuApiError, client: HerokuClient) -> Exception:
    """``exc`` itself when transient (the ASL retries ``HerokuApiError``), else :class:`HerokuControlFailed`."""
    if exc.status in TRANSIENT:
        return exc
    detail = f"{exc.status} {exc.id}: {exc.message}"
    return HerokuControlFailed(scrub(f"Heroku {what} of app {app} failed: {detail}", secrets=[client.api_key]),
                               status=exc.status, error_id=exc.id)


def formation_of(raw: list[dict[str, Any]]) -> list[FormationItem]:
    """Heroku's formation objects as ``[{"type", "quantity", "size"}]``, sorted by type (``size`` is the schema's
    ``dyno_size.name``, else the deprecated ``size``)."""
    return sorted((FormationItem(type=f["type"], quantity=int(f.get("quantity") or 0), size=dyno_size_of(f))
                   for f in raw), key=lambda f: f.type)


def status(client: HerokuClient, app: str) -> StatusResult:
    try:
        maintenance = bool(client.get_app(app).get("maintenance"))
        formation = formation_of(client.get_formation(app))
    except HerokuApiError as exc:
        raise _failed("status", app, exc, client) from None
    return StatusResult(formation=formation, maintenance=maintenance)


def freeze(client: HerokuClient, app: str) -> FreezeResult:
    """Read, then maintenance on, then every process type to 0 dynos."""
    before = status(client, app)
    try:
        if not before.maintenance:
            client.set_maintenance(app, True)
        running = [f.type for f in before.formation if f.quantity > 0]
        if running:
            client.update_formation(app, [{"type": t, "quantity": 0} for t in running])
        stopped = stop_one_off_dynos(client, app, {f.type for f in before.formation})
    except HerokuApiError as exc:
        raise _failed("freeze", app, exc, client) from None
    log.info("Heroku frozen", extra={"app": app, "maintenance_was": before.maintenance, "scaled_to_zero": running,
                                     "stopped_dynos": stopped})
    return FreezeResult(formation=before.formation, maintenance_was=before.maintenance, scaled_to_zero=running,
                        stopped_dynos=stopped)


def stop_one_off_dynos(client: HerokuClient, app: str, process_types: set[str]) -> list[str]:
    """Stop every dyno whose type is not a formation process type (one-off: ``run``, ``scheduler``, ...);
    names sorted. A dyno already gone (404) is what we wanted."""
    stopped: list[str] = []
    for dyno in client.dynos(app):
        name, dtype = str(dyno.get("name") or ""), str(dyno.get("type") or "")
        if not name or dtype in process_types or dyno.get("state") in ("down", "crashed"):
            continue
        try:
            client.stop_dyno(app, name)
        except HerokuApiError as exc:
            if exc.status != 404:
                raise
        stopped.append(name)
    return sorted(stopped)


def freeze_database(source_url: str) -> ReadOnlyResult:
    """The source database read-only, proven by a write probe from a new session (see the module docstring)."""
    from ..postgres.freeze import FreezeError, make_read_only, write_probe

    try:
        report = make_read_only(source_url)
        failure = write_probe(source_url)
    except FreezeError as exc:
        raise WriteFreezeFailed(f"{exc}: the copy did not start") from None
    if failure is not None:
        raise WriteFreezeFailed(f"the source database {report.database} is not read-only: {failure}; "
                                "the copy did not start")
    log.info("source database read-only", extra={"database": report.database, "terminated": report.terminated,
                                                 "untouched_sessions": report.untouched_sessions})
    return ReadOnlyResult(database=report.database, terminated_sessions=report.terminated,
                          untouched_sessions=report.untouched_sessions, write_probe="refused")


def restore_formation(client: HerokuClient, app: str,
                      formation: Sequence[dict[str, Any] | FormationItem]) -> RestoreResult:
    """Quantities and sizes back to ``formation``; only what differs is sent (``maintenance`` unchanged)."""
    wanted = [f if isinstance(f, FormationItem) else FormationItem.model_validate(f) for f in formation]
    now = status(client, app)
    current = {f.type: f for f in now.formation}
    updates: list[dict[str, Any]] = []
    skipped: list[str] = []
    for item in wanted:
        have = current.get(item.type)
        if have is None:
            skipped.append(item.type)
            continue
        update: dict[str, Any] = {}
        if have.quantity != item.quantity:
            update["quantity"] = item.quantity
        if item.size and (have.size or "").lower() != item.size.lower():
            update["size"] = item.size
        if update:
            updates.append({"type": item.type, **update})
    if updates:
        try:
            client.update_formation(app, updates)
        except HerokuApiError as exc:
            raise _failed("formation restore", app, exc, client) from None
        for u in updates:
            current[u["type"]] = current[u["type"]].model_copy(update={k: v for k, v in u.items() if k != "type"})
    changed = [u["type"] for u in updates]
    log.info("Heroku formation restored", extra={"app": app, "changed": changed, "skipped": skipped})
    return RestoreResult(formation=sorted(current.values(), key=lambda f: f.type), maintenance=now.maintenance,
                         changed=changed, skipped=skipped)


def set_maintenance(client: HerokuClient, app: str, enabled: bool) -> bool:
    """Maintenance mode to ``enabled``; True when it had to change."""
    try:
        if bool(client.get_app(app).get("maintenance")) == bool(enabled):
            return False
        client.set_maintenance(app, bool(enabled))
    except HerokuApiError as exc:
        raise _failed("maintenance change", app, exc, client) from None
    log.info("Heroku maintenance set", extra={"app": app, "maintenance": bool(enabled)})
    return True


def restore(client: HerokuClient, app: str, formation: Sequence[dict[str, Any] | FormationItem],
            maintenance: bool) -> RestoreResult:
    """Formation back to ``formation`` (dynos boot first), then maintenance to ``maintenance``."""
    result = restore_formation(client, app, formation)
    if result.maintenance != bool(maintenance):
        set_maintenance(client, app, maintenance)
    return result.model_copy(update={"maintenance": bool(maintenance)})


def heroku_control(event: HerokuControlEvent, client: HerokuClient | None = None
                   ) -> FreezeResult | ReadOnlyResult | RestoreResult | StatusResult:
    """The action the event asks for (see the module docstring)."""
    cfg = event.input
    if event.action == "read-only":
        try:
            url = connections.postgres_url(cfg.source.postgres_secret_arn)
        except (ClientError, connections.SecretFormatError) as exc:
            reason = error_code(exc) if isinstance(exc, ClientError) else str(exc)
            raise WriteFreezeFailed(f"cannot read source.postgres_secret_arn: {reason}") from None
        return freeze_database(url)
    client = client or client_for(cfg.heroku.api_key_secret_arn, cfg.heroku.api_url)
    app = cfg.heroku.app
    if event.action == "freeze":
        return freeze(client, app)
    if event.action == "restore":
        return restore(client, app, event.formation, event.maintenance)
    return status(client, app)
