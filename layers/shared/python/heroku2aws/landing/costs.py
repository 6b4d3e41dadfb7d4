"""What the landing will cost a month, what the app costs on Heroku today, and what the migration costs once.

ESTIMATES from public list prices, not quotes: no tax, no free tier, no Savings Plans or reserved instances, no
data transfer out to the internet, no support plan; a month is 730 hours.

AWS prices: on-demand, US East (N. Virginia) ``us-east-1``, recorded 2026-12-02. Other regions differ (typically
5-30 % higher): the estimate names the region it priced and warns when the landing's region is another one.

Each figure was checked on 2026-12-02 against the stored copies of public pages the search tool holds. AWS's own
pricing pages render their tables from scripts, so most figures are confirmed by a third-party page that quotes
them for us-east-1 (named as such); "unverified" marks a figure no source confirmed here (figure as recalled).

- Fargate (Linux/x86): $0.04048 per vCPU-hour, $0.004445 per GB-hour — AWS: https://aws.amazon.com/fargate/pricing/ ;
  confirmed by https://www.vantage.sh/blog/fargate-pricing (third-party, us-east-1 table).
- RDS for PostgreSQL, Single-AZ instance-hours by class (see RDS_HOUR). Multi-AZ (one standby) bills the instance
  and the storage twice: https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_OnDemandDBInstances.html
  ("Multi-AZ DB instances": compute billed for primary and standby, storage for both). gp3 storage $0.115 per
  GB-month (3,000 IOPS / 125 MB/s included): https://www.usage.ai/blogs/aws/reserved-instances/rds/pricing-calculator/
  (third-party, us-east-1). AWS: https://aws.amazon.com/rds/postgresql/pricing/
- ElastiCache (Redis OSS node-hours; see CACHE_HOUR) — https://aws.amazon.com/elasticache/pricing/ ; a replica is
  one more node. Valkey nodes 20 % lower: unverified (the stored copies state 33 % lower for Valkey *Serverless*
  only: https://aws.eu/it/elasticache/pricing).
- Application Load Balancer: $0.0225 per hour + $0.008 per LCU-hour — AWS:
  https://aws.amazon.com/elasticloadbalancing/pricing/ ; confirmed by a transcription of that page's us-east-1
  examples, https://raw.githubusercontent.com/api-evangelist/amazon-elastic-load-balancing/refs/heads/main/plans/amazon-elastic-load-balancing-plans-pricing.yml
  (third-party).
- NAT gateway: $0.045 per hour + $0.045 per GB processed — AWS: https://aws.amazon.com/vpc/pricing/ ; confirmed by
  https://www.wring.co/blog/aws-nat-gateway-pricing-guide (third-party, us-east-1).
- Public IPv4 addresses (the ALB's one per zone, each NAT gateway's Elastic IP): $0.005 per hour — AWS:
  https://aws.amazon.com/vpc/pricing/ ("Public IPv4 Address"); confirmed by
  https://cloudburn.io/blog/aws-nat-gateway-pricing (third-party).
- Secrets Manager: $0.40 per secret-month — AWS: https://aws.amazon.com/secrets-manager/pricing/ ; confirmed by a
  transcription of that page, https://raw.githubusercontent.com/api-evangelist/amazon-secrets-manager/refs/heads/main/plans/amazon-secrets-manager-plans-pricing.yml
  (third-party).
- CloudWatch Logs ingestion: $0.50 per GB — AWS: https://aws.amazon.com/cloudwatch/pricing/ ; confirmed by
  https://www.factualminds.com/blog/amazon-cloudwatch-pricing-metrics-logs-alarms-dashboards/ (third-party).
- DMS: replication instance-hours by class (see DMS_HOUR) — https://aws.amazon.com/dms/pricing/ : unverified.
- CodeBuild: general1.medium Linux $0.01 per build-minute — AWS: https://aws.amazon.com/codebuild/pricing/ ;
  confirmed by https://kindatechnical.com/aws-codebuild/understanding-codebuild-pricing.html (third-party).
- Step Functions Standard: $0.025 per 1,000 state transitions, US East (N. Virginia) —
  https://aws.amazon.com/step-functions/pricing/ (AWS's table).

Heroku prices: list prices a month, recorded 2026-12-02. Dynos: Dev Center "Usage & Billing",
https://devcenter.heroku.com/articles/usage-and-billing (see HEROKU_DYNO_MONTH for which sizes it confirms). Add-on
plans: https://elements.heroku.com/addons/heroku-postgresql and .../heroku-redis were not in the stored copies (see
HEROKU_ADDON_MONTH). The Platform API's own ``billed_price`` of each add-on (what Heroku bills this app, contracts
included) wins over the list price when Heroku answers one. Eco dynos are one $5 pool per account, counted once.
Private and Shield dynos (Private Spaces) and Fir sizes are priced by contract: the estimate says it cannot price them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from .addons import AddonLine
from .plans import PostgresChoice, RedisChoice

__all__ = ["AWS_PRICES_REGION", "HOURS_PER_MONTH", "CostLine", "Estimate", "heroku_monthly", "landing_monthly",
           "migration_one_time"]

HOURS_PER_MONTH = 730
AWS_PRICES_REGION = "us-east-1"
PRICES_RECORDED = "2026-12-02"

FARGATE_VCPU_HOUR = 0.04048
FARGATE_GB_HOUR = 0.004445
RDS_GP3_GB_MONTH = 0.115
ALB_HOUR, ALB_LCU_HOUR = 0.0225, 0.008
NAT_HOUR, NAT_GB = 0.045, 0.045
PUBLIC_IPV4_HOUR = 0.005
SECRET_MONTH = 0.40
LOGS_GB = 0.50
CODEBUILD_MINUTE = 0.01
SFN_TRANSITION = 0.025 / 1000
VALKEY_DISCOUNT = 0.8

#: RDS for PostgreSQL, Single-AZ, $ an hour.
#: db.t4g.micro/small/medium: https://infratally.com/articles/aws-rds-pricing-explained-2026.html (third-party,
#: us-east-1 PostgreSQL Single-AZ; read 2026-12-02). db.t4g.large, db.r6g.*, db.r6i.*: not found in a published
#: source here (third-party copies disagree, db.r6g.large $0.225 vs $0.26); figures as recalled.
RDS_HOUR: dict[str, float] = {
    "db.t4g.micro": 0.016, "db.t4g.small": 0.032, "db.t4g.medium": 0.065, "db.t4g.large": 0.129,
    "db.r6g.large": 0.225, "db.r6g.xlarge": 0.45, "db.r6g.2xlarge": 0.899, "db.r6g.4xlarge": 1.798,
    "db.r6g.8xlarge": 3.597, "db.r6g.12xlarge": 5.395, "db.r6g.16xlarge": 7.194,
    "db.r6i.24xlarge": 12.0, "db.r6i.32xlarge": 16.0,
}
#: ElastiCache Redis OSS node, $ an hour. Not found in a published source here (AWS's table is not in the stored
#: copies; third-party copies disagree, cache.r6g.large $0.171 to $0.226); figures as recalled.
CACHE_HOUR: dict[str, float] = {
    "cache.t4g.micro": 0.016, "cache.t4g.small": 0.032, "cache.t4g.medium": 0.065,
    "cache.r6g.large": 0.206, "cache.r6g.xlarge": 0.411, "cache.r6g.2xlarge": 0.821, "cache.r6g.4xlarge": 1.642,
    "cache.r6g.8xlarge": 3.284, "cache.r6g.12xlarge": 4.925, "cache.r6g.16xlarge": 6.567,
}
#: DMS replication instance, $ an hour. Not found in a published source here; figures as recalled.
DMS_HOUR: dict[str, float] = {"dms.t3.micro": 0.018, "dms.t3.small": 0.036, "dms.t3.medium": 0.073,
                              "dms.t3.large": 0.146, "dms.c5.large": 0.154, "dms.r5.large": 0.21}

#: Heroku dyno size (lower case) -> $ a month per dyno (None: priced by contract).
#: eco $5 (the pool), basic $7, standard-1x $25, standard-2x $50, performance-m $250, performance-l $500:
#: https://devcenter.heroku.com/articles/usage-and-billing (last updated 2023-02-06, read 2026-12-02); hobby $7 and
#: free $0: the same article, 2019-05-31 version. px $500 (the 2014 performance dyno): Heroku's 2014 pricing text
#: quoted in https://gist.github.com/cbartlett/b5e932217d494bc6601c (third-party). performance-l-ram, -xl, -2xl and
#: the legacy names 1x, 2x, performance: not found in a published source here; figures as recalled.
HEROKU_DYNO_MONTH: dict[str, float | None] = {
    "eco": 5.0, "basic": 7.0, "hobby": 7.0, "standard-1x": 25.0, "standard-2x": 50.0, "1x": 25.0, "2x": 50.0,
    "performance-m": 250.0, "performance-l": 500.0, "performance-l-ram": 500.0, "performance-xl": 750.0,
    "performance-2xl": 1500.0, "px": 500.0, "performance": 500.0, "free": 0.0,
}
#: Heroku add-on plan -> list price a month. heroku-redis:mini $3: https://devcenter.heroku.com/articles/heroku-redis
#: ("mini $3/month", read 2026-12-02). heroku-postgresql:essential-0 $5:
#: https://devcenter.heroku.com/articles/provisioning-heroku-postgres (last updated 2026-03-26: "essential-0
#: ~$0.007/hour $5/month"). heroku-postgresql:standard-0 $50: a 2020 Heroku invoice,
#: https://github.com/Code4PuertoRico/contratospr/files/4878618/heroku-invoice-contratospr-june-2020.pdf (third-party,
#: old). Every other plan price: not found in a published source here; figures as recalled.
HEROKU_ADDON_MONTH: dict[str, float] = {
    "heroku-postgresql:essential-0": 5, "heroku-postgresql:essential-1": 9, "heroku-postgresql:essential-2": 20,
    "heroku-postgresql:mini": 5, "heroku-postgresql:basic": 9,
    **{f"heroku-postgresql:standard-{n}": p for n, p in (
        (0, 50), (2, 200), (3, 400), (4, 750), (5, 1400), (6, 2000), (7, 3500), (8, 4500), (9, 5800))},
    **{f"heroku-postgresql:premium-{n}": p for n, p in (
        (0, 200), (2, 350), (3, 750), (4, 1200), (5, 2500), (6, 3500), (7, 6000), (8, 8500), (9, 11000))},
    "heroku-redis:mini": 3,
    **{f"heroku-redis:premium-{n}": p for n, p in (
        (0, 15), (1, 30), (2, 60), (3, 120), (4, 200), (5, 250), (7, 750), (9, 1450), (10, 3500), (12, 6500),
        (14, 12000))},
    "scheduler:standard": 0, "papertrail:choklad": 0,
}


@dataclass(frozen=True)
class CostLine:
    item: str
    monthly: float | None   # US$; None: cannot be priced from public tables
    basis: str

    def text(self) -> str:
        amount = "      n/a" if self.monthly is None else f"${self.monthly:>9,.2f}"
        return f"{amount}  {self.item} ({self.basis})"


@dataclass
class Estimate:
    """A total and its lines; ``unpriced`` counts the lines the tables could not price (the total leaves them out)."""

    title: str
    lines: list[CostLine] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, item: str, monthly: float | None, basis: str) -> None:
        self.lines.append(CostLine(item, None if monthly is None else round(monthly, 2), basis))

    @property
    def total(self) -> float:
        return round(sum(line.monthly for line in self.lines if line.monthly is not None), 2)

    @property
    def unpriced(self) -> int:
        return sum(1 for line in self.lines if line.monthly is None)

    def text(self) -> list[str]:
        out = [f"{self.title}: ${self.total:,.2f} (estimate)"
               + (f", {self.unpriced} item(s) not priced" if self.unpriced else "")]
        out += ["  " + line.text() for line in self.lines]
        out += [f"  note: {n}" for n in self.notes]
        return out


@dataclass(frozen=True)
class TaskSize:
    """One process type on Fargate: how many tasks of which size."""

    process_type: str
    quantity: int
    cpu: int      # CPU units
    memory: int   # MiB


def _region_note(estimate: Estimate, region: str | None) -> None:
    estimate.notes.append(f"AWS on-demand list prices of {AWS_PRICES_REGION}, recorded {PRICES_RECORDED}")
    if region and region != AWS_PRICES_REGION:
        estimate.notes.append(f"the landing's region is {region}: its prices differ from {AWS_PRICES_REGION}'s")


def landing_monthly(tasks: Sequence[TaskSize], postgres: PostgresChoice | None, redis: RedisChoice | None, *,
                    nat_gateways: int = 1, az_count: int = 2, secrets: int | None = None, alb_lcu: float = 1.0,
                    nat_gb: float = 50.0, logs_gb: float = 5.0, region: str | None = None) -> Estimate:
    """The landing's monthly estimate for the chosen sizes. ``nat_gateways``: the landing's VPC has one (template.yaml
    LandingNatGateway), 0 when it reuses a VPC. ``secrets``: the config secret, the Heroku key's, the source and target
    Postgres secrets and, with Redis, the source and target Redis secrets and the AUTH token's."""
    est = Estimate("AWS landing, a month")
    if secrets is None:
        secrets = 4 + (3 if redis is not None else 0)
    for t in tasks:
        if t.quantity <= 0:
            continue
        hourly = t.cpu / 1024 * FARGATE_VCPU_HOUR + t.memory / 1024 * FARGATE_GB_HOUR
        est.add(f"Fargate {t.process_type} x{t.quantity}", t.quantity * hourly * HOURS_PER_MONTH,
                f"{t.cpu / 1024:g} vCPU / {t.memory / 1024:g} GB each")
    if postgres is not None:
        copies = 2 if postgres.multi_az else 1
        rate = RDS_HOUR.get(postgres.instance_class)
        est.add(f"RDS {postgres.instance_class}" + (" Multi-AZ" if postgres.multi_az else ""),
                None if rate is None else copies * rate * HOURS_PER_MONTH,
                f"${rate}/h x {copies}" if rate is not None else "no price recorded for this class")
        est.add(f"RDS gp3 {postgres.storage_gb} GB", copies * postgres.storage_gb * RDS_GP3_GB_MONTH,
                f"${RDS_GP3_GB_MONTH}/GB-month x {copies}")
    if redis is not None:
        nodes = 1 + redis.replicas
        rate = CACHE_HOUR.get(redis.node_type)
        if rate is not None and redis.engine == "valkey":
            rate = round(rate * VALKEY_DISCOUNT, 4)
        est.add(f"ElastiCache {redis.node_type} ({redis.engine}) x{nodes}",
                None if rate is None else nodes * rate * HOURS_PER_MONTH,
                f"${rate}/h a node" if rate is not None else "no price recorded for this node")
    est.add("Application Load Balancer", (ALB_HOUR + alb_lcu * ALB_LCU_HOUR) * HOURS_PER_MONTH,
            f"${ALB_HOUR}/h + {alb_lcu:g} LCU at ${ALB_LCU_HOUR}/LCU-h")
    if nat_gateways:
        est.add(f"NAT gateway x{nat_gateways}", nat_gateways * NAT_HOUR * HOURS_PER_MONTH + nat_gb * NAT_GB,
                f"${NAT_HOUR}/h each + {nat_gb:g} GB at ${NAT_GB}/GB")
    ips = az_count + nat_gateways
    est.add(f"public IPv4 addresses x{ips}", ips * PUBLIC_IPV4_HOUR * HOURS_PER_MONTH,
            f"the ALB's {az_count} and {nat_gateways} NAT Elastic IP(s) at ${PUBLIC_IPV4_HOUR}/h")
    est.add(f"Secrets Manager x{secrets}", secrets * SECRET_MONTH, f"${SECRET_MONTH} a secret")
    est.add("CloudWatch Logs", logs_gb * LOGS_GB, f"{logs_gb:g} GB ingested at ${LOGS_GB}/GB")
    _region_note(est, region)
    return est


