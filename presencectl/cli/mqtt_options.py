"""The MQTT options of ``tail`` and ``record``, as ``Annotated`` Typer types.

``presencectl.cli.option_groups.MQTT`` declares them once, with the flags they
are refused for; a command takes the group with ``@takes(MQTT)`` and builds
the source with :meth:`MqttArgs.build_source`. The command needs
``cls=MqttCommand`` (or a class deriving from it) for ``--publish TOPIC PAYLOAD``.

Only ``typer`` is imported here: ``presencectl --help`` stays fast, paho is
loaded when an MQTT source is built.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperCommand

from presencectl.errors import UsageError

if TYPE_CHECKING:
    from presencectl.transports.mqtt import MqttSource

__all__ = [
    "MQTT",
    "MqttVersion",
    "TopicOpt",
    "QosOpt",
    "MqttVersionOpt",
    "ClientIdOpt",
    "UsernameOpt",
    "PasswordOpt",
    "PasswordFileOpt",
    "ShareOpt",
    "PublishOpt",
    "CleanSessionOpt",
    "SkipRetainedOpt",
    "AliyunDeviceOpt",
    "DeviceSecretOpt",
    "DeviceSecretFileOpt",
    "MqttArgs",
    "MqttCommand",
    "check_type_filters",
]

MQTT = "MQTT"


class MqttVersion(StrEnum):
    """``--mqtt-version``: 3 is MQTT 3.1.1."""

    v3 = "3"
    v5 = "5"


TopicOpt = Annotated[
    list[str] | None,
    typer.Option(
        "-T", "--topic", metavar="TOPIC",
        help="Topic filter to subscribe to (repeatable; default '#'); + matches one level, # the rest. (-t filters event types; a -t with / # + and no -T is refused.)",
        rich_help_panel=MQTT, show_default=False,
    ),
]
QosOpt = Annotated[
    int,
    typer.Option(
        "--qos", min=0, max=2,
        help="Highest QoS asked for on the subscriptions, and the QoS of --publish. With 1 or 2 a message is acknowledged once recorded.",
        rich_help_panel=MQTT,
    ),
]
MqttVersionOpt = Annotated[
    MqttVersion | None,
    typer.Option(
        "--mqtt-version",
        help="MQTT protocol: 3 (3.1.1) or 5. Default: 5 with --share, else 3.1.1.",
        rich_help_panel=MQTT, show_default=False,
    ),
]
ClientIdOpt = Annotated[
    str | None,
    typer.Option(
        "--client-id",
        help="MQTT client id (default presencectl-<random>). With --aliyun-device: the id that is signed (default DN&PK).",
        rich_help_panel=MQTT, show_default=False,
    ),
]
UsernameOpt = Annotated[
    str | None,
    typer.Option("-u", "--username", help="MQTT user name (instead of the one in the URL).", rich_help_panel=MQTT, show_default=False),
]
PasswordOpt = Annotated[
    str | None,
    typer.Option(
        "--password",
        help="MQTT password (instead of the one in the URL). Visible to other users in ps: prefer --password-file or the env var PRESENCECTL_PASSWORD (used when nothing else gives one).",
        rich_help_panel=MQTT, show_default=False,
    ),
]
PasswordFileOpt = Annotated[
    str | None,
    typer.Option(
        "--password-file", metavar="FILE",
        help="Read the MQTT password from the first line of FILE (kept out of ps).",
        rich_help_panel=MQTT, show_default=False,
    ),
]
ShareOpt = Annotated[
    str | None,
    typer.Option(
        "--share", metavar="GROUP",
        help="MQTT 5 shared subscription ($share/GROUP/FILTER): the processes of one group split the messages between them.",
        rich_help_panel=MQTT, show_default=False,
    ),
]
# ``list[tuple]``, not ``list[tuple[str, str]]``: Typer refuses the latter
# (fastapi/typer#387); :class:`MqttCommand` makes it take two values.
PublishOpt = Annotated[
    list[tuple] | None,
    typer.Option(
        "--publish", metavar="TOPIC PAYLOAD",
        help="Publish PAYLOAD (or @FILE's content; @@ for a leading @) on TOPIC after every (re)connect, once subscribed, e.g. an Aliyun account bind (repeatable, in order).",
        rich_help_panel=MQTT, show_default=False,
    ),
]
CleanSessionOpt = Annotated[
    bool,
    typer.Option(
        "--clean-session/--no-clean-session",
        help="--no-clean-session keeps the broker-side session (with --client-id): QoS 1/2 messages sent while away are delivered on reconnect.",
        rich_help_panel=MQTT,
    ),
]
SkipRetainedOpt = Annotated[
    bool,
    typer.Option(
        "--skip-retained",
        help="Drop retained messages (the broker's stored last value per topic, sent on subscribe), like mosquitto_sub -R.",
        rich_help_panel=MQTT,
    ),
]
AliyunDeviceOpt = Annotated[
    str | None,
    typer.Option(
        "--aliyun-device", metavar="PK/DN",
        help="Sign in as this Aliyun IoT device (ProductKey/DeviceName): client id, user name and HMAC-SHA1 password are computed.",
        rich_help_panel=MQTT, show_default=False,
    ),
]
DeviceSecretOpt = Annotated[
    str | None,
    typer.Option(
        "--device-secret", envvar="PRESENCECTL_DEVICE_SECRET",
        help="The Aliyun DeviceSecret for --aliyun-device. Visible to other users in ps: prefer --device-secret-file or the env var.",
        rich_help_panel=MQTT, show_default=False,
    ),
]
DeviceSecretFileOpt = Annotated[
    str | None,
    typer.Option(
        "--device-secret-file", metavar="FILE",
        help="Read the Aliyun DeviceSecret from the first line of FILE (kept out of ps).",
        rich_help_panel=MQTT, show_default=False,
    ),
]

class MqttCommand(TyperCommand):
    """A Typer command whose ``--publish`` takes two values (``--publish TOPIC PAYLOAD``), repeatably.

    Typer cannot declare an option that is both repeatable and takes two
    values (fastapi/typer#387); Click can (``multiple=True, nargs=2``). This
    sets ``nargs=2`` on the ``--publish`` option Typer built from
    :data:`PublishOpt`. Cooperative: combine it with other such classes,
    ``class LiveCommand(MqttCommand, SocketIOCommand): pass``, and use
    ``@app.command("tail", cls=LiveCommand)``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if "--publish" in getattr(param, "opts", ()):
                param.nargs = 2


@dataclass(slots=True)
class MqttArgs:
    """The MQTT options as given on the command line."""

    topics: list[str] = field(default_factory=list)
    qos: int = 0
    mqtt_version: MqttVersion | str | None = None
    client_id: str | None = None
    username: str | None = None
    password: str | None = None
    share: str | None = None
    publish: list[tuple[str, str]] = field(default_factory=list)
    clean_session: bool = True
    skip_retained: bool = False
    aliyun_device: str | None = None
    device_secret: str | None = None
    password_file: str | None = None
    device_secret_file: str | None = None

    def given(self) -> dict[str, bool]:
        """Which MQTT flags differ from their defaults, in declaration order.

        ``--device-secret`` is left out: it may come from the environment.
        """
        from presencectl.cli.option_groups import MQTT as GROUP

        return GROUP.given(self)

    def check_not_mqtt(self, where: str) -> None:
        """Refuse MQTT flags with a source that is not MQTT.

        Raises:
            UsageError: ``-T, --qos cannot be used with a WebSocket source``.
        """
        wrong = [flag for flag, on in self.given().items() if on]
        if wrong:
            raise UsageError(f"{', '.join(wrong)} cannot be used with {where} (they are for mqtt:// and mqtts://)")

    def build_source(
        self,
        url: str,
        *,
        cacert: str | None = None,
        cert: str | None = None,
        key: str | None = None,
        insecure: bool = False,
        connect_timeout: float = 10.0,
        notice: Callable[[str], None] | None = None,
    ) -> MqttSource:
        """The MQTT Source for SOURCE ``url`` (``mqtt://`` or ``mqtts://``).

        Raises:
            UsageError: a bad URL, topic, flag combination or unreadable file.
        """
        from presencectl.cli.secrets import resolve_secret
        from presencectl.transports.mqtt import mqtt_source_from_args

        version = self.mqtt_version.value if isinstance(self.mqtt_version, MqttVersion) else self.mqtt_version
        return mqtt_source_from_args(
            url,
            topics=self.topics or None,
            qos=self.qos,
            mqtt_version=version,
            client_id=self.client_id,
            username=self.username,
            password=resolve_secret(self.password, self.password_file, "--password"),
            share=self.share,
            publish=self.publish or None,
            cacert=cacert,
            cert=cert,
            key=key,
            insecure=insecure,
            connect_timeout=connect_timeout,
            clean_session=self.clean_session,
            skip_retained=self.skip_retained,
            aliyun_device=self.aliyun_device,
            device_secret=resolve_secret(
                None if self.device_secret_file is not None and self.device_secret == _env_secret() else self.device_secret,
                self.device_secret_file,
                "--device-secret",
            ),
            notice=notice,
        )


def _env_secret() -> str | None:
    """``PRESENCECTL_DEVICE_SECRET`` (Typer fills --device-secret from it): a file given beats it."""
    import os

    return os.environ.get("PRESENCECTL_DEVICE_SECRET")


#: What a topic filter has and an event type does not: level separators and wildcards.
_TOPIC_CHARS = ("/", "#", "+")


def check_type_filters(types: list[str] | None, topics: list[str], warn: Callable[[str], None]) -> None:
    """Catch ``-t 'devices/#'`` on an MQTT source: a topic filter where an event type was meant.

    ``-t`` filters event *types* (``mosquitto_sub -t`` subscribes to a topic).
    Without ``-T`` the subscription is ``#`` and such a type filter would
    silently hide every event, so it is refused; with ``-T`` given the user
    knows the difference (a type may really contain ``/``), so it only warns.

    Raises:
        UsageError: a ``-t`` value looks like a topic filter and no ``-T`` was given.
    """
    suspects = [t for t in types or () if any(c in t for c in _TOPIC_CHARS)]
    if not suspects:
        return
    shown = ", ".join(repr(t) for t in suspects)
    if not topics:
        raise UsageError(
            f"-t {shown}: -t filters event types; subscribe with -T/--topic (e.g. -T {suspects[0].lstrip('!')!r})"
        )
    warn(f"-t {shown}: -t filters event types, not topics (subscriptions are -T/--topic)")
