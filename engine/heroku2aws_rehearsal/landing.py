"""The landing's resource types (template.yaml, Landing=create) as the emulated account creates and deletes them.

:func:`heroku2aws_rehearsal.deploy.deploy` hands every type it does not know itself to :func:`create`; each is made
through moto's own API (EC2, ELBv2, ACM, RDS, ElastiCache, Secrets Manager, ECS), as CloudFormation would call it,
and returns the ``Ref`` and the ``Fn::GetAtt`` attributes CloudFormation documents for the type. Where moto stops
short of the service, the rest is modelled here, as strictly as the real thing:

- ``AWS::CertificateManager::Certificate`` with ``DomainValidationOptions[].HostedZoneId``: CloudFormation writes the
  DNS validation CNAME into that zone and waits for ISSUED (AWS::CertificateManager::Certificate,
  DomainValidationOption). The certificate is ISSUED here only once that record is in a zone whose name is the
  domain or one of its parents; otherwise the deploy fails, as the real stack would time out.
- ``AWS::SecretsManager::Secret`` ``GenerateSecretString``: Secrets Manager's GetRandomPassword with the same options,
  the value set at ``GenerateStringKey`` of ``SecretStringTemplate``.
- ``AWS::SecretsManager::SecretTargetAttachment``: adds ``engine``, ``host``, ``port`` and ``dbInstanceIdentifier``
  of the RDS instance to the secret's JSON.
- RDS and ElastiCache endpoints: a :class:`DataStores` given by the rehearsal maps each to a local server (a real
  PostgreSQL with the master user and database RDS would create; a real Redis that requires the AUTH token, with TLS
  when ``TransitEncryptionEnabled``). Without one, moto's endpoints stand.

:func:`delete_stack` is CloudFormation's stack deletion: newest first, ``DeletionPolicy`` honoured (``Retain`` keeps
the resource; ``Snapshot`` takes a final snapshot first; the default for an ``AWS::RDS::DBInstance`` is ``Snapshot``,
CloudFormation User Guide, "DeletionPolicy attribute"), and a resource the service refuses to delete (an RDS
instance with ``DeletionProtection``) fails the deletion: the stack ends ``DELETE_FAILED`` with the resource in place.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .aws import EmulatedAws
    from .deploy import Stack

__all__ = ["DYNAMIC_REFERENCE", "DataStores", "DeleteResult", "create", "delete_stack", "resolve_dynamic"]

#: ``{{resolve:secretsmanager:secret-id:SecretString:json-key:version-stage:version-id}}`` (CloudFormation User Guide,
#: "Get values stored in other services using dynamic references"); secret-id may be a full ARN (it holds colons).
DYNAMIC_REFERENCE = re.compile(
    r"\{\{resolve:secretsmanager:((?:arn:[^:}]+:secretsmanager:[^:}]+:\d{12}:secret:[^:}]+)|[^:}]+)"
    r"(?::(SecretString)?(?::([^:}]*))?(?::([^:}]*))?(?::([^:}]*))?)?\}\}")


class DataStores(Protocol):
    """Where the landing's data stores really run (the rehearsal's local servers)."""

    def postgres(self, *, identifier: str, username: str, password: str, dbname: str) -> tuple[str, int]:
        """Create the master user and database RDS would; return (host, port)."""

    def redis(self, *, identifier: str, auth_token: str | None, tls: bool) -> tuple[str, int]:
        """Require ``auth_token`` as ElastiCache would; return (host, port)."""


def resolve_dynamic(aws: EmulatedAws, value: Any) -> Any:
    """``value`` with every Secrets Manager dynamic reference replaced by the secret's value (as CloudFormation
    resolves them when it creates the resource: the template and the stack never hold the value)."""
    if isinstance(value, list):
        return [resolve_dynamic(aws, v) for v in value]
    if isinstance(value, dict):
        return {k: resolve_dynamic(aws, v) for k, v in value.items()}
    if not isinstance(value, str) or "{{resolve:" not in value:
        return value

    def one(m: re.Match) -> str:
        secret_id, _, key, stage, version = m.groups()
        args: dict[str, str] = {"SecretId": secret_id}
        if version:
            args["VersionId"] = version
        elif stage:
            args["VersionStage"] = stage
        text = aws.client("secretsmanager").get_secret_value(**args)["SecretString"]
        if not key:
            return text
        doc = json.loads(text)
        if key not in doc:
            raise ValueError(f"dynamic reference to {secret_id}: the secret has no key {key!r}")
        return str(doc[key])

    out = DYNAMIC_REFERENCE.sub(one, value)
    if "{{resolve:secretsmanager:" in out:
        raise ValueError("a Secrets Manager dynamic reference that CloudFormation would refuse (malformed)")
    return out


def _tags(props: dict, key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
    return [{key: t["Key"], value: str(t["Value"])} for t in props.get("Tags", [])]


def _ec2_tags(resource_type: str, props: dict) -> list[dict]:
    tags = _tags(props)
    return [{"ResourceType": resource_type, "Tags": tags}] if tags else []


def _bool(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _name(stack: Stack, logical_id: str, limit: int, lower: bool = False) -> str:
    """A physical name as CloudFormation makes one (stack name, logical id, within the type's limit)."""
    text = re.sub(r"[^A-Za-z0-9-]", "-", f"{stack.name}-{logical_id}")[:limit].rstrip("-")
    return text.lower() if lower else text


def create(aws: EmulatedAws, stack: Stack, logical_id: str, rtype: str, props: dict,
           stores: DataStores | None = None) -> dict[str, Any] | None:  # noqa: C901 - one branch per type
    """Create one landing resource; ``{"ref", "attrs"}``, or None when the type is not a landing type."""
    ec2 = aws.client("ec2")
    if rtype == "AWS::EC2::VPC":
        vpc = ec2.create_vpc(CidrBlock=props["CidrBlock"], TagSpecifications=_ec2_tags("vpc", props))["Vpc"]
        # EnableDnsHostnames is not passed on: moto 5.2's network interfaces (a NAT gateway's, an ALB's) fail in a VPC
        # that has it ("property 'private_dns_name' has no setter"); nothing in the rehearsal resolves those names.
        if "EnableDnsSupport" in props:
            ec2.modify_vpc_attribute(VpcId=vpc["VpcId"], EnableDnsSupport={"Value": _bool(props["EnableDnsSupport"])})
        return {"ref": vpc["VpcId"], "attrs": {"VpcId": vpc["VpcId"], "CidrBlock": vpc["CidrBlock"]}}
    if rtype == "AWS::EC2::InternetGateway":
        igw = ec2.create_internet_gateway(TagSpecifications=_ec2_tags("internet-gateway", props))["InternetGateway"]
        return {"ref": igw["InternetGatewayId"], "attrs": {"InternetGatewayId": igw["InternetGatewayId"]}}
    if rtype == "AWS::EC2::VPCGatewayAttachment":
        ec2.attach_internet_gateway(InternetGatewayId=props["InternetGatewayId"], VpcId=props["VpcId"])
        return {"ref": logical_id, "attrs": {}}
    if rtype == "AWS::EC2::Subnet":
        subnet = ec2.create_subnet(VpcId=props["VpcId"], CidrBlock=props["CidrBlock"],
                                   AvailabilityZone=props["AvailabilityZone"],
                                   TagSpecifications=_ec2_tags("subnet", props))["Subnet"]
        return {"ref": subnet["SubnetId"], "attrs": {"SubnetId": subnet["SubnetId"],
                                                      "AvailabilityZone": subnet["AvailabilityZone"],
                                                      "VpcId": subnet["VpcId"]}}
    if rtype == "AWS::EC2::RouteTable":
        table = ec2.create_route_table(VpcId=props["VpcId"], TagSpecifications=_ec2_tags("route-table", props))
        rid = table["RouteTable"]["RouteTableId"]
        return {"ref": rid, "attrs": {"RouteTableId": rid}}
    if rtype == "AWS::EC2::Route":
        args = {k: props[k] for k in ("RouteTableId", "DestinationCidrBlock", "GatewayId", "NatGatewayId") if k in props}
        ec2.create_route(**args)
        return {"ref": logical_id, "attrs": {}}
    if rtype == "AWS::EC2::SubnetRouteTableAssociation":
        assoc = ec2.associate_route_table(SubnetId=props["SubnetId"], RouteTableId=props["RouteTableId"])
        return {"ref": assoc["AssociationId"], "attrs": {"Id": assoc["AssociationId"]}}
    if rtype == "AWS::EC2::EIP":
        addr = ec2.allocate_address(Domain=props.get("Domain", "vpc"))
        return {"ref": addr["PublicIp"], "attrs": {"AllocationId": addr["AllocationId"], "PublicIp": addr["PublicIp"]}}
    if rtype == "AWS::EC2::NatGateway":
        nat = ec2.create_nat_gateway(AllocationId=props["AllocationId"], SubnetId=props["SubnetId"],
                                     TagSpecifications=_ec2_tags("natgateway", props))["NatGateway"]
        return {"ref": nat["NatGatewayId"], "attrs": {}}
    if rtype == "AWS::EC2::SecurityGroup":
        name = props.get("GroupName") or _name(stack, logical_id, 255)
        gid = ec2.create_security_group(GroupName=name, Description=props["GroupDescription"], VpcId=props["VpcId"],
                                        TagSpecifications=_ec2_tags("security-group", props))["GroupId"]
        perms = []
        for rule in props.get("SecurityGroupIngress", []):
            perm: dict[str, Any] = {"IpProtocol": rule["IpProtocol"], "FromPort": int(rule["FromPort"]),
                                    "ToPort": int(rule["ToPort"])}
            if "CidrIp" in rule:
                perm["IpRanges"] = [{"CidrIp": rule["CidrIp"], "Description": rule.get("Description", "")}]
            if "SourceSecurityGroupId" in rule:
                perm["UserIdGroupPairs"] = [{"GroupId": rule["SourceSecurityGroupId"],
                                             "Description": rule.get("Description", "")}]
            perms.append(perm)
        if perms:
            ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=perms)
        return {"ref": gid, "attrs": {"GroupId": gid, "VpcId": props["VpcId"]}}
    if rtype == "AWS::ECS::Cluster":
        ecs = aws.client("ecs")
        args: dict[str, Any] = {"clusterName": props.get("ClusterName") or _name(stack, logical_id, 255),
                                "tags": _tags(props, "key", "value")}
        if props.get("CapacityProviders"):
            args["capacityProviders"] = props["CapacityProviders"]
        if props.get("DefaultCapacityProviderStrategy"):
            args["defaultCapacityProviderStrategy"] = [
                {"capacityProvider": s["CapacityProvider"], "weight": int(s.get("Weight", 0)), "base": int(s.get("Base", 0))}
                for s in props["DefaultCapacityProviderStrategy"]]
        if props.get("ClusterSettings"):
            args["settings"] = [{"name": s["Name"], "value": s["Value"]} for s in props["ClusterSettings"]]
        cluster = ecs.create_cluster(**args)["cluster"]
        return {"ref": cluster["clusterName"], "attrs": {"Arn": cluster["clusterArn"]}}
    if rtype == "AWS::CertificateManager::Certificate":
        return _certificate(aws, props)
    if rtype == "AWS::ElasticLoadBalancingV2::LoadBalancer":
        elb = aws.client("elbv2")
        lb = elb.create_load_balancer(Name=props.get("Name") or _name(stack, logical_id, 32), Subnets=props["Subnets"],
                                      SecurityGroups=props.get("SecurityGroups", []),
                                      Scheme=props.get("Scheme", "internet-facing"), Type=props.get("Type", "application"),
                                      Tags=_tags(props))["LoadBalancers"][0]
        if props.get("LoadBalancerAttributes"):
            elb.modify_load_balancer_attributes(LoadBalancerArn=lb["LoadBalancerArn"],
                                                Attributes=props["LoadBalancerAttributes"])
        arn = lb["LoadBalancerArn"]
        return {"ref": arn, "attrs": {"DNSName": lb["DNSName"], "LoadBalancerArn": arn,
                                      "CanonicalHostedZoneID": lb["CanonicalHostedZoneId"],
                                      "LoadBalancerFullName": arn.split(":loadbalancer/", 1)[1]}}
    if rtype == "AWS::ElasticLoadBalancingV2::TargetGroup":
        elb = aws.client("elbv2")
        keys = ("Protocol", "Port", "VpcId", "TargetType", "HealthCheckPath", "HealthCheckIntervalSeconds",
                "HealthyThresholdCount", "UnhealthyThresholdCount", "HealthCheckTimeoutSeconds", "Matcher")
        args = {k: (int(props[k]) if k in ("Port", "HealthCheckIntervalSeconds", "HealthyThresholdCount",
                                          "UnhealthyThresholdCount", "HealthCheckTimeoutSeconds") else props[k])
                for k in keys if k in props}
        tg = elb.create_target_group(Name=props.get("Name") or _name(stack, logical_id, 32), Tags=_tags(props),
                                     **args)["TargetGroups"][0]
        if props.get("TargetGroupAttributes"):
            elb.modify_target_group_attributes(TargetGroupArn=tg["TargetGroupArn"], Attributes=props["TargetGroupAttributes"])
        arn = tg["TargetGroupArn"]
        return {"ref": arn, "attrs": {"TargetGroupArn": arn, "TargetGroupFullName": arn.split(":", 5)[5],
                                      "TargetGroupName": tg["TargetGroupName"]}}
    if rtype == "AWS::ElasticLoadBalancingV2::Listener":
        return _listener(aws, props)
    if rtype == "AWS::SecretsManager::Secret":
        return _secret(aws, stack, logical_id, props)
    if rtype == "AWS::SecretsManager::SecretTargetAttachment":
        return _attach_secret(aws, props)
    if rtype == "AWS::RDS::DBSubnetGroup":
        rds = aws.client("rds")
        name = props.get("DBSubnetGroupName") or _name(stack, logical_id, 255, lower=True)
        rds.create_db_subnet_group(DBSubnetGroupName=name, DBSubnetGroupDescription=props["DBSubnetGroupDescription"],
                                   SubnetIds=props["SubnetIds"], Tags=_tags(props))
        return {"ref": name, "attrs": {}}
    if rtype == "AWS::RDS::DBInstance":
        return _db_instance(aws, stack, logical_id, props, stores)
    if rtype == "AWS::ElastiCache::SubnetGroup":
        ec = aws.client("elasticache")
        name = props.get("CacheSubnetGroupName") or _name(stack, logical_id, 255, lower=True)
        ec.create_cache_subnet_group(CacheSubnetGroupName=name, CacheSubnetGroupDescription=props["Description"],
                                     SubnetIds=props["SubnetIds"], Tags=_tags(props))
        return {"ref": name, "attrs": {}}
    if rtype == "AWS::ElastiCache::ReplicationGroup":
        return _replication_group(aws, stack, logical_id, props, stores)
    return None


