"""The preflight's plan fits the state that returns it (issue 15: large per-app data out of the 256 KiB payload).

"Run the preflight checks" returns the plan as its Lambda result; over 256 KiB Step Functions fails it with
States.DataLimitExceeded, a terminal error no Catch handles (developer guide, service-quotas.html and
concepts-error-handling.html). Per-app lists grow with the database: 1,000 tables with 63-character names and a
sequence each made the source analysis alone 560 KB."""

from __future__ import annotations

import json

import pytest

from heroku2aws.contracts.errors import PreflightFailed
from heroku2aws.postgres.analysis import (
    ConnectionInfo,
    PartitionedTableInfo,
    PostgresAnalysis,
    ReplicationInfo,
    SequenceInfo,
    TableInfo,
)
from heroku2aws.postgres.mappings import dms_table_mappings
from heroku2aws.steps.plan_services import MAX_STATE_PAYLOAD_BYTES
from heroku2aws.steps.preflight import check_plan_size


def _bytes(value) -> int:
    return len(json.dumps(value, separators=(",", ":")).encode())


def analysis(tables: int, schemas: int = 1) -> PostgresAnalysis:
    """At the identifier limit (63 bytes): every table without a key, with a bigserial, one partitioned table of
    ``tables`` leaves."""
    names = [f"tenant_{i:05d}_" + "s" * 50 for i in range(schemas)]
    rows = [TableInfo(name=f"{names[i % schemas]}.t{i:05d}_{'x' * 57}", schema_name=names[i % schemas],
                      table_name=f"t{i:05d}_{'x' * 57}", kind="table", rows_estimate=10, size_bytes=8192 + i,
                      has_primary_key=False, has_unique_not_null=False, replica_identity="default")
            for i in range(tables)]
    return PostgresAnalysis(
        server_version="15.8", server_version_num=150008, database="app", size_bytes=10**9, encoding="UTF8",
        schemas=names, tables=rows, table_count=tables, rows_estimate=10 * tables,
        tables_without_key=[t.name for t in rows], extensions=[], unsupported_extensions=[], available_extensions=[],
        sequences=[SequenceInfo(name=f"{t.schema_name}.{t.table_name[:56]}_id_seq", owner_role="app",
                                owned_by=f"{t.name}.id", data_type="bigint", last_value=7) for t in rows],
        large_objects=0,
        partitioned_tables=[PartitionedTableInfo(name=f"{names[0]}.events", strategy="range",
                                                 partitions=[t.name for t in rows])],
        inheritance_parents=[], extension_tables=[],
        replication=ReplicationInfo(role="app", rolreplication=False, rds_replication=False, superuser=False,
                                    wal_level="replica"),
        connections=ConnectionInfo(max_connections=500, reserved=3, in_use=20, role_limit=None), warnings=[])


def test_given_thousands_of_tables_when_compacted_for_the_plan_then_every_list_is_bounded_and_counted():
    big = analysis(5000)
    assert _bytes(big.model_dump(mode="json")) > 4 * MAX_STATE_PAYLOAD_BYTES  # what the plan carried before
    doc = big.compact(max_tables=50, max_listed=50).model_dump(mode="json")
    assert _bytes(doc) < 64 * 1024, _bytes(doc)
    assert len(doc["sequences"]) == len(doc["tables_without_key"]) == len(doc["tables"]) == 50
    assert len(doc["partitioned_tables"][0]["partitions"]) == 50
    assert doc["lists_truncated"] == {"sequences": 5000, "tables_without_key": 5000, "partitions": 5000}
    assert doc["table_count"] == 5000 and doc["tables_truncated"] is True
    small = analysis(10).compact(max_tables=50, max_listed=50).model_dump(mode="json")
    assert small["lists_truncated"] == {} and len(small["sequences"]) == 10  # nothing dropped when it fits


def _plan_doc(a: PostgresAnalysis, config_var_names: list[str]) -> dict:
    return {"app": "acme", "heroku": {"config_var_names": config_var_names},
            "postgres": {"schemas": a.schemas, "table_mappings": dms_table_mappings(a),
                         "source": a.compact(max_tables=50, max_listed=50).model_dump(mode="json")}}


def test_given_5000_tables_and_heroku_s_largest_config_when_checked_then_the_plan_fits():
    names = [f"CONFIG_VAR_{i:05d}" for i in range(2000)]  # 32 KB of names: Heroku's limit on config data
    doc = _plan_doc(analysis(5000), names)
    check_plan_size("acme", doc)
    assert _bytes(doc) < MAX_STATE_PAYLOAD_BYTES


def test_given_a_thousand_schemas_when_checked_then_refused_naming_the_mappings_and_the_way_out():
    """A schema per tenant: one DMS selection rule each, 286 KB of mappings. Refused in preflight (rolled back,
    nothing created yet) rather than failing terminally in the state that returns the plan."""
    doc = _plan_doc(analysis(5000, schemas=1000), [])
    with pytest.raises(PreflightFailed, match=r"its plan is [\d,]+ bytes, over the 262,144 bytes .*"
                                              r"postgres.table_mappings [\d,]+ B.*1000 schemas.*dump-restore"):
        check_plan_size("acme", doc)
