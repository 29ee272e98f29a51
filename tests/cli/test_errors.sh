#!/bin/sh
# voxfit run on bad input, on 1 and 2 ranks (each under `timeout 60`; a hang
# is a failure): a missing responses file, a NetCDF-4/HDF5 file, malformed
# YAML, an unknown key, a features variable that does not exist,
# leave-one-run-out without run labels, too many folds (more than the
# training stimuli, or folds of one stimulus), an explicit split whose test
# set is not the repetitions', a stats.block_length that leaves one block,
# an output in a missing folder, a folder as output, an output that is one
# of the inputs (also with --force, and by inode through a link: the input
# is left untouched), a missing job file (and an explicit split matching
# the repetitions runs whatever the file's split variable says; too few
# permutation blocks only warn), features and responses files cut short
# (inside the header, inside a variable, by the last byte; validate and
# plan refuse them too).
# Each gets exit 2, exactly one voxfit line (the error, saying what is
# wrong) and no results file. Then a unit that fails alone (one variant's
# features hold a NaN): exit 1, the other units done, the broken ones
# status 2 with a unit_error naming the file and variable, complete = 1,
# the reason printed once per rank, not once per unit.
# Prints one PASS/FAIL line per check; exits 1 if any failed.
# usage: sh tests/cli/test_errors.sh BUILD_DIR
BUILD=${1:?usage: test_errors.sh BUILD_DIR}
BUILD=$(cd "$BUILD" && pwd) || exit 2
. "$(dirname "$0")/../lib.sh"

TEST=errors

demo_study 5

# bad NAME SED PATTERN...: a copy of job.yaml edited by SED, with its own
# output file, run on 1 and 2 ranks: exit 2, one voxfit line, that line is
# an error matching every PATTERN, no output file.
bad() {
  name=$1
  sedexpr=$2
  shift 2
  job=$D/$name.yaml
  res=$T/out-$name.nc
  sed -e "s#^output: .*#output: $res#" -e "$sedexpr" "$D/job.yaml" >"$job"
  cmp -s "$job" "$D/job.yaml" && fail "$name: the sed did not change the job"
  for np in 1 2; do
    rm -f "$res"
    x "$np" run "$job"
    case $rc in
      124 | 137) fail "$name (np=$np): hung (killed after 60 s)"; continue ;;
    esac
    ok "$([ "$rc" = 2 ]; echo $?)" "$name (np=$np): exit 2 (got $rc)"
    n=$(grep -c '^voxfit' "$T/out")
    ok "$([ "$n" = 1 ]; echo $?)" "$name (np=$np): one voxfit line (got $n)"
    line=$(grep '^voxfit' "$T/out" | head -n 1)
    miss=""
    for p in "error: " "$@"; do
      printf '%s\n' "$line" | grep -q -e "$p" || miss="$miss '$p'"
    done
    ok "$([ -z "$miss" ]; echo $?)" "$name (np=$np): the message says${miss:+ (missing:$miss)}: $line"
    [ ! -e "$res" ]
    ok $? "$name (np=$np): no results file"
  done
}

bad missing-responses 's#sub-02\.nc#sub-77.nc#' "$D/sub-77.nc" 'no such file (subjects.1. in .*.yaml)'

nccopy -k nc4 "$D/sub-01.nc" "$D/sub-01-h5.nc"
ok $? "nccopy -k nc4 makes an HDF5 copy"
bad hdf5 's#responses: sub-01\.nc#responses: sub-01-h5.nc#' \
  'sub-01-h5.nc' 'HDF5' 'nccopy -k cdf5'

# line 14 is "rois: all"; an unclosed flow sequence
grep -n '^rois: all$' "$D/job.yaml" | grep -q '^14:' || fail "job.yaml changed: rois not on line 14"
bad bad-yaml 's#^rois: all$#rois: [V1, V2#' 'bad-yaml\.yaml:[0-9][0-9]*:[0-9][0-9]*: ' 'YAML'

bad unknown-key 's#^split: file#splitt: file#' \
  'unknown-key\.yaml:[0-9][0-9]*:[0-9][0-9]*: ' 'splitt' "did you mean 'split'"

