"""The estimates: the landing a month, Heroku a month, the migration once (figures from the tables in costs.py)."""

from __future__ import annotations

import pytest

from heroku2aws.landing import costs
from heroku2aws.landing.addons import AddonLine, mapping_for
from heroku2aws.landing.costs import TaskSize, heroku_monthly, landing_monthly, migration_one_time
from heroku2aws.landing.plans import CACHE_NODES, RDS_CLASSES, choose_postgres, choose_redis


def test_every_class_and_node_the_sizing_can_choose_has_a_price():
    assert set(RDS_CLASSES) <= set(costs.RDS_HOUR)
    assert set(CACHE_NODES) <= set(costs.CACHE_HOUR)


def test_landing_lines_add_up_and_multi_az_doubles_the_database():
    tasks = [TaskSize("web", 2, 256, 512), TaskSize("worker", 1, 512, 1024), TaskSize("release", 0, 256, 512)]
    single = landing_monthly(tasks, choose_postgres("standard-0"), choose_redis("premium-0"), nat_gateways=2)
    items = {line.item: line.monthly for line in single.lines}
    # 2 x (0.25 vCPU x 0.04048 + 0.5 GB x 0.004445) x 730
    assert items["Fargate web x2"] == pytest.approx(2 * (0.25 * 0.04048 + 0.5 * 0.004445) * 730, abs=0.01)
    assert "Fargate release x0" not in items
    assert items["RDS db.t4g.medium"] == pytest.approx(0.065 * 730, abs=0.01)
    assert items["RDS gp3 64 GB"] == pytest.approx(64 * 0.115, abs=0.01)
    assert items["ElastiCache cache.t4g.micro (redis) x2"] == pytest.approx(2 * 0.016 * 730, abs=0.01)
    assert items["NAT gateway x2"] == pytest.approx(2 * 0.045 * 730 + 50 * 0.045, abs=0.01)
    assert single.total == pytest.approx(sum(items.values()), abs=0.02)
    multi = landing_monthly(tasks, choose_postgres("premium-0"), None, nat_gateways=0)
    multi_items = {line.item: line.monthly for line in multi.lines}
    assert multi_items["RDS db.t4g.medium Multi-AZ"] == pytest.approx(2 * 0.065 * 730, abs=0.01)
    assert multi_items["RDS gp3 64 GB"] == pytest.approx(2 * 64 * 0.115, abs=0.01)
    assert not any(item.startswith(("NAT", "ElastiCache")) for item in multi_items)
    assert "public IPv4 addresses x2" in multi_items


def test_valkey_nodes_are_cheaper_and_another_region_is_noted():
    est = landing_monthly([], None, choose_redis("premium-7", version="7.2.4"), region="eu-west-1")
    line = next(line for line in est.lines if line.item.startswith("ElastiCache"))
    assert line.monthly == pytest.approx(2 * 0.206 * 0.8 * 730, abs=0.05)
    assert any("eu-west-1" in note for note in est.notes)


def _line(plan: str, cents: int | None, shared: str | None = None) -> AddonLine:
    return AddonLine(service=plan.split(":")[0], plan=plan, name="x", attachments=(), config_vars=(),
                     shared_from=shared, mapping=mapping_for(plan.split(":")[0]), billed_cents=cents)


def test_heroku_bill_prefers_billed_price_counts_eco_once_and_flags_contract_sizes():
    est = heroku_monthly([("web", 2, "Standard-2X"), ("worker", 1, "Eco"), ("clock", 1, "eco"),
                          ("big", 1, "Private-M"), ("off", 0, "Performance-L")],
                         [_line("heroku-postgresql:standard-0", 4200), _line("heroku-redis:premium-0", None),
                          _line("papertrail:fixa", None), _line("heroku-postgresql:premium-0", None, shared="other")])
    items = {line.item: line.monthly for line in est.lines}
    assert items["web x2 Standard-2X"] == 100.0
    assert items["Eco dynos"] == 5.0 and "worker x1 Eco" not in items
    assert items["big x1 Private-M"] is None and est.unpriced == 2   # Private-M, papertrail:fixa
    assert items["heroku-postgresql:standard-0"] == 42.0           # billed_price wins over the $50 list price
    assert items["heroku-redis:premium-0"] == 15.0
    assert "heroku-postgresql:premium-0" not in items               # billed to its owner
    assert est.total == pytest.approx(100 + 5 + 42 + 15)
    assert "not priced" in est.text()[0]


def test_migration_one_time_by_strategy():
    dms = migration_one_time(strategy="dms-full-load", data_bytes=100 * 1000 ** 3, landing_monthly_total=300,
                             heroku_monthly_total=150, parallel_days=3)
    items = {line.item: line.monthly for line in dms.lines}
    assert items["DMS dms.t3.medium ~6 h"] == pytest.approx(6 * 0.073, abs=0.01)
    assert items["both sides for ~3 days"] == pytest.approx(450 * 3 / 30)
    dump = migration_one_time(strategy="dump-restore", data_bytes=None)
    assert any(line.item.startswith("pg_dump/pg_restore task ~1 h") for line in dump.lines)


def test_defaults_follow_the_landing_template_one_nat_gateway_and_its_secrets():
    with_redis = {line.item for line in landing_monthly([], choose_postgres("standard-0"), choose_redis("mini")).lines}
    without = {line.item for line in landing_monthly([], choose_postgres("standard-0"), None).lines}
    assert "NAT gateway x1" in with_redis and "public IPv4 addresses x3" in with_redis
    assert "Secrets Manager x7" in with_redis and "Secrets Manager x4" in without
