"""The emulator's Athena: what the stack's Terraform needs (workgroup, named query, and
DeleteNamedQuery, which moto lacks and patch_moto adds)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError


def test_a_named_query_can_be_deleted_once(aws_client: Any) -> None:
    athena = aws_client("athena")
    athena.create_work_group(Name="wg-delete-test")
    q = athena.create_named_query(
        Name="q", Database="d", QueryString="SELECT 1", WorkGroup="wg-delete-test"
    )["NamedQueryId"]
    athena.delete_named_query(NamedQueryId=q)
    assert athena.list_named_queries(WorkGroup="wg-delete-test")["NamedQueryIds"] == []
    with pytest.raises(ClientError) as e:
        athena.delete_named_query(NamedQueryId=q)
    assert e.value.response["Error"]["Code"] == "InvalidRequestException"


def test_reading_a_named_query_that_is_gone_says_it_does_not_exist(aws_client: Any) -> None:
    """Terraform's refresh of a named query the emulator no longer holds (a restored state
    older than the query, one deleted out of band; a journal replay no longer gives it another
    id, see test_durable) must see it gone and create it again: the AWS provider takes an
    InvalidRequestException whose message contains "does not exist" as not found
    (internal/service/athena/named_query.go, findNamedQueryByID).
    Found: moto raised AttributeError (HTTP 500), the provider retried and `ddbstream up` hung
    in terraform apply."""
    athena = aws_client("athena")
    with pytest.raises(ClientError) as e:
        athena.get_named_query(NamedQueryId="00000000-0000-0000-0000-000000000000")
    assert e.value.response["Error"]["Code"] == "InvalidRequestException"
    assert "does not exist" in e.value.response["Error"]["Message"]


# Both wire protocols. botocore 1.44 describes Athena as rest-json (POST /query-executions...);
# up to 1.43, and in the hashicorp/aws provider 5.x and the AWS CLI v1, it is json (POST / with
# X-Amz-Target: AmazonAthena.<Operation>). Athena accepts both; so does the emulator.


def _json_protocol(endpoint: str, operation: str, body: dict[str, Any]) -> tuple[int, Any]:
    """One Athena call over the json protocol, signed as botocore <= 1.43 signs it."""
    import json
    import urllib.error
    import urllib.request

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    from ddbstream.local import clients

    request = AWSRequest(
        method="POST",
        url=f"{endpoint}/",
        data=json.dumps(body).encode(),
        headers={
            "X-Amz-Target": f"AmazonAthena.{operation}",
            "Content-Type": "application/x-amz-json-1.1",
        },
    )
    credentials = Credentials(clients.ACCESS_KEY, clients.SECRET_KEY)
    SigV4Auth(credentials, "athena", clients.REGION).add_auth(request)
    prepared = request.prepare()
    raw = urllib.request.Request(
        prepared.url, data=prepared.body, headers=dict(prepared.headers), method="POST"
    )
    try:
        with urllib.request.urlopen(raw, timeout=30) as answer:
            return answer.status, json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def _wait_for_query(get: Any, query_id: str) -> str:
    import time

    deadline = time.monotonic() + 30
    while True:
        state = get(query_id)
        if state in ("SUCCEEDED", "FAILED", "CANCELLED") or time.monotonic() > deadline:
            return str(state)
        time.sleep(0.2)


def test_athena_over_rest_json_the_protocol_of_botocore_1_44(aws_client: Any) -> None:
    """boto3 as installed (the lock's 1.44: rest-json) runs a query end to end: work group,
    StartQueryExecution, GetQueryExecution, GetQueryResults; Glue and DynamoDB beside it."""
    athena = aws_client("athena")
    assert athena.meta.service_model.protocol == "rest-json"
    athena.create_work_group(Name="wg-rest-json")
    aws_client("glue").create_database(DatabaseInput={"Name": "db_rest_json"})
    assert (
        aws_client("glue").get_database(Name="db_rest_json")["Database"]["Name"] == "db_rest_json"
    )
    dynamodb = aws_client("dynamodb")
    assert "TableNames" in dynamodb.list_tables()
    query_id = athena.start_query_execution(
        QueryString="SELECT 1",
        WorkGroup="wg-rest-json",
        QueryExecutionContext={"Database": "db_rest_json"},
        ResultConfiguration={"OutputLocation": "s3://athena-results-rest-json/"},
    )["QueryExecutionId"]

    def state(qid: str) -> str:
        execution = athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]
        return str(execution["Status"]["State"])

    assert _wait_for_query(state, query_id) == "SUCCEEDED"
    assert "ResultSet" in athena.get_query_results(QueryExecutionId=query_id)
    named = athena.list_named_queries(WorkGroup="wg-rest-json")
    assert named["NamedQueryIds"] == []


def test_athena_over_json_the_protocol_of_botocore_1_43_and_terraform(
    moto_endpoint: str, aws_client: Any
) -> None:
    """The same calls over the json protocol (raw signed requests, as the hashicorp/aws
    provider 5.x and botocore <= 1.43 send them); an error keeps Athena's error type."""
    status, _ = _json_protocol(moto_endpoint, "CreateWorkGroup", {"Name": "wg-json"})
    assert status == 200
    status, body = _json_protocol(moto_endpoint, "GetWorkGroup", {"WorkGroup": "wg-json"})
    assert (status, body["WorkGroup"]["Name"]) == (200, "wg-json")
    status, body = _json_protocol(
        moto_endpoint,
        "StartQueryExecution",
        {
            "QueryString": "SELECT 1",
            "WorkGroup": "wg-json",
            "ResultConfiguration": {"OutputLocation": "s3://athena-results-json/"},
        },
    )
    assert status == 200
    query_id = body["QueryExecutionId"]

    def state(qid: str) -> str:
        _, answer = _json_protocol(moto_endpoint, "GetQueryExecution", {"QueryExecutionId": qid})
        return str(answer["QueryExecution"]["Status"]["State"])

    assert _wait_for_query(state, query_id) == "SUCCEEDED"
    status, body = _json_protocol(moto_endpoint, "GetQueryResults", {"QueryExecutionId": query_id})
    assert status == 200 and "ResultSet" in body
    # a work group made over one protocol is seen over the other
    assert (
        aws_client("athena").get_work_group(WorkGroup="wg-json")["WorkGroup"]["Name"] == "wg-json"
    )
    status, body = _json_protocol(
        moto_endpoint, "GetNamedQuery", {"NamedQueryId": "00000000-0000-0000-0000-000000000000"}
    )
    assert status == 400 and body["__type"] == "InvalidRequestException"
