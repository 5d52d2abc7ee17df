"""TAB completion answers from the spec without Typer, exactly as the full app would."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT, cli_env

FAST = "import sys; sys.argv[0] = 'presencectl'; from presencectl.__main__ import main; main()"
FULL = "import sys; sys.argv[0] = 'presencectl'; from presencectl.cli.main import run; run()"
PROFILES = '[profiles.span-prod]\nurl = "wss://u:pw@api.lab5e.com/x?token=t"\n[profiles.spaces]\nurl = "sios://h/chat"\n'

LINES = [
    "presencectl ",
    "presencectl c",
    "presencectl cat -t fir",
    "presencectl cat --type=fir",
    "presencectl cat --dialect sp",
    "presencectl cat --dialect ",
    "presencectl stats x --kind ",
    "presencectl replay x -f ",
    "presencectl replay x --color a",
    "presencectl tail --qo",
    "presencectl tail -",
    "presencectl tail wss://h/x -t '!client",
    "presencectl tail wss://h/x --mqtt-version ",
    "presencectl tail wss://h/x --publish a ",
    "presencectl tail @sp",
    "presencectl record @",
    "presencectl tail x -n 3 --ti",
    "presencectl tail x --utc --u",
    "presencectl profiles ",
    "presencectl profiles show sp",
    "presencectl profiles show --config /nonexistent sp",
    "presencectl cat fixtures/sp",
    "presencectl completions ",
    "presencectl nope ",
    "presencectl dialects --",
]


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict[str, str]:
    config = tmp_path_factory.mktemp("fast") / "profiles.toml"
    config.write_text(PROFILES)
    return cli_env(PRESENCECTL_CONFIG=str(config), PYTHONPATH=str(ROOT))


def ask(code: str, shell: str, line: str, env: dict[str, str], action: str = "get-args") -> tuple[int, str]:
    env = dict(env, _PRESENCECTL_COMPLETE=f"complete_{shell}")
    if shell == "bash":
        words = line.split(" ")
        env.update(COMP_WORDS=line, COMP_CWORD=str(len(words) - 1))
    else:
        env.update(_TYPER_COMPLETE_ARGS=line, _TYPER_COMPLETE_FISH_ACTION=action)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert result.stderr == ""
    return result.returncode, result.stdout


def values(shell: str, out: str) -> list[str]:
    """The candidates of an answer, without their descriptions (Typer cuts and
    wraps those; the fast path gives the first sentence whole)."""
    if shell == "zsh":
        if out.strip() == "_files":
            return ["_files"]
        assert out.startswith("_arguments '*: :((") and out.rstrip().endswith("))'"), out
        body = out[len("_arguments '*: :(("):]
        # a candidate line is "value" or "value":"help"; Typer wraps some helps onto more lines
        return re.findall(r'^"((?:[^"]|"")*)"(?=:"|$|\)\)\')', body, flags=re.M)
    lines = out.split("\n")
    if any("\t" in line for line in lines):  # Typer wraps some descriptions onto a second line
        lines = [line for line in lines if "\t" in line]
    return [line.split("\t")[0] for line in lines]


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
@pytest.mark.parametrize("line", LINES)
def test_fast_path_answers_as_the_app(shell, line, env):
    (fast_code, fast), (full_code, full) = ask(FAST, shell, line, env), ask(FULL, shell, line, env)
    # sorted: the shells sort candidates themselves, and Typer's -h/--help order follows a set's
    assert (fast_code, sorted(values(shell, fast))) == (full_code, sorted(values(shell, full)))
    if shell == "fish":
        assert ask(FAST, shell, line, env, "is-args") == ask(FULL, shell, line, env, "is-args")


def test_fast_path_loads_no_typer(env):
    code = FAST.replace("main()", "main() if False else None") + (
        "\nimport os, sys\nos.environ['_PRESENCECTL_COMPLETE'] = 'complete_bash'\n"
        "os.environ['COMP_WORDS'] = 'presencectl cat -t fir'; os.environ['COMP_CWORD'] = '3'\n"
        "from presencectl.cli.completion import answer\nanswer('complete_bash', os.environ)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('typer', 'rich', 'pydantic', 'click')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr


def test_spec_is_current():
    result = subprocess.run([sys.executable, "-m", "presencectl.cli.completion", "--check"], capture_output=True, text=True,
                            cwd=ROOT, env=cli_env(PYTHONPATH=str(ROOT)), timeout=60)
    assert result.returncode == 0, result.stderr


def test_a_stale_spec_falls_back_to_the_app(env, tmp_path, monkeypatch):
    from presencectl.cli import completion

    monkeypatch.setattr(completion, "_SPEC", {"fingerprint": "stale", "root": {}})
    assert completion.answer("complete_bash", {"COMP_WORDS": "presencectl ", "COMP_CWORD": "1"}) is None
