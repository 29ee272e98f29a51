/* sched (sched_): the job expanded into units, their cost, and running
 * them (today: units dealt round-robin to the ranks, written collectively
 * round by round; the master/worker protocol comes with the batch-system
 * work). No numerics of its own: it calls io and ridge. */
#ifndef VOXFIT_SCHED_H
#define VOXFIT_SCHED_H

#include <mpi.h>

#include "voxfit/config.h"
#include "voxfit/io.h"
#include "voxfit/util.h"

/* A sweep point: the ridge settings it runs with, and its label. */
typedef struct {
  cfg_ridge ridge; /* lambdas point into the job's storage: do not free */
  char label[128];
} sched_point;

typedef struct {
  int sweep, subject, variant;
  double flops;     /* of the textbook fit */
  double bytes_in;  /* read from the inputs */
  double mem;       /* peak working memory, bytes */
} sched_unit;

typedef struct {
  cfg_job *job;                 /* owned */
  int n_points;
  sched_point *points;
  io_responses **resp;          /* per subject */
  long *n_feat;                 /* per variant */
  long n_stim;
  /* the job's ROIs and, per subject, its selected voxels (ROI-major) */
  int n_rois;
  char (*roi_names)[IO_NAME_LEN];
  long *sub_vox0;               /* n_subjects + 1 offsets in the voxel axis */
  long *vox_index;              /* voxel axis -> index in the subject file */
  int *vox_roi;                 /* voxel axis -> job ROI */
  int *vox_subject;
  /* per subject: training and test rows (time order) */
  long **train_rows, **test_rows;
  long *n_train, *n_test;
  int n_units;
  sched_unit *units;
  long *weight_len;             /* per variant when save_weights, else NULL */
} sched_plan;

/* Collective on comm: rank 0 reads the job file, every rank parses the
 * same text, opens every input's metadata and builds the same plan.
 * Fails (on every rank alike) with VF_E_INPUT and a one-line message. */
vf_status sched_plan_create(MPI_Comm comm, const char *job_path,
                            sched_plan **out);
void sched_plan_destroy(sched_plan **p);

/* Collective: if st failed on any rank, every rank returns the lowest
 * failing rank's error; otherwise VF_OK everywhere. */
vf_status sched_agree(MPI_Comm comm, vf_status st);

/* Local: the CV folds of subject s's training rows under settings rg. */
vf_status sched_point_folds(const sched_plan *p, int s, const cfg_ridge *rg,
                            int *fold, int *k);

/* Local: fills the results-file layout from the plan (pointers into it). */
vf_status sched_results_layout(const sched_plan *p, io_results_layout *L);
void sched_results_layout_free(io_results_layout *L);

/* One unit's outputs, owned by the caller. */
typedef struct {
  long n_vox;
  double *test_r, *test_r2, *best_lambda, *cv_best;
  float *cv_scores;
  float *weights;     /* weight_len x n_vox (NaN-padded) or NULL */
  long weight_len;
  int *status;
  double *roi_mean_r, *roi_median_r;
  int *roi_n_voxels, *roi_n_masked;
  char (*errors)[256];
  double seconds;
} sched_unit_out;

vf_status sched_unit_out_create(const sched_plan *p, int unit,
                                sched_unit_out **out);
void sched_unit_out_destroy(sched_unit_out **o);

/* Local (reads inputs with MPI_COMM_SELF): fits one unit. A failure of the
 * unit itself (bad data, a failed factorisation) is recorded in out's
 * status and errors and returns VF_OK; only a broken invariant returns an
 * error. */
vf_status sched_unit_run(const sched_plan *p, int unit, sched_unit_out *out);

/* Collective: runs every unit into the results file; *n_failed counts
 * failed units. */
typedef struct {
  int force;
  int quiet;
} sched_run_opts;
vf_status sched_run(MPI_Comm comm, sched_plan *p, const sched_run_opts *o,
                    int *n_failed);

/* BLAS threads per rank from the cores this rank may use and the ranks on
 * its node (VOXFIT_THREADS overrides). Collective on comm. Returns the
 * count chosen. */
int sched_set_blas_threads(MPI_Comm comm);

#endif
