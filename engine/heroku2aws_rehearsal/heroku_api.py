"""A local stand-in for the Heroku Platform API (v3): the few endpoints the migration calls.

It speaks Heroku's JSON (objects, error bodies, status codes) on 127.0.0.1 so the deployed
``heroku2aws.clients.heroku.HerokuClient`` runs unchanged against it:

- ``GET/PATCH /apps/{app}`` (``{"maintenance": bool}``)
- ``GET/PATCH /apps/{app}/config-vars`` (a ``null`` value deletes a var; answers the full set)
- ``GET/PATCH /apps/{app}/formation`` (``{"updates": [{"type", "quantity", "dyno_size"}]}``)
- ``GET/PATCH /apps/{app}/formation/{type}``
- ``GET /apps/{app}/addon-attachments`` and ``GET /apps/{app}/addons`` (with the add-ons other apps share
  with it), ``GET /addons/{addon}/addon-attachments`` (every app an add-on is attached to)
- ``GET /apps/{app}/dynos`` (the formation's dynos ``web.1``... and one-off dynos ``run.N`` / ``scheduler.N``)
  and ``POST /apps/{app}/dynos/{dyno}/actions/stop`` (answers ``{}``, as the schema's "Stop" link says)
- ``GET /apps/{app}/domains`` and ``/domains/{id or hostname}`` (the app's ``*.herokuapp.com`` domain, kind
  ``heroku``, and its custom domains with their ``*.herokudns.com`` DNS targets in ``cname``)
- ``GET /apps/{app}/releases`` and ``/releases/{id or version}`` (one current release per app, its slug and
  the add-on plans installed) and ``GET /apps/{app}/slugs/{slug}`` (the slug's ``process_types``: the formation's
  commands; ``blob.url`` points at this server's ``/slug-blobs/<id>.tgz``, which answers the archive a test set
  with :meth:`FakeHeroku.set_slug_blob`, 404 otherwise, as an expired signed URL would)

It follows the published schema (heroku/platform-api ``schema.json``; the parts used are copied under
``tests/heroku_api/schema/`` and a contract test validates every response here against them): resources carry
exactly the schema's properties, sizes come back in Heroku's spelling in ``size`` and ``dyno_size``, a formation
update takes ``dyno_size`` (not the deprecated ``size``), config var values are strings, and lists are paged
(``Range`` / ``206 Partial Content`` / ``Next-Range``, 200 a page by default, at most 1,000).

Apps are found by name or id. ``Authorization: Bearer <token>`` is required (401
``unauthorized`` otherwise); an unknown app is 404 ``not_found``. State is guarded by a lock.
Tests see every request in :attr:`FakeHeroku.requests` (method, path, status; never the token)
and can make the next N requests to a path fail with :meth:`FakeHeroku.fail_next`.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import re
import secrets
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from .servers import free_port

__all__ = ["CANONICAL_SIZES", "DYNO_SIZES", "FakeHeroku", "HerokuApp", "canonical_size"]

#: Dyno sizes Heroku accepts, spelled as Heroku answers them (heroku/cli src/commands/ps/type.ts); a request may
#: spell them in any case, a response always spells them so, in ``size`` and ``dyno_size.name`` alike.
CANONICAL_SIZES = (
    "Eco", "Basic", "Free", "Hobby", "Standard-1X", "Standard-2X", "1X", "2X", "PX", "Performance",
    "Performance-M", "Performance-L", "Performance-L-RAM", "Performance-XL", "Performance-2XL",
    "Private-S", "Private-M", "Private-L", "Private-L-RAM", "Private-XL", "Private-2XL",
    "Private-Memory-L", "Private-Memory-XL", "Private-Memory-2XL",
    "Shield-S", "Shield-M", "Shield-L", "Shield-L-RAM", "Shield-XL", "Shield-2XL",
    "Shield-Memory-L", "Shield-Memory-XL", "Shield-Memory-2XL",
    "dyno-1c-0.5gb", "dyno-1c-4gb", "dyno-1c-8gb", "dyno-2c-1gb", "dyno-2c-4gb", "dyno-2c-8gb", "dyno-2c-16gb",
    "dyno-4c-8gb", "dyno-4c-16gb", "dyno-4c-32gb", "dyno-8c-16gb", "dyno-8c-32gb", "dyno-8c-64gb",
    "dyno-16c-32gb", "dyno-16c-64gb", "dyno-16c-128gb", "dyno-32c-64gb")
_BY_LOWER = {name.lower(): name for name in CANONICAL_SIZES}
DYNO_SIZES = tuple(_BY_LOWER)  # lower case, for lookups


def _size_id(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"dyno-size/{name.lower()}"))


def canonical_size(ref: str) -> str | None:
    """Heroku's spelling of a size given by name (any case) or by id; None when Heroku has no such size."""
    return _BY_LOWER.get(ref.lower()) or next((n for n in CANONICAL_SIZES if _size_id(n) == ref), None)


