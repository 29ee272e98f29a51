/* From a job file to a plan: sweep points, inputs' metadata, the voxel
 * axis, the training/test rows and the units with their cost. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "voxfit/ridge.h"
#include "voxfit/sched.h"

/* All ranks agree on a failure: the lowest failing rank's message becomes
 * everyone's, so no rank goes on alone into a collective step. */
vf_status sched_agree(MPI_Comm comm, vf_status st) {
  int rank, size;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  int mine = st ? rank : size, root = size;
  MPI_Allreduce(&mine, &root, 1, MPI_INT, MPI_MIN, comm);
  if (root == size) return VF_OK;
  char msg[1024];
  int code = (int)st;
  snprintf(msg, sizeof msg, "%s", vf_error_message());
  MPI_Bcast(msg, sizeof msg, MPI_CHAR, root, comm);
  MPI_Bcast(&code, 1, MPI_INT, root, comm);
  return vf_error((vf_status)code, "%s", msg);
}

static vf_status read_text(const char *path, char **text) {
  FILE *f = fopen(path, "rb");
  if (!f) return vf_error(VF_E_INPUT, "%s: cannot read job file: %m", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  vf_status st = vf_calloc((size_t)(n > 0 ? n : 0) + 1, 1, "job text", text);
  if (st == VF_OK && n > 0 && fread(*text, 1, (size_t)n, f) != (size_t)n)
    st = vf_error(VF_E_INPUT, "%s: cannot read job file", path);
  fclose(f);
  if (st) vf_free(text);
  return st;
}

/* Rank 0 reads the file; every rank parses the same bytes. */
static vf_status load_job(MPI_Comm comm, const char *path, cfg_job **job) {
  int rank;
  MPI_Comm_rank(comm, &rank);
  char *text = NULL;
  vf_status st = rank == 0 ? read_text(path, &text) : VF_OK;
  VF_CALL(sched_agree(comm, st));
  long n = rank == 0 ? (long)strlen(text) : 0;
  MPI_Bcast(&n, 1, MPI_LONG, 0, comm);
  if (rank != 0) VF_CALL(vf_calloc((size_t)n + 1, 1, "job text", &text));
  MPI_Bcast(text, (int)n, MPI_CHAR, 0, comm);
  st = cfg_job_parse(path, text, job);
  vf_free(&text);
  return st;
}

/* The Cartesian product of the sweep axes, first axis slowest. */
static vf_status make_points(sched_plan *p) {
  const cfg_job *j = p->job;
  int n = 1;
  for (int a = 0; a < j->n_sweep; a++) n *= j->sweep[a].n_values;
  VF_CALL(vf_calloc((size_t)n, sizeof(sched_point), "sweep points", &p->points));
  p->n_points = n;
  for (int i = 0; i < n; i++) {
    sched_point *pt = &p->points[i];
    pt->ridge = j->ridge;
    snprintf(pt->label, sizeof pt->label, "%s", j->n_sweep ? "" : "base");
    int rest = i;
    for (int a = j->n_sweep - 1; a >= 0; a--) {
      const cfg_sweep_axis *ax = &j->sweep[a];
      int v = rest % ax->n_values;
      rest /= ax->n_values;
      cfg_ridge_apply_key(&pt->ridge, &ax->values[v], ax->key);
      char tmp[512];
      snprintf(tmp, sizeof tmp, "%s=%s%s%.60s", ax->key, ax->labels[v],
               pt->label[0] ? " " : "", pt->label);
      snprintf(pt->label, sizeof pt->label, "%.127s", tmp);
    }
  }
  return VF_OK;
}

static vf_status open_inputs(sched_plan *p) {
  const cfg_job *j = p->job;
  VF_CALL(vf_calloc((size_t)j->n_subjects, sizeof(io_responses *), "subjects", &p->resp));
  VF_CALL(vf_calloc((size_t)j->n_variants, sizeof(long), "variants", &p->n_feat));
  for (int s = 0; s < j->n_subjects; s++) {
    VF_CALL(io_responses_open(MPI_COMM_SELF, j->subjects[s].responses, &p->resp[s]));
    if (s == 0) p->n_stim = p->resp[0]->n_stim;
    if (p->resp[s]->n_stim != p->n_stim)
      return vf_error(VF_E_INPUT, "%s: %ld stimuli, but %s has %ld; every input "
                      "of a job must share one stimulus axis", j->subjects[s].responses,
                      p->resp[s]->n_stim, j->subjects[0].responses, p->n_stim);
  }
  for (int v = 0; v < j->n_variants; v++) {
    io_features_info fi;
    const cfg_variant *cv = &j->variants[v];
    VF_CALL(io_features_info_read(MPI_COMM_SELF, cv->features, cv->variable, &fi));
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
      return vf_error(VF_E_INPUT, "%s: no voxel belongs to the job's ROIs",
                      j->subjects[s].responses);
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
  if (r->n_rep > 0 && r->n_test != nte)
    return vf_error(VF_E_INPUT, "%s: test_repetitions has %ld test stimuli but the "
                    "split has %ld", file, r->n_test, nte);
  p->n_train[s] = ntr, p->n_test[s] = nte;
  if (nte < 2) return vf_error(VF_E_INPUT, "%s: %ld test stimuli; need at least 2", file, nte);
  return VF_OK;
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

static vf_status unit_cost(const sched_plan *p, sched_unit *u) {
  const cfg_ridge *rg = &p->points[u->sweep].ridge;
  int s = u->subject, k = 0;
  long ntr = p->n_train[s], nte = p->n_test[s];
  long nv = p->sub_vox0[s + 1] - p->sub_vox0[s];
  long pf = p->n_feat[u->variant] * rg->n_delays;
  if (rg->std_per_run && !p->resp[s]->run)
    return vf_error(VF_E_INPUT, "%s: no 'run' variable, which ridge.standardize."
                    "per_run needs", p->job->subjects[s].responses);
  int *fold = NULL;
  long *order = NULL, *start = NULL;
  vf_status st = VF_OK;
  VF_TRY(vf_calloc((size_t)ntr, sizeof(int), "folds", &fold));
  VF_TRY(vf_calloc((size_t)ntr, sizeof(long), "fold order", &order));
  VF_TRY(sched_point_folds(p, s, rg, fold, &k));
  VF_TRY(vf_calloc((size_t)k + 1, sizeof(long), "fold starts", &start));
  ridge_folds_order(ntr, fold, k, order, start);
  for (int f = 0; f < k; f++)
    if (start[f + 1] - start[f] < 2)
      VF_FAIL(VF_E_INPUT, "%s: CV fold %d has %ld stimuli; use fewer folds",
              p->job->subjects[s].responses, f, start[f + 1] - start[f]);
  u->flops = ridge_cv_flops(ntr, pf, nv, start, k, rg->n_lambdas, nte);
  u->bytes_in = 4.0 * p->n_stim * (p->n_feat[u->variant] + nv) +
                4.0 * p->resp[s]->n_rep * p->resp[s]->n_test * nv;
  double esz = rg->precision == CFG_PREC_SINGLE ? 4 : 8;
  double r = ntr < pf ? ntr : pf;
  /* X (train, test, fold copy), U, Vt, Y train/test, CV scores */
  u->mem = 8.0 * p->n_stim * pf + esz * (3.0 * ntr * pf + r * ntr + r * pf) +
           8.0 * p->n_stim * nv + esz * p->n_stim * nv + 8.0 * rg->n_lambdas * nv +
           8.0 * p->resp[s]->n_rep * p->resp[s]->n_test * nv;
fail:
  vf_free(&fold);
  vf_free(&order);
  vf_free(&start);
  return st;
}

/* Units grouped by variant (their features are read and factorised
 * alike), then subject, then sweep point. */
static vf_status make_units(sched_plan *p) {
  const cfg_job *j = p->job;
  p->n_units = p->n_points * j->n_subjects * j->n_variants;
  VF_CALL(vf_calloc((size_t)p->n_units, sizeof(sched_unit), "units", &p->units));
  int i = 0;
  for (int v = 0; v < j->n_variants; v++)
    for (int s = 0; s < j->n_subjects; s++)
      for (int w = 0; w < p->n_points; w++) {
        sched_unit *u = &p->units[i++];
        u->sweep = w, u->subject = s, u->variant = v;
        VF_CALL(unit_cost(p, u));
      }
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
                            sched_plan **out) {
  vf_status st = VF_OK;
  sched_plan *p = NULL;
  *out = NULL;
  VF_TRY(vf_calloc(1, sizeof *p, "plan", &p));
  st = load_job(comm, job_path, &p->job);
  if (st == VF_OK) st = build(p);
  VF_TRY(sched_agree(comm, st));
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
  vf_free(&p->weight_len);
  cfg_job_destroy(&p->job);
  vf_free(pp);
}
