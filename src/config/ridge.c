/* The ridge section and the sweep section of a job file.
 *
 * Each ridge setting has one parse function (a "setter") that reads a node
 * into a draft of the settings. The ridge mapping calls them for its keys;
 * a sweep axis calls the same setter on each of its values, over a copy of
 * the base settings, so a sweep value is checked exactly like the base key. */
#include "yamltree.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Upper bound on a lambda grid: far beyond any useful grid, and it keeps a
 * typo in a logspace count from allocating gigabytes. */
#define MAX_LAMBDAS 1000

/* The settings being built plus where folds and seed were given, which the
 * combination rules need (a default folds is fine with leave-one-run-out, a
 * written one is not). */
typedef struct {
  cfg_ridge r;
  const yaml_node_t *folds_at, *seed_at;
} draft;

typedef vf_status (*setter)(const yt_doc *, yaml_node_t *, const char *, draft *);

/* Indexed by the enums of config.h. */
static const char *const cv_names[] = {"kfold", "leave-one-run-out", "shuffled", NULL};
static const char *const score_names[] = {"r", "r2", "neg_mse", NULL};
static const char *const std_names[] = {"none", "center", "zscore", NULL};
static const char *const precision_names[] = {"double", "single", NULL};
static const char *const solver_names[] = {"auto", "svd", "eigen", NULL};
static const char *const cv_method_names[] = {"auto", "per_fold", "held_out", NULL};

const char *cfg_cv_name(cfg_cv_scheme s) {
  return (unsigned)s < 3 ? cv_names[s] : "?";
}

const char *cfg_std_name(cfg_std s) { return (unsigned)s < 3 ? std_names[s] : "?"; }

static void cv_defaults(draft *dr) {
  dr->r.cv = CFG_CV_KFOLD;
  dr->r.folds = 5;
  dr->r.seed = 0;
  dr->folds_at = dr->seed_at = NULL;
}

static void std_defaults(cfg_ridge *r) {
  r->std_features = CFG_STD_ZSCORE;
  r->std_responses = CFG_STD_ZSCORE;
  r->std_per_run = 0;
}

static void defaults(draft *dr) {
  memset(dr, 0, sizeof *dr);
  cv_defaults(dr);
  std_defaults(&dr->r);
  dr->r.score = CFG_SCORE_R;
  dr->r.delays[0] = 0;
  dr->r.n_delays = 1;
  dr->r.precision = CFG_PREC_DOUBLE;
  dr->r.solver = CFG_SOLVER_AUTO;
  dr->r.cv_method = CFG_CVM_AUTO;
  dr->r.lambda_per_voxel = 1;
}

/* ---- lambdas ---- */

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static vf_status lambda_list(const yt_doc *d, yaml_node_t *n, const char *path,
                             double **out, int *count) {
  vf_status st;
  double *v = NULL;
  int m = 0;
  VF_TRY(yt_seq(d, n, path, "a list of positive numbers", 1, &m));
  if (m > MAX_LAMBDAS)
    VF_TRY(yt_bad(d, n, path, "at most %d lambdas, got %d", MAX_LAMBDAS, m));
  VF_TRY(vf_calloc((size_t)m, sizeof *v, "lambdas", &v));
  for (int i = 0; i < m; i++) {
    yt_path p = yt_at(path, i);
    yaml_node_t *item = yt_item(d, n, i);
    VF_TRY(yt_num(d, item, p.s, &v[i]));
    if (!(v[i] > 0))
      VF_TRY(yt_bad(d, item, p.s, "a lambda must be positive (> 0), got %g", v[i]));
    for (int j = 0; j < i; j++)
      if (v[j] == v[i])
        VF_TRY(yt_bad(d, item, p.s, "duplicate of %s[%d] (%g); list each value once",
                      path, j, v[i]));
  }
  qsort(v, (size_t)m, sizeof *v, cmp_double);
  *out = v;
  *count = m;
  return VF_OK;
fail:
  vf_free(&v);
  return st;
}

static const char *const logspace_keys[] = {"logspace", NULL};

