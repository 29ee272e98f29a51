/* From a job file to a plan: sweep points, inputs' metadata, the voxel
 * axis, the training/test rows and the units with their cost. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "voxfit/ridge.h"
#include "voxfit/sched.h"
#include "voxfit/stats.h"
#include "unit.h"

/* All ranks agree on a failure: the lowest failing rank's message becomes
 * everyone's, so no rank goes on alone into a collective step. The io
 * layer's agreement (io_agree), under the scheduler's name. */
vf_status sched_agree(MPI_Comm comm, vf_status st) { return io_agree(comm, st); }

/* Rank 0 reads the file; every rank parses the same bytes. */
static vf_status load_job(MPI_Comm comm, const char *path, cfg_job **job) {
  int rank;
  MPI_Comm_rank(comm, &rank);
  char *text = NULL;
  vf_status st = rank == 0 ? cfg_job_read(path, &text) : VF_OK;
  VF_CALL(sched_agree(comm, st));
  long n = rank == 0 ? (long)strlen(text) : 0;
  MPI_Bcast(&n, 1, MPI_LONG, 0, comm);
  if (rank != 0) text = calloc((size_t)n + 1, 1); /* free()d, as cfg_job_read's */
  st = rank != 0 && !text ? vf_error(VF_E_NOMEM, "cannot allocate %ld bytes for the job text", n)
                          : VF_OK;
  st = sched_agree(comm, st); /* every rank reaches the broadcast, or none */
  if (st) {
    free(text);
    return st;
  }
  MPI_Bcast(text, (int)n, MPI_CHAR, 0, comm);
  st = cfg_job_parse(path, text, job);
  free(text);
  return st;
}

/* "key=value" for every axis of a point (vals: its value per axis),
 * keys without their "ridge." prefix when short; 0 if it did not fit. */
static int point_label(const cfg_job *j, const int *vals, int short_keys, char *out,
                       size_t size) {
  size_t len = 0;
  out[0] = 0;
  for (int a = 0; a < j->n_sweep; a++) {
    const char *key = j->sweep[a].key;
    if (short_keys && strncmp(key, "ridge.", 6) == 0) key += 6;
    int w = snprintf(out + len, size - len, "%s%s=%s", a ? " " : "", key,
                     j->sweep[a].labels[vals[a]]);
    if (w < 0 || (size_t)w >= size - len) return 0;
    len += (size_t)w;
  }
  return 1;
}

/* Labels must tell the points apart (sweep_label in the results): the
 * full keys when they fit, else the keys without "ridge.", else cut,
 * and any label still equal to an earlier one gets its point's "#index". */
static void label_points(sched_plan *p, const int *vals) {
  const cfg_job *j = p->job;
  size_t size = sizeof p->points[0].label;
  for (int i = 0; i < p->n_points; i++) {
    char *l = p->points[i].label;
    const int *v = vals + (size_t)i * j->n_sweep;
    if (!j->n_sweep) snprintf(l, size, "base");
    else if (!point_label(j, v, 0, l, size) && !point_label(j, v, 1, l, size))
      l[size - 1] = 0; /* point_label left it cut */
    for (int k = 0; k < i; k++)
      if (strcmp(p->points[k].label, l) == 0) {
        char tag[16];
        snprintf(tag, sizeof tag, " #%d", i);
        size_t len = strlen(l), room = size - 1 - strlen(tag);
        memcpy(l + (len < room ? len : room), tag, strlen(tag) + 1);
        break;
      }
  }
}

/* The Cartesian product of the sweep axes, first axis slowest. */
static vf_status make_points(sched_plan *p) {
  const cfg_job *j = p->job;
  int n = 1, *vals = NULL;
  for (int a = 0; a < j->n_sweep; a++) n *= j->sweep[a].n_values;
  VF_CALL(vf_calloc((size_t)n, sizeof(sched_point), "sweep points", &p->points));
  VF_CALL(vf_calloc((size_t)n * j->n_sweep + 1, sizeof(int), "sweep points", &vals));
  p->n_points = n;
  for (int i = 0; i < n; i++) {
    sched_point *pt = &p->points[i];
    pt->ridge = j->ridge;
    int rest = i;
    for (int a = j->n_sweep - 1; a >= 0; a--) {
      const cfg_sweep_axis *ax = &j->sweep[a];
      int v = rest % ax->n_values;
      rest /= ax->n_values;
      vals[(size_t)i * j->n_sweep + a] = v;
      cfg_ridge_apply_key(&pt->ridge, &ax->values[v], ax->key);
    }
  }
  label_points(p, vals);
  vf_free(&vals);
  return VF_OK;
}

