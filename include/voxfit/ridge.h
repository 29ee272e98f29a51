/* ridge (ridge_): pure kernels of the encoding model. No MPI messages, no
 * files. All matrices are column-major; every function is Local.
 *
 * The fit: per fold one thin SVD of the fold's training features serves
 * every lambda (each lambda is a diagonal scaling and one matrix product);
 * per voxel the lambda with the best mean CV score is kept (ties go to the
 * larger lambda); the refit on all training rows predicts the test set.
 * Scores are computed in double whatever the precision. */
#ifndef VOXFIT_RIDGE_H
#define VOXFIT_RIDGE_H

#include <stdint.h>

#include "voxfit/linalg.h"
#include "voxfit/util.h"

/* The CV criterion: Pearson r, R^2 with the fold's own mean, or minus the
 * mean squared error of the held-out rows (himalaya's l2_neg_loss); all
 * three are larger for better predictions. */
typedef enum { RIDGE_SCORE_R, RIDGE_SCORE_R2, RIDGE_SCORE_NEG_MSE } ridge_score;
typedef enum { RIDGE_STD_NONE, RIDGE_STD_CENTER, RIDGE_STD_ZSCORE } ridge_std;
/* Per-fold factorisation: auto = SVD when the fold has at least as many
 * rows as features, eigendecomposition of the kernel X X^T otherwise. */
typedef enum { RIDGE_SOLVER_AUTO, RIDGE_SOLVER_SVD, RIDGE_SOLVER_EIGEN } ridge_solver;
/* How the folds are factorised. per_fold: one factorisation of each
 * fold's training rows. held_out: one factorisation of every training
 * row, each fold's predictions then exact through the held-out identity
 * yhat_v = (I - H_vv)^-1 H_v,tr y_tr (an n_v x n_v Cholesky solve per fold
 * and lambda); it pays when folds are many and short. auto: held_out when
 * the flop count says it is cheaper. held_out falls back to per_fold when
 * a fold's I - H_vv is too ill-conditioned to solve accurately. */
typedef enum { RIDGE_CV_AUTO, RIDGE_CV_PER_FOLD, RIDGE_CV_HELD_OUT } ridge_cv_method;

/* ---- folds ---------------------------------------------------------- */
/* fold[i] in [0, k) for each of n training rows (in time order). */
/* Contiguous blocks; the first n % k folds get one row more (as
 * scikit-learn's KFold without shuffling). Needs 2 <= k <= n. */
vf_status ridge_folds_kfold(long n, int k, int *fold);
/* One fold per distinct run label, numbered in order of first appearance. */
vf_status ridge_folds_runs(long n, const int *run, int *fold, int *k);
/* Shuffled k-fold from a seed (independent trials only). */
vf_status ridge_folds_shuffled(long n, int k, uint64_t seed, int *fold);
/* A stable order of rows grouping them by fold: order[0..n), and
 * start[0..k] with fold f at positions [start[f], start[f+1]). */
void ridge_folds_order(long n, const int *fold, int k, long *order,
                       long *start);

/* ---- preprocessing -------------------------------------------------- */
/* Mean and scale (standard deviation, or 1) of the columns of A (n x p,
 * leading dimension lda) over the rows rows[0..nr) (all rows when rows is
 * NULL). A constant column gets scale 1 and is flagged in constant[j]
 * (constant may be NULL). */
void ridge_std_fit(const double *A, long lda, long p, const long *rows,
                   long nr, ridge_std mode, double *mean, double *scale,
                   unsigned char *constant);
/* A[rows, j] = (A[rows, j] - mean[j]) / scale[j]. */
void ridge_std_apply(double *A, long lda, long p, const long *rows, long nr,
                     ridge_std mode, const double *mean, const double *scale);

/* FIR delays: Xd (n x p*nd) with column block d holding X shifted down by
 * delays[d] rows, zero where the source row is before the start of the
 * row's run (run may be NULL: one run). Rows of X are in time order. */
vf_status ridge_delay(const double *X, long n, long p, const int *run,
                      const int *delays, int nd, double *Xd);

/* ---- scores --------------------------------------------------------- */
/* Whether n values of mean my and centred sum of squares syy are
 * constant to rounding (syy <= n ((64 + n) eps my)^2, the rounding of a
 * summed mean): r and R^2 against them are undefined, and voxfit scores
 * them 0; minus the MSE is defined there and computed as anywhere. */
int ridge_flat(double syy, double my, long n);

/* Pearson r of a and b, and R^2 of pred against y (with y's own mean);
 * 0 when a, b or y is constant to rounding (r and R^2 are undefined),
 * as in the fits' own scores. */
