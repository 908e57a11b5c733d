#!/usr/bin/env python3
"""Deploy trailwatch's CloudFormation template into a local moto server.

moto does not run SAM transforms, so this deploys the plain flavour of the
same template (`trailwatch infra generate --plain`: the functions as
AWS::Lambda::Function with code from S3, everything else identical). It
starts `moto_server` on 127.0.0.1 on a free port, creates two stacks, checks
that what moto creates exists and is wired, prints what moto created and
what it skipped, and stops the server.

Stack 1 (defaults): a new trail, EventBridge rules and a Lambda subscription.
Stack 2: an existing trail's log group, LogsDelivery=Kinesis, LogsOnly.
Stack 3: S3Path=Enabled: the trail's notification topic subscribed by the
S3 queue (KMS, redrive to its DLQ), the S3 function and its SQS event
source mapping (ReportBatchItemFailures), its least-privilege role.
Stack 4: S3Path=Enabled on an existing trail (its bucket, key prefix and
KMS key) with S3PathSource=BucketEvents: the Object Created rule to the
queue (dead letters to its DLQ), no subscription, the role reading only the
trail's prefix and decrypting its key.

moto 5 creates (among others) SNS topics, EventBridge rules with targets,
log groups, S3 buckets, KMS keys, SQS queues, IAM roles, Lambda functions,
permissions, event source mappings, Kinesis streams and DynamoDB tables
(key schema, billing mode, encryption; not the TTL or point-in-time
recovery settings, reported as gaps); it silently skips
resource types it does not model (the stack is still CREATE_COMPLETE):
AWS::CloudTrail::Trail, AWS::Logs::MetricFilter, AWS::CloudWatch::Alarm,
policies of buckets, topics and queues, subscription filters and more. The
list is computed here from the stack's resources, not assumed.

Usage: .venv/bin/python scripts/deploy-moto.py [--template PLAIN.yaml]
Needs boto3 and moto[server] (requirements.txt). Without --template it runs
`trailwatch infra generate --plain` ($TRAILWATCH_BIN, else
target/debug/trailwatch: `make build-debug`).
"""

import argparse
import ast
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from trailwatch_local import ROOT, start_moto, stop, trailwatch_bin  # noqa: E402

REGION = "us-east-1"


def fail(msg):
    print(f"deploy-moto: FAIL: {msg}", file=sys.stderr)
    raise SystemExit(1)


class Checks:
    """Counts assertions; prints each failure and goes on."""

    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.gaps = set()

    def check(self, ok, what):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            print(f"  FAIL {what}")
        return ok

    def setting(self, moto_has, template_has, what):
        """A property the template must set; moto's CloudFormation may drop it."""
        if moto_has:
            self.passed += 1
        elif template_has:
            self.passed += 1
            self.gaps.add(what)
        else:
            self.failed += 1
            print(f"  FAIL {what}: not in the template")


def plain_template(path):
    if path:
        with open(path, encoding="utf-8") as f:
            return f.read()
    cmd = [trailwatch_bin(), "infra", "generate", "--plain"]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        fail(f"{' '.join(cmd)}: {out.stderr.strip()}")
    return out.stdout


def load_yaml(text):
    import yaml  # PyYAML comes with moto[server] and cfn-lint

    return yaml.safe_load(text)


def evaluate(conditions, params, expr):
    """Evaluate a CloudFormation condition expression."""
    if isinstance(expr, dict):
        (fn, arg), = expr.items()
        if fn == "Condition":
            return evaluate(conditions, params, conditions[arg])
        if fn == "Ref":
            return params[arg]
        if fn == "Fn::Equals":
            a, b = (evaluate(conditions, params, x) for x in arg)
            return str(a) == str(b)
        if fn == "Fn::Not":
            return not evaluate(conditions, params, arg[0])
        if fn == "Fn::And":
            return all(evaluate(conditions, params, x) for x in arg)
        if fn == "Fn::Or":
            return any(evaluate(conditions, params, x) for x in arg)
        raise ValueError(f"condition function {fn}")
    return expr


def wanted(template, params):
    """The template's resources whose condition holds for these parameters."""
    values = {k: str(v.get("Default", "")) for k, v in template["Parameters"].items()}
    values.update(params)
    conds = template.get("Conditions", {})
    out = {}
    for lid, res in template["Resources"].items():
        c = res.get("Condition")
        if c is None or evaluate(conds, values, conds[c]):
            out[lid] = res
    return out


