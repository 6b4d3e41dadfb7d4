"""``heroku2aws init``: from a Heroku app's name to samconfig.toml and the minimal input, read from the stand-in.

The stand-in serves the Platform API in the published schema's shapes (tests/heroku_api); the data stores are real
local servers (TLS Postgres and Redis, as Heroku's), so the versions and sizes init reports are read, not assumed.
"""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
import tomlkit

from heroku2aws.clients.heroku import HerokuClient
from heroku2aws_cli import init
from heroku2aws_cli import main as cli
from heroku2aws_rehearsal.heroku_api import FakeHeroku

APP, DOMAIN = "acme-storefront", "shop.acme-example.com"
PG_PASSWORD = "pg#?@/:%&=+ $pass"   # URL-special, as the rehearsal's
REDIS_PASSWORD = "redis-init-pass-31f9"
EXISTING = """\
# sam deploy --config-env <app>: one environment per Heroku app you migrate.
version = 0.1

[default.deploy.parameters]
stack_name = "heroku2aws-sample-app"
parameter_overrides = "AppName=\\"sample-app\\" HostedZoneId=\\"Z0123456789ABCDEFGHIJ\\""

# another app's environment: init must leave it as it is
[other-app.deploy.parameters]
stack_name = "heroku2aws-other-app"
parameter_overrides = "AppName=\\"other-app\\" HostedZoneId=\\"ZOTHER\\""
"""


@pytest.fixture(scope="module")
def stores():
    from urllib.parse import quote

    from heroku2aws_rehearsal.servers import PostgresServer, RedisServer

    with PostgresServer(name="init-heroku-pg", ssl=True).start() as pg, \
            RedisServer(name="init-heroku-redis", tls=True, password=REDIS_PASSWORD).start() as rd:
        pg.sql("postgres", f"CREATE ROLE app LOGIN PASSWORD '{PG_PASSWORD}'")
        pg.sql("postgres", "CREATE DATABASE app OWNER app")
        pg.sql("app", "CREATE TABLE t AS SELECT g AS id, repeat('x', 500) AS pad FROM generate_series(1, 2000) g")
        rd.client().set("k", "v" * 1000)
        yield {"DATABASE_URL": pg.url("app", user="app", password=PG_PASSWORD), "REDIS_URL": rd.url(),
               "pg_version": pg.sql("postgres", "SHOW server_version_num").strip()[:2],
               "secrets": [PG_PASSWORD, quote(PG_PASSWORD, safe=""), REDIS_PASSWORD]}


def heroku_app(fake: FakeHeroku, config: dict[str, str], plans: dict[str, str] | None = None, **kwargs) -> None:
    fake.add_app(APP, config_vars={"RAILS_ENV": "production", "PAPERTRAIL_API_TOKEN": "pt-token-8c1d", **config},
                 formation=[{"type": "web", "quantity": 2, "size": "Standard-2X", "command": "bin/web"},
                            {"type": "worker", "quantity": 1, "size": "Performance-M", "command": "bin/worker"}],
                 addon_attachments={"DATABASE": "DATABASE_URL", "REDIS": "REDIS_URL",
                                    "PAPERTRAIL": "PAPERTRAIL_API_TOKEN", "SCHEDULER": []},
                 addon_plans={"DATABASE": "heroku-postgresql:standard-0", "REDIS": "heroku-redis:premium-0",
                              "PAPERTRAIL": "papertrail:choklad", "SCHEDULER": "scheduler:standard", **(plans or {})},
                 domains={DOMAIN: "tranquil-reef-8k2lq9.herokudns.com", "www.acme-example.com": "x.herokudns.com"},
                 release_version=42, region="eu", **kwargs)


@pytest.fixture
def aws(moto):
    r53 = boto3.client("route53")
    zones = {}
    for name, private in (("acme-example.com", False), ("shop.acme-example.com", True), ("example.org", False)):
        kwargs = {"HostedZoneConfig": {"PrivateZone": True}, "VPC": {"VPCRegion": "us-east-1", "VPCId": "vpc-1"}} \
            if private else {}
        zones[(name, private)] = r53.create_hosted_zone(Name=name, CallerReference=name + str(private),
                                                        **kwargs)["HostedZone"]["Id"].split("/")[-1]
    return {"route53": r53, "secretsmanager": boto3.client("secretsmanager", region_name="eu-west-1"),
            "sts": boto3.client("sts"), "zones": zones}


