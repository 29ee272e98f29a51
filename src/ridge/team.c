/* The cross-validated ridge fit on a team of ranks (ridge.h): the algebra
 * of cv.inc over ScaLAPACK. Per fold the Gram matrix of the fold's
 * training features is eigendecomposed (pdsyevd), and each lambda costs a
 * column scaling of the projected evaluation features and one pdgemm.
 * Per-voxel sums are reduced over the grid's rows, so a voxel's score
 * needs no gather. */
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

/* UtY = U^T Y[training rows]: the fold's rows of U are [0, a) and [a, nf),
 * Y's [0, a) and [b, ntr). */
static void project(const tfact *F, const la_dmat *Y, long a, long b, la_dmat *UtY) {
  long ntr = Y->m, v = Y->n;
  double beta = 0;
  if (a > 0) {
    la_dmat_gemm('T', 'N', F->r, v, a, 1, &F->U, 0, 0, Y, 0, 0, 0, UtY, 0, 0);
    beta = 1;
  }
  if (ntr - b > 0)
    la_dmat_gemm('T', 'N', F->r, v, ntr - b, 1, &F->U, a, 0, Y, b, 0, beta, UtY, 0, 0);
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
 * column: centred two-pass sums as cv.inc's score. */
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
    if (kind == RIDGE_SCORE_R2) out[j] = syy > 0 ? 1.0 - res / syy : 0.0;
    else out[j] = (spp > 0 && syy > 0) ? spy / sqrt(spp * syy) : 0.0;
  }
}

/* Working matrices of one fold's scoring. */
typedef struct {
  la_dmat UtY, Yev, P, XVs;
  scorer sc;
  double *score;
} fold_work;

static void fold_work_free(fold_work *w) {
  la_dmat_destroy(&w->UtY), la_dmat_destroy(&w->Yev), la_dmat_destroy(&w->P);
  la_dmat_destroy(&w->XVs);
  scorer_free(&w->sc);
  vf_free(&w->score);
}

static vf_status fold_work_make(const tfact *F, const la_dmat *Y, fold_work *w) {
  const la_grid *g = &Y->g;
  long v = Y->n;
  vf_status st = la_dmat_create(g, F->r, v, Y->nb, &w->UtY);
  if (!st) st = la_dmat_create(g, F->nev, v, Y->nb, &w->Yev);
  if (!st) st = la_dmat_create(g, F->nev, v, Y->nb, &w->P);
  if (!st) st = la_dmat_create(g, F->nev, F->r, Y->nb, &w->XVs);
  if (!st) st = vf_calloc((size_t)w->P.nloc + 1, sizeof(double), "scores", &w->score);
  return team_agree(g, st);
}

/* Adds the fold's share (1/k) of every lambda's score to cvl (m x nloc:
 * the local columns of Y). */
static vf_status fold_scores(const tfact *F, const la_dmat *Y, long a, long b,
                             int k, const ridge_opts *o, double *cvl) {
  fold_work w;
  int m = o->n_lambdas;
  memset(&w, 0, sizeof w);
  double *f = NULL;
  vf_status st;
  VF_TRY(fold_work_make(F, Y, &w));
  VF_TRY(team_agree(&Y->g, vf_calloc((size_t)F->r, sizeof(double), "filter factors", &f)));
  la_dmat_copy(F->nev, Y->n, Y, a, 0, &w.Yev, 0, 0, Y->g.ctxt);
  VF_TRY(team_agree(&Y->g, scorer_make(&w.Yev, &w.sc)));
  project(F, Y, a, b, &w.UtY);
  for (int j = 0; j < m; j++) {
    for (long t = 0; t < F->r; t++)
      f[t] = F->s[t] / (F->s[t] * F->s[t] + o->lambdas[j]);
    memcpy(w.XVs.a, F->XV.a, sizeof(double) * (size_t)F->XV.desc[8] * F->XV.nloc);
    scale_cols(&w.XVs, f);
    la_dmat_gemm('N', 'N', F->nev, Y->n, F->r, 1, &w.XVs, 0, 0, &w.UtY, 0, 0, 0, &w.P,
                 0, 0);
    score_cols(&w.P, &w.Yev, &w.sc, o->score, w.score);
    for (int c = 0; c < w.P.nloc; c++) cvl[(size_t)c * m + j] += w.score[c] / k;
  }
fail:
  fold_work_free(&w);
  vf_free(&f);
  return st;
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
  vf_status st = vf_calloc((size_t)o->n_lambdas * (Y->nloc + 1), sizeof(double),
                           "CV scores", &cvl);
  VF_TRY(team_agree(&Y->g, st));
  for (int f = 0; f < M->k; f++)
    VF_TRY(fold_scores(&M->folds[f], Y, M->start[f], M->start[f + 1], M->k, o, cvl));
  replicate(Y, cvl, o->n_lambdas, cv);
fail:
  vf_free(&cvl);
  return st;
}

