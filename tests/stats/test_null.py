"""False positives under the null, through the whole pipeline.

For several seeds a demo study (6 subjects) is generated and its test
repetitions are replaced by independent noise, so no variant predicts the
test set: every per-voxel permutation p-value and every group test is
then a draw from the null. Checked: the voxels' p-values are uniform (KS,
with the permutation grid's slack) and their rate below 0.05 lies within
the binomial 99.9% bounds; the group t-tests and Wilcoxon tests over all
seeds x pairs x ROIs reject at 0.05 no more often than the binomial 99.9%
bound allows.
Prints one PASS/FAIL line per check; exits 1 if any failed.
usage: /usr/bin/python3 tests/stats/test_null.py BUILD_DIR
"""
import os
import sys
import tempfile

import netCDF4
import numpy as np
from scipy import stats

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from vftest import Checks, voxfit  # noqa: E402
SEEDS = range(101, 109)
PERMS = 199
check = Checks("null", always_detail=True)


def null_study(build, d, seed):
    """A demo study whose test responses are pure noise: (voxel p, group p)."""
    rc, out = voxfit(build, 1, "gen", "--preset", "demo", "--subjects", "6", "--seed",
                     str(seed), "--out", d)
    if rc:
        return None, "gen failed: " + out[-200:]
    rng = np.random.default_rng(seed)
    for s in range(1, 7):
        with netCDF4.Dataset("%s/sub-%02d.nc" % (d, s), "r+") as f:
            shape = f["test_repetitions"].shape
            f["test_repetitions"][:] = rng.standard_normal(shape).astype(np.float32)
    with open(d + "/job.yaml", "a") as f:
        f.write("stats: {permutations: %d, seed: %d}\n" % (PERMS, seed))
    rc, out = voxfit(build, 2, "run", d + "/job.yaml", "--quiet")
    if rc:
        return None, "run failed: " + out[-200:]
    rc, out = voxfit(build, 1, "group", d + "/results.nc", "--bootstrap", "0")
    if rc:
        return None, "group failed: " + out[-200:]
    res, grp = netCDF4.Dataset(d + "/results.nc"), netCDF4.Dataset(d + "/results.group.nc")
    for ds in (res, grp):
        ds.set_auto_mask(False)
    p = res["test_p"][0, 0]  # one variant: its voxels' tests are independent
    return (p[~np.isnan(p)], grp["p_t"][:].ravel(), grp["p_wilcoxon"][:].ravel()), ""


def main():
    build = os.path.abspath(sys.argv[1])
    vox, pt, pw = [], [], []
    with tempfile.TemporaryDirectory(prefix="voxfit-null.") as tmp:
        for seed in SEEDS:
            got, why = null_study(build, "%s/s%d" % (tmp, seed), seed)
            if got is None:
                check("seed %d: the pipeline runs" % seed, False, why)
                continue
            vox.append(got[0]), pt.append(got[1]), pw.append(got[2])
    if not vox:
        return 1
    v = np.concatenate(vox)
    ks = stats.kstest(v, "uniform").statistic
    crit = 1.95 / np.sqrt(len(v)) + 1.0 / (PERMS + 1)
    check("voxel p-values uniform under the null (KS %.4f < %.4f, %d voxels)" %
          (ks, crit, len(v)), ks < crit)
    # p lies on the grid k / (PERMS + 1): P(p <= 0.05) is exactly 0.05 for PERMS = 199
    n, k = len(v), int((v <= 0.05 + 1e-12).sum())
    lo, hi = stats.binom.ppf(0.0005, n, 0.05), stats.binom.ppf(0.9995, n, 0.05)
    check("voxels with p <= 0.05: %d of %d, within [%d, %d]" % (k, n, lo, hi), lo <= k <= hi)
    for name, ps in (("t-test", np.concatenate(pt)), ("Wilcoxon", np.concatenate(pw))):
        ps = ps[~np.isnan(ps)]
        k, hi = int((ps < 0.05).sum()), stats.binom.ppf(0.999, len(ps), 0.05)
        check("group %s rejections at 0.05: %d of %d, at most %d" % (name, k, len(ps), hi),
              len(ps) > 0 and k <= hi)
    return check.finish()


sys.exit(main())
