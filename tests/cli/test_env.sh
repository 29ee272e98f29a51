#!/bin/sh
# voxfit's environment variables with bad values (VOXFIT_LOG=bogus;
# VOXFIT_THREADS=abc, -3, 0, 2.5; VOXFIT_PROGRESS_SECONDS=abc, -1): one
# warning line (rank 0's, on 2 ranks) naming the variable, the value and
# what is accepted, then the default is used and the command exits 0 (an
# unreadable VOXFIT_PROGRESS_SECONDS used to become 0: a progress line per
# unit). Good values (info, 2, 0.5, unset) give no warning. OpenBLAS's
# kernels (la_blas_setup): --version and run name them; on a CPU with AVX2
# they are never the library's generic Prescott fallback (Debian 12's
# OpenBLAS takes it on CPUs newer than itself, 5-8x slower GEMM), and an
# OPENBLAS_CORETYPE the user set is kept.
# Prints one PASS/FAIL line per check; exits 1 if any failed.
# usage: sh tests/cli/test_env.sh BUILD_DIR
BUILD=${1:?usage: test_env.sh BUILD_DIR}
BUILD=$(cd "$BUILD" && pwd) || exit 2
. "$(dirname "$0")/../lib.sh"

TEST=env

demo_study 9
JOB=$D/job.yaml
unset VOXFIT_LOG VOXFIT_THREADS VOXFIT_PROGRESS_SECONDS

# warned VAR VALUE ACCEPTED: the last output has exactly one warning line,
# naming VAR='VALUE' and ACCEPTED, and the command exited 0
warned() {
  n=$(count "warning: $1='$2' is not ")
  w=$(count 'warning')
  [ "$rc" = 0 ] && [ "$n" = 1 ] && [ "$w" = 1 ] && has "$1='$2' is not $3.*using the default"
  ok $? "$1=$2: exit 0 and one warning saying what is accepted (got exit $rc, $w warnings)"
}
quiet_env() { # quiet_env NAME: exit 0 and no warning
  [ "$rc" = 0 ] && [ "$(count 'warning')" = 0 ]
  ok $? "$1: exit 0, no warning (got $rc)"
}

VOXFIT_LOG=bogus x 1 --version
warned VOXFIT_LOG bogus 'one of debug, info, quiet'
has 'voxfit 0'
ok $? "VOXFIT_LOG=bogus: the command still runs"
VOXFIT_LOG=bogus x 2 plan "$JOB"
warned VOXFIT_LOG bogus 'one of debug, info, quiet'
VOXFIT_LOG=info x 1 --version
quiet_env VOXFIT_LOG=info

for v in abc -3 0 2.5; do
  VOXFIT_THREADS=$v x 2 run "$JOB" --force --quiet
  warned VOXFIT_THREADS "$v" 'a whole number of BLAS threads per rank from 1 to 4096'
done
VOXFIT_THREADS=2 x 2 run "$JOB" --force
quiet_env VOXFIT_THREADS=2
has '2 ranks x 2 BLAS threads'
ok $? "VOXFIT_THREADS=2 is used"

for v in abc -1; do
  VOXFIT_PROGRESS_SECONDS=$v x 2 run "$JOB" --force
  warned VOXFIT_PROGRESS_SECONDS "$v" 'a number of seconds >= 0'
  n=$(count 'units done')
  ok "$([ "$n" -le 3 ]; echo $?)" "VOXFIT_PROGRESS_SECONDS=$v: the default interval, not a line per unit ($n lines)"
done
VOXFIT_PROGRESS_SECONDS=0.5 x 1 run "$JOB" --force
quiet_env VOXFIT_PROGRESS_SECONDS=0.5
x 1 run "$JOB" --force
quiet_env "no VOXFIT_ variables"
has 'BLAS threads.*; OpenBLAS [A-Za-z0-9]* kernels'
ok $? "run names the BLAS kernels"

unset OPENBLAS_CORETYPE VOXFIT_BLAS_FALLBACK
x 2 --version
has '^OpenBLAS [A-Za-z0-9]* kernels'
ok $? "--version names the BLAS kernels"
if grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo; then
  ! has '^OpenBLAS Prescott kernels'
  ok $? "a CPU with AVX2 and FMA gets more than OpenBLAS's generic Prescott kernels"
  OPENBLAS_CORETYPE=Haswell x 2 --version
  has '^OpenBLAS Haswell kernels$'
  ok $? "OPENBLAS_CORETYPE=Haswell, set by the user, is kept"
  # The ranks run themselves again to set the kernels; they must still be
  # named voxfit (not "exe", the name of /proc/self/exe), or `pkill voxfit`,
  # top and scripts that signal the ranks by name miss them.
  mpirun -np 2 "$VOXFIT" run "$JOB" --force --quiet >"$T/named.out" 2>&1 &
  pid=$!
  seen=0 exe=0 i=0
  while kill -0 "$pid" 2>/dev/null && [ $i -lt 600 ]; do
    pgrep -x voxfit >/dev/null && seen=$((seen + 1))
    pgrep -x exe >/dev/null && exe=$((exe + 1))
    sleep 0.05
    i=$((i + 1))
  done
  wait "$pid"
  ok "$([ $? = 0 ] && [ $seen -gt 0 ] && [ $exe = 0 ]; echo $?)" \
    "the ranks are named voxfit after setting the kernels (seen $seen times, 'exe' $exe times)"
fi

finish
