/* One unit: read a variant's features and a subject's responses,
 * standardise, delay, order rows by fold, fit, summarise per ROI. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "voxfit/ridge.h"
#include "voxfit/sched.h"
#include "voxfit/stats.h"
#include "unit.h"

vf_status sched_unit_out_create(const sched_plan *p, int unit,
                                sched_unit_out **out) {
  vf_status st; /* set by every VF_TRY before fail: */
  sched_unit_out *o = NULL;
  const sched_unit *u = &p->units[unit];
  long nv = u->n_vox;
  int m = p->points[u->sweep].ridge.n_lambdas;
  *out = NULL;
  VF_TRY(vf_calloc(1, sizeof *o, "unit output", &o));
  o->n_vox = nv;
  VF_TRY(vf_calloc((size_t)nv, sizeof(double), "test r", &o->test_r));
  VF_TRY(vf_calloc((size_t)nv, sizeof(double), "test R2", &o->test_r2));
  VF_TRY(vf_calloc((size_t)nv, sizeof(double), "lambdas", &o->best_lambda));
  VF_TRY(vf_calloc((size_t)nv, sizeof(double), "CV scores", &o->cv_best));
  double **st4[] = {&o->ev, &o->split_half, &o->test_r_norm, &o->test_p};
  for (int i = 0; i < 4; i++) VF_TRY(vf_calloc((size_t)nv + 1, sizeof(double), "statistics", st4[i]));
  if (p->job->stats.save_predictions) {
    o->n_test = p->n_test[u->subject];
    VF_TRY(vf_calloc((size_t)nv * o->n_test + 1, sizeof(float), "test predictions", &o->pred));
    VF_TRY(vf_calloc((size_t)nv * o->n_test + 1, sizeof(float), "test responses", &o->y));
  }
  if (p->points[u->sweep].ridge.save_cv_scores)
    VF_TRY(vf_calloc((size_t)nv * m, sizeof(float), "CV curves", &o->cv_scores));
  if (p->weight_len) {
    o->weight_len = p->weight_len[u->variant];
    VF_TRY(vf_calloc((size_t)nv * o->weight_len, sizeof(float), "weights", &o->weights));
  }
  *out = o;
  return VF_OK;
fail:
  sched_unit_out_destroy(&o);
  return st;
}

void sched_unit_out_destroy(sched_unit_out **op) {
  if (!op || !*op) return;
  sched_unit_out *o = *op;
  vf_free(&o->test_r);
  vf_free(&o->test_r2);
  vf_free(&o->best_lambda);
  vf_free(&o->cv_best);
  vf_free(&o->ev), vf_free(&o->split_half), vf_free(&o->test_r_norm), vf_free(&o->test_p);
  vf_free(&o->pred), vf_free(&o->y);
  vf_free(&o->cv_scores);
  vf_free(&o->weights);
  vf_free(op);
}

void unit_data_free(unit_data *d) {
  vf_free(&d->Xtr), vf_free(&d->Xte), vf_free(&d->Ytr), vf_free(&d->Yte);
  vf_free(&d->run_tr), vf_free(&d->run_te), vf_free(&d->valid);
  vf_free(&d->fold), vf_free(&d->order), vf_free(&d->start);
  vf_free(&d->ev), vf_free(&d->split_half);
}

static ridge_std std_mode(cfg_std s) {
  return s == CFG_STD_ZSCORE ? RIDGE_STD_ZSCORE
                             : s == CFG_STD_CENTER ? RIDGE_STD_CENTER : RIDGE_STD_NONE;
}

/* Standardise the columns of A (n x p) within each run (run != NULL) or
 * with the statistics of ref (the training matrix, nref rows) otherwise.
 * constant (p, may be NULL) flags columns constant over the rows used. */