/* st with the job's key of the file appended to its message: which entry
 * of a long job names a missing or broken file. */
static vf_status named_by(vf_status st, const cfg_job *j, const char *key, int i) {
  if (st == VF_OK) return st;
  char msg[1024];
  snprintf(msg, sizeof msg, "%s", vf_error_message());
  return vf_error(st, "%s (%s[%d] in %s)", msg, key, i, j->path);
}

static vf_status open_inputs(sched_plan *p) {
  const cfg_job *j = p->job;
  VF_CALL(vf_calloc((size_t)j->n_subjects, sizeof(io_responses *), "subjects", &p->resp));
  VF_CALL(vf_calloc((size_t)j->n_variants, sizeof(long), "variants", &p->n_feat));
  for (int s = 0; s < j->n_subjects; s++) {
    VF_CALL(named_by(io_responses_open(MPI_COMM_SELF, j->subjects[s].responses, &p->resp[s]),
                     j, "subjects", s));
    if (s == 0) p->n_stim = p->resp[0]->n_stim;
    if (p->resp[s]->n_stim != p->n_stim)
      return vf_error(VF_E_INPUT, "%s: %ld stimuli, but %s has %ld; every input "
                      "of a job must share one stimulus axis", j->subjects[s].responses,
                      p->resp[s]->n_stim, j->subjects[0].responses, p->n_stim);
  }
  for (int v = 0; v < j->n_variants; v++) {
    io_features_info fi;
    const cfg_variant *cv = &j->variants[v];
    VF_CALL(named_by(io_features_info_read(MPI_COMM_SELF, cv->features, cv->variable, &fi),
                     j, "variants", v));
    if (fi.n_stim != p->n_stim)
      return vf_error(VF_E_INPUT, "%s: variable '%s' has %ld stimuli but %s has %ld",
                      cv->features, cv->variable, fi.n_stim,
                      j->subjects[0].responses, p->n_stim);
    p->n_feat[v] = fi.n_feat;
  }
  return VF_OK;
}

static int find_name(char (*names)[IO_NAME_LEN], int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (!strcmp(names[i], name)) return i;
  return -1;
}

static vf_status missing_roi(const sched_plan *p, int s, const char *roi) {
  const io_responses *r = p->resp[s];
  char have[512] = "";
  for (int q = 0; q < r->n_roi; q++)
    snprintf(have + strlen(have), sizeof have - strlen(have), "%s%s",
             q ? ", " : "", r->roi_names[q]);
  return vf_error(VF_E_INPUT, "%s: no ROI '%s' (named in the job's rois); ROIs here: %s",
                  p->job->subjects[s].responses, roi, have);
}

/* The job's ROI list: as given, or every name of every subject in order
 * of first appearance. */
static vf_status make_rois(sched_plan *p) {
  const cfg_job *j = p->job;
  int cap = j->n_rois;
  for (int s = 0; s < j->n_subjects && !j->n_rois; s++) cap += p->resp[s]->n_roi;
  VF_CALL(vf_calloc((size_t)(cap ? cap : 1), IO_NAME_LEN, "ROI names", &p->roi_names));
  for (int r = 0; r < j->n_rois; r++)
    snprintf(p->roi_names[p->n_rois++], IO_NAME_LEN, "%s", j->rois[r]);
  for (int s = 0; s < j->n_subjects && !j->n_rois; s++)
    for (int r = 0; r < p->resp[s]->n_roi; r++)
      if (find_name(p->roi_names, p->n_rois, p->resp[s]->roi_names[r]) < 0)
        snprintf(p->roi_names[p->n_rois++], IO_NAME_LEN, "%s", p->resp[s]->roi_names[r]);
  for (int s = 0; s < j->n_subjects; s++)
    for (int r = 0; r < j->n_rois; r++)
      if (find_name(p->resp[s]->roi_names, p->resp[s]->n_roi, j->rois[r]) < 0)
        return missing_roi(p, s, j->rois[r]);
  if (p->n_rois == 0) return vf_error(VF_E_INPUT, "%s: the subjects' files name no ROI", j->path);
  return VF_OK;
}

