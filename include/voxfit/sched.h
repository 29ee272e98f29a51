/* sched (sched_): the job expanded into units, their cost, and running
 * them: rank 0 is the master and hands units to the workers (with -np 1
 * it computes them itself); finished units are flushed collectively into
 * the results file; a rerun resumes. The messages are in voxfit/proto.h.
 * No numerics of its own: it calls io and ridge. */
#ifndef VOXFIT_SCHED_H
#define VOXFIT_SCHED_H

#include <mpi.h>

#include "voxfit/config.h"
#include "voxfit/io.h"
#include "voxfit/linalg.h"
#include "voxfit/util.h"

/* A sweep point: the ridge settings it runs with, and its label. */
typedef struct {
  cfg_ridge ridge; /* lambdas point into the job's storage: do not free */
  char label[128];
} sched_point;

/* A unit: one sweep point, subject and variant, over the voxels
 * [vox0, vox0 + n_vox) of the voxel axis (one ROI or a block of it; all
 * the subject's voxels when one lambda is shared by them). */
typedef struct {
  int sweep, subject, variant;
  int roi;          /* the job ROI it covers, or -1: several */
  int design;       /* index into the plan's designs */
  long vox0, n_vox;
  double flops;     /* of the textbook fit of its voxels */
  double bytes_in;  /* read from the inputs */
  double mem;       /* peak working memory on one rank, bytes */
  long n_eval;      /* rows of its largest CV fold */
  int team;         /* ranks it runs on (sched_plan_teams): 1 or the team size */
  double mem_rank;  /* peak working memory per rank of those */
} sched_unit;

/* A design: what a factorisation depends on (the variant's features, the
 * training and test rows, the folds, the preprocessing, the lambdas, the
 * solver and precision). Units of every ROI and of every subject that saw
 * the same stimuli share one. */
typedef struct {
  char key[17];     /* hash of all of the above */
  int variant, sweep, subject; /* the first unit's: how to build it */
  double flops;     /* of its factorisations */
  double total;     /* flops with its units': the order of work */
  double bytes;     /* of the model kept in memory */
  int n_units;
} sched_design;

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
  sched_unit *units;            /* in the order they are handed out */
  int n_designs;
  sched_design *designs;
  long *weight_len;             /* per variant when save_weights, else NULL */
  cfg_site site;
  /* sched_plan_teams: teams of team_size ranks (1: none), n_teams of
   * them, then n_singles single-rank workers */
  int team_size, n_teams, n_singles;
} sched_plan;

/* Collective on comm: rank 0 reads the job file, every rank parses the
 * same text, opens every input's metadata and builds the same plan: units
 * split at site->block_voxels, grouped by design, largest designs first.
 * Fails (on every rank alike) with VF_E_INPUT and a one-line message. */
vf_status sched_plan_create(MPI_Comm comm, const char *job_path,
                            const cfg_site *site, sched_plan **out);

/* Collective (rank 0 looks, the others learn its answer): whether the
 * results file path can be written (its folder exists and is writable, it
 * is not a folder) and is none of the job's inputs nor the job file (the
 * same file by device and inode, whatever the path), and whether the
 * inputs are distinct files (two subjects on one responses file under two
 * names, say): else VF_E_INPUT naming the path and what to do. Before
 * anything is written: --force must not turn a wrong output into a
 * destroyed input. */
vf_status sched_output_check(MPI_Comm comm, const cfg_job *job, const char *path);
void sched_plan_destroy(sched_plan **p);

/* Local (the same on every rank): which units run on a team of ranks,
 * for a job of n_ranks ranks. A unit whose working memory exceeds the
 * site's memory per rank runs on the smallest power-of-two team that
 * holds it, and one with more than a worker's share of the job's flops
 * on the smallest that brings it under (the site's team_size
 * forces one size for every unit); the
 * largest such team sets the team size; workers are split into teams
 * and single-rank workers in proportion to their units' flops. Fails with
 * VF_E_INPUT naming the unit when no team of the job's workers holds it. */
vf_status sched_plan_teams(sched_plan *p, int n_ranks);

/* Local: one line on the teams of a plan (after sched_plan_teams). */
void sched_layout_describe(const sched_plan *p, int n_ranks, char *buf, size_t cap);

/* Working memory per rank of unit u on a team of t ranks. */
double sched_unit_mem(const sched_plan *p, const sched_unit *u, int t);

/* Who computes what: rank 0 is the master (with more than one rank),
 * then n_teams teams of team_size consecutive ranks, then single-rank
 * workers. The one owner of the team communicators and their BLACS grids
 * (MPI_Comm_split, Csys2blacs_handle, Cblacs_gridinit). */
