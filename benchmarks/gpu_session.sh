#!/bin/bash
# One short GPU session, as run for benchmarks/RESULTS.md and results/ (about 9 minutes):
#   1. the harness at 256×256 (fp32, bf16, bf16+channels-last; one SALAD epoch of 17,922 images),
#      and torch.compile for SALAD;
#   2. Tables III–V on the chest X-ray with the cpu preset (the GPU runs the CPU's protocol);
#   3. paper-preset Table I cells on the chest X-ray, SALAD first, until the time is up.
# Every phase has a deadline; whatever finished is packed into $OUT/runs.tgz.
#   OUT=out DATA=../shared/data/chest_xray DEVICE=cuda BUDGET_S=540 bash benchmarks/gpu_session.sh
set -u
OUT=${OUT:-gpu-out} DATA=${DATA:-../shared/data/chest_xray} DEVICE=${DEVICE:-cuda}
SIZE=${SIZE:-256} EPOCH_IMAGES=${EPOCH_IMAGES:-17922} BUDGET_S=${BUDGET_S:-540}
RUNS=${RUNS:-/tmp/benchbox-gpu-runs}
export PYTHONUNBUFFERED=1
mkdir -p "$OUT" "$RUNS"
exec > >(tee -a "$OUT/log.txt") 2>&1
trap 'tar czf "$OUT/runs.tgz" -C "$RUNS" .' EXIT
# Run "$@" for at most $1 seconds, never past the session's budget.
within() {
    local cap=$1; shift
    local left=$(( BUDGET_S - SECONDS ))
    (( left < cap )) && cap=$left
    (( cap > 5 )) || { echo "skipped (out of time): $*"; return; }
    timeout "$cap" "$@"
}

python3 -m pip install -q --no-deps --no-build-isolation -e . || exit 1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
python3 -c "import torch; print('torch', torch.__version__)"

echo "== harness $(date -u +%T)"
within 200 python3 benchmarks/bench.py --size "$SIZE" --device "$DEVICE" --variants fp32,bf16,bf16+cl \
    --epoch-method salad --epoch-images "$EPOCH_IMAGES" --epoch-variants fp32,bf16+cl --skip-data --out "$OUT/bench"
within 60 python3 benchmarks/bench.py --size "$SIZE" --device "$DEVICE" --methods salad \
    --variants fp32+compile,bf16+cl+compile --steps 20 --skip-data --out "$OUT/compile"

echo "== Tables III-V, cpu preset $(date -u +%T)"
for grid in table3 table4 table5; do
    within 300 benchbox run --preset cpu --grid $grid --dataset chest_xray --data-root "$DATA" \
        --device "$DEVICE" --checkpoint-every 5 --results-dir "$RUNS/cpu-preset"
done

echo "== Table I, paper preset $(date -u +%T)"
for seeds in 0 1,2; do
    within 600 benchbox run --preset paper --seeds $seeds --methods salad,ssim_ae,ganomaly,ae,vae,fanogan \
        --dataset chest_xray --data-root "$DATA" --device "$DEVICE" --checkpoint-every 25 --results-dir "$RUNS/paper"
done
echo "== end $(date -u +%T)"
