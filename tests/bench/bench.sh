#!/bin/sh
# The benchmark of the cross-validated ridge fit (`make bench`; not a test,
# not run by `make check`). See docs/benchmarks.md.
#
# Every case (3 shapes x 2 lambda grids x 2 precisions) runs in its own
# process (tests/bench/bench_ridge: GEMM rate, problem, timed fit, peak RSS),
# then, where Debian's python3-numpy is installed, the independent numpy
# implementation (tests/bench/bench_numpy.py) on the same dumped problem.
# Prints one table with PASS/MISS against the targets (reported, never
# asserted: the exit status is non-zero only when a case fails to run).
#
# usage: sh tests/bench/bench.sh BUILD [--quick] [--scale S] [--threads N]
#                                [--only GLOB] [--no-ref64] [--no-numpy]
#   --quick     --scale 0.25: the whole run in a minute or two (a check that
#               it works; the numbers are not the targets' shapes)
#   --scale S   multiply n, p and v of every shape by S (default 1)
#   --threads N BLAS threads for voxfit, the GEMM rate and numpy (default nproc)
#   --only GLOB run the cases whose name (shape-grid-precision) matches GLOB
#   --no-ref64  single-precision cases: skip numpy's untimed float64 fit on
#               the same data, against which their accuracy is judged (the
#               default runs it; then the table's acc column is "n/a" for them)
#   --no-numpy  skip the numpy comparison
# Dumps go under BUILD/bench/dump/ and are deleted after each case; the logs
# stay in BUILD/bench/logs/, the parsed results in BUILD/bench/results.txt.
BUILD=${1:?usage: tests/bench/bench.sh BUILD [--quick] [--scale S] [--threads N] [--only GLOB] [--no-ref64] [--no-numpy]}
shift
SCALE=1
THREADS=$(nproc 2>/dev/null || echo 1)
ONLY='*'
REF64=--ref64
NUMPY=1
while [ $# -gt 0 ]; do
  case $1 in
    --quick) SCALE=0.25 ;;
    --scale) SCALE=${2:?--scale needs a value}; shift ;;
    --threads) THREADS=${2:?--threads needs a value}; shift ;;
    --only) ONLY=${2:?--only needs a pattern}; shift ;;
    --ref64) REF64=--ref64 ;;
    --no-ref64) REF64= ;;
    --no-numpy) NUMPY=0 ;;
    *) echo "bench.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done

. tests/lib.sh
BIN=$BUILD/tests/bench/bench_ridge
OUT=$BUILD/bench
LOG=$OUT/logs
DUMP=$OUT/dump
RES=$OUT/results.txt
[ -x "$BIN" ] || { echo "bench.sh: $BIN not built (make bench builds it)" >&2; exit 2; }
mkdir -p "$LOG"
rm -rf "$DUMP"
: >"$RES"

if [ "$NUMPY" = 1 ] && ! "$PY" -c 'import numpy' 2>/dev/null; then
  echo "bench.sh: $PY has no numpy (Debian: python3-numpy): no numpy comparison"
  NUMPY=0
fi
threadpool=no
"$PY" -c 'import threadpoolctl' 2>/dev/null && threadpool=yes

echo "voxfit ridge benchmark: scale $SCALE, $THREADS threads, $(nproc) cores;" \
  "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset} OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE:-unset}" \
  "for voxfit; numpy runs the kernels voxfit ran; threadpoolctl: $threadpool"
echo "logs: $LOG"
echo

