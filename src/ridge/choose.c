/* The choice of lambda from CV scores (choose.h). */
#include <float.h>
#include <math.h>
#include <stddef.h>

#include <string.h>

#include "voxfit/linalg.h"
#include "choose.h"

/* The index of the best score; scores within tie x max(1, |best|) of the
 * best are ties, and ties go to the larger lambda. Far beyond the spectrum
 * every lambda predicts the same direction, so their scores differ only by
 * rounding: without a tolerance the choice among them would be noise. */
static int argbest(const double *score, int m, double tie) {
  double top = -INFINITY;
  for (int j = 0; j < m; j++)
    if (score[j] > top) top = score[j];
  int b = 0;
  for (int j = 0; j < m; j++)
    if (score[j] >= top - tie * fmax(1.0, fabs(top))) b = j;
  return b;
}

double ridge_tie(const ridge_opts *o, int single) {
  if (o->tie > 0) return o->tie;
  return single ? RIDGE_TIE_SINGLE : RIDGE_TIE_DOUBLE;
}

void ridge_choose(const double *cv, int m, long v, const unsigned char *valid,
                  int per_voxel, double tie, int *best) {
  int shared = 0;
  if (!per_voxel) {
    double mean[m];
    for (int j = 0; j < m; j++) {
      long nv = 0;
      mean[j] = 0;
      for (long c = 0; c < v; c++)
        if (!valid || valid[c]) mean[j] += cv[(size_t)c * m + j], nv++;
      mean[j] = nv ? mean[j] / nv : 0;
    }
    shared = argbest(mean, m, tie);
  }
  for (long c = 0; c < v; c++) {
    if (valid && !valid[c]) {
      best[c] = -1;
      continue;
    }
    best[c] = per_voxel ? argbest(cv + (size_t)c * m, m, tie) : shared;
  }
}

/* Normalises the rows of G (m x r, column-major); their norms in norm. */
static void normalise_rows(double *G, int m, long r, double *norm) {
  for (int j = 0; j < m; j++) {
    double ss = 0;
    for (long i = 0; i < r; i++) ss += G[i * m + j] * G[i * m + j];
    norm[j] = sqrt(ss);
    for (long i = 0; i < r; i++) G[i * m + j] /= norm[j] > 0 ? norm[j] : 1;
  }
}

/* A constant column's computed mean is off by up to (n - 1) eps |my|
 * (the recursive sum's bound; four-way and grid sums do better), and its
 * syy is then n times that squared instead of 0, which made R^2 = 1 -
 * res / syy of the order of -1e30. (64 + n) eps |my| per row covers it;
 * real responses vary by far more (z-scored: by 1). */
int ridge_flat(double syy, double my, long n) {
  double tol = (64.0 + (double)n) * DBL_EPSILON * fabs(my);
  return !(syy > (double)n * tol * tol);
}

/* The sum of squared residuals is syy - 2 cov + var + n (my - mp)^2.
 * Minus the MSE needs no variance of y, so flat responses score as any
 * (himalaya's l2_neg_loss does the same); the sum is kept >= 0 against
 * rounding. */
double ridge_score_of(double cov, double var, double mp, double my, double syy, long n,
                      ridge_score kind) {
  double res = syy - 2 * cov + var + n * (my - mp) * (my - mp);
  if (kind == RIDGE_SCORE_NEG_MSE) return -fmax(res, 0.0) / (double)n;
  if (ridge_flat(syy, my, n)) return 0.0;
  if (kind == RIDGE_SCORE_R2) return 1.0 - res / syy;
  return var > 0 ? cov / sqrt(var * syy) : 0.0;
}

int ridge_is_identity(const double *A, int q, int m) {
  if (q != m) return 0;
  for (int j = 0; j < m; j++)
    for (int t = 0; t < q; t++)
      if (A[j * q + t] != (j == t)) return 0;
  return 1;
}

/* G A comes from one small GEMM: a loop per lambda would be a chain of
 * dependent additions. */
void ridge_basis_scores(const double *A, int q, int m, const double *G, long ldg,
                        const double *c, const double *mu, double my, double syy, long n,
                        ridge_score kind, double weight, double *GA, double *cv) {
  la_dgemm('N', 'N', q, m, q, 1, G, ldg, A, q, 0, GA, q);
  for (int j = 0; j < m; j++) {
    const double *a = A + (size_t)j * q, *ga = GA + (size_t)j * q;
    double cov = 0, var = 0, mp = 0;
    for (int t = 0; t < q; t++) cov += a[t] * c[t], var += a[t] * ga[t], mp += a[t] * mu[t];
    cv[j] += weight * ridge_score_of(cov, var, mp, my, syy, n, kind);
  }
}