bad no-variable 's#variable: uni_visual_l2#variable: uni_visual_l9#' \
  'features\.nc' "uni_visual_l9"

bad loro 's#cv: {scheme: kfold, folds: 5}#cv: {scheme: leave-one-run-out}#' \
  "'run'" 'leave-one-run-out'

# more folds than training stimuli: the message gives both numbers
ntrain=$(sed -n 's/^stimuli: {train: \([0-9]*\),.*/\1/p' "$D/truth.yaml")
[ -n "$ntrain" ] || fail "no training count in truth.yaml"
bad too-many-folds 's#folds: 5#folds: 500#' '500 fold' "$ntrain" 'sub-01\.nc'
# fewer folds than stimuli, but some folds get a single stimulus
bad tiny-folds 's#folds: 5#folds: 200#' 'fold' 'fewer folds'

# validate and run agree: folds of one stimulus, and a subject with no
# voxel in the job's ROIs, are problems for both
x 1 validate "$D/tiny-folds.yaml"
[ "$rc" = 2 ] && has 'a fold needs at least 2 stimuli; use at most 120 folds'
ok $? "validate refuses folds of one stimulus, as run does (got $rc)"
cp "$D/sub-01.nc" "$D/noroi-01.nc"
"$PY" - "$D/noroi-01.nc" <<'EOF'
import sys, netCDF4
ds = netCDF4.Dataset(sys.argv[1], "r+")
ds["roi_index"][:] = -1
ds.close()
EOF
sed -e "s#^output: .*#output: $T/out-noroi.nc#" -e 's#responses: sub-01\.nc#responses: noroi-01.nc#' \
  "$D/job.yaml" >"$D/noroi.yaml"
for cmd in validate run; do
  x 1 "$cmd" "$D/noroi.yaml"
  [ "$rc" = 2 ] && has 'noroi-01.nc: no voxel belongs to the job' && [ ! -e "$T/out-noroi.nc" ]
  ok $? "$cmd: a subject with no voxel in the job's ROIs is an error (got $rc)"
done
# a subject whose every voxel is constant: validate calls it a problem; run
# goes on (the other subjects are fine) and says so on stderr
cp "$D/sub-02.nc" "$D/flat-02.nc"
"$PY" - "$D/flat-02.nc" <<'EOF'
import sys, netCDF4
ds = netCDF4.Dataset(sys.argv[1], "r+")
ds["responses"][:] = 1.5
ds.close()
EOF
sed -e "s#^output: .*#output: $T/out-flat.nc#" -e 's#responses: sub-02\.nc#responses: flat-02.nc#' \
  "$D/job.yaml" >"$D/flat.yaml"
x 1 validate "$D/flat.yaml"
[ "$rc" = 2 ] && has 'flat-02.nc: all [0-9]* voxels of the job.s ROIs have NaN/Inf values or are constant'
ok $? "validate: a subject with every voxel constant is a problem (got $rc)"
x 2 run "$D/flat.yaml" --quiet
[ "$rc" = 0 ] && has 'warning: subject sub-02: all [0-9]* voxels are masked' &&
  ! has 'warning: subject sub-01' && ! has 'warning: subject sub-03'
ok $? "run: the same subject gets a warning naming it, the others none (got $rc)"

# one test stimulus, and a leave-one-run-out fold of one training stimulus:
# validate refuses both, as run does
sed -e "s#^output: .*#output: $T/out-onetest.nc#" \
  -e 's#^split: file#split: {train: [0, 240], test: [240, 1]}#' "$D/job.yaml" >"$D/onetest.yaml"
for cmd in validate run; do
  x 1 "$cmd" "$D/onetest.yaml"
  [ "$rc" = 2 ] && has '1 test stimul.*need at least 2'
  ok $? "$cmd: one test stimulus is refused (got $rc)"
done
for sub in 01 02 03; do cp "$D/sub-$sub.nc" "$D/runs-$sub.nc"; done
"$PY" - "$D"/runs-0[1-3].nc <<'EOF'
import sys, netCDF4, numpy as np
for path in sys.argv[1:]:
    ds = netCDF4.Dataset(path, "a")
    run = ds.createVariable("run", "i4", ("stimulus",))
    lab = np.arange(len(ds.dimensions["stimulus"])) // 40 + 1
    lab[0] = 99                                 # a run of one training stimulus
    run[:] = lab
    ds.close()