def _certificate(aws: EmulatedAws, props: dict) -> dict[str, Any]:
    acm, r53 = aws.client("acm"), aws.client("route53")
    domain = props["DomainName"]
    options = props.get("DomainValidationOptions", [])
    arn = acm.request_certificate(
        DomainName=domain, ValidationMethod=props.get("ValidationMethod", "DNS"),
        SubjectAlternativeNames=props.get("SubjectAlternativeNames") or [domain],
        DomainValidationOptions=[{"DomainName": o["DomainName"], "ValidationDomain": o.get("ValidationDomain", o["DomainName"])}
                                 for o in options],
        Tags=_tags(props) or [{"Key": "rehearsal", "Value": "true"}])["CertificateArn"]
    zones = {o["DomainName"]: o["HostedZoneId"] for o in options if o.get("HostedZoneId")}
    desc = acm.describe_certificate(CertificateArn=arn)["Certificate"]
    for option in desc.get("DomainValidationOptions", []):
        name = option["DomainName"]
        zone_id = zones.get(name)
        if zone_id is None:
            raise ValueError(f"certificate for {name}: no HostedZoneId to validate it in; CloudFormation would wait "
                             "for a person to write the validation record (and the stack times out)")
        zone = r53.get_hosted_zone(Id=zone_id)["HostedZone"]["Name"].rstrip(".").lower()
        if not (name.lower() == zone or name.lower().endswith("." + zone)):
            raise ValueError(f"certificate for {name}: hosted zone {zone_id} ({zone}) is not its zone; the "
                             "validation record would never resolve and the certificate never be issued")
        record = option["ResourceRecord"]
        r53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [{
            "Action": "UPSERT", "ResourceRecordSet": {"Name": record["Name"], "Type": record["Type"], "TTL": 300,
                                                      "ResourceRecords": [{"Value": record["Value"]}]}}]})
    from moto.acm.models import acm_backends

    from .aws import ACCOUNT_ID, REGION

    acm_backends[ACCOUNT_ID][REGION]._certificates[arn].status = "ISSUED"  # the record is there: ACM issues it
    return {"ref": arn, "attrs": {"Id": arn}}


