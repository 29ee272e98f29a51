#!/bin/sh
# voxfit validate: a generated study (usable, on 1 and 2 ranks), broken
# copies of its job (a missing file, an HDF5 file, an unknown ROI, split
# ranges beyond the stimuli, leave-one-run-out without runs, too many folds,
# a subject with another stimulus count, a stats.block_length leaving one
# block (an error) or four (a warning)) and small hand-made files (NaN and
# constant voxels give warnings but exit 0; NaN features and a missing split
# are errors; interleaved run labels warn; the voxels it counts as masked, NaN test repetitions and
# voxels constant within a run included, are those voxfit run masks).
# usage: sh tests/cli/test_validate.sh BUILD_DIR
BUILD=${1:?usage: test_validate.sh BUILD_DIR}
VOXFIT=$BUILD/bin/voxfit
export OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}"

fail() {
  echo "FAIL validate: $*"
  if [ -n "${dir:-}" ] && [ -f "$dir/out" ]; then
    echo "--- stdout of the last run:"; cat "$dir/out"
    echo "--- stderr of the last run:"; cat "$dir/err"
  fi
  exit 1
}

[ -x "$VOXFIT" ] || fail "no $VOXFIT; build it first (make BUILD=$BUILD)"
dir=$(mktemp -d /tmp/voxfit-validate.XXXXXX) || fail "mktemp"
trap '[ -n "${KEEP:-}" ] || rm -rf "$dir"' EXIT
data=$dir/data

# vrun NP ARGS...: voxfit validate on NP ranks; sets $rc, output in out/err.
# No grace after a non-zero exit (see QUICK_EXIT in tests/lib.sh).
vrun() {
  np=$1
  shift
  OMPI_MCA_odls_base_sigkill_timeout=0 mpirun --allow-run-as-root --oversubscribe -np "$np" "$VOXFIT" validate "$@" \
    >"$dir/out" 2>"$dir/err"
  rc=$?
}

# expect CASE RC: the exit code of the last run.
expect() {
  [ "$rc" = "$2" ] || fail "$1: exit code $rc, expected $2"
}

# has CASE out|err PATTERN: the last run's stdout or stderr matches.
has() {
  grep -q -e "$3" "$dir/$2" || fail "$1: $2 does not match '$3'"
}

# job NAME SED: a copy of the generated job.yaml, edited, beside it (so its
# relative paths still hold).
job() {
  sed "$2" "$data/job.yaml" >"$data/$1.yaml" || fail "sed $1"
  echo "$data/$1.yaml"
}

mpirun --allow-run-as-root --oversubscribe -np 1 "$VOXFIT" gen --preset demo \
  --out "$data" >"$dir/gen.log" 2>&1 || fail "voxfit gen: $(tail -n 3 "$dir/gen.log")"

# ---- the generated job is usable --------------------------------------------
vrun 1 "$data/job.yaml"
expect "generated job" 0
has "generated job" out 'shape: [0-9]* stimuli x [0-9]* features'
has "generated job" out 'shape: [0-9]* stimuli x [0-9]* voxels'
has "generated job" out 'split: [0-9]* training / [0-9]* test'
has "generated job" out 'repetitions: [0-9]* x [0-9]* test stimuli'
has "generated job" out 'ROI sizes (voxels): [A-Za-z0-9]* [0-9]'
has "generated job" out '^validate: usable'
grep -q 'error' "$dir/err" && fail "generated job: errors printed"

vrun 2 "$data/job.yaml"
expect "generated job on 2 ranks" 0
[ "$(grep -c '^validate: usable' "$dir/out")" = 1 ] ||
  fail "generated job on 2 ranks: the report is not printed exactly once"

# ---- command line ---------------------------------------------------------------
vrun 1 --help
expect "--help" 0
has "--help" out 'usage: voxfit validate'
vrun 1
expect "no job" 2
has "no job" err 'voxfit validate: error: missing the job file'
vrun 1 --frobnicate "$data/job.yaml"
expect "unknown option" 2
has "unknown option" err "unknown option '--frobnicate'"
vrun 1 "$data/no-such-job.yaml"
expect "missing job file" 2
has "missing job file" err 'voxfit validate: error: .*no-such-job.yaml'

# ---- broken inputs ----------------------------------------------------------------
vrun 1 "$(job missing 's/sub-02\.nc/sub-09.nc/')"
expect "missing file" 2
has "missing file" err 'voxfit validate: error: .*sub-09.nc: no such file'
has "missing file" out 'subject sub-03'   # it goes on after a problem

