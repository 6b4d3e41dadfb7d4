"""Everything a rehearsal migrates from and to, started on this machine.

- "Heroku": the Platform API stand-in with the sample app (config vars, formation, maintenance),
  a PostgreSQL cluster as Heroku Postgres (TLS, a role without REPLICATION, as Heroku grants) and a
  TLS Redis as Heroku Redis, both seeded with the sample app's data.
- "AWS": the emulated account with what a team has before it starts — a VPC and subnets, a
  security group, an ECS cluster, an ALB with its target group (and a local proxy in front of the
  targets, so the synthetic probe goes through "the ALB"), a hosted zone whose record is a CNAME to
  Heroku, the connection secrets — plus a PostgreSQL cluster as RDS and a Redis as ElastiCache.
- The stack, deployed from ``template.yaml``.

Rehearsal is emulation: it proves the workflow, the code, the data path and the permissions as
written (IAM is enforced: ``services/iam``); not quotas or AWS's timings.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import secrets as pysecrets
import shutil
import socketserver
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import quote

from . import engine_paths
from .aws import EmulatedAws
from .deploy import Stack, deploy
from .patches import local
from .servers import PostgresServer, RedisServer, free_port

APP = "sample-app"
DOMAIN = "example.com"
RECORD = f"www.{DOMAIN}"
HEROKU_DNS_TARGET = "sample-app-7d3f9a1c.herokudns.com"
PRE_EXISTING_TAG = "rehearsal:pre-existing"
EXECUTION_ROLE = f"heroku2aws-{APP}-execution"
#: events/rehearsal.json's timings: a rehearsal waits seconds where production waits minutes.
REHEARSAL_TIMINGS = {"poll_seconds": 1, "bake_seconds": 1, "dns_insync_timeout_seconds": 30, "dms_timeout_seconds": 120,
                     "service_stable_timeout_seconds": 60, "approval_timeout_seconds": 30}


def samconfig_parameters(path: Path, env: str) -> dict[str, str]:
    """``[<env>.deploy.parameters] parameter_overrides`` of a samconfig.toml, parsed as SAM CLI parses it."""
    import tomllib

    from samcli.cli.types import CfnParameterOverridesType

    doc = tomllib.loads(path.read_text())
    overrides = doc[env]["deploy"]["parameters"]["parameter_overrides"]
    return dict(CfnParameterOverridesType().convert(overrides, None, None))
#: The sample app's add-ons as Heroku lists them (attachment -> the config vars it sets; its plan): what `heroku2aws
#: init` reads and maps (Postgres and Redis migrated, Papertrail replaced by CloudWatch Logs, Scheduler by
#: EventBridge Scheduler).
ADDON_ATTACHMENTS: dict[str, list[str]] = {"DATABASE": ["DATABASE_URL"], "REDIS": ["REDIS_URL"],
                                           "PAPERTRAIL": ["PAPERTRAIL_API_TOKEN"], "SCHEDULER": []}
ADDON_PLANS = {"DATABASE": "heroku-postgresql:standard-0", "REDIS": "heroku-redis:premium-0",
               "PAPERTRAIL": "papertrail:choklad", "SCHEDULER": "scheduler:standard"}
RELEASE_VERSION = 7
#: The sample app's Heroku Scheduler job, as a team copies it into the execution input (scheduler.jobs).
SCHEDULER_JOBS = [{"name": "nightly", "command": "python -m heroku2aws_rehearsal.sample_app.release",
                   "schedule": "cron(0 2 * * ? *)"}]


class AlbProxy:
    """A stand-in for the ALB's listener: forwards each request to a healthy target, round robin."""

    def __init__(self, target_group_arn: str) -> None:
        self.target_group_arn = target_group_arn
        self.port = free_port()
        self._rr = itertools.count()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):  # noqa: N802
                ports = proxy.healthy_ports()
                if not ports:
                    self.send_response(503)
                    self.end_headers()
                    self.wfile.write(b"503 Service Unavailable: no healthy targets")
                    return
                port = ports[next(proxy._rr) % len(ports)]
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}{self.path}", timeout=5) as r:  # noqa: S310
                        status, body = r.status, r.read()
                except urllib.error.HTTPError as exc:
                    status, body = exc.code, exc.read()
                except OSError:
                    status, body = 502, b"502 Bad Gateway"
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def healthy_ports(self) -> list[int]:
        return [port for (tg, _), port in list(local.TARGET_PORTS.items()) if tg == self.target_group_arn]

    def start(self) -> AlbProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass
