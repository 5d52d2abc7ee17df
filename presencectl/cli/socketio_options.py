"""Socket.IO command-line options (``tail``/``record`` and ``replay --serve --socketio``).

Light on purpose (typer only): command modules import it at the top.
:class:`SocketIOArgs` gathers the values, says which were given (for misuse
errors) and turns them into keyword arguments for
:func:`presencectl.cli.sources.socketio_source_from_args`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any

import typer
from typer.core import TyperCommand

from presencectl.errors import UsageError

__all__ = [
    "SOCKETIO",
    "Eio",
    "SocketIOOpt",
    "NamespaceOpt",
    "EmitOpt",
    "EventOpt",
    "AuthOpt",
    "EioOpt",
    "ServeSocketIOOpt",
    "ServeNamespaceOpt",
    "ServeEioOpt",
    "ServeEventOpt",
    "SocketIOArgs",
    "SocketIOCommand",
    "SOCKETIO_SCHEMES",
    "wants_socketio",
]

SOCKETIO = "Socket.IO"
#: URL schemes that mean Socket.IO by themselves.
SOCKETIO_SCHEMES = ("sio", "sios")
class Eio(StrEnum):
    v3 = "3"
    v4 = "4"


# tail / record

SocketIOOpt = Annotated[
    bool,
    typer.Option(
        "--socketio",
        help="SOURCE ws:// or wss:// speaks Socket.IO (sio:// and sios:// imply it).",
        rich_help_panel=SOCKETIO,
    ),
]
NamespaceOpt = Annotated[
    str | None,
    typer.Option(
        "--namespace",
        metavar="/NS",
        help="Socket.IO namespace to join, e.g. /chat (default /).",
        rich_help_panel=SOCKETIO,
        show_default=False,
    ),
]
# ``list[tuple]``, not ``list[tuple[str, str]]``: Typer refuses the latter
# (fastapi/typer#387); :class:`SocketIOCommand` makes it take two values.
EmitOpt = Annotated[
    list[tuple] | None,
    typer.Option(
        "--emit",
        metavar="EVENT JSON",
        help="Emit EVENT with the JSON argument after every (re)connect, e.g. --emit SUBSCRIBE_CHANNEL '{\"channel\": …}' (repeatable, in order).",
        rich_help_panel=SOCKETIO,
        show_default=False,
    ),
]
EventOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--event",
        metavar="NAME",
        help="Keep only Socket.IO events with this name, e.g. PRESENCE_EVENT_RESPONSE (repeatable); others are neither shown nor recorded.",
        rich_help_panel=SOCKETIO,
        show_default=False,
    ),
]
AuthOpt = Annotated[
    str | None,
    typer.Option(
        "--auth",
        metavar="JSON",
        envvar="PRESENCECTL_SOCKETIO_AUTH",
        help="Credentials object for the namespace connect (Engine.IO v4), or its fields as the connect query (v3).",
        rich_help_panel=SOCKETIO,
        show_default=False,
    ),
]
EioOpt = Annotated[
    Eio | None,
    typer.Option(
        "--eio",
        help="Engine.IO version: 3 (Socket.IO 2.x) or 4 (Socket.IO 3+). Default: detected from the handshake.",
        rich_help_panel=SOCKETIO,
        show_default=False,
    ),
]

# replay --serve --socketio

ServeSocketIOOpt = Annotated[
    bool,
    typer.Option(
        "--socketio",
        help="--serve: a Socket.IO server; each frame is emitted under its recorded event name.",
        rich_help_panel="Target",
    ),
]
ServeNamespaceOpt = Annotated[
    str | None,
    typer.Option(
        "--namespace",
        metavar="/NS",
        help="--serve --socketio: the namespace served (default: the capture's, else /).",
        rich_help_panel="Target",
        show_default=False,
    ),
]
ServeEioOpt = Annotated[
    Eio,
    typer.Option(
        "--eio",
        help="--serve --socketio: 4 for Socket.IO 3+ clients, 3 for Socket.IO 2.x clients (WebSocket transport only).",
        rich_help_panel="Target",
    ),
]
ServeEventOpt = Annotated[
    str | None,
    typer.Option(
        "--event",
        metavar="NAME",
        help="--serve --socketio: event name for frames recorded without one (default message).",
        rich_help_panel="Target",
        show_default=False,
    ),
]


class SocketIOCommand(TyperCommand):
    """A Typer command whose ``--emit`` takes two values (``--emit EVENT JSON``), repeatably.

    Typer cannot declare an option that is both repeatable and takes two
    values (fastapi/typer#387); Click can (``multiple=True, nargs=2``). This
    sets ``nargs=2`` on the ``--emit`` option Typer built from :data:`EmitOpt`.
    Use it as ``@app.command("tail", cls=SocketIOCommand)``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if "--emit" in getattr(param, "opts", ()):
                param.nargs = 2


def wants_socketio(source: str, flag: bool) -> bool:
    """Whether SOURCE is a Socket.IO source: ``sio://``/``sios://``, or ws/wss with ``--socketio``.

    >>> wants_socketio("sios://example.com/socket.io/", False), wants_socketio("ws://h/x", True)
    (True, True)
    >>> wants_socketio("ws://h/x", False)
    False

    Raises:
        UsageError: ``--socketio`` with a source that is not ws://, wss://, sio:// or sios://.
    """
    scheme, sep, _ = source.partition("://")
    scheme = scheme.lower() if sep else ""
    if scheme in SOCKETIO_SCHEMES:
        return True
    if flag:
        if scheme in ("ws", "wss"):
            return True
        raise UsageError(f"--socketio needs SOURCE to be ws://, wss://, sio:// or sios://, not {source!r}")
    return False


@dataclass(slots=True)
class SocketIOArgs:
    """The Socket.IO options as given on the command line."""

    socketio: bool = False
    namespace: str | None = None
    emits: list[tuple[str, str]] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    auth: str | None = None
    eio: Eio | None = None

    @classmethod
    def from_options(
        cls,
        socketio: bool,
        namespace: str | None,
        emit: list[tuple] | None,
        event: list[str] | None,
        auth: str | None,
        eio: Eio | None,
    ) -> SocketIOArgs:
        """From the values of the options above (None for the ones not given)."""
        pairs = [(str(name), str(data)) for name, data in (emit or [])]
        return cls(socketio, namespace, pairs, list(event or []), auth, eio)

    def given(self) -> dict[str, bool]:
        """Which Socket.IO flags were given (``--socketio`` itself is not listed)."""
        from presencectl.cli.option_groups import SOCKETIO as GROUP

        return GROUP.given(self)

    def source_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``socketio_source_from_args``."""
        return {
            "namespace": self.namespace,
            "emits": list(self.emits),
            "events": list(self.events),
            "auth": self.auth,
            "eio": self.eio.value if self.eio is not None else None,
        }