# one missing features file that every variant names: one error line, not one each
vrun 1 "$(job nofeat 's/features: features\.nc/features: gone.nc/')"
expect "missing features file" 2
n=$(grep -c 'gone.nc: no such file' "$dir/err")
[ "$n" = 1 ] || fail "missing features file: $n error lines for one file, expected 1"
has "missing features file" out '(the error above again)'
has "missing features file" out 'validate: 1 problem(s)'

nccopy -k nc4 "$data/sub-01.nc" "$data/sub-01-nc4.nc" || fail "nccopy"
vrun 1 "$(job hdf5 's/sub-01\.nc/sub-01-nc4.nc/')"
expect "HDF5 file" 2
has "HDF5 file" err 'sub-01-nc4.nc: is a NetCDF-4/HDF5 file'
has "HDF5 file" err 'nccopy -k cdf5'

vrun 1 "$(job roi 's/^rois: all/rois: [V1, V9]/')"
expect "unknown ROI" 2
has "unknown ROI" err "ROI 'V9' named in the job is not in this file (ROIs here: V1, V2"
[ "$(grep -c 'voxfit validate: error:' "$dir/err")" = 3 ] ||
  fail "unknown ROI: expected one error per subject"

vrun 1 "$(job two 's/^rois: all/rois: [V9]/; s/sub-02\.nc/sub-09.nc/')"
expect "two problems" 2
[ "$(grep -c 'voxfit validate: error:' "$dir/err")" = 3 ] ||
  fail "two problems: expected every problem reported (3 lines)"

vrun 1 "$(job beyond 's/^split: file/split: {train: [0, 10], test: [10, 100000]}/')"
expect "split beyond N" 2
has "split beyond N" err 'split.test \[10, 100010) goes beyond the [0-9]* stimuli'

vrun 1 "$(job loro 's/cv: {scheme: kfold, folds: 5}/cv: {scheme: leave-one-run-out}/')"
expect "leave-one-run-out" 2
has "leave-one-run-out" err "no variable 'run', but ridge.cv is leave-one-run-out"

vrun 1 "$(job folds 's/^split: file/split: {train: [0, 3], test: [3, 10]}/')"
expect "folds" 2
has "folds" err '3 training stimuli but ridge.cv asks for 5 folds'

vrun 1 "$(job oneblock '$a stats: {block_length: 40}')"
expect "one permutation block" 2
has "one permutation block" err 'stats.block_length 40 leaves the 40 test stimuli of .*sub-01.nc in one block'
vrun 1 "$(job fourblocks '$a stats: {block_length: 10}')"
expect "four permutation blocks" 0
has "four permutation blocks" out 'warning: .*stats.block_length 10 cuts the 40 test stimuli .* into 4 blocks'

mpirun --allow-run-as-root --oversubscribe -np 1 "$VOXFIT" gen --preset demo \
  --scale 0.5 --subjects 1 --out "$dir/small" >"$dir/gen.log" 2>&1 ||
  fail "voxfit gen --scale 0.5: $(tail -n 3 "$dir/gen.log")"
vrun 1 "$(job stimuli 's#sub-03\.nc#../small/sub-01.nc#')"
expect "stimulus counts" 2
has "stimulus counts" err 'small/sub-01.nc (subject sub-03) has [0-9]* stimuli but'
has "stimulus counts" err 'must share the stimulus axis'

# ---- hand-made files: warnings, NaN features, no split ------------------------
hand=$dir/hand
mkdir -p "$hand"
cat >"$hand/r.cdl" <<'EOF'
netcdf r {
dimensions:
  stimulus = 6 ; voxel = 4 ; roi = 2 ; name_len = 4 ;
variables:
  float responses(stimulus, voxel) ;
  int roi_index(voxel) ;
  char roi_name(roi, name_len) ;
  byte split(stimulus) ;
  int run(stimulus) ;
data:
  responses = 1, 2, 5, 0,   2, NaNf, 5, 1,   3, 1, 5, 2,
              4, 2, 5, 3,   5, 1, 6, 1,      6, 2, 7, 2 ;
  roi_index = 0, 0, 1, -1 ;
  roi_name = "V1", "hMT" ;
  split = 0, 0, 0, 0, 1, 1 ;
  run = 0, 0, 1, 1, 2, 2 ;
}
EOF
cat >"$hand/f.cdl" <<'EOF'
netcdf f {
dimensions:
  stimulus = 6 ; feature = 2 ;
variables:
  double features(stimulus, feature) ;
  double nan_features(stimulus, feature) ;
data:
  features = 1, 7,  2, 7,  3, 7,  4, 7,  5, 7,  6, 7 ;
  nan_features = 1, 7,  2, NaN,  3, 7,  4, 7,  5, 7,  6, 7 ;
}
EOF
grep -v split "$hand/r.cdl" >"$hand/r2.cdl"
grep -v 'run' "$hand/r.cdl" >"$hand/r3.cdl"
for f in r f r2 r3; do
  ncgen -k classic -o "$hand/$f.nc" "$hand/$f.cdl" || fail "ncgen $f.cdl"
