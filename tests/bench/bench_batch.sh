#!/bin/sh
# The batch system's benchmark (not a test): the god preset (5 subjects x
# 24 variants x 7 ROIs, shrunk by SCALE) on 2 ranks (a master and one
# worker). Prints the wall time, the time spent inside units, the
# scheduler + I/O overhead (wall - units) / wall, the factorisations
# computed against distinct designs, and the same study with --no-reuse
# (a fresh factorisation per unit) for the speed-up of sharing them.
# usage: tests/bench/bench_batch.sh BUILD_DIR [SCALE]   (SCALE default 0.4)
BUILD=${1:?usage: bench_batch.sh BUILD_DIR [SCALE]}
SCALE=${2:-0.4}
. tests/lib.sh
D=$(mktemp -d /tmp/voxfit-bench-batch.XXXXXX)
trap 'rm -rf "$D"' EXIT
mpirun -np 1 "$VOXFIT" gen --preset god --scale "$SCALE" --out "$D" >/dev/null 2>&1 ||
  { echo "bench_batch: gen failed"; exit 1; }
line() { sed -n 's/^units: //p' "$D/out"; }
numbers() { # wall, in-units seconds and factorisations of the last run
  sed -n 's/.*; \([0-9]*\) factorisations for \([0-9]*\) designs; \([0-9.]*\) s wall, \([0-9.]*\) s in units/\1 \2 \3 \4/p' "$D/out"
}
echo "== batch benchmark: god preset, scale $SCALE, mpirun -np 2 (1 master, 1 worker)"
for mode in reuse no-reuse; do
  flag=""; [ "$mode" = no-reuse ] && flag=--no-reuse
  # shellcheck disable=SC2086
  mpirun -np 2 "$VOXFIT" run "$D/job.yaml" --force --quiet $flag >"$D/out" 2>&1 ||
    { echo "bench_batch: run failed"; tail "$D/out"; exit 1; }
  set -- $(numbers)
  awk -v m="$mode" -v f="$1" -v d="$2" -v w="$3" -v u="$4" -v l="$(line)" 'BEGIN {
    printf "%-9s %s\n          overhead (wall - in units) / wall = %.1f%%; %d factorisations for %d designs\n",
           m, l, 100 * (w - u) / w, f, d }'
  eval "wall_$(echo $mode | tr - _)=$3"
done
awk -v a="$wall_reuse" -v b="$wall_no_reuse" 'BEGIN {
  printf "sharing factorisations: %.2fx faster (%.1f s vs %.1f s)\n", b / a, a, b }'
