"""``presencectl cat``: render captures and NDJSON files, no network."""

from __future__ import annotations

from typing import Annotated

import typer

from presencectl.app import app, guarded
from presencectl.console import Environment
from presencectl.options import (
    AssumeTzOpt,
    ColorMode,
    ColorOpt,
    DialectOpt,
    FilterArgs,
    FormatOpt,
    GrepOpt,
    KeepaliveOpt,
    KindOpt,
    LimitOpt,
    LiveOpt,
    MaxLineOpt,
    OutputArgs,
    SinceOpt,
    SubjectOpt,
    TimeOpt,
    TimeSource,
    TypeOpt,
    UntilOpt,
    UtcOpt,
    VerboseOpt,
    WhereOpt,
    make_decoder,
    parse_max_line,
)


@app.command("cat")
def cat_cmd(
    files: Annotated[
        list[str] | None, typer.Argument(help="Capture or NDJSON files (.gz too); - or nothing for stdin.", show_default=False)
    ] = None,
    *,
    type_: TypeOpt = None,
    subject: SubjectOpt = None,
    dialect: DialectOpt = None,
    kind: KindOpt = None,
    where: WhereOpt = None,
    grep: GrepOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    limit: LimitOpt = None,
    keepalive: KeepaliveOpt = False,
    fmt: FormatOpt = None,
    color: ColorOpt = ColorMode.auto,
    utc: UtcOpt = False,
    time: TimeOpt = TimeSource.event,
    verbose: VerboseOpt = False,
    live: LiveOpt = False,
    assume_tz: AssumeTzOpt = "UTC",
    max_line: MaxLineOpt = "16M",
) -> None:
    """Render a capture or NDJSON stream: the tail renderer and filters, no network.

    [bold]Examples[/]

      presencectl cat fixtures/span-activity.capture.ndjson
      cat events.ndjson | presencectl cat - -t 'client*' -f json | jq .subject
      presencectl cat fixtures/mixed.capture.ndjson.gz -w data.transport=udp -s '17kl*' -v
      presencectl cat fixtures/span-activity.capture.ndjson --live
    """
    env = Environment()

    def body() -> None:
        from presencectl.console import Output
        from presencectl.core.render import make_renderer
        from presencectl.runner import Pipeline, run_cat

        filt = FilterArgs(type_, subject, kind, where, grep, since, until, keepalive).build(env, utc)
        decoder = make_decoder(dialect, assume_tz)
        line_limit = parse_max_line(max_line)
        if live:
            _cat_live(env, files or ["-"], decoder, filt, limit, fmt is not None or verbose, color, utc, line_limit)
            return
        opts = OutputArgs(fmt, color, utc, time, verbose).render_options(env)
        output = Output(env.stdout, live=False)
        pipeline = Pipeline(decoder, filt, make_renderer(opts), output, limit)
        try:
            counts = run_cat(env, files or ["-"], pipeline, line_limit)
        finally:
            pipeline.close()
        if counts.unparsed:
            env.note(f"{counts.unparsed} of {counts.events} payloads could not be parsed")

    guarded(env, body)


def _cat_live(env, paths, decoder, filt, limit, line_options, color, utc, max_line):  # type: ignore[no-untyped-def]
    """``cat --live``: the file(s) into a live presence table, then the summary."""
    from presencectl.console import choose_color
    from presencectl.errors import UsageError
    from presencectl.live_table import LiveTable, ensure_terminal
    from presencectl.runner import Pipeline, run_cat

    ensure_terminal(env)
    if line_options:
        raise UsageError("--live shows a table, not event lines: drop -f/--format and -v")
    use_color = choose_color(color.value, env.stdout_isatty, env.environ)
    title = ", ".join("stdin" if p == "-" else p for p in paths)
    with LiveTable(env, color=use_color, utc=utc, title=title) as table:
        pipeline = Pipeline(decoder, filt, None, None, limit)
        table.attach(pipeline)
        try:
            counts = run_cat(env, paths, pipeline, max_line)
        finally:
            pipeline.close()
    if counts.unparsed:
        env.note(f"{counts.unparsed} of {counts.events} payloads could not be parsed")
