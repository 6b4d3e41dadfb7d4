"""Emulated IAM: every principal calls with its own identity and every request is authorized.

- :mod:`.identity` — per-principal credentials (deterministic keys) and the key -> principal map;
- :mod:`.policy` — the policy evaluator (Allow/Deny, NotAction, wildcards, conditions);
- :mod:`.roles` — the policies a role holds in the emulated IAM (inline and managed);
- :mod:`.resources` — operation -> (IAM action, resource ARN, context keys), PassRole, tag-on-create;
- :mod:`.enforce` — the hook in moto's request dispatch, refusals in each service's protocol.

On by default; ``HEROKU2AWS_IAM=off`` turns enforcement off (debugging only).
"""

from . import callers, enforce
from .enforce import ENFORCER, AccessDenied, enabled
from .identity import ADMIN_ACCESS_KEY, IDENTITIES, Principal, no_credentials

__all__ = ["ADMIN_ACCESS_KEY", "ENFORCER", "IDENTITIES", "AccessDenied", "Principal", "apply", "callers",
           "credentials_for", "enabled", "no_credentials", "principal_for", "reset"]


def apply() -> None:
    """Authorize every request of the emulated account; the state machine calls as its role."""
    enforce.apply()
    callers.patch_state_machine_calls()


def reset() -> None:
    ENFORCER.clear()


def credentials_for(role_arn: str, session: str) -> dict[str, str]:
    """The environment variables of a process acting as ``role_arn`` (session name as AWS would set it)."""
    return IDENTITIES.issue(role_arn, session)


def principal_for(role_arn: str, session: str) -> Principal:
    return IDENTITIES.principal(role_arn, session)
