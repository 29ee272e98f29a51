/* Wrappers that hide Fortran's by-pointer arguments and check info. */
#include "voxfit/linalg.h"

#include <limits.h>
#include <stdlib.h>

void la_dgemm(char ta, char tb, long m, long n, long k, double alpha,
              const double *a, long lda, const double *b, long ldb,
              double beta, double *c, long ldc) {
  if (m <= 0 || n <= 0) return;
  la_int im = (la_int)m, in = (la_int)n, ik = (la_int)k;
  la_int ia = (la_int)(lda > 0 ? lda : 1), ib = (la_int)(ldb > 0 ? ldb : 1),
         ic = (la_int)ldc;
  dgemm_(&ta, &tb, &im, &in, &ik, &alpha, a, &ia, b, &ib, &beta, c, &ic);
}

void la_sgemm(char ta, char tb, long m, long n, long k, float alpha,
              const float *a, long lda, const float *b, long ldb, float beta,
              float *c, long ldc) {
  if (m <= 0 || n <= 0) return;
  la_int im = (la_int)m, in = (la_int)n, ik = (la_int)k;
  la_int ia = (la_int)(lda > 0 ? lda : 1), ib = (la_int)(ldb > 0 ? ldb : 1),
         ic = (la_int)ldc;
  sgemm_(&ta, &tb, &im, &in, &ik, &alpha, a, &ia, b, &ib, &beta, c, &ic);
}

void la_dsyrk_t(long n, long k, double alpha, const double *a, long lda,
                double beta, double *c, long ldc) {
  if (n <= 0) return;
  la_int in = (la_int)n, ik = (la_int)k, ia = (la_int)lda, ic = (la_int)ldc;
  dsyrk_("L", "T", &in, &ik, &alpha, a, &ia, &beta, c, &ic);
}

void la_ssyrk_t(long n, long k, float alpha, const float *a, long lda,
                float beta, float *c, long ldc) {
  if (n <= 0) return;
  la_int in = (la_int)n, ik = (la_int)k, ia = (la_int)lda, ic = (la_int)ldc;
  ssyrk_("L", "T", &in, &ik, &alpha, a, &ia, &beta, c, &ic);
}

void la_dsyrk_n(long n, long k, double alpha, const double *a, long lda,
                double beta, double *c, long ldc) {
  if (n <= 0) return;
  la_int in = (la_int)n, ik = (la_int)k, ia = (la_int)lda, ic = (la_int)ldc;
  dsyrk_("L", "N", &in, &ik, &alpha, a, &ia, &beta, c, &ic);
}

void la_ssyrk_n(long n, long k, float alpha, const float *a, long lda,
                float beta, float *c, long ldc) {
  if (n <= 0) return;
  la_int in = (la_int)n, ik = (la_int)k, ia = (la_int)lda, ic = (la_int)ldc;
  ssyrk_("L", "N", &in, &ik, &alpha, a, &ia, &beta, c, &ic);
}

/* One macro body for both precisions: workspace query, then the call. */
#define SVD_BODY(T, FN)                                                      \
  if (m <= 0 || n <= 0)                                                      \
    return vf_error(VF_E_INTERNAL, "svd of an empty %ld x %ld matrix", m, n); \
  if (m > INT_MAX / 2 || n > INT_MAX / 2)                                    \
    return vf_error(VF_E_INPUT, "svd: %ld x %ld exceeds 32-bit LAPACK", m, n); \
  la_int im = (la_int)m, in = (la_int)n, r = im < in ? im : in;              \
  la_int lwork = -1, info = 0;                                               \
  T query;                                                                   \
  la_int *iwork = malloc(sizeof(la_int) * 8 * (size_t)r);                    \
  if (!iwork) return vf_error(VF_E_NOMEM, "svd: integer workspace");         \
  FN("S", &im, &in, a, &im, s, u, &im, vt, &r, &query, &lwork, iwork, &info); \
  lwork = (la_int)query + 1;                                                 \
  T *work = malloc(sizeof(T) * (size_t)lwork);                               \
  if (!work) {                                                               \
    free(iwork);                                                             \
    return vf_error(VF_E_NOMEM, "svd: %.1f MiB workspace",                   \
                    sizeof(T) * (double)lwork / 1048576.0);                  \
  }                                                                          \
  FN("S", &im, &in, a, &im, s, u, &im, vt, &r, work, &lwork, iwork, &info);  \
  free(work);                                                                \
  free(iwork);                                                               \
  if (info != 0)                                                             \
    return vf_error(VF_E_NUMERIC, "svd of a %ld x %ld matrix failed (info %d)", \
                    m, n, (int)info);                                        \
  return VF_OK;

