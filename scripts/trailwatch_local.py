"""What trailwatch's scripts share: where the shared data is, reading
CloudTrail records, the payloads AWS delivers them in, and the local AWS
stand-ins (a moto server, cargo-lambda's runtime emulator) on 127.0.0.1.

Used by scripts/*.py, tests/support/moto_ctl.py, fuzz/seed_corpus.py and
the Makefile. Standard library only at import time (boto3, from .venv/, is
imported by the functions that talk to moto), so the report and seed
scripts run with any python3.

As a command:
  trailwatch_local.py shared REL [--optional]   print the absolute path of REL in the shared
                                                folder; exit 2 saying where it looked when absent
                                                (--optional: print nothing, exit 0)
  trailwatch_local.py bench-inputs DIR [--optional]
                                                write the standard benchmark inputs into DIR:
                                                bench-patterns/p{10,100,1000}.json and
                                                bench-events.jsonl, from the shared generator
                                                (--optional: when the shared folder is absent,
                                                say so and exit 0)
  trailwatch_local.py s3-log-file OUT [--mib N]  write a gzip'd CloudTrail log file ({"Records":[...]},
                                                as CloudTrail delivers to S3) of the shared records,
                                                repeated (each copy's eventIDs made unique) until
                                                the JSON reaches N MiB (default 50) once inflated
  trailwatch_local.py logs-payload OUT [--records N | --max-bytes B]
                                                write one CloudWatch Logs subscription invocation body
                                                ({"awslogs":{"data":...}}, one JSON line) of the shared
                                                records repeated: N log events, or the most whose body
                                                stays within B bytes (default 6000000, Lambda's limit)
"""
import base64
import glob
import gzip
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV_BIN = os.path.join(ROOT, ".venv", "bin")
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
SCENARIO_DIR = os.path.join(ROOT, "data", "scenario")
BENCH_NS = (10, 100, 1000)


# ------------------------------------------------------------ shared folder

def shared_dir():
    """The shared folder: $TRAILWATCH_SHARED, else `../shared` beside the
    repository (where CI puts it next to a fresh clone)."""
    return os.path.abspath(os.environ.get("TRAILWATCH_SHARED") or os.path.join(ROOT, "..", "shared"))


def shared_path(rel, needed_for=None, optional=False):
    """The absolute path of `rel` (e.g. `data/cloudtrail`) in the shared
    folder. When it is absent: None if `optional`, else exit (status 2) with
    a message naming the path looked for."""
    path = os.path.join(shared_dir(), rel)
    if os.path.exists(path):
        return path
    if optional:
        return None
    why = f" (needed for {needed_for})" if needed_for else ""
    print(f"trailwatch: {path} not found{why}. The real CloudTrail records and the benchmark "
          f"generator are not part of the project: they are read from ../shared beside the "
          f"repository; set TRAILWATCH_SHARED to the shared folder if yours is elsewhere.", file=sys.stderr)
    sys.exit(2)


def cloudtrail_dir(needed_for=None, optional=False):
    """The real CloudTrail records: `<shared>/data/cloudtrail`."""
    return shared_path(os.path.join("data", "cloudtrail"), needed_for, optional)


def gen_patterns(needed_for=None):
    """The standard benchmark generator: `<shared>/bench/gen_patterns.py`."""
    return shared_path(os.path.join("bench", "gen_patterns.py"), needed_for)


def bench_inputs(out_dir):
    """The standard benchmark inputs, made by the shared generator from the
    shared records: (patterns {N: path}, events path). Regenerated only when
    missing or older than the generator."""
    script = gen_patterns("the benchmark inputs")
    data = cloudtrail_dir("the benchmark inputs")
    os.makedirs(os.path.join(out_dir, "bench-patterns"), exist_ok=True)
    patterns = {n: os.path.join(out_dir, "bench-patterns", f"p{n}.json") for n in BENCH_NS}
    events = os.path.join(out_dir, "bench-events.jsonl")

    def stale(path):
        return not os.path.exists(path) or os.path.getmtime(path) < os.path.getmtime(script)

    for n, path in patterns.items():
        if stale(path):
            with open(path + ".tmp", "w", encoding="utf-8") as out:
                subprocess.run([sys.executable, script, "--data", data, str(n)], stdout=out, check=True)
            os.replace(path + ".tmp", path)
    if stale(events):
        subprocess.run([sys.executable, script, "--data", data, "--events", events + ".tmp"], check=True)
        os.replace(events + ".tmp", events)
    return patterns, events


