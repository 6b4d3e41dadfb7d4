"""Emulated AWS: moto in server mode, in this process, with the engine's patches applied.

moto's state-machine interpreter runs inside this process, so the patches (JSONata, shape
normalisation, error names, local Lambda / ECS / DMS / ALB health) act on every execution. Clients
in this process and in the processes it starts (Lambda workers, ECS tasks) reach it through
``AWS_ENDPOINT_URL``; no credentials or account of the machine are ever used.
"""

from __future__ import annotations

import logging
import os
import threading

import boto3
from botocore.config import Config

from .servers import free_port

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"

_lock = threading.Lock()
_current: EmulatedAws | None = None


def aws_env(endpoint: str) -> dict[str, str]:
    """The environment every process of the rehearsal gets to talk to the emulated account."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "rehearsal",
        "AWS_SECRET_ACCESS_KEY": "rehearsal",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


class EmulatedAws:
    """One moto server per process (moto's backends are process-global)."""

    def __init__(self) -> None:
        self.port = 0
        self.endpoint = ""
        self._server = None

    def start(self) -> EmulatedAws:
        global _current
        with _lock:
            if _current is not None:
                raise RuntimeError("an emulated AWS is already running in this process")
            self.port = free_port()
            self.endpoint = f"http://127.0.0.1:{self.port}"
            os.environ["MOTO_PORT"] = str(self.port)  # moto's own SDK calls (aws-sdk tasks) go here
            os.environ.update(aws_env(self.endpoint))

            from moto.core.config import default_user_config

            default_user_config["stepfunctions"]["execute_state_machine"] = True
            default_user_config["lambda"]["use_docker"] = False
            default_user_config["batch"]["use_docker"] = False
            logging.getLogger("werkzeug").setLevel(logging.ERROR)
            # The interpreter logs every caught failure at ERROR; the rehearsal reports them itself.
            logging.getLogger("moto.stepfunctions").setLevel(logging.CRITICAL)

            from .patches import apply_all

            apply_all()
            from .services import events as emulated_events
            from .services import iam as emulated_iam

            emulated_iam.apply()  # every principal calls as itself, every request is authorized
            emulated_events.apply()  # EventBridge rules deliver to their targets
            from .services import scheduler as emulated_scheduler

            emulated_scheduler.apply()  # EventBridge Scheduler refuses what the service refuses
            from moto.server import ThreadedMotoServer

            self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
            self._server.start()
            _current = self
        return self

    def client(self, service: str):
        return boto3.client(service, region_name=REGION, endpoint_url=self.endpoint,
                            aws_access_key_id="rehearsal", aws_secret_access_key="rehearsal",
                            config=Config(retries={"max_attempts": 2, "mode": "standard"}))

    def reset(self) -> None:
        """Forget every resource (moto's reset) and every local process behind them."""
        from .patches import local
        from .services.stepfunctions import RUNTIME

        local.stop_everything()
        RUNTIME.reset()
        from .services import events as emulated_events
        from .services import iam as emulated_iam

        emulated_iam.reset()
        emulated_events.reset()
        from moto.moto_api._internal.models import moto_api_backend

        moto_api_backend.reset()

    def stop(self) -> None:
        global _current
        from .patches import local

        local.stop_everything()
        if self._server is not None:
            self._server.stop()
            self._server = None
        with _lock:
            if _current is self:
                _current = None

    def __enter__(self) -> EmulatedAws:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def current() -> EmulatedAws:
    if _current is None:
        raise RuntimeError("no emulated AWS is running")
    return _current
