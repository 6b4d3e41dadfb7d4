"""Connection details from Secrets Manager, built inside the function that uses them.

Only secret ARNs travel in Step Functions state; these helpers turn an ARN into the value a client
needs, and the value never leaves the function (never logged, never returned, never in an error).

Secret formats:

- Postgres (source and target): JSON ``{"host", "port", "username", "password", "dbname"}`` — the
  format DMS and RDS-managed secrets use — with an optional ``url`` (used only when the fields are
  absent) and an optional ``sslmode``.
- Redis: JSON ``{"url"}`` (``redis://`` or ``rediss://``), or the URL as a plain string.
- Heroku API key: the key as a plain string, or JSON ``{"api_key"}``.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from . import secrets as _secrets

__all__ = ["SecretFormatError", "heroku_api_key", "postgres_url", "redis_client", "redis_url", "url_password"]

#: Source (Heroku Postgres) only accepts TLS; the target (RDS) takes TLS when offered.
SOURCE_SSLMODE = "require"
TARGET_SSLMODE = "prefer"
_SSLMODES = {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}


class SecretFormatError(ValueError):
    """A secret's content is not in the expected format (the message names fields, never values)."""


def _secret_doc(secret_arn: str, client=None) -> tuple[dict[str, Any] | None, str]:
    raw = _secrets.get_secret_string(secret_arn, client)
    try:
        doc = json.loads(raw)
    except ValueError:
        return None, raw
    return (doc, raw) if isinstance(doc, dict) else (None, raw)


def postgres_url(secret_arn: str, *, default_sslmode: str = SOURCE_SSLMODE, client=None) -> str:
    """A libpq URL (``postgresql://user:pass@host:port/db?sslmode=…``) from a connection secret.

    ``sslmode`` comes from the secret's ``sslmode`` field, else from its ``url``'s query, else
    ``default_sslmode`` (``require`` for the Heroku source; pass :data:`TARGET_SSLMODE` for RDS).
    """
    doc, _ = _secret_doc(secret_arn, client)
    if doc is None:
        raise SecretFormatError(f"secret {secret_arn} is not a JSON object with host, port, username, password, "
                                "dbname")
    fields = ("host", "username", "password", "dbname")
    if all(doc.get(k) not in (None, "") for k in fields):
        host = str(doc["host"])
        if ":" in host and not host.startswith("["):  # IPv6 literal
            host = f"[{host}]"
        port = int(doc.get("port") or 5432)
        user = quote(str(doc["username"]), safe="")
        password = quote(str(doc["password"]), safe="")
        base = f"postgresql://{user}:{password}@{host}:{port}/{quote(str(doc['dbname']), safe='')}"
        query: dict[str, str] = {}
        if doc.get("url"):
            query = dict(parse_qsl(urlsplit(str(doc["url"])).query))
    elif doc.get("url"):
        parts = urlsplit(str(doc["url"]))
        if parts.scheme not in ("postgres", "postgresql"):
            raise SecretFormatError(f"secret {secret_arn}: field url is not a postgres:// URL")
        query = dict(parse_qsl(parts.query))
        base = urlunsplit(("postgresql", parts.netloc, parts.path, "", ""))
    else:
        missing = [k for k in fields if doc.get(k) in (None, "")]
        raise SecretFormatError(f"secret {secret_arn} lacks field(s) {', '.join(missing)} (and has no url)")
    sslmode = str(doc.get("sslmode") or query.get("sslmode") or default_sslmode)
    if sslmode not in _SSLMODES:
        raise SecretFormatError(f"secret {secret_arn}: sslmode must be one of {sorted(_SSLMODES)}")
    query["sslmode"] = sslmode
    return f"{base}?{urlencode(query)}"


def redis_url(secret_arn: str, *, client=None) -> str:
    """The Redis URL a secret holds (JSON ``{"url"}`` or a plain string)."""
    doc, raw = _secret_doc(secret_arn, client)
    url = str(doc.get("url") or "") if doc is not None else raw.strip()
    if urlsplit(url).scheme not in ("redis", "rediss"):
        raise SecretFormatError(f"secret {secret_arn} does not hold a redis:// or rediss:// URL"
                                + (" in field url" if doc is not None else ""))
    return url


def heroku_api_key(secret_arn: str, *, client=None) -> str:
    """The Heroku API key a secret holds (a plain string or JSON ``{"api_key"}``)."""
    doc, raw = _secret_doc(secret_arn, client)
    key = str(doc.get("api_key") or "") if doc is not None else raw
    key = key.strip()
    if not key or any(c.isspace() for c in key):
        raise SecretFormatError(f"secret {secret_arn} does not hold a Heroku API key (plain string or "
                                "JSON {\"api_key\": ...})")
    return key


def url_password(url: str) -> str | None:
    """The password in a URL (so callers can scrub it from third-party error messages)."""
    try:
        pw = urlsplit(url).password
        return unquote(pw) if pw else None
    except ValueError:
        return None


def redis_client(url: str, **kwargs):
    """A redis-py client; ``rediss://`` with certificate verification off (Heroku Redis is self-signed)."""
    import redis

    if urlsplit(url).scheme == "rediss":
        kwargs.setdefault("ssl_cert_reqs", "none")
        kwargs.setdefault("ssl_check_hostname", False)
    kwargs.setdefault("socket_connect_timeout", 10)
    kwargs.setdefault("socket_timeout", 30)
    return redis.Redis.from_url(url, **kwargs)
