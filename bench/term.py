"""The CLI's consoles: text is printed as text.

What the CLI prints carries text from scenario files, results.json,
exceptions and the kernel, and rich would read `[red]`, `[/]` or `:smile:`
in it as markup or an emoji code (an error naming `[scenario.<name>]` lost
those words).  So every console comes from `console()`, with markup, emoji
codes and highlighting off, and a plain `str` prints exactly as written.
The few intended styles are `rich.text.Text` spans (`Text.assemble`), which
style a piece without parsing it.
"""
from __future__ import annotations

from rich.console import Console


def console(stderr: bool = False, **options) -> Console:
    return Console(stderr=stderr, markup=False, emoji=False, highlight=False, **options)