#: Lists answer at most this many items a page unless the request's Range says ``max`` (at most 1,000): Dev Center,
#: Platform API Reference, "Ranges" (https://devcenter.heroku.com/articles/platform-api-reference#ranges).
DEFAULT_PAGE_SIZE = 200
MAX_PAGE_SIZE = 1000
_RANGE = re.compile(r"^\s*(?P<field>[a-z_]+)\s+(?P<after>\]?)(?P<first>[^.;\s]*)\.\.(?P<last>[^;\s]*)\s*"
                    r"(?:;\s*max=(?P<max>\d+)\s*;?)?\s*$")
_CONFIG_VAR_NAME = re.compile(r"^\w+$")  # config-var Update's patternProperties


_ADDON_SERVICES = {"DATABASE": "heroku-postgresql", "REDIS": "heroku-redis"}
_ADDON_PLANS = {"heroku-postgresql": "heroku-postgresql:standard-0", "heroku-redis": "heroku-redis:premium-0"}
#: What an add-on's ``billed_price`` says a month, in cents (Heroku Elements pages, 2026-12; an add-on whose plan is
#: not here bills 0, as free plans do).
_PLAN_CENTS = {"heroku-postgresql:essential-0": 500, "heroku-postgresql:standard-0": 5000,
               "heroku-postgresql:premium-0": 20000, "heroku-redis:mini": 300, "heroku-redis:premium-0": 1500,
               "papertrail:choklad": 0, "papertrail:fixa": 700, "scheduler:standard": 0}
_ACCEPT_VERSION = re.compile(r"application/vnd\.heroku\+json\s*;\s*version=(?P<v>[\w.-]+)")


