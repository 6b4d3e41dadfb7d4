"""A Redis server from its ``redis://`` / ``rediss://`` URL (shown only through :func:`heroku2aws.redaction.redact`)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from ..redaction import redact
from .errors import ConfigError

__all__ = ["Endpoint", "parse_endpoint"]


@dataclass(frozen=True)
class Endpoint:
    url: str
    host: str
    port: int
    username: str | None
    password: str | None
    tls: bool
    tls_verify: bool
    label: str = "redis"

    @property
    def safe(self) -> str:
        return redact(self.url)

    def same_server(self, other: Endpoint) -> bool:
        return (self.host, self.port) == (other.host, other.port)


def parse_endpoint(url: str, *, tls_verify: bool = True, label: str = "redis") -> Endpoint:
    """Check and split a ``redis://`` / ``rediss://`` URL; :class:`ConfigError` says what is wrong (no password)."""
    if not url or not isinstance(url, str):
        raise ConfigError(f"{label} URL is empty")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"{label} URL {redact(url)!r} cannot be parsed: {exc}") from None
    if parts.scheme not in ("redis", "rediss"):
        shown = redact(url) if "://" in url else "<not a URL>"
        raise ConfigError(f"{label} URL {shown!r} is not a redis:// or rediss:// URL")
    if not parts.hostname:
        raise ConfigError(f"{label} URL {redact(url)!r} has no host")
    path = parts.path.strip("/")
    if path and not path.isdigit():
        raise ConfigError(f"{label} URL {redact(url)!r}: the path must be a database number, not {path!r}")
    query = parse_qs(parts.query)
    reqs = (query.get("ssl_cert_reqs") or [""])[0].lower()
    verify = tls_verify and reqs not in ("none", "cert_none")
    return Endpoint(
        url=url.strip(), host=parts.hostname, port=port or 6379,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        tls=parts.scheme == "rediss", tls_verify=verify, label=label,
    )

