#!/bin/sh
# ranks: 1 2
# What a job killed at a random moment leaves behind, and the commands run
# after it (defects found by killing and resuming jobs): the published-model
# folder a killed run on 3+ ranks leaves is removed when a rerun on 1 or 2
# ranks completes the file; collect with a shard file missing refuses
# before it touches an existing output (exit 2 writes no results file);
# a stop signal to one member of a team stops the run; a semaphore that
# OMPIO left taken does not hang later runs; a disk too small for the
# results file is found before any unit runs (exit 5).
# usage: sh tests/cli/test_chaos.sh BUILD_DIR
BUILD=${1:?usage: test_chaos.sh BUILD_DIR}
BUILD=$(cd "$BUILD" && pwd) || exit 2
. "$(dirname "$0")/../lib.sh"
TEST=chaos

demo_study 31
JOB=$D/job.yaml
OUT=$D/results.nc
cat >"$T/site.yaml" <<'YAML'
block_voxels: 20
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

# ---- a stop signal to one member of a team ----------------------------------------
# Every unit on a team of 2 (ranks 1 and 2; rank 0 schedules): SIGUSR1 to
# rank 2 alone, which has no line to the master, stops the run all the
# same (exit 3, resumable), as it does on a single worker.
cat >"$T/team.yaml" <<'YAML'
block_voxels: 20
flush_seconds: 0.2
team_size: 2
YAML
rank_pid() { # rank_pid N: the pid of rank N of the job's run
  for r in $(pgrep -f "^$VOXFIT run $JOB"); do
    tr '\0' '\n' <"/proc/$r/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$1" &&
      echo "$r" && return
  done
}
rm -f "$OUT"
VOXFIT_CONFIG=$T/team.yaml timeout -k 5 60 mpirun -np 3 "$VOXFIT" run "$JOB" >"$T/out" 2>&1 &
pid=$!
member=
for i in $(seq 1 1000); do # until rank 2 catches SIGUSR1 and a flush wrote units
  member=$(rank_pid 2)
  m=$([ -n "$member" ] && sed -n 's/^SigCgt:[[:space:]]*//p' "/proc/$member/status" 2>/dev/null)
  [ -n "$m" ] && [ $((0x$m & 0x200)) != 0 ] && [ -s "$OUT" ] && sleep 0.3 && break
  sleep 0.01
done
[ -n "$member" ] && kill -USR1 "$member"
wait "$pid"
rc=$?
[ -n "$member" ] && [ "$rc" = 3 ] && has 'stopped by a signal'
ok $? "SIGUSR1 to a team member (rank 2, pid ${member:-none}) stops the run: exit 3 (got $rc)"
VOXFIT_CONFIG=$T/team.yaml x 3 run "$JOB" --quiet
ok "$rc" "the rerun on the team exits 0 (got $rc)"
"$PY" - "$T/ref.nc" "$OUT" <<'PY' >"$T/cmp" 2>&1
import sys, netCDF4, numpy as np
a, b = (netCDF4.Dataset(p) for p in sys.argv[1:3])
bad = [v for v in ("test_r", "test_r2", "cv_score")
       if not np.allclose(a[v][:].filled(np.nan), b[v][:].filled(np.nan), rtol=0, atol=1e-10,
                          equal_nan=True)]
bad += [v for v in ("best_lambda", "unit_status")
        if not np.array_equal(a[v][:].filled(np.nan), b[v][:].filled(np.nan), equal_nan=True)]
print(" ".join(bad))
sys.exit(1 if bad else 0)
PY
ok $? "... and ends equal to the single-rank reference to 1e-10$(sed '/^$/d; s/^/: differs in /' "$T/cmp")"

