"""Cost of a training step with each prior and with the hierarchical models, side by side.

    .venv/bin/python benchmarks/priors_hierarchical.py [--batch 64] [--repeats 5] [--steps 5]

One process; for each variant, ``repeats`` rounds of ``steps`` full training steps (forward,
backward, Adam) on random 64×64 RGB batches, rounds interleaved across variants so the machine's
noise hits them alike. Prints the median seconds per step and the ratio to β-VAE with the standard
normal prior (conv64). Also times ``dislab.diagnostics.decoder_jacobian`` (jacfwd) against
``torch.func.jacrev`` on 4 codes of the conv64 decoder.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from dislab.models import build_model

VARIANTS = [
    ("beta_vae, normal", "beta_vae", {}),
    ("beta_vae, mog (K=10)", "beta_vae", {"prior": "mog"}),
    ("beta_vae, vamp (K=50)", "beta_vae", {"prior": "vamp"}),
    ("beta_vae, flow", "beta_vae", {"prior": "flow"}),
    ("ladder_vae (3 levels)", "ladder_vae", {}),
    ("pro_vlae (3 levels)", "pro_vlae", {}),
    ("pro_vlae, beta_tcvae", "pro_vlae", {"objective": "beta_tcvae", "beta": 6.0}),
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--steps", type=int, default=5)
    args = ap.parse_args()
    torch.manual_seed(0)
    shape = (3, 64, 64)
    x = torch.rand(args.batch, *shape)
    setups = []
    for label, name, opts in VARIANTS:
        model = build_model(name, observation_shape=shape, **opts)
        setups.append((label, model, torch.optim.Adam(model.parameters(), lr=1e-4)))
    times = {label: [] for label, _, _ in setups}
    for _ in range(args.repeats):
        for label, model, opt in setups:
            model(x, 0).loss.backward()  # warm
            opt.zero_grad()
            t = time.perf_counter()
            for step in range(args.steps):
                out = model(x, step)
                opt.zero_grad()
                out.loss.backward()
                opt.step()
            times[label].append((time.perf_counter() - t) / args.steps)
    base = statistics.median(times[VARIANTS[0][0]])
    print(f"batch {args.batch}, {args.repeats} rounds of {args.steps} steps, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    print(f"| variant | s/step (median) | × beta_vae normal |\n|---|---|---|")
    for label, _, _ in setups:
        med = statistics.median(times[label])
        print(f"| {label} | {med:.3f} | {med / base:.2f} |")

    from torch.func import jacrev

    from dislab.diagnostics import decoder_jacobian

    model = setups[0][1].eval()
    z = torch.randn(4, model.config.n_latents)
    fwd, rev = [], []
    for _ in range(2):
        t = time.perf_counter()
        decoder_jacobian(model.decode_mean, z)
        fwd.append(time.perf_counter() - t)
        t = time.perf_counter()
        with torch.no_grad():  # reverse mode: D = 12,288 cotangents per code, in chunks of 512
            jac = jacrev(lambda zi: model.decode_mean(zi[None]).reshape(-1), chunk_size=512)
            torch.stack([jac(zi) for zi in z])
        rev.append(time.perf_counter() - t)
    print(f"\n| Jacobian of the conv64 decoder, 4 codes | s (median of 2) |\n|---|---|")
    print(f"| jacfwd (decoder_jacobian) | {statistics.median(fwd):.3f} |")
    print(f"| jacrev | {statistics.median(rev):.3f} |")


if __name__ == "__main__":
    main()
