"""Lambda entry point: ``ddbstream.handler.lambda_handler``.

Configure the event source mapping with ``FunctionResponseTypes = ["ReportBatchItemFailures"]``:
the handler returns ``{"batchItemFailures": [{"itemIdentifier": SEQUENCE_NUMBER}, ...]}`` listing
every record from the first one whose effects (audit object, notification, or quarantine
object) were not all delivered. Lambda checkpoints before the lowest and retries from there;
past ``MaximumRetryAttempts`` it sends the batch's metadata to the on-failure destination.

Settings and clients are created on the first invocation of a container (cold start) and
reused. An invalid configuration raises :class:`~ddbstream.settings.SettingsError` on every
invocation: the whole batch fails, is retried, and ends in the DLQ.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ddbstream.adapters import metrics
from ddbstream.core.pipeline import (
    AuditSink,
    BatchResult,
    NotificationSink,
    PipelineConfig,
    QuarantineSink,
    process_batch,
)
from ddbstream.log import lambda_context_keys, logger
from ddbstream.settings import Settings, SettingsError


class BatchAbortedError(RuntimeError):
    """A failed record has no sequence number to report: fail the whole batch instead."""


@dataclass
class Processor:
    """Settings plus the sinks they drive; built once per container."""

    settings: Settings
    audit: AuditSink
    notifier: NotificationSink
    quarantine: QuarantineSink

    @property
    def config(self) -> PipelineConfig:
        s = self.settings
        return PipelineConfig(
            audit_prefix=s.audit_prefix,
            quarantine_prefix=s.quarantine_prefix,
            rules=s.rules,
            notification_attributes=s.notification_attributes,
            fifo_topic=s.fifo_topic,
            publish_concurrency=s.publish_concurrency,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Processor:
        from ddbstream.adapters import aws
        from ddbstream.adapters.s3 import S3AuditWriter, S3QuarantineWriter
        from ddbstream.adapters.sns import SnsPublisher

        s3 = aws.client("s3")
        sns = aws.client("sns")
        return cls(
            settings=settings,
            audit=S3AuditWriter(s3, settings.s3_bucket_name, settings.audit_kms_key_id),
            notifier=SnsPublisher(sns, settings.sns_topic_arn),
            quarantine=S3QuarantineWriter(s3, settings.s3_bucket_name, settings.audit_kms_key_id),
        )


_processor: Processor | None = None
_cold_start = True


def get_processor() -> Processor:
    """The container's processor, created on first use (cold start)."""
    global _processor
    if _processor is None:
        try:
            settings = Settings.from_env()
        except SettingsError as exc:
            logger.error(
                "Invalid configuration: every batch fails until it is fixed",
                problems=[{"variable": v, "problem": m} for v, m in exc.problems],
            )
            raise
        logger.set_level(settings.log_level)
        logger.service = settings.service_name
        _processor = Processor.from_settings(settings)
        logger.info(
            "Cold start",
            topic=settings.sns_topic_arn,
            bucket=settings.s3_bucket_name,
            audit_prefix=settings.audit_prefix,
            quarantine_prefix=settings.quarantine_prefix,
            rules=[r.name for r in settings.rules.rules],
        )
    return _processor


def reset() -> None:
    """Forget the cached processor (tests; a changed environment)."""
    global _processor, _cold_start
    _processor = None
    _cold_start = True


