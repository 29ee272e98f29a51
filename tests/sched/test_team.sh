#!/bin/sh
# ranks: 2 3 4 5 6
# Teams from outside: units fitted by teams of ranks with ScaLAPACK give the
# single-rank results. The reference is a 2-rank run (master + one worker)
# of a small shortclips-like study with everything on (leave-one-run-out,
# FIR delays 1..4, per-run standardisation, weights, CV curves, 200
# permutations, saved predictions; n > p). The same job on a team of 2
# (grids 1x2 and 2x1, 3 ranks) and of 4 (2x2, 5 ranks) with a block size
# that divides none of the sizes; a 4-rank job where the site's memory per
# rank sends the largest ROIs to a team of 2 and the rest to a single-rank
# worker, and a 6-rank one with a team of 4 and a single worker; a job of
# one unit gets a team for its flops; a dual
# study (p > n) on a team of 2. Every result variable within
# 1e-10 (float32 variables: within float rounding), the same chosen
# lambdas, each design factorised once. The one-unit job's team (block 64,
# matrices narrower than two blocks) on 1x2 and 2x1 grids gives the
# single-rank results too; a single-precision unit gets no team for its
# flops, and one the site forces onto a team is refused (exit 2). A NaN in a feature column that only
# the team's second rank reads makes that variant's units fail with the
# file and variable named, and the job ends (exit 1) without a hang.
# SIGTERM to every rank of a job with a team stops it cleanly (exit 3) and
# the resume on a team equals the clean run. plan
# reports the teams and the per-rank memory, and refuses what no team
# holds.
# usage: sh tests/sched/test_team.sh BUILD_DIR
BUILD=${1:?usage: test_team.sh BUILD_DIR}
BUILD=$(cd "$BUILD" && pwd) || exit 2
. "$(dirname "$0")/../lib.sh"
TEST=team

study shortclips 3 --scale 0.02 --subjects 2

# four variants, everything on
"$PY" - "$D/job.yaml" "$D/rich.yaml" <<'PY'
import sys
s = open(sys.argv[1]).read().split("\n")
out, nv, skip = [], 0, False
for l in s:
    if l.startswith("  - {id: ") and "features" in l:
        nv += 1
        if nv > 4: continue
    if l.startswith("pairs:"): skip = True
    if not skip: out.append(l)
s = "\n".join(out).replace("  delays: [1, 2, 3, 4]", "  delays: [1, 2, 3, 4]\n"
    "  standardize: {per_run: true}\n  save_weights: true\n  save_cv_scores: true")
s = s.replace("output: results.nc", "output: ref.nc")
s += "\npairs:\n  - [mm-vis-l1, uni-vis-l1]\nstats:\n  permutations: 200\n  save_predictions: true\n"
open(sys.argv[2], "w").write(s)
PY
grep -q "leave-one-run-out" "$D/rich.yaml"
ok $? "the job uses leave-one-run-out"

# same REF OUT: every variable of OUT equals REF's (doubles 1e-10, floats
# to float rounding, strings exactly), and OUT is complete
same_all() {
  "$PY" - "$1" "$2" <<'PY' >"$T/cmp" 2>&1
import sys, netCDF4, numpy as np
a, b = (netCDF4.Dataset(p) for p in sys.argv[1:3])
for d in (a, b): d.set_auto_mask(False)
bad = []
for v in a.variables:
    if v == "unit_seconds": continue
    x, y = a[v][:], b[v][:]
    if x.dtype.kind in "SU":
        ok = (x == y).all()
    else:
        f32 = x.dtype == np.float32
        x, y = x.astype(float), y.astype(float)
        tol = dict(rtol=2e-6, atol=1e-6) if f32 else dict(rtol=0, atol=1e-10)
        ok = x.shape == y.shape and np.allclose(x, y, equal_nan=True, **tol)
    if not ok: bad.append(v)
if int(b.getncattr("complete")) != 1: bad.append("complete")
if not (b["unit_status"][:] == 1).all(): bad.append("unit_status")
print(" ".join(bad))
sys.exit(1 if bad else 0)
PY
}