/* The voxel axis: subject-major, then job ROI, then file index. */
static vf_status make_voxels(sched_plan *p) {
  const cfg_job *j = p->job;
  long total = 0;
  VF_CALL(vf_calloc((size_t)j->n_subjects + 1, sizeof(long), "voxel offsets", &p->sub_vox0));
  for (int s = 0; s < j->n_subjects; s++) total += p->resp[s]->n_vox;
  VF_CALL(vf_calloc((size_t)total, sizeof(long), "voxel axis", &p->vox_index));
  VF_CALL(vf_calloc((size_t)total, sizeof(int), "voxel ROIs", &p->vox_roi));
  VF_CALL(vf_calloc((size_t)total, sizeof(int), "voxel subjects", &p->vox_subject));
  long k = 0;
  for (int s = 0; s < j->n_subjects; s++) {
    const io_responses *r = p->resp[s];
    p->sub_vox0[s] = k;
    for (int q = 0; q < p->n_rois; q++) {
      int local = find_name(r->roi_names, r->n_roi, p->roi_names[q]);
      for (long v = 0; v < r->n_vox && local >= 0; v++)
        if (r->roi_index[v] == local)
          p->vox_index[k] = v, p->vox_roi[k] = q, p->vox_subject[k++] = s;
    }
    if (k == p->sub_vox0[s])
      return vf_error(VF_E_INPUT, "%s: no voxel belongs to the job's ROIs; check rois in "
                      "%s and this file's roi_index", j->subjects[s].responses, j->path);
  }
  p->sub_vox0[j->n_subjects] = k;
  return VF_OK;
}

static vf_status make_rows(sched_plan *p, int s) {
  const cfg_job *j = p->job;
  const io_responses *r = p->resp[s];
  const char *file = j->subjects[s].responses;
  long n = p->n_stim, ntr = 0, nte = 0;
  VF_CALL(vf_calloc((size_t)n, sizeof(long), "training rows", &p->train_rows[s]));
  VF_CALL(vf_calloc((size_t)n, sizeof(long), "test rows", &p->test_rows[s]));
  if (j->split.from_file) {
    if (!r->split)
      return vf_error(VF_E_INPUT, "%s: no 'split' variable; give the job an explicit "
                      "split: {train: [start, count], test: [start, count]}", file);
    for (long i = 0; i < n; i++) {
      if (r->split[i] == 0) p->train_rows[s][ntr++] = i;
      else p->test_rows[s][nte++] = i;
    }
  } else {
    const cfg_split *sp = &j->split;
    if (sp->train_start + sp->train_count > n || sp->test_start + sp->test_count > n)
      return vf_error(VF_E_INPUT, "%s: split: the ranges reach beyond the %ld stimuli of %s",
                      j->path, n, file);
    for (long i = 0; i < sp->train_count; i++) p->train_rows[s][ntr++] = sp->train_start + i;
    for (long i = 0; i < sp->test_count; i++) p->test_rows[s][nte++] = sp->test_start + i;
  }
  if (nte < 2) return vf_error(VF_E_INPUT, "%s: %ld test stimuli; need at least 2 (mark more with split = 1, "
                             "or widen split.test in the job)", file, nte);
  if (r->n_rep > 0 && r->n_test != nte)
    return vf_error(VF_E_INPUT, "%s: test_repetitions has %ld test stimuli but the "
                    "split has %ld (%s); it needs one entry per test stimulus, in stimulus "
                    "order", file, r->n_test, nte,
                    j->split.from_file ? "the file's split variable" : "the job's split");
  p->n_train[s] = ntr, p->n_test[s] = nte;
  return stats_perm_check(j->path, file, nte, j->stats.block_length, j->stats.permutations,
                          NULL, 0);
}

/* Rank 0: the warning of stats_perm_check for the subject with the fewest
 * test stimuli (the others' permutation tests resolve no worse). */
static void perm_warning(const sched_plan *p) {
  const cfg_job *j = p->job;
  int worst = 0;
  for (int s = 1; s < j->n_subjects; s++)
    if (p->n_test[s] < p->n_test[worst]) worst = s;
  char warn[1024];
  if (stats_perm_check(j->path, j->subjects[worst].responses, p->n_test[worst],
                       j->stats.block_length, j->stats.permutations, warn, sizeof warn) == VF_OK &&
      warn[0])
    vf_log(VF_LOG_WARN, "%s", warn);
}