typedef struct {
  int rank, size;
  int n_teams, team_size;
  int *team_of;       /* per rank: its team, or -1 (master, single worker) */
  int team;           /* this rank's team, or -1 */
  MPI_Comm team_comm; /* MPI_COMM_NULL outside a team */
  int team_rank;
  int blacs;          /* BLACS system handle of team_comm */
  la_grid grid;       /* pr x pc: the fit */
  la_grid row;        /* 1 x team_size: reading, statistics, gathering */
} sched_layout;
/* Collective on comm (after sched_plan_teams with comm's size). */
vf_status sched_layout_create(MPI_Comm comm, const sched_plan *p, sched_layout **out);
void sched_layout_destroy(sched_layout **l);
/* Local: 1 if the master sends orders to rank w (a team leader or a
 * single worker); the ranks w stands for (1 or the team size). */
int sched_layout_contact(const sched_layout *l, int w);
int sched_layout_ranks(const sched_layout *l, int w);

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
  double *ev, *split_half, *test_r_norm, *test_p; /* docs/statistics.md */
  float *pred, *y;    /* n_vox x n_test with stats.save_predictions, else NULL */
  long n_test;
  float *cv_scores;
  float *weights;     /* weight_len x n_vox (NaN-padded) or NULL */
  long weight_len;
  int status;         /* 1 done, 2 failed */
  char error[256];
  double seconds;
  int factorised;     /* 1 when this unit computed its design's model */
  int published;      /* 1 when it also wrote it for other workers */
} sched_unit_out;

vf_status sched_unit_out_create(const sched_plan *p, int unit,
                                sched_unit_out **out);
void sched_unit_out_destroy(sched_unit_out **o);

/* A worker's factorisations, kept across units (bounded by the site's
 * model_cache_mib; at least the last one). */
typedef struct sched_cache sched_cache;
vf_status sched_cache_create(const sched_plan *p, sched_cache **out);
void sched_cache_destroy(sched_cache **c);
/* Where models are published for other workers (a folder, created when
 * first needed): sched_models_dir(output) = "<output>.models". */
void sched_cache_set_dir(sched_cache *c, const char *dir);
void sched_models_dir(const char *output, char *buf, size_t cap);

/* Local (reads inputs with MPI_COMM_SELF): fits one unit, using and
 * filling the cache (flags: SCHED_PUBLISH, SCHED_LOAD). A failure of the unit itself (bad data, a failed
 * factorisation) is recorded in out's status and error and returns VF_OK;
 * only a broken invariant returns an error. */
enum { SCHED_PUBLISH = 1, /* after building the model, write it for others */
       SCHED_LOAD = 2 };   /* read the model another worker published */
vf_status sched_unit_run(const sched_plan *p, int unit, sched_cache *cache,
                         int flags, sched_unit_out *out);

/* Collective on l's team: fits unit on the team with ScaLAPACK, reusing
 * the factorisations of the team's last design (kept in cache). out is
 * the leader's (team rank 0) and NULL on the others. Failures are as for
 * sched_unit_run, agreed across the team. */
vf_status sched_team_unit_run(const sched_plan *p, int unit, const sched_layout *l,
                              sched_cache *cache, sched_unit_out *out);

/* Collective: runs every unit not yet done in the results file (created,
 * or reopened to resume) and fills the ROI summaries. */
typedef struct {
  int force;
  int quiet;
  int shard, n_shards;    /* run units i with i % n_shards == shard */
  const char *output;     /* the results file (the job's, or a shard's) */
  int no_reuse;           /* benchmarks: a fresh factorisation per unit */
} sched_run_opts;
typedef struct {
  int n_units, n_skipped, n_done, n_failed;
  int n_factorisations;   /* computed by this run, over every rank */
  int stopped;            /* a signal stopped the run early */
  double seconds, compute_seconds; /* wall, and the sum of unit times */
  /* rank 0's wall time in: opening the file, flushes, summaries + close */
  double setup_seconds, flush_seconds, finish_seconds;
} sched_run_stats;
vf_status sched_run(MPI_Comm comm, sched_plan *p, const sched_run_opts *o,
                    sched_run_stats *stats);

/* Local: shard[u] (0-based, of n_shards) runs unit u: contiguous shares
 * of the plan's order (designs stay together), cut at equal flops. */
void sched_unit_shards(const sched_plan *p, int n_shards, int *shard);

/* Collective: merges the n_shards shard files of the job's output into
 * the output itself (replacing a file of this job, or any with force).
 * stats->n_done / n_failed count the units copied; every unit must be in
 * its shard's file, else VF_E_INPUT names the shard to rerun. */
vf_status sched_collect(MPI_Comm comm, sched_plan *p, int n_shards, int force,
                        sched_run_stats *stats);

/* The shard's file name: "out.nc" -> "out.shard-2-of-8.nc". */
void sched_shard_path(const char *output, int shard, int n_shards, char *buf,
                      size_t cap);

/* BLAS threads per rank from the cores this rank may use and the ranks on
 * its node (VOXFIT_THREADS overrides); a master that only schedules
 * leaves its share to the workers. Collective on comm. Returns the count
 * chosen. */
int sched_set_blas_threads(MPI_Comm comm);

#endif
