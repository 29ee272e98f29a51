/* The cross-validated ridge fit on a team of ranks (ridge.h): the algebra
 * of cv.inc over ScaLAPACK. Per fold the Gram matrix of the fold's
 * training features is eigendecomposed (pdsyevd); the fold's low-rank
 * filter basis turns every lambda into combinations of q basis
 * predictions, each a column scaling of the projected evaluation features
 * and one pdgemm per block of voxels. Per-voxel sums are reduced over the
 * grid's rows, so a voxel's score needs no gather. */
#include <math.h>
#include <string.h>

#include "voxfit/linalg.h"
#include "voxfit/ridge.h"
#include "choose.h"

/* Every rank learns whether any failed, so none is left waiting in a
 * collective call the others skipped. */
static vf_status team_agree(const la_grid *g, vf_status st) {
  double f = st != VF_OK;
  Cdgsum2d(g->ctxt, "All", " ", 1, 1, &f, 1, -1, -1);
  if (st == VF_OK && f > 0)
    return vf_error(VF_E_NUMERIC, "another rank of the team failed");
  return st;
}

/* One factorisation: F = U S V^T of the fold's training features, with
 * the evaluation features projected on V. */
typedef struct {
  long nf, nev, r;
  double *s; /* r, on every rank */
  la_dmat U; /* nf x r */
  la_dmat V; /* p x r */
  la_dmat XV; /* nev x r */
} tfact;

static void tfact_free(tfact *F) {
  vf_free(&F->s);
  la_dmat_destroy(&F->U), la_dmat_destroy(&F->V), la_dmat_destroy(&F->XV);
}

static double *col_ptr(const la_dmat *M, int j) {
  return M->a + (size_t)j * M->desc[8];
}

/* Column j (global) of M times f[j]. */
static void scale_cols(la_dmat *M, const double *f) {
  for (int j = 0; j < M->nloc; j++) {
    double c = f[la_dmat_gcol(M, j)], *col = col_ptr(M, j);
    for (int i = 0; i < M->mloc; i++) col[i] *= c;
  }
}

/* Eigenpairs above rounding level (as cv.inc's gram_eigen): the first
 * kept index of the ascending w[0..n), and the singular values. */
static long keep_from(const double *w, long n) {
  long first = 0;
  while (first < n - 1 && !(w[first] > 1e-12 * w[n - 1])) first++;
  return first;
}

/* The Gram matrix of A (nf x p), the smaller one, eigendecomposed: its
 * vectors in Z, its values in w. dual: K = A A^T (nf x nf). */
static vf_status gram_eig(const la_dmat *A, int dual, la_dmat *Z, double *w) {
  la_dmat G;
  long n = Z->n;
  vf_status st = la_dmat_create(&A->g, n, n, A->nb, &G);
  VF_CALL(team_agree(&A->g, st));
  la_int in = (la_int)n, ik = (la_int)(dual ? A->n : A->m), one = 1;
  double alpha = 1, beta = 0;
  pdsyrk_("L", dual ? "N" : "T", &in, &ik, &alpha, A->a, &one, &one, A->desc, &beta,
          G.a, &one, &one, G.desc);
  st = la_dmat_eig(&G, w, Z);
  la_dmat_destroy(&G);
  return team_agree(&A->g, st);
}

/* U, s, V from the eigenpairs [first, n) of A's Gram matrix: in the dual
 * form U = Z and V = A^T U S^-1, else V = Z and U = A V S^-1. */
static vf_status factors(const la_dmat *A, int dual, const la_dmat *Z,
                         const double *w, long first, tfact *F) {
  long n = Z->n, r = n - first, p = A->n;
  const la_grid *g = &A->g;
  double *inv = NULL;
  F->r = r;
  vf_status st = vf_calloc((size_t)r, sizeof(double), "singular values", &F->s);
  if (!st) st = vf_calloc((size_t)(dual ? p : F->nf), sizeof(double), "scales", &inv);
  if (!st) st = la_dmat_create(g, F->nf, r, A->nb, &F->U);
  if (!st) st = la_dmat_create(g, p, r, A->nb, &F->V);
  st = team_agree(g, st);
  for (long t = 0; st == VF_OK && t < r; t++) {
    F->s[t] = sqrt(w[first + t] > 0 ? w[first + t] : 0);
    inv[t] = F->s[t] > 0 ? 1 / F->s[t] : 0;
  }
  if (st == VF_OK && dual) {
    la_dmat_copy(F->nf, r, Z, 0, first, &F->U, 0, 0, g->ctxt);
    la_dmat_gemm('T', 'N', p, r, F->nf, 1, A, 0, 0, &F->U, 0, 0, 0, &F->V, 0, 0);
    scale_cols(&F->V, inv);
  } else if (st == VF_OK) {
    la_dmat_copy(p, r, Z, 0, first, &F->V, 0, 0, g->ctxt);
    la_dmat_gemm('N', 'N', F->nf, r, p, 1, A, 0, 0, &F->V, 0, 0, 0, &F->U, 0, 0);
    scale_cols(&F->U, inv);
  }
  vf_free(&inv);
  return st;
}

