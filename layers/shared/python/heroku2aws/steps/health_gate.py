"""Stage 4, "Run the health gate": is the app healthy on AWS at this traffic weight?

Event (built by the ASL after each traffic step's bake)::

    {"input": <normalised execution input>, "step": <AWS share in percent>,
     "window_seconds": <the bake window>, "execution_id": "<execution ARN>"}

Return::

    {"healthy": bool,
     "reasons": ["..."],               # one line per failed check (empty when healthy)
     "notes": ["..."],                 # informational (e.g. no ALB traffic in the window)
     "step": int | null,
     "targets": {"healthy": int, "total": int, "states": {state: count}},
     "error_rate": float | null,       # (ELB 5xx + target 5xx) / requests; null: no requests in the window
     "requests": int,
     "probe": {"ok": int, "total": int, "status_codes": [int]}}   # 0: no HTTP answer at all

The three checks:

a. **Targets** — ``DescribeTargetHealth`` on ``load_balancer.target_group_arn``: at least one
   target, and every target ``healthy``.
b. **5xx rate** — CloudWatch ``GetMetricStatistics`` (``AWS/ApplicationELB``, dimension
   ``LoadBalancer`` = the ``app/<name>/<id>`` suffix of ``load_balancer_arn``, statistic ``Sum``)
   of ``HTTPCode_ELB_5XX_Count`` + ``HTTPCode_Target_5XX_Count`` over ``RequestCount`` for the last
   ``window_seconds`` (at least one 60 s period). Above ``traffic.max_5xx_rate`` fails. No requests
   at all: the rate is ``null`` and a note says so (not a failure: a 10 % step on a quiet app may
   see none). 5xx answers with no counted request (the ALB refuses some before choosing a target)
   make the rate 1.0.
c. **Synthetic probe** — ``GET load_balancer.health_url`` :data:`PROBES` times (timeout
   :data:`PROBE_TIMEOUT` s, redirects not followed): every answer must be 200. When the URL's host
   is the load balancer's own DNS name (``*.elb.amazonaws.com``), the certificate chain is checked
   but not the host name: the ALB's certificate names the app's domain, not the ALB.

An unhealthy app is an answer, not an error: the ASL decides. :class:`~heroku2aws.contracts.errors.HealthGateFailed`
is raised only when the gate cannot run (no such target group; a load balancer ARN that is not an
Application Load Balancer's). Throttling is retried by botocore (standard mode); anything else from
AWS propagates for the ASL.

Environment: none of its own (boto3 reads ``AWS_REGION`` / ``AWS_ENDPOINT_URL``).
"""

from __future__ import annotations

import http.client
import math
import ssl
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import ClientError

from ..clients.aws import client, error_code
from ..contracts.errors import HealthGateFailed
from ..contracts.input import ExecutionInput
from ..contracts.results import HealthGateResult, ProbeSummary, TargetCounts
from ..obs import get_logger
from .check_services import TARGET_GROUP_NOT_FOUND

log = get_logger("health_gate")

__all__ = ["PROBES", "PROBE_TIMEOUT", "check_5xx_rate", "check_targets", "health_gate", "load_balancer_dimension",
           "probe"]

PROBES = 5
PROBE_TIMEOUT = 5.0
PROBE_SPACING = 0.2  # seconds between two probes
METRICS_5XX = ("HTTPCode_ELB_5XX_Count", "HTTPCode_Target_5XX_Count")


# ------------------------------------------------------------------------------ (a) targets


