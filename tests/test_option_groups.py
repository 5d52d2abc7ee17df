"""Options declared once: the groups, the commands that take them, the profile keys,
and which flag applies to which source."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from presencectl.cli.option_groups import (
    ALL_GROUPS,
    CONNECTION,
    FILTERS,
    KINDS,
    MQTT,
    OUTPUT,
    SOCKETIO,
    SOURCE_GROUPS,
    TLS,
    WEBHOOK,
    ConnectArgs,
    Opts,
    check_applicable,
    takes,
)
from presencectl.cli.profiles import KEYS
from presencectl.errors import UsageError
from tests.conftest import ROOT, run_cli


def command_params(name: str) -> set[str]:
    from presencectl.cli.main import app

    return {p.name for p in typer.main.get_command(app).commands[name].params}


@pytest.mark.parametrize(
    ("command", "groups"),
    [
        ("tail", (*SOURCE_GROUPS, FILTERS, OUTPUT)),
        ("record", (*SOURCE_GROUPS, FILTERS)),
        ("cat", (FILTERS, OUTPUT)),
        ("stats", (FILTERS,)),
        ("demo", (OUTPUT,)),
        ("replay", (OUTPUT,)),
    ],
)
def test_commands_take_whole_groups(command, groups):
    params = command_params(command)
    for group in groups:
        assert {o.param for o in group.opts} <= params, group.name


def test_one_declaration_per_flag():
    seen: dict[str, str] = {}
    for group in ALL_GROUPS:
        for opt in group.opts:
            assert opt.param not in seen, f"{opt.param} in {group.name} and {seen[opt.param]}"
            seen[opt.param] = group.name


def test_profile_keys_are_the_declared_options():
    declared = {o.profile_key: o for g in ALL_GROUPS for o in g.opts if o.profile_key is not None}
    assert list(KEYS) == list(declared)
    for name, key in KEYS.items():
        assert key.param == declared[name].param
    # output-only keys are exactly the output group's
    assert {k for k, v in KEYS.items() if v.output} == {o.profile_key for o in OUTPUT.opts if o.profile_key}


def test_a_new_command_takes_the_live_sources_in_one_line():
    """What ``expect`` does: tail's sources, connection options and filters."""
    app = typer.Typer()
    seen: list[Opts] = []

    @app.command("expect")
    @takes(*SOURCE_GROUPS, FILTERS)
    def expect_cmd(source: str, *, opts: Opts) -> None:
        seen.append(opts)

    @app.command("other")
    def other() -> None: ...

    result = CliRunner().invoke(
        app, ["expect", "mqtt://h", "-T", "a/#", "--qos", "1", "-s", "dev42", "-n", "1", "--no-reconnect", "--cacert", "ca.pem"]
    )
    assert result.exit_code == 0, result.output
    (opts,) = seen
    args = opts.connect_args()
    assert args.mqtt.topics == ["a/#"] and args.mqtt.qos == 1 and not args.reconnect and args.cacert == "ca.pem"
    assert opts.filter_args().subjects == ["dev42"] and opts.limit == 1
    assert opts.fmt is None  # not taken: the default
    help_text = CliRunner().invoke(app, ["expect", "--help"], env={"COLUMNS": "200"}).output
    assert "--topic" in help_text and "--subject" in help_text and "--format" not in help_text


def given_args(opt, group) -> ConnectArgs:
    """ConnectArgs with only ``opt`` given (a value other than its default)."""
    args = ConnectArgs()
    holder = {SOCKETIO.name: args.sio, MQTT.name: args.mqtt}.get(group.name, args)
    current = getattr(holder, opt.field_name)
    if isinstance(current, bool):
        value = not current
    elif isinstance(current, list):
        value = [("a", "b")] if opt.shape == "pairs" else ["x"]
    elif isinstance(current, int):
        value = current + 1
    elif opt.param == "eio":
        from presencectl.cli.socketio_options import Eio

        value = Eio.v3
    else:
        value = "7"
    setattr(holder, opt.field_name, value)
    assert opt.given(getattr(holder, opt.field_name))
    return args


CHECKED = [(g, o) for g in (CONNECTION, TLS, WEBHOOK, SOCKETIO, MQTT) for o in g.opts if o.sources is not None]


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize(("group", "opt"), CHECKED, ids=[o.param for _, o in CHECKED])
def test_each_flag_is_refused_exactly_where_it_does_not_apply(kind, group, opt):
    args = given_args(opt, group)
    if kind in opt.sources:
        check_applicable(kind, args)
        return
    with pytest.raises(UsageError) as e:
        check_applicable(kind, args)
    message = str(e.value)
    assert message.startswith(f"{opt.error_flag} cannot be used with {KINDS[kind]}")


def test_refusals_say_why_per_flag():
    args = ConnectArgs(sends=["x"], ping_interval="5")
    args.mqtt.topics = ["a/#"]
    with pytest.raises(UsageError) as e:
        check_applicable("socketio", args)
    assert str(e.value) == (
        "--send, --ping-interval, -T cannot be used with a Socket.IO source (--send: use --emit EVENT JSON; "
        "--ping-interval: Socket.IO keeps the heartbeat the server asks for; -T: they are for mqtt:// and mqtts://)"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["tail", "mqtt://127.0.0.1:9", "--send", "x"], "--send cannot be used with an MQTT source"),
        (["record", "sio://127.0.0.1:9", "-o", "x.ndjson", "-T", "a"], "-T cannot be used with a Socket.IO source"),
        (["tail", "ws://127.0.0.1:9/x", "--namespace", "/a"], "--namespace cannot be used with a WebSocket source"),
        (["tail", str(ROOT / "fixtures/navixy.capture.ndjson"), "--cacert", "ca.pem"], "--cacert cannot be used with a file source"),
        (["record", "http://127.0.0.1:0/x", "--listen", "-o", "x.ndjson", "--qos", "1"], "--qos cannot be used with the webhook receiver"),
    ],
)
def test_refusals_through_the_cli(argv, message, tmp_path):
    result = run_cli(*argv, cwd=tmp_path if "record" in argv else None)
    assert result.returncode == 2
    assert result.stderr.decode().startswith(f"presencectl: error: {message}")
