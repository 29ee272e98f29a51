#!/bin/sh
# voxfit run, end to end: the generated demo study on 1 and 2 ranks (exit 0,
# the summary table once, "results: PATH", the documented variables and
# attributes of the results file); rerunning the same job onto its output;
# a truncated copy of it refused on resume, by group and (as a shard) by
# collect, the file untouched, until --force starts afresh; shard files
# created at their full size and resumable; another job onto that output
# refused (exit 2, file untouched) unless --force; --help / --version /
# unknown commands.
# Prints one PASS/FAIL line per check; exits 1 if any failed.
# usage: sh tests/cli/test_run.sh BUILD_DIR
BUILD=${1:?usage: test_run.sh BUILD_DIR}
BUILD=$(cd "$BUILD" && pwd) || exit 2
. "$(dirname "$0")/../lib.sh"

TEST=run

demo_study 7

# ---- the demo job on 1 and 2 ranks ---------------------------------------
# run from another folder: the job's relative paths are its own folder's
mkdir -p "$T/cwd"
cd "$T/cwd" || exit 2
for np in 1 2; do
  rm -f "$D/results.nc"
  x "$np" run "$D/job.yaml"
  check "np=$np: exit 0" [ "$rc" = 0 ]
  check "np=$np: table header names the ROIs" \
    grep -q -E '^subject +variant +V1 +V2 +V3 +V4 +LOC +FFA' "$T/out"
  check "np=$np: header printed once" [ "$(count '^subject  *variant ')" = 1 ]
  rows=$(grep -c -E '^sub-0[123] +(mm|uni)-vis-l[12]( +-?[0-9]+\.[0-9]{3}){10}$' "$T/out")
  check "np=$np: 12 rows (3 subjects x 4 variants) of 10 ROI means (got $rows)" [ "$rows" = 12 ]
  for s in sub-01 sub-02 sub-03; do
    for v in mm-vis-l1 uni-vis-l1 mm-vis-l2 uni-vis-l2; do
      n=$(grep -c -E "^$s +$v " "$T/out")
      [ "$n" = 1 ] || fail "np=$np: row $s x $v printed $n times"
    done
  done
  check "np=$np: no FAILED unit in the table" sh -c "! grep -q FAILED '$T/out'"
  path=$(sed -n 's/^results: \(.*\)$/\1/p' "$T/out")
  check "np=$np: prints 'results: PATH' once" [ "$(count '^results: ')" = 1 ]
  [ -n "$path" ] && [ -f "$path" ]; ok $? "np=$np: PATH ($path) exists from the caller's folder"
  check "np=$np: PATH is the job's output ($D/results.nc)" [ -f "$D/results.nc" ]
  # the table's numbers are the file's roi_mean_r
  if "$PY" - "$D/results.nc" "$T/out" <<'EOF'
import sys, re, netCDF4, numpy as np
ds = netCDF4.Dataset(sys.argv[1]); ds.set_auto_mask(False)
m = ds["roi_mean_r"][0]                       # subject x variant x roi
rows = [l.split() for l in open(sys.argv[2])
        if re.match(r"^sub-0[123] +(mm|uni)-vis-l[12] ", l)]
subs = list(netCDF4.chartostring(ds["subject_id"][:]))
vars_ = list(netCDF4.chartostring(ds["variant_id"][:]))
bad = 0
for r in rows:
    s, v = subs.index(r[0]), vars_.index(r[1])
    printed = np.array([float(t) for t in r[2:]])
    if not np.allclose(printed, m[s, v], atol=0.0005 + 1e-9):
        print("  row", r[0], r[1], "printed", printed, "file", m[s, v]); bad = 1
