"""The processor's configuration: environment variables, read once at cold start and validated.

Only ``SNS_TOPIC_ARN`` and ``S3_BUCKET_NAME`` are required (the seed's names); everything else
has a default. Every problem is reported at once, each naming its variable and what was wrong::

    SettingsError: invalid configuration:
      SNS_TOPIC_ARN: 'invalid-arn' is not an SNS topic ARN (expected
      arn:aws:sns:REGION:ACCOUNT:NAME)

The handler raises that error from its first invocation, so a misconfigured function fails
every batch: the event source mapping retries it and, past its retry limit, sends the batch's
metadata to the on-failure destination (the DLQ). Nothing is silently dropped.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from ddbstream.core.rules import DEFAULT_RULES, RulesError, RuleSet, parse_rules

_TOPIC_ARN_RE = re.compile(r"arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?")
_BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_ATTR_RE = re.compile(r"[A-Za-z0-9_.-]{1,256}")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

DEFAULTS = {
    "AUDIT_PREFIX": "audit-logs/",
    "QUARANTINE_PREFIX": "quarantine/",
    "NOTIFICATION_RULES": "(notify on every INSERT, MODIFY and REMOVE)",
    "NOTIFICATION_ATTRIBUTES": "ActivityType,UserId",
    "METRICS_NAMESPACE": "DDBStream",
    "LOG_LEVEL": "INFO",
    "TIME_SAFETY_MARGIN_MS": "3000",
    "SNS_PUBLISH_CONCURRENCY": "10",
    "POWERTOOLS_SERVICE_NAME": "ddbstream",
    "METRICS_SERVICE_DIMENSION": "true",
}
_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")


class SettingsError(ValueError):
    """Invalid configuration. ``problems`` lists ``(variable, message)`` pairs."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        lines = "\n".join(f"  {var}: {msg}" for var, msg in problems)
        super().__init__(f"invalid configuration:\n{lines}")


