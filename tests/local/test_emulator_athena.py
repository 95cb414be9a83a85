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
