"""Training throughput: images per second of a full training step (batch sampling, forward,
backward, Adam) through dislab's trainer, beside a bare PyTorch loop of the same network, on CPU.

For each model of ``dislab.models.MODELS`` that imports and each batch size (64, 256):

* ``dislab``: the trainer's own hot path (``dislab.training.fit.sample_batch`` +
  ``training_step``: dataset indexing, forward, non-finite check, one gradient step per optimizer
  group), on a model prepared exactly as ``dislab.training.train`` prepares it (default config:
  channels_last);
* ``bare``: the conv64 encoder/decoder of the reference study written out below with plain
  ``torch.nn``, the VAE's negative ELBO (Bernoulli reconstruction summed over pixels + analytic
  KL, averaged over the batch) and ``torch.optim.Adam`` (torch's default implementation; dislab
  uses the fused one, timed alone in a third table), fed by indexing a preloaded image tensor;
  once in the default memory format and once channels_last. Models that build their own
  (non-conv64) networks are compared with a plain loop around their own module instead (``loss =
  model(x).loss; loss.backward(); adam.step()``). FactorVAE's dislab step also trains its
  discriminator (6 × 1000 MLP, own Adam), which the bare VAE loop does not.

The three variants run interleaved (``--rounds`` rounds of ``--steps`` steps each, order rotated
every round) after two warm-up steps each; the table gives median images/s and the ratio of
dislab to the faster bare variant. Then the peak resident memory (ru_maxrss) of whole training
processes: ``dislab train`` on dSprites (with its logging and checkpoints; its logged images/s
beside) and a bare loop, each in its own process.

    .venv/bin/python benchmarks/train_throughput.py                      # every model, ~10+ min
    .venv/bin/python benchmarks/train_throughput.py --models vae,factor_vae --batches 64 --rounds 3
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

DATASET = "dsprites"  # the reference study's dataset: 1 × 64 × 64 binary images


# -- the bare loop -----------------------------------------------------------------------------
class BareVAE(nn.Module):
    """conv64 (Locatello et al. 2019, Table 1) in plain torch.nn."""

    def __init__(self, channels: int = 1, n_latents: int = 10):
        super().__init__()
        self.enc = nn.Sequential(
            nn.Conv2d(channels, 32, 4, 2, 1), nn.ReLU(), nn.Conv2d(32, 32, 4, 2, 1), nn.ReLU(),
            nn.Conv2d(32, 64, 2, 2), nn.ReLU(), nn.Conv2d(64, 64, 2, 2), nn.ReLU(),
            nn.Flatten(), nn.Linear(1024, 256), nn.ReLU(), nn.Linear(256, 2 * n_latents))
        self.dec = nn.Sequential(
            nn.Linear(n_latents, 256), nn.ReLU(), nn.Linear(256, 1024), nn.ReLU(), nn.Unflatten(1, (64, 4, 4)),
            nn.ConvTranspose2d(64, 64, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.ReLU(),
            nn.ConvTranspose2d(32, 32, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(32, channels, 4, 2, 1))

    def loss(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        rec = F.binary_cross_entropy_with_logits(self.dec(z), x, reduction="sum") / x.shape[0]
        kl = 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1).sum(1).mean()
        return rec + kl


class PlainLoop:
    """A bare step: index a preloaded tensor, forward, backward, Adam."""

    def __init__(self, module, images: torch.Tensor, batch: int, channels_last: bool, loss_fn):
        self.fmt = torch.channels_last if channels_last else torch.contiguous_format
        self.module = module.to(memory_format=self.fmt) if channels_last else module
        self.opt = torch.optim.Adam(self.module.parameters(), lr=1e-4)
        self.images, self.batch, self.loss_fn = images, batch, loss_fn
        self.rng = np.random.default_rng(0)

    def step(self):
        idx = torch.from_numpy(self.rng.integers(0, len(self.images), self.batch))
        x = self.images[idx].to(memory_format=self.fmt)
        loss = self.loss_fn(self.module, x)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()


class DislabLoop:
    """The trainer's hot path on a model prepared as ``dislab.training.train`` prepares it."""

    def __init__(self, name: str, dataset, batch: int, precision: str = "fp32"):
        from dislab.models import MODELS
        from dislab.models.base import replace_config
        from dislab.training import TrainConfig
        from dislab.training.fit import prepare_model, select_device

        self.config = TrainConfig(model=name, dataset=DATASET, batch_size=batch, precision=precision)
        cls = MODELS.get(name)
        model = cls(replace_config(cls.config_class(), observation_shape=tuple(dataset.observation_shape),
                                   dataset_size=len(dataset)))
        self.device = select_device("cpu")
        self.model, self.groups, self.opts, self.fmt = prepare_model(model, self.config, self.device)
        self.model.train()
        self.dataset, self.rng, self.n = dataset, np.random.default_rng(0), 0

    def step(self):
        from dislab.training.fit import sample_batch, training_step

        x = sample_batch(self.dataset, self.config.batch_size, self.rng, self.device, self.fmt)
        training_step(self.model, x, self.n, self.groups, self.opts)
        self.n += 1