cd "$D" || exit 1
x 2 run rich.yaml
ok "$rc" "reference run on 2 ranks exits 0 (got $rc)"

# team RANKS SIZE ROWS NAME: the job on teams of SIZE with ROWS process rows
team() {
  printf 'team_size: %s\nteam_rows: %s\nteam_block: 8\n' "$2" "$3" >"$T/team.yaml"
  sed "s/^output: .*/output: $4.nc/" rich.yaml >"$4.yaml"
  x "$1" run "$4.yaml" --config "$T/team.yaml"
  ok "$rc" "$4: $1 ranks, team of $2 on $3 rows, exits 0 (got $rc)"
  has "teams: 1 team of $2 ranks (grid ${3}x$(($2 / $3))"
  ok $? "$4: the run reports its team and grid"
  has "4 factorisations for 4 designs"
  ok $? "$4: each design factorised once by the team"
  same_all ref.nc "$4.nc"
  ok $? "$4: every result equals the single-rank run: $(cat "$T/cmp")"
}
team 3 2 1 t2x1x2
team 3 2 2 t2x2x1
team 5 4 2 t4x2x2

# a stop mid-run (SIGTERM to every rank), then a resume, both on a team of 2
sed "s/^output: .*/output: long.nc/" rich.yaml >long.yaml
printf 'sweep: {ridge.delays: [[1, 2, 3, 4], [1, 2], [1, 2, 3]]}\n' >>long.yaml
sed "s/^output: .*/output: longref.nc/" long.yaml >longref.yaml
x 2 run longref.yaml
ok "$rc" "the swept job's single-rank reference exits 0 (got $rc)"
printf 'team_size: 2\nteam_block: 8\nflush_seconds: 0.2\n' >"$T/tstop.yaml"
mpirun -np 3 "$VOXFIT" run long.yaml --config "$T/tstop.yaml" >"$T/stop.out" 2>&1 &
pid=$!
( sleep 60; kill -9 "$pid" 2>/dev/null ) &
guard=$!
sleep 1.2
pkill -TERM -f "^$VOXFIT run long.yaml"
wait "$pid"
rc=$?
kill "$guard" 2>/dev/null
[ "$rc" = 3 ] && [ -f long.nc ] && [ "$(attr long.nc complete)" = 0 ]
ok $? "SIGTERM to a job with a team: exit 3 and an incomplete, resumable file (got $rc)"
x 3 run long.yaml --config "$T/tstop.yaml"
[ "$rc" = 0 ] && has "done before"
ok $? "the resume on a team exits 0 and skips the units done before (got $rc)"
same_all longref.nc long.nc
ok $? "stopped + resumed on a team equals the clean single-rank run: $(cat "$T/cmp")"

