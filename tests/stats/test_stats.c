/* ranks: 1 */
/* The statistics kernels against closed forms: explainable variance and
 * split-half reliability of synthetic repeats with known signal and noise,
 * the paired t-test, the exact Wilcoxon null distribution, and
 * Benjamini-Hochberg by hand, permutation p-values uniform under the null
 * (Kolmogorov-Smirnov) and minimal under a strong signal; the check of
 * stats.block_length against the test count (stats_perm_check).
 * (tests/stats/test_group.py compares the tests with scipy on study data.) */
#include "testutil.h"
#include "voxfit/linalg.h"
#include "voxfit/stats.h"

static void check_ceilings(void) {
  long n = 20000;
  int R = 4;
  double S = 1.0, sigma = 1.5;
  double *y = malloc(sizeof(double) * n * R), *sig = malloc(sizeof(double) * n);
  double *mean = calloc((size_t)n, sizeof(double));
  vf_rng g;
  vf_rng_seed(&g, 5, 0);
  for (long t = 0; t < n; t++) {
    sig[t] = S * vf_rng_normal(&g);
    for (int r = 0; r < R; r++) y[r * n + t] = sig[t] + sigma * vf_rng_normal(&g);
    for (int r = 0; r < R; r++) mean[t] += y[r * n + t] / R;
  }
  double ev = stats_ev(y, R, n, n), want = S * S / (S * S + sigma * sigma);
  TU_CHECK(fabs(ev - want) < 0.02, "EV %.4f, closed form %.4f", ev, want);
  /* The perfect prediction (the signal) scored against the repetitions'
   * mean, as test_r is: its r^2 is the mean's EV, S^2 / (S^2 + sigma^2 / R),
   * so the normalised r is 1 (r / sqrt(EV) would be 1.44 here). */
  double em = stats_ev_of_mean(ev, R), em_want = S * S / (S * S + sigma * sigma / R);
  TU_CHECK(fabs(em - em_want) < 0.02, "EV of the mean %.4f, closed form %.4f", em, em_want);
  double ms = 0, mm = 0, sab = 0, saa = 0, sbb = 0;
  for (long t = 0; t < n; t++) ms += sig[t] / n, mm += mean[t] / n;
  for (long t = 0; t < n; t++)
    sab += (sig[t] - ms) * (mean[t] - mm), saa += (sig[t] - ms) * (sig[t] - ms),
        sbb += (mean[t] - mm) * (mean[t] - mm);
  double rnorm = sab / sqrt(saa * sbb) / sqrt(em);
  TU_CHECK(fabs(rnorm - 1) < 0.02, "perfect prediction's normalised r %.4f", rnorm);
  TU_CHECK(fabs(stats_ev_of_mean(0.2, 4) - 0.5) < 1e-15 && stats_ev_of_mean(0.3, 1) == 0.3 &&
               fabs(stats_ev_of_mean(1, 7) - 1) < 1e-15 && isnan(stats_ev_of_mean(0, 4)) &&
               isnan(stats_ev_of_mean(-0.1, 4)),
           "ceiling of the mean: closed forms");
  free(sig), free(mean);
  double c = S * S / (S * S + sigma * sigma / 2), sb = 2 * c / (1 + c);
  double sh = stats_split_half(y, R, n, n);
  TU_CHECK(fabs(sh - sb) < 0.02, "split-half %.4f, closed form %.4f", sh, sb);
  /* pure noise: EV near 0; identical repetitions: EV = 1 */
  for (long i = 0; i < n * R; i++) y[i] = vf_rng_normal(&g);
  ev = stats_ev(y, R, n, n);
  TU_CHECK(fabs(ev) < 0.02, "EV of pure noise %.4f", ev);
  for (int r = 1; r < R; r++) memcpy(y + r * n, y, sizeof(double) * n);
  TU_CHECK(fabs(stats_ev(y, R, n, n) - 1) < 1e-12, "EV of identical repeats");
  TU_CHECK(isnan(stats_ev(y, 1, n, n)), "EV needs two repetitions");
  free(y);
}

