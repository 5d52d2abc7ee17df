"""What travels with the package: ``presencectl completions SHELL`` and ``presencectl man``."""

from __future__ import annotations

import subprocess

import pytest

from tests.conftest import ROOT, cli_env, require_binary, run_cli
from tests.test_help import all_commands


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completions_prints_the_script_the_repository_holds(shell):
    result = run_cli("completions", shell)
    assert result.returncode == 0 and result.stderr == b""
    assert result.stdout.decode() == (ROOT / "completions" / f"presencectl.{shell}").read_text()


def test_completions_for_an_unknown_shell_is_a_usage_error():
    result = run_cli("completions", "tcsh")
    assert result.returncode == 2
    assert result.stderr.decode().startswith("presencectl: error: bad bash|zsh|fish:")


def test_bash_script_from_the_package_loads():
    script = run_cli("completions", "bash").stdout.decode()
    result = subprocess.run(["bash", "--norc", "--noprofile", "-c", script + "\ncomplete -p presencectl"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and result.stderr == ""


@pytest.fixture(scope="module")
def roff() -> str:
    result = run_cli("man")
    assert result.returncode == 0 and result.stderr == b""
    return result.stdout.decode()


def test_man_page_is_roff_with_every_command_and_variable(roff):
    assert roff.startswith(".TH PRESENCECTL 1 ")
    assert roff.isascii()
    for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "COMMANDS", "ENVIRONMENT", "EXIT STATUS", "FILES"):
        assert f"\n.SH {section}\n" in roff
    for name in all_commands():
        assert f'\n.SS "presencectl {name}"\n' in roff
    for var in ("PRESENCECTL_CONFIG", "PRESENCECTL_PASSWORD", "PRESENCECTL_DEVICE_SECRET", "PRESENCECTL_BASIC_AUTH",
                "PRESENCECTL_SOCKETIO_AUTH", "PRESENCECTL_JOBS", "PRESENCECTL_ANONYMISE_KEY", "NO_COLOR", "FORCE_COLOR"):
        assert f"\\fB{var}\\fR" in roff
    # the per-transport options that --help keeps for --help-all are in the manual
    assert "\\fB\\-T\\fR, \\fB\\-\\-topic\\fR \\fITOPIC\\fR" in roff


def test_man_page_renders_with_man(roff):
    require_binary("man")
    result = subprocess.run(["man", "-l", "-"], input=roff, capture_output=True, text=True, timeout=60,
                            env=cli_env(MANWIDTH="80", MANPAGER="cat", PAGER="cat"))
    assert result.returncode == 0 and result.stderr == "", result.stderr
    text = result.stdout
    assert "PRESENCECTL(1)" in text and "presencectl tail [OPTIONS] SOURCE" in text
    assert "-t, --type GLOB" in text


def test_man_page_has_no_roff_warnings(roff):
    require_binary("groff")
    result = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z"], input=roff, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stderr == "", result.stderr


def test_readme_lists_every_environment_variable():
    import re

    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Environment variables", 1)[1].split("\n## ", 1)[0]
    code = "\n".join(p.read_text() for p in (ROOT / "presencectl").rglob("*.py"))
    used = set(re.findall(r"\b(PRESENCECTL_[A-Z_]+)\b", code))
    for var in used:
        assert f"`{var}`" in table, f"{var} is not in the README's environment table"