def _listener(aws: EmulatedAws, props: dict) -> dict[str, Any]:
    elb = aws.client("elbv2")
    args: dict[str, Any] = {"LoadBalancerArn": props["LoadBalancerArn"], "Protocol": props["Protocol"],
                            "Port": int(props["Port"]), "DefaultActions": props["DefaultActions"]}
    if props.get("Certificates"):
        acm = aws.client("acm")
        for cert in props["Certificates"]:  # ELB refuses a certificate ACM has not issued (CertificateNotFound)
            status = acm.describe_certificate(CertificateArn=cert["CertificateArn"])["Certificate"]["Status"]
            if status != "ISSUED":
                raise ValueError(f"listener: certificate {cert['CertificateArn']} is {status}, not ISSUED")
        args["Certificates"] = props["Certificates"]
    if props.get("SslPolicy"):
        args["SslPolicy"] = props["SslPolicy"]
    for action in args["DefaultActions"]:
        if "RedirectConfig" in action and "StatusCode" not in action["RedirectConfig"]:
            raise ValueError("listener: RedirectConfig needs StatusCode")
    arn = elb.create_listener(**args)["Listeners"][0]["ListenerArn"]
    return {"ref": arn, "attrs": {"ListenerArn": arn}}


def _secret(aws: EmulatedAws, stack: Stack, logical_id: str, props: dict) -> dict[str, Any]:
    sm = aws.client("secretsmanager")
    if "SecretString" in props and "GenerateSecretString" in props:
        raise ValueError(f"{logical_id}: SecretString and GenerateSecretString are mutually exclusive")
    if "GenerateSecretString" in props:
        gen = props["GenerateSecretString"]
        options = {k: gen[k] for k in ("PasswordLength", "ExcludeCharacters", "ExcludeNumbers", "ExcludePunctuation",
                                       "ExcludeUppercase", "ExcludeLowercase", "IncludeSpace", "RequireEachIncludedType")
                   if k in gen}
        if "PasswordLength" in options:
            options["PasswordLength"] = int(options["PasswordLength"])
        password = sm.get_random_password(**options)["RandomPassword"]
        if "SecretStringTemplate" in gen:
            if "GenerateStringKey" not in gen:
                raise ValueError(f"{logical_id}: SecretStringTemplate needs GenerateStringKey")
            doc = json.loads(gen["SecretStringTemplate"])
            doc[gen["GenerateStringKey"]] = password
            text = json.dumps(doc)
        else:
            text = password
    else:
        text = props.get("SecretString", "")
    args: dict[str, Any] = {"Name": props.get("Name") or _name(stack, logical_id, 512), "SecretString": text}
    if props.get("Description"):
        args["Description"] = props["Description"]
    if props.get("Tags"):
        args["Tags"] = _tags(props)
    arn = sm.create_secret(**args)["ARN"]
    return {"ref": arn, "attrs": {"Id": arn}}


