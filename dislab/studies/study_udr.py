"""UDR over a study: every run scored against the other runs of its group (Duan et al., ICLR 2020).

For each group (by default all seeds of one setting), the same ``n_points`` points of the group's
dataset (drawn with ``seed``) are encoded by every trained run of the group: codes are the posterior
means ``(n_points, n_latents)`` and each latent's KL is its posterior's KL to the prior, averaged over
the points, ``(n_latents,)`` nats (:func:`dislab.metrics.sampling.codes_and_kl`: the prior's closed
form when it is factorised and has one, else N(0, I) as the reference). :func:`dislab.metrics.udr.udr` then
gives each run its Spearman (UDR_S) and Lasso (UDR_L) score, the median of its pairwise scores.

Results go to ``udr.json`` in the study folder (groups, pairwise matrices) and, merged, into each
run's ``evaluation.json`` as the metric block ``"udr"``: ``{"udr": UDR_S, "udr_spearman",
"udr_lasso", "group", "group_size", "n_active"}`` (written atomically under the run's lock, other
blocks kept).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from dislab import progress as bars
from dislab.errors import ConfigError
from dislab.io import read_json, write_json
from dislab.runs.layout import EVALUATION, UDR_JSON
from dislab.studies.folder import PRODUCER, StudyFolder
from dislab.studies.locking import RunLock



def encode_group(run_dirs: list[Path], n_points: int, seed: int, *, device: str = "cpu",
                 batch: int = 256) -> tuple[list[np.ndarray], list[np.ndarray], list[str]]:
    """Codes ``(n_points, d)`` and mean KL per latent ``(d,)`` of each run on the same points.

    The points come from the first run's dataset; every run must have been trained on the same
    dataset (name and options)."""
    from dislab.metrics.sampling import codes_and_kl, kl_is_the_priors
    from dislab.training import open_run

    runs = [open_run(d) for d in run_dirs]
    first = runs[0].config
    for r in runs[1:]:
        if (r.config.dataset, r.config.dataset_options) != (first.dataset, first.dataset_options):
            raise ConfigError(f"UDR compares runs on the same points, but {r.path.name} was trained on "
                              f"{r.config.dataset} {r.config.dataset_options} and {runs[0].path.name} on "
                              f"{first.dataset} {first.dataset_options}; group them apart ([udr] group_by)")
    dataset = runs[0].dataset()
    index = dataset.sample_indices(n_points, np.random.default_rng(seed))  # (n_points,)
    codes, kls, notes = [], [], []
    for r in runs:
        model = r.model(device)
        c, kl = codes_and_kl(model, dataset, index, batch_size=batch, device=device)
        codes.append(c)
        kls.append(kl)
        if not kl_is_the_priors(model):
            notes.append(r.path.name)
    return codes, kls, [f"{n}: prior without a closed-form factorised KL, KL per latent taken against N(0, I)"
                         for n in notes]


def merge_evaluation(run_dir: Path, block: dict[str, Any], parameters: dict[str, Any],
                     *, timeout: float = 600.0) -> None:
    """Write ``block`` as ``metrics["udr"]`` of the run's evaluation.json, keeping everything else.
    Takes the run's lock (waiting up to ``timeout`` s for a sweep that is evaluating it)."""
    folder = run_dir.parent.parent
    lock = RunLock(StudyFolder(folder).lock_path(run_dir.name))
    if not lock.acquire(timeout=timeout):
        raise TimeoutError(f"{run_dir.name}: its lock is held by {lock.holder()}; try again later")
    try:
        path = run_dir / EVALUATION
        data = read_json(path) if path.is_file() else {}
        data.pop("dislab", None)
        if not isinstance(data.get("metrics"), dict):
            data["metrics"] = {}
        data["metrics"]["udr"] = block
        data.setdefault("parameters", {})["udr"] = parameters
        write_json(path, data, produced_by=f"{PRODUCER}.udr")
    finally:
        lock.release()


def study_udr(folder: str | os.PathLike, *, n_points: int | None = None, seed: int | None = None,
              device: str = "cpu", progress: bool = True) -> dict[str, Any]:
    """Compute UDR for every complete run of the study in ``folder`` against its group; write
    ``udr.json`` and each run's evaluation.json. Returns the udr.json payload."""
    from tqdm.auto import tqdm

    from dislab.metrics.udr import udr
    from dislab.studies.runner import training_step

    sf = StudyFolder(folder)
    study = sf.read_study()
    n_points = int(n_points or study.udr.n_points)
    seed = int(study.udr.seed if seed is None else seed)
    out: dict[str, Any] = {"n_points": n_points, "seed": seed, "methods": list(study.udr.methods),
                           "kl_threshold": study.udr.kl_threshold, "groups": {}, "notes": []}
    groups = study.groups()
    bar = tqdm(groups.items(), desc="udr", unit="group", disable=bars.disable(progress))
    for group, runs in bar:
        ready = []
        for r in runs:
            st = training_step(sf.run_dir(r.name))
            if st is not None and st[0] >= st[1] and st[1] > 0:
                ready.append(r)
        entry: dict[str, Any] = {"runs": [r.name for r in ready],
                                 "left_out": [r.name for r in runs if r not in ready]}
        if len(ready) < 2:
            entry["note"] = f"{len(ready)} trained run(s) in this group; UDR needs at least 2"
            out["groups"][group] = entry
            continue
        codes, kls, notes = encode_group([sf.run_dir(r.name) for r in ready], n_points, seed, device=device)
        out["notes"] += notes
        scores = {m: udr(codes, kls, method=m, kl_threshold=study.udr.kl_threshold, seed=seed)
                  for m in study.udr.methods}
        for m, res in scores.items():
            entry[m] = {"udr": res["udr"], "pairwise": res["pairwise"]}
        entry["n_active"] = next(iter(scores.values()))["n_active"]
        out["groups"][group] = entry
        for i, r in enumerate(ready):
            block = {f"udr_{m}": scores[m]["udr"][i] for m in scores}
            block["udr"] = block.get("udr_spearman", next(iter(block.values())))
            block.update(group=group, group_size=len(ready), n_active=entry["n_active"][i])
            merge_evaluation(sf.run_dir(r.name), block, {"n_points": n_points, "seed": seed,
                                                         "methods": list(scores), "kl_threshold": study.udr.kl_threshold,
                                                         "group_runs": entry["runs"]})
    write_json(sf.path / UDR_JSON, out, produced_by=f"{PRODUCER}.udr")
    return out
