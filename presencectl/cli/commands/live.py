"""``presencectl tail`` and ``presencectl record``: live sources, rendered or captured.

Both build a :class:`~presencectl.transports.base.Source` from SOURCE and the
connection options, a :class:`~presencectl.engine.runner.Pipeline` from the filter
and output options, and hand them to :class:`~presencectl.engine.session.Session`.
A file or ``-`` as SOURCE goes through ``run_cat`` instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from presencectl.cli.app import app, guarded
from presencectl.cli.mqtt_options import MqttCommand
from presencectl.cli.option_groups import (
    FILTERS,
    OUTPUT,
    SOURCE_GROUPS,
    ConnectArgs,
    Opts,
    check_applicable,
    takes,
)
from presencectl.cli.options import FilterArgs, OutputArgs, make_decoder
from presencectl.cli.profile_command import ProfileCommand
from presencectl.cli.socketio_options import SocketIOCommand, wants_socketio
from presencectl.errors import UsageError
from presencectl.ui.console import Environment

if TYPE_CHECKING:
    from presencectl.engine.session import Session

__all__ = ["ConnectArgs", "LiveCommand", "SourceArg", "build_source", "run_live", "source_kind"]

RECORDING = "Recording"

SourceArg = Annotated[
    str,
    typer.Argument(
        metavar="SOURCE",
        help="ws:// or wss:// URL; mqtt:// or mqtts:// broker; sio:// or sios:// Socket.IO server; http(s)://HOST:PORT/path with --listen; @NAME for a connection profile; a capture/NDJSON file or - for stdin.",
        show_default=False,
    ),
]
ForceOpt = Annotated[
    bool,
    typer.Option("--force", help="Replace an existing capture, once a new frame is in.", rich_help_panel=RECORDING),
]

#: Seconds a recorded frame may wait in buffers while a burst goes on (SPEC §5.1: 200 ms at most).


def source_kind(source: str, listen: bool, socketio: bool = False) -> str:
    """The kind of SOURCE (:data:`presencectl.transports.sources.SOURCES`):
    ``"websocket"``, ``"socketio"``, ``"mqtt"``, ``"webhook"``, ``"file"``….

    >>> source_kind("wss://example.com/x", False), source_kind("-", False)
    ('websocket', 'file')

    Raises:
        UsageError: an http:// URL without --listen, --listen with another
            kind of source, or a scheme this version does not speak.
    """
    from presencectl.transports.sources import REGISTRY, SOURCES

    scheme, sep, _ = source.partition("://")
    scheme = scheme.lower()
    if wants_socketio(source, socketio):
        if listen:
            raise UsageError("--listen takes an http:// URL; Socket.IO sources connect out")
        return "socketio"
    if not sep or source == "-" or not scheme.isalnum():
        if listen:
            raise UsageError(f"--listen needs SOURCE to be http://HOST:PORT/path, not {source!r}")
        return "file"
    info = REGISTRY.get(scheme)
    if info is None:
        known = [
            f"{other.schemes[0]}:// with --listen" if other.listens else other.shown_schemes.replace(" and ", ", ")
            for other in SOURCES.values() if other.schemes
        ]
        raise UsageError(f"unsupported source {scheme}:// (expected {', '.join(known)}, or a file)")
    if listen and not info.listens:
        raise UsageError(f"--listen takes an http:// URL; {info.shown_schemes} are for connecting out")
    if info.listens and not listen:
        raise UsageError(
            f"{scheme}:// SOURCE needs --listen (a webhook receiver); to connect to a WebSocket use ws:// or wss://"
        )
    return info.kind


def _duration(text: str, flag: str, allow_zero: bool = False) -> float:
    from presencectl.cli.sources import duration

    return duration(text, flag, allow_zero)


def build_source(
    source: str, kind: str, args: ConnectArgs, env: Environment, warn: Callable[[str], None] | None = None
) -> Any:
    """The live Source for SOURCE (``kind`` from :func:`source_kind`), built by
    its builder in :data:`presencectl.cli.sources.BUILDERS`; ``warn`` takes
    the transport's lines (refused requests, refused subscriptions; default ``env.warn``).

    Raises:
        UsageError: a flag this kind of source does not accept, a malformed
            URL, header, duration, size, or an unreadable file.
    """
    from presencectl.cli.sources import BUILDERS

    check_applicable(kind, args)
    builder = BUILDERS.get(kind)
    if builder is None:
        raise UsageError(f"not a live source: {source!r}")
    return builder(source, args, env, warn or env.warn)


def run_live(
    env: Environment,
    source_text: str,
    args: ConnectArgs,
    filters: FilterArgs,
    output: OutputArgs | None,
    *,
    dialect: str | None,
    assume_tz: str,
    limit: int | None,
    record: str | None,
    quiet: bool,
    live_table: bool = False,
    force: bool = False,
    view: Callable[..., Any] | None = None,
    follow: bool = False,
) -> int:
    """The body shared by ``tail`` and ``record`` (``live_table``: ``tail --live``;
    ``follow``: ``tail FILE --follow``).

    ``view`` makes the live view something else than the presence table
    (``timeline SOURCE``): called like :class:`~presencectl.ui.live_table.LiveTable`.
    Returns the exit status: 0, or 3 when ``--deadline`` passed first.
    """
    import dataclasses
    import time

    from presencectl.engine.deadline import DeadlinePassed, alarm, deadline_ending
    from presencectl.engine.runner import Pipeline, open_pipeline, run_cat
    from presencectl.engine.session import Session, summarize
    from presencectl.ui.console import Output

    kind = source_kind(source_text, args.listen, args.sio.socketio)
    if follow:
        if kind != "file" or source_text == "-":
            what = "stdin is read as it arrives already" if kind == "file" else f"{source_text} is a live stream already"
            raise UsageError(f"--follow/-F is for a file that grows (like tail -F); {what}")
        # A followed file ends after --timeout without a new line.
        check_applicable(kind, dataclasses.replace(args, timeout=None))
    else:
        check_applicable(kind, args)
    session: Session | None = None

    def warn(message: str) -> None:  # from the transport: keep off the counter line
        (session or env).warn(message)

    if live_table:
        from presencectl.ui.live_table import ensure_terminal

        ensure_terminal(env)
        if output is not None and (output.fmt is not None or output.verbose):
            raise UsageError("--live shows a table, not event lines: drop -f/--format and -v")
        if quiet:
            raise UsageError("--live and -q/--quiet exclude each other")
    if kind == "mqtt":
        from presencectl.cli.mqtt_options import check_type_filters

        check_type_filters(filters.types, args.mqtt.topics, env.warn)
    source = build_source(source_text, kind, args, env, warn) if kind != "file" else None
    idle = _duration(args.timeout, "--timeout") if args.timeout is not None else None
    overall = _duration(args.deadline, "--deadline") if args.deadline is not None else None
    followed = None
    if follow:  # opened before anything else: a missing or gzipped file is one error line
        from presencectl.engine.follow import FollowReader

        followed = FollowReader(source_text, env.warn, env.note, idle=idle)
    if record == "-":
        raise UsageError("the capture needs a file name (not -)")
    if force and record is None:
        raise UsageError("--force replaces an existing capture: it needs --record FILE")
    filt = filters.build(env, output.utc if output is not None else False)
    decoder = make_decoder(dialect, assume_tz)
    render = out = None
    if not quiet and output is not None and not live_table:
        from presencectl.core.render import make_renderer

        render = make_renderer(output.render_options(env))
        # A file source (stdin above all) flushes every event; the live
        # session flushes whenever the network has nothing more buffered.
        out = Output(env.stdout, live=kind == "file")
    pipeline, gate = open_pipeline(
        lambda recorder, gate: Pipeline(decoder, filt, render, out, limit, recorder, gate=gate),
        record,
        endpoint=source.endpoint if source is not None else source_text,
        transport=source.transport if source is not None else "file",
        started_wall=time.time(),
        network=source is not None,
        topics=getattr(source, "topics", None),
        headers=args.header_lines(),
        force=force,
        inputs=[source_text] if source is None else (),
    )
    started = time.monotonic()
    table = None
    try:
        if live_table:
            from presencectl.ui.console import choose_color
            from presencectl.ui.live_table import LiveTable

            assert output is not None
            table = (view or LiveTable)(
                env,
                color=choose_color(output.color.value, env.stdout_isatty, env.environ),
                utc=output.utc,
                title=source.endpoint if source is not None else source_text,
                wall_clock=time.time if source is not None else None,
            )
            table.__enter__()
            table.attach(pipeline)
        gate.leave()  # raises a signal that came during the set-up
        if followed is not None:
            from presencectl.engine.follow import follow_file

            try:
                with alarm(overall, gate):
                    ending = follow_file(followed, pipeline)
            except DeadlinePassed:
                message, status = deadline_ending(overall, limit, pipeline.counts.shown)
                env.note(message)
                return int(status)
            if ending:
                env.note(ending)
            return 0
        if source is None:
            from presencectl.cli.options import parse_max_line

            try:
                with alarm(overall, gate):
                    run_cat(env, [source_text], pipeline, parse_max_line(args.max_line))
            except DeadlinePassed:
                message, status = deadline_ending(overall, limit, pipeline.counts.shown)
                env.note(message)
                return int(status)
            return 0
        session = Session(
            source,
            pipeline,
            env,
            reconnect=args.reconnect,
            idle_timeout=idle,
            deadline=overall,
            counter=env.stderr if quiet and env.stderr_isatty else None,
            capture=record,
        )
        ending = session.run()
        if ending.reason != "limit":
            env.note(ending.message)
        return int(ending.status)
    finally:
        # Signals wait from here on: the capture is finished exactly once,
        # every frame received so far is in it, and the summary says so.
        gate.poll(True)
        gate.enter()
        try:
            if table is not None:
                table.__exit__(None, None, None)
            # Never connected: say one line (the error), leave no empty capture
            # and any older file untouched.
            never_connected = session is not None and session.state == "connecting"
            pipeline.close(keep_empty=not never_connected)
            capture = record if pipeline.recorder is not None and pipeline.recorder.kept else None
            kept_old = "" if capture or record is None else f"; no frame recorded, {record} left as it was"
            if never_connected:
                pass  # the error is the one line to say
            elif session is not None:
                session.capture = capture
                env.note(session.summary() + kept_old)
            elif record is not None or quiet or followed is not None:
                env.note(summarize(pipeline, time.monotonic() - started, 0, capture) + kept_old)
        finally:
            gate.depth = 0
            gate.__exit__()
            gate.raise_pending()  # a signal during the clean-up: its exit status


def _guard(env: Environment, body: Any) -> None:
    """Run a command body through :func:`guarded`; a returned status ≠ 0 → that exit."""
    status = guarded(env, body)
    if status:
        raise typer.Exit(int(status))


class LiveCommand(ProfileCommand, MqttCommand, SocketIOCommand):
    """``--publish TOPIC PAYLOAD`` and ``--emit EVENT JSON`` both take two values;
    a ``@name`` source is a connection profile (``--config``)."""


RecordOpt = Annotated[
    str | None,
    typer.Option("--record", metavar="FILE", help="Also write a capture FILE (.gz compresses).", rich_help_panel=RECORDING, show_default=False),
]
QuietOpt = Annotated[
    bool, typer.Option("-q", "--quiet", help="No events (--record: a counter on a terminal).", rich_help_panel=RECORDING)
]
FollowOpt = Annotated[
    bool,
    typer.Option(
        "-F", "--follow",
        help="Follow a growing FILE like tail -F (rotation too).",
        rich_help_panel=RECORDING,
    ),
]
OutputFileOpt = Annotated[
    str,
    typer.Option("-o", "--output", metavar="FILE", help="Capture file to write (.gz compresses).", rich_help_panel=RECORDING, show_default=False),
]


@app.command("tail", cls=LiveCommand)
@takes(*SOURCE_GROUPS, FILTERS, OUTPUT)
def tail_cmd(
    source: SourceArg, *, record: RecordOpt = None, force: ForceOpt = False, quiet: QuietOpt = False,
    follow: FollowOpt = False, opts: Opts,
) -> None:
    """Watch a live stream: WebSocket, MQTT, Socket.IO, a webhook receiver, or a file/stdin.

    Reconnects after a loss (a notice each time), repeating --send/--send-file.

    [bold]Examples[/]

      presencectl tail wss://api.lab5e.com/span/collections/abc/activity -H "X-API-Token: $TOKEN"
      presencectl tail ws://127.0.0.1:9000/events --record s.capture.ndjson --timeout 30
      presencectl tail http://127.0.0.1:8088/munic --listen
      presencectl tail mqtt://user:pass@broker:1883 -T 'devices/+/presence' --qos 1
      presencectl tail sio://127.0.0.1:5000 --event PRESENCE_EVENT_RESPONSE
      presencectl tail @span-prod --live

    Navixy, Aliyun IoT and Avaya Spaces: see "Vendor recipes" in the README.
    """
    env = Environment()
    _guard(
        env,
        lambda: run_live(
            env, source, opts.connect_args(), opts.filter_args(), opts.output_args(),
            dialect=opts.dialect, assume_tz=opts.assume_tz,
            limit=opts.limit, record=record, quiet=quiet, live_table=opts.live, force=force, follow=follow,
        ),
    )


@app.command("record", cls=LiveCommand)
@takes(*SOURCE_GROUPS, FILTERS)
def record_cmd(source: SourceArg, *, output: OutputFileOpt, force: ForceOpt = False, opts: Opts) -> None:
    """Capture a live stream to a file, with a live counter on stderr instead of events.

    Every frame is recorded, whatever the filters say; filters decide what
    counts toward -n. Same as [bold]tail --record FILE --quiet[/].

    [bold]Examples[/]

      presencectl record wss://api.lab5e.com/span/collections/abc/activity -H "X-API-Token: $TOKEN" -o today.capture.ndjson.gz
      presencectl record http://127.0.0.1:8088/munic --listen -o munic.capture.ndjson --timeout 10m
      presencectl record mqtt://broker -T '#' --share recorders -o part1.capture.ndjson.gz
      presencectl record sio://127.0.0.1:5000 -o presence.capture.ndjson
    """
    env = Environment()
    _guard(
        env,
        lambda: run_live(
            env, source, opts.connect_args(), opts.filter_args(), None,
            dialect=opts.dialect, assume_tz=opts.assume_tz,
            limit=opts.limit, record=output, quiet=True, force=force,
        ),
    )