def _attach_secret(aws: EmulatedAws, props: dict) -> dict[str, Any]:
    if props["TargetType"] != "AWS::RDS::DBInstance":
        raise ValueError(f"SecretTargetAttachment: the rehearsal models AWS::RDS::DBInstance only, not {props['TargetType']}")
    sm = aws.client("secretsmanager")
    db = aws.client("rds").describe_db_instances(DBInstanceIdentifier=props["TargetId"])["DBInstances"][0]
    doc = json.loads(sm.get_secret_value(SecretId=props["SecretId"])["SecretString"])
    host, port = RDS_ENDPOINTS.get(db["DBInstanceIdentifier"], (db["Endpoint"]["Address"], int(db["Endpoint"]["Port"])))
    doc.update(engine=db["Engine"], host=host, port=port, dbInstanceIdentifier=db["DBInstanceIdentifier"])
    sm.put_secret_value(SecretId=props["SecretId"], SecretString=json.dumps(doc))
    arn = sm.describe_secret(SecretId=props["SecretId"])["ARN"]
    return {"ref": arn, "attrs": {}}


def _db_instance(aws: EmulatedAws, stack: Stack, logical_id: str, props: dict, stores: DataStores | None) -> dict[str, Any]:
    rds = aws.client("rds")
    identifier = props.get("DBInstanceIdentifier") or _name(stack, logical_id, 63, lower=True)
    if _bool(props.get("ManageMasterUserPassword")) and props.get("MasterUserPassword"):
        raise ValueError(f"{logical_id}: MasterUserPassword and ManageMasterUserPassword are mutually exclusive (RDS)")
    args: dict[str, Any] = {
        "DBInstanceIdentifier": identifier, "Engine": props["Engine"], "DBInstanceClass": props["DBInstanceClass"],
        "AllocatedStorage": int(props["AllocatedStorage"]), "StorageType": props.get("StorageType", "gp2"),
        "MultiAZ": _bool(props.get("MultiAZ")), "StorageEncrypted": _bool(props.get("StorageEncrypted")),
        "DeletionProtection": _bool(props.get("DeletionProtection")),
        "PubliclyAccessible": _bool(props.get("PubliclyAccessible")),
        "MasterUsername": props["MasterUsername"], "MasterUserPassword": props["MasterUserPassword"],
        "VpcSecurityGroupIds": props.get("VPCSecurityGroups", []), "Tags": _tags(props),
        "BackupRetentionPeriod": int(props.get("BackupRetentionPeriod", 1)),
        "CopyTagsToSnapshot": _bool(props.get("CopyTagsToSnapshot")),
    }
    for key in ("EngineVersion", "DBName", "DBSubnetGroupName"):
        if props.get(key):
            args[key] = props[key]
    password = props["MasterUserPassword"]
    if not 8 <= len(password) <= 128 or any(c in password for c in '/"@ '):
        # CreateDBInstance MasterUserPassword: printable ASCII except "/", '"', "@" and space (RDS API Reference)
        raise ValueError(f"{logical_id}: MasterUserPassword breaks RDS's rules (length or a / \" @ or space)")
    db = rds.create_db_instance(**args)["DBInstance"]
    host, port = db["Endpoint"]["Address"], int(db["Endpoint"]["Port"])
    if stores is not None:
        host, port = stores.postgres(identifier=identifier, username=props["MasterUsername"], password=password,
                                     dbname=props.get("DBName") or "postgres")
        _set_endpoint_rds(identifier, host, port)
    return {"ref": identifier, "attrs": {"Endpoint.Address": host, "Endpoint.Port": str(port),
                                         "DBInstanceArn": db["DBInstanceArn"]}}


