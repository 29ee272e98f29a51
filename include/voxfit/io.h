/* io (io_): reading inputs (CDF-1/2/5 via PnetCDF), writing inputs for the
 * generator, and the results file. The layouts are in docs/inputs.md and
 * docs/results.md; the names used in files are defined here only.
 * Every function taking an MPI_Comm is collective on it; pass MPI_COMM_SELF
 * for a one-rank read. All matrices are column-major doubles. */
#ifndef VOXFIT_IO_H
#define VOXFIT_IO_H

#include <mpi.h>

#include "voxfit/util.h"

#define IO_NAME_LEN 64

/* Local, before MPI_Init: MPI-IO settings the program needs, unless the
 * user set them. Open MPI's OMPIO opens every file with its "sm" shared
 * file pointer component, which keeps a POSIX semaphore named after the
 * file's base name (/dev/shm/sem.OMPIO_<name>); a process killed while
 * holding it leaves it taken, and every later open of any file of that
 * name, in any folder, by any program, waits forever. voxfit uses no
 * shared file pointers: OMPI_MCA_sharedfp=individual (not ^sm, which
 * picks "lockedfile": its lock file next to the data was left behind when
 * a full disk failed the open, and took the room a rerun needed). */
void io_mpi_setup(void);

/* Local: removes the empty side files PATH.data.N and PATH.metadata.N
 * that the "individual" component creates beside a file while it is open
 * (one pair per rank) and that a killed run leaves behind; a later run on
 * fewer ranks would never reopen, so never remove, the higher ones.
 * io_lock_take calls it once it holds the output's lock (no run of ours
 * then has PATH open). Non-empty files of those names are kept. */
void io_mpi_side_files_remove(const char *path);

/* Collective on comm: every rank ends with the status (and message) of the
 * lowest failing rank, so that none goes on alone into a collective step
 * (the scheduler's sched_agree is this). */
vf_status io_agree(MPI_Comm comm, vf_status st);

/* Local. Fails with VF_E_INPUT and a one-line message if path does not
 * exist, is HDF5/NetCDF-4 (message gives "nccopy -k cdf5 in out"), or is
 * not a classic NetCDF file. */
vf_status io_check_format(const char *path);

/* Metadata of a features variable. */
typedef struct {
  long n_stim, n_feat;
} io_features_info;

vf_status io_features_info_read(MPI_Comm comm, const char *path,
                                const char *var, io_features_info *info);

/* Reads the rows rows[0..nrows) (stimulus indices) of variable var into X
 * (nrows x n_feat, column-major, leading dimension nrows). */
vf_status io_features_read_rows(MPI_Comm comm, const char *path,
                                const char *var, const long *rows, long nrows,
                                double *X);

/* The same for the columns cols[0..ncols) only (X: nrows x ncols). */
vf_status io_features_read_cols(MPI_Comm comm, const char *path,
                                const char *var, const long *rows, long nrows,
                                const long *cols, long ncols, double *X);

/* Everything in a responses file except the big arrays. */
typedef struct {
  char path[4096];
  long n_stim, n_vox, n_rep, n_test; /* n_rep = n_test = 0 without reps */
  int n_roi;
  char (*roi_names)[IO_NAME_LEN]; /* n_roi */
  int *roi_index;                 /* n_vox, -1 = no ROI */
  int *split;                     /* n_stim or NULL when absent */
  int *run;                       /* n_stim or NULL when absent */
  double *xyz;                    /* 3*n_vox (voxel-major) or NULL */
  int resp_is_double;             /* storage type of responses */
} io_responses;

vf_status io_responses_open(MPI_Comm comm, const char *path,
                            io_responses **out);
void io_responses_destroy(io_responses **r);

/* Reads responses[rows, vox] into Y (nrows x nvox column-major). */
vf_status io_responses_read(MPI_Comm comm, const io_responses *r,
                            const long *rows, long nrows, const long *vox,
                            long nvox, double *Y);

