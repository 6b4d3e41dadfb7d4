"""AWS DMS table mappings for a PostgreSQL source, generated from its analysis.

``dms_table_mappings(analysis)`` returns the TableMappings document (a dict; ``json.dumps`` it for
``CreateReplicationTask``): selection rules over ``schema-name`` / ``table-name`` with ``%``
wildcards, evaluated as DMS does -- a table is migrated when an include rule matches it and no
exclude rule does (exclusion wins, whatever the order). ``selected_tables`` applies exactly
these semantics (the rehearsal's DMS emulation and the tests use it).

What is selected
  - every application schema, ``schema.%`` (the analysis has already left out Heroku's and
    PostgreSQL's internal schemas); each internal schema also gets an explicit exclude rule
    (pg_catalog, information_schema, pg_toast%, pg_temp%, heroku_ext, _heroku), so that a mapping
    edited later to include ``%`` still leaves them alone;
  - not the tables extensions create (e.g. PostGIS's spatial_ref_sys): ``CREATE EXTENSION`` on
    the target fills them, and copying them again would collide.

Partitioned tables: the leaves, not the parents
  A declaratively partitioned table stores no rows itself; its rows live in its leaf partitions.
  DMS reads such a parent as an ordinary (and empty) table unless told otherwise, and selecting
  the parent *and* its leaves would copy every row twice when the parent is read through
  inheritance. So the mapping keeps the leaves (they match ``schema.%``) and adds one exclude rule
  per partitioned table, intermediate levels included. Rows then go leaf to leaf -- the target's
  schema, copied beforehand with ``pg_dump --schema-only`` (``heroku2aws.tasks.pg_dump_restore
  --schema-only``), has the same partitions -- each row exactly once, and pg-verify, which
  compares leaves, checks them one by one. (Selecting parents instead would need
  ``MapPartitionedTablesAsParent``-style settings and a target that routes rows itself.)

Parallel load
  When the analysis planned the full load's parallelism (``analysis.parallel_load``, postgres/parallel_load.py), the
  largest tables get one ``table-settings`` rule each with ``"parallel-load": {"type": "ranges", ...}``, after the
  selection rules. Their boundaries travel only here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from heroku2aws.postgres.analysis import PostgresAnalysis
from heroku2aws.postgres.common import INTERNAL_SCHEMAS
from heroku2aws.postgres.parallel_load import ranges_rules

# DMS patterns for the internal schemas (pg_toast% also covers pg_toast_temp_N).
INTERNAL_SCHEMA_PATTERNS: tuple[str, ...] = tuple(
    dict.fromkeys([*(s if s != "pg_toast" else "pg_toast%" for s in INTERNAL_SCHEMAS), "pg_temp%"]))


def _rule(rule_id: int, action: str, schema: str, table: str, name: str) -> dict:
    return {
        "rule-type": "selection",
        "rule-id": str(rule_id),
        "rule-name": name,
        "object-locator": {"schema-name": schema, "table-name": table},
        "rule-action": action,
        "filters": [],
    }


def dms_table_mappings(analysis: PostgresAnalysis) -> dict:
    """The DMS TableMappings document for the analysed source database (see the module docstring)."""
    rules: list[dict] = []

    def add(action: str, schema: str, table: str, why: str) -> None:
        rules.append(_rule(len(rules) + 1, action, schema, table, f"{len(rules) + 1}-{why}"[:255]))

    for schema in analysis.schemas:
        add("include", schema, "%", f"include-{schema}")
    for pattern in INTERNAL_SCHEMA_PATTERNS:
        add("exclude", pattern, "%", f"exclude-internal-{pattern}")
    for p in analysis.partitioned_tables:
        for name in [p.name, *p.intermediate]:
            schema, table = name.split(".", 1)
            add("exclude", schema, table, f"exclude-partitioned-parent-{name}")
    for name in analysis.extension_tables:
        schema, table = name.split(".", 1)
        if schema in analysis.schemas:
            add("exclude", schema, table, f"exclude-extension-table-{name}")
    rules += ranges_rules(analysis.parallel_load, len(rules) + 1)
    return {"rules": rules}


def dms_table_mappings_json(analysis: PostgresAnalysis) -> str:
    """``dms_table_mappings`` as the JSON string CreateReplicationTask takes."""
    return json.dumps(dms_table_mappings(analysis), separators=(",", ":"))


def _matcher(pattern: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if ch == "%" else re.escape(ch) for ch in pattern), re.DOTALL)


def selected_tables(mappings: dict | str, tables: Iterable[str]) -> list[str]:
    """Which of ``tables`` (``schema.table`` names) the mapping migrates, under DMS's semantics:
    selected when an include rule matches and no exclude rule does. Non-selection rules are ignored."""
    doc = json.loads(mappings) if isinstance(mappings, str) else mappings
    includes: list[tuple[re.Pattern[str], re.Pattern[str]]] = []
    excludes: list[tuple[re.Pattern[str], re.Pattern[str]]] = []
    for rule in doc.get("rules", []):
        if rule.get("rule-type") != "selection":
            continue
        loc = rule.get("object-locator", {})
        action = rule.get("rule-action")
        if action not in ("include", "exclude", "explicit"):
            raise ValueError(f"unknown rule-action {action!r}")
        pair = (_matcher(loc.get("schema-name", "%")), _matcher(loc.get("table-name", "%")))
        (excludes if action == "exclude" else includes).append(pair)

    def hit(pairs: list, schema: str, table: str) -> bool:
        return any(s.fullmatch(schema) and t.fullmatch(table) for s, t in pairs)

    out = []
    for name in tables:
        schema, table = name.split(".", 1)
        if hit(includes, schema, table) and not hit(excludes, schema, table):
            out.append(name)
    return out