def heroku_monthly(formation: Iterable[tuple[str, int, str]], addons: Sequence[AddonLine]) -> Estimate:
    """The app's Heroku bill today: ``formation`` as ``(process type, quantity, size)``; add-ons billed to it."""
    est = Estimate("Heroku today, a month")
    eco = False
    for ptype, quantity, size in formation:
        if quantity <= 0:
            continue
        key = size.lower()
        if key == "eco":
            eco = True
            continue
        price = HEROKU_DYNO_MONTH.get(key)
        est.add(f"{ptype} x{quantity} {size}", None if price is None else quantity * price,
                f"${price:g} a dyno" if price is not None else "Private/Shield/Fir sizes are priced by contract")
    if eco:
        est.add("Eco dynos", HEROKU_DYNO_MONTH["eco"], "one $5 pool for the account")
    for line in addons:
        if line.shared_from:
            continue   # billed to its owner
        if line.billed_cents is not None:
            est.add(line.plan, line.billed_cents / 100, "what Heroku bills (the API's billed_price)")
        else:
            price = HEROKU_ADDON_MONTH.get(line.plan)
            est.add(line.plan, price, "list price" if price is not None else "no list price recorded")
    est.notes.append(f"Heroku list prices recorded {PRICES_RECORDED}; the API's billed_price wins where Heroku "
                     "answers one")
    return est


