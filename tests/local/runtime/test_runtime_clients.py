"""The runtime's boto3 clients come from the one emulator client factory (issue 7) and keep
what the runtime relies on: the credentials it hands to function workers, two retries, a pool
for every thread, one set of clients shared safely by many threads."""

from __future__ import annotations

import threading
import uuid

from ddbstream.local import clients
from ddbstream.local.runtime import aws


def test_runtime_clients_sign_with_the_given_credentials_and_config(moto_endpoint: str) -> None:
    default = aws.Clients(moto_endpoint, clients.REGION)
    assert (default.access_key, default.secret_key) == (clients.ACCESS_KEY, clients.SECRET_KEY)
    own = aws.Clients(moto_endpoint, clients.REGION, credentials=("AKIDRUNTIME", "s3cret"))
    assert (own.access_key, own.secret_key) == ("AKIDRUNTIME", "s3cret")
    for c in (own.lambda_, own.streams, own.logs, own.cloudwatch, own.sqs, own.sns, own.s3):
        assert c.meta.endpoint_url == moto_endpoint and c.meta.region_name == clients.REGION
        assert c._request_signer._credentials.access_key == "AKIDRUNTIME"
        # max_attempts=2 (retries) is kept by botocore as 3 attempts in all
        assert c.meta.config.retries == {"total_max_attempts": 3, "mode": "standard"}
        assert c.meta.config.max_pool_connections == 50


def test_runtime_clients_are_shared_by_threads(moto_endpoint: str) -> None:
    c = aws.Clients(moto_endpoint, clients.REGION)
    name = f"rt-{uuid.uuid4().hex[:8]}"
    url = c.sqs.create_queue(QueueName=name)["QueueUrl"]
    errors: list[BaseException] = []

    def send(n: int) -> None:
        try:
            for i in range(10):
                c.sqs.send_message(QueueUrl=url, MessageBody=f"{n}-{i}")
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert not errors
        attrs = c.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert attrs["ApproximateNumberOfMessages"] == "80"
    finally:
        c.sqs.delete_queue(QueueUrl=url)