# mixed: the largest ROIs need a team (memory), the rest go to a single worker
# (the largest units need 0.00168 GiB on one rank and under 0.0016 per rank
# on a team of 2, as voxfit plan --units reports)
printf 'memory_per_rank_gib: 0.0016\nteam_block: 8\n' >"$T/mix.yaml"
sed "s/^output: .*/output: mix.nc/" rich.yaml >mix.yaml
x 4 plan mix.yaml --ranks 4 --config "$T/mix.yaml" --units
ok "$rc" "plan of the mixed job exits 0 (got $rc)"
has "teams: 1 team of 2 ranks (grid 1x2, block 8) for [1-9][0-9]* of 80 units, 1 single-rank worker"
ok $? "plan: one team of 2 for some units, one single-rank worker"
has "team units: working memory up to [0-9.e-]* GiB per rank on teams of 2"
ok $? "plan: the per-rank memory of team units"
x 4 run mix.yaml --config "$T/mix.yaml"
ok "$rc" "mixed run on 4 ranks exits 0 (got $rc)"
same_all ref.nc mix.nc
ok $? "mixed: every result equals the single-rank run: $(cat "$T/cmp")"
# a team of 4 and a single-rank worker in a 6-rank job
printf 'memory_per_rank_gib: 0.0015\nteam_block: 8\n' >"$T/mix4.yaml"
sed "s/^output: .*/output: mix4.nc/" rich.yaml >mix4.yaml
x 6 run mix4.yaml --config "$T/mix4.yaml"
[ "$rc" = 0 ] && has "teams: 1 team of 4 ranks (grid 1x4, block 8) for [1-9][0-9]* of 80 units, 1 single-rank worker"
ok $? "6 ranks: a team of 4 and a single-rank worker share the units (got $rc)"
same_all ref.nc mix4.nc
ok $? "team of 4 + single worker: every result equals the single-rank run: $(cat "$T/cmp")"
# a straggler: one unit holding all the flops gets a team by its flops
"$PY" - <<'PY'
s = open("rich.yaml").read().split("\n")
out, subj, var = [], 0, 0
for l in s:
    if l.startswith("  - {id: sub-"):
        subj += 1
        if subj > 1: continue
    if l.startswith("  - {id: ") and "features" in l:
        var += 1
        if var > 1: continue
    if l.startswith("pairs:"): break
    out.append(l)
s = "\n".join(out).replace("ridge:\n", "ridge:\n  lambda_per_voxel: false\n")
open("one.yaml", "w").write(s + "\n")
PY
x 3 plan one.yaml --ranks 3
[ "$rc" = 0 ] && has "teams: 1 team of 2 ranks (grid 1x2, block 64) for 1 of 1 units, 0 single-rank workers"
ok $? "a job of one unit on 3 ranks: the unit gets a team of 2 for its flops (got $rc)"
x 1 plan one.yaml --ranks 2
[ "$rc" = 0 ] && has "teams: no teams"
ok $? "the same on 2 ranks (one worker): no team (got $rc)"
# ... and run: its matrices are narrower than two blocks of 64, so one
# rank of the team holds no block of the Gram matrix (ScaLAPACK's
# eigensolver once left that rank wrong eigenvalues and too little
# workspace: wrong results, or MPI_ERR_TRUNCATE on a 2x1 grid)
sed "s/^output: .*/output: oneref.nc/" one.yaml >oneref.yaml
x 2 run oneref.yaml
ok "$rc" "the one-unit job on 2 ranks (no team) exits 0 (got $rc)"
sed "s/^output: .*/output: onet.nc/" one.yaml >onet.yaml
x 3 run onet.yaml
[ "$rc" = 0 ] && has "teams: 1 team of 2 ranks (grid 1x2, block 64)"
ok $? "the one-unit job on 3 ranks runs on a team of 2, block 64 (got $rc)"
same_all oneref.nc onet.nc
ok $? "one unit on a team, block 64: every result equals the single-rank run: $(cat "$T/cmp")"
printf 'team_rows: 2\n' >"$T/rows2.yaml"
sed "s/^output: .*/output: one21.nc/" one.yaml >one21.yaml
x 3 run one21.yaml --config "$T/rows2.yaml"
[ "$rc" = 0 ] && has "teams: 1 team of 2 ranks (grid 2x1, block 64)"
ok $? "the same on a 2x1 grid exits 0 (got $rc)"
same_all oneref.nc one21.nc
ok $? "one unit on a 2x1 team, block 64: every result equals the single-rank run: $(cat "$T/cmp")"
# single precision: teams fit in double only, so no team for its flops,
# and a team the site forces is refused before anything runs
sed "s/^output: .*/output: single.nc/; s/^ridge:/ridge:\n  precision: single/" one.yaml >single.yaml
sed "s/^output: .*/output: singleref.nc/" single.yaml >singleref.yaml
x 2 run singleref.yaml
ok "$rc" "the one-unit job in single precision on 2 ranks exits 0 (got $rc)"
x 3 run single.yaml
[ "$rc" = 0 ] && ! has "teams:"
ok $? "single precision on 3 ranks: no team for its flops, exit 0 (got $rc)"
same_all singleref.nc single.nc
ok $? "single precision on 3 ranks equals 2 ranks: $(cat "$T/cmp")"
printf 'team_size: 2\n' >"$T/force2.yaml"
rm -f single.nc
x 3 run single.yaml --config "$T/force2.yaml"
[ "$rc" = 2 ] && has "precision: single" && has "teams fit in double precision only" &&
  has "force2.yaml" && [ ! -e single.nc ]