static vf_status standardise(double *A, long n, long p, const int *run,
                             const double *ref, long nref, ridge_std mode,
                             unsigned char *constant) {
  vf_status st = VF_OK;
  double *mean = NULL, *scale = NULL;
  long *rows = NULL;
  unsigned char *flat = NULL;
  VF_TRY(vf_calloc((size_t)p, sizeof(double), "means", &mean));
  VF_TRY(vf_calloc((size_t)p, sizeof(double), "scales", &scale));
  VF_TRY(vf_calloc((size_t)p, 1, "flags", &flat));
  if (!run) {
    ridge_std_fit(ref, nref, p, NULL, nref, mode, mean, scale, constant);
    ridge_std_apply(A, n, p, NULL, n, mode, mean, scale);
    goto fail;
  }
  VF_TRY(vf_calloc((size_t)n, sizeof(long), "run rows", &rows));
  for (long i0 = 0; i0 < n;) { /* each contiguous run */
    long nr = 0;
    for (long i = i0; i < n && run[i] == run[i0]; i++) rows[nr++] = i;
    ridge_std_fit(A, n, p, rows, nr, mode, mean, scale, flat);
    ridge_std_apply(A, n, p, rows, nr, mode, mean, scale);
    for (long j = 0; constant && j < p; j++) constant[j] |= flat[j];
    i0 += nr;
  }
fail:
  vf_free(&mean), vf_free(&scale), vf_free(&rows), vf_free(&flat);
  return st;
}

static long count_nonfinite(const double *a, size_t n) {
  long c = 0;
  for (size_t i = 0; i < n; i++) c += !isfinite(a[i]);
  return c;
}

static vf_status read_features(const cfg_variant *var, const long *rows, long n,
                               const long *cols, long ncols, double *X) {
  if (!cols)
    return io_features_read_rows(MPI_COMM_SELF, var->features, var->variable, rows, n, X);
  return io_features_read_cols(MPI_COMM_SELF, var->features, var->variable, rows, n, cols,
                               ncols, X);
}

vf_status unit_load_features(const sched_plan *p, const sched_unit *u, const cfg_ridge *rg,
                             const long *cols, long ncols, unit_data *d) {
  const cfg_variant *var = &p->job->variants[u->variant];
  int s = u->subject;
  vf_status st = VF_OK;
  double *raw_tr = NULL, *raw_te = NULL;
  d->p = cols ? ncols : p->n_feat[u->variant];
  d->pd = d->p * rg->n_delays;
  VF_TRY(vf_calloc((size_t)d->ntr * d->p, sizeof(double), "training features", &raw_tr));
  VF_TRY(vf_calloc((size_t)d->nte * d->p, sizeof(double), "test features", &raw_te));
  VF_TRY(read_features(var, p->train_rows[s], d->ntr, cols, d->p, raw_tr));
  VF_TRY(read_features(var, p->test_rows[s], d->nte, cols, d->p, raw_te));
  long bad = count_nonfinite(raw_tr, (size_t)d->ntr * d->p) +
             count_nonfinite(raw_te, (size_t)d->nte * d->p);
  if (bad)
    VF_FAIL(VF_E_INPUT, "%s: variable '%s' has %ld NaN/Inf values in the stimuli "
            "this job uses; fix the features", var->features, var->variable, bad);
  ridge_std mode = std_mode(rg->std_features);
  int per_run = rg->std_per_run && d->run_tr;
  /* test first: it needs the training statistics before they change */
  VF_TRY(standardise(raw_te, d->nte, d->p, per_run ? d->run_te : NULL, raw_tr,
                     d->ntr, mode, NULL));
  VF_TRY(standardise(raw_tr, d->ntr, d->p, per_run ? d->run_tr : NULL, raw_tr,
                     d->ntr, mode, NULL));
  VF_TRY(vf_calloc((size_t)d->ntr * d->pd, sizeof(double), "delayed features", &d->Xtr));
  VF_TRY(vf_calloc((size_t)d->nte * d->pd, sizeof(double), "delayed features", &d->Xte));
  VF_TRY(ridge_delay(raw_tr, d->ntr, d->p, d->run_tr, rg->delays, rg->n_delays, d->Xtr));
  VF_TRY(ridge_delay(raw_te, d->nte, d->p, d->run_te, rg->delays, rg->n_delays, d->Xte));
fail:
  vf_free(&raw_tr), vf_free(&raw_te);
  return st;
}