def _deadline(context: Any, margin_ms: int) -> Callable[[], bool]:
    """``should_stop`` for the pipeline: true once less than the margin is left.

    The margin is capped at half the time the invocation starts with: a function whose timeout
    is shorter than twice the margin would otherwise report every batch as failed, forever."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining):
        return lambda: False
    at_start = int(remaining())
    effective = min(margin_ms, at_start // 2)
    if effective < margin_ms:
        logger.warning(
            "TIME_SAFETY_MARGIN_MS is more than half the invocation's time: using half",
            configured_ms=margin_ms,
            effective_ms=effective,
            remaining_at_start_ms=at_start,
        )
    return lambda: bool(remaining() < effective)


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _cold_start
    # The container's first invocation is its cold start (as Powertools counts it), whether or
    # not the configuration turns out to be valid.
    cold_start, _cold_start = _cold_start, False
    logger.bind(lambda_context_keys(context, cold_start))
    proc = get_processor()
    return handle(event, context, proc, cold_start=cold_start)


def handle(
    event: dict[str, Any], context: Any, proc: Processor, *, cold_start: bool = False
) -> dict[str, Any]:
    """Process one batch with ``proc`` (the entry point minus the cold start)."""
    started = time.perf_counter()
    s = proc.settings
    logger.bind(lambda_context_keys(context, cold_start))
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        logger.warning("Event has no Records list: nothing to process", event_keys=_keys(event))
        return {"batchItemFailures": []}

    first = records[0] if records else {}
    logger.info(
        "Processing batch",
        records=len(records),
        event_source_arn=first.get("eventSourceARN") if isinstance(first, dict) else None,
        first_sequence_number=_seq(first),
        last_sequence_number=_seq(records[-1]) if records else None,
    )

    def on_change(i: int, ev: Any) -> None:
        logger.info(
            "Processing change",
            event_id=ev.event_id,
            event_name=ev.event_name,
            table=ev.table_name,
            keys=ev.keys,
            sequence_number=ev.sequence_number,
            ttl_expiry=ev.ttl_expiry,
        )

    result = process_batch(
        records,
        config=proc.config,
        audit=proc.audit,
        notifier=proc.notifier,
        quarantine=proc.quarantine,
        should_stop=_deadline(context, s.time_safety_margin_ms),
        on_change=on_change if logger.enabled("INFO") else None,
    )
    failures = result.failures
    _report(result, failures, s, started, cold_start)
    if (
        result.first_failure is not None
        and not result.outcomes[result.first_failure].sequence_number
    ):
        raise BatchAbortedError(
            f"record {result.first_failure} failed and has no dynamodb.SequenceNumber to report; "
            "failing the whole batch so that it is retried"
        )
    return {"batchItemFailures": [{"itemIdentifier": seq} for seq in failures]}


def _report(
    result: BatchResult,
    failures: list[str],
    s: Settings,
    started: float,
    cold_start: bool,
) -> None:
    for o in result.outcomes:
        if o.status == "quarantined":
            logger.warning(
                "Quarantined poison record",
                index=o.index,
                sequence_number=o.sequence_number,
                error=o.reason,
            )
    for err in result.errors:
        logger.error("Delivery failed", error=err)
    if result.stopped_early:
        logger.warning("Stopped early: invocation running out of time", failures=len(failures))
    metrics.emit(
        metrics.build_emf(
            s.metrics_namespace,
            s.function_name,
            {
                "Changes": result.changes,
                "AuditObjectsWritten": result.audit_objects_written,
                "NotificationsSent": result.notifications_sent,
                "RecordsQuarantined": result.records_quarantined,
                "DeliveryFailures": len(failures),
            },
            result.changes_by_event,
            service=s.service_name if s.metrics_service_dimension else None,
            cold_start=cold_start,
        ),
        logger.stream,
    )
    logger.info(
        "Processed batch",
        records=len(result.outcomes),
        changes=result.changes,
        audit_object_keys=result.audit_keys_written,
        notifications_sent=result.notifications_sent,
        quarantined=result.records_quarantined,
        batch_item_failures=len(failures),
        first_failure=failures[0] if failures else None,
        duration_ms=round((time.perf_counter() - started) * 1000, 1),
    )
    logger.stream.flush()


def _seq(record: Any) -> str | None:
    try:
        return str(record["dynamodb"]["SequenceNumber"])
    except (KeyError, TypeError):
        return None


def _keys(event: Any) -> list[str] | str:
    return sorted(event)[:20] if isinstance(event, dict) else type(event).__name__