/* numpy.logspace(lo, hi, n): n powers of 10, exponents evenly spaced. */
static vf_status logspace(const yt_doc *d, yaml_node_t *n, const char *path,
                          double **out, int *count) {
  vf_status st;
  double *v = NULL, lo = 0, hi = 0;
  int m = 0, k = 0;
  yaml_node_t *args;
  VF_CALL(yt_check_map(d, n, path, logspace_keys, "{logspace: [lo, hi, n]}"));
  VF_CALL(yt_need(d, n, path, "logspace", &args));
  yt_path p = yt_key(path, "logspace");
  VF_CALL(yt_seq(d, args, p.s, "[lo, hi, n]: exponents of 10 and a count", 1, &k));
  if (k != 3)
    return yt_bad(d, args, p.s, "expected [lo, hi, n] (exponents of 10 and a count), "
                  "got %d items", k);
  VF_CALL(yt_num(d, yt_item(d, args, 0), yt_at(p.s, 0).s, &lo));
  VF_CALL(yt_num(d, yt_item(d, args, 1), yt_at(p.s, 1).s, &hi));
  VF_CALL(yt_int(d, yt_item(d, args, 2), yt_at(p.s, 2).s, 1, MAX_LAMBDAS, &m));
  if (m > 1 && !(lo < hi))
    return yt_bad(d, args, p.s, "lo (%g) must be below hi (%g)", lo, hi);
  VF_TRY(vf_calloc((size_t)m, sizeof *v, "lambdas", &v));
  for (int i = 0; i < m; i++) {
    double e = m == 1 ? lo : i == m - 1 ? hi : lo + (hi - lo) * i / (m - 1);
    v[i] = pow(10.0, e);
    if (!isfinite(v[i]) || !(v[i] > 0))
      VF_TRY(yt_bad(d, args, p.s, "10^%g is not a usable lambda; keep the "
                    "exponents within [-300, 300]", e));
    if (i && !(v[i] > v[i - 1]))
      VF_TRY(yt_bad(d, args, p.s, "gives equal lambdas; widen [lo, hi] or lower n"));
  }
  *out = v;
  *count = m;
  return VF_OK;
fail:
  vf_free(&v);
  return st;
}

static vf_status set_lambdas(const yt_doc *d, yaml_node_t *n, const char *path,
                             draft *dr) {
  double *v = NULL;
  int m = 0;
  if (n && n->type == YAML_MAPPING_NODE) VF_CALL(logspace(d, n, path, &v, &m));
  else if (n && n->type == YAML_SEQUENCE_NODE) VF_CALL(lambda_list(d, n, path, &v, &m));
  else
    return yt_expected(d, n, path, "a list of positive numbers or {logspace: [lo, hi, n]}");
  vf_free(&dr->r.lambdas);
  dr->r.lambdas = v;
  dr->r.n_lambdas = m;
  return VF_OK;
}

/* ---- cv ---- */

/* A setter for a key whose value is one of names, stored in dr->r.field. */
#define ENUM_SETTER(fn, names, field, type)                                       \
  static vf_status fn(const yt_doc *d, yaml_node_t *n, const char *path, draft *dr) { \
    int v = 0;                                                                    \
    VF_CALL(yt_enum(d, n, path, names, &v));                                      \
    dr->r.field = (type)v;                                                        \
    return VF_OK;                                                                 \
  }

ENUM_SETTER(set_cv_scheme, cv_names, cv, cfg_cv_scheme)

static vf_status set_cv_folds(const yt_doc *d, yaml_node_t *n, const char *path,
                              draft *dr) {
  VF_CALL(yt_int(d, n, path, 2, 1 << 30, &dr->r.folds));
  dr->folds_at = n;
  return VF_OK;
}

static vf_status set_cv_seed(const yt_doc *d, yaml_node_t *n, const char *path,
                             draft *dr) {
  long v = 0;
  VF_CALL(yt_long(d, n, path, 0, 0x7fffffffL, &v));
  dr->r.seed = (unsigned long)v;
  dr->seed_at = n;
  return VF_OK;
}

static const char *const cv_keys[] = {"scheme", "folds", "seed", NULL};

/* A whole cv mapping replaces every cv setting: unset keys take defaults. */
static vf_status set_cv(const yt_doc *d, yaml_node_t *n, const char *path,
                        draft *dr) {
  static const setter set[] = {set_cv_scheme, set_cv_folds, set_cv_seed};
  VF_CALL(yt_check_map(d, n, path, cv_keys, "a mapping like {scheme: kfold, folds: 5}"));
  cv_defaults(dr);
  for (int i = 0; cv_keys[i]; i++) {
    yaml_node_t *v = yt_get(d, n, cv_keys[i]);
    if (v) VF_CALL(set[i](d, v, yt_key(path, cv_keys[i]).s, dr));
  }
  return VF_OK;
}