def s3_log_file(out, mib=50):
    """A gzip'd CloudTrail log file of about `mib` MiB of JSON once inflated:
    the shared records in `record_files` order, repeated, each copy's
    eventIDs rewritten so that no two records are the same event. Written
    compactly as CloudTrail writes its files. (path, records, inflated
    bytes); made again only when missing or of another size."""
    records = load_records(cloudtrail_dir("the S3 log file benchmark input"))
    texts = [json.dumps(r, separators=(",", ":"), ensure_ascii=False) for r in records]
    target = mib * 1024 * 1024
    meta = out + ".meta.json"
    if os.path.exists(out) and os.path.exists(meta):
        with open(meta, encoding="utf-8") as f:
            known = json.load(f)
        if known.get("mib") == mib:
            return out, known["records"], known["bytes"]
    head, sep, tail = b'{"Records":[', b",", b"]}"
    written, count = len(head) + len(tail), 0
    with gzip.open(out + ".tmp", "wb", compresslevel=6) as f:
        f.write(head)
        copy = 0
        while written < target:
            for r in records:
                r = dict(r)
                if copy:
                    r["eventID"] = str(uuid.UUID(int=(copy << 64) | count))
                line = json.dumps(r, separators=(",", ":"), ensure_ascii=False).encode() if copy \
                    else texts[count % len(texts)].encode()
                if count:
                    f.write(sep)
                    written += 1
                f.write(line)
                written += len(line)
                count += 1
                if written >= target:
                    break
            copy += 1
        f.write(tail)
    os.replace(out + ".tmp", out)
    with open(meta, "w", encoding="utf-8") as f:
        json.dump({"mib": mib, "records": count, "bytes": written}, f)
    return out, count, written


def logs_payload_file(out, records=None, max_bytes=6_000_000):
    """One CloudWatch Logs invocation body of the shared records repeated
    (`records` log events, or the most whose body fits in `max_bytes`), as
    one JSON line. (path, log events, body bytes, inflated JSON bytes)."""
    recs = load_records(cloudtrail_dir("the logs payload benchmark input"))

    def build(n):
        data = logs_data([recs[i % len(recs)] for i in range(n)], "/aws/cloudtrail/bench", "bench")
        return json.dumps(awslogs(data)).encode(), len(json.dumps(data, separators=(",", ":")).encode())

    if records is None:
        per = len(build(len(recs))[0]) / len(recs)
        lo, hi = 1, int(max_bytes / per * 1.5) + 1
        while lo < hi:  # the most log events whose body stays within max_bytes
            mid = (lo + hi + 1) // 2
            if len(build(mid)[0]) <= max_bytes:
                lo = mid
            else:
                hi = mid - 1
        records = lo
    body, inflated = build(records)
    with open(out, "wb") as f:
        f.write(body + b"\n")
    return out, records, len(body), inflated


def mean_record_bytes():
    """(records, mean bytes) of the shared records written compactly as JSON
    (UTF-8), as CloudTrail writes them in its files."""
    records = load_records(cloudtrail_dir("the mean record size"))
    sizes = [len(json.dumps(r, separators=(",", ":"), ensure_ascii=False).encode()) for r in records]
    return len(sizes), sum(sizes) / len(sizes)


# ------------------------------------------------------------ records

