#!/bin/bash
# One short GPU session for the paper's protocol on the chest X-ray (official split), all in
# one command of at most BUDGET_S seconds. STAGES picks what runs (default: all but speed):
#   paper     in the background from the start: the paper preset (256×256, 200 epochs, bf16)
#             of PAPER_METHODS for PAPER_SEEDS with `--jobs PAPER_JOBS` (SALAD first). A SALAD
#             cell takes about 265 s alone on an H200; with 75 cpu-preset cells beside it, it
#             reached epoch 154 of 200 in 550 s: run it alone (STAGES=paper) once the other
#             stages are committed. Unfinished cells are lost (their checkpoints are too large
#             to come back); finished ones add up over slots. PAPER_JOBS=1 (the default) runs
#             the cells one after another: several SALAD cells at once share the GPU without
#             any gain (benchmarks/RESULTS.md) and would all finish late, or not at all;
#   dev       the SALAD hypotheses of methods/salad/README.md and three baselines on the *dev*
#             protocol (held-out training patients against training pneumonia; cpu preset),
#             then one SALAD variant picked by mean dev AUROC (benchmarks/select_on_dev.py) —
#             never by test AUROC;
#   official  Table I on the official split with the cpu preset, plus the picked variant;
#   ablations Tables III–V on the official split with the cpu preset;
#   select    (only when named) Table I's deep methods and CutPaste/AnatPaste (SELECT_METHODS) on
#             the official split, cpu preset, under --select test and --select val (val needs
#             train/PNEUMONIA in DATA: the validation split is held-out training patients against
#             training pneumonia). The paper preset under the test rule (the SALAD paper's likely
#             rule for its baselines): STAGES=paper PAPER_METHODS=salad,ganomaly EXTRA='--select test';
#   speed     (only when named) SPEED_METHODS' training steps at 256×256 in SPEED_VARIANTS
#             (bench.py's variants: channels-last, InstanceNorm as GroupNorm, ...), a
#             torch.profiler table of SALAD's step, and SALAD's summed throughput with
#             SPEED_JOBS processes at once (into $OUT/speed; SPEED_JOBS= skips it).
# Results go to $RUNS/{dev,official}-{cpu,paper}-preset (default RUNS=results/cells, the
# committed cells, so that finished cells are skipped and new ones add up); several
# `benchbox run`s share a folder, per-cell locks spread the cells over them. What is there at
# the end is packed into $OUT/<folder>.tgz (result JSON and the small artifacts, never
# checkpoints or logs). A CPU dry run:
#   EXTRA="--epochs 1 --image-size 32 --seeds 0" DEVICE=cpu PAPER_SEEDS= RUNS=/tmp/r bash benchmarks/gpu_session.sh
# As run (the data copied into the ignored .data/ and carried):
#   OUT=$OUT DATA=.data/chest_xray DEVICE=cuda BUDGET_S=550 PAPER_SEEDS=0 PAPER_JOBS=1 \
#       PAPER_METHODS=salad bash benchmarks/gpu_session.sh   (the first 2026-11-26 slot)
#   then, in the second slot (train/PNEUMONIA left out of .data: only the dev stage needs it,
#   and the tree must stay under 64 MiB), two calls:
#   OUT=$OUT DATA=.data/chest_xray DEVICE=cuda BUDGET_S=210 STAGES=speed RUNS=/tmp/runs bash benchmarks/gpu_session.sh
#   OUT=$OUT DATA=.data/chest_xray DEVICE=cuda BUDGET_S=575 STAGES=paper PAPER_SEEDS=0,1,2 PAPER_JOBS=1 \
#       PAPER_METHODS=salad RUNS=/tmp/runs bash benchmarks/gpu_session.sh   (seeds 0 and 1 finished)
# Next: SALAD's seed 2 (PAPER_SEEDS=2; 260–271 s of training a cell on an H200), then AnatPaste
# (PAPER_METHODS='cutpaste[augment=anatpaste]'), 0.809 at the cpu preset on the CPU; for speed,
# STAGES=speed SPEED_JOBS= (the default variants: does channels-last pay once InstanceNorm runs
# as GroupNorm? SALAD's profile spends 23% on layout transposes, benchmarks/RESULTS.md; and
# bf16 against bf16+sync: what GANomaly's deferred collapse check gains).
# Then, in its own call: what choosing the epoch on the test set adds at 200 epochs (the paper
# preset under --select test, above; 0.03–0.05 AUROC at the cpu preset).
set -u
OUT=${OUT:-gpu-out} DATA=${DATA:-../shared/data/chest_xray} DEVICE=${DEVICE:-cuda}
BUDGET_S=${BUDGET_S:-560} RUNS=${RUNS:-results/cells} EXTRA=${EXTRA:-}
STAGES=${STAGES:-paper dev official ablations}  # and `speed`, only when named
PAPER_SEEDS=${PAPER_SEEDS-0,1,2} PAPER_JOBS=${PAPER_JOBS:-1} JOBS=${JOBS:-5}
PAPER_METHODS=${PAPER_METHODS:-salad,ganomaly,ssim_ae,ae,vae,fanogan}
SELECT_METHODS=${SELECT_METHODS:-ae,vae,fanogan,ganomaly,ssim_ae,salad,cutpaste,cutpaste[augment=anatpaste]}
SPEED_METHODS=${SPEED_METHODS:-salad,ganomaly} SPEED_JOBS=${SPEED_JOBS-1,2,4,8} SPEED_SIZE=${SPEED_SIZE:-256}
SPEED_VARIANTS=${SPEED_VARIANTS:-bf16,bf16+sync,bf16+cl,bf16+gn,bf16+cl+gn}  # the second slot ran bf16,bf16+heur
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
export BENCHBOX_CACHE_DIR=${BENCHBOX_CACHE_DIR:-/tmp/benchbox-cache}
mkdir -p "$OUT" "$RUNS"
exec > >(tee -a "$OUT/log.txt") 2>&1
pack() {  # one archive per results folder: each comes back only under 16 MiB
    shopt -s nullglob
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

has() { [[ " $STAGES " == *" $1 "* ]]; }
echo "== decode once what the stages need $(date -u +%T)"
NEEDS=()
has paper && NEEDS+=(official:256)
{ has official || has ablations || has select; } && NEEDS+=(official:64)
has dev && NEEDS+=(dev:64)
python3 - "$DATA" "${NEEDS[@]}" <<'EOF'
import sys
from benchbox.datasets.folder import ChestXray
for need in sys.argv[2:]:
    protocol, size = need.split(":")
    data = ChestXray(data_root=sys.argv[1], protocol=protocol)
    for split in data.splits():
        data.load(split, int(size))
EOF

has speed && { echo "== speed: training-step variants, a profile, N cells at once $(date -u +%T)"
within 90 python3 benchmarks/bench.py --size "$SPEED_SIZE" --device "$DEVICE" --methods "$SPEED_METHODS" --variants "$SPEED_VARIANTS" \
    --steps 10 --skip-data --matmul-seconds 1 --out "$OUT/speed"
within 30 python3 benchmarks/bench.py --profile salad:bf16 --size "$SPEED_SIZE" --device "$DEVICE" --out "$OUT/speed" > /dev/null
[ -n "$SPEED_JOBS" ] && within 150 python3 benchmarks/jobs_throughput.py --method salad --size "$SPEED_SIZE" --device "$DEVICE" --variant bf16 \
    --jobs "$SPEED_JOBS" --seconds 12 --out "$OUT/speed"; }

echo "== paper preset in the background $(date -u +%T)"
PAPER_PIDS=() PICKED=salad
if has paper && [ -n "$PAPER_SEEDS" ]; then
    within "$BUDGET_S" benchbox run --preset paper $EXTRA --precision bf16 --seeds "$PAPER_SEEDS" --jobs "$PAPER_JOBS" \
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

has select && { echo "== official split: the checkpoint rules, cpu preset $(date -u +%T)"
for rule in test val; do
    parallel 200 benchbox run --preset cpu $EXTRA --select $rule --methods "$SELECT_METHODS" "${COMMON[@]}" \
        --results-dir "$RUNS/official-cpu-preset"
done
benchbox table --results-dir "$RUNS/official-cpu-preset"; }

echo "== waiting for the paper preset $(date -u +%T)"
(( ${#PAPER_PIDS[@]} )) && wait "${PAPER_PIDS[@]}"
tail -n 20 "$OUT/paper.txt" 2>/dev/null
[ -d "$RUNS/official-paper-preset" ] && benchbox table --results-dir "$RUNS/official-paper-preset"
echo "== end $(date -u +%T)"