/* Factorise the training rows [0, a) and [b, ntr) of X and project the
 * evaluation rows [e0, e0 + nev) of E. */
static vf_status fact_make(const la_dmat *X, long a, long b, const la_dmat *E,
                           long e0, long nev, tfact *F) {
  const la_grid *g = &X->g;
  long ntr = X->m, p = X->n;
  la_dmat A = {0}, Z = {0};
  double *w = NULL;
  memset(F, 0, sizeof *F);
  F->nf = ntr - (b - a), F->nev = nev;
  int dual = p > F->nf;
  long n = dual ? F->nf : p;
  vf_status st = la_dmat_create(g, F->nf, p, X->nb, &A);
  if (!st) st = la_dmat_create(g, n, n, X->nb, &Z);
  if (!st) st = vf_calloc((size_t)n, sizeof(double), "Gram eigenvalues", &w);
  VF_TRY(team_agree(g, st));
  la_dmat_copy(a, p, X, 0, 0, &A, 0, 0, g->ctxt);
  la_dmat_copy(ntr - b, p, X, b, 0, &A, a, 0, g->ctxt);
  VF_TRY(gram_eig(&A, dual, &Z, w));
  VF_TRY(factors(&A, dual, &Z, w, keep_from(w, n), F));
  la_dmat_destroy(&Z);
  VF_TRY(team_agree(g, la_dmat_create(g, nev, F->r, X->nb, &F->XV)));
  la_dmat_gemm('N', 'N', nev, F->r, p, 1, E, e0, 0, &F->V, 0, 0, 0, &F->XV, 0, 0);
fail:
  la_dmat_destroy(&A), la_dmat_destroy(&Z);
  vf_free(&w);
  if (st) tfact_free(F);
  return st;
}

/* Sums over the grid's rows of q values per local column (buf: q x nloc);
 * every process of a grid column holds the same columns. */
static void col_sum(const la_dmat *M, double *buf, int q) {
  if (M->nloc > 0) Cdgsum2d(M->g.ctxt, "Column", " ", q, M->nloc, buf, q, -1, -1);
}

/* Per local column of Y: its mean and centred sum of squares. */
static void y_stats(const la_dmat *Y, double *my, double *syy) {
  for (int j = 0; j < Y->nloc; j++) {
    const double *y = col_ptr(Y, j);
    my[j] = 0;
    for (int i = 0; i < Y->mloc; i++) my[j] += y[i];
  }
  col_sum(Y, my, 1);
  for (int j = 0; j < Y->nloc; j++) {
    const double *y = col_ptr(Y, j);
    my[j] /= (double)Y->m, syy[j] = 0;
    for (int i = 0; i < Y->mloc; i++) syy[j] += (y[i] - my[j]) * (y[i] - my[j]);
  }
  col_sum(Y, syy, 1);
}

typedef struct {
  double *my, *syy; /* per local column of the responses scored against */
  double *mp, *acc; /* nloc, 3 x nloc */
} scorer;

static void scorer_free(scorer *s) {
  vf_free(&s->my), vf_free(&s->syy), vf_free(&s->mp), vf_free(&s->acc);
}

static vf_status scorer_make(const la_dmat *Y, scorer *s) {
  size_t n = (size_t)Y->nloc + 1;
  memset(s, 0, sizeof *s);
  vf_status st = vf_calloc(n, sizeof(double), "scores", &s->my);
  if (!st) st = vf_calloc(n, sizeof(double), "scores", &s->syy);
  if (!st) st = vf_calloc(n, sizeof(double), "scores", &s->mp);
  if (!st) st = vf_calloc(3 * n, sizeof(double), "scores", &s->acc);
  if (st == VF_OK) y_stats(Y, s->my, s->syy);
  return st;
}

/* Scores of the predictions P against Y (same shape and layout), per local
 * column: centred two-pass sums as cv.inc's score (the test scores use r
 * and R^2; minus the MSE, as ridge_score_of, is not 0 on flat columns). */
