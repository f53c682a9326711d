"""The study report page, ``index.html`` in the study folder: the table of runs (each linking its
report.html), the failures with their errors, and the study figures. Links and images are relative,
so the folder can be moved or served as it is; the page has no script."""
from __future__ import annotations

import html
import math
import time
from pathlib import Path
from typing import Any

from dislab.io import atomic_write_text

STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:80em;color:#222}
table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px}
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.failed{background:#fde8e8}img{max-width:100%;border:1px solid #eee;margin:4px 0}
.note{color:#666;font-size:13px}
"""


def _cell(v: Any) -> tuple[str, bool]:
    if v is None:
        return "", False
    if isinstance(v, float):
        return ("–" if not math.isfinite(v) else f"{v:.4g}"), True
    if isinstance(v, int) and not isinstance(v, bool):
        return str(v), True
    return html.escape(str(v)), False


def write_page(folder: Path, name: str, table: list[dict[str, Any]], columns: list[str], scores: list[str],
               swept: list[str], figures: list[Path]) -> Path:
    """Write ``folder/index.html``; returns its path."""
    shown = ["run", "state", "step"] + [c for c in swept if c in columns] + scores
    head = "".join(f"<th>{html.escape(c)}</th>" for c in shown)
    body = []
    for r in table:
        cells = []
        for c in shown:
            if c == "run":
                link = f"runs/{r['run']}/report.html"
                exists = (folder / link).is_file()
                text = html.escape(r["run"])
                cells.append(f'<td><a href="{html.escape(link)}">{text}</a></td>' if exists else f"<td>{text}</td>")
                continue
            text, num = _cell(r.get(c))
            cells.append(f'<td class="num">{text}</td>' if num else f"<td>{text}</td>")
        cls = ' class="failed"' if r.get("state") == "failed" else ""
        body.append(f"<tr{cls}>{''.join(cells)}</tr>")
    failed = [r for r in table if r.get("state") == "failed"]
    fail_html = ""
    if failed:
        items = "".join(f"<li><b>{html.escape(r['run'])}</b>: <code>{html.escape(str(r.get('error')))}</code> "
                        f'(<a href="status/{html.escape(r["run"])}.json">status</a>)</li>' for r in failed)
        fail_html = f"<h2>Failed runs</h2><ul>{items}</ul>"
    counts: dict[str, int] = {}
    for r in table:
        counts[r.get("state", "?")] = counts.get(r.get("state", "?"), 0) + 1
    figs = "".join(f'<h3>{html.escape(p.stem)}</h3><img src="figures/{html.escape(p.name)}" alt="{html.escape(p.stem)}">'
                   for p in figures)
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>dislab study: {html.escape(name)}</title>
<style>{STYLE}</style></head><body>
<h1>Study {html.escape(name)}</h1>
<p class="note">{len(table)} runs ({", ".join(f"{v} {k}" for k, v in counts.items())}) · written
{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} · table: <a href="results.csv">results.csv</a>,
<a href="results.sqlite">results.sqlite</a> · each run's name links its report.</p>
<h2>Runs</h2><table><tr>{head}</tr>{''.join(body)}</table>
{fail_html}
<h2>Figures</h2>{figs or '<p class="note">No scores yet: run dislab udr and make sure runs were evaluated.</p>'}
</body></html>
"""
    out = folder / "index.html"
    atomic_write_text(out, page)
    return out
