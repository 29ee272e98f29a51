/* stats (stats_): noise ceilings, tests and multiple-comparison control.
 * Pure functions (no MPI, no files); distributions from GSL. Definitions
 * in ../shared/docs/METHODS.md and docs/statistics.md. */
#ifndef VOXFIT_STATS_H
#define VOXFIT_STATS_H

#include <stdint.h>

#include "voxfit/util.h"

/* Explainable variance of one voxel from R >= 2 repetitions of n test
 * stimuli (repetition r at y + r * ld): EV = Var(mean over reps) /
 * mean_r Var(y_r), bias-corrected as EV - (1 - EV) / (R - 1). NaN when
 * R < 2, n < 2 or a repetition has no variance. */
double stats_ev(const double *y, int R, long n, long ld);

/* The ceiling of a prediction scored against the mean of R repetitions:
 * the explainable variance of that mean, R ev / (1 + (R - 1) ev), from
 * the single-repetition ev of stats_ev (signal s and noise n per
 * repetition: ev = s / (s + n), and the mean keeps s but has noise n / R).
 * r / sqrt(ev) alone would compare a prediction of the mean with the
 * ceiling of one repetition, and exceed 1. NaN when ev <= 0 or R < 1. */
double stats_ev_of_mean(double ev, int R);

/* Split-half reliability: Pearson r between the mean of the even and the
 * mean of the odd repetitions, Spearman-Brown corrected to the full set:
 * 2 r / (1 + r). NaN when R < 2 or a half has no variance. */
double stats_split_half(const double *y, int R, long n, long ld);

/* Paired t-test on the differences d[0..n) (NaN entries skipped), two
 * sided, with the level (e.g. 0.95) confidence interval of the mean
 * difference. Needs >= 2 finite differences, else every field is NaN
 * and n says how many there were. */
typedef struct {
  int n;
  double mean, sd, t, df, p, ci_lo, ci_hi;
} stats_ttest;
void stats_ttest_paired(const double *d, int n, double level, stats_ttest *out);

/* Wilcoxon signed-rank test on d[0..n) (NaN skipped; zeros dropped as in
 * Wilcoxon's method), two sided, statistic W = min(R+, R-). Exact null
 * distribution for <= 50 differences without ties or zeros, else the
 * normal approximation with the tie correction (as scipy.stats.wilcoxon
 * does by default). */
typedef struct {
  int n;       /* differences used */
  int exact;
  double w, p;
} stats_wilcoxon;
void stats_wilcoxon_signed_rank(const double *d, int n, stats_wilcoxon *out);

/* One-sided permutation p-values of the Pearson r between the columns of
 * predictions P and responses Y (n x v, leading dimension n): the test
 * points are permuted in blocks of block_length consecutive points (the
 * last block may be shorter; 1 = plain permutation), n_perm times, with
 * permutations drawn from seed alone (the same for every voxel and call),
 * so predictions are reused and nothing is refitted.
 * p[j] = (1 + #{r_perm >= r_obs}) / (n_perm + 1); NaN for a column with
 * NaN or without variance. */
vf_status stats_perm_pvalues(const double *P, const double *Y, long n, long v,
                             int n_perm, int block_length, uint64_t seed,
                             double *p);

/* Whether the block permutation test above can resolve its p-values for
 * n test points in blocks of block_length (stats.block_length of the job
 * `job`) with n_perm draws; `file` is the responses file the n test
 * points are from. The test has b = ceil(n / block_length) blocks and b!
 * distinct orders of them, one of them the identity, so its p-values are
 * no smaller than about 1 / b!. Fails with VF_E_INPUT and one line (naming
 * stats.block_length, the test count and the largest block length that
 * works) when b < 2: no permutation moves anything and every p would be 1.
 * Otherwise VF_OK, and warn[0..cap) holds a warning line when b! < n_perm
 * (the draws repeat the same few orders; p cannot get near
 * 1 / (n_perm + 1)), else "". Nothing to check (VF_OK, "") when
 * n_perm < 1 or n < 2. */
vf_status stats_perm_check(const char *job, const char *file, long n, int block_length,
                           int n_perm, char *warn, size_t cap);

/* Benjamini-Hochberg q-values of p[0..n) (NaN p gets NaN q and does not
 * count towards the number of tests). */
vf_status stats_bh(const double *p, int n, double *q);

#endif