/* Test responses: the mean of the repetitions when the file has them. */
static vf_status load_test_responses(const sched_plan *p, int s, const long *vox,
                                     unit_data *d) {
  if (d->nv == 0) return VF_OK;
  const io_responses *r = p->resp[s];
  if (r->n_rep == 0)
    return io_responses_read(MPI_COMM_SELF, r, p->test_rows[s], d->nte, vox, d->nv, d->Yte);
  double *reps = NULL;
  d->n_rep = (int)r->n_rep;
  VF_CALL(vf_calloc((size_t)r->n_rep * r->n_test * d->nv, sizeof(double), "test repetitions", &reps));
  vf_status st = io_responses_read_reps(MPI_COMM_SELF, r, vox, d->nv, reps);
  for (long j = 0; st == VF_OK && j < d->nv; j++) {
    const double *y = reps + j * r->n_rep * r->n_test;
    for (long t = 0; t < d->nte; t++) {
      double sum = 0;
      for (long k = 0; k < r->n_rep; k++) sum += y[k * r->n_test + t];
      d->Yte[j * d->nte + t] = sum / r->n_rep;
    }
    /* noise ceilings from the raw repetitions (both are scale-free) */
    d->ev[j] = stats_ev(y, (int)r->n_rep, r->n_test, r->n_test);
    d->split_half[j] = stats_split_half(y, (int)r->n_rep, r->n_test, r->n_test);
  }
  vf_free(&reps);
  return st;
}

vf_status unit_load_responses(const sched_plan *p, const sched_unit *u, const cfg_ridge *rg,
                              unit_data *d) {
  int s = u->subject;
  const long *vox = d->vox;
  VF_CALL(vf_calloc((size_t)d->ntr * d->nv, sizeof(double), "training responses", &d->Ytr));
  VF_CALL(vf_calloc((size_t)d->nte * d->nv, sizeof(double), "test responses", &d->Yte));
  VF_CALL(vf_calloc((size_t)d->nv, 1, "voxel mask", &d->valid));
  VF_CALL(vf_calloc((size_t)d->nv + 1, sizeof(double), "noise ceilings", &d->ev));
  VF_CALL(vf_calloc((size_t)d->nv + 1, sizeof(double), "noise ceilings", &d->split_half));
  for (long j = 0; j < d->nv; j++) d->ev[j] = d->split_half[j] = NAN;
  if (d->nv > 0)
    VF_CALL(io_responses_read(MPI_COMM_SELF, p->resp[s], p->train_rows[s], d->ntr, vox, d->nv, d->Ytr));
  VF_CALL(load_test_responses(p, s, vox, d));
  /* A voxel is scoreable when finite everywhere and not constant over
   * training; others are zeroed so no NaN enters a product. */
  for (long j = 0; j < d->nv; j++)
    d->valid[j] = !count_nonfinite(d->Ytr + j * d->ntr, d->ntr) &&
                  !count_nonfinite(d->Yte + j * d->nte, d->nte);
  unsigned char *flat = NULL;
  VF_CALL(vf_calloc((size_t)d->nv, 1, "constant voxels", &flat));
  ridge_std mode = std_mode(rg->std_responses);
  int per_run = rg->std_per_run && d->run_tr;
  vf_status st = standardise(d->Yte, d->nte, d->nv, per_run ? d->run_te : NULL,
                             d->Ytr, d->ntr, mode, NULL);
  if (!st) st = standardise(d->Ytr, d->ntr, d->nv, per_run ? d->run_tr : NULL,
                            d->Ytr, d->ntr, mode, flat);
  for (long j = 0; j < d->nv; j++) {
    if (flat[j]) d->valid[j] = 0;
    if (d->valid[j]) continue;
    memset(d->Ytr + j * d->ntr, 0, sizeof(double) * d->ntr);
    memset(d->Yte + j * d->nte, 0, sizeof(double) * d->nte);
  }
  vf_free(&flat);
  return st;
}

