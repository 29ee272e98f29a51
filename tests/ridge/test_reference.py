"""Reference test of `voxfit run` against an independent numpy/scikit-learn
implementation of the documented method (tests/ridge/reference_ridge.py).

usage: /usr/bin/python3 tests/ridge/test_reference.py BUILD_DIR [--keep]

Writes small planted-model studies with netCDF4-python (CDF-5, CDF-2 and
CDF-1 files), runs voxfit on 1 and 2 ranks, and checks per voxel the chosen
lambda (exactly), test r, test R^2 and CV score (1e-6), the masks, the voxel
and ROI axes, the ROI summaries and the unit status; the 1-rank and 2-rank
results must agree to 1e-12. Prints PASS/FAIL lines; exits 1 on a failure.

Jobs (and the cases of the method they cover):
  kfold     5-fold contiguous CV; sweep score in {r, r2} x lambda_per_voxel
            in {true, false} x solver in {svd, eigen}; variants narrow (p=30 < n) and wide (p=300 >
            n, the dual shape); sub-01 CDF-5 with 4 test repetitions,
            sub-02 CDF-1 without, float responses, byte split, other ROI
            order; interleaved test stimuli; n % k != 0.
  loro      leave-one-run-out, FIR delays [1, 2], 4 training runs and a
            test run in the middle, unsorted run labels, CDF-2; sweep
            standardize.per_run in {true, false} x cv_method in {per_fold,
            held_out}; an unsorted lambda list.
  shuffled  shuffled 4-fold CV (seed 12345), score r2, CDF-1.
Every subject has a constant voxel and voxels with a NaN (in a training
row, in a test row, or in one test repetition), which must come out masked,
and one voxel outside every ROI, which must not be on the voxel axis.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import netCDF4

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_ridge as ref  # noqa: E402

TOL = 1e-6
TOL_RANKS = 1e-12
NAME_LEN = 16

failures = []


def report(ok, what):
    print(("PASS " if ok else "FAIL ") + what, flush=True)
    if not ok:
        failures.append(what)


# ---- input files ----------------------------------------------------------

def chars(names, n=NAME_LEN):
    return netCDF4.stringtochar(np.array(names, dtype="S%d" % n))


def write_features(path, fmt, variables):
    """variables: name -> (array N x P, dtype)"""
    with netCDF4.Dataset(path, "w", format=fmt) as ds:
        n = next(iter(variables.values()))[0].shape[0]
        ds.createDimension("stimulus", n)
        for name, (a, dt) in variables.items():
            ds.createDimension("feat_" + name, a.shape[1])
            v = ds.createVariable(name, dt, ("stimulus", "feat_" + name))
            v[:] = a
        ds.model = "planted"


def write_responses(path, fmt, Y, roi_index, roi_names, split, run=None,
                    reps=None, dtype="f8", split_dtype="i4"):
    with netCDF4.Dataset(path, "w", format=fmt) as ds:
        ds.createDimension("stimulus", Y.shape[0])
        ds.createDimension("voxel", Y.shape[1])
        ds.createDimension("roi", len(roi_names))
        ds.createDimension("name_len", NAME_LEN)
        ds.createVariable("responses", dtype, ("stimulus", "voxel"))[:] = Y
        ds.createVariable("roi_index", "i4", ("voxel",))[:] = roi_index
        ds.createVariable("roi_name", "S1", ("roi", "name_len"))[:] = chars(roi_names)
        ds.createVariable("split", split_dtype, ("stimulus",))[:] = split
        if run is not None:
            ds.createVariable("run", "i4", ("stimulus",))[:] = run
        if reps is not None:
            ds.createDimension("repetition", reps.shape[0])
            ds.createDimension("test_stimulus", reps.shape[1])
            ds.createVariable("test_repetitions", dtype,
                              ("repetition", "test_stimulus", "voxel"))[:] = reps
        ds.subject = os.path.basename(path)


def read_inputs(features_path, variable, responses_path):
    with netCDF4.Dataset(features_path) as ds:
        ds.set_auto_mask(False)
        X = np.asarray(ds[variable][:], dtype=float)
    with netCDF4.Dataset(responses_path) as ds:
        ds.set_auto_mask(False)
        d = dict(X=X, Y=np.asarray(ds["responses"][:], dtype=float),
                 split=np.asarray(ds["split"][:]).astype(int),
                 roi_index=np.asarray(ds["roi_index"][:]).astype(int),
                 roi_names=[b"".join(r).decode().rstrip("\0")
                            for r in np.asarray(ds["roi_name"][:])])
        d["run"] = np.asarray(ds["run"][:]).astype(int) if "run" in ds.variables else None
        d["reps"] = (np.asarray(ds["test_repetitions"][:], dtype=float)
                     if "test_repetitions" in ds.variables else None)
    return d


def correlated(rng, n, p, decay=0.85):
    """n x p features with a decaying spectrum (ridge matters)."""
    Q, _ = np.linalg.qr(rng.standard_normal((p, p)))
    return rng.standard_normal((n, p)) * (decay ** np.arange(p)) @ Q * 3 + 1.5


def planted(rng, Z, V, lo=-1.4, hi=0.6):
    """Signal Z @ W with a voxel-specific amplitude (so lambdas differ)."""
    p = Z.shape[1]
    W = rng.standard_normal((p, V)) * rng.uniform(0.2, 1.0, (p, 1))
    W *= (10.0 ** rng.uniform(lo, hi, V)) / np.sqrt(p)
    return Z @ W / Z.std()


def roi_labels(rng, V, n_roi, outside):
    lab = rng.integers(0, n_roi, V)
    lab[:n_roi] = np.arange(n_roi)      # every ROI has voxels
    lab[outside] = -1
    return lab.astype(np.int32)


def make_kfold(d, rng):
    N = 243
    split = np.zeros(N, dtype=int)
    split[np.arange(5, 240, 6)] = 1      # 40 interleaved test stimuli
    Z = correlated(rng, N, 30)
    narrow = Z.copy()
    narrow[:, 7] = 2.5                   # a constant feature column
    B = rng.standard_normal((30, 300)) / np.sqrt(30)
    wide = Z @ B + 0.7 * rng.standard_normal((N, 300))
    write_features(f"{d}/features.nc", "NETCDF3_64BIT_DATA",
                   {"narrow": (narrow, "f8"), "wide": (wide, "f4")})
    test = np.flatnonzero(split == 1)
    # sub-01: test repetitions, double, CDF-5
    V = 90
    S = planted(rng, Z, V)
    Y = S + rng.standard_normal((N, V))
    reps = S[test][None] + 1.3 * rng.standard_normal((4, len(test), V))
    Y[test] = reps.mean(axis=0)
    Y[:, 5] = 3.7                        # constant voxel
    reps[:, :, 5] = 3.7
    Y[17, 11] = np.nan                   # NaN in a training row
    # NaN in one test repetition; the responses row holds the mean of the
    # others, so only the repetitions say that the voxel cannot be scored
    reps[2, 9, 23] = np.nan
    Y[test[9], 23] = np.nanmean(reps[:, 9, 23])
    lab = roi_labels(rng, V, 3, outside=40)
    write_responses(f"{d}/sub-01.nc", "NETCDF3_64BIT_DATA", Y, lab,
                    ["V1", "V4", "FFA"], split, reps=reps)
    # sub-02: no repetitions, float, byte split, CDF-1, other ROI order
    V = 70
    S = planted(rng, Z, V, lo=-1.2, hi=0.8)
    Y = S + rng.standard_normal((N, V))
    Y[:, 0] = -1.25                      # constant voxel
    Y[test[3], 30] = np.inf              # Inf in a test row
    Y[100, 44] = np.nan                  # NaN in a training row
    lab = roi_labels(rng, V, 3, outside=61)
    write_responses(f"{d}/sub-02.nc", "NETCDF3_CLASSIC", Y, lab,
                    ["FFA", "V1", "V4"], split, dtype="f4", split_dtype="i1")
    job = """subjects:
  - {id: sub-01, responses: sub-01.nc}
  - {id: sub-02, responses: sub-02.nc}