EOF
sed -e "s#^output: .*#output: $T/out-runs.nc#" -e 's#responses: sub-\(0[1-3]\)\.nc#responses: runs-\1.nc#' \
  -e 's#cv: {scheme: kfold, folds: 5}#cv: {scheme: leave-one-run-out}#' "$D/job.yaml" >"$D/runs.yaml"
x 1 validate "$D/runs.yaml"
[ "$rc" = 2 ] && has 'run 99 has 1 training stimulus'
ok $? "validate: a leave-one-run-out fold of one training stimulus is refused (got $rc)"
x 1 run "$D/runs.yaml"
[ "$rc" = 2 ] && has 'has 1 stimuli, and a fold needs at least 2'
ok $? "run refuses it too (got $rc)"

# the output: a missing folder, a folder, an input of the job (even with
# --force, which once overwrote the input): exit 2, one line, nothing written
bad no-folder 's#^output: .*#output: no-such-dir/results.nc#' 'no-such-dir' 'does not exist'
bad folder-output "s#^output: .*#output: $T#" 'output is a folder'
sum0=$(md5sum <"$D/features.nc")
for force in "" --force; do
  sed -e 's#^output: .*#output: features.nc#' "$D/job.yaml" >"$D/out-input.yaml"
  x 2 run "$D/out-input.yaml" $force
  [ "$rc" = 2 ] && [ "$(grep -c '^voxfit' "$T/out")" = 1 ] &&
    has 'output is also the features of variant' && [ "$(md5sum <"$D/features.nc")" = "$sum0" ]
  ok $? "output: features.nc ${force:-without --force}: exit 2 naming the input, which is untouched (got $rc)"
done
ln -sf sub-02.nc "$D/link-02.nc"
sed -e 's#^output: .*#output: link-02.nc#' "$D/job.yaml" >"$D/out-link.yaml"
x 1 run "$D/out-link.yaml" --force
[ "$rc" = 2 ] && has 'output is also the responses of subject sub-02'
ok $? "output: a link to sub-02.nc: the same file by inode, exit 2 (got $rc)"
sed -e 's#^output: .*#output: out-input.yaml#' "$D/job.yaml" >"$D/out-input.yaml"
x 1 run "$D/out-input.yaml" --force
[ "$rc" = 2 ] && has 'output is the job file itself' && grep -q '^output: out-input.yaml' "$D/out-input.yaml"
ok $? "output: the job file itself, with --force: exit 2, the job file untouched (got $rc)"
sed -e 's#^output: .*#output: features.nc#' "$D/job.yaml" >"$D/out-input.yaml"
for cmd in plan validate; do
  x 1 "$cmd" "$D/out-input.yaml"
  [ "$rc" = 2 ] && has 'output is also the features'
  ok $? "$cmd also refuses output: features.nc (got $rc)"
done

# a file system that refuses the writes (/dev/full: every write fails with
# ENOSPC): exit 5, the system's failure, not 4 (a bug)
if [ -c /dev/full ] && [ "$(id -u)" = 0 ]; then # as root: /dev is writable
  sed -e 's#^output: .*#output: /dev/full#' "$D/job.yaml" >"$D/full.yaml"
  x 1 run "$D/full.yaml" --force --quiet
  [ "$rc" = 5 ] && [ "$(grep -c '^voxfit' "$T/out")" = 1 ] && has 'error: /dev/full: '
  ok $? "writes that fail (output /dev/full): exit 5 and one line naming the file (got $rc)"
fi

# one responses file for two subjects, spelt differently (the same file)
bad dup-responses 's#responses: sub-02\.nc#responses: ./sub-01.nc#' \
  'subjects sub-01 and sub-02 have the same responses file' 'each subject needs its own'

# an explicit split whose test set is not the repetitions' 40 stimuli
bad split-vs-reps 's#^split: file#split: {train: [0, 240], test: [240, 30]}#' \
  'test_repetitions has 40 test stimuli but the split has 30' 'sub-0[1-3]\.nc'