static void score_cols(const la_dmat *P, const la_dmat *Y, scorer *s,
                       ridge_score kind, double *out) {
  for (int j = 0; j < P->nloc; j++) {
    const double *p = col_ptr(P, j);
    s->mp[j] = 0;
    for (int i = 0; i < P->mloc; i++) s->mp[j] += p[i];
  }
  col_sum(P, s->mp, 1);
  for (int j = 0; j < P->nloc; j++) {
    const double *p = col_ptr(P, j), *y = col_ptr(Y, j);
    double mp = s->mp[j] / (double)P->m, my = s->my[j], spp = 0, spy = 0, res = 0;
    for (int i = 0; i < P->mloc; i++) {
      double dp = p[i] - mp, e = y[i] - p[i];
      spp += dp * dp, spy += dp * (y[i] - my), res += e * e;
    }
    s->acc[3 * j] = spp, s->acc[3 * j + 1] = spy, s->acc[3 * j + 2] = res;
  }
  col_sum(P, s->acc, 3);
  for (int j = 0; j < P->nloc; j++) {
    double spp = s->acc[3 * j], spy = s->acc[3 * j + 1], res = s->acc[3 * j + 2],
           syy = s->syy[j];
    if (kind == RIDGE_SCORE_NEG_MSE) out[j] = -res / (double)P->m;
    else if (ridge_flat(syy, s->my[j], P->m)) out[j] = 0.0;
    else if (kind == RIDGE_SCORE_R2) out[j] = 1.0 - res / syy;
    else out[j] = spp > 0 ? spy / sqrt(spp * syy) : 0.0;
  }
}

/* ---- CV scores: the low-rank filter basis, block by block ----------- */

/* Voxels are fitted in blocks of `per` columns per process column,
 * rounded up to a multiple of nb x npcol, so a block's local columns are
 * a contiguous run of the full matrix's (starting at c0 / npcol) and the
 * factors the products broadcast are sent once per block. */
static long block_of(const la_dmat *Y, long per) {
  long cyc = (long)Y->nb * Y->g.npcol, want = per * Y->g.npcol;
  long w = (want + cyc - 1) / cyc * cyc;
  return w < Y->n ? w : Y->n;
}

static long block_cols(const la_dmat *Y) { return block_of(Y, 2048); }

/* The scoring blocks: each voxel of a block holds q basis predictions of
 * n_eval rows, so their width per process column keeps that workspace
 * within the rank's share of the responses (between 256 and 2048
 * columns): the per-rank memory then falls with the team size. */
static long score_block_cols(const la_dmat *Y, int q, long nev) {
  double share = (double)Y->m * ((Y->n + Y->g.npcol - 1) / Y->g.npcol);
  long per = (long)(share / ((q + 1.0) * nev));
  return block_of(Y, per < 256 ? 256 : per > 2048 ? 2048 : per);
}

/* One fold's basis: every lambda's held-out predictions are combinations
 * (A) of q basis predictions XV diag(Vt[:, t]) U^T Y, as in cv.inc. */
typedef struct {
  int q;
  long w;         /* voxels per block */
  double *A, *Vt; /* m x q, r x q */
  la_dmat *XVB;   /* q matrices nev x r: XV scaled by basis t */
  la_dmat UtY, Yev, *M; /* r x w, nev x w, q x (nev x w) */
  double *sum, *cross; /* (q + 1) x nloc, (q + 1)(q + 2) / 2 x nloc */
  double *work;        /* mloc x (q + 1): one column's centred basis and y */
  double *GA;          /* q x m: ridge_basis_scores' workspace */
} fold_basis;

static void fold_basis_free(fold_basis *B, int m) {
  for (int t = 0; B->XVB && t < m; t++) la_dmat_destroy(&B->XVB[t]);
  for (int t = 0; B->M && t < m; t++) la_dmat_destroy(&B->M[t]);
  vf_free(&B->XVB), vf_free(&B->M), vf_free(&B->A), vf_free(&B->Vt);
  la_dmat_destroy(&B->UtY), la_dmat_destroy(&B->Yev);
  vf_free(&B->sum), vf_free(&B->cross), vf_free(&B->work), vf_free(&B->GA);
}

/* Buffers for every fold at once (their largest nev and r, q <= m), so
 * the folds reuse them: only the descriptors change from fold to fold. */