sys.exit(bad or len(rows) != 12)
EOF
  then pass "np=$np: the table's numbers are roi_mean_r of the file"
  else fail "np=$np: the table's numbers are roi_mean_r of the file"; fi

  ncdump -h "$D/results.nc" >"$T/header" 2>&1
  miss=""
  for v in subject_id variant_id variant_model variant_tower variant_training \
           variant_layer roi_name sweep_label lambda pair_variants voxel_subject \
           voxel_roi voxel_index voxel_xyz test_r test_r2 best_lambda cv_score \
           unit_status unit_error roi_status roi_mean_r roi_median_r roi_n_voxels \
           roi_n_masked unit_seconds unit_sweep unit_subject unit_variant unit_roi \
           unit_voxel_start unit_voxel_count; do
    grep -q -E "^[[:space:]]+[a-z]+ $v\(" "$T/header" || miss="$miss $v"
  done
  check "np=$np: ncdump -h shows every documented variable${miss:+ (missing:$miss)}" [ -z "$miss" ]
  check "np=$np: test_r is (sweep, variant, voxel)" \
    grep -q 'double test_r(sweep, variant, voxel)' "$T/header"
  check "np=$np: roi_status is (sweep, subject, variant, roi)" \
    grep -q 'int roi_status(sweep, subject, variant, roi)' "$T/header"
  check "np=$np: unit_status is (unit)" grep -q 'int unit_status(unit)' "$T/header"
  check "np=$np: dimensions sweep=1 subject=3 variant=4 roi=10" \
    sh -c "grep -q 'sweep = 1 ;' '$T/header' && grep -q 'subject = 3 ;' '$T/header' &&
           grep -q 'variant = 4 ;' '$T/header' && grep -q 'roi = 10 ;' '$T/header'"
  check "np=$np: complete = 1" [ "$(attr "$D/results.nc" complete)" = 1 ]
  check "np=$np: n_ranks = $np" [ "$(attr "$D/results.nc" n_ranks)" = "$np" ]
  check "np=$np: n_pairs = 2" [ "$(attr "$D/results.nc" n_pairs)" = 2 ]
  for a in voxfit_version job_name job_file job_yaml job_hash started finished; do
    grep -q -E "^[[:space:]]+:$a = " "$T/header" || fail "np=$np: no global attribute $a"
  done
  st=$(ncdump -v unit_status "$D/results.nc" | sed -n '/^ unit_status =/,/;/p' |
       tr -c '0-9\n' ' ' | tr ' ' '\n' | grep -v '^$' | sort | uniq -c | tr -s ' ')
  check "np=$np: all 120 unit_status are 1 (got:$st)" [ "$st" = " 120 1" ]
  st=$(ncdump -v roi_status "$D/results.nc" | sed -n '/^ roi_status =/,/;/p' |
       tr -c '0-9\n' ' ' | tr ' ' '\n' | grep -v '^$' | sort | uniq -c | tr -s ' ')
  check "np=$np: all 120 roi_status are 1 (got:$st)" [ "$st" = " 120 1" ]
done

# ---- rerun, another job, --force -----------------------------------------
out=$D/results.nc
hash1=$(attr "$out" job_hash)
x 2 run "$D/job.yaml" --quiet
check "rerun of the same job onto its output: exit 0" [ "$rc" = 0 ]
[ -n "$hash1" ] && [ "$(attr "$out" job_hash)" = "$hash1" ]; ok $? "rerun: same job_hash ($hash1)"
check "rerun: complete = 1" [ "$(attr "$out" complete)" = 1 ]