done
cat >"$hand/job.yaml" <<'EOF'
job: hand
output: results.nc
subjects:
  - {id: s1, responses: r.nc}
variants:
  - {id: v1, features: f.nc, variable: features, model: m, layer: 1, tower: visual, training: multimodal}
rois: all
split: file
ridge:
  lambdas: [1, 10]
  cv: {scheme: kfold, folds: 2}
  standardize: {per_run: true}
EOF
vrun 1 "$hand/job.yaml"
expect "warnings" 0
has "warnings" out 'runs: 3 (2 among the training stimuli)'
has "warnings" out "warning: .*r.nc: 1 voxels have NaN/Inf values"
has "warnings" out "warning: .*r.nc: 1 voxels are constant over the training stimuli"
has "warnings" out "warning: .*f.nc: variable 'features' has 1 constant feature columns"
has "warnings" out 'ROI sizes (voxels): V1 2 (1 masked), hMT 1 (1 masked)'

sed 's/^rois: all/rois: [hMT]/' "$hand/job.yaml" >"$hand/hmt.yaml"
vrun 1 "$hand/hmt.yaml"
expect "every voxel of the job's ROIs masked" 2
has "every voxel of the job's ROIs masked" err \
  "r.nc: all 1 voxels of the job's ROIs have NaN/Inf values or are constant"

sed 's/variable: features/variable: nan_features/' "$hand/job.yaml" >"$hand/nan.yaml"
vrun 1 "$hand/nan.yaml"
expect "NaN features" 2
has "NaN features" err "variable 'nan_features' has 1 NaN/Inf values in the stimuli the job uses"

sed 's/r\.nc/r2.nc/' "$hand/job.yaml" >"$hand/nosplit.yaml"
vrun 2 "$hand/nosplit.yaml"
expect "no split" 2
has "no split" err "r2.nc: no variable 'split', but the job says split: file"

sed 's/run = 0, 0, 1, 1, 2, 2 ;/run = 0, 1, 0, 1, 2, 2 ;/' "$hand/r.cdl" >"$hand/r4.cdl"
ncgen -k classic -o "$hand/r4.nc" "$hand/r4.cdl" || fail "ncgen r4.cdl"
sed -e 's/r\.nc/r4.nc/' -e 's/per_run: true/per_run: false/' "$hand/job.yaml" >"$hand/interleaved.yaml"
vrun 1 "$hand/interleaved.yaml"
expect "interleaved run labels" 0
has "interleaved run labels" out \
  "warning: .*r4.nc: the 2 run labels of the training stimuli form 4 separate blocks"
vrun 1 "$hand/job.yaml"
grep -q 'separate blocks' "$dir/out" && fail "contiguous run labels: warned of separate blocks"

sed 's/r\.nc/r3.nc/' "$hand/job.yaml" >"$hand/norun.yaml"
vrun 1 "$hand/norun.yaml"
expect "per-run standardisation without runs" 2
has "per-run standardisation without runs" err \
  "r3.nc: no variable 'run', but ridge.standardize.per_run is true"

