"""The local Lambda runtime: executes DynamoDB stream event source mappings like Lambda.

moto's server (:mod:`ddbstream.local.emulator`) stores tables, streams, functions and event
source mappings but does not run them. :class:`Runtime` does, with AWS's semantics, for every
mapping whose source is a DynamoDB stream:

- shard discovery; ``StartingPosition`` ``LATEST`` / ``TRIM_HORIZON``; polling each shard about
  four times a second when idle and at once while records remain;
- ``BatchSize`` (up to 10,000), ``MaximumBatchingWindowInSeconds``, the 6 MB payload limit;
- the event exactly as Lambda sends it (:func:`.events.lambda_record`);
- function errors and timeouts; ``ReportBatchItemFailures``; ``BisectBatchOnFunctionError``;
  ``MaximumRetryAttempts``; ``MaximumRecordAgeInSeconds``; the on-failure record to an SQS
  queue, SNS topic or S3 bucket (with the records; :func:`.events.failure_record`); retries
  spaced by exponential backoff (:class:`.batching.Backoff`: 1 s doubling to 60 s, reset by
  any progress; ``retry_base_delay`` / ``retry_max_delay``); see :mod:`.batching`;
- ``TumblingWindowInSeconds`` (:mod:`.windows`): the window's state carried between its
  invocations, its final invocation, an early end over 1 MB;
- ``ParallelizationFactor`` 1-10 (a key always in the same lane, per-key order kept);
- ``FilterCriteria`` (:mod:`.filtering`, EventBridge's rules: leaf values only, five filters);
  ``Enabled`` honoured when it changes (the mappings are listed again every
  ``refresh_interval``: new ones start, deleted ones stop);
- reserved concurrency: an invocation past ``ReservedConcurrentExecutions`` is throttled
  (``Throttles`` metric) and retried without using a retry until the records expire;
- a mapping on an alias or a version runs that version and says so (context, log stream,
  ``executedVersion``); ``LastProcessingResult`` kept as Lambda keeps it;
- checkpoints persisted in ``state_dir`` (:mod:`.checkpoints`), with any open tumbling window's
  state: a new ``Runtime`` over the same emulator state resumes where the last one stopped,
  nothing processed twice, nothing skipped.

What Lambda refuses in CreateEventSourceMapping / UpdateEventSourceMapping for a DynamoDB
stream (AT_TIMESTAMP, no StartingPosition, a maximum record age outside -1 and 60-604,800,
more than five filters, an invalid pattern, ...) the emulator refuses too, with Lambda's error
(:mod:`.validation`, applied by :func:`ddbstream.local.emulator.patch_moto`).

The function runs from the code deployed to the emulator (read from moto's Lambda backend in
this process, unzipped once per code hash under ``state_dir/code``), in warm worker
subprocesses (:mod:`.worker`) with the handler, environment, memory and timeout of its
configuration, ``AWS_ENDPOINT_URL`` pointing at the emulator, and a Lambda-like context. A
changed configuration or code gets a fresh worker on the next invocation; a timeout kills the
worker, and so does a peak resident memory past ``MemorySize`` (``Runtime.OutOfMemory``). The
function's output goes to its log group ``/aws/lambda/<name>`` (START / END / REPORT lines as
Lambda writes them, and the runtime's error lines when its process dies) and the AWS/Lambda
metrics ``Invocations``, ``Errors``, ``Duration``, ``IteratorAge`` and ``Throttles`` to the
emulator's CloudWatch; one sender thread writes them in order, off the lanes' path (the next
batch does not wait for them), and ``wait_idle`` / ``stop`` wait until they are written.

Usage::

    from ddbstream.local import emulator
    from ddbstream.local.runtime import Runtime

    emu = emulator.start()
    # ... terraform apply / boto3: table with stream, function, event source mapping ...
    rt = Runtime(emu.endpoint, ".ddbstream/state", region="us-east-1", on_event=print)
    rt.start()            # background threads
    rt.wait_idle(30)      # for tests and demos: every shard caught up, nothing in flight,
                          # the logs and metrics written
    rt.stop()             # finish (or abandon, unchecked) in-flight batches; checkpoints kept;
                          # the logs and metrics of every invocation written

``Runtime`` is also a context manager (``with Runtime(...) as rt:``). Besides ``start``,
``stop`` and ``wait_idle``: ``refresh()`` lists the mappings at once, ``mappings()`` names
the ones running, ``stats()`` counts per mapping (``invoke``, ``errors``, ``records_invoked``,
``records_filtered``, ``records_discarded``, ...), ``workers_started`` counts cold starts.

``on_event`` is called from the runtime's threads with plain dicts:

- ``{"type": "mapping-started", "mapping": uuid, "function": name}`` and
  ``{"type": "mapping-stopped", "mapping": uuid, "reason": "disabled" | "deleted" | ...}``;
- ``{"type": "invoke", "mapping", "function", "request_id", "batch_size",
  "first_sequence_number", "last_sequence_number", "duration_ms", "final_for_window",
  "error"}`` (``error``: the error type, e.g. ``"ValueError"``, ``"Sandbox.Timedout"`` or
  ``"Runtime.OutOfMemory"``, or None; a tumbling window's final invocation has no records);
- ``{"type": "discard", "mapping", "condition", "batch_size", "first_sequence_number",
  "last_sequence_number", "destination"}``;
- ``{"type": "throttle", "mapping", "function"}`` (reserved concurrency reached; retried);
- ``{"type": "filtered", "mapping", "count"}``; ``{"type": "error", "mapping", "message"}``
  (the function or its code could not be found; retried).

What still differs from Lambda, and why, is the table ending the README's "The local Lambda
runtime" section (one shard per stream and no 24-hour trim in moto, the retry schedule AWS
does not document, the account's concurrency pool, ...).
"""

from .runtime import Runtime

__all__ = ["Runtime"]
