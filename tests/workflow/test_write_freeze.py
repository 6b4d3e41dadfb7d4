"""The write freeze holds (issue 14, 3), end to end: a one-off dyno (a Heroku Scheduler job, `heroku run`) keeps
inserting rows into the source every few milliseconds through the whole migration. Every row it got a commit for
is on RDS, nothing it did not commit is, and every attempt while the data was copied was refused."""

from __future__ import annotations

import json

from workflow_helpers import heroku_app


def test_a_writer_through_the_migration_loses_nothing_and_is_refused_during_the_copy(world, rehearse):
    one_off = world.heroku.get_app_state("sample-app")["one_off_dynos"]
    assert one_off  # a Scheduler job is running at the start

    report = rehearse(writer=True)

    assert report["status"] == "SUCCEEDED", (report["error"], report["cause"])
    freeze = report["freeze"]
    assert freeze["writes_committed"] > 0
    assert freeze["committed_during_copy"] == 0
    assert freeze["refused_during_copy"] > 0
    assert freeze["lost"] == [] and freeze["on_target_not_committed"] == []
    assert freeze["held"] is True
    assert report["verification"]["postgres"]["match"] is True
    assert report["source_intact"] is True  # apart from the writer's own rows
    # the one-off dyno was stopped by the freeze, and the source stays read-only after the switch
    assert world.heroku.get_app_state("sample-app")["one_off_dynos"] == []
    assert world.source_pg.sql("app", "SHOW default_transaction_read_only").strip() == "on"
    assert heroku_app(world)["maintenance"] is True
    # the execution's own report (its output, published to SNS) says what the freeze did
    output = json.loads(world.aws.client("stepfunctions").describe_execution(
        executionArn=report["execution_arn"])["output"])
    assert output["heroku"]["stopped_dynos"] == one_off
    assert output["freeze"]["read_only"] is True and output["freeze"]["write_probe"] == "refused"
    assert output["freeze"]["sessions_ended"] >= 1  # the one-off writer's session, ended to reconnect read-only


def test_a_rollback_after_the_freeze_makes_the_source_writable_again(world, rehearse):
    report = rehearse(writer=True, fail_at=["Verify the copy"])
    assert report["error"] == "MigrationRolledBack", (report["error"], report["cause"])
    assert report["freeze"]["committed_during_copy"] == 0
    assert world.source_pg.sql("app", "SHOW default_transaction_read_only").strip() == "off"
    import psycopg

    with psycopg.connect(world.source_url(), autocommit=True) as conn:  # a new session of the app writes again
        conn.execute("INSERT INTO one_off_writes (id) VALUES (-1)")
