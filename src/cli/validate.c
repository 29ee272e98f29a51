/* voxfit validate JOB.yaml: opens every input of a job and reports what a
 * run would find (shapes, splits, runs, repetitions, NaN/Inf values,
 * constant voxels, ROI sizes) and every mismatch with the job. It never
 * fits anything.
 *
 * Rank 0 does the work (reads on MPI_COMM_SELF) and prints; the other ranks
 * only learn its exit code. The report goes to stdout, "warning:" lines
 * included; each problem is one "voxfit validate: error: ..." line on
 * stderr, and all of them are reported, not just the first. */
#include <math.h>
#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "voxfit/cli.h"
#include "voxfit/config.h"
#include "voxfit/sched.h"
#include "voxfit/io.h"
#include "voxfit/stats.h"

/* Each scan reads blocks of about this many values (plus the reader's own
 * bounded buffer), so a big file is scanned in bounded memory. Blocks are
 * whole stimulus rows: the files are row-major (stimulus, ...), so each
 * block is one contiguous read and every file is read once. */
#define SCAN_BLOCK_VALUES (4L << 20)


typedef struct {
  const cfg_job *job;
  int errors, warnings;
  long n_stim;        /* the job's stimulus count: the first file's, or -1 */
  char n_stim_from[CFG_PATH_LEN + 64];
  int max_folds;      /* largest k of the kfold/shuffled settings, 0 if none */
  const char *why_runs; /* a setting that needs run labels, or NULL */
  int loro;           /* some setting uses leave-one-run-out */
  int per_run;        /* some setting standardises within runs */
  vf_seen seen;        /* the problems reported */
} report;