ok $? "single precision with team_size 2: exit 2 naming the unit and the site file, no results file (got $rc)"
x 1 plan mix.yaml --ranks 1 --config "$T/mix.yaml"
[ "$rc" = 2 ] && has "needs [0-9.e-]* GiB but a rank has" && has "mix.yaml"
ok $? "plan on 1 rank refuses what needs a team, naming the site file (got $rc)"
printf 'team_size: 4\n' >"$T/big.yaml"
x 3 run rich.yaml --config "$T/big.yaml"
[ "$rc" = 2 ] && has "team_size 4" && has "at least 5 ranks"
ok $? "team_size larger than the workers: exit 2 and how many ranks it needs (got $rc)"

# a NaN in the last feature column: only the team's second rank reads it
cp features.nc feat_nan.nc
"$PY" -c "
import netCDF4
d = netCDF4.Dataset('feat_nan.nc', 'a'); v = d['mm_visual_l1']; x = v[:]
x[5, x.shape[1] - 1] = float('nan'); v[:] = x; d.close()"
sed "s/^output: .*/output: nan.nc/; s/features: features.nc/features: feat_nan.nc/" rich.yaml >nan.yaml
printf 'team_size: 2\nteam_block: 8\n' >"$T/t2.yaml"
x 3 run nan.yaml --config "$T/t2.yaml"
[ "$rc" = 1 ] && has "feat_nan.nc: variable 'mm_visual_l1' has 1 NaN"
ok $? "a NaN read by one team rank: the units fail naming file and variable, exit 1 (got $rc)"
"$PY" - <<'PY' >"$T/cmp" 2>&1
import netCDF4, numpy as np
d = netCDF4.Dataset("nan.nc"); d.set_auto_mask(False)
st = d["unit_status"][:]; var = d["unit_variant"][:]
ok = (st[var == 0] == 2).all() and (st[var != 0] == 1).all()
print(int((st == 2).sum()), "failed,", int((st == 1).sum()), "done")
raise SystemExit(0 if ok else 1)
PY
ok $? "only that variant's units failed: $(cat "$T/cmp")"

# dual (p > n): the demo study with 5 delays, 320 columns for 240 rows
cd "$T" || exit 1
x 1 gen --preset demo --out "$T/demo" --seed 5
sed 's/^output: .*/output: dref.nc/; s/  delays: \[0\]/  delays: [0, 1, 2, 3, 4]\n  save_weights: true/' \
  "$T/demo/job.yaml" >"$T/demo/dual.yaml"
printf 'stats:\n  permutations: 100\n' >>"$T/demo/dual.yaml"
x 2 run "$T/demo/dual.yaml"
ok "$rc" "dual reference exits 0 (got $rc)"
sed 's/^output: .*/output: dteam.nc/' "$T/demo/dual.yaml" >"$T/demo/dual_t.yaml"
printf 'team_size: 2\nteam_rows: 2\nteam_block: 16\n' >"$T/t21.yaml"
x 3 run "$T/demo/dual_t.yaml" --config "$T/t21.yaml"
ok "$rc" "dual on a team of 2 (2x1) exits 0 (got $rc)"
same_all "$T/demo/dref.nc" "$T/demo/dteam.nc"
ok $? "dual: every result equals the single-rank run: $(cat "$T/cmp")"

finish
