/* config (cfg_): a job YAML file -> a validated job struct.
 * Errors carry file:line:column and the key path, e.g.
 *   jobs/demo.yaml:14:5: ridge.lambdas: expected a list of numbers or
 *   {logspace: [lo, hi, n]}
 * The schema is documented in docs/job-schema.md. */
#ifndef VOXFIT_CONFIG_H
#define VOXFIT_CONFIG_H

#include "voxfit/util.h"

#define CFG_ID_LEN 64
#define CFG_PATH_LEN 4096
#define CFG_MAX_DELAYS 32

typedef enum { CFG_TOWER_VISUAL, CFG_TOWER_LINGUAL } cfg_tower;
typedef enum { CFG_TRAIN_MULTIMODAL, CFG_TRAIN_UNIMODAL } cfg_training;
typedef enum { CFG_CV_KFOLD, CFG_CV_LEAVE_ONE_RUN_OUT, CFG_CV_SHUFFLED } cfg_cv_scheme;
typedef enum { CFG_SCORE_R, CFG_SCORE_R2, CFG_SCORE_NEG_MSE } cfg_score;
typedef enum { CFG_STD_NONE, CFG_STD_CENTER, CFG_STD_ZSCORE } cfg_std;
typedef enum { CFG_PREC_DOUBLE, CFG_PREC_SINGLE } cfg_precision;
typedef enum { CFG_SOLVER_AUTO, CFG_SOLVER_SVD, CFG_SOLVER_EIGEN } cfg_solver;
typedef enum { CFG_CVM_AUTO, CFG_CVM_PER_FOLD, CFG_CVM_HELD_OUT } cfg_cv_method;

typedef struct {
  char id[CFG_ID_LEN];
  char responses[CFG_PATH_LEN]; /* absolute or resolved against the YAML dir */
  int line;                     /* where it was declared, for later errors */
} cfg_subject;

typedef struct {
  char id[CFG_ID_LEN];
  char features[CFG_PATH_LEN];
  char variable[CFG_ID_LEN];    /* default "features" */
  char model[CFG_ID_LEN];       /* model family, e.g. "clip-vit-b16" */
  int layer;                    /* -1 when not given */
  cfg_tower tower;
  cfg_training training;
  int line;
} cfg_variant;

typedef struct {
  char a[CFG_ID_LEN], b[CFG_ID_LEN]; /* variant ids; a is "multimodal" side */
  int ia, ib;                        /* their indices in job->variants */
} cfg_pair;

typedef struct {
  int from_file;  /* 1: the responses file's split(stimulus) variable */
  /* explicit: half-open stimulus index ranges [start, start+count) */
  long train_start, train_count, test_start, test_count;
} cfg_split;

typedef struct {
  double *lambdas;   /* n_lambdas values, ascending, all > 0 */
  int n_lambdas;
  cfg_cv_scheme cv;
  int folds;         /* kfold / shuffled; ignored for leave-one-run-out */
  unsigned long seed;/* shuffled */
  cfg_score score;
  int delays[CFG_MAX_DELAYS]; /* FIR lags in TRs, >= 0, distinct, ascending */
  int n_delays;      /* default 1 delay: {0} */
  cfg_std std_features;  /* default zscore */
  cfg_std std_responses; /* default zscore */
  int std_per_run;   /* standardise within each run (needs run labels); default 0 */
  cfg_precision precision;   /* default double */
  cfg_solver solver;         /* default auto: svd when n >= p, eigen otherwise */
  cfg_cv_method cv_method;   /* default auto: held_out when it costs fewer flops */
  int lambda_per_voxel;      /* default 1; 0: one lambda shared by all voxels */
  int save_weights;          /* default 0 */
  int save_cv_scores;        /* default 0 */
} cfg_ridge;

/* One sweep axis: a dotted key path into the job ("ridge.delays") and the
 * list of values it takes. Each value is kept as its own ridge settings
 * (the base job's settings with that one key overridden), validated. */
typedef struct {
  char key[128];
  int n_values;
  cfg_ridge *values; /* n_values settings, each fully validated */
  char **labels;     /* n_values short printable labels, e.g. "[1,2,3,4]" */
} cfg_sweep_axis;

