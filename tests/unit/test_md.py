"""bench.md: free text renders as exactly that text, wherever a report
line puts it (markdown-it-py with raw HTML on, as bench.html renders)."""
import html
import re

import pytest
from markdown_it import MarkdownIt

from bench.report import md

PARSER = MarkdownIt("commonmark", {"html": True}).enable("table")
PLACES = ["{}", "{}.", "- **{}**: x", "- a {} b", "| h | i |\n|---|---|\n| {} | z |"]
TEXTS = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "a | b", "[red]x[/]",
         "[l](http://e.com)", "![i](x.png)", "<http://e.com>", "*a* **b** _c_ __d__", "`x` ``y``",
         "~~s~~", "&amp; &lt; &#65;", "a\\|b \\* \\", "# h", "###### h", "- i", "+ i", "1. i",
         "12) i", "---", "===", "    code", "> q", "x86_64 CONFIG_HZ bench/__main__.py",
         "a\nb\r\nc\n\nd\te", "<!-- c -->", "0.1.0", "-262144", "#1 SMP"]


def _rendered(markdown: str) -> tuple[list[str], str]:
    out = PARSER.render(markdown)
    tags = re.findall(r"<(\w+)", out)
    return tags, " ".join(html.unescape(re.sub(r"<[^>]+>", " ", out)).split())


@pytest.mark.parametrize("value", TEXTS)
@pytest.mark.parametrize("place", PLACES)
def test_text_renders_as_exactly_that_text(value, place):
    tags, shown = _rendered(place.format(md.text(value)))
    plain_tags, plain = _rendered(place.format("TEXT"))
    assert tags == plain_tags
    assert shown == plain.replace("TEXT", " ".join(value.split()))


@pytest.mark.parametrize("value", ["a|b", "x`y", "`a", "a\\|b", "<b>", "a\nb"])
def test_code_in_a_table_cell_is_that_text(value):
    out = PARSER.render(f"| h |\n|---|\n| {md.code(value)} |")
    assert f"<td><code>{html.escape(' '.join(value.split()), quote=False)}</code></td>" in out


def test_numbers_are_as_they_are():
    assert [md.text(v) for v in (3, 1.5, [5.06, 3.59], None, True)] == \
        ["3", "1.5", "[5.06, 3.59]", "None", "True"]