static vf_status fold_basis_alloc(long nev, long r, const la_dmat *Y, int m, int nlam,
                                  fold_basis *B) {
  /* m: the largest basis of any fold; nlam: the lambdas */
  const la_grid *g = &Y->g;
  long w = score_block_cols(Y, m, nev);
  int nq = (m + 1) * (m + 2) / 2;
  memset(B, 0, sizeof *B);
  B->q = m, B->w = w; /* q: for fold_basis_free */
  vf_status st = vf_calloc((size_t)m, sizeof(la_dmat), "basis features", &B->XVB);
  if (!st) st = vf_calloc((size_t)m, sizeof(la_dmat), "basis predictions", &B->M);
  for (int t = 0; t < m && !st; t++) st = la_dmat_create(g, nev, r, Y->nb, &B->XVB[t]);
  for (int t = 0; t < m && !st; t++) st = la_dmat_create(g, nev, w, Y->nb, &B->M[t]);
  if (!st) st = la_dmat_create(g, r, w, Y->nb, &B->UtY);
  if (!st) st = la_dmat_create(g, nev, w, Y->nb, &B->Yev);
  if (!st) st = vf_calloc((size_t)(m + 1) * (B->Yev.nloc + 1), sizeof(double), "sums", &B->sum);
  if (!st) st = vf_calloc((size_t)nq * (B->Yev.nloc + 1), sizeof(double), "sums", &B->cross);
  if (!st) st = vf_calloc((size_t)(m + 1) * (B->Yev.mloc + 1), sizeof(double), "sums", &B->work);
  if (!st) st = vf_calloc((size_t)m * nlam, sizeof(double), "scoring workspace", &B->GA);
  return team_agree(g, st);
}

/* A to m x n in its own buffer (large enough: made for the largest). */
static void redescribe(la_dmat *A, long m, long n) {
  double *a = A->a;
  la_grid g = A->g;
  la_dmat_describe(&g, m, n, A->nb, A);
  A->a = a;
}

/* Fold F's filter basis, and the basis features XV diag(Vt[:, t]). */
static vf_status fold_basis_set(const tfact *F, const la_dmat *Y, const ridge_opts *o,
                                fold_basis *B) {
  long w = B->w;
  int q;
  vf_free(&B->A), vf_free(&B->Vt);
  vf_status st = ridge_filter_basis(F->s, F->r, o->lambdas, o->n_lambdas, 1e-13, &q, &B->A,
                                    &B->Vt);
  VF_CALL(team_agree(&Y->g, st));
  B->q = q;
  for (int t = 0; t < q; t++) redescribe(&B->XVB[t], F->nev, F->r), redescribe(&B->M[t], F->nev, w);
  redescribe(&B->UtY, F->r, w), redescribe(&B->Yev, F->nev, w);
  for (int t = 0; t < q; t++) {
    la_dmat *X = &B->XVB[t];
    memcpy(X->a, F->XV.a, sizeof(double) * (size_t)F->XV.desc[8] * F->XV.nloc);
    for (int j = 0; j < X->nloc; j++) {
      double c = B->Vt[la_dmat_gcol(X, j) * q + t], *col = col_ptr(X, j);
      for (int i = 0; i < X->mloc; i++) col[i] *= c;
    }
  }
  return VF_OK;
}

/* Per local column of a block (wl of them): sums of the q basis
 * predictions and of y, then, from the centred columns [M_1 .. M_q, y],
 * their Gram matrix (one syrk: the basis's Gram matrix, the cross
 * products c_t and syy), each summed over the grid's rows. Returns them in
 * B->sum and B->cross (packed lower, (q + 1)(q + 2) / 2 per column). */
static void basis_sums(fold_basis *B, int wl, long nev, double *work) {
  int q = B->q, ns = q + 1, nc = ns * (ns + 1) / 2, ml = B->Yev.mloc;
  double S[ns * ns];
  for (int j = 0; j < wl; j++) {
    double *s = B->sum + (size_t)j * ns;
    for (int t = 0; t < ns; t++) {
      const double *c = t < q ? col_ptr(&B->M[t], j) : col_ptr(&B->Yev, j);
      s[t] = 0;
      for (int i = 0; i < ml; i++) s[t] += c[i];
    }
  }
  if (B->Yev.g.nprow > 1 && wl > 0)
    Cdgsum2d(B->Yev.g.ctxt, "Column", " ", ns, wl, B->sum, ns, -1, -1);
  for (int j = 0; j < wl; j++) {
    const double *s = B->sum + (size_t)j * ns;
    double *x = B->cross + (size_t)j * nc;
    for (int t = 0; t < ns; t++) {
      const double *c = t < q ? col_ptr(&B->M[t], j) : col_ptr(&B->Yev, j);
      double mu = s[t] / nev, *d = work + (size_t)t * ml;
      for (int i = 0; i < ml; i++) d[i] = c[i] - mu;
    }
    la_dsyrk_t(ns, ml, 1, work, ml > 0 ? ml : 1, 0, S, ns);
    for (int t = 0, at = 0; t < ns; t++)
      for (int u = t; u < ns; u++) x[at++] = ml > 0 ? S[t * ns + u] : 0;
  }
  if (B->Yev.g.nprow > 1 && wl > 0)
    Cdgsum2d(B->Yev.g.ctxt, "Column", " ", nc, wl, B->cross, nc, -1, -1);
}

