"""``presencectl dialects [NAME]``: what the detector knows, from each dialect's declarations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from presencectl.cli.app import app, guarded
from presencectl.cli.options import complete_dialects
from presencectl.ui.console import Environment

if TYPE_CHECKING:
    from presencectl.core.dialects import Dialect


@app.command("dialects")
def dialects_cmd(
    name: Annotated[
        str | None,
        typer.Argument(
            help="Show this dialect in full: types, fields, codes, transport and an example.",
            autocompletion=complete_dialects,
            show_default=False,
        ),
    ] = None,
    json_: Annotated[bool, typer.Option("--json", help="One JSON object per dialect, for scripts.")] = False,
) -> None:
    """List the dialects, their event types, kinds and colours; or one dialect in full.

    [bold]Examples[/]

      presencectl dialects
      presencectl dialects span
      presencectl dialects --json | jq -r '.types[].name'
    """
    env = Environment()
    guarded(env, lambda: _show(env, name, json_))


def _show(env: Environment, name: str | None, json_: bool) -> None:
    from presencectl.core import dialects

    chosen = [dialects.get(name)] if name is not None else dialects.registry()
    if json_:
        import orjson

        for d in chosen:
            env.stdout.write(orjson.dumps(as_json(d, full=name is not None)) + b"\n")
        env.stdout.flush()
        return
    from rich.console import Console

    console = Console(highlight=False, markup=False, emoji=False)
    console.on_broken_pipe = _broken_pipe  # type: ignore[method-assign]  # rich would exit 1
    if name is None:
        for d in chosen:
            console.print(_types_table(d, d.types, title=True))
            console.print()
        console.print(_legend())
    else:
        _print_full(console, chosen[0])
    # Flush here, inside guarded(): a reader that went away (`| head -1`) is
    # a quiet exit 0, not a failed flush at interpreter exit.
    console.file.flush()


def _broken_pipe() -> None:
    raise BrokenPipeError  # guarded() turns it into a quiet exit 0


def as_json(d: Dialect, full: bool = False) -> dict[str, Any]:
    """A dialect as a JSON-ready dict (``full``: everything ``dialects NAME`` shows)."""

    def types(table: dict) -> list[dict[str, Any]]:
        return [
            {"name": n, "kind": str(i.kind), "presence": i.presence, "description": i.description}
            for n, i in table.items()
        ]

    obj: dict[str, Any] = {"name": d.name, "title": d.title, "colour": d.colour, "types": types(d.types)}
    if full:
        obj.update(
            vendor=d.vendor,
            source=d.source,
            transport=d.transport,
            example=d.example,
            extra_types=types(d.extra_types),
            fields=d.fields,
            codes=d.codes,
            ends_session=[n for n, i in {**d.extra_types, **d.types}.items() if i.ends_session],
        )
    return obj


def _types_table(d: Dialect, table: dict, title: bool) -> Any:
    from rich.table import Table
    from rich.text import Text

    from presencectl.core.render import KIND_STYLES, dialect_styles

    heading = (
        Text.assemble((d.name, dialect_styles().get(d.name, ("white", ""))[0] + " bold"), f"  {d.title}")
        if title
        else None
    )
    out = Table(title=heading, title_justify="left", show_edge=False, pad_edge=False)
    out.add_column("type")
    out.add_column("kind")
    out.add_column("presence")
    out.add_column("meaning")
    for type_name, info in table.items():
        style = KIND_STYLES.get(str(info.kind), ("white", ""))[0]
        out.add_row(Text(type_name, style=style), Text(str(info.kind), style=style), info.presence or "", info.description)
    if not table and not d.types and not d.extra_types:
        out.add_row(Text("(from event/type/category/method)", style="dim"), "guessed", "", "")
    return out


def _print_full(console: Any, d: Dialect) -> None:
    from rich.table import Table
    from rich.text import Text

    from presencectl.core.render import dialect_styles

    style = dialect_styles().get(d.name, ("white", ""))[0]
    console.print(Text.assemble((d.name, style + " bold"), f"  {d.title}"))
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column()
    if d.vendor:
        facts.add_row("vendor", d.vendor)
    if d.source:
        facts.add_row("document", d.source)
    if d.transport:
        facts.add_row("transport", d.transport)
    if d.example:
        facts.add_row("example", d.example)
    facts.add_row("colour", Text(d.colour, style=style))
    enders = [n for n, i in {**d.extra_types, **d.types}.items() if i.ends_session]
    if enders:
        facts.add_row("ends a session", ", ".join(enders))
    console.print(facts)
    console.print()
    console.print(Text("Event types the vendor documents" if d.source else "Event types", style="bold"))
    console.print(_types_table(d, d.types, title=False))
    if d.extra_types:
        console.print()
        console.print(Text("Also handled (not in the vendor's document)", style="bold"))
        console.print(_types_table(d, d.extra_types, title=False))
    if d.fields:
        console.print()
        fields = Table(title=Text("Fields", style="bold"), title_justify="left", show_edge=False, pad_edge=False)
        fields.add_column("field (-w path)")
        fields.add_column("meaning")
        for field, meaning in d.fields.items():
            fields.add_row(field, meaning)
        console.print(fields)
    if d.codes:
        console.print()
        codes = Table(title=Text("Codes", style="bold"), title_justify="left", show_edge=False, pad_edge=False)
        codes.add_column("field")
        codes.add_column("value")
        codes.add_column("meaning")
        for field, values in d.codes.items():
            for value, meaning in values.items():
                codes.add_row(field, value, meaning)
        console.print(codes)
    console.print()
    console.print(_legend())


def _legend() -> Any:
    from rich.text import Text

    from presencectl.core.render import KIND_STYLES

    legend = Text("kinds: ")
    for kind, (style, _) in KIND_STYLES.items():
        if kind is not None:
            legend.append(kind, style=style)
            legend.append(" ")
    legend.append("unparsed", style="dim")
    return legend
