/* One unit on a team of ranks: each rank reads and prepares its own share
 * of the base feature columns and of the voxels (whole columns, so the
 * per-column preprocessing is the single-rank code), the shares are
 * redistributed into the block-cyclic layout of the team's grid, the fit
 * runs there (ridge_team_fit), and the per-voxel results come back to the
 * leader, which writes them like any unit. No matrix passes through one
 * rank. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "voxfit/ridge.h"
#include "voxfit/sched.h"
#include "unit.h"

/* Rank i's share of n columns in blocks of ceil(n / t): [*c0, *c0 + *cn). */
static long share(long n, int t, int i, long *c0, long *cn) {
  long b = (n + t - 1) / t;
  b = b > 0 ? b : 1;
  long a = i * b < n ? i * b : n, e = a + b < n ? a + b : n;
  *c0 = a, *cn = e - a;
  return b;
}

typedef struct {
  unit_data d;                  /* this rank's columns */
  long P, V, fb, vb, f0, v0;    /* base features, voxels, block sizes, my first */
  unsigned char *valid;         /* every voxel */
  la_dmat X, Xte, Y, Yte;       /* on the team's grid, while needed */
  la_dmat Pred, W;              /* fit outputs on the grid */
  double *best, *cvb, *tr, *tr2, *cv; /* every voxel */
  int *counts, *displs;         /* voxel shares of the team ranks */
} team_unit;

static void team_unit_free(team_unit *t) {
  unit_data_free(&t->d);
  vf_free(&t->valid);
  la_dmat_destroy(&t->X), la_dmat_destroy(&t->Xte), la_dmat_destroy(&t->Y);
  la_dmat_destroy(&t->Yte), la_dmat_destroy(&t->Pred), la_dmat_destroy(&t->W);
  vf_free(&t->best), vf_free(&t->cvb), vf_free(&t->tr), vf_free(&t->tr2), vf_free(&t->cv);
  vf_free(&t->counts), vf_free(&t->displs);
}

/* This rank's shares: base feature columns [f0, f0 + fn), voxels
 * [v0, v0 + nv) of the unit. */
static vf_status prepare(const sched_plan *p, const sched_unit *u, const cfg_ridge *rg,
                         const sched_layout *l, team_unit *t) {
  long fn, vn;
  vf_status st = unit_prepare(p, u, rg, &t->d);
  t->P = p->n_feat[u->variant], t->V = u->n_vox;
  t->fb = share(t->P, l->team_size, l->team_rank, &t->f0, &fn);
  t->vb = share(t->V, l->team_size, l->team_rank, &t->v0, &vn);
  t->d.vox = p->vox_index + u->vox0 + t->v0, t->d.nv = vn, t->d.p = fn;
  return sched_agree(l->team_comm, st);
}

/* Reads and prepares this rank's feature columns. */
static vf_status load_features(const sched_plan *p, const sched_unit *u, const cfg_ridge *rg,
                               const sched_layout *l, team_unit *t) {
  long *cols = NULL, fn = t->d.p;
  vf_status st = vf_calloc((size_t)fn + 1, sizeof(long), "feature columns", &cols);
  for (long j = 0; st == VF_OK && j < fn; j++) cols[j] = t->f0 + j;
  if (!st) st = unit_load_features(p, u, rg, cols, fn, &t->d);
  if (!st) st = unit_reorder(&t->d, t->d.Xtr, t->d.pd);
  vf_free(&cols);
  return sched_agree(l->team_comm, st);
}

/* Reads and prepares this rank's voxels. */
static vf_status load_responses(const sched_plan *p, const sched_unit *u, const cfg_ridge *rg,
                                const sched_layout *l, team_unit *t) {
  vf_status st = unit_load_responses(p, u, rg, &t->d);
  if (!st) st = unit_reorder(&t->d, t->d.Ytr, t->d.nv);
  return sched_agree(l->team_comm, st);
}

/* Every rank's voxel count and offset (times per, the values per voxel). */
static void voxel_counts(const team_unit *t, const sched_layout *l, int per) {
  for (int i = 0; i < l->team_size; i++) {
    long c0, cn;
    share(t->V, l->team_size, i, &c0, &cn);
    t->counts[i] = (int)(cn * per), t->displs[i] = (int)(c0 * per);
  }
}

