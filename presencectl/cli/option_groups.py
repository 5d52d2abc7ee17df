"""Option groups, declared once: connection, TLS, webhook, Socket.IO, MQTT, filters, output.

Each option is an :class:`Opt`: its Typer declaration (an ``Annotated``
type), its default, the flag named in errors, the sources that accept it
and its profile key. A :class:`Group` is a tuple of them. A command takes
whole groups with :func:`takes`, which splices their parameters into the
command's signature (Typer reads ``inspect.signature``) and hands the body
one :class:`Opts` with the values::

    @app.command("expect", cls=LiveCommand)
    @takes(*SOURCE_GROUPS, FILTERS)
    def expect_cmd(source: SourceArg, *, opts: Opts) -> None:
        args, filters = opts.connect_args(), opts.filter_args()

Everything else is derived from these declarations: which flag applies to
which source (:func:`check_applicable`), the ``given()`` of the argument
objects, and the profile keys (``presencectl.cli.profiles.KEYS``).

Only ``typer`` and the light option modules are imported here.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Annotated, Any

import typer

from presencectl.cli.mqtt_options import (
    AliyunDeviceOpt,
    CleanSessionOpt,
    ClientIdOpt,
    DeviceSecretFileOpt,
    DeviceSecretOpt,
    MqttArgs,
    MqttVersionOpt,
    PasswordFileOpt,
    PasswordOpt,
    PublishOpt,
    QosOpt,
    ShareOpt,
    SkipRetainedOpt,
    TopicOpt,
    UsernameOpt,
)
from presencectl.cli.options import (
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
    MaxLineOpt,
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
)
from presencectl.cli.socketio_options import (
    AuthOpt,
    EioOpt,
    EmitOpt,
    EventOpt,
    NamespaceOpt,
    SocketIOArgs,
    SocketIOOpt,
)
from presencectl.errors import UsageError

__all__ = [
    "Opt",
    "Group",
    "Opts",
    "takes",
    "CONNECTION",
    "TLS",
    "WEBHOOK",
    "SOCKETIO",
    "MQTT",
    "FILTERS",
    "OUTPUT",
    "INPUT",
    "SOURCE_GROUPS",
    "ALL_GROUPS",
    "KINDS",
    "ConnectArgs",
    "check_applicable",
]

CONNECTION_PANEL = "Connection"
WEBSOCKET_PANEL = "WebSocket"
TLS_PANEL = "TLS"
WEBHOOK_PANEL = "Webhook"

#: The kinds of source (``commands.live.source_kind``), and how errors name them.
KINDS: dict[str, str] = {
    "websocket": "a WebSocket source",
    "socketio": "a Socket.IO source",
    "mqtt": "an MQTT source",
    "webhook": "the webhook receiver",
    "file": "a file source",
}
_NETWORK = frozenset({"websocket", "socketio", "mqtt", "webhook"})
_CONNECTING = frozenset({"websocket", "socketio", "mqtt"})
_WS = frozenset({"websocket"})
_WS_SIO = frozenset({"websocket", "socketio"})


@dataclass(frozen=True, slots=True)
class Opt:
    """One command-line option, declared once.

    Attributes:
        param: the Python parameter name (``type_`` for ``--type``).
        annotation: the ``Annotated[T, typer.Option(...)]`` declaration.
        default: the parameter's default.
        attr: the field of the group's argument object (default: ``param``).
        flag: how errors name it (default: the first long name).
        sources: the source kinds that accept it (:data:`KINDS`); ``None``
            for every kind (and no check).
        why: per kind, why it is refused there (said in the error).
        key: its profile key; ``""`` for the parameter name less a trailing
            ``_``; ``None`` for no key.
        shape, merge, secret, fields: the profile key's, see
            :class:`presencectl.cli.profiles.Key`.
    """

    param: str
    annotation: Any
    default: Any = None
    attr: str = ""
    flag: str = ""
    sources: frozenset[str] | None = None
    why: Mapping[str, str] = field(default_factory=dict)
    key: str | None = ""
    shape: str = "str"
    merge: str = "replace"
    secret: bool = False
    fields: tuple[str, str] = ("", "")

    @property
    def field_name(self) -> str:
        return self.attr or self.param

    @property
    def option(self) -> Any:
        """The ``typer.Option`` inside :attr:`annotation`."""
        return self.annotation.__metadata__[0]

    @property
    def error_flag(self) -> str:
        if self.flag:
            return self.flag
        first = [self.option.default] if isinstance(self.option.default, str) else []
        decls = [d for part in (*first, *(self.option.param_decls or ())) for d in part.split("/")]
        return next((d for d in decls if d.startswith("--")), decls[0] if decls else f"--{self.param}")

    @property
    def profile_key(self) -> str | None:
        if self.key is None:
            return None
        return self.key or self.param.rstrip("_")

    def given(self, value: Any) -> bool:
        """Whether ``value`` (as held by the argument object) differs from the default."""
        return value != self.default and value not in (None, [], ())


@dataclass(frozen=True, slots=True)
class Group:
    """Options that go together; a command takes a group whole.

    Attributes:
        name: the group's name.
        opts: its options, in help order.
        hint: added to the error when one of them is refused (``they are for mqtt://…``).
        output: the options only shape rendered output (profiles skip them
            for commands without them, such as ``record``).
    """

    name: str
    opts: tuple[Opt, ...]
    hint: str = ""
    output: bool = False

    def only(self, *params: str) -> Group:
        """This group with only these options (a command that takes part of it)."""
        unknown = set(params) - {o.param for o in self.opts}
        assert not unknown, unknown
        return replace(self, opts=tuple(o for o in self.opts if o.param in params))

    def without(self, *params: str) -> Group:
        """This group less these options."""
        return self.only(*(o.param for o in self.opts if o.param not in params))

    def replacing(self, opt: Opt) -> Group:
        """This group with ``opt`` declared instead of the option of the same
        parameter (the same flag, with help that says what it does here)."""
        assert any(o.param == opt.param for o in self.opts), opt.param
        return replace(self, opts=tuple(opt if o.param == opt.param else o for o in self.opts))

    def given(self, obj: Any) -> dict[str, bool]:
        """Flag → given, for the checked options of this group held by ``obj``."""
        return {o.error_flag: o.given(getattr(obj, o.field_name)) for o in self.opts if o.sources is not None}


# --- the declarations ---------------------------------------------------------------

HeaderOpt = Annotated[
    list[str] | None,
    typer.Option("-H", "--header", metavar="'NAME: VALUE'", help="'Name: value' sent with the WebSocket upgrade (repeatable; visible in ps: -H @FILE reads Name: value lines from FILE).", rich_help_panel=WEBSOCKET_PANEL, show_default=False),
]
SubprotocolOpt = Annotated[
    list[str] | None,
    typer.Option("--subprotocol", metavar="NAME", help="WebSocket subprotocol to offer (repeatable).", rich_help_panel=WEBSOCKET_PANEL, show_default=False),
]
SendOpt = Annotated[
    list[str] | None,
    typer.Option("--send", metavar="TEXT", help="Text message sent after every (re)connect (repeatable; before --send-file).", rich_help_panel=WEBSOCKET_PANEL, show_default=False),
]
SendFileOpt = Annotated[
    list[str] | None,
    typer.Option("--send-file", metavar="FILE", help="Send this file's content after every (re)connect, e.g. a Navixy subscribe request (repeatable; one trailing newline dropped).", rich_help_panel=WEBSOCKET_PANEL, show_default=False),
]
ReconnectOpt = Annotated[
    bool,
    typer.Option("--reconnect/--no-reconnect", help="Reconnect after a loss (backoff, up to 30 s); --no-reconnect exits 1. A 1000 close saying the server finished ends the session.", rich_help_panel=CONNECTION_PANEL),
]
TimeoutOpt = Annotated[
    str | None,
    typer.Option("--timeout", metavar="DURATION", help="Idle timeout: exit 0 after this long without a frame (30, 90s, 5m); every frame resets it.", rich_help_panel=CONNECTION_PANEL, show_default=False),
]
DeadlineOpt = Annotated[
    str | None,
    typer.Option("--deadline", metavar="DURATION", help="Overall limit (30, 90s, 5m): exit 3 if -n was not reached by then (without -n: nothing was shown).", rich_help_panel=CONNECTION_PANEL, show_default=False),
]
ConnectTimeoutOpt = Annotated[
    str, typer.Option("--connect-timeout", metavar="DURATION", help="Give up a connection attempt after this long.", rich_help_panel=CONNECTION_PANEL)
]
PingOpt = Annotated[
    str,
    typer.Option("--ping-interval", metavar="DURATION", help="Send a WebSocket ping after this long idle; no answer within as long again counts as a loss. 0 turns pings off.", rich_help_panel=WEBSOCKET_PANEL),
]
CacertOpt = Annotated[
    str | None, typer.Option("--cacert", metavar="FILE", help="Trust the server certificates signed by this PEM CA bundle (instead of the system's).", rich_help_panel=TLS_PANEL, show_default=False)
]
CertOpt = Annotated[
    str | None, typer.Option("--cert", metavar="FILE", help="Client certificate (PEM) for mutual TLS.", rich_help_panel=TLS_PANEL, show_default=False)
]
KeyOpt = Annotated[
    str | None, typer.Option("--key", metavar="FILE", help="Private key of --cert, if not in the same file.", rich_help_panel=TLS_PANEL, show_default=False)
]
InsecureOpt = Annotated[
    bool, typer.Option("--insecure", "-k", help="Do not verify the server's TLS certificate.", rich_help_panel=TLS_PANEL)
]
ListenOpt = Annotated[
    bool, typer.Option("--listen", help="SOURCE is http://HOST:PORT/path to listen on for webhook POSTs (HOST defaults to 127.0.0.1).", rich_help_panel=WEBHOOK_PANEL)
]
MaxBodyOpt = Annotated[
    str, typer.Option("--max-body", metavar="SIZE", help="Refuse bodies over this size with 413: 1048576, 512k, 16M.", rich_help_panel=WEBHOOK_PANEL)
]
BasicAuthOpt = Annotated[
    str | None,
    typer.Option("--basic-auth", metavar="USER:PASS", envvar="PRESENCECTL_BASIC_AUTH", help="USER:PASS every POST must carry (else 401).", rich_help_panel=WEBHOOK_PANEL, show_default=False),
]
AllowRemoteOpt = Annotated[
    bool, typer.Option("--allow-remote", help="Allow listening on an address other than loopback (0.0.0.0, [::], a LAN address).", rich_help_panel=WEBHOOK_PANEL)
]

_NO_SEND = {"socketio": "use --emit EVENT JSON"}

CONNECTION = Group("connection", (
    Opt("header", HeaderOpt, attr="headers", flag="-H", sources=_WS_SIO, key="headers", shape="headers", merge="headers", secret=True),
    Opt("subprotocol", SubprotocolOpt, attr="subprotocols", sources=_WS, why={"socketio": "Socket.IO negotiates none"}, shape="strs"),
    Opt("send", SendOpt, attr="sends", sources=_WS, why=_NO_SEND, shape="strs", merge="append", secret=True),
    Opt("send_file", SendFileOpt, attr="send_files", sources=_WS, why=_NO_SEND, shape="paths", merge="append"),
    Opt("reconnect", ReconnectOpt, True, flag="--no-reconnect", sources=_NETWORK, shape="bool"),
    Opt("timeout", TimeoutOpt, sources=_NETWORK, shape="text"),
    Opt("deadline", DeadlineOpt, shape="text"),  # every source, files and stdin too
    Opt("connect_timeout", ConnectTimeoutOpt, "10", sources=_CONNECTING, shape="text"),
    Opt("ping_interval", PingOpt, "20", sources=_WS, why={"socketio": "Socket.IO keeps the heartbeat the server asks for"}, shape="text"),
))
TLS = Group("tls", (
    Opt("cacert", CacertOpt, sources=_CONNECTING, shape="path"),
    Opt("cert", CertOpt, sources=_CONNECTING, shape="path"),
    Opt("key", KeyOpt, sources=_CONNECTING, shape="path"),
    Opt("insecure", InsecureOpt, False, sources=_CONNECTING, shape="bool"),
))
WEBHOOK = Group("webhook", (
    Opt("listen", ListenOpt, False, sources=frozenset({"webhook"}), shape="bool"),
    Opt("max_body", MaxBodyOpt, "16M", sources=frozenset({"webhook"}), shape="text"),
    Opt("basic_auth", BasicAuthOpt, sources=frozenset({"webhook"}), secret=True),
    Opt("allow_remote", AllowRemoteOpt, False, sources=frozenset({"webhook"}), shape="bool"),
))
_SIO = frozenset({"socketio"})
SOCKETIO = Group("socketio", (
    Opt("socketio", SocketIOOpt, False, shape="bool"),  # checked by wants_socketio
    Opt("namespace", NamespaceOpt, sources=_SIO),
    Opt("emit", EmitOpt, attr="emits", sources=_SIO, shape="pairs", merge="append", secret=True, fields=("event", "data")),
    Opt("event", EventOpt, attr="events", sources=_SIO, shape="strs"),
    Opt("auth", AuthOpt, sources=_SIO, shape="json", secret=True),
    Opt("eio", EioOpt, sources=_SIO, shape="text"),
), hint="Socket.IO sources are sio://, sios://, or ws:// and wss:// with --socketio")
_MQ = frozenset({"mqtt"})
MQTT = Group("mqtt", (
    Opt("topic", TopicOpt, attr="topics", flag="-T", sources=_MQ, key="topics", shape="strs"),
    Opt("qos", QosOpt, 0, sources=_MQ, shape="int"),
    Opt("mqtt_version", MqttVersionOpt, sources=_MQ, shape="text"),
    Opt("client_id", ClientIdOpt, sources=_MQ),
    Opt("username", UsernameOpt, sources=_MQ),
    Opt("password", PasswordOpt, sources=_MQ, secret=True),
    Opt("share", ShareOpt, sources=_MQ),
    Opt("publish", PublishOpt, sources=_MQ, shape="pairs", merge="append", secret=True, fields=("topic", "payload")),
    Opt("clean_session", CleanSessionOpt, True, flag="--no-clean-session", sources=_MQ, shape="bool"),
    Opt("skip_retained", SkipRetainedOpt, False, sources=_MQ, shape="bool"),
    Opt("aliyun_device", AliyunDeviceOpt, sources=_MQ),
    Opt("device_secret", DeviceSecretOpt, secret=True),  # may come from the environment: not checked
    Opt("password_file", PasswordFileOpt, sources=_MQ, shape="path"),
    Opt("device_secret_file", DeviceSecretFileOpt, sources=_MQ, shape="path"),
), hint="they are for mqtt:// and mqtts://")
#: Reading files and stdin (``cat``, ``stats``, ``replay``; ``tail``/``record`` of a file).
INPUT = Group("input", (
    Opt("max_line", MaxLineOpt, "16M", sources=frozenset({"file"}), shape="text"),
), hint="the webhook receiver has --max-body")
FILTERS = Group("filters", (
    Opt("type_", TypeOpt, attr="types", shape="strs"),
    Opt("subject", SubjectOpt, attr="subjects", shape="strs"),
    Opt("dialect", DialectOpt),
    Opt("kind", KindOpt, attr="kinds", shape="strs"),
    Opt("where", WhereOpt, shape="strs"),
    Opt("grep", GrepOpt),
    Opt("since", SinceOpt, key=None),
    Opt("until", UntilOpt, key=None),
    Opt("limit", LimitOpt, key=None),
    Opt("keepalive", KeepaliveOpt, False, shape="bool"),
    Opt("assume_tz", AssumeTzOpt, "UTC"),
))
OUTPUT = Group("output", (
    Opt("fmt", FormatOpt, key="format"),
    Opt("color", ColorOpt, ColorMode.auto),
    Opt("utc", UtcOpt, False, shape="bool"),
    Opt("time", TimeOpt, TimeSource.event),
    Opt("verbose", VerboseOpt, False, shape="bool"),
    Opt("live", LiveOpt, False, key=None),
), output=True)

_DEFAULTS: dict[str, Any] = {
    o.param: o.default for g in (CONNECTION, TLS, WEBHOOK, SOCKETIO, MQTT, FILTERS, OUTPUT, INPUT) for o in g.opts
}

#: What a live source takes: ``tail``, ``record``, ``expect``.
SOURCE_GROUPS: tuple[Group, ...] = (CONNECTION, TLS, WEBHOOK, SOCKETIO, MQTT, INPUT)
ALL_GROUPS: tuple[Group, ...] = (*SOURCE_GROUPS, FILTERS, OUTPUT)


# --- the values a command receives ------------------------------------------------------


@dataclass(slots=True)
class ConnectArgs:
    """The connection, TLS and webhook options as given, with the Socket.IO and MQTT ones."""

    headers: list[str] = field(default_factory=list)
    subprotocols: list[str] = field(default_factory=list)
    sends: list[str] = field(default_factory=list)
    send_files: list[str] = field(default_factory=list)
    reconnect: bool = True
    timeout: str | None = None
    deadline: str | None = None
    connect_timeout: str = "10"
    ping_interval: str = "20"
    cacert: str | None = None
    cert: str | None = None
    key: str | None = None
    insecure: bool = False
    listen: bool = False
    max_body: str = "16M"
    basic_auth: str | None = None
    allow_remote: bool = False
    max_line: str = "16M"
    sio: SocketIOArgs = field(default_factory=SocketIOArgs)
    mqtt: MqttArgs = field(default_factory=MqttArgs)

    def given(self) -> dict[str, bool]:
        """Which connection/TLS/webhook/input flags differ from their defaults (for misuse errors)."""
        return {**CONNECTION.given(self), **TLS.given(self), **WEBHOOK.given(self), **INPUT.given(self)}

    def header_lines(self) -> list[str]:
        """The ``-H`` lines, ``@FILE`` ones read from their file.

        Raises:
            UsageError: a file cannot be read.
        """
        from presencectl.cli.secrets import expand_headers

        return expand_headers(self.headers)


class Opts(dict[str, Any]):
    """The values of the options a command took with :func:`takes`, by parameter
    name, and the argument objects built from them (options a command did not
    take have their defaults)."""

    def __getattr__(self, param: str) -> Any:
        """``opts.dialect``: the value of a parameter (its default when not taken)."""
        try:
            return self[param] if param in self else _DEFAULTS[param]
        except KeyError:
            raise AttributeError(param) from None

    def value(self, opt: Opt) -> Any:
        return self.get(opt.param, opt.default)

    def _fields(self, group: Group) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for o in group.opts:
            v = self.value(o)
            if v is None and o.shape in ("strs", "paths", "headers", "pairs"):
                v = []
            out[o.field_name] = v
        return out

    def connect_args(self) -> ConnectArgs:
        sio = self._fields(SOCKETIO)
        sio["emits"] = [(str(a), str(b)) for a, b in sio["emits"]]
        mqtt = self._fields(MQTT)
        mqtt["publish"] = [tuple(p) for p in mqtt["publish"]]
        return ConnectArgs(
            **self._fields(CONNECTION), **self._fields(TLS), **self._fields(WEBHOOK), **self._fields(INPUT),
            sio=SocketIOArgs(**sio), mqtt=MqttArgs(**mqtt),
        )

    def filter_args(self) -> FilterArgs:
        f = self._fields(FILTERS)
        return FilterArgs(
            f["types"] or None, f["subjects"] or None, f["kinds"] or None, f["where"] or None,
            f["grep"], f["since"], f["until"], f["keepalive"],
        )

    def output_args(self) -> OutputArgs:
        f = self._fields(OUTPUT)
        return OutputArgs(f["fmt"], f["color"], f["utc"], f["time"], f["verbose"])


def takes(*groups: Group) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give a command every option of ``groups``; its body gets them as ``opts: Opts``.

    The options are spliced into the signature where the keyword-only
    parameter ``opts`` stands (Typer reads ``inspect.signature``). Use it
    under ``@app.command``::

        @app.command("tail", cls=LiveCommand)
        @takes(*SOURCE_GROUPS, FILTERS, OUTPUT)
        def tail_cmd(source: SourceArg, *, opts: Opts, record: RecordOpt = None) -> None: ...
    """
    declared = [o for g in groups for o in g.opts]

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        sig = inspect.signature(fn, eval_str=True)
        params = list(sig.parameters.values())
        at = next(i for i, p in enumerate(params) if p.name == "opts")
        spliced = [
            inspect.Parameter(o.param, inspect.Parameter.KEYWORD_ONLY, annotation=o.annotation, default=o.default)
            for o in declared
        ]
        names = {o.param for o in declared}

        @functools.wraps(fn)
        def command(**kwargs: Any) -> Any:
            opts = Opts({name: kwargs.pop(name) for name in list(kwargs) if name in names})
            return fn(**kwargs, opts=opts)

        command.__signature__ = sig.replace(parameters=[*params[:at], *spliced, *params[at + 1:]])  # type: ignore[attr-defined]
        command.__annotations__ = {}
        command.groups = groups  # type: ignore[attr-defined]
        return command

    return decorate


# --- which flag applies to which source -------------------------------------------------


def check_applicable(kind: str, args: ConnectArgs) -> None:
    """Refuse the flags given that a source of ``kind`` does not accept.

    Raises:
        UsageError: ``--send, --ping-interval cannot be used with a Socket.IO
            source (--send: use --emit EVENT JSON; …)``.
    """
    holders = ((CONNECTION, args), (TLS, args), (WEBHOOK, args), (INPUT, args), (SOCKETIO, args.sio), (MQTT, args.mqtt))
    wrong: list[tuple[Group, Opt]] = [
        (g, o) for g, obj in holders for o in g.opts
        if o.sources is not None and kind not in o.sources and o.given(getattr(obj, o.field_name))
    ]
    if not wrong:
        return
    # reason -> the flags it explains; a per-flag reason names its flag
    reasons: dict[str, list[str]] = {}
    for g, o in wrong:
        if kind in o.why:
            reasons.setdefault(f"{o.error_flag}: {o.why[kind]}", [])
            continue
        hint = g.hint or ("MQTT: -T, --publish, --username" if kind == "mqtt" else "")
        if hint:
            reasons.setdefault(hint, []).append(o.error_flag)
    said = [
        f"{', '.join(flags)}: {reason}" if flags and len(reasons) > 1 and _is_hint(reason) else reason
        for reason, flags in reasons.items()
    ]
    flags = ", ".join(o.error_flag for _, o in wrong)
    raise UsageError(f"{flags} cannot be used with {KINDS[kind]}" + (f" ({'; '.join(said)})" if said else ""))


def _is_hint(reason: str) -> bool:
    """Whether ``reason`` is a group's hint (not already naming its flag)."""
    return not reason.startswith("-")
