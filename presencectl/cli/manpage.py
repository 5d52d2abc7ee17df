"""``presencectl man``: the manual page presencectl(1), in roff, generated from the app.

Every command with its usage, description, options (the same labels and
metavars as ``--help``, per-transport ones included) and examples; then the
environment variables the options read, the exit codes and the files.
``presencectl man | man -l -`` reads it; ``presencectl man >
~/.local/share/man/man1/presencectl.1`` installs it.
"""

from __future__ import annotations

import re
from typing import Any

from presencectl.cli.help import metavar_of, option_label, plain

__all__ = ["render", "ENVIRONMENT", "EXIT_STATUS"]

#: Variables read besides the options' own (those are listed from the app).
ENVIRONMENT = {
    "PRESENCECTL_CONFIG": "The profiles file for @NAME sources (as --config FILE).",
    "XDG_CONFIG_HOME": "Where the default profiles file lives: $XDG_CONFIG_HOME/presencectl/profiles.toml.",
    "PRESENCECTL_PASSWORD": "MQTT password, used when neither --password nor the URL gives one.",
    "PRESENCECTL_JOBS": "Worker processes for reading big files in cat and stats (1 turns them off).",
    "NO_COLOR": "Set: no colour with --color auto.",
    "FORCE_COLOR": "Set: colour with --color auto even when not on a terminal.",
    "COLUMNS": "Width of help text and tables.",
    "TZ": "The local zone (times shown with --local, --assume-tz local).",
}
#: SPEC section 5.
EXIT_STATUS = {
    "0": "Success; also when the reader of stdout went away (| head).",
    "1": "Runtime failure: connection lost with --no-reconnect, unreadable capture, transport error.",
    "2": "Usage error: the command line is wrong (one line on stderr: presencectl: error: ...).",
    "3": "A deadline or expectation was not met.",
    "130": "Interrupted (Ctrl-C).",
    "143": "Terminated (SIGTERM).",
}


def esc(text: str) -> str:
    """Roff-safe text: backslashes, hyphens, and a leading dot or quote."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    text = "".join(c if ord(c) < 128 else f"\\[u{ord(c):04X}]" for c in text)
    return re.sub(r"^([.'])", r"\\&\1", text, flags=re.M)


def _para(text: str) -> list[str]:
    out: list[str] = []
    for block in re.split(r"\n\s*\n", plain(text).strip("\n")):
        lines = block.split("\n")
        if all(line.startswith("  ") for line in lines if line.strip()):
            out += [".PP", ".nf", ".RS 4", *(esc(line.strip()) for line in lines if line.strip()), ".RE", ".fi"]
        elif len(lines) == 1 and len(lines[0]) < 30 and not lines[0].endswith("."):
            out += [".PP", f"\\fB{esc(lines[0].strip())}\\fR"]
        else:
            out += [".PP", esc(" ".join(line.strip() for line in lines))]
    return out


def _option(param: Any) -> list[str]:
    label = option_label(param)
    meta = metavar_of(param)
    names = label[: -len(meta) - 1] if meta and label.endswith(" " + meta) else label
    head = ", ".join(f"\\fB{esc(n.strip())}\\fR" for n in names.split(", "))
    if meta:
        head += f" \\fI{esc(meta)}\\fR"
    text = plain(param.help or "")
    envvar = getattr(param, "envvar", None)
    if envvar:
        text += f" Environment: {envvar}."
    return [".TP", head, esc(text)]


def _command(cmd: Any, ctx: Any, path: str) -> list[str]:
    from presencectl.cli.help import usage_line

    out = [f'.SS "{esc(path)}"', ".B " + esc(usage_line(cmd, ctx).removeprefix("Usage: "))]
    text, _, examples = (cmd.help or "").partition("[bold]Examples[/]")
    out += _para(text)
    args = [p for p in cmd.get_params(ctx) if getattr(p, "param_type_name", "") == "argument" and getattr(p, "help", None)]
    for p in args:
        out += [".TP", f"\\fI{esc(str(p.metavar or p.name.upper()))}\\fR", esc(plain(p.help))]
    for p in cmd.get_params(ctx):
        if getattr(p, "param_type_name", "") == "option" and not p.hidden and p.name not in ("help", "help_all"):
            out += _option(p)
    if examples.strip():
        out += _para("Examples\n\n" + examples.strip("\n"))
    return out


def _walk(group: Any, ctx: Any) -> list[tuple[Any, Any, str]]:

    found = []
    for name in group.list_commands(ctx):
        sub = group.get_command(ctx, name)
        if sub is None or sub.hidden:
            continue
        sub_ctx = sub.make_context(name, [], parent=ctx, resilient_parsing=True)
        found.append((sub, sub_ctx, sub_ctx.command_path))
        if hasattr(sub, "list_commands"):
            found += _walk(sub, sub_ctx)
    return found


def render(app: Any) -> str:
    """The manual page for ``app`` (the Typer app), as roff."""
    import typer

    from presencectl import __version__

    group = typer.main.get_command(app)
    ctx = group.make_context("presencectl", [], resilient_parsing=True)
    summary = plain(group.help or "").strip().split("\n")[0].rstrip(".")
    out = [
        f'.TH PRESENCECTL 1 "" "presencectl {esc(__version__)}" "User Commands"',
        ".SH NAME",
        f"presencectl \\- {esc(summary[:1].lower() + summary[1:])}",
        ".SH SYNOPSIS",
        ".B presencectl",
        "[\\fIOPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR]...",
        ".SH DESCRIPTION",
        *_para(group.help or ""),
        ".SH OPTIONS",
    ]
    for p in group.get_params(ctx):
        if getattr(p, "param_type_name", "") == "option" and not p.hidden:
            out += _option(p)
    out.append(".SH COMMANDS")
    envvars: dict[str, str] = {}
    for cmd, cmd_ctx, path in _walk(group, ctx):
        out += _command(cmd, cmd_ctx, path)
        for p in cmd.get_params(cmd_ctx):
            envvar = getattr(p, "envvar", None)
            if isinstance(envvar, str):
                envvars.setdefault(envvar, f"{plain(p.help or '')} ({'/'.join(p.opts)} of {path})")
    out.append(".SH ENVIRONMENT")
    for name, text in {**envvars, **{k: v for k, v in ENVIRONMENT.items() if k not in envvars}}.items():
        out += [".TP", f"\\fB{esc(name)}\\fR", esc(text)]
    out.append(".SH EXIT STATUS")
    for code, text in EXIT_STATUS.items():
        out += [".TP", f"\\fB{code}\\fR", esc(text)]
    out += [
        ".SH FILES",
        ".TP",
        "\\fI~/.config/presencectl/profiles.toml\\fR",
        esc("Connection profiles, used as @NAME (see presencectl profiles --help)."),
        ".SH SEE ALSO",
        esc("mosquitto_sub(1), websocat(1), jq(1)"),
    ]
    return "\n".join(out) + "\n"
