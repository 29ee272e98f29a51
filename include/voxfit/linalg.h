/* linalg (la_): the hand-written Fortran BLAS/LAPACK (with ScaLAPACK /
 * BLACS) prototypes, kept in one place because Debian's libscalapack ships
 * no C header. Fortran conventions: trailing underscore, every argument by
 * pointer, column-major storage. la_int is the Fortran integer (an ILP64
 * build would change only this typedef). Also a few thin wrappers that
 * check info and turn it into a vf_status. The dense wrappers are Local;
 * the distributed ones (la_dmat) say who must call them. */
#ifndef VOXFIT_LINALG_H
#define VOXFIT_LINALG_H

#include <mpi.h>

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
void dsyevr_(const char *jobz, const char *range, const char *uplo, const la_int *n,
             double *a, const la_int *lda, const double *vl, const double *vu,
             const la_int *il, const la_int *iu, const double *abstol, la_int *m,
             double *w, double *z, const la_int *ldz, la_int *isuppz, double *work,
             const la_int *lwork, la_int *iwork, const la_int *liwork, la_int *info);
void dpotrf_(const char *uplo, const la_int *n, double *a, const la_int *lda,
             la_int *info);
void dpotrs_(const char *uplo, const la_int *n, const la_int *nrhs,
             const double *a, const la_int *lda, double *b, const la_int *ldb,
             la_int *info);
void spotrf_(const char *uplo, const la_int *n, float *a, const la_int *lda,
             la_int *info);
void spotrs_(const char *uplo, const la_int *n, const la_int *nrhs,
             const float *a, const la_int *lda, float *b, const la_int *ldb,
             la_int *info);
void dpotri_(const char *uplo, const la_int *n, double *a, const la_int *lda,
             la_int *info);
void spotri_(const char *uplo, const la_int *n, float *a, const la_int *lda,
             la_int *info);
void dsymm_(const char *side, const char *uplo, const la_int *m, const la_int *n,
            const double *alpha, const double *a, const la_int *lda, const double *b,
            const la_int *ldb, const double *beta, double *c, const la_int *ldc);
void ssymm_(const char *side, const char *uplo, const la_int *m, const la_int *n,
            const float *alpha, const float *a, const la_int *lda, const float *b,
            const la_int *ldb, const float *beta, float *c, const la_int *ldc);
void dpocon_(const char *uplo, const la_int *n, const double *a,
             const la_int *lda, const double *anorm, double *rcond,
             double *work, la_int *iwork, la_int *info);
void spocon_(const char *uplo, const la_int *n, const float *a,
             const la_int *lda, const float *anorm, float *rcond, float *work,
             la_int *iwork, la_int *info);

/* OpenBLAS thread control (libopenblas); 0 threads = library default. */
void openblas_set_num_threads(int n);
int openblas_get_num_threads(void);
char *openblas_get_corename(void);

/* OpenBLAS picks its kernels when it loads, by the CPU's model number: on
 * a CPU newer than the library (Debian 12's 0.3.21 on Sapphire or Emerald
 * Rapids, say) it falls back to its generic Prescott kernels, with 5 to 8
 * times less GEMM speed. Then, unless OPENBLAS_CORETYPE is set already,
 * this sets it to the kernels the CPU's features allow (Cooperlake,
 * SkylakeX or Haswell), records the fallback in VOXFIT_BLAS_FALLBACK and
 * executes the program again (argv: main's; the process and its MPI
 * identity stay). Call first thing in main; returns if nothing is to be
 * done or the exec failed. */
void la_blas_setup(char **argv);
/* One line on the BLAS in use: "OpenBLAS <core> kernels" and, after
 * la_blas_setup changed them, what the library had picked. */
void la_blas_describe(char *buf, size_t cap);

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

/* C = alpha A A^T + beta C (lower triangle), A n x k. */
void la_dsyrk_n(long n, long k, double alpha, const double *a, long lda,
                double beta, double *c, long ldc);
void la_ssyrk_n(long n, long k, float alpha, const float *a, long lda,
                float beta, float *c, long ldc);

/* Thin SVD of A (m x n, overwritten): A = U diag(s) Vt with
 * r = min(m, n): U m x r, s r, Vt r x n. */
vf_status la_dsvd(double *a, long m, long n, double *u, double *s, double *vt);
vf_status la_ssvd(float *a, long m, long n, float *u, float *s, float *vt);

/* Inverse of the symmetric positive definite A (n x n, leading dimension
 * lda; the triangle uplo 'L' or 'U' is used and overwritten by the
 * inverse's), through its Cholesky factor. Returns LAPACK's estimate of
 * 1 / ||A^-1||_1 (rcond x ||A||_1), a lower bound on A's smallest
 * eigenvalue within a factor sqrt(n): 0 when A is not positive definite
 * (or on allocation failure), A then undefined. */
double la_dspd_inverse(double *a, long n, long lda, char uplo);
double la_sspd_inverse(float *a, long n, long lda, char uplo);

/* C = alpha A B + beta C for the symmetric A (m x m, triangle uplo), B
 * and C m x n. */
void la_dsymm(char uplo, long m, long n, double alpha, const double *a, long lda,
              const double *b, long ldb, double beta, double *c, long ldc);
void la_ssymm(char uplo, long m, long n, float alpha, const float *a, long lda,
              const float *b, long ldb, float beta, float *c, long ldc);

/* Eigendecomposition of the symmetric A (n x n, lower triangle used,
 * overwritten by the eigenvectors), eigenvalues ascending in w. */
