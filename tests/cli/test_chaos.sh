#!/bin/sh
# ranks: 1 2
# What a job killed at a random moment leaves behind, and the commands run
# after it (defects found by killing and resuming jobs): the published-model
# folder a killed run on 3+ ranks leaves is removed when a rerun on 1 or 2
# ranks completes the file; collect with a shard file missing refuses
# before it touches an existing output (exit 2 writes no results file).
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

# ---- collect with a shard missing keeps the existing output ------------------
for i in 1 2; do
  x 1 run "$JOB" --shard "$i/2" --quiet
  ok "$rc" "shard $i/2: exit 0 (got $rc)"
done
mv "$D/results.shard-2-of-2.nc" "$T/s2.nc"
x 1 collect "$JOB" --shards 2
[ "$rc" = 2 ] && has 'shard-2-of-2.nc'
ok $? "collect with shard 2 missing: exit 2 naming it (got $rc)"
same "$T/ref.nc" "$OUT"
ok $? "... and the complete output it would replace is untouched$(sed '/^$/d; s/^/: differs in /' "$T/cmp")"
printf 'not netcdf\n' >"$D/results.shard-2-of-2.nc"
x 2 collect "$JOB" --shards 2
[ "$rc" = 2 ] && same "$T/ref.nc" "$OUT"
ok $? "collect with shard 2 not a results file: exit 2 (got $rc), the output untouched"
mv "$T/s2.nc" "$D/results.shard-2-of-2.nc"
x 2 collect "$JOB" --shards 2
ok "$rc" "collect with both shards: exit 0 (got $rc)"
same "$T/ref.nc" "$OUT"
ok $? "the collected file equals the unsharded run$(sed '/^$/d; s/^/: differs in /' "$T/cmp")"

finish
