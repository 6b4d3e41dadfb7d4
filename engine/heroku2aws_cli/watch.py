"""``heroku2aws watch EXECUTION_ARN``: follow an execution on AWS with the rehearsal's live view.

Polls DescribeExecution and GetExecutionHistory (every page; after the first poll only the new events)
and shows each state as it is entered, succeeds, is caught or fails — what the console's graph view
shows — then the execution's output (the migration's report), pretty-printed.

Exit status: 0 when the execution SUCCEEDED; 1 when it FAILED, TIMED_OUT or was ABORTED; 2 when it
cannot be watched (an argument that is not an execution ARN, an execution that does not exist, no
credentials, an endpoint that does not answer). Ctrl-C stops watching, never the execution.

``--json`` prints ``{status, error, cause, states, transitions, output}`` as the last line of stdout
(the live view and the summary then go to stderr). ``--endpoint-url`` points at another Step Functions
endpoint (a local emulation); the region defaults to the ARN's.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import signal
import sys
from datetime import datetime
from typing import Any

from .executions import PRICE_PER_TRANSITION, History, follow

EXECUTION_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):states:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"(?:express|execution):(?P<machine>[A-Za-z0-9_.-]{1,80}):(?P<name>[^:\s]{1,80})(?::[^:\s]+)?$")
FINAL_OK = "SUCCEEDED"


class CannotWatch(Exception):
    """Why the execution cannot be watched: a message for a person, never a traceback."""


def parse_arn(arn: str) -> dict[str, str]:
    m = EXECUTION_ARN.match(arn.strip())
    if not m:
        raise CannotWatch(f"{arn!r} is not a Step Functions execution ARN "
                          "(arn:aws:states:REGION:ACCOUNT:execution:STATE_MACHINE:NAME)")
    return m.groupdict()


def clients(region: str, profile: str | None, endpoint_url: str | None) -> tuple[Any, Any]:
    """Two Step Functions clients of one session: a probe that fails fast on a wrong endpoint, and a
    patient one (botocore retries throttling and dropped connections) for following a run of hours."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ProfileNotFound

    try:
        session = boto3.Session(profile_name=profile, region_name=region)
    except ProfileNotFound:
        raise CannotWatch(f"AWS profile {profile!r} is not configured") from None

    def make(attempts: int):
        return session.client("stepfunctions", endpoint_url=endpoint_url,
                              config=Config(retries={"max_attempts": attempts, "mode": "standard"}, connect_timeout=10,
                                            read_timeout=30))

    return make(2), make(6)


def explain(exc: Exception, arn: str, region: str, endpoint_url: str | None) -> str:
    """A botocore failure as one sentence (never the credentials, never a traceback)."""
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
    )

    where = endpoint_url or f"Step Functions in {region}"
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        message = exc.response.get("Error", {}).get("Message", "")
        if code in {"ExecutionDoesNotExist", "ResourceNotFound", "ResourceNotFoundException"}:
            return f"no such execution in {where}: {arn}"
        if code in {"InvalidArn", "ValidationException"}:
            return f"{where} refused the ARN ({code}): {arn}"
        if code in {"AccessDeniedException", "AccessDenied", "UnrecognizedClientException",
                    "InvalidSignatureException", "ExpiredTokenException"}:
            return f"{where} refused the credentials ({code}): {message}"
        return f"{where} answered {code or 'an error'}: {message}"
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return "no AWS credentials: set AWS_PROFILE (or --profile) or the AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY variables"
    if isinstance(exc, NoRegionError):
        return "no AWS region: pass --region"
    if isinstance(exc, EndpointConnectionError):
        return f"cannot reach {where}: {exc}"
    return f"{type(exc).__name__}: {exc}"


