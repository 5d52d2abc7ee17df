"""Issue 12 item 7: secrets stay out of captures, stderr, profile listings and ``ps``.

One redaction (``core.capture.redact_url``) for every place a URL is shown:
URL user names and passwords, and every query parameter whose name contains
token, secret, key, pass, auth, sig or session. Secrets can come from files
(``--password-file``, ``--device-secret-file``, ``-H @FILE``) instead of the
command line, where ``ps`` shows them.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import free_port, run_cli
from tests.live_support import TOKEN, Cli, WsServer, no_proxy_env, stream_scenario
from tests.mqtt_support import Brokers, wait_until

SECRETS = ("A1-secret", "B2-secret", "C3-secret", "D4-secret", "E5-secret", "F6-secret", "G7-secret", TOKEN)
QUERY = "accesstoken=A1-secret&apitoken=B2-secret&clientsecret=C3-secret&Passwd=D4-secret&authCode=E5-secret&sig=F6-secret&sessionId=G7-secret&page=2"


def _no_secret(text: str | bytes) -> None:
    data = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    for secret in SECRETS:
        assert secret not in data


def test_ws_capture_header_and_notices_hide_query_secrets_and_header_files(tmp_path):
    headers = tmp_path / "headers.txt"
    headers.write_text(f"# the token for the test server\nX-API-Token: {TOKEN}\n\nX-Other: 1\n")
    capture = tmp_path / "ws.capture.ndjson"
    with WsServer(stream_scenario(2), token=TOKEN) as server:
        url = server.url.replace("ws://", "ws://user-G7:pw@").replace("ws://user-G7:pw@", "ws://") + "?" + QUERY
        with Cli("record", url, "-o", str(capture), "-H", f"@{headers}", "--timeout", "2") as cli:
            status = cli.finish()
    assert status == 0, cli.stderr  # the token from the file got us in
    assert server.headers[0]["X-API-Token"] == TOKEN and server.headers[0]["X-Other"] == "1"
    header = json.loads(capture.read_text().splitlines()[0])
    assert header["headers"] == ["X-API-Token", "X-Other"]
    assert header["source"].endswith("?accesstoken=REDACTED&apitoken=REDACTED&clientsecret=REDACTED&Passwd=REDACTED&authCode=REDACTED&sig=REDACTED&sessionId=REDACTED&page=2")
    _no_secret(capture.read_text().splitlines()[0])
    _no_secret(cli.stderr)


def test_header_file_that_cannot_be_read_is_a_usage_error(tmp_path):
    for args in (["tail", "ws://127.0.0.1:9/x"], ["replay", "fixtures/span-activity.capture.ndjson", "--to", "http://127.0.0.1:9/x"]):
        result = run_cli(*args, "-H", f"@{tmp_path / 'missing.txt'}")
        lines = result.stderr.decode().strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1 and "no such file" in lines[0], lines


@pytest.fixture
def make_broker(tmp_path):
    with Brokers(tmp_path) as make:
        yield make


@pytest.mark.broker
def test_mqtt_password_file_and_a_token_as_user_name(make_broker, tmp_path):
    b = make_broker(users={"TOKEN-A1-secret": "s3cret"})
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    capture = tmp_path / "mqtt.capture.ndjson"
    url = f"mqtt://TOKEN-A1-secret@127.0.0.1:{b.port}"
    with Cli("record", url, "-T", "t/#", "--password-file", str(secret), "-o", str(capture), env=no_proxy_env()) as cli:
        cli.wait_stderr("subscribed")
        b.publish("t/1", '{"event":"x"}', user="TOKEN-A1-secret", password="s3cret")
        assert wait_until(lambda: len(capture.read_text().splitlines()) >= 3)  # header, marker, frame
        cli.interrupt()
        assert cli.finish() == 130
    header = json.loads(capture.read_text().splitlines()[0])
    assert header["source"] == f"mqtt://REDACTED@127.0.0.1:{b.port}"
    assert json.loads(capture.read_text().splitlines()[-1])["text"] == '{"event":"x"}'
    _no_secret(cli.stderr)
    assert "s3cret" not in cli.stderr


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--password", "x", "--password-file", "PW"], "not both"),
        (["--password-file", "MISSING"], "no such file"),
        (["--password-file", "EMPTY"], "first line is empty"),
        (["--aliyun-device", "pk/dn", "--device-secret", "x", "--device-secret-file", "PW"], "not both"),
        (["--aliyun-device", "pk/dn", "--device-secret-file", "MISSING"], "no such file"),
    ],
)
def test_secret_file_mistakes_are_usage_errors(tmp_path, args, says):
    (tmp_path / "PW").write_text("pw\n")
    (tmp_path / "EMPTY").write_text("\n")
    args = [str(tmp_path / a) if a in ("PW", "MISSING", "EMPTY") else a for a in args]
    result = run_cli("tail", f"mqtt://u@127.0.0.1:{free_port()}", *args)
    lines = result.stderr.decode().strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and says in lines[0], lines


def test_device_secret_file_beats_the_environment(tmp_path):
    (tmp_path / "secret").write_text("from-file\n")
    # Both the env var and a file: the file is taken, not refused as "both".
    result = run_cli(
        "tail", f"mqtt://127.0.0.1:{free_port()}", "--aliyun-device", "pk/dn",
        "--device-secret-file", str(tmp_path / "secret"), "--no-reconnect", "--connect-timeout", "1",
        env=no_proxy_env(PRESENCECTL_DEVICE_SECRET="from-env"),
    )
    assert result.returncode == 1 and b"not both" not in result.stderr  # a refused connection, not a usage error


def test_secret_files_are_only_for_mqtt():
    result = run_cli("tail", "ws://127.0.0.1:9/x", "--password-file", "x")
    assert result.returncode == 2 and b"--password-file" in result.stderr


def test_profiles_listing_hides_user_names_and_query_secrets(tmp_path):
    config = tmp_path / "p.toml"
    config.write_text(
        '[profiles.a]\nurl = "mqtt://TOKEN-A1-secret@h:1883"\n'
        f'[profiles.b]\nurl = "wss://h/x?{QUERY}"\n'
        '[profiles.c]\nurl = "mqtt://${USER_VAR}:${PASS_VAR}@h"\n'
    )
    result = run_cli("profiles", env=no_proxy_env(PRESENCECTL_CONFIG=str(config)))
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode()
    _no_secret(out)
    assert "mqtt://****@h:1883" in out and "page=2" in out
    assert "mqtt://${USER_VAR}:${PASS_VAR}@h" in out  # variable names are not secrets


@pytest.mark.parametrize(("command", "flags"), [("tail", ("--password", "--device-secret", "--header")), ("replay", ("--header",))])
def test_help_says_which_values_ps_shows(command, flags):
    flag = "--help-all" if command == "tail" else "--help"
    text = " ".join(run_cli(command, flag, env=no_proxy_env(COLUMNS="400")).stdout.decode().split())
    assert text.lower().count("visible") >= len(flags) and "in ps" in text
    assert "-H @FILE" in text
