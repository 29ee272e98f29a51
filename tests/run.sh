#!/bin/sh
# Runs every test: C tests (tests/*/test_*.c, on the rank counts their first
# line names), shell tests (tests/*/test_*.sh) and Python reference tests
# (tests/*/test_*.py, Debian's /usr/bin/python3). Prints one PASS/FAIL line
# per test and run with its wall time, then "N passed, N failed in S s".
# usage: tests/run.sh BUILD_DIR [--c-only]
BUILD=${1:?usage: tests/run.sh BUILD_DIR}
MODE=${2:-all}
. tests/lib.sh
pass=0
fail=0
failed=""
log=$BUILD/test-logs
mkdir -p "$log"

# Seconds since the epoch; each test's line gives its wall time, so a slow
# suite shows where its time goes.
now() { date +%s; }
suite_start=$(now)

record() { # name status logfile start
  secs=$(($(now) - $4))
  if [ "$2" = 0 ]; then
    pass=$((pass + 1))
    echo "PASS $1 (${secs} s)"
  else
    fail=$((fail + 1))
    failed="$failed $1"
    echo "FAIL $1 (exit $2, ${secs} s); last lines of $3:"
    tail -n 25 "$3" | sed 's/^/    /'
  fi
}

for src in tests/*/test_*.c; do
  [ -e "$src" ] || continue
  name=${src#tests/}
  name=${name%.c}
  bin=$BUILD/tests/$name
  ranks=$(head -n 1 "$src" | sed -n 's/.*ranks: *\([0-9 ]*\).*/\1/p')
  [ -n "$ranks" ] || ranks=1
  for np in $ranks; do
    out=$log/$(echo "$name" | tr / _)-np$np.log
    t0=$(now)
    timeout 900 mpirun -np "$np" "$bin" >"$out" 2>&1
    record "$name (np=$np)" $? "$out" "$t0"
  done
done

if [ "$MODE" != "--c-only" ]; then
  for t in tests/*/test_*.sh tests/*/test_*.py; do
    [ -e "$t" ] || continue
    name=${t#tests/}
    out=$log/$(echo "$name" | tr / _).log
    t0=$(now)
    case $t in
      *.py) timeout 1800 "$PY" "$t" "$BUILD" >"$out" 2>&1 ;;
      *) timeout 1800 sh "$t" "$BUILD" >"$out" 2>&1 ;;
    esac
    record "$name" $? "$out" "$t0"
  done
fi

echo
[ -n "$failed" ] && echo "failed:$failed"
echo "$pass passed, $fail failed in $(($(now) - suite_start)) s"
[ "$fail" = 0 ]
