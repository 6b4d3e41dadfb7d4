"""Issue 16 end to end: `heroku2aws init` against the Heroku stand-in, the stack deployed with its Landing=create
parameters (RDS and ElastiCache on the local target servers), and the migration from init's minimal input."""

from __future__ import annotations

import json
import urllib.request

import pytest

from heroku2aws_rehearsal.world import APP


@pytest.fixture(scope="module")
def landing_world(emulated_aws):
    from heroku2aws_rehearsal.world import World

    world = World(aws=emulated_aws, landing=True)
    world.start()
    yield world
    world.stop()


@pytest.fixture
def world(landing_world):
    """This module's world (the conftest's ``rehearse`` runs in it and scans it for leaked secrets)."""
    return landing_world


def test_given_init_and_the_landing_when_the_minimal_input_runs_then_the_app_is_migrated(world, rehearse):
    # Given what init wrote: the minimal input and the samconfig parameters the stack was deployed with,
    minimal = json.loads(open(world.ids["events_path"]).read())
    assert set(minimal) == {"version", "heroku", "dns"}
    assert world.stack.parameters["Landing"] == "create"
    # when the migration runs from it,
    report = rehearse()
    # then it succeeds, the source secrets having been written from Heroku's config vars by the workflow,
    assert report["status"] == "SUCCEEDED", (report["error"], report["cause"])
    names = [s["name"] for s in report["states"]]
    assert "Create the source secrets from Heroku's config vars" in names
    assert report["verification"]["postgres"]["match"] is True
    assert report["verification"]["redis"]["match"] is True
    assert report["traffic"] == {"aws": 100, "heroku": 0}
    assert report["leftovers"] == [] and report["source_intact"] is True
    sfn = world.aws.client("stepfunctions")
    started = json.loads(sfn.describe_execution(executionArn=report["execution_arn"])["input"])
    assert not {"source", "target", "ecs", "load_balancer"} & set(started)  # no ARN pasted by a person
    sm = world.aws.client("secretsmanager")
    tags = {t["Key"]: t["Value"] for t in sm.describe_secret(SecretId=f"heroku2aws/{APP}/source-postgres")["Tags"]}
    assert tags["heroku2aws:managed"] == "true"
    # and the app, through the ALB's stand-in, serves from the landing's RDS and ElastiCache.
    with urllib.request.urlopen(world.ids["health_url"], timeout=5) as resp:  # noqa: S310
        health = json.loads(resp.read())
    assert str(world.target_pg.port) in health["database"]
    assert str(world.target_redis.port) in health["redis"]


def _landing_only_states() -> list[str]:
    from test_fault_matrix import LANDING_ONLY

    return sorted(LANDING_ONLY)


@pytest.mark.parametrize("state", _landing_only_states())
def test_given_a_failure_in_a_landing_only_state_when_rehearsed_then_everything_is_rolled_back(world, rehearse, state):
    from workflow_helpers import assert_rolled_back, heroku_app

    world.refresh()
    before = heroku_app(world)
    report = rehearse(fail_at=[state])
    assert "notes" not in report, report.get("notes")  # the fault fired: the minimal input reached the state
    assert_rolled_back(world, report, before)
    assert json.loads(report["cause"])["Error"] == "Rehearsal.InjectedFailure"
    sm = world.aws.client("secretsmanager")
    for store in ("postgres", "redis"):  # written or not, none is left live
        name = f"heroku2aws/{APP}/source-{store}"
        listed = sm.list_secrets(Filters=[{"Key": "name", "Values": [name]}])["SecretList"]
        assert all(s.get("DeletedDate") for s in listed), name
