"""One self-contained HTML page per run: what was trained, how training went, what the model learned
(reconstructions, traversals, samples, per-latent KL) and how it scores (evaluation.json, with one
line per score saying what it means and its range, and the factor × latent matrices).

The page has no script and loads nothing from the network: every picture is embedded as a base64
``data:`` URI (PNG, and a GIF for the animated traversal), so the file can be mailed, archived or
opened offline. The same pictures are also written to ``figures/`` beside it, for slides and papers.

A run without weights (training not started) or without ``evaluation.json`` still gets a report:
the missing part is replaced by a note saying what to run; a folder that is not a run raises
:class:`dislab.errors.RunError`.
"""
from __future__ import annotations

import base64
import html
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from dislab import progress as bars
from dislab.errors import DislabError
from dislab.io import atomic_write_bytes, atomic_write_text
from dislab.runs.layout import REPORT
from dislab.viz.grid import figure_png_bytes, gif_bytes, png_bytes

FIGURES = "figures"

def score_info(block: str, key: str) -> tuple[str, str] | None:
    """``(meaning, range)`` of score ``key`` in evaluation block ``block``, from the metric's
    declaration (:mod:`dislab.metrics.spec`); per-level blocks (``"level1/mig"``) take the
    meaning of their metric; a block no metric declares borrows the first declaration of ``key``."""
    from dislab.metrics.spec import all_specs, score_of

    metric = block.rsplit("/", 1)[-1]
    score = score_of(metric, key)
    if score is None and key != "train_accuracy":  # train_accuracy means different things per metric
        score = next((sc for spec in all_specs() for sc in spec.scores if sc.key == key), None)
    if score is None:
        return None
    if metric != block:
        return f"{block.rsplit('/', 1)[0]} only: {score.meaning}", score.range
    return score.meaning, score.range


def score_rows(evaluation: dict[str, Any]) -> list[tuple[str, str, Any, str, str]]:
    """Flatten evaluation.json to table rows ``(block, key, value, meaning, range)``: every scalar
    number of every metric block (lists and matrices are drawn elsewhere; the provenance block is
    skipped)."""
    blocks = evaluation.get("metrics") if isinstance(evaluation.get("metrics"), dict) else evaluation
    rows = []
    for block, body in blocks.items():
        if block == "dislab":
            continue
        items = body.items() if isinstance(body, dict) else [(block, body)]
        for key, value in items:
            if isinstance(value, bool) or not isinstance(value, (int, float, type(None))):
                continue
            meaning, rng = score_info(str(block), str(key)) or ("", "")
            rows.append((str(block), str(key), value, meaning, rng))
    return rows


def metric_blocks(evaluation: dict[str, Any] | None) -> dict[str, Any]:
    if not evaluation:
        return {}
    blocks = evaluation.get("metrics") if isinstance(evaluation.get("metrics"), dict) else evaluation
    return {k: v for k, v in blocks.items() if k != "dislab" and isinstance(v, dict)}


def find_matrix(evaluation: dict[str, Any] | None, key: str, prefer: str = "") -> tuple[str, np.ndarray] | None:
    """A metric block holding a 2-D matrix under ``key`` (e.g. ``"mutual_info"``): block ``prefer``
    first, then whole-code blocks before per-level ones (``"level0/mig"``)."""
    blocks = metric_blocks(evaluation)
    for block in sorted(blocks, key=lambda b: (b != prefer, "/" in b)):
        body = blocks[block]
        value = body.get(key)
        if isinstance(value, list) and value and isinstance(value[0], list):
            try:
                m = np.asarray(value, dtype=float)
            except (TypeError, ValueError):
                continue
            if m.ndim == 2:
                return block, m
    return None


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "—"
        return f"{value:.4g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.2e}"
    return str(value)