static void check_ttest(void) {
  double d[6] = {1, 2, 3, 4, 5, NAN};
  stats_ttest t;
  stats_ttest_paired(d, 6, 0.95, &t);
  TU_CHECK(t.n == 5 && fabs(t.mean - 3) < 1e-12 && fabs(t.t - 4.242640687119285) < 1e-9,
           "t %.12g (n %d)", t.t, t.n);
  TU_CHECK(fabs(t.p - 0.013236) < 2e-6, "p %.8f", t.p);
  TU_CHECK(fabs(t.ci_lo - 1.036757) < 1e-5 && fabs(t.ci_hi - 4.963243) < 1e-5,
           "CI [%.6f, %.6f]", t.ci_lo, t.ci_hi);
  /* the CI's t quantile against the closed-form t CDF of 4 degrees of
   * freedom, F(t) = 1/2 + 3/8 t / sqrt(u) (1 - t^2 / (12 u)), u = 1 + t^2/4,
   * solved to 40 digits (mpmath): scipy.stats.t.isf is itself off by up to
   * 5e-9 here (3.5e-9 in the 0.90 bound), so it cannot referee 1e-12 */
  const double level[4] = {0.8, 0.9, 0.95, 0.99};
  const double hi[4] = {4.0841405533448394679, 4.5074433190623232615, 4.9632431614775576977,
                        6.2555867047577853343};
  for (int i = 0; i < 4; i++) {
    stats_ttest_paired(d, 6, level[i], &t);
    TU_CHECK(fabs(t.ci_hi - hi[i]) < 1e-12 && fabs(t.ci_lo - (6 - hi[i])) < 1e-12,
             "level %.2f: CI high %.17g, scipy %.17g", level[i], t.ci_hi, hi[i]);
  }
  stats_ttest_paired(d, 1, 0.95, &t);
  TU_CHECK(t.n == 1 && isnan(t.p), "one difference: no test");
}

static void check_wilcoxon(void) {
  double a[5] = {1, 2, 3, 4, 5}, b[5] = {-1, 2, 3, 4, 5}, c[4] = {0.5, -0.25, 2, -4};
  stats_wilcoxon w;
  stats_wilcoxon_signed_rank(a, 5, &w);
  TU_CHECK(w.exact && w.w == 0 && fabs(w.p - 2.0 / 32) < 1e-15, "all positive: W %g p %g", w.w, w.p);
  stats_wilcoxon_signed_rank(b, 5, &w);
  TU_CHECK(w.w == 1 && fabs(w.p - 4.0 / 32) < 1e-15, "one negative: W %g p %g", w.w, w.p);
  /* ranks 2,1,3,4: R+ = 2 + 3 = 5 = R-: the centre, p = 1 */
  stats_wilcoxon_signed_rank(c, 4, &w);
  TU_CHECK(w.w == 5 && w.p == 1.0, "centre: W %g p %g", w.w, w.p);
}

static void check_bh(void) {
  double p[5] = {0.01, 0.04, 0.03, 0.005, NAN}, q[5];
  TU_OK(stats_bh(p, 5, q));
  const double want[4] = {0.02, 0.04, 0.04, 0.02};
  for (int i = 0; i < 4; i++) TU_CHECK(fabs(q[i] - want[i]) < 1e-15, "q[%d] %g", i, q[i]);
  TU_CHECK(isnan(q[4]), "NaN p gives NaN q");
}

/* Kolmogorov-Smirnov distance of x[0..n) from the uniform on [0, 1]. */
static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}
static double ks_uniform(double *x, long n) {
  qsort(x, (size_t)n, sizeof(double), cmp_d);
  double d = 0;
  for (long i = 0; i < n; i++)
    d = fmax(d, fmax(fabs((i + 1.0) / n - x[i]), fabs(x[i] - (double)i / n)));
  return d;
}

/* Under the null (predictions independent of the responses) the p-values
 * are uniform, for plain and block permutations (KS at alpha 0.01); a
 * strong signal gets the smallest p possible. */