#: RDS instance identifier -> (host, port) of the server that really answers for it (DataStores); moto's
#: DescribeDBInstances keeps its own made-up DNS name (a read-only property there).
RDS_ENDPOINTS: dict[str, tuple[str, int]] = {}


def _set_endpoint_rds(identifier: str, host: str, port: int) -> None:
    RDS_ENDPOINTS[identifier] = (host, port)


def _replication_group(aws: EmulatedAws, stack: Stack, logical_id: str, props: dict,
                       stores: DataStores | None) -> dict[str, Any]:
    ec = aws.client("elasticache")
    identifier = props.get("ReplicationGroupId") or _name(stack, logical_id, 40, lower=True)
    tls = _bool(props.get("TransitEncryptionEnabled"))
    token = props.get("AuthToken")
    if token is not None and not tls:
        raise ValueError(f"{logical_id}: AuthToken requires TransitEncryptionEnabled (ElastiCache)")
    if token is not None and (not 16 <= len(token) <= 128 or any(c in token for c in '/"@')):
        raise ValueError(f"{logical_id}: AuthToken must be 16-128 printable characters without / \" @ (ElastiCache)")
    replicas = int(props.get("ReplicasPerNodeGroup", 0))
    failover = _bool(props.get("AutomaticFailoverEnabled"))
    if failover and replicas < 1 and int(props.get("NumCacheClusters", 1)) < 2:
        raise ValueError(f"{logical_id}: AutomaticFailoverEnabled needs at least one replica (ElastiCache)")
    if _bool(props.get("MultiAZEnabled")) and not failover:
        raise ValueError(f"{logical_id}: MultiAZEnabled needs AutomaticFailoverEnabled (ElastiCache)")
    args: dict[str, Any] = {
        "ReplicationGroupId": identifier, "ReplicationGroupDescription": props["ReplicationGroupDescription"],
        "Engine": props.get("Engine", "redis"), "CacheNodeType": props["CacheNodeType"],
        "NumNodeGroups": int(props.get("NumNodeGroups", 1)), "ReplicasPerNodeGroup": replicas,
        "AutomaticFailoverEnabled": failover, "MultiAZEnabled": _bool(props.get("MultiAZEnabled")),
        "TransitEncryptionEnabled": tls, "AtRestEncryptionEnabled": _bool(props.get("AtRestEncryptionEnabled")),
        "Port": int(props.get("Port", 6379)), "SecurityGroupIds": props.get("SecurityGroupIds", []), "Tags": _tags(props),
    }
    for key in ("EngineVersion", "CacheSubnetGroupName", "AuthToken"):
        if props.get(key):
            args[key] = props[key]
    if props.get("SnapshotRetentionLimit") is not None:
        args["SnapshotRetentionLimit"] = int(props["SnapshotRetentionLimit"])
    group = ec.create_replication_group(**args)["ReplicationGroup"]
    port = int(props.get("Port", 6379))
    host = f"master.{identifier}.abc123.use1.cache.amazonaws.com"
    node_groups = group.get("NodeGroups") or []
    if node_groups and node_groups[0].get("PrimaryEndpoint"):
        host = node_groups[0]["PrimaryEndpoint"]["Address"]
    if stores is not None:
        host, port = stores.redis(identifier=identifier, auth_token=token, tls=tls)
    return {"ref": identifier, "attrs": {"PrimaryEndPoint.Address": host, "PrimaryEndPoint.Port": str(port)}}


