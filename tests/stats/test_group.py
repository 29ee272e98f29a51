"""voxfit group against scipy on the same numbers, and on planted truth.

A demo study with 6 subjects is generated, fitted (2 ranks) and grouped.
Every (pair, ROI) of group.nc is recomputed from the results file's
roi_mean_r with scipy.stats (ttest_rel, wilcoxon, the t quantile for the
CI) and an independent Benjamini-Hochberg: the same numbers to 1e-10. The
ROIs the generator planted a multimodal advantage in (truth.yaml: effect
not none) come out positive with q(t) < 0.05 for the layer-2 pair. The
stats.group: true ends a run with the same group stage; with
stats.save_predictions each subject's bootstrap CI over test stimuli
equals numpy's on the same resamples; subjects with different test
counts each get theirs (the documented draws), a voxel constant over the
test stimuli counting with r = 0; equal scores have SEM 0, one subject's
mean difference is its own, and a shard is grouped with a warning. The
per-voxel statistics of the results file against numpy: explainable
variance from the subjects' test repetitions, ceiling-normalised r, FDR
q-values per subject, and the ROI summaries over significant, top-k and
ceiling-normalised voxels. Bad
input: a subject given twice, a file that is not a results file, a job
without pairs, an unknown option: exit 2 with a message naming the file.
Prints one PASS/FAIL line per check; exits 1 if any failed.
usage: /usr/bin/python3 tests/stats/test_group.py BUILD_DIR
"""
import os
import sys
import tempfile

import netCDF4
import numpy as np
import yaml
from scipy import stats

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from vftest import Checks, voxfit  # noqa: E402

check = Checks("group")


def bh(p):
    p = np.asarray(p, float)
    q = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    m = ok.sum()
    idx = np.where(ok)[0][np.argsort(p[ok])]
    ranked = p[idx] * m / np.arange(1, m + 1)
    q[idx] = np.minimum.accumulate(ranked[::-1])[::-1]
    return np.minimum(q, 1)


def close(a, b, tol=1e-10):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return a.shape == b.shape and np.allclose(a, b, rtol=tol, atol=tol, equal_nan=True)


def against_scipy(res, grp):
    mean_r = res["roi_mean_r"][:]
    status = res["roi_status"][:]
    pairs = res["pair_variants"][:]
    level = float(grp.getncattr("ci_level"))
    check("a complete run's group file: inputs_complete = 1",
          int(grp.getncattr("inputs_complete")) == 1)
    S, P, R = mean_r.shape[1], len(pairs), mean_r.shape[3]
    want = {k: np.full((1, P, R), np.nan) for k in
            ("mean_diff", "ci_low", "ci_high", "t", "p_t", "p_wilcoxon", "wilcoxon_w")}
    diff = np.full((1, P, R, S), np.nan)
    for i, (a, b) in enumerate(pairs):
        for q in range(R):
            ok = (status[0, :, a, q] == 1) & (status[0, :, b, q] == 1)
            d = np.where(ok, mean_r[0, :, a, q] - mean_r[0, :, b, q], np.nan)
            diff[0, i, q] = d
            d = d[~np.isnan(d)]
            t = stats.ttest_rel(d + 0.0, np.zeros_like(d))
            w = stats.wilcoxon(d)
            se = d.std(ddof=1) / np.sqrt(len(d))
            half = stats.t.ppf(0.5 + level / 2, len(d) - 1) * se
            for k, v in (("mean_diff", d.mean()), ("ci_low", d.mean() - half),
                         ("ci_high", d.mean() + half), ("t", t.statistic), ("p_t", t.pvalue),
                         ("p_wilcoxon", w.pvalue), ("wilcoxon_w", w.statistic)):
                want[k][0, i, q] = v
    check("subject differences are the results' ROI means a - b",
          close(grp["subject_diff"][:], diff))
    for k, v in want.items():
        got = grp[k][:]
        check("%s equals scipy's" % k, close(got, v),
              "max |diff| %.3g" % np.nanmax(np.abs(got - v)))
    for k, p in (("q_t", "p_t"), ("q_wilcoxon", "p_wilcoxon")):
        want_q = np.array([[bh(grp[p][0, i])] for i in range(P)])[:, 0][None]
        check("%s is Benjamini-Hochberg of %s over the ROIs" % (k, p),
              close(grp[k][:], want_q))
    up = (diff > 0).sum(axis=3)
    check("n_a_better / n_b_better count the subjects each way",
          (grp["n_a_better"][:] == up).all() and
          (grp["n_b_better"][:] == (diff < 0).sum(axis=3)).all())


