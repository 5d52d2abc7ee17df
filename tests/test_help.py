"""``--help`` is readable: short, wrapped to the terminal, real metavars, no value for a flag."""

from __future__ import annotations

import re

import pytest

from tests.conftest import cli_env, run_cli


def all_commands() -> list[str]:
    """Every command and subcommand of the app, as typed: ``profiles show``."""
    import typer

    from presencectl.cli.main import app

    def walk(group, prefix):  # type: ignore[no-untyped-def]
        for name, cmd in group.commands.items():
            yield f"{prefix}{name}"
            if hasattr(cmd, "commands"):
                yield from walk(cmd, f"{prefix}{name} ")

    return sorted(walk(typer.main.get_command(app), ""))


COMMANDS = all_commands()
#: Commands whose per-transport options are behind --help-all.
LIVE = ("tail", "record", "timeline")

#: ``tail --help`` at 80 columns (276 lines before the plain help); the
#: per-transport options are behind --help-all.
MAX_LINES = {("tail", "80"): 80, ("tail", "100"): 70, ("record", "80"): 80, ("record", "100"): 70}


def help_text(command: str, *flags: str, columns: str = "80") -> str:
    result = run_cli(*command.split(), *(flags or ("--help",)), env=cli_env(COLUMNS=columns))
    assert result.returncode == 0, result.stderr
    assert result.stderr == b""
    return result.stdout.decode()


def test_every_command_is_covered():
    assert {"tail", "record", "profiles show", "cat", "man", "completions"} <= set(COMMANDS)


@pytest.mark.parametrize(("command", "columns"), sorted(MAX_LINES))
def test_help_line_counts(command, columns):
    lines = help_text(command, columns=columns).splitlines()
    assert len(lines) <= MAX_LINES[command, columns], f"{command} --help: {len(lines)} lines at {columns} columns"
    full = help_text(command, "--help-all", columns=columns).splitlines()
    assert len(full) > len(lines)


@pytest.mark.parametrize("columns", ["80", "100"])
@pytest.mark.parametrize("command", COMMANDS)
def test_no_line_is_wider_than_the_terminal(command, columns):
    texts = [help_text(command, columns=columns)]
    if command in LIVE:
        texts.append(help_text(command, "--help-all", columns=columns))
    for text in texts:
        wide = [line for line in text.splitlines() if len(line) > int(columns)]
        assert not wide, wide


@pytest.mark.parametrize("command", COMMANDS)
def test_metavars_are_words_not_python_types(command):
    text = help_text(command, *(("--help-all",) if command in LIVE else ("--help",)))
    labels = [re.split(r"\s{2,}", line.strip())[0] for line in text.splitlines() if re.match(r"  -|  [A-Z]+\s", line)]
    assert labels
    for label in labels:
        assert not re.search(r"<\w+(\[[\w\[\], ]*\])?>|\{\w+\}", label), f"a Python type as metavar: {label}"
    assert "Usage: presencectl" in text


def option_line(text: str, label: str) -> str:
    """The help line of the option whose label starts with ``label``."""
    for line in text.splitlines():
        if line.startswith(f"  {label}"):
            return line
    raise AssertionError(f"no {label!r} in help")


@pytest.mark.parametrize(
    ("command", "label", "metavar"),
    [
        ("tail", "-t, --type", "GLOB"),
        ("tail", "-s, --subject", "GLOB"),
        ("tail", "-w, --where", "EXPR"),
        ("tail", "--grep", "REGEX"),
        ("tail", "--since", "TIME"),
        ("tail", "-n, --limit", "N"),
        ("tail", "--timeout", "DURATION"),
        ("tail", "--record", "FILE"),
        ("tail", "-f, --format", "pretty|json|raw|compact"),
        ("tail", "--assume-tz", "ZONE"),
        ("tail", "-T, --topic", "TOPIC"),
        ("tail", "--send-file", "FILE"),
        ("tail", "--cacert", "FILE"),
        ("tail", "--publish", "TOPIC PAYLOAD"),
        ("record", "-o, --output", "FILE"),
        ("cat", "--dialect", "NAME"),
        ("replay", "--to", "URL"),
        ("replay", "--loop", "N"),
    ],
)
def test_real_metavars(command, label, metavar):
    text = help_text(command, *(("--help-all",) if command in LIVE else ("--help",)), columns="200")
    line = option_line(text, label)
    assert line == f"  {label} {metavar}" or line.startswith(f"  {label} {metavar}  ")


