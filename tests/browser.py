"""Open an HTML file in Debian's headless chromium and report what a reader
would see: each image's load state and size, any script or resource error,
the page's visible text (with its <details> opened), how many script elements it has and any alert,
confirm or prompt a script tried.  A probe script is added to a copy of the
page, before anything of the page's own; the DOM chromium dumps after the
load event carries its findings."""
from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PROBE = """<script>
window.__errors = [];
window.__dialogs = [];
for (const name of ["alert", "confirm", "prompt"])
  window[name] = message => { window.__dialogs.push(name + ": " + message); };
window.addEventListener("error", e => window.__errors.push(
  e.message || ("failed to load " + (e.target && (e.target.src || e.target.href)))), true);
window.addEventListener("load", () => {
  const images = [...document.images].map(i => ({alt: i.alt, complete: i.complete,
    width: i.naturalWidth, height: i.naturalHeight}));
  const svgs = [...document.querySelectorAll("svg")].filter(s => !s.parentElement.closest("svg"))
    .map(s => { const r = s.getBoundingClientRect(); return [r.width, r.height]; });
  const links = [...document.querySelectorAll("a")]
    .map(a => a.getAttribute("href") || a.getAttribute("xlink:href") || "");
  for (const d of document.querySelectorAll("details")) d.open = true;  // text a reader can open
  document.documentElement.setAttribute("data-probe",
    JSON.stringify({images, svgs, links, errors: window.__errors, title: document.title,
                    dialogs: window.__dialogs, scripts: document.scripts.length,
                    text: document.body ? document.body.innerText : ""}));
});
</script>"""


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def needed() -> None:
    """Skip the calling test without chromium; under CI, fail it."""
    import installed
    installed.require(chromium() is not None, "chromium is not installed (`make test` installs it)")


def probe(page: Path, timeout_s: float = 90) -> dict:
    """{images: [{alt, complete, width, height}], svgs: [[width, height]] (outermost
    inline SVG elements), links: [href of every <a>], errors: [...], title,
    dialogs: ["alert: ...", ...], scripts: (the probe's own is one), text}."""
    with tempfile.TemporaryDirectory(prefix="mpb-chromium-") as tmp:
        copy = Path(tmp) / page.name
        copy.write_text(page.read_text().replace("<head>", "<head>" + PROBE, 1))
        out = subprocess.run([chromium(), *FLAGS, f"--user-data-dir={tmp}/profile",
                              "--virtual-time-budget=10000", "--dump-dom", copy.as_uri()],
                             capture_output=True, text=True, timeout=timeout_s)
    found = re.search(r'data-probe="([^"]*)"', out.stdout)
    if not found:
        raise AssertionError(f"chromium gave no probe result (exit {out.returncode}): "
                             f"{out.stderr[-2000:]}")
    return json.loads(html.unescape(found.group(1)))
