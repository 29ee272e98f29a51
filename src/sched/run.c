/* Running a plan: units dealt round-robin to the ranks; after each round
 * every rank writes its unit collectively (data, sync, then status). */
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "voxfit/linalg.h"
#include "voxfit/sched.h"

int sched_set_blas_threads(MPI_Comm comm) {
  MPI_Comm node;
  int local = 1;
  MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
  MPI_Comm_size(node, &local);
  MPI_Comm_free(&node);
  cpu_set_t set;
  int online = (int)sysconf(_SC_NPROCESSORS_ONLN), mine = online;
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
    mine = CPU_COUNT(&set);
  /* a rank bound to some cores owns them; an unbound one shares the node
   * with the other ranks on it */
  int threads = mine < online ? mine : online / local;
  const char *env = getenv("VOXFIT_THREADS");
  if (env && atoi(env) > 0) threads = atoi(env);
  if (threads < 1) threads = 1;
  openblas_set_num_threads(threads);
  return threads;
}

static int fill_names(char (*dst)[IO_NAME_LEN], int n, const char *src, size_t stride) {
  for (int i = 0; i < n; i++)
    snprintf(dst[i], IO_NAME_LEN, "%s", src + (size_t)i * stride);
  return 0;
}

vf_status sched_results_layout(const sched_plan *p, io_results_layout *L) {
  const cfg_job *j = p->job;
  int S = j->n_subjects, V = j->n_variants;
  long nv = p->sub_vox0[S];
  memset(L, 0, sizeof *L);
  L->n_sweep = p->n_points, L->n_subjects = S, L->n_variants = V;
  L->n_rois = p->n_rois, L->n_lambdas = j->ridge.n_lambdas, L->n_pairs = j->n_pairs;
  L->n_vox = nv;
  VF_CALL(vf_calloc((size_t)p->n_points, 128, "labels", &L->sweep_labels));
  VF_CALL(vf_calloc((size_t)S, IO_NAME_LEN, "names", &L->subject_ids));
  VF_CALL(vf_calloc((size_t)V, IO_NAME_LEN, "names", &L->variant_ids));
  VF_CALL(vf_calloc((size_t)V, IO_NAME_LEN, "names", &L->variant_models));
  VF_CALL(vf_calloc((size_t)V, IO_NAME_LEN, "names", &L->variant_towers));
  VF_CALL(vf_calloc((size_t)V, IO_NAME_LEN, "names", &L->variant_trainings));
  VF_CALL(vf_calloc((size_t)V, sizeof(int), "layers", &L->variant_layers));
  VF_CALL(vf_calloc((size_t)2 * (j->n_pairs + 1), sizeof(int), "pairs", &L->pairs));
  VF_CALL(vf_calloc((size_t)nv, sizeof(int), "voxels", &L->voxel_subject));
  VF_CALL(vf_calloc((size_t)nv, sizeof(int), "voxels", &L->voxel_roi));
  VF_CALL(vf_calloc((size_t)nv, sizeof(int), "voxels", &L->voxel_index));
  VF_CALL(vf_calloc((size_t)nv * 3, sizeof(float), "voxels", &L->voxel_xyz));
  for (int i = 0; i < p->n_points; i++) snprintf(L->sweep_labels[i], 128, "%s", p->points[i].label);
  fill_names(L->subject_ids, S, j->subjects[0].id, sizeof(cfg_subject));
  fill_names(L->variant_ids, V, j->variants[0].id, sizeof(cfg_variant));
  fill_names(L->variant_models, V, j->variants[0].model, sizeof(cfg_variant));
  for (int v = 0; v < V; v++) {
    snprintf(L->variant_towers[v], IO_NAME_LEN, "%s", cfg_tower_name(j->variants[v].tower));
    snprintf(L->variant_trainings[v], IO_NAME_LEN, "%s", cfg_training_name(j->variants[v].training));
    L->variant_layers[v] = j->variants[v].layer;
  }
  L->roi_names = p->roi_names;
  L->lambdas = j->ridge.lambdas;
  L->pairs[0] = L->pairs[1] = -1;
  for (int i = 0; i < j->n_pairs; i++)
    L->pairs[2 * i] = j->pairs[i].ia, L->pairs[2 * i + 1] = j->pairs[i].ib;
  for (long k = 0; k < nv; k++) {
    const io_responses *r = p->resp[p->vox_subject[k]];
    L->voxel_subject[k] = p->vox_subject[k];
    L->voxel_roi[k] = p->vox_roi[k];
    L->voxel_index[k] = (int)p->vox_index[k];
    for (int c = 0; c < 3; c++)
      L->voxel_xyz[3 * k + c] = r->xyz ? (float)r->xyz[3 * p->vox_index[k] + c] : NAN;
  }
  L->save_cv_scores = j->ridge.save_cv_scores;
  L->weight_len = p->weight_len;
  L->job_name = j->name, L->job_file = j->path, L->job_yaml = j->text, L->job_hash = j->hash;
  return VF_OK;
}