/* Every lambda's score of local column j from its sums, through
 * ridge_basis_scores (as cv.inc's score_voxel). */
static void basis_scores(const fold_basis *B, int j, long nev, int m, ridge_score kind,
                         double weight, double *cv) {
  int q = B->q, ns = q + 1, nc = ns * (ns + 1) / 2;
  const double *s = B->sum + (size_t)j * ns, *x = B->cross + (size_t)j * nc;
  double G[ns * ns], mu[ns];
  for (int t = 0, at = 0; t < ns; t++) /* unpack the lower triangle */
    for (int u = t; u < ns; u++, at++) G[t * ns + u] = G[u * ns + t] = x[at];
  for (int t = 0; t < ns; t++) mu[t] = s[t] / nev;
  /* G's column q holds the basis's products with y, and y's own */
  ridge_basis_scores(B->A, q, m, G, ns, G + (size_t)q * ns, mu, mu[q], G[q * ns + q], nev,
                     kind, weight, B->GA, cv);
}

/* UtY = U^T Y[training rows, c0 .. c0 + w): the fold's rows of U are
 * [0, a) and [a, nf), Y's [0, a) and [b, ntr). */
static void project_block(const tfact *F, const la_dmat *Y, long a, long b, long c0, long w,
                          la_dmat *UtY) {
  long ntr = Y->m;
  double beta = 0;
  if (a > 0) {
    la_dmat_gemm('T', 'N', F->r, w, a, 1, &F->U, 0, 0, Y, 0, c0, 0, UtY, 0, 0);
    beta = 1;
  }
  if (ntr - b > 0)
    la_dmat_gemm('T', 'N', F->r, w, ntr - b, 1, &F->U, a, 0, Y, b, c0, beta, UtY, 0, 0);
}

/* Adds the fold's share (1/k) of every lambda's score to cvl (m x nloc:
 * the local columns of Y): per block of voxels, the projection, q basis
 * products, and the per-voxel sums. */
static vf_status fold_scores(const tfact *F, const la_dmat *Y, long a, long b, int k,
                             const ridge_opts *o, fold_basis *B, double *cvl) {
  long w = B->w, nev = F->nev;
  VF_CALL(fold_basis_set(F, Y, o, B));
  for (long c0 = 0; c0 < Y->n; c0 += w) {
    long wb = c0 + w <= Y->n ? w : Y->n - c0;
    project_block(F, Y, a, b, c0, wb, &B->UtY);
    la_dmat_copy(nev, wb, Y, a, c0, &B->Yev, 0, 0, Y->g.ctxt);
    for (int t = 0; t < B->q; t++)
      la_dmat_gemm('N', 'N', nev, wb, F->r, 1, &B->XVB[t], 0, 0, &B->UtY, 0, 0, 0, &B->M[t], 0, 0);
    la_int iwb = (la_int)wb, inb = Y->nb, me = Y->g.mycol, zero = 0, np = Y->g.npcol;
    int wl = numroc_(&iwb, &inb, &me, &zero, &np);
    basis_sums(B, wl, nev, B->work);
    long off = c0 / Y->g.npcol; /* the block's first local column */
    for (int j = 0; j < wl; j++)
      basis_scores(B, j, nev, o->n_lambdas, o->score, 1.0 / k, cvl + (size_t)(off + j) * o->n_lambdas);
  }
  return VF_OK;
}

/* Spreads per-local-column values (q x nloc of M's columns) into q x v
 * arrays on every rank: the first grid row contributes, the others add
 * zeros, so the sums are exact. */
