"""Rules for the landing's data stores in template.yaml (issue 16): they outlive the migration stack, encrypted.

- ``template.data-store-policy``: every ``AWS::RDS::DBInstance`` / ``DBCluster`` and ``AWS::ElastiCache::
  ReplicationGroup`` / ``CacheCluster`` declares ``DeletionPolicy`` and ``UpdateReplacePolicy`` ``Snapshot`` or
  ``Retain`` (without them CloudFormation deletes an ElastiCache group with its stack; "DeletionPolicy attribute",
  CloudFormation User Guide: Snapshot is supported by exactly these types, and EC2 volumes, Redshift, Neptune).
- ``template.data-store-protection``: an RDS instance has ``DeletionProtection: true`` and ``StorageEncrypted: true``;
  an ElastiCache group ``AtRestEncryptionEnabled`` and ``TransitEncryptionEnabled`` true (the AUTH token needs it).
- ``template.secret-in-output``: no output's value holds a dynamic reference (``{{resolve:``) or a secret's
  ``SecretString``: outputs are shown to anyone who can describe the stack.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .finding import TEMPLATE, Finding, rel

DELETION_POLICY = "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-deletionpolicy.html"
DYNAMIC_REFERENCES = "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references.html"
RDS_INSTANCE = "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-rds-dbinstance.html"
ELASTICACHE = ("https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/"
               "aws-resource-elasticache-replicationgroup.html")

DATA_STORES = ("AWS::RDS::DBInstance", "AWS::RDS::DBCluster", "AWS::ElastiCache::ReplicationGroup",
               "AWS::ElastiCache::CacheCluster")
KEEPING = ("Snapshot", "Retain")
REQUIRED_TRUE = {
    "AWS::RDS::DBInstance": (("DeletionProtection", "StorageEncrypted"), RDS_INSTANCE),
    "AWS::ElastiCache::ReplicationGroup": (("AtRestEncryptionEnabled", "TransitEncryptionEnabled"), ELASTICACHE),
}


def check_template(template: dict[str, Any], file: str = rel(TEMPLATE)) -> list[Finding]:
    findings: list[Finding] = []
    for logical_id, res in (template.get("Resources") or {}).items():
        rtype = res.get("Type")
        if rtype not in DATA_STORES:
            continue
        for attribute in ("DeletionPolicy", "UpdateReplacePolicy"):
            if res.get(attribute) not in KEEPING:
                findings.append(Finding(file, logical_id, "template.data-store-policy",
                                        f"{rtype} needs {attribute} Snapshot or Retain (has {res.get(attribute)!r}): "
                                        "the data store must outlive the migration stack", DELETION_POLICY))
        wanted, source = REQUIRED_TRUE.get(rtype, ((), ""))
        props = res.get("Properties") or {}
        for prop in wanted:
            if props.get(prop) not in (True, "true"):
                findings.append(Finding(file, logical_id, "template.data-store-protection",
                                        f"{rtype} needs {prop}: true", source))
    for name, output in (template.get("Outputs") or {}).items():
        text = json.dumps(output.get("Value"))
        if "{{resolve:" in text or "SecretString" in text:
            findings.append(Finding(file, f"Outputs/{name}", "template.secret-in-output",
                                    "an output shows a secret's value to anyone who can describe the stack",
                                    DYNAMIC_REFERENCES))
    return findings


def check(path: Path = TEMPLATE) -> list[Finding]:
    from samcli.yamlhelper import yaml_parse

    return check_template(yaml_parse(path.read_text()), rel(path))
