"""Stage 4 health gate: ALB target health, the 5xx rate from CloudWatch, a synthetic probe.

AWS is moto in-process; the probe hits a real local HTTP server whose answers each test sets.
"""

from __future__ import annotations

import http.server
import threading
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from helpers import EXECUTION_ID, load_handler, with_changes

from heroku2aws.contracts.errors import HealthGateFailed, InvalidInput
from heroku2aws.contracts.input import ExecutionInput
from heroku2aws.steps.health_gate import check_5xx_rate, health_gate, load_balancer_dimension, probe


class _Health:
    """A local server: ``codes`` is the list of statuses to answer, in turn (last one repeats)."""

    def __init__(self) -> None:
        self.codes = [200]
        self.hits = 0
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802
                code = owner.codes[min(owner.hits, len(owner.codes) - 1)]
                owner.hits += 1
                self.send_response(code)
                if 300 <= code < 400:
                    self.send_header("Location", "/elsewhere")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/healthz"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def health_server():
    server = _Health()
    yield server
    server.stop()


@pytest.fixture
def no_spacing(monkeypatch):
    import heroku2aws.steps.health_gate as hg

    monkeypatch.setattr(hg, "PROBE_SPACING", 0.0)


@pytest.fixture
def alb(moto):
    """An ALB and an IP target group in moto: ``{"lb_arn", "tg_arn", "dns"}``."""
    ec2 = boto3.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"us-east-1{az}")
               ["Subnet"]["SubnetId"] for i, az in ((1, "a"), (2, "b"))]
    elb = boto3.client("elbv2")
    lb = elb.create_load_balancer(Name="acme-storefront", Subnets=subnets)["LoadBalancers"][0]
    tg = elb.create_target_group(Name="acme-storefront-web", Protocol="HTTP", Port=5000, VpcId=vpc,
                                 TargetType="ip")["TargetGroups"][0]
    return {"lb_arn": lb["LoadBalancerArn"], "tg_arn": tg["TargetGroupArn"], "dns": lb["DNSName"]}


def _cfg(cfg: dict, alb: dict, url: str, **more) -> dict:
    return with_changes(cfg, load_balancer__load_balancer_arn=alb["lb_arn"], load_balancer__target_group_arn=alb["tg_arn"],
                        load_balancer__dns_name=alb["dns"], load_balancer__health_url=url, **more)


def _register(alb: dict, n: int = 2) -> None:
    boto3.client("elbv2").register_targets(TargetGroupArn=alb["tg_arn"],
                                           Targets=[{"Id": f"10.0.1.{10 + i}", "Port": 5000} for i in range(n)])


def _metric(alb: dict, name: str, value: float, ago_s: int = 30) -> None:
    boto3.client("cloudwatch").put_metric_data(Namespace="AWS/ApplicationELB", MetricData=[{
        "MetricName": name, "Value": value, "Timestamp": datetime.now(UTC) - timedelta(seconds=ago_s),
        "Dimensions": [{"Name": "LoadBalancer", "Value": load_balancer_dimension(alb["lb_arn"])}]}])


def _event(cfg: dict, step: int = 10, window: int = 300) -> dict:
    return {"input": cfg, "step": step, "window_seconds": window, "execution_id": EXECUTION_ID}


# ------------------------------------------------------------------------------ the handler, end to end


def test_given_healthy_targets_no_traffic_and_a_200_probe_when_gated_then_healthy_with_a_note(
        cfg, alb, health_server, no_spacing, context):
    _register(alb)
    result = load_handler("health_gate")(_event(_cfg(cfg, alb, health_server.url)), context)
    assert result["healthy"] is True
    assert result["reasons"] == []
    assert result["error_rate"] is None and result["requests"] == 0
    assert any("no requests" in n for n in result["notes"])
    assert result["targets"] == {"healthy": 2, "total": 2, "states": {"healthy": 2}}
    assert result["probe"] == {"ok": 5, "total": 5, "status_codes": [200] * 5}
    assert result["step"] == 10
    assert health_server.hits == 5
    assert set(result) == {"healthy", "reasons", "notes", "step", "targets", "error_rate", "requests", "probe"}


def test_given_a_target_group_without_targets_when_gated_then_unhealthy(cfg, alb, health_server, no_spacing, context):
    result = load_handler("health_gate")(_event(_cfg(cfg, alb, health_server.url)), context)
    assert result["healthy"] is False
    assert result["targets"]["total"] == 0
    assert any("no registered targets" in r for r in result["reasons"])


def test_given_5xx_above_the_limit_when_gated_then_unhealthy_with_the_rate(cfg, alb, health_server, no_spacing, context):
    _register(alb)
    _metric(alb, "RequestCount", 1000)
    _metric(alb, "HTTPCode_Target_5XX_Count", 15)
    _metric(alb, "HTTPCode_ELB_5XX_Count", 5)
    result = load_handler("health_gate")(_event(_cfg(cfg, alb, health_server.url)), context)
    assert result["healthy"] is False
    assert result["error_rate"] == pytest.approx(0.02)
    assert result["requests"] == 1000
    assert any("5xx rate 0.0200" in r and "max_5xx_rate 0.01" in r for r in result["reasons"])


