"""The policies a role holds, read from the emulated IAM (what the deployer created from the
translated template: inline ``Policies``, SAM policy templates as translated, ``ManagedPolicyArns``).

moto only knows AWS-managed policies when ``MOTO_IAM_LOAD_MANAGED_POLICIES`` loads all of them
(about a thousand, at every account's first use). Attaching one loads just that policy, from the
same published documents moto ships (``moto/iam/aws_managed_policies.py``), so a template's
``AWSLambdaBasicExecutionRole`` or ``AmazonECSTaskExecutionRolePolicy`` grants what AWS's does.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from ...aws import ACCOUNT_ID


def _iam():
    from moto.iam.models import iam_backends

    return iam_backends[ACCOUNT_ID]["aws"]


class NoSuchRole(Exception):
    pass


def role(role_arn: str):
    name = role_arn.rsplit("/", 1)[-1]
    try:
        return _iam().get_role(name)
    except Exception as exc:
        raise NoSuchRole(f"role {role_arn} does not exist in the emulated account") from exc


def identity_policies(role_arn: str) -> list[Any]:
    """Every identity-based policy document of the role: inline ones and attached managed ones."""
    r = role(role_arn)
    documents: list[Any] = [json.loads(doc) if isinstance(doc, str) else doc for doc in r.policies.values()]
    for policy in r.managed_policies.values():
        version = next(v for v in policy.versions if v.is_default)
        doc = version.document
        documents.append(json.loads(doc) if isinstance(doc, str) else doc)
    return documents


def trust_policy(role_arn: str) -> Any:
    doc = role(role_arn).assume_role_policy_document
    return json.loads(doc) if isinstance(doc, str) else doc


@functools.cache
def _aws_managed() -> dict[str, Any]:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    return json.loads(aws_managed_policies_data)


def patch_managed_policies() -> None:
    """``AttachRolePolicy`` of an AWS-managed policy ARN loads that one policy first."""
    from moto.iam import models as im

    if getattr(im.IAMBackend.attach_role_policy, "_h2a", False):
        return
    original = im.IAMBackend.attach_role_policy

    def attach_role_policy(self, policy_arn: str, role_name: str) -> None:
        if policy_arn not in self.managed_policies and ":iam::aws:policy/" in policy_arn:
            name = policy_arn.rsplit("/", 1)[-1]
            data = _aws_managed().get(name)
            if data is not None:
                policy = im.AWSManagedPolicy.from_data(name, self.account_id, self.region_name, data)
                if policy.arn == policy_arn:
                    self.managed_policies[policy.arn] = policy
        return original(self, policy_arn, role_name)

    attach_role_policy._h2a = True  # type: ignore[attr-defined]
    im.IAMBackend.attach_role_policy = attach_role_policy