def deploy(clients, template_text, template, name, params, checks):
    cfn = clients["cloudformation"]
    cfn.create_stack(
        StackName=name,
        TemplateBody=template_text,
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
    )
    deadline = time.time() + 120
    while True:
        stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
        if not stack["StackStatus"].endswith("IN_PROGRESS") or time.time() > deadline:
            break
        time.sleep(0.5)
    checks.check(stack["StackStatus"] == "CREATE_COMPLETE", f"{name}: status {stack['StackStatus']} {stack.get('StackStatusReason', '')}")
    listed = {}
    paginator = cfn.get_paginator("list_stack_resources")
    for page in paginator.paginate(StackName=name):
        for r in page["StackResourceSummaries"]:
            listed[r["LogicalResourceId"]] = r
    want = wanted(template, params)
    created = {lid: r for lid, r in listed.items() if lid in want}
    skipped = {lid: want[lid]["Type"] for lid in want if lid not in listed}
    print(f"\n== stack {name}: {stack['StackStatus']}")
    print(f"   template: {len(template['Resources'])} resources, {len(want)} wanted with these parameters")
    print(f"   moto created {len(created)}:")
    for ty, n in sorted(Counter(r["ResourceType"] for r in created.values()).items()):
        print(f"     {n:3d} {ty}")
    print(f"   moto skipped {len(skipped)} (types it does not model):")
    for ty, n in sorted(Counter(skipped.values()).items()):
        print(f"     {n:3d} {ty}")
    return {lid: r["PhysicalResourceId"] for lid, r in created.items()}, skipped


