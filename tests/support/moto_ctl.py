"""Set up and read the local SNS stand-in (a moto server) for the tests and
the demo: `setup ENDPOINT` creates the alert topic and an SQS queue
subscribed to it and prints their ids as JSON; `drain ENDPOINT QUEUE_URL`
prints every message in the queue as one JSON line and deletes it."""
import json
import sys

import boto3

KW = dict(region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")


def setup(endpoint):
    sns = boto3.client("sns", endpoint_url=endpoint, **KW)
    sqs = boto3.client("sqs", endpoint_url=endpoint, **KW)
    topic = sns.create_topic(Name="trailwatch-alerts")["TopicArn"]
    queue = sqs.create_queue(QueueName="trailwatch-alerts")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    print(json.dumps({"topic": topic, "queue": queue}))


def drain(endpoint, queue):
    sqs = boto3.client("sqs", endpoint_url=endpoint, **KW)
    while True:
        got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = got.get("Messages", [])
        if not messages:
            return
        for m in messages:
            print(m["Body"].replace("\n", " "))
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])


if __name__ == "__main__":
    {"setup": setup, "drain": drain}[sys.argv[1]](*sys.argv[2:])