/* ---- scoring, delays, standardisation, switches ---- */

ENUM_SETTER(set_score, score_names, score, cfg_score)

static int cmp_int(const void *a, const void *b) {
  int x = *(const int *)a, y = *(const int *)b;
  return (x > y) - (x < y);
}

static vf_status set_delays(const yt_doc *d, yaml_node_t *n, const char *path,
                            draft *dr) {
  int m = 0, v[CFG_MAX_DELAYS];
  VF_CALL(yt_seq(d, n, path, "a list of delays in TRs, e.g. [0] or [1, 2, 3, 4]",
                 1, &m));
  if (m > CFG_MAX_DELAYS)
    return yt_bad(d, n, path, "at most %d delays, got %d", CFG_MAX_DELAYS, m);
  for (int i = 0; i < m; i++) {
    yt_path p = yt_at(path, i);
    yaml_node_t *item = yt_item(d, n, i);
    VF_CALL(yt_int(d, item, p.s, 0, 1 << 30, &v[i]));
    for (int j = 0; j < i; j++)
      if (v[j] == v[i])
        return yt_bad(d, item, p.s, "duplicate delay %d; list each lag once", v[i]);
  }
  qsort(v, (size_t)m, sizeof *v, cmp_int);
  memcpy(dr->r.delays, v, sizeof(int) * (size_t)m);
  dr->r.n_delays = m;
  return VF_OK;
}

static vf_status set_std(const yt_doc *d, yaml_node_t *n, const char *path,
                         cfg_std *out) {
  int v = 0;
  VF_CALL(yt_enum(d, n, path, std_names, &v));
  *out = (cfg_std)v;
  return VF_OK;
}

static vf_status set_std_features(const yt_doc *d, yaml_node_t *n,
                                  const char *path, draft *dr) {
  return set_std(d, n, path, &dr->r.std_features);
}

static vf_status set_std_responses(const yt_doc *d, yaml_node_t *n,
                                   const char *path, draft *dr) {
  return set_std(d, n, path, &dr->r.std_responses);
}

static vf_status set_std_per_run(const yt_doc *d, yaml_node_t *n,
                                 const char *path, draft *dr) {
  return yt_bool(d, n, path, &dr->r.std_per_run);
}

static const char *const std_keys[] = {"features", "responses", "per_run", NULL};

static vf_status set_standardize(const yt_doc *d, yaml_node_t *n,
                                 const char *path, draft *dr) {
  static const setter set[] = {set_std_features, set_std_responses, set_std_per_run};
  VF_CALL(yt_check_map(d, n, path, std_keys,
                       "a mapping like {features: zscore, responses: zscore}"));
  std_defaults(&dr->r);
  for (int i = 0; std_keys[i]; i++) {
    yaml_node_t *v = yt_get(d, n, std_keys[i]);
    if (v) VF_CALL(set[i](d, v, yt_key(path, std_keys[i]).s, dr));
  }
  return VF_OK;
}

ENUM_SETTER(set_precision, precision_names, precision, cfg_precision)

ENUM_SETTER(set_solver, solver_names, solver, cfg_solver)

ENUM_SETTER(set_cv_method, cv_method_names, cv_method, cfg_cv_method)

static vf_status set_lambda_per_voxel(const yt_doc *d, yaml_node_t *n,
                                      const char *path, draft *dr) {
  return yt_bool(d, n, path, &dr->r.lambda_per_voxel);
}

static vf_status set_save_weights(const yt_doc *d, yaml_node_t *n,
                                  const char *path, draft *dr) {
  return yt_bool(d, n, path, &dr->r.save_weights);
}

static vf_status set_save_cv_scores(const yt_doc *d, yaml_node_t *n,
                                    const char *path, draft *dr) {
  return yt_bool(d, n, path, &dr->r.save_cv_scores);
}

/* Every setting by its path under ridge. Output switches are not model
 * settings, so they cannot be swept. */
static const struct {
  const char *key;
  setter set;
  int sweep;
} settings[] = {
    {"lambdas", set_lambdas, 1},
    {"cv", set_cv, 1},
    {"cv.scheme", set_cv_scheme, 1},
    {"cv.folds", set_cv_folds, 1},
    {"cv.seed", set_cv_seed, 1},
    {"score", set_score, 1},
    {"delays", set_delays, 1},
    {"standardize", set_standardize, 1},
    {"standardize.features", set_std_features, 1},
    {"standardize.responses", set_std_responses, 1},
    {"standardize.per_run", set_std_per_run, 1},
    {"precision", set_precision, 1},
    {"solver", set_solver, 1},
    {"cv_method", set_cv_method, 1},
    {"lambda_per_voxel", set_lambda_per_voxel, 1},
    {"save_weights", set_save_weights, 0},
    {"save_cv_scores", set_save_cv_scores, 0},
};
#define N_SETTINGS ((int)(sizeof settings / sizeof settings[0]))

