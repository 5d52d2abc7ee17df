"""A closed stdout (``| head``) ends every command with exit 0, no traceback, no message.

Two ways, both with real pipes: the reader gone before the command writes
anything (every write fails: deterministic), and the shell pipelines of the
README (``stats FILE | head -2``).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT, cli_env

SPAN = "fixtures/span-activity.capture.ndjson"
MIXED = "fixtures/mixed.capture.ndjson.gz"
PROFILES = '[profiles.span]\nurl = "wss://api.lab5e.com/span/collections/c/activity"\n'

COMMANDS = [
    ["--help"],
    ["--version"],
    ["tail", "--help"],
    ["tail", "--help-all"],
    ["dialects"],
    ["dialects", "--json"],
    ["stats", MIXED],
    ["stats", MIXED, "--json"],
    ["cat", MIXED],
    ["cat", MIXED, "-f", "pretty", "--color", "always", "-v"],
    ["tail", MIXED, "-f", "compact"],
    ["replay", SPAN, "--speed", "max"],
    ["demo", "-f", "json", "--speed", "1000"],
    ["profiles"],
    ["timeline", MIXED],
    ["completions", "bash"],
    ["man"],
    ["profiles", "show", "span"],
]


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict[str, str]:
    config = tmp_path_factory.mktemp("pipes") / "profiles.toml"
    config.write_text(PROFILES)
    return cli_env(PRESENCECTL_CONFIG=str(config))


def clean(stderr: bytes) -> None:
    text = stderr.decode(errors="replace")
    for bad in ("Traceback", "Exception ignored", "BrokenPipe", "Broken pipe", "error"):
        assert bad not in text, text


@pytest.mark.parametrize("argv", COMMANDS, ids=[" ".join(a) for a in COMMANDS])
def test_reader_gone_before_the_first_write(argv, env):
    read, write = os.pipe()
    os.close(read)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "presencectl", *argv], stdout=write, stderr=subprocess.PIPE,
            env=env, cwd=ROOT, timeout=60,
        )
    finally:
        os.close(write)
    assert result.returncode == 0, result.stderr
    clean(result.stderr)


@pytest.mark.parametrize(
    "pipeline",
    [
        f"presencectl stats {MIXED} | head -2",
        "presencectl dialects | head -1",
        "presencectl tail --help | head -1",
        f"presencectl cat {MIXED} -f pretty | head -1",
        f"presencectl replay {MIXED} --speed max -f compact | head -1",
        "presencectl demo -f compact --speed 1000 | head -1",
    ],
)
def test_head_in_a_shell_pipeline(pipeline, env):
    shell = "set -o pipefail; " + pipeline.replace("presencectl ", f"{sys.executable} -m presencectl ")
    result = subprocess.run(["bash", "-c", shell], capture_output=True, env=env, cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(b"\n") == int(pipeline.rsplit("-", 1)[1])
    clean(result.stderr)
