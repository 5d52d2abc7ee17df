"""Connection profiles: ``profiles.toml`` read, resolved, merged with the command line, listed masked."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Annotated

import pytest
import typer
from typer.testing import CliRunner

from presencectl.cli.options import Format
from presencectl.cli.profile_command import ProfileCommand
from presencectl.cli.profiles import (
    KEYS,
    MASK,
    ProfileError,
    config_path,
    load,
    masked,
    merge_value,
    resolve,
)
from tests.conftest import assert_no_traceback, cli_env, run_cli
from tests.live_support import TOKEN, WsServer, capture_lines, no_proxy_env, span_scenario

FULL = """
[profiles.span-prod]
url = "wss://api.lab5e.com/span/collections/17dh0cf43jg007/activity"
headers = ["X-API-Token: ${SPAN_TOKEN}", "Accept-Language: en"]
type = ["client*", "firmware*"]
subject = "17kl*"
where = ["data.transport=udp"]
kind = ["connect", "disconnect"]
format = "pretty"
insecure = true
cacert = "certs/ca.pem"
cert = "~/client.pem"
send_file = ["subscribe.json"]
timeout = 30

[profiles.aliyun-app]
url = "mqtts://app:${ALIYUN_PASSWORD}@iot.example.com:1883"
topics = "/sys/a1X5eCzh6fEH7/+/app/down/#"
username = "app&a1X5eCzh6fEH7"
password = "${ALIYUN_PASSWORD}"
publish = [{ topic = "/sys/a1X5eCzh6fEH7/app/up/account/bind", payload = '{"id":"1","params":{"iotToken":"tok-123"}}' }]
qos = 1

