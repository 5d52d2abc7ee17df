"""Shell completion: the committed scripts are current, load, and offer the right candidates.

Candidates are asked the way each shell asks: bash runs the completion
function of ``completions/presencectl.bash`` with ``COMP_WORDS``/``COMP_CWORD``
split as bash splits them (``@``, ``=`` and ``:`` are word breaks), and reads
``COMPREPLY``; fish answers ``complete -C``; zsh's side of the protocol is
checked on the program's output. ``presencectl`` on ``PATH`` is this
checkout's console-script entry point, named ``presencectl`` (the name
decides the variable it reads: ``_PRESENCECTL_COMPLETE``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

from presencectl.core import dialects
from tests.conftest import ROOT, cli_env, require_binary

COMPLETIONS = ROOT / "completions"
#: bash's default COMP_WORDBREAKS, less the blanks.
WORDBREAKS = "\"'@><=;|&(:"

PROFILES = """
[profiles.span-prod]
url = "wss://api.lab5e.com/span/collections/17dh0cf43jg007/activity"
headers = ["X-API-Token: ${SPAN_TOKEN}"]
[profiles.spaces]
url = "sios://spacesapis-socket.avayacloud.com/chat"
[profiles.navixy]
url = "wss://api.eu.navixy.com/v2/event/subscription"
"""

ENTRY = "import sys; sys.argv[0] = 'presencectl'; from presencectl.__main__ import main; main()"


@pytest.fixture(scope="module")
def shell_env(tmp_path_factory) -> dict[str, str]:
    """PATH with ``presencectl`` (this checkout) and a profiles file under XDG_CONFIG_HOME."""
    base = tmp_path_factory.mktemp("completion")
    bin_dir = base / "bin"
    bin_dir.mkdir()
    script = bin_dir / "presencectl"
    script.write_text(f"#!/bin/sh\nexec {sys.executable} -c {shq(ENTRY)} \"$@\"\n")
    script.chmod(0o755)
    (base / "presencectl").mkdir()
    (base / "presencectl" / "profiles.toml").write_text(PROFILES)
    env = cli_env(XDG_CONFIG_HOME=str(base), PYTHONPATH=str(ROOT))
    env.pop("PRESENCECTL_CONFIG", None)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return env


def shq(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def bash_words(line: str) -> list[str]:
    """COMP_WORDS as bash splits ``line``: at blanks and at runs of word-break
    characters; a quoted string (closed or not) stays one word."""
    breaks = re.escape(WORDBREAKS.replace("'", "").replace('"', ""))
    words = re.findall(rf"""'[^']*'?|"[^"]*"?|[^\s'"{breaks}]+|[{breaks}]+""", line)
    return words + [""] if line.endswith(" ") else words


