#!/bin/sh
# ranks: 1 2
# The slurm/ scripts on a real single-host SLURM (tests/slurm/cluster.sh:
# Debian's slurmctld and slurmd on private ports), on a small gen study
# whose direct `mpirun -np 2 voxfit run` is the reference:
# - slurm/run.sbatch (srun --mpi=pmix, 2 tasks) gives the reference results;
#   group.sbatch given a wrong number of shards fails and leaves them be,
#   and on a job without pairs ends well with no group stage;
#   an sbatch option after the script is refused, saying where it goes;
# - slurm/submit-study --shards 3: a job array of 3 shards (throttled to
#   2) and the group job, which starts only after every shard ended; the
#   collected file equals the reference and the group file is written;
#   one shard resubmitted alone (--array=2 with N = 3) and the group job
#   after it give the same file; a fitting job that fails cancels its
#   group job (not left pending for ever);
# - a run.sbatch job warned with USR1 mid-run (what --signal=B:USR1@T
#   sends before the time limit) stops with exit 3; resubmitted, a TERM to
#   its batch shell stops it cleanly too (forwarded as USR1: srun would
#   kill the ranks) without a requeue; resubmitted, a plain scancel ends it
#   and it is not requeued; the last resubmission resumes (units done
#   before) to the reference results; a requeued start of a job submitted
#   with --force resumes too;
# - voxfit plan --slurm suggests the sbatch options.
# If SLURM cannot start, the test fails and says why. The daemons are
# stopped by PID at the end, also when a check fails.
# usage: sh tests/slurm/test_slurm.sh BUILD_DIR
BUILD=${1:?usage: test_slurm.sh BUILD_DIR}
BUILD=$(cd "$BUILD" && pwd) || exit 2
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/cluster.sh"
TEST=slurm
REPO=$(cd "$(dirname "$0")/../.." && pwd)

demo_study 31
JOB=$D/job.yaml
cat >>"$JOB" <<'YAML'
sweep: {ridge.delays: [[0], [0, 1], [0, 1, 2]]}
YAML
printf 'block_voxels: 25\nflush_seconds: 0.2\n' >"$T/site.yaml"
# srun binds each task to one core, so voxfit uses one BLAS thread there:
# the reference uses one too, or rounding would differ (1e-11 in R^2)
export VOXFIT_CONFIG="$T/site.yaml" VOXFIT="$VOXFIT" VOXFIT_THREADS=1
export OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none
OUT=$D/results.nc

# (this trap replaces mktmp's: it removes the temporary folder too)
trap 'slurm_stop; rm -rf "$TMP"' EXIT
trap 'exit 2' INT TERM
if ! slurm_start "$T/slurm" 2>"$T/slurm.err"; then
  fail "SLURM could not start: $(tail -n 5 "$T/slurm.err" | tr '\n' ' ')"
  finish
fi
pass "a private slurmctld and slurmd are up (node $(sinfo -h -o '%n %t'))"