double ridge_pearson(const double *a, const double *b, long n);
double ridge_r2(const double *pred, const double *y, long n);

/* ---- the fit -------------------------------------------------------- */
typedef struct {
  const double *lambdas; /* ascending, > 0 */
  int n_lambdas;
  ridge_score score;     /* CV criterion */
  int lambda_per_voxel;  /* 0: one lambda for all voxels (best mean score) */
  long vox_block;        /* voxels per block; 0 = default */
  ridge_solver solver;
  ridge_cv_method cv_method;
  long pred_block;       /* a dense grid's CV predictions per product, in
                            elements (lambdas x held-out rows x voxels);
                            0 = default (4M: 32 MiB in double); with
                            bands, the bands' basis predictions per product */
  int bands;             /* CV folds through the bands of their spectrum
                            (ridge_bands): 0 when that costs fewer flops
                            (the default), 1 whenever the spectrum has two
                            bands, -1 never (tests and benchmarks) */
  double tie;            /* mean CV scores within tie x max(1, |best|) of
                            the best are ties, won by the larger lambda;
                            0 = the precision's (1e-9 in double, 1e-6 in
                            single: docs/method.md, step 7) */
} ridge_opts;

typedef struct {     /* arrays sized by the caller; NULL = not wanted */
  double *best_lambda; /* v; NaN for masked voxels */
  double *cv_best;     /* v: mean CV score at the chosen lambda */
  double *test_r;      /* v */
  double *test_r2;     /* v */
  double *cv_scores;   /* n_lambdas x v (lambda fastest) or NULL */
  double *weights;     /* p x v or NULL */
  long n_masked;       /* voxels with valid[j] == 0 */
  double *test_pred;   /* nte x v test predictions (NaN for masked) or NULL */
  int held_out;        /* set by the fit: 1 if the CV used the held-out
                          correction, 0 if it factorised each fold */
  double seconds[4];   /* set by the single-rank fits: wall time by phase
                          (ridge_phase), to tell where a fit's time goes;
                          meaningful when the fit returned VF_OK */
  int banded;          /* set by the single-rank fits: how many CV folds
                          formed their predictions through the bands of
                          their spectrum (a dense grid's, when it pays) */
} ridge_result;

/* The phases of ridge_result.seconds. Their sum is most of the fit; the
 * rest is choosing lambdas, filling results and the CV's buffers. */
typedef enum {
  RIDGE_T_FACTOR,   /* factorisations: each fold's (or all rows' for the
                       held-out correction) with its filter basis and
                       kernel, and the refit's; in a model's fit
                       (ridge_model_fit_*), factorised when the model was
                       made, only the kernels made for that fit */
  RIDGE_T_PRODUCTS, /* the CV predictions' products: U^T Y, the basis
                       predictions, the held-out correction's */
  RIDGE_T_SCORE,    /* scoring every lambda's CV predictions */
  RIDGE_T_REFIT     /* the refit's buffers, products and test scores */
} ridge_phase;

/* The fit in double. Xtr: ntr x p, Ytr: ntr x v (leading dimension ntr)
 * with rows grouped by fold: fold f is rows [fold_start[f],
 * fold_start[f+1]), k >= 2 folds. Xte: nte x p, Yte: nte x v (the test
 * responses, repetitions already averaged). valid[j] = 0 masks voxel j
 * (NULL: all valid). Features and responses are used as given (standardise
 * first). */
vf_status ridge_cv_fit_d(const double *Xtr, long ntr, long p,
                         const double *Ytr, long v, const long *fold_start,
                         int k, const double *Xte, long nte,
                         const double *Yte, const unsigned char *valid,
                         const ridge_opts *o, ridge_result *res);
/* The same in single precision (float32 products and factorisations). */
vf_status ridge_cv_fit_s(const float *Xtr, long ntr, long p, const float *Ytr,
                         long v, const long *fold_start, int k,
                         const float *Xte, long nte, const float *Yte,
                         const unsigned char *valid, const ridge_opts *o,
                         ridge_result *res);

/* A model: the factorisations of one design (the training features with
 * their folds, the test features, the lambdas and the solver), computed
 * once and then fitted to any number of response blocks. fit(create(X),
 * Y) gives exactly what ridge_cv_fit gives; it holds every fold's
 * factorisation at once (ridge_model_bytes), where ridge_cv_fit holds one. */
typedef struct ridge_model_d ridge_model_d;
typedef struct ridge_model_s ridge_model_s;
vf_status ridge_model_create_d(const double *Xtr, long ntr, long p,
                               const long *fold_start, int k,
                               const double *Xte, long nte,
                               const ridge_opts *o, ridge_model_d **out);
