"""``ddbstream audit``: SQL over the audit log, an item's history, the table as of a moment,
the newest changes."""

from __future__ import annotations

import argparse
from typing import Any

from ddbstream import cli
from ddbstream.ops import target

_CACHE_HELP = (
    "local copy of the audit objects (default: audit-cache/BUCKET in the local stack's state "
    "directory; for --terraform-dir, $XDG_CACHE_HOME/ddbstream/audit/BUCKET)"
)


def _common(p: argparse.ArgumentParser) -> None:
    target.add_target_arguments(p)
    p.add_argument("--cache-dir", metavar="DIR", default=None, help=_CACHE_HELP)
    p.add_argument("-q", "--quiet", action="store_true", help="no download progress on stderr")


def register(sub: Any) -> None:
    g: argparse.ArgumentParser = sub.add_parser(
        "audit",
        help="ask the audit log questions: SQL, an item's history, the table as of a moment",
        description="The audit log (the gzip NDJSON objects the processor writes to S3) as a "
        "table. Each verb first brings a local copy of the objects in step with the bucket "
        "(a listing, then only the objects it lacks or that a retry rewrote), then reads "
        "it with DuckDB or exactly in Python.",
    )
    gs = g.add_subparsers(dest="audit_verb", required=True, metavar="VERB")

    p = gs.add_parser(
        "query",
        help="run SQL over the views changes and changes_raw",
        description="Run one SQL statement (DuckDB) over two views: changes_raw, every line of "
        "every object (retries and replays included, with object_key and last_modified); "
        "changes, each change once (deduplicated by event_id, the first written kept). "
        "Columns: event_id, event_name, table_name, keys, new_image, old_image (JSON), "
        "added/removed/changed_attributes, sequence_number, event_time (TIMESTAMP, UTC), "
        "approximate_creation_time, size_bytes, stream_view_type, ttl_expiry, aws_region, "
        "attribute_types, and the partition columns source_table, year, month, day, hour: "
        "conditions on those read only the matching objects. json_extract_scalar(json, path) "
        "works as on Athena.",
        epilog="example: ddbstream audit query --since 1h "
        '"SELECT event_name, count(*) FROM changes GROUP BY 1"',
    )
    p.add_argument("sql", help="the SQL statement")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument(
        "--csv", dest="format", action="store_const", const="csv", help="CSV with a header"
    )
    fmt.add_argument(
        "--json",
        dest="format",
        action="store_const",
        const="json",
        help="one JSON object per row (JSON columns as JSON)",
    )
    p.add_argument(
        "--table",
        action="append",
        metavar="TABLE",
        help="only changes of this DynamoDB table (repeatable); reads only its objects",
    )
    p.add_argument(
        "--since",
        metavar="TIME",
        help="only changes at or after TIME: ISO 8601 (UTC unless an offset is given), epoch "
        "seconds, or an age such as 15m, 2h, 3d; reads only the hours in range",
    )
    p.add_argument("--until", metavar="TIME", help="only changes at or before TIME (as --since)")
    _common(p)
    p.set_defaults(run="ddbstream.ops.audit.commands:cmd_query", format=None)

    p = gs.add_parser(
        "history",
        help="an item's changes in stream order, with what each changed",
        usage="%(prog)s [TABLE] NAME=VALUE [NAME=VALUE ...] [options]",
        description="Every change of the item with the given key, in stream order, each with "
        "the attributes it added (+), removed (-) and changed (~ old -> new). TABLE (default: "
        "the deployment's table) and the key: every key attribute for one item, or only some "
        "(for instance the partition key) for all the items that match.",
        epilog="example: ddbstream audit history UserId=test-user-001 ActivityId=login-001",
    )
    p.add_argument(
        "key",
        nargs="+",
        metavar="[TABLE] NAME=VALUE",
        help="the DynamoDB table (optional, first), then key attributes and values",
    )
    p.add_argument(
        "--json",
        dest="format",
        action="store_const",
        const="json",
        help="one JSON object per change (added, removed, changed with old and new)",
    )
    _common(p)
    p.set_defaults(run="ddbstream.ops.audit.commands:cmd_history", format=None)

    p = gs.add_parser(
        "as-of",
        help="the table's contents at a moment, rebuilt from the audit log",
        description="The items of the table at TIMESTAMP: for each key, its latest change at or "
        "before that moment (removed items left out). Values are exact: numbers to the digit, "
        "binary, sets. Needs a stream view type with new images (NEW_IMAGE or "
        "NEW_AND_OLD_IMAGES). The count goes to stderr.",
        epilog="example: ddbstream audit as-of 2026-11-27T14:00:00Z --dynamodb-json",
    )
    p.add_argument(
        "timestamp",
        metavar="TIMESTAMP",
        help="ISO 8601 (UTC unless an offset is given), epoch seconds, 'now', or an age (2h)",
    )
    p.add_argument("--table", metavar="TABLE", help="DynamoDB table (default: the deployment's)")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument(
        "--json",
        dest="format",
        action="store_const",
        const="json",
        help="one item per line as plain JSON (the default; binary as base64, sets as lists)",
    )
    fmt.add_argument(
        "--dynamodb-json",
        dest="format",
        action="store_const",
        const="dynamodb-json",
        help='one item per line in DynamoDB JSON ({"S": ...}, {"N": ...}), as a Scan returns',
    )
    fmt.add_argument(
        "--aligned",
        dest="format",
        action="store_const",
        const="table",
        help="an aligned table, a column per attribute",
    )
    _common(p)
    p.set_defaults(run="ddbstream.ops.audit.commands:cmd_as_of", format=None)

    p = gs.add_parser(
        "tail",
        help="the newest changes; -f: keep printing them as they land",
        description="Print the newest changes (one line each: time, event, table, key, sequence "
        "number, changed attributes), then with -f poll the bucket and print each new change "
        "once as its object lands, until Ctrl-C.",
    )
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new changes")
    p.add_argument(
        "-n",
        "--lines",
        type=cli.non_negative_int,
        default=10,
        metavar="N",
        help="how many to show first (10)",
    )
    p.add_argument("--table", action="append", metavar="TABLE", help="only this table (repeatable)")
    p.add_argument(
        "--interval",
        type=cli.positive_float,
        default=1.0,
        metavar="SECONDS",
        help="with -f, seconds between polls (default 1)",
    )
    p.add_argument(
        "--stop-after",
        type=cli.positive_int,
        default=None,
        metavar="N",
        help="with -f, stop after N new changes (default: run until Ctrl-C)",
    )
    p.add_argument(
        "--json",
        dest="format",
        action="store_const",
        const="json",
        help="print each change's audit line",
    )
    _common(p)
    p.set_defaults(run="ddbstream.ops.audit.commands:cmd_tail", format=None)