/* Rows of A (ntr x cols) in fold order, in place, one column at a time. */
vf_status unit_reorder(const unit_data *d, double *A, long cols) {
  double *tmp = NULL;
  VF_CALL(vf_calloc((size_t)d->ntr, sizeof(double), "row buffer", &tmp));
  for (long j = 0; j < cols; j++) {
    double *c = A + j * d->ntr;
    for (long i = 0; i < d->ntr; i++) tmp[i] = c[d->order[i]];
    memcpy(c, tmp, sizeof(double) * d->ntr);
  }
  vf_free(&tmp);
  return VF_OK;
}

/* Rows, run labels and folds of the unit's subject. */
vf_status unit_prepare(const sched_plan *p, const sched_unit *u, const cfg_ridge *rg,
                       unit_data *d) {
  int s = u->subject;
  const io_responses *r = p->resp[s];
  d->ntr = p->n_train[s];
  d->nte = p->n_test[s];
  d->nv = u->n_vox;
  d->vox = p->vox_index + u->vox0;
  if (r->run) {
    VF_CALL(vf_calloc((size_t)d->ntr, sizeof(int), "runs", &d->run_tr));
    VF_CALL(vf_calloc((size_t)d->nte, sizeof(int), "runs", &d->run_te));
    for (long i = 0; i < d->ntr; i++) d->run_tr[i] = r->run[p->train_rows[s][i]];
    for (long i = 0; i < d->nte; i++) d->run_te[i] = r->run[p->test_rows[s][i]];
  }
  VF_CALL(vf_calloc((size_t)d->ntr, sizeof(int), "folds", &d->fold));
  VF_CALL(vf_calloc((size_t)d->ntr, sizeof(long), "fold order", &d->order));
  VF_CALL(sched_point_folds(p, s, rg, d->fold, &d->k));
  VF_CALL(vf_calloc((size_t)d->k + 1, sizeof(long), "fold starts", &d->start));
  ridge_folds_order(d->ntr, d->fold, d->k, d->order, d->start);
  return VF_OK;
}

static vf_status to_float(const double *a, size_t n, float **out) {
  VF_CALL(vf_calloc(n, sizeof(float), "single-precision copy", out));
  for (size_t i = 0; i < n; i++) (*out)[i] = (float)a[i];
  return VF_OK;
}

ridge_opts unit_opts(const cfg_ridge *rg) {
  ridge_opts o = {rg->lambdas, rg->n_lambdas,
                  rg->score == CFG_SCORE_R2        ? RIDGE_SCORE_R2
                  : rg->score == CFG_SCORE_NEG_MSE ? RIDGE_SCORE_NEG_MSE
                                                   : RIDGE_SCORE_R,
                  rg->lambda_per_voxel, 0,
                  rg->solver == CFG_SOLVER_SVD     ? RIDGE_SOLVER_SVD
                  : rg->solver == CFG_SOLVER_EIGEN ? RIDGE_SOLVER_EIGEN
                                                   : RIDGE_SOLVER_AUTO,
                  rg->cv_method == CFG_CVM_PER_FOLD   ? RIDGE_CV_PER_FOLD
                  : rg->cv_method == CFG_CVM_HELD_OUT ? RIDGE_CV_HELD_OUT
                                                      : RIDGE_CV_AUTO, 0, 0, 0};
  return o;
}

/* ---- the cache of models ------------------------------------------ */