# state JOBID: the job's state as scontrol shows it
state() { scontrol show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | head -n 1; }
# wait_job JOBID...: until every job has ended (at most 300 s)
wait_job() {
  i=0
  for j in "$@"; do
    while [ $i -lt 600 ]; do
      case $(state "$j") in PENDING|RUNNING|CONFIGURING|COMPLETING|REQUEUED|"") ;; *) break ;; esac
      sleep 0.5
      i=$((i + 1))
    done
  done
}
field() { scontrol show job "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1; }

x 2 run "$JOB" --quiet
ok "$rc" "the reference: mpirun -np 2 voxfit run (got $rc)"
cp "$OUT" "$T/ref.nc"
rm -f "$OUT"

# ---- run.sbatch --------------------------------------------------------------
cd "$T" || exit 2
id=$(sbatch --parsable -n 2 --oversubscribe "$REPO/slurm/run.sbatch" "$JOB" --quiet)
wait_job "$id"
[ "$(state "$id")" = COMPLETED ]
ok $? "run.sbatch: job $id completed ($(state "$id"), $(field "$id" ExitCode))"
same "$T/ref.nc" "$OUT"
ok $? "run.sbatch: results equal the direct mpirun run$(sed '/^$/d; s/^/: differs in /' "$T/cmp")"
cp "$OUT" "$T/run.nc"
id=$(sbatch --parsable "$REPO/slurm/group.sbatch" "$JOB" 3)
wait_job "$id"
[ "$(state "$id")" = FAILED ] && grep -q 'shard-1-of-3.nc' "$T/voxfit-$id.out" &&
  cmp -s "$T/run.nc" "$OUT"
ok $? "group.sbatch with 3 shards after run.sbatch: fails naming the shard, results.nc untouched ($(state "$id"))"
# a job without pairs: group.sbatch merges (nothing with N = 1) and ends
# well, saying there is no group stage, instead of failing on voxfit group
"$PY" - "$JOB" "$D/nopairs.yaml" <<'PY'
import sys, yaml
job = yaml.safe_load(open(sys.argv[1]))
job.pop("pairs", None)
job["output"] = "nopairs.nc"
yaml.safe_dump(job, open(sys.argv[2], "w"))
PY
id=$(sbatch --parsable "$REPO/slurm/group.sbatch" "$D/nopairs.yaml" 1)
wait_job "$id"
[ "$(state "$id")" = COMPLETED ] && grep -q 'declares no pairs: no group stage' "$T/voxfit-$id.out"
ok $? "group.sbatch on a job without pairs: completed, no group stage ($(state "$id"): $(tail -n 1 "$T/voxfit-$id.out"))"
id=$(sbatch --parsable "$REPO/slurm/run.sbatch" "$JOB" --ntasks=2)
wait_job "$id"
[ "$(field "$id" ExitCode)" = "2:0" ] && grep -q "'--ntasks=2' is an sbatch option" "$T/voxfit-$id.out"
ok $? "an sbatch option after the script: exit 2 saying it goes before ($(field "$id" ExitCode): $(tail -n 1 "$T/voxfit-$id.out"))"

# ---- submit-study: array of shards, then the group job ---------------------------
rm -f "$OUT"
"$REPO/slurm/submit-study" "$JOB" --shards 3 --throttle 2 -- -n 1 >"$T/submit.out" 2>&1
ok $? "submit-study --shards 3: submitted ($(tr '\n' ' ' <"$T/submit.out"))"
arr=$(sed -n 's/^fitting job: \([0-9]*\).*/\1/p' "$T/submit.out")
grp=$(sed -n 's/^group job: *\([0-9]*\).*/\1/p' "$T/submit.out")
grep -q 'squeue -j' "$T/submit.out"
ok $? "submit-study says how to watch the jobs"
wait_job "$grp"
[ "$(state "$grp")" = COMPLETED ]
ok $? "the group job $grp completed ($(state "$grp"))"
last=0
for i in 1 2 3; do
  e=$(date -d "$(field "${arr}_$i" EndTime)" +%s 2>/dev/null || echo 0)
  [ "$e" -gt "$last" ] && last=$e
done
start=$(date -d "$(field "$grp" StartTime)" +%s 2>/dev/null || echo 0)
[ "$last" -gt 0 ] && [ "$start" -ge "$last" ]
ok $? "the group job started after every shard ended (start $start, last shard end $last)"
same "$T/ref.nc" "$OUT"
ok $? "3 shards collected equal the direct run$(sed '/^$/d; s/^/: differs in /' "$T/cmp")"
[ -f "$D/results.group.nc" ]
ok $? "the group job wrote results.group.nc"
# a shard resubmitted alone (as after its time limit): --array=2 has one task
rm -f "$OUT" "$D/results.shard-2-of-3.nc"
id=$(sbatch --parsable --array=2 -n 1 "$REPO/slurm/sweep.sbatch" "$JOB" 3)
grp=$(sbatch --parsable --kill-on-invalid-dep=yes --dependency="afterok:$id" \
  "$REPO/slurm/group.sbatch" "$JOB" 3)
wait_job "$grp"
[ "$(state "$grp")" = COMPLETED ] && [ -f "$D/results.shard-2-of-3.nc" ]
ok $? "shard 2 resubmitted alone (--array=2 ... sweep.sbatch JOB 3), then group.sbatch: completed ($(state "$grp"); $(head -n 3 "$T/voxfit-${id}_2.out" | tr '\n' ' '))"
same "$T/ref.nc" "$OUT"
ok $? "the resubmitted shard collected equals the direct run$(sed '/^$/d; s/^/: differs in /' "$T/cmp")"
# a fitting job that fails (a job file with an error): its group job goes
printf 'job: broken\noutput: broken.nc\nsubjects: []\n' >"$T/broken.yaml"
"$REPO/slurm/submit-study" "$T/broken.yaml" -- -n 1 >"$T/submit.out" 2>&1
grp=$(sed -n 's/^group job: *\([0-9]*\).*/\1/p' "$T/submit.out")
i=0
while [ "$(state "$grp")" = PENDING ] && [ $i -lt 120 ]; do sleep 0.5; i=$((i + 1)); done
[ "$(state "$grp")" = CANCELLED ]
ok $? "a failed fitting job cancels its group job, not left pending ($(state "$grp") $(field "$grp" Reason))"
scancel "$grp" 2>/dev/null

# ---- USR1 before the time limit, then a resubmission ---------------------------------
rm -f "$OUT" "$D/results.group.nc"
id=$(VOXFIT_REQUEUE=0 sbatch --parsable -n 2 --oversubscribe "$REPO/slurm/run.sbatch" "$JOB")
i=0
while [ ! -f "$OUT" ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
sleep 1
scancel --batch --signal=USR1 "$id"
wait_job "$id"
log="$T/voxfit-$id.out"
[ "$(field "$id" ExitCode)" = "3:0" ] && grep -q 'stopped by a signal' "$log"
ok $? "USR1 mid-run: the job ends with exit 3 and says so ($(field "$id" ExitCode))"
grep -q 'USR1 received' "$log"
ok $? "USR1 mid-run: the batch shell trapped it and forwarded it"
[ "$(attr "$OUT" complete)" = 0 ]
ok $? "USR1 mid-run: the results file is resumable (complete = 0)"
# started_run JOBID: until voxfit has started in the job (at most 60 s), then 0.5 s
started_run() {
  i=0
  while ! grep -q 'info: job' "$T/voxfit-$1.out" 2>/dev/null && [ $i -lt 600 ]; do
    sleep 0.1
    i=$((i + 1))
  done
  sleep 0.5
}
# TERM to the batch shell alone: forwarded as USR1 (srun answers a TERM by
# killing the ranks), voxfit stops cleanly; a TERM is not requeued
id=$(sbatch --parsable -n 2 --oversubscribe "$REPO/slurm/run.sbatch" "$JOB")
started_run "$id"
scancel --batch --signal=TERM "$id"
wait_job "$id"
log="$T/voxfit-$id.out"
[ "$(field "$id" ExitCode)" = "3:0" ] && grep -q 'stopped by a signal' "$log" &&
  [ "$(field "$id" Restarts)" = 0 ] && ! grep -q "requeueing job" "$log"
ok $? "TERM to the batch shell: voxfit stops cleanly, exit 3, not requeued ($(field "$id" ExitCode), $(field "$id" Restarts) restarts)"
# a plain scancel (TERM to everything): the job ends, it is not requeued
id=$(sbatch --parsable -n 2 --oversubscribe "$REPO/slurm/run.sbatch" "$JOB")
started_run "$id"
scancel "$id"
i=0
while case $(state "$id") in RUNNING|COMPLETING|CONFIGURING) true ;; *) false ;; esac &&
  [ $i -lt 200 ]; do sleep 0.2; i=$((i + 1)); done
