"""Emulated EventBridge: rules on the default bus deliver the events AWS services emit to their targets.

moto stores rules and targets but nothing emits ``aws.states`` events, so a rule such as the
template's ``StatusChangeRule`` never fired. Here a Standard execution's terminal status change
(SUCCEEDED, FAILED, TIMED_OUT, ABORTED) produces the event the Step Functions developer guide
documents ("Step Functions Execution Status Change", ``source: aws.states``); it is matched against
each enabled rule's pattern (moto's matcher) and delivered to the rule's SNS targets as EventBridge
delivers — only when AWS would:

- the topic's resource policy must allow ``events.amazonaws.com`` ``sns:Publish`` (with the
  request's ``aws:SourceArn`` = the rule's ARN and ``aws:SourceAccount``);
- an encrypted topic must use a customer managed key whose key policy allows
  ``events.amazonaws.com`` ``kms:GenerateDataKey*`` and ``kms:Decrypt``; a topic encrypted with the
  AWS managed key ``alias/aws/sns`` cannot receive from EventBridge, because that key's policy
  cannot be changed to allow it (AWS re:Post knowledge center, "Why isn't my Amazon SNS topic
  receiving Amazon EventBridge notifications?", https://repost.aws/knowledge-center/sns-not-getting-eventbridge-notification).

A dropped delivery is not raised (EventBridge only counts ``FailedInvocations``): it is recorded in
:data:`EVENTS.dropped`, next to :data:`EVENTS.delivered`, where tests and the rehearsal read it.
The EventBridge Scheduler schedule fires through :func:`fire_schedule`, as its role.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from ...aws import ACCOUNT_ID, REGION
from ..iam.policy import Decision, Request, evaluate

LOG = logging.getLogger(__name__)

TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
EVENTS_PRINCIPAL = "events.amazonaws.com"


@dataclass
class EventBus:
    """What the default bus saw and did (state owned by one object)."""

    emitted: list[dict[str, Any]] = field(default_factory=list)
    delivered: list[dict[str, Any]] = field(default_factory=list)
    dropped: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def clear(self) -> None:
        with self._lock:
            self.emitted.clear()
            self.delivered.clear()
            self.dropped.clear()

    # ------------------------------------------------------------------ put an event on the bus
    def put(self, event: dict[str, Any]) -> None:
        from moto.events.models import events_backends

        with self._lock:
            self.emitted.append(event)
        bus = events_backends[ACCOUNT_ID][REGION].event_buses.get("default")  # AWS services emit to the default bus
        for rule in list(bus.rules.values()) if bus is not None else []:
            if rule.state != "ENABLED" or rule.event_pattern is None or not rule.event_pattern.get_pattern():
                continue
            if not rule.event_pattern.matches_event(event):
                continue
            for target in rule.targets:
                self._deliver(rule, target, event)

    def _deliver(self, rule, target: dict[str, Any], event: dict[str, Any]) -> None:
        arn = target.get("Arn", "")
        record = {"rule": rule.name, "rule_arn": rule.arn, "target": arn, "target_id": target.get("Id"),
                  "detail_type": event["detail-type"], "status": event["detail"].get("status")}
        if arn.split(":")[2:3] != ["sns"]:
            self._drop(record, f"target service {arn.split(':')[2] if ':' in arn else arn!r} is not emulated")
            return
        if "InputTransformer" in target:
            self._drop(record, "InputTransformer is not emulated")
            return
        message = target.get("Input") or json.dumps(event)
        if "InputPath" in target:
            self._drop(record, "InputPath is not emulated")
            return
        why = _sns_refuses(arn, rule.arn)
        if why:
            self._drop(record, why)
            return
        from moto.sns.models import sns_backends

        sns_backends[ACCOUNT_ID][REGION].publish(message, arn=arn)
        with self._lock:
            self.delivered.append({**record, "message": message})

    def _drop(self, record: dict[str, Any], reason: str) -> None:
        LOG.warning("EventBridge dropped a delivery of rule %s to %s: %s", record["rule"], record["target"], reason)
        with self._lock:
            self.dropped.append({**record, "reason": reason})


EVENTS = EventBus()


def _sns_refuses(topic_arn: str, rule_arn: str) -> str | None:
    """Why EventBridge cannot publish to the topic (None: it can)."""
    from moto.sns.models import sns_backends

    topics = sns_backends[ACCOUNT_ID][REGION].topics
    topic = topics.get(topic_arn)
    if topic is None:
        return "the topic does not exist"
    context = {"aws:SourceArn": rule_arn, "aws:SourceAccount": ACCOUNT_ID}
    policy = json.loads(topic.policy) if isinstance(topic.policy, str) else topic.policy
    request = Request(action="sns:Publish", resource=topic_arn, context=context, principal_service=EVENTS_PRINCIPAL)
    if evaluate([policy], request, resource_policy=True) is not Decision.ALLOW:
        return "the topic's access policy does not allow events.amazonaws.com sns:Publish"
    key_id = (getattr(topic, "kms_master_key_id", None) or "").strip()
    if not key_id:
        return None
    return _kms_refuses(key_id, context)


def _kms_refuses(key_id: str, context: dict[str, Any]) -> str | None:
    if key_id == "alias/aws/sns" or key_id.endswith(":alias/aws/sns"):
        return ("the topic is encrypted with the AWS managed key alias/aws/sns, whose key policy cannot allow "
                "events.amazonaws.com: use a customer managed key")
    from moto.kms.models import kms_backends

    backend = kms_backends[ACCOUNT_ID][REGION]
    try:
        key = backend.describe_key(key_id)
    except Exception:
        return f"the topic's KMS key {key_id} does not exist"
    if getattr(key, "key_manager", "CUSTOMER") == "AWS":
        return f"the topic is encrypted with an AWS managed key ({key_id}): use a customer managed key"
    policy = json.loads(key.policy) if isinstance(key.policy, str) else key.policy
    for action in ("kms:GenerateDataKey", "kms:Decrypt"):
        request = Request(action=action, resource=key.arn, context=context, principal_service=EVENTS_PRINCIPAL)
        if evaluate([policy], request, resource_policy=True) is not Decision.ALLOW:
            return f"the key policy of {key.arn} does not allow events.amazonaws.com {action}"
    return None


# ----------------------------------------------------------------------------- Step Functions' events

def _ms(value: Any) -> int | None:
    if isinstance(value, dt.datetime):
        return int(value.timestamp() * 1000)
    return None


def execution_status_event(execution) -> dict[str, Any]:
    """The "Step Functions Execution Status Change" event (Step Functions developer guide)."""
    status = str(getattr(execution.exec_status, "value", execution.exec_status))
    output = execution.output
    return {
        "version": "0", "id": str(uuid.uuid4()), "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states", "account": ACCOUNT_ID,
        "time": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION, "resources": [execution.exec_arn],
        "detail": {
            "executionArn": execution.exec_arn, "stateMachineArn": execution.state_machine_arn,
            "name": execution.name, "status": status,
            "startDate": _ms(execution.start_date), "stopDate": _ms(execution.stop_date),
            "input": json.dumps(execution.input_data), "inputDetails": {"included": True},
            "output": None if output is None else (output if isinstance(output, str) else json.dumps(output)),
            "outputDetails": {"included": True} if output is not None else None,
            "error": execution.error, "cause": execution.cause,
        },
    }


def _patch_execution_end() -> None:
    from moto.stepfunctions.parser.backend import execution as ex

    cls = ex.BaseExecutionWorkerCommunication
    if getattr(cls.terminated, "_h2a", False):
        return
    original = cls.terminated

    def terminated(self) -> None:
        original(self)
        execution = self.execution
        if isinstance(execution, ex.SyncExecution):  # Express (sync) executions emit no status events
            return
        try:
            event = execution_status_event(execution)
            if event["detail"]["status"] in TERMINAL:
                EVENTS.put(event)
        except Exception:  # delivery must never break the execution's own ending
            LOG.exception("could not emit the execution status change of %s", execution.exec_arn)

    terminated._h2a = True  # type: ignore[attr-defined]
    cls.terminated = terminated


# ----------------------------------------------------------------------------- EventBridge Scheduler

def fire_schedule(name: str, group: str | None = None) -> str:
    """Fire a schedule now, as EventBridge Scheduler does at its time: the target is called with the
    schedule's role (``scheduler.amazonaws.com`` must be trusted). Returns the execution ARN."""
    import boto3
    from moto.scheduler.models import scheduler_backends

    from ...aws import current
    from ..iam import callers

    schedule = scheduler_backends[ACCOUNT_ID][REGION].get_schedule(group, name)
    target = schedule.target
    role_arn = target.get("RoleArn")
    callers.assume(role_arn, "scheduler.amazonaws.com", f"scheduler-{name}")
    creds = callers.IDENTITIES.issue(role_arn, f"scheduler-{name}")
    if ":states:" not in target["Arn"]:
        raise NotImplementedError(f"schedule target {target['Arn']} is not emulated (only state machines)")
    client = boto3.client("stepfunctions", region_name=REGION, endpoint_url=current().endpoint,
                          aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
                          aws_session_token=creds["AWS_SESSION_TOKEN"])
    return client.start_execution(stateMachineArn=target["Arn"], input=target.get("Input") or "{}")["executionArn"]


def apply() -> None:
    _patch_execution_end()


def reset() -> None:
    EVENTS.clear()


__all__ = ["EVENTS", "apply", "execution_status_event", "fire_schedule", "reset"]