/* Reads test_repetitions[:, :, vox] into Yr: for voxel j, repetition k,
 * test stimulus t: Yr[(j * n_rep + k) * n_test + t]. Requires n_rep > 0. */
vf_status io_responses_read_reps(MPI_Comm comm, const io_responses *r,
                                 const long *vox, long nvox, double *Yr);

/* ---- writing inputs (used by voxfit gen and by tests) ---------------- */

typedef enum { IO_CDF1 = 1, IO_CDF2 = 2, IO_CDF5 = 5 } io_format;

/* Creates a features file holding n_vars variables, each (stimulus,
 * feat_<name>) float, with attributes. Then write each with
 * io_features_write_rows. Collective on comm. */
typedef struct {
  char name[IO_NAME_LEN];
  long n_feat;
  char model[IO_NAME_LEN];
  int layer;
  char tower[16], training[16];
} io_feature_var;

typedef struct io_writer io_writer; /* an open file being written */

vf_status io_features_create(MPI_Comm comm, const char *path, io_format fmt,
                             long n_stim, const io_feature_var *vars,
                             int n_vars, io_writer **out);
/* Writes rows [row0, row0+nrows) of variable iv from F (nrows x n_feat,
 * row-major as in the file). */
vf_status io_features_write_rows(io_writer *w, int iv, long row0, long nrows,
                                 const float *F);

typedef struct {
  long n_stim, n_vox, n_rep, n_test;
  int n_roi;
  const char (*roi_names)[IO_NAME_LEN];
  const int *roi_index; /* n_vox */
  const int *split;     /* n_stim or NULL */
  const int *run;       /* n_stim or NULL */
  const float *xyz;     /* 3*n_vox or NULL */
  const char *subject;  /* global attribute */
} io_responses_layout;

vf_status io_responses_create(MPI_Comm comm, const char *path, io_format fmt,
                              const io_responses_layout *lay, io_writer **out);
/* Writes responses[:, vox0:vox0+nvox] from Y (n_stim x nvox col-major). */
vf_status io_responses_write_block(io_writer *w, long vox0, long nvox,
                                   const float *Y);
/* Writes test_repetitions[:, :, vox0:vox0+nvox] from Yr laid out as in
 * io_responses_read_reps. */
vf_status io_responses_write_reps(io_writer *w, long vox0, long nvox,
                                  const float *Yr);

/* Closes (collective) and frees; takes NULL. */
vf_status io_writer_close(io_writer **w);

/* ---- the results file (docs/results.md) --------------------------- */

typedef struct {
  int n_sweep, n_subjects, n_variants, n_rois, n_lambdas, n_pairs;
  long n_vox;
  char (*sweep_labels)[128];     /* n_sweep */
  char (*subject_ids)[IO_NAME_LEN];
  char (*variant_ids)[IO_NAME_LEN], (*variant_models)[IO_NAME_LEN];
  char (*variant_towers)[IO_NAME_LEN], (*variant_trainings)[IO_NAME_LEN];
  int *variant_layers;
  char (*roi_names)[IO_NAME_LEN];
  double *lambdas;
  int *pairs;                    /* 2 * n_pairs */
  int *voxel_subject, *voxel_roi, *voxel_index; /* n_vox */
  float *voxel_xyz;              /* 3 * n_vox */
  int save_cv_scores;
  long *weight_len;              /* n_variants, or NULL: no weights */
  const char *job_name, *job_file, *job_yaml, *job_hash;
  /* the units: n_units of each (unit_voxel_start/count in the voxel axis) */
  int n_units;
  int *unit_sweep, *unit_subject, *unit_variant, *unit_roi;
  int *unit_vox0, *unit_nvox;
  long block_voxels;             /* the site setting the units came from */
  double alpha, ev_threshold;    /* the job's stats settings (docs/statistics.md) */
  int top_k, permutations, block_length;
  int *subject_n_test;           /* n_subjects: test stimuli of each */
  int save_predictions;          /* test_pred and test_y variables */
  int shard, n_shards;           /* n_shards = 1: the whole job */
} io_results_layout;