def _ts(moment: datetime | None = None) -> str:
    return (moment or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class _Process:
    type: str
    quantity: int
    size: str
    command: str
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    created_at: str = field(default_factory=_ts)
    updated_at: str = field(default_factory=_ts)


@dataclass
class HerokuApp:
    """One app's state on the stand-in."""

    name: str
    config_vars: dict[str, str]
    formation: dict[str, _Process]
    attachments: dict[str, list[str]]    # attachment name -> config vars it sets
    maintenance: bool = False
    region: str = "us"
    stack: str = "heroku-24"
    generation: str = "cedar"   # or "fir" (schema: app.generation {id, name})
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    created_at: str = field(default_factory=_ts)
    updated_at: str = field(default_factory=_ts)
    owner_email: str = "owner@example.com"
    owner_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    addon_ids: dict[str, str] = field(default_factory=dict)
    #: one-off dynos (``heroku run``, Heroku Scheduler): name -> {"type", "command", "size", "id", "created_at"}
    one_off: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: add-ons of other apps attached here: attachment name -> (owner app, the owner's attachment name)
    shared: dict[str, tuple[HerokuApp, str]] = field(default_factory=dict)
    #: attachment name -> the add-on's plan ("heroku-postgresql:standard-0"; default: _ADDON_PLANS, else
    #: "<service>:basic"); its service is the part before the colon
    plans: dict[str, str] = field(default_factory=dict)
    #: custom domain hostname -> its DNS target (``<words>.herokudns.com``)
    domains: dict[str, str] = field(default_factory=dict)
    #: the current release's version (Heroku counts releases from 1; the stand-in's app has one current release)
    release_version: int = 1
    release_commit: str = "60883d9e8947a57e04dc9124f25df004866a2051"

    def ref(self) -> dict[str, str]:
        return {"id": self.id, "name": self.name}

    def touch(self) -> None:
        self.updated_at = _ts()

    def service_of(self, attachment: str) -> str:
        plan = self.plans.get(attachment)
        return plan.split(":", 1)[0] if plan else _ADDON_SERVICES.get(attachment, attachment.lower().replace("_", "-"))

    def plan_of(self, attachment: str) -> str:
        service = self.service_of(attachment)
        return self.plans.get(attachment) or _ADDON_PLANS.get(service, f"{service}:basic")

    def _uuid(self, what: str) -> str:
        return str(uuid.uuid5(uuid.UUID(self.id), what))

    def domains_json(self) -> list[dict[str, Any]]:
        default = f"{self.name}-{self.id.replace('-', '')[:12]}.herokuapp.com"
        rows = [(default, None, "heroku")] + [(host, target, "custom") for host, target in self.domains.items()]
        return [{"acm_status": None, "acm_status_reason": None, "app": self.ref(), "cname": target,
                 "created_at": self.created_at, "hostname": host, "id": self._uuid(f"domain/{host}"), "kind": kind,
                 "updated_at": self.updated_at, "status": "succeeded" if kind == "custom" else "none",
                 "sni_endpoint": None} for host, target, kind in rows]

    def slug_id(self) -> str:
        return self._uuid(f"slug/{self.release_version}")

    def release_json(self) -> dict[str, Any]:
        slug: str | None = self.slug_id()
        artifacts = [{"id": slug, "type": "slug"}]
        if self.stack == "container":  # heroku.yml / container:release: an image, no slug and no artifact for it
            slug, artifacts = None, []
        elif self.generation == "fir":  # Cloud Native Buildpacks: an OCI image artifact
            slug, artifacts = None, [{"id": self._uuid(f"oci-image/{self.release_version}"), "type": "oci-image"}]
        return {"addon_plan_names": sorted({self.plan_of(n) for n in self.attachments}), "app": self.ref(),
                "artifacts": artifacts, "created_at": self.created_at, "current": True,
                "description": f"Deploy {self.release_commit[:8]}", "eligible_for_rollback": True,
                "id": self._uuid(f"release/{self.release_version}"), "output_stream_url": None,
                "slug": {"id": slug} if slug else None, "status": "succeeded", "updated_at": self.updated_at,
                "user": {"email": self.owner_email, "id": self.owner_id}, "version": self.release_version}

    def slug_json(self, base_url: str, blob: bytes | None, checksum: str | None = None) -> dict[str, Any]:
        stack = {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, self.stack)), "name": self.stack}
        return {"blob": {"method": "GET", "url": f"{base_url}/slug-blobs/{self.slug_id()}.tgz"},
                "buildpack_provided_description": "Python",
                "checksum": checksum or (("SHA256:" + hashlib.sha256(blob).hexdigest()) if blob is not None else None),
                "commit": self.release_commit, "commit_description": "", "created_at": self.created_at,
                "deleted_at": None, "id": self.slug_id(),
                "process_types": {p.type: p.command for p in self.formation.values()},
                "size": len(blob) if blob is not None else None, "stack": stack, "updated_at": self.updated_at}

    def as_json(self) -> dict[str, Any]:
        stack = {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, self.stack)), "name": self.stack}
        return {
            "acm": False, "archived_at": None, "buildpack_provided_description": "Python",
            "build_stack": stack, "created_at": self.created_at,
            "git_url": f"https://git.heroku.com/{self.name}.git", "id": self.id, "internal_routing": None,
            "maintenance": self.maintenance, "name": self.name,
            "owner": {"email": self.owner_email, "id": self.owner_id},
            "organization": None, "team": None, "space": None,
            "region": {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, self.region)), "name": self.region},
            "released_at": self.created_at, "repo_size": None, "slug_size": 52428800, "stack": stack,
            "generation": {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"generation/{self.generation}")),
                           "name": self.generation},
            "updated_at": self.updated_at,
            "web_url": f"https://{self.name}-{self.id.replace('-', '')[:12]}.herokuapp.com/",
        }

    def process_json(self, p: _Process) -> dict[str, Any]:
        return {"app": self.ref(), "command": p.command, "created_at": p.created_at, "id": p.id,
                "quantity": p.quantity, "size": p.size, "type": p.type, "updated_at": p.updated_at,
                "dyno_size": {"id": _size_id(p.size), "name": p.size}}

    def dyno_json(self, name: str, dtype: str, command: str, size: str, dyno_id: str, created_at: str,
                  state: str = "up") -> dict[str, Any]:
        return {"app": self.ref(), "attach_url": None, "command": command, "created_at": created_at, "id": dyno_id,
                "name": name, "release": {"id": str(uuid.uuid5(uuid.UUID(self.id), "release")), "version": 1},
                "size": size, "state": state, "type": dtype, "updated_at": created_at}

    def dynos_json(self) -> list[dict[str, Any]]:
        out = [self.dyno_json(f"{p.type}.{i}", p.type, p.command, p.size,
                              str(uuid.uuid5(uuid.UUID(p.id), str(i))), p.updated_at)
               for p in self.formation.values() for i in range(1, p.quantity + 1)]
        out += [self.dyno_json(n, d["type"], d["command"], d["size"], d["id"], d["created_at"])
                for n, d in self.one_off.items()]
        return out

    def shared_attachment_json(self, name: str) -> dict[str, Any]:
        owner, owner_name = self.shared[name]
        doc = owner.attachment_json(owner_name)
        return {**doc, "app": self.ref(), "name": name,
                "id": str(uuid.uuid5(uuid.UUID(doc["addon"]["id"]), f"{self.id}/{name}"))}

    def attachment_json(self, name: str) -> dict[str, Any]:
        addon_id = self.addon_ids.setdefault(name, str(uuid.uuid4()))
        service = self.service_of(name)
        return {"addon": {"id": addon_id, "name": f"{service}-{addon_id[:8]}", "app": self.ref()},
                "app": self.ref(), "created_at": self.created_at,
                "id": str(uuid.uuid5(uuid.UUID(addon_id), name)), "name": name, "namespace": None,
                "updated_at": self.updated_at, "web_url": f"https://addons-sso.heroku.com/apps/{self.id}/addons/"
                                                          f"{addon_id}", "log_input_url": None}

    def addon_json(self, name: str) -> dict[str, Any]:
        addon_id = self.addon_ids.setdefault(name, str(uuid.uuid4()))
        service, plan = self.service_of(name), self.plan_of(name)
        return {"actions": [], "addon_service": {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, service)), "name": service},
                "billing_entity": {"id": self.id, "name": self.name, "type": "app"}, "app": self.ref(),
                "billed_price": {"cents": _PLAN_CENTS.get(plan, 0), "contract": False, "unit": "month"},
                "config_vars": list(self.attachments[name]), "created_at": self.created_at, "id": addon_id,
                "name": f"{service}-{addon_id[:8]}",
                "plan": {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, "plan/" + plan)), "name": plan},
                "provider_id": addon_id[:8], "provision_message": "", "state": "provisioned",
                "updated_at": self.updated_at,
                "web_url": f"https://addons-sso.heroku.com/apps/{self.id}/addons/{addon_id}"}