typedef struct {
  int design;          /* -1: empty */
  int single;
  void *model;         /* ridge_model_d or ridge_model_s */
  size_t bytes;
  char error[256];     /* the design could not be factorised */
  unsigned long used;
} cache_entry;

#define CACHE_SLOTS 8
struct sched_cache {
  cache_entry e[CACHE_SLOTS];
  size_t limit;
  unsigned long clock;
  char dir[CFG_PATH_LEN + 16]; /* where models are published; "" = nowhere */
  ridge_team_model *team;      /* a team's last design, this rank's share */
  int team_design;
};

ridge_team_model *unit_cache_team(sched_cache *c, int design) {
  return c->team && c->team_design == design ? c->team : NULL;
}

void unit_cache_set_team(sched_cache *c, int design, ridge_team_model *M) {
  ridge_team_model_destroy(&c->team);
  c->team = M, c->team_design = design;
}

void sched_cache_set_dir(sched_cache *c, const char *dir) {
  snprintf(c->dir, sizeof c->dir, "%s", dir);
}

void sched_models_dir(const char *output, char *buf, size_t cap) {
  snprintf(buf, cap, "%s.models", output);
}

static void entry_clear(cache_entry *e) {
  if (e->single) ridge_model_destroy_s((ridge_model_s **)&e->model);
  else ridge_model_destroy_d((ridge_model_d **)&e->model);
  memset(e, 0, sizeof *e);
  e->design = -1;
}

vf_status sched_cache_create(const sched_plan *p, sched_cache **out) {
  VF_CALL(vf_calloc(1, sizeof **out, "model cache", out));
  for (int i = 0; i < CACHE_SLOTS; i++) (*out)->e[i].design = -1;
  (*out)->limit = (size_t)p->site.model_cache_mib << 20;
  return VF_OK;
}

void sched_cache_destroy(sched_cache **c) {
  if (!c || !*c) return;
  for (int i = 0; i < CACHE_SLOTS; i++) entry_clear(&(*c)->e[i]);
  ridge_team_model_destroy(&(*c)->team);
  vf_free(c);
}

/* A free slot, evicting the least recently used entries until the new
 * model fits the limit (the new one is always kept). */
static cache_entry *cache_slot(sched_cache *c, size_t need) {
  for (;;) {
    size_t held = 0;
    int lru = -1, empty = -1;
    for (int i = 0; i < CACHE_SLOTS; i++) {
      if (c->e[i].design < 0) {
        empty = i;
        continue;
      }
      held += c->e[i].bytes;
      if (lru < 0 || c->e[i].used < c->e[lru].used) lru = i;
    }
    if (empty >= 0 && (held + need <= c->limit || lru < 0)) return &c->e[empty];
    entry_clear(&c->e[lru]);
  }
}

/* The design's features: read, standardised, delayed, in fold order. */
static vf_status build_model(const sched_plan *p, const sched_unit *u,
                             const cfg_ridge *rg, unit_data *d, cache_entry *e) {
  vf_status st = VF_OK;
  float *xf = NULL, *tf = NULL;
  ridge_opts o = unit_opts(rg);
  VF_TRY(unit_load_features(p, u, rg, NULL, 0, d));
  VF_TRY(unit_reorder(d, d->Xtr, d->pd));
  if (rg->precision == CFG_PREC_SINGLE) {
    VF_TRY(to_float(d->Xtr, (size_t)d->ntr * d->pd, &xf));
    VF_TRY(to_float(d->Xte, (size_t)d->nte * d->pd, &tf));
    VF_TRY(ridge_model_create_s(xf, d->ntr, d->pd, d->start, d->k, tf, d->nte, &o,
                                (ridge_model_s **)&e->model));
    e->single = 1;
    e->bytes = ridge_model_bytes_s(e->model);
  } else {
    VF_TRY(ridge_model_create_d(d->Xtr, d->ntr, d->pd, d->start, d->k, d->Xte,
                                d->nte, &o, (ridge_model_d **)&e->model));
    e->bytes = ridge_model_bytes_d(e->model);
  }
fail:
  vf_free(&xf), vf_free(&tf), vf_free(&d->Xtr), vf_free(&d->Xte);
  return st;
}

