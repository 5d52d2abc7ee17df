"""TAB completion without loading Typer: the answer from a spec of the app.

A TAB press runs ``presencectl`` with ``_PRESENCECTL_COMPLETE=complete_bash``
(zsh, fish) and the words typed so far. Answering through the Typer app
costs its import (Typer, pydantic, asyncio: about 300 ms of CPU); this
module answers the same questions from ``data/completion.json``, a spec of
the app's commands, options, choices and completers written by
``python -m presencectl.cli.completion --write`` (a test fails while it is
stale), in the formats of Typer's ``_completion_classes``. The dynamic
candidates come from the same light functions the app uses
(:mod:`presencectl.cli.completers`).

When the spec does not match the code (its fingerprint of the modules that
declare options differs) or names a completer this module does not know,
:func:`answer` returns ``None`` and the caller asks the full app.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

__all__ = ["answer", "build_spec", "fingerprint", "SPEC_PATH", "main"]

HERE = Path(__file__).resolve().parent
SPEC_PATH = HERE.parent / "data" / "completion.json"
#: The modules whose text decides the commands and options.
DECLARING = ("app.py", "options.py", "option_groups.py", "mqtt_options.py", "socketio_options.py", "profiles.py", "profile_command.py", "commands/*.py")
#: Completer functions of the app, by name, and the key the spec stores.
COMPLETERS = {
    "complete_types": "types",
    "complete_dialects": "dialects",
    "complete_kinds": "kinds",
    "_source_completion": "profiles",
    "_complete_name": "profile_names",
}


def fingerprint() -> str:
    """A hash of the modules that declare commands and options."""
    digest = hashlib.sha256()
    for pattern in DECLARING:
        for path in sorted(HERE.glob(pattern)):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


# --- the spec, from the app ----------------------------------------------------------


def _completer_key(param: Any) -> str | None:
    func = getattr(param, "_custom_shell_complete", None)
    if func is None:
        return None
    names = [func.__name__]
    for cell in func.__closure__ or ():
        names.append(getattr(cell.cell_contents, "__name__", ""))
    for name in names:
        if name in COMPLETERS:
            return COMPLETERS[name]
    return "unknown"


def _node(cmd: Any, ctx: Any) -> dict[str, Any]:

    from presencectl.cli.help import plain

    node: dict[str, Any] = {"options": [], "arguments": [], "commands": {}}
    for p in cmd.get_params(ctx):
        desc = getattr(p, "type_descriptor", None)
        choices = getattr(desc, "choices", None) if desc is not None and getattr(desc, "is_choice", False) else None
        if getattr(p, "param_type_name", "") == "argument":
            node["arguments"].append({
                "nargs": p.nargs,
                "choices": [str(getattr(c, "value", c)) for c in choices] if choices else None,
                "complete": _completer_key(p),
            })
            continue
        if p.hidden:
            continue
        node["options"].append({
            # Typer builds the help option's names from a set: sort them, so the spec is stable
            "opts": sorted(p.opts, key=len) if p.name == "help" else list(p.opts),
            "secondary": list(p.secondary_opts or ()),
            "help": " ".join(plain(p.help or "").split()),
            "flag": bool(getattr(p, "is_flag", False)),
            "nargs": p.nargs,
            "multiple": bool(getattr(p, "multiple", False)),
            "choices": [str(getattr(c, "value", c)) for c in choices] if choices else None,
            "complete": _completer_key(p),
        })
    if hasattr(cmd, "list_commands"):
        for name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, name)
            if sub is None or sub.hidden:
                continue
            child = _node(sub, sub.make_context(name, [], parent=ctx, resilient_parsing=True))
            first = re.split(r"\n\s*\n", plain(sub.help or "").strip())[0]
            child["help"] = " ".join(first.split())
            node["commands"][name] = child
    return node


def build_spec() -> dict[str, Any]:
    """The spec of the app, as written to :data:`SPEC_PATH`."""
    import typer

    from presencectl.cli.main import app

    group = typer.main.get_command(app)
    return {"fingerprint": fingerprint(), "root": _node(group, group.make_context("presencectl", [], resilient_parsing=True))}


# --- answering -------------------------------------------------------------------------

_SPEC: dict[str, Any] | None = None


def _spec() -> dict[str, Any] | None:
    global _SPEC
    if _SPEC is None:
        try:
            _SPEC = json.loads(SPEC_PATH.read_bytes())
        except (OSError, ValueError):
            return None
    return _SPEC


def _find(node: dict[str, Any], name: str) -> dict[str, Any] | None:
    for opt in node["options"]:
        if name in opt["opts"] or name in opt["secondary"]:
            return opt
    return None


def _values(key: str | None, choices: list[str] | None, incomplete: str, args: list[str]) -> list[tuple[str, str]] | None:
    from presencectl.cli import completers

    if choices:
        return [(c, "") for c in choices if c.startswith(incomplete)]
    if key is None:
        return []
    if key == "types":
        found = completers.complete_types(incomplete)
    elif key == "dialects":
        found = completers.complete_dialects()
    elif key == "kinds":
        found = [(k, "") for k in completers.complete_kinds()]
    elif key == "profiles":
        found = completers.complete_profiles(_config(args), incomplete)
    elif key == "profile_names":
        found = completers.profile_names(_config(args))
    else:
        return None  # a completer this module does not know: ask the app
    return [(v, h) for v, h in found if v.startswith(incomplete)]


def _config(args: list[str]) -> str | None:
    for i, arg in enumerate(args):
        if arg == "--config" and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--config="):
            return arg.partition("=")[2]
    return None


def candidates(args: list[str], incomplete: str) -> list[tuple[str, str]] | None:
    """(value, help) pairs for the word being completed, as Click would give them;
    ``None`` when only the app can answer."""
    spec = _spec()
    if spec is None or spec.get("fingerprint") != fingerprint():
        return None
    node = spec["root"]
    positional = 0
    pending: tuple[dict[str, Any], int] | None = None  # option still waiting for values
    seen: set[str] = set()
    only_args = False
    for arg in args:
        if pending is not None:
            opt, left = pending
            pending = (opt, left - 1) if left > 1 else None
            continue
        if arg == "--" and not only_args:
            only_args = True
            continue
        if arg.startswith("-") and len(arg) > 1 and not only_args:
            name, eq, _ = arg.partition("=")
            opt = _find(node, name)
            if opt is not None:
                seen.add(opt["opts"][0])
                if not opt["flag"] and not eq:
                    pending = (opt, max(opt["nargs"], 1))
            continue
        if node["commands"] and positional == 0:
            if arg not in node["commands"]:
                break  # as Click: an unknown command leaves the group to complete
            node, seen = node["commands"][arg], set()
            continue
        positional += 1
    if pending is not None:
        opt, _ = pending
        return _values(opt["complete"], opt["choices"], incomplete, args)
    if incomplete.startswith("-") and "=" in incomplete and not only_args:
        name, _, value = incomplete.partition("=")
        opt = _find(node, name)
        if opt is not None and not opt["flag"]:
            return _values(opt["complete"], opt["choices"], value, args)
    if incomplete.startswith("-") and not only_args:
        out = []
        for opt in node["options"]:
            if opt["opts"][0] in seen and not opt["multiple"]:
                continue
            for name in (*opt["opts"], *opt["secondary"]):
                if name.startswith(incomplete):
                    out.append((name, opt["help"]))
        return out
    if node["commands"] and positional == 0:
        return [(name, sub.get("help", "")) for name, sub in node["commands"].items() if name.startswith(incomplete)]
    arguments = node["arguments"]
    index = positional
    for i, argument in enumerate(arguments):
        if argument["nargs"] == -1 or i == index:
            return _values(argument["complete"], argument.get("choices"), incomplete, args)
    return []


# --- the shells' protocols (as typer/_completion_classes.py) ----------------------------------


def _split(text: str) -> list[str]:
    import shlex

    lexer = shlex.shlex(text, posix=True)
    lexer.whitespace_split = True
    lexer.commenters = ""
    out: list[str] = []
    try:
        for token in lexer:
            out.append(token)
    except ValueError:
        out.append(lexer.token)  # an unclosed quote: the rest is one word
    return out


def _zsh_escape(s: str) -> str:
    return s.replace('"', '""').replace("'", "''").replace("$", "\\$").replace("`", "\\`").replace(":", r"\\:")


def answer(instruction: str, environ: dict[str, str] | os._Environ[str]) -> tuple[str, int] | None:
    """What to print (newline included) and the exit code for
    ``_PRESENCECTL_COMPLETE=instruction``; ``None``: ask the app."""
    if instruction == "complete_bash":
        words = _split(environ.get("COMP_WORDS", ""))
        cword = int(environ.get("COMP_CWORD", "0") or 0)
        args, incomplete = words[1:cword], (words[cword] if cword < len(words) else "")
        found = candidates(args, incomplete)
        return None if found is None else ("\n".join(v for v, _ in found) + "\n", 0)
    if instruction in ("complete_zsh", "complete_fish"):
        line = environ.get("_TYPER_COMPLETE_ARGS", "")
        words = _split(line)
        args = words[1:]
        if args and not line.endswith(" "):
            incomplete, args = args[-1], args[:-1]
        else:
            incomplete = ""
        found = candidates(args, incomplete)
        if found is None:
            return None
        if instruction == "complete_zsh":
            if not found:
                return "_files\n", 0
            items = [f'"{_zsh_escape(v)}":"{_zsh_escape(h)}"' if h else f'"{_zsh_escape(v)}"' for v, h in found]
            return "_arguments '*: :((" + "\n".join(items) + "))'\n", 0
        action = environ.get("_TYPER_COMPLETE_FISH_ACTION", "")
        if action == "is-args":
            return "", 0 if found else 1
        if action == "get-args" and found:
            return "\n".join(f"{v}\t{' '.join(h.split())}" if h else v for v, h in found) + "\n", 0
        return "\n", 0
    return None


def main() -> None:
    """``python -m presencectl.cli.completion --write``: (re)write the spec; ``--check``: exit 1 if stale."""
    spec = json.dumps(build_spec(), indent=1, ensure_ascii=False) + "\n"
    current = SPEC_PATH.read_text(encoding="utf-8") if SPEC_PATH.exists() else None
    if "--check" in sys.argv[1:]:
        if current != spec:
            print(f"stale: {SPEC_PATH.name}; run: python -m presencectl.cli.completion --write", file=sys.stderr)
            sys.exit(1)
        return
    if current != spec:
        SPEC_PATH.write_text(spec, encoding="utf-8")
        print(f"wrote {SPEC_PATH}")


if __name__ == "__main__":
    main()
