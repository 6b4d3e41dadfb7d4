"""Connection details from Secrets Manager, built inside the function or task that uses them.

Only secret ARNs travel in Step Functions state; these helpers turn an ARN into the value a client
needs, and the value never leaves the process (never logged, never returned, never in an error).

Secret formats:

- Postgres (source and target): JSON ``{"host", "port", "username", "password", "dbname"}`` — the
  format DMS and RDS-managed secrets use — with an optional ``url`` (used only when the fields are
  absent) and an optional ``sslmode``.
- Redis: JSON ``{"url"}`` (``redis://`` or ``rediss://``), or the URL as a plain string.
- Heroku API key: the key as a plain string, or JSON ``{"api_key"}``.

:func:`postgres_url_from_doc` is the one place a Postgres URL is built from those fields.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from ..redaction import percent_decoded, split_userinfo
from .secret_values import get_secret_string, is_secret_arn, parse_document, secret_document

__all__ = ["SOURCE_SSLMODE", "TARGET_SSLMODE", "SecretFormatError", "heroku_api_key", "normalise_url",
           "postgres_url", "postgres_url_from_doc", "redis_client", "redis_url", "resolve", "resolve_env"]

#: Source (Heroku Postgres) only accepts TLS; the target (RDS) takes TLS when offered.
SOURCE_SSLMODE = "require"
TARGET_SSLMODE = "prefer"
_SSLMODES = {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}
_FIELDS = ("host", "username", "password", "dbname")


class SecretFormatError(ValueError):
    """A secret's content is not in the expected format (the message names fields, never values)."""


_NORMALISED_SCHEMES = ("postgres://", "postgresql://", "redis://", "rediss://")


def normalise_url(url: str) -> str:
    """``url`` with its user name and password percent-encoded, as RFC 3986 section 3.2.1 and libpq require.

    A password pasted raw may hold ``#``, ``?``, ``/``, ``@`` or ``%``: left so, libpq and ``urlsplit`` cut the
    URL in the middle of the password (connecting elsewhere, and echoing the rest of the password in their
    errors). Already-encoded userinfo is left as it means (decoded, then encoded again); a ``%`` not followed
    by two hex digits is taken literally. Only postgres:// and redis:// URLs are touched.
    libpq: https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNSTRING-URIS
    ("percent-encoding may be used to include symbols with special meaning in any of the URI parts").
    """
    if not url.lower().startswith(_NORMALISED_SCHEMES):
        return url
    parts = split_userinfo(url)
    if parts is None:
        return url
    scheme, user, password, rest = parts
    userinfo = quote(percent_decoded(user), safe="")
    if password is not None:
        userinfo += ":" + quote(percent_decoded(password), safe="")
    return f"{scheme}{userinfo}@{rest}"


def postgres_url_from_doc(doc: dict[str, Any], *, default_sslmode: str | None = SOURCE_SSLMODE,
                          where: str = "the secret") -> str:
    """A libpq URL (``postgresql://user:pass@host:port/db?sslmode=…``) from a connection secret's fields.

    ``sslmode`` comes from the ``sslmode`` field, else from the ``url``'s query, else ``default_sslmode``
    (``None``: none in the URL, libpq's own default ``prefer``). An IPv6 host is bracketed.
    """
    if all(doc.get(k) not in (None, "") for k in _FIELDS):
        host = str(doc["host"])
        if ":" in host and not host.startswith("["):  # IPv6 literal
            host = f"[{host}]"
        port = int(doc.get("port") or 5432)
        user = quote(str(doc["username"]), safe="")
        password = quote(str(doc["password"]), safe="")
        base = f"postgresql://{user}:{password}@{host}:{port}/{quote(str(doc['dbname']), safe='')}"
        query: dict[str, str] = dict(parse_qsl(urlsplit(normalise_url(str(doc["url"]))).query)) if doc.get("url") else {}
    elif doc.get("url"):
        parts = urlsplit(normalise_url(str(doc["url"])))
        if parts.scheme not in ("postgres", "postgresql"):
            raise SecretFormatError(f"{where}: field url is not a postgres:// URL")
        query = dict(parse_qsl(parts.query))
        base = urlunsplit(("postgresql", parts.netloc, parts.path, "", ""))
    else:
        missing = [k for k in _FIELDS if doc.get(k) in (None, "")]
        raise SecretFormatError(f"{where} lacks field(s) {', '.join(missing)} (and has no url)")
    sslmode = doc.get("sslmode") or query.get("sslmode") or default_sslmode
    if sslmode is None:
        return f"{base}?{urlencode(query)}" if query else base
    if sslmode not in _SSLMODES:
        raise SecretFormatError(f"{where}: sslmode must be one of {sorted(_SSLMODES)}")
    query["sslmode"] = str(sslmode)
    return f"{base}?{urlencode(query)}"


