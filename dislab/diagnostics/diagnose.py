"""``diagnose``: the measures of :mod:`dislab.diagnostics.measures` on a model and its dataset.

On ``n_samples`` images drawn (seeded, without replacement) from the dataset:

1. encode them: μ(x), log σ²(x) ``(n, d)``; :func:`~dislab.diagnostics.measures.polarisation`
   (Rolinek et al.'s low-variance count, ``n_polarised``); the **active** latents are dislab's one
   definition (:mod:`dislab.metrics.active`: mean KL to the prior above ``kl_threshold`` = 0.1
   nats, over the ``n_reference`` images), the same count as the report's KL chart and
   ``dislab traverse``;
2. the Jacobian of the decoder mean σ(decode(z)) (pixels in [0, 1]) at z = μ(x), ``(n, D, d)``, by
   forward-mode autodiff (``torch.func.jacfwd`` under ``vmap``: d forward passes, cheaper than D
   backward ones since d ≪ D), restricted to the **active** columns (an unused latent's column is ~0
   and would make JᵀJ singular);
3. decoder orthogonality: IMA contrast and distance of the right singular vectors to the nearest
   signed permutation, per image, summarised by mean and median;
4. local PCA alignment against each image's ``n_neighbours`` nearest neighbours (pixel distance)
   among ``n_reference`` dataset images;
5. for hierarchical models (``model.latent_levels`` with more than one level), 3. per level on that
   level's active columns.

:func:`diagnose_run` writes the result as ``diagnostics.json`` into the run folder (atomically).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch

from dislab import progress as bars
from dislab.diagnostics import measures

DIAGNOSTICS = "diagnostics.json"


def decoder_jacobian(decode_mean: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor, *,
                     chunk: int = 16) -> torch.Tensor:
    """∂ decode_mean(z) / ∂z per row of ``z`` ``(n, d)``: ``(n, D, d)`` with D the flattened output.

    ``decode_mean`` maps ``(m, d)`` to ``(m, ...)``; it is called on one code at a time inside
    ``vmap``, in chunks of ``chunk`` codes to bound memory.
    """
    from torch.func import jacfwd, vmap

    def one(zi):  # (d,) -> (D,)
        return decode_mean(zi[None]).reshape(-1)

    jac = vmap(jacfwd(one))
    with torch.no_grad():  # no graph for the parameters; the function transforms still differentiate
        return torch.cat([jac(z[i:i + chunk]) for i in range(0, len(z), chunk)], dim=0)


def _summary(values: np.ndarray) -> dict[str, float]:
    finite = values[np.isfinite(values)]
    if len(finite) == 0:
        return {"mean": float("nan"), "median": float("nan")}
    return {"mean": float(finite.mean()), "median": float(np.median(finite))}


def _orthogonality(J: np.ndarray) -> dict:
    if J.shape[2] == 0:
        return {"n_latents": 0, "note": "no active latents: nothing to measure"}
    m = measures.jacobian_orthogonality(J)
    out = {"n_latents": int(J.shape[2])}
    for key in ("ima_contrast", "distance", "angle_deg"):
        s = _summary(m[key])
        out[f"{'permutation_' + key if key != 'ima_contrast' else key}_mean"] = s["mean"]
        out[f"{'permutation_' + key if key != 'ima_contrast' else key}_median"] = s["median"]
    out["singular_values_mean"] = m["singular_values"].mean(axis=0).tolist()
    return out


@torch.no_grad()
def diagnose(model, dataset, *, n_samples: int = 64, n_reference: int = 1000, n_neighbours: int = 20,
             threshold: float = 0.5, kl_threshold: float | None = None, seed: int = 0,
             device: str | torch.device = "cpu", progress: bool = True) -> dict:
    """All diagnostics of ``model`` (eval mode) on ``dataset``; a JSON-ready dict.

    ``threshold``: polarisation's posterior-variance threshold (Rolinek et al., ½);
    ``kl_threshold``: a latent is active above this mean KL in nats (default 0.1).

    Keys: ``summary`` (flat floats for tables: ``n_active``, ``n_polarised``, ...),
    ``activity`` (mean KL per latent and the active ones), ``polarisation``, ``orthogonality``,
    ``pca_alignment``, ``levels`` (hierarchical models), ``settings``, ``notes``.
    """
    from dislab.metrics.active import ACTIVE_KL_THRESHOLD, active_mask, mean_kl_per_latent

    kl_threshold = ACTIVE_KL_THRESHOLD if kl_threshold is None else float(kl_threshold)
    from tqdm.auto import tqdm

    if n_samples < 1 or n_reference < 2 or n_neighbours < 1:
        raise ValueError(f"need n_samples >= 1, n_reference >= 2, n_neighbours >= 1; got "
                         f"{n_samples}, {n_reference}, {n_neighbours}")
    model = model.to(device).eval()
    rng = np.random.default_rng(seed)
    n_ref = min(int(n_reference), len(dataset))
    ref_idx = np.sort(rng.choice(len(dataset), size=n_ref, replace=False))
    probe_pos = rng.choice(n_ref, size=min(int(n_samples), n_ref), replace=False)
    ref = dataset.images(ref_idx)  # (m, C, H, W)
    x = ref[probe_pos].to(device)
    steps = tqdm(total=3, desc="diagnose", disable=bars.disable(progress))

    mu, logvar = model.encode(x)
    pol = measures.polarisation(logvar.cpu().numpy(), threshold=threshold)
    # dislab's active latents, on every reference image (not only the probes)
    ref_mu, ref_logvar = [], []
    for start in range(0, n_ref, 256):
        m, lv = model.encode(ref[start:start + 256].to(device))
        ref_mu.append(m.float().cpu().numpy())
        ref_logvar.append(lv.float().cpu().numpy())
    kl = mean_kl_per_latent(getattr(model, "prior", None), np.concatenate(ref_mu), np.concatenate(ref_logvar),
                            seed=seed)
    active = np.flatnonzero(active_mask(kl, threshold=kl_threshold))
    activity = {"mean_kl": kl.tolist(), "active": active.tolist(), "n_active": int(len(active)),
                "kl_threshold": kl_threshold, "n_inputs": int(n_ref)}
    steps.update()

    J = decoder_jacobian(model.decode_mean, mu).double().cpu().numpy()  # (n, D, d)
    J_act = J[:, :, active]
    steps.update()

    notes = [f"orthogonality and alignment use the {len(active)} active latents (mean KL to the prior "
             f"> {kl_threshold:g} nats over {n_ref} images); unused ones would make JᵀJ singular"]
    result = {
        "settings": {"n_samples": int(len(x)), "n_reference": int(n_ref), "n_neighbours": int(n_neighbours),
                     "threshold": float(threshold), "kl_threshold": kl_threshold, "seed": int(seed)},
        "activity": activity,
        "polarisation": pol,
        "orthogonality": {"latents": active.tolist(), **_orthogonality(J_act)},
    }

    # local PCA of the data around each probe
    flat = ref.reshape(n_ref, -1).double()
    k = min(int(n_neighbours), n_ref - 1)
    if len(active) == 0 or k <= len(active):
        result["pca_alignment"] = {"note": f"needs more neighbours ({k}) than active latents ({len(active)})"}
    else:
        dist = torch.cdist(flat[probe_pos], flat)  # (n, m)
        dist[torch.arange(len(probe_pos)), torch.as_tensor(probe_pos)] = float("inf")  # not itself
        nb = dist.topk(k, largest=False).indices.numpy()  # (n, k)
        flat_np = flat.numpy()
        al = measures.local_pca_alignment(J_act, [flat_np[r] for r in nb])
        result["pca_alignment"] = {"latents": active.tolist(), "n_neighbours": k,
                                   **{f"{key}_mean": _summary(v)["mean"] for key, v in al.items()},
                                   **{f"{key}_median": _summary(v)["median"] for key, v in al.items()}}
    steps.update()
    steps.close()

    levels = tuple(getattr(model, "latent_levels", ()) or ())
    if len(levels) > 1:
        per_level, start = [], 0
        for l, size in enumerate(levels):
            cols = [int(j) for j in active if start <= j < start + size]
            per_level.append({"level": l, "latents": list(range(start, start + size)), "active": cols,
                              **_orthogonality(J[:, :, cols])})
            start += size
        result["levels"] = per_level
        notes.append("levels: level 0 is the lowest (most detailed); per-level measures use that level's "
                     "active columns of the same Jacobians")

    o, a = result["orthogonality"], result["pca_alignment"]
    result["summary"] = {
        "n_active": activity["n_active"], "n_polarised": pol["n_polarised"],
        "polarised_fraction": pol["polarised_fraction"],
        "ima_contrast": o.get("ima_contrast_mean", float("nan")),
        "permutation_distance": o.get("permutation_distance_mean", float("nan")),
        "permutation_angle_deg": o.get("permutation_angle_deg_mean", float("nan")),
        "pca_subspace_overlap": a.get("subspace_overlap_mean", float("nan")),
        "pca_axis_alignment": a.get("axis_alignment_mean", float("nan")),
    }
    result["notes"] = notes
    return result


def diagnose_run(run_dir: str | Path, **options) -> dict:
    """:func:`diagnose` the model of a run folder on its dataset; writes ``diagnostics.json``."""
    from dislab.io import write_json
    from dislab.training import open_run

    run = open_run(run_dir)
    device = options.pop("device", "cpu")
    result = diagnose(run.model(device), run.dataset(), device=device, **options)
    write_json(Path(run_dir) / DIAGNOSTICS, result, produced_by="dislab diagnose")
    return result


def format_table(result: dict) -> str:
    """A plain-text table of ``result["summary"]`` (and per-level rows for hierarchical models)."""
    rows = [(k, v) for k, v in result["summary"].items()]
    for lv in result.get("levels", []):
        rows.append((f"level {lv['level']} ima_contrast", lv.get("ima_contrast_mean", float("nan"))))
        rows.append((f"level {lv['level']} permutation_distance", lv.get("permutation_distance_mean", float("nan"))))
    width = max(len(k) for k, _ in rows)
    lines = [f"{'diagnostic':<{width}}  value", f"{'-' * width}  ------"]
    for k, v in rows:
        lines.append(f"{k:<{width}}  {v:.4g}" if isinstance(v, float) else f"{k:<{width}}  {v}")
    return "\n".join(lines)
