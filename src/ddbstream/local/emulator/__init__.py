"""The embedded AWS emulator: moto's server, in process, on a loopback port.

The package:

* :mod:`.server`: :func:`start` (an :class:`Emulator`), :func:`running`, :func:`moto_app`, the
  HTTP/1.1 keep-alive request handler, :func:`free_port` and the loopback rule
  (:func:`is_loopback`, :func:`require_loopback`, :class:`NotLoopbackError`);
* :mod:`.patches`: :func:`patch_moto`, the one place that applies the changes below, and the
  changes that stand alone (Lambda, DynamoDB Streams, IAM policies, S3, Athena, Application
  Auto Scaling, moto's per-request costs), each applied at most once (:func:`.once.once`);
* :mod:`.sns`: SNS deliveries after Publish (:class:`Deliveries`, :data:`deliveries`) and the
  envelope's signing certificate;
* :mod:`.replay`: reproducible requests for the journal's replay (:func:`reproducible`,
  :func:`receipts`, :func:`apply_receipts`).

Every change this project makes to moto's behaviour lives in this package, applied by
:func:`patch_moto`:

* moto's own DynamoDB-stream-to-Lambda path is switched off. Left on, it tries to run the
  function in Docker on every write to a mapped table and, once an invocation "succeeds", drops
  the stream's records (and restarts its sequence numbers). The local runtime
  (:mod:`ddbstream.local.runtime`) reads the stream itself, with AWS's semantics.
* Lambda's validation of event source mappings on DynamoDB streams: a CreateEventSourceMapping
  or UpdateEventSourceMapping that Lambda refuses (AT_TIMESTAMP, no StartingPosition,
  MaximumRecordAgeInSeconds outside -1 and 60-604,800, more than five filters, an invalid
  filter pattern, ...) is refused with Lambda's error type and message (the rules:
  :mod:`ddbstream.local.runtime.validation`); moto would store it. ``LastProcessingResult``
  is Lambda's ("No records processed", then what the local runtime last saw) instead of null.
  A mapping on an alias keeps the alias's ARN (moto stores the version it pointed at).
* ``aws:SecureTransport`` is evaluated as true in resource policies (see
  :func:`.patches._fix_policy_conditions`).
* DynamoDB stream records get an ``eventID`` derived from the table, the stream and the sequence
  number instead of a random one, so a crash recovery's replay reproduces them (see
  :func:`.patches._deterministic_stream_event_ids`).
* Reproducible requests: while moto applies a journaled request (:func:`reproducible`), every id
  it draws (moto's ``mock_random``, ``os.urandom``, hence ``uuid.uuid4``) comes from a generator
  seeded for that request alone, and its clock (``moto.core.utils.utcnow``) reads the request's
  time, so a crash recovery's replay of the journal recreates every resource with the id, ARN
  and timestamps it had; an SQS ReceiveMessage reports the receipt handles it gave out
  (:func:`receipts`), which the journal keeps and a replay gives back (:func:`apply_receipts`).
  A receipt handle (185 lowercase letters, moto's form) is drawn with one draw per letter
  (``choices``), not through ``choice``'s several Python-level draws per letter.
  See :func:`.replay._reproducible_requests` and :mod:`ddbstream.local.journal`.
* CloudWatch: alarms start in INSUFFICIENT_DATA and keep their state when updated, a change of
  state publishes CloudWatch's notification to the alarm's SNS actions, DescribeAlarmHistory
  answers, and EMF documents in Lambda log groups become metrics (the patch lives with the rest
  of the local CloudWatch, :mod:`ddbstream.local.monitoring.cloudwatch`).
* DynamoDB Streams' ``GetShardIterator`` answers as AWS does for a shard that is not there
  (``ResourceNotFoundException``) and for a sequence number before the shard's first record
  (``TrimmedDataAccessException``: on AWS, a record older than the 24-hour retention), where
  moto fails an assertion (HTTP 500). See :func:`.patches._stream_errors_as_on_aws`.
* A function's ``LoggingConfig`` (log format, levels, group) is kept and returned, as Lambda
  does; moto drops it, and Terraform would then plan to set it again on every apply (see
  :func:`.patches._keep_lambda_logging_config`).
* ``ListEventSourceMappings`` filters by the function however it is named (name, ARN, partial
  ARN), as Lambda does; moto compared the text the mapping was created with (see
  :func:`.patches._mappings_listed_by_function_name`).
* S3 bucket metrics configurations (``PutBucketMetricsConfiguration``, Get, Delete:
  ``?metrics&id=ID``) are kept per bucket and returned as put; moto has none and would create
  the bucket again or list its objects (see :func:`.patches._s3_bucket_metrics_configurations`); an
  object put under such a configuration's prefix counts 1 in ``AWS/S3`` ``PutRequests``
  (dimensions ``BucketName``, ``FilterId``), S3's request metric, so an alarm on it fires.
* SNS delivers a published message to the topic's subscribers after Publish/PublishBatch has
  answered, from a background thread (:data:`deliveries`), as SNS does; moto delivers inside the
  call, so every subscriber (an SQS queue: an X.509 certificate built and two RSA signatures
  per message) slowed the publisher and held the journal's turn for writes. Nothing accepted is
  lost: a snapshot waits for the deliveries accepted before it, and a journal replay delivers
  each replayed message before the next request (see :class:`.sns.Deliveries`).
* An SNS message delivered in SNS's JSON envelope (an SQS subscriber without raw delivery: the
  local inbox) is signed with one signing certificate per subscription, made once, as SNS signs
  with a long-lived certificate at a stable ``SigningCertURL``; moto made a certificate per
  message (an RSA signature) and kept every certificate's PEM in memory for good (see
  :func:`.sns._sns_signing_certificate_once`).
* moto's record of every message published to a topic is not kept (nothing reads it; it grew
  without bound and every snapshot copied it: :func:`.sns._forget_sent_notifications`).
* moto's per-request costs that grow with the work: the list of its service modules is
  read from disk once, not on every request, and SQS ReceiveMessage checks a message's
  retention against the queue's period directly, where moto computed every attribute of the
  queue (each counting all its messages) for every message it looked at: quadratic in the
  queue's depth; SendMessage (an SNS delivery too) likewise reads only the one attribute it
  uses, and the visible messages are chosen with one clock reading, not two per message;
  DeleteMessage and DeleteMessageBatch find their handles in one walk of the queue per call
  (moto walked it twice per handle and rebuilt it once per handle: quadratic in the depth of a
  queue filling faster than it is drained, such as the local inbox's in a burst), under the
  queue's lock, so an SNS delivery appending meanwhile is not lost; the query protocol's parser
  (SNS) learns whether a structure has parameters by bisecting the request's sorted names, not
  by walking them all for each structure (see :func:`.patches._cheaper_request_paths`).
* Athena's ``DeleteNamedQuery``, which moto lacks (HTTP 500): ``terraform destroy`` of the
  stack's named query would otherwise retry until it times out (see
  :func:`.patches._athena_delete_named_query`).
* Application Auto Scaling's ``TagResource``, ``UntagResource`` and ``ListTagsForResource``,
  which moto lacks (HTTP 500, which the AWS provider retries for minutes on a tagged
  ``aws_appautoscaling_target``): tags are kept per ARN (see
  :func:`.patches._appautoscaling_tags`).

The server itself is werkzeug's threaded server, with a request handler that keeps HTTP/1.1
connections open (see :func:`.server._keep_alive_handler`), around moto's WSGI application
behind the write-ahead journal (:mod:`ddbstream.local.journal`), on a loopback address only
unless told.
"""