[ "$(state "$id")" = CANCELLED ] && [ "$(field "$id" Restarts)" = 0 ]
ok $? "scancel JOBID: the job is cancelled, not requeued by run.sbatch ($(state "$id"), $(field "$id" Restarts) restarts)"
scancel "$id" 2>/dev/null
wait_job "$id"
id2=$(sbatch --parsable -n 2 --oversubscribe "$REPO/slurm/run.sbatch" "$JOB")
wait_job "$id2"
before=$(sed -n 's/.*), \([0-9]*\) done before.*/\1/p' "$T/voxfit-$id2.out")
[ "$(state "$id2")" = COMPLETED ] && [ "${before:-0}" -gt 0 ]
ok $? "the resubmitted job resumed ($before units done before) and completed"
same "$T/ref.nc" "$OUT"
ok $? "stopped + resumed under SLURM equals the direct run$(sed '/^$/d; s/^/: differs in /' "$T/cmp")"
# a requeued start (SLURM_RESTART_COUNT, set here by hand: SLURM's requeue
# waits minutes) of a job submitted with --force resumes, not afresh
id=$(SLURM_RESTART_COUNT=1 sbatch --parsable -n 2 --oversubscribe "$REPO/slurm/run.sbatch" \
  "$JOB" --force --quiet)
wait_job "$id"
grep -q '^units: 0 run (0 done, 0 failed), [1-9][0-9]* done before' "$T/voxfit-$id.out"
ok $? "run.sbatch JOB --force restarted after a requeue resumes ($(grep '^units' "$T/voxfit-$id.out"))"

# ---- plan --slurm ------------------------------------------------------------------
x 1 plan "$JOB" --slurm --ranks 4
has 'sbatch --ntasks=4 .*--time=[0-9]*:[0-9][0-9]:00 .*--mem-per-cpu=[0-9]*M .*slurm/run.sbatch'
ok $? "plan --slurm suggests ntasks, time and memory ($(grep sbatch "$T/out" | head -n 1))"

cd / || true
finish