static void problem(report *rp, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void warning(report *rp, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A problem already reported (one bad file that two variants use) is not
 * repeated: the report says so where it recurs and counts it once. */
static void problem(report *rp, const char *fmt, ...) {
  char msg[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (!vf_seen_first(&rp->seen, msg)) {
    printf("  (the error above again)\n");
    return;
  }
  fflush(stdout); /* keep the report and the errors in order on a terminal */
  fprintf(stderr, "voxfit validate: error: %s\n", msg);
  rp->errors++;
}

static void warning(report *rp, const char *fmt, ...) {
  va_list ap;
  printf("warning: ");
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  printf("\n");
  rp->warnings++;
}

static long block_rows(long width) {
  long b = SCAN_BLOCK_VALUES / (width > 0 ? width : 1);
  return b > 0 ? b : 1;
}

/* ---- what the job's ridge settings need (the base and every sweep value) */

static void note_setting(report *rp, const cfg_ridge *r) {
  if (r->cv == CFG_CV_LEAVE_ONE_RUN_OUT) {
    rp->loro = 1;
    rp->why_runs = "ridge.cv is leave-one-run-out";
  } else if (r->folds > rp->max_folds) {
    rp->max_folds = r->folds;
  }
  rp->per_run |= r->std_per_run;
  if (r->std_per_run && !rp->why_runs)
    rp->why_runs = "ridge.standardize.per_run is true";
}

static void note_settings(report *rp, const cfg_job *job) {
  note_setting(rp, &job->ridge);
  for (int a = 0; a < job->n_sweep; a++)
    for (int k = 0; k < job->sweep[a].n_values; k++)
      note_setting(rp, &job->sweep[a].values[k]);
}

/* ---- the stimulus axis ---------------------------------------------------- */

static void check_explicit_split(report *rp, long n, const char *file) {
  const cfg_split *s = &rp->job->split;
  if (s->from_file) return;
  if (s->train_start + s->train_count > n)
    problem(rp, "%s: split.train [%ld, %ld) goes beyond the %ld stimuli of %s",
            rp->job->path, s->train_start, s->train_start + s->train_count, n,
            file);
  if (s->test_start + s->test_count > n)
    problem(rp, "%s: split.test [%ld, %ld) goes beyond the %ld stimuli of %s",
            rp->job->path, s->test_start, s->test_start + s->test_count, n, file);
}

/* Every features and responses file must have the job's stimulus count. */
static void note_stimuli(report *rp, long n, const char *file, const char *what) {
  if (rp->n_stim < 0) {
    rp->n_stim = n;
    snprintf(rp->n_stim_from, sizeof rp->n_stim_from, "%s (%s)", file, what);
    check_explicit_split(rp, n, file);
  } else if (n != rp->n_stim) {
    problem(rp, "%s (%s) has %ld stimuli but %s has %ld; every features and "
            "responses file of a job must share the stimulus axis",
            file, what, n, rp->n_stim_from, rp->n_stim);
  }
}

/* Training (1) and test (2) stimuli of the explicit split, 0 elsewhere. */
static void explicit_roles(const cfg_split *s, long n, unsigned char *role) {
  memset(role, 0, (size_t)n);
  for (long i = s->train_start; i < s->train_start + s->train_count && i < n; i++)
    role[i] = 1;
  for (long i = s->test_start; i < s->test_start + s->test_count && i < n; i++)
    role[i] = 2;
}

/* ---- features -------------------------------------------------------------- */

typedef struct {
  long nonfinite, first_bad_stim, first_bad_feat;
  double *lo, *hi; /* per column, over the stimuli the job uses */
} feat_scan;

static void feat_block(feat_scan *fs, const double *X, long s0, long nb, long P,
                       const unsigned char *used) {
  for (long j = 0; j < P; j++)
    for (long i = 0; i < nb; i++) {
      double x = X[i + j * nb];
      if (!used[s0 + i]) continue;
      if (!isfinite(x)) {
        if (fs->nonfinite++ == 0) fs->first_bad_stim = s0 + i, fs->first_bad_feat = j;
        continue;
      }
      if (x < fs->lo[j]) fs->lo[j] = x;
      if (x > fs->hi[j]) fs->hi[j] = x;
    }
}

static vf_status feat_scan_all(const cfg_variant *va, const io_features_info *in,
                               const unsigned char *used, feat_scan *fs) {
  vf_status st = VF_OK;
  long P = in->n_feat, nb = block_rows(P), *rowbuf = NULL;
  double *X = NULL;
  if (nb > in->n_stim) nb = in->n_stim;
  VF_TRY(vf_calloc((size_t)(nb * P), sizeof(double), "features block", &X));
  VF_TRY(vf_calloc((size_t)nb, sizeof(long), "row indices", &rowbuf));
  for (long j = 0; j < P; j++) fs->lo[j] = INFINITY, fs->hi[j] = -INFINITY;
  for (long s0 = 0; s0 < in->n_stim; s0 += nb) {
    long n = s0 + nb <= in->n_stim ? nb : in->n_stim - s0;
    for (long i = 0; i < n; i++) rowbuf[i] = s0 + i;
    VF_TRY(io_features_read_rows(MPI_COMM_SELF, va->features, va->variable,
                                 rowbuf, n, X));
    feat_block(fs, X, s0, n, P, used);
  }
fail:
  vf_free(&X);
  vf_free(&rowbuf);
  return st;
}

/* Stimuli the job uses from every file: all of them with split: file (each
 * is training or test), the two ranges otherwise. */
static void used_stimuli(const cfg_split *s, long n, unsigned char *used) {
  if (s->from_file) memset(used, 1, (size_t)n);
  else explicit_roles(s, n, used);
}

static void feat_report(report *rp, const cfg_variant *va,
                        const io_features_info *in) {
  feat_scan fs = {0, -1, -1, NULL, NULL};
  unsigned char *used = NULL;
  long n_const = 0, first_const = -1;
  vf_status st = vf_calloc((size_t)in->n_stim, 1, "stimulus mask", &used);
  if (!st) st = vf_calloc((size_t)in->n_feat, sizeof(double), "column minima", &fs.lo);
  if (!st) st = vf_calloc((size_t)in->n_feat, sizeof(double), "column maxima", &fs.hi);
  if (!st) {
    used_stimuli(&rp->job->split, in->n_stim, used);
    st = feat_scan_all(va, in, used, &fs);
  }
  if (st) {
    problem(rp, "%s", vf_error_message());
    goto done;
  }
  for (long j = 0; j < in->n_feat; j++)
    if (fs.lo[j] == fs.hi[j] && n_const++ == 0) first_const = j;
  printf("  NaN/Inf values: %ld\n  constant columns: %ld\n", fs.nonfinite, n_const);
  if (fs.nonfinite)
    problem(rp, "%s: variable '%s' has %ld NaN/Inf values in the stimuli the "
            "job uses (the first at stimulus %ld, feature %ld); features must "
            "be finite", va->features, va->variable, fs.nonfinite,
            fs.first_bad_stim, fs.first_bad_feat);
  if (n_const)
    warning(rp, "%s: variable '%s' has %ld constant feature columns (the first "
            "is feature %ld); they carry no information", va->features, va->variable,
            n_const, first_const);
done:
  vf_free(&used);
  vf_free(&fs.lo);
  vf_free(&fs.hi);
}

static void check_variant(report *rp, const cfg_variant *va) {
  io_features_info in;
  char what[CFG_ID_LEN + 16];
  printf("variant %s: %s, variable '%s'\n", va->id, va->features, va->variable);
  if (io_features_info_read(MPI_COMM_SELF, va->features, va->variable, &in)) {
    problem(rp, "%s", vf_error_message());
    return;
  }
  printf("  shape: %ld stimuli x %ld features\n", in.n_stim, in.n_feat);
  snprintf(what, sizeof what, "variant %s", va->id);
  note_stimuli(rp, in.n_stim, va->features, what);
  feat_report(rp, va, &in);
}

/* ---- a subject's split, runs and repetitions ------------------------------ */

typedef struct {
  unsigned char *role; /* n_stim: 0 unused, 1 training, 2 test */
  int known;           /* 0 when split: file but the file has none */
  long n_train, n_test;
} split_info;

static void subject_split(report *rp, const io_responses *r, split_info *sp) {
  const cfg_split *s = &rp->job->split;
  if (s->from_file && !r->split) {
    problem(rp, "%s: no variable 'split', but the job says split: file; add "
            "split(stimulus) (0 = training, 1 = test) or give the job explicit "
            "split.train/split.test ranges", r->path);
    printf("  split: missing\n");
    memset(sp->role, 1, (size_t)r->n_stim); /* scan every stimulus anyway */
    return;
  }
  sp->known = 1;
  if (s->from_file)
    for (long i = 0; i < r->n_stim; i++) sp->role[i] = r->split[i] ? 2 : 1;
  else
    explicit_roles(s, r->n_stim, sp->role);
  for (long i = 0; i < r->n_stim; i++)
    sp->n_train += sp->role[i] == 1, sp->n_test += sp->role[i] == 2;
  printf("  split: %ld training / %ld test (%s)\n", sp->n_train, sp->n_test,
         s->from_file ? "from the file"
         : r->split   ? "explicit in the job; the file's split is ignored"
                      : "explicit in the job");
  if (sp->n_test == 0)
    problem(rp, "%s: the test set is empty; mark test stimuli with split = 1 "
            "or give split.test in the job", r->path);
  else if (sp->n_test == 1) /* as voxfit run refuses it: no r of one point */
    problem(rp, "%s: 1 test stimulus; need at least 2 (mark more with split = 1, or "
            "widen split.test in the job)", r->path);
  if (sp->n_train == 0)
    problem(rp, "%s: there are no training stimuli", r->path);
  char warn[1024];
  const cfg_stats *cs = &rp->job->stats;
  if (stats_perm_check(rp->job->path, r->path, sp->n_test, cs->block_length,
                       cs->permutations, warn, sizeof warn) != VF_OK)
    problem(rp, "%s", vf_error_message());
  else if (warn[0])
    warning(rp, "%s", warn);
}

static int cmp_int(const void *a, const void *b) {
  int x = *(const int *)a, y = *(const int *)b;
  return (x > y) - (x < y);
}

/* Number of distinct run labels among the stimuli with role want (0: any);
 * -1 when out of memory. */
static long count_runs(const io_responses *r, const split_info *sp, int want) {
  int *lab = NULL;
  long m = 0, n = 0;
  if (vf_calloc((size_t)r->n_stim, sizeof(int), "run labels", &lab)) return -1;
  for (long i = 0; i < r->n_stim; i++)
    if (!want || sp->role[i] == want) lab[m++] = r->run[i];
  qsort(lab, (size_t)m, sizeof(int), cmp_int);
  for (long i = 0; i < m; i++) n += i == 0 || lab[i] != lab[i - 1];
  vf_free(&lab);
  return n;
}

/* The smallest count of training stimuli of one run label (a fold of
 * leave-one-run-out), and that label; -1 if it cannot tell. */
static long smallest_run(const io_responses *r, const split_info *sp, int *label) {
  int *lab = NULL;
  long m = 0, best = -1;
  if (vf_calloc((size_t)r->n_stim + 1, sizeof(int), "run labels", &lab)) return -1;
  for (long i = 0; i < r->n_stim; i++)
    if (sp->role[i] == 1) lab[m++] = r->run[i];
  qsort(lab, (size_t)m, sizeof(int), cmp_int);
  for (long i = 0, j; i < m; i = j) {
    for (j = i; j < m && lab[j] == lab[i];) j++;
    if (best < 0 || j - i < best) best = j - i, *label = lab[i];
  }
  vf_free(&lab);
  return best;
}

/* Contiguous blocks of equal run labels among the training stimuli (test
 * stimuli between two rows of one label do not split it: voxfit run's
 * runs are blocks of the training rows alone). */
static long train_blocks(const io_responses *r, const split_info *sp) {
  long n = 0;
  int prev = 0, any = 0;
  for (long i = 0; i < r->n_stim; i++) {
    if (sp->role[i] != 1) continue;
    n += !any || r->run[i] != prev;
    prev = r->run[i], any = 1;
  }
  return n;
}

static void subject_runs(report *rp, const io_responses *r, const split_info *sp) {
  if (!r->run) {
    printf("  runs: none (no 'run' variable)\n");
    if (rp->why_runs)
      problem(rp, "%s: no variable 'run', but %s; add run(stimulus) with the "
              "run (session) of each stimulus", r->path, rp->why_runs);
  } else {
    long all = count_runs(r, sp, 0), train = sp->known ? count_runs(r, sp, 1) : 0;
    printf("  runs: %ld", all);
    if (sp->known) printf(" (%ld among the training stimuli)", train);
    printf("\n");
    if (rp->loro && sp->known && train < 2)
      problem(rp, "%s: leave-one-run-out needs at least 2 runs among the "
              "training stimuli; found %ld", r->path, train);
    long blocks = sp->known ? train_blocks(r, sp) : 0;
    if (blocks > train)
      warning(rp, "%s: the %ld run labels of the training stimuli form %ld separate "
              "blocks in stimulus order; leave-one-run-out holds out all stimuli of a "
              "label together, while FIR delays and per-run standardisation treat each "
              "block as a run of its own: check that 'run' gives each run one label",
              r->path, train, blocks);
    int label = 0;
    if (rp->loro && sp->known && train >= 2 && smallest_run(r, sp, &label) == 1)
      problem(rp, "%s: run %d has 1 training stimulus, and a leave-one-run-out fold "
              "needs at least 2 (as voxfit run refuses it); merge it with a neighbouring "
              "run's label", r->path, label);
  }
  if (sp->known && sp->n_train > 0 && rp->max_folds > 0 && sp->n_train < 2L * rp->max_folds)
    problem(rp, "%s: %ld training stimuli but ridge.cv asks for %d folds, and a fold "
            "needs at least 2 stimuli; use at most %ld folds (ridge.cv.folds) or more "
            "training stimuli", r->path, sp->n_train, rp->max_folds, sp->n_train / 2);
}

static void subject_reps(report *rp, const io_responses *r, const split_info *sp) {
  if (r->n_rep == 0) {
    printf("  repetitions: none (no test_repetitions: no noise ceiling)\n");
    return;
  }
  printf("  repetitions: %ld x %ld test stimuli\n", r->n_rep, r->n_test);
  if (sp->known && r->n_test != sp->n_test)
    problem(rp, "%s: test_repetitions has %ld test stimuli but the job's test "
            "set has %ld; it needs one entry per test stimulus, in stimulus "
            "order", r->path, r->n_test, sp->n_test);
}

/* ---- a subject's voxels: what voxfit run masks ------------------------------
 * As unit_load_responses does: NaN/Inf in a training row, or in a test
 * row whose values the run reads (the responses' test rows, or
 * test_repetitions when the file has them, whose mean replaces them), or
 * constant over the training rows (ridge_std_fit's relative test), or,
 * where standardize.per_run is true, constant within one training run. */

typedef struct {
  unsigned char *bad;      /* per voxel: NaN/Inf in a row the run reads */
  unsigned char *run_flat; /* per voxel: constant within a training run */
  double *mean, *m2;       /* per voxel over the training rows (Welford) */
  double *rmean, *rm2;     /* the same over the current training run */
  long n, rn;              /* training rows so far, and in the current run */
  int label;               /* the current run's label */
  long bad_values;
} vox_scan;

/* ridge_std_fit's test: sd (population) within rounding of 0 against
 * the mean, or not finite. */
static int vox_flat(double mean, double m2, long n) {
  double sd = n > 1 ? sqrt(m2 / n) : 0;
  return !(sd > 1e-12 * (fabs(mean) + 1e-300)) || !isfinite(sd);
}

static void welford(double *mean, double *m2, long k, double x) {
  double d = x - *mean;
  *mean += d / k;
  *m2 += d * (x - *mean);
}

/* The training rows of a block: kall[i] and krun[i] count row i in the
 * training rows and its run; ends[i] is the length of the run that ends
 * before row i (0 when none does). The counts go on across blocks. */
static void block_counts(vox_scan *vs, const io_responses *r, const unsigned char *role,
                         long s0, long nb, long *kall, long *krun, long *ends) {
  for (long i = 0; i < nb; i++) {
    ends[i] = kall[i] = krun[i] = 0;
    if (role[s0 + i] != 1) continue;
    int lab = r->run ? r->run[s0 + i] : 0;
    if (vs->rn > 0 && lab != vs->label) ends[i] = vs->rn, vs->rn = 0;
    vs->label = lab;
    kall[i] = ++vs->n, krun[i] = ++vs->rn;
  }
}

static void vox_block(vox_scan *vs, const io_responses *r, const double *Y, long s0,
                      long nb, const unsigned char *role, const long *kall,
                      const long *krun, const long *ends) {
  int test_read = r->n_rep == 0; /* else the repetitions replace them */
  for (long v = 0; v < r->n_vox; v++) {
    const double *y = Y + v * nb;
    for (long i = 0; i < nb; i++) {
      int ro = role[s0 + i];
      if (!ro || (ro == 2 && !test_read)) continue;
      if (!isfinite(y[i])) vs->bad[v] = 1, vs->bad_values++;
      if (ro != 1) continue;
      if (ends[i]) {
        vs->run_flat[v] |= (unsigned char)vox_flat(vs->rmean[v], vs->rm2[v], ends[i]);
        vs->rmean[v] = vs->rm2[v] = 0;
      }
      welford(vs->mean + v, vs->m2 + v, kall[i], y[i]);
      welford(vs->rmean + v, vs->rm2 + v, krun[i], y[i]);
    }
  }
}

/* Blocks of whole stimulus rows: one contiguous read each, memory bounded
 * by SCAN_BLOCK_VALUES plus O(voxels). */
static vf_status vox_scan_all(const io_responses *r, const unsigned char *role,
                              vox_scan *vs) {
  vf_status st = VF_OK;
  long V = r->n_vox, nb = block_rows(V), *rows = NULL, *vox = NULL, *cnt = NULL;
  double *Y = NULL;
  if (nb > r->n_stim) nb = r->n_stim;
  VF_TRY(vf_calloc((size_t)(nb * V), sizeof(double), "responses block", &Y));
  VF_TRY(vf_calloc((size_t)nb, sizeof(long), "row indices", &rows));
  VF_TRY(vf_calloc((size_t)nb * 3, sizeof(long), "row counts", &cnt));
  VF_TRY(vf_calloc((size_t)V, sizeof(long), "voxel indices", &vox));
  for (long v = 0; v < V; v++) vox[v] = v;
  for (long s0 = 0; s0 < r->n_stim; s0 += nb) {
    long n = s0 + nb <= r->n_stim ? nb : r->n_stim - s0;
    for (long i = 0; i < n; i++) rows[i] = s0 + i;
    VF_TRY(io_responses_read(MPI_COMM_SELF, r, rows, n, vox, V, Y));
    block_counts(vs, r, role, s0, n, cnt, cnt + nb, cnt + 2 * nb);
    vox_block(vs, r, Y, s0, n, role, cnt, cnt + nb, cnt + 2 * nb);
  }
  for (long v = 0; v < V; v++) /* the last run */
    vs->run_flat[v] |= (unsigned char)vox_flat(vs->rmean[v], vs->rm2[v], vs->rn);
fail:
  vf_free(&Y);
  vf_free(&rows);
  vf_free(&cnt);
  vf_free(&vox);
  return st;
}

/* Flags (in bad) the voxels with a NaN/Inf in test_repetitions (blocks of
 * voxels: the array is small, one row per repetition and test stimulus). */
static vf_status reps_scan(const io_responses *r, unsigned char *bad) {
  vf_status st = VF_OK;
  long nq = r->n_rep * r->n_test, nb = block_rows(nq), *vox = NULL;
  double *Yr = NULL;
  if (nb > r->n_vox) nb = r->n_vox;
  VF_TRY(vf_calloc((size_t)(nb * nq), sizeof(double), "repetitions block", &Yr));
  VF_TRY(vf_calloc((size_t)nb, sizeof(long), "voxel indices", &vox));
  for (long v0 = 0; v0 < r->n_vox; v0 += nb) {
    long n = v0 + nb <= r->n_vox ? nb : r->n_vox - v0;
    for (long j = 0; j < n; j++) vox[j] = v0 + j;
    VF_TRY(io_responses_read_reps(MPI_COMM_SELF, r, vox, n, Yr));
    for (long j = 0; j < n; j++) {
      long q = 0;
      while (q < nq && isfinite(Yr[j * nq + q])) q++;
      bad[v0 + j] = q < nq;
    }
  }
fail:
  vf_free(&Yr);
  vf_free(&vox);
  return st;
}

/* How many voxels have flag set (and not skip, when skip is given), and
 * the first of them (-1: none). */
static long vox_count(const unsigned char *flag, const unsigned char *skip, long n,
                      long *first) {
  long c = 0;
  *first = -1;
  for (long v = 0; v < n; v++)
    if (flag[v] && !(skip && skip[v]) && c++ == 0) *first = v;
  return c;
}

/* Fills masked[v] (what voxfit run masks) and reports the counts. */
static void voxels_report(report *rp, const io_responses *r, const split_info *sp,
                          const vox_scan *vs, const unsigned char *rep_bad,
                          unsigned char *masked) {
  long V = r->n_vox, f_bad, f_rep, f_const = -1, f_run = -1;
  long n_bad = vox_count(vs->bad, NULL, V, &f_bad);
  long n_rep = vox_count(rep_bad, vs->bad, V, &f_rep), n_const = 0, n_run = 0;
  int per_run = rp->per_run && r->run;
  for (long v = 0; v < V; v++) {
    int ok = sp->known && !vs->bad[v] && !rep_bad[v];
    int cst = ok && vox_flat(vs->mean[v], vs->m2[v], vs->n);
    int run = ok && !cst && per_run && vs->run_flat[v];
    if (cst && n_const++ == 0) f_const = v;
    if (run && n_run++ == 0) f_run = v;
    masked[v] = vs->bad[v] || rep_bad[v] || cst || run;
  }
  printf("  NaN/Inf values: %ld (in %ld voxels)%s\n", vs->bad_values, n_bad,
         r->n_rep ? ", not counting test_repetitions" : "");
  if (sp->known)
    printf("  voxels constant over the training stimuli: %ld\n", n_const);
  if (n_bad)
    warning(rp, "%s: %ld voxels have NaN/Inf values in stimuli the job uses "
            "(the first is voxel %ld); voxfit run masks them", r->path, n_bad, f_bad);
  if (n_rep)
    warning(rp, "%s: %ld %svoxels have NaN/Inf values in test_repetitions (the "
            "first is voxel %ld); voxfit run masks them", r->path, n_rep,
            n_bad ? "more " : "", f_rep);
  if (n_const)
    warning(rp, "%s: %ld voxels are constant over the training stimuli (the "
            "first is voxel %ld); voxfit run masks them", r->path, n_const, f_const);
  if (n_run)
    warning(rp, "%s: %ld more voxels are constant within a training run (the "
            "first is voxel %ld); voxfit run masks them where "
            "ridge.standardize.per_run is true", r->path, n_run, f_run);
}

static void subject_voxels(report *rp, const io_responses *r,
                           const split_info *sp, unsigned char *masked) {
  vox_scan vs;
  unsigned char *rep_bad = NULL;
  size_t V = (size_t)r->n_vox;
  memset(&vs, 0, sizeof vs);
  vf_status st = vf_calloc(V, 1, "voxel flags", &vs.bad);
  if (!st) st = vf_calloc(V, 1, "voxel flags", &vs.run_flat);
  if (!st) st = vf_calloc(V, 1, "voxel flags", &rep_bad);
  if (!st) st = vf_calloc(V, sizeof(double), "voxel means", &vs.mean);
  if (!st) st = vf_calloc(V, sizeof(double), "voxel variances", &vs.m2);
  if (!st) st = vf_calloc(V, sizeof(double), "voxel means", &vs.rmean);
  if (!st) st = vf_calloc(V, sizeof(double), "voxel variances", &vs.rm2);
  if (!st) st = vox_scan_all(r, sp->role, &vs);
  if (!st && r->n_rep > 0) st = reps_scan(r, rep_bad);
  if (st) {
    problem(rp, "%s", vf_error_message());
    memset(masked, 0, V);
  } else {
    voxels_report(rp, r, sp, &vs, rep_bad, masked);
  }
  vf_free(&vs.bad), vf_free(&vs.run_flat), vf_free(&rep_bad);
  vf_free(&vs.mean), vf_free(&vs.m2), vf_free(&vs.rmean), vf_free(&vs.rm2);
}

/* ---- a subject's ROIs ------------------------------------------------------ */

static int roi_find(const io_responses *r, const char *name) {
  for (int k = 0; k < r->n_roi; k++)
    if (!strcmp(r->roi_names[k], name)) return k;
  return -1;
}

/* "V1, V2, ..." of the file's ROI names, cut short to stay on one line. */
static void roi_list(const io_responses *r, char *buf, size_t n) {
  size_t len = 0;
  buf[0] = '\0';
  for (int k = 0; k < r->n_roi && len < n; k++) {
    if (len > 400) {
      snprintf(buf + len, n - len, ", ...");
      return;
    }
    len += (size_t)snprintf(buf + len, n - len, "%s%s", k ? ", " : "",
                            r->roi_names[k]);
  }
  if (!r->n_roi) snprintf(buf, n, "none");
}

/* Prints "name size" (and the masked count) for ROI k. */
static void roi_print(const io_responses *r, int k, const long *size,
                      const long *nmask, int first) {
  printf("%s%s %ld", first ? " " : ", ", r->roi_names[k], size[k]);
  if (nmask[k]) printf(" (%ld masked)", nmask[k]);
}

static void roi_sizes(const io_responses *r, const unsigned char *masked,
                      long *size, long *nmask, long *none) {
  *none = 0;
  for (long v = 0; v < r->n_vox; v++) {
    int k = r->roi_index[v];
    if (k < 0) {
      (*none)++;
      continue;
    }
    size[k]++;
    nmask[k] += masked[v];
  }
}

static void rois_report(report *rp, const io_responses *r,
                        const unsigned char *masked) {
  const cfg_job *job = rp->job;
  long *size = NULL, *nmask = NULL, none;
  int printed = 0;
  if (vf_calloc((size_t)r->n_roi, sizeof(long), "ROI sizes", &size) ||
      vf_calloc((size_t)r->n_roi, sizeof(long), "ROI masks", &nmask)) {
    problem(rp, "%s", vf_error_message());
    goto done;
  }
  roi_sizes(r, masked, size, nmask, &none);
  printf("  ROI sizes (voxels):");
  for (int i = 0; i < (job->n_rois ? job->n_rois : r->n_roi); i++) {
    int k = job->n_rois ? roi_find(r, job->rois[i]) : i;
    if (k >= 0) roi_print(r, k, size, nmask, !printed++);
  }
  printf("%s\n  voxels in no ROI: %ld\n", printed ? "" : " none", none);
  long in_job = 0, in_job_masked = 0, missing = 0;
  for (int i = 0; i < (job->n_rois ? job->n_rois : r->n_roi); i++) {
    int k = job->n_rois ? roi_find(r, job->rois[i]) : i;
    in_job += k >= 0 ? size[k] : 0, missing += k < 0;
    in_job_masked += k >= 0 ? nmask[k] : 0;
  }
  if (in_job == 0 && !missing) /* as voxfit run refuses it (a missing ROI: below) */
    problem(rp, "%s: no voxel belongs to the job's ROIs; check rois in %s and this "
            "file's roi_index", r->path, job->path);
  else if (in_job > 0 && in_job_masked == in_job)
    problem(rp, "%s: all %ld voxels of the job's ROIs have NaN/Inf values or are "
            "constant over the training stimuli (or a training run); nothing of this "
            "subject can be fitted: check its responses or the job's rois",
            r->path, in_job);
  for (int i = 0; i < (job->n_rois ? job->n_rois : r->n_roi); i++) {
    int k = job->n_rois ? roi_find(r, job->rois[i]) : i;
    if (k < 0) {
      char list[512];
      roi_list(r, list, sizeof list);
      problem(rp, "%s: ROI '%s' named in the job is not in this file (ROIs "
              "here: %s)", r->path, job->rois[i], list);
    } else if (size[k] == nmask[k]) {
      warning(rp, "%s: ROI '%s' has no usable voxels; its summaries will be "
              "NaN", r->path, r->roi_names[k]);
    }
  }
done:
  vf_free(&size);
  vf_free(&nmask);
}

/* ---- one subject ------------------------------------------------------------ */

static void check_subject(report *rp, const cfg_subject *sj) {
  io_responses *r = NULL;
  split_info sp = {NULL, 0, 0, 0};
  unsigned char *masked = NULL;
  char what[CFG_ID_LEN + 16];
  printf("subject %s: %s\n", sj->id, sj->responses);
  if (io_responses_open(MPI_COMM_SELF, sj->responses, &r)) {
    problem(rp, "%s", vf_error_message());
    return;
  }
  printf("  shape: %ld stimuli x %ld voxels (%s)%s\n", r->n_stim, r->n_vox,
         r->resp_is_double ? "double" : "float",
         r->xyz ? ", with voxel coordinates" : "");
  snprintf(what, sizeof what, "subject %s", sj->id);
  note_stimuli(rp, r->n_stim, r->path, what);
  if (vf_calloc((size_t)r->n_stim, 1, "stimulus roles", &sp.role) ||
      vf_calloc((size_t)r->n_vox, 1, "voxel mask", &masked)) {
    problem(rp, "%s", vf_error_message());
  } else {
    subject_split(rp, r, &sp);
    subject_runs(rp, r, &sp);
    subject_reps(rp, r, &sp);
    subject_voxels(rp, r, &sp, masked);
    rois_report(rp, r, masked);
  }
  vf_free(&sp.role);
  vf_free(&masked);
  io_responses_destroy(&r);
}

/* ---- the command ------------------------------------------------------------ */

static void usage(FILE *f) {
  fprintf(f,
          "usage: voxfit validate JOB.yaml\n"
          "\n"
          "Loads the job, opens every features and responses file it names and\n"
          "prints what a run would find: per variant the shape, NaN/Inf values\n"
          "and constant columns; per subject the shape, the training/test split,\n"
          "runs, repetitions, NaN/Inf values, voxels constant over the training\n"
          "stimuli and the ROI sizes. Fits nothing.\n"
          "\n"
          "Every problem (a missing or unreadable file, stimulus counts that\n"
          "differ, an ROI of the job missing from a subject, a split or run\n"
          "variable the job needs, too few training stimuli for the folds, an\n"
          "empty test set) is one line 'voxfit validate: error: ...' on stderr.\n"
          "Voxels that voxfit run will mask give 'warning:' lines.\n"
          "\n"
          "Exit status: 0 the job is usable (warnings allowed), 2 a problem was\n"
          "found or the command line is wrong.\n");
}

/* The job file, or NULL after printing why (*code says the exit code). */
static const char *parse_args(int argc, char **argv, int *code) {
  const char *job = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      usage(stdout);
      *code = CLI_EXIT_OK;
      return NULL;
    }
    if (argv[i][0] == '-' || job) {
      fprintf(stderr, "voxfit validate: error: %s '%s'; usage: voxfit validate "
              "JOB.yaml (see --help)\n",
              argv[i][0] == '-' ? "unknown option" : "unexpected argument", argv[i]);
      *code = CLI_EXIT_INPUT;
      return NULL;
    }
    job = argv[i];
  }
  if (!job) {
    fprintf(stderr, "voxfit validate: error: missing the job file; usage: "
            "voxfit validate JOB.yaml (see --help)\n");
    *code = CLI_EXIT_INPUT;
  }
  return job;
}

static void print_job(const cfg_job *job) {
  printf("job %s: %s\n", job->name, job->path);
  printf("  %d subjects, %d variants, ROIs: ", job->n_subjects, job->n_variants);
  for (int i = 0; i < job->n_rois; i++) printf("%s%s", i ? ", " : "", job->rois[i]);
  printf("%s\n", job->n_rois ? "" : "all");
  if (job->split.from_file)
    printf("  split: from each responses file\n");
  else
    printf("  split: training [%ld, %ld), test [%ld, %ld)\n", job->split.train_start,
           job->split.train_start + job->split.train_count, job->split.test_start,
           job->split.test_start + job->split.test_count);
}

/* An existing output: what voxfit run would do with it (another job's is
 * a warning: run refuses it, and replaces it with --force). */
static void output_report(report *rp, const cfg_job *job) {
  io_results_state s;
  if (io_results_state_read(job->output, job->hash, &s) != VF_OK) {
    warning(rp, "%s", vf_error_message()); /* it says what to do */
    vf_error_clear();
  } else if (s.exists) {
    printf("output %s: exists, this job's, %s: %ld of %ld units done, %ld failed; voxfit "
           "run %s\n", job->output, s.complete ? "complete" : "incomplete", s.done, s.units,
           s.failed, s.complete ? "redoes only failed units" : "resumes it");
  }
}

static int validate(const char *path) {
  cfg_job *job = NULL;
  if (cfg_job_load(path, &job)) {
    fprintf(stderr, "voxfit validate: error: %s\n", vf_error_message());
    return CLI_EXIT_INPUT;
  }
  report rp = {job, 0, 0, -1, "", 0, NULL, 0, 0, {{0}, 0}};
  note_settings(&rp, job);
  print_job(job);
  for (int i = 0; i < job->n_variants; i++) check_variant(&rp, &job->variants[i]);
  for (int i = 0; i < job->n_subjects; i++) check_subject(&rp, &job->subjects[i]);
  if (sched_output_check(MPI_COMM_SELF, job, job->output) != VF_OK)
    problem(&rp, "%s", vf_error_message());
  else
    output_report(&rp, job);
  if (rp.errors)
    printf("validate: %d problem(s), %d warning(s); fix the problems before "
           "voxfit run\n", rp.errors, rp.warnings);
  else
    printf("validate: usable (%d warning(s))\n", rp.warnings);
  fflush(stdout);
  cfg_job_destroy(&job);
  return rp.errors ? CLI_EXIT_INPUT : CLI_EXIT_OK;
}

int cli_validate(int argc, char **argv) {
  int rank, code = CLI_EXIT_OK;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank == 0) {
    const char *path = parse_args(argc, argv, &code);
    if (path) code = validate(path);
  }
  MPI_Bcast(&code, 1, MPI_INT, 0, MPI_COMM_WORLD);
  return code;
}