@pytest.mark.parametrize(
    ("command", "label"),
    [("cat", "--keepalive"), ("tail", "-k, --insecure"), ("tail", "-v, --verbose"), ("tail", "--live"),
     ("tail", "--skip-retained"), ("tail", "--[no-]reconnect"), ("stats", "--json"), ("replay", "--shared")],
)
def test_a_flag_shows_no_value(command, label):
    text = help_text(command, *(("--help-all",) if command in LIVE else ("--help",)), columns="200")
    line = option_line(text, label)
    assert re.match(rf"  {re.escape(label)}\s{{2,}}\S", line), line


def test_a_flag_takes_no_value_on_the_command_line(tmp_path):
    # `cat f --keepalive true` reads `true` as a second file, as the help says
    result = run_cli("cat", "fixtures/span-activity.capture.ndjson", "--keepalive", "true")
    assert result.returncode == 2
    assert result.stderr.decode().startswith("presencectl: error: true: no such file")


def examples(text: str) -> list[str]:
    """The examples of a help text, continuation lines joined."""
    lines = text.split("Examples:\n", 1)[1].splitlines()
    out: list[str] = []
    joining = False
    for line in lines:
        if not line.strip():
            joining = False
            continue
        if joining:
            out[-1] += " " + line.strip().removesuffix(" \\").removesuffix("\\").rstrip()
        else:
            out.append(line.strip().removesuffix("\\").rstrip())
        joining = line.endswith(" \\")
    return [e for e in out if e.startswith(("presencectl", "cat "))]


@pytest.mark.parametrize("command", ["tail", "record", "replay", "stats", "cat"])
def test_examples_wrap_with_continuations(command):
    narrow, wide = help_text(command, columns="80"), help_text(command, columns="200")
    assert examples(narrow) == examples(wide) and examples(wide)
    for line in narrow.split("Examples:\n", 1)[1].splitlines():
        # a wrapped example never restarts at column 1: indented, or blank
        assert not line or line.startswith("  "), line


def test_the_help_names_every_scheme_there_is():
    """SOURCE and --to list their URL schemes by hand: held here to the registries,
    so a new transport or target cannot be left out of the help."""
    import re

    from presencectl.transports import sources, targets

    def shown(text: str) -> set[str]:
        said = set(re.findall(r"([a-z]+)(?:\(s\))?://", text))
        return said | {scheme + "s" for scheme in re.findall(r"([a-z]+)\(s\)://", text)}

    for command in ("tail", "record", "expect"):
        out = run_cli(command, "--help", env=cli_env(COLUMNS="400")).stdout.decode()
        assert set(sources.REGISTRY) <= shown(out), (command, set(sources.REGISTRY) - shown(out))
    out = run_cli("replay", "--help", env=cli_env(COLUMNS="400")).stdout.decode()
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("--to URL"))
    end = next(i for i in range(start + 1, len(lines)) if lines[i].strip().startswith("-"))
    to_help = " ".join(lines[start:end])  # (rich wraps it whatever the width)
    assert set(targets.REGISTRY) <= shown(to_help), set(targets.REGISTRY) - shown(to_help)


def test_the_command_map_says_which_module_registers_each_command():
    """``commands.COMMAND_MODULES`` lets ``presencectl CMD`` import CMD's module only: it must
    name every command there is, each with the module that registers it."""
    from presencectl.cli.commands import COMMAND_MODULES
    from presencectl.cli.main import app

    found = {info.name: info.callback.__module__ for info in app.registered_commands}
    for group in app.registered_groups:
        found[group.name] = group.typer_instance.registered_commands[0].callback.__module__
    assert {name: module.rsplit(".", 1)[1] for name, module in found.items()} == COMMAND_MODULES


@pytest.mark.parametrize("command", ["cat", "replay", "tail", "man"])
def test_running_a_command_builds_that_command_only(command):
    """(``man`` and ``completions`` describe every command: they build them all.)"""
    from tests.conftest import modules_loaded_by

    loaded = modules_loaded_by(
        "from presencectl.cli.main import load_commands\n"
        "from presencectl.cli.commands import COMMAND_MODULES, modules_for\n"
        f"load_commands(modules_for([{command!r}, 'x']))"
    )
    commands = {m.rsplit(".", 1)[1] for m in loaded if m.startswith("presencectl.cli.commands.")}
    from presencectl.cli.commands import COMMAND_MODULES, command_modules

    assert commands == ({COMMAND_MODULES[command]} if command != "man" else set(command_modules())), commands
