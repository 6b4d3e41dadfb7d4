"""Where the project and a rehearsal's files are."""

from __future__ import annotations

import tempfile
from pathlib import Path

#: The project's root (template.yaml, functions/, statemachine/, layers/, events/).
ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
EVENTS = ROOT / "events"

#: Working directory of local processes; the engine points it at its own temporary directory.
RUN_DIR = Path(tempfile.gettempdir())
