/* Distributed matrices: thin wrappers over ScaLAPACK's descriptors, PBLAS
 * and the eigensolver, so callers pass 0-based offsets and longs. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "voxfit/linalg.h"

void la_grid_of(int ctxt, la_grid *g) {
  g->ctxt = ctxt;
  Cblacs_gridinfo(ctxt, &g->nprow, &g->npcol, &g->myrow, &g->mycol);
}

vf_status la_dmat_describe(const la_grid *g, long m, long n, int nb, la_dmat *A) {
  memset(A, 0, sizeof *A);
  A->g = *g, A->m = m, A->n = n, A->nb = nb;
  la_int im = (la_int)m, in = (la_int)n, inb = nb, zero = 0, info = 0;
  la_int pr = g->nprow, pc = g->npcol, r = g->myrow, c = g->mycol;
  A->mloc = numroc_(&im, &inb, &r, &zero, &pr);
  A->nloc = numroc_(&in, &inb, &c, &zero, &pc);
  la_int lld = A->mloc > 1 ? A->mloc : 1, ctxt = g->ctxt;
  descinit_(A->desc, &im, &in, &inb, &inb, &zero, &zero, &ctxt, &lld, &info);
  if (info != 0)
    return vf_error(VF_E_INTERNAL, "descinit: argument %d is wrong (%ld x %ld, block %d)",
                    -info, m, n, nb);
  return VF_OK;
}

vf_status la_dmat_create(const la_grid *g, long m, long n, int nb, la_dmat *A) {
  VF_CALL(la_dmat_describe(g, m, n, nb, A));
  return vf_calloc((size_t)A->desc[8] * (A->nloc > 0 ? A->nloc : 1), sizeof(double),
                   "distributed matrix", &A->a);
}

void la_dmat_destroy(la_dmat *A) {
  if (A) vf_free(&A->a);
}

long la_dmat_grow(const la_dmat *A, int i) {
  la_int il = i + 1, nb = A->nb, p = A->g.myrow, zero = 0, np = A->g.nprow;
  return indxl2g_(&il, &nb, &p, &zero, &np) - 1;
}

long la_dmat_gcol(const la_dmat *A, int j) {
  la_int jl = j + 1, nb = A->nb, p = A->g.mycol, zero = 0, np = A->g.npcol;
  return indxl2g_(&jl, &nb, &p, &zero, &np) - 1;
}

void la_dmat_copy(long m, long n, const la_dmat *A, long ia, long ja,
                  la_dmat *B, long ib, long jb, int ctxt) {
  if (m <= 0 || n <= 0) return;
  la_int im = (la_int)m, in = (la_int)n, ai = (la_int)ia + 1, aj = (la_int)ja + 1,
         bi = (la_int)ib + 1, bj = (la_int)jb + 1, c = ctxt;
  pdgemr2d_(&im, &in, A->a, &ai, &aj, A->desc, B->a, &bi, &bj, B->desc, &c);
}

void la_dmat_gemm(char ta, char tb, long m, long n, long k, double alpha,
                  const la_dmat *A, long ia, long ja, const la_dmat *B,
                  long ib, long jb, double beta, la_dmat *C, long ic, long jc) {
  if (m <= 0 || n <= 0) return;
  la_int im = (la_int)m, in = (la_int)n, ik = (la_int)k;
  la_int ai = (la_int)ia + 1, aj = (la_int)ja + 1, bi = (la_int)ib + 1,
         bj = (la_int)jb + 1, ci = (la_int)ic + 1, cj = (la_int)jc + 1;
  pdgemm_(&ta, &tb, &im, &in, &ik, &alpha, A->a, &ai, &aj, A->desc, B->a, &bi,
          &bj, B->desc, &beta, C->a, &ci, &cj, C->desc);
}

/* ScaLAPACK reports an illegal argument through PXERBLA and carries on:
 * PDSYEVD ignores the complaint of the PDORMTR it calls, and its
 * eigenvectors then come out wrong without an error. This PXERBLA (it
 * takes the library's place: the library calls it through its PLT)
 * records the complaint, so that la_ calls can fail instead. */
static char la_complaint[40];

void pxerbla_(const la_int *ctxt, const char *name, const la_int *info, size_t len) {
  (void)ctxt;
  int n = len < 16 ? (int)len : 16;
  while (n > 0 && name[n - 1] == ' ') n--;
  snprintf(la_complaint, sizeof la_complaint, "%.*s argument %d", n, name, (int)*info);
}

/* The complaint since the last call, as an error naming call; VF_OK if none. */
static vf_status la_take_complaint(const char *call, long n) {
  if (!la_complaint[0]) return VF_OK;
  vf_status st = vf_error(VF_E_INTERNAL, "%s (n = %ld): ScaLAPACK rejected %s", call, n,
                          la_complaint);
  la_complaint[0] = 0;
  return st;
}

