"""What Lambda refuses in CreateEventSourceMapping / UpdateEventSourceMapping for a DynamoDB
stream, with Lambda's error type and message.

moto stores such mappings; :func:`ddbstream.local.emulator.patch_moto` calls
:func:`check_mapping_request` before moto does, so a request the local stack accepts is one AWS
accepts too (Terraform fails at ``apply`` locally as it would on AWS). Plain Python: the rules
are unit-testable without the emulator.

Checked against the Lambda API reference (CreateEventSourceMapping: ``StartingPosition``
required for stream sources; ``MaximumRecordAgeInSeconds`` -1 to 604,800; the ranges of the
API model), "Lambda parameters for Amazon DynamoDB event source mappings" (``StartingPosition``
TRIM_HORIZON or LATEST: no AT_TIMESTAMP for DynamoDB) and "Lambda event filtering" (five
filters per event source by default; an invalid pattern is refused when the mapping is created
or updated). The messages are Lambda's as reported by its users; where none is on record
(more than five filters) the text is ours, the error type Lambda's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .filtering import MAX_FILTERS, FilterPatternError, parse_patterns

INVALID_PARAMETER = "InvalidParameterValueException"
VALIDATION = "ValidationException"

#: The API model's upper bounds that botocore does not check on the client (it checks ``min``).
_MODEL_MAX = {
    "BatchSize": ("batchSize", 10_000),
    "MaximumBatchingWindowInSeconds": ("maximumBatchingWindowInSeconds", 300),
    "MaximumRecordAgeInSeconds": ("maximumRecordAgeInSeconds", 604_800),
    "MaximumRetryAttempts": ("maximumRetryAttempts", 10_000),
    "ParallelizationFactor": ("parallelizationFactor", 10),
    "TumblingWindowInSeconds": ("tumblingWindowInSeconds", 900),
}
_MODEL_MIN = {
    "MaximumRecordAgeInSeconds": ("maximumRecordAgeInSeconds", -1),
    "MaximumRetryAttempts": ("maximumRetryAttempts", -1),
}
_POSITIONS = ("LATEST", "AT_TIMESTAMP", "TRIM_HORIZON")


class MappingRequestError(Exception):
    """A request Lambda refuses: ``error_type`` (the API error code) and Lambda's message."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


def is_dynamodb_stream(arn: str | None) -> bool:
    return (
        bool(arn)
        and str(arn).startswith("arn:")
        and ":dynamodb:" in str(arn)
        and ("/stream/" in str(arn))
    )


def check_mapping_request(
    request: Mapping[str, Any], *, source_arn: str | None, create: bool
) -> None:
    """Raise :class:`MappingRequestError` if Lambda refuses ``request`` for ``source_arn``.

    ``request`` holds the API's request members (``StartingPosition``, ``FilterCriteria``,
    ...); ``source_arn`` is the mapping's event source (the request's on create, the stored
    mapping's on update). Only DynamoDB stream sources are checked.
    """
    if not is_dynamodb_stream(source_arn):
        return
    for key, (member, limit) in _MODEL_MAX.items():
        value = request.get(key)
        if isinstance(value, int) and value > limit:
            raise _constraint(
                member, value, f"Member must have value less than or equal to {limit}"
            )
    for key, (member, limit) in _MODEL_MIN.items():
        value = request.get(key)
        if isinstance(value, int) and value < limit:
            raise _constraint(
                member, value, f"Member must have value greater than or equal to {limit}"
            )
    if create:
        position = request.get("StartingPosition")
        if not position:
            raise MappingRequestError(
                INVALID_PARAMETER,
                "1 validation error detected: Value null at 'startingPosition' failed to "
                "satisfy constraint: Member must not be null.",
            )
        if position not in _POSITIONS:
            raise _constraint(
                "startingPosition",
                position,
                "Member must satisfy enum value set: [LATEST, AT_TIMESTAMP, TRIM_HORIZON]",
            )
        if position == "AT_TIMESTAMP":  # Kinesis only
            raise MappingRequestError(
                INVALID_PARAMETER, f"Unsupported starting position for arn type: {source_arn}"
            )
    age = request.get("MaximumRecordAgeInSeconds")
    if isinstance(age, int) and age != -1 and age < 60:
        raise MappingRequestError(
            INVALID_PARAMETER,
            "MaximumRecordAgeInSeconds must be either -1 (forever) or between 60 and 604800 "
            "(inclusive)",
        )
    criteria = request.get("FilterCriteria")
    if criteria:
        filters = (criteria.get("Filters") or []) if isinstance(criteria, Mapping) else None
        if not isinstance(filters, list):
            raise MappingRequestError(INVALID_PARAMETER, "Invalid filter pattern definition.")
        if len(filters) > MAX_FILTERS:
            # the type is Lambda's; the text is ours (AWS documents only that it is an error)
            raise MappingRequestError(
                INVALID_PARAMETER,
                f"The number of filters ({len(filters)}) exceeds the limit of {MAX_FILTERS} "
                "filters per event source mapping.",
            )
        for f in filters:
            if not isinstance(f, Mapping) or not isinstance(f.get("Pattern"), str):
                raise MappingRequestError(INVALID_PARAMETER, "Invalid filter pattern definition.")
        try:
            parse_patterns({"Filters": filters})
        except (FilterPatternError, json.JSONDecodeError) as e:
            raise MappingRequestError(
                INVALID_PARAMETER, "Invalid filter pattern definition."
            ) from e


def _constraint(member: str, value: Any, constraint: str) -> MappingRequestError:
    return MappingRequestError(
        VALIDATION,
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
        f"constraint: {constraint}",
    )
