"""``presencectl dialects [NAME]``: the list, one dialect in full, errors and closed pipes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from presencectl.core import dialects
from tests.conftest import ROOT, cli_env, run_cli

VENDORS = [d.name for d in dialects.registry() if d.source]


def test_the_list_shows_documented_types_only():
    result = run_cli("dialects", env=cli_env(COLUMNS="200"))
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode()
    for d in dialects.registry():
        assert d.title in out
        for name in d.types:
            assert name in out, (d.name, name)
    # Invented or undocumented types are not listed as known.
    assert "gatewayCreated" not in out and "party.idle" not in out and "state_batch" not in out


@pytest.mark.parametrize("name", VENDORS)
def test_one_dialect_in_full(name):
    d = dialects.get(name)
    result = run_cli("dialects", name, env=cli_env(COLUMNS="400"))
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode()
    for type_name, info in {**d.types, **d.extra_types}.items():
        row = next(line for line in out.splitlines() if line.startswith(type_name + " "))
        assert str(info.kind) in row and info.description in row
        assert (info.presence or "") in row
    for text in (d.transport, d.example, d.source, *d.fields):
        assert text in out
    assert "Also handled (not in the vendor's document)" in out or not d.extra_types


@pytest.mark.parametrize("name", VENDORS)
def test_one_dialect_as_json(name):
    result = run_cli("dialects", name, "--json")
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    obj = json.loads(line)
    d = dialects.get(name)
    assert [t["name"] for t in obj["types"]] == list(d.types)
    assert [t["name"] for t in obj["extra_types"]] == list(d.extra_types)
    assert (obj["transport"], obj["example"], obj["fields"], obj["codes"]) == (d.transport, d.example, d.fields, d.codes)


def test_gateway_comm_error_is_an_error_in_the_listing():
    obj = json.loads(run_cli("dialects", "span", "--json").stdout)
    kinds = {t["name"]: t["kind"] for t in obj["types"]}
    assert kinds["gatewayCommError"] == "error"
    assert "gatewayCreated" not in kinds


@pytest.mark.parametrize("args", [["nope"], ["nope", "--json"], ["Span"]])
def test_unknown_name_is_one_error_line_and_exit_2(args):
    result = run_cli("dialects", *args)
    assert result.returncode == 2
    assert result.stdout == b""
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"presencectl: error: unknown dialect '{args[0]}' (known: cloudconnect, aliyun,")


@pytest.mark.parametrize("args", [[], ["--json"], ["navixy"], ["navixy", "--json"]])
def test_a_closed_pipe_ends_quietly(args):
    # The reader is gone before the first write: every write meets EPIPE,
    # as with `presencectl dialects | head -1` when head has already exited.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "presencectl", "dialects", *args],
            stdout=write_end, stderr=subprocess.PIPE, env=cli_env(), cwd=ROOT, timeout=60,
        )
    finally:
        os.close(write_end)
    assert (result.returncode, result.stderr) == (0, b"")


def test_head_1_in_a_shell_exits_0():
    shell = f"{sys.executable} -m presencectl dialects | head -1; echo \"status=${{PIPESTATUS[0]}}\""
    result = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, env=cli_env(), cwd=ROOT, timeout=60)
    assert result.stdout.splitlines()[-1] == "status=0"
    assert result.stderr == ""
