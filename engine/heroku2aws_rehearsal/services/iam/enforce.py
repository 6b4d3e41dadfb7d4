"""The authorization step of the emulated account: every request is evaluated before moto runs it.

Hooked where moto's server dispatches a parsed request to a service (``BaseResponse.call_action``,
the place moto runs its own optional IAM check): the access key names the principal
(:mod:`.identity`), :mod:`.resources` turns the operation and its parameters into the IAM checks AWS
makes (action, resource ARN, context keys; ``iam:PassRole`` for a role handed to a service,
``ecs:TagResource`` for tags on a create), and :mod:`.policy` evaluates each against the
principal's policies. A refusal is answered in the service's own protocol with the code AWS uses
(``AccessDeniedException``, Route 53's ``AccessDenied``, SNS's ``AuthorizationError``, ...) and the
message IAM writes. An operation the emulator cannot map to a resource is refused with
``RehearsalIamGap`` (HTTP 500) and recorded in :data:`ENFORCER.gaps` — never allowed silently.

Enforcement is on by default; ``HEROKU2AWS_IAM=off`` turns it off for debugging.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from . import roles
from .identity import ADMIN_ACCESS_KEY, IDENTITIES, Principal
from .policy import Decision, Request, UnsupportedPolicy, evaluate

LOG = logging.getLogger(__name__)

#: Error code and HTTP status of an authorization failure, per service (each service's own).
DENIED_CODES: dict[str, tuple[str, int]] = {
    "route53": ("AccessDenied", 403),
    "sns": ("AuthorizationError", 403),
    "elbv2": ("AccessDenied", 403),
    "cloudwatch": ("AccessDenied", 403),
    "iam": ("AccessDenied", 403),
    "sts": ("AccessDenied", 403),
    "ec2": ("UnauthorizedOperation", 403),
    "lambda": ("AccessDeniedException", 403),
}
DEFAULT_DENIED = ("AccessDeniedException", 400)


def enabled() -> bool:
    return os.environ.get("HEROKU2AWS_IAM", "on").lower() not in {"off", "0", "false", "no"}


class AccessDenied(Exception):
    def __init__(self, principal: Principal, action: str, resource: str, decision: Decision,
                 why: str | None = None) -> None:
        self.principal, self.action, self.resource, self.decision = principal, action, resource, decision
        reason = why or ("with an explicit deny in an identity-based policy" if decision is Decision.EXPLICIT_DENY
                         else f"because no identity-based policy allows the {action} action")
        super().__init__(f"User: {principal.arn} is not authorized to perform: {action} on resource: "
                         f"{resource} {reason}")


class IamGap(Exception):
    """The emulator does not know the resource of an operation: the next gap to close."""


@dataclass
class Enforcer:
    """Decisions and gaps of the running emulation (state owned by one object)."""

    denied: list[dict[str, Any]] = field(default_factory=list)
    gaps: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def authorize(self, principal: Principal, action: str, resource: str, context: dict[str, Any] | None = None,
                  ) -> None:
        """Raise :class:`AccessDenied` unless ``principal``'s identity policies allow the call."""
        if not enabled():
            return
        request = Request(action=action, resource=resource, context=_context(principal, context or {}),
                          principal_arn=principal.role_arn)
        try:
            documents = roles.identity_policies(principal.role_arn)
        except roles.NoSuchRole:
            documents = []
        decision = evaluate(documents, request)
        if decision is not Decision.ALLOW:
            self.record_denied(principal, action, resource, decision)
            raise AccessDenied(principal, action, resource, decision)

    def record_denied(self, principal: Principal, action: str, resource: str, decision: Decision) -> None:
        entry = {"principal": principal.arn, "role": principal.role_name, "action": action,
                 "resource": resource, "decision": decision.value}
        with self._lock:
            self.denied.append(entry)
        LOG.warning("IAM denied %s: %s on %s", principal.arn, action, resource)

    def record_gap(self, service: str, operation: str, why: str) -> None:
        with self._lock:
            self.gaps.append({"service": service, "operation": operation, "why": why})
        LOG.error("IAM emulation gap: %s:%s: %s", service, operation, why)

    def clear(self) -> None:
        with self._lock:
            self.denied.clear()
            self.gaps.clear()


ENFORCER = Enforcer()


