/* linalg (la_): the hand-written Fortran BLAS/LAPACK (and later ScaLAPACK /
 * BLACS) prototypes, kept in one place because Debian's libscalapack ships
 * no C header. Fortran conventions: trailing underscore, every argument by
 * pointer, column-major storage. la_int is the Fortran integer (an ILP64
 * build would change only this typedef). Also a few thin wrappers that
 * check info and turn it into a vf_status. Local (no MPI). */
#ifndef VOXFIT_LINALG_H
#define VOXFIT_LINALG_H

#include "voxfit/util.h"

typedef int la_int;

/* BLAS */
void dgemm_(const char *ta, const char *tb, const la_int *m, const la_int *n,
            const la_int *k, const double *alpha, const double *a,
            const la_int *lda, const double *b, const la_int *ldb,
            const double *beta, double *c, const la_int *ldc);
void sgemm_(const char *ta, const char *tb, const la_int *m, const la_int *n,
            const la_int *k, const float *alpha, const float *a,
            const la_int *lda, const float *b, const la_int *ldb,
            const float *beta, float *c, const la_int *ldc);
void dsyrk_(const char *uplo, const char *trans, const la_int *n,
            const la_int *k, const double *alpha, const double *a,
            const la_int *lda, const double *beta, double *c,
            const la_int *ldc);

void ssyrk_(const char *uplo, const char *trans, const la_int *n,
            const la_int *k, const float *alpha, const float *a,
            const la_int *lda, const float *beta, float *c, const la_int *ldc);

/* LAPACK */
void dgesdd_(const char *jobz, const la_int *m, const la_int *n, double *a,
             const la_int *lda, double *s, double *u, const la_int *ldu,
             double *vt, const la_int *ldvt, double *work,
             const la_int *lwork, la_int *iwork, la_int *info);
void sgesdd_(const char *jobz, const la_int *m, const la_int *n, float *a,
             const la_int *lda, float *s, float *u, const la_int *ldu,
             float *vt, const la_int *ldvt, float *work, const la_int *lwork,
             la_int *iwork, la_int *info);
void dsyevd_(const char *jobz, const char *uplo, const la_int *n, double *a,
             const la_int *lda, double *w, double *work, const la_int *lwork,
             la_int *iwork, const la_int *liwork, la_int *info);
void ssyevd_(const char *jobz, const char *uplo, const la_int *n, float *a,
             const la_int *lda, float *w, float *work, const la_int *lwork,
             la_int *iwork, const la_int *liwork, la_int *info);
void dpotrf_(const char *uplo, const la_int *n, double *a, const la_int *lda,
             la_int *info);
void dpotrs_(const char *uplo, const la_int *n, const la_int *nrhs,
             const double *a, const la_int *lda, double *b, const la_int *ldb,
             la_int *info);

/* OpenBLAS thread control (libopenblas); 0 threads = library default. */
void openblas_set_num_threads(int n);
int openblas_get_num_threads(void);

/* C = alpha op(A) op(B) + beta C, column-major, sizes as long. */
void la_dgemm(char ta, char tb, long m, long n, long k, double alpha,
              const double *a, long lda, const double *b, long ldb,
              double beta, double *c, long ldc);
void la_sgemm(char ta, char tb, long m, long n, long k, float alpha,
              const float *a, long lda, const float *b, long ldb, float beta,
              float *c, long ldc);

/* C = alpha A^T A + beta C (lower triangle), A k x n with leading
 * dimension lda. */
void la_dsyrk_t(long n, long k, double alpha, const double *a, long lda,
                double beta, double *c, long ldc);
void la_ssyrk_t(long n, long k, float alpha, const float *a, long lda,
                float beta, float *c, long ldc);

/* C = alpha A A^T + beta C (lower triangle), A n x k. */
void la_dsyrk_n(long n, long k, double alpha, const double *a, long lda,
                double beta, double *c, long ldc);
void la_ssyrk_n(long n, long k, float alpha, const float *a, long lda,
                float beta, float *c, long ldc);

/* Thin SVD of A (m x n, overwritten): A = U diag(s) Vt with
 * r = min(m, n): U m x r, s r, Vt r x n. */
vf_status la_dsvd(double *a, long m, long n, double *u, double *s, double *vt);
vf_status la_ssvd(float *a, long m, long n, float *u, float *s, float *vt);

/* Eigendecomposition of the symmetric A (n x n, lower triangle used,
 * overwritten by the eigenvectors), eigenvalues ascending in w. */
vf_status la_deig(double *a, long n, double *w);
vf_status la_seig(float *a, long n, float *w);

#endif
