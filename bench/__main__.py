"""`make bench`: every benchmark, each printing figures measured side by side in one run."""

from __future__ import annotations

import importlib
import sys
import time

BENCHMARKS = ["bench.redis_copy", "bench.pg_verify", "bench.pg_verify_mixed", "bench.pg_freeze", "bench.freeze_estimate"]


def main() -> int:
    only = sys.argv[1:]
    failed = 0
    for name in BENCHMARKS:
        if only and name.split(".")[-1] not in only:
            continue
        print(f"\n=== {name} ===", flush=True)
        t0 = time.monotonic()
        try:
            rc = importlib.import_module(name).main()
        except Exception as exc:  # report and go on with the others
            print(f"{name} failed: {type(exc).__name__}: {exc}", flush=True)
            rc = 1
        failed += bool(rc)
        print(f"--- {name}: {time.monotonic() - t0:.1f}s", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