static void replicate(const la_dmat *M, const double *loc, int q, double *all) {
  memset(all, 0, sizeof(double) * (size_t)q * M->n);
  for (int j = 0; M->g.myrow == 0 && j < M->nloc; j++)
    memcpy(all + (size_t)q * la_dmat_gcol(M, j), loc + (size_t)q * j, sizeof(double) * q);
  Cdgsum2d(M->g.ctxt, "All", " ", q, (int)M->n, all, q, -1, -1);
}

/* The factorisations of one design on a team: every fold's and the
 * refit's, made once and fitted to any number of response blocks. */
struct ridge_team_model {
  long ntr, p, nte;
  int k, m;
  long *start;
  double *lambdas;
  tfact *folds; /* k */
  tfact refit;
  size_t bytes; /* this rank's share */
};

static vf_status cv_scores(const ridge_team_model *M, const la_dmat *Y, const ridge_opts *o,
                           double *cv) {
  double *cvl = NULL;
  fold_basis B = {0};
  long nev = 0, r = 0;
  for (int f = 0; f < M->k; f++) {
    if (M->folds[f].nev > nev) nev = M->folds[f].nev;
    if (M->folds[f].r > r) r = M->folds[f].r;
  }
  int qmax = 1;
  vf_status st = vf_calloc((size_t)o->n_lambdas * (Y->nloc + 1), sizeof(double),
                           "CV scores", &cvl);
  for (int f = 0; f < M->k && st == VF_OK; f++) { /* the widest basis sizes the buffers */
    double *A = NULL, *Vt = NULL;
    int q = 0;
    st = ridge_filter_basis(M->folds[f].s, M->folds[f].r, o->lambdas, o->n_lambdas, 1e-13, &q,
                            &A, &Vt);
    qmax = q > qmax ? q : qmax;
    vf_free(&A), vf_free(&Vt);
  }
  VF_TRY(team_agree(&Y->g, st));
  VF_TRY(fold_basis_alloc(nev, r, Y, qmax, o->n_lambdas, &B));
  for (int f = 0; f < M->k; f++)
    VF_TRY(fold_scores(&M->folds[f], Y, M->start[f], M->start[f + 1], M->k, o, &B, cvl));
  replicate(Y, cvl, o->n_lambdas, cv);
fail:
  fold_basis_free(&B, qmax);
  vf_free(&cvl);
  return st;
}

/* UtY's columns j < wb (voxels c0 + j) times the filter of that voxel's lambda
 * (masked: any). */
static void filter_by_voxel(const tfact *F, const int *best, long c0, long wb,
                            const ridge_opts *o, la_dmat *UtY) {
  for (int j = 0; j < UtY->nloc; j++) {
    long c = la_dmat_gcol(UtY, j);
    if (c >= wb) break; /* the last block is narrower */
    int bi = best[c0 + c];
    double lam = o->lambdas[bi < 0 ? 0 : bi], *col = col_ptr(UtY, j);
    for (int i = 0; i < UtY->mloc; i++) {
      double s = F->s[la_dmat_grow(UtY, i)];
      col[i] *= s / (s * s + lam);
    }
  }
}

/* Test scores of the predictions P (on every rank: tr is 2 x v, r then
 * R^2). */
static vf_status test_scores(const la_dmat *P, const la_dmat *Yte, double *tr) {
  scorer sc = {0};
  double *loc = NULL, *one = NULL;
  vf_status st = vf_calloc(2 * ((size_t)P->nloc + 1), sizeof(double), "test scores", &loc);
  if (!st) st = vf_calloc((size_t)P->nloc + 1, sizeof(double), "test scores", &one);
  if (!st) st = scorer_make(Yte, &sc);
  VF_TRY(team_agree(&P->g, st));
  score_cols(P, Yte, &sc, RIDGE_SCORE_R, one);
  for (int j = 0; j < P->nloc; j++) loc[2 * j] = one[j];
  score_cols(P, Yte, &sc, RIDGE_SCORE_R2, one);
  for (int j = 0; j < P->nloc; j++) loc[2 * j + 1] = one[j];
  replicate(P, loc, 2, tr);
fail:
  scorer_free(&sc);
  vf_free(&loc), vf_free(&one);
  return st;
}

/* Refit on every training row with each voxel's lambda, block by block:
 * test predictions, scores, and on request the weights. */
