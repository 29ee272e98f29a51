#!/bin/sh
# ranks: 1 2
# What a job killed at a random moment leaves behind, and the commands run
# after it (defects found by killing and resuming jobs): the published-model
# folder a killed run on 3+ ranks leaves is removed when a rerun on 1 or 2
# ranks completes the file.
# usage: sh tests/cli/test_chaos.sh BUILD_DIR
BUILD=${1:?usage: test_chaos.sh BUILD_DIR}
BUILD=$(cd "$BUILD" && pwd) || exit 2
. "$(dirname "$0")/../lib.sh"
TEST=chaos

demo_study 31
JOB=$D/job.yaml
OUT=$D/results.nc
cat >"$T/site.yaml" <<'YAML'
block_voxels: 60
flush_seconds: 0.2
YAML
export VOXFIT_CONFIG=$T/site.yaml VOXFIT_THREADS=1

x 2 run "$JOB" --quiet
ok "$rc" "reference run on 2 ranks: exit 0 (got $rc)"
cp "$OUT" "$T/ref.nc"

# ---- the models folder of a killed run on more ranks ----------------------------
# A run on 3+ ranks killed near its end leaves <output>.models/ (whole
# models and a writer's temporary file); a rerun on 1 or 2 ranks publishes
# none, yet the folder goes when the file is complete (README: removed
# when the run completes).
for np in 1 2; do
  mkdir -p "$OUT.models"
  printf 'model' >"$OUT.models/0123456789abcdef.bin"
  printf 'part' >"$OUT.models/0123456789abcdef.bin.tmp4242"
  x "$np" run "$JOB" --quiet
  [ "$rc" = 0 ] && [ ! -e "$OUT.models" ]
  ok $? "np=$np: a killed run's $(basename "$OUT").models/ is removed when the rerun completes (rc $rc$([ -e "$OUT.models" ] && echo ', still there'))"
done

finish