def run(fake: FakeHeroku, aws, out: Path, **options):
    api = HerokuClient(fake.token, fake.url, retries=0)
    return init.run(api, APP, DOMAIN, route53=aws["route53"], secretsmanager=aws["secretsmanager"], sts=aws["sts"],
                    region=None, out=out, **options)


def test_init_reads_the_app_sizes_the_landing_and_writes_its_environment(tmp_path, aws, stores):
    (tmp_path / "samconfig.toml").write_text(EXISTING)
    with FakeHeroku() as fake:
        heroku_app(fake, {"DATABASE_URL": stores["DATABASE_URL"], "REDIS_URL": stores["REDIS_URL"]})
        result = run(fake, aws, tmp_path)
        requests = fake.requests
    s = result.survey
    assert (s.region, result.region, s.stack, s.generation, s.release_version) == (
        "eu", "eu-west-1", "heroku-24", "cedar", 42)
    assert [(p.type, p.quantity, p.size, p.cpu, p.memory) for p in s.formation] == [
        ("web", 2, "Standard-2X", 512, 1024), ("worker", 1, "Performance-M", 1024, 3072)]
    assert s.process_types == {"web": "bin/web", "worker": "bin/worker"}
    assert s.postgres.version.startswith(stores["pg_version"]) and s.postgres.bytes > 1_000_000
    assert s.redis.version and s.redis.bytes > 0
    assert "DATABASE_URL" in s.config_var_names
    # the public zone with the longest matching suffix: the private shop.acme-example.com zone is not it
    assert result.zone["id"] == aws["zones"][("acme-example.com", False)]
    p = result.choices.params
    assert (p.postgres_engine_version, p.db_instance_class, p.db_allocated_storage_gb, p.db_multi_az) == (
        stores["pg_version"], "db.t4g.medium", 64, False)
    assert (p.redis_node_type, p.redis_replicas, p.domain, p.hosted_zone_id) == (
        "cache.t4g.micro", 1, DOMAIN, result.zone["id"])
    # samconfig.toml: this app's environment added, the others and the comments kept
    text = (tmp_path / "samconfig.toml").read_text()
    assert "# another app's environment: init must leave it as it is" in text
    doc = tomlkit.parse(text)
    assert doc["other-app"]["deploy"]["parameters"]["stack_name"] == "heroku2aws-other-app"
    assert doc["default"]["deploy"]["parameters"]["stack_name"] == "heroku2aws-sample-app"
    mine = doc[APP]["deploy"]["parameters"]
    assert mine["stack_name"] == f"heroku2aws-{APP}" and mine["region"] == "eu-west-1"
    assert mine["parameter_overrides"] == p.to_overrides()
    assert doc[APP]["build"]["parameters"]["cached"] is True
    # the minimal input
    events = json.loads((tmp_path / "events" / f"{APP}.json").read_text())
    account = aws["sts"].get_caller_identity()["Account"]
    assert events == {"version": 1, "heroku": {"app": APP, "api_key_secret_arn":
                      f"arn:aws:secretsmanager:eu-west-1:{account}:secret:heroku2aws/{APP}/heroku-api-key"},
                      "dns": {"record_name": DOMAIN}}
    # the report: found, chose and why, add-ons, estimates, next steps; no secret anywhere
    lines = "\n".join(init.report(result))
    for expected in ("db.t4g.medium", "smallest class with at least standard-0's 4 GB RAM", "Multi-AZ: no",
                     "cache.t4g.micro", "papertrail:choklad: replaced -> CloudWatch Logs",
                     "scheduler:standard: replaced -> EventBridge Scheduler", "AWS landing, a month",
                     "Heroku today, a month", "the migration, once", "aws secretsmanager create-secret",
                     "Standard-2X -> Fargate 0.5 vCPU / 1 GB", "tranquil-reef-8k2lq9.herokudns.com"):
        assert expected in lines, expected
    written = text + json.dumps(events)
    for secret in [*stores["secrets"], fake.token, "pt-token-8c1d"]:
        assert secret not in lines and secret not in written
    assert {r["path"] for r in requests} >= {f"/apps/{APP}/releases", f"/apps/{APP}/domains", f"/apps/{APP}/addons"}


def test_an_existing_key_secret_gives_its_full_arn_and_a_rerun_replaces_only_this_environment(tmp_path, aws):
    arn = aws["secretsmanager"].create_secret(Name=f"heroku2aws/{APP}/heroku-api-key", SecretString="x")["ARN"]
    with FakeHeroku() as fake:
        heroku_app(fake, {})
        first = run(fake, aws, tmp_path, connect=False, postgres_version="16")
        again = run(fake, aws, tmp_path, connect=False, postgres_version="15")
    assert first.key_exists and json.loads(first.events.read_text())["heroku"]["api_key_secret_arn"] == arn
    doc = tomlkit.parse((tmp_path / "samconfig.toml").read_text())
    assert list(doc) == ["version", APP]
    assert 'PostgresEngineVersion="15"' in doc[APP]["deploy"]["parameters"]["parameter_overrides"]
    assert "create-secret" not in "\n".join(init.report(again))