failed=0
start_all=$(date +%s)
for shape in small medium shortclips; do
  for grid in dense wide; do
    for prec in double single; do
      name=$shape-$grid-$prec
      # shellcheck disable=SC2254
      case $name in $ONLY) ;; *) continue ;; esac
      log=$LOG/$name.log
      dumparg=
      [ "$NUMPY" = 1 ] && dumparg="--dump $DUMP"
      t0=$(date +%s)
      # shellcheck disable=SC2086
      if ! "$BIN" --shape "$shape" --grid "$grid" --precision "$prec" \
          --scale "$SCALE" --threads "$THREADS" $dumparg >"$log" 2>&1; then
        echo "$name: bench_ridge failed; last lines of $log:"
        tail -n 15 "$log" | sed 's/^/    /'
        failed=$((failed + 1))
        rm -rf "${DUMP:?}/$name"
        continue
      fi
      line=$(grep '^RESULT ' "$log")
      if [ "$NUMPY" = 1 ]; then
        # numpy on the kernels voxfit ran (bench_ridge sets them where the
        # library falls back to its generic ones on a newer CPU:
        # la_blas_setup); OPENBLAS_L2_SIZE, set on some processors for
        # older OpenBLAS builds, slows a current numpy
        kern=$(echo "$line" | sed -n 's/.* kernel=\([^ ]*\).*/\1/p')
        # shellcheck disable=SC2086
        if env -u OPENBLAS_L2_SIZE OPENBLAS_CORETYPE="$kern" \
            OPENBLAS_NUM_THREADS="$THREADS" OMP_NUM_THREADS="$THREADS" \
            "$PY" tests/bench/bench_numpy.py "$DUMP/$name" --threads "$THREADS" \
            $REF64 >>"$log" 2>&1; then
          line="$line $(grep '^NUMPY ' "$log")"
        else
          echo "$name: bench_numpy.py failed; last lines of $log:"
          tail -n 15 "$log" | sed 's/^/    /'
          failed=$((failed + 1))
        fi
        rm -rf "${DUMP:?}/$name"
      fi
      echo "$line" >>"$RES"
      echo "$line" | awk -v el=$(($(date +%s) - t0)) '{
        for (i = 1; i <= NF; i++) {
          if ($i == "NUMPY") np = 1
          split($i, kv, "="); if (kv[2] == "") continue
          if (np) n[kv[1]] = kv[2]; else r[kv[1]] = kv[2]
        }
        printf "%-26s voxfit %8.3f s (%.3f x GEMM)", r["case"], r["seconds"], r["frac"]
        if ("seconds" in n) printf ", numpy %8.3f s (%.2fx), lambdas differ on %d voxels", n["seconds"], n["speedup"], n["mismatches"]
        printf "  [%d s]\n", el
      }'
    done
  done
done
rm -rf "$DUMP"
echo
echo "all cases in $(($(date +%s) - start_all)) s"
echo