vf_status ridge_matrix_basis(double *G, long r, int m, double tol, int *q, double **A,
                             double **Vt) {
  vf_status st = VF_OK;
  long k = m < r ? m : r;
  double *U = NULL, *S = NULL, *V = NULL, *norm = NULL;
  *A = *Vt = NULL;
  VF_TRY(vf_calloc((size_t)m * k, sizeof(double), "filter basis", &U));
  VF_TRY(vf_calloc((size_t)k, sizeof(double), "filter spectrum", &S));
  VF_TRY(vf_calloc((size_t)k * r, sizeof(double), "filter basis", &V));
  VF_TRY(vf_calloc((size_t)m, sizeof(double), "filter norms", &norm));
  normalise_rows(G, m, r, norm);
  VF_TRY(la_dsvd(G, m, r, U, S, V));
  *q = 1;
  while (*q < k && S[*q] > tol * S[0]) (*q)++;
  VF_TRY(vf_calloc((size_t)m * *q, sizeof(double), "filter weights", A));
  VF_TRY(vf_calloc((size_t)r * *q, sizeof(double), "filter basis", Vt));
  for (int j = 0; j < m; j++)
    for (int t = 0; t < *q; t++) (*A)[j * *q + t] = norm[j] * U[t * m + j] * S[t];
  for (long i = 0; i < r; i++)
    for (int t = 0; t < *q; t++) (*Vt)[i * *q + t] = V[i * k + t];
fail:
  vf_free(&U), vf_free(&S), vf_free(&V), vf_free(&norm);
  if (st) vf_free(A), vf_free(Vt);
  return st;
}

vf_status ridge_filter_basis(const double *s, long r, const double *lam, int m, double tol,
                             int *q, double **A, double **Vt) {
  double *G = NULL;
  *A = *Vt = NULL;
  VF_CALL(vf_calloc((size_t)m * r, sizeof(double), "filter matrix", &G));
  for (int j = 0; j < m; j++)
    for (long i = 0; i < r; i++) G[i * m + j] = s[i] / (s[i] * s[i] + lam[j]);
  vf_status st = ridge_matrix_basis(G, r, m, tol, q, A, Vt);
  vf_free(&G);
  return st;
}

void ridge_bands_free(ridge_bands *B) {
  if (!B) return;
  vf_free(&B->start), vf_free(&B->uoff), vf_free(&B->woff), vf_free(&B->A), vf_free(&B->W);
  B->nband = B->Q = 0;
}

/* Measured on the benchmark's medium shape (2 threads, OpenBLAS 0.3.21):
 * the combination's thin GEMM (m columns, Q deep) ran at a third of the
 * DGEMM rate, so its flops count three times; a band's GEMM, only its
 * width deep, at 0.7-0.8 of it for widths of 128-256, so its flops count
 * (1 + 32 / width) times. */
#define COMBINE_WEIGHT 3.0
#define BAND_DEPTH 32.0

double ridge_bands_cost(const ridge_bands *B, long nev, int m) {
  double basis = 0;
  for (int b = 0; b < B->nband; b++) {
    double len = (double)(B->start[b + 1] - B->start[b]);
    basis += (B->uoff[b + 1] - B->uoff[b]) * len * (1 + BAND_DEPTH / len);
  }
  return 2.0 * nev * basis + COMBINE_WEIGHT * 2.0 * m * B->Q * nev;
}

/* The low-rank basis of the filters over components [i0, i0 + len). */
static vf_status band_basis(const double *s, long i0, long len, const double *lam, int m,
                            double tol, int *q, double **Ab, double **Vt) {
  double *G = NULL;
  VF_CALL(vf_calloc((size_t)m * len, sizeof(double), "band filter matrix", &G));
  for (long i = 0; i < len; i++)
    for (int j = 0; j < m; j++) G[i * m + j] = s[i0 + i] / (s[i0 + i] * s[i0 + i] + lam[j]);
  vf_status st = ridge_matrix_basis(G, len, m, tol, q, Ab, Vt);
  vf_free(&G);
  return st;
}