# ---- a truncated results file is not resumed ---------------------------------
# A copy cut short: its done flags would promise data past its end, so a
# resume once skipped every unit and lost the rest. Refused (exit 2, one
# line naming it as truncated and --force), the file left as it was; --force
# starts afresh. Cut inside the header, in the middle, and by the last byte.
sed "s#^output: .*#output: $T/cut.nc#" "$D/job.yaml" >"$D/cut.yaml"
x 2 run "$D/cut.yaml" --quiet
ok "$rc" "the job with output cut.nc: exit 0 (got $rc)"
mv "$T/cut.nc" "$T/whole.nc"
wsize=$(stat -c%s "$T/whole.nc")
for cut in 1000 $((wsize / 2)) $((wsize - 1)); do
  for np in 1 2; do
    head -c "$cut" "$T/whole.nc" >"$T/cut.nc"
    sum=$(cksum <"$T/cut.nc")
    x "$np" run "$D/cut.yaml" --quiet
    check "results cut at $cut of $wsize bytes (np=$np): resume refused, exit 2 (got $rc)" [ "$rc" = 2 ]
    check "results cut at $cut (np=$np): one voxfit line (--quiet)" [ "$(count '^voxfit')" = 1 ]
    check "results cut at $cut (np=$np): it says truncated, both sizes and --force" \
      has "error: .*cut\.nc: is truncated: $cut bytes, but its header implies .*--force"
    check "results cut at $cut (np=$np): the file is left untouched" [ "$(cksum <"$T/cut.nc")" = "$sum" ]
  done
done
x 2 run "$D/cut.yaml" --force --quiet
check "truncated results with --force: exit 0 (got $rc)" [ "$rc" = 0 ]
check "--force: the whole size again" [ "$(stat -c%s "$T/cut.nc")" = "$wsize" ]
same "$T/whole.nc" "$T/cut.nc"
ok $? "--force: the results equal the uninterrupted run's$(sed '/^$/d; s/^/: differs in /' "$T/cmp")"
# a results file of an earlier build (no full_size mark) ended at its last
# write, whole as it was: its data extent is not judged, so it resumes
"$PY" - "$T/cut.nc" <<'EOF'
import sys, netCDF4
d = netCDF4.Dataset(sys.argv[1], "a")
d.delncattr("full_size")
d.close()
EOF
truncate -s $(($(stat -c%s "$T/cut.nc") - 64)) "$T/cut.nc"
x 2 run "$D/cut.yaml" --quiet
[ "$rc" = 0 ] && has "done before"
ok $? "a results file of an earlier build, 64 bytes short of its last variable's end, resumes (got $rc)"

# group reads results files: a truncated one is refused too
head -c $((wsize / 2)) "$T/whole.nc" >"$T/half.nc"
x 1 group "$T/half.nc" --out "$T/half-group.nc"
[ "$rc" = 2 ] && has "error: .*half\.nc: is truncated" && [ ! -e "$T/half-group.nc" ]
ok $? "group of a truncated results file: exit 2 naming it, no group file (got $rc)"

# ---- shards and collect: whole files pass, a cut shard is refused -------------
# PnetCDF fills nothing: a file ends where its last write did until voxfit
# gives it its full size when creating it. Shard files have it and resume;
# collect reopens the merged file before anything wrote its last variable
# (so would refuse it without that); a killed run's file is resumed in
# test_batch.sh.
sed "s#^output: .*#output: $T/sh.nc#" "$D/job.yaml" >"$D/sh.yaml"
for i in 1 2; do
  x 1 run "$D/sh.yaml" --shard "$i/2" --quiet
  ok "$rc" "shard $i/2: exit 0 (got $rc)"
  check "shard $i/2: its file has the whole file's size" \
    [ "$(stat -c%s "$T/sh.shard-$i-of-2.nc")" = "$wsize" ]
done
x 1 run "$D/sh.yaml" --shard 1/2
[ "$rc" = 0 ] && has '^units: 0 run (0 done, 0 failed), [0-9]* done before'
ok $? "shard 1/2 rerun: resumed, every unit done before (got $rc)"
cp "$T/sh.shard-1-of-2.nc" "$T/sh1.nc"
head -c $((wsize / 2)) "$T/sh1.nc" >"$T/sh.shard-1-of-2.nc"
x 2 collect "$D/sh.yaml" --shards 2
[ "$rc" = 2 ] && [ "$(count '^voxfit')" = 1 ] && has "error: .*sh\.shard-1-of-2\.nc: is truncated"
ok $? "collect with a truncated shard: exit 2, one line naming it as truncated (got $rc)"
cp "$T/sh1.nc" "$T/sh.shard-1-of-2.nc"
x 2 collect "$D/sh.yaml" --shards 2 --force
check "collect of the whole shards: exit 0 (got $rc)" [ "$rc" = 0 ]
same "$T/whole.nc" "$T/sh.nc"
ok $? "collected shards equal the unsharded run$(sed '/^$/d; s/^/: differs in /' "$T/cmp")"

