#!/bin/sh
# The teams' benchmark (not a test; docs/benchmarks.md): one unit that
# fits on one rank, fitted by the single-rank engine (1 and 2 BLAS
# threads) and by ridge_team_fit on 1, 2 (grids 1x2 and 2x1) and 4 (1x4 and
# 2x2, oversubscribed on a 2-core machine: memory and bytes only) ranks of
# one BLAS thread.
# Per case: wall time, its factorisation part, F / time, speed-up against
# the single-rank engine on one thread, the largest per-rank peak RSS, the
# inputs per rank, and the bytes a rank hands MPI during the fit.
# usage: tests/bench/bench_team.sh BUILD_DIR [bench_team options]
#   default problem: --ntr 2000 --p 1000 --v 8000 --nte 300 --folds 5
BUILD=${1:?usage: bench_team.sh BUILD_DIR [options]}
shift
. tests/lib.sh
B="$BUILD/tests/bench/bench_team"
ARGS=${*:-"--ntr 2000 --p 1000 --v 8000 --nte 300 --folds 5"}
OUT=$(mktemp /tmp/voxfit-bench-team.XXXXXX)
trap 'rm -f "$OUT" "$OUT.run"' EXIT
run() { # NP LABEL OPTIONS... (BIND: mpirun's binding, default core)
  np=$1 label=$2
  shift 2
  # shellcheck disable=SC2086
  mpirun -np "$np" --bind-to "${BIND:-core}" "$B" $ARGS "$@" >"$OUT.run" 2>&1
  grep -q '^RESULT ' "$OUT.run" || { echo "bench_team: $label failed:"; tail -5 "$OUT.run"; }
  sed -n "s/^RESULT /$label /p" "$OUT.run" >>"$OUT"
}
echo "== team benchmark: one unit ($ARGS), 20 lambdas"
run 1 single-1t --single --threads 1
BIND=none run 1 single-2t --single --threads 2
run 1 team-1x1 --grid 1x1
run 2 team-1x2 --grid 1x2
run 2 team-2x1 --grid 2x1
BIND=none run 4 team-1x4 --grid 1x4 # more ranks than cores here: no binding
BIND=none run 4 team-2x2 --grid 2x2
awk '
function v(k,   i, a) { for (i = 2; i <= NF; i++) { split($i, a, "="); if (a[1] == k) return a[2] } return "" }
{ t[NR] = v("time_s"); if (NR == 1) base = t[1]
  printf "%-10s ranks %s x %s thr  time %7.2f s (factorise %6.2f)  %6.1f GFLOP/s  speed-up %4.2fx  peak RSS/rank %7.1f MiB  inputs/rank %6.1f MiB  sent/rank %7.1f MiB\n",
    $1, v("ranks"), v("threads"), t[NR], v("factor_s"), v("gflops"), base / t[NR], v("rss_max_mib"),
    v("inputs_per_rank_mib"), v("sent_max_mib") == "n/a" ? 0 : v("sent_max_mib") }' "$OUT"
