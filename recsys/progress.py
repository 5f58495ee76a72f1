"""Progress that shows wherever the output goes: a rich bar on a terminal, otherwise a plain line
every few steps (under `dvc repro` writing to a log, a bar would print nothing until the stage ends)."""

from __future__ import annotations

import sys
import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


class Steps:
    """`with Steps("finetune", total) as steps: steps.advance(status="loss 1.23")`."""

    def __init__(self, label: str, total: int, done: int = 0, enabled: bool = True, lines: int = 20):
        self.label, self.total, self.done, self.enabled = label, total, done, enabled
        self.every = max(1, total // lines)  # a line per 1/lines of the work when not on a terminal
        self.next_line = done + self.every
        self.bar: Progress | None = None
        self.console = Console(stderr=True)

    def __enter__(self) -> Steps:
        self.began = time.monotonic()
        if self.enabled and self.console.is_terminal:
            self.bar = Progress(TextColumn(self.label), BarColumn(), MofNCompleteColumn(),
                                TextColumn("{task.fields[status]}"), TimeRemainingColumn(), console=self.console)
            self.bar.start()
            self.task = self.bar.add_task(self.label, total=self.total, completed=self.done, status="")
        return self

    def advance(self, n: int = 1, status: str = "") -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(self.task, advance=n, status=status)
        elif self.enabled and (self.done >= self.next_line or self.done == self.total):
            self.next_line = self.done + self.every
            elapsed = time.monotonic() - self.began
            print(f"{self.label} {self.done}/{self.total} {status} [{elapsed:.0f}s]".replace("  ", " "),
                  file=sys.stderr, flush=True)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()
