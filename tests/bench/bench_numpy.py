"""An independent numpy implementation of voxfit's cross-validated ridge fit,
timed on a problem dumped by tests/bench/bench_ridge.c (--dump), and compared
with voxfit's outputs in the same dump. Part of `make bench`, not a test.

usage: /usr/bin/python3 tests/bench/bench_numpy.py DUMP_DIR [--threads N]
                                                   [--block B] [--ref64]

Written from docs/method.md, not from the C: per fold one thin SVD of the
fold's training rows (numpy.linalg.svd, full_matrices=False); every lambda
is a scaling of the evaluation features in the right singular basis and one
matrix product per voxel block; per voxel the Pearson r (in float64, like
voxfit's scores) averaged over folds; per voxel the lambda with the best mean
score, ties (scores within 1e-9 x max(1, |best|), 1e-6 for a float32 problem:
method.md step 7) to the larger lambda; the
refit on every training row with each
voxel's lambda and its test r. Products and factorisations run in the dump's
precision (float64 or float32).

Threads: OPENBLAS_NUM_THREADS is set from --threads before numpy is
imported, and threadpoolctl (Debian's python3-threadpoolctl), when
installed, limits the BLAS to that many threads and reports the OpenBLAS
kernel it runs. bench.sh runs this with OPENBLAS_CORETYPE and
OPENBLAS_L2_SIZE unset (they slow a current numpy); this script only
reports them.

--ref64 (single-precision dumps): also runs the same fit in float64 on the
same float32 data, untimed, and reports how far voxfit's and this script's
float32 results are from it (who is off when the two disagree). bench.sh
passes it by default and judges a single-precision case's accuracy against
this float64 fit: on the wide grid the textbook float32 fit (one rounded
product per lambda) is itself 2.5e-5 off in r from float64 on the same data,
so it cannot referee 1e-6.

Prints a few human lines, then one "NUMPY key=value ..." line for bench.sh.
"""
import json
import os
import re
import sys
import time


def parse_args(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__)
        sys.exit(0 if len(argv) >= 2 else 2)
    args = {"dir": argv[1], "threads": 0, "block": 2048, "ref64": False}
    i = 2
    while i < len(argv):
        if argv[i] in ("--threads", "--block") and i + 1 < len(argv):
            args[argv[i][2:]] = int(argv[i + 1])
            i += 2
        elif argv[i] == "--ref64":
            args["ref64"] = True
            i += 1
        else:
            sys.exit("bench_numpy: unknown argument %r" % argv[i])
    return args


ARGS = parse_args(sys.argv)
if ARGS["threads"] > 0:  # read by OpenBLAS when numpy loads it
    os.environ["OPENBLAS_NUM_THREADS"] = str(ARGS["threads"])
    os.environ["OMP_NUM_THREADS"] = str(ARGS["threads"])

import numpy as np  # noqa: E402

try:
    import threadpoolctl  # noqa: E402
except ImportError:
    threadpoolctl = None


def blas_info():
    """(kernel, threads, library) of the BLAS numpy runs, as far as known."""
    if threadpoolctl is None:
        return "unknown(no-threadpoolctl)", os.environ.get("OPENBLAS_NUM_THREADS", "?"), "?"
    for lib in threadpoolctl.threadpool_info():
        if lib.get("user_api") == "blas":
            return (lib.get("architecture") or "?", lib.get("num_threads"),
                    "%s-%s" % (lib.get("internal_api"), lib.get("version")))
    return "?", "?", "?"


def peak_rss():
    """The process's RSS high-water mark in bytes (VmHWM)."""
    try:
        with open("/proc/self/status") as f:
            return int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1)) * 1024
    except (OSError, AttributeError):
        return 0


def reset_peak_rss():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


# ---- the problem -----------------------------------------------------------