/* One unit's results: the voxels [vox0, vox0 + n_vox) of the voxel axis
 * at one sweep point and variant. Everything pointed to (and the struct)
 * must stay valid until io_results_write_units returns. */
typedef struct {
  int unit, sweep, variant;
  long vox0, n_vox;
  const double *test_r, *test_r2, *best_lambda, *cv_best;
  const double *ev, *split_half, *test_r_norm, *test_p;
  const float *pred, *y;         /* n_vox x n_test (test fastest) or NULL */
  long n_test;
  const float *cv_scores;        /* n_lambdas x n_vox or NULL */
  const float *weights;          /* weight_len[variant] x n_vox or NULL */
  int status;                    /* 1 done, 2 failed */
  const char *error;             /* 256 bytes: "" or why it failed */
  double seconds;
} io_unit_result;

typedef struct io_results io_results;

/* Local: the size in bytes of the results file of layout L (to a few KB;
 * voxfit plan prints it, and a run reserves it on disk). */
double io_results_bytes(const io_results_layout *L);

/* Rank-0 check before a run: if path exists it must be a voxfit results
 * file of the same job (same hash) unless force. *resumable = 1 when it is
 * (and force is not set). Local. */
vf_status io_results_check_existing(const char *path, const char *hash,
                                    int force, int *resumable);
/* What an existing output holds, for voxfit plan. */
typedef struct {
  int exists, same_job, complete;
  long units, done, failed; /* unit_status 1 and 2 */
} io_results_state;

/* Local. s->exists = 0 when there is no file at path. Fails (with
 * io_results_check_existing's message) for a file voxfit run would refuse
 * without --force: another job's, truncated, not a results file. */
vf_status io_results_state_read(const char *path, const char *hash, io_results_state *s);

/* Collective: creates path (replacing it), defines everything and writes
 * the names and coordinates. Returns with every status 0 and complete=0. */
vf_status io_results_create(MPI_Comm comm, const char *path,
                            const io_results_layout *lay, io_results **out);
/* Collective: reopens a file of the same job to resume it: its units must
 * be the layout's (else a message says which setting differs); fills
 * status[n_units] with the units' flags (0 not done, 1 done, 2 failed). */
vf_status io_results_open(MPI_Comm comm, const char *path,
                          const io_results_layout *lay, io_results **out,
                          int *status);
/* Collective: writes the data of the units this rank holds (n may be 0),
 * waits, syncs to disk, then writes their status flags and syncs again. */
vf_status io_results_write_units(io_results *r, const io_unit_result *u,
                                 int n);
/* Collective: rank 0 reads test_r back and writes the ROI summaries
 * (mean, median, counts, roi_status) from the units' flags status[]. */
vf_status io_results_summarise(io_results *r, const io_results_layout *lay,
                               const int *status);
/* Rank 0 alone: src is a readable results file of this job (its
 * job_hash) with this layout's unit count, as io_results_copy_units needs,
 * written as shard `shard` (0-based) of n_shards (its "shard" attribute: a
 * shard file renamed from another split is refused); collect checks every
 * shard so before it replaces its output. */
vf_status io_results_check_source(const char *src, const io_results_layout *lay, int shard,
                                  int n_shards);
/* Collective: copies from the results file src (of the same layout) the
 * units with take[u] set and a flag of 1 or 2 there; *copied counts them.
 * Rank 0 reads; the write is collective. */
vf_status io_results_copy_units(io_results *dst, const char *src,
                                const io_results_layout *lay, const int *take,
                                int *copied);
/* What `voxfit run` prints at the end, read back from a results file.
 * Local. */
