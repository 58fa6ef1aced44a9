#!/bin/bash
# Second short slot: the latent-reduction readings of eqs. 6-7, picked on dev, then official.
set -u
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=2 BENCHBOX_CACHE_DIR=/tmp/benchbox-cache
RUNS=/tmp/runs2; mkdir -p $RUNS
trap 'for d in $RUNS/*/; do tar czf "$OUT/$(basename $d)-2.tgz" --exclude=.checkpoints --exclude=.locks -C $RUNS $(basename $d); done' EXIT
python3 -m pip install -q --no-deps --no-build-isolation -e . || exit 1
COMMON=(--preset cpu --dataset chest_xray --data-root .data/chest_xray --device cuda)
par() { local p=(); for _ in 1 2 3 4; do timeout $1 "${@:2}" >/dev/null 2>&1 & p+=($!); done; wait "${p[@]}"; }
CANDS=(salad 'salad[latent_reduction=sum]' 'salad[latent_reduction=mean]')
par 110 benchbox run "${COMMON[@]}" --param chest_xray.protocol=dev --methods "$(IFS=,; echo "${CANDS[*]}")" --results-dir $RUNS/dev-cpu
benchbox table --results-dir $RUNS/dev-cpu
PICKED=$(python3 benchmarks/select_on_dev.py $RUNS/dev-cpu chest_xray "${CANDS[@]}")
echo "picked: $PICKED"
[ "$PICKED" != salad ] && par $((195 - SECONDS)) benchbox run "${COMMON[@]}" --methods "$PICKED" --results-dir $RUNS/official-cpu
benchbox table --results-dir $RUNS/official-cpu
echo "end at ${SECONDS}s"
