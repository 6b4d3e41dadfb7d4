"""A Redis server from its ``redis://`` / ``rediss://`` URL (shown only through :func:`heroku2aws.redaction.redact`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from ..redaction import percent_decoded, redact, split_userinfo
from .errors import ConfigError

__all__ = ["Endpoint", "parse_endpoint"]


@dataclass(frozen=True)
class Endpoint:
    url: str = field(repr=False)
    host: str
    port: int
    username: str | None
    password: str | None = field(repr=False)
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
    url = url.strip()
    # The userinfo is split off first, leniently (redaction.split_userinfo): a password with "#", "?", "/", "@"
    # or "%" unencoded stays whole instead of spilling into the "fragment", "query" or "path" that urlsplit
    # would make of it -- and into the messages below.
    userinfo = split_userinfo(url)
    if "@" in (userinfo[3] if userinfo is not None else url):
        # an "@" with no host after it (or a second one after the host): where the password ends cannot be
        # told, so nothing of the URL is shown
        raise ConfigError(f"{label} URL cannot be parsed: no host follows its last '@' (URL not shown: it may "
                          "hold a password; percent-encode it)")
    shown = redact(url) if "://" in url else "<not a URL>"
    if userinfo is not None:
        head, user, password, rest = userinfo
        bare = head + rest
    else:
        user, password, bare = "", None, url
    try:
        parts = urlsplit(bare)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"{label} URL {shown!r} cannot be parsed: {scrub_reason(exc, url)}") from None
    if parts.scheme not in ("redis", "rediss"):
        raise ConfigError(f"{label} URL {shown!r} is not a redis:// or rediss:// URL")
    if "@" in parts.netloc or not parts.hostname:
        raise ConfigError(f"{label} URL {shown!r} has no host")
    path = parts.path.strip("/")
    if path and not path.isdigit():
        raise ConfigError(f"{label} URL {shown!r}: the path must be a database number, not {path!r}")
    query = parse_qs(parts.query)
    reqs = (query.get("ssl_cert_reqs") or [""])[0].lower()
    verify = tls_verify and reqs not in ("none", "cert_none")
    return Endpoint(
        url=url, host=parts.hostname, port=port or 6379,
        username=percent_decoded(user) if user else None,
        password=percent_decoded(password) if password else None,
        tls=parts.scheme == "rediss", tls_verify=verify, label=label,
    )


def scrub_reason(exc: Exception, url: str) -> str:
    from ..redaction import scrub

    return scrub(str(exc), url)