static const char *const ridge_keys[] = {
    "lambdas",   "cv",        "score",        "delays",         "standardize",
    "precision", "solver", "cv_method", "lambda_per_voxel", "save_weights", "save_cv_scores",
    NULL};

static setter find_setter(const char *key) {
  for (int i = 0; i < N_SETTINGS; i++)
    if (!strcmp(settings[i].key, key)) return settings[i].set;
  return NULL;
}

/* The rules between settings; returns what is wrong, or NULL. *at is the
 * node of the key that is in the way. */
static const char *conflict(const draft *dr, const yaml_node_t **at) {
  if (dr->r.cv == CFG_CV_LEAVE_ONE_RUN_OUT && dr->folds_at) {
    *at = dr->folds_at;
    return "scheme leave-one-run-out makes one fold per run and takes no 'folds'";
  }
  if (dr->r.cv != CFG_CV_SHUFFLED && dr->seed_at) {
    *at = dr->seed_at;
    return "'seed' applies only to scheme shuffled";
  }
  return NULL;
}

static vf_status copy_draft(const draft *src, draft *dst) {
  *dst = *src;
  dst->r.lambdas = NULL;
  VF_CALL(vf_calloc((size_t)src->r.n_lambdas, sizeof(double), "lambdas",
                    &dst->r.lambdas));
  memcpy(dst->r.lambdas, src->r.lambdas, sizeof(double) * (size_t)src->r.n_lambdas);
  return VF_OK;
}

static vf_status parse_base(const yt_doc *d, yaml_node_t *n, draft *dr) {
  yaml_node_t *v;
  const yaml_node_t *at = NULL;
  VF_CALL(yt_check_map(d, n, "ridge", ridge_keys,
                       "a mapping of ridge settings (lambdas, cv, score, ...)"));
  VF_CALL(yt_need(d, n, "ridge", "lambdas", &v));
  for (int i = 0; ridge_keys[i]; i++)
    if ((v = yt_get(d, n, ridge_keys[i])))
      VF_CALL(find_setter(ridge_keys[i])(d, v, yt_key("ridge", ridge_keys[i]).s, dr));
  const char *why = conflict(dr, &at);
  if (why) {
    const char *key = at == dr->folds_at ? "ridge.cv.folds" : "ridge.cv.seed";
    return yt_bad(d, at, key, "%s; remove it", why);
  }
  return VF_OK;
}

/* ---- sweep ---- */

/* The sweepable keys as written under sweep: "ridge.<key>". */
typedef struct {
  char buf[N_SETTINGS][40];
  const char *names[N_SETTINGS + 1];
} sweep_names;

static void list_sweep_names(sweep_names *s) {
  int k = 0;
  for (int i = 0; i < N_SETTINGS; i++)
    if (settings[i].sweep) {
      snprintf(s->buf[k], sizeof s->buf[k], "ridge.%s", settings[i].key);
      s->names[k] = s->buf[k];
      k++;
    }
  s->names[k] = NULL;
}

static vf_status sweep_setter(const yt_doc *d, yaml_node_t *k, const char *path,
                              setter *out) {
  const char *key = yt_text(k);
  for (int i = 0; i < N_SETTINGS; i++)
    if (settings[i].sweep && !strncmp(key, "ridge.", 6) &&
        !strcmp(key + 6, settings[i].key)) {
      *out = settings[i].set;
      return VF_OK;
    }
  sweep_names s;
  list_sweep_names(&s);
  const char *near = yt_suggest(key, s.names);
  if (near) return yt_bad(d, k, path, "unknown sweep key; did you mean '%s'?", near);
  char list[512];
  yt_join(s.names, list, sizeof list);
  return yt_bad(d, k, path, "unknown sweep key; expected one of: %s", list);
}

/* Whether node a is node b or lies within it. */
static int inside(const yaml_node_t *a, const yaml_node_t *b) {
  return a->start_mark.index >= b->start_mark.index &&
         a->end_mark.index <= b->end_mark.index;
}

