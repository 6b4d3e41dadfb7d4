"""Heroku dyno sizes as Fargate task sizes: the documented table (README "Dyno sizes") and its rules.

Sources:

- Heroku's size names: the Platform API schema (heroku/platform-api ``schema.json``: a formation's ``dyno_size``
  ``{id, name}``; the older ``size`` string is deprecated) and the names the Heroku CLI knows (heroku/cli
  ``src/commands/ps/type.ts``: Eco, Basic, Standard-1X/2X, Performance-M/L/L-RAM/XL/2XL, Private-S/M/L,
  Private-Memory-L/XL/2XL, Shield-*, Shield-Memory-*, and the Fir generation's ``dyno-<N>c-<M>gb``; the legacy
  Free, Hobby, 1X, 2X, PX, Performance).
- Their memory: Dev Center "Dyno Types" / "Dyno Memory Behavior" (Eco/Basic/Standard-1X 512 MB, Standard-2X 1 GB,
  Private/Shield-S 1 GB, Performance/Private/Shield-M 2.5 GB, -L 14 GB, -L-RAM 30 GB, -XL 62 GB, -2XL 126 GB).
  Private-Memory-* and Shield-Memory-* have no published figures we could find: they are mapped as the
  Performance sizes the Heroku CLI prices alike (-L as L-RAM, -XL as XL, -2XL as 2XL). A Fir size names its
  vCPUs and GB.
- Fargate's valid CPU / memory combinations (Linux):
  https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html#fargate-tasks-size

Each size maps to the smallest valid Fargate size with at least the dyno's memory (and, for Fir, its vCPUs),
except where Fargate's largest task caps it (16 vCPU, 120 GiB): the table notes those, and the plan warns.
The user can override any entry with ``ecs.dyno_sizes`` in the execution input (validated against the same
Fargate rules).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["DEFAULT_SIZE", "DYNO_SIZES", "FARGATE_MEMORY", "FIR_SIZES", "dyno_size_of", "fargate_size",
           "is_valid_fargate", "lookup", "normalise_process_type"]

DEFAULT_SIZE = "standard-1x"

#: Fargate (Linux) CPU units -> (min MiB, max MiB, step MiB); 256 CPU offers 512, 1024 and 2048 only.
FARGATE_MEMORY: dict[int, tuple[int, int, int]] = {
    256: (512, 2048, 512),
    512: (1024, 4096, 1024),
    1024: (2048, 8192, 1024),
    2048: (4096, 16384, 1024),
    4096: (8192, 30720, 1024),
    8192: (16384, 61440, 4096),
    16384: (32768, 122880, 8192),
}
_LARGEST = (16384, 122880)


def is_valid_fargate(cpu: int, memory: int) -> bool:
    """Whether (CPU units, MiB) is a Fargate task size."""
    if cpu not in FARGATE_MEMORY:
        return False
    low, high, step = FARGATE_MEMORY[cpu]
    if cpu == 256:
        return memory in (512, 1024, 2048)
    return low <= memory <= high and (memory - low) % step == 0


def fargate_size(cpu_units: int, memory_mib: int) -> tuple[int, int]:
    """The smallest valid Fargate (CPU units, MiB) with at least ``cpu_units`` and ``memory_mib``."""
    for cpu in sorted(FARGATE_MEMORY):
        if cpu < cpu_units:
            continue
        low, high, step = FARGATE_MEMORY[cpu]
        if memory_mib > high:
            continue
        mem = max(low, math.ceil(memory_mib / step) * step)  # every minimum is a multiple of its step
        if cpu == 256 and mem == 1536:
            mem = 2048
        return cpu, mem
    raise ValueError(f"no Fargate size has {cpu_units} CPU units and {memory_mib} MiB")


def _capped(cpu_units: int, memory_mib: int, what: str) -> tuple[int, int, str]:
    try:
        cpu, mem = fargate_size(cpu_units, memory_mib)
        return cpu, mem, ""
    except ValueError:
        cpu, mem = fargate_size(min(cpu_units, _LARGEST[0]), min(memory_mib, _LARGEST[1]))
        return cpu, mem, (f"{cpu // 1024} vCPU / {mem // 1024} GiB: Fargate's largest for it "
                          f"(the dyno has {what})")


_FIR = re.compile(r"^dyno-(\d+(?:\.\d+)?)c-(\d+(?:\.\d+)?)gb$")


def _fir(name: str) -> tuple[int, int, str]:
    m = _FIR.match(name)
    if not m:
        raise ValueError(name)
    vcpu, gb = float(m.group(1)), float(m.group(2))
    cpu, mem, note = _capped(math.ceil(vcpu * 1024), math.ceil(gb * 1024), f"{m.group(1)} vCPU / {m.group(2)} GB")
    if not note and cpu > math.ceil(vcpu * 1024):
        note = f"{cpu // 1024} vCPU: the smallest Fargate size with {m.group(2)} GB (the dyno has {m.group(1)} vCPU)"
    return cpu, mem, note


#: The Fir generation's sizes the Heroku CLI lists (any other ``dyno-<N>c-<M>gb`` maps by the same rule).
FIR_SIZES = ("dyno-1c-0.5gb", "dyno-1c-4gb", "dyno-1c-8gb", "dyno-2c-1gb", "dyno-2c-4gb", "dyno-2c-8gb",
             "dyno-2c-16gb", "dyno-4c-8gb", "dyno-4c-16gb", "dyno-4c-32gb", "dyno-8c-16gb", "dyno-8c-32gb",
             "dyno-8c-64gb", "dyno-16c-32gb", "dyno-16c-64gb", "dyno-16c-128gb", "dyno-32c-64gb")

_XL = "60 GiB: Fargate's largest for 8 vCPU (the dyno has 62 GB)"
_2XL = "16 vCPU / 120 GiB: Fargate's largest task (the dyno has 126 GB)"

#: Heroku dyno size (lower case) -> (Fargate CPU units, memory MiB, note).
DYNO_SIZES: dict[str, tuple[int, int, str]] = {
    "eco": (256, 512, ""),
    "basic": (256, 512, ""),
    "standard-1x": (256, 512, ""),
    "standard-2x": (512, 1024, ""),
    "performance-m": (1024, 3072, ""),
    "performance-l": (4096, 16384, ""),
    "performance-l-ram": (4096, 30720, ""),
    "performance-xl": (8192, 61440, _XL),
    "performance-2xl": (16384, 122880, _2XL),
    "private-s": (512, 1024, ""),
    "private-m": (1024, 3072, ""),
    "private-l": (4096, 16384, ""),
    "private-l-ram": (4096, 30720, ""),
    "private-xl": (8192, 61440, _XL),
    "private-2xl": (16384, 122880, _2XL),
    "private-memory-l": (4096, 30720, "no published figures: mapped as performance-l-ram"),
    "private-memory-xl": (8192, 61440, "no published figures: mapped as performance-xl (" + _XL + ")"),
    "private-memory-2xl": (16384, 122880, "no published figures: mapped as performance-2xl (" + _2XL + ")"),
    "shield-s": (512, 1024, ""),
    "shield-m": (1024, 3072, ""),
    "shield-l": (4096, 16384, ""),
    "shield-l-ram": (4096, 30720, ""),
    "shield-xl": (8192, 61440, _XL),
    "shield-2xl": (16384, 122880, _2XL),
    "shield-memory-l": (4096, 30720, "no published figures: mapped as performance-l-ram"),
    "shield-memory-xl": (8192, 61440, "no published figures: mapped as performance-xl (" + _XL + ")"),
    "shield-memory-2xl": (16384, 122880, "no published figures: mapped as performance-2xl (" + _2XL + ")"),
    # legacy names Heroku may still report
    "free": (256, 512, ""),
    "hobby": (256, 512, ""),
    "1x": (256, 512, "legacy name of standard-1x"),
    "2x": (512, 1024, "legacy name of standard-2x"),
    "px": (2048, 8192, "legacy performance dyno (6 GB)"),
    "performance": (4096, 16384, "legacy name: mapped as performance-l"),
    **{name: _fir(name) for name in FIR_SIZES},
}


def lookup(size: str | None, overrides: Mapping[str, Any] | None = None) -> tuple[int, int, str] | None:
    """(CPU units, MiB, note) for a size name (case-insensitive), the user's override first; None when unknown."""
    key = (size or DEFAULT_SIZE).strip().lower()
    for name, value in (overrides or {}).items():
        if name.strip().lower() == key:
            cpu, memory = (value["cpu"], value["memory"]) if isinstance(value, Mapping) else (value.cpu, value.memory)
            return int(cpu), int(memory), ""
    if key in DYNO_SIZES:
        return DYNO_SIZES[key]
    if _FIR.match(key):
        return _fir(key)
    return None


def dyno_size_of(formation_item: Mapping[str, Any]) -> str | None:
    """A formation object's size name: ``dyno_size.name`` (the schema's), else the deprecated ``size``."""
    dyno_size = formation_item.get("dyno_size")
    if isinstance(dyno_size, Mapping) and isinstance(dyno_size.get("name"), str) and dyno_size["name"].strip():
        return str(dyno_size["name"])
    size = formation_item.get("size")
    return str(size) if isinstance(size, str) and size.strip() else None


def normalise_process_type(name: str) -> str:
    """A process type as Heroku's Fir generation names it: lower case, ``_`` as ``-``."""
    return name.lower().replace("_", "-")