vf_status sched_point_folds(const sched_plan *p, int s, const cfg_ridge *rg,
                            int *fold, int *k) {
  long ntr = p->n_train[s];
  const char *file = p->job->subjects[s].responses;
  vf_status st;
  if (rg->cv == CFG_CV_LEAVE_ONE_RUN_OUT) {
    if (!p->resp[s]->run)
      return vf_error(VF_E_INPUT, "%s: no 'run' variable, which ridge.cv: "
                      "leave-one-run-out needs; use kfold or add run labels", file);
    int *run = NULL;
    VF_CALL(vf_calloc((size_t)ntr, sizeof(int), "run labels", &run));
    for (long i = 0; i < ntr; i++) run[i] = p->resp[s]->run[p->train_rows[s][i]];
    st = ridge_folds_runs(ntr, run, fold, k);
    vf_free(&run);
  } else {
    *k = rg->folds;
    st = rg->cv == CFG_CV_SHUFFLED ? ridge_folds_shuffled(ntr, rg->folds, rg->seed, fold)
                                   : ridge_folds_kfold(ntr, rg->folds, fold);
  }
  if (st) return vf_error(st, "%s: %s (ridge.cv)", file, vf_error_message());
  return VF_OK;
}

/* The folds of subject s under rg, in fold order. */
typedef struct {
  int *fold, k;
  long *order, *start;
} fold_set;

static void fold_set_free(fold_set *f) {
  vf_free(&f->fold), vf_free(&f->order), vf_free(&f->start);
}

static vf_status make_fold_set(const sched_plan *p, int s, const cfg_ridge *rg,
                               fold_set *fs) {
  long ntr = p->n_train[s];
  memset(fs, 0, sizeof *fs);
  VF_CALL(vf_calloc((size_t)ntr, sizeof(int), "folds", &fs->fold));
  VF_CALL(vf_calloc((size_t)ntr, sizeof(long), "fold order", &fs->order));
  VF_CALL(sched_point_folds(p, s, rg, fs->fold, &fs->k));
  VF_CALL(vf_calloc((size_t)fs->k + 1, sizeof(long), "fold starts", &fs->start));
  ridge_folds_order(ntr, fs->fold, fs->k, fs->order, fs->start);
  for (int f = 0; f < fs->k; f++)
    if (fs->start[f + 1] - fs->start[f] < 2)
      return vf_error(VF_E_INPUT, "%s: CV fold %d has %ld stimuli, and a fold needs at "
                      "least 2; use fewer folds (ridge.cv.folds: at most %ld for %ld training "
                      "stimuli), or runs of at least 2 training stimuli for leave-one-run-out",
                      p->job->subjects[s].responses, f, fs->start[f + 1] - fs->start[f],
                      ntr / 2, ntr);
  return VF_OK;
}

/* Bytes to hash, grown as needed. */
typedef struct {
  unsigned char *b;
  size_t n, cap;
  int failed;
} key_buf;

static void kb_add(key_buf *kb, const void *data, size_t n) {
  if (kb->failed || n == 0) return;
  if (kb->n + n > kb->cap) {
    size_t cap = 2 * (kb->n + n);
    unsigned char *g = realloc(kb->b, cap);
    if (!g) {
      kb->failed = 1;
      return;
    }
    kb->b = g, kb->cap = cap;
  }
  memcpy(kb->b + kb->n, data, n);
  kb->n += n;
}

/* Everything the factorisation of (sweep w, subject s, variant v) depends
 * on, hashed: equal keys mean the same model. */