def test_given_5xx_below_the_limit_when_gated_then_healthy(cfg, alb, health_server, no_spacing, context):
    _register(alb)
    _metric(alb, "RequestCount", 1000)
    _metric(alb, "HTTPCode_Target_5XX_Count", 5)
    result = load_handler("health_gate")(_event(_cfg(cfg, alb, health_server.url)), context)
    assert result["healthy"] is True
    assert result["error_rate"] == pytest.approx(0.005)
    assert result["notes"] == []


def test_given_5xx_outside_the_window_when_gated_then_they_do_not_count(cfg, alb, health_server, no_spacing, context):
    _register(alb)
    _metric(alb, "RequestCount", 100, ago_s=3000)
    _metric(alb, "HTTPCode_Target_5XX_Count", 100, ago_s=3000)
    result = load_handler("health_gate")(_event(_cfg(cfg, alb, health_server.url), window=120), context)
    assert result["healthy"] is True
    assert result["error_rate"] is None


def test_given_a_probe_that_fails_twice_when_gated_then_unhealthy_with_the_status_codes(
        cfg, alb, health_server, no_spacing, context):
    _register(alb)
    health_server.codes = [200, 503, 200, 502, 200]
    result = load_handler("health_gate")(_event(_cfg(cfg, alb, health_server.url)), context)
    assert result["healthy"] is False
    assert result["probe"] == {"ok": 3, "total": 5, "status_codes": [200, 503, 200, 502, 200]}
    assert any("3 of 5" in r and "502, 503" in r for r in result["reasons"])


def test_given_a_redirecting_health_url_when_gated_then_the_redirect_is_not_followed(
        cfg, alb, health_server, no_spacing, context):
    _register(alb)
    health_server.codes = [301]
    result = load_handler("health_gate")(_event(_cfg(cfg, alb, health_server.url)), context)
    assert result["healthy"] is False
    assert result["probe"]["status_codes"] == [301] * 5
    assert health_server.hits == 5  # /elsewhere was never requested


def test_given_nothing_listening_when_probed_then_no_answer_is_status_0(no_spacing):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: connection refused
        result = probe(f"http://127.0.0.1:{port}/healthz", count=2, timeout=1)
    assert result["ok"] == 0
    assert result["status_codes"] == [0, 0]
    assert result["errors"]


@pytest.mark.parametrize(("field", "old", "new", "message"), [
    ("tg_arn", "acme-storefront-web", "gone-tg", "not found"),
    ("lb_arn", "loadbalancer/app/", "loadbalancer/net/", "not an Application Load Balancer"),
], ids=["an unknown target group", "a network load balancer"])
def test_given_a_gate_it_cannot_run_when_gated_then_health_gate_failed_is_raised_before_any_probe(
        cfg, alb, health_server, no_spacing, context, field, old, new, message):
    wrong = {**alb, field: alb[field].replace(old, new)}
    with pytest.raises(HealthGateFailed, match=message):
        load_handler("health_gate")(_event(_cfg(cfg, wrong, health_server.url)), context)
    assert health_server.hits == 0


def test_given_an_event_without_input_when_gated_then_invalid_input(context):
    with pytest.raises(InvalidInput):
        load_handler("health_gate")({"step": 10, "execution_id": EXECUTION_ID}, context)


# ------------------------------------------------------------------------------ the pieces


class _StubElb:
    def __init__(self, states):
        self.states = states

    def describe_target_health(self, TargetGroupArn):  # noqa: N803 - boto3's name
        return {"TargetHealthDescriptions": [
            {"Target": {"Id": f"10.0.1.{i}", "Port": 5000},
             "TargetHealth": {"State": s, **({"Reason": "Target.FailedHealthChecks"} if s == "unhealthy" else {})}}
            for i, s in enumerate(self.states)]}


def test_given_one_unhealthy_and_one_draining_target_when_gated_then_both_are_named(cfg, moto, health_server, no_spacing):
    model = ExecutionInput.model_validate(with_changes(cfg, load_balancer__health_url=health_server.url))
    result = health_gate(model, 50, 60, elbv2=_StubElb(["healthy", "unhealthy", "draining"])).model_dump()
    assert result["healthy"] is False
    assert result["targets"] == {"healthy": 1, "total": 3, "states": {"healthy": 1, "unhealthy": 1, "draining": 1}}
    [reason] = result["reasons"]
    assert "2 of 3 targets not healthy" in reason
    assert "10.0.1.1:5000 unhealthy (Target.FailedHealthChecks)" in reason and "10.0.1.2:5000 draining" in reason


def test_given_elb_5xx_but_no_counted_requests_when_rated_then_the_rate_is_1(moto, alb):
    _metric(alb, "HTTPCode_ELB_5XX_Count", 7)
    rate = check_5xx_rate(alb["lb_arn"], 60)
    assert rate["rate"] == 1.0 and rate["errors_5xx"] == 7 and rate["requests"] == 0


def test_given_a_zero_second_bake_when_rated_then_one_minute_is_read(moto, alb):
    assert check_5xx_rate(alb["lb_arn"], 0)["window_seconds"] == 60
    assert check_5xx_rate(alb["lb_arn"], 61)["window_seconds"] == 120


def test_given_an_alb_arn_when_its_dimension_is_taken_then_it_is_the_app_suffix():
    arn = "arn:aws:elasticloadbalancing:us-east-1:111122223333:loadbalancer/app/acme-storefront/50dc6c495c0c9188"
    assert load_balancer_dimension(arn) == "app/acme-storefront/50dc6c495c0c9188"
