"""``python -m heroku2aws_conformance``: every finding, one a line; exit 1 when there is one."""

from __future__ import annotations

import sys

from . import asl, iam, landing


def main() -> int:
    findings = asl.check() + iam.check() + landing.check()
    for finding in findings:
        print(finding)
    print(f"heroku2aws_conformance: {len(findings)} finding(s)", file=sys.stderr)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
