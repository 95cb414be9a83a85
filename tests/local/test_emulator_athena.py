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
