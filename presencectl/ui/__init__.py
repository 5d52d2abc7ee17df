"""Everything drawn for people: timelines (terminal, SVG, HTML)."""
