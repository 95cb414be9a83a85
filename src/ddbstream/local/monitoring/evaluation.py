"""CloudWatch metric alarm evaluation, as plain Python (no moto, no boto3).

Every rule here comes from CloudWatch's documentation ("Alarm evaluation", "Configuring how
CloudWatch alarms treat missing data", "Avoiding premature transitions to alarm state",
``PutMetricAlarm``); where the documentation is silent the assumption is said in a comment:

- **States.** ``OK``, ``ALARM``, ``INSUFFICIENT_DATA``; a new alarm starts in
  ``INSUFFICIENT_DATA`` (the emulator's side, :mod:`.cloudwatch`).
- **When.** An alarm with a period of a minute or more is evaluated every minute, on the window
  of the last ``Period`` seconds ending at that minute (a sliding window: period 5 min, at the end
  of minute 6 the data of minutes 2-6); an alarm with a period of 10, 20 or 30 s every 10 s.
  :func:`evaluation_time` and :func:`windows`.
- **What.** Each window's datapoint is the alarm's statistic over the samples in it
  (``SampleCount``, ``Average``, ``Sum``, ``Minimum``, ``Maximum``, or an extended statistic
  ``pNN``); a window without samples is *missing*. :func:`statistic`.
- **Breaching.** The datapoint compared to the threshold with the comparison operator
  (statistic first). :func:`breaches`.
- **M out of N** and **missing data** (:func:`evaluate`): CloudWatch retrieves more datapoints
  than ``EvaluationPeriods`` (N), the *evaluation range*. With at least N real datapoints in the
  range, the N most recent real ones are evaluated and ``TreatMissingData`` is not used: ALARM
  when at least ``DatapointsToAlarm`` (M) of them breach, else OK. With fewer, the missing ones
  are filled in, as few as possible (N minus the real ones), by ``TreatMissingData``:
  ``breaching`` / ``notBreaching`` count them as breaching / not; ``missing``: no real datapoint
  in the range is INSUFFICIENT_DATA; ``ignore``: the current state is kept where ``missing``
  would give INSUFFICIENT_DATA or a premature ALARM. The default is ``missing``, except for the
  ``AWS/DynamoDB`` namespace whose default is ``ignore``.
- **Premature alarm** (``missing`` only): ALARM even with fewer than M datapoints when the oldest
  breaching datapoint is at least M periods old and every more recent datapoint breaches or is
  missing.

Assumptions where the documentation gives no number or wording:

- the evaluation range is N + 2 periods (both of the documentation's tables: N = 3, range 5);
- the premature rule applies only when there are fewer real datapoints than M ("even if the
  total number of datapoints available is lower than M"); that reading, and the stricter "no
  non-breaching datapoint at all", both reproduce every row of the documentation's tables;
- with ``missing`` and fewer than N real datapoints that neither reach M breaching nor make a
  premature alarm, the state is OK (the tables' rows ``0 - - - -`` and ``- - - - 0``);
- the state reasons follow the wording CloudWatch uses in its alarm history and notifications
  (``Threshold Crossed: ...``); they are informational, as on AWS.

Not evaluated: metric math alarms (``Metrics``) and anomaly-detection operators; such an alarm
keeps its state (:func:`rule_of` returns None for it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

OK = "OK"
ALARM = "ALARM"
INSUFFICIENT_DATA = "INSUFFICIENT_DATA"
STATES = (OK, ALARM, INSUFFICIENT_DATA)

BREACHING = "breaching"
NOT_BREACHING = "notBreaching"
IGNORE = "ignore"
MISSING = "missing"
TREATMENTS = (BREACHING, NOT_BREACHING, IGNORE, MISSING)

#: The comparison operators of a static threshold, and their wording in a state reason.
OPERATORS: dict[str, str] = {
    "GreaterThanOrEqualToThreshold": "greater than or equal to",
    "GreaterThanThreshold": "greater than",
    "LessThanThreshold": "less than",
    "LessThanOrEqualToThreshold": "less than or equal to",
}
STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")

#: Extra periods retrieved beyond EvaluationPeriods (the evaluation range is N + 2; assumed from
#: the documentation's two examples, where N = 3 and the range is 5).
EXTRA_RANGE = 2


@dataclass(frozen=True)
class AlarmRule:
    """What :func:`evaluate` needs of a metric alarm."""

    period: int
    evaluation_periods: int
    comparison_operator: str
    threshold: float
    statistic: str  # one of STATISTICS, or an extended statistic "p0.0".."p100"
    treat_missing_data: str = MISSING
    datapoints_to_alarm: int | None = None

    def __post_init__(self) -> None:
        if self.comparison_operator not in OPERATORS:
            raise ValueError(f"unsupported comparison operator {self.comparison_operator!r}")
        if self.treat_missing_data not in TREATMENTS:
            raise ValueError(f"unknown TreatMissingData {self.treat_missing_data!r}")
        if self.evaluation_periods < 1 or self.period < 1:
            raise ValueError("period and evaluation periods must be at least 1")
        if not 1 <= self.m <= self.evaluation_periods:
            raise ValueError("DatapointsToAlarm must be from 1 to EvaluationPeriods")
        if self.statistic not in STATISTICS and _percentile(self.statistic) is None:
            raise ValueError(f"unsupported statistic {self.statistic!r}")

    @property
    def m(self) -> int:
        """DatapointsToAlarm; the same as EvaluationPeriods when not set."""
        return self.datapoints_to_alarm or self.evaluation_periods

    @property
    def evaluation_range(self) -> int:
        return self.evaluation_periods + EXTRA_RANGE


def rule_of(alarm: Mapping[str, Any]) -> AlarmRule | None:
    """The rule of a metric alarm as ``DescribeAlarms`` returns it (``MetricAlarms`` item), or
    None when it cannot be evaluated here (metric math, anomaly detection, no period)."""
    if alarm.get("Metrics") or alarm.get("ThresholdMetricId"):
        return None
    op = alarm.get("ComparisonOperator")
    stat = alarm.get("Statistic") or alarm.get("ExtendedStatistic")
    if op not in OPERATORS or not stat or not alarm.get("Period"):
        return None
    treat = alarm.get("TreatMissingData")
    if not treat:
        treat = IGNORE if alarm.get("Namespace") == "AWS/DynamoDB" else MISSING
    try:
        return AlarmRule(
            period=int(alarm["Period"]),
            evaluation_periods=int(alarm.get("EvaluationPeriods") or 1),
            datapoints_to_alarm=int(alarm["DatapointsToAlarm"])
            if alarm.get("DatapointsToAlarm")
            else None,
            comparison_operator=op,
            threshold=float(alarm.get("Threshold") or 0.0),
            statistic=stat,
            treat_missing_data=treat,
        )
    except (ValueError, TypeError):
        return None


# ---------------------------------------------------------------------------------------------
# Time: when an alarm is evaluated, and the windows it looks at
# ---------------------------------------------------------------------------------------------


def evaluation_interval(period: int) -> int:
    """Seconds between two evaluations: 10 for a 10, 20 or 30 s period, else 60."""
    return 10 if period < 60 else 60


def evaluation_time(period: int, now: float) -> float:
    """The latest evaluation instant at or before ``now`` (epoch seconds)."""
    step = evaluation_interval(period)
    return math.floor(now / step) * step


def windows(rule: AlarmRule, at: float) -> list[tuple[float, float]]:
    """The evaluation range's windows [start, end) evaluated at ``at``, oldest first."""
    n = rule.evaluation_range
    return [(at - (n - i) * rule.period, at - (n - i - 1) * rule.period) for i in range(n)]


