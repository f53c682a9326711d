"""Locatello et al., ICML 2019, "Challenging Common Assumptions in the Unsupervised Learning of
Disentangled Representations": six models × their published grids on dSprites; random seeds and
hyperparameters move the scores as much as the choice of model does (Section 5, the per-model
distributions of each score over seeds and hyperparameters; the violin figure per model).

The claim is checked as a one-way variance decomposition of each score by model: the share of the
variance that the model explains (η² = SS_between / SS_total) is below one half, i.e. most of the
spread lies within a model (its seeds and hyperparameters)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from dislab.reproduce.base import CPU_BASE, TINY_BASE, TINY_EVALUATE, Reproduction, save_figure
from dislab.reproduce.claims import (FAIL, INCONCLUSIVE, PASS, Budget, Claim, Outcome, Row, values,
                                     variance_share)

SOURCE = "Locatello et al. 2019 (ICML), Sec. 5: score distributions per model over seeds and hyperparameters"
MODELS = ("beta_vae", "annealed_vae", "factor_vae", "dip_vae_i", "dip_vae_ii", "beta_tcvae")


def check_within_model_spread(rows: Sequence[Row], score: str) -> Outcome:
    """η² of ``score`` by model < 0.5, over models with >= 2 finished runs (>= 2 such models)."""
    groups = {m: v for m in MODELS if len(v := values(rows, score, model=m)) >= 2}
    if len(groups) < 2:
        return Outcome(INCONCLUSIVE, {}, f"fewer than 2 models with >= 2 finished runs scored {score}")
    share = variance_share(groups)
    share["per_model_mean"] = {m: sum(v) / len(v) for m, v in groups.items()}
    detail = (f"{score}: model explains η² = {share['eta2']:.2f} of the variance (sd of model means "
              f"{share['between_sd']:.3f}, pooled sd within a model {share['within_sd']:.3f}; "
              f"{share['n_runs']} runs, {share['n_groups']} models)")
    return Outcome(PASS if share["eta2"] < 0.5 else FAIL, share, detail)


class Locatello2019(Reproduction):
    name = "locatello2019"
    title = "Seeds and hyperparameters matter as much as the model (six models on dSprites)"
    paper = ("F. Locatello, S. Bauer, M. Lucic, G. Rätsch, S. Gelly, B. Schölkopf, O. Bachem. "
             "Challenging Common Assumptions in the Unsupervised Learning of Disentangled "
             "Representations. ICML 2019.")
    metrics = ("mig", "dci")
    udr = True  # duan2020 reads the same study
    # the reference's UDR protocol (disentanglement_lib udr.py): latents with mean KL <= 0.01
    # nats are inactive (dislab's own default, 0.1, is argued in dislab/metrics/active.py), on
    # 1,000 points per model. One dict: a second assignment once silently dropped the threshold.
    udr_options = {"kl_threshold": 0.01, "n_points": 1000}
    # the reference study's grids (disentanglement_lib unsupervised_study_v1/sweep.py, docs/models.md)
    chain = [
        {"model": "beta_vae", "beta": [1.0, 2.0, 4.0, 6.0, 8.0, 16.0]},
        {"model": "annealed_vae", "c_max": [5.0, 10.0, 25.0, 50.0, 75.0, 100.0]},
        {"model": "factor_vae", "gamma": [10.0, 20.0, 30.0, 40.0, 50.0, 100.0]},
        {"model": "dip_vae_i", "lambda_od": [1.0, 2.0, 5.0, 10.0, 20.0, 50.0]},
        {"model": "dip_vae_ii", "lambda_od": [1.0, 2.0, 5.0, 10.0, 20.0, 50.0]},
        {"model": "beta_tcvae", "beta": [1.0, 2.0, 4.0, 6.0, 8.0, 10.0]},
    ]
    # cpu: one middle value of each grid; AnnealedVAE's capacity ramp scaled to the budget as the
    # reference's (100,000 of 300,000 steps: a third)
    _cpu_grid = {"beta_vae": {"beta": [4.0]}, "annealed_vae": {"c_max": [25.0], "iteration_threshold": 270},
                 "factor_vae": {"gamma": [30.0]}, "dip_vae_i": {"lambda_od": [5.0]},
                 "dip_vae_ii": {"lambda_od": [5.0]}, "beta_tcvae": {"beta": [6.0]}}
    budgets = {
        "paper": Budget("paper", {"dataset": "dsprites", "batch_size": 64, "lr": 1e-4, "steps": 300_000},
                        seeds=50, cost="6 models × 6 values × 50 seeds × 300,000 steps: 1,800 models, a cluster"),
        "cpu": Budget("cpu", {**CPU_BASE, "steps": 800}, seeds=3, grid=_cpu_grid,
                      cost="6 models × 1 value × 3 seeds × 800 steps of 256: ~6 min a run with its "
                           "evaluation on 2 cores, ~1.8 h in all"),
        "tiny": Budget("tiny", dict(TINY_BASE), seeds=2, evaluate=dict(TINY_EVALUATE),
                       grid={"beta_vae": {"beta": [4.0]}, "beta_tcvae": {"beta": [6.0]},
                             "dip_vae_i": {"lambda_od": [5.0]}}),
    }

    def claims(self) -> list[Claim]:
        out = []
        for score, label in (("mig.mig", "MIG"), ("dci.disentanglement", "DCI disentanglement")):
            out.append(Claim(f"within_model_{score.split('.')[0]}",
                             f"Seeds and hyperparameters move {label} at least as much as the choice of model",
                             SOURCE, "most of the spread lies within each model (no model reliably better)",
                             lambda rows, s=score: check_within_model_spread(rows, s)))
        return out

    def figures(self, rows: Sequence[Row], out: Path) -> list[Path]:
        """Violins of MIG and DCI-D per model, every run as a dot (Locatello et al.'s figure)."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
        for ax, (score, label) in zip(axes, (("mig.mig", "MIG"), ("dci.disentanglement", "DCI disentanglement"))):
            data = [(m, v) for m in MODELS if (v := values(rows, score, model=m))]
            if not data:
                continue
            pos = list(range(len(data)))
            multi = [(p, v) for p, (_, v) in zip(pos, data) if len(v) > 1]
            if multi:
                ax.violinplot([v for _, v in multi], positions=[p for p, _ in multi], showmedians=True)
            for p, (_, v) in zip(pos, data):
                ax.scatter([p] * len(v), v, s=10, color="k", alpha=0.6, zorder=3)
            ax.set_xticks(pos, [m for m, _ in data], rotation=30, ha="right", fontsize=8)
            ax.set_ylabel(label)
        fig.suptitle("Scores per model over seeds (and hyperparameters) on dSprites")
        return [save_figure(fig, out / "locatello2019_violins.png")]
