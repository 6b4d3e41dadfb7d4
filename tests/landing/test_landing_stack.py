"""The landing stack (template.yaml, Landing=create) deployed into the emulated account, and deleted.

The same template ``sam deploy`` ships; deploy.py creates each resource through moto's APIs (landing.py for the
landing's types). What is asserted is what CloudFormation documents: conditions, the target secrets in the format
the workflow reads, the IDs the validate function receives, the DeletionPolicy on stack deletion.
"""

from __future__ import annotations

import json

import pytest

from heroku2aws_rehearsal.deploy import deploy
from heroku2aws_rehearsal.landing import DYNAMIC_REFERENCE, delete_stack, resolve_dynamic
from heroku2aws_rehearsal.patches import local

APP = "sample-app"
STACK = "heroku2aws-sample-app"
PARAMS = {"AppName": APP, "Landing": "create", "Domain": "www.example.com", "PostgresEngineVersion": "15",
          "DbInstanceClass": "db.t4g.medium", "DbAllocatedStorageGb": "50", "DbMultiAz": "true",
          "RedisEngine": "valkey", "RedisEngineVersion": "7.2", "RedisNodeType": "cache.t4g.small", "RedisReplicas": "1",
          "HealthCheckPath": "/health"}
LANDING_TYPES = ("AWS::EC2::", "AWS::ElasticLoadBalancingV2::", "AWS::RDS::", "AWS::ElastiCache::",
                 "AWS::CertificateManager::", "AWS::ECS::Cluster", "AWS::SecretsManager::")


