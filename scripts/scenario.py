#!/usr/bin/env python3
"""The project's own CloudTrail scenario (data/scenario/): one hour of an
invented AWS account, 111122223333, on 2026-03-10 09:00-10:00 UTC, in which
a leaked CI access key is used from an unknown address to take the account
over, among the account's ordinary traffic.

Every record is written here, after the record shapes AWS documents
(CloudTrail record contents, the userIdentity element, console sign-in and
service events, each API's request parameters); nothing is copied from
real logs. Documentation values only: accounts 111122223333 (the victim)
and 444455556666 (the attacker's), RFC 5737 addresses (192.0.2.0/24 the
office and CI, 198.51.100.0/24 and 203.0.113.0/24 the attacker), access
keys and ids ending in EXAMPLE, invented names.

The story (times UTC; the rules each step should set off in brackets):
  09:12  the CI user's key is used from 203.0.113.66: who am I, denied
         discovery, a denied user-data read [ec2-user-data-read-denied],
         a denied StopLogging [cloudtrail-logging-stopped]; it assumes
         the Terraform deploy role
  09:18  discovery and credential access through the role: secrets read
         in bulk [secretsmanager-batch-secret-retrieval], Windows password
         data [ec2-password-data-retrieved]
  09:24  persistence: a user with AdministratorAccess, its access key and
         console password, another user's password reset, a role trusting
         the attacker's account, an allow-all inline policy, an IAM Roles
         Anywhere trust anchor
  09:31  the new user takes a federation token and signs in to the
         console without MFA [cis-cloudwatch-3], then: Lambda
         code, layers and a public permission; a snapshot, an RDS snapshot
         and an AMI shared (the AMI with everyone); a bucket opened to the
         world three ways; SSH opened to the internet; GPU instances
         (refused: vCPU quota); user data changed; SSM commands and a
         session; an EC2 Instance Connect key; the serial console enabled;
         Bedrock model access enabled and models invoked
  09:40  defence evasion: GuardDuty, Config, Security Hub, IAM Access
         Analyzer, Resolver query logging, VPC flow logs, CloudTrail event
         selectors, trail settings, a trail deleted, logging stopped, a KMS
         key disabled and scheduled for deletion, an attempt to leave the
         organization
  09:48  the response: an administrator deactivates the keys and restores
         logging; the account owner signs in as root [cis-cloudwatch-1]

Around it, ordinary traffic that should raise no alert (metric rules may
count it): two Terraform runs through the deploy role, two people at the
console and the CLI (with mistyped passwords), an application reading its
secrets and parameters, a dashboard polling CloudWatch, and calls AWS
services make (Lambda and ECS assuming their roles, AWS Config, CloudTrail's
KMS data keys, a key rotation).

The files are CloudTrail's S3 delivery files, `{"Records": [...]}`, one per
region and five minutes, named as CloudTrail names them; the delivery trail
is the organization's, which the account cannot stop, so records go on
after the account's own trail is stopped.

Usage:
  scenario.py [--out DIR]              write the files (default data/scenario/)
  scenario.py --check [--trailwatch BIN]
      check that data/scenario/ is what this script writes, then replay it
      with `trailwatch replay` (default target/debug/trailwatch): every
      step's rules must alert on its records and no alert rule on the
      ordinary traffic; prints which of the pack's alert rules fired.
Standard library only; the output depends on nothing but this file.
"""
import argparse
import datetime
import glob
import json
import os
import random
import subprocess
import sys
import uuid
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(ROOT, "data", "scenario")
SEED = 20260310
START = datetime.datetime(2026, 3, 10, 9, 0, 0, tzinfo=datetime.timezone.utc)

ACCOUNT = "111122223333"
ATTACKER_ACCOUNT = "444455556666"
OFFICE_ALICE, OFFICE_BOB, OFFICE_OWNER, CI_RUNNER = "192.0.2.10", "192.0.2.23", "192.0.2.14", "192.0.2.50"
ATTACKER_IP, ATTACKER_VPN = "203.0.113.66", "198.51.100.23"

CLI = ("aws-cli/2.15.30 md/awscrt#0.19.19 ua/2.0 os/linux#6.6.15-amd64 md/arch#x86_64 lang/python#3.11.8 "
       "md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/distrib#debian.12 md/prompt#off md/command#{cmd}")
CLI_MAC = ("aws-cli/2.15.30 md/awscrt#0.19.19 ua/2.0 os/macos#23.3.0 md/arch#arm64 lang/python#3.11.8 "
           "md/pyimpl#CPython cfg/retry-mode#standard md/installer#source md/prompt#off md/command#{cmd}")
TERRAFORM = ("APN/1.0 HashiCorp/1.0 Terraform/1.7.5 (+https://www.terraform.io) terraform-provider-aws/5.40.0 "
             "(+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.25.3 os/linux lang/go#1.21.8 "
             "md/GOOS#linux md/GOARCH#amd64 api/{svc}#1.0.0")
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0"
BROWSER_MAC = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
               "Chrome/122.0.0.0 Safari/537.36")
BOTO3 = ("Boto3/1.34.60 md/Botocore#1.34.60 ua/2.0 os/linux#5.10.210-201.852.amzn2.x86_64 md/arch#x86_64 "
         "lang/python#3.12.2 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.60")
GRAFANA = "Grafana/10.4.0 aws-sdk-go/1.50.8 (go1.21.6; linux; amd64)"

READ_PREFIXES = ("Describe", "Get", "List", "Lookup", "BatchGet", "Head", "Check")
READ_ONLY = {"AssumeRole": True, "GetFederationToken": False, "InvokeModel": True}  # not as their names say
GLOBAL = {"iam", "sts", "signin", "organizations"}


def kebab(name):
    out = ""
    for i, c in enumerate(name):
        out += ("-" if i and c.isupper() and not name[i - 1].isupper() else "") + c.lower()
    return out.replace("20150331v2", "").replace("20150331", "")


class Actor:
    """Who makes calls: the userIdentity element, the address and the user agent."""

    def __init__(self, identity, ip, agent, console=False, vpce=None):
        self.identity, self.ip, self.agent, self.console, self.vpce = identity, ip, agent, console, vpce

    def user_agent(self, service, name):
        ua = self.agent.format(cmd=f"{service}.{kebab(name)}", svc=service)
        return f"[{ua}]" if service == "s3" and not self.console else ua


