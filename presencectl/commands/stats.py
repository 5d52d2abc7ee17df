"""``presencectl stats``: what happened in a capture (SPEC §3.5).

One pass over the file(s) through the same decoder and filters as ``cat``,
into a :class:`~presencectl.core.presence.PresenceTracker`. On a terminal the
result is a set of rich tables; piped (and without ``--json``) the same
tables in plain text, because a report redirected to a file or pasted into a
ticket should read the same as on screen, and SPEC §3.5 gives scripts
``--json``. Definitions of every figure (flap, connect, offline time, gap,
last reason, the time of an event) are in :mod:`presencectl.core.presence`.

JSON schema ``presencectl.stats/1`` (``--json``; one object; keys are stable
and a test fails if they change; times are ISO 8601 UTC strings or null,
durations are seconds rounded to milliseconds)::

    schema           "presencectl.stats/1"
    settings         {"clock": "event"|"received", "gap_s": 60.0, "flap_window_s": 300.0}
    events           events counted (after filters; Span keep-alives only with --keepalive)
    malformed        of those, payloads that could not be parsed (dialect null)
    untimed          events with neither an event time nor a receive time
    out_of_order     events older than one already seen
    no_subject       events without a subject (malformed ones, CloudConnect failed_connect, ...)
    failed_connects  refused connection attempts, with or without a subject
    first, last      earliest and latest time seen
    span_s           last - first
    rate_per_s       timed events per second over the span (null when the span is 0)
    markers          capture connection markers by name: {"connected": 1, "disconnected": 1}
    presence         subjects by state at the end: {"online": n, "offline": n, "unknown": n}
    counts.dialect   {dialect: n}, "unparsed" for malformed payloads; most first
    counts.kind      {kind: n}, "unparsed" likewise
    counts.type      [{"dialect", "type", "kind", "count"}], most first
    gaps             [{"start", "end", "seconds"}]: the 100 longest gaps, in time order
    gap_count        how many gaps there were
    gap_total_s      their total length
    subjects         [{...}], most flaps first, then most events, then by name:
      subject, dialect, state ("online"|"offline"|null), state_since, events,
      first_seen, last_seen, last_type, last_kind, last_reason, last_offline,
      connects, disconnects, failed_connects, errors, changes, flaps,
      offline_s, longest_offline_s, longest_offline_start, longest_silence_s

With ``--by KEY`` the output is a single count table instead, schema
``presencectl.stats.by/1``::

    schema   "presencectl.stats.by/1"
    by       "dialect"|"kind"|"type"|"subject"
    events   events counted
    rows     [{"key", "count", "share"}], most first; "type" rows add "dialect"
             and "kind", "subject" rows add "dialect" and "state"; the key is
             "unparsed" (dialect, kind) or null (type, subject) for events
             without one

``--top N`` keeps the first N subjects (or rows). Exit status: 0, 2 for a
usage error (bad option, missing file), 1 for an unreadable capture.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from presencectl.app import app, guarded
from presencectl.console import Environment, choose_color
from presencectl.errors import UsageError
from presencectl.option_groups import FILTERS, OUTPUT, Opts, takes
from presencectl.options import make_decoder

if TYPE_CHECKING:
    from rich.console import Console

    from presencectl.core.presence import PresenceTracker

ANALYSIS = "Analysis"
BY_SCHEMA = "presencectl.stats.by/1"
#: Rows per table on screen when --top is not given.
DEFAULT_TOP = 20


class ByKey(StrEnum):
    type = "type"
    subject = "subject"
    dialect = "dialect"
    kind = "kind"


class Clock(StrEnum):
    event = "event"
    received = "received"


def parse_seconds(text: str, option: str) -> float:
    """A positive duration option (``90``, ``90s``, ``5m``, ``1h``) in seconds.

    Raises:
        UsageError: not a positive duration.
    """
    from presencectl.core.times import parse_duration

    value = parse_duration(text)
    if value is None or value <= 0:
        raise UsageError(f"bad {option} {text!r}: give a positive duration like 90, 90s, 5m or 1h")
    return value


@app.command("stats")
@takes(FILTERS, OUTPUT.only("color", "utc"))
def stats_cmd(
    files: Annotated[
        list[str] | None,
        typer.Argument(help="Capture or NDJSON files (.gz too); - or nothing for stdin.", show_default=False),
    ] = None,
    *,
    json_: Annotated[
        bool, typer.Option("--json", help="One JSON object (schema presencectl.stats/1) for scripts.")
    ] = False,
    by: Annotated[
        ByKey | None,
        typer.Option("--by", help="Only a count table grouped by this (schema presencectl.stats.by/1 with --json).", show_default=False),
    ] = None,
    top: Annotated[
        int | None,
        typer.Option("--top", min=0, metavar="N", help=f"Rows per table: subjects, types, by-rows (default {DEFAULT_TOP} on screen, all in JSON; 0 = all).", show_default=False),
    ] = None,
    gap: Annotated[
        str, typer.Option("--gap", metavar="DURATION", help="Report quiet intervals in the stream longer than this (90, 90s, 5m).", rich_help_panel=ANALYSIS)
    ] = "60s",
    flap_window: Annotated[
        str, typer.Option("--flap-window", metavar="DURATION", help="A state change within this long of the previous one is a flap.", rich_help_panel=ANALYSIS)
    ] = "5m",
    clock: Annotated[
        Clock, typer.Option("--clock", help="Time to analyse: the event's own (else receive time), or receive time (else the event's).", rich_help_panel=ANALYSIS)
    ] = Clock.event,
    opts: Opts,
) -> None:
    """What happened in a capture: counts, presence per subject, flaps, gaps.

    Tables on a terminal, the same tables in plain text when piped, one JSON
    object with [bold]--json[/]. A [bold]flap[/] is a state change within
    --flap-window of the subject's previous state change; a [bold]gap[/] is a
    quiet interval longer than --gap. Times are the event's own, else the
    receive time (--clock received swaps them).

    [bold]JSON[/] (schema presencectl.stats/1): schema, settings, events,
    malformed, untimed, out_of_order, no_subject, failed_connects, first,
    last, span_s, rate_per_s, markers, presence, counts (dialect, kind,
    type), gaps, gap_count, gap_total_s, subjects. Each subject: subject,
    dialect, state, state_since, events, first_seen, last_seen, last_type,
    last_kind, last_reason, last_offline, connects, disconnects,
    failed_connects, errors, changes, flaps, offline_s, longest_offline_s,
    longest_offline_start, longest_silence_s. Times ISO 8601 UTC, durations
    in seconds. With --by: schema presencectl.stats.by/1: by, events, rows
    (key, count, share).

    [bold]Examples[/]

      presencectl stats fixtures/span-activity.capture.ndjson
      presencectl stats capture.ndjson.gz --json | jq '.subjects\\[] | select(.flaps > 3)'
      presencectl stats - --by type < events.ndjson
      presencectl stats capture.ndjson.gz -s '17kl*' --flap-window 2m --gap 5m
    """
    env = Environment()

    def body() -> None:
        from presencectl.core.presence import PresenceTracker

        gap_s = parse_seconds(gap, "--gap")
        window_s = parse_seconds(flap_window, "--flap-window")
        filt = opts.filter_args().build(env, opts.utc)
        decoder = make_decoder(opts.dialect, opts.assume_tz)
        tracker = PresenceTracker(flap_window=window_s, gap=gap_s, clock=clock.value)
        collect(env, files or ["-"], decoder, filt, opts.limit, tracker)
        if json_:
            write_json(env, tracker, by.value if by else None, top)
            return
        use_color = choose_color(opts.color.value, env.stdout_isatty, env.environ)
        show = DEFAULT_TOP if top is None else top
        write_tables(env, tracker, use_color, opts.utc, by.value if by else None, show, files or ["-"])

    guarded(env, body)


def collect(env: Environment, paths: list[str], decoder: Any, filt: Any, limit: int | None, tracker: PresenceTracker) -> None:
    """Read ``paths`` through the decoder and filter into ``tracker`` (``stats`` and ``diff``).

    Big files are decoded in worker processes (:func:`read_parallel`); the
    figures are the same either way.
    """
    from presencectl.runner import Pipeline, run_cat

    class StatsPipeline(Pipeline):
        def marker(self, marker):  # type: ignore[no-untyped-def]
            super().marker(marker)
            tracker.marker(marker)

    pipeline = StatsPipeline(decoder, filt, None, None, limit, on_event=tracker.add)
    try:
        if not read_parallel(env, paths, pipeline, tracker):
            run_cat(env, paths, pipeline)
    finally:
        pipeline.close()


# ----------------------------------------------------------------- parallel


def parallel_workers(env: Environment, paths: list[str], limit: int | None) -> int:
    """Worker processes for decoding these files (1: read them in this process).

    Like ``cat`` (:func:`presencectl.runner.parallel_workers`), counting all the
    files together; never with ``-n``, which must stop at an exact event.
    """
    import os

    from presencectl.runner import parallel_workers as workers_for

    if limit is not None or "-" in paths:
        return 1
    total = 0
    for path in paths:
        try:
            size = os.stat(path).st_size
        except OSError:
            return 1  # let the serial reader report it
        total += size * 4 if path.endswith(".gz") else size
    return workers_for(env, total)


def read_parallel(env: Environment, paths: list[str], pipeline: Any, tracker: PresenceTracker) -> bool:
    """Decode big files in worker processes, track the events here, in file order.

    Workers decode and filter blocks of lines exactly as ``run_cat`` does and
    send back one small :func:`~presencectl.core.presence.compact` record per
    event; this process feeds them to the one tracker in order, so every
    figure is the same as a serial read. Returns False (nothing read) when a
    serial read is the better choice.
    """
    workers = parallel_workers(env, paths, pipeline.limit)
    if workers < 2:
        return False
    from presencectl.core.presence import compact
    from presencectl.runner import Pipeline, feed_lines, run_blocks
    from presencectl.transports.files import CaptureReader

    decoder, filt = pipeline.decoder, pipeline.filter

    def work(block_reader: Any, lines: list[bytes]) -> tuple:
        records: list[tuple] = []
        markers: dict[str, int] = {}
        keep = records.append
        local = Pipeline(decoder, filt, None, None, on_event=lambda e: keep(compact(e)))

        def marker(m: Any) -> None:
            markers[m.mark] = markers.get(m.mark, 0) + 1

        local.marker = marker  # type: ignore[method-assign]
        feed_lines(block_reader, lines, local)
        return records, markers

    def collect(result: tuple) -> None:
        records, markers = result
        add = tracker.add_record
        for record in records:
            add(record)
        for mark, n in markers.items():
            tracker.markers[mark] = tracker.markers.get(mark, 0) + n

    for path in paths:
        reader = CaptureReader(path, env.warn)
        try:
            run_blocks(env, reader, workers, work, collect)
        finally:
            reader.close()
    return True


# --------------------------------------------------------------------- JSON
def by_rows(tracker: PresenceTracker, by: str) -> list[dict[str, Any]]:
    """Rows of the ``--by`` table, most events first (schema in the module docstring)."""
    from presencectl.core.presence import UNPARSED

    total = tracker.events or 1
    rows: list[dict[str, Any]] = []
    if by in ("dialect", "kind"):
        counts = tracker.by_dialect if by == "dialect" else tracker.by_kind
        for key, n in counts.items():
            rows.append({"key": str(key) if key is not None else UNPARSED, "count": n})
    elif by == "type":
        for (d, t), (n, k) in tracker.by_type.items():
            rows.append({"key": t, "count": n, "dialect": d if d is not None else UNPARSED, "kind": str(k) if k is not None else UNPARSED})
    else:
        for s in tracker.subjects.values():
            rows.append({"key": s.subject, "count": s.events, "dialect": s.dialect, "state": s.state})
        if tracker.no_subject:
            rows.append({"key": None, "count": tracker.no_subject, "dialect": None, "state": None})
    rows.sort(key=lambda r: (-r["count"], r["key"] is None, str(r["key"]), str(r.get("dialect"))))
    for row in rows:
        row["share"] = round(row["count"] / total, 6)
    # Stable key order: key, count, share, then the extras.
    return [{"key": r["key"], "count": r["count"], "share": r["share"], **{k: v for k, v in r.items() if k not in ("key", "count", "share")}} for r in rows]


def json_document(tracker: PresenceTracker, by: str | None, top: int | None) -> dict[str, Any]:
    """The ``--json`` document: the full report, or the ``--by`` table."""
    if by is not None:
        rows = by_rows(tracker, by)
        return {"schema": BY_SCHEMA, "by": by, "events": tracker.events, "rows": rows[:top] if top else rows}
    report = tracker.report()
    if top:
        report["subjects"] = report["subjects"][:top]
    return report


def write_json(env: Environment, tracker: PresenceTracker, by: str | None, top: int | None) -> None:
    import orjson

    option = orjson.OPT_INDENT_2 if env.stdout_isatty else 0
    env.stdout.write(orjson.dumps(json_document(tracker, by, top), option=option) + b"\n")
    env.stdout.flush()


# ------------------------------------------------------------------- tables
def write_tables(
    env: Environment,
    tracker: PresenceTracker,
    color: bool,
    utc: bool,
    by: str | None,
    top: int,
    sources: list[str],
) -> None:
    from presencectl.live_table import make_console

    console, done = make_console(env, color)
    try:
        if by is not None:
            console.print(by_table(tracker, by, top, console.is_terminal))
        else:
            print_report(console, tracker, utc=utc, top=top, title=", ".join(sources))
    finally:
        done()


def _cell(value: Any, style: str | None = None) -> Any:
    """A table cell from untrusted text: escaped, never read as markup."""
    from rich.text import Text

    from presencectl.core.render import escape

    if value is None:
        return Text("-", style="dim")
    return Text(escape(value if isinstance(value, str) else str(value)), style=style or "")


def _num(n: int | float, style: str | None = None) -> Any:
    from rich.text import Text

    return Text(f"{n:,}" if isinstance(n, int) else str(n), style=style or ("dim" if not n else ""))


def _share(n: int, total: int) -> str:
    return f"{100 * n / total:.1f}%" if total else "-"


def fmt_duration(seconds: float | None) -> str:
    """A short human duration: ``850ms``, ``12.5s``, ``3m05s``, ``2h05m``, ``3d04h``.

    >>> fmt_duration(185)
    '3m05s'
    """
    if seconds is None:
        return "-"
    s = float(seconds)
    if s < 1:
        return f"{s * 1000:.0f}ms"
    if s < 60:
        return f"{s:.1f}s" if s < 10 and s != int(s) else f"{s:.0f}s"
    s = round(s)
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s" if s % 60 else f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m" if s % 3600 else f"{s // 3600}h"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h" if s % 86400 else f"{s // 86400}d"


class TimeFormat:
    """Formats epoch seconds for tables: full date when the stream spans days, else time of day."""

    def __init__(self, utc: bool, first: float | None, last: float | None) -> None:
        from datetime import UTC

        self.zone = UTC if utc else None
        self.short = first is not None and last is not None and self._day(first) == self._day(last)

    def _dt(self, t: float):  # type: ignore[no-untyped-def]
        from datetime import UTC, datetime

        dt = datetime.fromtimestamp(t, UTC)
        return dt if self.zone is not None else dt.astimezone()

    def _day(self, t: float) -> Any:
        try:
            return self._dt(t).date()
        except (OverflowError, OSError, ValueError):
            return None

    def __call__(self, t: float | None, full: bool = False) -> str:
        if t is None:
            return "-"
        try:
            dt = self._dt(t)
        except (OverflowError, OSError, ValueError):
            return "?"
        if self.short and not full:
            return dt.strftime("%H:%M:%S")
        return dt.strftime("%Y-%m-%d %H:%M:%S")


STATE_STYLES = {"online": "bold green", "offline": "bold red", None: "dim"}


def state_cell(state: str | None) -> Any:
    from rich.text import Text

    return Text(state or "unknown", style=STATE_STYLES.get(state, "dim"))


def print_report(
    console: Console,
    tracker: PresenceTracker,
    *,
    utc: bool,
    top: int,
    title: str | None = None,
    counts: bool = True,
) -> None:
    """The full text report: overview, counts, busiest subjects, presence, gaps.

    Args:
        console: where to print (colour and width already chosen).
        tracker: the figures.
        utc: times in UTC (else local time).
        top: rows per table (0 = all).
        title: what was read (file names), shown in the overview.
        counts: include the dialect, type and busiest-subject tables (the
            ``--live`` summary leaves them out).
    """
    from rich import box
    from rich.table import Table
    from rich.text import Text

    tf = TimeFormat(utc, tracker.first_t, tracker.last_t)
    # Piped: no rules at all, so `awk '$7 > 3'` and grep see plain columns.
    boxed = box.SIMPLE_HEAD if console.is_terminal else None
    limit = top or None
    total = tracker.events

    def table(heading: str) -> Table:
        return Table(title=Text(heading, style="bold"), title_justify="left", box=boxed, pad_edge=False, show_edge=False)

    # Overview
    overview = Table.grid(padding=(0, 2))
    overview.add_column(style="bold")
    overview.add_column()
    if title:
        overview.add_row("read", _cell(title))
    detail = []
    for word, n in (("malformed", tracker.malformed), ("untimed", tracker.untimed), ("out of order", tracker.out_of_order)):
        if n:
            detail.append(f"{n:,} {word}")
    line = Text(f"{total:,}")
    if detail:
        line.append(f" ({', '.join(detail)})", style="yellow")
    overview.add_row("events", line)
    if tracker.first_t is not None:
        when = Text(f"{tf(tracker.first_t, full=True)} → {tf(tracker.last_t, full=True)}  ")
        when.append(f"{fmt_duration(tracker.span)}", style="bold")
        if tracker.rate is not None:
            when.append(f", {tracker.rate:,.2f} events/s")
        overview.add_row("time", when)
    states = tracker.states()
    subj = Text(f"{len(tracker.subjects):,}: ")
    subj.append(f"{states['online']:,} online", style=STATE_STYLES["online"])
    subj.append(", ")
    subj.append(f"{states['offline']:,} offline", style=STATE_STYLES["offline"])
    subj.append(f", {states['unknown']:,} unknown at the end")
    overview.add_row("subjects", subj)
    flappers = sum(1 for s in tracker.subjects.values() if s.flaps)
    overview.add_row(
        "flaps",
        Text(f"{sum(s.flaps for s in tracker.subjects.values()):,} in {flappers:,} subjects "
             f"(a state change within {fmt_duration(tracker.flap_window)} of the previous one)"),
    )
    if tracker.failed_connects:
        overview.add_row("failed", Text(f"{tracker.failed_connects:,} failed connects", style="bold red"))
    gaps = Text(f"{tracker.gap_count:,} longer than {fmt_duration(tracker.gap)}")
    if tracker.gap_count:
        gaps.append(f", {fmt_duration(tracker.gap_total)} in all")
    overview.add_row("gaps", gaps)
    if tracker.markers:
        overview.add_row("connection", Text(", ".join(f"{k} {v}" for k, v in sorted(tracker.markers.items()))))
    console.print(overview)
    if not total:
        return
    console.print()
    if counts:
        _print_counts(console, tracker, table, limit)
    if tracker.subjects:
        _print_presence(console, tracker, table, limit, tf)
    if tracker.gap_count:
        _print_gaps(console, tracker, table, limit, tf)


def _print_counts(console: Console, tracker: PresenceTracker, table: Any, limit: int | None) -> None:
    from presencectl.core.render import KIND_STYLES, dialect_styles

    total = tracker.events
    t_dialect = table("Events by dialect")
    t_dialect.add_column("dialect")
    t_dialect.add_column("events", justify="right")
    t_dialect.add_column("share", justify="right")
    for d, n in sorted(tracker.by_dialect.items(), key=lambda kv: -kv[1]):
        t_dialect.add_row(_cell(d or "unparsed", dialect_styles().get(d, ("dim", ""))[0]), _num(n), _share(n, total))
    console.print(t_dialect)
    console.print()

    types = sorted(tracker.by_type.items(), key=lambda kv: (-kv[1][0], str(kv[0])))
    t_type = table("Events by type" + (f" (top {limit} of {len(types)})" if limit and len(types) > limit else ""))
    t_type.add_column("type")
    t_type.add_column("dialect")
    t_type.add_column("kind")
    t_type.add_column("events", justify="right")
    t_type.add_column("share", justify="right")
    for (d, t), (n, k) in types[:limit]:
        style = KIND_STYLES.get(k, ("white", ""))[0]
        t_type.add_row(_cell(t if t is not None else "unparsed", style), _cell(d or "-"), _cell(k or "-", style), _num(n), _share(n, total))
    console.print(t_type)
    console.print()
    if not tracker.subjects:
        return
    busiest = sorted(tracker.subjects.values(), key=lambda s: (-s.events, s.subject))[: min(limit or 10, 10)]
    t_busy = table("Busiest subjects")
    t_busy.add_column("subject", overflow="fold")
    t_busy.add_column("dialect")
    t_busy.add_column("events", justify="right")
    t_busy.add_column("share", justify="right")
    t_busy.add_column("last event")
    for s in busiest:
        t_busy.add_row(_cell(s.subject), _cell(s.dialect), _num(s.events), _share(s.events, total),
                       _cell(s.last_type, KIND_STYLES.get(s.last_kind, ("white", ""))[0]))
    console.print(t_busy)
    console.print()


#: Presence table columns: (name, justify, priority). On a narrow terminal
#: the highest priority numbers are dropped first.
PRESENCE_COLUMNS = (
    ("subject", "left", 0),
    ("state", "left", 0),
    ("since", "left", 4),
    ("conn", "right", 1),
    ("disc", "right", 1),
    ("failed", "right", 2),
    ("flaps", "right", 0),
    ("offline", "right", 3),
    ("longest off", "right", 4),
    ("silent", "right", 5),
    ("last reason", "left", 2),
    ("last seen", "left", 3),
)


def fit_columns(width: int, names: list[str], cells: list[list[Any]], priorities: list[int]) -> list[int]:
    """Indexes of the columns to keep so the table fits ``width`` (dropping high priorities first)."""
    widths = [
        max([len(names[i])] + [len(row[i].plain if hasattr(row[i], "plain") else str(row[i])) for row in cells]) + 3
        for i in range(len(names))
    ]
    keep = list(range(len(names)))
    for level in sorted(set(priorities), reverse=True):
        if sum(widths[i] for i in keep) <= width or level == 0:
            break
        keep = [i for i in keep if priorities[i] != level]
    return keep


def _print_presence(console: Console, tracker: PresenceTracker, table: Any, limit: int | None, tf: TimeFormat) -> None:
    ranked = tracker.ranked()
    shown = ranked[:limit]
    heading = "Presence by subject, most flaps first"
    if limit and len(ranked) > limit:
        heading += f" (top {limit} of {len(ranked)}; --top 0 for all)"
    end = tracker.last_t
    rows = []
    for s in shown:
        total_off, longest = s.offline_until(end)
        rows.append([
            _cell(s.subject),
            state_cell(s.state),
            _cell(tf(s.state_since) if s.state else None),
            _num(s.connects),
            _num(s.disconnects),
            _num(s.failed_connects, "bold red" if s.failed_connects else None),
            _num(s.flaps, "bold yellow" if s.flaps else None),
            _cell(fmt_duration(total_off) if total_off else None),
            _cell(fmt_duration(longest) if longest else None),
            _cell(fmt_duration(s.longest_silence) if s.longest_silence else None),
            _cell(s.last_reason),
            _cell(tf(s.last_t)),
        ])
    names = [c[0] for c in PRESENCE_COLUMNS]
    keep = fit_columns(console.width, names, rows, [c[2] for c in PRESENCE_COLUMNS])
    t_pres = table(heading)
    for i in keep:
        name, justify, _ = PRESENCE_COLUMNS[i]
        wrap = name in ("subject", "last reason")
        t_pres.add_column(name, justify=justify, overflow="fold" if wrap else "ellipsis", no_wrap=not wrap,
                          min_width=min(16, max(len(r[i].plain) for r in rows)) if wrap and rows else None)
    for row in rows:
        t_pres.add_row(*(row[i] for i in keep))
    console.print(t_pres)


def _print_gaps(console: Console, tracker: PresenceTracker, table: Any, limit: int | None, tf: TimeFormat) -> None:
    console.print()
    gaps = sorted(tracker.gaps, key=lambda g: -g.seconds)[:limit]
    gaps.sort(key=lambda g: g.start)
    heading = f"Gaps longer than {fmt_duration(tracker.gap)}"
    if len(gaps) < tracker.gap_count:
        heading += f" (the {len(gaps)} longest of {tracker.gap_count:,})"
    t_gaps = table(heading)
    t_gaps.add_column("from")
    t_gaps.add_column("to")
    t_gaps.add_column("quiet for", justify="right")
    for g in gaps:
        t_gaps.add_row(tf(g.start), tf(g.end), fmt_duration(g.seconds))
    console.print(t_gaps)


def by_table(tracker: PresenceTracker, by: str, top: int, tty: bool = True) -> Any:
    """The ``--by`` count table."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    from presencectl.core.render import KIND_STYLES, dialect_styles

    rows = by_rows(tracker, by)
    shown = rows[:top] if top else rows
    heading = f"Events by {by}" + (f" (top {len(shown)} of {len(rows)}; --top 0 for all)" if len(shown) < len(rows) else "")
    t = Table(title=Text(heading, style="bold"), title_justify="left", box=box.SIMPLE_HEAD if tty else None, pad_edge=False, show_edge=False)
    t.add_column(by, overflow="fold")
    extras = [k for k in ("dialect", "kind", "state") if rows and k in rows[0]]
    for k in extras:
        t.add_column(k)
    t.add_column("events", justify="right")
    t.add_column("share", justify="right")
    for r in shown:
        key = r["key"]
        if by == "dialect":
            first = _cell(key, dialect_styles().get(key if key != "unparsed" else None, ("white", ""))[0])
        elif by == "kind":
            first = _cell(key, KIND_STYLES.get(key if key != "unparsed" else None, ("white", ""))[0])
        elif by == "type":
            first = _cell(key if key is not None else "unparsed", KIND_STYLES.get(r.get("kind") if r.get("kind") != "unparsed" else None, ("white", ""))[0])
        else:
            first = _cell(key if key is not None else "(no subject)", None if key is not None else "dim")
        cells = [first]
        for k in extras:
            cells.append(state_cell(r[k]) if k == "state" else _cell(r[k]))
        cells += [_num(r["count"]), f"{100 * r['share']:.1f}%"]
        t.add_row(*cells)
    return t