vf_status la_dsvd(double *a, long m, long n, double *u, double *s,
                  double *vt) {
  SVD_BODY(double, dgesdd_)
}

vf_status la_ssvd(float *a, long m, long n, float *u, float *s, float *vt) {
  SVD_BODY(float, sgesdd_)
}

#define EIG_BODY(T, FN)                                                      \
  if (n <= 0 || n > INT_MAX / 4)                                             \
    return vf_error(VF_E_INPUT, "eigendecomposition of a %ld x %ld matrix", n, n); \
  la_int in = (la_int)n, lwork = -1, liwork = -1, info = 0, iq = 0;          \
  T query = 0;                                                               \
  FN("V", "L", &in, a, &in, w, &query, &lwork, &iq, &liwork, &info);         \
  lwork = (la_int)query + 1;                                                 \
  liwork = iq + 1;                                                           \
  T *work = malloc(sizeof(T) * (size_t)lwork);                               \
  la_int *iwork = malloc(sizeof(la_int) * (size_t)liwork);                   \
  if (!work || !iwork) {                                                     \
    free(work);                                                              \
    free(iwork);                                                             \
    return vf_error(VF_E_NOMEM, "eigendecomposition workspace");             \
  }                                                                          \
  FN("V", "L", &in, a, &in, w, work, &lwork, iwork, &liwork, &info);         \
  free(work);                                                                \
  free(iwork);                                                               \
  if (info != 0)                                                             \
    return vf_error(VF_E_NUMERIC, "eigendecomposition of a %ld x %ld matrix " \
                    "failed (info %d)", n, n, (int)info);                    \
  return VF_OK;

vf_status la_deig(double *a, long n, double *w) { EIG_BODY(double, dsyevd_) }

vf_status la_seig(float *a, long n, float *w) { EIG_BODY(float, ssyevd_) }

/* The 1-norm of a symmetric matrix from one triangle, then the factor, the
 * condition estimate and the inverse. */
#define SPD_INVERSE_BODY(T, POTRF, POCON, POTRI)                             \
  if (n <= 0 || n > INT_MAX / 4) return 0;                                   \
  int low = uplo == 'L' || uplo == 'l';                                      \
  T *col = calloc((size_t)n * 3, sizeof(T));                                 \
  la_int *iwork = malloc(sizeof(la_int) * (size_t)n);                        \
  if (!col || !iwork) {                                                      \
    free(col), free(iwork);                                                  \
    return 0;                                                                \
  }                                                                          \
  for (long j = 0; j < n; j++)                                               \
    for (long i = low ? j : 0; i < (low ? n : j + 1); i++) {                 \
      T x = a[j * lda + i] < 0 ? -a[j * lda + i] : a[j * lda + i];           \
      col[j] += x;                                                           \
      if (i != j) col[i] += x;                                               \
    }                                                                        \
  T anorm = 0, rcond = 0;                                                    \
  for (long j = 0; j < n; j++) anorm = col[j] > anorm ? col[j] : anorm;      \
  la_int in = (la_int)n, il = (la_int)lda, info = 0;                         \
  char u = low ? 'L' : 'U';                                                  \
  POTRF(&u, &in, a, &il, &info);                                             \
  if (info == 0) POCON(&u, &in, a, &il, &anorm, &rcond, col, iwork, &info);  \
  if (info == 0) POTRI(&u, &in, a, &il, &info);                              \
  free(col), free(iwork);                                                    \
  return info == 0 ? (double)rcond * (double)anorm : 0;

double la_dspd_inverse(double *a, long n, long lda, char uplo) {
  SPD_INVERSE_BODY(double, dpotrf_, dpocon_, dpotri_)
}

double la_sspd_inverse(float *a, long n, long lda, char uplo) {
  SPD_INVERSE_BODY(float, spotrf_, spocon_, spotri_)
}

#define SYMM_BODY(T, SYMM)                                                   \
  if (m <= 0 || n <= 0) return;                                              \
  la_int im = (la_int)m, in = (la_int)n, ia = (la_int)lda, ib = (la_int)ldb, \
         ic = (la_int)ldc;                                                   \
  T one = 1, zero = 0;                                                       \
  char u = uplo == 'L' || uplo == 'l' ? 'L' : 'U';                           \
  SYMM("L", &u, &im, &in, &one, a, &ia, b, &ib, &zero, c, &ic);

void la_dsymm(char uplo, long m, long n, const double *a, long lda, const double *b,
              long ldb, double *c, long ldc) {
  SYMM_BODY(double, dsymm_)
}

void la_ssymm(char uplo, long m, long n, const float *a, long lda, const float *b,
              long ldb, float *c, long ldc) {
  SYMM_BODY(float, ssymm_)
}
