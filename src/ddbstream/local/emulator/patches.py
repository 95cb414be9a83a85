"""The changes made to moto's behaviour, and :func:`patch_moto`, the one place that applies them.

Each patch is a function run at most once (:func:`.once.once`); what each changes and why is
listed in the package's docstring (:mod:`ddbstream.local.emulator`). The SNS patches live in
:mod:`.sns`, the reproducible requests in :mod:`.replay`, local CloudWatch in
:mod:`ddbstream.local.monitoring.cloudwatch`; the others here, by service.
"""

from __future__ import annotations

import contextlib
import json
import threading
from typing import Any

from .compat import check_moto_version, moved, original
from .once import once
from .replay import _reproducible_requests
from .sns import (
    _deliver_sns_after_publish,
    _forget_sent_notifications,
    _sns_signing_certificate_once,
)


def patch_moto() -> None:
    """Apply this project's changes to moto's behaviour (idempotent; what and why: the package's
    docstring). Every patch of moto is applied from here (:func:`.replay.reproducible` and
    :func:`.replay.receipts` make sure of theirs too, with the same once-only call).

    Raises :class:`.compat.UnsupportedMotoError` (exit 2) on a moto the patches are not
    written for, before any patch is applied."""
    check_moto_version()
    _disable_moto_lambda_side_effects()
    _deliver_sns_after_publish()
    _forget_sent_notifications()
    _sns_signing_certificate_once()
    _cheaper_request_paths()
    _validate_event_source_mappings()
    _fix_policy_conditions()
    _stream_errors_as_on_aws()
    _keep_lambda_logging_config()
    _deterministic_stream_event_ids()
    _reproducible_requests()
    _mappings_listed_by_function_name()
    _s3_bucket_metrics_configurations()
    _count_put_requests()
    _athena_delete_named_query()
    _athena_over_both_protocols()
    _appautoscaling_tags()
    from ddbstream.local.monitoring import cloudwatch

    cloudwatch.install()


# Lambda


@once
def _disable_moto_lambda_side_effects() -> None:
    """Stop moto from invoking functions for stream writes (see the package's docstring)."""
    from moto.awslambda import models as lambda_models
    from moto.core.config import default_user_config

    default_user_config["lambda"]["use_docker"] = False
    default_user_config["batch"]["use_docker"] = False

    original(lambda_models.LambdaBackend, "send_dynamodb_items", "function_arn", "items", "source")

    def _no_stream_invoke(self: object, function_arn: str, items: list, source: str) -> None:
        return None

    lambda_models.LambdaBackend.send_dynamodb_items = _no_stream_invoke  # type: ignore[method-assign]


@once
def _validate_event_source_mappings() -> None:
    """Refuse the event source mappings Lambda refuses, before moto stores them."""
    from moto.awslambda import models as lambda_models
    from moto.awslambda.exceptions import LambdaClientError

    from ddbstream.local.runtime.validation import MappingRequestError, check_mapping_request

    backend = lambda_models.LambdaBackend
    create = original(backend, "create_event_source_mapping", "spec")
    update = original(backend, "update_event_source_mapping", "uuid", "spec")
    original(backend, "get_event_source_mapping", "uuid")

    def checked(request: dict[str, Any], source_arn: str | None, is_create: bool) -> None:
        try:
            check_mapping_request(request, source_arn=source_arn, create=is_create)
        except MappingRequestError as e:
            raise LambdaClientError(e.error_type, e.message) from e

    def create_event_source_mapping(self: Any, spec: dict[str, Any]) -> Any:
        checked(spec, spec.get("EventSourceArn"), True)
        esm = create(self, spec)
        _keep_alias(esm, spec.get("FunctionName"))
        return esm

    def update_event_source_mapping(self: Any, uuid: str, spec: dict[str, Any]) -> Any:
        esm = self.get_event_source_mapping(uuid)
        if esm is not None:
            checked(spec, getattr(esm, "event_source_arn", None), False)
        out = update(self, uuid, spec)
        if out is not None and spec.get("FunctionName"):
            _keep_alias(out, spec["FunctionName"])
        return out

    backend.create_event_source_mapping = create_event_source_mapping  # type: ignore[method-assign]
    backend.update_event_source_mapping = update_event_source_mapping  # type: ignore[method-assign]

    # LastProcessingResult: moto answers null; Lambda "No records processed" until the
    # first invocation, then the runtime's result of the last one (runtime/aws.py)
    esm_class = lambda_models.EventSourceMapping
    configuration = original(esm_class, "get_configuration")

    def get_configuration(self: Any) -> dict[str, Any]:
        out = dict(configuration(self))
        out["LastProcessingResult"] = getattr(self, "last_processing_result", NO_RECORDS_PROCESSED)
        return out

    esm_class.get_configuration = get_configuration  # type: ignore[method-assign]