def test_premium_plans_are_multi_az_and_an_unknown_plan_is_refused_unless_sized(tmp_path, aws):
    with FakeHeroku() as fake:
        heroku_app(fake, {}, plans={"DATABASE": "heroku-postgresql:premium-4", "REDIS": "heroku-redis:premium-7"})
        r = run(fake, aws, tmp_path, connect=False, postgres_version="16")
    assert (r.choices.params.db_instance_class, r.choices.params.db_multi_az) == ("db.r6g.xlarge", True)
    assert r.choices.params.redis_node_type == "cache.r6g.large"
    with FakeHeroku() as fake:
        heroku_app(fake, {}, plans={"DATABASE": "heroku-postgresql:premium-l-9"})
        with pytest.raises(init.InitError, match="premium-l-9.*--db-class"):
            run(fake, aws, tmp_path, connect=False, postgres_version="16")
        r = run(fake, aws, tmp_path, connect=False, postgres_version="16", db_class="db.r6g.8xlarge",
                db_storage_gb=6000, db_multi_az=True)
    assert (r.choices.params.db_instance_class, r.choices.params.db_allocated_storage_gb) == ("db.r6g.8xlarge", 6000)
    assert any("sized by --db-class" in w for w in r.choices.warnings)


@pytest.mark.parametrize(("setup", "message"), [
    (lambda fake: None, "no Heroku app named acme-storefront"),
    (lambda fake: (heroku_app(fake, {}), fake.fail_next(f"/apps/{APP}", status=403, body={
        "id": "forbidden", "message": "You do not have access to the app acme-storefront."})), "no access to app"),
])
def test_heroku_refusals_are_clear(tmp_path, aws, setup, message):
    with FakeHeroku() as fake:
        setup(fake)
        with pytest.raises(init.InitError, match=message):
            run(fake, aws, tmp_path, connect=False)
    assert not (tmp_path / "samconfig.toml").exists()


def test_a_refused_key_and_a_domain_outside_the_app_or_the_account_are_refused(tmp_path, aws):
    with FakeHeroku() as fake:
        heroku_app(fake, {})
        api = HerokuClient("HRKU-not-the-key", fake.url, retries=0)
        with pytest.raises(init.InitError, match="refused the key"):
            init.run(api, APP, DOMAIN, route53=aws["route53"], secretsmanager=aws["secretsmanager"], sts=aws["sts"],
                     region=None, out=tmp_path, connect=False)
        api = HerokuClient(fake.token, fake.url, retries=0)
        with pytest.raises(init.InitError, match="not a custom domain of acme-storefront"):
            init.run(api, APP, "api.acme-example.com", route53=aws["route53"], secretsmanager=aws["secretsmanager"],
                     sts=aws["sts"], region=None, out=tmp_path, connect=False, postgres_version="16")
    with pytest.raises(init.InitError, match="in no public Route 53 hosted zone"):
        init.find_hosted_zone(aws["route53"], "shop.acme-example.net")


def test_the_key_comes_from_the_environment_or_the_heroku_cli_s_netrc(tmp_path):
    assert init.api_key({"HEROKU_API_KEY": "HRKU-env"}) == "HRKU-env"
    netrc = tmp_path / "netrc"
    netrc.write_text("machine git.heroku.com\n  login me@example.com\n  password HRKU-git\n"
                     "machine api.heroku.com\n  login me@example.com\n  password HRKU-netrc\n")
    netrc.chmod(0o600)
    assert init.api_key({"NETRC": str(netrc)}) == "HRKU-netrc"
    with pytest.raises(init.InitError, match="no Heroku API key") as refused:
        init.api_key({"HOME": str(tmp_path / "nobody")})
    assert "HRKU" not in str(refused.value)


