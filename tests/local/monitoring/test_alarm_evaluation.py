"""Alarm evaluation against CloudWatch's documented semantics.

Sources (CloudWatch User Guide): "Configuring how CloudWatch alarms treat missing data" (its two
example tables are transcribed row by row below), "Avoiding premature transitions to alarm
state", "Alarm evaluation" (states, when an alarm is evaluated, sliding windows) and the
``PutMetricAlarm`` reference (comparison operators, statistics, M out of N). Each test names the
rule it pins down.
"""

from __future__ import annotations

import pytest

from ddbstream.local.monitoring.evaluation import (
    ALARM,
    BREACHING,
    IGNORE,
    INSUFFICIENT_DATA,
    MISSING,
    NOT_BREACHING,
    OK,
    AlarmRule,
    Sample,
    breaches,
    evaluate,
    evaluation_time,
    rule_of,
    statistic,
    windows,
)

RETAIN = "retain"
THRESHOLD = 1.0


def _points(row: str) -> list[float | None]:
    """A row of the documentation: 0 non-breaching, X breaching, - missing (newest right)."""
    return [{"0": 0.0, "X": 5.0, "-": None}[c] for c in row.split()]


def _rule(treat: str, m: int, n: int = 3) -> AlarmRule:
    return AlarmRule(
        period=300,
        evaluation_periods=n,
        datapoints_to_alarm=m,
        comparison_operator="GreaterThanOrEqualToThreshold",
        threshold=THRESHOLD,
        statistic="Maximum",
        treat_missing_data=treat,
    )


def _check(row: str, m: int, expected: dict[str, str]) -> None:
    for treat, want in expected.items():
        for current in (OK, ALARM, INSUFFICIENT_DATA):
            got = evaluate(_rule(treat, m), _points(row), current)
            if want == RETAIN:
                assert got.retained and got.state == current, (row, treat, current, got)
            else:
                assert not got.retained and got.state == want, (row, treat, current, got)


# "Datapoints to Alarm and Evaluation Periods are both 3 ... 5 is the evaluation range."
TABLE_3_OF_3 = [
    ("0 - X - X", {MISSING: OK, IGNORE: OK, BREACHING: OK, NOT_BREACHING: OK}),
    ("0 - - - -", {MISSING: OK, IGNORE: OK, BREACHING: OK, NOT_BREACHING: OK}),
    (
        "- - - - -",
        {MISSING: INSUFFICIENT_DATA, IGNORE: RETAIN, BREACHING: ALARM, NOT_BREACHING: OK},
    ),
    ("0 X X - X", {MISSING: ALARM, IGNORE: ALARM, BREACHING: ALARM, NOT_BREACHING: ALARM}),
    ("- - X - -", {MISSING: ALARM, IGNORE: RETAIN, BREACHING: ALARM, NOT_BREACHING: OK}),
]

# "Datapoints to Alarm is only 2 while Evaluation Periods is 3. This is a 2 out of 3 ... alarm."
TABLE_2_OF_3 = [
    ("0 - X - X", {MISSING: ALARM, IGNORE: ALARM, BREACHING: ALARM, NOT_BREACHING: ALARM}),
    ("0 0 X 0 X", {MISSING: ALARM, IGNORE: ALARM, BREACHING: ALARM, NOT_BREACHING: ALARM}),
    ("0 - X - -", {MISSING: OK, IGNORE: OK, BREACHING: ALARM, NOT_BREACHING: OK}),
    ("- - - - 0", {MISSING: OK, IGNORE: OK, BREACHING: ALARM, NOT_BREACHING: OK}),
    ("- - - X -", {MISSING: ALARM, IGNORE: RETAIN, BREACHING: ALARM, NOT_BREACHING: OK}),
]


@pytest.mark.parametrize(("row", "expected"), TABLE_3_OF_3, ids=[r for r, _ in TABLE_3_OF_3])
def test_missing_data_table_3_out_of_3(row: str, expected: dict[str, str]) -> None:
    """Every row and treat_missing_data column of the documentation's first table."""
    _check(row, 3, expected)


@pytest.mark.parametrize(("row", "expected"), TABLE_2_OF_3, ids=[r for r, _ in TABLE_2_OF_3])
def test_missing_data_table_2_out_of_3(row: str, expected: dict[str, str]) -> None:
    """Every row and treat_missing_data column of the documentation's M-out-of-N table."""
    _check(row, 2, expected)


