"""``heroku2aws rehearse``: the whole migration, locally, against emulated AWS and real data stores.

Runs ``heroku2aws init`` against the Heroku stand-in, deploys ``template.yaml`` with init's parameters (Landing=create:
the landing's RDS and ElastiCache are the local target servers) into the emulated account, starts an execution of
the deployed state machine with init's minimal input, shows the states as they run, and
ends with a report. ``--byo`` (or ``--input FILE``): an AWS side made by hand instead, and the full input
``events/rehearsal.json``. ``--json`` prints the report as the last line. Exit status 0 exactly when the
execution SUCCEEDED.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import signal
import sys
import time
from pathlib import Path
from typing import Any

from heroku2aws_cli.executions import History, execution_name, follow, start
from heroku2aws_cli.live import LiveView

from .one_off import TABLE as ONE_OFF_TABLE
from .one_off import OneOffWriter
from .world import APP, RECORD, World

NOTICE = ("Rehearsal is emulation: it proves the workflow, the code, the data path and the IAM policies as "
          "written (every call was checked against its role); it does not prove AWS quotas, networking or "
          "AWS's timings.")


# ------------------------------------------------------------------ fingerprints of the sources


def postgres_fingerprint(url: str, exclude: tuple[str, ...] = ()) -> dict[str, str]:
    """Every table's row count and digest and every sequence's value; ``exclude``: tables (``schema.table``)
    someone else writes on purpose (the one-off writer's)."""
    import psycopg

    out: dict[str, str] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        tables = conn.execute(
            "select quote_ident(n.nspname)||'.'||quote_ident(c.relname) from pg_class c "
            "join pg_namespace n on n.oid=c.relnamespace where c.relkind in ('r','p') "
            "and n.nspname not in ('pg_catalog','information_schema') and n.nspname not like 'pg_toast%' "
            "order by 1").fetchall()
        for (table,) in tables:
            if table in exclude:
                continue
            count, digest = conn.execute(
                f"select count(*), md5(coalesce(string_agg(t::text, '|' order by t::text), '')) from {table} t").fetchone()
            out[table] = f"{count}:{digest}"
        for (seq, value) in conn.execute(
                "select schemaname||'.'||sequencename, coalesce(last_value, 0) from pg_sequences order by 1").fetchall():
            out[f"sequence {seq}"] = str(value)
    return out


def redis_fingerprint(client) -> str:
    h = hashlib.sha256()
    keys = sorted(client.scan_iter(count=1000))
    for i in range(0, len(keys), 500):
        pipe = client.pipeline(transaction=False)
        for k in keys[i:i + 500]:
            pipe.dump(k)
        for k, payload in zip(keys[i:i + 500], pipe.execute(), strict=True):
            h.update(k + b"\0" + (payload or b""))
    return f"{len(keys)}:{h.hexdigest()}"


# ------------------------------------------------------------------ the report


def traffic(world: World) -> dict | None:
    r53 = world.aws.client("route53")
    weights = {"aws": None, "heroku": None}
    records = r53.list_resource_record_sets(HostedZoneId=world.ids["hosted_zone_id"])["ResourceRecordSets"]
    for rr in records:
        if rr["Name"].rstrip(".") != RECORD or rr["Type"] != "CNAME":
            continue
        target = rr["ResourceRecords"][0]["Value"].rstrip(".")
        weight = rr.get("Weight")
        if weight is None:  # a plain CNAME: all traffic to its target
            weight = 100
        side = "heroku" if target.endswith("herokudns.com") else "aws"
        weights[side] = (weights[side] or 0) + weight
    total = sum(v for v in weights.values() if v)
    if not total:
        return None
    return {k: (round(100 * v / total) if v is not None else 0) for k, v in weights.items()}


ALLOWED_AFTER_SUCCESS = (f"secret:heroku2aws/{APP}/config", f"ecs-service:{APP}-", f"task-definition:{APP}-",
                         f"record:{RECORD}.:CNAME:", f"secret:heroku2aws/{APP}/source-", f"schedule:h2a-{APP}.")


def leftovers(world: World, succeeded: bool) -> list[str]:
    extra = sorted(world.inventory() - world.baseline)
    if succeeded:
        extra = [r for r in extra if not r.startswith(ALLOWED_AFTER_SUCCESS)]
    return extra


def copy_window(hist: History) -> tuple[float, float] | None:
    """From the source turning read-only to the secret switch, or to the rollback (epoch seconds): no write may
    commit in it."""
    start = next((s.exited for s in hist.states if s.name == "Make the source database read-only" and s.exited), None)
    if start is None:
        return None
    ends = [s.entered for s in hist.states if s.entered >= start
            and s.name in ("Point the app at RDS and ElastiCache", "Record why it failed")]
    return start.timestamp(), (min(ends).timestamp() if ends else time.time())


def build_report(world: World, desc: dict, hist: History, wall: float, before: dict,
                 writer: OneOffWriter | None = None) -> dict[str, Any]:
    output = json.loads(desc.get("output") or "null") if desc.get("output") else None
    verification = (output or {}).get("verification") if isinstance(output, dict) else None
    exclude = (f"public.{ONE_OFF_TABLE}",) if writer else ()
    after = {"postgres": postgres_fingerprint(world.source_url(), exclude),
             "redis": redis_fingerprint(world.source_redis.client())}
    return {
        "status": desc["status"],
        "error": desc.get("error"),
        "cause": desc.get("cause"),
        "execution_arn": desc["executionArn"],
        "states": [{"name": s.name, "status": s.status, "seconds": s.seconds} for s in hist.states],
        "transitions": hist.transitions,
        "wall_seconds": round(wall, 2),
        "verification": verification or {"postgres": None, "redis": None},
        "traffic": traffic(world),
        "leftovers": leftovers(world, desc["status"] == "SUCCEEDED"),
        "source_intact": after == before,
        **({"freeze": writer.verdict(world.target_url() if desc["status"] == "SUCCEEDED" else None,
                                     copy_window(hist))} if writer else {}),
    }


# ------------------------------------------------------------------ the live view


def print_summary(console, report: dict) -> None:
    status = report["status"]
    colour = "green" if status == "SUCCEEDED" else "red"
    console.print(f"\n[bold {colour}]{status}[/] in {report['wall_seconds']}s, {report['transitions']} state transitions")
    if report["error"]:
        console.print(f"error: [red]{report['error']}[/]\ncause: {report['cause']}")
    console.print(f"traffic: {report['traffic']}   source intact: {report['source_intact']}   "
                  f"leftovers: {report['leftovers'] or 'none'}")
    if "freeze" in report:
        f = report["freeze"]
        console.print(f"write freeze {'held' if f['held'] else '[red]did NOT hold[/]'}: a one-off dyno wrote "
                      f"{f['writes_committed']} rows and was refused {f['writes_refused']} times "
                      f"({f.get('refused_during_copy', '?')} during the copy, {f.get('committed_during_copy', '?')} "
                      f"committed during the copy); lost: {len(f.get('lost', [])) if 'lost' in f else 'n/a'}")
    console.print(f"[dim]{NOTICE}[/]")


# ------------------------------------------------------------------ entry points


def _app_of(payload: Any) -> str:
    """The app named by an input, for the execution's name; any input at all is started (the workflow's first
    state answers a bad one with InvalidInput), so a malformed one gets a neutral name."""
    heroku = payload.get("heroku") if isinstance(payload, dict) else None
    app = heroku.get("app") if isinstance(heroku, dict) else None
    return app if isinstance(app, str) and re.fullmatch(r"[a-z][a-z0-9-]{1,29}", app) else "invalid-input"



def rehearse(input_path: Path | None = None, fail_at: list[str | tuple] | None = None, json_out: bool = False,
             deadline_s: float = 600, world: World | None = None, overrides: dict | None = None,
             console=None, writer: bool = False, landing: bool = False) -> dict[str, Any]:
    """Run one rehearsal (starting and stopping its own world unless one is given). ``writer``: a one-off dyno
    keeps writing to the source throughout (:mod:`.one_off`); the report's ``freeze`` says whether the freeze held.
    ``landing``: the world made by ``heroku2aws init`` and Landing=create, migrated from init's minimal input
    (:attr:`.world.World.landing`); otherwise the bring-your-own account and ``events/rehearsal.json``."""
    from rich.console import Console

    console = console or Console(stderr=json_out)
    own = world is None
    world = world or World(landing=landing)
    try:
        if own:
            with console.status("preparing the rehearsal") as status:
                world.start(progress=lambda msg: status.update(msg))
        from .services.stepfunctions import RUNTIME

        faults = RUNTIME.faults
        faults.clear()
        for state in fail_at or []:
            name, skip, error = ((state, 0, None) if isinstance(state, str) else (tuple(state) + (0, None))[:3])
            faults.arm(name, skip=skip, **({"error": error} if error else {}))
        payload = world.execution_input(input_path, overrides)
        one_off = OneOffWriter(world.source_url()).start() if writer else None
        exclude = (f"public.{ONE_OFF_TABLE}",) if writer else ()
        before = {"postgres": postgres_fingerprint(world.source_url(), exclude),
                  "redis": redis_fingerprint(world.source_redis.client())}
        sfn = world.aws.client("stepfunctions")
        t0 = time.monotonic()
        arn = start(sfn, world.ids["state_machine_arn"], payload, execution_name(_app_of(payload)))
        view = LiveView(console) if console.is_terminal or not json_out else None
        if view:
            with view:
                desc, hist = follow(sfn, arn, deadline_s, view.update)
        else:
            desc, hist = follow(sfn, arn, deadline_s)
        if one_off is not None:
            one_off.stop()
        report = build_report(world, desc, hist, time.monotonic() - t0, before, one_off)
        names = [s if isinstance(s, str) else s[0] for s in (fail_at or [])]
        unfired = [s for s in names if s not in {f[0] for f in faults.fired}]
        if unfired:
            report["error"] = report["error"] or "RehearsalFaultNotFired"
            report.setdefault("notes", []).append(f"--fail-at states never entered: {unfired}")
        if faults.refused:
            report["error"] = report["error"] or "RehearsalFaultNotFired"
            report.setdefault("notes", []).append(f"--fail-at errors AWS never raises there, refused: {faults.refused}")
        return report
    finally:
        if own:
            world.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="heroku2aws rehearse", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", type=Path, help="execution input of a bring-your-own account (implies --byo; "
                        "{{placeholders}} are filled from the rehearsal's world)")
    parser.add_argument("--byo", action="store_true",
                        help="bring your own AWS side: an account made by hand and the full input events/rehearsal.json "
                             "(default: heroku2aws init, the landing stack and init's minimal input)")
    parser.add_argument("--fail-at", action="append", default=[], metavar="STATE",
                        help="make this state fail once (repeatable)")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object, last line")
    parser.add_argument("--deadline", type=float, default=600, help="seconds before the rehearsal gives up")
    parser.add_argument("--no-writer", action="store_true",
                        help="no one-off dyno writing to the source through the migration (the freeze's proof)")
    args = parser.parse_args(argv)
    if args.input and not args.input.exists():
        parser.error(f"--input {args.input}: no such file")

    def interrupted(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    from rich.console import Console

    console = Console(stderr=args.json)
    if args.input:
        try:
            json.loads(args.input.read_text())
        except (ValueError, RecursionError) as exc:  # StartExecution refuses it too (InvalidExecutionInput)
            where = f" at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
            parser.error(f"--input {args.input}: not JSON{where}")
    try:
        report = rehearse(args.input, args.fail_at, args.json, args.deadline, console=console,
                          writer=not args.no_writer, landing=not (args.byo or args.input))
    except KeyboardInterrupt:
        console.print("[red]interrupted: every server and process of the rehearsal was stopped[/]")
        return 130
    print_summary(console, report)
    if args.json:
        print(json.dumps(report, default=str))
    return 0 if report["status"] == "SUCCEEDED" else 1


if __name__ == "__main__":
    sys.exit(main())
