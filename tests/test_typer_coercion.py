"""``cli.coercion``: plain option values skip pydantic and come out as Typer makes them.

The shortcut touches Typer internals. If a Typer release moves them, the first
test fails here (and the shortcut switches itself off: the CLI still works,
only slower to start). The others hold every shortcut to Typer's own coercion,
value by value, for every parameter of every command, errors included.
"""

from __future__ import annotations

import subprocess
import sys
from enum import Enum

import pytest
import typer

from presencectl.cli import coercion
from presencectl.cli.main import app
from tests.conftest import cli_env


def test_the_typer_internals_it_relies_on_are_there():
    assert coercion.AVAILABLE, f"typer {typer.__version__} moved the internals cli/coercion.py uses"


def every_param():
    root = typer.main.get_command(app)
    ctx = typer.Context(root)
    todo = [("presencectl", root)]
    while todo:
        path, command = todo.pop()
        for param in [*command.params, command.get_help_option(ctx)]:
            if param is not None:
                yield f"{path}:{param.name}", param
        for name, sub in getattr(command, "commands", {}).items():
            todo.append((f"{path} {name}", sub))


PARAMS = dict(every_param())


def values_for(param) -> list:
    annotation = param.type_descriptor.annotation
    words = ["", "x", "json", "JSON", "auto", "never", "10", "-1", "1.5", "abc def", "ünïcode", "true", "no"]
    out: list = [*words, [], ["a"], ["a", "b"], ("a",), ["json", "raw"], [1], 5, True, b"bytes"]
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        for member in annotation:
            out += [member, member.value, str(member.value).upper(), member.name]
    if param.default is not None and not callable(param.default):
        out.append(param.default)
    return out


def outcome(runtime, value, param, ctx):
    try:
        return "ok", runtime._coerce_value(value, param=param, ctx=ctx)
    except Exception as exc:  # noqa: BLE001 - compared, type and message
        return "error", type(exc).__name__, str(exc)


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_each_value_comes_out_as_typer_makes_it(name):
    from typer._coercion import build_runtime_param

    param = PARAMS[name]
    ctx = typer.Context(typer.main.get_command(app))
    shortcut = coercion._Shortcut(param.type_descriptor, coercion._shape(param.type_descriptor))
    full = build_runtime_param(param.type_descriptor)
    for value in values_for(param):
        assert outcome(shortcut, value, param, ctx) == outcome(full, value, param, ctx), (name, value)


def test_every_parameter_gets_the_shortcut_when_its_command_parses():
    root = typer.main.get_command(app)
    for name, command in [("presencectl", root), *root.commands.items()]:
        ctx = typer.Context(command, resilient_parsing=True)
        command.parse_args(ctx, [])
        missing = [p.name for p in command.get_params(ctx) if not isinstance(p._runtime_param, coercion._Shortcut)]
        assert not missing, name


def test_plain_cat_imports_no_pydantic():
    code = (
        "import sys\n"
        "sys.argv = ['presencectl', 'cat', '/dev/null', '-f', 'json', '-t', 'x*', '--color', 'never']\n"
        "from presencectl.__main__ import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('pydantic' in sys.modules, file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=cli_env(), timeout=60)
    assert proc.stderr.strip().splitlines()[-1] == "False", proc.stderr
