"""The local CloudWatch: what AWS does with metrics and alarms, for the embedded emulator.

- :mod:`.evaluation`: alarm evaluation as CloudWatch documents it (plain Python, unit-tested
  against the documentation's tables);
- :mod:`.emf`: the metrics of an Embedded Metric Format log event;
- :mod:`.messages`: the SNS notification and the history items of a change of state;
- :mod:`.cloudwatch`: the emulator side, installed by ``emulator.patch_moto()``: initial state,
  actions on a change of state, DescribeAlarmHistory, EMF extraction from Lambda log groups;
- :mod:`.service`: the loop in the stack's process: AWS/SQS queue metrics and the evaluation
  of every metric alarm;
- :mod:`.inbox`: the queue the local stack subscribes to its topics, drained into
  ``notifications.jsonl`` (``ddbstream notifications``).

:class:`LocalMonitoring` starts the loop and the inbox for the local stack::

    mon = LocalMonitoring(endpoint, state_dir, [change_topic, alarm_topic], say=print)
    mon.start()   # after terraform apply (the topics exist)
    ...
    mon.stop()    # before the emulator stops
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

from .inbox import INBOX_FILE, Inbox
from .service import Monitoring

__all__ = ["INBOX_FILE", "Inbox", "LocalMonitoring", "Monitoring"]


class LocalMonitoring:
    """The alarm evaluator, SQS metrics and notification inbox of one local stack."""

    def __init__(
        self,
        endpoint: str,
        state_dir: Path,
        topic_arns: str | Sequence[str] | None,
        say: Callable[[str], None] | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.state_dir = Path(state_dir)
        found = [topic_arns] if isinstance(topic_arns, str) else list(topic_arns or [])
        self.topic_arns = [t for t in found if t]
        self.say = say
        self.loop = Monitoring()
        self.inbox: Inbox | None = None

    def _on_change(self, name: str, old: str, new: str, reason: str) -> None:
        if self.say is not None:
            self.say(f"{time.strftime('%H:%M:%S')} alarm   {name}: {old} -> {new}")

    def start(self) -> None:
        from ddbstream.local import clients, emulator

        from . import cloudwatch

        emulator.patch_moto()
        cloudwatch.listeners.append(self._on_change)
        if self.topic_arns:
            self.inbox = Inbox(
                clients.Clients(self.endpoint), self.topic_arns, self.state_dir / INBOX_FILE
            )
            self.inbox.start()
        self.loop.start()

    def stop(self) -> None:
        from . import cloudwatch

        self.loop.stop()
        if self.inbox is not None:
            self.inbox.stop()
            self.inbox = None
        if self._on_change in cloudwatch.listeners:
            cloudwatch.listeners.remove(self._on_change)