[profiles.spaces]
url = "sios://spacesapis-socket.avayacloud.com/socket.io/?token=${SPACES_TOKEN}"
namespace = "/chat"
emit = [["SUBSCRIBE_CHANNEL", { type = "topic", _id = "5c3f", password = "p4ss" }]]
headers = { Authorization = "Bearer literal-bearer-secret" }
send = ["not json: literal-send-secret", "${SEND_REF}"]
"""

ENV = {"SPAN_TOKEN": "tok-span", "ALIYUN_PASSWORD": "pw-aliyun", "SPACES_TOKEN": "tok-spaces", "SEND_REF": "x", "HOME": "/home/u"}


def write_config(directory: Path, text: str = FULL) -> Path:
    path = directory / "presencectl" / "profiles.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def one_line(result: subprocess.CompletedProcess[bytes], code: int = 2) -> str:
    assert result.returncode == code, result.stderr
    assert_no_traceback(result)
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("presencectl: error: ")
    return lines[0]


# --- the file and resolve() ---------------------------------------------------------


def test_resolve_round_trip(tmp_path):
    path = write_config(tmp_path)
    p = resolve("@span-prod", path, ENV)
    assert p is not None and p.name == "span-prod" and p.path == path
    assert p.url == "wss://api.lab5e.com/span/collections/17dh0cf43jg007/activity"
    assert p.options == {
        "headers": ["X-API-Token: tok-span", "Accept-Language: en"],
        "type": ["client*", "firmware*"],
        "subject": ["17kl*"],
        "where": ["data.transport=udp"],
        "kind": ["connect", "disconnect"],
        "format": "pretty",
        "insecure": True,
        "cacert": str(path.parent / "certs/ca.pem"),  # relative to the profiles file
        "cert": str(Path("~/client.pem").expanduser()),
        "send_file": [str(path.parent / "subscribe.json")],
        "timeout": "30",
    }
    assert p.params()["type_"] == ["client*", "firmware*"] and p.params()["header"][0] == "X-API-Token: tok-span"

    aliyun = resolve("@aliyun-app", path, ENV)
    assert aliyun.url == "mqtts://app:pw-aliyun@iot.example.com:1883"
    assert aliyun.options["topics"] == ["/sys/a1X5eCzh6fEH7/+/app/down/#"]
    assert aliyun.options["password"] == "pw-aliyun" and aliyun.options["qos"] == 1
    assert aliyun.options["publish"] == [
        ("/sys/a1X5eCzh6fEH7/app/up/account/bind", '{"id":"1","params":{"iotToken":"tok-123"}}')
    ]
    spaces = resolve("@spaces", path, ENV)
    # a table to emit is sent as JSON
    assert spaces.options["emit"] == [("SUBSCRIBE_CHANNEL", '{"type":"topic","_id":"5c3f","password":"p4ss"}')]
    assert spaces.options["headers"] == ["Authorization: Bearer literal-bearer-secret"]
    assert resolve("wss://example.com/x", path, ENV) is None
    assert resolve("fixtures/span-activity.capture.ndjson", path, ENV) is None


def test_environment_references(tmp_path):
    path = write_config(tmp_path, '[profiles.a]\nurl = "ws://h/x?token=${T}"\nsend = ["$${LITERAL} ${T}${T}"]\n')
    p = resolve("@a", path, {"T": "v"})
    assert p.url == "ws://h/x?token=v" and p.options["send"] == ["${LITERAL} vv"]
    with pytest.raises(ProfileError) as e:
        resolve("@a", path, {})
    assert str(e.value) == "profile a: url uses ${T}, but the environment variable T is not set"
    path.write_text('[profiles.a]\nurl = "ws://h/x"\npassword = "${1BAD}"\n')
    with pytest.raises(ProfileError, match=r"profile a: password: bad reference \$\{1BAD\}"):
        resolve("@a", path, {})


def test_config_path_precedence(tmp_path):
    env = {"HOME": "/home/u", "XDG_CONFIG_HOME": "/xdg", "PRESENCECTL_CONFIG": "/env/p.toml"}
    assert config_path("/cli/p.toml", env) == Path("/cli/p.toml")
    assert config_path(None, env) == Path("/env/p.toml")
    assert config_path(None, {"HOME": "/home/u", "XDG_CONFIG_HOME": "/xdg"}) == Path("/xdg/presencectl/profiles.toml")
    # a relative XDG_CONFIG_HOME is ignored, as the XDG spec says
    assert config_path(None, {"HOME": "/home/u", "XDG_CONFIG_HOME": "rel"}) == Path("/home/u/.config/presencectl/profiles.toml")


@pytest.mark.parametrize(
    "text, message",
    [
        ('[profiles.a]\nurl = "ws://h/x"\nheaders = ["NoColon"]\n', "profile a: headers[0] must be 'Name: value'"),
        ('[profiles.a]\nurl = "ws://h/x"\nheader = ["A: b"]\n', "unknown key 'header' (did you mean 'headers'?)"),
        ('[profiles.a]\nurl = "ws://h/x"\nflavour = 1\n', "unknown key 'flavour' (known: url, headers,"),
        ('[profiles.a]\nheaders = ["A: b"]\n', "profile a: 'url' is missing"),
        ('[profiles.a]\nurl = "ws://h/x"\ninsecure = "yes"\n', "profile a: insecure must be true or false"),
        ('[profiles.a]\nurl = "ws://h/x"\npublish = [["t"]]\n', "profile a: publish[0] must be [topic, payload]"),
        ('[profiles."a b"]\nurl = "ws://h/x"\n', "bad profile name 'a b'"),
        ('[profile.a]\nurl = "ws://h/x"\n', "unknown top-level key 'profile'"),
        ('[profiles.a]\nurl = "ws://h/x"\nkey = \n', "bad TOML: line 3, column 7: invalid value"),
        ('[profiles.a]\nurl = "ws://h/x"\nsend = ["a"', "bad TOML: line 3, column 12 (the end): unclosed array"),
    ],
)
def test_malformed_files_are_one_clear_message(tmp_path, text, message):
    path = write_config(tmp_path, text)
    with pytest.raises(ProfileError) as e:
        load(path)
    assert message in str(e.value)
    assert str(path) in str(e.value)


def test_resolve_errors_name_what_is_wrong(tmp_path):
    missing = tmp_path / "nope.toml"
    with pytest.raises(ProfileError, match=r"no profiles file .*nope.toml \(asked for @x\)"):
        resolve("@x", missing, {})
    path = write_config(tmp_path)
    with pytest.raises(ProfileError) as e:
        resolve("@prod", path, ENV)
    assert str(e.value) == f"unknown profile @prod in {path} (known: span-prod, aliyun-app, spaces)"
    with pytest.raises(ProfileError, match="needs a profile name"):
        resolve("@", path, ENV)


@pytest.mark.parametrize(
    "key, profile, cli, given, expected",
    [
        ("type", ["a*"], [], False, (True, ["a*"])),
        ("type", ["a*"], ["b*"], True, (False, ["b*"])),  # filters: the command line replaces
        ("format", "pretty", "json", True, (False, "json")),
        ("insecure", True, False, False, (True, True)),
        ("send", ["sub"], ["more"], True, (True, ["sub", "more"])),  # sends add up, profile's first
        ("publish", [("t", "p")], [("u", "q")], True, (True, [("t", "p"), ("u", "q")])),
        ("headers", ["A: 1", "B: 2"], ["b: 3"], True, (True, ["A: 1", "b: 3"])),  # same name: replaced
        ("topics", ["#"], ["a/+"], True, (False, ["a/+"])),
    ],
)
def test_merge_with_the_command_line(key, profile, cli, given, expected):
    assert merge_value(key, profile, cli, given) == expected


def test_every_key_sets_an_option_of_tail_and_record():
    from presencectl.cli.main import app

    group = typer.main.get_command(app)
    tail = {p.name for p in group.commands["tail"].params}
    record = {p.name for p in group.commands["record"].params}
    assert {k.param for k in KEYS.values()} <= tail
    assert {k.param for k in KEYS.values() if not k.output} <= record


def test_every_key_has_a_known_shape_and_merge():
    for key in KEYS.values():
        assert key.shape in {"str", "strs", "bool", "int", "text", "path", "paths", "headers", "json", "pairs"}
        assert key.merge in {"replace", "append", "headers"}


def test_masked_hides_every_secret_but_not_variable_names(tmp_path):
    path = write_config(tmp_path)
    profiles = load(path)
    shown = json.dumps([masked(p) for p in profiles.values()])
    for secret in ("tok-123", "p4ss", "literal-bearer-secret", "literal-send-secret", "Accept-Language: en"):
        assert secret not in shown
    span = masked(profiles["span-prod"])
    assert span["headers"] == ["X-API-Token: ${SPAN_TOKEN}", f"Accept-Language: {MASK}"]
    aliyun = masked(profiles["aliyun-app"])
    assert aliyun["url"] == "mqtts://****:${ALIYUN_PASSWORD}@iot.example.com:1883"
    assert aliyun["password"] == "${ALIYUN_PASSWORD}"
    assert aliyun["publish"] == [["/sys/a1X5eCzh6fEH7/app/up/account/bind", '{"id":"1","params":{"iotToken":"****"}}']]
    spaces = masked(profiles["spaces"])
    assert spaces["emit"] == [["SUBSCRIBE_CHANNEL", {"type": "topic", "_id": "5c3f", "password": MASK}]]
    assert spaces["send"] == [MASK, "${SEND_REF}"]
    path.write_text('[profiles.a]\nurl = "mqtt://bob:hunter2@h:1883/?x=1&apiKey=k3y&hash=abc"\n')
    assert masked(load(path)["a"])["url"] == "mqtt://****:****@h:1883/?x=1&apiKey=****&hash=****"


# --- ProfileCommand: the Typer glue, in-process ----------------------------------------


ToyHeaders = Annotated[list[str] | None, typer.Option("-H", "--header")]
ToySend = Annotated[list[str] | None, typer.Option("--send")]
ToyType = Annotated[list[str] | None, typer.Option("-t", "--type")]
ToyFormat = Annotated[Format | None, typer.Option("-f", "--format")]
ToyInsecure = Annotated[bool, typer.Option("--insecure")]
ToyQos = Annotated[int, typer.Option("--qos", min=0, max=2)]


def _toy_app(seen: dict) -> typer.Typer:
    """A tail-like command: repeatable -H/--send/-t, an enum -f, a flag, an int."""
    toy = typer.Typer()

    @toy.command("tail", cls=ProfileCommand)
    def tail(
        source: str,
        header: ToyHeaders = None,
        send: ToySend = None,
        type_: ToyType = None,
        fmt: ToyFormat = None,
        insecure: ToyInsecure = False,
        qos: ToyQos = 0,
    ) -> None:
        seen.update(source=source, header=header, send=send, type_=type_, fmt=fmt, insecure=insecure, qos=qos)

    @toy.command("other")
    def other() -> None:  # pragma: no cover - only here so "tail" stays a subcommand
        pass

    return toy


def test_profile_command_merges_the_profile_under_the_command_line(tmp_path):
    path = write_config(
        tmp_path,
        '[profiles.p]\nurl = "wss://h/x"\nheaders = ["X-Token: ${T}", "Accept: a"]\nsend = ["sub"]\n'
        'type = ["client*"]\nformat = "pretty"\ninsecure = true\nqos = 1\n',
    )
    runner = CliRunner()
    seen: dict = {}
    result = runner.invoke(_toy_app(seen), ["tail", "@p", "--config", str(path)], env={"T": "tok"})
    assert result.exit_code == 0, result.output
    assert seen["source"] == "wss://h/x"
    assert seen["header"] == ["X-Token: tok", "Accept: a"] and seen["send"] == ["sub"]
    assert seen["type_"] == ["client*"] and seen["fmt"].value == "pretty"
    assert seen["insecure"] is True and seen["qos"] == 1

    seen.clear()
    args = ["tail", "@p", "--config", str(path), "-H", "x-token: mine", "--send", "more", "-t", "fw*", "-f", "json", "--qos", "2"]
    result = runner.invoke(_toy_app(seen), args, env={"T": "tok"})
    assert result.exit_code == 0, result.output
    assert seen["header"] == ["Accept: a", "x-token: mine"]
    assert seen["send"] == ["sub", "more"]
    assert seen["type_"] == ["fw*"] and seen["fmt"].value == "json" and seen["qos"] == 2


def test_profile_command_refuses_what_it_cannot_apply(tmp_path):
    runner = CliRunner()
    path = write_config(tmp_path, '[profiles.p]\nurl = "wss://h/x"\ntopics = ["#"]\n[profiles.q]\nurl = "wss://h/x"\nqos = 7\n')
    result = runner.invoke(_toy_app({}), ["tail", "@p", "--config", str(path)])
    assert result.exit_code == 2
    assert "profile p: 'topics' does not apply to `presencectl tail`" in result.output
    result = runner.invoke(_toy_app({}), ["tail", "@q", "--config", str(path)])
    assert result.exit_code == 2 and "profile q: qos:" in result.output
    result = runner.invoke(_toy_app({}), ["tail", "wss://h/x", "--config", str(path)])
    assert result.exit_code == 2 and "--config applies to an @NAME source" in result.output


# --- the real CLI -------------------------------------------------------------------


def xdg_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = cli_env(XDG_CONFIG_HOME=str(tmp_path))
    env.pop("PRESENCECTL_CONFIG", None)
    env.update(extra)
    return env


def test_profiles_lists_with_secrets_masked(tmp_path):
    write_config(tmp_path)
    result = run_cli("profiles", env=xdg_env(tmp_path, **ENV))
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode()
    names = [line.split()[0] for line in out.splitlines()]
    assert names == ["span-prod", "aliyun-app", "spaces"]
    assert "mqtts://****:${ALIYUN_PASSWORD}@iot.example.com:1883" in out
    assert "3 profiles in" in result.stderr.decode()

    shown = run_cli("profiles", "show", "spaces", env=xdg_env(tmp_path, **ENV))
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout.decode()
    assert "[profiles.spaces]" in text and 'headers = ["Authorization: ****"]' in text
    assert 'emit = [["SUBSCRIBE_CHANNEL", { "type" = "topic", "_id" = "5c3f", "password" = "****" }]]' in text

    objs = [json.loads(line) for line in run_cli("profiles", "--json", env=xdg_env(tmp_path)).stdout.splitlines()]
    assert [o["name"] for o in objs] == ["span-prod", "aliyun-app", "spaces"]
    assert objs[0]["variables"] == [{"name": "SPAN_TOKEN", "set": False}]
    assert objs[1]["options"]["publish"][0][1] == '{"id":"1","params":{"iotToken":"****"}}'

    everything = b"".join(
        r.stdout + r.stderr
        for r in (result, shown, run_cli("profiles", "--json", env=xdg_env(tmp_path, **ENV)),
                  run_cli("profiles", "show", "aliyun-app", "--json", env=xdg_env(tmp_path, **ENV)))
    )
    for secret in ("tok-span", "pw-aliyun", "tok-spaces", "tok-123", "p4ss", "literal-bearer-secret", "literal-send-secret"):
        assert secret.encode() not in everything


def test_profiles_show_warns_about_unset_variables(tmp_path):
    write_config(tmp_path)
    result = run_cli("profiles", "show", "@span-prod", env=xdg_env(tmp_path))
    assert result.returncode == 0
    assert result.stderr.decode().splitlines() == [
        "presencectl: warning: ${SPAN_TOKEN} is not set: @span-prod cannot be used until it is"
    ]


def test_profiles_errors_are_one_line_exit_2(tmp_path):
    write_config(tmp_path)
    line = one_line(run_cli("profiles", "show", "prod", env=xdg_env(tmp_path)))
    assert line.endswith("(known: span-prod, aliyun-app, spaces)")
    bad = write_config(tmp_path / "bad", '[profiles.a]\nurl = "ws://h/x\n')
    line = one_line(run_cli("profiles", "--config", str(bad), env=xdg_env(tmp_path)))
    assert line == f"presencectl: error: {bad}: bad TOML: line 2, column 16: illegal character '\\n'"
    line = one_line(run_cli("profiles", env=xdg_env(tmp_path, PRESENCECTL_CONFIG=str(tmp_path / "none.toml"))))
    assert "no profiles file" in line and "none.toml" in line
    # no file at the default place: nothing to list, not an error
    empty = run_cli("profiles", env=xdg_env(tmp_path / "empty"))
    assert empty.returncode == 0 and empty.stdout == b"" and b"no profiles yet" in empty.stderr


def test_tail_at_profile_end_to_end(tmp_path):
    """``tail @span``: URL, header and filter from the profile; -f from the command line;
    the token neither shown nor written to the capture."""
    capture = tmp_path / "cap.ndjson"
    with WsServer(span_scenario, token=TOKEN) as server:
        write_config(
            tmp_path,
            f'[profiles.span]\nurl = "{server.url}?token=${{SPAN_TOKEN}}&x=1"\n'
            'headers = { "X-API-Token" = "${SPAN_TOKEN}" }\ntype = ["client*"]\nformat = "compact"\nreconnect = false\n',
        )
        env = no_proxy_env(XDG_CONFIG_HOME=str(tmp_path), SPAN_TOKEN=TOKEN)
        result = run_cli("tail", "@span", "-f", "json", "--record", str(capture), env=env)
    assert result.returncode == 0, result.stderr
    assert_no_traceback(result)
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["type"] for e in events] == ["clientConnected", "clientDisconnected", "clientConnected"]
    assert server.headers[0]["X-API-Token"] == TOKEN
    header = capture_lines(capture)[0]
    assert header["source"] == f"{server.url}?token=REDACTED&x=1" and header["headers"] == ["X-API-Token"]
    assert TOKEN.encode() not in capture.read_bytes() and TOKEN.encode() not in result.stderr


@pytest.mark.parametrize(
    "args, extra, expected",
    [
        (["tail", "@span"], {}, "presencectl: error: profile span: url uses ${SPAN_TOKEN}, but the environment variable SPAN_TOKEN is not set"),
        (["record", "@nope", "-o", "x.ndjson"], {"SPAN_TOKEN": "t"}, "presencectl: error: unknown profile @nope in {path} (known: span)"),
        (["tail", "fixtures/events.ndjson", "--config", "{path}"], {}, "presencectl: error: --config applies to an @NAME source (a profile)"),
    ],
)
def test_tail_at_profile_errors_are_one_line_exit_2(tmp_path, args, extra, expected):
    path = write_config(tmp_path, '[profiles.span]\nurl = "ws://127.0.0.1:9/x?token=${SPAN_TOKEN}"\n')
    args = [a.replace("{path}", str(path)) for a in args]
    assert one_line(run_cli(*args, env=xdg_env(tmp_path, **extra))) == expected.replace("{path}", str(path))


def test_tail_at_profile_without_a_file_is_exit_2(tmp_path):
    line = one_line(run_cli("tail", "@span-prod", env=xdg_env(tmp_path)))
    assert f"no profiles file {tmp_path}/presencectl/profiles.toml (asked for @span-prod)" in line
