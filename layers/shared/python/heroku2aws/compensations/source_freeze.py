"""``source-read-only``: the source database writable again (the write freeze's database half undone).

``ALTER DATABASE <db> RESET default_transaction_read_only``, then the role's other client sessions terminated so
they reconnect writable (:func:`heroku2aws.postgres.freeze.make_writable`). Recorded ahead of the freeze, so the
setting may never have been made: then nothing is done and nothing reported. A source that cannot be reached is
waited for (the state machine calls again): leaving the Heroku app's database read-only would break the app that
rollback puts back in service.
"""

from __future__ import annotations

from typing import Any

from ..clients import connections
from ..contracts.ledger import SourceReadOnly
from .progress import Progress


def undo_source_read_only(item: SourceReadOnly, cfg: dict[str, Any], progress: Progress) -> None:
    from ..postgres.freeze import FreezeError, make_writable

    arn = (cfg.get("source") or {}).get("postgres_secret_arn")
    if not arn:
        return
    url = connections.postgres_url(arn)
    try:
        was, terminated = make_writable(url)
    except FreezeError as exc:
        progress.wait(f"source database of {item.app} still read-only ({exc})")
        return
    if was:
        progress.did(f"source database of {item.app} writable again (default_transaction_read_only reset; "
                     f"{terminated} read-only session(s) ended to reconnect)")