variants:
  - {id: narrow, features: features.nc, variable: narrow, model: planted, layer: 1, tower: visual, training: multimodal}
  - {id: wide, features: features.nc, variable: wide, model: planted, layer: 2, tower: visual, training: unimodal}
rois: all
split: file
ridge:
  lambdas: {logspace: [-1, 6, 15]}
  cv: {scheme: kfold, folds: 5}
  score: r
  delays: [0]
sweep:
  ridge.score: [r, r2]
  ridge.lambda_per_voxel: [true, false]
  ridge.solver: [svd, eigen]
"""
    # the SVD and the Gram eigendecomposition (primal for "narrow", dual for
    # "wide") must both match the one reference
    points = [dict(label=f"ridge.score={s} ridge.lambda_per_voxel={lpv} ridge.solver={sv}",
                   score=s, per_voxel=lpv == "true", per_run=False)
              for s in ("r", "r2") for lpv in ("true", "false") for sv in ("svd", "eigen")]
    return dict(name="kfold", job=job, points=points,
                subjects=["sub-01", "sub-02"], variants=["narrow", "wide"],
                files={"narrow": "features.nc", "wide": "features.nc"},
                lambdas=np.logspace(-1, 6, 15), delays=(0,),
                folds=lambda data: ref.folds_kfold(int((data["split"] == 0).sum()), 5))


def smooth(rng, n, p, blocks, rho=0.6):
    """AR(1) time courses restarted at every run."""
    e = rng.standard_normal((n, p))
    out = np.empty_like(e)
    for b in blocks:
        out[b[0]] = e[b[0]]
        for t in b[1:]:
            out[t] = rho * out[t - 1] + e[t]
    return out


def make_loro(d, rng):
    labels = [10, 3, 99, 7, 5]           # 99 is the test run
    T = 48
    N = T * len(labels)
    run = np.repeat(labels, T)
    split = (run == 99).astype(int)
    blocks = ref.run_blocks(run, N)
    Z = smooth(rng, N, 20, blocks) @ np.linalg.qr(rng.standard_normal((20, 20)))[0]
    # run-specific offset and scale of the features: per-run z-scoring matters
    Xf = Z.copy()
    for i, b in enumerate(blocks):
        Xf[b] = Z[b] * (1 + 0.3 * i) + rng.normal(0, 2, 20)
    write_features(f"{d}/features.nc", "NETCDF3_64BIT_OFFSET", {"features": (Xf, "f8")})
    V = 60
    Zd = ref.fir_delays(Z, run, [1, 2])
    S = planted(rng, Zd, V, lo=-1.3, hi=0.5)
    Y = S + rng.standard_normal((N, V))
    for i, b in enumerate(blocks):
        Y[b] = Y[b] * (1 + 0.2 * i) + rng.normal(0, 1, V)
    Y[:, 13] = 0.5                       # constant voxel
    Y[60, 2] = np.nan                    # NaN in a training row
    Y[np.flatnonzero(split)[4], 50] = np.nan   # NaN in a test row
    lab = roi_labels(rng, V, 3, outside=33)
    write_responses(f"{d}/sub-01.nc", "NETCDF3_64BIT_OFFSET", Y, lab,
                    ["LOC", "V1", "PPA"], split, run=run)
    lambdas = [1e3, 0.1, 10, 1, 100, 1e4, 3e4, 0.01, 3, 1e5]
    job = """subjects:
  - {id: sub-01, responses: sub-01.nc}