def _keep_alias(esm: Any, function_name: object) -> None:
    """A mapping on an alias keeps the alias's ARN as its FunctionArn, as in Lambda (and so
    follows the alias when it is pointed at another version); moto stores the version's."""
    if not isinstance(function_name, str):
        return
    parts = function_name.split(":")
    # name:q, account:function:name:q, arn:aws:lambda:region:account:function:name:q
    qualifier = {2: 1, 4: 3, 8: 7}.get(len(parts))
    if qualifier is None:
        return
    alias = parts[qualifier]
    if not alias or alias.isdigit() or alias == "$LATEST":
        return
    resolved = str(getattr(esm, "function_arn", ""))
    base = ":".join(resolved.split(":")[:7])  # arn:aws:lambda:region:account:function:name
    if base.count(":") == 6:
        esm.function_arn = f"{base}:{alias}"


#: LastProcessingResult of a mapping that has not invoked its function yet (Lambda's text).
NO_RECORDS_PROCESSED = "No records processed"


def _function_key(ref: str) -> tuple[str, str | None]:
    """(name, qualifier) of a function name, ARN or partial ARN (``[ACCOUNT:]function:NAME``)."""
    parts = ref.split(":")
    if "function" in parts:
        i = parts.index("function")
        return parts[i + 1], (parts[i + 2] if len(parts) > i + 2 else None)
    return parts[0], (parts[1] if len(parts) > 1 else None)


@once
def _mappings_listed_by_function_name() -> None:
    """``ListEventSourceMappings(FunctionName=...)`` takes a name, an ARN or a partial ARN, as
    Lambda does. moto compares the text given when the mapping was created (Terraform gives the
    ARN), so the seed README's ``aws lambda list-event-source-mappings --function-name NAME``
    listed nothing."""
    from moto.awslambda import models as lambda_models

    listed = original(
        lambda_models.LambdaBackend,
        "list_event_source_mappings",
        "event_source_arn",
        "function_name",
    )

    def list_event_source_mappings(self: Any, event_source_arn: str, function_name: str) -> Any:
        found = listed(self, event_source_arn, None)
        if not function_name:
            return found
        wanted = _function_key(function_name)
        return [m for m in found if _function_key(str(m.function_name)) == wanted]

    lambda_models.LambdaBackend.list_event_source_mappings = list_event_source_mappings  # type: ignore[method-assign]