static vf_status design_key(const sched_plan *p, int w, int s, int v,
                            const fold_set *fs, char key[17]) {
  const cfg_ridge *rg = &p->points[w].ridge;
  const cfg_variant *var = &p->job->variants[v];
  const io_responses *r = p->resp[s];
  key_buf kb = {0};
  int head[9] = {fs->k, rg->std_features, rg->std_per_run, rg->n_delays, rg->precision,
                 rg->solver, rg->n_lambdas, r->run != NULL, rg->cv_method};
  kb_add(&kb, var->features, strlen(var->features) + 1);
  kb_add(&kb, var->variable, strlen(var->variable) + 1);
  kb_add(&kb, head, sizeof head);
  kb_add(&kb, &p->n_train[s], sizeof(long));
  kb_add(&kb, p->train_rows[s], sizeof(long) * (size_t)p->n_train[s]);
  kb_add(&kb, &p->n_test[s], sizeof(long));
  kb_add(&kb, p->test_rows[s], sizeof(long) * (size_t)p->n_test[s]);
  kb_add(&kb, fs->fold, sizeof(int) * (size_t)p->n_train[s]);
  if (r->run) kb_add(&kb, r->run, sizeof(int) * (size_t)p->n_stim);
  kb_add(&kb, rg->delays, sizeof(int) * (size_t)rg->n_delays);
  kb_add(&kb, rg->lambdas, sizeof(double) * (size_t)rg->n_lambdas);
  if (kb.failed) {
    free(kb.b);
    return vf_error(VF_E_NOMEM, "cannot allocate the design key");
  }
  vf_hash_hex(kb.b, kb.n, key);
  free(kb.b);
  return VF_OK;
}

/* A design's factorisation flops and model bytes. */
static void design_cost(const sched_plan *p, int w, int s, int v,
                        const fold_set *fs, sched_design *d) {
  const cfg_ridge *rg = &p->points[w].ridge;
  double esz = rg->precision == CFG_PREC_SINGLE ? 4 : 8, m = rg->n_lambdas;
  double ntr = p->n_train[s], nte = p->n_test[s];
  double pd = (double)p->n_feat[v] * rg->n_delays, flops = 0, bytes = 0;
  for (int f = 0; f <= fs->k; f++) {
    double nva = f < fs->k ? fs->start[f + 1] - fs->start[f] : nte;
    double nf = f < fs->k ? ntr - nva : ntr, small = nf < pd ? nf : pd;
    /* Gram product, eigendecomposition (~9 n^3), V^T or U, projections */
    flops += nf * pd * small + 9 * small * small * small + 2 * nf * pd * small +
             2 * nva * pd * small;
    /* U, then a CV fold's basis features (at most one per lambda), or the
     * refit's V and projected test features */
    bytes += esz * (nf * small + (f < fs->k ? nva * small * m : small * pd + nva * small));
  }
  /* a held-out model keeps the refit's factors and per fold and lambda an
   * n_v x n_v inverse (two to a square), as many n_v x n_v products C_t
   * at most; it may fall back to per fold */
  ridge_opts o = unit_opts(rg);
  if (ridge_cv_tries_held_out((long)ntr, (long)pd, fs->start, fs->k, &o)) {
    double ho = esz * (ntr * pd + 2 * pd * pd + nte * pd);
    for (int f = 0; f < fs->k; f++) {
      double nva = fs->start[f + 1] - fs->start[f];
      ho += 2 * esz * (double)((rg->n_lambdas + 1) / 2) * nva * (nva + 1);
    }
    bytes = ho > bytes ? ho : bytes;
  }
  d->flops = flops, d->bytes = bytes;
}

static int find_design(const sched_plan *p, const char *key) {
  for (int i = 0; i < p->n_designs; i++)
    if (!strcmp(p->designs[i].key, key)) return i;
  return -1;
}

/* Memory of a unit of nv voxels of design d. */
static double unit_mem(const sched_plan *p, int w, int s, int v, long nv,
                       const sched_design *d) {
  const cfg_ridge *rg = &p->points[w].ridge;
  double esz = rg->precision == CFG_PREC_SINGLE ? 4 : 8;
  double n = p->n_stim, ntr = p->n_train[s], pd = (double)p->n_feat[v] * rg->n_delays;
  double small = ntr < pd ? ntr : pd;
  double x = 8.0 * n * p->n_feat[v] + 8.0 * n * pd + esz * (ntr * pd + small * small);
  double y = (8.0 + (esz < 8 ? esz : 0)) * n * nv + 8.0 * rg->n_lambdas * nv +
             8.0 * p->resp[s]->n_rep * p->resp[s]->n_test * nv;
  return d->bytes + x + y;
}

