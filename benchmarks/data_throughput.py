"""Images per second delivered to the model, per procedural dataset, beside a preloaded tensor and
a conv64 VAE training step.

For each source and batch size (64 and 256): ``images(index)`` on fresh uniformly random index
batches, median over ``--repeats`` rounds after one warm-up (which also builds any lazy
templates; that one-off cost is reported separately). Reference rows:

* ``preloaded uint8``: indexing an in-memory uint8 tensor of 64×64 images (1 and 3 channels) and
  converting to float (the fastest a stored dataset can be fed);
* ``dsprites: rasterise per batch``: drawing every image of the batch from the geometry (numpy);
* ``dsprites: full pre-render, bit-packed``: all 737,280 images rendered once and kept with
  ``np.packbits`` (build time and memory reported), then unpacked per batch;
* ``conv64 VAE step``: one forward + backward + Adam step of ``dislab.models.vae.VAE`` (conv64
  encoder/decoder, 10 latents) at that batch size; the last column is the data time as a share of it.

    .venv/bin/python benchmarks/data_throughput.py
    .venv/bin/python benchmarks/data_throughput.py --repeats 10 --no-prerender   # quick
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from dislab.data import dsprites, get_dataset


def seconds(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def vae_step(batch: int):
    """A closure doing one conv64 VAE training step (forward, backward, Adam) at ``batch``."""
    from dislab.models.vae import VAE, VAEConfig

    torch.manual_seed(0)
    model = VAE(VAEConfig(observation_shape=(1, 64, 64)))
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    x = get_dataset("dsprites").images(np.arange(batch) * 2879)

    def step():
        out = model(x)
        opt.zero_grad(set_to_none=True)
        out.loss.backward()
        opt.step()

    return step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--batches", default="64,256")
    ap.add_argument("--no-prerender", action="store_true", help="skip the full pre-rendering row")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    batches = [int(b) for b in args.batches.split(",")]
    rng = np.random.default_rng(0)

    sources: dict[str, callable] = {}
    setup: dict[str, str] = {}
    names = ["dsprites", "color_dsprites", "noisy_dsprites", "scream_dsprites", "shapes3d", "toy_blobs"]
    for name in names:
        t = time.perf_counter()
        ds = get_dataset(name)
        ds.images([0])  # builds lazy templates/layers
        setup[name] = f"{time.perf_counter() - t:.2f} s first call"
        sources[name] = (lambda ds: lambda idx: ds.images(idx % len(ds)))(ds)

    n_pre = 100_000
    pre = torch.randint(0, 2, (n_pre, 1, 64, 64), dtype=torch.uint8)
    sources["preloaded uint8 (100k × 1×64×64)"] = lambda idx: pre[torch.from_numpy(idx % n_pre)].float()
    setup["preloaded uint8 (100k × 1×64×64)"] = f"{pre.numel() / 2**20:.0f} MiB"
    n_rgb = 20_000  # the 3-channel sets' reference: same output size as theirs
    pre_rgb = torch.randint(0, 256, (n_rgb, 3, 64, 64), dtype=torch.uint8)
    sources["preloaded uint8 (20k × 3×64×64)"] = lambda idx: pre_rgb[torch.from_numpy(idx % n_rgb)].float().div_(255)
    setup["preloaded uint8 (20k × 3×64×64)"] = f"{pre_rgb.numel() / 2**20:.0f} MiB"

    ds = get_dataset("dsprites")
    vals = ds.factor_values

    def rasterise(idx):
        f = ds.factors_of(idx)
        r = dsprites.rasterize(f[:, 0], vals[1][f[:, 1]], vals[2][f[:, 2]], 16.5 + f[:, 3], 16.5 + f[:, 4])
        return torch.from_numpy(r).float()[:, None]

    sources["dsprites: rasterise per batch"] = rasterise
    setup["dsprites: rasterise per batch"] = "none"

    if not args.no_prerender:
        t = time.perf_counter()
        packed = np.empty((len(ds), 512), np.uint8)
        for s in range(0, len(ds), 16384):
            idx = np.arange(s, min(s + 16384, len(ds)))
            packed[idx] = np.packbits(ds.images(idx).to(torch.uint8).numpy().reshape(len(idx), -1), axis=1)
        build = time.perf_counter() - t

        def unpack(idx):
            bits = np.unpackbits(packed[idx], axis=1)
            return torch.from_numpy(bits).view(len(idx), 1, 64, 64).float()

        sources["dsprites: full pre-render, bit-packed"] = unpack
        setup["dsprites: full pre-render, bit-packed"] = f"{build:.1f} s, {packed.nbytes / 2**20:.0f} MiB"

    # Round-robin: every round times one batch of every source and one VAE step per batch size,
    # so a load spike on this shared machine hits all rows alike; medians over rounds.
    steps = {b: vae_step(b) for b in batches}
    times = {(name, b): [] for name in sources for b in batches}
    step_times = {b: [] for b in batches}
    for b in batches:
        steps[b]()
        for fn in sources.values():
            fn(rng.integers(0, 737_280, size=b))
    for _ in range(args.repeats):
        for b in batches:
            step_times[b].append(seconds(steps[b]))
            for name, fn in sources.items():
                idx = rng.integers(0, 737_280, size=b)
                times[name, b].append(seconds(lambda: fn(idx)))
    step = {b: float(np.median(step_times[b])) for b in batches}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; medians of {args.repeats} rounds\n")
    head = "| source | set-up | " + " | ".join(f"img/s @{b} | share of a step @{b}" for b in batches) + " |"
    print(head)
    print("|" + "---|" * (2 + 2 * len(batches)))
    for name in sources:
        cells = []
        for b in batches:
            sec = float(np.median(times[name, b]))
            cells += [f"{b / sec:,.0f}", f"{100 * sec / step[b]:.2f}%"]
        print(f"| {name} | {setup[name]} | " + " | ".join(cells) + " |")
    cells = []
    for b in batches:
        cells += [f"{b / step[b]:,.0f} ({1000 * step[b]:.0f} ms/step)", "100%"]
    print("| conv64 VAE step (Adam) | - | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