class Story:
    def __init__(self, seed=SEED):
        self.rng = random.Random(seed)
        self.records = []  # (record, expected alert rules, step)

    # --- ids
    def hexid(self, n):
        return "".join(self.rng.choice("0123456789abcdef") for _ in range(n))

    def alnum(self, n, upper=True):
        chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" if upper else "abcdefghijklmnopqrstuvwxyz0123456789"
        return "".join(self.rng.choice(chars) for _ in range(n))

    def uuid(self):
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def key(self, prefix="AKIA"):
        return prefix + self.alnum(9) + "EXAMPLE"

    def principal(self, prefix="AIDA"):
        return prefix + self.alnum(10) + "EXAMPLE"

    # --- time
    @staticmethod
    def at(minute, second=0):
        return START + datetime.timedelta(minutes=minute, seconds=second)

    # --- identities
    def iam_user(self, name, key, pid, console_since=None, mfa=False):
        """An IAM user's identity; without `key` as in its console sign-in."""
        ident = {"type": "IAMUser", "principalId": pid, "arn": f"arn:aws:iam::{ACCOUNT}:user/{name}",
                 "accountId": ACCOUNT, "accessKeyId": key, "userName": name}
        if key is None:
            del ident["accessKeyId"]
        if console_since is not None:
            ident["sessionContext"] = {"sessionIssuer": {}, "webIdFederationData": {},
                                       "attributes": {"creationDate": iso(console_since),
                                                      "mfaAuthenticated": "true" if mfa else "false"}}
        return ident

    def assumed_role(self, role, session, role_pid, key, since, mfa=False):
        return {"type": "AssumedRole", "principalId": f"{role_pid}:{session}",
                "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}", "accountId": ACCOUNT,
                "accessKeyId": key,
                "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": role_pid,
                                                     "arn": f"arn:aws:iam::{ACCOUNT}:role/{role}",
                                                     "accountId": ACCOUNT, "userName": role},
                                   "webIdFederationData": {},
                                   "attributes": {"creationDate": iso(since),
                                                  "mfaAuthenticated": "true" if mfa else "false"}}}

    # --- records
    def call(self, when, who, service, name, req=None, resp=None, error=None, region="us-east-1",
             expect=(), step="ordinary traffic", read_only=None, event_type="AwsApiCall", resources=None):
        if service in GLOBAL:
            region = "us-east-1"
        rec = {"eventVersion": "1.10" if event_type == "AwsApiCall" else "1.09",
               "userIdentity": who.identity,
               "eventTime": iso(when),
               "eventSource": f"{service}.amazonaws.com",
               "eventName": name,
               "awsRegion": region,
               "sourceIPAddress": who.ip,
               "userAgent": who.user_agent(service, name)}
        if error:
            rec["errorCode"], rec["errorMessage"] = error
        rec["requestParameters"] = req
        rec["responseElements"] = None if error else resp
        if event_type != "AwsConsoleSignIn":
            rec["requestID"] = self.uuid()
        rec["eventID"] = self.uuid()
        if read_only is None:
            read_only = READ_ONLY.get(name, name.startswith(READ_PREFIXES))
        rec["readOnly"] = read_only
        if resources:
            rec["resources"] = resources
        rec["eventType"] = event_type
        rec["managementEvent"] = True
        rec["recipientAccountId"] = ACCOUNT
        if who.vpce:
            rec["vpcEndpointId"] = who.vpce
            rec["vpcEndpointAccountId"] = ACCOUNT
        rec["eventCategory"] = "Management"
        if event_type == "AwsApiCall" and not who.ip.endswith(".amazonaws.com"):
            host = (f"{service}.amazonaws.com" if service in GLOBAL
                    else (req or {}).get("Host") or f"{service}.{region}.amazonaws.com")
            rec["tlsDetails"] = {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
                                 "clientProvidedHostHeader": host}
        if who.console and event_type == "AwsApiCall":
            rec["sessionCredentialFromConsole"] = "true"
        self.records.append((rec, set(expect), step))
        return rec

    def sign_in(self, when, who, ok=True, mfa=True, expect=(), step="ordinary traffic"):
        """A console sign-in (eventType AwsConsoleSignIn); a failed one has
        errorMessage "Failed authentication" and ConsoleLogin "Failure"."""
        rec = self.call(when, who, "signin", "ConsoleLogin", req=None,
                        resp={"ConsoleLogin": "Success" if ok else "Failure"},
                        expect=expect, step=step, read_only=False, event_type="AwsConsoleSignIn")
        if not ok:
            rec["errorMessage"] = "Failed authentication"
            rec["responseElements"] = {"ConsoleLogin": "Failure"}
        rec["additionalEventData"] = {
            "LoginTo": "https://console.aws.amazon.com/console/home?state=hashArgs%23&isauthcode=true",
            "MobileVersion": "No", "MFAUsed": "Yes" if mfa else "No"}
        # Sign-in records carry the signin endpoint in tlsDetails.
        rec["tlsDetails"] = {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
                             "clientProvidedHostHeader": "signin.aws.amazon.com"}
        return rec

    def service_call(self, when, invoked_by, service, name, req=None, resp=None, region="us-east-1",
                     role=None, resources=None):
        """A call an AWS service makes: as the service itself (AWSService), or
        in a role it assumed on the account's behalf (invokedBy set)."""
        if role:
            ident = dict(role)
            ident["invokedBy"] = invoked_by
        else:
            ident = {"type": "AWSService", "invokedBy": invoked_by}
        who = Actor(ident, invoked_by, invoked_by)
        return self.call(when, who, service, name, req, resp, region=region, resources=resources)


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def iam_date(t):
    """Dates as IAM and STS write them in responseElements: "Mar 10, 2026, 9:24:31 AM"."""
    hour = t.hour % 12 or 12
    return f"{t:%b} {t.day}, {t.year}, {hour}:{t:%M:%S} {'AM' if t.hour < 12 else 'PM'}"


def denied(ident, action, resource="*", ec2=False):
    arn = ident["arn"]
    if ec2:
        return ("Client.UnauthorizedOperation",
                f"You are not authorized to perform this operation. User: {arn} is not authorized to perform: "
                f"{action} because no identity-based policy allows the {action} action")
    return ("AccessDenied", f"User: {arn} is not authorized to perform: {action} on resource: {resource} "
                            f"because no identity-based policy allows the {action} action")


# ---------------------------------------------------------------- the hour

