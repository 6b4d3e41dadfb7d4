"""Resolve connection details without ever putting a secret value in state, argv or logs.

A value may be given as a Secrets Manager ARN (the normal case in the workflow: only ARNs
travel in Step Functions state) or, in a task or on the command line, as the literal value.
``redact`` is the one function that makes a URL safe to print.
"""

from __future__ import annotations

import json
import os
import re
from urllib.parse import urlsplit, urlunsplit

SECRET_ARN = re.compile(r"^arn:aws[\w-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@!-]+$")


def is_secret_arn(value: str) -> bool:
    return bool(SECRET_ARN.match(value or ""))


def get_secret_string(arn: str, client=None) -> str:
    """The SecretString of ``arn`` (boto3 honours AWS_ENDPOINT_URL, so the engine's emulation works)."""
    import boto3

    client = client or boto3.client("secretsmanager")
    return client.get_secret_value(SecretId=arn)["SecretString"]


def resolve(value: str, key: str | None = None, client=None) -> str:
    """``value`` itself, or the secret it names by ARN.

    A secret holding JSON yields its ``key`` field (``url`` when no key is given and the JSON has
    one); a secret holding a plain string yields that string.
    """
    if not is_secret_arn(value):
        return value
    raw = get_secret_string(value, client)
    try:
        doc = json.loads(raw)
    except ValueError:
        return raw
    if isinstance(doc, dict):
        field = key or "url"
        if field not in doc and key is None and {"host", "username", "password"} <= doc.keys():
            return postgres_url_from_fields(doc)
        if field not in doc:
            raise KeyError(f"secret {value} has no field {field!r} (fields: {sorted(doc)})")
        return str(doc[field])
    return raw


def postgres_url_from_fields(doc: dict) -> str:
    """A libpq URL from a connection secret in the format DMS and RDS use (host, port, username,
    password, dbname; optional sslmode — libpq's own default, prefer, negotiates TLS when offered)."""
    from urllib.parse import quote

    url = (f"postgresql://{quote(str(doc['username']), safe='')}:{quote(str(doc['password']), safe='')}"
           f"@{doc['host']}:{int(doc.get('port') or 5432)}/{quote(str(doc.get('dbname') or 'postgres'), safe='')}")
    return url + (f"?sslmode={doc['sslmode']}" if doc.get("sslmode") else "")


def resolve_env(name: str, key: str | None = None) -> str:
    """An environment variable's value, or the secret it names by ARN; a clear error when unset."""
    value = os.environ.get(name)
    if not value:
        raise KeyError(f"environment variable {name} is not set")
    return resolve(value, key)


def redact(url: str) -> str:
    """``url`` with its password replaced by ``***`` (user, host, port and path kept)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable url>"
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))