@once
def _keep_lambda_logging_config() -> None:
    """CreateFunction / UpdateFunctionConfiguration keep ``LoggingConfig`` and GetFunction*
    returns it, with Lambda's defaults (``Text``, ``/aws/lambda/NAME``) when none was given."""
    from moto.awslambda.models import LambdaFunction

    init = original(LambdaFunction, "__init__", "account_id", "spec")
    get = original(LambdaFunction, "get_configuration")
    update = original(LambdaFunction, "update_configuration", "config_updates")

    def __init__(self: Any, account_id: str, spec: dict[str, Any], *a: Any, **kw: Any) -> None:
        init(self, account_id, spec, *a, **kw)
        self.ddbstream_logging_config = dict(spec.get("LoggingConfig") or {})

    def get_configuration(self: Any, *a: Any, **kw: Any) -> dict[str, Any]:
        config: dict[str, Any] = get(self, *a, **kw)
        given = getattr(self, "ddbstream_logging_config", None) or {}  # older pickles: none
        config["LoggingConfig"] = {
            "LogFormat": "Text",
            "LogGroup": f"/aws/lambda/{self.function_name}",
            **given,
        }
        return config

    def update_configuration(self: Any, updates: dict[str, Any]) -> dict[str, Any]:
        if isinstance(updates.get("LoggingConfig"), dict):
            current = getattr(self, "ddbstream_logging_config", None) or {}
            self.ddbstream_logging_config = {**current, **updates["LoggingConfig"]}
        result: dict[str, Any] = update(self, updates)
        return result

    LambdaFunction.__init__ = __init__  # type: ignore[method-assign]
    LambdaFunction.get_configuration = get_configuration  # type: ignore[method-assign]
    LambdaFunction.update_configuration = update_configuration  # type: ignore[method-assign]


# DynamoDB Streams


@once
def _deterministic_stream_event_ids() -> None:
    """A stream record's ``eventID`` derived from its table, stream and sequence number.

    moto draws a random id for each record; a crash recovery replays the writes
    (:mod:`ddbstream.local.journal`) and must give each record the id it had, or a change
    re-processed after the crash would look like a new one in the deduplicated audit view. AWS
    documents the id only as a unique identifier of the event (32 hex digits here too)."""
    import hashlib

    from moto.dynamodb.models import table as table_models

    init = original(table_models.StreamRecord, "__init__", "table", "stream_type", "event_name")

    def __init__(self: Any, table: Any, stream_type: str, event_name: str, *a: Any, **k: Any):
        init(self, table, stream_type, event_name, *a, **k)
        seq = self.record["dynamodb"]["SequenceNumber"]
        ident = f"{table.table_arn}/{table.latest_stream_label}/{seq}"
        self.record["eventID"] = hashlib.md5(ident.encode(), usedforsecurity=False).hexdigest()

    table_models.StreamRecord.__init__ = __init__  # type: ignore[method-assign]


@once
def _stream_errors_as_on_aws() -> None:
    """``GetShardIterator``: AWS's errors for an unknown shard and for trimmed records.

    AWS documents ``TrimmedDataAccessException`` for "a shard iterator with a sequence number
    older than the trim point (24 hours)". moto never trims, so a sequence number before the
    shard's first record is the only such case here (``ddbstream dlq replay`` of a batch whose
    records are gone); moto asserts instead and answers HTTP 500."""
    from moto.core.exceptions import JsonRESTError
    from moto.dynamodbstreams import models as streams_models

    backend = streams_models.DynamoDBStreamsBackend
    shard_iterator = original(
        backend, "get_shard_iterator", "arn", "shard_id", "shard_iterator_type", "sequence_number"
    )
    original(backend, "_get_table_from_arn", "arn")

    def get_shard_iterator(
        self: Any,
        arn: str,
        shard_id: str,
        shard_iterator_type: str,
        sequence_number: Any = None,
    ) -> Any:
        try:
            table = self._get_table_from_arn(arn)
        except Exception:
            table = None
        shard = getattr(table, "stream_shard", None)
        if shard is None or shard.id != shard_id:
            raise JsonRESTError(
                "ResourceNotFoundException", f"Requested resource not found: Shard: {shard_id}"
            )
        if (
            shard_iterator_type in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER")
            and sequence_number is not None
            and int(sequence_number) < shard.starting_sequence_number
        ):
            raise JsonRESTError(
                "TrimmedDataAccessException",
                "The data you are trying to access has been trimmed.",
            )
        return shard_iterator(self, arn, shard_id, shard_iterator_type, sequence_number)

    streams_models.DynamoDBStreamsBackend.get_shard_iterator = get_shard_iterator  # type: ignore[method-assign]


