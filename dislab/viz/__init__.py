"""Pictures of a run and its HTML report (docs/viz.md).

Each picture is a plain function returning a ``uint8`` array ``(H, W, 3)`` (grids of images) or a
matplotlib Figure (charts, drawn by Agg; no display is ever opened), saved with
:func:`dislab.viz.grid.save_picture`:

    traversals.traversal_grid / traversal_frames   latent traversals (PNG grid, GIF frames)
    reconstructions.reconstruction_grid            inputs over their reconstructions
    samples.samples_grid                           decoded samples of the prior
    kl.latent_activity / kl_bar_chart              per-latent KL (which latents are used)
    curves.training_curves                         loss and terms from train_log.jsonl
    heatmaps.mi_heatmap / hinton_diagram           MIG's mutual information, DCI's importance
    factors.latent_factor_plot                     each latent's mean code against each factor
    report.write_report                            report.html of a run folder

Modules are imported on use, so ``import dislab.viz`` does not import matplotlib.
"""