static vf_status add_unit(sched_plan *p, int w, int s, int v, int roi,
                          long vox0, long nv, const fold_set *fs, int design) {
  const cfg_ridge *rg = &p->points[w].ridge;
  sched_unit *u = &p->units[p->n_units++];
  long pd = p->n_feat[v] * rg->n_delays;
  u->sweep = w, u->subject = s, u->variant = v, u->roi = roi;
  u->vox0 = vox0, u->n_vox = nv, u->design = design;
  u->flops = ridge_cv_flops(p->n_train[s], pd, nv, fs->start, fs->k, rg->n_lambdas,
                            p->n_test[s]);
  u->bytes_in = 4.0 * p->n_stim * (p->n_feat[v] + nv) +
                4.0 * p->resp[s]->n_rep * p->resp[s]->n_test * nv;
  u->mem = unit_mem(p, w, s, v, nv, &p->designs[design]);
  u->team = 1, u->mem_rank = u->mem;
  for (int f = 0; f < fs->k; f++)
    if (fs->start[f + 1] - fs->start[f] > u->n_eval) u->n_eval = fs->start[f + 1] - fs->start[f];
  p->designs[design].n_units++;
  return VF_OK;
}

/* The voxel ranges of subject s: one per ROI, split into near-equal
 * blocks of at most block voxels; one for all voxels when one lambda is
 * shared by them (its choice must see every voxel). */
static vf_status add_units(sched_plan *p, int w, int s, int v, const fold_set *fs,
                           int design) {
  long a = p->sub_vox0[s], end = p->sub_vox0[s + 1], block = p->site.block_voxels;
  if (!p->points[w].ridge.lambda_per_voxel)
    return add_unit(p, w, s, v, p->n_rois == 1 ? 0 : -1, a, end - a, fs, design);
  while (a < end) {
    int q = p->vox_roi[a];
    long b = a;
    while (b < end && p->vox_roi[b] == q) b++;
    long n = b - a, nb = block > 0 ? (n + block - 1) / block : 1;
    for (long i = 0, at = a; i < nb; i++) {
      long len = n / nb + (i < n % nb);
      VF_CALL(add_unit(p, w, s, v, q, at, len, fs, design));
      at += len;
    }
    a = b;
  }
  return VF_OK;
}

static vf_status add_group(sched_plan *p, int w, int s, int v) {
  const cfg_ridge *rg = &p->points[w].ridge;
  if (rg->std_per_run && !p->resp[s]->run)
    return vf_error(VF_E_INPUT, "%s: no 'run' variable, which ridge.standardize."
                    "per_run needs", p->job->subjects[s].responses);
  fold_set fs;
  char key[17];
  vf_status st = make_fold_set(p, s, rg, &fs);
  if (st == VF_OK) st = design_key(p, w, s, v, &fs, key);
  int d = st == VF_OK ? find_design(p, key) : -1;
  if (st == VF_OK && d < 0) {
    d = p->n_designs++;
    sched_design *ds = &p->designs[d];
    snprintf(ds->key, sizeof ds->key, "%s", key);
    ds->variant = v, ds->sweep = w, ds->subject = s;
    design_cost(p, w, s, v, &fs, ds);
  }
  if (st == VF_OK) st = add_units(p, w, s, v, &fs, d);
  fold_set_free(&fs);
  return st;
}

static const sched_plan *sort_plan; /* qsort has no context argument */

static double design_total(const sched_plan *p, int d) {
  double f = p->designs[d].flops;
  for (int i = 0; i < p->n_units; i++)
    if (p->units[i].design == d) f += p->units[i].flops;
  return f;
}

/* Largest designs first, and within a design the largest units first;
 * the position breaks ties so the order is the same on every rank. */
static int cmp_units(const void *x, const void *y) {
  const sched_unit *a = x, *b = y;
  if (a->design != b->design) {
    double ta = sort_plan->designs[a->design].total, tb = sort_plan->designs[b->design].total;
    if (ta != tb) return ta > tb ? -1 : 1;
    return a->design - b->design;
  }
  if (a->flops != b->flops) return a->flops > b->flops ? -1 : 1;
  return (a->vox0 > b->vox0) - (a->vox0 < b->vox0);
}

static vf_status make_units(sched_plan *p) {
  const cfg_job *j = p->job;
  int groups = p->n_points * j->n_subjects * j->n_variants;
  long cap = 0;
  for (int s = 0; s < j->n_subjects; s++) {
    long n = p->sub_vox0[s + 1] - p->sub_vox0[s], b = p->site.block_voxels;
    cap += p->n_rois + (b > 0 ? n / b + 1 : 0);
  }
  cap *= (long)p->n_points * j->n_variants;
  VF_CALL(vf_calloc((size_t)cap, sizeof(sched_unit), "units", &p->units));
  VF_CALL(vf_calloc((size_t)groups, sizeof(sched_design), "designs", &p->designs));
  for (int v = 0; v < j->n_variants; v++)
    for (int s = 0; s < j->n_subjects; s++)
      for (int w = 0; w < p->n_points; w++) VF_CALL(add_group(p, w, s, v));
  for (int d = 0; d < p->n_designs; d++) p->designs[d].total = design_total(p, d);
  sort_plan = p;
  qsort(p->units, (size_t)p->n_units, sizeof(sched_unit), cmp_units);
  return VF_OK;
}

