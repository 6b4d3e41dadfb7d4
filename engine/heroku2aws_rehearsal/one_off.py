"""A one-off dyno that keeps writing through the migration: the rehearsal's proof that the write freeze holds.

Heroku Scheduler jobs and ``heroku run`` sessions are not stopped by maintenance mode or a formation of 0, and the
next Scheduler run starts during the freeze. This writer plays them: from before the execution starts until it
ends it inserts one row every few milliseconds into ``one_off_writes`` on the source database, as the app's
role (the credential a one-off dyno has), reconnecting whenever its session is ended. Each attempt is recorded
with its outcome and time. Afterwards :meth:`OneOffWriter.verdict` compares what it was told was committed with
what the target holds: nothing committed may be missing (lost), nothing uncommitted may be there (copied half),
and no write may commit while the data is being copied.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import psycopg

TABLE = "one_off_writes"


@dataclass
class OneOffWriter:
    url: str
    interval_s: float = 0.005
    committed: dict[int, float] = field(default_factory=dict)  # id -> epoch seconds of the commit
    refused: dict[int, float] = field(default_factory=dict)  # id -> when the database refused it as read-only
    disconnects: int = 0

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="one-off-writer", daemon=True)

    def start(self) -> OneOffWriter:
        with psycopg.connect(self.url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (id bigint PRIMARY KEY, "
                         "written_at timestamptz NOT NULL DEFAULT now())")
            start = conn.execute(f"SELECT coalesce(max(id), 0) FROM {TABLE}").fetchone()[0]
        self._next = int(start)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        conn: psycopg.Connection | None = None
        while not self._stop.is_set():
            self._next += 1
            n = self._next
            try:
                if conn is None or conn.closed:
                    conn = psycopg.connect(self.url, autocommit=True, connect_timeout=5,
                                           application_name="one-off-dyno")
                conn.execute(f"INSERT INTO {TABLE} (id) VALUES (%s)", (n,))
                self.committed[n] = time.time()
            except psycopg.errors.ReadOnlySqlTransaction:
                self.refused[n] = time.time()
            except psycopg.Error:  # the session was ended (the freeze): a dyno's pool reconnects
                self.disconnects += 1
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.05)
            time.sleep(self.interval_s)
        if conn is not None:
            conn.close()

    def verdict(self, target_url: str | None, copy_window: tuple[float, float] | None) -> dict[str, Any]:
        """The report's ``freeze`` figures (counts and ids only)."""
        out: dict[str, Any] = {"writes_committed": len(self.committed), "writes_refused": len(self.refused),
                               "reconnects": self.disconnects}
        if copy_window is not None:
            start, end = copy_window
            out["committed_during_copy"] = sum(1 for t in self.committed.values() if start <= t <= end)
            out["refused_during_copy"] = sum(1 for t in self.refused.values() if start <= t <= end)
        if target_url is not None:
            with psycopg.connect(target_url, autocommit=True, connect_timeout=5) as conn:
                on_target = {r[0] for r in conn.execute(f"SELECT id FROM {TABLE}").fetchall()}
            out["lost"] = sorted(set(self.committed) - on_target)[:20]
            out["on_target_not_committed"] = sorted(on_target - set(self.committed))[:20]
        out["held"] = (not out.get("committed_during_copy") and not out.get("lost")
                       and not out.get("on_target_not_committed") and bool(self.refused))
        return out
