#!/bin/sh
# ranks: 1 2 3 4
# The batch system from outside: a study cut into many units (a site config
# with small ROI blocks and frequent flushes); a clean 2-rank run is the
# reference. On 3 and 4 ranks every design is still factorised once (idle
# workers load the models others published) with the same results. A run
# killed with SIGKILL at random moments, then rerun on 3
# ranks, resumes (units done are skipped) and equals the reference; SIGUSR1
# stops a run with exit 3 and a resumable, incomplete file, also when sent
# the moment the ranks catch it; a second run while one writes the output
# is refused (exit 2, the holder named); three shards
# merged by voxfit collect equal the reference, and a missing shard is
# named; the file opens in xarray (engine netcdf4) with the documented
# names and dimensions.
# usage: sh tests/cli/test_batch.sh BUILD_DIR
BUILD=${1:?usage: test_batch.sh BUILD_DIR}
BUILD=$(cd "$BUILD" && pwd) || exit 2
. "$(dirname "$0")/../lib.sh"
TEST=batch

demo_study 23
JOB=$D/job.yaml
# many small units, flushed often, and a sweep to make the run last
cat >>"$JOB" <<'YAML'
sweep: {ridge.delays: [[0], [0, 1], [0, 1, 2]], ridge.cv.folds: [4, 5]}
YAML
cat >"$T/site.yaml" <<'YAML'
block_voxels: 25
flush_seconds: 0.2
YAML
export VOXFIT_CONFIG=$T/site.yaml
OUT=$D/results.nc


x 2 run "$JOB" --quiet
ok "$rc" "reference run on 2 ranks: exit 0 (got $rc)"
units=$(sed -n 's/^units: \([0-9]*\) run.*/\1/p' "$T/out")
[ "${units:-0}" -gt 200 ]
ok $? "the study has many units ($units)"
has "factorisations for 24 designs"
ok $? "24 designs: 6 sweep points x 4 variants, shared by 3 subjects and every ROI block"
cp "$OUT" "$T/ref.nc"

# ---- every design factorised once, whatever the number of workers -----------
for np in 3 4; do
  VOXFIT_LOG=debug x "$np" run "$JOB" --force --quiet
  ok "$rc" "np=$np: exit 0 (got $rc)"
  has "; 24 factorisations for 24 designs;"
  ok $? "np=$np: 24 factorisations for 24 designs ($(sed -n 's/^units: .*; \([0-9]* factorisations\).*/\1/p' "$T/out"))"
  # how many units loaded a published model depends on timing: reported only
  echo "  np=$np: $(count 'loaded the published model') unit(s) loaded a published model"
  [ ! -e "$OUT.models" ]
  ok $? "np=$np: the published models are removed at the end"
  same "$T/ref.nc" "$OUT"
  ok $? "np=$np: equals the 2-rank run$(sed '/^$/d; s/^/: differs in /' "$T/cmp")"
done

