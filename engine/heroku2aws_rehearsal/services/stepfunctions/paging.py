"""GetExecutionHistory pages as AWS pages it: ``maxResults`` events at most (default 100, at most 1,000),
``reverseOrder``, and a ``nextToken`` to the next page.

Source: AWS Step Functions API Reference, GetExecutionHistory
(https://docs.aws.amazon.com/step-functions/latest/apireference/API_GetExecutionHistory.html): "maxResults - The maximum
number of results that are returned per call ... The default is 100 and the maximum allowed page size is 1000. A value
of 0 uses the default"; "reverseOrder - Lists events in descending order of their timeStamp"; the botocore model
(stepfunctions 2016-11-23) gives the same bounds.

moto returned every event in one answer whatever was asked: a client's paging went untested, and following a long
execution cost a full serialisation of its history at every poll (25,000 events took tens of seconds a call; the
newest page, which ``heroku2aws_cli.executions.history`` reads once it knows the rest, takes a fraction of that).
Tokens name the last event returned, so events appended while a client pages move nothing.
"""

from __future__ import annotations

import base64
import json
from typing import Any

DEFAULT_PAGE = 100
MAX_PAGE = 1000


def _token(after_id: int, reverse: bool) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": after_id, "reverse": reverse}).encode()).decode()


def _position(token: str) -> tuple[int, bool]:
    doc = json.loads(base64.urlsafe_b64decode(token.encode()))
    return int(doc["after"]), bool(doc["reverse"])


def page(events: list[dict[str, Any]], max_results: int | None, reverse: bool, token: str | None) -> dict[str, Any]:
    """The page of ``events`` (oldest first, as recorded) a GetExecutionHistory call with these parameters gets."""
    size = max_results or DEFAULT_PAGE
    ordered = list(reversed(events)) if reverse else events
    if token:
        after, token_reverse = _position(token)
        if token_reverse != reverse:
            raise ValueError("the token was given for the other order")
        ordered = [e for e in ordered if (e["id"] < after if reverse else e["id"] > after)]
    out: dict[str, Any] = {"events": ordered[:size]}
    if len(ordered) > size:
        out["nextToken"] = _token(ordered[size - 1]["id"], reverse)
    return out


def apply() -> None:
    from moto.core.responses import ActionResult
    from moto.stepfunctions import responses
    from moto.stepfunctions.exceptions import InvalidToken

    def get_execution_history(self) -> Any:
        arn = self._get_param("executionArn")
        history = self.stepfunction_backend.get_execution_history(arn)
        try:
            result = page(list(history["events"]), self._get_param("maxResults"),
                          bool(self._get_param("reverseOrder")), self._get_param("nextToken"))
        except (ValueError, KeyError, TypeError) as exc:  # binascii.Error and json's errors are ValueErrors
            raise InvalidToken(str(exc)) from None
        return ActionResult({**{k: v for k, v in dict(history).items() if k not in ("events", "nextToken")},
                             **result})

    responses.StepFunctionResponse.get_execution_history = get_execution_history
