"""``--live``: a presence table redrawn in place while events arrive (SPEC §3.8).

Any command that feeds a :class:`~presencectl.engine.runner.Pipeline` can show it::

    from presencectl.ui.live_table import LiveTable, ensure_terminal

    ensure_terminal(env)                      # before connecting: exit 2 if stdout is no tty
    with LiveTable(env, color=use_color, utc=utc, wall_clock=time.time, title=url) as live:
        pipeline = Pipeline(decoder, filt, None, None, limit, recorder)
        live.attach(pipeline)                 # on_event → live.add, markers → live.marker
        ...                                   # feed pipeline.frame(...) / pipeline.marker(...)
    # Here (normal end, error, Ctrl-C alike) the table is gone, the cursor is
    # back, and the final stats-style summary has been printed.

The table (subject, state, last event, last seen, flaps, last reason) lists
the most recently changed subjects first and is redrawn at most
``refresh_per_second`` (4) times a second by rich's refresh thread, so a
million-event file costs no more redraws than a quiet socket. :meth:`add` is
thread-safe against that thread. "Last seen" is relative to ``wall_clock()``
when given (live sources: ``tail``), else to the latest time in the stream
(``cat``, ``replay``: an old capture still reads "3s ago", not "2 years ago").

This module also holds :func:`make_console`, the rich Console over the
environment's stdout that ``stats`` prints its tables with.
"""

from __future__ import annotations

import io
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

from presencectl.core.events import Event, Marker
from presencectl.core.presence import PresenceTracker, SubjectStats
from presencectl.errors import UsageError
from presencectl.ui.console import Environment, choose_color

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["LiveTable", "ensure_terminal", "make_console", "fmt_ago"]

#: Lines the live view needs besides the subject rows (header, table head, footer).
_CHROME = 6


def ensure_terminal(env: Environment) -> None:
    """Refuse ``--live`` when stdout is not a terminal.

    Raises:
        UsageError: stdout is a pipe or a file (exit 2).
    """
    if not env.stdout_isatty:
        raise UsageError(
            "--live draws a table on a terminal, but stdout is not one; "
            "drop --live to get events (use `presencectl stats` for a summary)"
        )


def make_console(env: Environment, color: bool, width: int | None = None) -> tuple[Console, Callable[[], None]]:
    """A rich Console writing to ``env.stdout``, and the function to call when done.

    On a terminal it takes the terminal's size; piped it writes plain text (no
    escape sequences at all) at ``width`` (default: at least 200 columns, so
    tables keep their natural width instead of wrapping ids).
    """
    from rich.console import Console

    stream: TextIO
    encoding = "utf-8"
    if env.stdout is getattr(sys.stdout, "buffer", None):
        encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
        sys.stdout.flush()
    stream = io.TextIOWrapper(env.stdout, encoding=encoding, errors="replace", write_through=True)  # type: ignore[arg-type]
    tty = env.stdout_isatty
    out: TextIO = stream if tty else _TrimLines(stream)  # type: ignore[assignment]
    console = Console(
        file=out,
        force_terminal=tty,
        color_system="auto" if color and tty else ("standard" if color else None),
        no_color=not color,
        highlight=False,
        markup=False,
        emoji=False,
        width=width if width is not None else (None if tty else max(env.width, 200)),
        soft_wrap=False,
    )

    def done() -> None:
        try:
            out.flush()
        except (BrokenPipeError, ValueError):
            pass
        try:
            stream.detach()  # never close env.stdout with the wrapper
        except ValueError:
            pass

    return console, done


