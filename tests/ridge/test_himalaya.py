"""Checks voxfit's per-voxel lambda, CV scores and test scores against a
clean-room numpy rendering of himalaya's RidgeCV (solver "svd").

usage: /usr/bin/python3 tests/ridge/test_himalaya.py BUILD_DIR [--keep]

himalaya (Gallant lab, https://github.com/gallantlab/himalaya) is the
reference users check voxfit against; it is not installable here, so
himalaya_ridge_cv() below re-implements, from a reading of its source (not
a copy), what `RidgeCV(alphas, cv=5, solver="svd",
solver_params=dict(score_func=...)).fit(X, Y)` computes; each line names the
himalaya behaviour it reproduces (docs/method.md, "Matching himalaya", has
the file and line of each). The study is a planted model with 300 voxels
(a few signal-free, one constant), 213 training stimuli (213 % 5 != 0, so
the folds are uneven, as in sklearn's KFold) and 40 test stimuli, with a
narrow variant (p = 30 < n) and a wide one (p = 300 > n). voxfit runs one
job with the settings that match himalaya (kfold 5, no intercept, one
lambda per voxel or one shared, as local_alpha) over a sweep of score
{r2, r, neg_mse} x standardize {none, center, zscore} x lambda_per_voxel:
r2 and r against score_func r2_score and correlation_score, neg_mse against
himalaya's default (no score_func: l2_neg_loss, minus the held-out MSE).
himalaya gets the raw arrays for `none` and arrays centred or z-scored with
the training statistics (sklearn's StandardScaler, as a user would) for the
others. A second job takes a grid to 1e16, where the CV curves of
signal-free voxels flatten to rounding and the two tie rules could part.
Checked per voxel: the chosen lambda (identical, except voxels whose
himalaya CV scores of the two lambdas lie within voxfit's tie band, which
are counted, must be few, and must be explained by the tie rules), the CV
score of the chosen lambda and of every lambda (cv_scores), and the test r
and R^2 of the refit (all within 1e-6; the chosen lambda's CV score also
against himalaya's mean without its tie slope, to 1e-10 relative); the
constant voxel, which voxfit masks and himalaya fits, is checked to be NaN.
Informational lines show how often himalaya's default l2_neg_loss would
choose other lambdas than voxfit's r2 or r (score: neg_mse matches it), and
how often fit_intercept=True would, which voxfit cannot be asked for. Prints
PASS/FAIL lines; exits 1 on a failure.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
from sklearn.linear_model import Ridge
from sklearn.model_selection import KFold
from sklearn.preprocessing import StandardScaler

sys.dont_write_bytecode = True    # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import test_reference as tr  # noqa: E402  (study writers and result readers)
from vftest import Checks  # noqa: E402

TOL = 1e-6
TIE = 1e-9            # voxfit's tie band: within 1e-9 * max(1, |best|)
N_TRAIN, N_TEST, V, FOLDS = 213, 40, 300, 5
N_NOISE = 12          # signal-free voxels (flat CV curves: where ties live)
CONST = 0             # the constant voxel


# ---- himalaya's RidgeCV, re-implemented --------------------------------------

def l2_neg_loss(y, pred):
    """himalaya.scoring.l2_neg_loss: -sum of squared errors / n_samples
    (RidgeCV's default score_func)."""
    return -((y - pred) ** 2).sum(axis=-2) / y.shape[0]


def r2_score(y, pred):
    """himalaya.scoring.r2_score: 1 - SSE / SST with y's own mean; a target
    with SST == 0 (exactly) scores 0."""
    sse = ((y - pred) ** 2).sum(axis=-2)
    sst = ((y - y.mean(axis=0)) ** 2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sst == 0, 0.0, 1.0 - sse / sst)


def _zscore(a, axis):
    """himalaya.scoring._zscore: population std, a zero std replaced by 1."""
    a = a - a.mean(axis=axis, keepdims=True)
    sd = a.std(axis=axis, keepdims=True)
    return a / np.where(sd == 0, 1.0, sd)


def correlation_score(y, pred):
    """himalaya.scoring.correlation_score: mean of the product of z-scores
    (Pearson r; 0 when either side is constant)."""
    return (_zscore(y, 0) * _zscore(pred, -2)).mean(axis=-2)


def himalaya_ridge_cv(X, Y, alphas, cv=5, score_func=l2_neg_loss,
                      fit_intercept=False, local_alpha=True):
    """What himalaya.ridge.RidgeCV(alphas, cv=cv, fit_intercept=...,
    solver="svd", solver_params=dict(score_func=..., local_alpha=...)
    ).fit(X, Y) computes (conservative=False, the default). Returns the best
    alphas, coef_, intercept_, cv_scores_ and the mean CV score of every
    alpha (n_alphas x n_targets, before the tie slope)."""
    X = np.asarray(X, dtype=float)
    Y = np.asarray(Y, dtype=float)
    alphas = np.asarray(alphas, dtype=float)
    X_off = Y_off = 0.0
    if fit_intercept:                      # centre X and Y over all samples
        X_off, Y_off = X.mean(0), Y.mean(0)
        X, Y = X - X_off, Y - Y_off
    # an int cv is sklearn's check_cv(cv): KFold(cv), contiguous, unshuffled,
    # the first n % cv folds one sample longer
    splits = list(KFold(n_splits=cv).split(X))
    scores = np.zeros((len(splits), len(alphas), Y.shape[1]))
    for j, (train, test) in enumerate(splits):
        Xtr, Xte, Ytr, Yte = X[train], X[test], Y[train], Y[test]
        if fit_intercept:                  # re-centred on each fold's training rows
            mx, my = Xtr.mean(0), Ytr.mean(0)
            Xtr, Xte, Ytr, Yte = Xtr - mx, Xte - mx, Ytr - my, Yte - my
        # thin SVD of the fold's training features, one filter per alpha:
        # pred = Xte Vt^T diag(s / (s^2 + alpha)) U^T Ytr
        U, s, Vt = np.linalg.svd(Xtr, full_matrices=False)
        filt = s[None, :] / (alphas[:, None] + s[None, :] ** 2)
        XV, UY = Xte @ Vt.T, U.T @ Ytr
        pred = np.einsum("tr,ar,rv->atv", XV, filt, UY)
        scores[j] = score_func(Yte, pred)  # (n_alphas, n_targets) per split
    mean = scores.mean(axis=0)             # plain mean over splits (float64)
    # ties: a slope of 1e-10 * ln(alpha) added before the argmax, so of two
    # equal scores the larger alpha wins
    sloped = mean + 1e-10 * np.log(alphas)[:, None]
    if local_alpha:                        # argmax per target
        best = np.argmax(sloped, axis=0)
    else:                                  # one alpha: argmax of the mean over targets
        best = np.full(Y.shape[1], np.argmax(sloped.mean(axis=1)))
    cols = np.arange(Y.shape[1])
    cv_scores = sloped[best, cols]         # cv_scores_ keeps the slope
    # refit on all samples with each target's alpha, same SVD filter
    U, s, Vt = np.linalg.svd(X, full_matrices=False)
    coef = Vt.T @ ((s[:, None] / (alphas[best][None, :] + s[:, None] ** 2))
                   * (U.T @ Y))
    intercept = Y_off - X_off @ coef if fit_intercept else None
    return dict(best=best, best_alphas=alphas[best], coef=coef,
                intercept=intercept, cv_scores=cv_scores, mean=mean)


def himalaya_predict(h, X):
    """Ridge.predict: X @ coef_ (+ intercept_)."""
    p = np.asarray(X, dtype=float) @ h["coef"]
    return p if h["intercept"] is None else p + h["intercept"]


# ---- the study -----------------------------------------------------------------

def make_study(d, rng):
    N = N_TRAIN + N_TEST
    split = np.zeros(N, dtype=int)
    split[120:120 + N_TEST] = 1            # a test block inside the run
    Z = tr.correlated(rng, N, 30)          # offset 1.5: raw features are not centred
    B = rng.standard_normal((30, 300)) / np.sqrt(30)
    wide = Z @ B + 0.7 * rng.standard_normal((N, 300)) + 0.3
    tr.write_features(f"{d}/features.nc", "NETCDF3_64BIT_DATA",
                      {"narrow": (Z, "f8"), "wide": (wide, "f8")})
    S = tr.planted(rng, Z, V, lo=-1.6, hi=0.6)
    S[:, 1:1 + N_NOISE] = 0.0              # signal-free voxels
    Y = S + rng.standard_normal((N, V)) + rng.normal(0.0, 0.5, V)
    Y[:, CONST] = 2.5                      # voxfit masks it, himalaya fits it
    tr.write_responses(f"{d}/sub-01.nc", "NETCDF3_64BIT_DATA", Y,
                       np.zeros(V, dtype=np.int32), ["cortex"], split)


JOB = """job: himalaya
output: results.nc
subjects:
  - {id: sub-01, responses: sub-01.nc}
variants:
  - {id: narrow, features: features.nc, variable: narrow, tower: visual, training: multimodal}
  - {id: wide, features: features.nc, variable: wide, tower: visual, training: unimodal}
rois: all
split: file
ridge:
  lambdas: {logspace: [-2, 6, 17]}
  cv: {scheme: kfold, folds: 5}
  score: r2
  delays: [0]
  standardize: {features: none, responses: none}
  lambda_per_voxel: true
  save_cv_scores: true
stats:
  permutations: 0
sweep:
  ridge.score: [r2, r, neg_mse]
  ridge.standardize: [{features: none, responses: none}, {features: center, responses: center},
                      {features: zscore, responses: zscore}]
  ridge.lambda_per_voxel: [true, false]
"""
# the sweep points in voxfit's order (first axis slowest)
POINTS = [(score, std, lpv) for score in ("r2", "r", "neg_mse")
          for std in ("none", "center", "zscore")
          for lpv in (True, False)]
# a grid reaching far beyond the spectrum, where the CV curves of the
# signal-free voxels flatten to rounding: where the two tie rules can differ
JOB_TIES = (JOB.replace("output: results.nc", "output: results-ties.nc")
            .replace("{logspace: [-2, 6, 17]}", "{logspace: [-2, 16, 19]}")
            .replace("{features: none, responses: none}\n  lambda",
                     "{features: zscore, responses: zscore}\n  lambda")
            .replace("  save_cv_scores: true\n", "")
            .split("sweep:")[0] + "sweep:\n  ridge.score: [r2, r, neg_mse]\n")
POINTS_TIES = [(score, "zscore", True) for score in ("r2", "r", "neg_mse")]
# voxfit's score -> himalaya's solver_params score_func; None: himalaya's
# default (l2_neg_loss), which score: neg_mse is to match
SCORE_FUNC = {"r2": r2_score, "r": correlation_score, "neg_mse": None}


def run_voxfit(voxfit, d, job, name):
    with open(f"{d}/{name}.yaml", "w") as f:
        f.write(job)
    env = dict(os.environ, OMPI_MCA_btl="self,vader",
               OMPI_MCA_btl_vader_single_copy_mechanism="none",
               OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1", OMP_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1")
    p = subprocess.run(["mpirun", "-np", "1", voxfit, "run", f"{d}/{name}.yaml", "--quiet"],
                       env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, timeout=180)
    return p.returncode, p.stdout


def compare(check, res, data, lam, w, v, score, std, lpv, info):
    """One sweep point and variant: voxfit against the himalaya rendering."""
    X, Y, split = data["X"], data["Y"], data["split"]
    trn, tst = split == 0, split == 1
    Xtr, Xte, Ytr, Yte = X[trn], X[tst], Y[trn], Y[tst]
    good = np.ptp(Ytr, axis=0) > 0         # voxfit masks the constant voxel
    if std != "none":                      # what a himalaya user does first
        xs = StandardScaler(with_std=std == "zscore").fit(Xtr)
        ys = StandardScaler(with_std=std == "zscore").fit(Ytr[:, good])
        Xtr, Xte = xs.transform(Xtr), xs.transform(Xte)
        Ytr_g, Yte_g = ys.transform(Ytr[:, good]), ys.transform(Yte[:, good])
    else:
        Ytr_g, Yte_g = Ytr[:, good], Yte[:, good]
    kw = {} if SCORE_FUNC[score] is None else dict(score_func=SCORE_FUNC[score])
    h = himalaya_ridge_cv(Xtr, Ytr_g, lam, cv=FOLDS, local_alpha=lpv, **kw)
    pred = himalaya_predict(h, Xte)
    h_r, h_r2 = correlation_score(Yte_g, pred), r2_score(Yte_g, pred)

    tag = f"{data['var']} score={score} standardize={std}" + ("" if lpv else " shared lambda")
    got_l = res["best_lambda"][w, v, good]
    got_i = np.array([int(np.argmin(np.abs(np.log(lam / x)))) for x in got_l])
    check(f"{tag}: the constant voxel is masked (NaN), himalaya would fit it",
          bool(np.all(np.isnan(res["best_lambda"][w, v, ~good])) and
               np.all(np.isnan(res["test_r"][w, v, ~good]))))
    # lambda: identical, or a tie by voxfit's rule, which himalaya's slope
    # of 1e-10 ln(alpha) breaks the other way only within that band
    cols = np.flatnonzero(got_i != h["best"])
    # the curve each choice is made on: the voxel's, or the mean over voxels
    mean = h["mean"] if lpv else np.repeat(h["mean"].mean(axis=1)[:, None],
                                           h["mean"].shape[1], axis=1)
    ties, unexplained = [], []
    for c in cols:
        a, b = got_i[c], h["best"][c]
        top = mean[:, c].max()
        band = TIE * max(1.0, abs(top))
        gap = abs(mean[a, c] - mean[b, c])
        # voxfit takes the largest lambda within the band of the best
        if gap <= band and a > b and mean[a, c] >= top - band:
            ties.append((c, gap))
        else:
            unexplained.append((c, lam[a], lam[b], gap))
    check(f"{tag}: best_lambda identical for {good.sum() - len(cols)} of "
          f"{good.sum()} voxels, the other {len(ties)} within the tie band "
          f"({TIE:g} x max(1, |best|))", not unexplained and len(ties) <= 3,
          "; ".join(f"voxel {c}: voxfit {a:.4g}, himalaya {b:.4g}, gap {g:.2e}"
                    for c, a, b, g in unexplained[:8]))
    d_cv = np.max(np.abs(res["cv_score"][w, v, good] - h["cv_scores"]))
    # the same without himalaya's slope: voxfit's cv_score is the voxel's mean
    # CV score itself (at the shared lambda too)
    own = h["mean"][got_i, np.arange(len(got_i))]
    d_mean = np.max(np.abs(res["cv_score"][w, v, good] - own) / np.maximum(1.0, np.abs(own)))
    # cv_scores is stored as float: its rounding is relative
    d_all = np.nan
    if "cv_scores" in res:
        d_all = np.max(np.abs(res["cv_scores"][w, v, good, :].astype(float) - h["mean"].T) /
                       np.maximum(1.0, np.abs(h["mean"].T)))
        check(f"{tag}: max |cv_scores - himalaya mean CV score| / max(1, |score|) over "
              f"all lambdas = {d_all:.1e} (a float variable)", d_all <= TOL)
    same = got_i == h["best"]
    d_r = np.max(np.abs(res["test_r"][w, v, good][same] - h_r[same]), initial=0.0)
    d_r2 = np.max(np.abs(res["test_r2"][w, v, good][same] - h_r2[same]), initial=0.0)
    check(f"{tag}: max |cv_score - himalaya cv_scores_| = {d_cv:.1e}", d_cv <= TOL)
    check(f"{tag}: max |cv_score - himalaya mean CV score| / max(1, |score|) at voxfit's "
          f"lambda (no slope) = {d_mean:.1e}", d_mean <= 1e-10)
    check(f"{tag}: max |test r - himalaya| = {d_r:.1e}", d_r <= TOL)
    check(f"{tag}: max |test R^2 - himalaya score()| = {d_r2:.1e}", d_r2 <= TOL)
    if ties:                               # far beyond the spectrum: same direction
        t = np.array([c for c, _ in ties])
        print(f"INFO {tag}: tie voxels: max |d test r| "
              f"{np.max(np.abs(res['test_r'][w, v, good][t] - h_r[t])):.1e}, "
              f"max |d test R^2| {np.max(np.abs(res['test_r2'][w, v, good][t] - h_r2[t])):.1e}, "
              f"largest gap {max(g for _, g in ties):.1e}")
    info.append((tag, int(len(cols)), len(ties), d_cv, d_mean, d_all, d_r, d_r2))
    return Xtr, Ytr_g, h


def defaults_differ(tag, data, good, lam, h, score, std, Xtr, Ytr):
    """How far himalaya's own defaults are from voxfit's score (informational):
    score_func l2_neg_loss on the same arrays where voxfit scores r2 or r
    (score: neg_mse is l2_neg_loss, checked in compare), and, at standardize
    center, fit_intercept=True on the raw arrays, which voxfit cannot be asked
    for (it centres each fold again with that fold's training means; voxfit
    centres once)."""
    n = Ytr.shape[1]
    if std == "zscore" and score != "neg_mse":
        l2 = himalaya_ridge_cv(Xtr, Ytr, lam, cv=FOLDS, score_func=l2_neg_loss)
        print(f"INFO {tag}: himalaya's default score_func (l2_neg_loss) picks "
              f"another lambda for {int(np.sum(l2['best'] != h['best']))} of {n} voxels "
              f"(score: neg_mse matches it)")
    if std == "center":
        trn = data["split"] == 0
        kw = {} if SCORE_FUNC[score] is None else dict(score_func=SCORE_FUNC[score])
        ic = himalaya_ridge_cv(data["X"][trn], data["Y"][trn][:, good], lam, cv=FOLDS,
                               fit_intercept=True, **kw)
        print(f"INFO {tag}: himalaya fit_intercept=True on the raw arrays picks another "
              f"lambda for {int(np.sum(ic['best'] != h['best']))} of {n} voxels "
              f"(max |d mean CV score| {np.max(np.abs(ic['mean'] - h['mean'])):.1e})")


def self_check(check, Xtr, Ytr, lam, h):
    """The rendering's refit is the ridge solution (sklearn, per-target alpha)."""
    sk = Ridge(alpha=h["best_alphas"], fit_intercept=False, solver="svd").fit(Xtr, Ytr)
    dv = np.max(np.abs(sk.coef_.T - h["coef"]))
    check(f"himalaya rendering: refit coef equals sklearn Ridge's ({dv:.1e})", dv <= 1e-8)


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: test_himalaya.py BUILD_DIR [--keep]")
    voxfit = os.path.abspath(os.path.join(sys.argv[1], "bin", "voxfit"))
    keep = "--keep" in sys.argv
    check = Checks("ridge/test_himalaya")
    if not os.access(voxfit, os.X_OK):
        check(f"voxfit binary at {voxfit}", False)
        sys.exit(check.finish())
    t0 = time.time()
    d = tempfile.mkdtemp(prefix="voxfit-himalaya.")
    info = []
    try:
        make_study(d, np.random.default_rng(20261129))
        rc, out = run_voxfit(voxfit, d, JOB, "job")
        check(f"voxfit run (exit {rc}, {time.time() - t0:.1f} s)", rc == 0, out[-3000:])
        if rc != 0:
            sys.exit(check.finish())
        res = tr.read_results(f"{d}/results.nc")
        labels = tr.names(res["sweep_label"])
        check(f"sweep points {labels}", len(labels) == len(POINTS) and all(
            f"ridge.score={s}" in lab and f"features:{std}" in lab
            and f"lambda_per_voxel={str(lpv).lower()}" in lab
            for lab, (s, std, lpv) in zip(labels, POINTS)))
        lam = np.asarray(res["lambda"], dtype=float)
        check("lambda grid is numpy.logspace(-2, 6, 17)",
              np.allclose(lam, np.logspace(-2, 6, 17), rtol=1e-14, atol=0))
        first = True
        for v, var in enumerate(("narrow", "wide")):
            data = tr.read_inputs(f"{d}/features.nc", var, f"{d}/sub-01.nc")
            data["var"] = var
            check(f"{var}: voxel axis is the file's voxels in order",
                  np.array_equal(res["voxel_index"], np.arange(V)))
            for w, (score, std, lpv) in enumerate(POINTS):
                Xtr, Ytr, h = compare(check, res, data, lam, w, v, score, std, lpv, info)
                if not lpv:
                    continue
                if first:
                    self_check(check, Xtr, Ytr, lam, h)
                    first = False
                defaults_differ(f"{var} score={score} standardize={std}", data,
                                np.ptp(data["Y"][data["split"] == 0], axis=0) > 0,
                                lam, h, score, std, Xtr, Ytr)
        rc, out = run_voxfit(voxfit, d, JOB_TIES, "job-ties")
        check(f"voxfit run, grid to 1e16 (exit {rc})", rc == 0, out[-3000:])
        if rc == 0:
            res = tr.read_results(f"{d}/results-ties.nc")
            lam = np.asarray(res["lambda"], dtype=float)
            for v, var in enumerate(("narrow", "wide")):
                data = tr.read_inputs(f"{d}/features.nc", var, f"{d}/sub-01.nc")
                data["var"] = var + " (grid to 1e16)"
                for w, (score, std, lpv) in enumerate(POINTS_TIES):
                    compare(check, res, data, lam, w, v, score, std, lpv, info)
    finally:
        if keep or check.n_fail:
            print(f"files kept in {d}")
        else:
            shutil.rmtree(d, ignore_errors=True)
    print("\nper variant and sweep point: lambdas differing, of which ties, "
          "max |d cv_score| (against cv_scores_, with the slope), the same against the "
          "mean (no slope, relative), max |d cv_scores|, max |d test r|, max |d test R^2|:")
    for tag, nd, nt, a, m, b, c, e in info:
        print(f"  {tag}: {nd} ({nt} ties) {a:.1e} {m:.1e} {b:.1e} {c:.1e} {e:.1e}")
    print(f"({time.time() - t0:.1f} s)")
    sys.exit(check.finish())


if __name__ == "__main__":
    main()
