"""The one place that makes text safe to show: no password, no API key, no config var value.

- :func:`redact` — a URL with its password replaced by ``***`` (user, host, port and path kept);
- :func:`scrub` — any text (a third-party error message, a tool's output line) with every URL given
  shown through :func:`redact`, every password of those URLs (raw, percent-decoded and re-encoded),
  every known secret value, and any ``scheme://user:password@`` or ``password=…`` it still holds
  replaced by ``***``;
- :func:`url_password` — the password in a URL (so a caller can scrub it from texts that echo it).

Every message that reaches a log, an error's ``Cause`` or a command line's output goes through one
of these.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote, unquote, urlsplit, urlunsplit

__all__ = ["redact", "scrub", "url_password"]

_URL_PASSWORD = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@\s]+)@")
_PASSWORD_PARAM = re.compile(r"(?i)(password|passwd|pwd|api_key|apikey|token)=\S+")
#: Shorter values are not replaced: "***" everywhere a two-letter password occurs would say nothing safely.
MIN_SECRET_LENGTH = 3


def redact(url: str) -> str:
    """``url`` with its password replaced by ``***`` (user, host, port and path kept)."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "<unparseable url>"
    if password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{netloc}"))


def url_password(url: str) -> str | None:
    """The (percent-decoded) password in ``url``, or None."""
    try:
        pw = urlsplit(url).password
    except ValueError:
        return None
    return unquote(pw) if pw else None


def _forms(url: str) -> set[str]:
    """Every way ``url``'s password may appear in a text: as written, decoded and re-encoded."""
    try:
        raw = urlsplit(url).password
    except ValueError:
        return set()
    if not raw:
        return set()
    decoded = unquote(raw)
    return {raw, decoded, quote(decoded, safe=""), quote(decoded)}


def scrub(text: object, *urls: str, secrets: Iterable[str] = ()) -> str:
    """``text`` safe to show: see the module docstring."""
    out = str(text)
    values: set[str] = {s for s in secrets if s}
    for url in urls:
        if not url:
            continue
        out = out.replace(url, redact(url))
        values |= _forms(url)
    for value in sorted((v for v in values if len(v) >= MIN_SECRET_LENGTH), key=len, reverse=True):
        out = out.replace(value, "***")
    out = _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:***@", out)
    return _PASSWORD_PARAM.sub(lambda m: f"{m.group(1)}=***", out)
