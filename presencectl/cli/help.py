"""Plain-text ``--help`` for every command and group: short, wrapped, real metavars.

Typer's rich help draws every option in a three-column box: ``tail --help``
ran to 276 lines at 80 columns, and flags showed a ``<bool>`` value they do
not take. This renders help the way coreutils and git do, at the terminal's
width (``COLUMNS``; 80 when unknown, at most 100):

- one line per option where it fits: ``-t, --type GLOB   Event type glob…``;
  a flag shows no value, a choice shows ``a|b|c``;
- the common options first (filters, output, recording, connection); the
  per-transport groups (:data:`TRANSPORT_PANELS`) only with ``--help-all``,
  named in one line otherwise;
- examples wrapped at blanks outside quotes, continued with `` \\`` so a
  wrapped example still pastes into a shell.

Rich markup in docstrings (``[bold]…[/]``, ``\\[``) is dropped. Nothing here
imports rich: help is fast.
"""

from __future__ import annotations

import re
import shutil
import textwrap
from collections.abc import Iterable
from typing import Any

__all__ = ["TRANSPORT_PANELS", "help_width", "command_help", "group_help", "usage_line", "option_label", "metavar_of"]

#: Panels shown only with ``--help-all`` (README "Vendor recipes" has examples).
TRANSPORT_PANELS = ("WebSocket", "TLS", "Webhook", "Socket.IO", "MQTT")
#: Panels in this order first, then the others as they appear.
PANEL_ORDER = ("Options", "Filters", "Output", "Recording", "Connection", "Target", "Timing", "Analysis")
_MARKUP = re.compile(r"(?<!\\)\[/?(?:bold|dim|italic|underline)?\]")
_TOKEN = re.compile(r"""(?:"[^"]*"|'[^']*'|\S)+""")


def help_width() -> int:
    """The width help is wrapped to: the terminal's (``COLUMNS`` first), 40…100."""
    return max(40, min(shutil.get_terminal_size((80, 24)).columns, 100))


def plain(text: str) -> str:
    """``text`` without rich markup."""
    return _MARKUP.sub("", text).replace("\\[", "[")


def metavar_of(param: Any) -> str:
    """What follows the option's name: ``FILE``, ``pretty|json|raw|compact``; ``""`` for a flag."""
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        return ""
    if param.metavar:
        return str(param.metavar)
    desc = getattr(param, "type_descriptor", None)  # Typer >= 0.2x; Click keeps .type
    choices = getattr(desc, "choices", None) if desc is not None else getattr(getattr(param, "type", None), "choices", None)
    if choices:
        return "|".join(str(getattr(c, "value", c)) for c in choices)
    return (param.name or "value").upper()


def option_label(param: Any) -> str:
    """``-t, --type GLOB``; ``--utc / --local``."""
    names = sorted(param.opts, key=lambda o: not (o.startswith("-") and not o.startswith("--")))
    label = ", ".join(names)
    secondary = list(param.secondary_opts or ())
    if len(names) == 1 and secondary == [names[0].replace("--", "--no-", 1)]:
        label = names[0].replace("--", "--[no-]", 1)  # --[no-]reconnect
    elif secondary:
        label += " / " + ", ".join(secondary)
    meta = metavar_of(param)
    return f"{label} {meta}" if meta else label


def _argument_label(param: Any) -> str:
    return str(param.metavar or (param.name or "ARG").upper())


def usage_line(cmd: Any, ctx: Any) -> str:
    """``Usage: presencectl tail [OPTIONS] SOURCE``."""
    pieces = []
    for param in cmd.get_params(ctx):
        if getattr(param, "param_type_name", "") != "argument":
            continue
        label = _argument_label(param)
        if param.nargs == -1:
            label += "..."
        pieces.append(label if param.required else f"[{label}]")
    if hasattr(cmd, "list_commands"):
        pieces.append("COMMAND [ARGS]...")
    return " ".join(["Usage:", ctx.command_path, "[OPTIONS]", *pieces])


def _extras(param: Any) -> str:
    bits = []
    default = param.default
    show = getattr(param, "show_default", True)
    if (
        show is not False
        and not getattr(param, "is_flag", False)
        and not param.required
        and default not in (None, (), [], "")
        and not callable(default)
    ):
        bits.append(f"default: {getattr(default, 'value', default)}")
    envvar = getattr(param, "envvar", None)
    if envvar and getattr(param, "show_envvar", True) is not False:
        bits.append(f"env: {envvar if isinstance(envvar, str) else ', '.join(envvar)}")
    return f" [{'; '.join(bits)}]" if bits else ""