def images_per_s(loop, steps: int, batch: int) -> float:
    t = time.perf_counter()
    for _ in range(steps):
        loop.step()
    return steps * batch / (time.perf_counter() - t)


def compare(name: str, dataset, images: torch.Tensor, batch: int, rounds: int, steps: int) -> dict:
    torch.manual_seed(0)
    dl = DislabLoop(name, dataset, batch)
    conv = dl.model.config.encoder == "conv64" and dl.model.config.decoder == "conv64"
    if conv:
        def make(cl):
            return PlainLoop(BareVAE(images.shape[1], 10), images, batch, cl, lambda m, x: m.loss(x))
        kind = "conv64 VAE written out"
    else:
        from dislab.models import MODELS

        def make(cl):
            return PlainLoop(MODELS.get(name)(dl.model.config), images, batch, cl, lambda m, x: m(x, 0).loss)
        kind = "plain loop of its own module"
    loops = {"dislab": dl, "bare": make(False), "bare_cl": make(True)}
    for loop in loops.values():
        images_per_s(loop, 2, batch)  # warm-up: allocator, oneDNN primitives
    speeds: dict[str, list[float]] = {k: [] for k in loops}
    order = list(loops)
    for r in range(rounds):
        for k in order[r % 3:] + order[:r % 3]:
            speeds[k].append(images_per_s(loops[k], steps, batch))
    med = {k: statistics.median(v) for k, v in speeds.items()}
    return {"model": name, "batch": batch, "kind": kind, **med,
            "ratio": med["dislab"] / max(med["bare"], med["bare_cl"]),
            "ratio_default": med["dislab"] / med["bare"]}


def adam_table(models: list[str], rounds: int) -> list[dict]:
    """Milliseconds of one Adam step over each model's parameters (random gradients): torch's
    default implementation beside the fused one dislab uses."""
    from dislab.models import build_model

    rows = []
    for name in models:
        params = list(build_model(name, observation_shape=(1, 64, 64)).parameters())
        for q in params:
            q.grad = torch.randn_like(q)
        opts = {"default": torch.optim.Adam(params, lr=1e-4), "fused": torch.optim.Adam(params, lr=1e-4, fused=True)}
        times: dict[str, list[float]] = {k: [] for k in opts}
        for _ in range(rounds):
            for k, o in opts.items():
                o.step()  # first call builds the state
                t = time.perf_counter()
                for _ in range(5):
                    o.step()
                times[k].append((time.perf_counter() - t) / 5 * 1000)
        rows.append({"model": name, "params": sum(q.numel() for q in params),
                     **{k: statistics.median(v) for k, v in times.items()}})
    return rows


# -- peak memory of whole processes --------------------------------------------------------------
def child_bare(batch: int, steps: int) -> None:
    from dislab.data import get_dataset

    ds = get_dataset(DATASET)
    images = ds.images(np.random.default_rng(0).integers(0, len(ds), 4096))
    loop = PlainLoop(BareVAE(1, 10), images, batch, True, lambda m, x: m.loss(x))
    for _ in range(steps):
        loop.step()