typedef struct {
  int n_sweep, n_subjects, n_variants, n_rois, n_pairs;
  char (*sweep_labels)[128];
  char (*subject_ids)[IO_NAME_LEN], (*variant_ids)[IO_NAME_LEN];
  char (*roi_names)[IO_NAME_LEN];
  int *pairs;           /* 2 * n_pairs */
  double *roi_mean_r;   /* sweep x subject x variant x roi */
  int *status;          /* same shape */
  int *roi_n_masked;    /* same shape */
  int complete;
  int *variant_layers;  /* n_variants (-1: not given) */
  char (*variant_models)[IO_NAME_LEN];
  char job_hash[64];
  long n_vox, max_test;
  int *voxel_subject, *voxel_roi; /* n_vox */
  int *subject_n_test;            /* n_subjects */
  int has_predictions;            /* test_pred and test_y are there */
  char *job_yaml;                 /* the job's text, or NULL */
} io_results_table;
/* Local: test_pred[sweep, variant, :, :] into pred (n_vox x max_test, test
 * fastest) and, with y != NULL, test_y into y (same shape). */
vf_status io_results_read_predictions(const char *path, int sweep, int variant,
                                      const io_results_table *t, float *pred, float *y);
vf_status io_results_read_table(const char *path, io_results_table **out);
void io_results_table_destroy(io_results_table **t);

/* Collective: sets finished/complete, closes and frees; takes NULL. */
vf_status io_results_close(io_results **r, int complete);

/* ---- the group file (docs/statistics.md) ---------------------------- */
typedef struct {
  int n_sweep, n_pairs, n_rois, n_variants, n_subjects;
  char (*sweep_labels)[128];
  char (*roi_names)[IO_NAME_LEN], (*subject_ids)[IO_NAME_LEN];
  char (*variant_ids)[IO_NAME_LEN], (*variant_models)[IO_NAME_LEN];
  int *variant_layers;
  int *pairs;                  /* 2 * n_pairs */
  double level;                /* of the confidence intervals */
  /* (sweep, pair, roi) */
  double *mean_diff, *ci_lo, *ci_hi, *t, *p_t, *q_t, *w, *p_w, *q_w;
  int *n_used, *n_up, *n_down;
  double *diff;                /* (sweep, pair, roi, subject): a - b */
  double *profile_mean, *profile_sem; /* (sweep, variant, roi) over subjects */
  int n_boot, boot_tests;      /* 0: no bootstrap */
  unsigned long boot_seed;
  double *boot_lo, *boot_hi;   /* (sweep, pair, roi, subject) */
  int *boot_index;             /* (n_boot, boot_tests): the resampled test stimuli */
  const char *sources;         /* the results files, one per line */
  int inputs_complete;         /* 0: some ROI results of the inputs not done
                                  (q is then over the ROIs that have them) */
} io_group;
/* Local: writes path (CDF-2) through a temporary file renamed at the end,
 * so a failed write never leaves a file that looks whole. */
vf_status io_group_write(const char *path, const io_group *g);

/* Local: whether path may receive a group file. Fails with VF_E_INPUT and
 * one line when path is one of the n inputs (the same file: device and
 * inode, so through links too; whatever force says), is a directory, or
 * exists and is not a group file (no global attributes ci_level and
 * sources) and force is 0; remedy ends those messages (what to do). A
 * path that does not exist is fine when its folder does. */
vf_status io_group_check_out(const char *path, const char *const *inputs, int n, int force,
                             const char *remedy);

/* Local: 1 when path is a classic NetCDF file with the global attributes
 * a group file has (ci_level and sources), else 0. */
int io_group_is_group_file(const char *path);

/* ---- the output lock ------------------------------------------------------
 * One run at a time writes a results (or shard) file: rank 0 of a run holds
 * an exclusive lock (flock) on OUTPUT.lock from before the file is opened
 * until the run ends. The kernel drops it when the process dies, so a
 * killed run leaves no stale lock; a run that ends removes the file. */
typedef struct io_lock io_lock;

/* Local. Takes the lock of the output file out, then removes a killed
 * run's side files of it (io_mpi_side_files_remove). Fails with
 * VF_E_INPUT and a one-line message naming the holder's pid and host when
 * another run holds it. On a file system without locks, *lock = NULL and VF_OK: the
 * run goes on unlocked. */
vf_status io_lock_take(const char *out, io_lock **lock);

/* Local. Releases and removes the lock file; takes NULL. */
void io_lock_release(io_lock **lock);

#endif