def bash_complete(line: str, env: dict[str, str], prog: str = "presencectl") -> list[str]:
    """COMPREPLY after <Tab> at the end of ``line``, through the committed bash script."""
    words = bash_words(line)
    script = (
        f"source {shq(str(COMPLETIONS / 'presencectl.bash'))}\n"
        f"COMP_LINE={shq(line)}; COMP_POINT=${{#COMP_LINE}}\n"
        f"COMP_WORDS=({' '.join(shq(w) for w in words)}); COMP_CWORD={len(words) - 1}\n"
        f"_presencectl_completion {prog}\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    result = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    return [w for w in result.stdout.split("\n") if w]


def all_types() -> set[str]:
    return {name for d in dialects.registry() for name in d.types}


# --- the scripts are current and load ---------------------------------------------------


def test_committed_scripts_are_what_the_generator_writes(tmp_path):
    result = subprocess.run([sys.executable, "completions/generate.py", "--check"], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    # --check fails on a missing or changed script, and names it
    copy = tmp_path / "completions"
    copy.mkdir()
    shutil.copy(COMPLETIONS / "generate.py", copy)
    for shell in ("bash", "zsh", "fish"):
        shutil.copy(COMPLETIONS / f"presencectl.{shell}", copy)
    (copy / "presencectl.zsh").write_text("# edited by hand\n")
    (copy / "presencectl.fish").unlink()
    check = subprocess.run([sys.executable, str(copy / "generate.py"), "--check"], capture_output=True, text=True, env=cli_env(PYTHONPATH=str(ROOT)))
    assert check.returncode == 1
    assert check.stderr == "stale: presencectl.zsh, presencectl.fish; run: python completions/generate.py\n"
    write = subprocess.run([sys.executable, str(copy / "generate.py")], capture_output=True, text=True, env=cli_env(PYTHONPATH=str(ROOT)))
    assert write.returncode == 0, write.stderr
    for shell in ("bash", "zsh", "fish"):
        assert (copy / f"presencectl.{shell}").read_text() == (COMPLETIONS / f"presencectl.{shell}").read_text()


def test_bash_script_loads():
    result = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", f"source {shq(str(COMPLETIONS / 'presencectl.bash'))} && complete -p presencectl"],
        capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert result.stdout.strip() == "complete -o default -F _presencectl_completion presencectl"


def test_zsh_script_loads(tmp_path):
    require_binary("zsh")
    script = (
        f"autoload -Uz compinit && compinit -u -d {shq(str(tmp_path / 'zcompdump'))} && "
        f"source {shq(str(COMPLETIONS / 'presencectl.zsh'))} && print -r -- $_comps[presencectl]"
    )
    result = subprocess.run(["zsh", "-f", "-c", script], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert result.stdout.strip() == "_presencectl_completion"


# --- candidates, through bash ----------------------------------------------------------------


def test_bash_words_are_split_as_bash_splits_them():
    # as `declare -p COMP_WORDS` shows in an interactive bash 5.2
    assert bash_words("presencectl tail @sp") == ["presencectl", "tail", "@", "sp"]
    assert bash_words("presencectl cat --type=") == ["presencectl", "cat", "--type", "="]
    assert bash_words("dbgcmd a:b 'x y") == ["dbgcmd", "a", ":", "b", "'x y"]
    assert bash_words("presencectl ") == ["presencectl", ""]


def test_bash_type_candidates_come_from_the_dialect_registry(shell_env):
    firmware = sorted(t for t in all_types() if t.startswith("fir"))
    assert "firmwareCheck" in firmware
    assert sorted(bash_complete("presencectl cat -t fir", shell_env)) == firmware
    # --type=fir: bash splits at "=", readline replaces only "fir"
    assert sorted(bash_complete("presencectl cat --type=fir", shell_env)) == firmware
    assert sorted(bash_complete("presencectl tail wss://h/x -t '!client", shell_env)) == ["!clientConnected", "!clientDisconnected"]


def test_bash_dialect_kind_format_and_command_candidates(shell_env):
    assert sorted(bash_complete("presencectl cat --dialect sp", shell_env)) == ["spaces", "span"]
    kinds = bash_complete("presencectl stats x --kind ", shell_env)
    assert sorted(kinds) == sorted(["connect", "disconnect", "state", "message", "firmware", "error", "lifecycle", "other", "unparsed"])
    assert sorted(bash_complete("presencectl replay x -f ", shell_env)) == ["compact", "json", "pretty", "raw"]
    commands = set(bash_complete("presencectl ", shell_env))
    assert {"cat", "tail", "record", "replay", "stats", "dialects", "demo", "profiles"} <= commands


def test_bash_falls_back_to_file_names_for_files(shell_env):
    # nothing from the program: bash's -o default completes file names
    assert bash_complete("presencectl cat fixtures/sp", shell_env) == []
    assert bash_complete("presencectl tail fixtures/sp", shell_env) == []


def test_bash_profile_names(shell_env):
    assert sorted(bash_complete("presencectl profiles show sp", shell_env)) == ["spaces", "span-prod"]
    # "@" is a word break that readline keeps in the word it replaces: the candidates keep it
    # the shipped CLI, nothing patched: tail and record complete @NAME from the profiles file
    assert sorted(bash_complete("presencectl tail @sp", shell_env)) == ["@spaces", "@span-prod"]
    assert sorted(bash_complete("presencectl record @", shell_env)) == ["@navixy", "@spaces", "@span-prod"]


# --- zsh and fish -----------------------------------------------------------------------------


def test_zsh_protocol_answers_with_descriptions(shell_env):
    env = dict(shell_env, _PRESENCECTL_COMPLETE="complete_zsh", _TYPER_COMPLETE_ARGS="presencectl cat --dialect sp")
    out = subprocess.run(["presencectl"], capture_output=True, text=True, env=env, timeout=60).stdout
    assert out.startswith("_arguments '*: :((") and '"span":"Lab5e Span activity events"' in out and '"spaces":' in out
    env["_TYPER_COMPLETE_ARGS"] = "presencectl cat fixtures/sp"
    assert subprocess.run(["presencectl"], capture_output=True, text=True, env=env, timeout=60).stdout.strip() == "_files"


def test_fish_candidates(shell_env, tmp_path):
    require_binary("fish")
    env = dict(shell_env, HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path / "data"))
    script = f"source {shq(str(COMPLETIONS / 'presencectl.fish'))}; complete -C 'presencectl cat -t firmwareC'"
    result = subprocess.run(["fish", "--no-config", "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    values = [line.split("\t")[0] for line in result.stdout.splitlines()]
    assert values == ["firmwareCheck", "firmwareCurrent"]
    assert "span firmware" in result.stdout  # the meaning, shown beside each candidate