/* Per-voxel statistics of the test set (docs/statistics.md). */
typedef struct {
  int permutations;    /* permutation test draws; 0 = no test (default 1000) */
  int block_length;    /* test time points permuted together (default 1) */
  unsigned long seed;  /* of the permutations (default 1) */
  double alpha;        /* FDR level for "significant" voxels (default 0.05) */
  double ev_threshold; /* voxels with explainable variance below: no
                          ceiling-normalised r (default 0.1) */
  int top_k;           /* voxels in the top-k ROI summary (default 50) */
  int group;           /* run the group stage when the run completes (default false) */
  int save_predictions;/* keep test predictions and responses (default false):
                          voxfit group's bootstrap over test stimuli needs them */
} cfg_stats;

typedef struct {
  char path[CFG_PATH_LEN];   /* the YAML file as given */
  char dir[CFG_PATH_LEN];    /* its folder: relative paths resolve here */
  char name[CFG_ID_LEN];     /* job: <name>; default: file stem */
  char output[CFG_PATH_LEN]; /* results file */
  char *text;                /* the whole YAML text (stored in results) */
  char hash[17];             /* vf_hash_hex of text */

  cfg_subject *subjects; int n_subjects;
  cfg_variant *variants; int n_variants;
  char **rois; int n_rois;   /* n_rois == 0 means "all" */
  cfg_split split;
  cfg_ridge ridge;
  cfg_stats stats;
  cfg_pair *pairs; int n_pairs;
  cfg_sweep_axis *sweep; int n_sweep;
} cfg_job;

/* Local. Parse and validate path. On failure returns VF_E_INPUT with a
 * one-line message "file:line:col: key.path: what is wrong" (line/col of
 * the offending node) and *out == NULL. */
vf_status cfg_job_load(const char *path, cfg_job **out);

/* Local. Same, from text in memory (path used for messages and for
 * resolving relative paths). */
vf_status cfg_job_parse(const char *path, const char *text, cfg_job **out);

/* Local. The job file's text as cfg_job_load reads it (a directory, a NUL
 * byte or an oversized file refused with the path named); free() it. */
vf_status cfg_job_read(const char *path, char **text);

void cfg_job_destroy(cfg_job **job);

/* Local. Copies into dst the settings that the sweep key (a path under
 * "ridge.", e.g. "ridge.cv.folds") names, from src: how a sweep point is
 * built from the base settings and one value of each axis. Lambdas are
 * shared, not copied. */
void cfg_ridge_apply_key(cfg_ridge *dst, const cfg_ridge *src, const char *key);

/* ---- the site configuration (configs/voxfit.yaml, docs/site-config.md) */
typedef struct {
  char path[CFG_PATH_LEN]; /* the file read; "" = built-in defaults */
  double mem_per_rank_gib; /* a rank's memory: plan refuses larger units */
  long block_voxels;       /* voxel sets larger than this are split; 0: never */
  int prefetch;            /* units a worker holds ahead of need */
  double flush_seconds;    /* results are flushed to disk at least this often */
  double gflops_per_rank;  /* plan's wall-time estimate */
  long model_cache_mib;    /* memory a worker keeps for shared factorisations */
  int team_size;           /* ranks per team: 0 = from memory, N = every unit */
  int team_rows;           /* process rows of a team's grid; 0 = near square */
  int team_block;          /* ScaLAPACK block size */
} cfg_site;
void cfg_site_defaults(cfg_site *s);
/* Local. Reads path; keys not in the file keep their defaults. */
vf_status cfg_site_load(const char *path, cfg_site *s);
/* Local. given if non-empty, else $VOXFIT_CONFIG, else configs/voxfit.yaml
 * of the source tree this executable was built in, else the defaults. */
vf_status cfg_site_find(const char *given, cfg_site *s);

/* Names for printing. */
const char *cfg_cv_name(cfg_cv_scheme s);
const char *cfg_std_name(cfg_std s);
const char *cfg_tower_name(cfg_tower t);
const char *cfg_training_name(cfg_training t);

#endif