# -- page -----------------------------------------------------------------------------------
@dataclass
class Page:
    """Sections of the report, in order, plus the figures written beside it."""

    title: str
    sections: list[tuple[str, str, str]] = field(default_factory=list)  # (id, heading, html body)
    figures: dict[str, bytes] = field(default_factory=dict)

    def add(self, sid: str, heading: str, body: str) -> None:
        self.sections.append((sid, heading, body))

    def image(self, name: str, data: bytes, alt: str, *, mime: str = "image/png", width: int | None = None) -> str:
        """Embed ``data`` as a data URI (and keep it for figures/``name``); returns the <img> tag."""
        self.figures[name] = data
        uri = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
        style = f' style="max-width:min(100%, {width}px)"' if width else ""
        return f'<img src="{uri}" alt="{html.escape(alt)}" title="{html.escape(name)}"{style}>'

    def render(self, subtitle: str) -> str:
        nav = " · ".join(f'<a href="#{sid}">{html.escape(h)}</a>' for sid, h, _ in self.sections)
        body = "\n".join(f'<section id="{sid}"><h2>{html.escape(h)}</h2>\n{b}\n</section>'
                         for sid, h, b in self.sections)
        return _TEMPLATE.format(title=html.escape(self.title), subtitle=subtitle, nav=nav, body=body)