def check_common(c, template, phys, skipped, checks, name, eventbridge_enabled):
    """What both stacks must have, as far as moto creates it."""
    res = template["Resources"]
    # Alert topic, KMS-encrypted with the stack's key.
    topic = phys.get("AlertTopic")
    if checks.check(topic is not None, f"{name}: AlertTopic created"):
        attrs = c["sns"].get_topic_attributes(TopicArn=topic)["Attributes"]
        checks.check(attrs.get("KmsMasterKeyId"), f"{name}: AlertTopic has a KMS key")
    # Key with rotation.
    key = phys.get("Key")
    if checks.check(key is not None, f"{name}: Key created"):
        checks.check(c["kms"].get_key_rotation_status(KeyId=key)["KeyRotationEnabled"], f"{name}: key rotation on")
    # Functions: runtime, architecture, role, environment, concurrency, DLQ.
    for fn in ("EventBridgeFunction", "LogsFunction"):
        if not checks.check(fn in phys, f"{name}: {fn} created"):
            continue
        conf = c["lambda"].get_function(FunctionName=phys[fn])["Configuration"]
        checks.check(conf["Runtime"] == "provided.al2023", f"{name}: {fn} runtime {conf['Runtime']}")
        props = res[fn]["Properties"]
        checks.setting(conf.get("Architectures") == ["arm64"], props.get("Architectures") == ["arm64"], "Lambda Architectures (arm64)")
        checks.check(conf["Handler"] == "bootstrap", f"{name}: {fn} handler")
        env = conf.get("Environment", {}).get("Variables", {})
        checks.check(env.get("TRAILWATCH_TOPIC_ARN") == topic, f"{name}: {fn} TRAILWATCH_TOPIC_ARN is the alert topic")
        checks.check(env.get("TRAILWATCH_METRICS") == "emf" and env.get("TRAILWATCH_NAMESPACE") == "trailwatch", f"{name}: {fn} metrics env")
        # Routes: the chat and paging topics, resolved by CloudFormation
        # into the JSON list the functions read (TRAILWATCH_ROUTES).
        try:
            routes = {r["name"]: r for r in json.loads(env.get("TRAILWATCH_ROUTES", ""))}
        except ValueError:
            routes = {}
        checks.check(
            routes.get("chat", {}).get("topic_arn") == phys.get("ChatTopic") and routes["chat"].get("format") == "chat"
            and routes.get("page", {}).get("topic_arn") == phys.get("PagingTopic") and routes["page"].get("tags") == [],
            f"{name}: {fn} TRAILWATCH_ROUTES names the chat and paging topics: {env.get('TRAILWATCH_ROUTES')}",
        )
        role = phys.get(f"{fn}Role")
        checks.check(role is not None and conf["Role"].endswith("/" + role), f"{name}: {fn} runs as its own role")
        dlq = phys.get(f"{fn}DLQ")
        dlq_arn = c["sqs"].get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"] if dlq else None
        checks.setting(
            dlq_arn and conf.get("DeadLetterConfig", {}).get("TargetArn") == dlq_arn,
            props.get("DeadLetterConfig", {}).get("TargetArn") == {"Fn::GetAtt": [f"{fn}DLQ", "Arn"]},
            "Lambda DeadLetterConfig (the function's DLQ)",
        )
        want_conc = 10 if fn == "EventBridgeFunction" else 5
        conc = c["lambda"].get_function_concurrency(FunctionName=phys[fn]).get("ReservedConcurrentExecutions")
        checks.check(conc == want_conc, f"{name}: {fn} reserved concurrency {conc}")
    check_state_table(c, template, phys, checks, name)
    fn_arn = None
    if "EventBridgeFunction" in phys:
        fn_arn = c["lambda"].get_function(FunctionName=phys["EventBridgeFunction"])["Configuration"]["FunctionArn"]
    # EventBridge rules: pattern as generated, state, target, retry, DLQ.
    # (The S3 path's Object Created rule is checked with the S3 path.)
    rules = [lid for lid, r in res.items() if r["Type"] == "AWS::Events::Rule" and lid != "S3ObjectCreatedRule"]
    target_dlq = phys.get("EventBridgeTargetDLQ")
    target_dlq_arn = c["sqs"].get_queue_attributes(QueueUrl=target_dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"] if target_dlq else None
    for lid in rules:
        if not checks.check(lid in phys, f"{name}: {lid} created"):
            continue
        rule_name = phys[lid].split("/")[-1]
        rule = c["events"].describe_rule(Name=rule_name)
        checks.check(json.loads(rule["EventPattern"]) == res[lid]["Properties"]["EventPattern"], f"{name}: {lid} pattern as generated")
        checks.check(rule["State"] == ("ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS" if eventbridge_enabled else "DISABLED"), f"{name}: {lid} state {rule['State']}")
        targets = c["events"].list_targets_by_rule(Rule=rule_name)["Targets"]
        ok = len(targets) == 1 and targets[0]["Arn"] == fn_arn
        checks.check(ok, f"{name}: {lid} targets the EventBridge function")
        if ok:
            checks.check(targets[0].get("DeadLetterConfig", {}).get("Arn") == target_dlq_arn, f"{name}: {lid} target has the DLQ")
            checks.check(targets[0].get("RetryPolicy", {}).get("MaximumRetryAttempts") == 185, f"{name}: {lid} target retry policy")
    # Permissions for EventBridge to invoke the function.
    for lid in rules:
        if f"{lid}Permission" in skipped:
            continue
        checks.check(f"{lid}Permission" in phys, f"{name}: {lid}Permission created")
    # Function log groups: retention, KMS.
    for lg in ("EventBridgeFunctionLogGroup", "LogsFunctionLogGroup"):
        groups = c["logs"].describe_log_groups(logGroupNamePrefix=phys.get(lg, "?"))["logGroups"]
        ok = checks.check(len(groups) == 1, f"{name}: {lg} created")
        if ok:
            checks.check(groups[0].get("retentionInDays") == 365, f"{name}: {lg} retention 365")
            checks.setting(bool(groups[0].get("kmsKeyId")), res[lg]["Properties"].get("KmsKeyId") == {"Fn::GetAtt": ["Key", "Arn"]}, "log group KmsKeyId")
    return rules


def check_state_table(c, template, phys, checks, name):
    """The DynamoDB state table: its key schema, on demand, the functions' access."""
    table = phys.get("StateTable")
    if not checks.check(table == f"{name}-state", f"{name}: StateTable created as {name}-state ({table})"):
        return
    desc = c["dynamodb"].describe_table(TableName=table)["Table"]
    keys = sorted((k["AttributeName"], k["KeyType"]) for k in desc["KeySchema"])
    checks.check(keys == [("pk", "HASH"), ("sk", "RANGE")], f"{name}: StateTable key schema pk HASH, sk RANGE ({keys})")
    types = sorted((a["AttributeName"], a["AttributeType"]) for a in desc["AttributeDefinitions"])
    checks.check(types == [("pk", "S"), ("sk", "S")], f"{name}: StateTable pk and sk are strings ({types})")
    checks.check(desc.get("BillingModeSummary", {}).get("BillingMode") == "PAY_PER_REQUEST", f"{name}: StateTable on demand")
    props = template["Resources"]["StateTable"]["Properties"]
    checks.setting(desc.get("SSEDescription", {}).get("Status") == "ENABLED", props.get("SSESpecification") == {"SSEEnabled": True}, "DynamoDB SSESpecification")
    ttl = c["dynamodb"].describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    checks.setting(
        ttl.get("TimeToLiveStatus") == "ENABLED" and ttl.get("AttributeName") == "expires",
        props.get("TimeToLiveSpecification") == {"AttributeName": "expires", "Enabled": True},
        "DynamoDB TimeToLiveSpecification (expires)",
    )
    pitr = c["dynamodb"].describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
    checks.setting(
        pitr.get("PointInTimeRecoveryDescription", {}).get("PointInTimeRecoveryStatus") == "ENABLED",
        props.get("PointInTimeRecoverySpecification") == {"PointInTimeRecoveryEnabled": True},
        "DynamoDB PointInTimeRecoverySpecification",
    )
    want = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"]
    for fn in ("EventBridgeFunction", "LogsFunction"):
        if fn not in phys:
            continue
        env = c["lambda"].get_function(FunctionName=phys[fn])["Configuration"].get("Environment", {}).get("Variables", {})
        checks.check(env.get("TRAILWATCH_STATE_TABLE") == table, f"{name}: {fn} TRAILWATCH_STATE_TABLE is the state table")
        role = phys.get(f"{fn}Role")
        if not role:
            continue
        doc = c["iam"].get_role_policy(RoleName=role, PolicyName="least-privilege")["PolicyDocument"]
        if isinstance(doc, str):
            # moto's CloudFormation stores an inline policy as the Python repr of the document.
            doc = ast.literal_eval(doc)
        # (An Fn::If that gave AWS::NoValue is left in the list as None by moto.)
        on_dynamodb = [st for st in doc["Statement"] if isinstance(st, dict) and "dynamodb:" in json.dumps(st.get("Action"))]
        checks.check(
            len(on_dynamodb) == 1 and on_dynamodb[0]["Action"] == want and on_dynamodb[0]["Resource"] == desc["TableArn"],
            f"{name}: {fn}Role may only {', '.join(want)} on the state table ({on_dynamodb})",
        )


def queue_arn(c, url):
    return c["sqs"].get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def check_s3_path(c, template, phys, skipped, checks, name, existing=None):
    """S3Path=Enabled: queue, DLQ redrive, subscription, function, mapping, role.

    `existing`: (bucket, prefix, key ARN) of an existing trail read through
    its bucket's Object Created events; None: the stack's trail and topic."""
    res = template["Resources"]
    queue, dlq = phys.get("S3Queue"), phys.get("S3QueueDLQ")
    if not (checks.check(queue is not None, f"{name}: S3Queue created") and checks.check(dlq is not None, f"{name}: S3QueueDLQ created")):
        return
    q_arn, dlq_arn = queue_arn(c, queue), queue_arn(c, dlq)
    attrs = c["sqs"].get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
    fn_timeout = res["S3Function"]["Properties"]["Timeout"]
    checks.check(int(attrs.get("VisibilityTimeout", 0)) >= 6 * fn_timeout, f"{name}: S3Queue visibility {attrs.get('VisibilityTimeout')} >= 6 x {fn_timeout}")
    checks.check(attrs.get("MessageRetentionPeriod") == "604800", f"{name}: S3Queue retention 7 days ({attrs.get('MessageRetentionPeriod')})")
    redrive = json.loads(attrs.get("RedrivePolicy", "{}"))
    checks.check(redrive.get("deadLetterTargetArn") == dlq_arn and int(redrive.get("maxReceiveCount", 0)) == 5, f"{name}: S3Queue redrives to S3QueueDLQ after 5 receives ({redrive})")
    for lid, q in (("S3Queue", queue), ("S3QueueDLQ", dlq)):
        a = c["sqs"].get_queue_attributes(QueueUrl=q, AttributeNames=["All"])["Attributes"]
        want = res[lid]["Properties"].get("KmsMasterKeyId") == {"Fn::GetAtt": ["Key", "Arn"]}
        checks.setting(bool(a.get("KmsMasterKeyId")), want, "SQS KmsMasterKeyId (the stack's key)")
    d = c["sqs"].get_queue_attributes(QueueUrl=dlq, AttributeNames=["MessageRetentionPeriod"])["Attributes"]
    checks.check(d.get("MessageRetentionPeriod") == "1209600", f"{name}: S3QueueDLQ retention 14 days")
    # The trail's notification topic → the queue, SNS envelope kept; or the
    # bucket's Object Created events through an EventBridge rule.
    topic = phys.get("TrailNotificationTopic")
    if existing is not None:
        bucket, prefix, key_arn = existing
        for lid in ("Trail", "TrailBucket", "TrailNotificationTopic", "S3QueueSubscription"):
            checks.check(lid not in phys, f"{name}: {lid} not created (existing trail, bucket events)")
        rule = phys.get("S3ObjectCreatedRule")
        if checks.check(rule is not None, f"{name}: S3ObjectCreatedRule created"):
            rule_name = rule.split("|")[-1].split("/")[-1]
            r = c["events"].describe_rule(Name=rule_name)
            pattern = json.loads(r["EventPattern"])
            want = {"source": ["aws.s3"], "detail-type": ["Object Created"], "detail": {"bucket": {"name": [bucket]}, "object": {"key": [{"prefix": f"{prefix}/AWSLogs/"}]}}}
            checks.check(pattern == want, f"{name}: the rule matches the existing bucket's log files ({pattern})")
            targets = c["events"].list_targets_by_rule(Rule=rule_name)["Targets"]
            ok = len(targets) == 1 and targets[0]["Arn"] == q_arn
            checks.check(ok, f"{name}: the rule targets S3Queue ({targets})")
            if ok:
                checks.check(targets[0].get("DeadLetterConfig", {}).get("Arn") == dlq_arn, f"{name}: the rule's dead letters go to S3QueueDLQ")
        checks.check("S3QueueDLQPolicy" in phys or "S3QueueDLQPolicy" in skipped, f"{name}: S3QueueDLQPolicy wanted")
    elif checks.check(topic is not None, f"{name}: TrailNotificationTopic created"):
        subs = [s for s in c["sns"].list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] if s["Protocol"] == "sqs"]
        if "S3QueueSubscription" in skipped:
            sp = res["S3QueueSubscription"]["Properties"]
            checks.check(
                sp == {"TopicArn": {"Fn::If": ["CreateTrail", {"Ref": "TrailNotificationTopic"}, {"Ref": "ExistingTrailTopicArn"}]}, "Protocol": "sqs", "Endpoint": {"Fn::GetAtt": ["S3Queue", "Arn"]}, "RawMessageDelivery": False},
                f"{name}: S3QueueSubscription in the template: the trail's topic to S3Queue, raw delivery off ({sp})",
            )
            print(f"   S3QueueSubscription: skipped by moto (AWS::SNS::Subscription not modelled; checked in the template); sqs subscriptions on the topic: {len(subs)}")
        elif checks.check(len(subs) == 1 and subs[0]["Endpoint"] == q_arn, f"{name}: the trail's topic is subscribed by S3Queue ({subs})"):
            sa = c["sns"].get_subscription_attributes(SubscriptionArn=subs[0]["SubscriptionArn"])["Attributes"]
            checks.check(sa.get("RawMessageDelivery", "false") == "false", f"{name}: raw message delivery off")
    # The function: synchronous (no function DLQ), its own role and env.
    fn = phys.get("S3Function")
    if not checks.check(fn is not None, f"{name}: S3Function created"):
        return
    conf = c["lambda"].get_function(FunctionName=fn)["Configuration"]
    checks.check(conf["Runtime"] == "provided.al2023" and conf["Handler"] == "bootstrap", f"{name}: S3Function runtime and handler")
    checks.check(not conf.get("DeadLetterConfig", {}).get("TargetArn"), f"{name}: S3Function has no function DLQ (the queue's redrive is)")
    env = conf.get("Environment", {}).get("Variables", {})
    checks.check(env.get("TRAILWATCH_TOPIC_ARN") == phys.get("AlertTopic") and env.get("TRAILWATCH_STATE_TABLE") == phys.get("StateTable"), f"{name}: S3Function topic and state table env")
    checks.check(env.get("TRAILWATCH_MATCH") == "filter_pattern", f"{name}: S3Function TRAILWATCH_MATCH {env.get('TRAILWATCH_MATCH')}")
    conc = c["lambda"].get_function_concurrency(FunctionName=fn).get("ReservedConcurrentExecutions")
    checks.check(conc == 4, f"{name}: S3Function reserved concurrency {conc}")
    # The event source mapping.
    mappings = c["lambda"].list_event_source_mappings(FunctionName=fn)["EventSourceMappings"]
    if checks.check(len(mappings) == 1 and mappings[0]["EventSourceArn"] == q_arn, f"{name}: S3Queue mapped to the S3 function"):
        m = mappings[0]
        checks.check(m.get("FunctionResponseTypes") == ["ReportBatchItemFailures"], f"{name}: S3 mapping reports batch item failures")
        checks.check(m.get("BatchSize") == 10, f"{name}: S3 mapping batch size {m.get('BatchSize')}")
        checks.setting(m.get("ScalingConfig", {}).get("MaximumConcurrency") == 4, res["S3EventSourceMapping"]["Properties"].get("ScalingConfig") == {"MaximumConcurrency": {"Ref": "S3FunctionConcurrency"}}, "SQS mapping ScalingConfig.MaximumConcurrency")
    # The role: GetObject on AWSLogs/* of the trail bucket, the SQS calls on the queue alone.
    role = phys.get("S3FunctionRole")
    if checks.check(role is not None and conf["Role"].endswith("/" + role), f"{name}: S3Function runs as its own role"):
        doc = c["iam"].get_role_policy(RoleName=role, PolicyName="least-privilege")["PolicyDocument"]
        if isinstance(doc, str):
            doc = ast.literal_eval(doc)
        by_sid = {st.get("Sid"): st for st in doc["Statement"] if isinstance(st, dict)}
        objects = f"arn:aws:s3:::{phys.get('TrailBucket')}/AWSLogs/*" if existing is None else f"arn:aws:s3:::{existing[0]}/{existing[1]}/AWSLogs/*"
        get = by_sid.get("ReadTrailLogFiles", {})
        checks.check(get.get("Action") == "s3:GetObject" and get.get("Resource") == objects, f"{name}: S3FunctionRole reads only {objects} ({get})")
        decrypt = by_sid.get("DecryptExistingTrailLogFiles")
        if existing is None:
            checks.check(decrypt is None, f"{name}: no existing trail key to decrypt")
        else:
            checks.check(decrypt is not None and decrypt.get("Resource") == existing[2] and decrypt.get("Action") == "kms:Decrypt", f"{name}: S3FunctionRole decrypts the existing trail's key ({decrypt})")
        sqs = by_sid.get("ConsumeQueue", {})
        checks.check(sqs.get("Resource") == q_arn and sorted(sqs.get("Action", [])) == ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"], f"{name}: S3FunctionRole consumes S3Queue only ({sqs})")
        actions = json.dumps([st.get("Action") for st in by_sid.values()])
        checks.check("s3:List" not in actions and "s3:*" not in actions and "sqs:SendMessage" not in actions, f"{name}: S3FunctionRole has no List, s3:* or SendMessage")
    lg = c["logs"].describe_log_groups(logGroupNamePrefix=phys.get("S3FunctionLogGroup", "?"))["logGroups"]
    checks.check(len(lg) == 1 and lg[0].get("retentionInDays") == 365, f"{name}: S3FunctionLogGroup created, retention 365")


def check_created_if_modelled(c, template, phys, skipped, checks, name, log_group):
    """Metric filters and alarms: checked if moto made them, reported if not."""
    res = template["Resources"]
    filters = [lid for lid, r in res.items() if r["Type"] == "AWS::Logs::MetricFilter"]
    alarms = [lid for lid, r in res.items() if r["Type"] == "AWS::CloudWatch::Alarm"]
    made = {f["filterName"]: f for f in c["logs"].describe_metric_filters(logGroupName=log_group).get("metricFilters", [])}
    if all(lid in skipped for lid in filters):
        print(f"   metric filters: moto skipped all {len(filters)} (AWS::Logs::MetricFilter is not modelled); none exist on {log_group}: {len(made) == 0}")
    else:
        for lid in filters:
            checks.check(lid in phys, f"{name}: {lid} created")
        cis = [f for f in made.values() if f["metricTransformations"][0]["metricNamespace"] == "LogMetrics"]
        checks.check(len(cis) == sum(1 for lid in filters if lid.startswith("Cis")), f"{name}: CIS filters in LogMetrics")
    if all(lid in skipped for lid in alarms):
        print(f"   alarms: moto skipped all {len(alarms)} (AWS::CloudWatch::Alarm is not modelled)")
    else:
        topic = phys.get("AlertTopic")
        for a in c["cloudwatch"].describe_alarms()["MetricAlarms"]:
            checks.check(a["AlarmActions"] == [topic], f"{name}: alarm {a['AlarmName']} notifies the alert topic")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--template", help="a plain-CloudFormation template (default: generate one)")
    args = ap.parse_args()

    os.environ.update({
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    })
    for k in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        os.environ.pop(k, None)
    import boto3

    text = plain_template(args.template)
    template = load_yaml(text)
    if "Transform" in template:
        fail("the template uses the SAM transform, which moto does not run: pass a `trailwatch infra generate --plain` template")

    log = tempfile.NamedTemporaryFile(prefix="moto-", suffix=".log", delete=False).name
    proc, url = start_moto(log)
    print(f"moto_server on {url} (pid {proc.pid}, log {log})")
    checks = Checks()
    try:
        c = {s: boto3.client(s, endpoint_url=url, region_name=REGION) for s in
             ("cloudformation", "s3", "sns", "events", "logs", "lambda", "sqs", "kms", "kinesis", "cloudwatch", "iam", "dynamodb")}

        # Function code: a stand-in bootstrap (moto stores it, never runs it).
        c["s3"].create_bucket(Bucket="trailwatch-code")
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("bootstrap", "#!/bin/sh\nexit 0\n")
        for key in ("trailwatch-eventbridge.zip", "trailwatch-logs.zip", "trailwatch-s3.zip"):
            c["s3"].put_object(Bucket="trailwatch-code", Key=key, Body=buf.getvalue())
        code = {"CodeBucket": "trailwatch-code"}

        # Stack 1: defaults (new trail, EventBridge + Lambda subscription).
        p1 = dict(code, AlertEmail="security@example.com")
        phys, skipped = deploy(c, text, template, "tw-default", p1, checks)
        rules = check_common(c, template, phys, skipped, checks, "tw-default", eventbridge_enabled=True)
        for b in ("TrailBucket", "AccessLogBucket"):
            if checks.check(b in phys, f"tw-default: {b} created"):
                v = c["s3"].get_bucket_versioning(Bucket=phys[b])
                want = template["Resources"][b]["Properties"].get("VersioningConfiguration") == {"Status": "Enabled"}
                checks.setting(v.get("Status") == "Enabled", want, "S3 VersioningConfiguration")
                pab = template["Resources"][b]["Properties"].get("PublicAccessBlockConfiguration", {})
                checks.check(all(pab.get(k) is True for k in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")), f"tw-default: {b} public access block in the template")
        log_group = phys.get("TrailLogGroup")
        groups = c["logs"].describe_log_groups(logGroupNamePrefix=log_group or "?")["logGroups"]
        if checks.check(log_group == "/trailwatch/cloudtrail" and len(groups) == 1, "tw-default: trail log group created"):
            checks.check(groups[0].get("retentionInDays") == 365, "tw-default: trail log group retention 365")
            checks.setting(bool(groups[0].get("kmsKeyId")), template["Resources"]["TrailLogGroup"]["Properties"].get("KmsKeyId") is not None, "log group KmsKeyId")
        checks.check("Trail" in phys or "Trail" in skipped, "tw-default: Trail wanted")
        subs = c["sns"].list_subscriptions_by_topic(TopicArn=phys.get("AlertTopic", "arn:aws:sns:us-east-1:123456789012:none"))["Subscriptions"] if "AlertTopic" in phys else []
        if "AlertEmailSubscription" not in skipped:
            checks.check(any(s["Endpoint"] == "security@example.com" for s in subs), "tw-default: e-mail subscription")
        check_created_if_modelled(c, template, phys, skipped, checks, "tw-default", log_group or "?")
        print(f"   EventBridge rules: {len(rules)} created, each with pattern, target, retry policy and DLQ checked")

        # Stack 2: an existing trail's log group, through Kinesis, logs only.
        existing = "/aws/cloudtrail/existing-trail"
        c["logs"].create_log_group(logGroupName=existing)
        p2 = dict(code, TrailMode="existing", TrailLogGroupName=existing, LogsDelivery="Kinesis", DetectionPath="LogsOnly")
        phys2, skipped2 = deploy(c, text, template, "tw-existing", p2, checks)
        check_common(c, template, phys2, skipped2, checks, "tw-existing", eventbridge_enabled=False)
        for lid in ("Trail", "TrailBucket", "TrailLogGroup", "LogsSubscription", "LogsFunctionSubscriptionPermission"):
            checks.check(lid not in phys2, f"tw-existing: {lid} not created")
        stream = phys2.get("LogsStream")
        if checks.check(stream is not None, "tw-existing: Kinesis stream created"):
            desc = c["kinesis"].describe_stream_summary(StreamName=stream.split("/")[-1])["StreamDescriptionSummary"]
            want = template["Resources"]["LogsStream"]["Properties"].get("StreamEncryption", {}).get("EncryptionType") == "KMS"
            checks.setting(desc.get("EncryptionType") == "KMS", want, "Kinesis StreamEncryption")
            mappings = c["lambda"].list_event_source_mappings(FunctionName=phys2.get("LogsFunction", "?"))["EventSourceMappings"]
            ok = checks.check(len(mappings) == 1 and mappings[0]["EventSourceArn"] == desc["StreamARN"], "tw-existing: stream mapped to the logs function")
            if ok:
                m = mappings[0]
                checks.check(m.get("FunctionResponseTypes") == ["ReportBatchItemFailures"], "tw-existing: mapping reports batch item failures")
                dlq_arn = c["sqs"].get_queue_attributes(QueueUrl=phys2["LogsFunctionDLQ"], AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
                checks.check(m.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination") == dlq_arn, "tw-existing: mapping on-failure destination")
        check_created_if_modelled(c, template, phys2, skipped2, checks, "tw-existing", existing)
        for name, p in (("tw-default", phys), ("tw-existing", phys2)):
            for lid in ("S3Queue", "S3QueueDLQ", "S3Function", "S3EventSourceMapping"):
                checks.check(lid not in p, f"{name}: {lid} not created (S3Path=Disabled)")

        # Stack 3: the S3 path.
        p3 = dict(code, S3Path="Enabled", S3FunctionConcurrency="4", TrailLogGroupName="/trailwatch/cloudtrail-s3path")
        phys3, skipped3 = deploy(c, text, template, "tw-s3path", p3, checks)
        check_common(c, template, phys3, skipped3, checks, "tw-s3path", eventbridge_enabled=True)
        check_s3_path(c, template, phys3, skipped3, checks, "tw-s3path")

        # Stack 4: the S3 path on an existing trail, through bucket events.
        org_bucket, org_prefix = "org-trail-logs", "org"
        c["s3"].create_bucket(Bucket=org_bucket)
        org_key = c["kms"].create_key(Description="an existing trail's key")["KeyMetadata"]["Arn"]
        existing4 = "/aws/cloudtrail/existing-trail-s3"
        c["logs"].create_log_group(logGroupName=existing4)
        p4 = dict(code, TrailMode="existing", TrailLogGroupName=existing4, S3Path="Enabled", S3PathSource="BucketEvents",
                  ExistingTrailBucket=org_bucket, ExistingTrailKeyPrefix=org_prefix, ExistingTrailKeyArn=org_key, S3FunctionConcurrency="4")
        phys4, skipped4 = deploy(c, text, template, "tw-existing-s3", p4, checks)
        check_common(c, template, phys4, skipped4, checks, "tw-existing-s3", eventbridge_enabled=True)
        check_s3_path(c, template, phys4, skipped4, checks, "tw-existing-s3", existing=(org_bucket, org_prefix, org_key))

        for name in ("tw-existing-s3", "tw-s3path", "tw-existing", "tw-default"):
            c["cloudformation"].delete_stack(StackName=name)
    finally:
        stop([proc])
        print(f"\nmoto_server stopped")
    if checks.gaps:
        print("properties the template sets that moto's CloudFormation does not apply (not failures):")
        for g in sorted(checks.gaps):
            print(f"  - {g}")
    print(f"deploy-moto: {checks.passed} passed, {checks.failed} failed")
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