def _context(principal: Principal, extra: dict[str, Any]) -> dict[str, Any]:
    account = principal.role_arn.split(":")[4]
    base = {"aws:PrincipalArn": principal.role_arn, "aws:PrincipalAccount": account,
            "aws:userid": f"AROA{principal.role_name.upper()[:16]}:{principal.session}",
            "aws:PrincipalType": "AssumedRole", "aws:SecureTransport": True,
            "aws:RequestedRegion": "us-east-1"}
    base.update(extra)
    return base


# ----------------------------------------------------------------------------- the server hook

def _params(response) -> dict[str, Any]:
    """The request's parameters by the service model's member names (moto's own protocol parsers)."""
    from moto.core.parse import PROTOCOL_PARSERS
    from moto.core.request import determine_request_protocol
    from moto.core.utils import get_service_model

    request = response.normalized_request
    service_model = get_service_model(response.boto3_service_name)
    operation_model = service_model.operation_model(response._get_action())
    protocol = determine_request_protocol(service_model, request.content_type)
    parser = PROTOCOL_PARSERS[protocol](operation_model, map_type=dict)
    parsed = parser.parse({"method": request.method, "values": request.values, "headers": request.headers,
                           "body": request.data, "url_path": request.path, "url_params": response.uri_match})
    return dict(parsed)


_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")


def _access_key(response) -> str:
    """The request's access key id (moto's own reader only knows 20-character AKIA-style keys)."""
    match = _CREDENTIAL.search(response.headers.get("Authorization", "") or "")
    if match:
        return match.group(1)
    return (response.querystring.get("X-Amz-Credential") or [""])[0].split("/")[0] or response.get_access_key()


def _refusal(response, code: str, status: int, message: str):
    from moto.core.exceptions import ServiceException
    from moto.core.responses import ActionResult

    class Refused(ServiceException):
        pass

    error = Refused(code, message)
    try:
        import warnings

        with warnings.catch_warnings():  # moto warns when a code is not among the model's declared errors
            warnings.simplefilter("ignore")
            _, headers, body = response.serialized(ActionResult(error))
    except Exception:  # a service whose serializer cannot name the error: plain JSON
        import json

        headers, body = {"x-amzn-errortype": code}, json.dumps(
            {"__type": code, "message": message, "Message": message})
    headers = dict(headers)
    headers["status"] = str(status)
    return status, headers, body


def authorize_request(response) -> tuple[int, dict, Any] | None:
    """None when the request may proceed; otherwise the service's refusal."""
    if not enabled():
        return None
    from ...patches.local import engine_active

    if not engine_active():  # moto's in-process mock_aws in unit tests: moto's own behaviour
        return None
    key = _access_key(response)
    if key == ADMIN_ACCESS_KEY:
        return None
    principal = IDENTITIES.lookup(key)
    service = response.boto3_service_name or response.service_name or "?"
    if principal is None:
        code = "UnrecognizedClientException" if service not in DENIED_CODES else "InvalidClientTokenId"
        return _refusal(response, code, 403, "The security token included in the request is invalid.")
    operation = response._get_action()
    from . import resources

    try:
        params = _params(response)
        checks = resources.checks_for(service, operation, params)
    except resources.Unmapped as exc:
        ENFORCER.record_gap(service, operation, str(exc))
        return _refusal(response, "RehearsalIamGap", 500,
                        f"the rehearsal's IAM emulation cannot map {service}:{operation} to a resource: {exc}")
    code, status = DENIED_CODES.get(service, DEFAULT_DENIED)
    for check in checks:
        try:
            ENFORCER.authorize(principal, check.action, check.resource, check.context)
        except AccessDenied as exc:
            return _refusal(response, code, status, str(exc))
        except UnsupportedPolicy as exc:
            ENFORCER.record_gap(service, operation, f"policy: {exc}")
            return _refusal(response, "RehearsalIamGap", 500, f"the rehearsal cannot evaluate a policy: {exc}")
    return None


def apply() -> None:
    from moto.core import responses as mr

    if getattr(mr.BaseResponse.call_action, "_h2a_iam", False):
        return
    original = mr.BaseResponse.call_action

    def call_action(self):
        refusal = authorize_request(self)
        if refusal is not None:
            return refusal
        return original(self)

    call_action._h2a_iam = True  # type: ignore[attr-defined]
    mr.BaseResponse.call_action = call_action
    roles.patch_managed_policies()
