"""What the demo prints: the steps with their checks, a progress bar, the closing summary."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

BUDGET_SECONDS = 180.0

OK = "✔"
FAIL = "✘"


@dataclass
class Step:
    """One step of the walkthrough: what it verified (✔/✘ lines) and how long it took."""

    title: str
    ok: bool = True
    facts: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def check(self, cond: bool, text: str) -> bool:
        self.facts.append(f"{OK if cond else FAIL} {text}")
        self.ok = self.ok and cond
        return cond


class Printer:
    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stdout
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def __call__(self, text: str = "") -> None:
        print(text, file=self.stream, flush=True)

    def cmd(self, text: str) -> None:
        """An equivalent AWS CLI command, shown for the reader to try."""
        self(f"  $ {text}")


class ProgressBar:
    """A one-line bar on a terminal; a line per quarter elsewhere (logs, CI)."""

    def __init__(self, out: Printer, total: int, label: str) -> None:
        self.out, self.total, self.label = out, max(total, 1), label
        self.started = time.monotonic()
        self._next_quarter = 0.25
        self.done = 0

    def update(self, done: int) -> None:
        self.done = done
        frac = min(done / self.total, 1.0)
        elapsed = time.monotonic() - self.started
        if self.out.tty:
            width = 30
            bar = "█" * int(frac * width) + "░" * (width - int(frac * width))
            self.out.stream.write(f"\r  {self.label} [{bar}] {done}/{self.total}  {elapsed:5.1f}s")
            self.out.stream.flush()
        elif frac >= self._next_quarter:
            self.out(f"  {self.label}: {done}/{self.total} ({elapsed:.1f}s)")
            while frac >= self._next_quarter:
                self._next_quarter += 0.25

    def close(self) -> None:
        if self.out.tty:
            self.out.stream.write("\n")
            self.out.stream.flush()


@contextmanager
def timed(step: Step) -> Iterator[Step]:
    """Time ``step``; an exception inside is a failed check of the step, not a crashed demo."""
    t0 = time.monotonic()
    try:
        yield step
    except Exception as exc:
        step.check(False, f"{type(exc).__name__}: {exc}")
    finally:
        step.seconds = time.monotonic() - t0


#: The local stack's start timings (state file keys) as the summary names them.
_STACK_TIMINGS = (
    ("emulator", "emulator start"),
    ("package", "Lambda package"),
    ("terraform_init", "terraform init"),
    ("terraform_apply", "terraform apply"),
    ("runtime", "runtime start"),
)


def summary(
    run: str,
    steps: list[Step],
    total: float,
    stack_timings: dict[str, float],
    slowest: list[tuple[str, float]],
    footer: str = "",
) -> str:
    """The closing summary: each step's checks, where the time went, the verdict."""
    lines = ["", "=" * 78, f"ddbstream demo — summary (run {run})", "=" * 78]
    for s in steps:
        mark = OK if s.ok else FAIL
        lines.append(f"{mark} {s.title:<48} {s.seconds:7.1f}s")
        lines += [f"    {f}" for f in s.facts]
    lines.append("-" * 78)
    lines.append("Where the time went:")
    for s in steps:
        lines.append(f"  {s.title:<40} {s.seconds:7.1f}s")
        if s.title == "Local stack" and stack_timings:
            for key, label in _STACK_TIMINGS:
                if key in stack_timings:
                    lines.append(f"    {label:<38} {stack_timings[key]:7.1f}s")
            if slowest:
                lines.append(
                    "      slowest resources (the AWS provider's own waits): "
                    + ", ".join(f"{r} {sec:.0f}s" for r, sec in slowest)
                )
    verdict = "within" if total <= BUDGET_SECONDS else "OVER"
    lines.append(f"  {'total':<40} {total:7.1f}s  ({verdict} the {BUDGET_SECONDS:.0f}s budget)")
    failed = [s.title for s in steps if not s.ok]
    lines.append("-" * 78)
    lines.append(f"{FAIL} failed: {', '.join(failed)}" if failed else f"{OK} every step verified")
    if footer:
        lines.append(footer)
    return "\n".join(lines)
