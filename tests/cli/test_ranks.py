"""Results do not depend on the number of ranks; a sweep holds the base job.

One generated demo study is run with 1, 2, 3 and 4 ranks (3 and 4
oversubscribed on a small machine) at one BLAS thread per rank
(VOXFIT_THREADS=1): every per-voxel variable, every ROI summary, the unit
status and the voxel axis must be the same bits, with NaN at the same
places. Then with other BLAS thread counts (the default, which depends on
the cores and the ranks, and VOXFIT_THREADS=4), which change the summation
order inside BLAS: every value within 1e-10 x max(1, |value|) of the
one-thread run (the README's claim; measured: 2e-12), the p- and q-values,
lambdas and noise ceilings the same bits. Then a copy of the job with a
2 x 2 sweep (ridge.delays x ridge.cv.folds) runs: sweep dimension 4 with
its labels, every unit done, and the sweep point equal to the base
settings (delays [0], folds 5) equal to the base job's results; the other
points differ from it.
Prints one PASS/FAIL line per check; exits 1 if any failed.
usage: /usr/bin/python3 tests/cli/test_ranks.py BUILD_DIR
"""
import os
import subprocess
import sys
import tempfile

import netCDF4
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
LIB = os.path.join(HERE, "..", "lib.sh")
# Two runs at different BLAS thread counts agree to rounding: |a - b| <=
# ROUNDING * max(1, |b|) (README "Running under MPI"); these are bit for
# bit the same whatever the threads (no BLAS sums in them).
ROUNDING = 1e-10
EXACT_ANYWAY = ["best_lambda", "test_p", "test_q", "ev", "split_half", "lambda"]

PER_VOXEL = ["test_r", "test_r2", "best_lambda", "cv_score", "test_r_norm", "test_p",
             "test_q"]
PER_ROI = ["roi_mean_r", "roi_median_r", "roi_n_voxels", "roi_n_masked", "roi_status",
           "roi_mean_r_sig", "roi_n_sig", "roi_mean_r_topk", "roi_mean_r_norm", "roi_n_ev",
           "unit_status"]
AXES = ["voxel_subject", "voxel_roi", "voxel_index", "lambda", "pair_variants", "ev",
        "split_half"]
NAMES = ["subject_id", "variant_id", "roi_name", "sweep_label"]

n_pass = n_fail = 0


def check(name, good, detail=""):
    global n_pass, n_fail
    if good:
        n_pass += 1
        print("PASS ranks: " + name)
    else:
        n_fail += 1
        print("FAIL ranks: " + name + (": " + detail if detail else ""))
    sys.stdout.flush()
    return good


def voxfit(build, np_, *args, timeout=120, threads=None):
    """voxfit on np_ ranks with tests/lib.sh's MPI settings and, when threads
    is given, VOXFIT_THREADS=threads (else the default): (rc, output)."""
    cmd = ['sh', '-c', 'BUILD="$1"; . "$2"; shift 2; vf "$@"', "sh",
           build, LIB, str(np_)] + list(args)
    env = dict(os.environ)
    env.pop("VOXFIT_THREADS", None)
    if threads is not None:
        env["VOXFIT_THREADS"] = str(threads)
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout, universal_newlines=True, env=env)
        return p.returncode, p.stdout
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        return 124, out + "\n(killed after %d s)" % timeout


def tail(text, n=12):
    return "\n" + "\n".join("  | " + l for l in text.splitlines()[-n:])


def with_output(src, dst, output, extra=""):
    """A copy of job file src with another output (and extra lines)."""
    lines = []
    with open(src) as f:
        for l in f:
            lines.append("output: %s\n" % output if l.startswith("output:") else l)
    with open(dst, "w") as f:
        f.write("".join(lines) + extra)


def load(path):
    ds = netCDF4.Dataset(path)
    ds.set_auto_mask(False)
    out = {v: np.array(ds[v][:]) for v in PER_VOXEL + PER_ROI + AXES}
    for v in NAMES:
        out[v] = [str(s) for s in netCDF4.chartostring(ds[v][:]).ravel()]
    out["complete"] = int(ds.getncattr("complete"))
    out["n_ranks"] = int(ds.getncattr("n_ranks"))
    out["dims"] = {d: len(ds.dimensions[d]) for d in ds.dimensions}
    ds.close()
    return out


