"""Command-line options shared by several commands, as ``Annotated`` types.

They are grouped, with the connection options, in
:mod:`presencectl.cli.option_groups` (commands take whole groups with ``@takes``);
:class:`FilterArgs` and :class:`OutputArgs` turn them into core objects in
one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

import typer
from typer._completion_classes import completion_init

from presencectl.cli.completers import complete_dialects, complete_kinds, complete_types
from presencectl.errors import UsageError
from presencectl.ui.console import Environment, choose_color

FILTERS = "Filters"
OUTPUT = "Output"


# Shell completion (completions/*): the scripts ask the program itself for
# candidates with _PRESENCECTL_COMPLETE=complete_bash|complete_zsh|complete_fish.
# Typer registers the classes that answer only with add_completion=True (which
# also adds --install-completion/--show-completion); app.py turns that off, so
# register them here, where the completion callbacks below live (typer.main
# imported the module already: this costs nothing).
completion_init()


class Format(StrEnum):
    pretty = "pretty"
    json = "json"
    raw = "raw"
    compact = "compact"


class ColorMode(StrEnum):
    auto = "auto"
    always = "always"
    never = "never"


class TimeSource(StrEnum):
    event = "event"
    received = "received"
    none = "none"


TypeOpt = Annotated[
    list[str] | None,
    typer.Option("-t", "--type", metavar="GLOB", help="Event type glob (repeatable); [bold]!T[/] excludes.", rich_help_panel=FILTERS, autocompletion=complete_types),
]
SubjectOpt = Annotated[
    list[str] | None,
    typer.Option("-s", "--subject", metavar="GLOB", help="Subject glob (repeatable); [bold]!S[/] excludes.", rich_help_panel=FILTERS),
]
DialectOpt = Annotated[
    str | None,
    typer.Option("--dialect", metavar="NAME", help="Force this dialect instead of detecting one.", rich_help_panel=FILTERS, autocompletion=complete_dialects),
]
KindOpt = Annotated[
    list[str] | None,
    typer.Option("--kind", metavar="KIND", help="Keep these kinds (connect, disconnect, state, message, firmware, error, lifecycle, other, unparsed).", rich_help_panel=FILTERS, autocompletion=complete_kinds),
]
WhereOpt = Annotated[
    list[str] | None,
    typer.Option("-w", "--where", metavar="EXPR", help="path=value, path!=value, path~regex, path>n, path<n, path? (repeatable, all must hold).", rich_help_panel=FILTERS),
]
GrepOpt = Annotated[
    str | None, typer.Option("--grep", metavar="REGEX", help="Regex searched in the raw payload text.", rich_help_panel=FILTERS)
]
SinceOpt = Annotated[
    str | None, typer.Option("--since", metavar="TIME", help="Only events at or after TIME, or this long ago (10m).", rich_help_panel=FILTERS)
]
UntilOpt = Annotated[
    str | None, typer.Option("--until", metavar="TIME", help="Only events at or before this time, or this long ago.", rich_help_panel=FILTERS)
]
#: ``replay``/``slice`` window: parsed by ``core.replay.parse_window``.
FromOpt = Annotated[
    str | None,
    typer.Option("--from", metavar="OFFSET|TIME", help="Start here: an offset from the start of the capture (90s, 5m) or a time (local; UTC with --utc).", rich_help_panel="Timing"),
]
UntilPointOpt = Annotated[
    str | None,
    typer.Option("--until", metavar="OFFSET|TIME", help="Stop at the first record after this offset (90s, 5m) or time.", rich_help_panel="Timing"),
]
LimitOpt = Annotated[
    int | None, typer.Option("-n", "--limit", min=1, metavar="N", help="Stop after N matching events.", rich_help_panel=FILTERS)
]
KeepaliveOpt = Annotated[
    bool, typer.Option("--keepalive", help="Show Span keep-alive frames too.", rich_help_panel=FILTERS)
]
FormatOpt = Annotated[
    Format | None,
    typer.Option("-f", "--format", help="pretty on a terminal, json otherwise.", rich_help_panel=OUTPUT, show_default=False),
]
ColorOpt = Annotated[
    ColorMode, typer.Option("--color", help="Colour: auto honours NO_COLOR and FORCE_COLOR.", rich_help_panel=OUTPUT)
]
UtcOpt = Annotated[
    bool, typer.Option("--utc/--local", help="Show times in UTC or in local time.", rich_help_panel=OUTPUT)
]
TimeOpt = Annotated[
    TimeSource, typer.Option("--time", help="Time shown: the event's own (else receive time), receive time, none.", rich_help_panel=OUTPUT)
]
VerboseOpt = Annotated[
    bool, typer.Option("-v", "--verbose", help="pretty: add the payload, indented and highlighted.", rich_help_panel=OUTPUT)
]
LiveOpt = Annotated[
    bool,
    typer.Option("--live", help="A presence table redrawn in place instead of event lines (a terminal).", rich_help_panel=OUTPUT),
]
AssumeTzOpt = Annotated[
    str, typer.Option("--assume-tz", metavar="ZONE", help="Zone of timestamps that carry none (Span, Navixy): UTC, local, +02:00, Europe/Oslo.", rich_help_panel=OUTPUT)
]
MaxLineOpt = Annotated[
    str,
    typer.Option("--max-line", metavar="SIZE", help="Longest line read from a file or stdin (512k, 1G); a longer one becomes an unparsed event."),
]


def parse_max_line(text: str) -> int:
    """The ``--max-line`` value in bytes.

    Raises:
        UsageError: not a size.
    """
    from presencectl.core.sizes import parse_size

    return parse_size(text, "--max-line")


@dataclass(slots=True)
class FilterArgs:
    types: list[str] | None = None
    subjects: list[str] | None = None
    kinds: list[str] | None = None
    where: list[str] | None = None
    grep: str | None = None
    since: str | None = None
    until: str | None = None
    keepalive: bool = False

    def build(self, env: Environment, utc: bool):  # type: ignore[no-untyped-def]
        """The core Filter (None when nothing filters)."""
        from datetime import UTC

        from presencectl.core.filters import parse_filters
        from presencectl.core.times import parse_zone

        if not any((self.types, self.subjects, self.kinds, self.where, self.grep, self.since, self.until, self.keepalive)):
            return None
        return parse_filters(
            types=self.types or (),
            subjects=self.subjects or (),
            kinds=self.kinds or (),
            where=self.where or (),
            grep=self.grep,
            since=self.since,
            until=self.until,
            keepalive=self.keepalive,
            now=env.now(),
            zone=UTC if utc else parse_zone("local"),
        )


@dataclass(slots=True)
class OutputArgs:
    fmt: Format | None = None
    color: ColorMode = ColorMode.auto
    utc: bool = False
    time: TimeSource = TimeSource.event
    verbose: bool = False

    def render_options(self, env: Environment):  # type: ignore[no-untyped-def]
        """Core RenderOptions for this environment (format and colour resolved)."""
        from datetime import UTC

        from presencectl.core.render import RenderOptions

        fmt = self.fmt.value if self.fmt else ("pretty" if env.stdout_isatty else "json")
        return RenderOptions(
            fmt=fmt,
            color=choose_color(self.color.value, env.stdout_isatty, env.environ),
            zone=UTC if self.utc else None,
            time_source=self.time.value,
            verbose=self.verbose,
            tty=env.stdout_isatty,
            width=env.width,
        )


def make_decoder(dialect: str | None, assume_tz: str):  # type: ignore[no-untyped-def]
    """The Decoder for ``--dialect`` and ``--assume-tz``."""
    from presencectl.core import dialects
    from presencectl.core.decode import Decoder
    from presencectl.core.times import TimeParser, parse_zone

    try:
        zone = parse_zone(assume_tz)
    except ValueError as exc:
        raise UsageError(f"bad --assume-tz: {exc}") from None
    forced = dialects.get(dialect) if dialect else None
    return Decoder(TimeParser(zone), forced)