def planted(truth, res, grp):
    rois = [str(n) for n in netCDF4.chartostring(res["roi_name"][:])]
    variants = [str(n) for n in netCDF4.chartostring(res["variant_id"][:])]
    pairs = [tuple(p) for p in res["pair_variants"][:]]
    i = pairs.index((variants.index("mm-vis-l2"), variants.index("uni-vis-l2")))
    hits = [r["name"] for r in truth["rois"] if r.get("effect", "none") != "none"]
    q, m = grp["q_t"][0, i], grp["mean_diff"][0, i]
    bad = [n for n in hits if not (m[rois.index(n)] > 0 and q[rois.index(n)] < 0.05)]
    check("planted ROIs (%s): positive, q(t) < 0.05" % " ".join(hits), not bad,
          "not: " + " ".join(bad))


def ev_numpy(reps):
    """Explainable variance, bias-corrected, of reps (R, n) (METHODS.md)."""
    R = reps.shape[0]
    ev = reps.mean(axis=0).var(ddof=1) / reps.var(axis=1, ddof=1).mean()
    return ev - (1 - ev) / (R - 1)


def voxel_stats(res, d):
    """The per-voxel statistics and the ROI summaries built on them."""
    vs, vi = res["voxel_subject"][:], res["voxel_index"][:]
    subjects = [str(n) for n in netCDF4.chartostring(res["subject_id"][:])]
    ev = np.full(len(vs), np.nan)
    nrep = np.zeros(len(vs))
    for s, sid in enumerate(subjects):
        f = netCDF4.Dataset("%s/%s.nc" % (d, sid))
        reps = np.asarray(f["test_repetitions"][:], float)  # rep, test, voxel
        for k in np.where(vs == s)[0]:
            ev[k] = ev_numpy(reps[:, :, vi[k]])
            nrep[k] = reps.shape[0]
    check("ev equals numpy's from the subjects' test_repetitions",
          close(res["ev"][:], ev, 1e-9), "max |diff| %.3g" % np.nanmax(abs(res["ev"][:] - ev)))
    thr, alpha, k = (float(res.getncattr(a)) for a in
                     ("stats_ev_threshold", "stats_alpha", "stats_top_k"))
    r, p, q = res["test_r"][:], res["test_p"][:], res["test_q"][:]
    # test r is scored against the mean of R repetitions, whose explainable
    # variance is R ev / (1 + (R - 1) ev) (Spearman-Brown on ev)
    ev_mean = nrep * ev / (1 + (nrep - 1) * ev)
    norm = np.where(ev >= thr, r / np.sqrt(np.where(ev > 0, ev_mean, np.nan)), np.nan)
    check("test_r_norm is r / sqrt(ceiling of the repetitions' mean) where ev >= ev_threshold",
          close(res["test_r_norm"][:], norm))
    fin = res["test_r_norm"][:][np.isfinite(res["test_r_norm"][:])]
    above = (fin > 1.1).mean() if fin.size else 0.0
    check("ceiling-normalised r rarely exceeds 1 (%.2f%% above 1.1 of %d, max %.3f)"
          % (100 * above, fin.size, fin.max() if fin.size else np.nan), above < 0.01)
    want_q = np.full(q.shape, np.nan)
    for s in range(len(subjects)):
        for w in range(q.shape[0]):
            for v in range(q.shape[1]):
                want_q[w, v, vs == s] = bh(p[w, v, vs == s])
    check("test_q is Benjamini-Hochberg of test_p over each subject's voxels", close(q, want_q))
    check("p-values lie in (0, 1]", np.nanmin(p) > 0 and np.nanmax(p) <= 1)
    vr = res["voxel_roi"][:]
    bad = []
    for (w, s, v, roi) in np.ndindex(res["roi_mean_r_sig"].shape):
        m = (vs == s) & (vr == roi) & ~np.isnan(r[w, v])
        x, sig = r[w, v, m], q[w, v, m] < alpha
        top = np.sort(x)[::-1][:int(k)]
        nn = norm[w, v, m]
        want = [(res["roi_n_sig"][w, s, v, roi], sig.sum()),
                (res["roi_mean_r_sig"][w, s, v, roi], x[sig].mean() if sig.any() else np.nan),
                (res["roi_mean_r_topk"][w, s, v, roi], top.mean() if len(top) else np.nan),
                (res["roi_n_ev"][w, s, v, roi], (~np.isnan(nn)).sum()),
                (res["roi_mean_r_norm"][w, s, v, roi],
                 np.nanmean(nn) if (~np.isnan(nn)).any() else np.nan)]
        if not all(close(a, b) for a, b in want):
            bad.append((w, s, v, roi))
    check("ROI summaries over significant, top-k and ceiling-normalised voxels", not bad,
          "differ at %s" % bad[:3])


