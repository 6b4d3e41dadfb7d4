"""The landing stack's template parameters, as ``heroku2aws init`` writes them into samconfig.toml.

This module is the single source of these names in Python (template.yaml is the single source in YAML;
tests/landing/test_parameters_match_template.py checks that both agree). ``to_overrides()`` renders the
``parameter_overrides`` string of a ``[<app>.deploy.parameters]`` environment in SAM CLI's space-delimited
``Key="value"`` form (samcli.cli.types.CfnParameterOverridesType parses it back; a test does exactly that).

Interface (agreed for issues 16/17, section A):

- Landing: "create" | "none" (none: the user brings their own AWS side and gives today's full execution input)
- Domain: the app's custom domain served by the ALB ("" when Landing=none)
- ExistingVpcId, ExistingPublicSubnetIds, ExistingPrivateSubnetIds: "" = the landing creates its own VPC
- PostgresEngineVersion ("" = no Postgres), DbInstanceClass, DbAllocatedStorageGb, DbMultiAz ("true"/"false")
- RedisEngine ("redis"|"valkey"), RedisEngineVersion ("" = no Redis), RedisNodeType, RedisReplicas
- AppPort (Heroku apps listen on $PORT, 5000 by default), HealthCheckPath
- GitHubRepository ("" = no deploy role; "owner/name" = the GitHub OIDC deploy role for that repository)

plus the template's existing AppName and HostedZoneId, which every environment sets.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["PARAMETER_NAMES", "LandingParameters"]

#: Field of :class:`LandingParameters` -> the template parameter it sets.
PARAMETER_NAMES: dict[str, str] = {
    "app_name": "AppName",
    "hosted_zone_id": "HostedZoneId",
    "landing": "Landing",
    "domain": "Domain",
    "existing_vpc_id": "ExistingVpcId",
    "existing_public_subnet_ids": "ExistingPublicSubnetIds",
    "existing_private_subnet_ids": "ExistingPrivateSubnetIds",
    "postgres_engine_version": "PostgresEngineVersion",
    "db_instance_class": "DbInstanceClass",
    "db_allocated_storage_gb": "DbAllocatedStorageGb",
    "db_multi_az": "DbMultiAz",
    "redis_engine": "RedisEngine",
    "redis_engine_version": "RedisEngineVersion",
    "redis_node_type": "RedisNodeType",
    "redis_replicas": "RedisReplicas",
    "app_port": "AppPort",
    "health_check_path": "HealthCheckPath",
    "github_repository": "GitHubRepository",
}

# Characters SAM CLI's space-delimited override parser cannot carry inside a double-quoted value.
_UNSAFE = re.compile(r'["\\\n\r]')


@dataclass(frozen=True)
class LandingParameters:
    """The values ``init`` chose for one app's landing (every field maps to one template parameter)."""

    app_name: str
    hosted_zone_id: str
    landing: Literal["create", "none"] = "create"
    domain: str = ""
    existing_vpc_id: str = ""
    existing_public_subnet_ids: tuple[str, ...] = field(default_factory=tuple)
    existing_private_subnet_ids: tuple[str, ...] = field(default_factory=tuple)
    postgres_engine_version: str = ""
    db_instance_class: str = "db.t4g.micro"
    db_allocated_storage_gb: int = 20
    db_multi_az: bool = False
    redis_engine: Literal["redis", "valkey"] = "redis"
    redis_engine_version: str = ""
    redis_node_type: str = "cache.t4g.micro"
    redis_replicas: int = 0
    app_port: int = 5000
    health_check_path: str = "/"
    github_repository: str = ""

    def values(self) -> dict[str, str]:
        """Template parameter name -> its value as CloudFormation receives it (strings)."""
        out: dict[str, str] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool):
                text = "true" if value else "false"
            elif isinstance(value, tuple):
                text = ",".join(value)
            else:
                text = str(value)
            out[PARAMETER_NAMES[f.name]] = text
        return out

    def to_overrides(self) -> str:
        """samconfig.toml's ``parameter_overrides``: ``AppName="x" HostedZoneId="Z…" …`` (every parameter, quoted)."""
        parts = []
        for name, text in self.values().items():
            if _UNSAFE.search(text):
                raise ValueError(f"{name}: a parameter value cannot contain a double quote, backslash or line break")
            parts.append(f'{name}="{text}"')
        return " ".join(parts)
