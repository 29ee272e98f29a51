"""An independent reference of voxfit's encoding model, in numpy and
scikit-learn (Debian's python3-numpy / python3-sklearn), written from the
documented definitions (docs/inputs.md, docs/results.md,
/work/shared/docs/METHODS.md, include/voxfit/ridge.h), not ported from the C.

One "unit" is (subject, variant, ridge settings):
  * training rows = split == 0 in stimulus order, test rows = split == 1;
  * test responses = mean over repetitions when the file has them;
  * a voxel is masked when it has a NaN/Inf in its training or test rows, or
    is constant over the training rows;
  * features and responses are z-scored with training mean and population
    std (ddof=0); constant columns are only centred; the test rows use the
    training statistics -- or, with per_run, every run (a contiguous block
    of equal run labels) uses its own statistics;
  * then FIR delays: column block d is X shifted down by delays[d] rows,
    zero where the source row lies before the start of the row's run;
  * folds: kfold = contiguous blocks, first n % k folds one larger
    (sklearn KFold(shuffle=False)); leave-one-run-out = one fold per run
    (sklearn LeaveOneGroupOut); shuffled = Fisher-Yates permutation of the
    kfold labels with xoshiro256** seeded by splitmix64;
  * CV: sklearn Ridge(alpha, fit_intercept=False, solver='svd') per fold and
    lambda, Pearson r or R^2 (fold's own mean) per voxel, mean over folds;
  * lambda per voxel: best mean CV score, ties (within 1e-9) to the larger lambda; shared
    lambda: best mean over (unmasked) voxels of the mean CV score;
  * refit on all training rows with each voxel's lambda, test r and R^2.
"""
import numpy as np
from sklearn.linear_model import Ridge
from sklearn.model_selection import KFold, LeaveOneGroupOut

M64 = (1 << 64) - 1


# ---- the random folds of scheme "shuffled" --------------------------------

def _splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & M64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return state, z ^ (z >> 31)


def _rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & M64


class Xoshiro256ss:
    """xoshiro256** (Blackman & Vigna), state from splitmix64."""

    def __init__(self, seed, stream):
        x = (seed ^ ((stream * 0xD1B54A32D192ED03) & M64)) & M64
        self.s = []
        for _ in range(4):
            x, v = _splitmix64(x)
            self.s.append(v)

    def next(self):
        s = self.s
        result = (_rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = _rotl(s[3], 45)
        return result


def folds_kfold(n, k):
    fold = np.empty(n, dtype=int)
    for f, (_, val) in enumerate(KFold(n_splits=k, shuffle=False).split(np.zeros(n))):
        fold[val] = f
    return fold


def folds_shuffled(n, k, seed, stream=0x5F0D):
    fold = folds_kfold(n, k)
    rng = Xoshiro256ss(seed, stream)
    for i in range(n - 1, 0, -1):
        j = rng.next() % (i + 1)
        fold[i], fold[j] = fold[j], fold[i]
    return fold


def folds_runs(run):
    fold = np.empty(len(run), dtype=int)
    for f, (_, val) in enumerate(LeaveOneGroupOut().split(np.zeros(len(run)), groups=run)):
        fold[val] = f
    return fold


# ---- preprocessing --------------------------------------------------------

def run_blocks(run, n):
    """Contiguous blocks of equal run labels (one block when run is None)."""
    if run is None:
        return [np.arange(n)]
    run = np.asarray(run)
    edges = np.flatnonzero(np.diff(run) != 0) + 1
    return np.split(np.arange(n), edges)


def _stats(A):
    mu = A.mean(axis=0)
    sd = A.std(axis=0)            # population std (ddof=0)
    const = np.ptp(A, axis=0) == 0
    sd = np.where(const | ~(sd > 0), 1.0, sd)
    return mu, sd, const


def standardise(Atr, Ate, run_tr, run_te, per_run, mode="zscore"):
    """Returns standardised copies and the columns constant over training
    rows (per run: constant within some training run)."""
    Atr = np.array(Atr, dtype=float)
    Ate = np.array(Ate, dtype=float)
    if mode == "none":
        return Atr, Ate, np.ptp(Atr, axis=0) == 0
    if per_run and run_tr is not None:
        const = np.zeros(Atr.shape[1], dtype=bool)
        for A, run in ((Atr, run_tr), (Ate, run_te)):
            for b in run_blocks(run, A.shape[0]):
                mu, sd, c = _stats(A[b])
                if mode == "center":
                    sd = np.ones_like(sd)
                A[b] = (A[b] - mu) / sd
                if A is Atr:
                    const |= c
        return Atr, Ate, const
    mu, sd, const = _stats(Atr)
    if mode == "center":
        sd = np.ones_like(sd)
    return (Atr - mu) / sd, (Ate - mu) / sd, const


def fir_delays(X, run, delays):
    n, p = X.shape
    out = np.zeros((n, p * len(delays)))
    for d, lag in enumerate(delays):
        for b in run_blocks(run, n):
            if lag < len(b):
                out[b[lag:], d * p:(d + 1) * p] = X[b[:len(b) - lag]]
    return out


# ---- scores ---------------------------------------------------------------

def pearson_cols(pred, y):
    pc = pred - pred.mean(axis=0)
    yc = y - y.mean(axis=0)
    num = (pc * yc).sum(axis=0)
    den = np.sqrt((pc * pc).sum(axis=0) * (yc * yc).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, 0.0)


def r2_cols(pred, y):
    ss_res = ((y - pred) ** 2).sum(axis=0)
    ss_tot = ((y - y.mean(axis=0)) ** 2).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ss_tot > 0, 1.0 - ss_res / ss_tot, 0.0)


