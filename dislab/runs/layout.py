"""The names of the files and folders dislab writes, in one place (docs/design.md "Run folders").

Every stage that reads or writes a run or study folder takes its names from here; this module
imports nothing, so the lowest layers (metrics, viz) may use it.

A run folder::

    config.json            what was trained (TrainConfig + the model's full config)
    model.safetensors      the weights in force (rewritten at each checkpoint)
    train_log.jsonl        one JSON row per logging interval
    checkpoint/latest.json names the one complete checkpoint folder, checkpoint/step-N/
    evaluation.json        the metrics of the weights in force
    report.html            the report
    tensorboard/           optional event files
    train.lock             the flock a trainer, a resume or an evaluation holds

A study folder: study.json (the plan), and per run ``runs/NAME/`` (a run folder),
``status/NAME.json``, ``locks/NAME.lock``, ``logs/NAME.log``; udr.json when UDR was run.
"""
from __future__ import annotations

# a run folder
CONFIG = "config.json"
WEIGHTS = "model.safetensors"
TRAIN_LOG = "train_log.jsonl"
CHECKPOINT = "checkpoint"
EVALUATION = "evaluation.json"
REPORT = "report.html"
TENSORBOARD = "tensorboard"
TRAIN_LOCK = "train.lock"

# inside CHECKPOINT
MANIFEST = "latest.json"  # {"step": N, "folder": "step-N"}
CHECKPOINT_WEIGHTS = "model.safetensors"
CHECKPOINT_OPTIMIZERS = "optimizer.safetensors"
CHECKPOINT_RNG = "rng.safetensors"
CHECKPOINT_STATE = "state.json"
CHECKPOINT_FILES = (CHECKPOINT_WEIGHTS, CHECKPOINT_OPTIMIZERS, CHECKPOINT_RNG, CHECKPOINT_STATE)

# a study folder
STUDY_JSON = "study.json"
STUDY_RUNS = "runs"
STUDY_STATUS = "status"
STUDY_LOCKS = "locks"
STUDY_LOGS = "logs"
UDR_JSON = "udr.json"

__all__ = ["CONFIG", "WEIGHTS", "TRAIN_LOG", "CHECKPOINT", "EVALUATION", "REPORT", "TENSORBOARD", "TRAIN_LOCK",
           "MANIFEST", "CHECKPOINT_WEIGHTS", "CHECKPOINT_OPTIMIZERS", "CHECKPOINT_RNG", "CHECKPOINT_STATE",
           "CHECKPOINT_FILES", "STUDY_JSON", "STUDY_RUNS", "STUDY_STATUS", "STUDY_LOCKS", "STUDY_LOGS", "UDR_JSON"]