/* ---- published models: files another worker wrote ---------------- */

static int file_put(void *f, const void *d, size_t n) { return fwrite(d, 1, n, f) != n; }
static int file_get(void *f, void *d, size_t n) { return fread(d, 1, n, f) != n; }

static void model_file(const sched_cache *c, const sched_plan *p, int design,
                       char *buf, size_t cap) {
  snprintf(buf, cap, "%s/%s.bin", c->dir, p->designs[design].key);
}

/* Written to a temporary name and renamed: a file that exists is whole. */
static vf_status publish(const sched_cache *c, const sched_plan *p, const cache_entry *e) {
  char path[CFG_PATH_LEN + 64], tmp[CFG_PATH_LEN + 96];
  model_file(c, p, e->design, path, sizeof path);
  snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
  if (mkdir(c->dir, 0777) != 0 && errno != EEXIST)
    return vf_error(VF_E_IO, "%s: cannot create the models folder: %m", c->dir);
  FILE *f = fopen(tmp, "wb");
  if (!f) return vf_error(VF_E_IO, "%s: cannot write: %m", tmp);
  vf_status st = e->single ? ridge_model_write_s(e->model, file_put, f)
                           : ridge_model_write_d(e->model, file_put, f);
  int err = ferror(f) ? errno : 0;
  if (fclose(f) != 0 && !err) err = errno;
  if (st != VF_OK || err) /* the model's own message names neither file nor cause */
    st = vf_error(VF_E_IO, "%s: cannot write the shared model: %s (the others factorise "
                  "it themselves; free space there to share it)", tmp,
                  strerror(err ? err : EIO));
  if (st == VF_OK && rename(tmp, path) != 0)
    st = vf_error(VF_E_IO, "%s: cannot rename to %s: %m", tmp, path);
  if (st) unlink(tmp);
  return st;
}

static vf_status load(const sched_cache *c, const sched_plan *p, const cfg_ridge *rg,
                      cache_entry *e) {
  char path[CFG_PATH_LEN + 64];
  model_file(c, p, e->design, path, sizeof path);
  FILE *f = fopen(path, "rb");
  if (!f) return vf_error(VF_E_IO, "%s: cannot read: %m", path);
  e->single = rg->precision == CFG_PREC_SINGLE;
  vf_status st = e->single ? ridge_model_read_s(file_get, f, (ridge_model_s **)&e->model)
                           : ridge_model_read_d(file_get, f, (ridge_model_d **)&e->model);
  fclose(f);
  if (st == VF_OK)
    e->bytes = e->single ? ridge_model_bytes_s(e->model) : ridge_model_bytes_d(e->model);
  return st;
}

/* The unit's model from the cache, loaded (SCHED_LOAD: another worker
 * published it), or built now (and published with SCHED_PUBLISH). A
 * design that failed is remembered with its reason. A model that cannot
 * be loaded is built instead; one that cannot be published only costs the
 * others a factorisation. */