/* A's columns in shares of nb on the 1 x t grid (no copy: a describes
 * this rank's share) into B's columns [b0, b0 + n) on the fit's grid. */
static void to_grid(const sched_layout *l, double *a, long m, long n, long nb,
                    la_dmat *B, long b0) {
  la_dmat S;
  la_dmat_describe(&l->row, m, n, (int)nb, &S);
  S.a = a;
  la_dmat_copy(m, n, &S, 0, 0, B, 0, b0, l->row.ctxt);
}

/* The feature shares into the team's block-cyclic layout, factorised:
 * the model of the unit's design. */
static vf_status build_model(const sched_plan *p, const cfg_ridge *rg, const sched_layout *l,
                             team_unit *t, ridge_team_model **M) {
  unit_data *d = &t->d;
  long pd = t->P * rg->n_delays, fn = d->p;
  int nb = p->site.team_block;
  vf_status st = la_dmat_create(&l->grid, d->ntr, pd, nb, &t->X);
  if (!st) st = la_dmat_create(&l->grid, d->nte, pd, nb, &t->Xte);
  VF_CALL(sched_agree(l->team_comm, st));
  /* delay k of base column j is column k * P + j (ridge_delay's order) */
  for (int k = 0; k < rg->n_delays; k++) {
    to_grid(l, d->Xtr + (size_t)k * fn * d->ntr, d->ntr, t->P, t->fb, &t->X, k * t->P);
    to_grid(l, d->Xte + (size_t)k * fn * d->nte, d->nte, t->P, t->fb, &t->Xte, k * t->P);
  }
  vf_free(&d->Xtr), vf_free(&d->Xte);
  ridge_opts o = unit_opts(rg);
  st = ridge_team_model_create(&t->X, d->start, d->k, &t->Xte, &o, M);
  la_dmat_destroy(&t->X), la_dmat_destroy(&t->Xte);
  return sched_agree(l->team_comm, st);
}

/* The response shares into the team's block-cyclic layout. */
static vf_status distribute(const sched_plan *p, const sched_layout *l, team_unit *t) {
  unit_data *d = &t->d;
  int nb = p->site.team_block;
  vf_status st = la_dmat_create(&l->grid, d->ntr, t->V, nb, &t->Y);
  if (!st) st = la_dmat_create(&l->grid, d->nte, t->V, nb, &t->Yte);
  VF_CALL(sched_agree(l->team_comm, st));
  to_grid(l, d->Ytr, d->ntr, t->V, t->vb, &t->Y, 0);
  to_grid(l, d->Yte, d->nte, t->V, t->vb, &t->Yte, 0);
  vf_free(&d->Ytr);
  return VF_OK;
}

static vf_status fit(const sched_plan *p, const cfg_ridge *rg, const sched_layout *l,
                     const ridge_team_model *M, team_unit *t, int want_pred) {
  long V = t->V;
  int m = rg->n_lambdas;
  vf_status st = vf_calloc((size_t)V + 1, 1, "voxel mask", &t->valid);
  if (!st) st = vf_calloc((size_t)l->team_size, sizeof(int), "shares", &t->counts);
  if (!st) st = vf_calloc((size_t)l->team_size, sizeof(int), "shares", &t->displs);
  double **out[] = {&t->best, &t->cvb, &t->tr, &t->tr2};
  for (int i = 0; i < 4 && !st; i++) st = vf_calloc((size_t)V + 1, sizeof(double), "results", out[i]);
  if (!st && rg->save_cv_scores) st = vf_calloc((size_t)V * m + 1, sizeof(double), "CV curves", &t->cv);
  VF_CALL(sched_agree(l->team_comm, st));
  voxel_counts(t, l, 1);
  MPI_Allgatherv(t->d.valid, (int)t->d.nv, MPI_UNSIGNED_CHAR, t->valid, t->counts, t->displs,
                 MPI_UNSIGNED_CHAR, l->team_comm);
  ridge_opts o = unit_opts(rg);
  ridge_team_result res = {t->best, t->cvb, t->tr, t->tr2, t->cv, want_pred ? &t->Pred : NULL,
                           p->weight_len ? &t->W : NULL, 0};
  st = ridge_team_model_fit(M, &t->Y, &t->Yte, t->valid, &o, &res);
  la_dmat_destroy(&t->Y), la_dmat_destroy(&t->Yte);
  return sched_agree(l->team_comm, st);
}

