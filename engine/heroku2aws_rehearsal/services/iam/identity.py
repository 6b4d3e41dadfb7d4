"""Who is calling: one identity per principal, as on AWS.

Every process of the rehearsal calls the emulated account with the credentials of the principal
it stands for — a Lambda function its execution role's, an ECS task its task role's, the state
machine its role's — and the emulated IAM maps the access key back to that principal
(``assumed-role/<role>/<session>``). The keys are deterministic (derived from the role ARN and the
session name), so the engine hands them out without a round trip, and only keys the engine handed
out are known: any other key is refused as AWS refuses an unknown one. Engine-internal calls (the
world's set-up, the deployer, test assertions) use the administrator key.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from dataclasses import dataclass

from ...aws import ACCOUNT_ID

#: The engine's own identity (world set-up, the deployer, assertions): not subject to policies.
ADMIN_ACCESS_KEY = "rehearsal"


@dataclass(frozen=True)
class Principal:
    """A role assumed by a service (or an engine component) under a session name."""

    role_arn: str
    session: str

    @property
    def role_name(self) -> str:
        return self.role_arn.rsplit("/", 1)[-1]

    @property
    def arn(self) -> str:
        """The ARN AWS puts in an AccessDenied message: ``arn:aws:sts::<acct>:assumed-role/<role>/<session>``."""
        account = self.role_arn.split(":")[4] or ACCOUNT_ID
        return f"arn:aws:sts::{account}:assumed-role/{self.role_name}/{self.session}"


def _key(role_arn: str, session: str) -> str:
    digest = hashlib.sha256(f"{role_arn}\0{session}".encode()).digest()
    return "ASIA" + base64.b32encode(digest).decode()[:16]  # 20 characters, like STS keys


class Identities:
    """The access keys the engine handed out, and whose they are (state owned by one object)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_key: dict[str, Principal] = {}

    def issue(self, role_arn: str, session: str) -> dict[str, str]:
        """Credentials for ``role_arn`` as the environment variables a process reads."""
        session = "".join(c if c.isalnum() or c in "=,.@-_" else "-" for c in session)[:64] or "session"
        principal = Principal(role_arn, session)
        key = _key(role_arn, session)
        with self._lock:
            self._by_key[key] = principal
        return {"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": f"secret-{key}",
                "AWS_SESSION_TOKEN": f"token-{key}"}

    def principal(self, role_arn: str, session: str) -> Principal:
        self.issue(role_arn, session)
        return Principal(role_arn, "".join(c if c.isalnum() or c in "=,.@-_" else "-" for c in session)[:64])

    def lookup(self, access_key: str) -> Principal | None:
        with self._lock:
            return self._by_key.get(access_key)

    def known(self, access_key: str) -> bool:
        return access_key == ADMIN_ACCESS_KEY or self.lookup(access_key) is not None

    def clear(self) -> None:
        with self._lock:
            self._by_key.clear()


IDENTITIES = Identities()


def no_credentials() -> dict[str, str]:
    """The environment of a process that has no role (an ECS task without a task role): the SDK finds
    no credentials, as in a container without ``taskRoleArn`` — never the machine's own."""
    return {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_CONFIG_FILE": "/dev/null"}