def final_step(build, d, grp):
    """stats.group: true runs the group stage when the run completes."""
    text = open(d + "/job.yaml").read().replace("results.nc", "final.nc")
    with open(d + "/final.yaml", "w") as f:
        f.write(text + "stats: {group: true, save_predictions: true}\n")
    rc, out = voxfit(build, 2, "run", d + "/final.yaml", "--quiet")
    ok = rc == 0 and os.path.exists(d + "/final.group.nc") and "group results: " in out
    check("stats.group: true: the run ends with the group stage (final.group.nc)", ok,
          out[-300:])
    if ok:
        g2 = netCDF4.Dataset(d + "/final.group.nc")
        g2.set_auto_mask(False)
        check("... equal to voxfit group on the same study",
              all(close(g2[v][:], grp[v][:], 1e-12) for v in ("mean_diff", "p_t", "p_wilcoxon")))
        res2 = netCDF4.Dataset(d + "/final.nc")
        res2.set_auto_mask(False)
        bootstrap_numpy(res2, g2)


def boot_cis(res, grp, draws):
    """Every subject's bootstrap CI recomputed with numpy from the stored
    predictions, draws(s) giving subject s's resamples (boot x its test
    stimuli); (differing (pair, roi, subject), how many, how many NaN)."""
    pred = res["test_pred"][:].astype(float)            # sweep, variant, voxel, test
    y = res["test_y"][:].astype(float)                  # voxel, test
    ntest = res["subject_n_test"][:]
    vs, vr = res["voxel_subject"][:], res["voxel_roi"][:]
    level = float(grp.getncattr("ci_level"))
    lo, hi = grp["boot_ci_low"][:], grp["boot_ci_high"][:]
    bad, n, nan = [], 0, 0
    for i, (a, b) in enumerate(res["pair_variants"][:]):
        for q in range(lo.shape[2]):
            for s in range(lo.shape[3]):
                m = np.where((vs == s) & (vr == q) & ~np.isnan(y[:, 0]))[0]
                if len(m) == 0:
                    continue
                nt, idx = int(ntest[s]), draws(s)
                yy = y[m][:, :nt][:, idx]               # voxel, boot, test
                d = (r_rows(pred[0, a][m][:, :nt][:, idx], yy) -
                     r_rows(pred[0, b][m][:, :nt][:, idx], yy)).mean(axis=0)
                want = np.percentile(d, [50 * (1 - level), 100 - 50 * (1 - level)])
                n += 1
                nan += int(np.isnan(lo[0, i, q, s]))
                if not close([lo[0, i, q, s], hi[0, i, q, s]], want, 1e-9):
                    bad.append((i, q, s))
    return bad, n, nan


def bootstrap_numpy(res, grp):
    """Each subject's bootstrap CI of the ROI mean r difference, recomputed
    with numpy from the stored predictions and the resamples group.nc used."""
    idx = grp["boot_index"][:]                          # boot, test
    lo = grp["boot_ci_low"][:]
    bad, n, _ = boot_cis(res, grp, lambda s: idx)
    check("bootstrap CIs per subject equal numpy's on the same resamples (%d)" % n,
          n > 0 and not bad, "differ at %s" % bad[:3])
    check("bootstrap: most subjects' CIs exclude 0 where the effect is planted",
          (lo[0, 1, 4:, :] > 0).mean() > 0.8, "%.2f" % (lo[0, 1, 4:, :] > 0).mean())


