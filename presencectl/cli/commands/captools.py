"""Capture tools (SPEC §3.6c): ``slice``, ``merge``, ``anonymise``, ``diff``.

The loops are in :mod:`presencectl.engine.captools`, the decisions in the core
(:mod:`~presencectl.core.replay` windows, :mod:`~presencectl.core.anonymise`,
:mod:`~presencectl.core.capdiff`); this module is the command line.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Annotated

import typer

from presencectl.cli.app import app, guarded
from presencectl.cli.option_groups import FILTERS, INPUT, Opts, takes
from presencectl.cli.options import FromOpt, UntilPointOpt, UtcOpt, make_decoder, parse_max_line
from presencectl.errors import UsageError
from presencectl.ui.console import Environment

#: The filters a capture tool takes: all but the time filters (slice has its
#: window instead) and -n.
TOOL_FILTERS = FILTERS.without("since", "until", "limit")

OutputOpt = Annotated[
    str,
    typer.Option("-o", "--output", metavar="FILE", help="Capture file to write (.gz compresses); an existing file is refused without --force.", show_default=False),
]
ForceOpt = Annotated[
    bool, typer.Option("--force", help="Replace an existing -o FILE (only once the new one is complete).")
]
CaptureArg = Annotated[str, typer.Argument(metavar="CAPTURE", help="Capture file (.gz too), or - for stdin.", show_default=False)]


def run_tool(env: Environment, body: Callable[[], object]) -> object:
    """Run a tool's body through :func:`guarded`: errors as one line, Ctrl-C 130,
    SIGTERM 143 (no half-written output either way: :class:`CaptureOutput`)."""
    return guarded(env, body)


def _name(path: str) -> str:
    return "stdin" if path == "-" else os.path.basename(path)


def _when(t: float | None) -> str:
    from presencectl.core.presence import iso

    return (iso(t) or "the end").replace("+00:00", "Z")


def _filter_words(opts: Opts) -> list[str]:
    """The filter options as given, for the header of a slice."""
    words: list[str] = []
    for opt in TOOL_FILTERS.opts:
        value = opts.value(opt)
        if not opt.given(value) or opt.param == "assume_tz":
            continue
        flag = opt.error_flag.split("/")[-1]
        if value is True:
            words.append(flag)
        elif isinstance(value, list):
            for v in value:
                words += [flag, str(v)]
        else:
            words += [flag, str(value)]
    return words


@app.command("slice")
@takes(TOOL_FILTERS, INPUT)
def slice_cmd(
    capture: CaptureArg,
    *,
    output: OutputOpt,
    force: ForceOpt = False,
    from_: FromOpt = None,
    until: UntilPointOpt = None,
    utc: UtcOpt = False,
    opts: Opts,
) -> None:
    """Cut a capture down: a time window and/or the frames that match filters.

    Records are copied byte for byte; markers inside the window stay; the
    header records where the slice came from ([bold]slice[/]: file, options,
    window). --from/--until work as in replay: an offset from the start of the
    capture (90s, 5m) or a time. A frame is kept when any of its events
    matches the filters; a batch that mixes subjects is kept whole (the
    summary counts them).

    [bold]Examples[/]

      presencectl slice customer.capture.ndjson.gz --from 1h05m --until 1h10m -o failure.capture.ndjson
      presencectl slice fixtures/span-activity.capture.ndjson -s 17kl14hm46h4c2 -o one-device.capture.ndjson
    """
    env = Environment()

    def body() -> None:
        from datetime import UTC

        from presencectl.core.replay import parse_window
        from presencectl.core.times import parse_zone
        from presencectl.engine.captools import slice_capture

        start, end = parse_window(from_, until, UTC if utc else parse_zone("local"))
        filt = opts.filter_args().build(env, utc)
        decoder = make_decoder(opts.dialect, opts.assume_tz)
        describe = {"of": _name(capture), "from": from_, "until": until, "filters": _filter_words(opts)}
        result = slice_capture(
            capture, output, start=start, end=end, filt=filt, decoder=decoder, force=force, warn=env.warn, describe=describe,
            max_line=parse_max_line(opts.max_line),
        )
        lo, hi = result.window
        line = f"sliced {result.frames:,} frames and {result.markers:,} markers into {output}"
        if start is not None or end is not None:
            line += f" (window {_when(lo)} to {_when(hi)})"
        if result.filtered:
            line += f"; {result.filtered:,} frames in the window did not match the filters"
        if result.mixed:
            line += f"; {result.mixed:,} batch frames kept whole though only some of their events match"
        env.note(line)

    run_tool(env, body)


@app.command("merge")
@takes(INPUT)
def merge_cmd(
    captures: Annotated[list[str], typer.Argument(metavar="CAPTURE...", help="Two or more capture files (.gz too).", show_default=False)],
    *,
    output: OutputOpt,
    force: ForceOpt = False,
    opts: Opts,
) -> None:
    """Merge captures into one, ordered by receive time, each record tagged with its origin.

    Every record gains [bold]"origin": N[/] (the index of its input); the
    header lists the inputs under [bold]origins[/] (name, source, transport,
    started, topics). Replaying the result plays the sessions interleaved as
    they happened. Streams: memory stays flat however big the inputs.

    [bold]Examples[/]

      presencectl merge customer.capture.ndjson.gz server.capture.ndjson -o both.capture.ndjson.gz
      presencectl replay both.capture.ndjson.gz --speed 10
    """
    env = Environment()

    def body() -> None:
        from presencectl.engine.captools import merge_captures

        if len(captures) < 2:
            raise UsageError("merge needs two or more captures")
        result = merge_captures(captures, output, force=force, warn=env.warn, max_line=parse_max_line(opts.max_line))
        each = ", ".join(f"{n:,} from {_name(p)}" for p, n in zip(captures, result.per_input, strict=True))
        env.note(f"merged {result.frames:,} frames ({each}) and {result.markers:,} markers into {output}")

    run_tool(env, body)


@app.command("anonymise")
@takes(INPUT)
def anonymise_cmd(
    capture: CaptureArg,
    *,
    output: OutputOpt,
    key: Annotated[
        str | None,
        typer.Option("--key", envvar="PRESENCECTL_ANONYMISE_KEY", help="Secret for the pseudonyms: the same key gives the same pseudonyms, so captures line up. Default: a random key, shown on stderr.", show_default=False),
    ] = None,
    keep_unparsed: Annotated[
        bool, typer.Option("--keep-unparsed", help="Keep payloads that are not JSON, as they are (they may hold identifiers).")
    ] = False,
    force: ForceOpt = False,
    opts: Opts,
) -> None:
    """Replace every identifier in a capture with a consistent pseudonym, to share it.

    Device ids, IMEI/IMSI/ICCID-like numbers, iotId, productKey, deviceName,
    user ids and names, e-mail and IP addresses, phone numbers and each
    dialect's subject fields, inside every payload and MQTT topic; the
    header loses credentials and identifying details. JSON structure, types,
    times and event types are kept (digits stay digits of the same length),
    so cat, stats and replay see the same events under other names. A
    payload that is not JSON is left out unless --keep-unparsed. What was
    replaced is reported on stderr, by field.

    [bold]Examples[/]

      presencectl anonymise customer.capture.ndjson.gz -o shareable.capture.ndjson.gz --key "$TEAM_KEY"
    """
    env = Environment()

    def body() -> None:
        from presencectl.core.anonymise import Anonymiser
        from presencectl.engine.captools import anonymise_capture

        secret = key
        if secret is None:
            import secrets

            secret = secrets.token_urlsafe(16)
            env.note(f"no --key given: using the random key {secret} (give it as --key to anonymise other captures the same way)")
        elif not secret:
            raise UsageError("--key is empty: give a secret, or leave --key out for a random one")
        anonymiser = Anonymiser(secret.encode("utf-8"))
        result = anonymise_capture(
            capture, output, anonymiser, keep_unparsed=keep_unparsed, force=force, warn=env.warn,
            max_line=parse_max_line(opts.max_line),
        )
        counts = sorted(anonymiser.counts.items(), key=lambda kv: (-kv[1], kv[0]))
        total = sum(n for _, n in counts)
        env.note(f"anonymised {result.frames:,} frames and {result.markers:,} markers into {output}")
        env.note(f"replaced {total:,} identifiers" + (": " + ", ".join(f"{field} {n:,}" for field, n in counts) if counts else ""))
        if result.dropped_header_keys:
            env.note(f"dropped from the header: {', '.join(result.dropped_header_keys)}")
        if result.unparsed:
            if keep_unparsed:
                env.warn(f"kept {result.kept_unparsed:,} payloads that are not JSON as they were: they may hold identifiers")
            else:
                env.note(f"left out {result.unparsed:,} payloads that are not JSON (--keep-unparsed keeps them)")

    run_tool(env, body)


@app.command("diff")
@takes(TOOL_FILTERS, INPUT)
def diff_cmd(
    a: Annotated[str, typer.Argument(metavar="A", help="Capture or NDJSON file (.gz too).", show_default=False)],
    b: Annotated[str, typer.Argument(metavar="B", help="Capture or NDJSON file (.gz too).", show_default=False)],
    *,
    json_: Annotated[bool, typer.Option("--json", help="One JSON object (schema presencectl.diff/1) for scripts.")] = False,
    flap_window: Annotated[
        str, typer.Option("--flap-window", metavar="DURATION", help="A state change within this long of the previous one is a flap (as in stats).")
    ] = "5m",
    opts: Opts,
) -> None:
    """Presence behaviour of two captures side by side; exit 0 if the same, 1 if not.

    Per subject: events, connects, disconnects, failed connects, flaps, state
    changes, state at the end, time offline, events per type, and first/last
    seen as offsets from each capture's start; subjects found in only one;
    stream counts, span and rate. The figures are the ones stats computes.
    Prints only what differs (nothing when the captures behave the same),
    like diff(1); --json for everything.

    [bold]Examples[/]

      presencectl diff before-update.capture.ndjson after-update.capture.ndjson
      presencectl diff a.capture.ndjson.gz b.capture.ndjson.gz --json | jq '.subjects[] | select(.same | not)'
    """
    env = Environment()

    def body() -> bool:
        import orjson

        from presencectl.cli.commands.stats import collect, parse_seconds
        from presencectl.core.capdiff import TypedTracker, compare

        window_s = parse_seconds(flap_window, "--flap-window")
        filt = opts.filter_args().build(env, True)
        sides = []
        for path in (a, b):
            tracker = TypedTracker(flap_window=window_s)
            collect(env, [path], make_decoder(opts.dialect, opts.assume_tz), filt, None, tracker, parse_max_line(opts.max_line))
            sides.append((tracker.report(), tracker.subject_types))
        doc = compare(a, sides[0][0], sides[0][1], b, sides[1][0], sides[1][1])
        if json_:
            option = orjson.OPT_INDENT_2 if env.stdout_isatty else 0
            env.stdout.write(orjson.dumps(doc, option=option) + b"\n")
            env.stdout.flush()
        else:
            env.stdout.write(format_diff(doc).encode("utf-8"))
            env.stdout.flush()
        if doc["same"]:
            env.note(f"no difference in presence behaviour ({sides[0][0]['events']:,} events, {len(sides[0][0]['subjects']):,} subjects)")
        return bool(doc["same"])

    if not run_tool(env, body):
        raise typer.Exit(1)  # like diff(1): 1 = the captures differ


def format_diff(doc: dict) -> str:
    """The text report: only what differs, ``measure  a  b`` columns."""
    from presencectl.core.render import escape

    if doc["same"]:
        return ""
    rows: list[tuple[str, str, str]] = []

    def show(value: object) -> str:
        if value is None:
            return "-"
        if isinstance(value, float):
            return f"{value:g}"
        return escape(str(value))

    stream = [r for r in doc["stream"] if not r["same"]]
    if stream:
        rows.append(("stream", "", ""))
        rows += [("  " + r["measure"], show(r["a"]), show(r["b"])) for r in stream]
    for s in doc["subjects"]:
        if s["same"]:
            continue
        where = {"both": "", "a": " (only in a)", "b": " (only in b)"}[s["in"]]
        rows.append((f"subject {escape(s['subject'])}{where}", "", ""))
        if s["in"] == "both":
            rows += [("  " + r["measure"], show(r["a"]), show(r["b"])) for r in s["measures"] if not r["same"]]
    width = max(len(r[0]) for r in rows)
    wa = max(len(r[1]) for r in rows + [("", "a", "")])
    lines = [f"--- a: {escape(doc['a'])}", f"+++ b: {escape(doc['b'])}", f"{'':<{width}}  {'a':>{wa}}  b"]
    for label, va, vb in rows:
        lines.append(f"{label:<{width}}  {va:>{wa}}  {vb}".rstrip() if va or vb else label)
    lines.append(
        f"{doc['differences']:,} differences; only in a: {len(doc['only_in_a']):,} subjects, only in b: {len(doc['only_in_b']):,}"
    )
    return "\n".join(lines) + "\n"
