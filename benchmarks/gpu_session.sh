#!/bin/bash
# One short GPU session for the paper's protocol on the chest X-ray (official split), all in
# one command of at most BUDGET_S seconds:
#   1. in the background from the start: paper-preset SALAD (256×256, 200 epochs, bf16) for
#      PAPER_SEEDS, one process per seed;
#   2. the SALAD hypotheses of methods/salad/README.md and three baselines on the *dev*
#      protocol (held-out training patients against training pneumonia; cpu preset);
#   3. one SALAD variant picked by mean dev AUROC (benchmarks/select_on_dev.py) — never by
#      test AUROC;
#   4. Table I on the official split with the cpu preset, plus the picked variant, then the
#      ablation grids (Tables III–V) on the official split while time is left.
# Several `benchbox run`s share a results folder: per-cell locks spread the cells over them.
# Whatever finished is packed into $OUT/<folder>.tgz (result JSON and the small artifacts, never
# checkpoints). On a CPU, for a dry run: EXTRA="--epochs 1 --image-size 32" DEVICE=cpu PAPER_SEEDS=
#   OUT=out DATA=.data/chest_xray DEVICE=cuda BUDGET_S=560 bash benchmarks/gpu_session.sh
set -u
OUT=${OUT:-gpu-out} DATA=${DATA:-../shared/data/chest_xray} DEVICE=${DEVICE:-cuda}
BUDGET_S=${BUDGET_S:-560} RUNS=${RUNS:-/tmp/benchbox-gpu-runs} EXTRA=${EXTRA:-}
PAPER_SEEDS=${PAPER_SEEDS-0} JOBS=${JOBS:-5}
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
export BENCHBOX_CACHE_DIR=${BENCHBOX_CACHE_DIR:-/tmp/benchbox-cache}
mkdir -p "$OUT" "$RUNS"
exec > >(tee -a "$OUT/log.txt") 2>&1
pack() {  # one archive per results folder: each comes back only under 16 MiB
    for dir in "$RUNS"/*/; do
        tar czf "$OUT/$(basename "$dir").tgz" --exclude='.checkpoints' --exclude='.locks' -C "$RUNS" "$(basename "$dir")"
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
PAPER_PIDS=()
for seed in ${PAPER_SEEDS//,/ }; do
    within "$BUDGET_S" benchbox run --preset paper --precision bf16 --seeds "$seed" --methods salad \
        "${COMMON[@]}" --results-dir "$RUNS/official-paper" > "$OUT/paper-seed$seed.txt" 2>&1 &
    PAPER_PIDS+=($!)
done

DEV=(salad 'salad[first_norm=false]' 'salad[ssl=none]' 'salad[latent_dim=100]' 'salad[center_lr=0.05]')
echo "== dev protocol: SALAD hypotheses, baselines, Table V $(date -u +%T)"
parallel 200 benchbox run --preset cpu $EXTRA --param chest_xray.protocol=dev \
    --methods "$(IFS=,; echo "${DEV[*]}"),ae,ssim_ae,ganomaly,salad[score=image],salad[score=center]" \
    "${COMMON[@]}" --results-dir "$RUNS/dev-cpu"
benchbox table --results-dir "$RUNS/dev-cpu"
PICKED=$(python3 benchmarks/select_on_dev.py "$RUNS/dev-cpu" chest_xray "${DEV[@]}")
echo "picked on the dev protocol: $PICKED"

echo "== official split: Table I (+ the picked variant), cpu preset $(date -u +%T)"
parallel 200 benchbox run --preset cpu $EXTRA --methods "ae,vae,fanogan,ganomaly,ssim_ae,salad,$PICKED" \
    "${COMMON[@]}" --results-dir "$RUNS/official-cpu"
benchbox table --results-dir "$RUNS/official-cpu"

echo "== official split: Tables III-V, cpu preset $(date -u +%T)"
for grid in table3 table4 table5; do
    parallel 120 benchbox run --preset cpu $EXTRA --grid $grid "${COMMON[@]}" --results-dir "$RUNS/official-cpu"
done
benchbox table --results-dir "$RUNS/official-cpu"

echo "== waiting for the paper preset $(date -u +%T)"
(( ${#PAPER_PIDS[@]} )) && wait "${PAPER_PIDS[@]}"
cat "$OUT"/paper-seed*.txt 2>/dev/null | tail -n 20
benchbox table --results-dir "$RUNS/official-paper"
echo "== end $(date -u +%T)"
