"""A rich progress bar over the bytes of input files, on stderr (a no-op when disabled)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID


class FileProgress:
    """Bytes read and records handled; screen updates at most every ``every`` records."""

    def __init__(self, label: str, enabled: bool, total_bytes: int, every: int = 2000) -> None:
        self.progress: Progress | None = None
        self.task: TaskID | None = None
        self.pending = 0
        self.every = every
        self._shown = 0
        if not enabled:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TransferSpeedColumn,
        )

        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TextColumn("{task.fields[records]:,} records"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
        )
        self.task = self.progress.add_task(label, total=total_bytes, records=0)
        self.progress.start()

    def describe(self, name: str) -> None:
        if self.progress is not None and self.task is not None:
            self.progress.update(self.task, description=name)

    def advance(self, nbytes: int, records: int) -> None:
        """``nbytes`` more were read; ``records`` have been handled so far."""
        if self.progress is None or self.task is None:
            return
        self.pending += nbytes
        if records - self._shown >= self.every:
            self.progress.update(self.task, advance=self.pending, records=records)
            self.pending, self._shown = 0, records

    def stop(self, records: int) -> None:
        if self.progress is not None and self.task is not None:
            self.progress.update(self.task, advance=self.pending, records=records)
            self.progress.stop()
