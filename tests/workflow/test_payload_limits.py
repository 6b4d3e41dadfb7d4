"""Step Functions' 256 KiB payload quota, on an app at the limits the input allows (issue 15, "Fail early").

Every state's input and output, every task's parameters and result are at most 256 KiB (developer guide,
"Step Functions service quotas", https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html), and
over it ``States.DataLimitExceeded`` is terminal: no Catch runs the rollback (concepts-error-handling.html). The
emulation enforces both (tests/engine/test_stepfunctions_strictness.py).
"""

from __future__ import annotations

import json

from heroku2aws.clients.heroku import HerokuClient
from heroku2aws.steps.plan_services import MAX_PROCESS_TYPES, MAX_STATE_PAYLOAD_BYTES

#: 400 config vars with 45-character names: 18 KB of config data (Heroku allows 32 KB, Dev Center "Configuration and
#: Config Vars"), one ECS secret each in every task definition.
MANY_VARS = {f"CONFIG_VAR_{i:04d}_{'X' * 30}": "v" for i in range(400)}
DETAILS = ("input", "output", "parameters")


def _payloads(world, execution_arn: str) -> dict[str, int]:
    """The largest payload (bytes) each state, task and Lambda had: entered input, exited output, task parameters,
    task and Lambda results."""
    from heroku2aws_cli.executions import history

    events = history(world.aws.client("stepfunctions"), execution_arn).events
    sizes: dict[str, int] = {}
    by_id = {e["id"]: e for e in events}
    for event in events:
        for key, details in event.items():
            if not key.endswith("EventDetails") or not isinstance(details, dict):
                continue
            for field in DETAILS:
                if isinstance(details.get(field), str):
                    name = details.get("name")
                    if name is None:  # a task event: named by the state that scheduled it
                        prior = by_id.get(event.get("previousEventId"))
                        while prior is not None and "stateEnteredEventDetails" not in prior:
                            prior = by_id.get(prior.get("previousEventId"))
                        name = prior["stateEnteredEventDetails"]["name"] if prior else "?"
                    size = len(details[field].encode("utf-8"))
                    sizes[name] = max(sizes.get(name, 0), size)
    return sizes


def test_an_app_with_the_most_process_types_and_hundreds_of_config_vars_migrates(world, rehearse):
    """20 process types and 400 config vars. Before: "Plan the ECS services" returned every task definition with
    one secret per var, 1.9 MB - States.DataLimitExceeded, the execution failed in stage 3 and, the error being
    terminal, nothing was rolled back. Now the secrets travel once and the migration succeeds."""
    HerokuClient(world.heroku_token, world.heroku.url).update_config_vars("sample-app", MANY_VARS)
    extra = MAX_PROCESS_TYPES - len([line for line in world.ids["procfile"].splitlines() if ":" in line])
    procfile = world.ids["procfile"].rstrip("\n") + "\n" + "\n".join(
        f"worker{i}: python -m heroku2aws_rehearsal.sample_app.worker" for i in range(extra)) + "\n"

    report = rehearse(overrides={"ecs.procfile": procfile})

    assert report["status"] == "SUCCEEDED", (report["error"], report["cause"])
    sizes = _payloads(world, report["execution_arn"])
    largest = sorted(sizes.items(), key=lambda kv: -kv[1])[:8]
    print("largest payloads (bytes):", json.dumps(largest))  # the measurement (pytest -s)
    assert all(size <= MAX_STATE_PAYLOAD_BYTES for size in sizes.values()), largest
    # Every task definition was registered with every config var as a secret.
    ecs = world.aws.client("ecs")
    families = ecs.list_task_definition_families(familyPrefix="sample-app-", status="ACTIVE")["families"]
    assert len(families) == MAX_PROCESS_TYPES
    for family in families:
        td = ecs.describe_task_definition(taskDefinition=family)["taskDefinition"]
        names = {s["name"] for s in td["containerDefinitions"][0]["secrets"]}
        assert set(MANY_VARS) <= names, family