/* The weights' length per variant: the longest delayed feature set over
 * the sweep points (shorter ones are NaN-padded in the file). CV curves
 * need one lambda grid for the whole job. */
static vf_status output_options(sched_plan *p) {
  const cfg_job *j = p->job;
  for (int i = 0; i < p->n_points && j->ridge.save_cv_scores; i++)
    if (p->points[i].ridge.lambdas != j->ridge.lambdas)
      return vf_error(VF_E_INPUT, "%s: ridge.save_cv_scores needs one lambda grid; it "
                      "cannot be combined with a sweep over ridge.lambdas", j->path);
  if (!j->ridge.save_weights) return VF_OK;
  VF_CALL(vf_calloc((size_t)j->n_variants, sizeof(long), "weight sizes", &p->weight_len));
  for (int v = 0; v < j->n_variants; v++)
    for (int i = 0; i < p->n_points; i++) {
      long len = p->n_feat[v] * p->points[i].ridge.n_delays;
      if (len > p->weight_len[v]) p->weight_len[v] = len;
    }
  return VF_OK;
}

static vf_status build(sched_plan *p) {
  int S = p->job->n_subjects;
  VF_CALL(make_points(p));
  VF_CALL(open_inputs(p));
  VF_CALL(make_rois(p));
  VF_CALL(make_voxels(p));
  VF_CALL(vf_calloc((size_t)S, sizeof(long *), "rows", &p->train_rows));
  VF_CALL(vf_calloc((size_t)S, sizeof(long *), "rows", &p->test_rows));
  VF_CALL(vf_calloc((size_t)S, sizeof(long), "rows", &p->n_train));
  VF_CALL(vf_calloc((size_t)S, sizeof(long), "rows", &p->n_test));
  for (int s = 0; s < S; s++) VF_CALL(make_rows(p, s));
  VF_CALL(output_options(p));
  VF_CALL(make_units(p));
  return VF_OK;
}

vf_status sched_plan_create(MPI_Comm comm, const char *job_path,
                            const cfg_site *site, sched_plan **out) {
  vf_status st = VF_OK;
  sched_plan *p = NULL;
  *out = NULL;
  VF_TRY(vf_calloc(1, sizeof *p, "plan", &p));
  p->site = *site;
  st = load_job(comm, job_path, &p->job);
  if (st == VF_OK) st = build(p);
  VF_TRY(sched_agree(comm, st));
  int rank;
  MPI_Comm_rank(comm, &rank);
  if (rank == 0) perm_warning(p);
  *out = p;
  return VF_OK;
fail:
  sched_plan_destroy(&p);
  return st;
}

void sched_plan_destroy(sched_plan **pp) {
  if (!pp || !*pp) return;
  sched_plan *p = *pp;
  int S = p->job ? p->job->n_subjects : 0;
  for (int s = 0; s < S; s++) {
    if (p->resp) io_responses_destroy(&p->resp[s]);
    if (p->train_rows) vf_free(&p->train_rows[s]);
    if (p->test_rows) vf_free(&p->test_rows[s]);
  }
  vf_free(&p->resp);
  vf_free(&p->train_rows);
  vf_free(&p->test_rows);
  vf_free(&p->n_train);
  vf_free(&p->n_test);
  vf_free(&p->n_feat);
  vf_free(&p->points);
  vf_free(&p->roi_names);
  vf_free(&p->sub_vox0);
  vf_free(&p->vox_index);
  vf_free(&p->vox_roi);
  vf_free(&p->vox_subject);
  vf_free(&p->units);
  vf_free(&p->designs);
  vf_free(&p->weight_len);
  cfg_job_destroy(&p->job);
  vf_free(pp);
}

/* A file's identity: two paths (a link, another spelling) name the same
 * file when these agree. ok = 0: no such file. */
typedef struct {
  dev_t dev;
  ino_t ino;
  int ok;
} file_id;

