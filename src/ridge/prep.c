/* Folds, standardisation, FIR delays and per-voxel scores. */
#include <math.h>
#include <string.h>

#include "voxfit/ridge.h"
#include "choose.h"

vf_status ridge_folds_kfold(long n, int k, int *fold) {
  if (k < 2 || k > n)
    return vf_error(VF_E_INPUT, "cannot split %ld training stimuli into %d folds", n, k);
  long base = n / k, extra = n % k, i = 0;
  for (int f = 0; f < k; f++) {
    long size = base + (f < extra ? 1 : 0);
    for (long j = 0; j < size; j++) fold[i++] = f;
  }
  return VF_OK;
}

vf_status ridge_folds_runs(long n, const int *run, int *fold, int *k) {
  /* Runs are numbered in order of first appearance; few runs, so a linear
   * search over the labels seen so far is enough. */
  int labels[4096], nk = 0;
  for (long i = 0; i < n; i++) {
    int f = 0;
    while (f < nk && labels[f] != run[i]) f++;
    if (f == nk) {
      if (nk == 4096) return vf_error(VF_E_INPUT, "more than 4096 runs");
      labels[nk++] = run[i];
    }
    fold[i] = f;
  }
  if (nk < 2)
    return vf_error(VF_E_INPUT,
                    "leave-one-run-out needs at least 2 training runs; found %d", nk);
  *k = nk;
  return VF_OK;
}

vf_status ridge_folds_shuffled(long n, int k, uint64_t seed, int *fold) {
  VF_CALL(ridge_folds_kfold(n, k, fold));
  vf_rng rng;
  vf_rng_seed(&rng, seed, 0x5f0d);
  for (long i = n - 1; i > 0; i--) { /* Fisher-Yates */
    long j = (long)(vf_rng_u64(&rng) % (uint64_t)(i + 1));
    int t = fold[i];
    fold[i] = fold[j];
    fold[j] = t;
  }
  return VF_OK;
}

void ridge_folds_order(long n, const int *fold, int k, long *order,
                       long *start) {
  for (int f = 0; f <= k; f++) start[f] = 0;
  for (long i = 0; i < n; i++) start[fold[i] + 1]++;
  for (int f = 0; f < k; f++) start[f + 1] += start[f];
  long pos[k > 0 ? k : 1];
  for (int f = 0; f < k; f++) pos[f] = start[f];
  for (long i = 0; i < n; i++) order[pos[fold[i]]++] = i;
}

void ridge_std_fit(const double *A, long lda, long p, const long *rows,
                   long nr, ridge_std mode, double *mean, double *scale,
                   unsigned char *constant) {
  for (long j = 0; j < p; j++) {
    const double *a = A + j * lda;
    double s = 0, ss = 0;
    for (long i = 0; i < nr; i++) s += a[rows ? rows[i] : i];
    double mu = nr > 0 ? s / nr : 0;
    for (long i = 0; i < nr; i++) {
      double d = a[rows ? rows[i] : i] - mu;
      ss += d * d;
    }
    double sd = nr > 1 ? sqrt(ss / nr) : 0;
    /* relative test: a column of equal values has tiny rounding spread */
    int flat = !(sd > 1e-12 * (fabs(mu) + 1e-300)) || !isfinite(sd);
    if (constant) constant[j] = (unsigned char)flat;
    mean[j] = mode == RIDGE_STD_NONE ? 0 : mu;
    scale[j] = (mode == RIDGE_STD_ZSCORE && !flat) ? sd : 1;
  }
}

void ridge_std_apply(double *A, long lda, long p, const long *rows, long nr,
                     ridge_std mode, const double *mean, const double *scale) {
  if (mode == RIDGE_STD_NONE) return;
  for (long j = 0; j < p; j++) {
    double *a = A + j * lda, mu = mean[j], inv = 1.0 / scale[j];
    for (long i = 0; i < nr; i++) {
      long r = rows ? rows[i] : i;
      a[r] = (a[r] - mu) * inv;
    }
  }
}

vf_status ridge_delay(const double *X, long n, long p, const int *run,
                      const int *delays, int nd, double *Xd) {
  for (int d = 0; d < nd; d++) {
    long lag = delays[d];
    if (lag < 0) return vf_error(VF_E_INPUT, "negative FIR delay %ld", lag);
    for (long j = 0; j < p; j++) {
      const double *x = X + j * n;
      double *y = Xd + (d * p + j) * n;
      long start = 0; /* first row of the current run (a contiguous block) */
      for (long t = 0; t < n; t++) {
        if (run && t > 0 && run[t] != run[t - 1]) start = t;
        long src = t - lag;
        int ok = src >= start;
        y[t] = ok ? x[src] : 0.0;
      }
    }
  }
  return VF_OK;
}

double ridge_pearson(const double *a, const double *b, long n) {
  double ma = 0, mb = 0;
  for (long i = 0; i < n; i++) ma += a[i], mb += b[i];
  ma /= n, mb /= n;
  double sab = 0, saa = 0, sbb = 0;
  for (long i = 0; i < n; i++) {
    double da = a[i] - ma, db = b[i] - mb;
    sab += da * db, saa += da * da, sbb += db * db;
  }
  if (ridge_flat(saa, ma, n) || ridge_flat(sbb, mb, n)) return 0.0;
  return sab / sqrt(saa * sbb);
}

double ridge_r2(const double *pred, const double *y, long n) {
  double my = 0;
  for (long i = 0; i < n; i++) my += y[i];
  my /= n;
  double res = 0, tot = 0;
  for (long i = 0; i < n; i++) {
    double e = y[i] - pred[i], d = y[i] - my;
    res += e * e, tot += d * d;
  }
  return ridge_flat(tot, my, n) ? 0.0 : 1.0 - res / tot;
}

double ridge_cv_flops(long ntr, long p, long v, const long *fold_start, int k,
                      int n_lambdas, long nte) {
  double f = 0;
  for (int i = 0; i <= k; i++) {
    /* fold i < k is a CV fold; i == k is the refit on every row */
    long nva = i < k ? fold_start[i + 1] - fold_start[i] : nte;
    long nf = i < k ? ntr - nva : ntr;
    double r = nf < p ? nf : p;
    int m = i < k ? n_lambdas : 1;
    f += 2.0 * nf * r * v + 2.0 * m * nva * r * v;
  }
  return f;
}
