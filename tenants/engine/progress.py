"""How a long run over many schemas shows itself: a live bar on a terminal, a line per schema elsewhere.

A run reports each schema it finishes with `advance()`. The line display
writes that schema's line (with its timing) at once, as a log or a CI job
wants it. The bar display only counts: rich's own thread redraws the bar a
few times a second from those counts, so a schema costs an addition or two
(well under a microsecond) whether the run does 10 schemas or 10,000, and
rich is imported only when a bar is actually drawn.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import IO, Any, Protocol, cast

# Modes of --progress: what `auto` becomes is decided by whether the output is a terminal.
PROGRESS_MODES = ("auto", "bar", "lines")
BAR_REFRESHES_PER_SECOND = 4


class RunDisplay(Protocol):
    def start(self, total: int) -> None:
        """Work on `total` schemas begins."""

    def advance(self, *, failed: bool, line: Callable[[], str]) -> None:
        """One schema is done; `line` describes it (called only if the display shows it)."""

    def stop(self) -> None:
        """The work is over (or was interrupted): leave the output clean for what follows."""


class SchemaLines:
    """A line per schema as it is done, with its timing; at verbosity 0, only the failures."""

    def __init__(self, write: Callable[[str], Any], *, verbosity: int = 1) -> None:
        self.write = write
        self.verbosity = verbosity

    def start(self, total: int) -> None:
        pass

    def advance(self, *, failed: bool, line: Callable[[], str]) -> None:
        if failed or self.verbosity >= 1:
            self.write(line())

    def stop(self) -> None:
        pass


class TextStream:
    """A Django OutputWrapper seen as a plain text stream (what rich writes to: write, flush, isatty) (rich writes partial lines and control codes)."""

    def __init__(self, out: Any) -> None:
        self._out = out

    def write(self, text: str) -> int:
        self._out.write(text, style_func=_unstyled, ending="")
        return len(text)

    def flush(self) -> None:
        self._out.flush()

    def isatty(self) -> bool:
        return True


def _unstyled(text: str) -> str:
    return text


class ProgressBar:
    """A live bar: schemas done of total, rate, time left, failures so far; failures also printed above it."""

    def __init__(self, out: Any, *, verb: str = "Migrating", noun: str = "schemas", width: int | None = None) -> None:
        self.out = out
        self.verb = verb
        self.noun = noun
        self.width = width
        self.done = 0
        self.failed = 0
        self._progress: Any = None
        self._task: Any = None

    def start(self, total: int) -> None:
        self._progress = _rich_progress(self, noun=self.noun)
        self._task = self._progress.add_task(self.verb, total=total, failed=0)
        self._progress.start()

    def advance(self, *, failed: bool, line: Callable[[], str]) -> None:
        self.done += 1
        if failed:
            self.failed += 1
            if self._progress is not None:
                self._progress.console.print(line(), style="red", markup=False, highlight=False, soft_wrap=True)
                self._progress.refresh()

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()  # a last refresh: the bar stays on screen at its final count
            self._progress = None


def _rich_progress(bar: ProgressBar, *, noun: str) -> Any:
    """rich's Progress, reading the bar's counts when it redraws (rich is imported here, when first drawn).

    `Migrating ━━━━━━━━━━━━━━━━━━━  120/300 schemas  41.3/s  0:00:04 left  0 failed`: the bar takes the
    width the rest leaves, and no column wraps, so that it stays one line on an 80-column terminal.
    """
    from rich.console import Console
    from rich.progress import BarColumn, Progress, ProgressColumn, TextColumn, TimeRemainingColumn
    from rich.table import Column
    from rich.text import Text

    class CountedProgress(Progress):
        def get_renderable(self) -> Any:
            # On rich's refresh thread: the run itself only adds to the counts.
            if bar._task is not None:
                self.update(bar._task, completed=bar.done, failed=bar.failed)
            return super().get_renderable()

    class RateColumn(ProgressColumn):
        def render(self, task: Any) -> Text:
            # rich's estimate over the last 30 s; before it has two samples, or at the end, the run's mean.
            speed = task.speed or (task.completed / task.elapsed if task.completed and task.elapsed else None)
            if speed is None:
                return Text("-/s")
            return Text(f"{speed:,.0f}/s" if speed >= 100 else f"{speed:.1f}/s")

    def fixed() -> Column:
        return Column(no_wrap=True)

    console = Console(file=cast(IO[str], TextStream(bar.out)), force_terminal=True, width=bar.width, highlight=False)
    return CountedProgress(
        TextColumn("{task.description}", table_column=fixed()),
        BarColumn(bar_width=None),
        TextColumn(f"{{task.completed}}/{{task.total}} {noun}", table_column=fixed()),
        RateColumn(table_column=fixed()),
        TimeRemainingColumn(table_column=fixed()),
        TextColumn("left", table_column=fixed()),
        TextColumn("{task.fields[failed]} failed", table_column=fixed()),
        console=console,
        refresh_per_second=BAR_REFRESHES_PER_SECOND,
        expand=True,
    )


def run_display(
    out: Any, *, mode: str = "auto", verbosity: int = 1, verb: str = "Migrating", noun: str = "schemas"
) -> RunDisplay:
    """Return the bar on a terminal (or when asked for), else the lines; verbosity 0 is always lines (failures)."""
    if wants_bar(out, mode=mode, verbosity=verbosity):
        return ProgressBar(out, verb=verb, noun=noun)
    return SchemaLines(out.write, verbosity=verbosity)


def wants_bar(out: Any, *, mode: str, verbosity: int) -> bool:
    """A bar when asked for, or by default on a terminal; never at verbosity 0 (failures only, as lines)."""
    return verbosity >= 1 and (mode == "bar" or (mode == "auto" and _is_terminal(out)))


def _is_terminal(out: Any) -> bool:
    isatty = getattr(out, "isatty", None)
    return bool(isatty and isatty())