# ... while one that matches them is used whatever the file's split says
# (here a split variable marking 44 test stimuli: once refused on reading)
for sub in 01 02 03; do cp "$D/sub-$sub.nc" "$D/split44-$sub.nc"; done
"$PY" - "$D"/split44-0[1-3].nc <<'EOF'
import sys, netCDF4
for path in sys.argv[1:]:
    ds = netCDF4.Dataset(path, "r+")
    ds["split"][232:240] = 1
    ds.close()
EOF
ok $? "python3 marks 44 test stimuli in copies of the responses' split"
sed -e "s#^output: .*#output: $T/out-split44.nc#" -e 's#responses: sub-\(0[1-3]\)\.nc#responses: split44-\1.nc#' \
  -e 's#^split: file#split: {train: [0, 240], test: [240, 40]}#' "$D/job.yaml" >"$D/split44.yaml"
for np in 1 2; do
  rm -f "$T/out-split44.nc"
  x "$np" run "$D/split44.yaml" --quiet
  [ "$rc" = 0 ] && [ -e "$T/out-split44.nc" ]
  ok $? "explicit split of 40 test stimuli, the file's split marking 44 (np=$np): exit 0 (got $rc)"
done
x 1 validate "$D/split44.yaml"
ok "$rc" "validate accepts it too (got $rc)"

# a block permutation of one block moves nothing (every test_p was 1): the
# message names the key, the 40 test stimuli and a length that works
bad one-block '$a stats: {block_length: 40}' 'stats.block_length 40' \
  '40 test stimuli of .*sub-01\.nc' 'stats.block_length 6 or less'
# 4 blocks have 24 orders, fewer than the 1000 permutations: one warning
# (rank 0's), and the run goes on
sed -e "s#^output: .*#output: $T/out-4blocks.nc#" "$D/job.yaml" >"$D/4blocks.yaml"
echo "stats: {block_length: 10}" >>"$D/4blocks.yaml"
x 2 run "$D/4blocks.yaml" --quiet
[ "$rc" = 0 ] && [ "$(count 'warning: .*stats.block_length 10 .*only 24 orders')" = 1 ]
ok $? "4 blocks for 1000 permutations: exit 0 and one warning (got $rc)"

for np in 1 2; do
  x "$np" run "$D/no-such-job.yaml"
  [ "$rc" = 2 ] && [ "$(grep -c '^voxfit' "$T/out")" = 1 ] && has 'error: .*no-such-job\.yaml'
  ok $? "missing job file (np=$np): exit 2 and one line naming it (got $rc)"
done

# a folder or a binary file as the job: run and plan read it as validate does
x 1 run "$D"
[ "$rc" = 2 ] && has 'cannot read job file: Is a directory'
ok $? "a folder as the job file: exit 2, 'Is a directory' (got $rc)"
{ cat "$D/job.yaml"; printf '\000garbage: [\n'; } >"$D/nul.yaml"
for cmd in run plan; do
  x 1 "$cmd" "$D/nul.yaml"
  [ "$rc" = 2 ] && has 'nul.yaml: job file contains a NUL byte'
  ok $? "$cmd: a job file with a NUL byte is refused, as validate does (got $rc)"
done

# ---- truncated inputs ----------------------------------------------------
# A copy cut short (an interrupted transfer): PnetCDF reads past the end as
# zeros, so these once ran (or validated) on garbage with exit 0. Cut inside
# the header, inside a variable and by the last byte; the message names the
# file as truncated with both sizes and says what to do.
fsize=$(stat -c%s "$D/features.nc")
head -c 100 "$D/features.nc" >"$D/features-cut-header.nc"
head -c $((fsize / 2)) "$D/features.nc" >"$D/features-cut-half.nc"
head -c $((fsize - 1)) "$D/features.nc" >"$D/features-cut-last.nc"
for cut in header half last; do
  bad "truncated-features-$cut" "s#features: features\.nc#features: features-cut-$cut.nc#" \
    "features-cut-$cut\.nc: is truncated: [0-9]* bytes, but its header implies" \
    'copy it again or regenerate it'