# ---------------------------------------------------------------------------------------------
# Datapoints: a statistic of the samples in a window
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """One stored value (``count`` 1) or a statistic set (PutMetricData StatisticValues)."""

    count: float
    total: float
    minimum: float
    maximum: float
    raw: bool = True  # a single value, usable for percentiles

    @staticmethod
    def of(value: float) -> Sample:
        return Sample(1.0, value, value, value)


def _percentile(stat: str) -> float | None:
    if not stat.startswith("p"):
        return None
    try:
        p = float(stat[1:])
    except ValueError:
        return None
    return p if 0.0 <= p <= 100.0 else None


def statistic(stat: str, samples: Sequence[Sample]) -> float | None:
    """The statistic of a window's samples; None when the window is empty (missing).

    A percentile uses the single values only (nearest rank); statistic sets carry no
    distribution, so a window holding only statistic sets has no percentile (missing)."""
    if not samples:
        return None
    if stat == "SampleCount":
        return sum(s.count for s in samples)
    if stat == "Sum":
        return sum(s.total for s in samples)
    if stat == "Minimum":
        return min(s.minimum for s in samples)
    if stat == "Maximum":
        return max(s.maximum for s in samples)
    if stat == "Average":
        n = sum(s.count for s in samples)
        return sum(s.total for s in samples) / n if n else None
    p = _percentile(stat)
    if p is None:
        raise ValueError(f"unsupported statistic {stat!r}")
    values = sorted(s.total for s in samples if s.raw)
    if not values:
        return None
    rank = max(1, math.ceil(p / 100.0 * len(values)))
    return values[rank - 1]


