#!/bin/bash
# Whole `dislab train` processes of two checkouts of dislab, alternating, both orders
# (docs/benchmarks.md, "One training loop for lone and stacked runs"). Prints the wall seconds and
# the logged images/s of each run. Run it on a quiet machine, from anywhere:
#
#     git worktree add /tmp/dislab-old 896041d
#     benchmarks/train_ab.sh /tmp/dislab-old .          # OLD NEW checkouts; ~10 min
#
# Uses the python of ./.venv (override with PYTHON=...); each run trains beta_tcvae on dSprites for
# 150 steps of 256 into a temporary folder.
set -euo pipefail
old=$(cd "$1" && pwd); new=$(cd "$2" && pwd)
python=${PYTHON:-$(cd "$(dirname "$0")/.." && pwd)/.venv/bin/python}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for order in "old new" "new old" "old new" "new old"; do
  for v in $order; do
    src=$old; [ "$v" = new ] && src=$new
    out="$tmp/$v-$RANDOM"
    t0=$(date +%s.%N)
    PYTHONPATH=$src "$python" -m dislab.cli train --model beta_tcvae --dataset dsprites --set steps=150 \
      --set batch_size=256 --set beta=6 --set log_every=50 --out "$out" --no-progress > /dev/null 2>&1
    t1=$(date +%s.%N)
    "$python" - "$v" "$t0" "$t1" "$out/train_log.jsonl" <<'PY'
import json, sys
v, t0, t1, log = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
speeds = [round(json.loads(line)["images_per_s"]) for line in open(log) if line.strip()]
print(f"{v:>3}  {t1 - t0:6.1f} s  logged images/s {speeds}")
PY
  done
done