def load(d):
    with open(os.path.join(d, "problem.json")) as f:
        h = json.load(f)
    dt = np.dtype(h["dtype"]).newbyteorder("<")

    def mat(name, rows, cols):
        # column-major rows x cols on disk = row-major cols x rows
        a = np.fromfile(os.path.join(d, name + ".bin"), dtype=dt)
        assert a.size == rows * cols, (name, a.size, rows, cols)
        return a.reshape(cols, rows).T

    def vec(name, dtype):
        return np.fromfile(os.path.join(d, name + ".bin"), dtype=np.dtype(dtype).newbyteorder("<"))

    prob = {
        "Xtr": mat("Xtr", h["ntr"], h["p"]),
        "Ytr": mat("Ytr", h["ntr"], h["v"]),
        "Xte": mat("Xte", h["nte"], h["p"]),
        "Yte": mat("Yte", h["nte"], h["v"]),
        "start": vec("fold_start", "int64").astype(np.int64),
        "lambdas": vec("lambdas", "float64"),
    }
    vox = {k: vec(k, "float64") for k in ("best_lambda", "test_r", "cv_best")}
    return h, prob, vox


# ---- the fit ---------------------------------------------------------------

def centred(Y):
    """float64 copy of Y with centred columns, and its column sums of squares."""
    Y = Y.astype(np.float64)
    Y -= Y.mean(axis=0)
    return Y, np.einsum("ij,ij->j", Y, Y)


def pearson(P, Yc, yss):
    """Per column Pearson r of predictions P with centred Yc (float64); 0 when
    either side is constant."""
    P = P.astype(np.float64)
    P -= P.mean(axis=0)
    num = np.einsum("ij,ij->j", P, Yc)
    den = np.einsum("ij,ij->j", P, P) * yss
    out = np.zeros_like(num)
    ok = den > 0
    out[ok] = num[ok] / np.sqrt(den[ok])
    return out


def svd_basis(A, Xev):
    """Thin SVD of A; the evaluation rows in the right singular basis."""
    U, s, Vt = np.linalg.svd(A, full_matrices=False)
    return U, s.astype(np.float64), Xev @ Vt.T


def shrink(s, lambdas, dtype):
    """s / (s^2 + lambda) for every lambda: (m, r), computed in float64."""
    return (s[None, :] / (s[None, :] ** 2 + lambdas[:, None])).astype(dtype)


def utY(U, Y, a, b, c0, c1):
    """U^T Y[rows outside [a, b), c0:c1] without copying Y's rows."""
    out = None
    if a > 0:
        out = U[:a].T @ Y[:a, c0:c1]
    if b < Y.shape[0]:
        part = U[a:].T @ Y[b:, c0:c1]
        out = part if out is None else out + part
    return out


def tie_band(dtype):
    """The method's tie band for a fit of this precision's data (voxfit's
    RIDGE_TIE_DOUBLE / RIDGE_TIE_SINGLE); float64 refits of float32 data
    (--ref64) keep float32's band, being the same fit computed exactly."""
    return 1e-6 if dtype == np.float32 else 1e-9


def near_ties(cv, best, other, mism, tie, dtype):
    """How many of the voxels mism are near-ties in the scores cv: the
    scores at best and at other agree within the tie band widened by 100
    ulp of the precision."""
    cols = np.arange(cv.shape[1])
    tol = tie * np.maximum(1.0, np.abs(cv[best, cols])) + 100 * float(np.finfo(dtype).eps)
    gap = cv[best, cols] - cv[other, cols]
    return int(np.sum(np.abs(gap[mism]) <= tol[mism]))


def choose(cv, tie):
    """Per voxel (column) the index of the best score; scores within
    tie * max(1, |best|) of the best are ties, and ties go to the larger
    lambda (docs/method.md, step 7)."""
    top = cv.max(axis=0)
    tied = cv >= top - tie * np.maximum(1.0, np.abs(top))
    # the first tied row of the reversed grid is the largest tied lambda
    return cv.shape[0] - 1 - np.argmax(tied[::-1], axis=0)