/* PDSYEVD's workspace from the largest local sizes of the grid, not this
 * process's: its query answers per process, but the PDSTEDC and PDORMTR
 * it calls need the same amount on every process (a process holding
 * few columns of a small matrix was given too little). */
static long eig_lwork(const la_dmat *A, double query) {
  la_int n = (la_int)A->n, nb = A->nb, zero = 0, pr = A->g.nprow, pc = A->g.npcol;
  long np = numroc_(&n, &nb, &zero, &zero, &pr), nq = numroc_(&n, &nb, &zero, &zero, &pc);
  long evd = 1 + 6L * n + 2 * np * nq, tri = 3L * n + nb * (np + 1 > 3 ? np + 1 : 3);
  long sort = n > np * (nb + nq) ? n : np * (nb + nq);
  long ormtr = (long)nb * (nb - 1) / 2 > (nq + np + 2L * nb) * nb
                   ? (long)nb * (nb - 1) / 2 : (nq + np + 2L * nb) * nb;
  long need = evd > tri ? evd : tri;
  need = need > sort ? need : sort;
  need = need > ormtr + (long)nb * nb ? need : ormtr + (long)nb * nb;
  long q = (long)(query * 1.5);
  return (need > q ? need : q) + 4L * n + 1000;
}

/* Whether any process of A's grid has bad set: every process calls it,
 * so that all of them leave the eigensolver together (one failing alone
 * would leave the others waiting in a collective). */
static int grid_any(const la_dmat *A, int bad) {
  double f = bad;
  Cdgsum2d(A->g.ctxt, "All", " ", 1, 1, &f, 1, -1, -1);
  return f > 0;
}

/* This process's status st, or, when another process failed, an error
 * saying so: the same outcome on every process. */
static vf_status grid_status(const la_dmat *A, vf_status st, const char *what) {
  if (!grid_any(A, st != VF_OK) || st != VF_OK) return st;
  return vf_error(VF_E_NUMERIC, "%s failed on another process of the team", what);
}

/* The workspaces, or an error on every process if any lacks them (sizes
 * beyond ScaLAPACK's 32-bit integers included). */
static vf_status eig_alloc(const la_dmat *A, double q, la_int iq, double **work,
                           la_int **iwork, la_int *lwork, la_int *liwork) {
  long lw = eig_lwork(A, q), n = A->n;
  vf_status st = VF_OK;
  if (lw > INT_MAX)
    st = vf_error(VF_E_INPUT, "pdsyevd: a Gram matrix of order %ld needs %ld doubles of "
                  "workspace per process, beyond ScaLAPACK's 32-bit sizes; run the unit on "
                  "a larger team (team_size in the site config)", n, lw);
  if (!st) st = vf_calloc((size_t)lw, sizeof(double), "eigensolver workspace", work);
  if (!st) st = vf_calloc((size_t)iq + 2 * n + 100, sizeof(la_int), "eigensolver workspace",
                          iwork);
  *lwork = (la_int)(lw > INT_MAX ? 0 : lw), *liwork = (la_int)(iq + 2 * n + 100);
  st = grid_status(A, st, "allocating the eigensolver's workspace");
  if (st) vf_free(work), vf_free(iwork);
  return st;
}

vf_status la_dmat_eig(la_dmat *A, double *w, la_dmat *Z) {
  la_int n = (la_int)A->n, one = 1, info = 0, lwork = -1, liwork = 1, iq = 0;
  double q = 0, *work = NULL;
  la_int *iwork = NULL;
  la_complaint[0] = 0;
  pdsyevd_("V", "L", &n, A->a, &one, &one, A->desc, w, Z->a, &one, &one, Z->desc,
           &q, &lwork, &iq, &liwork, &info);
  vf_status st = info ? vf_error(VF_E_INTERNAL, "pdsyevd workspace query: info %d", (int)info)
                      : VF_OK;
  VF_CALL(grid_status(A, st, "the eigensolver's workspace query"));
  VF_CALL(eig_alloc(A, q, iq, &work, &iwork, &lwork, &liwork));
  pdsyevd_("V", "L", &n, A->a, &one, &one, A->desc, w, Z->a, &one, &one, Z->desc,
           work, &lwork, iwork, &liwork, &info);
  vf_free(&work), vf_free(&iwork);
  /* w as process (0, 0) has it: a process holding no block of A (a
   * matrix narrower than a block per process) is left with the
   * tridiagonal's diagonal, not the eigenvalues */
  if (A->g.myrow == 0 && A->g.mycol == 0) Cdgebs2d(A->g.ctxt, "All", " ", n, 1, w, n);
  else Cdgebr2d(A->g.ctxt, "All", " ", n, 1, w, n, 0, 0);
  st = la_take_complaint("pdsyevd", n);
  if (!st && info != 0)
    st = vf_error(VF_E_NUMERIC, "pdsyevd: info %d (n = %d): the eigensolver did not "
                  "converge", (int)info, (int)n);
  return grid_status(A, st, "pdsyevd");
}
