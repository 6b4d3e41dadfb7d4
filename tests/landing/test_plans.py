"""Heroku data plans -> RDS / ElastiCache sizes: every plan heroku2aws claims to know, and the rules' edges."""

from __future__ import annotations

import pytest

from heroku2aws.landing import plans
from heroku2aws.landing.plans import (
    CACHE_NODES,
    CACHE_USABLE,
    GB,
    GIB,
    POSTGRES_PLANS,
    RDS_CLASSES,
    REDIS_PLANS,
    UnknownPlan,
    choose_postgres,
    choose_redis,
    redis_engine_for,
)


@pytest.mark.parametrize("name", sorted(POSTGRES_PLANS))
def test_every_postgres_plan_gets_the_smallest_class_with_its_ram(name):
    choice = choose_postgres(f"heroku-postgresql:{name}")
    plan = POSTGRES_PLANS[name]
    classes = list(RDS_CLASSES)
    if plan.ram_gb is None:
        assert choice.instance_class == classes[0]
    else:
        need = plan.ram_gb * GB / GIB
        assert RDS_CLASSES[choice.instance_class] >= need - 1e-9
        smaller = classes[:classes.index(choice.instance_class)]
        assert all(RDS_CLASSES[c] < need - 1e-9 for c in smaller), "a smaller class would hold the plan's RAM"
    assert choice.storage_gb == max(20, plan.storage_gb)
    assert choice.multi_az is plan.ha is (not name.startswith(("standard", "essential", "mini", "basic")))
    assert len(choice.why) == 3 and choice.instance_class in choice.why[0]


@pytest.mark.parametrize(("plan", "expected"), [
    ("heroku-postgresql:essential-0", ("db.t4g.micro", 20, False)),
    ("heroku-postgresql:essential-2", ("db.t4g.micro", 32, False)),
    ("heroku-postgresql:standard-0", ("db.t4g.medium", 64, False)),
    ("heroku-postgresql:premium-0", ("db.t4g.medium", 64, True)),
    ("heroku-postgresql:standard-2", ("db.t4g.large", 256, False)),  # 8 GB = 7.45 GiB: fits 8 GiB
    ("heroku-postgresql:standard-3", ("db.r6g.large", 512, False)),
    ("heroku-postgresql:premium-5", ("db.r6g.2xlarge", 1000, True)),
    ("heroku-postgresql:shield-9", ("db.r6i.24xlarge", 4000, True)),
])
def test_known_postgres_sizes(plan, expected):
    choice = choose_postgres(plan)
    assert (choice.instance_class, choice.storage_gb, choice.multi_az) == expected


@pytest.mark.parametrize(("name", "figures"), [
    # Dev Center "Heroku Postgres Production Tier Technical Characterization" (last updated 2024-09-06):
    # (RAM GB, disk GB, connection limit); -3 is 15.25 GB and -4 30.5 GB, not 15 and 30.
    ("standard-0", (4, 64, 120)), ("premium-2", (8, 256, 400)), ("private-3", (15.25, 512, 500)),
    ("shield-4", (30.5, 768, 500)), ("standard-5", (61, 1000, 500)), ("premium-9", (768, 4000, 500)),
])
def test_postgres_figures_are_the_published_ones(name, figures):
    plan = POSTGRES_PLANS[name]
    assert (plan.ram_gb, plan.storage_gb, plan.connections) == figures
    assert f"{figures[0]} GB RAM" in choose_postgres(name).why[0]


@pytest.mark.parametrize(("name", "figures"), [
    # Dev Center "Heroku Key-Value Store Technical Characterization" (last updated 2024-10-11): (MB, connections).
    ("mini", (25, 20)), ("premium-0", (50, 40)), ("premium-5", (1000, 1000)), ("private-7", (7000, 10000)),
    ("shield-10", (25000, 40000)), ("premium-14", (100000, 65000)),
])
def test_redis_figures_are_the_published_ones(name, figures):
    assert (REDIS_PLANS[name].memory_mb, REDIS_PLANS[name].connections) == figures


def test_storage_grows_past_the_plan_when_the_data_nearly_fills_it():
    assert choose_postgres("essential-0", data_bytes=10 * 1024 ** 2).storage_gb == 20
    choice = choose_postgres("standard-0", data_bytes=60 * GIB)
    assert choice.storage_gb == 75 and "20 % free" in choice.why[1]


@pytest.mark.parametrize("name", sorted(REDIS_PLANS))
def test_every_redis_plan_gets_the_smallest_node_that_holds_it(name):
    choice = choose_redis(f"heroku-redis:{name}")
    plan = REDIS_PLANS[name]
    need = plan.memory_mb * 1000 ** 2 / GIB
    nodes = list(CACHE_NODES)
    assert CACHE_NODES[choice.node_type] * CACHE_USABLE >= need
    assert all(CACHE_NODES[n] * CACHE_USABLE < need for n in nodes[:nodes.index(choice.node_type)])
    assert choice.replicas == (0 if name == "mini" else 1)


@pytest.mark.parametrize(("plan", "node"), [
    ("mini", "cache.t4g.micro"), ("premium-0", "cache.t4g.micro"), ("premium-5", "cache.t4g.small"),
    ("premium-7", "cache.r6g.large"), ("private-9", "cache.r6g.large"), ("premium-10", "cache.r6g.2xlarge"),
    ("shield-12", "cache.r6g.4xlarge"), ("premium-14", "cache.r6g.8xlarge"),
])
def test_known_redis_nodes(plan, node):
    assert choose_redis(plan).node_type == node


@pytest.mark.parametrize(("version", "engine"), [
    (None, ("redis", "7.1")), ("6.2.14", ("redis", "6.2")), ("7.0.15", ("redis", "7.1")),
    ("7.2.4", ("valkey", "7.2")), ("8.0.1", ("valkey", "8.0")), ("garbage", ("redis", "7.1")),
])
def test_redis_engine_keeps_restore_on_the_fast_path(version, engine):
    assert redis_engine_for(version)[:2] == engine
    assert (choose_redis("premium-0", version=version).engine,
            choose_redis("premium-0", version=version).engine_version) == engine


@pytest.mark.parametrize("plan", ["heroku-postgresql:standard-1", "heroku-postgresql:premium-l-9", "hobby-dev", ""])
def test_unknown_postgres_plans_are_refused(plan):
    with pytest.raises(UnknownPlan):
        choose_postgres(plan)


@pytest.mark.parametrize("plan", ["heroku-redis:premium-6", "heroku-redis:hobby-dev", "premium-15"])
def test_unknown_redis_plans_are_refused(plan):
    with pytest.raises(UnknownPlan):
        choose_redis(plan)


def test_tables_are_consistent():
    assert list(RDS_CLASSES.values()) == sorted(RDS_CLASSES.values())
    assert list(CACHE_NODES.values()) == sorted(CACHE_NODES.values())
    assert "standard-1" not in POSTGRES_PLANS  # Heroku has no -1 production plan
    assert plans.RDS_GP3_MIN_GB == 20
