"""``presencectl replay``: play a capture back at real or accelerated speed."""

from __future__ import annotations

from typing import Annotated

import typer

from presencectl.cli.app import app, deprecated, guarded
from presencectl.cli.mqtt_options import MqttVersion
from presencectl.cli.option_groups import FILTERS as FILTER_GROUP
from presencectl.cli.option_groups import INPUT, OUTPUT, Opt, Opts, takes
from presencectl.cli.options import (
    ColorMode,
    FromOpt,
    TimeSource,
    UntilPointOpt,
    make_decoder,
    parse_max_line,
)
from presencectl.cli.socketio_options import (
    Eio,
    ServeEioOpt,
    ServeEventOpt,
    ServeNamespaceOpt,
    ServeSocketIOOpt,
)
from presencectl.errors import UsageError
from presencectl.ui.console import Environment

TARGET = "Target"
TIMING = "Timing"
FILTERS = "Filters"



#: -n counts frames, not events, when they go to a target.
_LIMIT = Opt(
    "limit",
    Annotated[
        int | None,
        typer.Option("-n", "--limit", min=1, metavar="N", help="Stop after N matching events (stdout) or N frames (--to; --serve: per client).", rich_help_panel=FILTERS),
    ],
    key=None,
)


@app.command("replay")
@takes(FILTER_GROUP.without("since", "until").replacing(_LIMIT), OUTPUT, INPUT)
def replay_cmd(
    capture: Annotated[
        str, typer.Argument(help="Capture file (.gz too), plain NDJSON, or - for stdin.", show_default=False)
    ],
    *,
    serve: Annotated[
        str | None,
        typer.Option(
            "--serve",
            metavar="[ws://]HOST:PORT[/path]",
            help="Run a WebSocket test server that replays to every client that connects (port 0: any free port).",
            rich_help_panel=TARGET,
        ),
    ] = None,
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            metavar="URL",
            help="Send the frames to ws(s)://… as a client, POST each to http(s)://… (webhook style), or publish each to an mqtt(s)://… broker.",
            rich_help_panel=TARGET,
        ),
    ] = None,
    header: Annotated[
        list[str] | None,
        typer.Option("-H", "--header", metavar="'NAME: VALUE'", help="--to: a header for the WebSocket handshake or each POST (repeatable; visible in ps: -H @FILE reads Name: value lines from FILE).", rich_help_panel=TARGET),
    ] = None,
    socketio: ServeSocketIOOpt = False,
    namespace: ServeNamespaceOpt = None,
    eio: ServeEioOpt = Eio.v4,
    event: ServeEventOpt = None,
    allow_remote: Annotated[
        bool, typer.Option("--allow-remote", help="--serve: allow binding an address other than loopback.", rich_help_panel=TARGET)
    ] = False,
    shared: Annotated[
        bool, typer.Option("--shared", help="--serve: one timeline broadcast to all clients, instead of each client from the start.", rich_help_panel=TARGET)
    ] = False,
    wait_for_client: Annotated[
        bool, typer.Option("--wait-for-client", help="--serve --shared: start the clock when the first client connects.", rich_help_panel=TARGET)
    ] = False,
    replay_disconnects: Annotated[
        bool,
        typer.Option(
            "--replay-disconnects",
            help="Turn each 'disconnected' marker into a real close (--serve: the clients; --to ws: our connection). A client that reconnects continues the timeline where it stopped.",
            rich_help_panel=TARGET,
        ),
    ] = False,
    insecure: Annotated[
        bool, typer.Option("--insecure", help="--to wss/https/mqtts: do not verify the server's TLS certificate.", rich_help_panel=TARGET)
    ] = False,
    topic_prefix: Annotated[
        str | None,
        typer.Option("--topic-prefix", metavar="NEW|OLD=NEW", help="--to mqtt: put NEW before every recorded topic, or replace a leading OLD with NEW.", rich_help_panel=TARGET),
    ] = None,
    qos: Annotated[
        int, typer.Option("--qos", min=0, max=2, help="--to mqtt: QoS of the republished messages (a message recorded as retained is republished retained).", rich_help_panel=TARGET)
    ] = 0,
    mqtt_version: Annotated[
        MqttVersion | None,
        typer.Option("--mqtt-version", help="--to mqtt: protocol 3 (3.1.1, the default) or 5; 5 republishes the recorded content types and user properties.", rich_help_panel=TARGET, show_default=False),
    ] = None,
    topic: Annotated[
        str | None,
        typer.Option("--default-topic", metavar="TOPIC", help="--to mqtt: the topic for frames recorded without one (WebSocket captures).", rich_help_panel=TARGET),
    ] = None,
    # --topic means "subscribe to" in tail/record; here it was the default topic.
    topic_alias: Annotated[str | None, typer.Option("--topic", metavar="TOPIC", hidden=True)] = None,
    cacert: Annotated[
        str | None, typer.Option("--cacert", metavar="FILE", help="--to wss/https/mqtts: verify the server with this CA bundle.", rich_help_panel=TARGET)
    ] = None,
    cert: Annotated[
        str | None, typer.Option("--cert", metavar="FILE", help="--to wss/https/mqtts: client certificate (PEM) for mutual TLS.", rich_help_panel=TARGET, show_default=False)
    ] = None,
    key: Annotated[
        str | None, typer.Option("--key", metavar="FILE", help="--to wss/https/mqtts: private key of --cert, if not in the same file.", rich_help_panel=TARGET, show_default=False)
    ] = None,
    client_id: Annotated[
        str | None, typer.Option("--client-id", help="--to mqtt: MQTT client id (default presencectl-replay-<random>).", rich_help_panel=TARGET, show_default=False)
    ] = None,
    timeout: Annotated[
        str | None,
        typer.Option("--connect-timeout", metavar="DURATION", help="--to: how long to wait to connect or for an answer: 10, 90s, 1m (default 10).", rich_help_panel=TARGET),
    ] = None,
    # --timeout means "exit after this long idle" in tail/record; here it was the connect timeout.
    timeout_alias: Annotated[str | None, typer.Option("--timeout", metavar="SECONDS", hidden=True)] = None,
    speed: Annotated[
        str, typer.Option("--speed", metavar="X|max", help="1 = real time, 10 = ten times faster, max = no waiting.", rich_help_panel=TIMING)
    ] = "1",
    max_gap: Annotated[
        float | None,
        typer.Option("--max-gap", min=0, metavar="SECONDS", help="Cap every idle gap at this many seconds of capture time (before --speed).", rich_help_panel=TIMING),
    ] = None,
    from_: FromOpt = None,
    until: UntilPointOpt = None,
    loop: Annotated[
        int, typer.Option("--loop", min=0, metavar="N", help="Play it N times; 0 = forever.", rich_help_panel=TIMING)
    ] = 1,
    rate: Annotated[
        float | None,
        typer.Option("--rate", metavar="N", help="Ignore recorded times: N frames per second (needed for NDJSON whose events carry no time).", rich_help_panel=TIMING),
    ] = None,
    opts: Opts,
) -> None:
    """Play a capture back: to the terminal, a WebSocket test server, a ws/http endpoint or an MQTT broker.

    Frames are sent when they fall due on one monotonic clock started at the
    beginning, so timing errors never add up. A frame is sent when any of its
    events matches the filters. A plain NDJSON file replays by its events'
    own times, or at --rate N frames per second. --from/--until pick a window
    (use them instead of the --since/--until filters of cat).

    [bold]Examples[/]

      presencectl replay fixtures/span-activity.capture.ndjson --speed 10
      presencectl replay customer.capture.ndjson.gz --serve 127.0.0.1:8765 --max-gap 2 --loop 0
      presencectl replay customer.capture.ndjson.gz --to mqtt://127.0.0.1:1883 --topic-prefix test/ --speed max
      presencectl replay events.ndjson --rate 200 --to ws://127.0.0.1:9000/ingest
      presencectl replay munic.capture.ndjson --to http://127.0.0.1:3000/webhooks/munic --speed 60
      presencectl replay session.capture.ndjson --from 5m --until 10m -t 'firmware*' --speed 4
      presencectl replay customer.capture.ndjson.gz --speed 20 --live
    """
    env = Environment()

    def body() -> None:
        from datetime import UTC

        from presencectl.core.replay import ReplayOptions, parse_speed, parse_window
        from presencectl.core.times import parse_zone

        nonlocal topic, timeout
        if topic_alias is not None:
            deprecated(env, "replay --topic", "--default-topic", "tail's --topic is what to subscribe to")
            topic = topic if topic is not None else topic_alias
        if timeout_alias is not None:
            deprecated(env, "replay --timeout", "--connect-timeout", "tail's --timeout is an idle timeout")
            timeout = timeout if timeout is not None else timeout_alias
        connect_timeout = _seconds(timeout, "--connect-timeout") if timeout is not None else 10.0
        fmt, color, utc, time, verbose, live = opts.fmt, opts.color, opts.utc, opts.time, opts.verbose, opts.live
        limit = opts.limit
        # Check the command line before touching files or sockets.
        if serve is not None and to is not None:
            raise UsageError("--serve and --to are two different targets: give one")
        is_mqtt = to is not None and to.lower().startswith(("mqtt://", "mqtts://"))
        mqtt_only = (
            (topic_prefix is not None, "--topic-prefix"), (qos != 0, "--qos"), (topic is not None, "--default-topic"),
            (mqtt_version is not None, "--mqtt-version"), (client_id is not None, "--client-id"),
        )
        for given, name in mqtt_only:
            if given and not is_mqtt:
                raise UsageError(f"{name} only applies with --to mqtt://…")
        if live and (serve is not None or to is not None):
            raise UsageError("--live shows the replay on this terminal: it does not go with --serve or --to")
        for given, name in ((shared, "--shared"), (wait_for_client, "--wait-for-client"), (allow_remote, "--allow-remote"), (socketio, "--socketio")):
            if given and serve is None:
                raise UsageError(f"{name} only applies with --serve")
        for given, name in ((namespace is not None, "--namespace"), (eio is not Eio.v4, "--eio"), (event is not None, "--event")):
            if given and not socketio:
                raise UsageError(f"{name} only applies with --serve --socketio")
        if wait_for_client and not shared:
            raise UsageError(
                "--wait-for-client only applies with --shared (each client already gets "
                "its own replay from the start when it connects)"
            )
        to_only = (
            (header, "-H/--header"), (insecure, "--insecure"), (cacert, "--cacert"), (cert, "--cert"), (key, "--key"),
            (timeout is not None, "--connect-timeout"),
        )
        for given, name in to_only:
            if given and to is None:
                raise UsageError(f"{name} only applies with --to")
        if replay_disconnects and serve is None and to is None:
            raise UsageError("--replay-disconnects only applies with --serve or --to")
        if serve is not None or to is not None:
            output_flags = (
                (fmt is not None, "-f/--format"),
                (color is not ColorMode.auto, "--color"),
                (utc and from_ is None and until is None, "--utc"),
                (time is not TimeSource.event, "--time"),
                (verbose, "-v/--verbose"),
            )
            for given, name in output_flags:
                if given:
                    raise UsageError(f"{name} shapes the output on stdout; it does not apply with --serve/--to")
        speed_value = parse_speed(speed)
        if rate is not None and not rate > 0:
            raise UsageError(f"bad --rate {rate:g}: frames per second, above 0")
        zone = UTC if utc else parse_zone("local")
        start, end = parse_window(from_, until, zone)
        options = ReplayOptions(
            speed=speed_value, max_gap=max_gap, start=start, end=end, loops=loop, rate=rate
        )
        filt = opts.filter_args().build(env, utc)
        decoder = make_decoder(opts.dialect, opts.assume_tz)

        target = None
        serve_at = None
        if to is not None:
            from presencectl.cli.secrets import expand_headers
            from presencectl.transports.targets import TargetOptions, make_target

            target = make_target(
                to,
                TargetOptions(
                    headers=expand_headers(header or ()),
                    insecure=insecure,
                    cacert=cacert,
                    cert=cert,
                    key=key,
                    timeout=connect_timeout,
                    replay_disconnects=replay_disconnects,
                    warn=env.warn,
                    extra={"topic_prefix": topic_prefix, "qos": qos, "topic": topic, "client_id": client_id,
                           "mqtt_version": mqtt_version.value if mqtt_version is not None else None},
                ),
            )
            if replay_disconnects and not target.honours_disconnects:
                raise UsageError(f"--replay-disconnects does not apply to {to.split(':', 1)[0]}:// targets")
        if serve is not None:
            serve_at = parse_serve(serve, socketio)
            from presencectl.cli.binding import check_bind

            check_bind(serve_at[0], allow_remote)

        from presencectl.engine.replay import (
            Replay,
            ReplaySource,
            replay_to_stdout,
            replay_to_target,
        )
        from presencectl.engine.replay_server import ReplayServer, run_server

        many = serve_at is not None and not shared
        source = ReplaySource(
            capture, env.warn, passes=None if many else loop or None, max_line=parse_max_line(opts.max_line)
        )
        replay = Replay(source, options, decoder, filt, source.warn)  # each warning once, however many clients
        if not source.is_capture and not rate:
            env.note(f"{source.name} is plain NDJSON: replaying by the events' own times (--rate N to pace it instead)")

        if serve_at is not None:
            host, port, path = serve_at
            factory = None
            if socketio:
                from functools import partial

                from presencectl.transports.socketio_server import SocketIOServer, capture_namespace

                factory = partial(
                    SocketIOServer,
                    eio=int(eio.value),
                    namespace=namespace or capture_namespace(source.header) or "/",
                    event=event or "message",
                )
            server = ReplayServer(
                replay,
                host=host,
                port=port,
                path=path,
                shared=shared,
                wait_for_client=wait_for_client,
                replay_disconnects=replay_disconnects,
                limit=limit,
                server_factory=factory,
            )
            run_server(env, server, progress=env.stderr_isatty)
        elif target is not None:
            replay_to_target(env, replay, target, progress=env.stderr_isatty, limit=limit)
        elif live:
            from presencectl.engine.runner import Pipeline
            from presencectl.ui.console import choose_color
            from presencectl.ui.live_table import LiveTable, ensure_terminal

            ensure_terminal(env)
            if fmt is not None or verbose:
                raise UsageError("--live shows a table, not event lines: drop -f/--format and -v")
            pipeline = Pipeline(decoder, filt, None, None, limit)
            # "last seen" against the replayed stream's own clock, not today's.
            with LiveTable(
                env, color=choose_color(color.value, True, env.environ), utc=utc, title=source.name
            ) as table:
                table.attach(pipeline)
                replay_to_stdout(env, replay, pipeline, progress=False)
        else:
            from presencectl.core.render import make_renderer
            from presencectl.engine.runner import Pipeline
            from presencectl.ui.console import Output

            render_options = opts.output_args().render_options(env)
            output = Output(env.stdout, live=speed_value is not None)
            pipeline = Pipeline(decoder, filt, make_renderer(render_options), output, limit)
            # On a shared terminal the events are the progress: no bar over them.
            progress = env.stderr_isatty and not env.stdout_isatty
            replay_to_stdout(env, replay, pipeline, progress=progress)

    guarded(env, body)