# ---- validate's masked voxels are those voxfit run masks --------------------
# v1: NaN in test_repetitions (masked: the test scores use their mean);
# v2: NaN only in the responses' test row, which the repetitions replace
# (fitted); v3: constant within training run 0 only (masked only with
# standardize.per_run). Each count is checked against the run's
# roi_n_masked and test_r.
cat >"$hand/m.cdl" <<'EOF'
netcdf m {
dimensions:
  stimulus = 10 ; voxel = 5 ; roi = 1 ; name_len = 2 ;
  repetition = 2 ; test_stimulus = 2 ;
variables:
  double responses(stimulus, voxel) ;
  double test_repetitions(repetition, test_stimulus, voxel) ;
  int roi_index(voxel) ;
  char roi_name(roi, name_len) ;
  byte split(stimulus) ;
  int run(stimulus) ;
data:
  responses = 1, 2, 3, 5, 2,   2, 1, 1, 5, 3,   3, 3, 2, 5, 1,   4, 1, 4, 5, 2,
              5, 2, 3, 1, 4,   2, 3, 1, 2, 3,   6, 1, 2, 3, 5,   1, 4, 3, 4, 1,
              2, 1, NaN, 2, 3,   3, 2, 1, 3, 2 ;
  test_repetitions = 2, 1, 1, 2, 3,   3, 2, 2, 3, 2,
                     2, NaN, 1, 2, 3,   3, 2, 2, 3, 2 ;
  roi_index = 0, 0, 0, 0, 0 ;
  roi_name = "A" ;
  split = 0, 0, 0, 0, 0, 0, 0, 0, 1, 1 ;
  run = 0, 0, 0, 0, 1, 1, 1, 1, 2, 2 ;
}
EOF
cat >"$hand/g.cdl" <<'EOF'
netcdf g {
dimensions:
  stimulus = 10 ; feature = 2 ;
variables:
  double features(stimulus, feature) ;
data:
  features = 1, 3,  2, 1,  3, 4,  4, 1,  5, 5,  6, 9,  7, 2,  8, 6,  9, 5,  1, 3 ;
}
EOF
ncgen -k classic -o "$hand/m.nc" "$hand/m.cdl" || fail "ncgen m.cdl"
ncgen -k classic -o "$hand/g.nc" "$hand/g.cdl" || fail "ncgen g.cdl"
sed -e 's/r\.nc/m.nc/' -e 's/f\.nc/g.nc/' -e 's/output: results.nc/output: mask.nc/' \
  "$hand/job.yaml" >"$hand/mask.yaml"
sed -e 's/per_run: true/per_run: false/' -e 's/mask\.nc/mask0.nc/' "$hand/mask.yaml" \
  >"$hand/mask0.yaml"
# masked NAME YAML N RESULTS: validate reports N of A's 5 voxels masked,
# and the run's roi_n_masked and test_r agree (test_r in $dir/r)
masked() {
  vrun 1 "$2"
  expect "$1: validate" 0
  has "$1" out "ROI sizes (voxels): A 5 ($3 masked)"
  mpirun --allow-run-as-root --oversubscribe -np 1 "$VOXFIT" run "$2" --quiet \
    >"$dir/run.out" 2>"$dir/run.err" ||
    fail "$1: voxfit run failed: $(tail -n 3 "$dir/run.err")"
  n=$(ncdump -v roi_n_masked "$hand/$4" | sed -n '/^ roi_n_masked =/,/;/p' |
    tr -d ' ;\n' | sed 's/^roi_n_masked=//')
  [ "$n" = "$3" ] || fail "$1: voxfit run's roi_n_masked is '$n', validate said $3"
  ncdump -v test_r "$hand/$4" | sed -n '/^ test_r =/,/;/p' | tr -d ' ;\n' |
    sed 's/^test_r=//' >"$dir/r"
  [ "$(cut -d, -f2 "$dir/r")" = "NaN" ] || fail "$1: v1 (a NaN repetition) was fitted"
  [ "$(cut -d, -f3 "$dir/r")" != "NaN" ] ||
    fail "$1: v2 (NaN only in a test row the repetitions replace) was masked"
}
masked "per-run masks" "$hand/mask.yaml" 2 mask.nc
has "per-run masks" out "warning: .*m.nc: 1 voxels have NaN/Inf values in test_repetitions"
has "per-run masks" out "warning: .*m.nc: 1 more voxels are constant within a training run"
[ "$(cut -d, -f4 "$dir/r")" = "NaN" ] || fail "per_run: v3 (constant within a run) was fitted"
vrun 1 "$hand/mask.yaml"
has "existing output" out "output .*mask.nc: exists, this job's, complete: 1 of 1 units done, 0 failed"
sed 's/^job: hand/job: other/' "$hand/mask.yaml" >"$hand/other.yaml"
vrun 1 "$hand/other.yaml"
expect "another job's output" 0
has "another job's output" out "warning: .*mask.nc: holds the results of another job"
masked "no per-run" "$hand/mask0.yaml" 1 mask0.nc
[ "$(cut -d, -f4 "$dir/r")" != "NaN" ] || fail "v3 was masked without per_run"

echo "PASS validate"