def cv_fit(Xtr, Ytr, Xte, Yte, start, lambdas, block, tie):
    dtype = Xtr.dtype
    ntr, v = Ytr.shape
    k, m = len(start) - 1, len(lambdas)
    cv = np.zeros((m, v))
    for f in range(k):
        a, b = int(start[f]), int(start[f + 1])
        A = np.concatenate([Xtr[:a], Xtr[b:]])
        U, s, XV = svd_basis(A, Xtr[a:b])
        del A
        D = shrink(s, lambdas, dtype)
        for c0 in range(0, v, block):
            c1 = min(v, c0 + block)
            G = utY(U, Ytr, a, b, c0, c1)
            Yc, yss = centred(Ytr[a:b, c0:c1])
            for j in range(m):
                cv[j, c0:c1] += pearson((XV * D[j]) @ G, Yc, yss)
        del U, XV
    cv /= k
    best = choose(cv, tie)
    U, s, XV = svd_basis(Xtr, Xte)
    D = shrink(s, lambdas, dtype)
    test_r = np.empty(v)
    for c0 in range(0, v, block):
        c1 = min(v, c0 + block)
        G = U.T @ Ytr[:, c0:c1]
        G *= D[best[c0:c1]].T
        Yc, yss = centred(Yte[:, c0:c1])
        test_r[c0:c1] = pearson(XV @ G, Yc, yss)
    return cv, best, test_r