def test_enough_real_datapoints_make_treat_missing_data_irrelevant() -> None:
    """'If some data points in the evaluation range are missing, but the total number of existing
    data points ... is equal to or more than the alarm's Evaluation Periods, CloudWatch evaluates
    ... the most recent real data points ... the value you set for how to treat missing data is
    not needed': farther-back real datapoints stand in for the missing recent ones."""
    for treat in (MISSING, IGNORE, BREACHING, NOT_BREACHING):
        # three real points, all breaching, the newest two windows missing
        assert evaluate(_rule(treat, 3), _points("X X X - -"), OK).state == ALARM
        # three real non-breaching points: OK even when missing data counts as breaching
        assert evaluate(_rule(treat, 3), _points("0 0 0 - -"), ALARM).state == OK


def test_fill_in_only_as_few_missing_datapoints_as_needed() -> None:
    """'CloudWatch uses missing data points only as few times as possible': with one real
    datapoint and N = 3, two are filled in: one breaching real point + two breaching fills
    alarm, one non-breaching real point + two breaching fills do not (first table, row 2)."""
    assert evaluate(_rule(BREACHING, 3), _points("- X - - -"), OK).state == ALARM
    assert evaluate(_rule(BREACHING, 3), _points("- 0 - - -"), OK).state == OK


def test_premature_alarm_needs_the_breaching_datapoint_to_be_m_periods_old() -> None:
    """'Avoiding premature transitions to alarm state': with missing data treated as missing
    and M = 3, '- - - - X' and '- - - X -' do not alarm, '- - X - -' does."""
    assert evaluate(_rule(MISSING, 3), _points("- - - - X"), OK).state == OK
    assert evaluate(_rule(MISSING, 3), _points("- - - X -"), OK).state == OK
    assert evaluate(_rule(MISSING, 3), _points("- - X - -"), OK).state == ALARM
    # 'This way, false positives are avoided when the next data point is non-breaching'
    assert evaluate(_rule(MISSING, 3), _points("- - - X 0"), OK).state == OK


def test_m_out_of_n_breaching_datapoints_need_not_be_consecutive() -> None:
    """'The data points that breach the threshold don't have to be consecutive, but they all must
    be within the last number of data points equal to Evaluation Periods.'"""
    rule = _rule(NOT_BREACHING, 2)
    assert evaluate(rule, _points("- - X 0 X"), OK).state == ALARM
    # two breaching points, but only one of them among the three most recent ones
    assert evaluate(rule, _points("X 0 X 0 0"), ALARM).state == OK


@pytest.mark.parametrize(
    ("operator", "below", "equal", "above"),
    [
        ("GreaterThanOrEqualToThreshold", False, True, True),
        ("GreaterThanThreshold", False, False, True),
        ("LessThanThreshold", True, False, False),
        ("LessThanOrEqualToThreshold", True, True, False),
    ],
)
def test_each_comparison_operator_puts_the_statistic_first(
    operator: str, below: bool, equal: bool, above: bool
) -> None:
    """PutMetricAlarm: 'The specified statistic value is used as the first operand.'"""
    assert breaches(operator, 0.5, 1.0) is below
    assert breaches(operator, 1.0, 1.0) is equal
    assert breaches(operator, 1.5, 1.0) is above
    rule = AlarmRule(60, 1, operator, 1.0, "Sum", NOT_BREACHING)
    assert evaluate(rule, [1.5], OK).state == (ALARM if above else OK)
    assert evaluate(rule, [1.0], OK).state == (ALARM if equal else OK)


def test_a_new_alarm_without_data_stays_insufficient_data_when_missing_is_missing() -> None:
    """'INSUFFICIENT_DATA - The alarm has just started, the metric is not available, or not
    enough data is available': with the default treatment (missing) and no datapoint the alarm
    stays INSUFFICIENT_DATA; notBreaching turns it OK, breaching turns it ALARM."""
    rule = AlarmRule(60, 1, "GreaterThanThreshold", 0.0, "Sum")
    assert rule.treat_missing_data == MISSING
    got = evaluate(rule, [], INSUFFICIENT_DATA)
    assert got.state == INSUFFICIENT_DATA and got.reason.startswith("Insufficient Data")
    nb = AlarmRule(60, 1, "GreaterThanThreshold", 0.0, "Sum", NOT_BREACHING)
    got = evaluate(nb, [], INSUFFICIENT_DATA)
    assert got.state == OK
    assert got.reason == (
        "Threshold Crossed: no datapoints were received for 1 period and 1 missing datapoint "
        "was treated as [NonBreaching]."
    )
    assert evaluate(AlarmRule(60, 1, "GreaterThanThreshold", 0.0, "Sum", BREACHING), [], OK).state
    assert evaluate(
        AlarmRule(60, 1, "GreaterThanThreshold", 0, "Sum", BREACHING), [], OK
    ).state == (ALARM)


