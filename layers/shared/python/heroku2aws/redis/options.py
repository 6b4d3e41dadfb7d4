"""A copy's options, its progress, statistics and results, and how they are shown to people."""

from __future__ import annotations

import builtins
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from .errors import MAX_NAMED, show

__all__ = ["CopyOptions", "CopyResult", "CopyStats", "Mismatch", "Progress", "VerifyResult", "human_bytes",
           "human_duration", "peak_rss_bytes"]


@dataclass
class CopyOptions:
    replace: bool = False
    dbs: list[int] | None = None          # None: every database INFO keyspace lists
    batch_keys: int = 1000                # SCAN COUNT (upper bound)
    batch_bytes: int = 4 << 20            # payload bytes per batch handed to the writer
    queue_depth: int = 4                  # batches waiting for the writer
    chunk: int = 1000                     # members per chunk in the type-aware path and verification
    chunk_bytes: int = 1 << 20            # string bytes per chunk
    # Values whose MEMORY USAGE is above this are streamed in chunks into a temporary key and RENAMEd, never
    # DUMPed: the copy's memory is then bounded by the chunks and the batches, not by the largest value.
    large_bytes: int = 4 << 20
    verify_sample: float = 1.0            # share of keys whose values are compared (presence, type, TTL: all)
    ttl_tolerance_ms: int = 2000
    progress: Callable[[Progress], None] | None = None
    progress_interval: float = 10.0


@dataclass
class Progress:
    keys: int
    bytes: int
    total_keys: int
    seconds: float
    phase: str = "copy"

    @property
    def keys_per_second(self) -> float:
        return self.keys / self.seconds if self.seconds > 0 else 0.0

    @property
    def eta_seconds(self) -> float | None:
        rate = self.keys_per_second
        if rate <= 0 or self.total_keys <= 0:
            return None
        return max(0.0, (self.total_keys - self.keys) / rate)


@dataclass
class CopyStats:
    keys: int = 0                   # keys written (RESTORE + type-aware)
    bytes: int = 0                  # DUMP payload bytes written (value bytes for type-aware keys)
    restored: int = 0
    fallback_keys: int = 0          # copied type by type because the target refused their DUMP payload
    streamed_keys: int = 0          # large values copied in chunks (never DUMPed): see CopyOptions.large_bytes
    fallback_chunks: int = 0
    fallback_max_chunk: int = 0     # most members (of a list, set, sorted set, hash, stream) read by one command
    fallback_max_string_chunk: int = 0  # most bytes of a string read by one command
    expired_during_copy: int = 0
    duplicates: int = 0
    conflicts: int = 0
    conflict_keys: list[str] = field(default_factory=list)
    failed: int = 0
    failed_keys: list[str] = field(default_factory=list)
    stream_pending_not_copied: int = 0
    seconds: float = 0.0
    per_db: dict[int, int] = field(default_factory=dict)

    def conflict(self, db: int, key: builtins.bytes) -> None:
        self.conflicts += 1
        if len(self.conflict_keys) < MAX_NAMED:
            self.conflict_keys.append(f"db{db}:{show(key)}")

    def fail(self, db: int, key: builtins.bytes, why: str) -> None:
        self.failed += 1
        if len(self.failed_keys) < MAX_NAMED:
            self.failed_keys.append(f"db{db}:{show(key)} ({why})")

    def count(self, db: int, n: int = 1) -> None:
        self.per_db[db] = self.per_db.get(db, 0) + n


@dataclass
class Mismatch:
    db: int
    key: str
    reason: str

    def __str__(self) -> str:
        return f"db{self.db}:{self.key} ({self.reason})"


@dataclass
class VerifyResult:
    counts: dict[int, tuple[int, int]] = field(default_factory=dict)   # db -> (source, target) keys the scans saw
    count_mismatches: list[int] = field(default_factory=list)         # dbs with keys missing / only on the target
    presence_dbs: dict[int, int] = field(default_factory=dict)        # db -> keys missing or only on the target
    sampled: int = 0                    # keys whose values were compared
    source_keys: int = 0
    target_keys: int = 0
    expiring: int = 0                   # keys missing on one side because they expired meanwhile (no difference)
    complete: bool = True               # every key's value compared (verify_sample 1.0)
    mismatches: list[Mismatch] = field(default_factory=list)
    mismatch_count: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.count_mismatches and not self.mismatch_count

    def describe(self) -> str:
        bits = []
        for db in self.count_mismatches:
            bits.append(f"db{db}: {self.presence_dbs.get(db, 0)} keys missing on the target or only on the target")
        if self.mismatch_count:
            named = ", ".join(str(m) for m in self.mismatches)
            more = f" and {self.mismatch_count - len(self.mismatches)} more" if self.mismatch_count > len(self.mismatches) else ""
            checked = "" if self.complete else f" ({self.sampled} values compared)"
            bits.append(f"{self.mismatch_count} of {self.source_keys} keys differ{checked}: {named}{more}")
        return "; ".join(bits) or "source and target match"


@dataclass
class CopyResult:
    stats: CopyStats
    verify: VerifyResult | None
    source: str
    target: str
    source_version: str = ""
    target_version: str = ""
    dbs: list[int] = field(default_factory=list)
    total_keys: int = 0

    @property
    def complete(self) -> bool:
        s = self.stats
        return not s.conflicts and not s.failed and not s.stream_pending_not_copied

    @property
    def ok(self) -> bool:
        return self.complete and self.verify is not None and self.verify.ok

    def summary(self) -> dict:
        s = self.stats
        v = self.verify
        return {
            "keys": s.keys,
            "bytes": s.bytes,
            "seconds": round(s.seconds, 3),
            "keys_per_second": round(s.keys / s.seconds, 1) if s.seconds > 0 else 0.0,
            "fallback_keys": s.fallback_keys,
            "streamed_keys": s.streamed_keys,
            "expired_during_copy": s.expired_during_copy,
            "verified": bool(self.ok),
            "complete": self.complete,
            "restored_keys": s.restored,
            "duplicates_skipped": s.duplicates,
            "conflicts": s.conflicts,
            "conflict_keys": s.conflict_keys,
            "failed_keys": s.failed_keys,
            "stream_pending_not_copied": s.stream_pending_not_copied,
            "databases": {str(db): {"copied": s.per_db.get(db, 0),
                                     **({"source_keys": v.counts[db][0], "target_keys": v.counts[db][1]}
                                        if v and db in v.counts else {})} for db in self.dbs},
            "verify_sampled": v.sampled if v else 0,
            "verify_complete": bool(v and v.complete),
            "verify_expiring": v.expiring if v else 0,
            "verify_mismatches": [str(m) for m in v.mismatches] if v else [],
            "verify_seconds": round(v.seconds, 3) if v else 0.0,
            "source": self.source,
            "target": self.target,
            "source_version": self.source_version,
            "target_version": self.target_version,
        }



def peak_rss_bytes() -> int | None:
    """This process's resident-set high-water mark (Linux ``VmHWM``; unlike ``ru_maxrss`` it does not
    inherit the RSS of the parent that spawned us); ``None`` where /proc is missing."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def human_duration(s: float | None) -> str:
    if s is None or math.isinf(s):
        return "?"
    s = int(s)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"