# ------------------------------------------------------------------ stack deletion


@dataclass
class DeleteResult:
    status: str  # DELETE_COMPLETE or DELETE_FAILED
    deleted: list[str] = field(default_factory=list)
    retained: list[str] = field(default_factory=list)
    snapshots: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # logical id -> the service's refusal
    not_modelled: list[str] = field(default_factory=list)  # types the emulator does not delete


def delete_stack(aws: EmulatedAws, stack: Stack) -> DeleteResult:
    """CloudFormation's DeleteStack over what :func:`heroku2aws_rehearsal.deploy.deploy` created (newest first)."""
    from botocore.exceptions import ClientError

    result = DeleteResult(status="DELETE_COMPLETE")
    for logical_id in reversed(list(stack.resources)):
        entry = stack.resources[logical_id]
        policy = entry.get("deletion_policy", "Delete")
        if policy in ("Retain", "RetainExceptOnCreate"):
            result.retained.append(logical_id)
            continue
        try:
            if entry["type"] == "AWS::RDS::DBInstance":
                args: dict[str, Any] = {"DBInstanceIdentifier": entry["ref"], "SkipFinalSnapshot": policy != "Snapshot"}
                if policy == "Snapshot":
                    args["FinalDBSnapshotIdentifier"] = f"{entry['ref']}-final"
                aws.client("rds").delete_db_instance(**args)
                if policy == "Snapshot":
                    result.snapshots.append(args["FinalDBSnapshotIdentifier"])
            elif entry["type"] == "AWS::ElastiCache::ReplicationGroup":
                args = {"ReplicationGroupId": entry["ref"]}
                if policy == "Snapshot":
                    args["FinalSnapshotIdentifier"] = f"{entry['ref']}-final"
                    result.snapshots.append(args["FinalSnapshotIdentifier"])
                aws.client("elasticache").delete_replication_group(**args)
            elif entry["type"] == "AWS::SecretsManager::Secret":
                aws.client("secretsmanager").delete_secret(SecretId=entry["ref"], ForceDeleteWithoutRecovery=True)
            else:
                result.not_modelled.append(logical_id)
                continue
        except ClientError as exc:
            result.failed[logical_id] = exc.response.get("Error", {}).get("Message", str(exc))
            result.status = "DELETE_FAILED"
            continue
        result.deleted.append(logical_id)
    return result