# The table. rate: F / time >= 0.8 x GEMM (dense grid), >= 1.5 x (wide),
# GEMM measured in the case's process before and after the fit (the better);
# xbest: the same fraction of the best GEMM rate of the whole run in that
# precision (the machine's GEMM varies between processes on a shared VM);
# mem: fit's peak RSS <= 1.5 x (X + Y + outputs); numpy: speed-up >= 1.3
# (dense), >= 2.5 (wide); acc: same lambdas and |test r difference| <= 1e-6
# (TIE: the lambdas differ only on near-ties, CV scores within the tie band of
# the case's precision, 1e-9 or 1e-6, + 100 ulp),
# against numpy in double, and against numpy's float64 fit of the same data
# in single (lam64!=, dr64; bench_numpy.py --ref64 says why); lam!=, ties and
# max|dr| always compare with numpy in the case's own precision.
awk -v scale="$SCALE" '
function verdict(ok) { return ok ? "PASS" : "MISS" }
function parse(   i, kv) {
  delete r; delete n; np = 0
  for (i = 1; i <= NF; i++) {
    if ($i == "NUMPY") { np = 1; continue }
    split($i, kv, "="); if (kv[2] == "") continue
    if (np) n[kv[1]] = kv[2]; else r[kv[1]] = kv[2]
  }
}
NR == FNR { parse(); if (r["gemm"] + 0 > best[r["precision"]]) best[r["precision"]] = r["gemm"] + 0; next }
{
  parse()
  if (!("case" in r)) next
  rows++
  wide = r["grid"] == "wide"
  need = wide ? 1.5 : 0.8
  rate_ok = r["frac"] + 0 >= need
  xbest = r["gflops"] / best[r["precision"]]
  mem_ok = r["rss_ratio"] + 0 <= 1.5
  t_rate[rate_ok]++; t_mem[mem_ok]++; t_best[xbest >= need]++
  line = sprintf("%-26s %8.3f %9.1f %8.1f %7.1f %5.2f %-4s %5.2f %8.1f %8.1f %5.2f %-4s", r["case"],
                 r["seconds"], r["flops"] / 1e9, r["gflops"], r["gemm"], r["frac"],
                 verdict(rate_ok), xbest, r["rss"] / 1048576, r["xyo"] / 1048576,
                 r["rss_ratio"], verdict(mem_ok))
  if ("seconds" in n) {
    sp_ok = n["speedup"] + 0 >= (wide ? 2.5 : 1.3)
    if ("vf_lam64" in n) { lam = n["vf_lam64"]; ties = n["vf_ties64"]; dr = n["vf_dr64"] }
    else { lam = n["mismatches"]; ties = n["ties"]; dr = n["max_dr"] }
    if (r["precision"] == "single" && !("vf_lam64" in n)) acc = "n/a"
    else acc = (lam == 0 && dr + 0 <= 1e-6) ? "PASS" : \
               (lam == ties && dr + 0 <= 1e-6) ? "TIE" : "MISS"
    t_sp[sp_ok]++; t_acc[acc]++
    line = line sprintf(" %8.3f %6.2fx %-4s %6d %5d %8.1e", n["seconds"], n["speedup"],
                        verdict(sp_ok), n["mismatches"], n["ties"], n["max_dr"])
    if ("vf_lam64" in n) line = line sprintf(" %7d %8.1e", lam, dr)
    else line = line sprintf(" %7s %8s", "-", "-")
    line = line sprintf(" %-4s", acc)
    kern = n["kernel"]
  } else
    line = line sprintf(" %8s %7s %-4s %6s %5s %8s %7s %8s %-4s", "-", "-", "n/a", "-", "-", "-",
                        "-", "-", "n/a")
  body = body line "\n"
  vk = r["kernel"]; thr = r["threads"]
}
END {
  if (!rows) { print "no results"; exit }
  printf "%-26s %8s %9s %8s %7s %5s %-4s %5s %8s %8s %5s %-4s %8s %7s %-4s %6s %5s %8s %7s %8s %-4s\n",
         "case", "time_s", "F_GFLOP", "GFLOP/s", "GEMM", "xGEMM", "rate", "xbest", "RSS_MiB",
         "XYO_MiB", "xXYO", "mem", "numpy_s", "speedup", "np", "lam!=", "ties", "max|dr|",
         "lam64!=", "dr64", "acc"
  printf "%s", body
  printf "\nscale %s, %s BLAS threads; voxfit kernel %s", scale, thr, vk
  if (kern != "") printf ", numpy kernel %s", kern
  printf "; best GEMM of the run:"
  if (best["double"] > 0) printf " double %.1f", best["double"]
  if (best["single"] > 0) printf "%s single %.1f", (best["double"] > 0 ? "," : ""), best["single"]
  printf " GFLOP/s"
  printf "\ntargets met: rate %d/%d (%d/%d against the best GEMM), mem %d/%d", t_rate[1] + 0, rows,
         t_best[1] + 0, rows, t_mem[1] + 0, rows
  if (t_sp[0] + t_sp[1] > 0)
    printf ", numpy speed-up %d/%d, accuracy %d/%d (+%d near-tie only)", t_sp[1] + 0,
           t_sp[0] + t_sp[1], t_acc["PASS"] + 0, t_sp[0] + t_sp[1], t_acc["TIE"] + 0
  printf "\n(targets are reported, not asserted; GEMM = the case precision'"'"'s GEMM rate in GFLOP/s;\n"
  printf " XYO = X + Y + outputs; RSS = peak RSS of the fit alone, the problem included)\n"
}' "$RES" "$RES"
[ "$failed" = 0 ]
