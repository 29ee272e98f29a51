#!/bin/sh
# voxfit plan on the generated demo study: exit 0 and the report (12 units,
# total flop, working memory, results size, estimated wall time), printed
# once on 2 ranks, no results file written; --units lists the 12 units;
# --mem-per-rank below the largest unit's need is refused (exit 2, a message
# about memory); --ranks 2 roughly halves the estimated time; a sweep
# multiplies the units, and --units lists its points with distinct labels
# (long axes, lambda lists alike in their first 63 characters); bad
# options exit 2.
# Prints one PASS/FAIL line per check; exits 1 if any failed.
# usage: sh tests/cli/test_plan.sh BUILD_DIR
BUILD=${1:?usage: test_plan.sh BUILD_DIR}
BUILD=$(cd "$BUILD" && pwd) || exit 2
. "$(dirname "$0")/../lib.sh"

TEST=plan
# the estimated wall time in seconds of the last report
est() { sed -n 's/.*estimated wall time on \([0-9]*\) rank(s).*: \([0-9.eE+-]*\) s$/\2/p' "$T/out"; }
# ratio A B: A / B with 3 decimals (awk), empty if B is 0 or missing
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b + 0 > 0) printf "%.3f", a / b }'; }
# within X LO HI: LO <= X <= HI
within() { awk -v x="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(x != "" && x + 0 >= lo && x + 0 <= hi) }'; }

demo_study 11
JOB=$D/job.yaml

# ---- the report -------------------------------------------------------------
x 1 plan "$JOB"
ok "$rc" "plan job.yaml: exit 0 (got $rc)"
has '^  120 units = 1 sweep points x 3 subjects x 4 variants x ROI blocks (10 ROIs'
ok $? "prints the unit count: 120 units = 1 x 3 x 4 x 10 ROIs"
has '^  4 designs (one factorisation each'
ok $? "prints the designs: 4 (3 subjects saw the same stimuli)"
has '^  total [0-9.e+]* flop'
ok $? "prints the total flop"
has 'working memory [0-9.]* GiB per rank'
ok $? "prints the working memory"
has 'results file .*results\.nc: about [0-9.]* MB'
ok $? "prints the results file and its size"
has "^  pairs: [1-9][0-9]*, compared across subjects by voxfit group$"
ok $? "prints the declared pairs (slurm/group.sbatch reads the line)"
has '^  estimated wall time on 1 rank(s) (1 computing) at 20 GFLOP/s each: [0-9.]* s$'
ok $? "prints the estimated time (1 rank, 20 GFLOP/s)"
flop=$(sed -n 's/^  total \([0-9.e+]*\) flop.*/\1/p' "$T/out")
within "$flop" 1e6 1e13
ok $? "the total flop is plausible for the demo ($flop)"
mb=$(sed -n 's/.*results file .*: about \([0-9.]*\) MB$/\1/p' "$T/out")
within "$mb" 0.1 100
ok $? "the results size is plausible for the demo ($mb MB)"
[ ! -e "$D/results.nc" ]
ok $? "plan writes no results file"

x 2 plan "$JOB"
[ "$rc" = 0 ] && [ "$(count ' units = ')" = 1 ]
ok $? "plan on 2 ranks: exit 0, the report printed once"

# ---- --units ----------------------------------------------------------------
x 1 plan "$JOB" --units
ok "$rc" "--units: exit 0 (got $rc)"
n=$(grep -c -E '^  [0-9]+ +base +sub-0[123] +(mm|uni)-vis-l[12] +[A-Z0-9]+ +[0-9]+ +[0-3] +[0-9.]+ +[0-9.]+ +[0-9.]+ +1$' "$T/out")
[ "$n" = 120 ]
ok $? "--units lists 120 units (got $n)"
miss=""
for s in sub-01 sub-02 sub-03; do
  for v in mm-vis-l1 uni-vis-l1 mm-vis-l2 uni-vis-l2; do
    [ "$(grep -c -E "^  [0-9]+ +base +$s +$v " "$T/out")" = 10 ] || miss="$miss $s/$v"
  done
done
[ -z "$miss" ]
ok $? "--units lists every (subject, variant) once per ROI${miss:+ (not 10 times:$miss)}"
ids=$(sed -n 's/^  \([0-9][0-9]*\)  *base .*/\1/p' "$T/out" | sort -n | tr '\n' ' ')
[ "$ids" = "$(seq 0 119 | tr '\n' ' ')" ]
ok $? "--units numbers the units 0..119 (got $ids)"
# the units' Gflop add up to the total
fact=$(sed -n 's/.*designs (one factorisation each, \([0-9.e+]*\) flop in all).*/\1/p' "$T/out")
sum=$(awk -v f="$fact" '$2 == "base" { s += $8 } END { printf "%.6g", s * 1e9 + f }' "$T/out")
r=$(ratio "$sum" "$flop")
within "$r" 0.99 1.01
ok $? "the units' Gflop and the factorisations add up to the total flop ($sum vs $flop)"

# ---- --mem-per-rank ---------------------------------------------------------
x 1 plan "$JOB" --mem-per-rank 0.000001
ok "$([ "$rc" = 2 ]; echo $?)" "--mem-per-rank 0.000001: exit 2 (got $rc)"
line=$(grep 'error: ' "$T/out")
printf '%s\n' "$line" | grep -q -i 'mem' && printf '%s\n' "$line" | grep -q -e '--mem-per-rank'
ok $? "--mem-per-rank 0.000001: the error is about memory and names --mem-per-rank: $line"
[ "$(count 'error: ')" = 1 ]
ok $? "--mem-per-rank 0.000001: one error line"
# the message's two amounts (need, limit) must show need > limit
need=$(printf '%s\n' "$line" | sed -n 's/.*needs \([0-9.eE+-]*\) \([KMG]i*B\).*/\1 \2/p')
have=$(printf '%s\n' "$line" | sed -n 's/.*has \([0-9.eE+-]*\) \([KMG]i*B\).*/\1 \2/p')
[ -n "$need" ] && [ -n "$have" ] && [ "$need" != "$have" ]
ok $? "--mem-per-rank 0.000001: the message's amounts differ (needs '$need', has '$have')"
x 2 plan "$JOB" --mem-per-rank 0.000001
[ "$rc" = 2 ] && [ "$(count 'error: ')" = 1 ]
ok $? "--mem-per-rank on 2 ranks: exit 2, one error line (got $rc)"
x 1 plan "$JOB" --mem-per-rank 1
ok "$rc" "--mem-per-rank 1 (GiB, enough): exit 0 (got $rc)"

# ---- --ranks ----------------------------------------------------------------
# at 0.1 GFLOP/s the estimates have enough digits to compare
x 1 plan "$JOB" --gflops 0.1
t1=$(est)
x 1 plan "$JOB" --gflops 0.1 --ranks 2
t2=$(est)
has 'estimated wall time on 2 rank(s) (1 computing)'
ok $? "--ranks 2: the estimate is for 2 ranks, rank 0 scheduling"
r=$(ratio "$t1" "$t2")
within "$r" 0.95 1.05
ok $? "--ranks 2 (one worker) estimates what 1 rank does ($t1 s -> $t2 s, ratio $r)"
x 1 plan "$JOB" --gflops 0.1 --ranks 3
r=$(ratio "$t1" "$(est)")
within "$r" 1.6 2.4
ok $? "--ranks 3 (two workers) roughly halves the estimated time (ratio $r)"
x 1 plan "$JOB" --gflops 0.1 --ranks 4
t4=$(est)
r=$(ratio "$t1" "$t4")
within "$r" 2.4 3.6
ok $? "--ranks 4 (three workers) cuts the estimated time about 3x ($t1 s -> $t4 s, ratio $r)"
x 1 plan "$JOB" --gflops 0.2
r=$(ratio "$t1" "$(est)")
within "$r" 1.9 2.1
ok $? "--gflops doubled halves the estimate (ratio $r)"
# at the default 20 GFLOP/s the printed estimates of a small job still
# differ between 1 and 2 ranks by about 2x
x 1 plan "$JOB"
d1=$(est)
x 1 plan "$JOB" --ranks 3
d2=$(est)
r=$(ratio "$d1" "$d2")
within "$r" 1.5 2.5
ok $? "default GFLOP/s: --ranks 3 roughly halves the printed estimate ($d1 s -> $d2 s)"

# ---- a sweep, bad options -----------------------------------------------------
cp "$JOB" "$D/sweep.yaml"
echo 'sweep: {ridge.delays: [[0], [0, 1]], ridge.cv.folds: [4, 5]}' >>"$D/sweep.yaml"
x 1 plan "$D/sweep.yaml" --units
[ "$rc" = 0 ] && has '^  480 units = 4 sweep points x 3 subjects x 4 variants'
ok $? "a 2x2 sweep: 480 units"
n=$(grep -c -E '^  [0-9]+ +ridge\.delays=.* sub-0' "$T/out")
[ "$n" = 480 ]
ok $? "a 2x2 sweep: --units lists 480 units with their sweep labels (got $n)"
has '^  16 designs'
ok $? "a 2x2 sweep: 16 designs (4 points x 4 variants)"

# sweep labels tell the points apart: four axes whose full labels do not
# fit 127 characters lose their keys' "ridge." prefix, and two lambda
# lists equal in their first 63 characters are two values (labelled with
# their point's #index), not "the same value"
cp "$JOB" "$D/long.yaml"
echo 'sweep: {ridge.delays: [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 17]], ridge.precision: [double, single], ridge.cv_method: [per_fold, held_out], ridge.lambda_per_voxel: [true, false]}' >>"$D/long.yaml"
x 1 plan "$D/long.yaml" --units
sed -n '/^  sweep points (/,/^$/p' "$T/out" | sed -n 's/^  [0-9][0-9]* *//p' | sed '/^$/d' >"$T/labels"
n=$(wc -l <"$T/labels")
u=$(sort -u "$T/labels" | wc -l)
[ "$rc" = 0 ] && [ "$n" = 16 ] && [ "$u" = 16 ] &&
  grep -q '^delays=\[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,17\] precision=single cv_method=held_out lambda_per_voxel=false$' "$T/labels"
ok $? "four long sweep axes: 16 distinct, whole labels without 'ridge.' (got $rc, $n lines, $u distinct)"
cp "$JOB" "$D/lams.yaml"
echo 'sweep: {ridge.lambdas: [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 31]], ridge.cv.folds: [4, 5]}' >>"$D/lams.yaml"
x 1 plan "$D/lams.yaml" --units
sed -n '/^  sweep points (/,/^$/p' "$T/out" | sed -n 's/^  [0-9][0-9]* *//p' | sed '/^$/d' >"$T/labels"
[ "$rc" = 0 ] && [ "$(sort -u "$T/labels" | wc -l)" = 4 ] && grep -q 'ridge.cv.folds=5 #3$' "$T/labels"
ok $? "two lambda lists alike in their first 63 characters: two values, 4 distinct labels (got $rc)"

for bad in "--ranks 0" "--gflops -1" "--mem-per-rank 0" "--frobnicate" "--ranks abc" \
  "--ranks 2.5" "--gflops 1x"; do
  # shellcheck disable=SC2086
  x 1 plan "$JOB" $bad
  [ "$rc" = 2 ] && has 'error: '
  ok $? "plan $bad: exit 2 with an error (got $rc)"
done
x 1 plan
ok "$([ "$rc" = 2 ]; echo $?)" "plan without a job: exit 2 (got $rc)"
x 1 plan "$JOB" --ranks 4096
has "(run here, 4096 ranks would share this machine's [0-9]* cores: about"
ok $? "plan --ranks beyond this machine's cores: says what sharing them costs"
x 1 plan "$JOB" --ranks abc
has "error: --ranks 'abc': expected a positive integer"
ok $? "plan --ranks abc: the message names the value and what is expected"

# ---- the results file's size: plan's figure against the file a run writes -----------
# (before, plan counted a third of the variables: 19.3 MB for a 32.8 MB file)
# size_check NAME YAML: plan's "about X MB" within 0.1 MB or 3% of the file's size
size_check() {
  x 1 plan "$2"
  est=$(sed -n 's/^  results file .*: about \([0-9.]*\) MB$/\1/p' "$T/out")
  x 2 run "$2" --quiet --force
  out=$(sed -n 's/^output: //p' "$2")
  case $out in /*) ;; *) out=$(dirname "$2")/$out ;; esac
  real=$(stat -c %s "$out" 2>/dev/null)
  awk -v e="$est" -v r="${real:-0}" 'BEGIN { d = e * 1e6 - r; if (d < 0) d = -d;
    exit !(r > 0 && e != "" && (d <= 1e5 || d <= 0.03 * r)) }'
  ok $? "$1: plan says about ${est:-?} MB, the run wrote $real bytes (exit $rc)"
}
size_check "results size" "$JOB"
x 1 plan "$JOB"
has "it exists, complete ([0-9]* of [0-9]* units done, 0 failed): voxfit run redoes only failed"
ok $? "plan on a complete output says so: $(grep 'it exists' "$T/out")"
sed 's/^job: .*/job: another/' "$JOB" >"$D/another.yaml"
x 1 plan "$D/another.yaml"
[ "$rc" = 0 ] && has "it exists, and voxfit run refuses it unless --force: .*holds the results of another job"
ok $? "plan on another job's output: says run refuses it (exit $rc)"
sed -e 's/^output: .*/output: big.nc/' "$JOB" >"$D/big.yaml"
printf 'stats: {save_predictions: true}\n' >>"$D/big.yaml"
sed -i 's/^ridge:$/ridge:\n  save_weights: true\n  save_cv_scores: true/' "$D/big.yaml"
size_check "results size with weights, CV scores and predictions" "$D/big.yaml"

finish
