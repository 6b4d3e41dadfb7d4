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
from urllib.parse import quote, unquote

__all__ = ["percent_decoded", "redact", "scrub", "split_userinfo", "url_password"]

_URL_PASSWORD = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>\S+)@")
_PASSWORD_PARAM = re.compile(r"(?i)(password|passwd|pwd|api_key|apikey|token)=\S+")
#: Shorter values are not replaced: "***" everywhere a two-letter password occurs would say nothing safely.
MIN_SECRET_LENGTH = 3


_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
# What may follow a userinfo's "@": a host list (names, IPv4, bracketed IPv6, ports, commas: libpq's
# multi-host URLs), then the path, the query, a fragment or the end.
_HOSTSPEC = re.compile(r"[A-Za-z0-9._~\-\[\]:,%]*(?=[/?#]|$)")
_PERCENT_ENCODED = re.compile(r"(?:[^%]|%[0-9A-Fa-f]{2})*")


def split_userinfo(url: str) -> tuple[str, str, str | None, str] | None:
    """``(scheme://, user, password or None, what follows the "@")`` as written in ``url``; None: no userinfo.

    Lenient on purpose: a password may hold ``#``, ``?``, ``/``, ``@``, ``:``, ``%`` or a space unencoded
    (users paste them so; RFC 3986 section 3.2.1 wants them percent-encoded, and ``urlsplit`` then cuts the
    URL at the ``#`` or ``?`` and shows the rest of the password as a fragment or query). The userinfo ends
    at the *last* ``@`` followed by a host list and then ``/``, ``?``, ``#`` or the end; the password starts
    at the first ``:`` (a user name cannot hold one). When in doubt this takes too much for the password,
    never too little.
    """
    m = _SCHEME.match(url)
    if not m:
        return None
    rest = url[m.end():]
    for i in range(len(rest) - 1, -1, -1):
        if rest[i] == "@" and _HOSTSPEC.match(rest, i + 1):
            user, sep, password = rest[:i].partition(":")
            return m.group(0), user, (password if sep else None), rest[i + 1:]
    return None


def percent_decoded(text: str) -> str:
    """``text`` percent-decoded when it is validly percent-encoded, else as it is (a raw ``%`` in a password)."""
    return unquote(text) if _PERCENT_ENCODED.fullmatch(text) else text


def redact(url: str) -> str:
    """``url`` with its password replaced by ``***`` (user, host, port and path kept)."""
    parts = split_userinfo(url)
    if parts is None or parts[2] is None:
        return url
    head, user, _, rest = parts
    return f"{head}{user}:***@{rest}"


def url_password(url: str) -> str | None:
    """The (percent-decoded) password in ``url``, or None."""
    parts = split_userinfo(url)
    return percent_decoded(parts[2]) if parts and parts[2] else None


def _forms(url: str) -> set[str]:
    """Every way ``url``'s password may appear in a text: as written, decoded and re-encoded."""
    parts = split_userinfo(url)
    raw = parts[2] if parts else None
    if not raw:
        return set()
    decoded = percent_decoded(raw)
    return {raw, decoded, quote(decoded, safe=""), quote(decoded), quote(decoded, safe="@:/?#&=+$,;~")}


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
