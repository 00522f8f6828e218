"""The technician's screen while ``netcheck run`` measures (issue 18, item 8).

One :class:`Screen` takes the runner's events (:class:`netcheck.run.runner.Event`) and shows:
a line per finished probe with its outcome (:func:`terminal.line`: a refused port is
marked, not "ok"), a running call's figures so far (``live`` events, at most one a second,
from :mod:`netcheck.probes._stream_live`), the overall progress with the time left, and
"rendering reports…" while the reports are written. The verdict is printed last by the
caller (:func:`terminal.closing`).

On a terminal the running probes and the overall line are redrawn in place (rich, its own
refresh thread); anywhere else (a log, a pipe, CI) only plain lines: one per finished
probe and, for a call, its figures at most every :data:`PLAIN_LIVE_EVERY_S` — never a line
a second into a log. Text from the network (hosts, error details) passes
:func:`netcheck.textsafe.visible` before it reaches the screen.
"""

from __future__ import annotations

import logging
import sys
import time
from types import TracebackType
from typing import Any, TextIO

from netcheck.reports import terminal
from netcheck.textsafe import visible

log = logging.getLogger("netcheck.screen")
#: A plain (non-terminal) screen prints a running call's figures at most this often.
PLAIN_LIVE_EVERY_S = 10.0


class Screen:
    """Progress display for one run; use as a context manager around the run."""

    def __init__(self, lang: str = "en", *, tty: bool | None = None, out: TextIO | None = None,
                 console: Any = None) -> None:
        self.lang = lang
        self.out = out if out is not None else sys.stderr
        self.tty = self.out.isatty() if tty is None else tty
        self.planned: list[Any] = []
        self.done = 0
        self.t0 = time.monotonic()
        self._console = console
        self._progress: Any = None
        self._tasks: dict[str, Any] = {}
        self._overall: Any = None
        self._plain_live: dict[str, float] = {}
        self._bound_s: float | None = None  # the plan's upper bound, once per plan, not per redraw

    def __enter__(self) -> Screen:
        if self.tty:
            from rich.console import Console
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            screen = self

            class _Progress(Progress):
                """Redraws the overall line (time left) on every refresh, not only when a
                probe ends: a 60 s trace would otherwise show one number for a minute."""

                def get_renderables(self) -> Any:
                    if screen._overall is not None:
                        self.update(screen._overall, description=screen.overall())
                    return super().get_renderables()

            console = self._console or Console(file=self.out)
            self._progress = _Progress(SpinnerColumn(), TextColumn("{task.description}", markup=False),
                                       TimeElapsedColumn(), console=console, transient=True, refresh_per_second=4)
            self._overall = self._progress.add_task("", total=None)
            self._progress.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    # ------------------------------------------------------------------ events

    def listener(self, event: Any) -> None:
        """The runner's listener: never raises (a display problem must not stop a run)."""
        handler = getattr(self, f"_on_{event.kind}", None)
        try:
            if handler is not None:
                handler(event)
        except Exception:
            log.debug("screen: %s event not shown", event.kind, exc_info=True)

    def _on_planned(self, event: Any) -> None:
        self.planned.append(event.run)
        self._bound_s = None

    def _on_start(self, event: Any) -> None:
        if self._progress is not None:
            self._tasks[event.run.id] = self._progress.add_task(self._label(event.run), total=None)

    def _on_live(self, event: Any) -> None:
        text = f"{self._label(event.run)}: {visible(terminal.live_line(event.live, self.lang))}"
        if self._progress is not None and event.run.id in self._tasks:
            self._progress.update(self._tasks[event.run.id], description=text)
            self._progress.refresh()  # now, on the loop: at most once a second per call
            return
        now = time.monotonic()
        if self._progress is None and now - self._plain_live.get(event.run.id, 0.0) >= PLAIN_LIVE_EVERY_S:
            self._plain_live[event.run.id] = now
            self._print(f"    … {text}")

    def _on_done(self, event: Any) -> None:
        self.done += 1
        if event.run.id in self._tasks and self._progress is not None:
            self._progress.remove_task(self._tasks.pop(event.run.id))
        if event.measurement is None:
            return
        text = "  " + visible(terminal.line(event.run, event.measurement, self.lang))
        # on a terminal the overall line is redrawn with the next refresh (get_renderables)
        self._print(text if self._progress is not None else f"{text}  [{self.overall()}]")

    # ------------------------------------------------------------------ lines

    def overall(self) -> str:
        if self._bound_s is None:
            from netcheck import schedule

            self._bound_s = schedule.bound(self.planned)
        return terminal.overall(self._bound_s, len(self.planned), self.done, time.monotonic() - self.t0, self.lang)

    def rendering(self) -> None:
        """Say that the reports are being written (after the run, before the files)."""
        self._print(terminal.rendering(self.lang))

    def _label(self, run: Any) -> str:
        return visible(terminal.run_label(run, self.lang))

    def _print(self, text: str) -> None:
        if self._progress is not None:
            self._progress.console.print(text, markup=False, highlight=False)
        else:
            print(text, file=self.out, flush=True)