def postgres_url(secret_arn: str, *, default_sslmode: str = SOURCE_SSLMODE, client: Any = None) -> str:
    """The libpq URL of a Postgres connection secret (``require`` for the Heroku source by default; pass
    :data:`TARGET_SSLMODE` for RDS)."""
    doc, _ = secret_document(secret_arn, client)
    if doc is None:
        raise SecretFormatError(f"secret {secret_arn} is not a JSON object with host, port, username, password, "
                                "dbname")
    return postgres_url_from_doc(doc, default_sslmode=default_sslmode, where=f"secret {secret_arn}")


def redis_url(secret_arn: str, *, client: Any = None) -> str:
    """The Redis URL a secret holds (JSON ``{"url"}`` or a plain string)."""
    doc, raw = secret_document(secret_arn, client)
    url = str(doc.get("url") or "") if doc is not None else raw.strip()
    if urlsplit(url).scheme not in ("redis", "rediss"):
        raise SecretFormatError(f"secret {secret_arn} does not hold a redis:// or rediss:// URL"
                                + (" in field url" if doc is not None else ""))
    return url


def heroku_api_key(secret_arn: str, *, client: Any = None) -> str:
    """The Heroku API key a secret holds (a plain string or JSON ``{"api_key"}``)."""
    doc, raw = secret_document(secret_arn, client)
    key = str(doc.get("api_key") or "") if doc is not None else raw
    key = key.strip()
    if not key or any(c.isspace() for c in key):
        raise SecretFormatError(f"secret {secret_arn} does not hold a Heroku API key (plain string or "
                                "JSON {\"api_key\": ...})")
    return key


def resolve(value: str, key: str | None = None, client: Any = None) -> str:
    """``value`` itself, or the secret it names by ARN (the ECS tasks and the command line take either).

    A secret holding JSON yields its ``key`` field (``url`` when no key is given and the JSON has one; a
    Postgres connection secret's fields when it has none); a secret holding a plain string yields that string.
    """
    if not is_secret_arn(value):
        return normalise_url(value)
    raw = get_secret_string(value, client)
    doc = parse_document(raw)
    if doc is None:
        return normalise_url(raw.strip()) if raw.strip().lower().startswith(_NORMALISED_SCHEMES) else raw
    field = key or "url"
    if field not in doc and key is None and {"host", "username", "password"} <= doc.keys():
        return postgres_url_from_doc({**doc, "dbname": doc.get("dbname") or "postgres"}, default_sslmode=None,
                                     where=f"secret {value}")
    if field not in doc:
        raise KeyError(f"secret {value} has no field {field!r} (fields: {sorted(doc)})")
    return normalise_url(str(doc[field]))


def resolve_env(name: str, key: str | None = None) -> str:
    """An environment variable's value, or the secret it names by ARN; a clear error when unset."""
    value = os.environ.get(name)
    if not value:
        raise KeyError(f"environment variable {name} is not set")
    return resolve(value, key)


def redis_client(url: str, **kwargs: Any) -> Any:
    """A redis-py client; ``rediss://`` with certificate verification off (Heroku Redis is self-signed)."""
    import redis

    if urlsplit(url).scheme == "rediss":
        kwargs.setdefault("ssl_cert_reqs", "none")
        kwargs.setdefault("ssl_check_hostname", False)
    kwargs.setdefault("socket_connect_timeout", 10)
    kwargs.setdefault("socket_timeout", 30)
    return redis.Redis.from_url(url, **kwargs)