def breaches(operator: str, value: float, threshold: float) -> bool:
    """The datapoint against the threshold, the statistic being the first operand."""
    if operator == "GreaterThanOrEqualToThreshold":
        return value >= threshold
    if operator == "GreaterThanThreshold":
        return value > threshold
    if operator == "LessThanThreshold":
        return value < threshold
    if operator == "LessThanOrEqualToThreshold":
        return value <= threshold
    raise ValueError(f"unsupported comparison operator {operator!r}")


# ---------------------------------------------------------------------------------------------
# The evaluation
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Evaluation:
    """The outcome of one evaluation. ``state`` is the state the alarm should be in (the current
    one when ``retained``); ``reason`` and ``reason_data`` are set on a change."""

    state: str
    reason: str
    retained: bool = False
    reason_data: dict[str, Any] = field(default_factory=dict)


def evaluate(
    rule: AlarmRule,
    datapoints: Sequence[float | None],
    current: str,
    timestamps: Sequence[float] | None = None,
) -> Evaluation:
    """Evaluate ``rule`` on the evaluation range's datapoints (oldest first, None = missing; a
    shorter list is padded with missing ones at the old end) given the ``current`` state.

    ``timestamps`` (the windows' start times, epoch seconds) only feed the state reason."""
    n, m = rule.evaluation_periods, rule.m
    points = list(datapoints)[-rule.evaluation_range :]
    points = [None] * (rule.evaluation_range - len(points)) + points
    starts = list(timestamps)[-len(points) :] if timestamps else [None] * len(points)
    # the real datapoints, newest first, with their age in periods (1 = the newest window)
    real = [
        (age, v, starts[-age]) for age, v in enumerate(reversed(points), start=1) if v is not None
    ]

    def is_breaching(v: float) -> bool:
        return breaches(rule.comparison_operator, v, rule.threshold)

    def outcome(state: str, used: list[tuple[int, float, float | None]], filled: int) -> Evaluation:
        breached = sum(1 for _, v, _ in used if is_breaching(v))
        if rule.treat_missing_data == BREACHING:
            breached += filled
        reason = _reason(rule, state, current, used, filled, breached)
        data = _reason_data(rule, used)
        return Evaluation(state=state, reason=reason, reason_data=data)

    # At least N real datapoints: the N most recent real ones decide; missing data is not used.
    if len(real) >= n:
        used = real[:n]
        breached = sum(1 for _, v, _ in used if is_breaching(v))
        return outcome(ALARM if breached >= m else OK, used, 0)

    filled = n - len(real)
    treat = rule.treat_missing_data
    breached_real = sum(1 for _, v, _ in real if is_breaching(v))

    if treat in (BREACHING, NOT_BREACHING):
        breached = breached_real + (filled if treat == BREACHING else 0)
        return outcome(ALARM if breached >= m else OK, real, filled)

    # missing / ignore
    if not real:
        if treat == IGNORE:
            return Evaluation(state=current, reason="", retained=True)
        return Evaluation(
            state=INSUFFICIENT_DATA,
            reason=f"Insufficient Data: {_count(filled, 'datapoint')} "
            f"{'was' if filled == 1 else 'were'} unknown.",
            reason_data=_reason_data(rule, []),
        )
    if breached_real >= m:
        return outcome(ALARM, real, 0)
    if _premature(real, m, is_breaching):
        if treat == IGNORE:
            return Evaluation(state=current, reason="", retained=True)
        return outcome(ALARM, real, 0)
    return outcome(OK, real, 0)