def read_records(path):
    """The records of one file: an S3 delivery file (`{"Records": [...]}`),
    a JSON array, or JSON lines; `.gz` files are inflated."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        text = f.read()
    try:
        doc = json.loads(text)
    except ValueError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    if isinstance(doc, dict) and isinstance(doc.get("Records"), list):
        return doc["Records"]
    if isinstance(doc, list):
        return doc
    return [doc]


def record_files(data_dir):
    """(path, records) for every `.json`/`.json.gz` file under `data_dir`, in
    sorted path order (for the shared data: the Invictus files, then the
    Stratus detonation logs, the order the benchmark generator uses)."""
    paths = [p for p in glob.glob(os.path.join(data_dir, "**", "*"), recursive=True)
             if p.endswith((".json", ".json.gz")) and os.path.isfile(p)]
    return [(p, read_records(p)) for p in sorted(paths)]


def load_records(data_dir):
    """Every record under `data_dir`, in `record_files` order."""
    return [r for _, recs in record_files(data_dir) for r in recs]


def scenario_records():
    """The project's own attack scenario (data/scenario, made by
    scripts/scenario.py)."""
    records = load_records(SCENARIO_DIR)
    if not records:
        sys.exit(f"trailwatch: no records under {SCENARIO_DIR}: run python3 scripts/scenario.py")
    return records


def demo_records(choice="auto"):
    """(records, description) for the demo and the load run: the real
    records when the shared folder has them (or `choice` is "shared"), else
    the scenario the project ships."""
    real = cloudtrail_dir(optional=choice != "shared") if choice != "scenario" else None
    if real:
        return load_records(real), f"the real CloudTrail records of {real}"
    why = "" if choice == "scenario" else f"{os.path.join(shared_dir(), 'data', 'cloudtrail')} not found, so "
    return scenario_records(), (f"{why}the project's own scenario {os.path.relpath(SCENARIO_DIR, ROOT)}/ "
                                f"(synthetic records written by scripts/scenario.py)")


# ------------------------------------------------------------ payloads

DETAIL_TYPES = {
    "AwsApiCall": "AWS API Call via CloudTrail",
    "AwsConsoleSignIn": "AWS Console Sign In via CloudTrail",
    "AwsServiceEvent": "AWS Service Event via CloudTrail",
    "AwsConsoleAction": "AWS Console Action via CloudTrail",
    "AwsCloudTrailInsight": "AWS Insight via CloudTrail",
}
_EVENT_NS = uuid.UUID("0b7c7f55-8f5e-4d2a-a2a4-7f6c3c1d9e01")


def eventbridge_event(record):
    """The EventBridge event CloudTrail delivers for one record: `source` is
    "aws." + the service of `eventSource`, `detail-type` follows
    `eventType`, `detail` is the record (shared/engine/src/event/sources.rs)."""
    event_source = record.get("eventSource", "")
    return {
        "version": "0",
        "id": str(uuid.uuid5(_EVENT_NS, record.get("eventID") or json.dumps(record, sort_keys=True))),
        "detail-type": DETAIL_TYPES.get(record.get("eventType"), DETAIL_TYPES["AwsApiCall"]),
        "source": "aws." + event_source.split(".amazonaws.com")[0],
        "account": record.get("recipientAccountId") or record.get("userIdentity", {}).get("accountId", ""),
        "time": record.get("eventTime"),
        "region": record.get("awsRegion"),
        "resources": [],
        "detail": record,
    }


def logs_data(records, log_group="/aws/cloudtrail/trailwatch", log_stream="trailwatch", owner=None):
    """The JSON a CloudWatch Logs subscription delivers (before gzip and
    base64): each record one log event message."""
    owner = owner or (records[0].get("recipientAccountId") if records else None) or "111122223333"
    return {"messageType": "DATA_MESSAGE", "owner": owner, "logGroup": log_group, "logStream": log_stream,
            "subscriptionFilters": ["trailwatch"],
            "logEvents": [{"id": str(i), "timestamp": 0, "message": json.dumps(r, separators=(",", ":"))}
                          for i, r in enumerate(records)]}


def awslogs(data):
    """`{"awslogs": {"data": base64(gzip(JSON))}}` for logs data."""
    raw = json.dumps(data, separators=(",", ":")).encode()
    return {"awslogs": {"data": base64.b64encode(gzip.compress(raw, mtime=0)).decode()}}


def logs_payload(records, log_group="/aws/cloudtrail/trailwatch", log_stream="trailwatch"):
    """The Lambda payload of a CloudWatch Logs subscription carrying `records`."""
    return awslogs(logs_data(records, log_group, log_stream))


# ------------------------------------------------------------ the trailwatch CLI

def trailwatch_bin(profile="debug"):
    """The `trailwatch` binary: $TRAILWATCH_BIN, else the build in the
    target directory; exits saying how to build it when missing."""
    path = os.environ.get("TRAILWATCH_BIN") or os.path.join(TARGET, profile, "trailwatch")
    if not os.path.isabs(path) and os.sep in path:
        path = os.path.join(ROOT, path)
    if not os.access(path, os.X_OK):
        sys.exit(f"trailwatch: {path} not found: build it with "
                 f"`cargo build {'--release ' if profile == 'release' else ''}-p trailwatch-cli` (or set TRAILWATCH_BIN)")
    return path


# ------------------------------------------------------------ local AWS stand-ins

AWS_KW = dict(region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")


def free_port():
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, what, proc=None, timeout=60):
    """Wait until something listens on 127.0.0.1:port; exit if `proc` dies
    first or nothing listens within `timeout` seconds."""
    start = time.time()
    while time.time() - start < timeout:
        if proc is not None and proc.poll() is not None:
            sys.exit(f"{what} exited ({proc.returncode}) before listening on 127.0.0.1:{port}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    sys.exit(f"{what} did not start on 127.0.0.1:{port}")


def venv_tool(name):
    """A tool of the project's .venv (or, failing that, of PATH)."""
    path = os.path.join(VENV_BIN, name)
    if os.access(path, os.X_OK):
        return path
    found = shutil.which(name)
    if not found:
        sys.exit(f"{name} not found in {VENV_BIN}: run `make venv`")
    return found