def _ridge(alpha):
    return Ridge(alpha=alpha, fit_intercept=False, solver="svd")


def argmax_last(a, axis=-1):
    """Index of the maximum; scores within 1e-9 * max(1, |best|) of the best
    are ties (docs/method.md), and ties go to the largest index."""
    a = np.moveaxis(np.asarray(a, float), axis, -1)
    top = a.max(axis=-1, keepdims=True)
    tied = a >= top - 1e-9 * np.maximum(1.0, np.abs(top))
    idx = a.shape[-1] - 1 - np.argmax(np.flip(tied, axis=-1), axis=-1)
    return idx


# ---- the unit -------------------------------------------------------------

def prepare(X, Y, split, run=None, reps=None, delays=(0,), per_run=False):
    """Training/test matrices after standardisation and delays, the mask,
    and the training run labels."""
    split = np.asarray(split)
    tr = np.flatnonzero(split == 0)
    te = np.flatnonzero(split == 1)
    X = np.asarray(X, dtype=float)
    Y = np.asarray(Y, dtype=float)
    Ytr = Y[tr]
    Yte = np.asarray(reps, dtype=float).mean(axis=0) if reps is not None else Y[te]
    run_tr = None if run is None else np.asarray(run)[tr]
    run_te = None if run is None else np.asarray(run)[te]
    finite = np.isfinite(Ytr).all(axis=0) & np.isfinite(Yte).all(axis=0)
    constant = np.zeros(Y.shape[1], dtype=bool)
    constant[finite] = np.ptp(Ytr[:, finite], axis=0) == 0
    valid = finite & ~constant
    Xs_tr, Xs_te, _ = standardise(X[tr], X[te], run_tr, run_te, per_run)
    Ys_tr, Ys_te, _ = standardise(Ytr[:, valid], Yte[:, valid], run_tr, run_te, per_run)
    Xd_tr = fir_delays(Xs_tr, run_tr, delays)
    Xd_te = fir_delays(Xs_te, run_te, delays)
    return dict(Xtr=Xd_tr, Xte=Xd_te, Ytr=Ys_tr, Yte=Ys_te, valid=valid,
                run_tr=run_tr, ntr=len(tr), nte=len(te))


def cv_scores(Xtr, Ytr, fold, lambdas):
    """Mean over folds of the held-out scores: dict score -> (m x v)."""
    k = fold.max() + 1
    m, v = len(lambdas), Ytr.shape[1]
    out = {"r": np.zeros((m, v)), "r2": np.zeros((m, v))}
    for f in range(k):
        fit_rows = fold != f
        val_rows = fold == f
        for j, lam in enumerate(lambdas):
            pred = _ridge(lam).fit(Xtr[fit_rows], Ytr[fit_rows]).predict(Xtr[val_rows])
            out["r"][j] += pearson_cols(pred, Ytr[val_rows])
            out["r2"][j] += r2_cols(pred, Ytr[val_rows])
    for key in out:
        out[key] /= k
    return out


def select(cv, per_voxel):
    """Index of the chosen lambda per voxel (cv: m x v of unmasked voxels)."""
    if per_voxel:
        return argmax_last(cv, axis=0)
    shared = argmax_last(cv.mean(axis=1))
    return np.full(cv.shape[1], shared, dtype=int)


def refit(Xtr, Ytr, Xte, Yte, alphas):
    """Test r and R^2 with a lambda per voxel (sklearn's per-target alpha)."""
    pred = _ridge(np.asarray(alphas, dtype=float)).fit(Xtr, Ytr).predict(Xte)
    if pred.ndim == 1:
        pred = pred[:, None]
    return pearson_cols(pred, Yte), r2_cols(pred, Yte)


def fit_unit(prep, fold, lambdas, score, per_voxel, cv=None):
    """Per-voxel results over all voxels of the file (NaN where masked).
    cv may be passed in (from cv_scores) to reuse it across settings."""
    lambdas = np.asarray(lambdas, dtype=float)
    valid = prep["valid"]
    V = valid.size
    if cv is None:
        cv = cv_scores(prep["Xtr"], prep["Ytr"], fold, lambdas)
    c = cv[score]
    best = select(c, per_voxel)
    test_r, test_r2 = refit(prep["Xtr"], prep["Ytr"], prep["Xte"], prep["Yte"],
                            lambdas[best])
    res = {key: np.full(V, np.nan) for key in
           ("test_r", "test_r2", "best_lambda", "cv_score")}
    res["best_index"] = np.full(V, -1)
    res["best_index"][valid] = best
    res["best_lambda"][valid] = lambdas[best]
    res["cv_score"][valid] = c[best, np.arange(c.shape[1])]
    res["test_r"][valid] = test_r
    res["test_r2"][valid] = test_r2
    # how clear each choice is: gap to the runner-up (per voxel) or of the
    # shared mean curve, to tell a real disagreement from a rounding tie
    if per_voxel:
        top = c[best, np.arange(c.shape[1])]
        other = np.where(np.arange(len(lambdas))[:, None] == best[None, :], -np.inf, c)
        gap = top - other.max(axis=0) if len(lambdas) > 1 else np.full(c.shape[1], np.inf)
    else:
        mc = c.mean(axis=1)
        s = np.sort(mc)
        gap = np.full(c.shape[1], s[-1] - s[-2] if len(s) > 1 else np.inf)
    res["gap"] = np.full(V, np.nan)
    res["gap"][valid] = gap
    res["valid"] = valid
    return res
