"""``presencectl tail`` and ``presencectl record``: live sources, rendered or captured.

Both build a :class:`~presencectl.transports.base.Source` from SOURCE and the
connection options, a :class:`~presencectl.runner.Pipeline` from the filter
and output options, and hand them to :class:`~presencectl.live.Session`.
A file or ``-`` as SOURCE goes through ``run_cat`` instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

import typer

from presencectl.app import app, guarded
from presencectl.console import Environment
from presencectl.errors import UsageError
from presencectl.mqtt_options import (
    AliyunDeviceOpt,
    CleanSessionOpt,
    ClientIdOpt,
    DeviceSecretOpt,
    MqttArgs,
    MqttCommand,
    MqttVersionOpt,
    PasswordOpt,
    PublishOpt,
    QosOpt,
    ShareOpt,
    SkipRetainedOpt,
    TopicOpt,
    UsernameOpt,
)
from presencectl.options import (
    AssumeTzOpt,
    ColorMode,
    ColorOpt,
    DialectOpt,
    FilterArgs,
    FormatOpt,
    GrepOpt,
    KeepaliveOpt,
    KindOpt,
    LimitOpt,
    LiveOpt,
    OutputArgs,
    SinceOpt,
    SubjectOpt,
    TimeOpt,
    TimeSource,
    TypeOpt,
    UntilOpt,
    UtcOpt,
    VerboseOpt,
    WhereOpt,
    make_decoder,
)
from presencectl.profiles import ProfileCommand
from presencectl.socketio_options import (
    NOT_FOR_SOCKETIO,
    AuthOpt,
    EioOpt,
    EmitOpt,
    EventOpt,
    NamespaceOpt,
    SocketIOArgs,
    SocketIOCommand,
    SocketIOOpt,
    wants_socketio,
)

if TYPE_CHECKING:
    from presencectl.live import Session

CONNECTION = "Connection"
TLS = "TLS"
WEBHOOK = "Webhook receiver (--listen)"
RECORDING = "Recording"

SourceArg = Annotated[
    str,
    typer.Argument(
        help="ws:// or wss:// URL; mqtt:// or mqtts:// broker; sio:// or sios:// Socket.IO server; http://HOST:PORT/path with --listen; @NAME for a connection profile; a capture/NDJSON file or - for stdin.",
        show_default=False,
    ),
]
HeaderOpt = Annotated[
    list[str] | None,
    typer.Option("-H", "--header", help="'Name: value' sent with the WebSocket upgrade (repeatable).", rich_help_panel=CONNECTION),
]
SubprotocolOpt = Annotated[
    list[str] | None,
    typer.Option("--subprotocol", help="WebSocket subprotocol to offer (repeatable).", rich_help_panel=CONNECTION),
]
SendOpt = Annotated[
    list[str] | None,
    typer.Option("--send", help="Text message sent after every (re)connect (repeatable; before --send-file).", rich_help_panel=CONNECTION),
]
SendFileOpt = Annotated[
    list[str] | None,
    typer.Option("--send-file", help="Send this file's content after every (re)connect, e.g. a Navixy subscribe request (repeatable; one trailing newline dropped).", rich_help_panel=CONNECTION),
]
ReconnectOpt = Annotated[
    bool,
    typer.Option("--reconnect/--no-reconnect", help="Reconnect after a loss (backoff with jitter, up to 30 s); --no-reconnect exits 1 on loss.", rich_help_panel=CONNECTION),
]
TimeoutOpt = Annotated[
    str | None,
    typer.Option("--timeout", help="Exit 0 after this long without a message: 30, 90s, 5m.", rich_help_panel=CONNECTION, show_default=False),
]
ConnectTimeoutOpt = Annotated[
    str, typer.Option("--connect-timeout", help="Give up a connection attempt after this long.", rich_help_panel=CONNECTION)
]
PingOpt = Annotated[
    str,
    typer.Option("--ping-interval", help="Send a WebSocket ping after this long idle; no answer within as long again counts as a loss. 0 turns pings off.", rich_help_panel=CONNECTION),
]
CacertOpt = Annotated[
    str | None, typer.Option("--cacert", help="Trust the server certificates signed by this PEM CA bundle (instead of the system's).", rich_help_panel=TLS, show_default=False)
]
CertOpt = Annotated[
    str | None, typer.Option("--cert", help="Client certificate (PEM) for mutual TLS.", rich_help_panel=TLS, show_default=False)
]
KeyOpt = Annotated[
    str | None, typer.Option("--key", help="Private key of --cert, if not in the same file.", rich_help_panel=TLS, show_default=False)
]
InsecureOpt = Annotated[
    bool, typer.Option("--insecure", "-k", help="Do not verify the server's TLS certificate.", rich_help_panel=TLS)
]
ListenOpt = Annotated[
    bool, typer.Option("--listen", help="SOURCE is http://HOST:PORT/path to listen on for webhook POSTs (HOST defaults to 127.0.0.1).", rich_help_panel=WEBHOOK)
]
MaxBodyOpt = Annotated[
    str, typer.Option("--max-body", help="Refuse bodies over this size with 413: 1048576, 512k, 16M.", rich_help_panel=WEBHOOK)
]
BasicAuthOpt = Annotated[
    str | None,
    typer.Option("--basic-auth", envvar="PRESENCECTL_BASIC_AUTH", help="USER:PASS every POST must carry (else 401).", rich_help_panel=WEBHOOK, show_default=False),
]

#: Options that only make sense for a network source, by their flag.
_NETWORK_ONLY = ("--timeout", "--no-reconnect")
_WS_ONLY = ("-H", "--subprotocol", "--send", "--send-file", "--cacert", "--cert", "--key", "--insecure", "--ping-interval", "--connect-timeout")
_WEBHOOK_ONLY = ("--max-body", "--basic-auth")


@dataclass(slots=True)
class ConnectArgs:
    """The connection options as given on the command line."""

    headers: list[str] = field(default_factory=list)
    subprotocols: list[str] = field(default_factory=list)
    sends: list[str] = field(default_factory=list)
    send_files: list[str] = field(default_factory=list)
    reconnect: bool = True
    timeout: str | None = None
    connect_timeout: str = "10"
    ping_interval: str = "20"
    cacert: str | None = None
    cert: str | None = None
    key: str | None = None
    insecure: bool = False
    listen: bool = False
    max_body: str = "16M"
    basic_auth: str | None = None
    sio: SocketIOArgs = field(default_factory=SocketIOArgs)
    mqtt: MqttArgs = field(default_factory=MqttArgs)

    def given(self) -> dict[str, bool]:
        """Which flags differ from their defaults (for misuse errors)."""
        return {
            "-H": bool(self.headers),
            "--subprotocol": bool(self.subprotocols),
            "--send": bool(self.sends),
            "--send-file": bool(self.send_files),
            "--no-reconnect": not self.reconnect,
            "--timeout": self.timeout is not None,
            "--connect-timeout": self.connect_timeout != "10",
            "--ping-interval": self.ping_interval != "20",
            "--cacert": self.cacert is not None,
            "--cert": self.cert is not None,
            "--key": self.key is not None,
            "--insecure": self.insecure,
            "--listen": self.listen,
            "--max-body": self.max_body != "16M",
            "--basic-auth": self.basic_auth is not None,
        }


def source_kind(source: str, listen: bool, socketio: bool = False) -> str:
    """``"websocket"``, ``"socketio"``, ``"webhook"`` or ``"file"`` for SOURCE.

    >>> source_kind("wss://example.com/x", False), source_kind("-", False)
    ('websocket', 'file')

    Raises:
        UsageError: an http:// URL without --listen, --listen with another
            kind of source, or a scheme this version does not speak.
    """
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
    if scheme in ("ws", "wss"):
        if listen:
            raise UsageError("--listen takes an http:// URL; ws:// and wss:// are for connecting out")
        return "websocket"
    if scheme in ("mqtt", "mqtts"):
        if listen:
            raise UsageError("--listen takes an http:// URL; mqtt:// and mqtts:// are for connecting out")
        return "mqtt"
    if scheme in ("http", "https"):
        if not listen:
            raise UsageError(
                f"{scheme}:// SOURCE needs --listen (a webhook receiver); to connect to a WebSocket use ws:// or wss://"
            )
        return "webhook"
    raise UsageError(f"unsupported source {scheme}:// (expected ws://, wss://, mqtt://, mqtts://, http:// with --listen, or a file)")


def _duration(text: str, flag: str, allow_zero: bool = False) -> float:
    from presencectl.core.times import parse_duration

    value = parse_duration(text)
    if value is None or value < 0 or (value == 0 and not allow_zero):
        raise UsageError(f"bad {flag} {text!r}: expected a duration such as 30, 90s, 5m")
    return value


def _check_applicable(kind: str, args: ConnectArgs, follow: bool = False) -> None:
    given = args.given()
    if follow:
        given["--timeout"] = False  # a followed file ends after --timeout without a new line
    wrong: list[str] = []
    if kind == "socketio":
        args.mqtt.check_not_mqtt("a Socket.IO source")
        wrong = [f for f in (*_WEBHOOK_ONLY, *NOT_FOR_SOCKETIO) if given[f]]
        if wrong:
            why = "; ".join(f"{f}: {NOT_FOR_SOCKETIO[f]}" for f in wrong if f in NOT_FOR_SOCKETIO)
            raise UsageError(f"{', '.join(wrong)} cannot be used with a Socket.IO source" + (f" ({why})" if why else ""))
        return
    args.sio.check_not_socketio(
        {"file": "a file source", "webhook": "the webhook receiver", "mqtt": "an MQTT source"}.get(kind, "a WebSocket source")
    )
    if kind == "mqtt":
        wrong = [f for f in ("-H", "--subprotocol", "--send", "--send-file", "--ping-interval", *_WEBHOOK_ONLY) if given[f]]
        if wrong:
            raise UsageError(f"{', '.join(wrong)} cannot be used with an MQTT source (MQTT: -T, --publish, --username)")
        return
    args.mqtt.check_not_mqtt({"file": "a file source", "webhook": "the webhook receiver"}.get(kind, "a WebSocket source"))
    if kind == "file":
        wrong = [f for f, on in given.items() if on]
        where = "a file source"
    elif kind == "webhook":
        wrong = [f for f in _WS_ONLY if given[f]]
        where = "the webhook receiver"
    else:
        wrong = [f for f in _WEBHOOK_ONLY if given[f]]
        where = "a WebSocket source"
    if wrong:
        raise UsageError(f"{', '.join(wrong)} cannot be used with {where}")


def _read_sends(args: ConnectArgs) -> list[str | bytes]:
    sends: list[str | bytes] = list(args.sends)
    for path in args.send_files:
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            raise UsageError(f"--send-file {path}: {exc.strerror or exc}") from None
        if data.endswith(b"\r\n"):
            data = data[:-2]
        elif data.endswith(b"\n"):
            data = data[:-1]
        try:
            sends.append(data.decode("utf-8"))
        except UnicodeDecodeError:
            sends.append(data)  # not text: sent as a binary frame
    return sends


def build_source(
    source: str, kind: str, args: ConnectArgs, env: Environment, warn: Callable[[str], None] | None = None
) -> Any:
    """The live Source for SOURCE (``kind`` from :func:`source_kind`); ``warn``
    takes the webhook's lines about refused requests (default ``env.warn``).

    Raises:
        UsageError: a malformed URL, header, duration, size, or an unreadable file.
    """
    _check_applicable(kind, args)
    if kind == "socketio":
        from presencectl.transports.socketio_client import socketio_source_from_args

        return socketio_source_from_args(
            source,
            **args.sio.source_kwargs(),
            headers=args.headers,
            cacert=args.cacert,
            cert=args.cert,
            key=args.key,
            insecure=args.insecure,
            connect_timeout=_duration(args.connect_timeout, "--connect-timeout"),
            warn=warn or env.warn,
        )
    if kind == "mqtt":
        return args.mqtt.build_source(
            source,
            cacert=args.cacert,
            cert=args.cert,
            key=args.key,
            insecure=args.insecure,
            connect_timeout=_duration(args.connect_timeout, "--connect-timeout"),
            notice=warn or env.warn,
        )
    if kind == "websocket":
        from presencectl.transports.ws_client import (
            WsOptions,
            WsSource,
            make_ssl_context,
            parse_ws_url,
        )

        url = parse_ws_url(source)
        context = None
        if url.secure:
            context = make_ssl_context(args.cacert, args.cert, args.key, args.insecure)
        elif args.cacert or args.cert or args.key or args.insecure:
            raise UsageError("--cacert, --cert, --key and --insecure need a wss:// URL")
        ping = _duration(args.ping_interval, "--ping-interval", allow_zero=True)
        options = WsOptions(
            source,
            headers=list(args.headers),
            subprotocols=list(args.subprotocols),
            sends=_read_sends(args),
            ssl_context=context,
            connect_timeout=_duration(args.connect_timeout, "--connect-timeout"),
            ping_interval=ping or None,
            client_cert=args.cert is not None,
        )
        return WsSource(options)
    if kind == "webhook":
        from presencectl.transports.webhook import WebhookOptions, WebhookSource, parse_size

        auth = None
        if args.basic_auth is not None:
            user, sep, password = args.basic_auth.partition(":")
            if not sep or not user:
                raise UsageError("bad --basic-auth: expected USER:PASS")
            auth = (user, password)
        options = WebhookOptions(source, max_body=parse_size(args.max_body), basic_auth=auth, warn=warn or env.warn)
        return WebhookSource(options)
    raise UsageError(f"not a live source: {source!r}")


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
    follow: bool = False,
) -> None:
    """The body shared by ``tail`` and ``record`` (``live_table``: ``tail --live``;
    ``follow``: ``tail FILE --follow``)."""
    import contextlib
    import os
    import signal
    import time

    from presencectl.console import Output
    from presencectl.core.capture import make_header
    from presencectl.live import Session, Terminated, summarize
    from presencectl.runner import Pipeline, run_cat
    from presencectl.transports.files import CaptureWriter

    kind = source_kind(source_text, args.listen, args.sio.socketio)
    if follow and (kind != "file" or source_text == "-"):
        what = "stdin is read as it arrives already" if kind == "file" else f"{source_text} is a live stream already"
        raise UsageError(f"--follow/-F is for a file that grows (like tail -F); {what}")
    _check_applicable(kind, args, follow)
    session: Session | None = None

    def warn(message: str) -> None:  # from the transport: keep off the counter line
        (session or env).warn(message)

    if live_table:
        from presencectl.live_table import ensure_terminal

        ensure_terminal(env)
        if output is not None and (output.fmt is not None or output.verbose):
            raise UsageError("--live shows a table, not event lines: drop -f/--format and -v")
        if quiet:
            raise UsageError("--live and -q/--quiet exclude each other")
    if kind == "mqtt":
        from presencectl.mqtt_options import check_type_filters

        check_type_filters(filters.types, args.mqtt.topics, env.warn)
    source = build_source(source_text, kind, args, env, warn) if kind != "file" else None
    idle = _duration(args.timeout, "--timeout") if args.timeout is not None else None
    followed = None
    if follow:  # opened before anything else: a missing or gzipped file is one error line
        from presencectl.follow import FollowReader

        followed = FollowReader(source_text, env.warn, env.note, idle=idle)
    if record == "-":
        raise UsageError("the capture needs a file name (not -)")
    filt = filters.build(env, output.utc if output is not None else False)
    decoder = make_decoder(dialect, assume_tz)
    render = out = None
    if not quiet and output is not None and not live_table:
        from presencectl.core.render import make_renderer

        render = make_renderer(output.render_options(env))
        # A file source (stdin above all) flushes every event; the live
        # session flushes whenever the network has nothing more buffered.
        out = Output(env.stdout, live=kind == "file")
    recorder = None
    if record is not None:
        header = make_header(
            source.endpoint if source is not None else source_text,
            source.transport if source is not None else "file",
            time.time(),
            topics=getattr(source, "topics", None),
            headers=args.headers or None,
        )
        recorder = CaptureWriter(record, header)
    pipeline = Pipeline(decoder, filt, render, out, limit, recorder)

    def on_term(signum: int, frame: object) -> None:
        raise Terminated

    previous = signal.signal(signal.SIGTERM, on_term)
    started = time.monotonic()
    table = None
    if live_table:
        from presencectl.console import choose_color
        from presencectl.live_table import LiveTable

        assert output is not None
        table = LiveTable(
            env,
            color=choose_color(output.color.value, env.stdout_isatty, env.environ),
            utc=output.utc,
            title=source.endpoint if source is not None else source_text,
            wall_clock=time.time if source is not None else None,
        )
        table.__enter__()
        table.attach(pipeline)
    try:
        if followed is not None:
            from presencectl.follow import follow_file

            ending = follow_file(followed, pipeline)
            if ending:
                env.note(ending)
            return
        if source is None:
            run_cat(env, [source_text], pipeline)
            return
        session = Session(
            source,
            pipeline,
            env,
            reconnect=args.reconnect,
            idle_timeout=idle,
            counter=env.stderr if quiet and env.stderr_isatty else None,
            capture=record,
        )
        ending = session.run()
        if ending.reason != "limit":
            env.note(ending.message)
    finally:
        signal.signal(signal.SIGTERM, previous)
        if table is not None:
            table.__exit__(None, None, None)
        try:
            pipeline.close()
        finally:
            if session is not None and session.state == "connecting":
                # Never connected: say one line (the error), leave no empty capture.
                if record is not None and pipeline.counts.frames == 0:
                    with contextlib.suppress(OSError):
                        os.remove(record)
            elif session is not None:
                env.note(session.summary())
            elif record is not None or quiet or followed is not None:
                env.note(summarize(pipeline, time.monotonic() - started, 0, record))


def _guard(env: Environment, body: Any) -> None:
    from presencectl.live import Terminated

    try:
        guarded(env, body)
    except Terminated:
        raise typer.Exit(143) from None


class LiveCommand(ProfileCommand, MqttCommand, SocketIOCommand):
    """``--publish TOPIC PAYLOAD`` and ``--emit EVENT JSON`` both take two values;
    a ``@name`` source is a connection profile (``--config``)."""


@app.command("tail", cls=LiveCommand)
def tail_cmd(
    source: SourceArg,
    *,
    header: HeaderOpt = None,
    subprotocol: SubprotocolOpt = None,
    send: SendOpt = None,
    send_file: SendFileOpt = None,
    reconnect: ReconnectOpt = True,
    timeout: TimeoutOpt = None,
    connect_timeout: ConnectTimeoutOpt = "10",
    ping_interval: PingOpt = "20",
    cacert: CacertOpt = None,
    cert: CertOpt = None,
    key: KeyOpt = None,
    insecure: InsecureOpt = False,
    listen: ListenOpt = False,
    max_body: MaxBodyOpt = "16M",
    basic_auth: BasicAuthOpt = None,
    socketio: SocketIOOpt = False,
    namespace: NamespaceOpt = None,
    emit: EmitOpt = None,
    event: EventOpt = None,
    auth: AuthOpt = None,
    eio: EioOpt = None,
    topic: TopicOpt = None,
    qos: QosOpt = 0,
    mqtt_version: MqttVersionOpt = None,
    client_id: ClientIdOpt = None,
    username: UsernameOpt = None,
    password: PasswordOpt = None,
    share: ShareOpt = None,
    publish: PublishOpt = None,
    clean_session: CleanSessionOpt = True,
    skip_retained: SkipRetainedOpt = False,
    aliyun_device: AliyunDeviceOpt = None,
    device_secret: DeviceSecretOpt = None,
    record: Annotated[
        str | None,
        typer.Option("--record", help="Also write a capture to FILE (.gz compresses); every frame is on disk before it is shown.", rich_help_panel=RECORDING, show_default=False),
    ] = None,
    quiet: Annotated[
        bool, typer.Option("-q", "--quiet", help="Show no events (with --record: a live counter on a terminal instead).", rich_help_panel=RECORDING)
    ] = False,
    type_: TypeOpt = None,
    subject: SubjectOpt = None,
    dialect: DialectOpt = None,
    kind: KindOpt = None,
    where: WhereOpt = None,
    grep: GrepOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    limit: LimitOpt = None,
    keepalive: KeepaliveOpt = False,
    fmt: FormatOpt = None,
    color: ColorOpt = ColorMode.auto,
    utc: UtcOpt = False,
    time: TimeOpt = TimeSource.event,
    verbose: VerboseOpt = False,
    live: LiveOpt = False,
    assume_tz: AssumeTzOpt = "UTC",
    follow: Annotated[
        bool,
        typer.Option(
            "-F", "--follow",
            help="SOURCE is a file: after its end, show lines as they are appended, like tail -F (the file's name is followed across rotation; a truncated file is read again from the start). Ends with Ctrl-C, -n, or --timeout without a new line.",
            rich_help_panel=RECORDING,
        ),
    ] = False,
) -> None:
    """Watch a live stream: WebSocket, MQTT, Socket.IO, a webhook receiver, or a file/stdin.

    Reconnects after a loss (a notice each time), repeating --send/--send-file.

    [bold]Examples[/]

      presencectl tail wss://api.lab5e.com/span/collections/abc/activity -H "X-API-Token: $TOKEN"
      presencectl tail "wss://api.eu.navixy.com/v2/event/subscription?X-Atmosphere-Transport=websocket" --send-file subscribe.json -f json | jq .subject
      presencectl tail http://127.0.0.1:8088/munic --listen
      presencectl tail ws://127.0.0.1:9000/events --record s.capture.ndjson --timeout 30
      presencectl tail wss://… -H "X-API-Token: $TOKEN" --live
      presencectl tail @span-prod
      presencectl tail /var/log/devices.ndjson --follow -s 'dev42'
      presencectl tail mqtt://user:pass@broker:1883 -T 'devices/+/presence' --qos 1
      presencectl tail mqtts://broker:8883 --cacert ca.pem --cert dev.pem --key dev.key -T '#'
      presencectl tail mqtts://a1pk.iot-as-mqtt.cn-shanghai.aliyuncs.com:8883 --aliyun-device a1pk/app-dn --device-secret "$SECRET" -T '/sys/a1pk/app-dn/app/down/#' --publish /sys/a1pk/app-dn/app/up/account/bind @bind.json
      presencectl tail "sios://spacesapis-socket.avayacloud.com/socket.io/?token=$JWT&tokenType=jwt" --namespace /chat --emit SUBSCRIBE_CHANNEL '{"channel":{"_id":"5eec…","type":"topic"}}' --event PRESENCE_EVENT_RESPONSE
    """
    env = Environment()
    args = ConnectArgs(
        header or [], subprotocol or [], send or [], send_file or [], reconnect, timeout,
        connect_timeout, ping_interval, cacert, cert, key, insecure, listen, max_body, basic_auth,
        SocketIOArgs.from_options(socketio, namespace, emit, event, auth, eio),
        MqttArgs(
            topic or [], qos, mqtt_version, client_id, username, password, share,
            [tuple(p) for p in publish or []], clean_session, skip_retained, aliyun_device, device_secret,
        ),
    )
    filters = FilterArgs(type_, subject, kind, where, grep, since, until, keepalive)
    output = OutputArgs(fmt, color, utc, time, verbose)
    _guard(
        env,
        lambda: run_live(
            env, source, args, filters, output, dialect=dialect, assume_tz=assume_tz,
            limit=limit, record=record, quiet=quiet, live_table=live, follow=follow,
        ),
    )


@app.command("record", cls=LiveCommand)
def record_cmd(
    source: SourceArg,
    *,
    output: Annotated[
        str,
        typer.Option("-o", "--output", help="Capture file to write (.gz compresses).", rich_help_panel=RECORDING, show_default=False),
    ],
    header: HeaderOpt = None,
    subprotocol: SubprotocolOpt = None,
    send: SendOpt = None,
    send_file: SendFileOpt = None,
    reconnect: ReconnectOpt = True,
    timeout: TimeoutOpt = None,
    connect_timeout: ConnectTimeoutOpt = "10",
    ping_interval: PingOpt = "20",
    cacert: CacertOpt = None,
    cert: CertOpt = None,
    key: KeyOpt = None,
    insecure: InsecureOpt = False,
    listen: ListenOpt = False,
    max_body: MaxBodyOpt = "16M",
    basic_auth: BasicAuthOpt = None,
    socketio: SocketIOOpt = False,
    namespace: NamespaceOpt = None,
    emit: EmitOpt = None,
    event: EventOpt = None,
    auth: AuthOpt = None,
    eio: EioOpt = None,
    topic: TopicOpt = None,
    qos: QosOpt = 0,
    mqtt_version: MqttVersionOpt = None,
    client_id: ClientIdOpt = None,
    username: UsernameOpt = None,
    password: PasswordOpt = None,
    share: ShareOpt = None,
    publish: PublishOpt = None,
    clean_session: CleanSessionOpt = True,
    skip_retained: SkipRetainedOpt = False,
    aliyun_device: AliyunDeviceOpt = None,
    device_secret: DeviceSecretOpt = None,
    type_: TypeOpt = None,
    subject: SubjectOpt = None,
    dialect: DialectOpt = None,
    kind: KindOpt = None,
    where: WhereOpt = None,
    grep: GrepOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    limit: LimitOpt = None,
    keepalive: KeepaliveOpt = False,
    assume_tz: AssumeTzOpt = "UTC",
) -> None:
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
    args = ConnectArgs(
        header or [], subprotocol or [], send or [], send_file or [], reconnect, timeout,
        connect_timeout, ping_interval, cacert, cert, key, insecure, listen, max_body, basic_auth,
        SocketIOArgs.from_options(socketio, namespace, emit, event, auth, eio),
        MqttArgs(
            topic or [], qos, mqtt_version, client_id, username, password, share,
            [tuple(p) for p in publish or []], clean_session, skip_retained, aliyun_device, device_secret,
        ),
    )
    filters = FilterArgs(type_, subject, kind, where, grep, since, until, keepalive)
    _guard(
        env,
        lambda: run_live(
            env, source, args, filters, None, dialect=dialect, assume_tz=assume_tz,
            limit=limit, record=output, quiet=True,
        ),
    )