/* A grid matrix (m x V) back to whole columns on this rank: m x vn. */
static vf_status to_columns(const sched_layout *l, const team_unit *t, la_dmat *A, la_dmat *S) {
  vf_status st = la_dmat_create(&l->row, A->m, t->V, (int)t->vb, S);
  VF_CALL(sched_agree(l->team_comm, st));
  la_dmat_copy(A->m, t->V, A, 0, 0, S, 0, 0, l->row.ctxt);
  la_dmat_destroy(A);
  return VF_OK;
}

/* Statistics of this rank's voxels, gathered into the leader's out. */
static vf_status statistics(const sched_plan *p, const sched_layout *l, team_unit *t,
                            sched_unit_out *out) {
  unit_data *d = &t->d;
  la_dmat S = {0};
  sched_unit_out part = {0};
  vf_status st = VF_OK;
  if (t->Pred.a) VF_TRY(to_columns(l, t, &t->Pred, &S));
  part.n_vox = d->nv, part.test_r = t->tr + t->v0, part.n_test = d->nte;
  double **mine[] = {&part.ev, &part.split_half, &part.test_r_norm, &part.test_p};
  for (int i = 0; i < 4 && !st; i++) st = vf_calloc((size_t)d->nv + 1, sizeof(double), "statistics", mine[i]);
  if (!st && p->job->stats.save_predictions) {
    st = vf_calloc((size_t)d->nv * d->nte + 1, sizeof(float), "test predictions", &part.pred);
    if (!st) st = vf_calloc((size_t)d->nv * d->nte + 1, sizeof(float), "test responses", &part.y);
  }
  if (!st) st = unit_test_statistics(p, d, S.a, &part);
  VF_TRY(sched_agree(l->team_comm, st));
  double *dst[] = {out ? out->ev : NULL, out ? out->split_half : NULL,
                   out ? out->test_r_norm : NULL, out ? out->test_p : NULL};
  for (int i = 0; i < 4; i++)
    MPI_Gatherv(*mine[i], (int)d->nv, MPI_DOUBLE, dst[i], t->counts, t->displs, MPI_DOUBLE, 0,
                l->team_comm);
  if (part.pred) {
    voxel_counts(t, l, (int)d->nte);
    MPI_Gatherv(part.pred, (int)(d->nv * d->nte), MPI_FLOAT, out ? out->pred : NULL, t->counts,
                t->displs, MPI_FLOAT, 0, l->team_comm);
    MPI_Gatherv(part.y, (int)(d->nv * d->nte), MPI_FLOAT, out ? out->y : NULL, t->counts,
                t->displs, MPI_FLOAT, 0, l->team_comm);
  }
fail:
  la_dmat_destroy(&S);
  for (int i = 0; i < 4; i++) vf_free(mine[i]);
  vf_free(&part.pred), vf_free(&part.y);
  return st;
}

/* Weights of this rank's voxels as floats, NaN past the variant's length,
 * gathered into the leader's out. */
static vf_status weights(const sched_plan *p, const sched_layout *l, team_unit *t,
                         const sched_unit *u, sched_unit_out *out) {
  la_dmat S = {0};
  float *w = NULL;
  long wl = p->weight_len[u->variant], pd = t->W.m, nv = t->d.nv;
  VF_CALL(to_columns(l, t, &t->W, &S));
  vf_status st = vf_calloc((size_t)nv * wl + 1, sizeof(float), "weights", &w);
  for (long j = 0; st == VF_OK && j < nv; j++)
    for (long i = 0; i < wl; i++) w[j * wl + i] = i < pd ? (float)S.a[j * pd + i] : NAN;
  la_dmat_destroy(&S);
  st = sched_agree(l->team_comm, st);
  if (st == VF_OK) {
    voxel_counts(t, l, (int)wl);
    MPI_Gatherv(w, (int)(nv * wl), MPI_FLOAT, out ? out->weights : NULL, t->counts, t->displs,
                MPI_FLOAT, 0, l->team_comm);
  }
  vf_free(&w);
  return st;
}