# IAM policies


@once
def _fix_policy_conditions() -> None:
    """Evaluate ``aws:SecureTransport`` in policies as true: the emulator stands in for AWS's
    TLS endpoints.

    moto 5 skips condition operators it does not implement (``Bool`` among them) as if they
    held, so the stack's TLS-only bucket policy (Deny ``s3:*`` when ``aws:SecureTransport`` is
    false) denies every object request to the emulator, while on AWS it only bites plain-HTTP
    requests. Here a statement conditioned on ``aws:SecureTransport`` being false does not
    apply; every other condition is left to moto.
    """
    from moto.iam import access_control as ac

    permitted = original(
        ac.IAMPolicyStatement,
        "is_action_permitted",
        "action",
        "resource",
        "principal",
        "incoming_condition_values",
    )

    def is_action_permitted(
        self: Any,
        action: str,
        resource: str = "*",
        principal: str | None = None,
        incoming_condition_values: dict[str, str] | None = None,
    ) -> Any:
        if _requires_insecure_transport(self._statement.get("Condition")):
            return ac.PermissionResult.NEUTRAL
        return permitted(self, action, resource, principal, incoming_condition_values)

    ac.IAMPolicyStatement.is_action_permitted = is_action_permitted  # type: ignore[method-assign]


def _requires_insecure_transport(condition: Any) -> bool:
    """True for a policy Condition that holds only for plain-HTTP requests."""
    if not isinstance(condition, dict):
        return False
    for op in ("Bool", "BoolIfExists"):
        block = condition.get(op)
        if not isinstance(block, dict):
            continue
        for key, expected in block.items():
            if key.lower() != "aws:securetransport":
                continue
            values = expected if isinstance(expected, list) else [expected]
            if all(str(v).lower() == "false" for v in values):
                return True
    return False


# S3


@once
def _s3_bucket_metrics_configurations() -> None:
    """``?metrics&id=ID`` on a bucket: PUT keeps the configuration document, GET returns it
    (404 ``NoSuchConfiguration`` when there is none), DELETE removes it (204), as S3 does; the
    Terraform resource ``aws_s3_bucket_metric`` (the failed-batches bucket's alarm) needs them.
    Kept on moto's bucket object, so a ``down`` snapshot keeps them too."""
    from moto.s3.responses import S3Response

    def configs(self: Any, bucket_name: str) -> dict[str, bytes]:
        bucket = self.backend.get_bucket(bucket_name)  # NoSuchBucket as usual
        found: dict[str, bytes] | None = getattr(bucket, "ddbstream_metrics", None)
        if found is None:
            found = {}
            bucket.ddbstream_metrics = found
        return found

    def config_id(querystring: dict[str, Any]) -> str:
        return str((querystring.get("id") or [""])[0])

    def not_found(ident: str) -> Any:
        body = (
            '<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchConfiguration</Code>'
            f"<Message>The specified configuration does not exist.</Message><Id>{ident}</Id>"
            "</Error>"
        )
        return 404, {"Content-Type": "application/xml"}, body

    original_put = original(S3Response, "_bucket_response_put", "request", "bucket_name")
    original_get = original(S3Response, "_bucket_response_get", "bucket_name", "querystring")
    original_delete = original(S3Response, "_bucket_response_delete", "bucket_name", "querystring")

    def put(self: Any, request: Any, bucket_name: str, querystring: dict[str, Any]) -> Any:
        if "metrics" not in querystring:
            return original_put(self, request, bucket_name, querystring)
        body = self.body if isinstance(self.body, bytes) else str(self.body).encode()
        configs(self, bucket_name)[config_id(querystring)] = body
        return 204, {}, ""

    def get(self: Any, bucket_name: str, querystring: dict[str, Any]) -> Any:
        if "metrics" not in querystring:
            return original_get(self, bucket_name, querystring)
        ident = config_id(querystring)
        body = configs(self, bucket_name).get(ident)
        if body is None:
            return not_found(ident)
        return 200, {"Content-Type": "application/xml"}, body

    def delete(self: Any, bucket_name: str, querystring: dict[str, Any]) -> Any:
        if "metrics" not in querystring:
            return original_delete(self, bucket_name, querystring)
        configs(self, bucket_name).pop(config_id(querystring), None)
        return 204, {}, ""

    S3Response._bucket_response_put = put  # type: ignore[method-assign]
    S3Response._bucket_response_get = get  # type: ignore[method-assign]
    S3Response._bucket_response_delete = delete  # type: ignore[method-assign]