def parse_output(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def result(desc: dict, hist: History) -> dict[str, Any]:
    return {
        "status": desc["status"],
        "error": desc.get("error"),
        "cause": desc.get("cause"),
        "states": [{"name": s.name, "status": s.status, "seconds": s.seconds, "error": s.error} for s in hist.states],
        "transitions": hist.transitions,
        "output": parse_output(desc.get("output")),
    }


def print_summary(console, desc: dict, hist: History, output: Any) -> None:
    status = desc["status"]
    colour = "green" if status == FINAL_OK else "red"
    started, stopped = desc.get("startDate"), desc.get("stopDate")
    took = ""
    if isinstance(started, datetime) and isinstance(stopped, datetime):
        took = f" in {(stopped - started).total_seconds():.1f}s"
    cost = hist.transitions * PRICE_PER_TRANSITION
    console.print(f"\n[bold {colour}]{status}[/]{took}, {hist.transitions} state transitions (≈ ${cost:.4f})",
                  highlight=False)
    if desc.get("error") or desc.get("cause"):
        console.print(f"error: [red]{desc.get('error')}[/]", highlight=False)
        console.print(f"cause: {desc.get('cause')}", highlight=False, markup=False)
    if output is None:
        console.print("[dim]no output[/]")
        return
    console.rule("output")
    if isinstance(output, str):
        console.print(output, markup=False, highlight=False)
    else:
        console.print_json(data=output)


def watch(arn: str, region: str | None = None, profile: str | None = None, endpoint_url: str | None = None,
          interval: float = 2.0, json_out: bool = False, console=None, sfn=None) -> dict[str, Any]:
    """Follow ``arn`` until it ends; the ``--json`` result. Raises :class:`CannotWatch`."""
    from botocore.exceptions import BotoCoreError, ClientError
    from rich.console import Console

    from .live import LiveView

    parts = parse_arn(arn)
    region = region or parts["region"]
    console = console or Console(stderr=json_out)
    probe, patient = (sfn, sfn) if sfn is not None else clients(region, profile, endpoint_url)
    sfn = patient
    try:
        first = probe.describe_execution(executionArn=arn)
    except (ClientError, BotoCoreError) as exc:
        raise CannotWatch(explain(exc, arn, region, endpoint_url)) from None
    console.print(f"[bold]{first.get('name', parts['name'])}[/] of {parts['machine']} "
                  f"({parts['account']}, {region}) — {first['status']}", highlight=False)
    view = LiveView(console) if console.is_terminal or not json_out else None
    try:
        if view:
            with view:
                desc, hist = follow(sfn, arn, math.inf, view.update, interval=interval)
        else:
            desc, hist = follow(sfn, arn, math.inf, interval=interval)
    except (ClientError, BotoCoreError) as exc:
        raise CannotWatch("lost the execution while watching it: " + explain(exc, arn, region, endpoint_url)
                          + " (the execution itself is unaffected)") from None
    out = result(desc, hist)
    print_summary(console, desc, hist, out["output"])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="heroku2aws watch", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("execution_arn", metavar="EXECUTION_ARN")
    parser.add_argument("--region", help="AWS region (default: the ARN's)")
    parser.add_argument("--profile", help="AWS profile from ~/.aws/config")
    parser.add_argument("--endpoint-url", help="another Step Functions endpoint (e.g. a local emulation)")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object, last line")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between polls (default %(default)s)")
    args = parser.parse_args(argv)
    if not (args.interval > 0 and math.isfinite(args.interval)):
        parser.error("--interval must be a positive number of seconds")

    def interrupted(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupted)
    from rich.console import Console

    console = Console(stderr=args.json)
    try:
        out = watch(args.execution_arn, args.region, args.profile, args.endpoint_url, args.interval, args.json,
                    console=console)
    except CannotWatch as exc:
        print(f"heroku2aws watch: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        console.print("[yellow]stopped watching; the execution goes on[/]")
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    if args.json:
        print(json.dumps(out, default=str))
    return 0 if out["status"] == FINAL_OK else 1


if __name__ == "__main__":
    sys.exit(main())
