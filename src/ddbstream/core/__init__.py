"""The functional core: stream records -> change events -> audit objects, notifications.

Pure Python (standard library only, no boto3): every function here can be called from a unit
test or the benchmark without AWS. The adapters (:mod:`ddbstream.adapters`) carry the effects.
"""

from ddbstream.core.audit import AuditObject, Partition, build_audit_objects, event_to_line
from ddbstream.core.decode import ChangeEvent, DecodeError, decode_item, decode_record, decode_value
from ddbstream.core.notify import Notification, build_notification
from ddbstream.core.pipeline import BatchResult, Outcome, PipelineConfig, process_batch
from ddbstream.core.rules import DEFAULT_RULES, RulesError, RuleSet, parse_rules

__all__ = [
    "DEFAULT_RULES",
    "AuditObject",
    "BatchResult",
    "ChangeEvent",
    "DecodeError",
    "Notification",
    "Outcome",
    "Partition",
    "PipelineConfig",
    "RuleSet",
    "RulesError",
    "build_audit_objects",
    "build_notification",
    "decode_item",
    "decode_record",
    "decode_value",
    "event_to_line",
    "parse_rules",
    "process_batch",
]