vf_status la_deig(double *a, long n, double *w);
/* The same through MRRR: less memory, somewhat slower. */
vf_status la_deig_lean(double *a, long n, double *w);


/* ---- ScaLAPACK, PBLAS and BLACS (libscalapack-openmpi) ----------------- */
/* Descriptors are 9 la_ints (DTYPE, CTXT, M, N, MB, NB, RSRC, CSRC, LLD);
 * global indices are 1-based in these calls. */
la_int numroc_(const la_int *n, const la_int *nb, const la_int *iproc,
               const la_int *isrc, const la_int *nprocs);
la_int indxl2g_(const la_int *il, const la_int *nb, const la_int *iproc,
                const la_int *isrc, const la_int *nprocs);
void descinit_(la_int *desc, const la_int *m, const la_int *n, const la_int *mb,
               const la_int *nb, const la_int *irsrc, const la_int *icsrc,
               const la_int *ictxt, const la_int *lld, la_int *info);
void pdgemm_(const char *ta, const char *tb, const la_int *m, const la_int *n,
             const la_int *k, const double *alpha, const double *a,
             const la_int *ia, const la_int *ja, const la_int *desca,
             const double *b, const la_int *ib, const la_int *jb,
             const la_int *descb, const double *beta, double *c,
             const la_int *ic, const la_int *jc, const la_int *descc);
void pdsyrk_(const char *uplo, const char *trans, const la_int *n,
             const la_int *k, const double *alpha, const double *a,
             const la_int *ia, const la_int *ja, const la_int *desca,
             const double *beta, double *c, const la_int *ic, const la_int *jc,
             const la_int *descc);
void pdsyevd_(const char *jobz, const char *uplo, const la_int *n, double *a,
              const la_int *ia, const la_int *ja, const la_int *desca,
              double *w, double *z, const la_int *iz, const la_int *jz,
              const la_int *descz, double *work, const la_int *lwork,
              la_int *iwork, const la_int *liwork, la_int *info);
void pdgemr2d_(const la_int *m, const la_int *n, const double *a,
               const la_int *ia, const la_int *ja, const la_int *desca,
               double *b, const la_int *ib, const la_int *jb,
               const la_int *descb, const la_int *ictxt);
/* BLACS: C interface, arguments by value. */
int Csys2blacs_handle(MPI_Comm comm);
void Cfree_blacs_system_handle(int handle);
void Cblacs_gridinit(int *ctxt, const char *order, int nprow, int npcol);
void Cblacs_gridinfo(int ctxt, int *nprow, int *npcol, int *myrow, int *mycol);
void Cblacs_gridexit(int ctxt);
void Cdgsum2d(int ctxt, const char *scope, const char *top, int m, int n,
              double *a, int lda, int rdest, int cdest);
void Cdgebs2d(int ctxt, const char *scope, const char *top, int m, int n,
              const double *a, int lda);
void Cdgebr2d(int ctxt, const char *scope, const char *top, int m, int n,
              double *a, int lda, int rsrc, int csrc);

/* A process grid (a BLACS context) and where this rank sits in it. */
typedef struct {
  int ctxt, nprow, npcol, myrow, mycol;
} la_grid;

/* A distributed matrix: m x n in nb x nb blocks, block-cyclic over g,
 * this rank's piece a (mloc x nloc, leading dimension desc[8]). */
typedef struct {
  la_grid g;
  long m, n;
  int nb, mloc, nloc;
  la_int desc[9];
  double *a;
} la_dmat;

/* Local. Fills g from a context made by Cblacs_gridinit. */
void la_grid_of(int ctxt, la_grid *g);
/* Local (no messages): a zeroed m x n matrix on g. */
vf_status la_dmat_create(const la_grid *g, long m, long n, int nb, la_dmat *A);
/* The same without storage (A->a = NULL: the caller points it at the
 * local piece, desc[8] x nloc). */
vf_status la_dmat_describe(const la_grid *g, long m, long n, int nb, la_dmat *A);
void la_dmat_destroy(la_dmat *A);
/* Global 0-based index of local row i (la_dmat_grow) or column j. */
long la_dmat_grow(const la_dmat *A, int i);
long la_dmat_gcol(const la_dmat *A, int j);
/* Collective on the union of both grids (ctxt): B[ib.., jb..] =
 * A[ia.., ja..] for an m x n block (0-based offsets). */
void la_dmat_copy(long m, long n, const la_dmat *A, long ia, long ja,
                  la_dmat *B, long ib, long jb, int ctxt);
/* Collective on A's grid: C[ic.., jc..] = alpha op(A[ia..]) op(B[ib..]) +
 * beta C for an m x n result with inner size k (0-based offsets). */
void la_dmat_gemm(char ta, char tb, long m, long n, long k, double alpha,
                  const la_dmat *A, long ia, long ja, const la_dmat *B,
                  long ib, long jb, double beta, la_dmat *C, long ic, long jc);
/* Collective on A's grid: eigenpairs of the symmetric A (lower triangle
 * used, destroyed): w (n, ascending, on every rank), Z (n x n). */
vf_status la_dmat_eig(la_dmat *A, double *w, la_dmat *Z);
/* Replaces ScaLAPACK's own: records an illegal-argument complaint, which
 * la_dmat_eig turns into an error (ScaLAPACK itself carries on). */
void pxerbla_(const la_int *ctxt, const char *name, const la_int *info, size_t len);

#endif