def test_the_command_runs_from_the_dispatcher_and_never_prints_the_key(tmp_path, aws, monkeypatch, capsys):
    with FakeHeroku() as fake:
        heroku_app(fake, {})
        monkeypatch.setenv("HEROKU_API_KEY", fake.token)
        monkeypatch.setenv("HEROKU_API_URL", fake.url)
        status = cli.main(["init", "--app", APP, "--domain", DOMAIN, "--out", str(tmp_path), "--no-connect",
                           "--postgres-version", "16", "--region", "eu-west-1", "--ci", "github",
                           "--repo", "acme/storefront"])
        out = capsys.readouterr()
        assert status == 0, out.err
        assert fake.token not in out.out + out.err
        overrides = tomlkit.parse((tmp_path / "samconfig.toml").read_text())[APP]["deploy"]["parameters"][
            "parameter_overrides"]
        assert "wrote" in out.out and 'GitHubRepository="acme/storefront"' in overrides
        monkeypatch.delenv("HEROKU_API_KEY")
        monkeypatch.setenv("HOME", str(tmp_path))
        monkeypatch.delenv("NETRC", raising=False)
        assert cli.main(["init", "--app", APP, "--domain", DOMAIN, "--out", str(tmp_path)]) == 2
        assert "no Heroku API key" in capsys.readouterr().err


def test_plan_shows_the_add_ons_fate_and_the_costs_beside_heroku_s(tmp_path, monkeypatch, capsys):
    production = Path(__file__).resolve().parents[2] / "events" / "production.json"
    with FakeHeroku() as fake:
        heroku_app(fake, {})
        monkeypatch.setenv("HEROKU_API_KEY", fake.token)
        monkeypatch.setenv("HEROKU_API_URL", fake.url)
        assert cli.main(["plan", "--input", str(production), "--heroku", "--json"]) == 0
    out = capsys.readouterr()
    landing = json.loads(out.out.strip().splitlines()[-1])["landing"]
    assert {a["plan"]: a["action"] for a in landing["addons"]} == {
        "heroku-postgresql:standard-0": "migrated", "heroku-redis:premium-0": "migrated",
        "papertrail:choklad": "replaced", "scheduler:standard": "replaced"}
    estimates = landing["estimates"]
    assert estimates["Heroku today, a month"]["total_usd"] == 100 + 250 + 50 + 15
    assert estimates["AWS landing, a month"]["total_usd"] > 0 and estimates["the migration, once"]["total_usd"] > 0
    assert "papertrail:choklad: replaced -> CloudWatch Logs" in out.err and "(estimate)" in out.err
    assert fake.token not in out.out + out.err


def test_plan_without_a_heroku_key_says_so(monkeypatch, tmp_path, capsys):
    production = Path(__file__).resolve().parents[2] / "events" / "production.json"
    monkeypatch.delenv("HEROKU_API_KEY", raising=False)
    monkeypatch.delenv("NETRC", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cli.main(["plan", "--input", str(production), "--heroku", "--json"]) == 0
    landing = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["landing"]
    assert "no Heroku API key" in landing["error"]


@pytest.mark.parametrize(("option", "message"), [({"health_check_path": "up"}, "--health-path"),
                                                 ({"health_check_path": "/up now"}, "--health-path"),
                                                 ({"app_port": 0}, "--port")])
def test_options_the_template_would_refuse_are_refused_first(tmp_path, aws, option, message):
    with FakeHeroku() as fake:
        heroku_app(fake, {})
        with pytest.raises(init.InitError, match=message):
            run(fake, aws, tmp_path, connect=False, postgres_version="16", **option)
    assert not (tmp_path / "samconfig.toml").exists()


def test_plan_lists_the_schedules_the_jobs_become(tmp_path, capsys):
    production = json.loads((Path(__file__).resolve().parents[2] / "events" / "production.json").read_text())
    production["scheduler"] = {"jobs": [{"name": "nightly", "command": "bin/rake nightly",
                                         "schedule": "cron(0 2 * * ? *)"}]}
    path = tmp_path / "input.json"
    path.write_text(json.dumps(production))
    assert cli.main(["plan", "--input", str(path), "--json"]) == 0
    resources = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["resources"]
    schedules = [r for r in resources if r["kind"] == "EventBridge Scheduler schedule"]
    assert [r["name"] for r in schedules] == [f"h2a-{APP}.nightly"]
    assert "DISABLED until the switch" in schedules[0]["details"]
    assert any(r["name"] == f"{APP}-scheduler" for r in resources)


def test_init_creates_the_output_directory_it_is_given(tmp_path, aws):
    out = tmp_path / "not" / "yet"
    with FakeHeroku() as fake:
        heroku_app(fake, {})
        result = run(fake, aws, out, connect=False, postgres_version="16")
    assert result.samconfig == out / "samconfig.toml" and result.samconfig.is_file()
    assert APP in tomlkit.parse(result.samconfig.read_text())
