"""The README stays true: its example commands print what it shows; every command is documented."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT, cli_env, run_cli

README = (ROOT / "README.md").read_text()


def console_examples() -> list[tuple[str, str]]:
    """(command, expected output) for each ``$ …presencectl…`` line with output shown."""
    examples = []
    for block in re.findall(r"```console\n(.*?)```", README, re.DOTALL):
        lines = block.splitlines()
        i = 0
        while i < len(lines):
            if lines[i].startswith("$ "):
                command = lines[i][2:]
                j = i + 1
                while j < len(lines) and not lines[j].startswith("$ "):
                    j += 1
                output = "\n".join(lines[i + 1 : j])
                if "presencectl" in command and output and not command.startswith(("pip", "python")):
                    examples.append((command, output))
                i = j
            else:
                i += 1
    return examples


def commands() -> list[str]:
    from presencectl.cli.main import app

    return sorted(c.name or c.callback.__name__ for c in app.registered_commands)


@pytest.mark.parametrize("command, expected", console_examples())
def test_readme_example_output_is_real(command, expected):
    shell = command.replace("presencectl ", f"{sys.executable} -m presencectl ")
    result = subprocess.run(
        ["bash", "-c", shell + " 2>&1"], capture_output=True, text=True, cwd=ROOT,
        env=cli_env(COLUMNS="100"), timeout=60,
    )
    got = [line.rstrip() for line in result.stdout.splitlines()]
    assert got == [line.rstrip() for line in expected.splitlines()]


@pytest.mark.parametrize("name", commands())
def test_every_command_is_in_the_readme_and_has_help_with_examples(name):
    assert re.search(rf"presencectl {name}\b", README), f"README does not mention `presencectl {name}`"
    result = run_cli(name, "--help", env=cli_env(COLUMNS="200"))
    assert result.returncode == 0
    assert b"Examples" in result.stdout, f"`{name} --help` has no examples"