# ---- a semaphore a killed process left taken ------------------------------------
# Open MPI's OMPIO kept a POSIX semaphore per file base name
# (/dev/shm/sem.OMPIO_<name>, its "sm" shared-file-pointer component); a
# rank killed while holding it left it taken, and every later open of a
# file of that name, in any folder, hung (seen in CI: after one kill -9
# trial every run of the study timed out). voxfit turns that component off
# (OMPI_MCA_sharedfp=individual, io_mpi_setup). A taken semaphore is 32 zero bytes.
name=stale-$$.nc
sem=/dev/shm/sem.OMPIO_$name
if head -c 32 /dev/zero >"$sem" 2>/dev/null; then
  cp "$D/sub-01.nc" "$D/$name"
  sed -e "s#sub-01\.nc#$name#" -e "s#^output: .*#output: $T/sem.nc#" "$JOB" >"$D/sem.yaml"
  x 2 run "$D/sem.yaml" --quiet
  ok "$rc" "a stale taken OMPIO semaphore named after an input: the run does not hang (exit $rc)"
  rm -f "$sem"
else
  echo "SKIP $TEST: cannot write /dev/shm: no stale-semaphore check"
fi

# ---- the side files of a killed run ------------------------------------------------
# The "individual" component keeps an empty OUTPUT.data.N and
# OUTPUT.metadata.N per rank while the file is open; a killed run on 4
# ranks leaves .0-.3, and a resume on 2 would reopen (and so remove) only
# .0-.1. The run removes a killed run's (empty ones only) once it holds the
# output's lock; a non-empty file of such a name is not voxfit's and stays.
SIDE=$T/side.nc
sed -e "s#^output: .*#output: $SIDE#" "$JOB" >"$D/side.yaml"
for k in 0 1 2 3; do : >"$SIDE.data.$k"; : >"$SIDE.metadata.$k"; done
echo "mine" >"$SIDE.data.7"
x 2 run "$D/side.yaml" --quiet
left=$(ls "$SIDE".data.* "$SIDE".metadata.* 2>/dev/null | tr '\n' ' ')
ok "$([ "$rc" = 0 ] && [ "$left" = "$SIDE.data.7 " ]; echo $?)" \
  "a killed run's empty side files are removed, a non-empty one kept (rc $rc, left: $left)"

# ---- a disk too small for the results file ------------------------------------------
# Open MPI's default MPI-IO reports a write that fails for a full disk on
# stderr only: before, the run went on and exited 0 with every unit flagged
# done over data never written. The file's blocks are reserved when it is
# created: exit 5 naming the file, before any unit, and no file left; on
# a disk with room the same command then runs it whole. Needs a tmpfs
# mount (root); skipped where mounting is not allowed.
FS=$T/fs
mkdir -p "$FS"
size=$(stat -c %s "$T/ref.nc")
if mount -t tmpfs -o size=$((size / 2048))k tmpfs "$FS" 2>/dev/null; then
  sed "s|^output: .*|output: $FS/results.nc|" "$JOB" >"$D/small.yaml"
  x 2 run "$D/small.yaml" --quiet
  [ "$rc" = 5 ] && has "$FS/results.nc: cannot reserve its full size" && [ ! -e "$FS/results.nc" ]
  ok $? "a disk half the results file's size: exit 5 naming the file, no file left (got $rc)"
  mount -o remount,size=$((size / 512))k "$FS"
  x 2 run "$D/small.yaml" --quiet
  [ "$rc" = 0 ] && "$PY" - "$T/ref.nc" "$FS/results.nc" <<'PY' >"$T/cmp" 2>&1
import sys, netCDF4, numpy as np
a, b = (netCDF4.Dataset(p) for p in sys.argv[1:3])
bad = [v for v in ("test_r", "best_lambda", "unit_status", "roi_mean_r")
       if not np.array_equal(a[v][:].filled(np.nan), b[v][:].filled(np.nan), equal_nan=True)]
print(" ".join(bad))
sys.exit(1 if bad else 0)
PY
  ok $? "... with room, the same command: exit 0 (got $rc), the reference's results$(sed '/^$/d; s/^/: differs in /' "$T/cmp")"
  umount "$FS"
else
  echo "SKIP $TEST: cannot mount a tmpfs here (not root?): no disk-full check"
fi

finish