def check_targets(target_group_arn: str, elbv2=None) -> dict[str, Any]:
    """``{"healthy", "total", "states": {state: n}, "unhealthy": ["id:port state (reason)"]}``."""
    elbv2 = elbv2 or client("elbv2", retrying=True)
    try:
        descriptions = elbv2.describe_target_health(TargetGroupArn=target_group_arn)["TargetHealthDescriptions"]
    except ClientError as exc:
        if error_code(exc) in TARGET_GROUP_NOT_FOUND:
            raise HealthGateFailed(f"target group {target_group_arn} (load_balancer.target_group_arn) not found") from None
        raise
    states: dict[str, int] = {}
    unhealthy: list[str] = []
    for d in descriptions:
        health = d.get("TargetHealth") or {}
        state = health.get("State", "unknown")
        states[state] = states.get(state, 0) + 1
        if state != "healthy":
            target = d.get("Target") or {}
            where = f"{target.get('Id', '?')}:{target.get('Port', '?')}"
            reason = health.get("Reason")
            unhealthy.append(f"{where} {state}" + (f" ({reason})" if reason else ""))
    return {"healthy": states.get("healthy", 0), "total": len(descriptions), "states": states,
            "unhealthy": unhealthy}


# ------------------------------------------------------------------------------ (b) 5xx rate


def load_balancer_dimension(load_balancer_arn: str) -> str:
    """The CloudWatch ``LoadBalancer`` dimension (``app/<name>/<id>``) of an ALB's ARN."""
    _, sep, suffix = load_balancer_arn.partition(":loadbalancer/")
    if not sep or not suffix.startswith("app/") or suffix.count("/") != 2:
        raise HealthGateFailed(f"load_balancer.load_balancer_arn {load_balancer_arn} is not an Application Load "
                               "Balancer's ARN (…:loadbalancer/app/<name>/<id>): no HTTP 5xx metrics to read")
    return suffix


def _sum(cloudwatch, metric: str, dimension: str, start: datetime, end: datetime, period: int) -> tuple[float, int]:
    """Sum of ``metric`` over the window and the number of datapoints."""
    points = cloudwatch.get_metric_statistics(
        Namespace="AWS/ApplicationELB", MetricName=metric,
        Dimensions=[{"Name": "LoadBalancer", "Value": dimension}],
        StartTime=start, EndTime=end, Period=period, Statistics=["Sum"],
    ).get("Datapoints") or []
    return sum(float(p.get("Sum") or 0) for p in points), len(points)


def check_5xx_rate(load_balancer_arn: str, window_seconds: int, cloudwatch=None,
                   now: datetime | None = None) -> dict[str, Any]:
    """``{"rate": float | None, "requests": int, "errors_5xx": int, "window_seconds": int}``."""
    dimension = load_balancer_dimension(load_balancer_arn)
    cloudwatch = cloudwatch or client("cloudwatch", retrying=True)
    window = max(60, int(math.ceil(window_seconds / 60.0)) * 60)
    end = now or datetime.now(UTC)
    start = end - timedelta(seconds=window)
    requests, _ = _sum(cloudwatch, "RequestCount", dimension, start, end, window)
    errors = 0.0
    for metric in METRICS_5XX:
        errors += _sum(cloudwatch, metric, dimension, start, end, window)[0]
    if requests > 0:
        rate: float | None = min(1.0, errors / requests)
    elif errors > 0:
        rate = 1.0
    else:
        rate = None
    return {"rate": rate, "requests": int(requests), "errors_5xx": int(errors), "window_seconds": window}


# ------------------------------------------------------------------------------ (c) synthetic probe


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D102 - a 3xx is the answer
        return None


def _opener(url: str, lb_dns_name: str) -> urllib.request.OpenerDirector:
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    context = ssl.create_default_context()
    if host == lb_dns_name.lower().rstrip(".") or host.endswith(".elb.amazonaws.com"):
        # The ALB's certificate names the app's domain, not the ALB's DNS name: check the chain only.
        context.check_hostname = False
    return urllib.request.build_opener(_NoRedirect(), urllib.request.HTTPSHandler(context=context))