variants:
  - {id: feat, features: features.nc, model: planted, tower: visual, training: multimodal}
rois: all
split: file
ridge:
  lambdas: [%s]
  cv: {scheme: leave-one-run-out}
  score: r
  delays: [2, 1]
  standardize: {features: zscore, responses: zscore, per_run: true}
sweep:
  ridge.standardize.per_run: [true, false]
  ridge.cv_method: [per_fold, held_out]
""" % ", ".join(repr(x) for x in lambdas)
    # per_fold factorises each fold, held_out all training rows once with the
    # exact held-out correction: both must match the one reference
    points = [dict(label=f"ridge.standardize.per_run={pr} ridge.cv_method={cm}", score="r",
                   per_voxel=True, per_run=pr == "true")
              for pr in ("true", "false") for cm in ("per_fold", "held_out")]
    return dict(name="loro", job=job, points=points, subjects=["sub-01"],
                variants=["feat"], files={"feat": "features.nc"},
                variable={"feat": "features"},
                lambdas=np.sort(lambdas), delays=(1, 2),
                folds=lambda data: ref.folds_runs(data["run"][data["split"] == 0]))


def make_shuffled(d, rng):
    N = 180
    split = np.zeros(N, dtype=int)
    split[150:] = 1
    Z = correlated(rng, N, 25, decay=0.9)
    write_features(f"{d}/features.nc", "NETCDF3_CLASSIC", {"features": (Z, "f4")})
    V = 50
    Y = planted(rng, Z, V) + rng.standard_normal((N, V))
    Y[:, 20] = 2.0                       # constant voxel
    Y[3, 7] = np.nan
    lab = roi_labels(rng, V, 3, outside=49)
    write_responses(f"{d}/sub-01.nc", "NETCDF3_CLASSIC", Y, lab,
                    ["V2", "V3", "hV4"], split)
    job = """subjects:
  - {id: sub-01, responses: sub-01.nc}