/* One value of an axis: the base settings with key set from item. */
static vf_status sweep_value(const yt_doc *d, const draft *base, setter set,
                             yaml_node_t *item, const char *path, cfg_ridge *out) {
  vf_status st;
  draft v;
  const yaml_node_t *at = NULL;
  VF_CALL(copy_draft(base, &v));
  VF_TRY(set(d, item, path, &v));
  const char *why = conflict(&v, &at);
  if (why && inside(at, item)) VF_TRY(yt_bad(d, item, path, "%s", why));
  if (why)
    VF_TRY(yt_bad(d, item, path, "%s, but ridge.cv.%s is set at line %d; remove "
                  "it there or sweep whole 'ridge.cv' mappings instead", why,
                  at == v.folds_at ? "folds" : "seed", yt_line(at)));
  *out = v.r;
  return VF_OK;
fail:
  vf_free(&v.r.lambdas);
  return st;
}

/* The axis's values and their labels (cut to 63 characters); values
 * are told apart by their whole rendering, not by the cut labels (two
 * long lambda lists may share their first 63 characters). */
static vf_status axis_values(const yt_doc *d, const draft *base, setter set, yaml_node_t *vals,
                             const char *path, int m, cfg_sweep_axis *ax) {
  enum { WHOLE = 16384 };
  vf_status st = VF_OK;
  char *whole = NULL;
  VF_TRY(vf_calloc((size_t)m * WHOLE, 1, "sweep values", &whole));
  for (int i = 0; i < m; i++) {
    yaml_node_t *item = yt_item(d, vals, i);
    yt_path p = yt_at(path, i);
    char label[64], *w = whole + (size_t)i * WHOLE;
    VF_TRY(sweep_value(d, base, set, item, p.s, &ax->values[i]));
    ax->n_values = i + 1;
    yt_render(d, item, w, WHOLE);
    for (int j = 0; j < i; j++)
      if (!strcmp(w, whole + (size_t)j * WHOLE))
        VF_TRY(yt_bad(d, item, p.s, "same value as %s[%d]; list each value once", path, j));
    yt_render(d, item, label, sizeof label);
    VF_TRY(yt_strdup(label, &ax->labels[i]));
  }
fail:
  vf_free(&whole);
  return st;
}

static vf_status parse_axis(const yt_doc *d, const draft *base, yaml_node_t *k,
                            yaml_node_t *vals, cfg_sweep_axis *ax) {
  yt_path path = yt_key("sweep", yt_text(k));
  setter set = NULL;
  int m = 0;
  VF_CALL(sweep_setter(d, k, path.s, &set));
  snprintf(ax->key, sizeof ax->key, "%s", yt_text(k));
  VF_CALL(yt_seq(d, vals, path.s, "a list of values to try, e.g. [5, 10]", 1, &m));
  VF_CALL(vf_calloc((size_t)m, sizeof *ax->values, "sweep values", &ax->values));
  VF_CALL(vf_calloc((size_t)m, sizeof *ax->labels, "sweep labels", &ax->labels));
  return axis_values(d, base, set, vals, path.s, m, ax);
}

/* "ridge.cv" and "ridge.cv.folds" would both set folds. */
static int overlaps(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > lb) return overlaps(b, a);
  return !strncmp(a, b, la) && (b[la] == '.' || b[la] == '\0');
}

/* Axes combine as a product, so every pair of values of two axes must obey
 * the rules between settings too (the rules involve two keys at most). */
static vf_status check_pair(const yt_doc *d, const draft *base, yaml_node_t *ka,
                            yaml_node_t *va, yaml_node_t *kb, yaml_node_t *vb) {
  setter sa = find_setter(yt_text(ka) + 6), sb = find_setter(yt_text(kb) + 6);
  int na = (int)(va->data.sequence.items.top - va->data.sequence.items.start);
  int nb = (int)(vb->data.sequence.items.top - vb->data.sequence.items.start);
  yt_path pa = yt_key("sweep", yt_text(ka)), pb = yt_key("sweep", yt_text(kb));
  for (int i = 0; i < na; i++)
    for (int j = 0; j < nb; j++) {
      draft v;
      const yaml_node_t *at = NULL;
      yaml_node_t *ia = yt_item(d, va, i), *ib = yt_item(d, vb, j);
      VF_CALL(copy_draft(base, &v));
      vf_status st = sa(d, ia, pa.s, &v);
      if (!st) st = sb(d, ib, pb.s, &v);
      const char *why = st ? NULL : conflict(&v, &at);
      vf_free(&v.r.lambdas);
      if (st) return st;
      if (why)
        return yt_bad(d, ib, yt_at(pb.s, j).s, "combined with %s[%d] (line %d): %s",
                      pa.s, i, yt_line(ia), why);
    }
  return VF_OK;
}