static vf_status refit(const tfact *F, const la_dmat *Y, const la_dmat *Yte, const int *best,
                       const ridge_opts *o, double *tr, ridge_team_result *res) {
  const la_grid *g = &Y->g;
  long ntr = Y->m, v = Y->n, nte = Yte->m, p = F->V.m, w = block_cols(Y);
  la_dmat UtY = {0}, P = {0};
  vf_status st = la_dmat_create(g, F->r, w, Y->nb, &UtY);
  if (!st) st = la_dmat_create(g, nte, v, Y->nb, &P);
  if (!st && res->weights) st = la_dmat_create(g, p, v, Y->nb, res->weights);
  VF_TRY(team_agree(g, st));
  for (long c0 = 0; c0 < v; c0 += w) {
    long wb = c0 + w <= v ? w : v - c0;
    project_block(F, Y, ntr, ntr, c0, wb, &UtY);
    filter_by_voxel(F, best, c0, wb, o, &UtY);
    la_dmat_gemm('N', 'N', nte, wb, F->r, 1, &F->XV, 0, 0, &UtY, 0, 0, 0, &P, 0, c0);
    if (res->weights)
      la_dmat_gemm('N', 'N', p, wb, F->r, 1, &F->V, 0, 0, &UtY, 0, 0, 0, res->weights, 0, c0);
  }
  VF_TRY(test_scores(&P, Yte, tr));
  if (res->test_pred) *res->test_pred = P, P.a = NULL;
fail:
  la_dmat_destroy(&UtY), la_dmat_destroy(&P);
  return st;
}

/* Masked voxels: NaN in every output. */
static void mask_dmat(la_dmat *M, const int *best) {
  for (int j = 0; M && M->a && j < M->nloc; j++)
    if (best[la_dmat_gcol(M, j)] < 0)
      for (int i = 0; i < M->mloc; i++) col_ptr(M, j)[i] = NAN;
}

static void fill(const double *cv, const double *tr, const int *best, long v,
                 const ridge_opts *o, ridge_team_result *res) {
  int m = o->n_lambdas;
  res->n_masked = 0;
  for (long c = 0; c < v; c++) {
    int b = best[c];
    if (res->cv_scores) memcpy(res->cv_scores + (size_t)c * m, cv + (size_t)c * m, sizeof(double) * m);
    res->best_lambda[c] = b < 0 ? NAN : o->lambdas[b];
    if (res->cv_best) res->cv_best[c] = b < 0 ? NAN : cv[(size_t)c * m + b];
    res->test_r[c] = b < 0 ? NAN : tr[2 * c];
    res->test_r2[c] = b < 0 ? NAN : tr[2 * c + 1];
    res->n_masked += b < 0;
  }
  mask_dmat(res->test_pred, best);
  mask_dmat(res->weights, best);
}

static vf_status check_design(const la_dmat *Xtr, const long *start, int k,
                              const la_dmat *Xte, const ridge_opts *o) {
  long ntr = Xtr->m, nte = Xte->m;
  if (ntr < 2 || nte < 2 || Xtr->n < 1)
    return vf_error(VF_E_INPUT, "ridge: need >= 2 training and >= 2 test stimuli and "
                    ">= 1 feature (got %ld, %ld, %ld)", ntr, nte, Xtr->n);
  if (Xte->n != Xtr->n)
    return vf_error(VF_E_INTERNAL, "ridge team fit: the features' shapes disagree");
  if (k < 2 || start[0] != 0 || start[k] != ntr)
    return vf_error(VF_E_INTERNAL, "ridge: bad fold layout (%d folds)", k);
  for (int f = 0; f < k; f++)
    if (start[f + 1] - start[f] < 2 || ntr - (start[f + 1] - start[f]) < 1)
      return vf_error(VF_E_INPUT, "fold %d has %ld evaluation and %ld training rows; "
                      "use fewer folds", f, start[f + 1] - start[f],
                      ntr - (start[f + 1] - start[f]));
  if (o->n_lambdas < 1) return vf_error(VF_E_INPUT, "ridge: empty lambda grid");
  for (int j = 0; j < o->n_lambdas; j++)
    if (!(o->lambdas[j] > 0) || (j && !(o->lambdas[j] > o->lambdas[j - 1])))
      return vf_error(VF_E_INPUT, "ridge: lambdas must be positive and ascending");
  return VF_OK;
}

void ridge_team_model_destroy(ridge_team_model **mp) {
  if (!mp || !*mp) return;
  ridge_team_model *M = *mp;
  for (int f = 0; M->folds && f < M->k; f++) tfact_free(&M->folds[f]);
  tfact_free(&M->refit);
  vf_free(&M->folds), vf_free(&M->start), vf_free(&M->lambdas);
  vf_free(mp);
}