def compare(a, b, tol=0.0):
    """'' when a and b agree to |a - b| <= tol * max(1, |b|) (tol 0: the
    same bits), NaN where the other has NaN; else why not."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.shape != b.shape:
        return "shapes %s vs %s" % (a.shape, b.shape)
    na, nb = np.isnan(a), np.isnan(b)
    if (na != nb).any():
        return "NaN at different places (%d vs %d NaN, %d differ)" % (
            na.sum(), nb.sum(), (na != nb).sum())
    d = np.abs(a[~na] - b[~na]) / np.maximum(1.0, np.abs(b[~na]))
    if d.size and d.max() > tol:
        return "max |diff| / max(1, |x|) %.3g > %g (%d values differ)" % (
            d.max(), tol, (d > tol).sum())
    return ""


def run_np(build, data, job, name, n, threads):
    """The job on n ranks into NAME.nc; its variables, or None."""
    path = os.path.join(data, name + ".nc")
    j = os.path.join(data, name + ".yaml")
    with_output(job, j, name + ".nc")
    rc, out = voxfit(build, n, "run", j, "--quiet", threads=threads)
    what = "np=%d, %s" % (n, "VOXFIT_THREADS=%d" % threads if threads else "default threads")
    if not check("%s: exit 0" % what, rc == 0, "exit %d%s" % (rc, tail(out))):
        return None
    r = load(path)
    check("%s: complete = 1, n_ranks = %d" % (what, n),
          r["complete"] == 1 and r["n_ranks"] == n,
          "complete %d, n_ranks %d" % (r["complete"], r["n_ranks"]))
    check("%s: every unit done (status 1)" % what, (r["unit_status"] == 1).all(),
          "statuses %s" % np.unique(r["unit_status"]))
    return r


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: test_ranks.py BUILD_DIR")
    build = os.path.abspath(sys.argv[1])
    if not os.access(os.path.join(build, "bin", "voxfit"), os.X_OK):
        check("voxfit is built", False, "no %s/bin/voxfit" % build)
        return 1
    with tempfile.TemporaryDirectory(prefix="voxfit-ranks.") as tmp:
        data = os.path.join(tmp, "data")
        rc, out = voxfit(build, 1, "gen", "--preset", "demo", "--out", data, "--seed", "4")
        if not check("gen --preset demo exits 0", rc == 0, tail(out)):
            return 1
        job = os.path.join(data, "job.yaml")

        # ---- the same study on 1..4 ranks, one BLAS thread each: the same bits
        res = {}
        for n in (1, 2, 3, 4):
            r = run_np(build, data, job, "np%d" % n, n, 1)
            if r is not None:
                res[n] = r
        if 1 not in res:
            return 1
        ref = res[1]
        check("np=1: test_r has finite values", np.isfinite(ref["test_r"]).any())
        for n in (2, 3, 4):
            if n not in res:
                continue
            for v in PER_VOXEL + PER_ROI + AXES:
                why = compare(res[n][v], ref[v])
                check("np=%d: %s: the same bits as np=1's" % (n, v), not why, why)
            for v in NAMES:
                check("np=%d: %s equals np=1's" % (n, v), res[n][v] == ref[v],
                      "%s vs %s" % (res[n][v], ref[v]))

        # ---- other BLAS thread counts: the same to rounding ------------------
        for n, threads in ((1, None), (3, None), (2, 4)):
            name = "np%d-t%s" % (n, threads or "default")
            r = run_np(build, data, job, name, n, threads)
            if r is None:
                continue
            for v in PER_VOXEL + PER_ROI + AXES:
                tol = 0.0 if v in EXACT_ANYWAY else ROUNDING
                why = compare(r[v], ref[v], tol)
                check("%s: %s equals the one-thread run's%s" % (
                    name, v, "" if tol == 0 else " to %g x max(1, |x|)" % tol), not why, why)

        # ---- a sweep -------------------------------------------------------
        sweep_yaml = os.path.join(data, "sweep.yaml")
        with_output(job, sweep_yaml, "sweep.nc",
                    "sweep: {ridge.delays: [[0], [0, 1]], ridge.cv.folds: [4, 5]}\n")
        rc, out = voxfit(build, 3, "run", sweep_yaml, "--quiet", threads=1)
        if not check("sweep job (3 ranks): exit 0", rc == 0, "exit %d%s" % (rc, tail(out))):
            return 1
        sw = load(os.path.join(data, "sweep.nc"))
        check("sweep: dimension sweep = 4", sw["dims"].get("sweep") == 4,
              "sweep = %s" % sw["dims"].get("sweep"))
        labels = sw["sweep_label"]
        check("sweep: 4 distinct labels naming both keys",
              len(set(labels)) == 4 and all("ridge.delays=" in l and "ridge.cv.folds=" in l
                                            for l in labels), str(labels))
        check("sweep: complete = 1 and every unit done",
              sw["complete"] == 1 and (sw["unit_status"] == 1).all())
        summary = "mean test r over each ROI's scoreable voxels (sweep point: "
        check("sweep: the summary is printed for every sweep point",
              all(summary + l + ")" in out for l in labels), tail(out, 5))
        base = [i for i, l in enumerate(labels)
                if "ridge.delays=[0] " in l + " " and "ridge.cv.folds=5" in l]
        if not check("sweep: one point is the base settings (delays [0], folds 5)",
                     len(base) == 1, str(labels)):
            return 1
        w = base[0]
        for v in PER_VOXEL:
            why = compare(sw[v][w], ref[v][0], ROUNDING)
            check("sweep point %r: %s equals the base job's" % (labels[w], v), not why, why)
        for v in PER_ROI:
            why = compare(sw[v][w], ref[v][0], ROUNDING)
            check("sweep point %r: %s equals the base job's" % (labels[w], v), not why, why)
        for v in ["voxel_subject", "voxel_roi", "voxel_index", "lambda"]:
            why = compare(sw[v], ref[v])
            check("sweep: %s equals the base job's" % v, not why, why)
        for i, l in enumerate(labels):
            if i != w:
                check("sweep point %r differs from the base (test_r)" % l,
                      compare(sw["test_r"][i], ref["test_r"][0], ROUNDING) != "")
    print("ranks: %d passed, %d failed" % (n_pass, n_fail))
    return 1 if n_fail else 0


if __name__ == "__main__":
    sys.exit(main())