# moto's application served one request at a time. moto_server handles
# requests on concurrent threads, and moto 5.2.5's DynamoDB does not make a
# conditional write or an ADD atomic across them (two concurrent claims of
# one key can both win), which DynamoDB itself does: runs that exercise the
# state table under concurrency use this instead (tests/tests/state.rs).
SERIAL_MOTO = """import sys
from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
run_simple('127.0.0.1', int(sys.argv[1]), DomainDispatcherApplication(create_backend_app), threaded=False,
           request_handler=MotoRequestHandler)
"""


def start_moto(log=None, serial=False):
    """moto_server on a free loopback port: (process, endpoint). Its output
    goes to the file `log` when given, else nowhere. `serial`: one request
    at a time (see SERIAL_MOTO)."""
    port = free_port()
    out = open(log, "w") if log else subprocess.DEVNULL
    command = ([venv_tool("python"), "-c", SERIAL_MOTO, str(port)] if serial
               else [venv_tool("moto_server"), "-H", "127.0.0.1", "-p", str(port)])
    proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    wait_port(port, "moto_server", proc)
    return proc, f"http://127.0.0.1:{port}"


def start_emulator():
    """cargo-lambda's runtime emulator with no function of its own
    (`--only-lambda-apis`): (process, port). Run a function binary with
    `function_env(port, ...)` to serve it; invoke it as function `_`."""
    port = free_port()
    proc = subprocess.Popen([venv_tool("cargo-lambda"), "lambda", "watch", "--only-lambda-apis",
                             "--invoke-address", "127.0.0.1", "--invoke-port", str(port)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, "cargo lambda watch", proc)
    return proc, port


def function_env(port, endpoint, topic, **extra):
    """The environment a function binary needs under the emulator on
    `port`, publishing to `topic` at the local `endpoint`."""
    env = {"AWS_LAMBDA_FUNCTION_VERSION": "1", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
           "AWS_LAMBDA_RUNTIME_API": f"http://127.0.0.1:{port}/.rt", "AWS_LAMBDA_FUNCTION_NAME": "_",
           "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1",
           "AWS_ENDPOINT_URL": endpoint, "TRAILWATCH_TOPIC_ARN": topic}
    env.update(extra)
    return env


def start_function(binary, endpoint, topic, procs, log=subprocess.DEVNULL, profile="debug", **env):
    """Serve the built function `binary` (e.g. trailwatch-logs) under its own
    emulator; both processes are appended to `procs`. Returns the port to
    invoke."""
    path = os.path.join(TARGET, profile, binary)
    if not os.access(path, os.X_OK):
        sys.exit(f"{path} not found: build it with `cargo build -p {binary}` (make build-debug)")
    emulator, port = start_emulator()
    procs.append(emulator)
    env.setdefault("AWS_LAMBDA_FUNCTION_NAME", binary)
    procs.append(subprocess.Popen([path], env=function_env(port, endpoint, topic, **env), stdout=log, stderr=log))
    return port


def stop(procs):
    """Stop what was started, last first."""
    for p in reversed(procs):
        if p.poll() is None:
            p.terminate()
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def invoke(port, payload, function="_", timeout=300):
    """Invoke a function through the emulator's Invoke API: (ok, response),
    ok being false when the invocation failed (HTTP error or an error
    response). `payload` is an object or already-encoded bytes."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/2015-03-31/functions/{function}/invocations",
                                 data=body, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        return False, e.read().decode(errors="replace")
    try:
        response = json.loads(raw or b"null")
    except ValueError:
        response = raw.decode(errors="replace")
    failed = isinstance(response, dict) and ("errorType" in response or "errorMessage" in response)
    return status == 200 and not failed, response


def create(endpoint):
    """The alert topic and an SQS queue subscribed to it, in moto: (sqs
    client, topic ARN, queue URL)."""
    import boto3

    sns = boto3.client("sns", endpoint_url=endpoint, **AWS_KW)
    sqs = boto3.client("sqs", endpoint_url=endpoint, **AWS_KW)
    topic = sns.create_topic(Name="trailwatch-alerts")["TopicArn"]
    queue = sqs.create_queue(QueueName="trailwatch-alerts")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    return sqs, topic, queue


def create_state_table(endpoint, name):
    """The state table as the template makes it (pk/sk strings, on demand,
    TTL on `expires`), in moto."""
    import boto3

    ddb = boto3.client("dynamodb", endpoint_url=endpoint, **AWS_KW)
    ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in ("pk", "sk")],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}])
    ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"})
    return name


def trail_files(records, org="o-exampleorgid", per_file=500):
    """The records as an organization trail writes them to S3: {key: gzip'd
    `{"Records": [...]}`}, grouped by account, region and day (each file at
    most `per_file` records, in event-time order), keys in CloudTrail's
    layout (`AWSLogs/o-ORG/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/
    ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHMMZ_ID.json.gz`), with one digest
    file per account and region (`CloudTrail-Digest/`, skipped by the S3
    function) after the digest shape of the CloudTrail User Guide."""
    groups = {}
    for r in records:
        account = str(r.get("recipientAccountId") or r.get("userIdentity", {}).get("accountId") or "111122223333")
        account = account if len(account) == 12 and account.isdigit() else "111122223333"
        region = r.get("awsRegion") or "us-east-1"
        day = (r.get("eventTime") or "2026-11-30T00:00:00Z")[:10]
        groups.setdefault((account, region, day), []).append(r)
    files = {}
    for (account, region, day), recs in sorted(groups.items()):
        recs.sort(key=lambda r: r.get("eventTime", ""))
        folder = f"AWSLogs/{org}/{account}/CloudTrail/{region}/{day.replace('-', '/')}"
        for i in range(0, len(recs), per_file):
            chunk = recs[i:i + per_file]
            stamp = chunk[-1].get("eventTime", day + "T00:00:00Z")[:16].replace("-", "").replace(":", "")
            key = f"{folder}/{account}_CloudTrail_{region}_{stamp}Z_{uuid.uuid5(uuid.NAMESPACE_URL, folder + str(i)).hex[:16]}.json.gz"
            files[key] = gzip.compress(json.dumps({"Records": chunk}, separators=(",", ":")).encode(), mtime=0)
    for account, region in sorted({(a, r) for a, r, _ in groups}):
        logs = [k for k in files if f"/{account}/CloudTrail/{region}/" in k]
        day = logs[-1].split("/CloudTrail/")[1].split("/", 1)[1].rsplit("/", 1)[0]
        key = (f"AWSLogs/{org}/{account}/CloudTrail-Digest/{region}/{day}/"
               f"{account}_CloudTrail-Digest_{region}_trail_{region}_{day.replace('/', '')}T2359Z.json.gz")
        digest = {"awsAccountId": account, "digestS3Object": key, "digestSignatureAlgorithm": "SHA256withRSA",
                  "digestPublicKeyFingerprint": "00", "previousDigestS3Object": None,
                  "logFiles": [{"s3Object": k, "hashValue": "00", "hashAlgorithm": "SHA-256"} for k in logs]}
        files[key] = gzip.compress(json.dumps(digest).encode(), mtime=0)
    return files


def trail_delivery(endpoint, bucket, files, topic_name="trail-delivery", queue_name="trailwatch-s3"):
    """Put `files` ({key: bytes}) into a moto bucket, then publish
    CloudTrail's log-delivery notification for each (`{"s3Bucket": B,
    "s3ObjectKey": [K]}`) to an SNS topic whose SQS queue (raw delivery off:
    the SNS envelope) the S3 function reads. Returns what reached the queue
    as Lambda SQS events of up to 10 messages (the event source mapping's
    batch), the messages deleted."""
    import boto3

    s3 = boto3.client("s3", endpoint_url=endpoint, **AWS_KW)
    sns = boto3.client("sns", endpoint_url=endpoint, **AWS_KW)
    sqs = sqs_client(endpoint)
    s3.create_bucket(Bucket=bucket)
    for key, body in files.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    topic = sns.create_topic(Name=topic_name)["TopicArn"]
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    for key in files:
        sns.publish(TopicArn=topic, Message=json.dumps({"s3Bucket": bucket, "s3ObjectKey": [key]}))
    events, batch = [], []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, AttributeNames=["All"])
        if not got.get("Messages"):
            break
        for m in got["Messages"]:
            batch.append({"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                          "attributes": m.get("Attributes", {}), "messageAttributes": {},
                          "md5OfBody": m["MD5OfBody"], "eventSource": "aws:sqs", "eventSourceARN": arn,
                          "awsRegion": AWS_KW["region_name"]})
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            if len(batch) == 10:
                events.append({"Records": batch})
                batch = []
    if batch:
        events.append({"Records": batch})
    return events


def sqs_client(endpoint):
    import boto3

    return boto3.client("sqs", endpoint_url=endpoint, **AWS_KW)


def bodies(sqs, queue):
    """Every message body in the queue (SNS envelopes), deleting each."""
    while True:
        got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = got.get("Messages", [])
        if not messages:
            return
        for m in messages:
            yield json.loads(m["Body"])
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])


# ------------------------------------------------------------ command line

def main(argv):
    if len(argv) >= 2 and argv[0] == "shared":
        path = shared_path(argv[1], optional="--optional" in argv[2:])
        if path:
            print(path)
        return 0
    if len(argv) >= 2 and argv[0] == "bench-inputs":
        if "--optional" in argv[2:] and not (cloudtrail_dir(optional=True)
                                             and shared_path(os.path.join("bench", "gen_patterns.py"), optional=True)):
            print(f"benchmark inputs not made: they need {os.path.join(shared_dir(), 'data', 'cloudtrail')} and "
                  f"{os.path.join(shared_dir(), 'bench', 'gen_patterns.py')}, not found (the tests that need them say so)")
            return 0
        patterns, events = bench_inputs(argv[1])
        print(f"benchmark inputs: {', '.join(patterns[n] for n in BENCH_NS)}, {events}")
        return 0
    if len(argv) >= 2 and argv[0] == "s3-log-file":
        mib = int(argv[argv.index("--mib") + 1]) if "--mib" in argv else 50
        path, count, size = s3_log_file(argv[1], mib)
        n, mean = mean_record_bytes()
        print(f"{path}: {count} records, {size} bytes of JSON once inflated, {os.path.getsize(path)} bytes gzip'd "
              f"(the {n} shared records: {mean:.0f} bytes of JSON each on average)")
        return 0
    if len(argv) >= 2 and argv[0] == "logs-payload":
        records = int(argv[argv.index("--records") + 1]) if "--records" in argv else None
        max_bytes = int(argv[argv.index("--max-bytes") + 1]) if "--max-bytes" in argv else 6_000_000
        path, count, size, inflated = logs_payload_file(argv[1], records, max_bytes)
        print(f"{path}: {count} log events, {size} bytes of invocation body, {inflated} bytes of JSON once inflated")
        return 0
    sys.exit(__doc__.split("As a command:\n", 1)[1])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