# ---- the bootstrap's draws, documented in docs/statistics.md -------------
M64 = (1 << 64) - 1


def boot_draws(seed, k, n):
    """Draw k of n test stimuli: the first n uniforms of stream k of the
    seed (splitmix64 state, xoshiro256**, (u64 >> 11) 2^-53), floor(u n)."""
    x, s = (seed ^ ((k * 0xD1B54A32D192ED03) & M64)) & M64, []
    for _ in range(4):
        x = (x + 0x9E3779B97F4A7C15) & M64
        z = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        s.append(z ^ (z >> 31))
    rotl = lambda v, r: ((v << r) | (v >> (64 - r))) & M64
    out = []
    for _ in range(n):
        u = (rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t
        s[3] = rotl(s[3], 45)
        out.append(int((u >> 11) * 2.0 ** -53 * n))
    return np.array(out)


def r_rows(x, y):
    """Pearson r per row, 0 where x or y is constant (as voxfit scores)."""
    x = x - x.mean(axis=-1, keepdims=True)
    y = y - y.mean(axis=-1, keepdims=True)
    sxx, syy = (x * x).sum(-1), (y * y).sum(-1)
    flat = (sxx <= 1e-28) | (syy <= 1e-28)
    return np.where(flat, 0.0, (x * y).sum(-1) / np.sqrt(np.where(flat, 1, sxx * syy)))


def shorter_test(src, dst, drop):
    """A copy of responses file src whose last `drop` test stimuli become
    training ones (test_repetitions cut to match), and whose first voxel
    is constant over the test repetitions."""
    a = netCDF4.Dataset(src)
    b = netCDF4.Dataset(dst, "w", format="NETCDF3_64BIT_OFFSET")
    split = a["split"][:]
    test = np.where(split == 1)[0]
    split[test[len(test) - drop:]] = 0
    for name, dim in a.dimensions.items():
        b.createDimension(name, len(dim) - (drop if name == "test_stimulus" else 0))
    for name, v in a.variables.items():
        w = b.createVariable(name, v.dtype, v.dimensions)
        x = v[:]
        if name == "split":
            x = split
        if name == "test_repetitions":
            x = x[:, :len(test) - drop, :]
            x[:, :, 0] = 0.25
        w[:] = x
    for k in a.ncattrs():
        b.setncattr(k, a.getncattr(k))
    a.close(), b.close()


def edge_cases(build, d):
    """Subjects with different test counts all get bootstrap CIs (each
    resampling its own), a voxel constant over the test stimuli counts
    with r = 0, the layer profile's SEM of equal scores is 0, one subject's
    mean difference is its difference, and a shard is grouped with a
    warning."""
    shorter_test(d + "/sub-02.nc", d + "/short-02.nc", 5)
    text = open(d + "/job.yaml").read().replace("results.nc", "short.nc")
    text = text.replace("sub-02.nc", "short-02.nc")
    with open(d + "/short.yaml", "w") as f:
        f.write(text + "stats: {save_predictions: true}\n")
    rc, out = voxfit(build, 2, "run", d + "/short.yaml", "--quiet")
    check("a study whose sub-02 has 35 test stimuli, the others 40: run exits 0", rc == 0,
          out[-300:])
    rc, out = voxfit(build, 1, "group", d + "/short.nc", "--bootstrap", "200", "--seed", "7")
    check("... group exits 0", rc == 0, out[-300:])
    res, grp = netCDF4.Dataset(d + "/short.nc"), netCDF4.Dataset(d + "/short.group.nc")
    for ds in (res, grp):
        ds.set_auto_mask(False)
    idx40 = np.array([boot_draws(7, k, 40) for k in range(200)])
    check("boot_index holds the documented draws of 40 stimuli",
          np.array_equal(grp["boot_index"][:], idx40))
    ntest = res["subject_n_test"][:]
    draws = {nt: np.array([boot_draws(7, k, nt) for k in range(200)]) for nt in set(ntest)}
    bad, n, nan = boot_cis(res, grp, lambda s: draws[int(ntest[s])])
    check("every subject's bootstrap CI (35 or 40 test stimuli, a voxel constant over "
          "the test ones counted with r = 0) equals numpy's on the documented draws (%d, "
          "%d NaN)" % (n, nan), n > 0 and nan == 0 and not bad, "differ at %s" % bad[:3])
    res.close(), grp.close()

    # equal scores: SEM 0; one subject: the mean difference is its own
    one = d + "/one.nc"
    rc, out = voxfit(build, 1, "gen", "--preset", "demo", "--subjects", "1", "--seed", "5",
                     "--out", d + "/one")
    rc2, out2 = voxfit(build, 2, "run", d + "/one/job.yaml", "--quiet")
    check("a one-subject study runs", rc == 0 and rc2 == 0, (out + out2)[-300:])
    rc, out = voxfit(build, 1, "group", d + "/one/results.nc", "--out", one, "--bootstrap", "0")
    g = netCDF4.Dataset(one)
    g.set_auto_mask(False)
    md, sd = g["mean_diff"][:], g["subject_diff"][:][..., 0]
    check("one subject: exit 0, mean_diff is the subject's difference, t and CI NaN",
          rc == 0 and close(md, sd, 0) and np.isnan(g["t"][:]).all() and
          np.isnan(g["ci_low"][:]).all(), out[-300:])
    g.close()
    flat = d + "/flat.nc"
    import shutil
    shutil.copy(d + "/results.nc", flat)
    r = netCDF4.Dataset(flat, "a")
    x = r["roi_mean_r"][:]
    x[0, :, 0, 0] = 0.123456789                      # sweep, subject, variant, roi
    r["roi_mean_r"][:] = x
    r.close()
    rc, out = voxfit(build, 1, "group", flat, "--out", d + "/flat.group.nc", "--bootstrap", "0")
    g = netCDF4.Dataset(d + "/flat.group.nc")
    g.set_auto_mask(False)
    sem = g["profile_sem_r"][0, 0, 0]
    check("equal scores in every subject: profile SEM %.3g (want 0 to 1e-15)" % sem,
          rc == 0 and abs(sem) <= 1e-15, out[-300:])
    g.close()

    # a shard: complete as a run, but with units not done
    text = open(d + "/job.yaml").read()
    with open(d + "/sh.yaml", "w") as f:
        f.write(text.replace("results.nc", "sh.nc"))
    rc, out = voxfit(build, 2, "run", d + "/sh.yaml", "--shard", "1/2", "--quiet")
    rc2, out2 = voxfit(build, 1, "group", d + "/sh.shard-1-of-2.nc", "--out", d + "/shg.nc",
                       "--bootstrap", "0")
    check("a shard is grouped with a warning that ROI results are not done",
          rc == 0 and rc2 == 0 and "ROI results not done" in out2 and "shard" in out2,
          (out + out2)[-400:])
    # its table and file say what q rests on: the ROIs with a test
    sg = netCDF4.Dataset(d + "/shg.nc")
    pt, nroi = sg["p_t"][:], sg.dimensions["roi"].size
    heads = []
    for w in range(pt.shape[0]):
        for i in range(pt.shape[1]):
            tested = int(np.isfinite(pt[w, i]).sum())
            heads.append("Benjamini-Hochberg over the %d ROIs" % nroi if tested == nroi else
                         "Benjamini-Hochberg over the %d of %d ROIs with a test" % (tested, nroi))
    missing = [h for h in heads if h not in out2]
    check("incomplete inputs: inputs_complete = 0, each table's header names the ROIs "
          "q is over (%d of %d tables partial)" % (sum("of" in h for h in heads), len(heads)),
          int(sg.getncattr("inputs_complete")) == 0 and not missing, str(missing[:2]))
    sg.close()


def mixed_settings(build, d):
    """Files of one study fitted with other ridge settings are grouped with
    a warning naming what differs; with the same settings, none."""
    job = yaml.safe_load(open(d + "/job.yaml"))
    subjects = job["subjects"]
    paths = {}
    for name, subs, lam in (("mixa", subjects[:3], None), ("mixb", subjects[3:], [1, 10, 100]),
                            ("mixc", subjects[3:], None)):
        j = dict(job, subjects=subs, output=name + ".nc")
        if lam:
            j["ridge"] = dict(job.get("ridge", {}), lambdas=lam)
        with open("%s/%s.yaml" % (d, name), "w") as f:
            yaml.safe_dump(j, f)
        rc, out = voxfit(build, 2, "run", "%s/%s.yaml" % (d, name), "--quiet")
        check("%s: runs" % name, rc == 0, out[-300:])
        paths[name] = "%s/%s.nc" % (d, name)
    rc, out = voxfit(build, 1, "group", paths["mixa"], paths["mixb"], "--out", d + "/mix.nc",
                     "--bootstrap", "0")
    check("other lambdas in one file: exit 0 and a warning naming ridge.lambdas",
          rc == 0 and "warning" in out and "fitted with other settings" in out and
          "ridge.lambdas" in out, out[-400:])
    rc, out = voxfit(build, 1, "group", paths["mixa"], paths["mixc"], "--out", d + "/mix2.nc",
                     "--bootstrap", "0")
    check("the same settings in both files: no settings warning",
          rc == 0 and "fitted with other settings" not in out, out[-400:])


def bad_input(build, d, res_path):
    rc, out = voxfit(build, 1, "group", res_path, res_path, "--out", d + "/g2.nc")
    check("a subject given twice: exit 2 naming it", rc == 2 and "sub-01" in out, out[-300:])
    with open(d + "/junk.nc", "w") as f:
        f.write("not netcdf\n")
    rc, out = voxfit(build, 1, "group", d + "/junk.nc")
    check("not a results file: exit 2 naming it", rc == 2 and "junk.nc" in out, out[-300:])
    rc, out = voxfit(build, 1, "group", res_path, "--frobnicate")
    check("unknown option: exit 2", rc == 2 and "--frobnicate" in out, out[-300:])
    text = open(d + "/job.yaml").read()
    with open(d + "/nopairs.yaml", "w") as f:
        f.write(text[:text.index("\npairs:") + 1].replace("results.nc", "nopairs.nc"))
    rc, out = voxfit(build, 1, "run", d + "/nopairs.yaml", "--quiet")
    check("a job without pairs runs", rc == 0, out[-300:])
    rc, out = voxfit(build, 1, "group", d + "/nopairs.nc")
    check("a job without pairs: exit 2 saying how to declare them",
          rc == 2 and "declares no pairs" in out and "nopairs.nc" in out and
          "pairs: [[VARIANT_A, VARIANT_B]]" in out, out[-300:])


def main():
    build = os.path.abspath(sys.argv[1])
    with tempfile.TemporaryDirectory(prefix="voxfit-group.") as tmp:
        d = tmp + "/data"
        rc, out = voxfit(build, 1, "gen", "--preset", "demo", "--subjects", "6",
                         "--seed", "3", "--out", d)
        check("gen: exit 0", rc == 0, out[-300:])
        rc, out = voxfit(build, 2, "run", d + "/job.yaml", "--quiet")
        check("run: exit 0", rc == 0, out[-300:])
        rc, out = voxfit(build, 1, "group", d + "/results.nc")
        check("group: exit 0, a table and the file's path",
              rc == 0 and "mean diff" in out and "group results: " in out, out[-300:])
        check("the table says which summary it compares",
              "mean test r over its" in out and "scoreable voxels" in out)
        res = netCDF4.Dataset(d + "/results.nc")
        grp = netCDF4.Dataset(d + "/results.group.nc")
        for ds in (res, grp):
            ds.set_auto_mask(False)
        import xarray as xr
        with xr.open_dataset(d + "/results.group.nc", engine="netcdf4") as x:
            check("group.nc opens in xarray with the documented dims",
                  x["p_t"].dims == ("sweep", "pair", "roi") and
                  x["subject_diff"].dims == ("sweep", "pair", "roi", "subject") and
                  x["profile_mean_r"].dims == ("sweep", "variant", "roi"))
        against_scipy(res, grp)
        with open(d + "/truth.yaml") as f:
            planted(yaml.safe_load(f), res, grp)
        voxel_stats(res, d)
        mixed_settings(build, d)
        final_step(build, d, grp)
        bad_input(build, d, d + "/results.nc")
        edge_cases(build, d)
    sys.exit(check.finish())


main()
