"""The Redis copier's errors and how it names a key in a message (never a value)."""

from __future__ import annotations

__all__ = ["MAX_NAMED", "CommandError", "ConfigError", "CopyError", "show"]

MAX_NAMED = 20  # keys named in a message (all are counted)


class CopyError(Exception):
    """The copy failed or is incomplete; the message is safe to print (no password)."""

    status = 1


class ConfigError(CopyError):
    """Bad input: unparseable URL, unreachable server, refused login, TLS failure."""

    status = 2


def show(key: bytes) -> str:
    """A key as printable text (not valid UTF-8 → backslash escapes; long keys shortened)."""
    text = key.decode("utf-8", "backslashreplace")
    return text if len(text) <= 200 else text[:197] + "..."



class CommandError(CopyError):
    pass