variants:
  - {id: feat, features: features.nc, model: planted, tower: lingual, training: unimodal}
rois: all
split: file
ridge:
  lambdas: {logspace: [-2, 4, 13]}
  cv: {scheme: shuffled, folds: 4, seed: 12345}
  score: r2
"""
    return dict(name="shuffled", job=job,
                points=[dict(label="base", score="r2", per_voxel=True, per_run=False)],
                subjects=["sub-01"], variants=["feat"], files={"feat": "features.nc"},
                variable={"feat": "features"},
                lambdas=np.logspace(-2, 4, 13), delays=(0,),
                folds=lambda data: ref.folds_shuffled(int((data["split"] == 0).sum()), 4, 12345))


# ---- running voxfit -------------------------------------------------------

def run_voxfit(voxfit, d, case, np_):
    out = f"results-np{np_}.nc"
    path = f"{d}/job-np{np_}.yaml"
    with open(path, "w") as f:
        f.write(f"job: ref-{case['name']}\noutput: {out}\n" + case["job"])
    env = dict(os.environ, OMPI_MCA_btl="self,vader",
               OMPI_MCA_btl_vader_single_copy_mechanism="none",
               OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1", OMP_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1")
    cmd = ["mpirun", "--allow-run-as-root", "--oversubscribe", "-np", str(np_),
           voxfit, "run", path, "--quiet"]
    t0 = time.time()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
    ok = p.returncode == 0 and os.path.exists(f"{d}/{out}")
    report(ok, f"{case['name']}: voxfit run np={np_} (exit {p.returncode}, "
           f"{time.time() - t0:.1f} s)")
    if not ok:
        print(p.stdout[-3000:], p.stderr[-3000:], sep="\n")
        return None
    return f"{d}/{out}"


def read_results(path):
    with netCDF4.Dataset(path) as ds:
        ds.set_auto_mask(False)
        r = {name: np.asarray(v[:]) for name, v in ds.variables.items()}
        r["_attrs"] = {a: ds.getncattr(a) for a in ds.ncattrs()}
    return r


def names(a):
    return [b"".join(row).decode().rstrip("\0") for row in a]


# ---- the comparison -------------------------------------------------------

def same_nan(a, b):
    return np.array_equal(np.isnan(a), np.isnan(b))


def maxdiff(a, b):
    m = ~np.isnan(a) & ~np.isnan(b)
    return float(np.max(np.abs(a[m] - b[m]))) if m.any() else 0.0


def check_case(d, case, res, summary):
    name = case["name"]
    attrs = res["_attrs"]
    report(int(attrs.get("complete", 0)) == 1, f"{name}: global attribute complete == 1")
    lam = res["lambda"]
    report(lam.shape == case["lambdas"].shape and
           np.allclose(lam, case["lambdas"], rtol=1e-12, atol=0),
           f"{name}: lambda grid {lam.size} values as expected")
    labels = names(res["sweep_label"])
    report(labels == [p["label"] for p in case["points"]],
           f"{name}: sweep labels {labels}")
    report(names(res["subject_id"]) == case["subjects"], f"{name}: subject ids")
    report(names(res["variant_id"]) == case["variants"], f"{name}: variant ids")

    # inputs as voxfit sees them
    data = {}
    for s, sub in enumerate(case["subjects"]):
        for v, var in enumerate(case["variants"]):
            data[s, v] = read_inputs(f"{d}/{case['files'][var]}",
                                     case.get("variable", {}).get(var, var),
                                     f"{d}/{sub}.nc")
    # ROI axis: first appearance over the subjects' files
    rois = []
    for s in range(len(case["subjects"])):
        for r in data[s, 0]["roi_names"]:
            if r not in rois:
                rois.append(r)
    report(names(res["roi_name"]) == rois, f"{name}: ROI axis {rois}")
    # voxel axis: subject-major, ROI, file index
    exp_sub, exp_idx, exp_roi = [], [], []
    for s in range(len(case["subjects"])):
        dd = data[s, 0]
        for q, r in enumerate(rois):
            if r not in dd["roi_names"]:
                continue
            local = dd["roi_names"].index(r)
            for j in np.flatnonzero(dd["roi_index"] == local):
                exp_sub.append(s), exp_idx.append(j), exp_roi.append(q)
    ok = (np.array_equal(res["voxel_subject"], exp_sub) and
          np.array_equal(res["voxel_index"], exp_idx) and
          np.array_equal(res["voxel_roi"], exp_roi))
    report(ok, f"{name}: voxel axis ({len(exp_idx)} voxels: subject-major, ROI, "
           "file index; no voxel outside the ROIs)")
    if not ok:
        return
    vsub = np.asarray(exp_sub)
    vidx = np.asarray(exp_idx)
    vroi = np.asarray(exp_roi)
    report(np.all(res["unit_status"] == 1), f"{name}: unit_status all 1")

    cv_cache = {}
    for w, pt in enumerate(case["points"]):
        for v, var in enumerate(case["variants"]):
            diffs = dict(test_r=0.0, test_r2=0.0, cv_score=0.0)
            lam_bad, mask_bad, min_gap, n_vox = [], 0, np.inf, 0
            roi_bad = []
            for s, sub in enumerate(case["subjects"]):
                dd = data[s, v]
                key = (s, v, pt["per_run"])
                if key not in cv_cache:
                    prep = ref.prepare(dd["X"], dd["Y"], dd["split"], dd["run"], dd["reps"],
                                       case["delays"], pt["per_run"])
                    fold = case["folds"](dd)
                    cv_cache[key] = (prep, fold, ref.cv_scores(prep["Xtr"], prep["Ytr"],
                                                               fold, case["lambdas"]))
                prep, fold, cv = cv_cache[key]
                rr = ref.fit_unit(prep, fold, case["lambdas"], pt["score"],
                                  pt["per_voxel"], cv=cv)
                pos = np.flatnonzero(vsub == s)
                idx = vidx[pos]
                n_vox += len(pos)
                for k in ("test_r", "test_r2", "cv_score"):
                    got = res[k][w, v, pos]
                    want = rr[k][idx]
                    if not same_nan(got, want):
                        mask_bad += int(np.sum(np.isnan(got) != np.isnan(want)))
                    diffs[k] = max(diffs[k], maxdiff(got, want))
                got_l = res["best_lambda"][w, v, pos]
                if not same_nan(got_l, rr["best_lambda"][idx]):
                    mask_bad += 1
                gi = np.full(len(pos), -1)
                fin = np.isfinite(got_l)
                gi[fin] = [int(np.argmin(np.abs(np.log(case["lambdas"] / x)))) for x in got_l[fin]]
                for j in np.flatnonzero(gi != rr["best_index"][idx]):
                    lam_bad.append((sub, int(idx[j]), got_l[j], rr["best_lambda"][idx[j]],
                                    rr["gap"][idx[j]]))
                g = rr["gap"][idx]
                if np.any(np.isfinite(g)):
                    min_gap = min(min_gap, float(np.nanmin(g)))
                # ROI summaries
                for q in range(len(rois)):
                    sel = pos[vroi[pos] == q]
                    tr = res["test_r"][w, v, sel]
                    good = tr[~np.isnan(tr)]
                    want_masked = int(np.sum(~rr["valid"][vidx[sel]]))
                    ref_r = rr["test_r"][vidx[sel]]
                    ref_good = ref_r[~np.isnan(ref_r)]
                    u = (w, s, v, q)
                    checks = [
                        res["roi_n_voxels"][u] == len(sel),
                        res["roi_n_masked"][u] == want_masked,
                        abs(res["roi_mean_r"][u] - np.mean(good)) <= 1e-12,
                        abs(res["roi_median_r"][u] - np.median(good)) <= 1e-12,
                        abs(res["roi_mean_r"][u] - np.mean(ref_good)) <= TOL,
                    ]
                    if not all(checks):
                        roi_bad.append((sub, rois[q], checks, res["roi_mean_r"][u],
                                        np.mean(good), np.mean(ref_good),
                                        int(res["roi_n_masked"][u]), want_masked))
            tag = f"{name} [{pt['label']}] variant {var}"
            report(mask_bad == 0, f"{tag}: masked voxels NaN exactly where expected")
            report(not lam_bad, f"{tag}: best_lambda identical for all {n_vox} voxels "
                   f"(smallest reference CV margin {min_gap:.2e})")
            for b in lam_bad[:10]:
                print(f"    {b[0]} voxel {b[1]}: voxfit lambda {b[2]:.6g}, "
                      f"reference {b[3]:.6g} (reference margin {b[4]:.2e})")
            for k, dv in diffs.items():
                report(dv <= TOL, f"{tag}: max |{k} - reference| = {dv:.2e}")
            report(not roi_bad, f"{tag}: ROI mean/median/counts")
            for b in roi_bad[:10]:
                print(f"    {b}")
            summary.append((tag, diffs))


def check_ranks(name, r1, r2):
    worst, bad = 0.0, []
    skip = {"unit_seconds"}
    for k, a in r1.items():
        if k.startswith("_") or k in skip:
            continue
        b = r2.get(k)
        if b is None or a.shape != b.shape:
            bad.append(k)
        elif a.dtype.kind in "fc":
            if not same_nan(a, b):
                bad.append(k)
            else:
                dv = maxdiff(a.astype(float), b.astype(float))
                worst = max(worst, dv)
                if dv > TOL_RANKS:
                    bad.append(f"{k} ({dv:.2e})")
        elif not np.array_equal(a, b):
            bad.append(k)
    report(not bad, f"{name}: 1 rank vs 2 ranks identical (max diff {worst:.2e})"
           + (f"; differ: {bad}" if bad else ""))


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: test_reference.py BUILD_DIR [--keep]")
    voxfit = os.path.abspath(os.path.join(sys.argv[1], "bin", "voxfit"))
    keep = "--keep" in sys.argv
    if not os.access(voxfit, os.X_OK):
        report(False, f"no voxfit binary at {voxfit}")
        sys.exit(1)
    t0 = time.time()
    root = tempfile.mkdtemp(prefix="voxfit-ref.")
    rng = np.random.default_rng(20240611)
    summary = []
    try:
        for make in (make_kfold, make_loro, make_shuffled):
            name = make.__name__[5:]
            d = f"{root}/{name}"
            os.makedirs(d)
            case = make(d, rng)
            paths = [run_voxfit(voxfit, d, case, n) for n in (1, 2)]
            if None in paths:
                continue
            r1, r2 = read_results(paths[0]), read_results(paths[1])
            check_case(d, case, r1, summary)
            check_ranks(name, r1, r2)
    finally:
        if keep or failures:
            print(f"files kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    print("\nmax |voxfit - reference| per job, sweep point and variant:")
    for tag, dv in summary:
        print(f"  {tag}: " + ", ".join(f"{k} {v:.1e}" for k, v in dv.items()))
    print(f"\n{len(failures)} failed checks ({time.time() - t0:.1f} s)")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