/* The leader's copy of the per-voxel results every rank holds. */
static void results(const team_unit *t, int m, sched_unit_out *out) {
  memcpy(out->best_lambda, t->best, sizeof(double) * t->V);
  memcpy(out->cv_best, t->cvb, sizeof(double) * t->V);
  memcpy(out->test_r, t->tr, sizeof(double) * t->V);
  memcpy(out->test_r2, t->tr2, sizeof(double) * t->V);
  for (size_t i = 0; out->cv_scores && i < (size_t)t->V * m; i++)
    out->cv_scores[i] = (float)(t->valid[i / m] ? t->cv[i] : NAN);
}

/* The design's model: the cached one, or built now (every rank of the
 * team holds the same cache, so they agree). */
static vf_status get_model(const sched_plan *p, const sched_unit *u, const cfg_ridge *rg,
                           const sched_layout *l, sched_cache *c, team_unit *t,
                           ridge_team_model **M, int *built) {
  *M = unit_cache_team(c, u->design);
  int have = *M != NULL, all = 0;
  MPI_Allreduce(&have, &all, 1, MPI_INT, MPI_MIN, l->team_comm);
  *built = !all;
  if (all) return VF_OK;
  unit_cache_set_team(c, -1, NULL);
  VF_CALL(load_features(p, u, rg, l, t));
  VF_CALL(build_model(p, rg, l, t, M));
  unit_cache_set_team(c, u->design, *M);
  return VF_OK;
}

static vf_status run(const sched_plan *p, const sched_unit *u, const sched_layout *l,
                     sched_cache *c, team_unit *t, sched_unit_out *out, int *built) {
  const cfg_ridge *rg = &p->points[u->sweep].ridge;
  int want_pred = p->job->stats.permutations > 0 || p->job->stats.save_predictions;
  ridge_team_model *M = NULL;
  if (rg->precision == CFG_PREC_SINGLE)
    return vf_error(VF_E_INPUT, "unit needs a team of %d ranks, and teams fit in double "
                    "precision only; set ridge.precision: double, or give ranks more memory",
                    l->team_size);
  VF_CALL(prepare(p, u, rg, l, t));
  VF_CALL(get_model(p, u, rg, l, c, t, &M, built));
  VF_CALL(load_responses(p, u, rg, l, t));
  VF_CALL(distribute(p, l, t));
  VF_CALL(fit(p, rg, l, M, t, want_pred)); /* leaves the counts per voxel */
  VF_CALL(statistics(p, l, t, out));
  if (p->weight_len) VF_CALL(weights(p, l, t, u, out));
  if (out) results(t, rg->n_lambdas, out);
  return VF_OK;
}

vf_status sched_team_unit_run(const sched_plan *p, int unit, const sched_layout *l,
                              sched_cache *cache, sched_unit_out *out) {
  const sched_unit *u = &p->units[unit];
  team_unit t;
  int built = 0;
  memset(&t, 0, sizeof t);
  double t0 = vf_now();
  vf_error_clear();
  vf_status st = sched_agree(l->team_comm, run(p, u, l, cache, &t, out, &built));
  team_unit_free(&t);
  if (st == VF_E_INTERNAL || !out) return st == VF_E_INTERNAL ? st : VF_OK;
  out->seconds = vf_now() - t0;
  out->status = 1, out->factorised = built;
  if (st != VF_OK) {
    unit_mark_failed(out, vf_error_message(), p->points[u->sweep].ridge.n_lambdas);
    vf_log(VF_LOG_WARN, "unit %d (%s x %s, voxels %ld..%ld, team of %d) failed: %s", unit,
           p->job->subjects[u->subject].id, p->job->variants[u->variant].id, u->vox0,
           u->vox0 + u->n_vox - 1, l->team_size, vf_error_message());
  }
  return VF_OK;
}
