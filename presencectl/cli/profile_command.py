"""``tail @NAME``: the Typer glue that turns a profile into a command's parameters.

:class:`ProfileCommand` adds ``--config FILE``, completes ``@NAME`` and, before
the command runs, merges the profile (:mod:`presencectl.cli.profiles`: reading,
resolving, merging rules) into the parsed options.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import typer
from typer.core import TyperCommand

from presencectl.cli.profile_file import ENV_VAR
from presencectl.cli.profiles import KEYS, ProfileError, ResolvedProfile, merge_value, resolve

__all__ = ["complete_profiles", "ConfigOpt", "ProfileCommand", "apply_profile"]


# --- completion -------------------------------------------------------------------


def complete_profiles(ctx: typer.Context, incomplete: str) -> list[tuple[str, str]]:
    """Completion of ``@NAME`` for SOURCE (``--config`` on the line is honoured)."""
    from presencectl.cli.completers import complete_profiles as candidates

    config = ctx.params.get("config") if ctx is not None else None
    return candidates(config, incomplete)


# --- Typer glue: ``tail @NAME`` -----------------------------------------------------

ConfigOpt = Annotated[
    str | None,
    typer.Option(
        "--config",
        metavar="FILE",
        envvar=ENV_VAR,
        help="Profiles file for @NAME sources (default: ~/.config/presencectl/profiles.toml).",
        show_default=False,
        show_envvar=False,
        rich_help_panel="Connection",
    ),
]


def _config_param() -> Any:
    """A ``--config`` option built by Typer itself (the same as ``config: ConfigOpt = None``)."""
    holder = typer.Typer()

    @holder.command()
    def _f(config: ConfigOpt = None) -> None:  # pragma: no cover - never invoked
        pass

    return typer.main.get_command(holder).params[0]


def _source_completion(ctx: Any, param: Any, incomplete: str) -> list[Any]:
    from typer._click.shell_completion import CompletionItem

    return [CompletionItem(v, help=h) for v, h in complete_profiles(ctx, incomplete) if v.startswith(incomplete)]


class ProfileCommand(TyperCommand):
    """A live-source command whose SOURCE may be ``@NAME`` (a profile).

    Adds ``--config FILE`` (env ``PRESENCECTL_CONFIG``), completes ``@NAME``
    for the ``source`` argument, and before the command runs replaces
    ``@NAME`` by the profile's URL and merges its options into the parsed
    ones (:func:`merge_value`: the command line wins; ``send``,
    ``send_file``, ``publish``, ``emit`` add up; ``-H`` replaces a header of
    the same name). ``--config`` without an ``@NAME`` source is an error.

    Cooperative with the other command classes::

        class LiveCommand(ProfileCommand, MqttCommand, SocketIOCommand): pass

        @app.command("tail", cls=LiveCommand)
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The command's function does not take --config (unless it declares
        # ConfigOpt itself): invoke() takes the value out of ctx.params.
        self._own_config = not any(p.name == "config" for p in self.params)
        if self._own_config:
            self.params.append(_config_param())
        for param in self.params:
            if param.name == "source" and param._custom_shell_complete is None:
                param._custom_shell_complete = _source_completion

    def invoke(self, ctx: Any) -> Any:
        from presencectl.cli.app import guarded
        from presencectl.ui.console import Environment

        config = ctx.params.pop("config", None) if self._own_config else ctx.params.get("config")
        source = ctx.params.get("source")
        env = Environment()
        guarded(env, lambda: apply_profile(self, ctx, source, config, env.environ))
        return super().invoke(ctx)


def apply_profile(command: Any, ctx: Any, source: Any, config: str | None, environ: Mapping[str, str]) -> ResolvedProfile | None:
    """Resolve ``@NAME`` and write the profile into ``ctx.params`` (see :class:`ProfileCommand`).

    Raises:
        ProfileError: as :func:`resolve`; a key the command has no option
            for; a value the option refuses; ``--config`` without ``@NAME``.
    """
    profile = resolve(source, config, environ) if isinstance(source, str) else None
    if profile is None:
        origin = ctx.get_parameter_source("config")
        if config is not None and origin is not None and origin.name == "COMMANDLINE":
            raise ProfileError("--config applies to an @NAME source (a profile)")
        return None
    params = {p.name: p for p in command.params}
    ctx.params["source"] = profile.url
    for key, value in profile.options.items():
        spec = KEYS[key]
        param = params.get(spec.param)
        if param is None:
            if spec.output or spec.name in getattr(command, "ignored_profile_keys", ()):
                continue
            raise ProfileError(f"profile {profile.name}: {key!r} does not apply to `presencectl {command.name}`")
        origin = ctx.get_parameter_source(spec.param)
        given = origin is not None and origin.name not in ("DEFAULT", "DEFAULT_MAP")
        use, merged = merge_value(key, value, ctx.params.get(spec.param), given)
        if not use:
            continue
        try:
            ctx.params[spec.param] = param.process_value(ctx, merged)
        except typer.BadParameter as exc:
            raise ProfileError(f"profile {profile.name}: {key}: {exc.format_message()}") from None
    return profile
