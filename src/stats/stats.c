/* Noise ceilings, paired tests and FDR (voxfit/stats.h). */
#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "voxfit/stats.h"

static double var(const double *y, long n) {
  double m = 0, s = 0;
  for (long t = 0; t < n; t++) m += y[t];
  m /= n;
  for (long t = 0; t < n; t++) s += (y[t] - m) * (y[t] - m);
  return s / (n - 1);
}

double stats_ev(const double *y, int R, long n, long ld) {
  if (R < 2 || n < 2) return NAN;
  double *mean = calloc((size_t)n, sizeof(double)), within = 0;
  if (!mean) return NAN;
  for (int r = 0; r < R; r++) {
    double v = var(y + (size_t)r * ld, n);
    within += v / R;
    for (long t = 0; t < n; t++) mean[t] += y[(size_t)r * ld + t] / R;
  }
  double ev = within > 0 ? var(mean, n) / within : NAN;
  free(mean);
  return ev - (1 - ev) / (R - 1);
}

double stats_ev_of_mean(double ev, int R) {
  if (!(ev > 0) || R < 1) return NAN;
  return R * ev / (1 + (R - 1) * ev);
}

static double pearson(const double *a, const double *b, long n) {
  double ma = 0, mb = 0, sab = 0, saa = 0, sbb = 0;
  for (long t = 0; t < n; t++) ma += a[t], mb += b[t];
  ma /= n, mb /= n;
  for (long t = 0; t < n; t++) {
    sab += (a[t] - ma) * (b[t] - mb);
    saa += (a[t] - ma) * (a[t] - ma);
    sbb += (b[t] - mb) * (b[t] - mb);
  }
  return saa > 0 && sbb > 0 ? sab / sqrt(saa * sbb) : NAN;
}

double stats_split_half(const double *y, int R, long n, long ld) {
  if (R < 2 || n < 2) return NAN;
  double *h = calloc((size_t)2 * n, sizeof(double));
  if (!h) return NAN;
  int cnt[2] = {0, 0};
  for (int r = 0; r < R; r++) {
    cnt[r % 2]++;
    for (long t = 0; t < n; t++) h[(r % 2) * n + t] += y[(size_t)r * ld + t];
  }
  for (long t = 0; t < n; t++) h[t] /= cnt[0], h[n + t] /= cnt[1];
  double r = pearson(h, h + n, n);
  free(h);
  return 2 * r / (1 + r);
}

void stats_ttest_paired(const double *d, int n, double level, stats_ttest *o) {
  double m = 0, s = 0;
  int k = 0;
  for (int i = 0; i < n; i++)
    if (!isnan(d[i])) m += d[i], k++;
  *o = (stats_ttest){k, NAN, NAN, NAN, NAN, NAN, NAN, NAN};
  if (k == 0) return;
  m /= k;
  o->mean = m; /* one subject has a mean, not an sd, CI, t or p */
  if (k < 2) return;
  for (int i = 0; i < n; i++)
    if (!isnan(d[i])) s += (d[i] - m) * (d[i] - m);
  double sd = sqrt(s / (k - 1)), se = sd / sqrt(k), df = k - 1;
  double tq = gsl_cdf_tdist_Qinv((1 - level) / 2, df);
  o->mean = m, o->sd = sd, o->df = df;
  o->ci_lo = m - tq * se, o->ci_hi = m + tq * se;
  if (se > 0) {
    o->t = m / se;
    o->p = 2 * gsl_cdf_tdist_Q(fabs(o->t), df);
  } else {
    o->t = m == 0 ? NAN : copysign(INFINITY, m);
    o->p = m == 0 ? NAN : 0;
  }
}

typedef struct {
  double a;  /* |d| */
  int pos;
} signed_abs;

static int cmp_abs(const void *x, const void *y) {
  double a = ((const signed_abs *)x)->a, b = ((const signed_abs *)y)->a;
  return (a > b) - (a < b);
}

/* P(R+ <= w) and P(R+ >= w) under the null, from the exact distribution
 * of the sum of a random subset of the ranks 1..n (counts exact in double
 * up to n = 50: 2^50 < 2^53). */
static void exact_tails(int n, double w, double *lower, double *upper) {
  int max = n * (n + 1) / 2;
  double *c = calloc((size_t)max + 1, sizeof(double));
  if (!c) {
    *lower = *upper = NAN;
    return;
  }
  c[0] = 1;
  for (int k = 1; k <= n; k++)
    for (int s = max; s >= k; s--) c[s] += c[s - k];
  double total = ldexp(1.0, n), lo = 0, hi = 0;
  for (int s = 0; s <= max; s++) {
    if (s <= w) lo += c[s];
    if (s >= w) hi += c[s];
  }
  free(c);
  *lower = lo / total, *upper = hi / total;
}