@once
def _count_put_requests() -> None:
    """S3 request metrics: each object put into a bucket with a metrics configuration whose
    prefix (none: every object) matches its key adds 1 to ``AWS/S3`` ``PutRequests``, dimensions
    ``BucketName`` and ``FilterId`` (the configuration's id), as S3 publishes them (one-minute
    data; only the prefix filter is interpreted)."""
    import re
    from datetime import UTC, datetime

    from moto.s3.models import S3Backend

    put = original(S3Backend, "put_object", "bucket_name", "key_name")

    def put_object(self: Any, bucket_name: str, key_name: str, *args: Any, **kwargs: Any) -> Any:
        result = put(self, bucket_name, key_name, *args, **kwargs)
        with contextlib.suppress(Exception):  # the metric never fails the PUT
            bucket = self.get_bucket(bucket_name)
            found: dict[str, bytes] = getattr(bucket, "ddbstream_metrics", None) or {}
            if found:
                from moto.cloudwatch.models import MetricDatum, cloudwatch_backends

                now = datetime.now(UTC).replace(tzinfo=None)
                backend = cloudwatch_backends[self.account_id][bucket.region_name]
                for ident, body in found.items():
                    m = re.search(rb"<Prefix>([^<]*)</Prefix>", body)
                    prefix = m.group(1).decode() if m else ""
                    if key_name.startswith(prefix):
                        dims = [
                            {"Name": "BucketName", "Value": bucket_name},
                            {"Name": "FilterId", "Value": ident},
                        ]
                        backend.metric_data.append(
                            MetricDatum("AWS/S3", "PutRequests", 1.0, dims, now, "Count")
                        )
        return result

    S3Backend.put_object = put_object  # type: ignore[method-assign]


# Athena


@once
def _athena_delete_named_query() -> None:
    """Athena's DeleteNamedQuery (moto has none): the query is gone. An unknown id is answered
    with InvalidRequestException, the error type Athena's API reference lists for the call
    (what AWS says for a missing id is not documented: assumed).

    GetNamedQuery of an unknown id: InvalidRequestException "... does not exist" (moto raised
    AttributeError, HTTP 500). The AWS provider reads that type and wording as "gone" and
    creates the query again; AWS's exact message is not documented (assumed from the
    provider)."""
    from moto.athena import models as athena_models
    from moto.athena import responses as athena_responses
    from moto.core.exceptions import JsonRESTError

    def delete_named_query(self: Any, query_id: str) -> None:
        if self.named_queries.pop(query_id, None) is None:
            raise JsonRESTError("InvalidRequestException", f"NamedQuery {query_id} was not found")

    def respond(self: Any) -> str:
        self.athena_backend.delete_named_query(self._get_param("NamedQueryId"))
        return "{}"

    original_get = original(athena_responses.AthenaResponse, "get_named_query")

    def get_named_query(self: Any) -> str:
        query_id = self._get_param("NamedQueryId")
        if self.athena_backend.get_named_query(query_id) is None:
            raise JsonRESTError("InvalidRequestException", f"NamedQuery {query_id} does not exist")
        return original_get(self)  # type: ignore[no-any-return]

    athena_models.AthenaBackend.delete_named_query = delete_named_query  # type: ignore[attr-defined]
    athena_responses.AthenaResponse.delete_named_query = respond  # type: ignore[attr-defined]
    athena_responses.AthenaResponse.get_named_query = get_named_query  # type: ignore[method-assign]