static void check_permutations(void) {
  long n = 40, v = 3000;
  int nperm = 199;
  double *P = malloc(sizeof(double) * n * v), *Y = malloc(sizeof(double) * n * v);
  double *p = malloc(sizeof(double) * v);
  vf_rng g;
  vf_rng_seed(&g, 11, 0);
  for (long i = 0; i < n * v; i++) P[i] = vf_rng_normal(&g), Y[i] = vf_rng_normal(&g);
  int lens[2] = {1, 5};
  for (int b = 0; b < 2; b++) {
    TU_OK(stats_perm_pvalues(P, Y, n, v, nperm, lens[b], 7, p));
    double d = ks_uniform(p, v), crit = 1.63 / sqrt((double)v) + 1.0 / (nperm + 1);
    TU_CHECK(d < crit, "block %d: KS distance %.4f >= %.4f under the null", lens[b], d, crit);
  }
  for (long i = 0; i < n * v; i++) Y[i] = P[i] + 0.3 * vf_rng_normal(&g);
  TU_OK(stats_perm_pvalues(P, Y, n, v, nperm, 4, 7, p));
  long smallest = 0;
  for (long j = 0; j < v; j++) smallest += fabs(p[j] - 1.0 / (nperm + 1)) < 1e-15;
  TU_CHECK(smallest == v, "strong signal: %ld of %ld voxels at p = 1/%d", smallest, v, nperm + 1);
  for (long t = 0; t < n; t++) Y[t] = 3.0; /* a constant voxel */
  TU_OK(stats_perm_pvalues(P, Y, n, 2, nperm, 1, 7, p));
  TU_CHECK(isnan(p[0]) && !isnan(p[1]), "a constant voxel has no p-value");
  free(P), free(Y), free(p);
}

/* The block permutation test's resolution: one block is an error naming
 * stats.block_length, the test count and a block length that works; fewer
 * orders of the blocks than permutations a warning; enough none. */
static void check_perm_check(void) {
  char warn[1024];
  vf_status st = stats_perm_check("job.yaml", "sub-01.nc", 40, 40, 1000, warn, sizeof warn);
  const char *msg = vf_error_message();
  TU_CHECK(st == VF_E_INPUT && strstr(msg, "job.yaml: stats.block_length 40") &&
           strstr(msg, "40 test stimuli of sub-01.nc") &&
           strstr(msg, "stats.block_length 6 or less (7 blocks"), "one block: %s", msg);
  TU_CHECK(stats_perm_check("j", "f", 40, 100, 1000, warn, sizeof warn) == VF_E_INPUT,
           "a block longer than the test set");
  TU_OK(stats_perm_check("j", "f", 40, 10, 1000, warn, sizeof warn));
  TU_CHECK(strstr(warn, "4 blocks, which have only 24 orders, fewer than the 1000") &&
           strstr(warn, "stats.block_length 6 or less"), "4 blocks: '%s'", warn);
  TU_OK(stats_perm_check("j", "f", 40, 6, 1000, warn, sizeof warn)); /* 7! = 5040 */
  TU_CHECK(warn[0] == '\0', "7 blocks for 1000 permutations: '%s'", warn);
  TU_OK(stats_perm_check("j", "f", 40, 20, 0, warn, sizeof warn));
  TU_CHECK(warn[0] == '\0', "no permutations, nothing to check: '%s'", warn);
  TU_OK(stats_perm_check("j", "f", 5, 1, 1000, warn, sizeof warn)); /* 5! = 120 */
  TU_CHECK(strstr(warn, "stats.permutations: 120 or less") != NULL, "5 points: '%s'", warn);
  TU_OK(stats_perm_check("j", "f", 5, 2, 1000, warn, sizeof warn));
  TU_CHECK(strstr(warn, "stats.block_length 1 (5 blocks)") != NULL, "5 points by 2: '%s'", warn);
  /* the suggested length really gives enough orders, for several sizes */
  for (long n = 8; n <= 200; n += 17) {
    st = stats_perm_check("j", "f", n, (int)n, 1000, warn, sizeof warn);
    long len = 0;
    const char *at = strstr(vf_error_message(), "use stats.block_length ");
    if (at) len = atol(at + strlen("use stats.block_length "));
    TU_CHECK(st == VF_E_INPUT && len >= 1, "n %ld: %s", n, vf_error_message());
    if (len < 1) continue;
    TU_OK(stats_perm_check("j", "f", n, (int)len, 1000, warn, sizeof warn));
    TU_CHECK(warn[0] == '\0', "n %ld, suggested %ld: '%s'", n, len, warn);
    TU_OK(stats_perm_check("j", "f", n, (int)len + 1, 1000, warn, sizeof warn));
    TU_CHECK(warn[0] != '\0', "n %ld: %ld is not the longest that works", n, len);
  }
  vf_error_clear();
}

int main(int argc, char **argv) {
  la_blas_setup(argv); /* the kernels voxfit runs */
  MPI_Init(&argc, &argv);
  check_ceilings();
  check_ttest();
  check_wilcoxon();
  check_bh();
  check_permutations();
  check_perm_check();
  return tu_finish("stats");
}
