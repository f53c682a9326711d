"""``dislab traverse``: latent traversals of a run, as a PNG grid or an animated GIF.

    dislab traverse runs/demo                          # runs/demo/figures/traversals.png
    dislab traverse runs/demo --latents 0,3,5 --steps 12 --out z035.png
    dislab traverse runs/demo --out traversals.gif     # all latents at once, 4 inputs

Latents are ranked by their mean KL over ``--n-encode`` (1,000) inputs of the run's dataset (rows
of the PNG, most used first; inactive ones dimmed); ``--latents`` keeps the order given. Active
means dislab's one definition (:mod:`dislab.metrics.active`: mean KL > 0.1 nats), measured on
those inputs, never on the few traversed ones, so the count agrees with the report's KL chart and
``dislab diagnose``.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from dislab.errors import ConfigError


def parse_latents(text: str | None) -> list[int] | None:
    """``"0,3,5"`` -> ``[0, 3, 5]``; None stays None."""
    if text is None:
        return None
    try:
        values = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise ConfigError(f"--latents expects comma-separated latent indices such as 0,3,5, got {text!r}") from None
    if not values:
        raise ConfigError(f"--latents expects comma-separated latent indices such as 0,3,5, got {text!r}")
    return values


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", metavar="RUN", help="run folder (from dislab train)")
    parser.add_argument("--latents", metavar="I,J,...", help="latents to traverse, e.g. 0,3,5 (default: all, sorted by KL)")
    parser.add_argument("--steps", type=int, default=10, help="columns of the PNG grid (default 10)")
    parser.add_argument("--out", metavar="FILE", help="FILE.png (grid) or FILE.gif (animation); "
                        "default RUN/figures/traversals.png")
    parser.add_argument("--mode", choices=("quantile", "fixed"), default="quantile",
                        help="sweep each latent between the 5%% and 95%% quantiles of its posterior means "
                        "(quantile, default) or over [-limit, limit] (fixed)")
    parser.add_argument("--limit", type=float, default=2.0, help="half-width of the fixed sweep (default 2)")
    parser.add_argument("--inputs", type=int, default=None, help="how many inputs (default 1 for PNG, 4 for GIF)")
    parser.add_argument("--index", metavar="I,J,...", help="flat dataset indices of the inputs (default: seeded draw)")
    parser.add_argument("--frames", type=int, default=20, help="frames of the GIF (default 20)")
    parser.add_argument("--fps", type=float, default=10.0, help="frames per second of the GIF (default 10)")
    parser.add_argument("--n-encode", type=int, default=1000, help="inputs encoded to rank latents and set quantiles (default 1000)")
    parser.add_argument("--kl-threshold", type=float, default=None,
                        help="a latent is active above this mean KL in nats (default 0.1, "
                        "dislab.metrics.active.ACTIVE_KL_THRESHOLD)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the drawn inputs (default 0)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def main(args: argparse.Namespace) -> int:
    import numpy as np

    from dislab.training import open_run
    from dislab.viz.grid import save_picture
    from dislab.viz.kl import encode_images, encode_sample, latent_activity
    from dislab.viz.traversals import check_latents, sweep_values, traversal_frames, traversal_grid

    out = Path(args.out) if args.out else Path(args.run) / "figures" / "traversals.png"
    suffix = out.suffix.lower()
    if suffix not in (".png", ".gif"):
        raise ConfigError(f"--out must end in .png (grid) or .gif (animation), got {str(out)!r}")
    latents = parse_latents(args.latents)
    if args.steps < 2:
        raise ConfigError(f"--steps must be >= 2, got {args.steps}")
    progress = not args.no_progress

    run = open_run(args.run)
    model = run.model()
    n_latents = int(model.config.n_latents)
    latents = None if latents is None else list(check_latents(latents, n_latents))  # clear message first
    dataset = run.dataset()
    _, _, mu, logvar = encode_sample(model, dataset, args.n_encode, seed=args.seed, progress=progress)
    activity = latent_activity(model, mu, logvar, seed=args.seed, threshold=args.kl_threshold)
    steps = args.steps if suffix == ".png" else 2
    values = sweep_values(n_latents, steps, mode=args.mode, limit=args.limit, mu=mu)

    n_inputs = args.inputs if args.inputs is not None else (1 if suffix == ".png" else 4)
    if args.index:
        index = np.asarray(parse_latents(args.index), dtype=np.int64)  # same integer-list grammar
        index = dataset.validate_indices(index)
    else:
        if n_inputs < 1:
            raise ConfigError(f"--inputs must be >= 1, got {n_inputs}")
        index = np.random.default_rng(args.seed + 1).choice(len(dataset), size=min(n_inputs, len(dataset)),
                                                            replace=False)
    codes, _ = encode_images(model, dataset.images(index))
    sort = latents is None
    if suffix == ".png":
        picture = traversal_grid(model, codes, latents=latents, values=values, activity=activity, sort=sort)
    else:
        picture = traversal_frames(model, codes, latents=latents, values=values, activity=activity, sort=sort,
                                   n_frames=args.frames, progress=progress)
    save_picture(picture, out, fps=args.fps)
    print(f"traversals of {len(index)} input(s); {activity.summary()}: {out}")
    return 0