static size_t tfact_bytes(const tfact *F) {
  return sizeof(double) * ((size_t)F->U.desc[8] * F->U.nloc + (size_t)F->V.desc[8] * F->V.nloc +
                           (size_t)F->XV.desc[8] * F->XV.nloc + F->r);
}

static vf_status model_alloc(const la_dmat *Xtr, const long *start, int k, long nte,
                             const ridge_opts *o, ridge_team_model **out) {
  ridge_team_model *M = NULL;
  vf_status st = vf_calloc(1, sizeof *M, "team model", &M);
  if (!st) {
    M->ntr = Xtr->m, M->p = Xtr->n, M->nte = nte, M->k = k, M->m = o->n_lambdas;
    st = vf_calloc((size_t)k + 1, sizeof(long), "fold starts", &M->start);
  }
  if (!st) st = vf_calloc((size_t)o->n_lambdas, sizeof(double), "lambdas", &M->lambdas);
  if (!st) st = vf_calloc((size_t)k, sizeof(tfact), "folds", &M->folds);
  if (st == VF_OK) {
    memcpy(M->start, start, sizeof(long) * ((size_t)k + 1));
    memcpy(M->lambdas, o->lambdas, sizeof(double) * (size_t)o->n_lambdas);
  }
  *out = M;
  return team_agree(&Xtr->g, st);
}

vf_status ridge_team_model_create(const la_dmat *Xtr, const long *fold_start, int k,
                                  const la_dmat *Xte, const ridge_opts *o,
                                  ridge_team_model **out) {
  ridge_team_model *M = NULL;
  vf_status st;
  *out = NULL;
  VF_CALL(check_design(Xtr, fold_start, k, Xte, o));
  VF_TRY(model_alloc(Xtr, fold_start, k, Xte->m, o, &M));
  for (int f = 0; f < k; f++) {
    long a = fold_start[f], b = fold_start[f + 1];
    VF_TRY(fact_make(Xtr, a, b, Xtr, a, b - a, &M->folds[f]));
    M->bytes += tfact_bytes(&M->folds[f]);
  }
  VF_TRY(fact_make(Xtr, Xtr->m, Xtr->m, Xte, 0, Xte->m, &M->refit));
  M->bytes += tfact_bytes(&M->refit);
  *out = M;
  return VF_OK;
fail:
  ridge_team_model_destroy(&M);
  return st;
}

size_t ridge_team_model_bytes(const ridge_team_model *M) { return M->bytes; }

vf_status ridge_team_model_fit(const ridge_team_model *M, const la_dmat *Ytr,
                               const la_dmat *Yte, const unsigned char *valid,
                               const ridge_opts *o, ridge_team_result *res) {
  long v = Ytr->n;
  int m = o->n_lambdas, *best = NULL;
  double *cv = NULL, *tr = NULL;
  int same = Ytr->m == M->ntr && Yte->m == M->nte && Yte->n == v && m == M->m;
  for (int j = 0; same && j < m; j++) same = M->lambdas[j] == o->lambdas[j];
  if (!same)
    return vf_error(VF_E_INTERNAL, "ridge team model: the responses or lambdas do not match "
                    "the model's design");
  if (v == 0) return VF_OK;
  vf_status st = vf_calloc((size_t)m * v + 1, sizeof(double), "CV scores", &cv);
  if (!st) st = vf_calloc(2 * (size_t)v + 1, sizeof(double), "test scores", &tr);
  if (!st) st = vf_calloc((size_t)v + 1, sizeof(int), "chosen lambdas", &best);
  VF_TRY(team_agree(&Ytr->g, st));
  VF_TRY(cv_scores(M, Ytr, o, cv));
  ridge_choose(cv, m, v, valid, o->lambda_per_voxel, ridge_tie(o, 0), best); /* teams: double */
  VF_TRY(refit(&M->refit, Ytr, Yte, best, o, tr, res));
  fill(cv, tr, best, v, o, res);
fail:
  vf_free(&cv), vf_free(&tr), vf_free(&best);
  return st;
}

vf_status ridge_team_fit(const la_dmat *Xtr, const la_dmat *Ytr,
                         const long *fold_start, int k, const la_dmat *Xte,
                         const la_dmat *Yte, const unsigned char *valid,
                         const ridge_opts *o, ridge_team_result *res) {
  ridge_team_model *M = NULL;
  VF_CALL(ridge_team_model_create(Xtr, fold_start, k, Xte, o, &M));
  vf_status st = ridge_team_model_fit(M, Ytr, Yte, valid, o, res);
  ridge_team_model_destroy(&M);
  return st;
}