void sched_results_layout_free(io_results_layout *L) {
  vf_free(&L->sweep_labels), vf_free(&L->subject_ids), vf_free(&L->variant_ids);
  vf_free(&L->variant_models), vf_free(&L->variant_towers);
  vf_free(&L->variant_trainings), vf_free(&L->variant_layers), vf_free(&L->pairs);
  vf_free(&L->voxel_subject), vf_free(&L->voxel_roi), vf_free(&L->voxel_index);
  vf_free(&L->voxel_xyz);
}

static io_unit_result as_result(const sched_plan *p, int unit, const sched_unit_out *o) {
  const sched_unit *u = &p->units[unit];
  io_unit_result r = {u->sweep, u->subject, u->variant, p->sub_vox0[u->subject],
                      o->n_vox, o->test_r, o->test_r2, o->best_lambda, o->cv_best,
                      o->cv_scores, o->weights, o->status, o->roi_mean_r, o->roi_median_r,
                      o->roi_n_voxels, o->roi_n_masked, o->errors, o->seconds};
  return r;
}

/* Progress on rank 0: at most every VOXFIT_PROGRESS_SECONDS (default 10)
 * and at the end; a live line when stderr is a terminal. */
static void progress(const sched_plan *p, int done, int failed, double t0,
                     double *last, int quiet) {
  double now = vf_now(), el = now - t0;
  const char *env = getenv("VOXFIT_PROGRESS_SECONDS");
  double every = env ? atof(env) : 10.0;
  int tty = isatty(2);
  if (quiet || (done < p->n_units && now - *last < (tty ? 0.5 : every))) return;
  *last = now;
  double flops = 0;
  for (int i = 0; i < done; i++) flops += p->units[i].flops;
  double eta = done ? el / done * (p->n_units - done) : 0;
  char line[256];
  snprintf(line, sizeof line, "%d/%d units done, %d failed, %.1f s, %.2f GFLOP/s, ETA %.0f s",
           done, p->n_units, failed, el, el > 0 ? flops / el / 1e9 : 0, eta);
  if (tty) fprintf(stderr, "\r%s%s", line, done == p->n_units ? "\n" : "");
  else vf_log(VF_LOG_INFO, "%s", line);
}

/* One round: this rank's unit (if any), then the collective write. */
static vf_status run_round(MPI_Comm comm, sched_plan *p, io_results *res,
                           int unit, int *failed) {
  sched_unit_out *o = NULL;
  vf_status st = VF_OK;
  if (unit < p->n_units) {
    st = sched_unit_out_create(p, unit, &o);
    if (st == VF_OK) st = sched_unit_run(p, unit, o);
  }
  VF_CALL(sched_agree(comm, st));
  io_unit_result r;
  if (o) r = as_result(p, unit, o);
  st = io_results_write_units(res, &r, o ? 1 : 0);
  if (o && o->status[0] == 2) (*failed)++;
  sched_unit_out_destroy(&o);
  return st;
}

vf_status sched_run(MPI_Comm comm, sched_plan *p, const sched_run_opts *opt,
                    int *n_failed) {
  int rank, size;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  vf_status st = VF_OK;
  io_results_layout L;
  io_results *res = NULL;
  *n_failed = 0;
  if (rank == 0) st = io_results_check_existing(p->job->output, p->job->hash, opt->force);
  VF_CALL(sched_agree(comm, st));
  VF_CALL(sched_results_layout(p, &L));
  st = io_results_create(comm, p->job->output, &L, &res);
  sched_results_layout_free(&L);
  VF_CALL(sched_agree(comm, st));
  double t0 = vf_now(), last = t0;
  int failed = 0, all_failed = 0;
  for (int base = 0; base < p->n_units && st == VF_OK; base += size) {
    st = run_round(comm, p, res, base + rank, &failed);
    MPI_Allreduce(&failed, &all_failed, 1, MPI_INT, MPI_SUM, comm);
    int done = base + size < p->n_units ? base + size : p->n_units;
    if (rank == 0) progress(p, done, all_failed, t0, &last, opt->quiet);
  }
  if (st) {
    io_results_close(&res, 0);
    return st;
  }
  *n_failed = all_failed;
  VF_CALL(io_results_close(&res, 1));
  return VF_OK;
}