from __future__ import annotations

from ddbstream.local.clients import ACCESS_KEY, ACCOUNT_ID, REGION, SECRET_KEY

from .compat import UnsupportedMotoError, check_moto_version
from .patches import _requires_insecure_transport as _requires_insecure_transport
from .patches import patch_moto
from .replay import apply_receipts, receipts, reproducible
from .server import (
    ALLOW_NON_LOOPBACK_ENV,
    LOOPBACK_HOSTS,
    Emulator,
    NotLoopbackError,
    free_port,
    is_loopback,
    moto_app,
    non_loopback_allowed,
    require_loopback,
    running,
    start,
)
from .sns import Deliveries, deliveries

__all__ = [
    "ACCESS_KEY",
    "ACCOUNT_ID",
    "ALLOW_NON_LOOPBACK_ENV",
    "LOOPBACK_HOSTS",
    "REGION",
    "SECRET_KEY",
    "Deliveries",
    "Emulator",
    "NotLoopbackError",
    "UnsupportedMotoError",
    "apply_receipts",
    "check_moto_version",
    "deliveries",
    "free_port",
    "is_loopback",
    "moto_app",
    "non_loopback_allowed",
    "patch_moto",
    "receipts",
    "reproducible",
    "require_loopback",
    "running",
    "start",
]
