"""Sequence values: read them, compare them, and carry them from source to target.

AWS DMS does not carry sequence values. After the copy every sequence on the target must hand out
numbers past the ones the source already handed out, or the first INSERT after the switchover
collides with a copied row. ``sync_sequences`` sets each target sequence to the source's
``(last_value, is_called)`` pair with ``setval`` — but only when the target is behind: a sequence
is never moved backwards.

The *position* of a sequence is the value its next ``nextval()`` returns: ``last_value`` when
``is_called`` is false, ``last_value + increment`` when it is true. Positions are what we compare
(a descending sequence, negative increment, is "past" when its position is lower).

Usage (from a Lambda function or a task)::

    from heroku2aws.postgres.sequences import sync_sequences
    report = sync_sequences(source_url, target_url)        # -> SequenceSyncReport
"""

from __future__ import annotations

import psycopg
from psycopg import sql
from pydantic import BaseModel

from heroku2aws.postgres.common import (
    SEQUENCE_OWNED_BY,
    DatabaseError,
    StructuredLog,
    connect,
    internal_schema_filter,
    qualified,
    resolve_url,
)
from heroku2aws.redaction import scrub

log = StructuredLog("postgres.sequences")


class SequenceState(BaseModel):
    """One sequence as it is now (no secret: names and numbers only)."""

    name: str  # schema.sequence
    schema_name: str
    sequence_name: str
    last_value: int
    is_called: bool
    increment: int
    min_value: int
    max_value: int
    data_type: str
    owner_role: str
    owned_by: str | None = None  # schema.table.column of OWNED BY / identity column, if any

    @property
    def position(self) -> int:
        """The value the next nextval() would return."""
        return self.last_value + self.increment if self.is_called else self.last_value


def is_behind(target: SequenceState, source: SequenceState) -> bool:
    """True when ``target`` would hand out a value ``source`` already handed out (or may have)."""
    if source.increment >= 0:
        return target.position < source.position
    return target.position > source.position


_LIST = """
SELECT n.nspname, c.relname, s.seqincrement, s.seqmin, s.seqmax,
       pg_catalog.format_type(s.seqtypid, NULL), pg_catalog.pg_get_userbyid(c.relowner),
       """ + SEQUENCE_OWNED_BY + """,
       pg_catalog.has_sequence_privilege(c.oid, 'SELECT')
  FROM pg_catalog.pg_sequence s
  JOIN pg_catalog.pg_class c ON c.oid = s.seqrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relpersistence <> 't' AND {app}
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e
                    WHERE e.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND e.objid = c.oid
                      AND e.deptype = 'e')
 ORDER BY 1, 2
"""


def read_sequences(conn: psycopg.Connection, unreadable: list[str] | None = None) -> dict[str, SequenceState]:
    """Every application sequence on ``conn`` (internal schemas and extension members left out).

    Sequences the role may not read are left out of the result and their names appended to
    ``unreadable`` when a list is given.
    """
    rows = []
    for row in conn.execute(sql.SQL(_LIST).format(app=internal_schema_filter())).fetchall():
        if row[-1]:
            rows.append(row[:-1])
        elif unreadable is not None:
            unreadable.append(qualified(row[0], row[1]))
    out: dict[str, SequenceState] = {}
    batch = 200
    for i in range(0, len(rows), batch):
        chunk = rows[i:i + batch]
        query = sql.SQL(" UNION ALL ").join(
            sql.SQL("SELECT {}::int, last_value::text, is_called FROM {}").format(
                sql.Literal(j), sql.Identifier(r[0], r[1]))
            for j, r in enumerate(chunk)
        )
        values = {j: (int(lv), called) for j, lv, called in conn.execute(query).fetchall()}
        for j, (schema, name, inc, smin, smax, dtype, owner, owned_by) in enumerate(chunk):
            lv, called = values[j]
            out[qualified(schema, name)] = SequenceState(
                name=qualified(schema, name), schema_name=schema, sequence_name=name, last_value=lv,
                is_called=called, increment=int(inc), min_value=int(smin), max_value=int(smax),
                data_type=dtype, owner_role=owner, owned_by=owned_by,
            )
    return out


class SequenceSync(BaseModel):
    """What sync did to one sequence. Values are ``last_value``; ``*_is_called`` completes each pair."""

    sequence: str
    source: int | None
    source_is_called: bool | None = None
    target_before: int | None
    target_before_is_called: bool | None = None
    target_after: int | None
    target_after_is_called: bool | None = None
    changed: bool = False
    note: str | None = None


