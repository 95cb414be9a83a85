"""Settings: defaults with only the seed's two variables, and errors that name the variable."""

from __future__ import annotations

import pytest

from ddbstream.core.rules import DEFAULT_RULES
from ddbstream.settings import Settings, SettingsError

TOPIC = "arn:aws:sns:us-east-1:123456789012:stream-notifications"
BASE = {"SNS_TOPIC_ARN": TOPIC, "S3_BUCKET_NAME": "audit-bucket-1"}


def test_only_the_two_seed_variables_are_needed():
    s = Settings.from_env(BASE)
    assert s.sns_topic_arn == TOPIC
    assert s.s3_bucket_name == "audit-bucket-1"
    assert s.audit_prefix == "audit-logs/"
    assert s.quarantine_prefix == "quarantine/"
    assert s.rules is DEFAULT_RULES
    assert s.notification_attributes == ("ActivityType", "UserId")
    assert s.metrics_namespace == "DDBStream"
    assert s.log_level == "INFO"
    assert s.time_safety_margin_ms == 3000
    assert s.function_name == "ddbstream"
    assert s.fifo_topic is False
    assert s.publish_concurrency == 10
    assert s.service_name == "ddbstream"
    assert s.metrics_service_dimension is True


def test_every_variable_is_read():
    s = Settings.from_env(
        {
            **BASE,
            "AUDIT_PREFIX": "audit",
            "QUARANTINE_PREFIX": "bad-records/",
            "NOTIFICATION_RULES": '{"rules":[{"name":"x","events":["REMOVE"]}]}',
            "NOTIFICATION_ATTRIBUTES": " ActivityType , Region,",
            "METRICS_NAMESPACE": "Custom/Streams",
            "LOG_LEVEL": "warn",
            "TIME_SAFETY_MARGIN_MS": "500",
            "AWS_LAMBDA_FUNCTION_NAME": "stream-processor",
            "AUDIT_KMS_KEY_ID": "alias/audit",
            "SNS_PUBLISH_CONCURRENCY": "1",
            "POWERTOOLS_SERVICE_NAME": "user-activity",
            "METRICS_SERVICE_DIMENSION": "False",
        }
    )
    assert s.audit_prefix == "audit/"  # trailing slash added
    assert s.quarantine_prefix == "bad-records/"
    assert [r.name for r in s.rules.rules] == ["x"]
    assert s.notification_attributes == ("ActivityType", "Region")
    assert s.metrics_namespace == "Custom/Streams"
    assert s.log_level == "WARNING"
    assert s.time_safety_margin_ms == 500
    assert s.function_name == "stream-processor"
    assert s.audit_kms_key_id == "alias/audit"
    assert s.publish_concurrency == 1
    assert s.service_name == "user-activity"
    assert s.metrics_service_dimension is False


def test_settings_are_frozen():
    s = Settings.from_env(BASE)
    with pytest.raises(AttributeError):
        s.s3_bucket_name = "other"  # type: ignore[misc]


def test_seed_error_test_value_is_rejected_naming_the_variable():
    with pytest.raises(SettingsError) as err:
        Settings.from_env({**BASE, "SNS_TOPIC_ARN": "invalid-arn"})
    assert err.value.problems[0][0] == "SNS_TOPIC_ARN"
    assert "'invalid-arn' is not an SNS topic ARN" in str(err.value)


@pytest.mark.parametrize(
    ("env", "variable", "fragment"),
    [
        ({"S3_BUCKET_NAME": "b-1"}, "SNS_TOPIC_ARN", "required"),
        ({"SNS_TOPIC_ARN": TOPIC}, "S3_BUCKET_NAME", "required"),
        ({**BASE, "S3_BUCKET_NAME": "arn:aws:s3:::b"}, "S3_BUCKET_NAME", "not a bucket name"),
        ({**BASE, "S3_BUCKET_NAME": "Upper_Case"}, "S3_BUCKET_NAME", "not a bucket name"),
        ({**BASE, "AUDIT_PREFIX": "/abs/"}, "AUDIT_PREFIX", "must not start with '/'"),
        ({**BASE, "QUARANTINE_PREFIX": "audit-logs/q/"}, "QUARANTINE_PREFIX", "overlaps"),
        ({**BASE, "NOTIFICATION_RULES": "{"}, "NOTIFICATION_RULES", "not valid JSON"),
        (
            {**BASE, "NOTIFICATION_RULES": '[{"name":"a","events":["UPDATE"]}]'},
            "NOTIFICATION_RULES",
            "'UPDATE' is not one of",
        ),
        ({**BASE, "NOTIFICATION_ATTRIBUTES": "a b"}, "NOTIFICATION_ATTRIBUTES", "cannot be"),
        ({**BASE, "NOTIFICATION_ATTRIBUTES": "eventName"}, "NOTIFICATION_ATTRIBUTES", "set by"),
        (
            {**BASE, "NOTIFICATION_ATTRIBUTES": "a,b,c,d,e,f,g"},
            "NOTIFICATION_ATTRIBUTES",
            "at most 6",
        ),
        ({**BASE, "METRICS_NAMESPACE": "AWS/Lambda"}, "METRICS_NAMESPACE", "not starting"),
        ({**BASE, "LOG_LEVEL": "LOUD"}, "LOG_LEVEL", "'LOUD' is not one of"),
        ({**BASE, "TIME_SAFETY_MARGIN_MS": "3s"}, "TIME_SAFETY_MARGIN_MS", "'3s'"),
        ({**BASE, "TIME_SAFETY_MARGIN_MS": "-1"}, "TIME_SAFETY_MARGIN_MS", ">= 0"),
        ({**BASE, "SNS_PUBLISH_CONCURRENCY": "11"}, "SNS_PUBLISH_CONCURRENCY", "1 to 10"),
        ({**BASE, "SNS_PUBLISH_CONCURRENCY": "x"}, "SNS_PUBLISH_CONCURRENCY", "1 to 10"),
        ({**BASE, "POWERTOOLS_SERVICE_NAME": " "}, "POWERTOOLS_SERVICE_NAME", "1-255"),
        ({**BASE, "METRICS_SERVICE_DIMENSION": "maybe"}, "METRICS_SERVICE_DIMENSION", "true or"),
    ],
)
def test_each_error_names_its_variable(env, variable, fragment):  # type: ignore[no-untyped-def]
    with pytest.raises(SettingsError) as err:
        Settings.from_env(env)
    variables = [v for v, _ in err.value.problems]
    assert variable in variables
    assert f"{variable}: " in str(err.value)
    assert fragment in dict(err.value.problems)[variable]


def test_all_problems_are_reported_at_once():
    with pytest.raises(SettingsError) as err:
        Settings.from_env({"LOG_LEVEL": "x"})
    assert [v for v, _ in err.value.problems] == ["SNS_TOPIC_ARN", "S3_BUCKET_NAME", "LOG_LEVEL"]


def test_fifo_topic_detected():
    s = Settings.from_env({**BASE, "SNS_TOPIC_ARN": TOPIC + ".fifo"})
    assert s.fifo_topic
