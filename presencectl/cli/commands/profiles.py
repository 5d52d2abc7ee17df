"""``presencectl profiles``: list the connection profiles, secrets masked.

The file format and ``@NAME`` resolution live in :mod:`presencectl.cli.profiles`.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from presencectl.cli.app import App, app, guarded
from presencectl.ui.console import Environment

profiles_app = App(
    name="profiles",
    invoke_without_command=True,
    no_args_is_help=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(profiles_app, name="profiles")

ConfigFileOpt = Annotated[
    str | None,
    typer.Option(
        "--config",
        metavar="FILE",
        envvar="PRESENCECTL_CONFIG",
        help="Profiles file (default: $XDG_CONFIG_HOME/presencectl/profiles.toml, else ~/.config/presencectl/profiles.toml).",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="JSON for scripts (secrets masked too).")]


def _complete_name(ctx: typer.Context, incomplete: str) -> list[tuple[str, str]]:
    from presencectl.cli.completers import profile_names

    parent = ctx.parent.params if ctx.parent is not None else {}
    return profile_names(ctx.params.get("config") or parent.get("config"))


@profiles_app.callback()
def profiles_cmd(
    ctx: typer.Context,
    *,
    config: ConfigFileOpt = None,
    json_: JsonOpt = False,
) -> None:
    """List the connection profiles (@NAME sources), secrets masked.

    Profiles live in [bold]~/.config/presencectl/profiles.toml[/] (or
    $XDG_CONFIG_HOME/presencectl/, $PRESENCECTL_CONFIG, --config FILE), one
    [bold]\\[profiles.NAME][/] table each: url, headers, topics, send,
    send_file, publish, emit, namespace, cacert, cert, key, insecure,
    username, password, type, subject, kind, where, format, … ([bold]${VAR}[/]
    reads an environment variable). Header values, passwords and secret
    query parameters are shown as ****.

    [bold]Examples[/]

      presencectl profiles
      presencectl profiles show span-prod
      presencectl profiles --json | jq -r .name
      presencectl tail @span-prod -t 'firmware*'
    """
    if ctx.invoked_subcommand is not None:
        return
    env = Environment()
    guarded(env, lambda: _list(env, config, json_, explicit=_explicit(ctx)))


@profiles_app.command("show")
def show_cmd(
    ctx: typer.Context,
    name: Annotated[
        str, typer.Argument(help="Profile name (with or without @).", autocompletion=_complete_name, show_default=False)
    ],
    *,
    config: ConfigFileOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Show one profile as written (secrets masked), and which ${VAR}s are unset.

    [bold]Examples[/]

      presencectl profiles show span-prod
      presencectl profiles show @navixy --json
    """
    env = Environment()
    parent = ctx.parent.params if ctx.parent is not None else {}
    config = config if config is not None else parent.get("config")
    json_ = json_ or bool(parent.get("json_"))
    guarded(env, lambda: _show(env, name.removeprefix("@"), config, json_))


def _explicit(ctx: typer.Context) -> bool:
    origin = ctx.get_parameter_source("config")
    return origin is not None and origin.name in ("COMMANDLINE", "ENVIRONMENT")


def _list(env: Environment, config: str | None, as_json: bool, *, explicit: bool) -> None:
    from presencectl.cli.profiles import config_path, load

    path = config_path(config, env.environ)
    if not path.exists() and not explicit:
        env.note(f"no profiles yet: write [profiles.NAME] tables in {path} (see presencectl profiles --help)")
        return
    profiles = load(path)
    if as_json:
        for profile in profiles.values():
            _write(env, _json_line(_as_json(profile, env)))
        return
    rows = []
    for name, profile in profiles.items():
        from presencectl.cli.profiles import masked

        shown = masked(profile)
        rows.append((name, shown.pop("url"), ", ".join(shown)))
    if rows:
        width = max(len(r[0]) for r in rows)
        url_width = max(len(r[1]) for r in rows)
        for name, url, keys in rows:
            line = f"{name:<{width}}  {url:<{url_width}}  {keys}" if keys else f"{name:<{width}}  {url}"
            _write(env, line.rstrip() + "\n")
    env.note(f"{len(rows)} profile{'s' if len(rows) != 1 else ''} in {path}")


def _show(env: Environment, name: str, config: str | None, as_json: bool) -> None:
    from presencectl.cli.profiles import ProfileError, config_path, load, masked

    path = config_path(config, env.environ)
    if not path.exists():
        raise ProfileError(f"no profiles file {path} (asked for {name})")
    profiles = load(path)
    profile = profiles.get(name)
    if profile is None:
        known = ", ".join(profiles) if profiles else "none: the file defines no [profiles.NAME]"
        raise ProfileError(f"unknown profile {name} in {path} (known: {known})")
    if as_json:
        _write(env, _json_line(_as_json(profile, env)))
    else:
        lines = [f"# {path}", f"[profiles.{name}]"]
        lines += [f"{key} = {_toml(value)}" for key, value in masked(profile).items()]
        _write(env, "\n".join(lines) + "\n")
    for var in profile.variables():
        if var not in env.environ:
            env.warn(f"${{{var}}} is not set: @{name} cannot be used until it is")


def _as_json(profile: Any, env: Environment) -> dict[str, Any]:
    from presencectl.cli.profiles import masked

    shown = masked(profile)
    return {
        "name": profile.name,
        "url": shown.pop("url"),
        "options": shown,
        "variables": [{"name": v, "set": v in env.environ} for v in profile.variables()],
        "file": str(profile.path),
    }


def _json_line(obj: dict[str, Any]) -> str:
    import json

    return json.dumps(obj, ensure_ascii=False) + "\n"


def _toml(value: Any) -> str:
    """A value in TOML spelling (strings as TOML basic strings)."""
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k, ensure_ascii=False)} = {_toml(v)}" for k, v in value.items()) + " }"
    return str(value)


def _write(env: Environment, text: str) -> None:
    from presencectl.core.render import escape

    env.stdout.write("\n".join(escape(line) for line in text.split("\n")).encode("utf-8"))
    env.stdout.flush()