def probe(url: str, *, lb_dns_name: str = "", count: int = PROBES, timeout: float = PROBE_TIMEOUT,
          spacing: float | None = None) -> dict[str, Any]:
    """GET ``url`` ``count`` times: ``{"ok", "total", "status_codes", "errors": [short reasons]}``."""
    spacing = PROBE_SPACING if spacing is None else spacing
    if urlsplit(url).scheme not in ("http", "https"):
        raise HealthGateFailed(f"load_balancer.health_url must be http(s): {url}")
    opener = _opener(url, lb_dns_name)
    codes: list[int] = []
    errors: list[str] = []
    for i in range(count):
        if i and spacing:
            time.sleep(spacing)
        req = urllib.request.Request(url, method="GET", headers={  # noqa: S310 - http(s) checked above
            "User-Agent": "heroku2aws-health-gate/1", "Cache-Control": "no-cache"})
        try:
            with opener.open(req, timeout=timeout) as resp:  # noqa: S310 - the URL is validated http(s)
                resp.read(65536)
                codes.append(int(resp.status))
        except urllib.error.HTTPError as exc:
            codes.append(int(exc.code))
            exc.close()
        except (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException, ssl.SSLError,
                OSError) as exc:
            codes.append(0)
            reason = getattr(exc, "reason", exc)
            errors.append(f"{type(reason).__name__}: {reason}"[:200])
    return {"ok": sum(1 for c in codes if c == 200), "total": count, "status_codes": codes, "errors": errors}


# ------------------------------------------------------------------------------ the gate


def health_gate(cfg: ExecutionInput, step: int | None, window_seconds: int, *, elbv2=None, cloudwatch=None,
                probe_fn=probe) -> HealthGateResult:
    """Run the three checks; see the module docstring for the result."""
    reasons: list[str] = []
    notes: list[str] = []
    lb = cfg.load_balancer
    dimension = load_balancer_dimension(lb.load_balancer_arn)  # configuration first: fail before probing

    targets = check_targets(lb.target_group_arn, elbv2)
    if targets["total"] == 0:
        reasons.append(f"target group has no registered targets ({lb.target_group_arn.rsplit(':', 1)[-1]})")
    elif targets["healthy"] != targets["total"]:
        shown = ", ".join(targets["unhealthy"][:10]) + (" …" if len(targets["unhealthy"]) > 10 else "")
        reasons.append(f"{targets['total'] - targets['healthy']} of {targets['total']} targets not healthy: {shown}")

    rate = check_5xx_rate(lb.load_balancer_arn, window_seconds, cloudwatch)
    if rate["rate"] is None:
        notes.append(f"no requests reached {dimension} in the last {rate['window_seconds']} s: 5xx rate not judged")
    elif rate["rate"] > cfg.traffic.max_5xx_rate:
        reasons.append(f"5xx rate {rate['rate']:.4f} ({rate['errors_5xx']} of {rate['requests']} requests in "
                       f"{rate['window_seconds']} s) is above traffic.max_5xx_rate {cfg.traffic.max_5xx_rate}")

    probed = probe_fn(lb.health_url, lb_dns_name=lb.dns_name)
    if probed["ok"] != probed["total"]:
        bad = sorted({c for c in probed["status_codes"] if c != 200})
        shown = ", ".join("no answer" if c == 0 else str(c) for c in bad)
        detail = f" ({'; '.join(sorted(set(probed['errors']))[:3])})" if probed["errors"] else ""
        reasons.append(f"synthetic probe: {probed['ok']} of {probed['total']} GET {lb.health_url} answered 200; "
                       f"others: {shown}{detail}")

    result = HealthGateResult(
        healthy=not reasons, reasons=reasons, notes=notes, step=step,
        targets=TargetCounts(healthy=targets["healthy"], total=targets["total"], states=targets["states"]),
        error_rate=rate["rate"], requests=rate["requests"],
        probe=ProbeSummary(ok=probed["ok"], total=probed["total"], status_codes=probed["status_codes"]))
    log.info("health gate", extra={"step": step, "healthy": result.healthy, "reasons": reasons, "notes": notes,
                                   "targets": result.targets.model_dump(), "error_rate": rate["rate"],
                                   "requests": rate["requests"], "probe": result.probe.model_dump()})
    return result
