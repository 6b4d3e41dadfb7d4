"""Heroku data plans as AWS sizes: the tables ``heroku2aws init`` sizes the landing from, and the rules it applies.

Heroku Postgres (figures per plan: RAM, storage limit, connection limit; HA by tier)
    - Tiers and HA: Dev Center "Choosing the Right Heroku Postgres Plan",
      https://devcenter.heroku.com/articles/heroku-postgres-plans (last updated 2024-12-13, read 2026-12-02): the
      Essential and Standard tiers have no HA, Premium, Private and Shield have HA (a standby in another zone).
    - RAM, storage and connections of -0, -2..-9: Dev Center "Heroku Postgres Production Tier Technical
      Characterization", https://devcenter.heroku.com/articles/heroku-postgres-production-tier-technical-characterization
      (last updated 2024-09-06, read 2026-12-02): one row per size for Standard, Premium, Private and Shield alike.
      That table also lists premium-/private-/shield-l-6, -xl-6, -l-9, -xl-9 and -10 and up, which these tables do
      not know yet (refused as unknown: init asks for --db-class).
    - The Essential tier ("Heroku Postgres Essential Tier", https://devcenter.heroku.com/articles/postgres-essential-tier):
      its storage and connection limits were not found in a published source here (see the table). It runs on shared
      servers: Heroku publishes no RAM for it, so its RAM is ``None`` and it maps to the smallest class.
Heroku Key-Value Store (Redis) (memory and connection limit per plan)
    - Dev Center "Heroku Key-Value Store Technical Characterization",
      https://devcenter.heroku.com/articles/heroku-redis-technical-characterization (last updated 2024-10-11, read
      2026-12-02): mini 25 MB, premium-0 50 MB ... premium-14 100 GB; private-/shield- 7, 9, 10, 12, 14 as premium.
    - HA: Dev Center "Heroku Key-Value Store", https://devcenter.heroku.com/articles/heroku-redis, section "High
      Availability": Premium, Private and Shield plans keep a standby; mini has none.

The rules (each choice names its rule in :attr:`PostgresChoice.why` / :attr:`RedisChoice.why`, which init prints):

- RDS class: the smallest class with at least the plan's RAM, burstable ``db.t4g`` up to 8 GiB (Heroku's
  Standard-0/-2 are small shared-CPU servers too), memory-optimised ``db.r6g`` above (Postgres lives on its
  buffer cache; r6g is the cheapest class per GiB at those sizes), ``db.r6i`` for 768 GiB (no r6g that large).
  RDS classes and their memory: https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Concepts.DBInstanceClass.Summary.html
- gp3 storage: the plan's storage limit (the room the app has today), at least RDS's 20 GiB minimum for gp3
  (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Storage.html#gp3-storage), at most 65,536 GiB.
- Multi-AZ: the plan has HA (Premium, Private, Shield).
- ElastiCache node: the smallest node whose memory, less the 25 % ElastiCache reserves by default
  (``reserved-memory-percent`` 25: https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/redis-memory-management.html),
  holds the plan's memory; ``cache.t4g`` up to 3 GiB, ``cache.r6g`` above. Node memory:
  https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/CacheNodes.SupportedTypes.html
- Replicas: one when the plan has HA, else none.
- Engine and version: the ElastiCache engine whose RDB format is at least the source's, so RESTORE takes the fast
  path (redis/copy.py falls back to a type-aware copy otherwise): Redis 6.x -> redis 6.2, 7.0 -> redis 7.1
  (ElastiCache's 7.1 is Redis OSS 7.0's RDB 10), 7.2 -> valkey 7.2 (RDB 11), 8.x -> valkey 8.0; unknown -> redis 7.1.
  https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/supported-engine-versions.html

A plan the tables do not know is refused (:class:`UnknownPlan`): init cannot size what it cannot read, and a
guess would be a silent wrong size; ``--db-class`` / ``--cache-node-type`` (init) let the user decide instead.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

__all__ = ["CACHE_NODES", "POSTGRES_PLANS", "RDS_CLASSES", "REDIS_PLANS", "PostgresChoice", "PostgresPlan",
           "RedisChoice", "RedisPlan", "UnknownPlan", "choose_postgres", "choose_redis", "postgres_plan",
           "redis_engine_for", "redis_plan"]

GB = 1000 ** 3
GIB = 1024 ** 3


class UnknownPlan(ValueError):
    """A Heroku plan these tables do not know (name it with the add-on: ``heroku-postgresql:standard-11``)."""


@dataclass(frozen=True)
class PostgresPlan:
    name: str               # "standard-0" (no service prefix)
    ram_gb: float | None    # None: shared (Essential), unpublished
    storage_gb: int
    connections: int
    ha: bool


@dataclass(frozen=True)
class RedisPlan:
    name: str
    memory_mb: int
    connections: int
    ha: bool


# Production tiers -0, -2..-9 (there is no -1): (RAM GB, storage GB, connection limit), the technical
# characterization's table (https://devcenter.heroku.com/articles/heroku-postgres-production-tier-technical-characterization,
# last updated 2024-09-06, read 2026-12-02; 1 TB = 1000 GB). -3 has 15.25 GB and -4 30.5 GB (were recorded as 15, 30).
_PRODUCTION = {0: (4, 64, 120), 2: (8, 256, 400), 3: (15.25, 512, 500), 4: (30.5, 768, 500), 5: (61, 1000, 500),
               6: (122, 1500, 500), 7: (244, 2000, 500), 8: (488, 3000, 500), 9: (768, 4000, 500)}

POSTGRES_PLANS: dict[str, PostgresPlan] = {
    # Essential tier (shared servers; no RAM published). Storage and connections: not found in a published source
    # here (the stored copy of https://devcenter.heroku.com/articles/postgres-essential-tier, read 2026-12-02, holds
    # the plan-choice article without these limits); figures as recalled.
    "essential-0": PostgresPlan("essential-0", None, 1, 20, False),
    "essential-1": PostgresPlan("essential-1", None, 10, 20, False),
    "essential-2": PostgresPlan("essential-2", None, 32, 40, False),
    # Mini and Basic, the Essential tier's former names (replaced by essential-0 and -1 in 2024). Not found in a
    # published source here; figures as recalled (those of essential-0 and -1).
    "mini": PostgresPlan("mini", None, 1, 20, False),
    "basic": PostgresPlan("basic", None, 10, 20, False),
    **{f"{tier}-{n}": PostgresPlan(f"{tier}-{n}", ram, storage, conns, tier != "standard")
       for tier in ("standard", "premium", "private", "shield") for n, (ram, storage, conns) in _PRODUCTION.items()},
}

# Memory and connection limit: the table of Dev Center "Heroku Key-Value Store Technical Characterization",
# https://devcenter.heroku.com/articles/heroku-redis-technical-characterization (last updated 2024-10-11, stored copy
# https://devcenter3.assets.heroku.com/articles/heroku-redis-technical-characterization, read 2026-12-02): every row
# below matches it (1 GB = 1000 MB).
REDIS_PLANS: dict[str, RedisPlan] = {
    "mini": RedisPlan("mini", 25, 20, False),
    **{f"premium-{n}": RedisPlan(f"premium-{n}", mb, conns, True) for n, mb, conns in (
        (0, 50, 40), (1, 100, 80), (2, 250, 200), (3, 500, 400), (4, 750, 700), (5, 1000, 1000))},
    **{f"{tier}-{n}": RedisPlan(f"{tier}-{n}", mb, conns, True)
       for tier in ("premium", "private", "shield")
       for n, mb, conns in ((7, 7000, 10000), (9, 10000, 25000), (10, 25000, 40000), (12, 50000, 65000),
                            (14, 100000, 65000))},
}

#: RDS instance class -> memory (GiB), in the order the rule tries them.
#: db.t4g.micro/small/medium 1/2/4 GiB: https://infratally.com/articles/aws-rds-pricing-explained-2026.html (a
#: third-party page; read 2026-12-02). The rest: not found in a published source here (the class table,
#: https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Concepts.DBInstanceClass.Summary.html, was not in the stored
#: copies); figures as recalled.
RDS_CLASSES: dict[str, int] = {
    "db.t4g.micro": 1, "db.t4g.small": 2, "db.t4g.medium": 4, "db.t4g.large": 8,
    "db.r6g.large": 16, "db.r6g.xlarge": 32, "db.r6g.2xlarge": 64, "db.r6g.4xlarge": 128, "db.r6g.8xlarge": 256,
    "db.r6g.12xlarge": 384, "db.r6g.16xlarge": 512, "db.r6i.24xlarge": 768, "db.r6i.32xlarge": 1024,
}

#: ElastiCache node type -> memory (GiB), in the order the rule tries them.
#: cache.t4g.micro/small/medium 0.5/1.37/3.09 GiB: https://dragonflydb.io/finops/elasticache (a third-party table;
#: read 2026-12-02). cache.r6g.*: not found in a published source here (AWS's node table was not in the stored
#: copies; third-party copies disagree, r6g.xlarge 26.32 vs 26.04 GiB); figures as recalled.
CACHE_NODES: dict[str, float] = {
    "cache.t4g.micro": 0.5, "cache.t4g.small": 1.37, "cache.t4g.medium": 3.09,
    "cache.r6g.large": 13.07, "cache.r6g.xlarge": 26.32, "cache.r6g.2xlarge": 52.82, "cache.r6g.4xlarge": 105.81,
    "cache.r6g.8xlarge": 209.55, "cache.r6g.12xlarge": 317.77, "cache.r6g.16xlarge": 419.09,
}

#: The memory ElastiCache leaves to the data set by default (reserved-memory-percent 25).
CACHE_USABLE = 0.75
RDS_GP3_MIN_GB = 20
RDS_MAX_GB = 65536


def _bare(plan: str, service: str) -> str:
    return plan.split(":", 1)[1] if plan.startswith(service + ":") else plan


def postgres_plan(plan: str) -> PostgresPlan:
    """The plan named ``heroku-postgresql:standard-0`` or ``standard-0`` (:class:`UnknownPlan` otherwise)."""
    name = _bare(plan.strip().lower(), "heroku-postgresql")
    try:
        return POSTGRES_PLANS[name]
    except KeyError:
        raise UnknownPlan(f"heroku-postgresql:{name}: not a Heroku Postgres plan heroku2aws knows") from None


def redis_plan(plan: str) -> RedisPlan:
    """The plan named ``heroku-redis:premium-0`` or ``premium-0`` (:class:`UnknownPlan` otherwise)."""
    name = _bare(plan.strip().lower(), "heroku-redis")
    try:
        return REDIS_PLANS[name]
    except KeyError:
        raise UnknownPlan(f"heroku-redis:{name}: not a Heroku Key-Value Store plan heroku2aws knows") from None


@dataclass(frozen=True)
class PostgresChoice:
    plan: PostgresPlan
    instance_class: str
    storage_gb: int
    multi_az: bool
    why: tuple[str, ...]


@dataclass(frozen=True)
class RedisChoice:
    plan: RedisPlan
    node_type: str
    replicas: int
    engine: str
    engine_version: str
    why: tuple[str, ...]


def choose_postgres(plan: str, *, data_bytes: int | None = None) -> PostgresChoice:
    """The RDS class, gp3 storage and Multi-AZ for a Heroku Postgres plan (the module docstring's rules).

    ``data_bytes``: the database's size when init could measure it (only to warn when it nears the storage)."""
    p = postgres_plan(plan)
    if p.ram_gb is None:
        cls = next(iter(RDS_CLASSES))
        why_class = (f"{cls} ({RDS_CLASSES[cls]} GiB): {p.name} runs on a shared server with no published RAM; "
                     "the smallest class")
    else:
        need_gib = p.ram_gb * GB / GIB
        cls = next((c for c, gib in RDS_CLASSES.items() if gib >= need_gib - 1e-9), "")
        if not cls:  # pragma: no cover - the table reaches 1 TiB, above every plan
            raise UnknownPlan(f"no RDS class has {p.ram_gb} GB")
        why_class = f"{cls} ({RDS_CLASSES[cls]} GiB): the smallest class with at least {p.name}'s {p.ram_gb} GB RAM"
    storage = min(RDS_MAX_GB, max(RDS_GP3_MIN_GB, p.storage_gb))
    why = [why_class,
           f"{storage} GiB gp3: {p.name}'s storage limit ({p.storage_gb} GB)"
           + (f", raised to RDS's gp3 minimum of {RDS_GP3_MIN_GB} GiB" if storage > p.storage_gb else ""),
           "Multi-AZ: " + (f"{p.name} is highly available (Premium/Private/Shield keep a standby)" if p.ha
                           else f"no, as {p.name} (Essential/Standard tiers have no standby)")]
    if data_bytes is not None and data_bytes > 0.8 * storage * GIB:
        need = math.ceil(data_bytes / GIB / 0.8)
        storage = min(RDS_MAX_GB, need)
        why[1] = f"{storage} GiB gp3: the data ({data_bytes / GIB:.1f} GiB) with 20 % free, above {p.name}'s limit"
    return PostgresChoice(p, cls, storage, p.ha, tuple(why))


def redis_engine_for(version: str | None) -> tuple[str, str, str]:
    """``(engine, engine version, why)`` on ElastiCache for a source Redis version like ``7.2.4`` (or None)."""
    m = re.match(r"^(\d+)\.(\d+)", version or "")
    if m is None:
        return "redis", "7.1", "redis 7.1: the source's version is unknown (ElastiCache's newest Redis OSS)"
    major, minor = int(m[1]), int(m[2])
    if major < 7:
        return "redis", "6.2", f"redis 6.2: the newest ElastiCache Redis OSS 6 for the source's {version}"
    if major == 7 and minor < 2:
        return "redis", "7.1", f"redis 7.1: reads the source's {version} RDB format (10)"
    if major == 7:
        return "valkey", "7.2", f"valkey 7.2: the source's {version} writes RDB 11, which ElastiCache's Redis OSS 7.1 " \
                                "cannot RESTORE"
    return "valkey", "8.0", f"valkey 8.0: the newest engine for the source's {version}"


def choose_redis(plan: str, *, version: str | None = None) -> RedisChoice:
    """The ElastiCache node type, replicas, engine and version for a Heroku Key-Value Store plan."""
    p = redis_plan(plan)
    need_gib = p.memory_mb * 1000 ** 2 / GIB
    node = next((n for n, gib in CACHE_NODES.items() if gib * CACHE_USABLE >= need_gib), "")
    if not node:  # pragma: no cover - the table reaches 419 GiB, above every plan
        raise UnknownPlan(f"no ElastiCache node holds {p.memory_mb} MB")
    engine, engine_version, why_engine = redis_engine_for(version)
    replicas = 1 if p.ha else 0
    why = (f"{node} ({CACHE_NODES[node]} GiB, {CACHE_NODES[node] * CACHE_USABLE:.2f} GiB for data after ElastiCache's "
           f"25 % reserve): the smallest node that holds {p.name}'s {p.memory_mb} MB",
           f"{replicas} replica(s): " + (f"{p.name} keeps a standby" if p.ha else f"{p.name} has no standby"),
           why_engine)
    return RedisChoice(p, node, replicas, engine, engine_version, why)