vf_status ridge_model_create_s(const float *Xtr, long ntr, long p,
                               const long *fold_start, int k,
                               const float *Xte, long nte,
                               const ridge_opts *o, ridge_model_s **out);
/* o must carry the model's lambdas; its score, lambda_per_voxel and
 * vox_block may differ from those the model was made with. */
vf_status ridge_model_fit_d(const ridge_model_d *M, const double *Ytr, long v,
                            const double *Yte, const unsigned char *valid,
                            const ridge_opts *o, ridge_result *res);
vf_status ridge_model_fit_s(const ridge_model_s *M, const float *Ytr, long v,
                            const float *Yte, const unsigned char *valid,
                            const ridge_opts *o, ridge_result *res);
size_t ridge_model_bytes_d(const ridge_model_d *M);
size_t ridge_model_bytes_s(const ridge_model_s *M);
void ridge_model_destroy_d(ridge_model_d **M);
void ridge_model_destroy_s(ridge_model_s **M);
/* Serialisation through the caller's byte sink/source (a file, a message):
 * each callback moves n bytes and returns 0 on success. read checks the
 * magic, the precision and every size. */
typedef int (*ridge_put_fn)(void *ctx, const void *data, size_t n);
typedef int (*ridge_get_fn)(void *ctx, void *data, size_t n);
vf_status ridge_model_write_d(const ridge_model_d *M, ridge_put_fn put, void *ctx);
vf_status ridge_model_write_s(const ridge_model_s *M, ridge_put_fn put, void *ctx);
vf_status ridge_model_read_d(ridge_get_fn get, void *ctx, ridge_model_d **out);
vf_status ridge_model_read_s(ridge_get_fn get, void *ctx, ridge_model_s **out);

/* ---- the fit on a team of ranks (ScaLAPACK) -------------------------- */
/* The same fit as ridge_cv_fit_d, distributed: every matrix block-cyclic
 * on one process grid with one block size. Per fold one Gram matrix
 * (X X^T or X^T X, the smaller) is eigendecomposed with pdsyevd; the
 * fold's q basis predictions (the low-rank filter basis of cv.inc: a
 * column scaling and one pdgemm each, per block of voxels) give every
 * lambda's scores from per-voxel sums over the grid's rows. The scores,
 * chosen lambdas and test scores end on every rank. Double precision and
 * the Gram eigendecomposition only (the single-rank default in double). */
typedef struct {
  double *best_lambda, *cv_best, *test_r, *test_r2; /* v, on every rank */
  double *cv_scores;  /* n_lambdas x v on every rank, or NULL */
  la_dmat *test_pred; /* nte x v on the grid (made by the fit), or NULL */
  la_dmat *weights;   /* p x v on the grid (made by the fit), or NULL */
  long n_masked;
} ridge_team_result;

/* Collective on the grid of Xtr. Xtr (ntr x p) and Ytr (ntr x v) with rows
 * grouped by fold as for ridge_cv_fit_d; Xte (nte x p), Yte (nte x v);
 * valid (v, NULL = all) the same on every rank. Fails on every rank alike
 * when it fails on one (the others say so). */
vf_status ridge_team_fit(const la_dmat *Xtr, const la_dmat *Ytr,
                         const long *fold_start, int k, const la_dmat *Xte,
                         const la_dmat *Yte, const unsigned char *valid,
                         const ridge_opts *o, ridge_team_result *res);

/* The same in two steps, as ridge_model: the factorisations of a design
 * (collective on Xtr's grid; this rank holds its share of every fold's,
 * ridge_team_model_bytes), then fits of any response blocks on the same
 * grid (collective). destroy is Local and takes NULL. */
typedef struct ridge_team_model ridge_team_model;
vf_status ridge_team_model_create(const la_dmat *Xtr, const long *fold_start, int k,
                                  const la_dmat *Xte, const ridge_opts *o,
                                  ridge_team_model **out);
vf_status ridge_team_model_fit(const ridge_team_model *M, const la_dmat *Ytr,
                               const la_dmat *Yte, const unsigned char *valid,
                               const ridge_opts *o, ridge_team_result *res);
size_t ridge_team_model_bytes(const ridge_team_model *M);
void ridge_team_model_destroy(ridge_team_model **M);

/* Whether a fit of this design with o tries the held-out correction
 * (o->cv_method, or for auto the flop count per voxel); it still falls
 * back to per_fold when a fold's I - H_vv is ill-conditioned. */
int ridge_cv_tries_held_out(long ntr, long p, const long *fold_start, int k,
                            const ridge_opts *o);

/* Flops of the textbook fit (for benchmarks and the cost model). */
double ridge_cv_flops(long ntr, long p, long v, const long *fold_start, int k,
                      int n_lambdas, long nte);

#endif