class SequenceSyncReport(BaseModel):
    sequences: list[SequenceSync]
    changed: int
    missing_on_target: list[str]
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not self.missing_on_target


def plan_sync(source: dict[str, SequenceState], target: dict[str, SequenceState]) -> list[SequenceSync]:
    """What ``sync_sequences`` would do, without doing it."""
    items = []
    for name, src in sorted(source.items()):
        tgt = target.get(name)
        if tgt is None:
            items.append(SequenceSync(sequence=name, source=src.last_value, source_is_called=src.is_called,
                                      target_before=None, target_after=None, note="missing on target"))
            continue
        behind = is_behind(tgt, src)
        items.append(SequenceSync(
            sequence=name, source=src.last_value, source_is_called=src.is_called,
            target_before=tgt.last_value, target_before_is_called=tgt.is_called,
            target_after=src.last_value if behind else tgt.last_value,
            target_after_is_called=src.is_called if behind else tgt.is_called,
            changed=behind,
        ))
    return items


def sync_sequences_conn(source: psycopg.Connection, target: psycopg.Connection,
                        *, dry_run: bool = False) -> SequenceSyncReport:
    """``sync_sequences`` on open connections (the target one must be writable)."""
    src = read_sequences(source)
    tgt = read_sequences(target)
    items = plan_sync(src, tgt)
    for item in items:
        if not item.changed or dry_run:
            continue
        s = src[item.sequence]
        # The guard re-reads the target inside the statement: never lower, even if it moved meanwhile.
        seq = sql.Identifier(s.schema_name, s.sequence_name)
        cmp = sql.SQL("<") if s.increment >= 0 else sql.SQL(">")
        row = target.execute(
            sql.SQL(
                "SELECT pg_catalog.setval({reg}::pg_catalog.regclass, {v}, {called}) FROM {seq} "
                "WHERE (CASE WHEN is_called THEN last_value::numeric + {inc} ELSE last_value END) {cmp} {pos}"
            ).format(reg=sql.Literal(seq.as_string(target)), v=sql.Literal(s.last_value),
                     called=sql.Literal(s.is_called), seq=seq, inc=sql.Literal(tgt[item.sequence].increment),
                     cmp=cmp, pos=sql.Literal(s.position))
        ).fetchone()
        if row is None:  # it moved past the source on its own meanwhile
            now = read_one(target, s.schema_name, s.sequence_name)
            item.changed = False
            item.target_after, item.target_after_is_called = now
            item.note = "target moved past the source meanwhile; left alone"
        log.info("sequence set", extra={"sequence": item.sequence, "from": item.target_before,
                                         "to": item.target_after, "is_called": item.target_after_is_called})
    if not target.autocommit:
        target.commit()
    missing = [i.sequence for i in items if i.note == "missing on target"]
    return SequenceSyncReport(sequences=items, changed=sum(i.changed for i in items),
                              missing_on_target=missing, dry_run=dry_run)


def read_one(conn: psycopg.Connection, schema: str, name: str) -> tuple[int, bool]:
    row = conn.execute(sql.SQL("SELECT last_value::text, is_called FROM {}").format(
        sql.Identifier(schema, name))).fetchone()
    assert row is not None
    return int(row[0]), bool(row[1])


def sync_sequences(source_url: str, target_url: str, *, dry_run: bool = False) -> SequenceSyncReport:
    """Set every target sequence to at least the source's value, respecting is_called; never lower one.

    URLs may be literal or Secrets Manager ARNs. Raises ``DatabaseError`` (password-free message)
    when a server cannot be reached. A sequence missing on the target is reported in
    ``missing_on_target``, not raised: the caller decides whether that fails the migration.
    """
    source_url = resolve_url(source_url, "source")
    target_url = resolve_url(target_url, "target")
    with connect(source_url, label="source", application_name="heroku2aws-seq-sync") as src, \
            connect(target_url, label="target", application_name="heroku2aws-seq-sync", autocommit=True) as tgt:
        try:
            src.read_only = True
            report = sync_sequences_conn(src, tgt, dry_run=dry_run)
        except psycopg.Error as exc:
            raise DatabaseError(f"sequence sync failed: {scrub(str(exc), source_url, target_url)}") from None
    log.info("sequences synced", extra={"changed": report.changed, "total": len(report.sequences),
                                        "missing_on_target": report.missing_on_target})
    return report