done
for cmd in validate plan; do
  x 1 "$cmd" "$D/truncated-features-half.yaml"
  [ "$rc" = 2 ] && has "error: .*features-cut-half\.nc: is truncated: $((fsize / 2)) bytes, but its header implies $fsize "
  ok $? "$cmd of a job with truncated features: exit 2, the file named as truncated (got $rc)"
done
# responses cut in half: once "roi_name entry 0 is empty" (zeros read past the end)
rsize=$(stat -c%s "$D/sub-02.nc")
head -c $((rsize / 2)) "$D/sub-02.nc" >"$D/sub-02-half.nc"
bad truncated-responses 's#responses: sub-02\.nc#responses: sub-02-half.nc#' \
  "sub-02-half\.nc: is truncated: $((rsize / 2)) bytes, but its header implies $rsize "

# ---- a unit that fails alone ----------------------------------------------
cp "$D/features.nc" "$D/features-nan.nc"
"$PY" - "$D/features-nan.nc" <<'EOF'
import sys, netCDF4
ds = netCDF4.Dataset(sys.argv[1], "r+")
ds["uni_visual_l2"][3, 5] = float("nan")      # stimulus 3 is a training row
ds.close()
EOF
ok $? "python3 puts a NaN into uni_visual_l2 of a copy of features.nc"
res=$T/out-nan.nc
sed -e "s#^output: .*#output: $res#" -e 's#features: features\.nc#features: features-nan.nc#' \
  "$D/job.yaml" >"$D/nan.yaml"
for np in 1 2; do
  rm -f "$res"
  x "$np" run "$D/nan.yaml"
  case $rc in
    124 | 137) fail "NaN features (np=$np): hung (killed after 60 s)"; continue ;;
  esac
  ok "$([ "$rc" = 1 ]; echo $?)" "NaN features (np=$np): exit 1 (got $rc)"
  has 'uni_visual_l2'
  ok $? "NaN features (np=$np): the failure is reported on the terminal"
  # one warning per distinct reason and rank, not one per unit (30 units)
  n=$(count 'failed: .*uni_visual_l2')
  ok "$([ "$n" -ge 1 ] && [ "$n" -le "$np" ]; echo $?)" \
    "NaN features (np=$np): the reason is a warning once per rank ($n lines)"
  "$PY" - "$res" <<'EOF' >"$T/py" 2>&1
import sys, netCDF4, numpy as np
ds = netCDF4.Dataset(sys.argv[1]); ds.set_auto_mask(False)
ids = list(netCDF4.chartostring(ds["variant_id"][:]))
bad = ids.index("uni-vis-l2")
st = ds["unit_status"][:]                      # unit
err = netCDF4.chartostring(ds["unit_error"][:]) # unit
mine = ds["unit_variant"][:] == bad
rst = ds["roi_status"][:]                       # sweep, subject, variant, roi
checks = [
    ("the other variants' units have status 1", (st[~mine] == 1).all()),
    ("the broken variant's units have status 2", (st[mine] == 2).all()),
    ("its unit_error names the file and variable",
     all("features-nan.nc" in e and "uni_visual_l2" in e for e in err[mine])),
    ("the other units have no unit_error", all(e == "" for e in err[~mine])),
    ("roi_status: 2 for the broken variant, 1 elsewhere",
     (rst[:, :, bad] == 2).all() and (np.delete(rst, bad, axis=2) == 1).all()),
    ("complete = 1", int(ds.getncattr("complete")) == 1),
    ("the other variants' test_r are finite",
     np.isfinite(np.delete(ds["test_r"][:], bad, axis=1)).all()),
]
for name, good in checks:
    print(("PASS " if good else "FAIL ") + name)
    if not good and "unit_error" in name:
        print("  unit_error:", sorted(set(err[mine])))
EOF
  pyrc=$?
  while IFS= read -r l; do
    case $l in
      "PASS "*) pass "NaN features (np=$np): ${l#PASS }" ;;
      "FAIL "*) fail "NaN features (np=$np): ${l#FAIL }" ;;
      *) echo "  $l" ;;
    esac
  done <"$T/py"
  [ "$pyrc" = 0 ] || fail "NaN features (np=$np): reading $res failed (python exit $pyrc)"
done

finish