def main():
    h, prob, vox = load(ARGS["dir"])
    threads = ARGS["threads"]
    limiter = None
    if threadpoolctl is not None and threads > 0:
        limiter = threadpoolctl.threadpool_limits(limits=threads, user_api="blas")
    kernel, nthreads, lib = blas_info()
    env = ",".join("%s=%s" % (k, os.environ[k]) for k in
                   ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ) or "unset"
    lambdas = prob["lambdas"]
    dtype = prob["Xtr"].dtype
    # warm-up (BLAS threads, LAPACK's first call), as voxfit's run follows
    # its GEMM measurement
    w = np.random.default_rng(0).standard_normal((256, 200)).astype(dtype)
    np.linalg.svd(w, full_matrices=False)
    w @ w.T
    tie = tie_band(dtype)
    reset = reset_peak_rss()
    t0 = time.perf_counter()
    cv, best, test_r = cv_fit(prob["Xtr"], prob["Ytr"], prob["Xte"], prob["Yte"],
                              prob["start"], lambdas, ARGS["block"], tie)
    secs = time.perf_counter() - t0
    rss = peak_rss()
    if limiter is not None:
        limiter.restore_original_limits()

    # ---- against voxfit ----
    v = cv.shape[1]
    idx_vf = np.searchsorted(lambdas, vox["best_lambda"])
    idx_vf = np.clip(idx_vf, 0, len(lambdas) - 1)
    on_grid = lambdas[idx_vf] == vox["best_lambda"]
    mism = np.flatnonzero((idx_vf != best) | ~on_grid)
    cols = np.arange(v)
    # numpy's CV score at numpy's choice minus at voxfit's choice (>= 0)
    gap = cv[best, cols] - cv[idx_vf, cols]
    max_gap = float(np.max(np.abs(gap[mism]))) if mism.size else 0.0
    dr = np.abs(test_r - vox["test_r"])
    max_dr = float(np.max(dr)) if v else 0.0
    same = np.ones(v, bool)
    same[mism] = False
    max_dr_same = float(np.max(dr[same])) if same.any() else 0.0
    dcv = np.abs(cv[best, cols] - vox["cv_best"])
    dcv[mism] = 0  # compare CV scores only where the lambdas agree
    max_dcv = float(np.max(dcv)) if v else 0.0
    ties = near_ties(cv, best, idx_vf, mism, tie, dtype)  # in numpy's scores
    ref = {}
    if ARGS["ref64"] and dtype == np.float32:
        P64 = {k: (a.astype(np.float64) if a.dtype == np.float32 else a) for k, a in prob.items()}
        cv64, best64, r64 = cv_fit(P64["Xtr"], P64["Ytr"], P64["Xte"], P64["Yte"],
                                   P64["start"], lambdas, ARGS["block"], tie)
        del P64
        ref = dict(  # voxfit's near-ties judged in the float64 scores
            vf_ties64=near_ties(cv64, best64, idx_vf, np.flatnonzero(idx_vf != best64), tie,
                                dtype),
            vf_dr64=float(np.max(np.abs(vox["test_r"] - r64))),
            np_dr64=float(np.max(np.abs(test_r - r64))),
            vf_dcv64=float(np.max(np.abs(vox["cv_best"] - cv64[idx_vf, cols]))),
            np_dcv64=float(np.max(np.abs(cv[best, cols] - cv64[best, cols]))),
            vf_lam64=int(np.sum(idx_vf != best64)),
            np_lam64=int(np.sum(best != best64)))

    print("numpy %s (%s), kernel %s, %s threads, OPENBLAS_CORETYPE/L2_SIZE %s"
          % (np.__version__, lib, kernel, nthreads, env))
    print("   %s: numpy fit %.3f s (voxfit %.3f s: %.2fx), peak RSS of the fit "
          "%.1f MiB%s" % (h["case"], secs, h["voxfit_seconds"],
                          secs / h["voxfit_seconds"], rss / 1048576.0,
                          "" if reset else " (process)"))
    print("   chosen lambdas differ on %d of %d voxels, %d of them near-ties (CV "
          "scores within the tie band %.0e + 100 ulp; largest gap %.3g); max |test r difference| "
          "%.3g (%.3g where the lambdas agree)"
          % (mism.size, v, ties, tie, max_gap, max_dr, max_dr_same))
    if v:
        c = int(np.argmax(dcv))
        print("   max |CV score difference| at the same chosen lambda %.3g (voxel %d, "
              "lambda %.3g: voxfit %.9g, numpy %.9g)"
              % (max_dcv, c, lambdas[best[c]], vox["cv_best"][c], cv[best[c], c]))
        c = int(np.argmax(dr))
        print("   max |test r difference| at voxel %d (lambda voxfit %.3g, numpy %.3g): "
              "voxfit %.9g, numpy %.9g" % (c, vox["best_lambda"][c], lambdas[best[c]],
                                            vox["test_r"][c], test_r[c]))
    if ref:
        print("   against float64 on the same data: voxfit max |dr| %.3g, |d cv| at its "
              "lambda %.3g, lambdas differ %d; numpy float32 max |dr| %.3g, |d cv| %.3g, "
              "lambdas differ %d" % (ref["vf_dr64"], ref["vf_dcv64"], ref["vf_lam64"],
                                     ref["np_dr64"], ref["np_dcv64"], ref["np_lam64"]))
    if mism.size:
        pairs = {}
        for c in mism:
            key = (int(idx_vf[c]), int(best[c]))
            pairs[key] = pairs.get(key, 0) + 1
        top = sorted(pairs.items(), key=lambda kv: -kv[1])[:8]
        print("   voxfit -> numpy lambda (voxels): " + ", ".join(
            "%.3g -> %.3g (%d)" % (lambdas[a], lambdas[b], n) for (a, b), n in top))
        worst = mism[np.argsort(-np.abs(gap[mism]))[:3]]
        for c in worst:
            print("     voxel %d: voxfit %.3g (cv %.9g), numpy %.3g (cv %.9g at it, "
                  "%.9g at voxfit's)" % (c, vox["best_lambda"][c], vox["cv_best"][c],
                                         lambdas[best[c]], cv[best[c], c], cv[idx_vf[c], c]))
    print("NUMPY case=%s seconds=%.6f speedup=%.4f mismatches=%d ties=%d "
          "max_gap=%.3e max_dr=%.3e max_dr_same=%.3e max_dcv=%.3e rss=%d "
          "rss_reset=%d kernel=%s threads=%s coretype_env=%s"
          % (h["case"], secs, secs / h["voxfit_seconds"], mism.size, ties,
             max_gap, max_dr, max_dr_same, max_dcv, rss, int(reset), kernel,
             nthreads, env)
          + "".join(" %s=%.6g" % kv for kv in sorted(ref.items())))


if __name__ == "__main__":
    main()