def build(seed=SEED):
    s = Story(seed)
    rng = s.rng
    at = s.at

    # People, roles, keys.
    ci_key = "AKIAIOSFODNN7EXAMPLE"  # the CI user's key, the one that leaked
    ci_pid = s.principal()
    ci_cli = Actor(s.iam_user("deploy-ci", ci_key, ci_pid), CI_RUNNER, TERRAFORM)
    stolen = Actor(s.iam_user("deploy-ci", ci_key, ci_pid), ATTACKER_IP, CLI)
    tf_role_pid = s.principal("AROA")
    alice_pid, bob_pid = s.principal(), s.principal()
    app_role_pid, dash_role_pid, cfg_role_pid = s.principal("AROA"), s.principal("AROA"), s.principal("AROA")

    def tf_session(since, session):
        return s.assumed_role("TerraformDeployRole", session, tf_role_pid, s.key("ASIA"), since)

    # ---------------------------------------------------------- ordinary traffic

    # Two Terraform runs through the deploy role: plan at 09:02 then apply, plan only at 09:36.
    def terraform_run(minute, apply):
        t = at(minute)
        s.call(t, ci_cli, "sts", "AssumeRole",
               req={"roleArn": f"arn:aws:iam::{ACCOUNT}:role/TerraformDeployRole",
                    "roleSessionName": f"ci-pipeline-{4800 + minute}", "durationSeconds": 3600},
               resp={"credentials": {"accessKeyId": s.key("ASIA"), "sessionToken": "<sensitiveDataRemoved>",
                                     "expiration": iam_date(t + datetime.timedelta(hours=1))},
                     "assumedRoleUser": {"assumedRoleId": f"{tf_role_pid}:ci-pipeline-{4800 + minute}",
                                         "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/TerraformDeployRole/ci-pipeline-{4800 + minute}"}},
               resources=[{"accountId": ACCOUNT, "type": "AWS::IAM::Role",
                           "ARN": f"arn:aws:iam::{ACCOUNT}:role/TerraformDeployRole"}])
        tf = Actor(tf_session(t, f"ci-pipeline-{4800 + minute}"), CI_RUNNER, TERRAFORM)
        clock = [t + datetime.timedelta(seconds=4)]

        def c(service, name, req=None, resp=None, **kw):
            clock[0] += datetime.timedelta(milliseconds=rng.randint(150, 2500))
            return s.call(clock[0], tf, service, name, req, resp, **kw)

        c("sts", "GetCallerIdentity")
        for name, req in [("DescribeVpcs", {"vpcSet": {"items": [{"vpcId": "vpc-0a1b2c3d4e5f60718"}]}}),
                          ("DescribeVpcAttribute", {"vpcId": "vpc-0a1b2c3d4e5f60718", "attribute": "enableDnsSupport"}),
                          ("DescribeSubnets", {"subnetSet": {"items": [{"subnetId": "subnet-0123456789abcdef0"}, {"subnetId": "subnet-0fedcba9876543210"}]}}),
                          ("DescribeSecurityGroups", {"securityGroupIdSet": {"items": [{"groupId": "sg-0123456789abcdef0"}]}}),
                          ("DescribeRouteTables", {"routeTableIdSet": {"items": [{"routeTableId": "rtb-0123456789abcdef0"}]}}),
                          ("DescribeInternetGateways", {"internetGatewayIdSet": {"items": [{"internetGatewayId": "igw-0123456789abcdef0"}]}}),
                          ("DescribeNetworkAcls", {"networkAclIdSet": {"items": [{"networkAclId": "acl-0123456789abcdef0"}]}}),
                          ("DescribeInstances", {"instancesSet": {"items": [{"instanceId": "i-0a1b2c3d4e5f60718"}]}}),
                          ("DescribeInstanceAttribute", {"instanceId": "i-0a1b2c3d4e5f60718", "attribute": "userData"}),
                          ("DescribeInstanceAttribute", {"instanceId": "i-0a1b2c3d4e5f60718", "attribute": "disableApiTermination"}),
                          ("DescribeInstanceAttribute", {"instanceId": "i-0a1b2c3d4e5f60718", "attribute": "instanceInitiatedShutdownBehavior"}),
                          ("DescribeVolumes", {"volumeSet": {"items": [{"volumeId": "vol-0a1b2c3d4e5f60718"}]}}),
                          ("DescribeInstanceCreditSpecifications", {"instanceId": ["i-0a1b2c3d4e5f60718"]}),
                          ("DescribeTags", {"filterSet": {"items": [{"name": "resource-id", "valueSet": {"items": [{"value": "i-0a1b2c3d4e5f60718"}]}}]}})]:
            c("ec2", name, req)
        for role in ("payments-api-task", "orders-worker-lambda", "grafana-reader"):
            c("iam", "GetRole", {"roleName": role})
            c("iam", "ListRolePolicies", {"roleName": role})
            c("iam", "ListAttachedRolePolicies", {"roleName": role})
        c("iam", "GetPolicy", {"policyArn": f"arn:aws:iam::{ACCOUNT}:policy/orders-worker-access"})
        c("iam", "GetPolicyVersion", {"policyArn": f"arn:aws:iam::{ACCOUNT}:policy/orders-worker-access", "versionId": "v3"})
        for bucket in ("example-corp-orders-archive", "example-corp-static-site"):
            host = f"{bucket}.s3.us-east-1.amazonaws.com"
            for name, q in [("GetBucketPolicy", "policy"), ("GetBucketAcl", "acl"), ("GetBucketVersioning", "versioning"),
                            ("GetBucketLogging", "logging"), ("GetBucketEncryption", "encryption"),
                            ("GetBucketPublicAccessBlock", "publicAccessBlock"), ("GetBucketTagging", "tagging")]:
                c("s3", name, {"bucketName": bucket, "Host": host, q: ""},
                  resources=[{"type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"}])
        for fn in ("orders-worker", "thumbnailer"):
            c("lambda", "GetFunction20150331v2", {"functionName": fn})
            c("lambda", "ListVersionsByFunction20150331", {"functionName": fn})
            c("lambda", "GetPolicy20150331v2", {"functionName": fn})
        c("logs", "DescribeLogGroups", {"logGroupNamePrefix": "/aws/lambda/orders-worker"})
        c("logs", "ListTagsForResource", {"resourceArn": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/orders-worker"})
        c("kms", "DescribeKey", {"keyId": "alias/orders"})
        c("kms", "GetKeyPolicy", {"keyId": "alias/orders", "policyName": "default"})
        c("kms", "GetKeyRotationStatus", {"keyId": "alias/orders"})
        c("secretsmanager", "DescribeSecret", {"secretId": "prod/orders/db"})
        c("ssm", "GetParameter", {"name": "/prod/orders/feature-flags", "withDecryption": False})
        if not apply:
            return
        # Apply: a security group for a new internal load balancer, a route table and ACL
        # for a new subnet, a sandbox VPC, a policy for the worker, bucket settings, a
        # function update.
        c("ec2", "CreateSecurityGroup",
          {"groupName": "orders-internal-alb", "groupDescription": "orders internal ALB", "vpcId": "vpc-0a1b2c3d4e5f60718"},
          {"_return": True, "groupId": "sg-0b1c2d3e4f5a60718"})
        c("ec2", "AuthorizeSecurityGroupIngress",
          {"groupId": "sg-0b1c2d3e4f5a60718",
           "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "groups": {},
                                        "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0", "description": "HTTPS"}]},
                                        "ipv6Ranges": {}, "prefixListIds": {}}]}},
          {"_return": True})
        c("ec2", "AuthorizeSecurityGroupIngress",
          {"groupId": "sg-0b1c2d3e4f5a60718",
           "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 5432, "toPort": 5432, "groups": {},
                                        "ipRanges": {"items": [{"cidrIp": "10.20.0.0/16"}]},
                                        "ipv6Ranges": {}, "prefixListIds": {}}]}},
          {"_return": True})
        c("ec2", "CreateRouteTable", {"vpcId": "vpc-0a1b2c3d4e5f60718"},
          {"routeTable": {"routeTableId": "rtb-0b1c2d3e4f5a60718", "vpcId": "vpc-0a1b2c3d4e5f60718"}})
        c("ec2", "CreateRoute", {"routeTableId": "rtb-0b1c2d3e4f5a60718", "destinationCidrBlock": "0.0.0.0/0",
                                 "natGatewayId": "nat-0a1b2c3d4e5f60718"}, {"_return": True})
        c("ec2", "AssociateRouteTable", {"routeTableId": "rtb-0b1c2d3e4f5a60718", "subnetId": "subnet-0fedcba9876543210"},
          {"associationId": "rtbassoc-0a1b2c3d4e5f60718"})
        c("ec2", "CreateNetworkAcl", {"vpcId": "vpc-0a1b2c3d4e5f60718"},
          {"networkAcl": {"networkAclId": "acl-0b1c2d3e4f5a60718", "vpcId": "vpc-0a1b2c3d4e5f60718"}})
        c("ec2", "CreateNetworkAclEntry", {"networkAclId": "acl-0b1c2d3e4f5a60718", "ruleNumber": 100, "egress": False,
                                           "ruleAction": "allow", "protocol": "6", "cidrBlock": "10.20.0.0/16",
                                           "portRange": {"from": 443, "to": 443}}, {"_return": True})
        c("ec2", "CreateVpc", {"cidrBlock": "10.42.0.0/16", "instanceTenancy": "default", "amazonProvidedIpv6CidrBlock": False},
          {"vpc": {"vpcId": "vpc-0c1d2e3f4a5b60718", "state": "pending", "cidrBlock": "10.42.0.0/16",
                   "ownerId": ACCOUNT, "isDefault": False}})
        c("ec2", "ModifyVpcAttribute", {"vpcId": "vpc-0c1d2e3f4a5b60718", "enableDnsHostnames": {"value": True}},
          {"_return": True})
        c("ec2", "CreateInternetGateway", {},
          {"internetGateway": {"internetGatewayId": "igw-0c1d2e3f4a5b60718", "ownerId": ACCOUNT, "attachmentSet": {}}})
        c("ec2", "AttachInternetGateway", {"internetGatewayId": "igw-0c1d2e3f4a5b60718", "vpcId": "vpc-0c1d2e3f4a5b60718"},
          {"_return": True})
        c("ec2", "CreateTags", {"resourcesSet": {"items": [{"resourceId": "sg-0b1c2d3e4f5a60718"}]},
                                "tagSet": {"items": [{"key": "team", "value": "orders"}]}}, {"_return": True})
        doc = json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
             "Resource": f"arn:aws:sqs:us-east-1:{ACCOUNT}:orders"}]})
        c("iam", "CreatePolicyVersion", {"policyArn": f"arn:aws:iam::{ACCOUNT}:policy/orders-worker-access",
                                         "policyDocument": doc, "setAsDefault": True},
          {"policyVersion": {"versionId": "v4", "isDefaultVersion": True, "createDate": iam_date(clock[0])}})
        c("iam", "AttachRolePolicy", {"roleName": "orders-worker-lambda",
                                      "policyArn": "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole"})
        bucket = "example-corp-orders-archive"
        host = f"{bucket}.s3.us-east-1.amazonaws.com"
        res = [{"type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"}]
        policy = {"Version": "2012-10-17", "Statement": [
            {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
             "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
             "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
            {"Sid": "WorkerRead", "Effect": "Allow",
             "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/orders-worker-lambda"},
             "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]}
        c("s3", "PutBucketPolicy", {"bucketPolicy": policy, "bucketName": bucket, "Host": host, "policy": ""},
          resources=res)
        c("s3", "PutBucketPublicAccessBlock",
          {"publicAccessBlock": "", "bucketName": bucket, "Host": host,
           "PublicAccessBlockConfiguration": {"xmlns": "http://s3.amazonaws.com/doc/2006-03-01/",
                                              "BlockPublicAcls": True, "IgnorePublicAcls": True,
                                              "BlockPublicPolicy": True, "RestrictPublicBuckets": True}},
          resources=res)
        c("s3", "PutBucketLifecycle",
          {"bucketName": bucket, "Host": host, "lifecycle": "",
           "LifecycleConfiguration": {"xmlns": "http://s3.amazonaws.com/doc/2006-03-01/",
                                      "Rule": {"ID": "expire-old", "Status": "Enabled", "Filter": {"Prefix": "tmp/"},
                                               "Expiration": {"Days": 30}}}},
          resources=res)
        c("lambda", "UpdateFunctionConfiguration20150331v2",
          {"functionName": "orders-worker", "timeout": 60, "environment": {}},
          {"functionName": "orders-worker", "functionArn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:orders-worker",
           "runtime": "python3.12", "timeout": 60, "memorySize": 512, "lastUpdateStatus": "InProgress"})
        c("lambda", "UpdateFunctionCode20150331v2", {"functionName": "orders-worker", "publish": True, "dryRun": False},
          {"functionName": "orders-worker", "functionArn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:orders-worker",
           "codeSha256": "EXAMPLEw6Fh3aDG7ZmT1a2b3c4d5e6f7g8h9i0jEXAMPLE=", "version": "42"})
        c("logs", "PutRetentionPolicy", {"logGroupName": "/aws/lambda/orders-worker", "retentionInDays": 90})

    terraform_run(2, apply=True)
    terraform_run(36, apply=False)

    # Alice, an administrator, at the console (with MFA) from the office.
    alice_since = at(5, 12)
    alice = Actor(s.iam_user("alice", s.key("ASIA"), alice_pid, alice_since, mfa=True), OFFICE_ALICE, BROWSER_MAC,
                  console=True)
    s.sign_in(alice_since, Actor(s.iam_user("alice", None, alice_pid), OFFICE_ALICE, BROWSER_MAC), mfa=True)
    t = alice_since
    for service, name, req in [
            ("health", "DescribeEventAggregates", {"aggregateField": "eventTypeCategory"}),
            ("ce", "GetCostAndUsage", {"granularity": "DAILY", "metrics": ["UnblendedCost"]}),
            ("ec2", "DescribeInstances", {"maxResults": 50}),
            ("ec2", "DescribeInstanceStatus", {"includeAllInstances": True}),
            ("monitoring", "DescribeAlarms", {"stateValue": "ALARM"}),
            ("iam", "ListUsers", {"maxItems": 1000}),
            ("iam", "GetAccountSummary", None),
            ("iam", "ListAccessKeys", {"userName": "deploy-ci"}),
            ("securityhub", "GetFindings", {"maxResults": 50}),
            ("guardduty", "ListDetectors", None),
            ("guardduty", "ListFindings", {"detectorId": "12abc34d567e8fa901bc2d34e5678901"}),
            ("s3", "ListBuckets", {"Host": "s3.amazonaws.com"}),
            ("rds", "DescribeDBInstances", None),
            ("lambda", "ListFunctions20150331", None),
            ("logs", "DescribeLogGroups", {"limit": 50})]:
        t += datetime.timedelta(seconds=rng.randint(20, 90))
        s.call(t, alice, service, name, req)

    # Bob, a developer: two mistyped passwords, then the console; and the CLI from his laptop.
    bob_web = Actor(s.iam_user("bob", None, bob_pid), OFFICE_BOB, BROWSER)
    for sec in (0, 21):
        s.sign_in(at(19, sec), bob_web, ok=False, mfa=False)
    s.sign_in(at(19, 48), bob_web, mfa=True)
    bob_key = "AKIAI44QH8DHBEXAMPLE"
    bob = Actor(s.iam_user("bob", bob_key, bob_pid), OFFICE_BOB, CLI_MAC)
    t = at(21)
    for service, name, req, err in [
            ("sts", "GetCallerIdentity", None, None),
            ("lambda", "ListFunctions20150331", None, None),
            ("logs", "DescribeLogStreams", {"logGroupName": "/aws/lambda/orders-worker", "descending": True}, None),
            ("logs", "FilterLogEvents", {"logGroupName": "/aws/lambda/orders-worker", "startTime": 1773133200000}, None),
            ("logs", "FilterLogEvents", {"logGroupName": "/aws/lambda/orders-worker", "startTime": 1773133500000}, None),
            ("monitoring", "GetMetricData", {"startTime": "Mar 10, 2026, 8:20:00 AM", "endTime": "Mar 10, 2026, 9:20:00 AM"}, None),
            ("sqs", "GetQueueAttributes", {"queueUrl": f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/orders", "attributeNames": ["All"]}, None),
            ("sqs", "ListQueues", None, None),
            ("dynamodb", "DescribeTable", {"tableName": "orders"}, None),
            ("iam", "GetRole", {"roleName": "orders-worker-lambda"}, None),
            ("iam", "ListRoles", None, "deny"),
            ("ecr", "DescribeRepositories", None, None),
            ("ecs", "ListServices", {"cluster": "prod"}, None),
            ("ecs", "DescribeServices", {"cluster": "prod", "services": ["payments-api"]}, None),
            ("lambda", "GetFunction20150331v2", {"functionName": "orders-worker"}, None),
            ("s3", "ListBuckets", {"Host": "s3.amazonaws.com"}, None),
            ("cloudformation", "DescribeStacks", {"stackName": "orders"}, None),
            ("cloudformation", "DescribeStackEvents", {"stackName": "orders"}, None)]:
        t += datetime.timedelta(seconds=rng.randint(15, 120))
        error = denied(bob.identity, f"{service}:{name}", f"arn:aws:iam::{ACCOUNT}:role/") if err else None
        s.call(t, bob, service, name, req, error=error)

    # payments-api (an ECS task) reads its database secret and parameters every five minutes,
    # through VPC endpoints; Secrets Manager decrypts with KMS on its behalf.
    app_since = at(0, 3)
    app_role = s.assumed_role("payments-api-task", "6f1d2c3b4a5e4f60a7b8c9d0e1f2a3b4", app_role_pid,
                              s.key("ASIA"), app_since)
    app = Actor(app_role, "10.20.41.17", BOTO3, vpce="vpce-0a1b2c3d4e5f60718")
    for m in range(0, 60, 5):
        t = at(m, 30 + rng.randint(0, 20))
        s.call(t, app, "secretsmanager", "GetSecretValue", {"secretId": "prod/payments/db"})
        s.service_call(t, "secretsmanager.amazonaws.com", "kms", "Decrypt",
                       {"encryptionContext": {"SecretARN": f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:prod/payments/db-Ab12Cd",
                                              "SecretVersionId": "EXAMPLE1-90ab-cdef-fedc-ba987EXAMPLE"},
                        "encryptionAlgorithm": "SYMMETRIC_DEFAULT"},
                       role=app_role,
                       resources=[{"accountId": ACCOUNT, "type": "AWS::KMS::Key",
                                   "ARN": f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"}])
        s.call(t + datetime.timedelta(seconds=1), app, "ssm", "GetParameter",
               {"name": "/prod/payments/stripe-webhook-secret", "withDecryption": True})
    # ECS and Lambda assume the roles of tasks and functions as they start.
    for m in sorted(rng.sample(range(60), 14)):
        role = rng.choice(["orders-worker-lambda", "thumbnailer-lambda"])
        s.service_call(at(m, rng.randint(0, 59)), "lambda.amazonaws.com", "sts", "AssumeRole",
                       {"roleArn": f"arn:aws:iam::{ACCOUNT}:role/{role}", "roleSessionName": role.replace("-lambda", "")},
                       {"credentials": {"accessKeyId": s.key("ASIA"), "sessionToken": "<sensitiveDataRemoved>",
                                        "expiration": iam_date(at(m + 720))}},
                       resources=[{"accountId": ACCOUNT, "type": "AWS::IAM::Role",
                                   "ARN": f"arn:aws:iam::{ACCOUNT}:role/{role}"}])
    for m in (0, 15, 30, 45):
        s.service_call(at(m, 2), "ecs-tasks.amazonaws.com", "sts", "AssumeRole",
                       {"roleArn": f"arn:aws:iam::{ACCOUNT}:role/payments-api-task",
                        "roleSessionName": "6f1d2c3b4a5e4f60a7b8c9d0e1f2a3b4"},
                       {"credentials": {"accessKeyId": s.key("ASIA"), "sessionToken": "<sensitiveDataRemoved>",
                                        "expiration": iam_date(at(m + 360))}})
    # A dashboard polls CloudWatch.
    dash = Actor(s.assumed_role("grafana-reader", "grafana", dash_role_pid, s.key("ASIA"), at(0)), "192.0.2.80", GRAFANA)
    for m in range(0, 60, 2):
        t = at(m, 10)
        s.call(t, dash, "monitoring", "GetMetricData",
               {"startTime": iam_date(t - datetime.timedelta(hours=3)), "endTime": iam_date(t),
                "metricDataQueries": [{"id": "orders", "metricStat": {"metric": {"namespace": "AWS/SQS",
                                                                               "metricName": "ApproximateNumberOfMessagesVisible"},
                                                                    "period": 60, "stat": "Average"}}]})
        if m % 10 == 0:
            s.call(t + datetime.timedelta(seconds=2), dash, "monitoring", "DescribeAlarms", {"maxRecords": 100})
    # AWS Config records configuration through its service-linked role.
    cfg_role = s.assumed_role("AWSServiceRoleForConfig", "AWSConfig-Describe", cfg_role_pid, s.key("ASIA"), at(0))
    for m in sorted(rng.sample(range(60), 10)):
        t = at(m, rng.randint(0, 59))
        name, req = rng.choice([("DescribeSecurityGroups", {"securityGroupIdSet": {"items": [{"groupId": "sg-0123456789abcdef0"}]}}),
                                ("DescribeInstances", {"instancesSet": {"items": [{"instanceId": "i-0a1b2c3d4e5f60718"}]}}),
                                ("DescribeVolumes", {"volumeSet": {"items": [{"volumeId": "vol-0a1b2c3d4e5f60718"}]}})])
        s.service_call(t, "config.amazonaws.com", "ec2", name, req, role=cfg_role)
        s.service_call(t + datetime.timedelta(seconds=3), "config.amazonaws.com", "iam", "GetRole",
                       {"roleName": "orders-worker-lambda"}, role=cfg_role)
    # CloudTrail encrypts each log file with a data key.
    for m in range(0, 60, 5):
        s.service_call(at(m, 55), "cloudtrail.amazonaws.com", "kms", "GenerateDataKey",
                       {"keySpec": "AES_256", "encryptionContext": {
                           "aws:cloudtrail:arn": f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/account-trail",
                           "aws:s3:arn": f"arn:aws:s3:::example-corp-cloudtrail/AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2026/03/10/"},
                        "keyId": f"arn:aws:kms:us-east-1:{ACCOUNT}:alias/cloudtrail"},
                       resources=[{"accountId": ACCOUNT, "type": "AWS::KMS::Key",
                                   "ARN": f"arn:aws:kms:us-east-1:{ACCOUNT}:key/0987dcba-09fe-87dc-65ba-ab0987654321"}])
    # KMS rotates a key (a service event).
    rot = s.call(at(27, 41), Actor({"accountId": ACCOUNT, "invokedBy": "kms.amazonaws.com"}, "kms.amazonaws.com",
                                   "kms.amazonaws.com"), "kms", "RotateKey", event_type="AwsServiceEvent",
                 read_only=False, resources=[{"accountId": ACCOUNT, "type": "AWS::KMS::Key",
                                              "ARN": f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"}])
    rot["additionalEventData"] = {"keyId": f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"}
    del rot["requestID"]

    # ---------------------------------------------------------- the attack
    step = {"name": None}

    def attack(when, who, service, name, req=None, resp=None, expect=(), **kw):
        return s.call(when, who, service, name, req, resp, expect=expect, step=step["name"], **kw)

    # 09:06 password guessing at the console from the attacker's address:
    # five failures within one five-minute window (the threshold rule).
    step["name"] = "09:06 console password guessing from 203.0.113.66"
    guessed = Actor(s.iam_user("bob", None, bob_pid), ATTACKER_IP, BROWSER)
    t = at(6, 5)
    for _ in range(5):
        t += datetime.timedelta(seconds=rng.randint(8, 30))
        s.sign_in(t, guessed, ok=False, mfa=False, expect=["signin-console-password-guessing"], step=step["name"])

    # 09:12 the leaked key, from the attacker's address.
    step["name"] = "09:12 leaked CI key used from 203.0.113.66"
    ident = stolen.identity
    attack(at(12, 4), stolen, "sts", "GetCallerIdentity")
    attack(at(12, 19), stolen, "iam", "ListUsers", error=denied(ident, "iam:ListUsers", f"arn:aws:iam::{ACCOUNT}:user/"))
    attack(at(12, 31), stolen, "s3", "ListBuckets", {"Host": "s3.amazonaws.com"},
           error=("AccessDenied", "Access Denied"))
    for sec, region in ((45, "us-east-1"), (47, "us-west-2"), (50, "eu-west-1")):
        attack(at(12, sec), stolen, "ec2", "DescribeInstances", {"maxResults": 1000}, region=region,
               error=denied(ident, "ec2:DescribeInstances", ec2=True))
    attack(at(13, 2), stolen, "ec2", "DescribeInstanceAttribute",
           {"instanceId": "i-0a1b2c3d4e5f60718", "attribute": "userData"},
           error=denied(ident, "ec2:DescribeInstanceAttribute", ec2=True), expect=["ec2-user-data-read-denied"])
    attack(at(13, 15), stolen, "secretsmanager", "ListSecrets", None,
           error=("AccessDeniedException", f"User: {ident['arn']} is not authorized to perform: secretsmanager:ListSecrets "
                                           "because no identity-based policy allows the secretsmanager:ListSecrets action"))
    attack(at(13, 40), stolen, "cloudtrail", "StopLogging",
           {"name": f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/account-trail"},
           error=("AccessDenied", f"User: {ident['arn']} is not authorized to perform: cloudtrail:StopLogging on resource: "
                                  f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/account-trail because no identity-based "
                                  "policy allows the cloudtrail:StopLogging action"),
           expect=["cloudtrail-logging-stopped"])
    attack(at(14, 55), stolen, "iam", "ListAttachedUserPolicies", {"userName": "deploy-ci"},
           error=denied(ident, "iam:ListAttachedUserPolicies", f"arn:aws:iam::{ACCOUNT}:user/deploy-ci"))
    role_since = at(17, 30)
    attack(role_since, stolen, "sts", "AssumeRole",
           {"roleArn": f"arn:aws:iam::{ACCOUNT}:role/TerraformDeployRole", "roleSessionName": "terraform"},
           {"credentials": {"accessKeyId": s.key("ASIA"), "sessionToken": "<sensitiveDataRemoved>",
                            "expiration": iam_date(role_since + datetime.timedelta(hours=1))},
            "assumedRoleUser": {"assumedRoleId": f"{tf_role_pid}:terraform",
                                "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/TerraformDeployRole/terraform"}},
           resources=[{"accountId": ACCOUNT, "type": "AWS::IAM::Role",
                       "ARN": f"arn:aws:iam::{ACCOUNT}:role/TerraformDeployRole"}])

    # 09:18 discovery and credential access through the deploy role.
    step["name"] = "09:18 discovery and credential access as TerraformDeployRole"
    role = Actor(tf_session(role_since, "terraform"), ATTACKER_IP, CLI)
    t = at(18)
    for service, name, req in [
            ("sts", "GetCallerIdentity", None),
            ("iam", "GetAccountAuthorizationDetails", {"filter": ["User", "Role", "Group", "LocalManagedPolicy"]}),
            ("iam", "ListUsers", None), ("iam", "ListRoles", None),
            ("s3", "ListBuckets", {"Host": "s3.amazonaws.com"}),
            ("ec2", "DescribeRegions", None),
            ("ec2", "DescribeInstances", None),
            ("ec2", "DescribeSnapshots", {"ownersSet": {"items": [{"owner": "self"}]}}),
            ("ec2", "DescribeImages", {"ownersSet": {"items": [{"owner": "self"}]}}),
            ("ec2", "DescribeSecurityGroups", None),
            ("rds", "DescribeDBSnapshots", None),
            ("lambda", "ListFunctions20150331", None),
            ("secretsmanager", "ListSecrets", None),
            ("ssm", "DescribeParameters", None),
            ("guardduty", "ListDetectors", None),
            ("cloudtrail", "DescribeTrails", None),
            ("cloudtrail", "GetTrailStatus", {"name": "account-trail"}),
            ("config", "DescribeConfigurationRecorders", None),
            ("organizations", "DescribeOrganization", None),
            ("bedrock", "ListFoundationModels", None)]:
        t += datetime.timedelta(seconds=rng.randint(3, 14))
        attack(t, role, service, name, req)
    # A sweep: ten different secrets in well under ten minutes (the
    # threshold rule's count, distinct secretId by principal).
    for secret in ("prod/payments/db", "prod/orders/db", "prod/stripe/api-key", "prod/orders/redis",
                   "prod/search/opensearch-admin", "prod/mail/smtp", "prod/ci/github-token", "prod/analytics/warehouse",
                   "prod/payments/hsm-pin", "prod/sso/okta-api-token"):
        t += datetime.timedelta(seconds=rng.randint(2, 6))
        attack(t, role, "secretsmanager", "GetSecretValue", {"secretId": secret},
               expect=["secretsmanager-secrets-sweep"])
    t += datetime.timedelta(seconds=9)
    attack(t, role, "secretsmanager", "BatchGetSecretValue", {"filters": [{"key": "name", "values": ["prod/"]}]},
           expect=["secretsmanager-batch-secret-retrieval"])
    t += datetime.timedelta(seconds=11)
    attack(t, role, "ssm", "GetParametersByPath", {"path": "/prod/", "recursive": True, "withDecryption": True})
    # A SecureString sweep: three different sets of parameters decrypted.
    for names in (["/prod/payments/api-key"], ["/prod/orders/db-password", "/prod/orders/db-user"],
                  ["/prod/ci/deploy-token"]):
        t += datetime.timedelta(seconds=rng.randint(2, 6))
        attack(t, role, "ssm", "GetParameters", {"names": names, "withDecryption": True},
               {"parameters": [{"name": n, "type": "SecureString", "version": 1} for n in names],
                "invalidParameters": []}, expect=["ssm-securestring-parameters-sweep"])
    t += datetime.timedelta(seconds=20)
    attack(t, role, "ec2", "DescribeInstanceAttribute", {"instanceId": "i-0c1d2e3f4a5b60718", "attribute": "userData"})
    t += datetime.timedelta(seconds=8)
    attack(t, role, "ec2", "GetPasswordData", {"instanceId": "i-0c1d2e3f4a5b60718"},
           expect=["ec2-password-data-retrieved"])

    # 09:24 persistence.
    step["name"] = "09:24 persistence as TerraformDeployRole"
    backdoor, backdoor_key, backdoor_pid = "svc-backup-sync", s.key(), s.principal()
    t = at(24, 10)

    def nxt(lo=4, hi=25):
        nonlocal t
        t += datetime.timedelta(seconds=rng.randint(lo, hi))
        return t

    # The three together are the backdoor chain (a sequence rule naming all three).
    attack(nxt(), role, "iam", "CreateUser", {"userName": backdoor},
           {"user": {"path": "/", "userName": backdoor, "userId": backdoor_pid,
                     "arn": f"arn:aws:iam::{ACCOUNT}:user/{backdoor}", "createDate": iam_date(t)}},
           expect=["iam-backdoor-user-chain"])
    attack(nxt(), role, "iam", "AttachUserPolicy",
           {"userName": backdoor, "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
           expect=["iam-admin-policy-attached", "iam-backdoor-user-chain"])
    attack(nxt(), role, "iam", "CreateAccessKey", {"userName": backdoor},
           {"accessKey": {"userName": backdoor, "accessKeyId": backdoor_key, "status": "Active",
                          "createDate": iam_date(t)}},
           expect=["iam-access-key-created-for-user", "iam-backdoor-user-chain"])
    attack(nxt(), role, "iam", "CreateLoginProfile", {"userName": backdoor, "passwordResetRequired": False},
           {"loginProfile": {"userName": backdoor, "createDate": iam_date(t), "passwordResetRequired": False}},
           expect=["iam-login-profile-created"])
    attack(nxt(), role, "iam", "UpdateLoginProfile", {"userName": "bob", "passwordResetRequired": False},
           expect=["iam-login-profile-updated"])
    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": [f"arn:aws:iam::{ACCOUNT}:root", f"arn:aws:iam::{ATTACKER_ACCOUNT}:root"]},
         "Action": "sts:AssumeRole"}]})
    attack(nxt(), role, "iam", "UpdateAssumeRolePolicy", {"roleName": "ops-break-glass", "policyDocument": trust},
           expect=["iam-role-trust-policy-updated"])
    allow_all = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
                           indent=2)
    attack(nxt(), role, "iam", "PutUserPolicy",
           {"userName": "deploy-ci", "policyName": "ci-maintenance", "policyDocument": allow_all},
           expect=["iam-policy-allows-all-actions"])
    anchor = "EXAMPLE0-1111-2222-3333-444444444444"
    attack(nxt(), role, "rolesanywhere", "CreateTrustAnchor",
           {"name": "backup-sync", "enabled": True,
            "source": {"sourceType": "CERTIFICATE_BUNDLE", "sourceData": {"x509CertificateData": "-----BEGIN CERTIFICATE-----\nMIIB...EXAMPLE\n-----END CERTIFICATE-----"}}},
           {"trustAnchor": {"trustAnchorId": anchor, "name": "backup-sync", "enabled": True,
                            "trustAnchorArn": f"arn:aws:rolesanywhere:us-east-1:{ACCOUNT}:trust-anchor/{anchor}"}},
           expect=["rolesanywhere-trust-anchor-created"])
    attack(nxt(), role, "rolesanywhere", "CreateProfile",
           {"name": "backup-sync", "enabled": True, "roleArns": [f"arn:aws:iam::{ACCOUNT}:role/ops-break-glass"]},
           {"profile": {"profileId": "EXAMPLE5-6666-7777-8888-999999999999", "name": "backup-sync", "enabled": True}},
           expect=["rolesanywhere-trust-anchor-created"])

    # 09:31 the backdoor user: a federation token, then the console without MFA.
    step["name"] = "09:31 the new admin user: console without MFA, Lambda, exfiltration, execution"
    bd = Actor(s.iam_user(backdoor, backdoor_key, backdoor_pid), ATTACKER_VPN, CLI)
    t = at(31, 2)
    attack(nxt(), bd, "sts", "GetCallerIdentity")
    attack(nxt(), bd, "sts", "GetFederationToken",
           {"name": "backup", "durationSeconds": 129600, "policyArns": [{"arn": "arn:aws:iam::aws:policy/AdministratorAccess"}]},
           {"credentials": {"accessKeyId": s.key("ASIA"), "sessionToken": "<sensitiveDataRemoved>",
                            "expiration": iam_date(t + datetime.timedelta(hours=36))},
            "federatedUser": {"federatedUserId": f"{ACCOUNT}:backup", "arn": f"arn:aws:sts::{ACCOUNT}:federated-user/backup"},
            "packedPolicySize": 6},
           expect=["sts-federation-token"])
    login = at(32, 40)
    s.sign_in(login, Actor(s.iam_user(backdoor, None, backdoor_pid), ATTACKER_VPN, BROWSER), mfa=False,
              expect=["cis-cloudwatch-3"], step=step["name"])
    web = Actor(s.iam_user(backdoor, s.key("ASIA"), backdoor_pid, login, mfa=False), ATTACKER_VPN, BROWSER, console=True)
    t = login
    # Lambda.
    fn_arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:orders-worker"
    attack(nxt(), bd, "lambda", "UpdateFunctionCode20150331v2", {"functionName": "orders-worker", "publish": False},
           {"functionName": "orders-worker", "functionArn": fn_arn, "codeSha256": "EXAMPLEbackdoor0000000000000000000000000000=",
            "version": "$LATEST"}, expect=["lambda-code-updated-by-iam-user"])
    attack(nxt(), bd, "lambda", "UpdateFunctionConfiguration20150331v2",
           {"functionName": "orders-worker", "layers": [f"arn:aws:lambda:us-east-1:{ATTACKER_ACCOUNT}:layer:telemetry-ext:3"]},
           {"functionName": "orders-worker", "functionArn": fn_arn, "lastUpdateStatus": "InProgress",
            "layers": [{"arn": f"arn:aws:lambda:us-east-1:{ATTACKER_ACCOUNT}:layer:telemetry-ext:3", "codeSize": 4821}]},
           expect=["lambda-layer-added-to-function"])
    attack(nxt(), bd, "lambda", "AddPermission20150331v2",
           {"functionName": "orders-worker", "statementId": "public-invoke", "action": "lambda:InvokeFunction",
            "principal": "*"},
           {"statement": json.dumps({"Sid": "public-invoke", "Effect": "Allow", "Principal": "*",
                                     "Action": "lambda:InvokeFunction", "Resource": fn_arn})},
           expect=["lambda-function-made-public"])
    # Exfiltration: snapshots and images.
    attack(nxt(), bd, "ec2", "ModifySnapshotAttribute",
           {"snapshotId": "snap-0a1b2c3d4e5f60718", "attributeType": "CREATE_VOLUME_PERMISSION",
            "createVolumePermission": {"add": {"items": [{"userId": ATTACKER_ACCOUNT}]}}},
           {"_return": True}, expect=["ec2-snapshot-or-image-shared"])
    attack(nxt(), bd, "rds", "ModifyDBSnapshotAttribute",
           {"dBSnapshotIdentifier": "orders-db-2026-03-09", "attributeName": "restore",
            "valuesToAdd": [ATTACKER_ACCOUNT]},
           {"dBSnapshotIdentifier": "orders-db-2026-03-09",
            "dBSnapshotAttributes": [{"attributeName": "restore", "attributeValues": [ATTACKER_ACCOUNT]}]},
           expect=["ec2-snapshot-or-image-shared"])
    attack(nxt(), bd, "ec2", "ModifyImageAttribute",
           {"imageId": "ami-0a1b2c3d4e5f60718", "attributeType": "launchPermission",
            "launchPermission": {"add": {"items": [{"group": "all"}]}}},
           {"_return": True}, expect=["public-snapshot-or-image"])
    # A bucket opened to the world, from the console.
    bucket = "example-corp-orders-archive"
    host = f"{bucket}.s3.us-east-1.amazonaws.com"
    res = [{"type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"}]
    attack(nxt(), web, "s3", "PutBucketPublicAccessBlock",
           {"publicAccessBlock": "", "bucketName": bucket, "Host": host,
            "PublicAccessBlockConfiguration": {"xmlns": "http://s3.amazonaws.com/doc/2006-03-01/",
                                               "BlockPublicAcls": False, "IgnorePublicAcls": False,
                                               "BlockPublicPolicy": False, "RestrictPublicBuckets": False}},
           resources=res, expect=["s3-public-access-block-removed"])
    attack(nxt(), web, "s3", "PutBucketPolicy",
           {"bucketPolicy": {"Version": "2012-10-17", "Statement": [
               {"Sid": "PublicRead", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/*"}]}, "bucketName": bucket, "Host": host, "policy": ""},
           resources=res, expect=["s3-bucket-policy-public"])
    attack(nxt(), web, "s3", "PutBucketAcl",
           {"bucketName": bucket, "Host": host, "acl": "", "x-amz-acl": ["public-read"]},
           resources=res, expect=["s3-bucket-acl-public"])
    # SSH from anywhere.
    attack(nxt(), bd, "ec2", "AuthorizeSecurityGroupIngress",
           {"groupId": "sg-0123456789abcdef0",
            "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "groups": {},
                                         "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]},
                                         "ipv6Ranges": {}, "prefixListIds": {}}]}},
           {"_return": True, "securityGroupRuleSet": {"items": [{"groupId": "sg-0123456789abcdef0",
                                                                 "securityGroupRuleId": "sgr-0a1b2c3d4e5f60718",
                                                                 "isEgress": False, "ipProtocol": "tcp",
                                                                 "fromPort": 22, "toPort": 22, "cidrIpv4": "0.0.0.0/0"}]}},
           expect=["ec2-security-group-ingress-open-to-world"])
    # GPU instances, refused by the vCPU quota.
    for region in ("us-east-1", "us-west-2"):
        attack(nxt(), bd, "ec2", "RunInstances",
               {"instancesSet": {"items": [{"imageId": "ami-0b1c2d3e4f5a60718", "minCount": 4, "maxCount": 4}]},
                "instanceType": "p3.16xlarge", "blockDeviceMapping": {}, "monitoring": {"enabled": False},
                "disableApiTermination": False, "disableApiStop": False, "clientToken": s.uuid()},
               region=region,
               error=("Client.VcpuLimitExceeded",
                      "You have requested more vCPU capacity than your current vCPU limit of 0 allows for the instance "
                      "bucket that the specified instance type belongs to. Please visit "
                      "http://aws.amazon.com/contact-us/ec2-request to request an adjustment to this limit."),
               expect=["ec2-unusual-instance-type-launched"])
    # User data swapped on a stopped instance.
    inst = "i-0c1d2e3f4a5b60718"
    attack(nxt(), bd, "ec2", "StopInstances", {"instancesSet": {"items": [{"instanceId": inst}]}, "force": False},
           {"instancesSet": {"items": [{"instanceId": inst, "currentState": {"code": 64, "name": "stopping"},
                                        "previousState": {"code": 16, "name": "running"}}]}})
    attack(nxt(40, 60), bd, "ec2", "ModifyInstanceAttribute",
           {"instanceId": inst, "userData": "<sensitiveDataRemoved>"}, {"_return": True},
           expect=["ec2-user-data-modified"])
    attack(nxt(), bd, "ec2", "StartInstances", {"instancesSet": {"items": [{"instanceId": inst}]}},
           {"instancesSet": {"items": [{"instanceId": inst, "currentState": {"code": 0, "name": "pending"},
                                        "previousState": {"code": 80, "name": "stopped"}}]}})
    # Commands and shells on instances.
    attack(nxt(), bd, "ssm", "SendCommand",
           {"instanceIds": ["i-0a1b2c3d4e5f60718"], "documentName": "AWS-RunShellScript",
            "parameters": "HIDDEN_DUE_TO_SECURITY_REASONS", "interactive": False},
           {"command": {"commandId": s.uuid(), "documentName": "AWS-RunShellScript", "status": "Pending",
                        "instanceIds": ["i-0a1b2c3d4e5f60718"]}},
           expect=["ssm-shell-command-sent"])
    attack(nxt(), bd, "ssm", "StartSession", {"target": "i-0a1b2c3d4e5f60718"},
           {"sessionId": f"{backdoor}-0a1b2c3d4e5f60718", "tokenValue": "Value hidden due to security reasons.",
            "streamUrl": f"wss://ssmmessages.us-east-1.amazonaws.com/v1/data-channel/{backdoor}-0a1b2c3d4e5f60718?role=publish_subscribe&cell-number=AAEAAQ"},
           expect=["ssm-session-started"])
    attack(nxt(), bd, "ec2-instance-connect", "SendSSHPublicKey",
           {"instanceId": "i-0a1b2c3d4e5f60718", "instanceOSUser": "ec2-user",
            "sSHPublicKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEXAMPLEEXAMPLEEXAMPLEEXAMPLEEXAMPLEEXAMP backup"},
           {"requestId": s.uuid(), "success": True}, expect=["ec2-instance-connect-key-pushed"])
    attack(nxt(), bd, "ec2", "EnableSerialConsoleAccess", {"EnableSerialConsoleAccessRequest": ""},
           {"EnableSerialConsoleAccessResponse": {"xmlns": "http://ec2.amazonaws.com/doc/2016-11-15/",
                                                  "requestId": s.uuid(), "serialConsoleAccessEnabled": True}},
           expect=["ec2-serial-console-enabled"])
    # Bedrock: model access for the stolen account, then invocations.
    attack(nxt(), web, "bedrock", "PutUseCaseForModelAccess", {"formData": "***"}, None,
           expect=["bedrock-model-access-enabled"])
    attack(nxt(), web, "bedrock", "CreateFoundationModelAgreement",
           {"offerToken": "***", "modelId": "amazon.titan-text-premier-v1:0"},
           {"modelId": "amazon.titan-text-premier-v1:0"}, expect=["bedrock-model-access-enabled"])
    for _ in range(6):
        attack(nxt(2, 9), bd, "bedrock", "InvokeModel", {"modelId": "amazon.titan-text-premier-v1:0"})

    # 09:40 defence evasion.
    step["name"] = "09:40 defence evasion by the new admin user"
    t = at(40, 5)
    detector = "12abc34d567e8fa901bc2d34e5678901"
    attack(nxt(), bd, "guardduty", "UpdateDetector", {"detectorId": detector, "enable": False}, None,
           expect=["guardduty-tampering"])
    attack(nxt(), bd, "guardduty", "CreateIPSet",
           {"detectorId": detector, "name": "office", "format": "TXT", "activate": True,
            "location": "https://example-corp-ops.s3.amazonaws.com/trusted.txt"},
           {"ipSetId": "0cb0141ab9fbde177613ab9436212e90"}, expect=["guardduty-tampering"])
    attack(nxt(), bd, "config", "StopConfigurationRecorder", {"configurationRecorderName": "default"}, None,
           expect=["config-recording-stopped"])
    attack(nxt(), bd, "securityhub", "DisableSecurityHub", None, None, expect=["security-service-disabled"])
    attack(nxt(), bd, "access-analyzer", "DeleteAnalyzer", {"analyzerName": "account-analyzer"}, None,
           expect=["security-service-disabled"])
    attack(nxt(), bd, "route53resolver", "DisassociateResolverQueryLogConfig",
           {"resolverQueryLogConfigId": "rqlc-0a1b2c3d4e5f6071", "resourceId": "vpc-0a1b2c3d4e5f60718"},
           {"resolverQueryLogConfigAssociation": {"id": "rqlca-0a1b2c3d4e5f6071", "status": "DELETING"}},
           expect=["dns-query-logging-deleted"])
    attack(nxt(), bd, "route53resolver", "DeleteResolverQueryLogConfig",
           {"resolverQueryLogConfigId": "rqlc-0a1b2c3d4e5f6071"},
           {"resolverQueryLogConfig": {"id": "rqlc-0a1b2c3d4e5f6071", "status": "DELETING"}},
           expect=["dns-query-logging-deleted"])
    attack(nxt(), bd, "ec2", "DeleteFlowLogs",
           {"DeleteFlowLogsRequest": {"FlowLogId": {"content": "fl-0a1b2c3d4e5f60718", "tag": 1}}},
           {"DeleteFlowLogsResponse": {"xmlns": "http://ec2.amazonaws.com/doc/2016-11-15/", "requestId": s.uuid(),
                                       "unsuccessful": ""}},
           expect=["vpc-flow-logs-deleted"])
    trail = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/account-trail"
    attack(nxt(), bd, "cloudtrail", "PutEventSelectors",
           {"trailName": "account-trail", "eventSelectors": [
               {"readWriteType": "ReadOnly", "includeManagementEvents": True, "dataResources": [],
                "excludeManagementEventSources": []}]},
           {"trailARN": trail, "eventSelectors": [
               {"readWriteType": "ReadOnly", "includeManagementEvents": True, "dataResources": [],
                "excludeManagementEventSources": []}]},
           expect=["cloudtrail-event-selectors-reduced"])
    attack(nxt(), bd, "cloudtrail", "UpdateTrail",
           {"name": "account-trail", "s3BucketName": "backup-sync-logs-444455556666", "isMultiRegionTrail": False},
           {"name": "account-trail", "s3BucketName": "backup-sync-logs-444455556666", "trailARN": trail,
            "isMultiRegionTrail": False, "logFileValidationEnabled": False},
           expect=["cloudtrail-trail-updated"])
    attack(nxt(), bd, "cloudtrail", "DeleteTrail", {"name": "security-data-events"}, None,
           expect=["cloudtrail-trail-deleted"])
    attack(nxt(), bd, "cloudtrail", "StopLogging", {"name": trail}, None, expect=["cloudtrail-logging-stopped"])
    key = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    attack(nxt(), bd, "kms", "DisableKey", {"keyId": key}, None, expect=["cis-cloudwatch-7"],
           resources=[{"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": key}])
    attack(nxt(), bd, "kms", "ScheduleKeyDeletion", {"keyId": key, "pendingWindowInDays": 7},
           {"keyId": key, "deletionDate": "Mar 17, 2026, 9:45:00 AM", "keyState": "PendingDeletion",
            "pendingWindowInDays": 7}, expect=["cis-cloudwatch-7"],
           resources=[{"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": key}])
    attack(nxt(), bd, "organizations", "LeaveOrganization", None, None,
           error=("ConstraintViolationException",
                  "You cannot remove an account from your organization while it has no payment method."),
           expect=["organizations-leave"])

    # 09:48 the response.
    step["name"] = "09:48 response: alice locks the keys, the owner signs in as root"
    t = at(48, 3)
    for service, name, req in [
            ("cloudtrail", "LookupEvents", {"lookupAttributes": [{"attributeKey": "Username", "attributeValue": backdoor}]}),
            ("iam", "ListAccessKeys", {"userName": backdoor}),
            ("iam", "UpdateAccessKey", {"userName": "deploy-ci", "accessKeyId": ci_key, "status": "Inactive"}),
            ("iam", "UpdateAccessKey", {"userName": backdoor, "accessKeyId": backdoor_key, "status": "Inactive"}),
            ("iam", "DeleteLoginProfile", {"userName": backdoor}),
            ("iam", "DetachUserPolicy", {"userName": backdoor, "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}),
            ("iam", "DeleteUserPolicy", {"userName": "deploy-ci", "policyName": "ci-maintenance"}),
            ("cloudtrail", "StartLogging", {"name": trail}),
            ("guardduty", "UpdateDetector", {"detectorId": detector, "enable": True}),
            ("config", "StartConfigurationRecorder", {"configurationRecorderName": "default"}),
            ("kms", "CancelKeyDeletion", {"keyId": key}),
            ("kms", "EnableKey", {"keyId": key})]:
        t += datetime.timedelta(seconds=rng.randint(10, 40))
        s.call(t, alice, service, name, req, step=step["name"])
    owner_login = at(52, 30)
    root_ident = {"type": "Root", "principalId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:root", "accountId": ACCOUNT}
    s.sign_in(owner_login, Actor(dict(root_ident), OFFICE_OWNER, BROWSER_MAC), mfa=True,
              expect=["cis-cloudwatch-1"], step=step["name"])
    root_web = dict(root_ident, accessKeyId=s.key("ASIA"),
                    sessionContext={"sessionIssuer": {}, "webIdFederationData": {},
                                    "attributes": {"creationDate": iso(owner_login), "mfaAuthenticated": "true"}})
    owner = Actor(root_web, OFFICE_OWNER, BROWSER_MAC, console=True)
    t = owner_login
    for service, name, req in [("iam", "GetAccountSummary", None),
                               ("iam", "ListUsers", None),
                               ("account", "GetContactInformation", None),
                               ("iam", "ListMFADevices", None)]:
        t += datetime.timedelta(seconds=rng.randint(15, 50))
        s.call(t, owner, service, name, req, expect=["cis-cloudwatch-1"], step=step["name"])

    # Responses that are only `{"_return": true}` in EC2's style.
    for rec, _, _ in s.records:
        resp = rec.get("responseElements")
        if isinstance(resp, dict) and "_return" in resp:
            resp = {"requestId": s.uuid(), **resp}
            rec["responseElements"] = resp
    return s.records


# ---------------------------------------------------------------- files

def delivery_files(records, rng):
    """{file name: records}: one file per region and five-minute window,
    named as CloudTrail names its S3 objects (delivered at the end of the
    window)."""
    groups = defaultdict(list)
    for rec in sorted(records, key=lambda r: (r["eventTime"], r["eventID"])):
        t = datetime.datetime.strptime(rec["eventTime"], "%Y-%m-%dT%H:%M:%SZ")
        window = t.replace(minute=t.minute - t.minute % 5, second=0) + datetime.timedelta(minutes=5)
        groups[(rec["awsRegion"], window)].append(rec)
    files = {}
    for (region, window), recs in sorted(groups.items()):
        unique = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") for _ in range(16))
        files[f"{ACCOUNT}_CloudTrail_{region}_{window:%Y%m%dT%H%MZ}_{unique}.json"] = recs
    return files


def render(recs):
    """An S3 delivery file, `{"Records": [...]}`, one record a line (CloudTrail
    writes one line; a line each keeps the file readable in a diff)."""
    lines = ",\n".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) for r in recs)
    return '{"Records":[\n' + lines + "\n]}\n"


def generate():
    story = build()
    files = delivery_files([r for r, _, _ in story], random.Random(SEED + 1))
    return story, {name: render(recs) for name, recs in files.items()}


def write(out):
    _, files = generate()
    os.makedirs(out, exist_ok=True)
    for old in glob.glob(os.path.join(out, f"{ACCOUNT}_CloudTrail_*.json")):
        if os.path.basename(old) not in files:
            os.remove(old)
    for name, text in files.items():
        with open(os.path.join(out, name), "w", encoding="utf-8") as f:
            f.write(text)
    records = sum(text.count('"eventID"') for text in files.values())
    print(f"scenario: {records} records in {len(files)} files -> {os.path.relpath(out)}")


def check(binary):
    story, files = generate()
    on_disk = {os.path.basename(p) for p in glob.glob(os.path.join(OUT, f"{ACCOUNT}_CloudTrail_*.json"))}
    stale = sorted(set(files) ^ on_disk) + sorted(
        n for n in set(files) & on_disk if open(os.path.join(OUT, n), encoding="utf-8").read() != files[n])
    if stale:
        sys.exit(f"scenario: data/scenario/ is not what scripts/scenario.py writes ({len(stale)} files differ, "
                 f"e.g. {stale[0]}): run python3 scripts/scenario.py and commit the result")
    sys.path.insert(0, HERE)
    from trailwatch_local import trailwatch_bin  # noqa: E402

    binary = binary or trailwatch_bin()
    rules = [json.loads(line) for line in subprocess.run([binary, "rules", "list", "--json"], check=True,
                                                         capture_output=True, text=True).stdout.splitlines()]
    alert_rules = {r["id"] for r in rules if r["action"] == "alert"}
    out = subprocess.run([binary, "replay", "--no-dedup", OUT], check=True, capture_output=True, text=True)
    fired = defaultdict(set)  # eventID -> alert rules
    for line in out.stdout.splitlines():
        alert = json.loads(line)
        for eid in alert.get("event_ids") or [alert["event_id"]]:
            fired[eid].add(alert["rule_id"])
    problems, expected_rules = [], set()
    for rec, expect, step in story:
        got = fired.get(rec["eventID"], set())
        expect = expect & alert_rules
        expected_rules |= expect
        if step == "ordinary traffic" and got:
            problems.append(f"ordinary {rec['eventName']} at {rec['eventTime']} alerted: {sorted(got)}")
        if expect - got:
            problems.append(f"{step}: {rec['eventName']} at {rec['eventTime']} did not alert {sorted(expect - got)}")
        if got - expect and step != "ordinary traffic":
            problems.append(f"{step}: {rec['eventName']} at {rec['eventTime']} also alerted {sorted(got - expect)}")
    all_fired = set().union(*fired.values()) if fired else set()
    print(f"scenario: {len(story)} records ({sum(1 for _, _, st in story if st == 'ordinary traffic')} ordinary); "
          f"alert rules fired: {len(all_fired & alert_rules)} of the pack's {len(alert_rules)}")
    missing = sorted(alert_rules - all_fired)
    if missing:
        print(f"scenario: alert rules the scenario does not set off: {', '.join(missing)}")
    for p in problems:
        print(f"scenario: {p}", file=sys.stderr)
    return 1 if problems else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=OUT)
    ap.add_argument("--check", action="store_true", help="check data/scenario/ and the rules it sets off")
    ap.add_argument("--trailwatch", help="the trailwatch binary for --check (default target/debug/trailwatch)")
    a = ap.parse_args()
    if a.check:
        return check(a.trailwatch)
    write(a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
