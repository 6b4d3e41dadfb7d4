"""Transient faults: the throttling and service errors AWS returns are retried, and the migration
still succeeds. Each error is injected once, with the name AWS reports it under at that state (the engine
refuses a name the integration never raises: ECS and DMS declare no throttling exception, so their
throttling arrives as Ecs.EcsException / DatabaseMigration.DatabaseMigrationException); the history proves
the Retry fired (the failure is followed by a second attempt)."""

from __future__ import annotations

from heroku2aws_cli.executions import history

TRANSIENT = [
    ("Look for another running migration of this app", "Sfn.SfnException"),
    ("Run the preflight checks", "Lambda.TooManyRequestsException"),
    ("Import the config vars into Secrets Manager", "Lambda.ServiceException"),
    ("Create the DMS subnet group", "DatabaseMigration.DatabaseMigrationException"),
    ("Register the task definition", "Ecs.EcsException"),
    ("Run the release command", "ECS.ServerException"),
    ("Set the DNS weights", "Route53.PriorRequestNotCompleteException"),
    ("Check the DNS change", "Route53.ThrottlingException"),
    ("Start the DMS replication task", "DatabaseMigration.DatabaseMigrationException"),
    ("Freeze writes on Heroku", "HerokuApiError"),
    ("Make the source database read-only", "Lambda.ServiceException"),
    ("Point the app at RDS and ElastiCache", "HerokuApiError"),
    ("Publish the report", "SNS.ThrottledException"),
]


def test_transient_errors_are_retried_and_the_migration_succeeds(world, rehearse):
    report = rehearse(fail_at=[(state, 0, error) for state, error in TRANSIENT])
    assert "notes" not in report, report.get("notes")  # every fault fired
    assert report["status"] == "SUCCEEDED", (report["error"], report["cause"])
    assert report["verification"]["postgres"]["match"] is True
    assert report["leftovers"] == []
    events = history(world.aws.client("stepfunctions"), report["execution_arn"]).events
    failed = [e["taskFailedEventDetails"]["error"] for e in events if e["type"] == "TaskFailed"]
    for _, error in TRANSIENT:
        assert error in failed, f"{error} was not seen: the fault did not reach its state"
