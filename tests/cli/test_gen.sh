#!/bin/sh
# voxfit gen's closing suggestion: `mpirun -np C PROGRAM run DIR/job.yaml`
# with C this machine's online cores (not a fixed 4), PROGRAM the binary as
# started, and one slash between DIR and job.yaml however many DIR ends
# with; the files land in DIR. (The generated data: tests/sim/test_sim.c.)
# Prints one PASS/FAIL line per check; exits 1 if any failed.
# usage: sh tests/cli/test_gen.sh BUILD_DIR
BUILD=${1:?usage: test_gen.sh BUILD_DIR}
BUILD=$(cd "$BUILD" && pwd) || exit 2
. "$(dirname "$0")/../lib.sh"

TEST=gen
mktmp
T=$TMP
cores=$(getconf _NPROCESSORS_ONLN)

x 1 gen --preset demo --scale 0.2 --subjects 1 --out "$T/study//"
ok "$rc" "gen --out DIR//: exit 0"
line=$(grep 'run it: ' "$T/out")
want="mpirun -np $cores $VOXFIT run $T/study/job.yaml"
case $line in
  *"$want") pass "suggests '$want'" ;;
  *) fail "suggests '$want'; got: $line" ;;
esac
case $line in
  *//*) fail "a double slash: $line" ;;
  *) pass "no double slash" ;;
esac
[ -f "$T/study/job.yaml" ] && ! grep -q '//' "$T/out"
ok $? "the files are in DIR, and no path printed has a double slash"

# run from the build folder as bin/voxfit: the suggestion says so
(cd "$BUILD" && timeout 60 mpirun -np 1 bin/voxfit gen --preset demo --scale 0.2 \
  --subjects 1 --out "$T/s2/") >"$T/out" 2>&1
grep -q "run it: mpirun -np $cores bin/voxfit run $T/s2/job.yaml" "$T/out"
ok $? "started as bin/voxfit: the suggestion names bin/voxfit"

finish