# ---- kill -9 at random moments, then resume on 3 ranks -------------------------
for trial in 1 2; do
  rm -f "$OUT"
  wait_ms=$(awk -v s="$$$trial" 'BEGIN { srand(s); printf "%d", 200 + rand() * 900 }')
  timeout -k 5 60 mpirun -np 2 "$VOXFIT" run "$JOB" --quiet >"$T/killed.out" 2>&1 &
  # the random moment counts from the results file's creation (its header
  # is written within the first 200 ms): a delay from the launch
  # (300-1200 ms) fell before the file existed under ASan, whose start is
  # slower (CI of 2026-11-29, 318 ms), and then tested no resume at all
  i=0
  while [ ! -f "$OUT" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
  sleep "$(awk -v m="$wait_ms" 'BEGIN { print m / 1000 }')"
  pkill -9 -f "$VOXFIT run $JOB" ; pkill -9 -f "mpirun -np 2 $VOXFIT run"
  wait 2>/dev/null
  if [ ! -f "$OUT" ]; then
    fail "kill -9: no results file 30 s after the launch ($(tail -n 3 "$T/killed.out"))"
    continue
  fi
  c=$(attr "$OUT" complete)
  x 3 run "$JOB"
  ok "$rc" "kill -9 $wait_ms ms after the file appeared (complete=$c), rerun on 3 ranks: exit 0 (got $rc)"
  skipped=$(sed -n 's/.*run ([0-9]* done, [0-9]* failed), \([0-9]*\) done before.*/\1/p' "$T/out")
  [ "$c" = 1 ] || [ -n "$skipped" ]
  ok $? "kill -9 $wait_ms ms after the file appeared: the rerun reports the units done before ($skipped)"
  same "$T/ref.nc" "$OUT"
  ok $? "kill -9 $wait_ms ms after the file appeared + resume equals the clean run$(sed '/^$/d; s/^/: differs in /' "$T/cmp")"
done

# ---- one run at a time per output ------------------------------------------------
# A collect, or a second run of the job (with --force too, which would start the file
# afresh) while the first writes it: exit 2 naming the output and the
# first run's pid, and the first ends whole. The lock file goes with the
# run that held it.
rm -f "$OUT"
mpirun -np 2 "$VOXFIT" run "$JOB" --quiet >"$T/first.out" 2>&1 &
pid=$!
( sleep 60; kill -9 "$pid" 2>/dev/null ) &
guard=$!
for i in $(seq 1 3000); do [ -e "$OUT.lock" ] && break; sleep 0.01; done
[ -e "$OUT.lock" ] || fail "no $OUT.lock 30 s after the first run's launch"
x 1 collect "$JOB" --shards 3 --force
rc0=$rc
has "error: $OUT: another voxfit run (pid [0-9]* on host .*) is writing it"
named0=$?
ok "$([ "$rc0" = 2 ] && [ "$named0" = 0 ]; echo $?)" \
  "a collect (--force too) while a run writes the output: exit 2 naming the run (got $rc0)"
x 1 run "$JOB" --quiet
rc1=$rc
has "error: $OUT: another voxfit run (pid [0-9]* on host .*) is writing it"
named=$?
x 2 run "$JOB" --quiet --force
rc2=$rc
wait "$pid"
rc=$?
kill "$guard" 2>/dev/null
ok "$([ "$rc1" = 2 ] && [ "$named" = 0 ] && [ "$rc2" = 2 ]; echo $?)" \
  "a second run while the first writes the output: exit 2 naming its pid (got $rc1, with --force $rc2)"
same "$T/ref.nc" "$OUT"
eq=$?
ok "$([ "$rc" = 0 ] && [ "$eq" = 0 ] && [ ! -e "$OUT.lock" ]; echo $?)" \
  "... the first ends whole (exit $rc), equal to the clean run, its lock file removed$(sed '/^$/d; s/^/: differs in /' "$T/cmp")"

# ---- SIGUSR1: a clean stop, exit 3, resumable ------------------------------------
# stopped_run OUTFILE COMMAND...: a fresh 2-rank run, COMMAND run 0.6 s in
# (with $pid, mpirun's pid); rc is the run's exit code
stopped_run() {
  out=$1
  shift
  rm -f "$OUT"
  mpirun -np 2 "$VOXFIT" run "$JOB" >"$out" 2>&1 &
  pid=$!
  ( sleep 60; kill -9 "$pid" 2>/dev/null ) &
  guard=$!
  sleep 0.6
  eval "$@"
  wait "$pid"
  rc=$?
  kill "$guard" 2>/dev/null
}

stopped_run "$T/usr1.out" 'kill -USR1 "$pid"' # mpirun forwards it to the ranks
ok "$([ "$rc" = 3 ]; echo $?)" "SIGUSR1: exit 3 (got $rc)"
grep -q 'stopped by a signal' "$T/usr1.out"
ok $? "SIGUSR1: says it was stopped and how to resume"
[ -f "$OUT" ] && [ "$(attr "$OUT" complete)" = 0 ] && [ -z "$(attr "$OUT" finished)" ] &&
  [ -n "$(attr "$OUT" last_closed)" ]
ok $? "SIGUSR1: the file is there, not marked complete, with no finished time (last_closed: $(attr "$OUT" last_closed))"
x 1 plan "$JOB"
done_n=$("$PY" -c "import sys, netCDF4; print(int((netCDF4.Dataset(sys.argv[1])['unit_status'][:] == 1).sum()))" "$OUT")
has "it exists, this job's, incomplete: $done_n of [0-9]* units done, 0 failed; voxfit run resumes it"
ok $? "SIGUSR1: plan reports the stopped file's progress ($done_n units done): $(grep 'it exists' "$T/out")"
x 2 run "$JOB" --quiet
ok "$rc" "SIGUSR1: the rerun exits 0 (got $rc)"
same "$T/ref.nc" "$OUT"
ok $? "SIGUSR1 + resume equals the clean run$(sed '/^$/d; s/^/: differs in /' "$T/cmp")"

# ---- SIGTERM to the ranks themselves (what SLURM does at the time limit) ---------
stopped_run "$T/term.out" 'pkill -TERM -f "^$VOXFIT run $JOB"'
ok "$([ "$rc" = 3 ]; echo $?)" "SIGTERM to every rank: exit 3 (got $rc)"
x 3 run "$JOB" --quiet
same "$T/ref.nc" "$OUT"
ok $? "SIGTERM + resume on 3 ranks equals the clean run$(sed '/^$/d; s/^/: differs in /' "$T/cmp")"

# ---- a stop signal as soon as both ranks catch it (main() installs the
# handlers before MPI_Init; the signal then lands before or among the first
# units): a clean stop all the same ---------------------------------------------
rm -f "$OUT"
mpirun -np 2 "$VOXFIT" run "$JOB" >"$T/early.out" 2>&1 &
pid=$!
( sleep 60; kill -9 "$pid" 2>/dev/null ) &
guard=$!
caught=0 # both ranks exist and catch SIGUSR1 (bit 10 of SigCgt)
for i in $(seq 1 500); do
  n=0
  for r in $(pgrep -f "^$VOXFIT run $JOB"); do
    m=$(sed -n 's/^SigCgt:[[:space:]]*//p' "/proc/$r/status" 2>/dev/null)
    [ -n "$m" ] && [ $((0x$m & 0x200)) != 0 ] && n=$((n + 1))
  done
  [ "$n" = 2 ] && caught=1 && break
  sleep 0.01
done
pkill -USR1 -f "^$VOXFIT run $JOB"
wait "$pid"
rc=$?
kill "$guard" 2>/dev/null
[ "$caught" = 1 ] && [ "$rc" = 3 ] && grep -q 'stopped by a signal' "$T/early.out"
ok $? "SIGUSR1 as soon as the ranks start: a clean stop, exit 3 (caught $caught, got $rc)"
x 2 run "$JOB" --quiet
same "$T/ref.nc" "$OUT"
ok $? "the early stop + resume equals the clean run (got $rc)$(sed '/^$/d; s/^/: differs in /' "$T/cmp")"

# ---- progress lines in a log ----------------------------------------------------------
VOXFIT_PROGRESS_SECONDS=0.2 x 2 run "$JOB" --force
n=$(grep -c -E 'info: [0-9]+/[0-9]+ units done \([0-9]+ skipped as done before\), [0-9]+ failed, [0-9.]+ s, [0-9.]+ GFLOP/s, ETA [0-9]+ s$' "$T/out")
[ "$n" -ge 2 ]
ok $? "progress: plain lines with units done, failures, GFLOP/s and ETA ($n lines)"
has "info: $units/$units units done"
ok $? "progress: a last line with every unit done"

# ---- the site's memory per rank refuses a job in plan ----------------------------------
printf 'memory_per_rank_gib: 0.00001\n' >"$T/small.yaml"
x 1 plan "$JOB" --config "$T/small.yaml"
[ "$rc" = 2 ] && has "small.yaml"
ok $? "plan refuses a job larger than the site config's memory per rank, naming the file (got $rc)"
printf 'block_voxel: 10\n' >"$T/typo.yaml"
x 1 run "$JOB" --config "$T/typo.yaml"
[ "$rc" = 2 ] && has "typo.yaml:1:1: .*block_voxel" && has "block_voxels"
ok $? "a misspelt site key: exit 2, file:line, and the key it meant (got $rc)"

# ---- a rerun of a complete file computes nothing ------------------------------------
x 2 run "$JOB"
[ "$rc" = 0 ] && has "^units: 0 run (0 done, 0 failed), $units done before"
ok $? "a rerun of the complete file skips every unit (rc $rc)"

# ---- shards and collect ----------------------------------------------------------------
rm -f "$OUT"
for i in 1 2 3; do
  x 1 run "$JOB" --shard "$i/3" --quiet
  ok "$rc" "shard $i/3: exit 0 (got $rc)"
done
[ -f "$D/results.shard-2-of-3.nc" ] && [ ! -f "$OUT" ]
ok $? "shards write results.shard-I-of-3.nc, not the job's output"
mv "$D/results.shard-3-of-3.nc" "$T/s3.nc"
cp "$T/ref.nc" "$OUT" # a merged file already there: a missing shard must not cost it
x 1 collect "$JOB" --shards 3
[ "$rc" = 2 ] && has 'shard-3-of-3.nc' && cmp -s "$T/ref.nc" "$OUT"
ok $? "collect with shard 3 missing: exit 2 naming it, the existing output untouched (got $rc)"
: >"$D/results.shard-3-of-3.nc" # an empty shard (a copy that failed)
x 1 collect "$JOB" --shards 3
[ "$rc" = 2 ] && has 'shard-3-of-3.nc: .*rerun the shard that writes it' && cmp -s "$T/ref.nc" "$OUT"
ok $? "collect with an empty shard 3: exit 2 saying to rerun it, the output untouched (got $rc)"
printf 'block_voxels: 7\n' >"$T/bv7.yaml"
mv "$T/s3.nc" "$D/results.shard-3-of-3.nc"
x 1 collect "$JOB" --shards 3 --config "$T/bv7.yaml"
[ "$rc" = 2 ] && has 'another block_voxels; collect with the --config they used' &&
  cmp -s "$T/ref.nc" "$OUT"
ok $? "collect with another site config than the shards': exit 2 naming --config (got $rc)"
mv "$D/results.shard-3-of-3.nc" "$T/s3.nc"
cp "$D/results.shard-2-of-3.nc" "$D/results.shard-3-of-3.nc" # renamed from another shard
x 1 collect "$JOB" --shards 3
[ "$rc" = 2 ] && has 'shard-3-of-3.nc: holds shard 2 of 3, not 3 of 3' && cmp -s "$T/ref.nc" "$OUT"
ok $? "collect with shard 2's file named as shard 3: exit 2 saying so, the output untouched (got $rc)"
mv "$T/s3.nc" "$D/results.shard-3-of-3.nc"
x 1 collect "$JOB" --shards 3x
ok "$([ "$rc" = 2 ] && has "error: --shards '3x': expected a positive integer"; echo $?)" \
  "collect --shards 3x: exit 2 naming the value (got $rc)"
x 2 collect "$JOB" --shards 3
ok "$rc" "collect --shards 3 on 2 ranks: exit 0 (got $rc)"
same "$T/ref.nc" "$OUT"
ok $? "the collected file equals the unsharded run$(sed '/^$/d; s/^/: differs in /' "$T/cmp")"

# ---- xarray -------------------------------------------------------------------------------
"$PY" - "$OUT" <<'PY' >"$T/xr" 2>&1
import sys, xarray as xr
ds = xr.open_dataset(sys.argv[1], engine="netcdf4")
want = {"test_r": ("sweep", "variant", "voxel"), "best_lambda": ("sweep", "variant", "voxel"),
        "roi_mean_r": ("sweep", "subject", "variant", "roi"), "unit_status": ("unit",),
        "unit_voxel_start": ("unit",), "voxel_subject": ("voxel",)}
bad = [v for v, dims in want.items() if v not in ds or ds[v].dims != dims]
bad += [a for a in ("job_yaml", "job_hash", "voxfit_version", "started", "finished")
        if a not in ds.attrs]
if int(ds["unit_status"].min()) != 1: bad.append("unit_status values")
print(" ".join(bad))
sys.exit(1 if bad else 0)
PY
ok $? "xarray opens the results with the documented names and dims$(tail -1 "$T/xr" | sed 's/^/: /')"

finish