def _seconds(text: str, flag: str) -> float:
    """A duration such as 10, 90s, 1m for ``flag``, in seconds (at least 0.1)."""
    from presencectl.core.times import parse_duration

    value = parse_duration(text)
    if value is None or value < 0.1:
        raise UsageError(f"bad {flag} {text!r}: expected a duration of at least 0.1 s, such as 10, 90s, 1m")
    return value


def parse_serve(text: str, socketio: bool = False) -> tuple[str, int, str | None]:
    """``--serve [ws://]HOST:PORT[/path]`` (also ``PORT`` or ``:PORT``) → host, port, path.

    >>> parse_serve("8765"), parse_serve("ws://localhost:0/span")
    (('127.0.0.1', 8765, None), ('localhost', 0, '/span'))
    """
    from urllib.parse import urlsplit

    value = text.strip()
    if "://" in value:
        scheme, _, rest = value.partition("://")
        expected = "sio" if socketio else "ws"
        if scheme.lower() != expected:
            raise UsageError(f"bad --serve {text!r}: the test server speaks plain {expected}:// (no TLS)")
    else:
        rest = value
    if rest.isdigit():
        rest = f"127.0.0.1:{rest}"
    elif rest.startswith(":"):
        rest = "127.0.0.1" + rest
    try:
        parts = urlsplit("ws://" + rest)
        port = parts.port
    except ValueError:
        raise UsageError(f"bad --serve {text!r}: expected [ws://]HOST:PORT[/path]") from None
    if port is None or not parts.hostname:
        raise UsageError(f"bad --serve {text!r}: expected [ws://]HOST:PORT[/path] (port 0: any free port)")
    return parts.hostname, port, parts.path or None
