"""Progress while Terraform works: its output turned into short lines."""

from __future__ import annotations

import time

from .state import Say


def _seconds(took: str) -> float:
    """Terraform's "1m5s" / "25s" / "500ms" as seconds (0 when unreadable)."""
    import re

    total = 0.0
    for value, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", took):
        total += float(value) * {"h": 3600, "m": 60, "s": 1, "ms": 0.001}[unit]
    return total


#: Terraform's "<address>: <verb> complete after 5s" lines, and what they say happened.
_COMPLETED = {"Creation": "created", "Modifications": "updated", "Destruction": "destroyed"}


class TerraformProgress:
    """Turns Terraform's output into short progress lines: each resource as it completes, with
    the elapsed time, and a heartbeat while a resource takes long."""

    def __init__(self, say: Say, started: float | None = None) -> None:
        self.say = say
        self.started = started if started is not None else time.monotonic()
        self.completed = 0
        self.durations: dict[str, float] = {}  # resource -> seconds Terraform reported
        self.errors: list[str] = []
        self._in_error = False
        self._last_heartbeat = 0.0

    def __call__(self, line: str) -> None:
        line = line.rstrip()
        text = line.strip("│╷╵ ").strip()
        elapsed = time.monotonic() - self.started
        if ": Read complete" in text:  # a data source: not a change
            return
        for verb, action in _COMPLETED.items():
            marker = f": {verb} complete"
            if marker in text:
                res, rest = text.split(marker, 1)
                took = rest.split("after", 1)[1].split("[", 1)[0].strip() if "after" in rest else ""
                self.completed += 1
                self.durations[res] = _seconds(took)
                self.say(f"  [{elapsed:5.1f}s] {action:9} {res}" + (f" ({took})" if took else ""))
                return
        if "Still creating..." in text or "Still modifying..." in text:
            if elapsed - self._last_heartbeat >= 10:
                self._last_heartbeat = elapsed
                res = text.split(":", 1)[0]
                self.say(f"  [{elapsed:5.1f}s] waiting   {res} ...")
            return
        if text.startswith("Apply complete!") or text.startswith("No changes."):
            self.say(f"  [{elapsed:5.1f}s] {text}")
            return
        if text.startswith("Error:"):
            self._in_error = True
        if self._in_error and text:
            self.errors.append(text)
            self.say(f"  terraform: {text}")