_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<title>{title}</title>
<style>
body {{ font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto;
       max-width: 1150px; padding: 1rem 1.5rem 4rem; color: #1a1a1a; line-height: 1.45; }}
h1 {{ margin-bottom: .2rem; }} h2 {{ border-bottom: 1px solid #ddd; padding-bottom: .2rem; margin-top: 2.2rem; }}
.sub {{ color: #555; margin-top: 0; }} nav {{ font-size: .92rem; margin: .8rem 0 1rem; }}
nav a {{ color: #2456a5; text-decoration: none; }}
img {{ max-width: 100%; height: auto; display: block; margin: .5rem 0; image-rendering: auto; }}
table {{ border-collapse: collapse; font-size: .92rem; margin: .5rem 0; }}
th, td {{ border-bottom: 1px solid #e5e5e5; padding: .3rem .7rem; text-align: left; vertical-align: top; }}
th {{ background: #f4f4f4; }} td.num {{ text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }}
.note {{ background: #fff7e0; border-left: 4px solid #e0a800; padding: .5rem .8rem; margin: .6rem 0; }}
.caption {{ color: #555; font-size: .9rem; margin: .2rem 0 1rem; }}
.row {{ display: flex; flex-wrap: wrap; gap: 1.5rem; align-items: flex-start; }}
.row figure {{ margin: 0; flex: 1 1 420px; }}
pre {{ background: #f6f8fa; padding: .8rem; overflow-x: auto; font-size: .85rem; }}
code {{ background: #f2f2f2; padding: 0 .25rem; }}
</style>
</head>
<body>
<h1>{title}</h1>
<p class="sub">{subtitle}</p>
<nav>{nav}</nav>
{body}
</body>
</html>
"""


def _note(text: str) -> str:
    return f'<p class="note">{text}</p>'


def _caption(text: str) -> str:
    return f'<p class="caption">{text}</p>'


def _table(header: list[str], rows: list[list[str]], numeric: set[int] = frozenset(), cls: str = "") -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>"
                         for i, c in enumerate(r)) + "</tr>"
        for r in rows
    )
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _flatten(prefix: str, value: Any, out: list[tuple[str, Any]]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    else:
        out.append((prefix, value))


def _cell(value: Any) -> str:
    if isinstance(value, list):
        flat = np.asarray(value, dtype=object).ravel() if value else []
        if len(flat) <= 12 and all(isinstance(v, (int, float)) or v is None for v in flat):
            return html.escape("[" + ", ".join(_fmt(v) for v in flat) + "]")
        return html.escape(f"list of {len(value)}")
    return html.escape(_fmt(value))


# -- the report ------------------------------------------------------------------------------
def write_report(run_dir, *, out: str | os.PathLike | None = None, n_encode: int = 2000,
                 steps: int = 10, n_frames: int = 20, n_gif_inputs: int = 4, gif: bool = True,
                 seed: int = 0, kl_threshold: float | None = None, progress: bool = True,
                 write_figures: bool = True) -> Path:
    """Write the report of the run in ``run_dir`` to ``out`` (``run_dir/report.html`` by default).

    Args:
        run_dir: a run folder, or a :class:`dislab.training.run.Run` already opened (the report
            then reads that one; ``dislab report`` opens the run once).
        n_encode: inputs drawn (seeded) from the run's dataset and encoded for the per-latent KL,
            quantile sweeps and latent-vs-factor plots.
        steps: columns of the traversal grids; ``n_frames``, ``n_gif_inputs``: the animated GIF.
        kl_threshold: a latent is active above this mean KL in nats (default 0.1, dislab's one
            definition, :data:`dislab.metrics.active.ACTIVE_KL_THRESHOLD`).
        write_figures: also write each picture to ``figures/`` beside the report.

    Returns the path of the report.
    """
    from tqdm.auto import tqdm

    from dislab.training import open_run
    from dislab.training.run import Run

    run = run_dir if isinstance(run_dir, Run) else open_run(run_dir)
    out = Path(out) if out is not None else run.path / REPORT
    record = run.record
    train_cfg = record.get("train", {})
    model_name = record.get("model", {}).get("name", "?")
    dataset_name = train_cfg.get("dataset", record.get("dataset", {}).get("name", "?"))
    page = Page(title=f"dislab report: {run.path.name}")

    stages = ["scores", "curves", "model", "config"]
    bar = tqdm(total=len(stages), desc="report", unit="part", disable=bars.disable(progress), leave=False)

    def stage(name: str, fn: Callable[[], None]) -> None:
        bar.set_postfix_str(name)
        fn()
        bar.update(1)

    evaluation = None
    eval_error = None
    try:
        evaluation = run.evaluation()
    except DislabError as e:
        eval_error = str(e)

    dataset = None
    dataset_error = None
    try:
        dataset = run.dataset()
    except (DislabError, ValueError, FileNotFoundError) as e:
        dataset_error = str(e)
    factor_names = list(dataset.factor_names) if dataset is not None and dataset.has_factors else None

    stage("scores", lambda: _scores_section(page, run, evaluation, eval_error, factor_names))
    stage("curves", lambda: _curves_section(page, run))
    stage("model", lambda: _model_sections(page, run, dataset, dataset_error, evaluation, n_encode=n_encode, steps=steps,
                                          n_frames=n_frames, n_gif_inputs=n_gif_inputs, gif=gif, seed=seed,
                                          kl_threshold=kl_threshold, progress=progress))
    stage("config", lambda: _config_section(page, run))
    bar.close()

    step, total = _steps_done(run)
    subtitle = (f"model <b>{html.escape(str(model_name))}</b> on <b>{html.escape(str(dataset_name))}</b>"
                f" · step {step:,} of {total:,} · seed {html.escape(str(train_cfg.get('seed', '?')))}"
                f" · written {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
                f" · folder <code>{html.escape(str(run.path))}</code>")
    atomic_write_text(out, page.render(subtitle))
    if write_figures:
        fig_dir = out.parent / FIGURES
        for name, data in page.figures.items():
            atomic_write_bytes(fig_dir / name, data)
    return out


def _steps_done(run) -> tuple[int, int]:
    try:
        total = int(run.config.steps)
    except (DislabError, KeyError, TypeError, ValueError):
        total = 0
    try:
        step = int(run.step)
    except (DislabError, KeyError, TypeError, ValueError):
        step = 0
    log = run.train_log()
    if log and isinstance(log[-1].get("step"), (int, float)):
        step = max(step, int(log[-1]["step"]))
    return step, total


def _scores_section(page: Page, run, evaluation, eval_error, factor_names) -> None:
    from dislab.viz.heatmaps import hinton_diagram, mi_heatmap

    if evaluation is None:
        msg = (f"evaluation.json could not be read ({html.escape(eval_error)})." if eval_error else
               "No evaluation yet: this run has no <code>evaluation.json</code>. Run "
               f"<code>dislab evaluate {html.escape(str(run.path))}</code>, then "
               f"<code>dislab report {html.escape(str(run.path))}</code> again.")
        page.add("scores", "Scores", _note(msg))
        return
    rows = score_rows(evaluation)
    parts = []
    if rows:
        parts.append(_table(
            ["metric", "score", "value", "what it means", "range"],
            [[html.escape(b), html.escape(k), html.escape(_fmt(v)), html.escape(m), html.escape(r)]
             for b, k, v, m, r in rows],
            numeric={2}, cls="scores"))
    else:
        parts.append(_note("evaluation.json holds no scores."))
    parts.append(_caption(_evaluation_provenance(evaluation, run)))
    for note in evaluation.get("notes") or []:
        parts.append(_note(html.escape(str(note))))
    figures: list[str] = []  # the two matrices side by side where the page is wide enough
    mi = find_matrix(evaluation, "mutual_info", prefer="mig")
    imp = find_matrix(evaluation, "importance", prefer="dci")
    for found, draw, name, caption in (
        (mi, lambda m, names: mi_heatmap(m, names), "mutual_information.png",
         "Mutual information (nats) between each factor (row) and each latent (column), the matrix MIG is "
         "computed from. A disentangled model has one bright cell per row, each in its own column."),
        (imp, lambda m, names: hinton_diagram(m, names), "dci_importance.png",
         "DCI importance as a Hinton diagram (Eastwood &amp; Williams 2018): square area ∝ how much a latent "
         "(column) helps predict a factor (row). One square per column = disentangled; one per row = complete."),
    ):
        if found is None:
            continue
        block, matrix = found
        names = factor_names if factor_names and len(factor_names) == matrix.shape[1] else None
        try:
            fig = draw(matrix, names)
        except (DislabError, ValueError) as e:
            parts.append(_note(f"could not draw {html.escape(name)} from {html.escape(block)}: {html.escape(str(e))}"))
            continue
        figures.append(f"<figure>{page.image(name, figure_png_bytes(fig), name.removesuffix('.png').replace('_', ' '))}"
                       f"{_caption(caption)}</figure>")
    if figures:
        parts.append(f'<div class="row">{"".join(figures)}</div>')
    page.add("scores", "Scores", "\n".join(parts))


def _evaluation_provenance(evaluation: dict[str, Any], run) -> str:
    """One line: at which step, on how many points, with which representation the scores were made."""
    bits = []
    step = evaluation.get("step")
    if step is not None:
        bits.append(f"Scores computed at training step {html.escape(_fmt(step))}")
        current, _ = _steps_done(run)
        if isinstance(step, (int, float)) and current > step:
            bits.append(f"<b>older than the weights (step {current:,})</b>: run <code>dislab evaluate</code> again")
    if evaluation.get("representation"):
        bits.append(f"representation: {html.escape(str(evaluation['representation']))} codes")
    params = evaluation.get("parameters")
    if isinstance(params, dict):
        sizes = [f"{html.escape(str(m))} {p['n_train']:,}" for m, p in params.items()
                 if isinstance(p, dict) and isinstance(p.get("n_train"), int)]
        if sizes:
            bits.append("training points per metric: " + ", ".join(sizes))
    return "; ".join(bits) + ("." if bits else "")


def _curves_section(page: Page, run) -> None:
    from dislab.viz.curves import curve_keys, training_curves

    log = run.train_log()
    if not log:
        page.add("training", "Training", _note("No training log yet (<code>train_log.jsonl</code> is missing or empty)."))
        return
    try:
        fig = training_curves(log)
    except (DislabError, ValueError) as e:
        page.add("training", "Training", _note(f"could not draw the training curves: {html.escape(str(e))}"))
        return
    last = log[-1]
    summary = ", ".join(f"{k} {_fmt(v)}" for k, v in last.items() if k == "step" or k in curve_keys([last]))
    page.add("training", "Training",
             page.image("training_curves.png", figure_png_bytes(fig), "training curves")
             + _caption("The loss and each of its named terms against the training step "
                        "(a log axis where the values span more than a factor of 20). "
                        f"Last logged row: {html.escape(summary)}."))


def _model_sections(page: Page, run, dataset, dataset_error, evaluation, *, n_encode, steps, n_frames,
                    n_gif_inputs, gif, seed, kl_threshold, progress) -> None:
    from dislab.viz.factors import latent_factor_plot
    from dislab.viz.kl import encode_sample, kl_bar_chart, latent_activity
    from dislab.viz.reconstructions import reconstruction_grid
    from dislab.viz.samples import samples_grid
    from dislab.viz.traversals import latent_levels, sweep_values, traversal_frames, traversal_grid

    try:
        model = run.model()
    except DislabError as e:
        page.add("model", "What the model learned",
                 _note(f"No pictures of the model: {html.escape(str(e))}. "
                       "The scores, curves and configuration above and below are shown as far as they exist."))
        return
    if dataset is None:
        page.add("model", "What the model learned",
                 _note(f"The run's dataset could not be built ({html.escape(str(dataset_error))}); "
                       "only samples from the prior are shown."))
        page.add("samples", "Samples from the prior",
                 page.image("samples.png", png_bytes(samples_grid(model, 32, seed=seed)), "samples"))
        return

    idx, images, mu, logvar = encode_sample(model, dataset, n_encode, seed=seed, progress=progress)
    n = len(idx)
    rng = np.random.default_rng(seed + 1)
    activity = latent_activity(model, mu, logvar, seed=seed, threshold=kl_threshold)
    n_latents = mu.shape[1]
    n_active = int(activity.active.sum())
    if evaluation is not None:
        _context_section(page, evaluation, activity, dataset)

    # reconstructions
    pick = rng.choice(n, size=min(16, n), replace=False)
    page.add("reconstructions", "Reconstructions",
             page.image("reconstructions.png", png_bytes(reconstruction_grid(model, images[pick])), "reconstructions")
             + _caption("Inputs (odd rows) over their reconstructions (even rows): the mean image decoded "
                        "from each input's posterior mean."))

    # traversals, per level of a hierarchical model
    values = sweep_values(n_latents, steps, mode="quantile", mu=mu, quantile=0.05)
    base = int(pick[0])
    levels = latent_levels(model)
    parts = []
    for li, lat in enumerate(levels):
        # levels numbered from 0, the lowest (closest to the image), as evaluate's "level0/mig"
        name = "traversals.png" if len(levels) == 1 else f"traversals_level{li}.png"
        if len(levels) > 1:
            parts.append(f"<h3>Level {li}{' (lowest)' if li == 0 else ''}: latents z{lat[0]}–z{lat[-1]}</h3>")
        grid = traversal_grid(model, mu[base], latents=lat, values=values, activity=activity)
        parts.append(page.image(name, png_bytes(grid), f"traversals level {li}"))
    parts.append(_caption(
        f"Each row sweeps one latent of one input's code from the 5% to the 95% quantile of its posterior "
        f"means over {n:,} inputs, the others held; rows sorted by mean KL (most used first). "
        f"{n_active} of {n_latents} latents are active (mean KL to the prior above {activity.threshold:g} "
        "nats); inactive rows are dimmed and marked “off”. A disentangled latent changes one factor of "
        "the image."))
    if gif:
        gif_inputs = mu[pick[: max(1, min(n_gif_inputs, len(pick)))]]
        frames = traversal_frames(model, gif_inputs, values=values, activity=activity, n_frames=n_frames,
                                  progress=progress)
        parts.append(page.image("traversals.gif", gif_bytes(frames, fps=10), "animated traversals",
                                mime="image/gif"))
        parts.append(_caption("All latents at once (columns), for several inputs (rows): every latent "
                              "cycles through its range from the input's own value."))
    page.add("traversals", "Latent traversals", "\n".join(parts))

    page.add("samples", "Samples from the prior",
             page.image("samples.png", png_bytes(samples_grid(model, 32, seed=seed)), "samples")
             + _caption("Images decoded from codes drawn from the prior p(z)."))

    page.add("kl", "Latent usage",
             page.image("latent_kl.png", figure_png_bytes(kl_bar_chart(activity)), "per-latent KL")
             + _caption(f"Per-latent {activity.label}, averaged over {n:,} inputs. Latents below the dashed "
                        "line carry almost no information about the input."))

    if dataset.has_factors:
        factors = dataset.factors_of(idx)
        active = [int(j) for j in activity.order if activity.active[j]][:12]
        if active:
            fig = latent_factor_plot(mu, factors, dataset.factor_names, factor_sizes=dataset.factor_sizes,
                                     latents=active, factor_values=dataset.factor_values)
            body = (page.image("latent_vs_factor.png", figure_png_bytes(fig), "latent vs factor")
                    + _caption("Each active latent's posterior mean (rows) against each ground-truth factor "
                               "(columns): line = mean, band = 10–90%. A disentangled latent follows one "
                               "factor and is flat against the others."))
        else:
            body = _note("No active latent: nothing to plot against the factors.")
        page.add("factors", "Latents against factors", body)

    diag_path = run.path / "diagnostics.json"
    if diag_path.is_file():
        _diagnostics_section(page, diag_path)


def _context_section(page: Page, evaluation, activity, dataset) -> None:
    """What the scores say about this model: MIG per factor, DCI importance on inactive latents,
    the headline scores beside the reference figures of the dataset (dislab.viz.context)."""
    from dislab.reproduce.reference import reference_for
    from dislab.viz.context import mig_breakdown, summary_sentences

    names = list(dataset.factor_names) if dataset.has_factors else None
    sentences = summary_sentences(evaluation, activity.active, names, reference_for(dataset.name),
                                  kl=activity.values, information=activity.information)
    parts = [f"<p>{html.escape(s)}</p>" for s in sentences]
    mig = metric_blocks(evaluation).get("mig", {})
    mi = find_matrix(evaluation, "mutual_info", prefer="mig")
    if mi is not None and isinstance(mig.get("factor_entropy"), list):
        rows = mig_breakdown(mi[1], mig["factor_entropy"], names)
        parts.append(_table(["factor", "best latent", "its share of H(factor)", "runner-up", "its share",
                             "gap (MIG term)", "verdict"],
                            [[html.escape(r.factor), f"z{r.best}", f"{r.best_share:.3f}", f"z{r.second}",
                              f"{r.second_share:.3f}", f"{r.gap:.3f}", html.escape(r.verdict)] for r in rows],
                            numeric={2, 4, 5}))
        parts.append(_caption("Normalised mutual information I(z; factor) / H(factor) from MIG's own matrix "
                              "(posterior means, 20 bins). MIG is the mean of the gap column."))
    if parts:
        page.add("context", "What the scores say about this model", "\n".join(parts))


def _diagnostics_section(page: Page, path: Path) -> None:
    from dislab.io import read_json

    try:
        data = read_json(path)
    except DislabError as e:
        page.add("diagnostics", "Diagnostics", _note(html.escape(str(e))))
        return
    rows: list[tuple[str, Any]] = []
    _flatten("", {k: v for k, v in data.items() if k != "dislab"}, rows)
    page.add("diagnostics", "Diagnostics",
             _table(["quantity", "value"], [[html.escape(k), _cell(v)] for k, v in rows], numeric={1})
             + _caption("From <code>diagnostics.json</code> (<code>dislab diagnose</code>)."))


def _config_section(page: Page, run) -> None:
    record = {k: v for k, v in run.record.items() if k != "dislab"}
    page.add("config", "Configuration",
             f"<pre>{html.escape(json.dumps(record, indent=2))}</pre>"
             + _caption("From <code>config.json</code>: the training settings, the model's full config "
                        "and the dataset."))