class _TrimLines:
    """A text stream that drops the trailing blanks rich pads table lines with (piped output)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.pending = ""

    def write(self, text: str) -> int:
        data = self.pending + text
        head, sep, self.pending = data.rpartition("\n")
        if sep:
            self.stream.write("\n".join(line.rstrip(" ") for line in head.split("\n")) + "\n")
        return len(text)

    def flush(self) -> None:
        if self.pending:
            self.stream.write(self.pending.rstrip(" "))
            self.pending = ""
        self.stream.flush()

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:
        return self.stream.encoding


def fmt_ago(seconds: float | None) -> str:
    """How long ago, briefly: ``now``, ``12s ago``, ``3m05s ago``, ``2h05m ago``.

    >>> fmt_ago(75)
    '1m15s ago'
    """
    if seconds is None:
        return "-"
    if seconds < 1:
        return "now"
    from presencectl.ui.stats import fmt_duration

    return f"{fmt_duration(int(seconds))} ago"


class LiveTable:
    """A context manager showing a live presence table on the terminal.

    Args:
        env: the environment; stdout must be a terminal (see :func:`ensure_terminal`).
        tracker: the tracker to fill and show (default: a new one with the
            default flap window and gap).
        color: colour the table (default: ``--color auto`` rules for stdout).
        utc: times in the summary in UTC (else local time).
        wall_clock: returns "now" in epoch seconds for "last seen"; None to
            measure against the latest time in the stream.
        title: what is being watched (URL or file), shown in the header.
        refresh_per_second: redraw rate cap (SPEC: at most 4).
        summary: print the stats-style summary when the table closes.

    Raises:
        UsageError: stdout is not a terminal.
    """

    def __init__(
        self,
        env: Environment,
        tracker: PresenceTracker | None = None,
        *,
        color: bool | None = None,
        utc: bool = False,
        wall_clock: Callable[[], float] | None = None,
        title: str | None = None,
        refresh_per_second: float = 4,
        summary: bool = True,
    ) -> None:
        ensure_terminal(env)
        self.env = env
        self.tracker = tracker if tracker is not None else PresenceTracker()
        self.color = choose_color("auto", env.stdout_isatty, env.environ) if color is None else color
        self.utc = utc
        self.wall_clock = wall_clock
        self.title = title
        self.refresh_per_second = min(float(refresh_per_second), 4.0)
        self.summary = summary
        self.connection: str | None = None
        self._lock = threading.Lock()
        self._live: Any = None
        self._console: Console | None = None
        self._done: Callable[[], None] | None = None
        self._saved_stderr: TextIO | None = None

    # ------------------------------------------------------------ lifecycle
    def __enter__(self) -> LiveTable:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Show the table (``with LiveTable(...)`` calls this)."""
        from rich.live import Live

        console, done = make_console(self.env, self.color)
        self._console, self._done = console, done
        if self.env.stderr_isatty:
            # Notices (reconnecting, warnings) go above the table instead of
            # through it while it is shown.
            from rich.file_proxy import FileProxy

            self._saved_stderr = self.env.stderr
            self.env.stderr = FileProxy(console, self.env.stderr)  # type: ignore[assignment]
        self._live = Live(
            get_renderable=self.render,
            console=console,
            auto_refresh=True,
            refresh_per_second=self.refresh_per_second,
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
            vertical_overflow="crop",
        )
        self._live.start()

    def close(self) -> None:
        """Remove the table, restore the terminal, print the summary. Idempotent."""
        live, self._live = self._live, None
        if live is None:
            return
        try:
            live.stop()
        finally:
            if self._saved_stderr is not None:
                proxy = self.env.stderr
                self.env.stderr = self._saved_stderr
                self._saved_stderr = None
                try:
                    proxy.flush()
                except (AttributeError, ValueError):
                    pass
            console = self._console
            try:
                if self.summary and console is not None:
                    from presencectl.ui.stats import print_report

                    with self._lock:
                        print_report(console, self.tracker, utc=self.utc, top=20, title=self.title, counts=False)
            finally:
                if self._done is not None:
                    self._done()
                    self._done = None

    # ---------------------------------------------------------------- input
    def attach(self, pipeline: Any) -> None:
        """Feed this table from a :class:`~presencectl.engine.runner.Pipeline`.

        Sets the pipeline's ``on_event`` to :meth:`add` and passes its
        connection markers to :meth:`marker` as well as to the recorder.
        """
        pipeline.on_event = self.add
        record_marker = pipeline.marker

        def marker(m: Marker) -> None:
            record_marker(m)
            self.marker(m)

        pipeline.marker = marker

    def add(self, event: Event) -> None:
        """Take one event (use as the Pipeline's ``on_event``). Thread-safe."""
        with self._lock:
            self.tracker.add(event)

    def marker(self, marker: Marker) -> None:
        """Note a connection marker (connected, disconnected, reconnecting) in the header."""
        with self._lock:
            self.tracker.marker(marker)
            self.connection = marker.mark

    # --------------------------------------------------------------- output
    def rows_that_fit(self) -> int:
        """How many subject rows fit on the terminal (at least 1)."""
        height = self._console.size.height if self._console is not None else 24
        return max(1, height - _CHROME)

    def snapshot(self, limit: int) -> tuple[list[SubjectStats], int, dict[str, int], float | None]:
        """(the ``limit`` most recently changed subjects, how many there are, states, now)."""
        with self._lock:
            tracker = self.tracker
            subjects = list(tracker.subjects.values())
            states = tracker.states()
            now = self.wall_clock() if self.wall_clock is not None else tracker.last_t
        import heapq

        shown = heapq.nlargest(limit, subjects, key=lambda s: (s.changed_seq, s.seen_seq))
        return shown, len(subjects), states, now

    def render(self) -> Any:
        """The current view (rich calls this on every refresh)."""
        from rich import box
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        from presencectl.core.render import KIND_STYLES
        from presencectl.ui.stats import STATE_STYLES, _cell, state_cell

        rows, total, states, now = self.snapshot(self.rows_that_fit())
        tracker = self.tracker
        header = Text()
        header.append("presencectl", style="bold")
        if self.title:
            header.append("  ")
            header.append_text(_cell(self.title, "dim"))
        header.append(f"  {tracker.events:,} events  {total:,} subjects: ")
        header.append(f"{states['online']:,} online", style=STATE_STYLES["online"])
        header.append(", ")
        header.append(f"{states['offline']:,} offline", style=STATE_STYLES["offline"])
        if states["unknown"]:
            header.append(f", {states['unknown']:,} unknown")
        if tracker.malformed:
            header.append(f"  {tracker.malformed:,} malformed", style="yellow")
        if self.connection:
            header.append(f"  [{self.connection}]", style="green" if self.connection == "connected" else "yellow")

        table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, expand=False)
        table.add_column("subject", overflow="ellipsis", no_wrap=True, max_width=40)
        table.add_column("state", no_wrap=True)
        table.add_column("last event", overflow="ellipsis", no_wrap=True, max_width=32)
        table.add_column("last seen", no_wrap=True, justify="right")
        table.add_column("flaps", justify="right", no_wrap=True)
        table.add_column("last reason", overflow="ellipsis", no_wrap=True, max_width=32)
        for s in rows:
            if self.wall_clock is not None:
                seen = s.last_received if s.last_received is not None else s.last_t
            else:
                seen = s.last_t
            ago = None if seen is None or now is None else max(0.0, now - seen)
            table.add_row(
                _cell(s.subject),
                state_cell(s.state),
                _cell(s.last_type, KIND_STYLES.get(s.last_kind, ("white", ""))[0]),
                Text(fmt_ago(ago)),
                Text(str(s.flaps), style="bold yellow" if s.flaps else "dim"),
                _cell(s.last_reason),
            )
        parts: list[Any] = [header, table]
        if total > len(rows):
            parts.append(Text(f"… {total - len(rows):,} more subjects (the least recently changed)", style="dim"))
        elif not total:
            parts.append(Text("waiting for events…", style="dim"))
        return Group(*parts)