#: Athena's JSON-protocol metadata, as botocore described Athena up to 1.43 (``json``): the
#: target prefix of its ``X-Amz-Target`` header and the JSON version of its content type.
ATHENA_JSON_METADATA = {"targetPrefix": "AmazonAthena", "jsonVersion": "1.1"}


def athena_model_both_protocols(model: dict[str, Any]) -> dict[str, Any]:
    """Athena's service model (botocore's ``service-2``) with both wire protocols declared.

    botocore 1.44 describes Athena as ``rest-json`` only (paths such as ``POST /workgroups``);
    up to 1.43, and in the hashicorp/aws provider 5.x and the AWS CLI v1, it is ``json``
    (``POST /`` with ``X-Amz-Target: AmazonAthena.CreateWorkGroup``). Athena accepts both;
    moto routes a request only by the protocols the installed botocore lists, so a client of
    the other generation got a 404. ``rest-json`` is added only when the model carries its
    paths (a json-only model from botocore <= 1.43 has none). A copy: botocore's clients in the
    same process keep reading the model as it is."""
    meta = dict(model["metadata"])
    protocols = list(meta.get("protocols") or [meta["protocol"]])
    if "json" not in protocols:
        protocols.append("json")
        for key, value in ATHENA_JSON_METADATA.items():
            meta.setdefault(key, value)
    has_paths = any(
        op.get("http", {}).get("requestUri", "/") != "/" for op in model["operations"].values()
    )
    if has_paths and "rest-json" not in protocols:
        protocols.append("rest-json")
    meta["protocols"] = protocols
    return {**model, "metadata": meta}


@once
def _athena_over_both_protocols() -> None:
    """Athena over ``json`` and ``rest-json`` alike (:func:`athena_model_both_protocols`): the
    model moto routes by declares both, and moto's Athena answers every path, not only ``/``
    (its handlers read each parameter from the body, the query string or the path alike)."""
    from moto.athena import urls as athena_urls
    from moto.core import utils as core_utils

    load = original(core_utils, "_load_service_model", "service_name", "model_name")
    original(core_utils, "get_service_model", "service_name")

    def _load_service_model(service_name: str, model_name: str) -> dict[str, Any]:
        model: dict[str, Any] = load(service_name, model_name)
        if service_name == "athena" and model_name == "service-2":
            return athena_model_both_protocols(model)
        return model

    core_utils._load_service_model = _load_service_model
    core_utils.get_service_model.cache_clear()  # a model loaded before this patch
    paths = original(athena_urls, "url_paths")
    dispatch = paths.get("{0}/$")
    if dispatch is None:
        raise moved("moto.athena.urls.url_paths has no '{0}/$' route")
    paths.setdefault("{0}/.*$", dispatch)  # flask: /<path:route>


# Application Auto Scaling


#: Tags of Application Auto Scaling resources by ARN (not in the saved emulator state).
_appautoscaling_tags_by_arn: dict[str, dict[str, str]] = {}


@once
def _appautoscaling_tags() -> None:
    """Application Auto Scaling's TagResource, UntagResource and ListTagsForResource, which
    moto (5.2) lacks: it answers them with a 500 that the AWS provider retries for minutes on
    every tagged aws_appautoscaling_target (the stack's auto scaling option). Tags are kept per
    ARN, those RegisterScalableTarget carries included, as the API reference describes the
    three calls (a map of keys to values)."""
    from moto.applicationautoscaling import responses as aas

    tags = _appautoscaling_tags_by_arn
    register = original(aas.ApplicationAutoScalingResponse, "register_scalable_target")

    def register_scalable_target(self: Any) -> Any:
        body = register(self)
        text = body if isinstance(body, str) else (body[-1] if body else "")
        arn = json.loads(text or "{}").get("ScalableTargetARN")
        if arn:
            tags.setdefault(arn, {}).update(self._get_param("Tags") or {})
        return body

    def list_tags_for_resource(self: Any) -> str:
        return json.dumps({"Tags": tags.get(self._get_param("ResourceARN"), {})})

    def tag_resource(self: Any) -> str:
        tags.setdefault(self._get_param("ResourceARN"), {}).update(self._get_param("Tags") or {})
        return "{}"

    def untag_resource(self: Any) -> str:
        held = tags.get(self._get_param("ResourceARN"), {})
        for key in self._get_param("TagKeys") or []:
            held.pop(key, None)
        return "{}"

    cls = aas.ApplicationAutoScalingResponse
    cls.register_scalable_target = register_scalable_target  # type: ignore[method-assign]
    cls.list_tags_for_resource = list_tags_for_resource  # type: ignore[attr-defined]
    cls.tag_resource = tag_resource  # type: ignore[attr-defined]
    cls.untag_resource = untag_resource  # type: ignore[attr-defined]


