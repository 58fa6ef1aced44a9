#!/bin/bash
# One short GPU session for the paper's protocol on the chest X-ray (official split), all in
# one command of at most BUDGET_S seconds. STAGES picks what runs (default: all):
#   paper     in the background from the start: the paper preset (256×256, 200 epochs, bf16)
#             of PAPER_METHODS for PAPER_SEEDS with `--jobs PAPER_JOBS` (SALAD first). A SALAD
#             cell takes about 265 s alone on an H200; with 75 cpu-preset cells beside it, it
#             reached epoch 154 of 200 in 550 s: run it alone (STAGES=paper) once the other
#             stages are committed. Unfinished cells are lost (their checkpoints are too large
#             to come back); finished ones add up over slots. `--jobs` on a GPU is untested;
#             PAPER_JOBS=1 runs the cells one after another;
#   dev       the SALAD hypotheses of methods/salad/README.md and three baselines on the *dev*
#             protocol (held-out training patients against training pneumonia; cpu preset),
#             then one SALAD variant picked by mean dev AUROC (benchmarks/select_on_dev.py) —
#             never by test AUROC;
#   official  Table I on the official split with the cpu preset, plus the picked variant;
#   ablations Tables III–V on the official split with the cpu preset.
# Results go to $RUNS/{dev,official}-{cpu,paper}-preset (default RUNS=results/cells, the
# committed cells, so that finished cells are skipped and new ones add up); several
# `benchbox run`s share a folder, per-cell locks spread the cells over them. What is there at
# the end is packed into $OUT/<folder>.tgz (result JSON and the small artifacts, never
# checkpoints or logs). A CPU dry run:
#   EXTRA="--epochs 1 --image-size 32 --seeds 0" DEVICE=cpu PAPER_SEEDS= RUNS=/tmp/r bash benchmarks/gpu_session.sh
# As run (the data copied into the ignored .data/ and carried):
#   OUT=$OUT DATA=.data/chest_xray DEVICE=cuda BUDGET_S=550 PAPER_SEEDS=0 PAPER_JOBS=1 \
#       PAPER_METHODS=salad bash benchmarks/gpu_session.sh   (the 2026-11-26 slot; no --jobs then)
# Next: the paper preset of SALAD alone (STAGES=paper PAPER_METHODS=salad), then of AnatPaste
# (STAGES=paper PAPER_METHODS='cutpaste[augment=anatpaste]'), 0.809 at the cpu preset on the CPU.
set -u
OUT=${OUT:-gpu-out} DATA=${DATA:-../shared/data/chest_xray} DEVICE=${DEVICE:-cuda}
BUDGET_S=${BUDGET_S:-560} RUNS=${RUNS:-results/cells} EXTRA=${EXTRA:-}
STAGES=${STAGES:-paper dev official ablations}
PAPER_SEEDS=${PAPER_SEEDS-0,1,2} PAPER_JOBS=${PAPER_JOBS:-3} JOBS=${JOBS:-5}
PAPER_METHODS=${PAPER_METHODS:-salad,ganomaly,ssim_ae,ae,vae,fanogan}
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
export BENCHBOX_CACHE_DIR=${BENCHBOX_CACHE_DIR:-/tmp/benchbox-cache}
mkdir -p "$OUT" "$RUNS"
exec > >(tee -a "$OUT/log.txt") 2>&1
pack() {  # one archive per results folder: each comes back only under 16 MiB
    for dir in "$RUNS"/*/; do
        tar czf "$OUT/$(basename "$dir").tgz" --exclude='.checkpoints' --exclude='.locks' --exclude='*.log' \
            -C "$RUNS" "$(basename "$dir")"
    done
}
trap pack EXIT
# Run "$@" for at most $1 seconds, never past the session's budget.
within() {
    local cap=$1; shift
    local left=$(( BUDGET_S - SECONDS ))
    (( left < cap )) && cap=$left
    (( cap > 5 )) || { echo "skipped (out of time): $*"; return; }
    timeout "$cap" "$@"
}
# The same run in $JOBS processes at once, each at most $1 seconds.
# (A bare `wait` would also wait for the `tee` below: wait for these processes only.)
parallel() {
    local cap=$1 pids=(); shift
    for _ in $(seq "$JOBS"); do within "$cap" "$@" > /dev/null 2>&1 & pids+=($!); done
    wait "${pids[@]}"
}

python3 -m pip install -q --no-deps --no-build-isolation -e . || exit 1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || true
python3 -c "import torch; print('torch', torch.__version__)"
COMMON=(--dataset chest_xray --data-root "$DATA" --device "$DEVICE" --checkpoint-every 10m)

echo "== decode once $(date -u +%T)"
python3 - "$DATA" <<'EOF'
import sys
from benchbox.datasets.folder import ChestXray
for protocol in ("official", "dev"):
    data = ChestXray(data_root=sys.argv[1], protocol=protocol)
    for size in (32, 64, 256):
        if protocol == "dev" and size == 256:
            continue
        for split in data.splits():
            data.load(split, size)
EOF

echo "== paper preset in the background $(date -u +%T)"
PAPER_PIDS=() PICKED=salad
has() { [[ " $STAGES " == *" $1 "* ]]; }
if has paper && [ -n "$PAPER_SEEDS" ]; then
    within "$BUDGET_S" benchbox run --preset paper --precision bf16 --seeds "$PAPER_SEEDS" --jobs "$PAPER_JOBS" \
        --methods "$PAPER_METHODS" "${COMMON[@]}" --results-dir "$RUNS/official-paper-preset" \
        > "$OUT/paper.txt" 2>&1 &
    PAPER_PIDS+=($!)
fi

DEV=(salad 'salad[first_norm=false]' 'salad[ssl=none]' 'salad[latent_dim=100]' 'salad[center_lr=0.05]')
has dev && { echo "== dev protocol: SALAD hypotheses, baselines, Table V $(date -u +%T)"
parallel 200 benchbox run --preset cpu $EXTRA --param chest_xray.protocol=dev \
    --methods "$(IFS=,; echo "${DEV[*]}"),ae,ssim_ae,ganomaly,salad[anomaly_score=image],salad[anomaly_score=center]" \
    "${COMMON[@]}" --results-dir "$RUNS/dev-cpu-preset"
benchbox table --results-dir "$RUNS/dev-cpu-preset"
PICKED=$(python3 benchmarks/select_on_dev.py "$RUNS/dev-cpu-preset" chest_xray "${DEV[@]}")
echo "picked on the dev protocol: $PICKED"; }

has official && { echo "== official split: Table I (+ the picked variant), cpu preset $(date -u +%T)"
parallel 200 benchbox run --preset cpu $EXTRA --methods "ae,vae,fanogan,ganomaly,ssim_ae,salad,pca,knn,$PICKED" \
    "${COMMON[@]}" --results-dir "$RUNS/official-cpu-preset"
benchbox table --results-dir "$RUNS/official-cpu-preset"; }

has ablations && { echo "== official split: Tables III-V, cpu preset $(date -u +%T)"
for grid in table3 table4 table5; do
    parallel 120 benchbox run --preset cpu $EXTRA --grid $grid "${COMMON[@]}" --results-dir "$RUNS/official-cpu-preset"
done
benchbox table --results-dir "$RUNS/official-cpu-preset"; }

echo "== waiting for the paper preset $(date -u +%T)"
(( ${#PAPER_PIDS[@]} )) && wait "${PAPER_PIDS[@]}"
tail -n 20 "$OUT/paper.txt" 2>/dev/null
[ -d "$RUNS/official-paper-preset" ] && benchbox table --results-dir "$RUNS/official-paper-preset"
echo "== end $(date -u +%T)"
