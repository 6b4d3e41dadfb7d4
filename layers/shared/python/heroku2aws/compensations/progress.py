"""What one rollback pass did and what it still waits for (names and ids only, never a value)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from ..clients.aws import is_not_found
from ..obs import get_logger

log = get_logger("rollback")

__all__ = ["Progress", "describe_or_none", "ignore_gone"]


class Progress:
    def __init__(self) -> None:
        self.pending: list[str] = []
        self.actions: list[str] = []

    def did(self, what: str) -> None:
        """Something changed (or had to be left to a person): reported in ``actions``."""
        self.actions.append(what)
        log.info("compensation", extra={"action": what})

    def wait(self, what: str) -> None:
        """Still in progress: the state machine calls again after a Wait (older entries wait too)."""
        self.pending.append(what)


def describe_or_none(call: Callable[[], list[Any]]) -> list[Any]:
    """``call()``'s list, or ``[]`` when AWS says the thing is not there."""
    try:
        return call()
    except ClientError as exc:
        if is_not_found(exc):
            return []
        raise


def ignore_gone(call: Callable[[], Any]) -> None:
    """``call()``; "not found" is success (a deletion a previous pass already made)."""
    try:
        call()
    except ClientError as exc:
        if not is_not_found(exc):
            raise