class _HttpError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body.get("message"))
        self.status, self.body = status, body


def _not_found(resource: str) -> _HttpError:
    return _HttpError(404, {"id": "not_found", "resource": resource, "message": f"Couldn't find that {resource}."})


def _invalid(message: str) -> _HttpError:
    return _HttpError(422, {"id": "invalid_params", "message": message})


@dataclass
class _Injected:
    path: str
    method: str | None
    remaining: int
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


class _QuietHandler(WSGIRequestHandler):
    """No access log on stderr (the rehearsal's output stays readable; tests read ``requests``)."""

    def log_request(self, *args, **kwargs) -> None:
        pass


class FakeHeroku:
    """The stand-in server. ``start()``/``stop()`` or a ``with`` block; ``url`` once started."""

    def __init__(self, token: str | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.token = token or "HRKU-" + secrets.token_hex(16)
        self.host, self.port = host, port
        #: items per page of a list when the request's Range gives no ``max`` (Heroku's default is 200)
        self.page_size = DEFAULT_PAGE_SIZE
        self._apps: dict[str, HerokuApp] = {}
        self._lock = threading.RLock()
        self._requests: list[dict[str, Any]] = []
        self._faults: list[_Injected] = []
        self._blobs: dict[str, bytes] = {}
        self._checksums: dict[str, str] = {}
        self._base_url = f"http://{host}:{port}"
        self._server = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ set-up
    def add_app(self, name: str, config_vars: dict[str, str] | None = None,
                formation: list[dict[str, Any]] | None = None,
                addon_attachments: dict[str, str | list[str]] | None = None, *, maintenance: bool = False,
                region: str = "us", stack: str = "heroku-24", generation: str = "cedar",
                addon_plans: dict[str, str] | None = None, domains: dict[str, str] | None = None,
                release_version: int = 1) -> HerokuApp:
        """An app. ``formation``: ``[{"type", "quantity", "size", "command"}]`` (a size in any case: Heroku's
        spelling is kept); ``addon_attachments``: ``{attachment name: config var(s) it sets}`` (e.g.
        ``{"DATABASE": "DATABASE_URL"}``, ``[]`` for an add-on that sets none, as Heroku Scheduler);
        ``generation``: ``cedar`` or ``fir``; ``addon_plans``: ``{attachment name: "service:plan"}``;
        ``domains``: ``{custom hostname: its herokudns.com target}``."""
        processes = {}
        for f in formation or []:
            # A size this stand-in does not know is kept as given: a size Heroku introduced since (updates that
            # name it are refused, as ones naming no size at all).
            size = canonical_size(f.get("size") or "standard-1X") or str(f["size"])
            p = _Process(type=f["type"], quantity=int(f.get("quantity", 0)), size=size, command=f.get("command", ""))
            processes[p.type] = p
        attachments = {k: [v] if isinstance(v, str) else list(v) for k, v in (addon_attachments or {}).items()}
        app = HerokuApp(name=name, config_vars={k: str(v) for k, v in (config_vars or {}).items()},
                        formation=processes, attachments=attachments, maintenance=maintenance, region=region,
                        stack=stack, generation=generation, plans=dict(addon_plans or {}),
                        domains=dict(domains or {}), release_version=release_version)
        with self._lock:
            self._apps[name] = app
        return app

    def get_app_state(self, name: str) -> dict[str, Any] | None:
        """A snapshot of an app: name, maintenance, config vars, formation ``{type: {quantity, size, command}}``."""
        with self._lock:
            app = self._apps.get(name)
            if app is None:
                return None
            return {"name": app.name, "id": app.id, "maintenance": app.maintenance,
                    "config_vars": dict(app.config_vars),
                    "formation": {p.type: {"quantity": p.quantity, "size": p.size, "command": p.command}
                                  for p in app.formation.values()},
                    "addon_attachments": copy.deepcopy(app.attachments),
                    "one_off_dynos": sorted(app.one_off)}

    def run_one_off(self, app_name: str, command: str, dyno_type: str = "run", size: str = "standard-1X") -> str:
        """A one-off dyno (``heroku run`` is type ``run``, Heroku Scheduler ``scheduler``); returns its name."""
        with self._lock:
            app = self._apps[app_name]
            n = 1000 + len(app.one_off) + 1
            while f"{dyno_type}.{n}" in app.one_off:
                n += 1
            name = f"{dyno_type}.{n}"
            app.one_off[name] = {"type": dyno_type, "command": command, "size": canonical_size(size) or size,
                                 "id": str(uuid.uuid4()),
                                 "created_at": _ts()}
            return name

    def set_slug_blob(self, app_name: str, archive: bytes, *, checksum: str | None = None) -> None:
        """The bytes the current release's slug ``blob.url`` answers (a ``.tgz`` of ``./app``, as Heroku's).
        ``checksum`` (``SHA256:<hex>``) is what the slug then claims instead of the archive's own digest (a test
        of a corrupted download)."""
        with self._lock:
            slug = self._apps[app_name].slug_id()
            self._blobs[slug] = archive
            if checksum is None:
                self._checksums.pop(slug, None)
            else:
                self._checksums[slug] = checksum

    def attach(self, owner: str, attachment: str, to_app: str, as_name: str) -> None:
        """Attach ``owner``'s add-on (its attachment ``attachment``) to another app as ``as_name`` (the
        add-on's config vars appear on that app under ``<as_name>_URL``)."""
        with self._lock:
            owner_app, other = self._apps[owner], self._apps[to_app]
            other.shared[as_name] = (owner_app, attachment)

    # ------------------------------------------------------------------ test hooks
    @property
    def requests(self) -> list[dict[str, Any]]:
        """Every request so far: ``{"method", "path", "status"}`` (never a header, never the token)."""
        with self._lock:
            return [dict(r) for r in self._requests]

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def fail_next(self, path: str, times: int = 1, status: int = 503, *, method: str | None = None,
                  body: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> None:
        """The next ``times`` requests to ``path`` (optionally only ``method``) answer ``status``."""
        default = {429: {"id": "rate_limit", "message": "Your account reached the API rate limit\n"
                                                      "Please wait a few minutes before making new requests"},
                   503: {"id": "unavailable", "message": "Service temporarily unavailable."}}.get(
            status, {"id": "internal_server_error", "message": "Internal server error."})
        with self._lock:
            self._faults.append(_Injected(path, method.upper() if method else None, times, status,
                                          body or default, dict(headers or {})))

    # ------------------------------------------------------------------ server lifecycle
    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeHeroku is not started")
        return f"http://{self.host}:{self.port}"

    def start(self) -> FakeHeroku:
        if self._server is not None:
            return self
        self.port = self.port or free_port()
        self._server = make_server(self.host, self.port, self._wsgi, threaded=True,
                                   request_handler=_QuietHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-heroku", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            with contextlib.suppress(Exception):
                self._server.server_close()
            if self._thread is not None:
                self._thread.join(5)
        self._server = self._thread = None

    def __enter__(self) -> FakeHeroku:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ HTTP
    def _wsgi(self, environ, start_response):
        request = Request(environ)
        blob = re.fullmatch(r"/slug-blobs/([0-9a-f-]{36})\.tgz", request.path)
        if blob and request.method == "GET":  # a signed URL on Heroku's S3: no API token
            with self._lock:
                data = self._blobs.get(blob[1])
                self._requests.append({"method": "GET", "path": request.path, "status": 200 if data else 404})
            if data is None:
                return Response(b"NoSuchKey", status=404, mimetype="application/xml")(environ, start_response)
            return Response(data, status=200, mimetype="application/octet-stream")(environ, start_response)
        status, body, headers = self._handle(request)
        with self._lock:
            self._requests.append({"method": request.method, "path": request.path, "status": status})
        response = Response(json.dumps(body), status=status, mimetype="application/json")
        response.headers["Request-Id"] = str(uuid.uuid4())
        response.headers["RateLimit-Remaining"] = "4500"
        for k, v in headers.items():
            response.headers[k] = v
        return response(environ, start_response)

    def _handle(self, request: Request) -> tuple[int, Any, dict[str, str]]:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[len("Bearer "):].strip() != self.token:
            return 401, {"id": "unauthorized", "message": "Invalid credentials provided."}, {}
        accept = request.headers.get("Accept", "")
        version = _ACCEPT_VERSION.search(accept)
        if version and version["v"] != "3":
            return 406, {"id": "not_acceptable", "message": "Only version=3 of the Platform API is served here."}, {}
        with self._lock:
            for fault in self._faults:
                if fault.path == request.path and fault.method in (None, request.method) and fault.remaining > 0:
                    fault.remaining -= 1
                    self._faults = [f for f in self._faults if f.remaining > 0]
                    return fault.status, fault.body, fault.headers
        try:
            payload = None
            if request.method in ("PATCH", "POST", "PUT"):
                raw = request.get_data()
                try:
                    payload = json.loads(raw) if raw else {}
                except ValueError:
                    raise _HttpError(400, {"id": "bad_request", "message": "Invalid JSON in request body."}) from None
            with self._lock:
                self._base_url = request.host_url.rstrip("/")
                body = self._route(request.method, request.path, payload)
            if request.method == "GET" and isinstance(body, list):
                return self._page(body, request.headers.get("Range"))
            return 200, body, {}
        except _HttpError as exc:
            return exc.status, exc.body, {}

    def _page(self, items: list[dict[str, Any]], range_header: str | None) -> tuple[int, Any, dict[str, str]]:
        """One page of a list, as Heroku pages (Dev Center "Ranges"): sorted by the range's field (``id`` unless
        ``Range`` names another the items have), from its start (``]x`` is after x), ``max`` items (default
        :attr:`page_size`, at most 1,000); 206 with ``Next-Range`` while more remain, else 200."""
        field, after, first, last, size = "id", False, "", "", self.page_size
        if range_header:
            m = _RANGE.match(range_header)
            if m is None or any(m["field"] not in item for item in items):
                raise _HttpError(400, {"id": "bad_request", "message": f"Invalid Range header: {range_header!r}."})
            field, after, first, last = m["field"], bool(m["after"]), m["first"], m["last"]
            size = int(m["max"]) if m["max"] else self.page_size
        size = max(1, min(size, MAX_PAGE_SIZE))
        ordered = sorted(items, key=lambda item: str(item[field]))
        selected = [item for item in ordered
                    if (not first or (str(item[field]) > first if after else str(item[field]) >= first))
                    and (not last or str(item[field]) <= last)]
        page = selected[:size]
        headers = {"Accept-Ranges": field}
        if page:
            headers["Content-Range"] = f"{field} {page[0][field]}..{page[-1][field]}; max={size}"
        if len(selected) > size:
            headers["Next-Range"] = f"{field} ]{page[-1][field]}..; max={size}"
            return 206, page, headers
        return 200, page, headers

    def _app(self, ref: str) -> HerokuApp:
        app = self._apps.get(ref) or next((a for a in self._apps.values() if a.id == ref), None)
        if app is None:
            raise _not_found("app")
        return app

    def _route(self, method: str, path: str, payload: Any) -> Any:
        parts = [p for p in path.split("/") if p]
        if len(parts) == 3 and parts[0] == "addons" and parts[2] == "addon-attachments" and method == "GET":
            return self._addon_attachments(parts[1])
        if len(parts) < 2 or parts[0] != "apps":
            raise _HttpError(404, {"id": "not_found", "message": "The requested API endpoint was not found. "
                                                                 "Are you using the right HTTP verb (i.e. `GET` vs. "
                                                                 "`POST`), and did you specify your intended version "
                                                                 "with the `Accept` header?"})
        app = self._app(parts[1])
        rest = parts[2:]
        handler = {
            ((), "GET"): lambda: app.as_json(),
            ((), "PATCH"): lambda: self._patch_app(app, payload),
            (("config-vars",), "GET"): lambda: dict(app.config_vars),
            (("config-vars",), "PATCH"): lambda: self._patch_config(app, payload),
            (("formation",), "GET"): lambda: [app.process_json(p) for p in app.formation.values()],
            (("formation",), "PATCH"): lambda: self._patch_formation(app, payload),
            (("addon-attachments",), "GET"): lambda: [app.attachment_json(n) for n in app.attachments]
            + [app.shared_attachment_json(n) for n in app.shared],
            (("addons",), "GET"): lambda: [app.addon_json(n) for n in app.attachments]
            + [owner.addon_json(owner_name) for owner, owner_name in app.shared.values()],
            (("dynos",), "GET"): lambda: app.dynos_json(),
            (("domains",), "GET"): lambda: app.domains_json(),
            (("releases",), "GET"): lambda: [app.release_json()],
        }.get((tuple(rest), method))
        if handler is None and len(rest) == 2 and method == "GET" and rest[0] in ("domains", "releases", "slugs"):
            return self._one(app, rest[0], rest[1])
        if handler is None and len(rest) == 4 and rest[0] == "dynos" and rest[2:] == ["actions", "stop"] \
                and method == "POST":
            return self._stop_dyno(app, rest[1])
        if handler is None and len(rest) == 2 and rest[0] == "formation" and method in ("GET", "PATCH"):
            ptype = rest[1]
            if method == "GET":
                return app.process_json(self._process(app, ptype))
            return self._patch_process(app, ptype, payload)
        if handler is None:
            raise _HttpError(404, {"id": "not_found", "message": "The requested API endpoint was not found."})
        return handler()

    def _addon_attachments(self, ref: str) -> list[dict[str, Any]]:
        for owner in self._apps.values():
            for name in owner.attachments:
                doc = owner.attachment_json(name)
                if ref in (doc["addon"]["id"], doc["addon"]["name"]):
                    return [doc] + [other.shared_attachment_json(n) for other in self._apps.values()
                                    for n, (o, on) in other.shared.items() if o is owner and on == name]
        raise _not_found("add-on")

    def _one(self, app: HerokuApp, kind: str, ref: str) -> dict[str, Any]:
        """Domain Info (id or hostname), Release Info (id or version), Slug Info (id)."""
        if kind == "domains":
            found = next((d for d in app.domains_json() if ref in (d["id"], d["hostname"])), None)
            if found is None:
                raise _not_found("domain")
            return found
        if kind == "releases":
            release = app.release_json()
            if ref not in (release["id"], str(release["version"])):
                raise _not_found("release")
            return release
        if ref != app.slug_id():
            raise _not_found("slug")
        return app.slug_json(self._base_url, self._blobs.get(ref), self._checksums.get(ref))

    @staticmethod
    def _stop_dyno(app: HerokuApp, ref: str) -> dict[str, Any]:
        """A one-off dyno stops for good; a formation dyno is restarted by Heroku (nothing changes here)."""
        for name, d in list(app.one_off.items()):
            if ref in (name, d["id"]):
                del app.one_off[name]
                return {}
        if any(ref == d["name"] or ref == d["id"] for d in app.dynos_json()):
            return {}
        raise _not_found("dyno")

    @staticmethod
    def _process(app: HerokuApp, ptype: str) -> _Process:
        process = app.formation.get(ptype)
        if process is None:
            raise _not_found("formation")
        return process

    @staticmethod
    def _patch_app(app: HerokuApp, payload: Any) -> dict[str, Any]:
        if not isinstance(payload, dict):
            raise _invalid("Request body must be a JSON object.")
        unsupported = sorted(set(payload) - {"maintenance"})
        if unsupported:
            raise _invalid(f"The stand-in only changes maintenance, not: {', '.join(unsupported)}.")
        if "maintenance" in payload:
            if not isinstance(payload["maintenance"], bool):
                raise _invalid("Invalid maintenance: must be a boolean.")
            app.maintenance = payload["maintenance"]
        app.touch()
        return app.as_json()

    @staticmethod
    def _patch_config(app: HerokuApp, payload: Any) -> dict[str, str]:
        if not isinstance(payload, dict):
            raise _invalid("Request body must be a JSON object of config vars.")
        for key, value in payload.items():   # config-var Update: patternProperties ^\w+$, string or null, nothing else
            if not _CONFIG_VAR_NAME.match(key):
                raise _invalid(f"Invalid config var name {key!r}: letters, digits and underscores only.")
            if value is not None and not isinstance(value, str):
                raise _invalid(f"Invalid value for config var {key}: must be a string or null.")
        for key, value in payload.items():
            if value is None:
                app.config_vars.pop(key, None)
            else:
                app.config_vars[key] = value
        app.touch()
        return dict(app.config_vars)

    def _patch_formation(self, app: HerokuApp, payload: Any) -> list[dict[str, Any]]:
        updates = payload.get("updates") if isinstance(payload, dict) else None
        if not isinstance(updates, list) or not updates:
            raise _invalid("Missing updates: expected a non-empty list.")
        for u in updates:   # validate all before changing any, as Heroku does
            if not isinstance(u, dict) or not isinstance(u.get("type"), str):
                raise _invalid("Each formation update needs a type.")
            self._process(app, u["type"])
            self._check_update(u)
        return [self._apply_update(app, u) for u in updates]

    def _patch_process(self, app: HerokuApp, ptype: str, payload: Any) -> dict[str, Any]:
        if not isinstance(payload, dict):
            raise _invalid("Request body must be a JSON object.")
        self._process(app, ptype)
        self._check_update(payload)
        return self._apply_update(app, {**payload, "type": ptype})

    @staticmethod
    def _check_update(u: dict[str, Any]) -> None:
        """The schema's formation ``update``: ``type``, ``quantity``, ``dyno_size`` ({name} or {id}) and nothing
        else (additionalProperties false; the deprecated ``size`` is not among them)."""
        unknown = sorted(set(u) - {"type", "quantity", "dyno_size"})
        if unknown:
            raise _invalid(f"Unknown formation update properties: {', '.join(unknown)} (a size is given as "
                           "dyno_size: {\"name\": ...}).")
        if "quantity" in u and (not isinstance(u["quantity"], int) or isinstance(u["quantity"], bool)
                                or u["quantity"] < 0):
            raise _invalid("Invalid quantity: must be an integer greater than or equal to 0.")
        if "dyno_size" in u:
            ref = u["dyno_size"]
            given = (ref.get("name") or ref.get("id")) if isinstance(ref, dict) else None
            if not isinstance(given, str) or canonical_size(given) is None:
                raise _invalid(f"Invalid dyno_size: {ref!r} is not a dyno size.")

    @staticmethod
    def _apply_update(app: HerokuApp, u: dict[str, Any]) -> dict[str, Any]:
        process = app.formation[u["type"]]
        if "quantity" in u:
            process.quantity = u["quantity"]
        if "dyno_size" in u:
            process.size = canonical_size(u["dyno_size"].get("name") or u["dyno_size"]["id"]) or process.size
        process.updated_at = _ts()
        return app.process_json(process)
