"""``dislab train``: train a model into a run folder, or resume one.

    dislab train --model beta_tcvae --dataset dsprites --set beta=6 --set steps=30000 --out runs/NAME
    dislab train --config run.toml [--set seed=3] --out runs/NAME
    dislab train --resume runs/NAME [--set steps=60000]

Settings are applied in order: the TOML file, then --model/--dataset, then each --set.
"""
from __future__ import annotations

import argparse

from dislab.errors import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = (
        "keys of --set: any TrainConfig field (steps, batch_size, lr, betas, seed, device, log_every,\n"
        "checkpoint_every, channels_last, tensorboard), any field of the model's config (beta, n_latents,\n"
        "...), or model_options.KEY / dataset_options.KEY. Values are JSON (6, 1e-4, true, [0.5, 0.9])\n"
        "or plain strings. See docs/training.md."
    )
    parser.add_argument("--model", help="model name (dislab.models.MODELS), e.g. beta_tcvae")
    parser.add_argument("--dataset", help="dataset name (dislab.data.DATASETS), e.g. dsprites")
    parser.add_argument("--config", metavar="FILE", help="a TOML file of settings (top-level keys as "
                        "for --set; [model_options] and [dataset_options] tables)")
    parser.add_argument("--set", metavar="KEY=VALUE", action="append", default=[], dest="sets",
                        help="set one option (repeatable)")
    parser.add_argument("--out", metavar="DIR", help="run folder to create (default runs/<model>-<dataset>-s<seed>-<time>)")
    parser.add_argument("--resume", metavar="RUN", help="continue this run folder from its last checkpoint "
                        "(only steps, log_every, checkpoint_every, tensorboard, device may change)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing run folder at --out")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def main(args: argparse.Namespace) -> int:
    from dislab.training.config import apply_overrides, parse_sets, read_config_file
    from dislab.training.fit import resume, train

    sets = parse_sets(args.sets)
    if args.resume:
        clash = [flag for flag, v in (("--model", args.model), ("--dataset", args.dataset),
                                      ("--config", args.config), ("--out", args.out),
                                      ("--overwrite", args.overwrite)) if v]
        if clash:
            raise ConfigError(f"--resume continues an existing run; {', '.join(clash)} cannot be given with it")
        path = resume(args.resume, changes=sets, progress=not args.no_progress)
    else:
        if not (args.model or args.config or "model" in sets):
            raise ConfigError("say what to train: --model NAME [--dataset NAME], --config FILE, "
                              "or --resume RUN (see dislab train --help)")
        overrides = read_config_file(args.config) if args.config else {}
        if args.model:
            overrides["model"] = args.model
        if args.dataset:
            overrides["dataset"] = args.dataset
        overrides.update(sets)
        config = apply_overrides(overrides)
        path = train(config, out=args.out, progress=not args.no_progress, overwrite=args.overwrite)
    print(f"run folder: {path}")
    return 0
