"""The errors a state machine Catch tells apart.

Lambda reports an unhandled exception with ``errorType`` = the exception's class name (no module),
and Step Functions uses that as the error name: ``"ErrorEquals": ["InvalidInput"]`` catches
:class:`InvalidInput`. So the class names here are part of the workflow's contract: never rename one
without changing the ASL.

Messages (the ``Cause`` shown in the console and in the execution history) name fields, servers,
resources and counts, and never a secret value: no connection URL with its password, no API key, no
config var value. Code that builds a message from a third-party error text passes it through
:func:`heroku2aws.redaction.scrub` with the values it knows are secret.

``tests/contracts/test_asl_contract.py`` reads the ASL and fails when an ``ErrorEquals`` name that is not
AWS's has no class here.
"""

from __future__ import annotations

__all__ = [
    "ConfigImportFailed",
    "DataMismatch",
    "HealthGateFailed",
    "Heroku2AwsError",
    "HerokuApiError",
    "HerokuControlFailed",
    "InvalidInput",
    "PreflightFailed",
    "SecretSwitchFailed",
    "ServicesNotReady",
    "WriteFreezeFailed",
]


class Heroku2AwsError(Exception):
    """Base of the workflow's own errors (never raised itself: Catch on the subclasses)."""


class InvalidInput(Heroku2AwsError):
    """The execution input (or a stage's event) is not what the workflow takes. Nothing was created."""


class PreflightFailed(Heroku2AwsError):
    """Preflight found a reason not to start the migration. Nothing was created."""


class ConfigImportFailed(Heroku2AwsError):
    """The Heroku config vars cannot be imported into Secrets Manager (conflict, size, names)."""


class ServicesNotReady(Heroku2AwsError):
    """An ECS service is missing, inactive, or its deployment failed: waiting longer will not help."""


class HealthGateFailed(Heroku2AwsError):
    """The health gate cannot run (its configuration is wrong: no such target group, not an ALB).

    An unhealthy app is *not* this error: the gate returns ``healthy: false`` with reasons and the
    ASL decides (its "Health gate failed" Fail state uses this same name).
    """


class HerokuApiError(Heroku2AwsError):
    """An error answer from the Heroku Platform API (``status`` 0: no answer at all).

    Raised by :class:`heroku2aws.clients.heroku.HerokuClient` once its own retries are spent; the ASL
    retries it later (a transient 429 / 5xx / no answer). Heroku's own ``id`` and ``message``, never the key.
    """

    def __init__(self, status: int, id: str, message: str) -> None:  # noqa: A002 - Heroku's field name
        self.status, self.id, self.message = status, id, message
        super().__init__(f"Heroku API {status} {id}: {message}" if status else f"Heroku API unreachable: {message}")

    def __reduce__(self):  # picklable with its three fields
        return (type(self), (self.status, self.id, self.message))


class HerokuControlFailed(Heroku2AwsError):
    """The Heroku Platform API refused a maintenance / formation change (a 4xx answer: retrying will not help).

    The message carries Heroku's error ``id`` and ``message``, never the API key. Transient answers
    (429, 5xx, no answer) that outlast the client's retries stay ``HerokuApiError`` for the ASL to retry.
    """

    def __init__(self, message: str, status: int | None = None, error_id: str | None = None) -> None:
        super().__init__(message)
        self.status, self.error_id = status, error_id

    def __reduce__(self):  # picklable with its fields
        return (type(self), (str(self), self.status, self.error_id))


class WriteFreezeFailed(Heroku2AwsError):
    """The source database could not be made read-only, or a new session could still write to it (the write
    probe): the copy must not start. Names the database and the reason, never the URL or its password."""


class SecretSwitchFailed(Heroku2AwsError):
    """The app's config secret cannot be pointed at the data stores (missing, deleted, not heroku2aws's, not JSON)."""


class DataMismatch(Heroku2AwsError):
    """The copy on AWS differs from the source: names the tables / sequences / Redis keys (never values)."""
