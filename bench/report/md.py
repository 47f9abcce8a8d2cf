"""Free text in the report's Markdown.

report.md (and report.html, rendered from it with raw HTML allowed for its
<details> blocks) shows text it does not control: scenario names and
descriptions, trial reasons, error strings, metadata and sysctl values,
tool versions — from scenario files, results.json, exceptions and the
kernel.  Every such value goes through `text` (or `code`, for a value in
a code span) where a section puts it in a line, so it renders as exactly
that text: never an HTML element, a link, emphasis, a table cell boundary,
a heading or a new line.  Numbers (and lists of numbers) the report
computes or reads print as they are: they cannot carry markup.
"""
from __future__ import annotations

import re

# CommonMark punctuation that can start markup inside a line: escapes,
# code, emphasis, strikethrough (GFM), links and images, raw HTML and
# autolinks, entities, table cells.  `_` between two letters or digits
# cannot open or close emphasis and is left alone (x86_64, CONFIG_HZ).
_INLINE = re.compile(r"[\\`*~\[\]<>&|]|(?<![^\W_])_|_(?![^\W_])")
# What makes a line (the text may start one) a heading, a list item, a
# thematic break or a setext underline: the first character gets escaped.
_LINE_START = re.compile(r"^(?:#(?=#{0,5}(?:\s|$))|[-+](?=\s|$)|-(?=[-\s]*$)|=(?=[=\s]*$)"
                         r"|(\d{1,9})(?=[.)](?:\s|$)))")
_NEWLINES = re.compile(r"\s*[\r\n]+\s*")


def _own(value) -> bool:
    if isinstance(value, (list, tuple)):
        return all(map(_own, value))
    return value is None or isinstance(value, (bool, int, float))


def _fold(value) -> str:
    """One line: line breaks (and tabs) become a space."""
    return _NEWLINES.sub(" ", str(value)).replace("\t", " ").strip()


def text(value) -> str:
    """`value` as inline Markdown that renders as exactly its text, in a
    paragraph, a list item or a table cell, at the start of a line or not."""
    if _own(value):
        return str(value)
    escaped = _INLINE.sub(lambda m: "\\" + m.group(0), _fold(value))
    return _LINE_START.sub(lambda m: m.group(1) + "\\" if m.group(1) else "\\" + m.group(0),
                           escaped, count=1)


def code(value) -> str:
    """`value` as a code span in a table cell: backslashes show as
    written in code, so only the cell's `|` is escaped and the span's
    backtick fence is longer than any run of backticks in the text."""
    folded = _fold(value).replace("|", "\\|")
    if not folded:
        return ""
    fence = "`" * (1 + max((len(run) for run in re.findall(r"`+", folded)), default=0))
    pad = " " if folded[0] == "`" or folded[-1] == "`" else ""
    return f"{fence}{pad}{folded}{pad}{fence}"