def migration_one_time(*, strategy: str, data_bytes: int | None, dms_instance_class: str = "dms.t3.medium",
                       landing_monthly_total: float = 0.0, parallel_days: float = 2.0,
                       heroku_monthly_total: float = 0.0,
                       image_build_minutes: float = 10.0, transitions: int = 600) -> Estimate:
    """The migration's own cost, once: DMS (or the dump/restore task), the image build, the state machine, and the
    days both sides run at once (the landing's services beside Heroku while traffic shifts)."""
    est = Estimate("the migration, once")
    gb = (data_bytes or 0) / 1000 ** 3
    copy_hours = max(1.0, math.ceil(gb / 20.0 + 0.5))   # ~20 GB an hour and half an hour of set-up: an estimate
    if strategy.startswith("dms"):
        rate = DMS_HOUR.get(dms_instance_class)
        est.add(f"DMS {dms_instance_class} ~{copy_hours:g} h", None if rate is None else rate * copy_hours,
                f"${rate}/h; ~20 GB/h" if rate is not None else "no price recorded for this class")
    else:
        est.add(f"pg_dump/pg_restore task ~{copy_hours:g} h", copy_hours * (1 * FARGATE_VCPU_HOUR + 4 * FARGATE_GB_HOUR),
                "1 vCPU / 4 GB Fargate task; ~20 GB/h")
    est.add(f"image build ~{image_build_minutes:g} min", image_build_minutes * CODEBUILD_MINUTE,
            f"CodeBuild general1.medium at ${CODEBUILD_MINUTE}/min")
    est.add(f"Step Functions ~{transitions} transitions", transitions * SFN_TRANSITION, "$0.025 per 1,000")
    est.add(f"both sides for ~{parallel_days:g} days",
            (landing_monthly_total + heroku_monthly_total) * parallel_days / 30,
            "the landing runs beside Heroku from deploy to switch, Heroku until you remove it")
    est.notes.append("data copied at ~20 GB an hour is a rough figure: a rehearsal against a fork measures yours")
    return est
