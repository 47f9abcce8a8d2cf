"""report.html: report.md rendered by markdown-it-py, figures embedded as
data: URIs and the style inline, so the file opens offline, alone."""
from __future__ import annotations

import base64
import html as _html

from markdown_it import MarkdownIt

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 72rem; margin: 2rem auto; padding: 0 1rem;
       color: #222; line-height: 1.45; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: left; }
th { background: #f3f3f3; }
td:not(:first-child) { font-variant-numeric: tabular-nums; }
img { max-width: 100%; height: auto; display: block; margin: 0.5rem 0 1.5rem; }
code { font-size: 0.85em; }
details { margin: 0.5rem 0; }
h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2rem; margin-top: 2rem; }
"""


def _parser(figures: dict[str, bytes]) -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": True}).enable("table")

    def image(renderer, tokens, idx, options, env):
        token = tokens[idx]
        src = token.attrGet("src")
        if src not in figures:
            raise ValueError(f"report figure {src} was linked but not drawn")
        mime = "image/svg+xml" if src.endswith(".svg") else "image/png"
        token.attrSet("src", f"data:{mime};base64," + base64.b64encode(figures[src]).decode())
        return renderer.image(tokens, idx, options, env)

    md.add_render_rule("image", image)
    return md


def render(markdown: str, figures: dict[str, bytes], title: str) -> str:
    body = _parser(figures).render(markdown)
    return (f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{_html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n"
            f"<body>\n{body}</body>\n</html>\n")
