"""What the demo does to the stack (boto3 writes), each with the AWS CLI command it stands for.

The commands are the seed README's, with ``terraform output -raw X`` as ``ddbstream output -raw
X``; the demo prints them (:meth:`~.report.Printer.cmd`) and makes the same call with boto3.
"""

from __future__ import annotations

import time
from typing import Any

#: The seed's commands, as the demo shows them.
CMD_TABLE = "TABLE_NAME=$(ddbstream output -raw dynamodb_table_name)"
CMD_LIST_AUDIT = "aws s3 ls s3://$(ddbstream output -raw s3_bucket_name)/audit-logs/ --recursive"
CMD_FILTER_LOGS = (
    "aws logs filter-log-events --log-group-name "
    "$(ddbstream output -raw lambda_log_group_name) --filter-pattern 'Processing'"
)
# The seed writes --environment Variables='{...}', which the AWS CLI's shorthand parser
# rejects; this is the same argument in the CLI's JSON form.
CMD_BREAK = (
    "aws lambda update-function-configuration --function-name $FUNCTION_NAME "
    '--environment \'{"Variables":{"SNS_TOPIC_ARN":"invalid-arn",'
    '"S3_BUCKET_NAME":"..."}}\''
)
CMD_PUT_ERROR = "aws dynamodb put-item ... (error-test / ERROR_TEST)"
CMD_RECEIVE_DLQ = "aws sqs receive-message --queue-url $(ddbstream output -raw dlq_url)"
CMD_RESTORE = "aws lambda update-function-configuration ... (restore)"


def cmd_put_test_item(activity: str) -> str:
    return (
        "aws dynamodb put-item --table-name $TABLE_NAME --item "
        f'\'{{"UserId": {{"S": "test-user-001"}}, "ActivityId": {{"S": "{activity}"}}'
        ', "ActivityType": {"S": "LOGIN"}, ...}\''
    )


def put_test_item(ddb: Any, table: str, activity: str) -> None:
    """The seed's test item: a LOGIN of test-user-001."""
    ddb.put_item(
        TableName=table,
        Item={
            "UserId": {"S": "test-user-001"},
            "ActivityId": {"S": activity},
            "ActivityType": {"S": "LOGIN"},
            "Timestamp": {"N": str(int(time.time()))},
            "IPAddress": {"S": "192.168.1.100"},
            "UserAgent": {"S": "Mozilla/5.0"},
        },
    )


def put_error_item(ddb: Any, table: str, activity: str, at: float) -> None:
    """The seed's error-test item (ERROR_TEST of error-test)."""
    ddb.put_item(
        TableName=table,
        Item={
            "UserId": {"S": "error-test"},
            "ActivityId": {"S": activity},
            "ActivityType": {"S": "ERROR_TEST"},
            "Timestamp": {"N": str(int(at))},
        },
    )


def function_environment(lam: Any, function: str) -> dict[str, str]:
    cfg = lam.get_function_configuration(FunctionName=function)
    return dict(cfg.get("Environment", {}).get("Variables", {}))


def break_function(lam: Any, function: str, bucket: str) -> None:
    """The seed's error test: the function's environment becomes SNS_TOPIC_ARN=invalid-arn and
    S3_BUCKET_NAME only, so every invocation fails its configuration check."""
    lam.update_function_configuration(
        FunctionName=function,
        Environment={"Variables": {"SNS_TOPIC_ARN": "invalid-arn", "S3_BUCKET_NAME": bucket}},
    )


def restore_function(lam: Any, function: str, variables: dict[str, str]) -> bool:
    """Put the environment back; True when the function now has exactly ``variables``."""
    lam.update_function_configuration(FunctionName=function, Environment={"Variables": variables})
    return function_environment(lam, function) == variables


def write_burst(ddb: Any, table: str, n: int, marker: str) -> dict[str, int]:
    """``n`` generated changes: inserts (ActivityId ``{marker}-NNNNN``), updates of earlier
    inserts (every 10th change, offset 7) and deletes (offset 9). Returns the counts by event
    name, as the stream will name them."""
    counts = {"INSERT": 0, "MODIFY": 0, "REMOVE": 0}
    live: list[tuple[str, str]] = []
    for i in range(n):
        user = f"user-{i % 20:03d}"
        if i % 10 == 7 and live:
            u, a = live[(i * 7) % len(live)]
            ddb.update_item(
                TableName=table,
                Key={"UserId": {"S": u}, "ActivityId": {"S": a}},
                UpdateExpression="SET ActivityType = :t, Seen = :n",
                ExpressionAttributeValues={":t": {"S": "UPDATED"}, ":n": {"N": str(i)}},
            )
            counts["MODIFY"] += 1
        elif i % 10 == 9 and live:
            u, a = live.pop(0)
            ddb.delete_item(TableName=table, Key={"UserId": {"S": u}, "ActivityId": {"S": a}})
            counts["REMOVE"] += 1
        else:
            a = f"{marker}-{i:05d}"
            ddb.put_item(
                TableName=table,
                Item={
                    "UserId": {"S": user},
                    "ActivityId": {"S": a},
                    "ActivityType": {"S": ("LOGIN", "VIEW", "PURCHASE")[i % 3]},
                    "Timestamp": {"N": str(int(time.time()))},
                    "Amount": {"N": f"{i}.{i % 100:02d}"},
                },
            )
            live.append((user, a))
            counts["INSERT"] += 1
    return counts
