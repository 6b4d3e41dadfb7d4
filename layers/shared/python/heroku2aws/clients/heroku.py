"""A small client for the few Heroku Platform API (v3) endpoints the migration calls.

Standard library only (``urllib``): it runs in Lambda and in ECS tasks. Every request sends
``Accept: application/vnd.heroku+json; version=3`` and ``Authorization: Bearer <key>``; the key
is never logged and never appears in an error. 429 and 5xx answers (and network errors) are
retried with exponential backoff and jitter, honouring ``Retry-After``; the PATCHes used here set
absolute values, so a retry is safe. Any other error answer raises :class:`HerokuApiError` with
Heroku's own ``id`` and ``message``.

:func:`client_for` is the one way the steps build a client: the API key read from its secret.

The base URL is ``base_url``, else ``$HEROKU_API_URL``, else ``https://api.heroku.com`` (the
rehearsal points it at its local stand-in).
"""

from __future__ import annotations

import http.client
import json
import os
import random
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote

from ..contracts.errors import HerokuApiError
from ..obs import get_logger
from . import connections

__all__ = ["DEFAULT_API_URL", "HerokuApiError", "HerokuClient", "client_for"]

DEFAULT_API_URL = "https://api.heroku.com"
ACCEPT = "application/vnd.heroku+json; version=3"
USER_AGENT = "heroku2aws/0.1"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: A bound on pages per list (1,000 items a page at most: far beyond any app's formation or add-ons).
MAX_PAGES = 100


class HerokuClient:
    """The Heroku Platform API for one API key. Apps are named by name or id."""

    def __init__(self, api_key: str, base_url: str | None = None, *, timeout: float = 15.0, retries: int = 4,
                 backoff: float = 0.5, max_backoff: float = 8.0) -> None:
        if not api_key:
            raise ValueError("a Heroku API key is required")
        self._api_key = api_key
        self.base_url = (base_url or os.environ.get("HEROKU_API_URL") or DEFAULT_API_URL).rstrip("/")
        if not self.base_url.startswith(("https://", "http://")):
            raise ValueError(f"the Heroku API URL must be http(s): {self.base_url!r}")
        self.timeout, self.retries, self.backoff, self.max_backoff = timeout, retries, backoff, max_backoff
        self._log = get_logger("heroku")

    def __repr__(self) -> str:  # never the key
        return f"HerokuClient(base_url={self.base_url!r})"

    @property
    def api_key(self) -> str:
        """The key (only to scrub an echoed key from Heroku's texts: never log or return it)."""
        return self._api_key

    # ------------------------------------------------------------------ apps
    def get_app(self, app: str) -> dict[str, Any]:
        return self._request("GET", f"/apps/{_seg(app)}")

    def set_maintenance(self, app: str, enabled: bool) -> dict[str, Any]:
        """Turn maintenance mode on or off; returns the app."""
        return self._request("PATCH", f"/apps/{_seg(app)}", {"maintenance": bool(enabled)})

    def domain(self, app: str, hostname: str) -> dict[str, Any]:
        """One domain of the app by hostname (Platform API ``GET /apps/{app}/domains/{domain_id_or_hostname}``:
        ``cname`` is a custom domain's DNS target)."""
        return self._request("GET", f"/apps/{_seg(app)}/domains/{_seg(hostname)}")

    # ------------------------------------------------------------------ config vars
    def get_config_vars(self, app: str) -> dict[str, str]:
        return self._request("GET", f"/apps/{_seg(app)}/config-vars")

    def update_config_vars(self, app: str, changes: dict[str, str | None]) -> dict[str, str]:
        """Set vars (``None`` deletes one); returns the app's full set after the change."""
        return self._request("PATCH", f"/apps/{_seg(app)}/config-vars", changes)

    # ------------------------------------------------------------------ formation
    def get_formation(self, app: str) -> list[dict[str, Any]]:
        return self._list(f"/apps/{_seg(app)}/formation")

    def get_formation_type(self, app: str, process_type: str) -> dict[str, Any]:
        return self._request("GET", f"/apps/{_seg(app)}/formation/{_seg(process_type)}")

    def update_formation(self, app: str, updates: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Batch update: ``[{"type": "web", "quantity": 0, "size": "standard-1X"}, ...]``; returns them.

        Sent as the schema's update objects (``formation/definitions/update``: ``type``, ``quantity``,
        ``dyno_size`` and nothing else), a size as ``{"dyno_size": {"name": size}}``."""
        for u in updates:
            if "type" not in u:
                raise ValueError("each formation update needs a 'type'")
        return self._request("PATCH", f"/apps/{_seg(app)}/formation",
                             {"updates": [{"type": u["type"], **_formation_change(u.get("quantity"), u.get("size"))}
                                          for u in updates]})

    def scale(self, app: str, process_type: str, quantity: int | None = None,
              size: str | None = None) -> dict[str, Any]:
        return self._request("PATCH", f"/apps/{_seg(app)}/formation/{_seg(process_type)}",
                             _formation_change(quantity, size))

    # ------------------------------------------------------------------ dynos
    # Platform API schema (heroku/platform-api schema.json, "dyno"): List is GET /apps/{app}/dynos; Stop is
    # POST /apps/{app}/dynos/{dyno}/actions/stop and answers {} (a one-off dyno is named "<type>.<n>",
    # "run.1234", "scheduler.5678"; its "type" is the part before the dot).
    def dynos(self, app: str) -> list[dict[str, Any]]:
        return self._list(f"/apps/{_seg(app)}/dynos")

    def stop_dyno(self, app: str, dyno: str) -> dict[str, Any]:
        return self._request("POST", f"/apps/{_seg(app)}/dynos/{_seg(dyno)}/actions/stop", {})

    # ------------------------------------------------------------------ add-ons
    def addon_attachments_of_addon(self, addon: str) -> list[dict[str, Any]]:
        """Every attachment of one add-on, on any app (schema "add-on-attachment", List by Add-on:
        GET /addons/{addon}/addon-attachments): how other apps sharing a database are found."""
        return self._list(f"/addons/{_seg(addon)}/addon-attachments")

    def addon_attachments(self, app: str) -> list[dict[str, Any]]:
        return self._list(f"/apps/{_seg(app)}/addon-attachments")

    def addons(self, app: str) -> list[dict[str, Any]]:
        return self._list(f"/apps/{_seg(app)}/addons")

    def addon_attachment_names(self, app: str) -> list[str]:
        """The config var names add-on attachments set on the app (``DATABASE_URL``, ``REDIS_URL``...), sorted.

        An attachment named ``NAME`` sets ``NAME_URL``; the add-ons the app owns also list the vars
        they expose (``config_vars``), which catches the others (``REDIS_TLS_URL``...).
        """
        names = {f"{a['name']}_URL" for a in self.addon_attachments(app) if a.get("name")}
        for addon in self.addons(app):
            owner = addon.get("app") or {}
            if app in (owner.get("id"), owner.get("name")):
                names.update(v for v in addon.get("config_vars") or [] if isinstance(v, str))
        return sorted(names)

    # ------------------------------------------------------------------ releases, slugs, domains (heroku2aws init)
    # Platform API schema: release "List" GET /apps/{app}/releases, slug "Info" GET /apps/{app}/slugs/{slug} (its
    # process_types), domain "List" GET /apps/{app}/domains (hostname, kind, cname: the DNS target).
    def releases(self, app: str) -> list[dict[str, Any]]:
        return self._list(f"/apps/{_seg(app)}/releases")

    def slug(self, app: str, slug_id: str) -> dict[str, Any]:
        return self._request("GET", f"/apps/{_seg(app)}/slugs/{_seg(slug_id)}")

    def domains(self, app: str) -> list[dict[str, Any]]:
        return self._list(f"/apps/{_seg(app)}/domains")

    # ------------------------------------------------------------------ transport
    def _list(self, path: str) -> list[dict[str, Any]]:
        """Every item of a list endpoint, page after page (206 + ``Next-Range`` -> ``Range``)."""
        items: list[dict[str, Any]] = []
        headers: dict[str, str] = {}
        for _ in range(MAX_PAGES):
            status, answer_headers, body = self._call("GET", path, None, headers)
            if not isinstance(body, list):
                raise HerokuApiError(status, "unexpected_response", f"GET {path} did not answer a list")
            items.extend(body)
            next_range = answer_headers.get("Next-Range")
            if status != 206 or not next_range:
                return items
            headers = {"Range": next_range}
        raise HerokuApiError(206, "too_many_pages", f"GET {path}: more than {MAX_PAGES} pages")

    def _request(self, method: str, path: str, body: Any = None) -> Any:
        return self._call(method, path, body)[2]

    def _call(self, method: str, path: str, body: Any = None, extra_headers: dict[str, str] | None = None
              ) -> tuple[int, Any, Any]:
        """``(status, response headers, parsed body)`` of one request, retried as the module docstring says."""
        url = self.base_url + path
        data = None if body is None else json.dumps(body).encode()
        headers = {"Accept": ACCEPT, "Authorization": f"Bearer {self._api_key}", "User-Agent": USER_AGENT,
                   **(extra_headers or {})}
        if data is not None:
            headers["Content-Type"] = "application/json"
        attempt = 0
        while True:
            req = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310 - http(s) only
            retry_after: float | None = None
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310 - http(s) only
                    raw = resp.read()
                    return resp.status, resp.headers, (json.loads(raw) if raw else None)
            except urllib.error.HTTPError as exc:
                status = exc.code
                raw = exc.read() if exc.fp is not None else b""
                error_id, message = _error_fields(raw, status)
                retry_after = _retry_after(exc.headers.get("Retry-After") if exc.headers else None)
                exc.close()
                if status not in RETRY_STATUSES or attempt >= self.retries:
                    self._log.warning("Heroku API error", extra={"method": method, "path": path, "status": status,
                                                                "error_id": error_id})
                    raise HerokuApiError(status, error_id, message) from None
            except (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException) as exc:
                reason = getattr(exc, "reason", exc)
                status, error_id, message = 0, "unreachable", f"{self.base_url}: {reason}"
                if attempt >= self.retries:
                    self._log.warning("Heroku API unreachable", extra={"method": method, "path": path})
                    raise HerokuApiError(0, error_id, message) from None
            attempt += 1
            delay = min(self.max_backoff, self.backoff * 2 ** (attempt - 1)) * (0.5 + random.random() / 2)
            if retry_after is not None:
                delay = min(max(delay, retry_after), 60.0)
            self._log.info("Heroku API retry", extra={"method": method, "path": path, "status": status,
                                                     "attempt": attempt, "delay_s": round(delay, 2)})
            time.sleep(delay)


def _formation_change(quantity: int | None, size: str | None) -> dict[str, Any]:
    change: dict[str, Any] = {}
    if quantity is not None:
        change["quantity"] = quantity
    if size is not None:
        change["dyno_size"] = {"name": size}
    return change


def _seg(value: str) -> str:
    if not value:
        raise ValueError("empty path segment")
    return quote(str(value), safe="")


def _error_fields(raw: bytes, status: int) -> tuple[str, str]:
    try:
        doc = json.loads(raw)
        if isinstance(doc, dict):
            return str(doc.get("id") or f"http_{status}"), str(doc.get("message") or "")
    except ValueError:
        pass
    return f"http_{status}", raw[:200].decode(errors="replace").strip()


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def client_for(api_key_secret_arn: str, api_url: str | None = None) -> HerokuClient:
    """A client for the key its secret holds (``ClientError`` / :class:`~.connections.SecretFormatError` when
    the secret cannot be read); the key never leaves the client."""
    return HerokuClient(connections.heroku_api_key(api_key_secret_arn), api_url)