static vf_status check_axes(const yt_doc *d, const draft *base, yaml_node_t *n) {
  int size = yt_map_size(n);
  for (int a = 0; a < size; a++)
    for (int b = a + 1; b < size; b++) {
      yaml_node_t *ka, *va, *kb, *vb;
      yt_map_pair(d, n, a, &ka, &va);
      yt_map_pair(d, n, b, &kb, &vb);
      if (overlaps(yt_text(ka), yt_text(kb)))
        return yt_bad(d, kb, yt_key("sweep", yt_text(kb)).s,
                      "overlaps the axis '%s' (line %d); sweep one or the other",
                      yt_text(ka), yt_line(ka));
      VF_CALL(check_pair(d, base, ka, va, kb, vb));
    }
  return VF_OK;
}

static vf_status parse_sweep(const yt_doc *d, yaml_node_t *n, const draft *base,
                             cfg_job *job) {
  VF_CALL(yt_check_map(d, n, "sweep", NULL,
                       "a mapping of ridge keys to lists of values"));
  int size = yt_map_size(n);
  if (size == 0)
    return yt_bad(d, n, "sweep", "must not be empty; remove it or add an axis "
                  "such as 'ridge.cv.folds: [5, 10]'");
  VF_CALL(vf_calloc((size_t)size, sizeof *job->sweep, "sweep axes", &job->sweep));
  for (int i = 0; i < size; i++) {
    yaml_node_t *k, *v;
    yt_map_pair(d, n, i, &k, &v);
    job->n_sweep = i + 1;
    VF_CALL(parse_axis(d, base, k, v, &job->sweep[i]));
  }
  VF_CALL(check_axes(d, base, n));
  return VF_OK;
}

vf_status cfg_parse_ridge(const yt_doc *d, yaml_node_t *root, cfg_job *job) {
  vf_status st;
  draft base;
  yaml_node_t *n, *sweep;
  defaults(&base);
  VF_TRY(yt_need(d, root, "", "ridge", &n));
  VF_TRY(parse_base(d, n, &base));
  if ((sweep = yt_get(d, root, "sweep"))) VF_TRY(parse_sweep(d, sweep, &base, job));
  job->ridge = base.r;
  return VF_OK;
fail:
  vf_free(&base.r.lambdas);
  return st;
}

/* Copies the settings named by a sweep key from src into dst. */
void cfg_ridge_apply_key(cfg_ridge *dst, const cfg_ridge *src, const char *key) {
  const char *k = key + strlen("ridge.");
  if (!strcmp(k, "lambdas")) dst->lambdas = src->lambdas, dst->n_lambdas = src->n_lambdas;
  else if (!strcmp(k, "cv")) dst->cv = src->cv, dst->folds = src->folds, dst->seed = src->seed;
  else if (!strcmp(k, "cv.scheme")) dst->cv = src->cv;
  else if (!strcmp(k, "cv.folds")) dst->folds = src->folds;
  else if (!strcmp(k, "cv.seed")) dst->seed = src->seed;
  else if (!strcmp(k, "score")) dst->score = src->score;
  else if (!strcmp(k, "delays")) memcpy(dst->delays, src->delays, sizeof dst->delays), dst->n_delays = src->n_delays;
  else if (!strcmp(k, "standardize")) {
    dst->std_features = src->std_features;
    dst->std_responses = src->std_responses;
    dst->std_per_run = src->std_per_run;
  } else if (!strcmp(k, "standardize.features")) dst->std_features = src->std_features;
  else if (!strcmp(k, "standardize.responses")) dst->std_responses = src->std_responses;
  else if (!strcmp(k, "standardize.per_run")) dst->std_per_run = src->std_per_run;
  else if (!strcmp(k, "precision")) dst->precision = src->precision;
  else if (!strcmp(k, "solver")) dst->solver = src->solver;
  else if (!strcmp(k, "cv_method")) dst->cv_method = src->cv_method;
  else if (!strcmp(k, "lambda_per_voxel")) dst->lambda_per_voxel = src->lambda_per_voxel;
}