/* UtY's column c times the filter of voxel c's lambda (masked: any). */
static void filter_by_voxel(const tfact *F, const int *best, const ridge_opts *o,
                            la_dmat *UtY) {
  for (int j = 0; j < UtY->nloc; j++) {
    int bi = best[la_dmat_gcol(UtY, j)];
    double lam = o->lambdas[bi < 0 ? 0 : bi], *col = col_ptr(UtY, j);
    for (int i = 0; i < UtY->mloc; i++) {
      double s = F->s[la_dmat_grow(UtY, i)];
      col[i] *= s / (s * s + lam);
    }
  }
}

/* Refit on every training row with each voxel's lambda: test scores (on
 * every rank: tr is 2 x v, r then R^2), and on request the predictions
 * and weights. */
static vf_status refit(const tfact *F, const la_dmat *Y, const la_dmat *Yte, const int *best,
                       const ridge_opts *o, double *tr, ridge_team_result *res) {
  const la_grid *g = &Y->g;
  long ntr = Y->m, v = Y->n, nte = Yte->m, p = F->V.m;
  la_dmat UtY = {0}, P = {0};
  scorer sc = {0};
  double *loc = NULL, *one = NULL;
  vf_status st = la_dmat_create(g, F->r, v, Y->nb, &UtY);
  if (!st) st = la_dmat_create(g, nte, v, Y->nb, &P);
  if (!st) st = vf_calloc(2 * ((size_t)P.nloc + 1), sizeof(double), "test scores", &loc);
  if (!st) st = vf_calloc((size_t)P.nloc + 1, sizeof(double), "test scores", &one);
  if (!st) st = scorer_make(Yte, &sc);
  VF_TRY(team_agree(g, st));
  project(F, Y, ntr, ntr, &UtY);
  filter_by_voxel(F, best, o, &UtY);
  la_dmat_gemm('N', 'N', nte, v, F->r, 1, &F->XV, 0, 0, &UtY, 0, 0, 0, &P, 0, 0);
  score_cols(&P, Yte, &sc, RIDGE_SCORE_R, one);
  for (int j = 0; j < P.nloc; j++) loc[2 * j] = one[j];
  score_cols(&P, Yte, &sc, RIDGE_SCORE_R2, one);
  for (int j = 0; j < P.nloc; j++) loc[2 * j + 1] = one[j];
  replicate(&P, loc, 2, tr);
  if (res->weights) {
    VF_TRY(team_agree(g, la_dmat_create(g, p, v, Y->nb, res->weights)));
    la_dmat_gemm('N', 'N', p, v, F->r, 1, &F->V, 0, 0, &UtY, 0, 0, 0, res->weights, 0, 0);
  }
  if (res->test_pred) *res->test_pred = P, P.a = NULL;
fail:
  la_dmat_destroy(&UtY), la_dmat_destroy(&P);
  scorer_free(&sc);
  vf_free(&loc), vf_free(&one);
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
  ridge_choose(cv, m, v, valid, o->lambda_per_voxel, best);
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