@dataclass(frozen=True, slots=True)
class Settings:
    sns_topic_arn: str
    s3_bucket_name: str
    audit_prefix: str = "audit-logs/"
    quarantine_prefix: str = "quarantine/"
    rules: RuleSet = DEFAULT_RULES
    notification_attributes: tuple[str, ...] = ("ActivityType", "UserId")
    metrics_namespace: str = "DDBStream"
    log_level: str = "INFO"
    time_safety_margin_ms: int = 3000
    function_name: str = "ddbstream"
    audit_kms_key_id: str | None = field(default=None)
    publish_concurrency: int = 10
    service_name: str = "ddbstream"
    metrics_service_dimension: bool = True

    @property
    def fifo_topic(self) -> bool:
        return self.sns_topic_arn.endswith(".fifo")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read and validate; raises :class:`SettingsError` listing every problem."""
        env = os.environ if env is None else env
        problems: list[tuple[str, str]] = []

        def get(name: str, default: str = "") -> str:
            return env.get(name, default).strip()

        topic = get("SNS_TOPIC_ARN")
        if not topic:
            problems.append(("SNS_TOPIC_ARN", "required, the ARN of the notifications topic"))
        elif not _TOPIC_ARN_RE.fullmatch(topic):
            problems.append(
                (
                    "SNS_TOPIC_ARN",
                    f"{topic[:200]!r} is not an SNS topic ARN "
                    "(expected arn:aws:sns:REGION:ACCOUNT:NAME)",
                )
            )
        bucket = get("S3_BUCKET_NAME")
        if not bucket:
            problems.append(("S3_BUCKET_NAME", "required, the audit log bucket's name"))
        elif not _BUCKET_RE.fullmatch(bucket) or ".." in bucket:
            problems.append(
                (
                    "S3_BUCKET_NAME",
                    f"{bucket[:100]!r} is not a bucket name (3-63 characters: lower-case "
                    "letters, digits, dots, hyphens), not an ARN or URL",
                )
            )

        def prefix(name: str) -> str:
            p = env.get(name, DEFAULTS[name])
            if p.startswith("/"):
                problems.append((name, f"{p!r} must not start with '/'"))
            elif p and not p.endswith("/"):
                p += "/"
            if len(p) > 512:
                problems.append((name, "longer than 512 characters"))
            return p

        audit_prefix = prefix("AUDIT_PREFIX")
        quarantine_prefix = prefix("QUARANTINE_PREFIX")
        if audit_prefix.startswith(quarantine_prefix) or quarantine_prefix.startswith(audit_prefix):
            problems.append(
                (
                    "QUARANTINE_PREFIX",
                    f"{quarantine_prefix!r} overlaps AUDIT_PREFIX {audit_prefix!r}: quarantine "
                    "objects would be read as audit log",
                )
            )

        rules = DEFAULT_RULES
        try:
            rules = parse_rules(env.get("NOTIFICATION_RULES"))
        except RulesError as exc:
            problems.append(("NOTIFICATION_RULES", str(exc)))

        attrs_text = env.get("NOTIFICATION_ATTRIBUTES", DEFAULTS["NOTIFICATION_ATTRIBUTES"])
        attrs = tuple(a.strip() for a in attrs_text.split(",") if a.strip())
        bad = [a for a in attrs if not _ATTR_RE.fullmatch(a)]
        if bad:
            problems.append(
                (
                    "NOTIFICATION_ATTRIBUTES",
                    f"{bad} cannot be SNS message attribute names (letters, digits, '_', '-', '.')",
                )
            )
        reserved = [a for a in attrs if a in ("eventName", "tableName", "ttlExpiry", "rules")]
        if reserved:
            problems.append(("NOTIFICATION_ATTRIBUTES", f"{reserved} are set by ddbstream itself"))
        if len(attrs) > 6:
            problems.append(
                (
                    "NOTIFICATION_ATTRIBUTES",
                    f"{len(attrs)} names; at most 6 "
                    "(SNS delivers 10 attributes, 4 are ddbstream's)",
                )
            )

        namespace = get("METRICS_NAMESPACE", DEFAULTS["METRICS_NAMESPACE"])
        if not namespace or len(namespace) > 255 or namespace.startswith("AWS/"):
            problems.append(
                (
                    "METRICS_NAMESPACE",
                    f"{namespace!r}: 1-255 characters, not starting with 'AWS/'",
                )
            )

        level = get("LOG_LEVEL", DEFAULTS["LOG_LEVEL"]).upper()
        level = "WARNING" if level == "WARN" else level
        if level not in LOG_LEVELS:
            problems.append(("LOG_LEVEL", f"{level!r} is not one of {', '.join(LOG_LEVELS)}"))

        margin_text = get("TIME_SAFETY_MARGIN_MS", DEFAULTS["TIME_SAFETY_MARGIN_MS"])
        margin = 3000
        try:
            margin = int(margin_text)
            if margin < 0:
                raise ValueError
        except ValueError:
            problems.append(
                (
                    "TIME_SAFETY_MARGIN_MS",
                    f"{margin_text!r} is not a whole number of milliseconds >= 0",
                )
            )

        conc_text = get("SNS_PUBLISH_CONCURRENCY", DEFAULTS["SNS_PUBLISH_CONCURRENCY"])
        concurrency = 10
        try:
            concurrency = int(conc_text)
            if not 1 <= concurrency <= 10:
                raise ValueError
        except ValueError:
            problems.append(
                ("SNS_PUBLISH_CONCURRENCY", f"{conc_text!r} is not a whole number from 1 to 10")
            )

        service = get("POWERTOOLS_SERVICE_NAME", DEFAULTS["POWERTOOLS_SERVICE_NAME"])
        if not service or len(service) > 255:
            problems.append(("POWERTOOLS_SERVICE_NAME", f"{service[:300]!r}: 1-255 characters"))

        dim_text = get("METRICS_SERVICE_DIMENSION", DEFAULTS["METRICS_SERVICE_DIMENSION"]).lower()
        if dim_text not in _TRUE + _FALSE:
            problems.append(("METRICS_SERVICE_DIMENSION", f"{dim_text!r} is not true or false"))

        if problems:
            raise SettingsError(problems)
        return cls(
            sns_topic_arn=topic,
            s3_bucket_name=bucket,
            audit_prefix=audit_prefix,
            quarantine_prefix=quarantine_prefix,
            rules=rules,
            notification_attributes=attrs,
            metrics_namespace=namespace,
            log_level=level,
            time_safety_margin_ms=margin,
            function_name=get("AWS_LAMBDA_FUNCTION_NAME") or "ddbstream",
            audit_kms_key_id=get("AUDIT_KMS_KEY_ID") or None,
            publish_concurrency=concurrency,
            service_name=service,
            metrics_service_dimension=dim_text in _TRUE,
        )
