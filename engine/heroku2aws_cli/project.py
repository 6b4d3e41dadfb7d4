"""Where the project's files are: its root holds template.yaml, statemachine/, schema/, events/ and README.md.

The commands run from a checkout (``pip install -e .``): the root is the directory above this package's
``engine/`` folder, unless ``HEROKU2AWS_ROOT`` names another checkout.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(os.environ.get("HEROKU2AWS_ROOT") or Path(__file__).resolve().parents[2])
TEMPLATE = ROOT / "template.yaml"
ASL = ROOT / "statemachine" / "migration.asl.json"
POLICIES = ROOT / "statemachine" / "policies.json"
SCHEMA = ROOT / "schema" / "execution-input.schema.json"
EVENTS = ROOT / "events"
README = ROOT / "README.md"