static vf_status get_model(const sched_plan *p, const sched_unit *u,
                           const cfg_ridge *rg, unit_data *d, sched_cache *c,
                           int flags, cache_entry **out, sched_unit_out *o) {
  c->clock++;
  for (int i = 0; i < CACHE_SLOTS; i++)
    if (c->e[i].design == u->design) {
      c->e[i].used = c->clock;
      *out = &c->e[i];
      return VF_OK;
    }
  cache_entry *e = cache_slot(c, (size_t)p->designs[u->design].bytes);
  e->design = u->design, e->used = c->clock;
  *out = e;
  if ((flags & SCHED_LOAD) && c->dir[0]) {
    if (load(c, p, rg, e) == VF_OK) {
      vf_log(VF_LOG_DEBUG, "design %d: loaded the published model", u->design);
      return VF_OK;
    }
    vf_log(VF_LOG_WARN, "%s; factorising again", vf_error_message());
    entry_clear(e);
    e->design = u->design, e->used = c->clock;
  }
  vf_status st = build_model(p, u, rg, d, e);
  if (st == VF_E_INTERNAL) {
    entry_clear(e);
    return st;
  }
  if (st) snprintf(e->error, sizeof e->error, "%s", vf_error_message());
  o->factorised = 1;
  if (st == VF_OK && (flags & SCHED_PUBLISH) && c->dir[0]) {
    if (publish(c, p, e) == VF_OK) o->published = 1;
    else vf_log(VF_LOG_WARN, "%s", vf_error_message());
  }
  return VF_OK;
}

static vf_status fit_model(const cache_entry *e, unit_data *d, const cfg_ridge *rg,
                           ridge_result *res) {
  vf_status st = VF_OK;
  float *yf = NULL, *tf = NULL;
  ridge_opts o = unit_opts(rg);
  if (!e->single)
    return ridge_model_fit_d(e->model, d->Ytr, d->nv, d->Yte, d->valid, &o, res);
  VF_TRY(to_float(d->Ytr, (size_t)d->ntr * d->nv, &yf));
  VF_TRY(to_float(d->Yte, (size_t)d->nte * d->nv, &tf));
  VF_TRY(ridge_model_fit_s(e->model, yf, d->nv, tf, d->valid, &o, res));
fail:
  vf_free(&yf), vf_free(&tf);
  return st;
}

/* Weights of voxel j at out->weights[j * weight_len], NaN past pd. */
static void copy_weights(long nv, long pd, const double *W, sched_unit_out *out) {
  for (long j = 0; j < nv; j++)
    for (long i = 0; i < out->weight_len; i++)
      out->weights[j * out->weight_len + i] = i < pd ? (float)W[j * pd + i] : NAN;
}

/* Noise ceilings, ceiling-normalised r and permutation p-values (from the
 * test predictions: nothing is refitted). */
vf_status unit_test_statistics(const sched_plan *p, const unit_data *d, const double *pred,
                               sched_unit_out *o) {
  const cfg_stats *cs = &p->job->stats;
  for (long j = 0; j < d->nv; j++) {
    o->ev[j] = d->ev[j], o->split_half[j] = d->split_half[j];
    /* test r is scored against the mean of the repetitions: its ceiling */
    o->test_r_norm[j] = d->ev[j] >= cs->ev_threshold && d->ev[j] > 0
                            ? o->test_r[j] / sqrt(stats_ev_of_mean(d->ev[j], d->n_rep)) : NAN;
    o->test_p[j] = NAN;
  }
  for (long i = 0; o->pred && i < d->nv * d->nte; i++)
    o->pred[i] = (float)pred[i], o->y[i] = d->valid[i / d->nte] ? (float)d->Yte[i] : NAN;
  if (!pred || cs->permutations < 1) return VF_OK;
  VF_CALL(stats_perm_pvalues(pred, d->Yte, d->nte, d->nv, cs->permutations,
                             cs->block_length, cs->seed, o->test_p));
  for (long j = 0; j < d->nv; j++)
    if (!d->valid[j]) o->test_p[j] = NAN;
  return VF_OK;
}

