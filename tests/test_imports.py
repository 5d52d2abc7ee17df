"""Import discipline: the core stays pure, and --help / --version stay cheap."""

from __future__ import annotations

import pytest

from tests.conftest import modules_loaded_by as loaded_after

HEAVY = ("typer", "paho", "websocket", "websockets", "socketio", "engineio", "rich.console")


def test_core_imports_no_cli_or_transport_library():
    modules = loaded_after(
        "import presencectl.core.decode, presencectl.core.filters, presencectl.core.render, "
        "presencectl.core.capture, presencectl.core.framing\n"
        "from presencectl.core import dialects; dialects.registry()"
    )
    assert not {m for m in modules if m.split(".")[0] in HEAVY or m in HEAVY}


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["cat", "--help"]])
def test_help_and_version_load_no_transport(argv):
    code = (
        "import sys, contextlib, io\n"
        f"sys.argv = ['presencectl', *{argv!r}]\n"
        "from presencectl.__main__ import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n        main()\n    except SystemExit:\n        pass\n"
    )
    modules = loaded_after(code)
    assert not {m for m in modules if m.split(".")[0] in ("paho", "websocket", "websockets", "socketio", "engineio")}
    if argv == ["--version"]:
        assert "typer" not in modules and "rich" not in modules