class Stores:
    """Where the data stores 'run' (the rehearsal maps them to its local servers the same way)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []

    def postgres(self, **kw):
        self.calls.append(("postgres", kw))
        return "127.0.0.1", 15432

    def redis(self, **kw):
        self.calls.append(("redis", kw))
        return "127.0.0.1", 16379


def zone(aws, name: str = "example.com") -> str:
    return aws.client("route53").create_hosted_zone(Name=name, CallerReference=name)["HostedZone"]["Id"].split("/")[-1]


def validate_env() -> dict[str, str]:
    fn = next(f for name, f in local.FUNCTIONS.items() if "ValidateInput" in name)
    return fn.environment


@pytest.fixture(scope="module")
def landed(emulated_aws):
    emulated_aws.reset()
    stores = Stores()
    zone_id = zone(emulated_aws)
    stack = deploy(emulated_aws, STACK, {**PARAMS, "HostedZoneId": zone_id}, stores=stores)
    yield emulated_aws, stack, stores, zone_id, dict(validate_env())
    emulated_aws.reset()


def test_given_landing_create_when_deployed_then_network_cluster_alb_and_data_stores_exist(landed):
    aws, stack, _, _, _ = landed
    ec2 = aws.client("ec2")
    vpc = stack.ref("LandingVpc")
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    assert len(subnets) == 4 and len({s["AvailabilityZone"] for s in subnets}) == 2
    assert ec2.describe_nat_gateways()["NatGateways"][0]["SubnetId"] == stack.ref("LandingPublicSubnetA")
    cluster = aws.client("ecs").describe_clusters(clusters=[stack.ref("LandingCluster")])["clusters"][0]
    assert cluster["capacityProviders"] == ["FARGATE", "FARGATE_SPOT"]
    elb = aws.client("elbv2")
    tg = elb.describe_target_groups(TargetGroupArns=[stack.ref("LandingWebTargetGroup")])["TargetGroups"][0]
    assert (tg["TargetType"], tg["Port"], tg["HealthCheckPath"]) == ("ip", 5000, "/health")
    listeners = {ls["Port"]: ls for ls in elb.describe_listeners(LoadBalancerArn=stack.ref("LandingLoadBalancer"))["Listeners"]}
    assert listeners[443]["Protocol"] == "HTTPS"
    assert listeners[443]["Certificates"][0]["CertificateArn"] == stack.ref("LandingCertificate")
    assert listeners[80]["DefaultActions"][0]["RedirectConfig"]["Protocol"] == "HTTPS"
    db = aws.client("rds").describe_db_instances(DBInstanceIdentifier=stack.ref("LandingDatabase"))["DBInstances"][0]
    assert (db["Engine"], db["DBInstanceClass"], db["AllocatedStorage"], db["StorageType"]) == \
        ("postgres", "db.t4g.medium", 50, "gp3")
    assert db["MultiAZ"] and db["StorageEncrypted"] and db["DeletionProtection"] and not db["PubliclyAccessible"]
    ec = aws.client("elasticache")
    group = ec.describe_replication_groups(ReplicationGroupId=stack.ref("LandingRedis"))["ReplicationGroups"][0]
    assert group["TransitEncryptionEnabled"] and group["AtRestEncryptionEnabled"] and group["AuthTokenEnabled"]
    assert group["AutomaticFailover"] == "enabled" and group["CacheNodeType"] == "cache.t4g.small"


def test_given_the_certificate_when_deployed_then_its_dns_validation_record_is_in_the_zone_and_it_is_issued(landed):
    aws, stack, _, zone_id, _ = landed
    cert = aws.client("acm").describe_certificate(CertificateArn=stack.ref("LandingCertificate"))["Certificate"]
    assert cert["Status"] == "ISSUED"
    record = cert["DomainValidationOptions"][0]["ResourceRecord"]
    names = {r["Name"] for r in aws.client("route53").list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]}
    assert record["Name"] in names


def test_given_the_target_secrets_when_read_then_they_are_in_the_format_the_workflow_reads(landed):
    aws, stack, stores, _, _ = landed
    from heroku2aws.clients.connections import postgres_url_from_doc

    sm = aws.client("secretsmanager")
    pg = json.loads(sm.get_secret_value(SecretId=stack.ref("LandingTargetPostgresSecret"))["SecretString"])
    assert {"engine", "host", "port", "username", "password", "dbname"} <= pg.keys()
    assert (pg["host"], pg["port"], pg["dbname"]) == ("127.0.0.1", 15432, "app")
    postgres_url_from_doc(pg)  # the workflow's parser takes it
    # RDS got the very password in the secret (dynamic reference), and so did the mapped server
    calls = dict(stores.calls)
    assert calls["postgres"] == {"identifier": stack.ref("LandingDatabase"), "username": pg["username"],
                                 "password": pg["password"], "dbname": "app"}
    redis = json.loads(sm.get_secret_value(SecretId=stack.ref("LandingTargetRedisSecret"))["SecretString"])
    token = calls["redis"]["auth_token"]
    assert redis == {"url": f"rediss://:{token}@127.0.0.1:16379"} and len(token) == 64 and token.isalnum()
    for name in ("LandingTargetPostgresSecret", "LandingTargetRedisSecret"):
        tags = {t["Key"]: t["Value"] for t in sm.describe_secret(SecretId=stack.ref(name))["Tags"]}
        assert tags == {"heroku2aws:app": APP}  # the workflow may read them, never rewrite or delete them


def test_given_the_validate_function_when_deployed_then_it_receives_the_landings_ids(landed):
    _, stack, _, zone_id, env = landed
    assert env["LANDING"] == "create"
    assert env["LANDING_CLUSTER_ARN"] == stack.attr("LandingCluster", "Arn")
    assert env["LANDING_PRIVATE_SUBNETS"] == f"{stack.ref('LandingPrivateSubnetA')},{stack.ref('LandingPrivateSubnetB')}"
    assert env["LANDING_APP_SECURITY_GROUP"] == stack.ref("LandingAppSecurityGroup")
    assert env["LANDING_TARGET_GROUP_ARN"] == stack.ref("LandingWebTargetGroup")
    assert env["LANDING_TARGET_POSTGRES_SECRET_ARN"] == stack.ref("LandingTargetPostgresSecret")
    assert env["HEROKU2AWS_HOSTED_ZONE_ID"] == zone_id
    assert env["LANDING_EXECUTION_ROLE_ARN"].endswith(f":role/heroku2aws-{APP}-execution")  # PassRole's name rule
    # no value of a secret reaches an environment or an output
    assert not any("{{resolve" in v or "rediss://" in v for v in env.values())


def test_given_the_stack_when_deleted_then_the_data_stores_stay(landed):
    aws, stack, _, _, _ = landed
    result = delete_stack(aws, stack)
    # RDS: DeletionProtection refuses the delete (CloudFormation then reports DELETE_FAILED), the instance stays
    assert result.status == "DELETE_FAILED" and "LandingDatabase" in result.failed
    assert aws.client("rds").describe_db_instances(DBInstanceIdentifier=stack.ref("LandingDatabase"))["DBInstances"]
    # ElastiCache: DeletionPolicy Retain
    assert "LandingRedis" in result.retained
    ec = aws.client("elasticache")
    assert ec.describe_replication_groups(ReplicationGroupId=stack.ref("LandingRedis"))["ReplicationGroups"]
    assert "LandingRedisAuthSecret" in result.deleted  # what has no policy goes


def test_given_a_database_without_protection_when_its_stack_is_deleted_then_a_final_snapshot_is_taken(emulated_aws):
    emulated_aws.reset()
    stack = deploy(emulated_aws, STACK, {**PARAMS, "HostedZoneId": zone(emulated_aws)}, stores=Stores())
    rds = emulated_aws.client("rds")
    rds.modify_db_instance(DBInstanceIdentifier=stack.ref("LandingDatabase"), DeletionProtection=False, ApplyImmediately=True)
    result = delete_stack(emulated_aws, stack)
    assert "LandingDatabase" in result.deleted
    assert rds.describe_db_snapshots(DBSnapshotIdentifier=f"{stack.ref('LandingDatabase')}-final")["DBSnapshots"]


def test_given_landing_none_when_deployed_then_no_landing_resource_exists(emulated_aws):
    emulated_aws.reset()
    stack = deploy(emulated_aws, STACK, {"AppName": APP, "HostedZoneId": zone(emulated_aws)})
    assert not [k for k, v in stack.resources.items() if v["type"].startswith(LANDING_TYPES)]
    assert all("condition" in why for k, why in stack.skipped.items() if k.startswith("Landing"))
    assert emulated_aws.client("ec2").describe_vpcs(Filters=[{"Name": "cidr", "Values": ["10.80.0.0/16"]}])["Vpcs"] == []
    env = validate_env()
    assert env["LANDING"] == "none" and env["LANDING_CLUSTER_ARN"] == "" and env["LANDING_TARGET_POSTGRES_SECRET_ARN"] == ""


def test_given_a_domain_outside_the_hosted_zone_when_deployed_then_the_certificate_cannot_be_issued(emulated_aws):
    emulated_aws.reset()
    with pytest.raises(ValueError, match="is not its zone"):
        deploy(emulated_aws, STACK, {**PARAMS, "Domain": "www.other.org", "HostedZoneId": zone(emulated_aws)},
               stores=Stores())


def test_given_a_dynamic_reference_when_resolved_then_the_secrets_key_replaces_it(emulated_aws):
    emulated_aws.reset()
    arn = emulated_aws.client("secretsmanager").create_secret(Name="x/y", SecretString='{"token": "abc"}')["ARN"]
    assert resolve_dynamic(emulated_aws, {"a": [f"rediss://:{{{{resolve:secretsmanager:{arn}:SecretString:token}}}}@h"]}) == \
        {"a": ["rediss://:abc@h"]}
    assert DYNAMIC_REFERENCE.fullmatch("{{resolve:secretsmanager:x/y:SecretString:token}}")
    with pytest.raises(ValueError, match="no key"):
        resolve_dynamic(emulated_aws, f"{{{{resolve:secretsmanager:{arn}:SecretString:nope}}}}")


def test_given_an_existing_vpc_when_deployed_then_the_landing_uses_its_subnets_and_creates_no_network(emulated_aws):
    emulated_aws.reset()
    ec2 = emulated_aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{i}.0/24", AvailabilityZone=f"us-east-1{az}")["Subnet"]["SubnetId"]
               for i, az in ((1, "a"), (2, "b"), (3, "a"), (4, "b"))]
    stack = deploy(emulated_aws, STACK, {**PARAMS, "HostedZoneId": zone(emulated_aws), "ExistingVpcId": vpc,
                                         "ExistingPublicSubnetIds": ",".join(subnets[:2]),
                                         "ExistingPrivateSubnetIds": ",".join(subnets[2:])}, stores=Stores())
    assert not [k for k, v in stack.resources.items() if v["type"].startswith(("AWS::EC2::VPC", "AWS::EC2::Subnet",
                                                                                "AWS::EC2::NatGateway"))]
    lb = emulated_aws.client("elbv2").describe_load_balancers(LoadBalancerArns=[stack.ref("LandingLoadBalancer")])
    assert sorted(az["SubnetId"] for az in lb["LoadBalancers"][0]["AvailabilityZones"]) == sorted(subnets[:2])
    group = emulated_aws.client("rds").describe_db_subnet_groups(DBSubnetGroupName=stack.ref("LandingDatabaseSubnetGroup"))
    assert sorted(s["SubnetIdentifier"] for s in group["DBSubnetGroups"][0]["Subnets"]) == sorted(subnets[2:])
    assert validate_env()["LANDING_PRIVATE_SUBNETS"] == ",".join(subnets[2:])
    assert ec2.describe_security_groups(GroupIds=[stack.ref("LandingAppSecurityGroup")])["SecurityGroups"][0]["VpcId"] == vpc