# A fork of this (large) process would count our own pages in the child's ru_maxrss before its
# exec; so a small fresh interpreter starts the measured command and reports its children's peak.
RSS_WRAPPER = ("import resource, subprocess, sys; rc = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL); "
               "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(rc)")


def peak_rss(cmd: list[str]) -> float:
    """Peak resident set size of the process ``cmd`` in MiB (Linux ru_maxrss is in KiB)."""
    proc = subprocess.run([sys.executable, "-c", RSS_WRAPPER, *cmd], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd} failed: {proc.stderr[-2000:]}")
    return int(proc.stdout.split()[-1]) / 1024


def memory_table(models: list[str], batches: list[int], steps: int) -> list[dict]:
    rows = []
    for batch in batches:
        for name in models:
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "run"
                cmd = [sys.executable, "-m", "dislab.cli", "train", "--model", name, "--dataset", DATASET,
                       "--set", f"steps={steps}", "--set", f"batch_size={batch}", "--set", "log_every=5",
                       "--set", "checkpoint_every=10", "--out", str(out), "--no-progress"]
                rss = peak_rss(cmd)
                log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
                speed = statistics.median(r["images_per_s"] for r in log[1:]) if len(log) > 1 else float("nan")
            rows.append({"process": f"dislab train {name}", "batch": batch, "rss_mib": rss, "logged_images_per_s": speed})
        rss = peak_rss([sys.executable, __file__, "--child-bare", str(batch), str(steps)])
        rows.append({"process": "bare conv64 VAE loop", "batch": batch, "rss_mib": rss, "logged_images_per_s": float("nan")})
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", help="comma-separated model names (default: every model that imports)")
    p.add_argument("--batches", default="64,256")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=3, help="steps per timed block")
    p.add_argument("--memory-models", default="vae,factor_vae", help="models whose training process's peak RSS is measured")
    p.add_argument("--memory-steps", type=int, default=30)
    p.add_argument("--no-memory", action="store_true")
    p.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's default)")
    p.add_argument("--child-bare", nargs=2, type=int, metavar=("BATCH", "STEPS"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child_bare:
        child_bare(*args.child_bare)
        return

    if args.threads:
        torch.set_num_threads(args.threads)
        os.environ["OMP_NUM_THREADS"] = str(args.threads)  # the measured training processes too
    from dislab.data import get_dataset
    from dislab.models import MODELS

    names = args.models.split(",") if args.models else MODELS.names()
    models = []
    for name in names:
        try:
            MODELS.get(name)
            models.append(name)
        except ImportError as e:
            print(f"# skipping {name}: {e}")
    batches = [int(b) for b in args.batches.split(",")]
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores, "
          f"dataset {DATASET}, {args.rounds} rounds x {args.steps} steps, medians")
    dataset = get_dataset(DATASET)
    images = dataset.images(np.random.default_rng(0).integers(0, len(dataset), 4096))  # preloaded for bare
    print("| model | batch | bare loop | dislab img/s | bare img/s | bare channels_last img/s | dislab / best bare | dislab / bare default |")
    print("|---|---|---|---|---|---|---|---|")
    for batch in batches:
        for name in models:
            r = compare(name, dataset, images, batch, args.rounds, args.steps)
            print(f"| {r['model']} | {batch} | {r['kind']} | {r['dislab']:.0f} | {r['bare']:.0f} | "
                  f"{r['bare_cl']:.0f} | {r['ratio']:.2f} | {r['ratio_default']:.2f} |", flush=True)
    print()
    print("| model | parameters | Adam default ms | Adam fused ms (dislab) |")
    print("|---|---|---|---|")
    for r in adam_table(models, args.rounds):
        print(f"| {r['model']} | {r['params']:,} | {r['default']:.1f} | {r['fused']:.1f} |", flush=True)
    if not args.no_memory:
        print()
        print("| process | batch | peak RSS MiB | logged img/s (median, incl. logging + checkpoints) |")
        print("|---|---|---|---|")
        for r in memory_table(args.memory_models.split(","), batches, args.memory_steps):
            print(f"| {r['process']} | {r['batch']} | {r['rss_mib']:.0f} | {r['logged_images_per_s']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