static file_id id_of(const char *path) {
  struct stat sb;
  file_id f = {0, 0, 0};
  if (stat(path, &sb) == 0) f.dev = sb.st_dev, f.ino = sb.st_ino, f.ok = 1;
  return f;
}

static int same_id(file_id a, file_id b) {
  return a.ok && b.ok && a.dev == b.dev && a.ino == b.ino;
}

/* Two subjects on one responses file, or two variants on one variable of
 * one features file, under different names (the job's own check compares
 * the names). ids: the subjects' files, then the variants'. */
static vf_status inputs_distinct(const cfg_job *j, const file_id *ids) {
  int S = j->n_subjects;
  for (int a = 0; a < S; a++)
    for (int b = 0; b < a; b++)
      if (same_id(ids[a], ids[b]))
        return vf_error(VF_E_INPUT, "%s: subjects %s and %s have the same responses file (%s "
                        "and %s name one file); each subject needs its own", j->path,
                        j->subjects[b].id, j->subjects[a].id, j->subjects[b].responses,
                        j->subjects[a].responses);
  for (int a = 0; a < j->n_variants; a++)
    for (int b = 0; b < a; b++)
      if (same_id(ids[S + a], ids[S + b]) &&
          !strcmp(j->variants[a].variable, j->variants[b].variable))
        return vf_error(VF_E_INPUT, "%s: variants %s and %s read the same variable '%s' of "
                        "one features file (%s and %s); each variant needs its own data",
                        j->path, j->variants[b].id, j->variants[a].id,
                        j->variants[a].variable, j->variants[b].features,
                        j->variants[a].features);
  return VF_OK;
}

/* The existing output (out) against the inputs' ids and the job file. */
static vf_status output_not_input(const cfg_job *j, const char *path, file_id out,
                                  const file_id *ids) {
  int S = j->n_subjects;
  for (int s = 0; s < S; s++)
    if (same_id(out, ids[s]))
      return vf_error(VF_E_INPUT, "%s: output is also the responses of subject %s (%s); "
                      "choose another output in %s", path, j->subjects[s].id,
                      j->subjects[s].responses, j->path);
  for (int v = 0; v < j->n_variants; v++)
    if (same_id(out, ids[S + v]))
      return vf_error(VF_E_INPUT, "%s: output is also the features of variant %s (%s); "
                      "choose another output in %s", path, j->variants[v].id,
                      j->variants[v].features, j->path);
  if (same_id(out, id_of(j->path)))
    return vf_error(VF_E_INPUT, "%s: output is the job file itself; choose another output "
                    "in %s", path, j->path);
  return VF_OK;
}

static vf_status output_local(const cfg_job *j, const char *path) {
  char dir[CFG_PATH_LEN];
  struct stat sb;
  vf_folder_of(path, dir, sizeof dir);
  if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
    return vf_error(VF_E_INPUT, "%s: output: the folder %s does not exist; create it or "
                    "choose another output in %s", path, dir, j->path);
  if (access(dir, W_OK | X_OK) != 0)
    return vf_error(VF_E_INPUT, "%s: output: the folder %s is not writable (%m); choose "
                    "another output in %s", path, dir, j->path);
  if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
    return vf_error(VF_E_INPUT, "%s: output is a folder; name a results file (e.g. "
                    "%s/results.nc) in %s", path, path, j->path);
  file_id *ids = NULL;
  int n = j->n_subjects + j->n_variants;
  VF_CALL(vf_calloc((size_t)n + 1, sizeof *ids, "file ids", &ids));
  for (int s = 0; s < j->n_subjects; s++) ids[s] = id_of(j->subjects[s].responses);
  for (int v = 0; v < j->n_variants; v++) ids[j->n_subjects + v] = id_of(j->variants[v].features);
  vf_status st = inputs_distinct(j, ids);
  if (!st) st = output_not_input(j, path, id_of(path), ids);
  vf_free(&ids);
  if (!st && stat(path, &sb) == 0 && access(path, W_OK) != 0)
    st = vf_error(VF_E_INPUT, "%s: output exists and is not writable (%m); choose another "
                  "output in %s", path, j->path);
  return st;
}

vf_status sched_output_check(MPI_Comm comm, const cfg_job *job, const char *path) {
  int rank;
  MPI_Comm_rank(comm, &rank);
  return sched_agree(comm, rank == 0 ? output_local(job, path) : VF_OK);
}
