"""Training: the fit loop, run folders, atomic checkpoints and resume (docs/training.md).

    from dislab.training import TrainConfig, train, load, open_run

    run_dir = train(TrainConfig(model="beta_vae", dataset="toy_blobs", model_options={"beta": 4},
                                steps=2000), out="runs/demo")
    model = load(run_dir)                 # eval mode, on CPU unless asked
    run = open_run(run_dir)               # .path .config .model() .dataset() .train_log() .evaluation()

A run folder holds ``config.json``, ``model.safetensors``, ``checkpoint/`` (safetensors + JSON,
never pickle), ``train_log.jsonl`` and later ``evaluation.json``, ``report.html``, ``figures/``.
"""
from dislab.training.config import TrainConfig, apply_overrides, parse_sets, read_config_file
from dislab.training.fit import NonFiniteLossError, init_run, resume, select_device, train
from dislab.training.run import Run, load, open_run

__all__ = [
    "TrainConfig", "train", "init_run", "resume", "load", "open_run", "Run", "apply_overrides", "parse_sets",
    "read_config_file", "select_device", "NonFiniteLossError",
]
