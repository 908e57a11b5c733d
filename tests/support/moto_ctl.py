"""The local SNS stand-in (a moto server on loopback) as a command, for the
Rust end-to-end tests (tests/src/lib.rs), which start the server themselves:

  moto_ctl.py setup ENDPOINT            create the alert topic and an SQS queue subscribed
                                        to it; print their ids as JSON
  moto_ctl.py drain ENDPOINT QUEUE_URL  print every message in the queue as one JSON line,
                                        deleting each
  moto_ctl.py table ENDPOINT NAME       create the state table as the template makes it

The helpers live in scripts/trailwatch_local.py, with the rest the scripts share.
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
from trailwatch_local import bodies, create, create_state_table, sqs_client  # noqa: E402


def setup(endpoint):
    _, topic, queue = create(endpoint)
    print(json.dumps({"topic": topic, "queue": queue}))


def drain(endpoint, queue):
    for body in bodies(sqs_client(endpoint), queue):
        print(json.dumps(body))


if __name__ == "__main__":
    commands = {"setup": setup, "drain": drain, "table": create_state_table}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    commands[sys.argv[1]](*sys.argv[2:])
