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
                     (the clock used: with the default --clock auto, "received"
                     when the input has receive times, i.e. a capture)
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
    counts.type      [{"dialect", "type", "kind", "count"}], most first; type null
                     with a dialect is a parsed event with no type (tables:
                     "(no type)"), with dialect "unparsed" a malformed payload
    gaps             [{"start", "end", "seconds"}]: the 100 longest gaps, in time order
    gap_count        how many gaps there were
    gap_total_s      their total length
    subjects         [{...}], most flaps first, then most events, then by name:
      subject, dialect, state ("online"|"offline"|null), state_since, events,
      first_seen, last_seen, last_type, last_kind, last_reason, last_offline,
      connects, disconnects, failed_connects, errors, changes, flaps,
      offline_s, longest_offline_s, longest_offline_start, longest_silence_s,
      skew_median_s, skew_worst_s (device time minus receive time; null
      without events that carry both)
    clock_skew       {"events": n with both times, "median_s", "limit_s": 300.0,
                     "outliers": events off by more than limit_s,
                     "subjects": how many subjects' worst skew is beyond limit_s}

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

from presencectl.cli.app import app, guarded
from presencectl.cli.option_groups import FILTERS, INPUT, OUTPUT, Opts, takes
from presencectl.cli.options import make_decoder, parse_max_line
from presencectl.errors import UsageError
from presencectl.ui.console import Environment, choose_color

if TYPE_CHECKING:

    from presencectl.core.presence import PresenceTracker

ANALYSIS = "Analysis"
#: Rows per table on screen when --top is not given.
DEFAULT_TOP = 20


class ByKey(StrEnum):
    type = "type"
    subject = "subject"
    dialect = "dialect"
    kind = "kind"


class Clock(StrEnum):
    auto = "auto"
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
@takes(FILTERS, OUTPUT.only("color", "utc"), INPUT)
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
        Clock, typer.Option("--clock", help="Time to analyse: auto = receive times where the input has them (captures), else the event's own; event = the event's own (else receive time); received = receive time (else the event's).", rich_help_panel=ANALYSIS)
    ] = Clock.auto,
    opts: Opts,
) -> None:
    """What happened in a capture: counts, presence per subject, flaps, gaps.

    Tables on a terminal, the same tables in plain text when piped, one JSON
    object with [bold]--json[/]. A [bold]flap[/] is a state change within
    --flap-window of the subject's previous state change; a [bold]gap[/] is a
    quiet interval longer than --gap. Times are receive times where the
    input has them (a capture), else the event's own: device clocks are
    often wrong, so they are judged apart, as [bold]clock skew[/] (device
    time minus receive time, median and worst per subject; events more than
    5m off are outliers). --clock event analyses device times instead.

    [bold]JSON[/] (schema presencectl.stats/1): schema, settings, events,
    malformed, untimed, out_of_order, no_subject, failed_connects, first,
    last, span_s, rate_per_s, markers, presence, counts (dialect, kind,
    type), gaps, gap_count, gap_total_s, subjects. Each subject: subject,
    dialect, state, state_since, events, first_seen, last_seen, last_type,
    last_kind, last_reason, last_offline, connects, disconnects,
    failed_connects, errors, changes, flaps, offline_s, longest_offline_s,
    longest_offline_start, longest_silence_s, skew_median_s, skew_worst_s;
    then clock_skew (events, median_s, limit_s, outliers, subjects). Times
    ISO 8601 UTC, durations in seconds. With --by: schema presencectl.stats.by/1: by, events, rows
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
        max_line = parse_max_line(opts.max_line)
        tracker = PresenceTracker(flap_window=window_s, gap=gap_s, clock=clock.value)
        collect(env, files or ["-"], decoder, filt, opts.limit, tracker, max_line)
        if json_:
            write_json(env, tracker, by.value if by else None, top)
            return
        use_color = choose_color(opts.color.value, env.stdout_isatty, env.environ)
        show = DEFAULT_TOP if top is None else top
        from presencectl.ui.stats import write_tables

        write_tables(env, tracker, use_color, opts.utc, by.value if by else None, show, files or ["-"])

    guarded(env, body)


def collect(
    env: Environment,
    paths: list[str],
    decoder: Any,
    filt: Any,
    limit: int | None,
    tracker: PresenceTracker,
    max_line: int | None = None,
) -> None:
    """Read ``paths`` through the decoder and filter into ``tracker`` (``stats`` and ``diff``).

    Big files are decoded in worker processes (:func:`read_parallel`); the
    figures are the same either way.
    """
    from presencectl.engine.runner import Pipeline, run_cat

    class StatsPipeline(Pipeline):
        def marker(self, marker):  # type: ignore[no-untyped-def]
            super().marker(marker)
            tracker.marker(marker)

    pipeline = StatsPipeline(decoder, filt, None, None, limit, on_event=tracker.add)
    try:
        if not read_parallel(env, paths, pipeline, tracker, max_line):
            run_cat(env, paths, pipeline, *([max_line] if max_line else []))
    finally:
        pipeline.close()


# ----------------------------------------------------------------- parallel


def parallel_workers(env: Environment, paths: list[str], limit: int | None) -> int:
    """Worker processes for decoding these files (1: read them in this process).

    Like ``cat`` (:func:`presencectl.engine.runner.parallel_workers`), counting all the
    files together; never with ``-n``, which must stop at an exact event.
    """
    import os

    from presencectl.engine.runner import parallel_workers as workers_for

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


def read_parallel(
    env: Environment, paths: list[str], pipeline: Any, tracker: PresenceTracker, max_line: int | None = None
) -> bool:
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
    from presencectl.engine.runner import Pipeline, feed_lines, run_blocks
    from presencectl.transports.files import CaptureReader

    decoder, filt = pipeline.decoder, pipeline.filter

    def work(block_reader: Any, lines: Any) -> tuple[tuple, bytes]:
        records: list[tuple] = []
        markers: dict[str, int] = {}
        keep = records.append
        local = Pipeline(decoder, filt, None, None, on_event=lambda e: keep(compact(e)))

        def marker(m: Any) -> None:
            markers[m.mark] = markers.get(m.mark, 0) + 1

        local.marker = marker  # type: ignore[method-assign]
        feed_lines(block_reader, lines, local)
        return (records, markers), b""

    def collect(result: tuple, data: bytes) -> None:  # noqa: ARG001 - stats renders nothing in workers
        records, markers = result
        add = tracker.add_record
        for record in records:
            add(record)
        for mark, n in markers.items():
            tracker.markers[mark] = tracker.markers.get(mark, 0) + n

    for path in paths:
        reader = CaptureReader(path, env.warn, max_line) if max_line else CaptureReader(path, env.warn)
        try:
            run_blocks(env, reader, workers, work, collect)
        finally:
            reader.close()
    return True


# --------------------------------------------------------------------- JSON
def write_json(env: Environment, tracker: PresenceTracker, by: str | None, top: int | None) -> None:
    from presencectl.core.render import dumps_json
    from presencectl.ui.stats import json_document

    env.stdout.write(dumps_json(json_document(tracker, by, top), indent=env.stdout_isatty) + b"\n")
    env.stdout.flush()