void stats_wilcoxon_signed_rank(const double *d, int n, stats_wilcoxon *o) {
  signed_abs *v = calloc((size_t)(n > 0 ? n : 1), sizeof *v);
  int k = 0, zeros = 0, ties = 0;
  *o = (stats_wilcoxon){0, 0, NAN, NAN};
  if (!v) return;
  for (int i = 0; i < n; i++) {
    if (isnan(d[i])) continue;
    if (d[i] == 0) zeros++;
    else v[k++] = (signed_abs){fabs(d[i]), d[i] > 0};
  }
  o->n = k;
  if (k == 0) {
    free(v);
    return;
  }
  qsort(v, (size_t)k, sizeof *v, cmp_abs);
  double rplus = 0, rminus = 0, tie_term = 0;
  for (int i = 0; i < k;) { /* midranks of tied |d| */
    int j = i;
    while (j < k && v[j].a == v[i].a) j++;
    double rank = 0.5 * (i + 1 + j), t = j - i;
    if (t > 1) ties = 1, tie_term += t * (t * t - 1);
    for (int m = i; m < j; m++) *(v[m].pos ? &rplus : &rminus) += rank;
    i = j;
  }
  free(v);
  o->w = fmin(rplus, rminus);
  if (k <= 50 && !ties && !zeros) {
    double lo, hi, centre = k * (k + 1) / 4.0;
    exact_tails(k, rplus, &lo, &hi);
    o->exact = 1;
    o->p = rplus == centre ? 1.0 : fmin(1.0, 2 * fmin(lo, hi));
    return;
  }
  double mn = k * (k + 1) / 4.0;
  double se = sqrt((k * (k + 1.0) * (2.0 * k + 1) - 0.5 * tie_term) / 24);
  o->p = se > 0 ? 2 * gsl_cdf_ugaussian_Q(fabs((o->w - mn) / se)) : NAN;
}

typedef struct {
  double p;
  int i;
} indexed;

static int cmp_p(const void *x, const void *y) {
  double a = ((const indexed *)x)->p, b = ((const indexed *)y)->p;
  return (a > b) - (a < b);
}

vf_status stats_bh(const double *p, int n, double *q) {
  indexed *s = NULL;
  int m = 0;
  VF_CALL(vf_calloc((size_t)(n > 0 ? n : 1), sizeof *s, "p-values", &s));
  for (int i = 0; i < n; i++) {
    q[i] = NAN;
    if (!isnan(p[i])) s[m++] = (indexed){p[i], i};
  }
  qsort(s, (size_t)m, sizeof *s, cmp_p);
  double run = 1;
  for (int r = m - 1; r >= 0; r--) { /* q_(r) = min over later of p m / rank */
    double v = s[r].p * m / (r + 1);
    run = v < run ? v : run;
    q[s[r].i] = run;
  }
  vf_free(&s);
  return VF_OK;
}

/* Columns centred and scaled to unit norm (r = dot product); a column
 * with NaN or no variance is flagged. */
static void unit_columns(const double *A, long n, long v, double *Z, unsigned char *bad) {
  for (long j = 0; j < v; j++) {
    const double *a = A + j * n;
    double *z = Z + j * n, m = 0, ss = 0;
    for (long t = 0; t < n; t++) m += a[t];
    m /= n;
    for (long t = 0; t < n; t++) z[t] = a[t] - m, ss += z[t] * z[t];
    bad[j] |= !(ss > 0) || isnan(ss);
    for (long t = 0; t < n; t++) z[t] = bad[j] ? 0 : z[t] / sqrt(ss);
  }
}

/* A block permutation of 0..n-1: blocks of len points in shuffled order. */
static void block_perm(long n, int len, vf_rng *g, long *blocks, long *perm) {
  long nb = (n + len - 1) / len, k = 0;
  for (long b = 0; b < nb; b++) blocks[b] = b;
  for (long b = nb - 1; b > 0; b--) {
    long c = (long)(vf_rng_uniform(g) * (b + 1)), tmp = blocks[b];
    blocks[b] = blocks[c], blocks[c] = tmp;
  }
  for (long b = 0; b < nb; b++)
    for (long t = blocks[b] * len; t < n && t < (blocks[b] + 1) * len; t++) perm[k++] = t;
}

