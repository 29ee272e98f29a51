/* Wrappers that hide Fortran's by-pointer arguments and check info. */
#include "voxfit/linalg.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The kernels this CPU can run, best first, or NULL. */
static const char *core_for_cpu(void) {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  int avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
  if (avx512 && __builtin_cpu_supports("avx512bf16")) return "Cooperlake";
  if (avx512) return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
#endif
  return NULL;
}

void la_blas_setup(char **argv) {
  const char *core = openblas_get_corename(), *want = core_for_cpu();
  if (getenv("OPENBLAS_CORETYPE") || !core || strcmp(core, "Prescott") || !want || !argv)
    return;
  setenv("OPENBLAS_CORETYPE", want, 1);
  setenv("VOXFIT_BLAS_FALLBACK", core, 1);
  /* The real path, not /proc/self/exe: the kernel names the process after
   * the file executed, and ranks named "exe" escape `pkill voxfit`. */
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) self[n] = 0;
  execv(n > 0 ? self : "/proc/self/exe", argv);
  unsetenv("OPENBLAS_CORETYPE"); /* the exec failed: run as the library chose */
  unsetenv("VOXFIT_BLAS_FALLBACK");
}

void la_blas_describe(char *buf, size_t cap) {
  const char *core = openblas_get_corename(), *was = getenv("VOXFIT_BLAS_FALLBACK");
  int n = snprintf(buf, cap, "OpenBLAS %s kernels", core ? core : "(unknown)");
  if (was && n >= 0 && (size_t)n < cap)
    snprintf(buf + n, cap - (size_t)n, " (set by voxfit: the library took %s on this CPU)",
             was);
}

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

/* dsyevr (MRRR) needs O(n) workspace where dsyevd needs 2 n^2, but writes
 * its vectors apart from a: n^2 in all beyond a, not 2 n^2; it is 15-25%
 * slower on 2000-3000 square Gram matrices. */
static la_int eig_lean_call(la_int n, double *a, double *w, double *z, la_int *supp,
                            double *work, la_int lwork, la_int *iwork, la_int liwork,
                            la_int *found) {
  la_int zero = 0, info = 0;
  double dzero = 0;
  dsyevr_("V", "A", "L", &n, a, &n, &dzero, &dzero, &zero, &zero, &dzero, found, w, z,
          &n, supp, work, &lwork, iwork, &liwork, &info);
  return info;
}

vf_status la_deig_lean(double *a, long n, double *w) {
  if (n <= 0 || n > INT_MAX / 16)
    return vf_error(VF_E_INPUT, "eigendecomposition of a %ld x %ld matrix", n, n);
  la_int in = (la_int)n, iq = 0, found = 0, info = -1;
  double query = 0, *work = NULL;
  la_int *iwork = NULL;
  double *z = malloc(sizeof(double) * (size_t)n * (size_t)n);
  la_int *supp = malloc(sizeof(la_int) * 2 * (size_t)n);
  if (z && supp && !eig_lean_call(in, a, w, z, supp, &query, -1, &iq, -1, &found)) {
    work = malloc(sizeof(double) * ((size_t)query + 1));
    iwork = malloc(sizeof(la_int) * ((size_t)iq + 1));
  }
  if (work && iwork)
    info = eig_lean_call(in, a, w, z, supp, work, (la_int)query + 1, iwork, iq + 1, &found);
  int ok = work && iwork;
  if (ok && info == 0 && found == in) memcpy(a, z, sizeof(double) * (size_t)n * (size_t)n);
  free(work), free(iwork), free(supp), free(z);
  if (!ok) return vf_error(VF_E_NOMEM, "eigendecomposition workspace (n = %ld)", n);
  if (info != 0 || found != in)
    return vf_error(VF_E_NUMERIC, "eigendecomposition of a %ld x %ld matrix failed "
                    "(info %d, %d of %ld eigenvalues)", n, n, (int)info, (int)found, n);
  return VF_OK;
}

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
  char u = uplo == 'L' || uplo == 'l' ? 'L' : 'U';                           \
  SYMM("L", &u, &im, &in, &alpha, a, &ia, b, &ib, &beta, c, &ic);

void la_dsymm(char uplo, long m, long n, double alpha, const double *a, long lda,
              const double *b, long ldb, double beta, double *c, long ldc) {
  SYMM_BODY(double, dsymm_)
}

void la_ssymm(char uplo, long m, long n, float alpha, const float *a, long lda,
              const float *b, long ldb, float beta, float *c, long ldc) {
  SYMM_BODY(float, ssymm_)
}