def test_dynamodb_namespace_defaults_to_ignore_missing_data() -> None:
    """'Alarms that evaluate metrics in the AWS/DynamoDB namespace default to ignore missing
    data. You can override this': unset -> ignore there, missing elsewhere; a set value wins."""
    base = {
        "Period": 60,
        "EvaluationPeriods": 1,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "Threshold": 1.0,
        "Statistic": "Sum",
    }
    ddb = rule_of({**base, "Namespace": "AWS/DynamoDB"})
    other = rule_of({**base, "Namespace": "AWS/Lambda"})
    chosen = rule_of({**base, "Namespace": "AWS/DynamoDB", "TreatMissingData": "notBreaching"})
    assert ddb and ddb.treat_missing_data == IGNORE
    assert other and other.treat_missing_data == MISSING
    assert chosen and chosen.treat_missing_data == NOT_BREACHING


def test_metric_math_and_anomaly_alarms_are_not_evaluated() -> None:
    assert (
        rule_of({"Metrics": [{"Id": "m1"}], "ComparisonOperator": "GreaterThanThreshold"}) is None
    )
    assert (
        rule_of(
            {
                "Period": 60,
                "Statistic": "Sum",
                "ComparisonOperator": "LessThanLowerOrGreaterThanUpperThreshold",
            }
        )
        is None
    )


def test_statistics_of_a_window() -> None:
    """The five statistics and extended percentiles; statistic sets count their SampleCount."""
    samples = [Sample.of(v) for v in (4.0, 1.0, 3.0, 2.0)] + [Sample(2, 10.0, 4.5, 5.5, raw=False)]
    assert statistic("SampleCount", samples) == 6
    assert statistic("Sum", samples) == 20.0
    assert statistic("Minimum", samples) == 1.0
    assert statistic("Maximum", samples) == 5.5
    assert statistic("Average", samples) == pytest.approx(20.0 / 6)
    assert statistic("p50", samples) == 2.0  # nearest rank over the single values
    assert statistic("p100", samples) == 4.0
    assert statistic("Sum", []) is None  # an empty window is a missing datapoint


def test_evaluated_every_minute_on_sliding_windows() -> None:
    """'For any period of one minute or longer, an alarm is evaluated every minute ... if the
    Period is five minutes (300 seconds) and Evaluation Periods is 1, then at the end of minute 5
    the alarm evaluates based on data from minutes 1 to 5. Then at the end of minute 6, the alarm
    is evaluated based on the data from minutes 2 to 6.' A 10-30 s period: every 10 seconds."""
    rule = AlarmRule(300, 1, "GreaterThanThreshold", 0.0, "Sum")
    t5 = 1_800_000_000 + 300  # end of minute 5 (a minute boundary)
    assert evaluation_time(300, t5 + 59.9) == t5
    assert evaluation_time(300, t5 + 60) == t5 + 60
    assert windows(rule, t5)[-1] == (t5 - 300, t5)
    assert windows(rule, t5 + 60)[-1] == (t5 - 240, t5 + 60)
    assert len(windows(rule, t5)) == rule.evaluation_range == 3
    assert evaluation_time(10, t5 + 19.5) == t5 + 10
    assert evaluation_time(30, t5 + 25) == t5 + 20


def test_state_reason_wording() -> None:
    """The reason names the datapoints, the threshold and the transition, as CloudWatch's."""
    rule = AlarmRule(60, 1, "GreaterThanOrEqualToThreshold", 1.0, "Sum", NOT_BREACHING)
    got = evaluate(
        rule, [None, None, 2.0], OK, timestamps=[1_800_000_000 + 60 * i for i in (0, 1, 2)]
    )
    assert got.state == ALARM
    assert got.reason == (
        "Threshold Crossed: 1 out of the last 1 datapoints [2.0 (15/01/27 08:02:00)] was greater "
        "than or equal to the threshold (1.0) (minimum 1 datapoint for OK -> ALARM transition)."
    )
    assert got.reason_data["recentDatapoints"] == [2.0]
    back = evaluate(rule, [2.0, None, 0.0], ALARM)
    assert back.state == OK
    assert "was not greater than or equal to the threshold (1.0)" in back.reason
    assert "ALARM -> OK" in back.reason


def test_invalid_rules_are_refused() -> None:
    with pytest.raises(ValueError):
        AlarmRule(60, 2, "GreaterThanThreshold", 0.0, "Sum", datapoints_to_alarm=3)
    with pytest.raises(ValueError):
        AlarmRule(60, 1, "Bigger", 0.0, "Sum")
    with pytest.raises(ValueError):
        AlarmRule(60, 1, "GreaterThanThreshold", 0.0, "Median")