/* b!, or n_perm when it is at least that (the count of distinct orders of
 * b blocks, as far as n_perm draws can tell). */
static double orders(long b, int n_perm) {
  double f = 1;
  for (long k = 2; k <= b && f < n_perm; k++) f *= (double)k;
  return f;
}

/* The largest block length that cuts n points into at least m blocks
 * (ceil(n / len) >= m), 0 when none does. */
static long longest_block(long n, long m) {
  return m <= 1 ? n : (n - 1) / (m - 1);
}

vf_status stats_perm_check(const char *job, const char *file, long n, int block_length,
                           int n_perm, char *warn, size_t cap) {
  if (cap) warn[0] = '\0';
  if (n_perm < 1 || n < 2 || block_length < 1) return VF_OK;
  long b = (n + block_length - 1) / block_length, m = 2;
  while (orders(m, n_perm) < n_perm) m++; /* the fewest blocks with m! >= n_perm */
  /* the advice: the longest blocks that make m blocks; when n < m, single
   * points and no more permutations than their orders */
  long best = longest_block(n, m);
  char advice[160];
  if (best >= 1)
    snprintf(advice, sizeof advice, "use stats.block_length %ld or less (%ld blocks, enough "
             "orders for the %d permutations)", best, m, n_perm);
  else if (block_length > 1)
    snprintf(advice, sizeof advice, "use stats.block_length 1 (%ld blocks) and "
             "stats.permutations: %.0f or less", n, orders(n, n_perm));
  else
    snprintf(advice, sizeof advice, "use stats.permutations: %.0f or less", orders(n, n_perm));
  if (b < 2)
    return vf_error(VF_E_INPUT, "%s: stats.block_length %d leaves the %ld test stimuli of %s "
                    "in one block, which no permutation moves: every test_p would be 1; %s, "
                    "or stats.permutations: 0 for no test", job, block_length, n, file, advice);
  double k = orders(b, n_perm);
  if (k >= n_perm || !cap) return VF_OK;
  snprintf(warn, cap, "%s: stats.block_length %d cuts the %ld test stimuli of %s into %ld "
           "blocks, which have only %.0f orders, fewer than the %d permutations: test_p "
           "cannot go below about %.2g; %s", job, block_length, n, file, b, k, n_perm, 1 / k,
           advice);
  return VF_OK;
}

vf_status stats_perm_pvalues(const double *P, const double *Y, long n, long v,
                             int n_perm, int block_length, uint64_t seed,
                             double *p) {
  vf_status st = VF_OK;
  double *zp = NULL, *zy = NULL, *obs = NULL;
  long *blocks = NULL, *perm = NULL;
  unsigned char *bad = NULL;
  int *count = NULL;
  VF_TRY(vf_calloc((size_t)n * v + 1, sizeof(double), "permutation workspace", &zp));
  VF_TRY(vf_calloc((size_t)n * v + 1, sizeof(double), "permutation workspace", &zy));
  VF_TRY(vf_calloc((size_t)v + 1, sizeof(double), "observed r", &obs));
  VF_TRY(vf_calloc((size_t)v + 1, sizeof(int), "exceedances", &count));
  VF_TRY(vf_calloc((size_t)v + 1, 1, "flags", &bad));
  VF_TRY(vf_calloc((size_t)n + 1, sizeof(long), "permutation", &blocks));
  VF_TRY(vf_calloc((size_t)n + 1, sizeof(long), "permutation", &perm));
  unit_columns(P, n, v, zp, bad);
  unit_columns(Y, n, v, zy, bad);
  for (long j = 0; j < v; j++)
    for (long t = 0; t < n; t++) obs[j] += zp[j * n + t] * zy[j * n + t];
  for (int k = 0; k < n_perm; k++) {
    vf_rng g;
    vf_rng_seed(&g, seed, (uint64_t)k);
    block_perm(n, block_length, &g, blocks, perm);
    for (long j = 0; j < v; j++) {
      const double *a = zp + j * n, *b = zy + j * n;
      double r = 0;
      for (long t = 0; t < n; t++) r += a[t] * b[perm[t]];
      /* rounding must not make the identity permutation "exceed" r_obs */
      count[j] += r >= obs[j] - 1e-12;
    }
  }
  for (long j = 0; j < v; j++)
    p[j] = bad[j] || n_perm < 1 ? NAN : (1.0 + count[j]) / (n_perm + 1.0);
fail:
  vf_free(&zp), vf_free(&zy), vf_free(&obs), vf_free(&count), vf_free(&bad);
  vf_free(&blocks), vf_free(&perm);
  return st;
}