static vf_status fit(const sched_plan *p, const cache_entry *e, unit_data *d,
                     const cfg_ridge *rg, long pd, sched_unit_out *out) {
  vf_status st = VF_OK;
  double *curves = NULL, *W = NULL, *pred = NULL;
  if (out->cv_scores)
    VF_TRY(vf_calloc((size_t)d->nv * rg->n_lambdas, sizeof(double), "CV curves", &curves));
  if (out->weights)
    VF_TRY(vf_calloc((size_t)d->nv * pd, sizeof(double), "weights", &W));
  if (p->job->stats.permutations > 0 || out->pred)
    VF_TRY(vf_calloc((size_t)d->nv * d->nte + 1, sizeof(double), "test predictions", &pred));
  ridge_result res = {out->best_lambda, out->cv_best, out->test_r, out->test_r2,
                      curves, W, 0, pred, 0, {0}, 0};
  VF_TRY(fit_model(e, d, rg, &res));
  vf_log(VF_LOG_DEBUG, "fit of %ld voxels: kernels %.3f s, CV products %.3f s, scoring %.3f s, "
         "refit %.3f s", d->nv, res.seconds[RIDGE_T_FACTOR], res.seconds[RIDGE_T_PRODUCTS],
         res.seconds[RIDGE_T_SCORE], res.seconds[RIDGE_T_REFIT]);
  VF_TRY(unit_test_statistics(p, d, pred, out));
  for (size_t i = 0; curves && i < (size_t)d->nv * rg->n_lambdas; i++)
    out->cv_scores[i] = (float)(d->valid[i / rg->n_lambdas] ? curves[i] : NAN);
  if (W) copy_weights(d->nv, pd, W, out);
fail:
  vf_free(&curves);
  vf_free(&W);
  vf_free(&pred);
  return st;
}

void unit_mark_failed(sched_unit_out *o, const char *why, int m) {
  o->status = 2;
  snprintf(o->error, sizeof o->error, "%s", why);
  for (long j = 0; j < o->n_vox; j++)
    o->test_r[j] = o->test_r2[j] = o->best_lambda[j] = o->cv_best[j] = NAN,
    o->ev[j] = o->split_half[j] = o->test_r_norm[j] = o->test_p[j] = NAN;
  for (long i = 0; o->cv_scores && i < o->n_vox * m; i++) o->cv_scores[i] = NAN;
}

static vf_status run_unit(const sched_plan *p, const sched_unit *u,
                          sched_cache *c, int flags, unit_data *d, sched_unit_out *out) {
  const cfg_ridge *rg = &p->points[u->sweep].ridge;
  cache_entry *e = NULL;
  VF_CALL(unit_prepare(p, u, rg, d));
  VF_CALL(get_model(p, u, rg, d, c, flags, &e, out));
  if (e->error[0]) return vf_error(VF_E_INPUT, "%s", e->error);
  VF_CALL(unit_load_responses(p, u, rg, d));
  VF_CALL(unit_reorder(d, d->Ytr, d->nv));
  VF_CALL(fit(p, e, d, rg, p->n_feat[u->variant] * rg->n_delays, out));
  return VF_OK;
}

/* A variant's bad features fail all its units with one message: this
 * rank warns once per distinct message, then writes a debug line per unit
 * (unit_error in the results file holds every unit's). */
static vf_seen failures_seen;

vf_status sched_unit_run(const sched_plan *p, int unit, sched_cache *cache,
                         int flags, sched_unit_out *out) {
  const sched_unit *u = &p->units[unit];
  unit_data d = {0};
  double t0 = vf_now();
  vf_error_clear();
  vf_status st = run_unit(p, u, cache, flags, &d, out);
  unit_data_free(&d);
  out->seconds = vf_now() - t0;
  if (st == VF_E_INTERNAL) return st;
  out->status = 1;
  if (st != VF_OK) {
    unit_mark_failed(out, vf_error_message(), p->points[u->sweep].ridge.n_lambdas);
    vf_log(vf_seen_first(&failures_seen, vf_error_message()) ? VF_LOG_WARN : VF_LOG_DEBUG,
           "unit %d (%s x %s, voxels %ld..%ld) failed: %s", unit,
           p->job->subjects[u->subject].id, p->job->variants[u->variant].id, u->vox0,
           u->vox0 + u->n_vox - 1, vf_error_message());
  }
  return VF_OK;
}