def _column(rows: Iterable[tuple[str, str]], width: int) -> int:
    """Where the help text starts: after the longest label, at most a third of the width."""
    return min(max((len(left) for left, _ in rows), default=0) + 4, max(18, width // 3))


def _two_columns(rows: Iterable[tuple[str, str]], width: int, col: int | None = None) -> list[str]:
    rows = list(rows)
    col = col or _column(rows, width)
    out: list[str] = []
    for left, text in rows:
        body = textwrap.wrap(text, max(20, width - col)) or [""]
        if len(left) + 4 <= col:
            out.append(f"  {left:<{col - 2}}{body[0]}".rstrip())
            rest = body[1:]
        else:
            out.append(f"  {left}")
            rest = body
        out.extend(" " * col + line for line in rest)
    return out


def _example_lines(line: str, width: int) -> list[str]:
    """One example command, wrapped at blanks outside quotes, continued with `` \\``."""
    tokens: list[str] = []
    for token in _TOKEN.findall(line.strip()):
        # an option stays on the line of its value: "-H 'X: y'", "--qos 1"
        if tokens and tokens[-1].startswith("-") and " " not in tokens[-1] and not token.startswith(("-", "|")):
            tokens[-1] += " " + token
        else:
            tokens.append(token)
    out: list[str] = []
    current = "  "
    indent = "      "
    for token in tokens:
        candidate = token if current.strip() == "" else f"{current} {token}"
        if current.strip() == "":
            current = current + token
            continue
        if len(candidate) + 2 > width:  # room for " \"
            out.append(current + " \\")
            current = indent + token
        else:
            current = candidate
    out.append(current)
    return out


def _doc(text: str, width: int) -> list[str]:
    """The docstring: paragraphs wrapped; indented lines (examples) kept as commands."""
    out: list[str] = []
    for block in re.split(r"\n\s*\n", plain(text).strip("\n")):
        lines = block.split("\n")
        if all(line.startswith("  ") for line in lines if line.strip()):
            for line in lines:
                out.extend(_example_lines(line, width) if line.strip() else [""])
        elif len(lines) == 1 and len(lines[0]) < 30 and not lines[0].endswith("."):
            out.append(lines[0].strip() + ":")  # a heading: "Examples"
            continue
        else:
            out.extend(textwrap.wrap(" ".join(line.strip() for line in lines), width - 2, initial_indent="  ", subsequent_indent="  "))
        out.append("")
    return out


def _panels(cmd: Any, ctx: Any) -> dict[str, list[Any]]:
    panels: dict[str, list[Any]] = {}
    helps: list[Any] = []
    for param in cmd.get_params(ctx):
        if getattr(param, "param_type_name", "") != "option" or getattr(param, "hidden", False):
            continue
        if param.name in ("help", "help_all"):
            helps.append(param)
            continue
        panels.setdefault(getattr(param, "rich_help_panel", None) or "Options", []).append(param)
    if "Options" in panels:
        panels["Options"].extend(helps)
    else:
        panels["Help"] = helps  # last: the command's own options come first
    known = [p for p in PANEL_ORDER if p in panels]
    others = [p for p in panels if p not in (*PANEL_ORDER, *TRANSPORT_PANELS, "Help")]
    transports = [p for p in TRANSPORT_PANELS if p in panels]
    last = ["Help"] if "Help" in panels else []
    return {p: panels[p] for p in (*known, *others, *transports, *last)}


def has_transport_panels(cmd: Any) -> bool:
    return any(getattr(p, "rich_help_panel", None) in TRANSPORT_PANELS for p in cmd.params)


def command_help(cmd: Any, ctx: Any, *, full: bool = False, width: int | None = None) -> str:
    """The help of one command; ``full``: with the per-transport options."""
    width = width or help_width()
    out = [usage_line(cmd, ctx), ""]
    examples: list[str] = []
    doc = _doc(cmd.help or "", width)
    if "Examples:" in doc:
        at = doc.index("Examples:")
        doc, examples = doc[:at], doc[at:]
    out.extend(doc)
    arguments = [p for p in cmd.get_params(ctx) if getattr(p, "param_type_name", "") == "argument"]
    rows = [(_argument_label(p), plain(getattr(p, "help", None) or "")) for p in arguments]
    if any(text for _, text in rows):
        out.append("Arguments:")
        out.extend(_two_columns(rows, width))
        out.append("")
    panels = _panels(cmd, ctx)
    # one column position for every panel, so the help reads as one table
    hidden = [name for name in panels if name in TRANSPORT_PANELS and not full]

    def text(p: Any) -> str:
        if p.name == "help_all" and hidden:
            return f"Also show: {', '.join(hidden)}."
        return plain(p.help or "") + _extras(p)

    all_rows = {name: [(option_label(p), text(p)) for p in params] for name, params in panels.items()}
    shown = {name: rows for name, rows in all_rows.items() if name not in hidden}
    col = _column([row for rows in shown.values() for row in rows], width)
    for name, rows in shown.items():
        out.append(f"{name}:")
        out.extend(_two_columns(rows, width, col))
        out.append("")
    out.extend(examples)
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out) + "\n"


def group_help(group: Any, ctx: Any, *, width: int | None = None) -> str:
    """The help of a group (``presencectl``, ``presencectl profiles``)."""
    width = width or help_width()
    out = [usage_line(group, ctx), ""]
    doc = _doc(group.help or "", width)
    examples: list[str] = []
    if "Examples:" in doc:
        at = doc.index("Examples:")
        doc, examples = doc[:at], doc[at:]
    out.extend(doc)
    rows = []
    for name in group.list_commands(ctx):
        sub = group.get_command(ctx, name)
        if sub is None or sub.hidden:
            continue
        first = re.split(r"\n\s*\n", plain(sub.help or "").strip())[0]
        summary = " ".join(first.split())
        summary = re.split(r"(?<=\.)\s", summary, maxsplit=1)[0]  # the first sentence
        rows.append((name, summary))
    if rows:
        out.append("Commands:")
        out.extend(_two_columns(rows, width))
        out.append("")
    for name, params in _panels(group, ctx).items():
        out.append(f"{name}:")
        out.extend(_two_columns([(option_label(p), plain(p.help or "") + _extras(p)) for p in params], width))
        out.append("")
    out.extend(examples)
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out) + "\n"