# moto's own per-request costs


@once
def _cheaper_request_paths() -> None:
    """moto's module list read once; SQS's retention check without computing every attribute,
    its visible messages with one clock reading (see the package's docstring). Same answers as
    moto's."""
    from moto import backends
    from moto.core.utils import unix_time
    from moto.sqs.models import SQSBackend

    modules = tuple(original(backends, "list_of_moto_modules")())
    backends.list_of_moto_modules = lambda: modules  # type: ignore[assignment]

    original(SQSBackend, "is_message_valid_based_on_retention_period", "queue_name", "message")
    original(SQSBackend, "get_queue", "queue_name")

    def is_message_valid_based_on_retention_period(
        self: Any, queue_name: str, message: Any
    ) -> bool:
        period = int(self.get_queue(queue_name).message_retention_period)
        return bool(period + message.sent_timestamp / 1000 > unix_time())

    SQSBackend.is_message_valid_based_on_retention_period = (  # type: ignore[method-assign]
        is_message_valid_based_on_retention_period
    )

    # SendMessage reads only ContentBasedDeduplication from the queue's attributes (three
    # times), but moto computes them all, counting the queue's messages each time: a
    # subscriber's queue filling during a burst made every delivery slower than the last.
    from moto.sqs.models import Queue

    every_attribute = original(Queue, "attributes").fget
    sending = threading.local()

    def attributes(self: Any) -> dict[str, Any]:
        if not getattr(sending, "active", False):
            return every_attribute(self)  # type: ignore[no-any-return]
        if not self.fifo_queue:  # moto lists FIFO attributes for FIFO queues only
            return {}
        return {"ContentBasedDeduplication": str(bool(self.content_based_deduplication)).lower()}

    original_send = original(SQSBackend, "send_message")

    def send_message(self: Any, *args: Any, **kwargs: Any) -> Any:
        sending.active = True
        try:
            return original_send(self, *args, **kwargs)
        finally:
            sending.active = False

    Queue.attributes = property(attributes)  # type: ignore[assignment,method-assign]
    SQSBackend.send_message = send_message  # type: ignore[method-assign]

    # The messages a ReceiveMessage may take: moto read the clock twice per message of the
    # queue (visible, not delayed), which was 6% of `up`'s samples with the inbox's queue
    # a burst deep. Once per call now; the same comparisons.
    from moto.core.utils import unix_time_millis

    original(Queue, "messages")

    def messages(self: Any) -> list[Any]:
        now = unix_time_millis()
        return [m for m in self._messages if now > m.visible_at and now >= m.delayed_until]

    Queue.messages = property(messages)  # type: ignore[assignment,method-assign]

    # DeleteMessage(Batch): moto looked for a receipt handle by walking the queue twice per
    # handle, building a list of each message's handles at every step, then rebuilt the queue
    # once per handle: 27% of the emulator's samples with the inbox's queue a burst deep. Now
    # one walk and one rebuild per call, under the queue's lock (an SNS delivery appending
    # meanwhile, from another thread, could be lost between moto's walk and its rebuild).
    from moto.sqs.exceptions import ReceiptHandleIsInvalid

    def delete_handles(queue: Any, handles: list[str]) -> list[bool]:
        """Delete, in order, the messages that ever had each handle, as moto's
        ``Queue.delete_message`` did for each: True for a handle deleted now or before,
        False for one no message had (moto's ReceiptHandleIsInvalid)."""
        deleted = queue.deleted_messages
        with queue._messages_lock:
            wanted = {h for h in handles if h not in deleted}
            holders: dict[str, list[Any]] = {}
            if wanted:
                for m in queue._messages:
                    if m.receipt_handle in wanted:
                        holders.setdefault(m.receipt_handle, []).append(m)
                    for old in m._old_receipt_handles:
                        if old in wanted and old != m.receipt_handle:
                            holders.setdefault(old, []).append(m)
            gone: set[int] = set()
            answers = []
            for h in handles:
                if h in deleted:
                    answers.append(True)
                    continue
                found = holders.get(h)
                if not found:
                    answers.append(False)
                    continue
                for m in found:
                    if id(m) in gone:
                        continue
                    gone.add(id(m))
                    queue.pending_messages.discard(m)
                    deleted.update(m.all_receipt_handles)
                answers.append(True)
            if gone:
                queue._messages = [m for m in queue._messages if id(m) not in gone]
        return answers

    original(Queue, "delete_message", "receipt_handle")
    original(SQSBackend, "delete_message_batch", "queue_name", "receipts")

    def delete_message(self: Any, receipt_handle: str) -> None:
        if not delete_handles(self, [receipt_handle])[0]:
            raise ReceiptHandleIsInvalid()

    def delete_message_batch(
        self: Any, queue_name: str, receipts: list[dict[str, Any]]
    ) -> tuple[list[str], list[dict[str, str]]]:
        queue = self.get_queue(queue_name)
        handles = [r["ReceiptHandle"] for r in receipts]
        success, errors = [], []
        for r, ok in zip(receipts, delete_handles(queue, handles), strict=True):
            if ok:
                success.append(r["Id"])
            else:
                errors.append(
                    {
                        "Id": r["Id"],
                        "SenderFault": True,
                        "Code": "ReceiptHandleIsInvalid",
                        "Message": f'The input receipt handle "{r["ReceiptHandle"]}" is not a '
                        "valid receipt handle.",
                    }
                )
        return success, errors

    Queue.delete_message = delete_message  # type: ignore[method-assign]
    SQSBackend.delete_message_batch = delete_message_batch  # type: ignore[method-assign]

    # The query protocol's parser (SNS, SQS's older clients, IAM, STS...) asks for every
    # structure it may parse whether any parameter name starts with its prefix, walking every
    # parameter each time (a CombinedMultiDict, whose walk builds a set of its keys): ~100
    # structures x ~200 names for a PublishBatch of 10 messages with attributes. The names,
    # sorted once per request, answer the same question by bisection: the first name not
    # before the prefix starts with it exactly when any name does.
    from bisect import bisect_left

    from moto.core.parse import QueryParser

    parse_query = original(QueryParser, "_do_parse", "request_dict", "shape")
    original(QueryParser, "_gonna_recurse", "query_params", "prefix")

    def _do_parse(self: Any, request_dict: Any, shape: Any) -> Any:
        values = request_dict["values"]
        self._ddbstream_names = (values, sorted(values))
        return parse_query(self, request_dict, shape)

    def _gonna_recurse(self: Any, query_params: Any, prefix: str) -> bool:
        if prefix == "":
            return False
        known = getattr(self, "_ddbstream_names", None)
        names = known[1] if known is not None and known[0] is query_params else sorted(query_params)
        i = bisect_left(names, prefix)
        return not (i < len(names) and names[i].startswith(prefix))

    QueryParser._do_parse = _do_parse  # type: ignore[method-assign]
    QueryParser._gonna_recurse = _gonna_recurse  # type: ignore[method-assign]
