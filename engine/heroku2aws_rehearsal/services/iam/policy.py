"""IAM policy evaluation: the part of AWS's evaluation logic a single-account workflow relies on.

Identity-based and resource-based policies, ``Allow`` / ``Deny`` (an explicit deny wins),
``Action`` / ``NotAction`` and ``Resource`` / ``NotResource`` with ``*`` and ``?`` wildcards
(actions case-insensitively, resources case-sensitively), ``Principal`` for resource policies, and
the condition operators IAM documents for strings, ARNs, booleans, numbers and ``Null``, with the
``ForAnyValue:`` / ``ForAllValues:`` set operators and the ``IfExists`` suffix.

moto ships an evaluator (``moto/iam/access_control.py``) but it is more lenient and less exact than
AWS where this project needs it: an ``Allow`` whose condition is not met *denies* instead of not
applying, actions match case-sensitively, ``?`` and regex metacharacters in patterns are not
handled, ``NotResource`` is ignored and conditions only see the values the caller hands in. So the
engine evaluates with this module instead. An operator this module does not know raises
:class:`UnsupportedPolicy` (the rehearsal stops) rather than being skipped.

Reference: IAM User Guide, "Policy evaluation logic" and "IAM JSON policy elements: Condition
operators".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class UnsupportedPolicy(Exception):
    """A policy uses an element or operator the emulator cannot evaluate: never guessed."""


class Decision(Enum):
    ALLOW = "allow"
    EXPLICIT_DENY = "explicit-deny"
    IMPLICIT_DENY = "implicit-deny"


@dataclass
class Request:
    """What one call asks: the IAM action, the resource ARN and the request's context keys."""

    action: str
    resource: str
    context: dict[str, Any] = field(default_factory=dict)  # key (any case) -> str | list[str] | bool
    principal_arn: str | None = None   # for resource-based policies: the calling role's ARN
    principal_service: str | None = None  # ... or the calling service (events.amazonaws.com)

    def value(self, key: str) -> Any:
        lowered = key.lower()
        for k, v in self.context.items():
            if k.lower() == lowered:
                return v
        return None


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _glob(pattern: str, value: str, ignore_case: bool = False) -> bool:
    """IAM wildcards: ``*`` any run of characters, ``?`` one character; nothing else is special."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.S | (re.I if ignore_case else 0)) is not None


def action_matches(pattern: str, action: str) -> bool:
    return _glob(pattern, action, ignore_case=True)


def arn_matches(pattern: str, arn: str) -> bool:
    """``ArnLike`` and the Resource element: each of the six colon-separated parts is matched on its
    own, so a ``*`` in one part never swallows a colon (IAM User Guide, ARN condition operators)."""
    if pattern == "*":
        return True
    p_parts, a_parts = pattern.split(":", 5), arn.split(":", 5)
    if len(p_parts) != 6 or len(a_parts) != 6:
        return _glob(pattern, arn)
    return all(_glob(p, a) for p, a in zip(p_parts, a_parts, strict=True))


# ----------------------------------------------------------------------------- conditions

def _string_op(name: str):
    def equals(p: str, v: str) -> bool:
        return p == v

    def equals_ic(p: str, v: str) -> bool:
        return p.lower() == v.lower()

    def like(p: str, v: str) -> bool:
        return _glob(p, v)

    def arn_eq(p: str, v: str) -> bool:
        return p == v

    def arn_like(p: str, v: str) -> bool:
        return arn_matches(p, v)

    def boolean(p: str, v: str) -> bool:
        return str(p).lower() == str(v).lower()

    def numeric(op):
        def compare(p: str, v: str) -> bool:
            try:
                return op(float(v), float(p))
            except (TypeError, ValueError):
                return False
        return compare

    import operator

    table = {
        "StringEquals": (equals, False), "StringNotEquals": (equals, True),
        "StringEqualsIgnoreCase": (equals_ic, False), "StringNotEqualsIgnoreCase": (equals_ic, True),
        "StringLike": (like, False), "StringNotLike": (like, True),
        "ArnEquals": (arn_eq, False), "ArnNotEquals": (arn_eq, True),
        "ArnLike": (arn_like, False), "ArnNotLike": (arn_like, True),
        "Bool": (boolean, False),
        "NumericEquals": (numeric(operator.eq), False), "NumericNotEquals": (numeric(operator.eq), True),
        "NumericLessThan": (numeric(operator.lt), False), "NumericLessThanEquals": (numeric(operator.le), False),
        "NumericGreaterThan": (numeric(operator.gt), False),
        "NumericGreaterThanEquals": (numeric(operator.ge), False),
    }
    if name not in table:
        raise UnsupportedPolicy(f"condition operator {name!r} is not emulated")
    return table[name]


def condition_met(operator_name: str, key: str, expected: Any, request: Request) -> bool:
    """One ``"<Operator>": {"<key>": <values>}`` entry."""
    set_op = None
    if ":" in operator_name:
        set_op, operator_name = operator_name.split(":", 1)
        if set_op not in {"ForAnyValue", "ForAllValues"}:
            raise UnsupportedPolicy(f"condition set operator {set_op!r} is not emulated")
    actual = request.value(key)
    if operator_name == "Null":
        is_null = actual is None or actual == []
        return any(str(e).lower() == str(is_null).lower() for e in _as_list(expected))
    if_exists = operator_name.endswith("IfExists")
    if if_exists:
        operator_name = operator_name[: -len("IfExists")]
    compare, negated = _string_op(operator_name)
    values = [str(v).lower() if isinstance(v, bool) else str(v) for v in _as_list(actual)]
    patterns = [str(e) for e in _as_list(expected)]
    if not values:
        if if_exists or set_op == "ForAllValues":
            return True
        return negated  # a missing key: only the negated operators hold (IAM User Guide)
    if set_op == "ForAllValues":
        ok = all(any(compare(p, v) for p in patterns) for v in values)
    else:  # single-valued keys and ForAnyValue: any value matching any pattern
        ok = any(compare(p, v) for p in patterns for v in values)
    return not ok if negated else ok


def _conditions_met(statement: dict, request: Request) -> bool:
    for operator_name, entries in (statement.get("Condition") or {}).items():
        if not isinstance(entries, dict):
            raise UnsupportedPolicy(f"malformed condition block under {operator_name!r}")
        for key, expected in entries.items():
            if not condition_met(operator_name, key, expected, request):
                return False
    return True


# ----------------------------------------------------------------------------- statements

def _principal_matches(principal: Any, request: Request) -> bool:
    if principal is None:
        return True  # identity-based policy
    if principal == "*" or principal == {"AWS": "*"}:
        return True
    if not isinstance(principal, dict):
        raise UnsupportedPolicy(f"unsupported Principal element: {principal!r}")
    if request.principal_service and request.principal_service in _as_list(principal.get("Service")):
        return True
    if request.principal_arn:
        for entry in _as_list(principal.get("AWS")):
            entry = str(entry)
            account_root = re.fullmatch(r"(?:arn:aws:iam::)?(\d{12})(?::root)?", entry)
            if account_root and request.principal_arn.split(":")[4] == account_root.group(1):
                return True  # the account: delegated to the account's identity policies
            if entry == request.principal_arn:
                return True
    return False


def statement_applies(statement: dict, request: Request, resource_policy: bool = False) -> bool:
    for element in ("NotPrincipal",):
        if element in statement:
            raise UnsupportedPolicy(f"{element} is not emulated")
    if "Action" in statement:
        if not any(action_matches(p, request.action) for p in _as_list(statement["Action"])):
            return False
    elif "NotAction" in statement:
        if any(action_matches(p, request.action) for p in _as_list(statement["NotAction"])):
            return False
    else:
        raise UnsupportedPolicy("a statement without Action or NotAction")
    if "Resource" in statement:
        if not any(arn_matches(str(p), request.resource) for p in _as_list(statement["Resource"])):
            return False
    elif "NotResource" in statement:
        if any(arn_matches(str(p), request.resource) for p in _as_list(statement["NotResource"])):
            return False
    elif not resource_policy:
        raise UnsupportedPolicy("an identity-based statement without Resource or NotResource")
    if resource_policy and not _principal_matches(statement.get("Principal"), request):
        return False
    return _conditions_met(statement, request)


def statements(document: Any) -> list[dict]:
    if isinstance(document, str):
        import json

        document = json.loads(document)
    body = (document or {}).get("Statement", [])
    return [body] if isinstance(body, dict) else list(body)


def evaluate(documents: list[Any], request: Request, resource_policy: bool = False) -> Decision:
    """One set of policies: an explicit deny wins over any allow; no allow is an implicit deny."""
    allowed = False
    for document in documents:
        for statement in statements(document):
            effect = statement.get("Effect")
            if effect not in {"Allow", "Deny"}:
                raise UnsupportedPolicy(f"statement Effect {effect!r}")
            if statement_applies(statement, request, resource_policy):
                if effect == "Deny":
                    return Decision.EXPLICIT_DENY
                allowed = True
    return Decision.ALLOW if allowed else Decision.IMPLICIT_DENY


__all__ = ["Decision", "Request", "UnsupportedPolicy", "action_matches", "arn_matches", "evaluate"]
