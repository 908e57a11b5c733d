"""CloudTrail's delivery to S3, in a moto server on loopback, for the Rust
end-to-end tests of the S3 path (tests/tests/s3.rs), which start the server
themselves:

  s3_ctl.py bucket ENDPOINT BUCKET          create the trail's bucket
  s3_ctl.py upload ENDPOINT BUCKET DIR      put every file under DIR, keyed by its path relative to DIR
  s3_ctl.py delete ENDPOINT BUCKET KEY      delete one object
  s3_ctl.py deliver ENDPOINT BUCKET KEY...  publish CloudTrail's log-delivery notification for each key
                                            ({"s3Bucket": ..., "s3ObjectKey": [key]}) to an SNS topic
                                            whose SQS queue (raw delivery off) the S3 function reads;
                                            print what reached the queue as Lambda SQS events of up to
                                            10 messages, one JSON line each, deleting the messages
  s3_ctl.py queue ENDPOINT NAME             create an SQS queue; print its URL
  s3_ctl.py receive ENDPOINT QUEUE_URL      print the queue's messages as Lambda SQS events (as deliver)
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
from trailwatch_local import AWS_KW  # noqa: E402


def client(name, endpoint):
    import boto3

    return boto3.client(name, endpoint_url=endpoint, **AWS_KW)


def bucket(endpoint, name):
    client("s3", endpoint).create_bucket(Bucket=name)


def upload(endpoint, name, directory):
    s3 = client("s3", endpoint)
    for root, _, files in os.walk(directory):
        for f in sorted(files):
            path = os.path.join(root, f)
            key = os.path.relpath(path, directory).replace(os.sep, "/")
            with open(path, "rb") as fh:
                s3.put_object(Bucket=name, Key=key, Body=fh.read())


def delete(endpoint, name, key):
    client("s3", endpoint).delete_object(Bucket=name, Key=key)


def queue(endpoint, name):
    print(client("sqs", endpoint).create_queue(QueueName=name)["QueueUrl"])


def receive(endpoint, url):
    sqs = client("sqs", endpoint)
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    batch = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                  AttributeNames=["All"])
        messages = got.get("Messages", [])
        if not messages:
            break
        for m in messages:
            batch.append({
                "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                "attributes": m.get("Attributes", {}), "messageAttributes": {}, "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs", "eventSourceARN": arn, "awsRegion": AWS_KW["region_name"],
            })
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            if len(batch) == 10:
                print(json.dumps({"Records": batch}))
                batch = []
    if batch:
        print(json.dumps({"Records": batch}))


def deliver(endpoint, name, *keys):
    sns, sqs = client("sns", endpoint), client("sqs", endpoint)
    topic = sns.create_topic(Name="trail-delivery")["TopicArn"]
    url = sqs.create_queue(QueueName="trailwatch-s3")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    if not any(s["Endpoint"] == arn for s in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]):
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    for key in keys:
        sns.publish(TopicArn=topic, Message=json.dumps({"s3Bucket": name, "s3ObjectKey": [key]}))
    receive(endpoint, url)


if __name__ == "__main__":
    commands = {"bucket": bucket, "upload": upload, "delete": delete, "deliver": deliver, "queue": queue,
                "receive": receive}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    commands[sys.argv[1]](*sys.argv[2:])
