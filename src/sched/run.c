/* Running a plan: the master hands units to workers (voxfit/proto.h);
 * finished units are flushed collectively; a rerun resumes. */
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "voxfit/linalg.h"
#include "voxfit/proto.h"
#include "voxfit/sched.h"

int sched_set_blas_threads(MPI_Comm comm) {
  MPI_Comm node;
  int local = 1;
  MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
  int rank, size, master_here = 0, is_master;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  is_master = rank == 0 && size > 1;
  MPI_Comm_size(node, &local);
  MPI_Allreduce(&is_master, &master_here, 1, MPI_INT, MPI_MAX, node);
  MPI_Comm_free(&node);
  cpu_set_t set;
  int online = (int)sysconf(_SC_NPROCESSORS_ONLN), mine = online;
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
    mine = CPU_COUNT(&set);
  /* a rank bound to some cores owns them; an unbound one shares the node
   * with the other ranks on it, except a master that only schedules */
  int workers = local - master_here > 0 ? local - master_here : 1;
  int threads = mine < online ? mine : online / workers;
  if (is_master) threads = 1;
  if (threads < 1) threads = 1;
  threads = (int)vf_env_number("VOXFIT_THREADS", 1, 4096, 1, threads,
                               "a whole number of BLAS threads per rank from 1 to 4096",
                               "threads from the cores, see README");
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
  L->n_units = p->n_units;
  L->block_voxels = p->site.block_voxels;
  const cfg_stats *cs = &j->stats;
  L->alpha = cs->alpha, L->ev_threshold = cs->ev_threshold, L->top_k = cs->top_k;
  L->permutations = cs->permutations, L->block_length = cs->block_length;
  L->save_predictions = cs->save_predictions;
  VF_CALL(vf_calloc((size_t)S, sizeof(int), "test sizes", &L->subject_n_test));
  for (int s = 0; s < S; s++) L->subject_n_test[s] = (int)p->n_test[s];
  L->n_shards = 1;
  int **cols[6] = {&L->unit_sweep, &L->unit_subject, &L->unit_variant, &L->unit_roi,
                   &L->unit_vox0, &L->unit_nvox};
  for (int c = 0; c < 6; c++)
    VF_CALL(vf_calloc((size_t)p->n_units + 1, sizeof(int), "unit table", cols[c]));
  for (int u = 0; u < p->n_units; u++) {
    const sched_unit *x = &p->units[u];
    L->unit_sweep[u] = x->sweep, L->unit_subject[u] = x->subject;
    L->unit_variant[u] = x->variant, L->unit_roi[u] = x->roi;
    L->unit_vox0[u] = (int)x->vox0, L->unit_nvox[u] = (int)x->n_vox;
  }
  return VF_OK;
}

void sched_results_layout_free(io_results_layout *L) {
  vf_free(&L->sweep_labels), vf_free(&L->subject_ids), vf_free(&L->variant_ids);
  vf_free(&L->variant_models), vf_free(&L->variant_towers);
  vf_free(&L->variant_trainings), vf_free(&L->variant_layers), vf_free(&L->pairs);
  vf_free(&L->voxel_subject), vf_free(&L->voxel_roi), vf_free(&L->voxel_index);
  vf_free(&L->voxel_xyz);
  vf_free(&L->unit_sweep), vf_free(&L->unit_subject), vf_free(&L->unit_variant);
  vf_free(&L->unit_roi), vf_free(&L->unit_vox0), vf_free(&L->unit_nvox);
  vf_free(&L->subject_n_test);
}