sed 's/folds: 5/folds: 4/' "$D/job.yaml" >"$D/job4.yaml"
sum1=$(cksum <"$out")
x 2 run "$D/job4.yaml"
check "another job onto the same output: exit 2 (got $rc)" [ "$rc" = 2 ]
check "another job: the message names the file" has "error: .*results.nc"
check "another job: the message names --force" has "error: .*--force"
check "another job: the message is printed once" [ "$(count 'error: ')" = 1 ]
check "another job: the file is left untouched" [ "$(cksum <"$out")" = "$sum1" ]
check "another job: job_hash unchanged" [ "$(attr "$out" job_hash)" = "$hash1" ]
x 1 run "$D/job4.yaml" --quiet
check "another job on 1 rank: exit 2 too" [ "$rc" = 2 ]

x 2 run "$D/job4.yaml" --force
check "another job with --force: exit 0 (got $rc)" [ "$rc" = 0 ]
hash2=$(attr "$out" job_hash)
[ -n "$hash2" ] && [ "$hash2" != "$hash1" ]
ok $? "--force: the file holds the new job (job_hash $hash2 != $hash1)"
check "--force: complete = 1" [ "$(attr "$out" complete)" = 1 ]
check "--force: the job_yaml is the new job's" sh -c "ncdump -h '$out' | grep -q 'folds: 4'"

printf 'not a results file\n' >"$T/junk.nc"
sed "s#^output: .*#output: $T/junk.nc#" "$D/job.yaml" >"$D/junk.yaml"
x 1 run "$D/junk.yaml"
check "output is some other file: exit 2 (got $rc)" [ "$rc" = 2 ]
check "output is some other file: left untouched" \
  [ "$(cat "$T/junk.nc")" = "not a results file" ]

# ---- help, version, unknown command ---------------------------------------
for c in run plan validate gen; do
  x 1 "$c" --help
  [ "$rc" = 0 ] && has "usage: voxfit $c"; ok $? "$c --help: exit 0 and a usage line"
done
x 1 --help
[ "$rc" = 0 ] && has '^usage: voxfit' && has '^  run ' && has '^  plan '
ok $? "voxfit --help: exit 0 and a usage line listing the commands"
x 2 --help
[ "$rc" = 0 ] && [ "$(count '^usage: voxfit')" = 1 ]; ok $? "voxfit --help on 2 ranks: printed once"
x 1 --version
ver=$(attr "$out" voxfit_version)
[ "$rc" = 0 ] && has "^voxfit $ver\$"; ok $? "voxfit --version: exit 0, prints 'voxfit $ver'"
check "voxfit --version: a version number" has '^voxfit [0-9][0-9]*\.[0-9][0-9]*'
x 1 frobnicate
check "unknown command: exit 2 (got $rc)" [ "$rc" = 2 ]
check "unknown command: names it" has "unknown command 'frobnicate'"
x 1
check "no command: exit 2 (got $rc)" [ "$rc" = 2 ]
x 1 run
check "run without a job: exit 2 (got $rc)" [ "$rc" = 2 ]
x 1 run "$D/job.yaml" --frobnicate
check "run with an unknown option: exit 2 (got $rc)" [ "$rc" = 2 ]
x 1 run "$T/no-such-job.yaml"
[ "$rc" = 2 ] && has 'error: .*no-such-job.yaml'
ok $? "run of a missing job file: exit 2 naming it (got $rc)"

finish
