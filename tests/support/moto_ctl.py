"""The local SNS stand-in (a moto server on loopback), for the tests, the
demo and the load run.

As a command: `setup ENDPOINT` creates the alert topic and an SQS queue
subscribed to it and prints their ids as JSON; `drain ENDPOINT QUEUE_URL`
prints every message in the queue as one JSON line and deletes it.
As a module: the same, plus starting the server and waiting for ports.
"""
import json
import os
import socket
import subprocess
import sys
import time

import boto3

KW = dict(region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")


def free_port():
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, what, timeout=60):
    """Wait until something listens on 127.0.0.1:port."""
    start = time.time()
    while time.time() - start < timeout:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    sys.exit(f"{what} did not start on 127.0.0.1:{port}")


def start_server(venv_bin):
    """Start moto_server on a free loopback port: (process, endpoint)."""
    port = free_port()
    proc = subprocess.Popen([os.path.join(venv_bin, "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, "moto_server")
    return proc, f"http://127.0.0.1:{port}"


def start_emulator(venv_bin, cwd):
    """cargo-lambda's runtime emulator with no function of its own
    (`--only-lambda-apis`): (process, port). Run a function binary with
    `function_env(port, ...)` to serve it."""
    port = free_port()
    proc = subprocess.Popen([os.path.join(venv_bin, "cargo-lambda"), "lambda", "watch", "--only-lambda-apis",
                             "--invoke-address", "127.0.0.1", "--invoke-port", str(port)],
                            cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, "cargo lambda watch")
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


def create(endpoint):
    """The alert topic and a queue subscribed to it: (sqs client, topic ARN, queue URL)."""
    sns = boto3.client("sns", endpoint_url=endpoint, **KW)
    sqs = boto3.client("sqs", endpoint_url=endpoint, **KW)
    topic = sns.create_topic(Name="trailwatch-alerts")["TopicArn"]
    queue = sqs.create_queue(QueueName="trailwatch-alerts")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    return sqs, topic, queue


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


def setup(endpoint):
    _, topic, queue = create(endpoint)
    print(json.dumps({"topic": topic, "queue": queue}))


def drain(endpoint, queue):
    sqs = boto3.client("sqs", endpoint_url=endpoint, **KW)
    for body in bodies(sqs, queue):
        print(json.dumps(body))


if __name__ == "__main__":
    {"setup": setup, "drain": drain}[sys.argv[1]](*sys.argv[2:])
