"""One finding: where, which rule, what is wrong, and the published source that says so."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ASL = ROOT / "statemachine" / "migration.asl.json"
TEMPLATE = ROOT / "template.yaml"
LAYER = ROOT / "layers" / "shared" / "python"
FUNCTIONS = ROOT / "functions"
README = ROOT / "README.md"


@dataclass(frozen=True, order=True)
class Finding:
    file: str  # repository-relative path
    where: str  # state path ("Prepare the AWS side/branch 1/Create the DMS subnet group") or principal
    rule: str  # short rule id: "asl.error-name", "iam.missing", …
    message: str
    source: str  # URL or "botocore service model …"

    def __str__(self) -> str:
        return f"{self.file}: {self.where}: {self.rule}: {self.message} [{self.source}]"


def rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)