class World:
    source_replication: bool = False
    #: Issue 16: no AWS side made by hand. `heroku2aws init` runs against the Heroku stand-in, the stack is deployed
    #: with its Landing=create parameters (RDS and ElastiCache mapped to the local target servers: :meth:`postgres`,
    #: :meth:`redis`) and the execution input is init's minimal one. False: the bring-your-own account and full input.
    landing: bool = False
    target_user: str = "app"
    #: Passwords full of URL-special characters (legal in Postgres passwords and ElastiCache AUTH tokens), so a
    #: rehearsal proves none of them leaks through a URL parser into a log, an error or the history.
    special_passwords: bool = True
    stack_name: str = "heroku2aws-sample-app"
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="h2a-rehearsal-")))
    aws: EmulatedAws | None = None
    stack: Stack | None = None
    ids: dict[str, Any] = field(default_factory=dict)
    secret_values: list[str] = field(default_factory=list)
    seeded: dict[str, Any] = field(default_factory=dict)
    _closers: list[Any] = field(default_factory=list)

    # ------------------------------------------------------------------ lifecycle
    def _password(self) -> str:
        base = pysecrets.token_urlsafe(18)
        # every character a URL gives a meaning to, and a space; no quote or backslash (SQL string literals)
        return f"{base[:9]}#?@/:%&=+ ${base[9:]}" if self.special_passwords else base

    def start(self, progress=lambda msg: None) -> World:
        try:
            self._start(progress)
        except BaseException:
            self.stop()
            raise
        return self

    def _claim_globals(self) -> None:
        """Point the engine's process-wide paths at this world: where local processes run, where their logs go and
        where the build stage's image roots live. Another world started in the same process (a test module with
        its own) moves them; this world takes them back at its next refresh, and a stopped world gives them back."""
        if getattr(self, "_previous_globals", None) is None:
            self._previous_globals = (engine_paths.RUN_DIR, local.LOG_DIR, local.IMAGE_ROOTS)
        engine_paths.RUN_DIR = self.root
        local.LOG_DIR = self.log_dir
        local.IMAGE_ROOTS = self.root / "images"  # per world: two test processes never unpack into one root

    def _release_globals(self) -> None:
        previous = getattr(self, "_previous_globals", None)
        if previous is not None and self.root == engine_paths.RUN_DIR:
            engine_paths.RUN_DIR, local.LOG_DIR, local.IMAGE_ROOTS = previous

    def _start(self, progress) -> None:
        # Logs outlive the rehearsal (the temporary directory does not): .rehearsal/logs/<run>/
        runs = engine_paths.ROOT / ".rehearsal" / "logs"
        runs.mkdir(parents=True, exist_ok=True)
        for old in sorted(runs.iterdir())[:-9]:
            shutil.rmtree(old, ignore_errors=True)
        self.log_dir = runs / f"{time.strftime('%Y%m%dT%H%M%S')}-{self.root.name}"
        self._claim_globals()
        progress("starting PostgreSQL (Heroku Postgres, RDS) and Redis (Heroku Redis, ElastiCache)")
        self.source_pg = self._keep(PostgresServer(name="heroku-postgres", ssl=True).start())
        self.target_pg = self._keep(PostgresServer(name="rds", ssl=True).start())  # RDS offers TLS too
        self.source_redis = self._keep(RedisServer(name="heroku-redis", tls=True, password=self._password()).start())
        # The landing's ElastiCache has TransitEncryptionEnabled: TLS, like the real one.
        self.target_redis = self._keep(RedisServer(name="elasticache", tls=self.landing, password=self._password()).start())
        self.app_password_src = self._password()
        self.app_password_tgt = self._password()
        repl = "REPLICATION" if self.source_replication else "NOREPLICATION"
        self.source_pg.sql("postgres", f"CREATE ROLE app LOGIN {repl} PASSWORD '{self.app_password_src}'")
        self.source_pg.sql("postgres", "CREATE DATABASE app OWNER app")
        if not self.landing:  # the landing's RDS instance brings its master user and database (postgres())
            self.target_pg.sql("postgres", f"CREATE ROLE app LOGIN CREATEDB PASSWORD '{self.app_password_tgt}'")
            self.target_pg.sql("postgres", "CREATE DATABASE app OWNER app")
        self.secret_values += [self.source_pg.password, self.target_pg.password, self.app_password_src,
                               self.app_password_tgt, self.source_redis.password, self.target_redis.password]
        # ... and the forms a URL gives them (percent-encoded userinfo)
        self.secret_values += [quote(p, safe="") for p in self.secret_values if p and quote(p, safe="") != p]

        progress("seeding the sample app's data")
        from .sample_app import seed

        self.seeded["postgres"] = seed.seed_postgres(self.source_url())
        self.seeded["redis"] = seed.seed_redis(self.source_redis.url())

        progress("starting the Heroku Platform API stand-in")
        self._start_heroku()

        if self.aws is None:
            progress("starting emulated AWS")
            self.aws = EmulatedAws().start()
            self._closers.append(self.aws)
        progress("deploying template.yaml into the emulated account")
        self._deploy_account()

    def _deploy_account(self) -> None:
        assert self.aws is not None
        self.aws.reset()
        if getattr(self, "alb", None) is not None:
            self.alb.stop()
            self._closers.remove(self.alb)
        if self.landing:
            self._deploy_landing()
        else:
            self._create_account()
            self.stack = deploy(self.aws, self.stack_name, {"AppName": APP, "HostedZoneId": self.ids["hosted_zone_id"]})
        self.ids["state_machine_arn"] = self.stack.outputs["StateMachineArn"]
        self.ids["topic_arn"] = self.stack.outputs["NotificationTopicArn"]
        self._push_task_image()
        self.baseline = self.inventory()

    # ------------------------------------------------------------------ the landing (Landing=create, issue 16)
    def _deploy_landing(self) -> None:
        """What a team does with the landing: the domain's zone and Heroku's CNAME exist, the Heroku key is in its
        secret; `heroku2aws init --app APP --domain DOMAIN`; `sam deploy --config-env APP` (its parameters)."""
        assert self.aws is not None
        aws = self.aws
        r53 = aws.client("route53")
        zone = r53.create_hosted_zone(Name=DOMAIN, CallerReference="rehearsal")["HostedZone"]["Id"].split("/")[-1]
        r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [{"Action": "CREATE",
            "ResourceRecordSet": {"Name": RECORD, "Type": "CNAME", "TTL": 300,
                                  "ResourceRecords": [{"Value": HEROKU_DNS_TARGET}]}}]})
        key_arn = aws.client("secretsmanager").create_secret(
            Name=f"heroku2aws/{APP}/heroku-api-key", SecretString=self.heroku_token,
            Tags=[{"Key": "heroku2aws:app", "Value": APP}, {"Key": PRE_EXISTING_TAG, "Value": "true"}])["ARN"]
        from heroku2aws.clients.heroku import HerokuClient
        from heroku2aws_cli import init

        out = self.root / "init"
        out.mkdir(parents=True, exist_ok=True)
        result = init.run(HerokuClient(self.heroku_token, self.heroku.url), APP, RECORD, route53=r53,
                          secretsmanager=aws.client("secretsmanager"), sts=aws.client("sts"), region="us-east-1",
                          out=out, health_check_path="/health")
        self.init_report = init.report(result)
        parameters = samconfig_parameters(result.samconfig, APP)
        self.stack = deploy(aws, self.stack_name, parameters, stores=self)
        stack = self.stack
        self.alb = AlbProxy(stack.ref("LandingWebTargetGroup")).start()
        self._closers.append(self.alb)
        self.ids.update(
            hosted_zone_id=zone, record_name=RECORD, heroku_dns_target=HEROKU_DNS_TARGET, heroku_api_url=self.heroku.url,
            heroku_api_key_secret_arn=key_arn, cluster_arn=stack.attr("LandingCluster", "Arn"),
            target_group_arn=stack.ref("LandingWebTargetGroup"), load_balancer_arn=stack.ref("LandingLoadBalancer"),
            load_balancer_dns=stack.attr("LandingLoadBalancer", "DNSName"),
            health_url=f"http://127.0.0.1:{self.alb.port}/health", events_path=str(result.events),
            target_postgres_secret_arn=stack.ref("LandingTargetPostgresSecret"),
            target_redis_secret_arn=stack.ref("LandingTargetRedisSecret"))

    def postgres(self, *, identifier: str, username: str, password: str, dbname: str) -> tuple[str, int]:
        """The landing's RDS instance on the local target server: its master user and database, as CreateDBInstance
        makes them (RDS's master user may create databases and roles; it is no superuser)."""
        self.target_pg.sql("postgres", f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)")
        self.target_pg.sql("postgres", f"DROP ROLE IF EXISTS {username}")
        self.target_pg.sql("postgres", f"CREATE ROLE {username} LOGIN CREATEDB CREATEROLE PASSWORD '{password}'")
        self.target_pg.sql("postgres", f"CREATE DATABASE {dbname} OWNER {username}")
        self.target_user, self.app_password_tgt = username, password
        self.secret_values += [password, quote(password, safe="")]
        return "127.0.0.1", self.target_pg.port

    def redis(self, *, identifier: str, auth_token: str | None, tls: bool) -> tuple[str, int]:
        """The landing's ElastiCache on the local target Redis: AUTH with the generated token, TLS when asked."""
        if tls != bool(self.target_redis.tls):
            raise ValueError(f"{identifier}: TransitEncryptionEnabled={tls} but the local ElastiCache has TLS "
                             f"{self.target_redis.tls}")
        if auth_token:
            self.target_redis.client().config_set("requirepass", auth_token)
            self.target_redis.password = auth_token
            self.secret_values.append(auth_token)
        return "127.0.0.1", self.target_redis.port

    def _push_task_image(self) -> None:
        """What `make image` does on AWS: the tasks' image in the stack's repository at TaskImageTag. Here the
        tasks run from this checkout (``python -m heroku2aws.tasks.…``), so only the manifest is pushed."""
        assert self.aws is not None and self.stack is not None
        repository = self.stack.ref("TaskImageRepository")
        tag = self.stack.parameters["TaskImageTag"]
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                    "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 0,
                               "digest": "sha256:" + "0" * 64}, "layers": []}
        self.aws.client("ecr").put_image(repositoryName=repository, imageManifest=json.dumps(manifest), imageTag=tag)

    def refresh(self) -> None:
        """Back to the state before any migration (for tests that run many): a fresh emulated
        account and stack, empty targets, the Heroku app as it was. The sources are never touched."""
        self._claim_globals()
        self.heroku.stop()
        self._closers.remove(self.heroku)
        self._start_heroku()
        self._deploy_account()
        # A migration that succeeded leaves the source read-only (the freeze holds after the switch): the next
        # test starts from the app as it was. The one-off writer's table goes too (one_off.py).
        self.source_pg.sql("postgres", "ALTER DATABASE app RESET default_transaction_read_only;")
        self.source_pg.sql("app", "DROP TABLE IF EXISTS one_off_writes;")
        if not self.landing:  # with the landing, the new deploy's RDS instance came with a new database
            self.target_pg.sql("app", "DROP SCHEMA public CASCADE; CREATE SCHEMA public AUTHORIZATION app;")
        self.target_redis.client().flushall()

    def _keep(self, server):
        self._closers.append(server)
        return server

    def stop(self) -> None:
        for closer in reversed(self._closers):
            with contextlib.suppress(Exception):
                closer.stop()
        self._closers.clear()
        self._release_globals()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> World:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ URLs (never printed)
    def source_url(self) -> str:
        return self.source_pg.url("app", user="app", password=self.app_password_src)

    def target_url(self) -> str:
        return self.target_pg.url("app", user=self.target_user, password=self.app_password_tgt)

    # ------------------------------------------------------------------ Heroku
    def _start_heroku(self) -> None:
        from .heroku_api import FakeHeroku
        from .sample_app import CONFIG_VARS, PROCFILE_PATH

        self.heroku_token = "HRKU-" + pysecrets.token_hex(16)
        self.secret_values.append(self.heroku_token)
        self.secret_values += [v for k, v in CONFIG_VARS.items() if "KEY" in k or "SECRET" in k or "TOKEN" in k]
        procfile = Path(PROCFILE_PATH).read_text()
        self.ids["procfile"] = procfile
        commands = dict(line.split(":", 1) for line in procfile.splitlines() if ":" in line and not line.startswith("#"))
        config = dict(CONFIG_VARS)
        config["DATABASE_URL"] = self.source_url()
        config["REDIS_URL"] = self.source_redis.url()
        config["PAPERTRAIL_API_TOKEN"] = pysecrets.token_urlsafe(15)  # an add-on's var: it travels like the others
        self.secret_values += [config["DATABASE_URL"], config["REDIS_URL"], config["PAPERTRAIL_API_TOKEN"]]
        self.heroku = FakeHeroku(token=self.heroku_token)
        self.heroku.add_app(
            APP, config_vars=config,
            formation=[{"type": t, "quantity": 1, "size": "standard-1x", "command": commands[t].strip()}
                       for t in ("web", "worker") if t in commands],
            addon_attachments=ADDON_ATTACHMENTS, addon_plans=ADDON_PLANS, domains={RECORD: HEROKU_DNS_TARGET},
            release_version=RELEASE_VERSION,
        )
        # The current release's slug: the sample app's code and .profile.d as a real .tgz (the build stage's input).
        from .sample_app.slug_archive import slug_archive

        self.heroku.set_slug_blob(APP, slug_archive())
        # A Heroku Scheduler job running when the migration starts: maintenance and the formation do not stop it.
        self.heroku.run_one_off(APP, "python -m app.jobs nightly", "scheduler")
        self.heroku.start()
        self._closers.append(self.heroku)

    # ------------------------------------------------------------------ the AWS account before migration
    def _create_account(self) -> None:
        assert self.aws is not None
        aws = self.aws
        ec2, ecs, elb = aws.client("ec2"), aws.client("ecs"), aws.client("elbv2")
        vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
        subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.42.{i}.0/24", AvailabilityZone=f"us-east-1{az}")
                   ["Subnet"]["SubnetId"] for i, az in ((1, "a"), (2, "b"))]
        sg = ec2.create_security_group(GroupName="sample-app", Description="sample app", VpcId=vpc)["GroupId"]
        cluster = ecs.create_cluster(clusterName="sample-app")["cluster"]["clusterArn"]
        lb = elb.create_load_balancer(Name="sample-app", Subnets=subnets, SecurityGroups=[sg], Scheme="internet-facing",
                                      Type="application")["LoadBalancers"][0]
        tg = elb.create_target_group(Name="sample-app-web", Protocol="HTTP", Port=5000, VpcId=vpc, TargetType="ip",
                                     HealthCheckPath="/health", HealthCheckIntervalSeconds=10)["TargetGroups"][0]
        elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                            DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}])
        # The app's execution role, named for the app: the workflow may pass only roles so named (template.yaml).
        role = aws.client("iam").create_role(RoleName=EXECUTION_ROLE, AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                                                    "Action": "sts:AssumeRole"}]}),
            Tags=[{"Key": "heroku2aws:app", "Value": APP}])["Role"]["Arn"]
        # What a team's execution role holds: ECS's managed policy (image pull, awslogs) and the app's secret.
        aws.client("iam").attach_role_policy(
            RoleName=EXECUTION_ROLE,
            PolicyArn="arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy")
        aws.client("iam").put_role_policy(RoleName=EXECUTION_ROLE, PolicyName="read-app-secrets",
                                          PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{
                                              "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                                              "Resource": f"arn:aws:secretsmanager:us-east-1:{role.split(':')[4]}"
                                                          f":secret:heroku2aws/{APP}/*"}]}))
        r53 = aws.client("route53")
        zone = r53.create_hosted_zone(Name=DOMAIN, CallerReference="rehearsal")["HostedZone"]["Id"].split("/")[-1]
        r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [{"Action": "CREATE",
            "ResourceRecordSet": {"Name": RECORD, "Type": "CNAME", "TTL": 300,
                                  "ResourceRecords": [{"Value": HEROKU_DNS_TARGET}]}}]})
        self.alb = AlbProxy(tg["TargetGroupArn"]).start()
        self._closers.append(self.alb)

        sm = aws.client("secretsmanager")
        tags = [{"Key": "heroku2aws:app", "Value": APP}, {"Key": PRE_EXISTING_TAG, "Value": "true"}]

        def secret(name: str, value: Any) -> str:
            text = value if isinstance(value, str) else json.dumps(value)
            return sm.create_secret(Name=f"heroku2aws/{APP}/{name}", SecretString=text, Tags=tags)["ARN"]

        def pg_doc(server: PostgresServer, password: str, ssl: bool) -> dict:
            doc = {"engine": "postgres", "host": "127.0.0.1", "port": server.port, "username": "app",
                   "password": password, "dbname": "app"}
            if ssl:
                doc["sslmode"] = "require"
            return doc

        self.ids.update(
            vpc=vpc, subnet_a=subnets[0], subnet_b=subnets[1], security_group=sg, cluster_arn=cluster,
            load_balancer_arn=lb["LoadBalancerArn"], load_balancer_dns=lb["DNSName"],
            target_group_arn=tg["TargetGroupArn"], hosted_zone_id=zone, record_name=RECORD,
            heroku_dns_target=HEROKU_DNS_TARGET, execution_role_arn=role,
            health_url=f"http://127.0.0.1:{self.alb.port}/health",
            heroku_api_url=self.heroku.url,
            heroku_api_key_secret_arn=secret("heroku-api-key", self.heroku_token),
            source_postgres_secret_arn=secret("source-postgres", pg_doc(self.source_pg, self.app_password_src, True)),
            target_postgres_secret_arn=secret("target-postgres", pg_doc(self.target_pg, self.app_password_tgt, False)),
            source_redis_secret_arn=secret("source-redis", {"url": self.source_redis.url()}),
            target_redis_secret_arn=secret("target-redis", {"url": self.target_redis.url()}),
        )

    # ------------------------------------------------------------------ the execution input
    def execution_input(self, path: Path | None = None, overrides: dict | None = None) -> dict:
        """``events/rehearsal.json`` with its ``{{placeholders}}`` filled from this world."""
        if self.landing and path is None:
            # init's minimal input (events/<app>.json), with what only a rehearsal changes: the Heroku stand-in's URL,
            # the ALB stand-in as the probe's URL, seconds instead of minutes, no approval.
            doc = json.loads(Path(self.ids["events_path"]).read_text())
            doc["heroku"]["api_url"] = self.heroku.url
            doc.update(health_url=self.ids["health_url"], approval={"required": False}, timings=REHEARSAL_TIMINGS)
            # The sample app has Heroku Scheduler (no API: a team copies its jobs into the input, as init says): its
            # nightly job becomes an EventBridge Scheduler schedule, created disabled and enabled at the switch.
            doc.setdefault("scheduler", {"jobs": SCHEDULER_JOBS})
            from heroku2aws.contracts.input import Ecs

            if Ecs.model_fields["image"].is_required():  # no build stage in this stack: the image is the input's
                doc["image"] = f"123456789012.dkr.ecr.us-east-1.amazonaws.com/{APP}:rehearsal"
        else:
            text = (path or engine_paths.EVENTS / "rehearsal.json").read_text()
            for key, value in self.ids.items():
                text = text.replace("{{" + key + "}}", json.dumps(str(value))[1:-1])
            doc = json.loads(text)
        for dotted, value in (overrides or {}).items():
            node = doc
            *parents, last = dotted.split(".")
            for p in parents:
                node = node.setdefault(p, {})
            node[last] = value
        return doc

    # ------------------------------------------------------------------ what exists in the account
    def inventory(self) -> set[str]:
        """Every resource in the emulated account that a migration could create or leave behind."""
        assert self.aws is not None
        aws = self.aws
        found: set[str] = set()
        sm = aws.client("secretsmanager")
        for page in sm.get_paginator("list_secrets").paginate():
            for s in page["SecretList"]:
                if not s.get("DeletedDate"):
                    found.add(f"secret:{s['Name']}")
        ecs = aws.client("ecs")
        for cluster in ecs.list_clusters()["clusterArns"]:
            arns = ecs.list_services(cluster=cluster)["serviceArns"]
            for i in range(0, len(arns), 10):
                for svc in ecs.describe_services(cluster=cluster, services=arns[i:i + 10])["services"]:
                    if svc["status"] == "ACTIVE":
                        found.add(f"ecs-service:{svc['serviceName']}")
        for arn in ecs.list_task_definitions(status="ACTIVE")["taskDefinitionArns"]:
            found.add(f"task-definition:{arn.rsplit('/', 1)[-1].rsplit(':', 1)[0]}")
        dms = aws.client("dms")
        found |= {f"dms-task:{t['ReplicationTaskIdentifier']}" for t in dms.describe_replication_tasks()["ReplicationTasks"]}
        found |= {f"dms-endpoint:{e['EndpointIdentifier']}" for e in dms.describe_endpoints()["Endpoints"]}
        found |= {f"dms-instance:{i['ReplicationInstanceIdentifier']}"
                  for i in dms.describe_replication_instances()["ReplicationInstances"]}
        found |= {f"dms-subnet-group:{g.get('ReplicationSubnetGroupIdentifier', '<unnamed>')}"
                  for g in dms.describe_replication_subnet_groups()["ReplicationSubnetGroups"]}
        for schedule in aws.client("scheduler").list_schedules()["Schedules"]:
            found.add(f"schedule:{schedule['Name']}")
        r53 = aws.client("route53")
        for zone in r53.list_hosted_zones()["HostedZones"]:
            for rr in r53.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]:
                if rr["Type"] in {"CNAME", "A", "AAAA"}:
                    found.add(f"record:{rr['Name']}:{rr['Type']}:{rr.get('SetIdentifier', '')}")
        return found
