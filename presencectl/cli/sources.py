"""Sources built from the command line: flag values in, a transport's Source out.

:data:`BUILDERS` has one builder per kind of source
(:mod:`presencectl.transports.sources`); ``tail``, ``record`` and ``expect``
check the flags against what the kind accepts, then call it.

The transports take plain options objects and know no flags; what the user
typed (``--publish TOPIC @FILE``, ``--mqtt-version 3.1.1``, an Aliyun
device and its secret, ``--send-file``) is checked and turned into them
here, with usage errors that name the flags.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from presencectl.errors import UsageError

if TYPE_CHECKING:
    from presencectl.cli.option_groups import ConnectArgs
    from presencectl.transports.base import Source
    from presencectl.transports.mqtt import MqttOptions, MqttSource
    from presencectl.transports.socketio_client import SocketIOSource
    from presencectl.ui.console import Environment

__all__ = ["BUILDERS", "check_mqtt_options", "duration", "mqtt_source_from_args", "read_file_arg", "read_payload", "read_sends", "socketio_source_from_args"]

def read_file_arg(path: str, what: str) -> bytes:
    """The content of a file named by a flag, less one trailing newline
    (``--send-file FILE``, ``--publish TOPIC @FILE``).

    Raises:
        UsageError: ``{what}: No such file or directory``.
    """
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise UsageError(f"{what}: {exc.strerror or exc}") from None
    if data.endswith(b"\r\n"):
        return data[:-2]
    if data.endswith(b"\n"):
        return data[:-1]
    return data


def read_payload(text: str) -> bytes:
    """``--publish`` PAYLOAD: the text itself, or ``@FILE``'s content (``@@…`` for a literal ``@``).

    Like ``--send-file``, one trailing newline of a file is dropped.

    Raises:
        UsageError: the file cannot be read.
    """
    if text.startswith("@@"):
        return text[1:].encode("utf-8", "surrogateescape")
    if text.startswith("@"):
        return read_file_arg(text[1:], f"--publish {text}")
    return text.encode("utf-8", "surrogateescape")


def read_sends(sends: Sequence[str], send_files: Sequence[str]) -> list[str | bytes]:
    """``--send`` texts, then each ``--send-file``'s content: text when it is
    UTF-8, else bytes (sent as a binary frame).

    Raises:
        UsageError: a file cannot be read.
    """
    out: list[str | bytes] = list(sends)
    for path in send_files:
        data = read_file_arg(path, f"--send-file {path}")
        try:
            out.append(data.decode("utf-8"))
        except UnicodeDecodeError:
            out.append(data)  # not text: sent as a binary frame
    return out


def mqtt_source_from_args(
    url: str,
    *,
    topics: Sequence[str] | None = None,
    qos: int = 0,
    mqtt_version: str | int | None = None,
    client_id: str | None = None,
    username: str | None = None,
    password: str | None = None,
    share: str | None = None,
    publish: Sequence[Sequence[str]] | None = None,
    cacert: str | None = None,
    cert: str | None = None,
    key: str | None = None,
    insecure: bool = False,
    connect_timeout: float = 10.0,
    keepalive: int | None = None,
    clean_session: bool = True,
    skip_retained: bool = False,
    aliyun_device: str | None = None,
    device_secret: str | None = None,
    environ: Mapping[str, str] | None = None,
    notice: Callable[[str], None] | None = None,
) -> MqttSource:
    """The :class:`MqttSource` for ``tail``/``record mqtt[s]://…`` and their options.

    Args:
        url: ``mqtt://[user[:pass]@]host[:port]`` or ``mqtts://…`` (TLS, port 8883).
        topics: ``-T/--topic`` filters (default ``#``).
        qos: ``--qos`` 0, 1 or 2: subscriptions and ``--publish``.
        mqtt_version: ``--mqtt-version`` ``"3"`` (3.1.1) or ``"5"``; None: 5 with
            ``share``, else 3.1.1.
        client_id: ``--client-id``; with ``aliyun_device`` the bare id that is signed.
        username, password: ``--username``/``--password``; they override the URL's.
            Without either, the env ``PRESENCECTL_PASSWORD`` gives the password
            when a user name is known.
        share: ``--share GROUP``: subscribe as ``$share/GROUP/<topic>`` (MQTT 5).
        publish: ``--publish TOPIC PAYLOAD`` pairs, published in order; PAYLOAD
            ``@FILE`` reads a file (``@@…``: a literal leading ``@``).
        cacert, cert, key, insecure: TLS (mqtts:// only).
        connect_timeout: ``--connect-timeout`` seconds (connect, CONNACK, SUBACK, PUBACK).
        keepalive: seconds between keep-alive pings (None: the transport's default).
        clean_session: ``--no-clean-session`` (False): keep the broker-side session.
        skip_retained: ``--skip-retained``: drop retained messages.
        aliyun_device, device_secret: ``--aliyun-device PK/DN --device-secret S``.
        environ: the environment (default ``os.environ``).
        notice: ``env.note``: a refused subscription among several, retained messages.

    Raises:
        UsageError: a bad URL, topic, QoS, version, flag combination or unreadable file.
    """
    from presencectl.core.protocols.mqtt import check_topic_name
    from presencectl.transports.mqtt import DEFAULT_KEEPALIVE, AliyunDevice, MqttOptions, MqttSource
    from presencectl.transports.mqtt_connect import check_qos
    from presencectl.transports.mqtt_connect import mqtt_version as mqtt_version_of
    from presencectl.transports.urls import parse_mqtt_url

    environ = os.environ if environ is None else environ
    parsed = parse_mqtt_url(url)
    version = mqtt_version_of(mqtt_version, 5 if share is not None else 3)

    aliyun = None
    if aliyun_device is not None or device_secret is not None:
        if aliyun_device is None:
            raise UsageError("--device-secret needs --aliyun-device PK/DN")
        if not device_secret:
            raise UsageError("--aliyun-device needs --device-secret (or env PRESENCECTL_DEVICE_SECRET)")
        clash = [
            name
            for name, given in (
                ("--username", username is not None),
                ("--password", password is not None),
                ("credentials in the URL", parsed.username is not None or parsed.password is not None),
            )
            if given
        ]
        if clash:
            raise UsageError(f"--aliyun-device computes the user name and password: drop {', '.join(clash)}")
        from presencectl.core.aliyun_auth import parse_device, sign_device

        product_key, device_name = parse_device(aliyun_device)
        sign_device(product_key, device_name, device_secret, 0, client_id=client_id)  # checks the id now
        aliyun = AliyunDevice(product_key, device_name, device_secret, client_id)
        username = password = None
    else:
        if username is None:
            username = parsed.username
        if password is None:
            password = parsed.password
        if password is None and username is not None:
            password = environ.get("PRESENCECTL_PASSWORD") or None

    if not parsed.secure and (cacert or cert or key or insecure):
        raise UsageError("--cacert, --cert, --key and --insecure need an mqtts:// URL")
    context = None
    if parsed.secure:
        from presencectl.transports.ws_client import make_ssl_context

        context = make_ssl_context(cacert, cert, key, insecure)

    publishes: list[tuple[str, bytes]] = []
    for pair in publish or ():
        if isinstance(pair, str) or len(pair) != 2:
            raise UsageError("--publish takes two values: TOPIC PAYLOAD (PAYLOAD @FILE reads a file)")
        topic, payload = pair
        check_topic_name(topic)
        publishes.append((topic, read_payload(payload)))

    options = MqttOptions(
        url,
        topics=list(topics) if topics else ["#"],
        qos=check_qos(qos),
        version=version,
        client_id=client_id if aliyun is None else None,
        username=username,
        password=password,
        share=share,
        publishes=publishes,
        ssl_context=context,
        insecure=insecure,
        client_cert=cert is not None,
        connect_timeout=connect_timeout,
        keepalive=DEFAULT_KEEPALIVE if keepalive is None else keepalive,
        clean_session=clean_session,
        skip_retained=skip_retained,
        aliyun=aliyun,
        notice=notice,
    )
    check_mqtt_options(options, parsed.secure)
    return MqttSource(options)


def check_mqtt_options(options: MqttOptions, secure: bool) -> None:
    """Refuse option values and combinations a broker would refuse, naming the flags.

    Raises:
        UsageError: ``bad --qos 3: 0, 1 or 2``, ``--share needs MQTT 5 …``, ….
    """
    from presencectl.core.protocols.mqtt import check_topic_filter, check_topic_name
    from presencectl.transports.mqtt_connect import check_qos, mqtt_version

    check_qos(options.qos)
    mqtt_version(options.version, 3)
    if not options.topics:
        raise UsageError("no topic to subscribe to")
    for topic in options.topics:
        check_topic_filter(topic)
    if options.share is not None:
        if options.version != 5:
            raise UsageError(
                "--share needs MQTT 5 (shared subscriptions are an MQTT 5 feature); "
                "drop --mqtt-version 3, or subscribe with -T '$share/GROUP/TOPIC' if "
                "your broker takes them from 3.1.1 clients"
            )
        group = options.share
        if not group or any(c in group for c in "/+#"):
            raise UsageError(f"bad --share {group!r}: a group name without '/', '+' or '#'")
    for topic, _payload in options.publishes:
        check_topic_name(topic)
    if options.password is not None and options.username is None and options.version == 3:
        raise UsageError(
            "a password needs a user name with MQTT 3.1.1 (mqtt://USER@host or --username)"
        )
    if not options.clean_session and options.client_id is None and options.aliyun is None:
        raise UsageError(
            "--no-clean-session needs --client-id: the broker keeps the session under that id"
        )
    if options.url and not secure and (options.ssl_context is not None or options.insecure):
        raise UsageError("--cacert, --cert, --key and --insecure need an mqtts:// URL")


# ------------------------------------------------------------------ one builder per kind of source


def duration(text: str, flag: str, allow_zero: bool = False) -> float:
    """A duration flag's value in seconds (``30``, ``90s``, ``5m``).

    Raises:
        UsageError: ``bad --timeout 'soon': expected a duration such as 30, 90s, 5m``.
    """
    from presencectl.core.times import parse_duration

    value = parse_duration(text)
    if value is None or value < 0 or (value == 0 and not allow_zero):
        raise UsageError(f"bad {flag} {text!r}: expected a duration such as 30, 90s, 5m")
    return value


def _connecting(args: ConnectArgs) -> dict[str, Any]:
    """The TLS files, ``--insecure`` and ``--connect-timeout`` (seconds), as builders take them."""
    return {
        "cacert": args.cacert,
        "cert": args.cert,
        "key": args.key,
        "insecure": args.insecure,
        "connect_timeout": duration(args.connect_timeout, "--connect-timeout"),
    }


def build_websocket(source: str, args: ConnectArgs, env: Environment, warn: Callable[[str], None]) -> Source:
    from presencectl.transports.ws_client import WsOptions, WsSource, make_ssl_context, parse_ws_url

    url = parse_ws_url(source)
    context = None
    if url.secure:
        context = make_ssl_context(args.cacert, args.cert, args.key, args.insecure)
    elif args.cacert or args.cert or args.key or args.insecure:
        raise UsageError("--cacert, --cert, --key and --insecure need a wss:// URL")
    ping = duration(args.ping_interval, "--ping-interval", allow_zero=True)
    options = WsOptions(
        source,
        headers=args.header_lines(),
        subprotocols=list(args.subprotocols),
        sends=read_sends(args.sends, args.send_files),
        ssl_context=context,
        connect_timeout=duration(args.connect_timeout, "--connect-timeout"),
        ping_interval=ping or None,
        client_cert=args.cert is not None,
    )
    return WsSource(options)


def build_socketio(source: str, args: ConnectArgs, env: Environment, warn: Callable[[str], None]) -> Source:
    return socketio_source_from_args(
        source, **args.sio.source_kwargs(), headers=args.header_lines(), **_connecting(args), warn=warn
    )


def build_mqtt(source: str, args: ConnectArgs, env: Environment, warn: Callable[[str], None]) -> Source:
    return args.mqtt.build_source(source, **_connecting(args), notice=warn)


def build_webhook(source: str, args: ConnectArgs, env: Environment, warn: Callable[[str], None]) -> Source:
    from presencectl.cli.binding import check_bind
    from presencectl.transports.webhook import (
        WebhookOptions,
        WebhookSource,
        parse_listen_url,
        parse_size,
    )

    check_bind(parse_listen_url(source).host, args.allow_remote, "--listen", "the webhook receiver")
    auth = None
    if args.basic_auth is not None:
        user, sep, password = args.basic_auth.partition(":")
        if not sep or not user:
            raise UsageError("bad --basic-auth: expected USER:PASS")
        auth = (user, password)
    options = WebhookOptions(source, max_body=parse_size(args.max_body), basic_auth=auth, warn=warn)
    return WebhookSource(options)


#: kind (:data:`presencectl.transports.sources.SOURCES`) → ``builder(SOURCE, args, env, warn)``.
#: The flags were checked against what the kind accepts before a builder runs.
BUILDERS: dict[str, Callable[[str, ConnectArgs, Environment, Callable[[str], None]], Source]] = {
    "websocket": build_websocket,
    "socketio": build_socketio,
    "mqtt": build_mqtt,
    "webhook": build_webhook,
}


def socketio_source_from_args(
    url: str,
    *,
    namespace: str | None = None,
    emits: Iterable[tuple[str, str]] = (),
    events: Iterable[str] = (),
    auth: str | None = None,
    eio: int | str | None = None,
    headers: Iterable[str] = (),
    cacert: str | None = None,
    cert: str | None = None,
    key: str | None = None,
    insecure: bool = False,
    connect_timeout: float = 10.0,
    warn: Callable[[str], None] | None = None,
) -> SocketIOSource:
    """A Socket.IO :class:`~presencectl.transports.base.Source` from command-line values.

    Args:
        url: ``sio://`` or ``sios://`` (also ``ws://``/``wss://`` given with
            ``--socketio``); no path means ``/socket.io/``; the query (a token)
            is sent as given, with ``EIO`` and ``transport`` set.
        namespace: ``--namespace``, e.g. ``/chat`` (default ``/``).
        emits: ``--emit EVENT JSON`` pairs, sent in order after every (re)connect.
        events: ``--event`` names to keep (empty: every event).
        auth: ``--auth``: a JSON object (v4: the connect payload; v3: query fields).
        eio: ``--eio`` 3 or 4; None detects it.
        headers: ``-H 'Name: value'`` lines for the upgrade request.
        cacert, cert, key, insecure: TLS, for ``sios://``/``wss://`` only.
        connect_timeout: seconds for the WebSocket and for each handshake step.
        warn: where warnings go (``env.warn``): skipped binary events.

    Returns:
        The source, not yet connected: hand it to :class:`presencectl.engine.session.Session`.

    Raises:
        UsageError: a bad URL, namespace, event name, JSON, header, ``eio``,
            or TLS options without TLS.

    Example::

        source = socketio_source_from_args("sio://127.0.0.1:5000", namespace="/chat",
                                           emits=[("SUBSCRIBE", '{"id": 1}')], warn=env.warn)
    """
    from presencectl.core.protocols import socketio as sio
    from presencectl.transports.socketio_client import SocketIOOptions, SocketIOSource
    from presencectl.transports.ws_client import make_ssl_context, parse_ws_url

    version: int | None = None
    if eio is not None and str(eio) != "":
        if str(eio) not in ("3", "4"):
            raise UsageError(f"bad --eio {eio!r}: expected 3 (Socket.IO 2.x) or 4 (Socket.IO 3 and later)")
        version = int(eio)
    ns = sio.check_namespace(namespace) if namespace is not None else "/"
    checked_emits = []
    for name, data in emits:
        if not name:
            raise UsageError("bad --emit: the event name is empty")
        checked_emits.append((name, sio.check_json(data, f"--emit {name} JSON")))
    wanted = list(events)
    if any(not name for name in wanted):
        raise UsageError("bad --event: the event name is empty")
    auth_text = sio.check_json(auth, "--auth", object_only=True) if auth is not None else None
    secure = parse_ws_url(sio.engine_url(url, sio.EIO4)).secure
    context = None
    if secure:
        context = make_ssl_context(cacert, cert, key, insecure)
    elif cacert or cert or key or insecure:
        raise UsageError("--cacert, --cert, --key and --insecure need a sios:// or wss:// URL")
    return SocketIOSource(
        SocketIOOptions(
            url,
            namespace=ns,
            emits=checked_emits,
            events=wanted,
            auth=auth_text,
            eio=version,
            headers=list(headers),
            ssl_context=context,
            connect_timeout=connect_timeout,
            warn=warn,
        )
    )