/* The bands of one width. */
static vf_status bands_of_width(const double *s, long r, const double *lam, int m,
                                double tol, long width, ridge_bands *B) {
  vf_status st = VF_OK;
  int nb = (int)((r + width - 1) / width);
  double *Ab = NULL, *Vt = NULL;
  memset(B, 0, sizeof *B);
  VF_TRY(vf_calloc((size_t)nb + 1, sizeof(long), "bands", &B->start));
  VF_TRY(vf_calloc((size_t)nb + 1, sizeof(int), "bands", &B->uoff));
  VF_TRY(vf_calloc((size_t)nb, sizeof(long), "bands", &B->woff));
  VF_TRY(vf_calloc((size_t)m * m * nb, sizeof(double), "band coefficients", &B->A));
  VF_TRY(vf_calloc((size_t)m * r, sizeof(double), "band basis", &B->W));
  B->nband = nb;
  long wlen = 0;
  for (int b = 0; b < nb; b++) {
    long i0 = b * width, len = i0 + width <= r ? width : r - i0;
    int q;
    B->start[b] = i0, B->woff[b] = wlen;
    VF_TRY(band_basis(s, i0, len, lam, m, tol, &q, &Ab, &Vt));
    for (int j = 0; j < m; j++) /* A's columns are m nb wide until packed */
      for (int t = 0; t < q; t++) B->A[(size_t)j * m * nb + B->uoff[b] + t] = Ab[j * q + t];
    for (int t = 0; t < q; t++)
      for (long i = 0; i < len; i++) B->W[wlen + t * len + i] = Vt[i * q + t];
    wlen += (long)q * len;
    B->uoff[b + 1] = B->uoff[b] + q;
    vf_free(&Ab), vf_free(&Vt);
  }
  B->start[nb] = r, B->Q = B->uoff[nb];
  for (int j = 0; j < m; j++) /* pack A to m x Q */
    memmove(B->A + (size_t)j * B->Q, B->A + (size_t)j * m * nb, sizeof(double) * B->Q);
fail:
  vf_free(&Ab), vf_free(&Vt);
  if (st) ridge_bands_free(B);
  return st;
}

vf_status ridge_bands_make(const double *s, long r, const double *lam, int m, double tol,
                           long nev, ridge_bands *B) {
  static const long widths[] = {64, 128, 256, 512};
  memset(B, 0, sizeof *B);
  for (size_t w = 0; w < sizeof widths / sizeof *widths && r >= 2 * widths[w]; w++) {
    ridge_bands T;
    VF_CALL(bands_of_width(s, r, lam, m, tol, widths[w], &T));
    if (B->nband && ridge_bands_cost(&T, nev, m) >= ridge_bands_cost(B, nev, m)) {
      ridge_bands_free(&T);
      continue;
    }
    ridge_bands_free(B);
    *B = T;
  }
  return VF_OK;
}

void ridge_lap(double *secs, ridge_phase phase, double *t) {
  double now = vf_now();
  if (secs) secs[phase] += now - *t;
  *t = now;
}

int ridge_kernel_pays(long nf, long r, long nb, long v) {
  double direct = 2.0 * nf * r * v + 2.0 * nb * r * v;
  double kernel = 2.0 * nb * r * nf + 2.0 * nb * nf * v;
  return kernel < 0.95 * direct;
}

/* Flops per voxel of the two methods, with q taken as m. The per-fold
 * factorisations that held_out also saves do not grow with the voxels;
 * leaving them out keeps the choice independent of v, so that a model and
 * the streaming fit choose alike. */
static int held_out_pays(long ntr, long p, const long *start, int k, int m) {
  /* held_out: U^T Y and the q filtered fits over all rows, then per fold
   * the q products with C_t, the lambdas' combinations, the m SYMMs with
   * the inverses and the scores */
  double r = ntr < p ? ntr : p, per = 0, ho = 2.0 * ntr * r + 2.0 * m * ntr * r;
  for (int f = 0; f < k; f++) {
    double nv = (double)(start[f + 1] - start[f]), nf = ntr - nv;
    double d = nf < p ? nf : (double)p;
    per += 2 * nf * d + 2.0 * m * nv * d;
    ho += 2.0 * m * nv * nv + 2.0 * m * m * nv + 2.0 * m * nv * nv + 30.0 * m * nv;
  }
  return ho < 0.9 * per;
}

int ridge_cv_tries_held_out(long ntr, long p, const long *start, int k, const ridge_opts *o) {
  if (o->cv_method == RIDGE_CV_PER_FOLD) return 0;
  if (o->cv_method == RIDGE_CV_HELD_OUT) return 1;
  return held_out_pays(ntr, p, start, k, o->n_lambdas);
}
