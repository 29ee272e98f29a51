# Shared by the shell tests and scripts: MPI settings for a small machine
# run as root, and a few helpers. Source it; $BUILD must be set.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none
export OMPI_MCA_rmaps_base_oversubscribe=1
# Sanitizer builds: Open MPI's own allocations are not ours to report.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
VOXFIT="$BUILD/bin/voxfit"
# After a rank exits non-zero, mpirun waits odls_base_sigkill_timeout (1 s)
# per kill step before it returns: about 2 s for every failing run, even
# when no rank is left to kill. The helpers below (x, vf), whose runs are
# signalled by nobody, take 0: a few hundred error checks then cost
# seconds, not minutes. Runs that tests stop with signals use mpirun
# directly and keep Open MPI's default grace between SIGTERM and SIGKILL.
QUICK_EXIT=OMPI_MCA_odls_base_sigkill_timeout=0
PY=/usr/bin/python3

# vf NP ARGS...: voxfit under mpirun on NP ranks
vf() {
  np=$1
  shift
  env "$QUICK_EXIT" mpirun -np "$np" "$VOXFIT" "$@"
}

# mktmp: sets TMP to a fresh temporary directory, removed at exit (call it
# directly, not in $(...), or the trap fires in the subshell)
mktmp() {
  TMP=$(mktemp -d /tmp/voxfit-test.XXXXXX)
  trap 'rm -rf "$TMP"' EXIT
}

# Checks for the shell tests. Set TEST (the prefix of the PASS/FAIL lines)
# and T (a folder; $T/out holds the last command's output) first.
npass=0
nfail=0
pass() { npass=$((npass + 1)); echo "PASS $TEST: $*"; }
fail() {
  nfail=$((nfail + 1))
  echo "FAIL $TEST: $*"
  if [ -f "$T/out" ]; then
    echo "  --- output of the last command (last 15 lines):"
    tail -n 15 "$T/out" | sed 's/^/  | /'
  fi
}
# check NAME CONDITION...: PASS if the command succeeds, else FAIL
check() {
  name=$1
  shift
  if "$@"; then pass "$name"; else fail "$name"; fi
}
# ok STATUS NAME: PASS if STATUS is 0 (use: CONDITION; ok $? NAME)
ok() {
  st_=$1
  shift
  if [ "$st_" = 0 ]; then pass "$*"; else fail "$*"; fi
}
# x NP ARGS...: voxfit on NP ranks under timeout 60; output in $T/out, exit
# code in $rc (124/137: it hung and was killed)
x() {
  np=$1
  shift
  env "$QUICK_EXIT" timeout -k 5 60 mpirun -np "$np" "$VOXFIT" "$@" >"$T/out" 2>&1
  rc=$?
}
has() { grep -q -e "$1" "$T/out"; }
count() { grep -c -e "$1" "$T/out"; }
# finish: the closing count line and the exit status
finish() {
  echo "$TEST: $npass passed, $nfail failed"
  [ "$nfail" = 0 ]
}
# study PRESET SEED [GEN OPTIONS...]: a generated study in $D (under the
# temporary $T), or the test ends here with a FAIL line
study() {
  if [ ! -x "$VOXFIT" ]; then
    echo "FAIL $TEST: no $VOXFIT (build it first)"
    exit 1
  fi
  preset=$1 seed=$2
  shift 2
  mktmp
  T=$TMP
  D=$T/data
  x 1 gen --preset "$preset" --out "$D" --seed "$seed" "$@"
  ok "$rc" "gen --preset $preset $* exits 0"
  if [ ! -f "$D/job.yaml" ]; then
    fail "gen wrote no job.yaml; giving up"
    exit 1
  fi
}
# demo_study SEED: the demo study (study demo SEED)
demo_study() { study demo "$1"; }

attr() { # attr FILE NAME: a global attribute's value as ncdump -h shows it
  ncdump -h "$1" | sed -n "s/^[[:space:]]*:$2 = \(.*\) ;\$/\1/p" | tr -d '"'
}

# same(a, b): every result variable equal to 1e-12 (NaN where NaN)
same() {
  "$PY" - "$1" "$2" <<'PY' >"$T/cmp" 2>&1
import sys, netCDF4, numpy as np
a, b = (netCDF4.Dataset(p) for p in sys.argv[1:3])
for d in (a, b): d.set_auto_mask(False)
bad = []
for v in ["test_r", "test_r2", "best_lambda", "cv_score", "roi_mean_r", "roi_median_r",
          "roi_n_voxels", "roi_n_masked", "roi_status", "unit_status", "unit_error"]:
    x, y = a[v][:], b[v][:]
    if x.dtype.kind == "S":
        ok = (x == y).all()
    else:
        x, y = x.astype(float), y.astype(float)
        ok = x.shape == y.shape and np.allclose(x, y, rtol=0, atol=1e-12, equal_nan=True)
    if not ok: bad.append(v)
if int(b.getncattr("complete")) != 1: bad.append("complete")
print(" ".join(bad))
sys.exit(1 if bad else 0)
PY
}