def _premature(real: list[tuple[int, float, float | None]], m: int, is_breaching: Any) -> bool:
    """ "Avoiding premature transitions to alarm state": fewer real datapoints than M, the oldest
    breaching one at least M periods old, every more recent one breaching (or missing)."""
    if len(real) >= m:
        return False
    breaching_ages = [age for age, v, _ in real if is_breaching(v)]
    if not breaching_ages:
        return False
    oldest = max(breaching_ages)
    if oldest < m:
        return False
    return all(is_breaching(v) for age, v, _ in real if age < oldest)


def _count(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _num(v: float) -> str:
    return repr(float(v))


def _stamp(t: float | None) -> str:
    if t is None:
        return ""
    return " (" + datetime.fromtimestamp(t, UTC).strftime("%d/%m/%y %H:%M:%S") + ")"


def _reason(
    rule: AlarmRule,
    state: str,
    current: str,
    used: list[tuple[int, float, float | None]],
    filled: int,
    breached: int,
) -> str:
    op = OPERATORS[rule.comparison_operator]
    thr = _num(rule.threshold)
    treated = "Breaching" if rule.treat_missing_data == BREACHING else "NonBreaching"
    if not used:
        return (
            f"Threshold Crossed: no datapoints were received for {_count(filled, 'period')} and "
            f"{_count(filled, 'missing datapoint')} {'was' if filled == 1 else 'were'} treated "
            f"as [{treated}]."
        )
    values = ", ".join(f"{_num(v)}{_stamp(t)}" for _, v, t in used)
    total = len(used) + filled
    if state == ALARM:
        shown, verb = breached, f"{'was' if breached == 1 else 'were'} {op}"
    else:
        shown = total - breached
        verb = f"{'was' if shown == 1 else 'were'} not {op}"
    prev = current if current != state else ("OK" if state == ALARM else "ALARM")
    # breaching datapoints to alarm; non-breaching ones to leave ALARM (N - M + 1)
    need = rule.m if state == ALARM else rule.evaluation_periods - rule.m + 1
    text = (
        f"Threshold Crossed: {shown} out of the last {total} datapoints [{values}] {verb} the "
        f"threshold ({thr}) (minimum {_count(need, 'datapoint')} "
        f"for {prev} -> {state} transition)."
    )
    if filled:
        text = text[:-1] + (
            f"; {_count(filled, 'missing datapoint')} {'was' if filled == 1 else 'were'} "
            f"treated as [{treated}]."
        )
    return text


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def _reason_data(rule: AlarmRule, used: list[tuple[int, float, float | None]]) -> dict[str, Any]:
    """StateReasonData, as CloudWatch writes it for a threshold alarm."""
    data: dict[str, Any] = {
        "version": "1.0",
        "statistic": rule.statistic,
        "period": rule.period,
        "recentDatapoints": [float(v) for _, v, _ in reversed(used)],
        "threshold": float(rule.threshold),
    }
    evaluated = [{"timestamp": _iso(t), "value": float(v)} for _, v, t in used if t is not None]
    if evaluated:
        data["evaluatedDatapoints"] = evaluated
    return data
