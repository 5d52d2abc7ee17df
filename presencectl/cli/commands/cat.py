"""``presencectl cat``: render captures and NDJSON files, no network."""

from __future__ import annotations

from typing import Annotated

import typer

from presencectl.cli.app import app, guarded
from presencectl.cli.option_groups import FILTERS, INPUT, OUTPUT, Opts, takes
from presencectl.cli.options import make_decoder, parse_max_line
from presencectl.ui.console import Environment


@app.command("cat")
@takes(FILTERS, OUTPUT, INPUT)
def cat_cmd(
    files: Annotated[
        list[str] | None, typer.Argument(help="Capture or NDJSON files (.gz too); - or nothing for stdin.", show_default=False)
    ] = None,
    *,
    opts: Opts,
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
        from presencectl.core.render import make_renderer
        from presencectl.engine.runner import Pipeline, run_cat
        from presencectl.ui.console import Output

        filt = opts.filter_args().build(env, opts.utc)
        decoder = make_decoder(opts.dialect, opts.assume_tz)
        max_line = parse_max_line(opts.max_line)
        if opts.live:
            line_options = opts.fmt is not None or opts.verbose
            _cat_live(env, files or ["-"], decoder, filt, opts.limit, line_options, opts.color, opts.utc, max_line)
            return
        render_options = opts.output_args().render_options(env)
        output = Output(env.stdout, live=False)
        pipeline = Pipeline(decoder, filt, make_renderer(render_options), output, opts.limit)
        try:
            counts = run_cat(env, files or ["-"], pipeline, max_line)
        finally:
            pipeline.close()
        if counts.unparsed:
            env.note(f"{counts.unparsed} of {counts.events} payloads could not be parsed")

    guarded(env, body)


def _cat_live(env, paths, decoder, filt, limit, line_options, color, utc, max_line):  # type: ignore[no-untyped-def]
    """``cat --live``: the file(s) into a live presence table, then the summary."""
    from presencectl.engine.runner import Pipeline, run_cat
    from presencectl.errors import UsageError
    from presencectl.ui.console import choose_color
    from presencectl.ui.live_table import LiveTable, ensure_terminal

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
