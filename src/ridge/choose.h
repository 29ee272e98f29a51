/* Internal to src/ridge: what the single-rank fit (cv.inc) and the team
 * fit (team.c) share, so both choose lambdas, break ties and score
 * through the same algebra. */
#ifndef VOXFIT_RIDGE_CHOOSE_H
#define VOXFIT_RIDGE_CHOOSE_H

#include "voxfit/ridge.h"

/* Per voxel (or one for all voxels) the index of the lambda with the best
 * mean CV score (cv: m x v, lambda fastest); scores within
 * tie x max(1, |best|) of the best are ties, won by the larger lambda;
 * best[j] = -1 for masked voxels (valid[j] == 0; valid may be NULL). */
void ridge_choose(const double *cv, int m, long v, const unsigned char *valid,
                  int per_voxel, double tie, int *best);

/* The tie band of a fit in double and in single precision. A float32
 * fit's scores carry its products' rounding: up to 6e-7 from a float64 fit
 * of the same data on the benchmark, where the wide grid's plateau
 * lambdas (1e8 to 1e20) differ by less than 5e-8. With double's band the
 * choice among them was that rounding (923 and 645 of 20000 voxels chose
 * another plateau lambda than a float64 fit of the same data did). */
#define RIDGE_TIE_DOUBLE 1e-9
#define RIDGE_TIE_SINGLE 1e-6
/* o->tie, or the precision's band when it is 0. */
double ridge_tie(const ridge_opts *o, int single);

/* The filter matrix of a fold, F[j][i] = s_i / (s_i^2 + lambda_j) (m x r),
 * has low numerical rank: with its rows normalised, F_j = norm_j sum_t
 * U_jt S_t V_t (thin SVD), so every lambda's predictions are combinations
 * of q <= m basis predictions, basis t filtering component i by
 * Vt[i * q + t]. Components below tol of the largest are dropped. Gives
 * q, A (m x q: A[j * q + t] = norm_j U_jt S_t) and Vt (r x q), both
 * allocated here. */
vf_status ridge_filter_basis(const double *s, long r, const double *lam, int m, double tol,
                             int *q, double **A, double **Vt);
/* The same for any filter matrix G (m x r, column-major: G[i * m + j] is
 * lambda j's factor of component i), overwritten. */
vf_status ridge_matrix_basis(double *G, long r, int m, double tol, int *q, double **A,
                             double **Vt);

/* The spectrum cut into bands of contiguous components, each band with
 * its own low-rank filter basis (ridge_matrix_basis of the band's
 * columns): over a band's narrow range of s the filters of a dense grid
 * have far lower numerical rank than over the whole spectrum (about 10 of
 * 20 on 250 components). Band b holds components [start[b], start[b+1])
 * and basis vectors u = uoff[b] .. uoff[b+1] - 1 (Q in all); vector t of
 * band b is W + woff[b] + t len_b, len_b = start[b+1] - start[b]; lambda
 * j's filter on the band is sum_t A[j Q + uoff[b] + t] (vector t). */
typedef struct {
  int nband, Q;
  long *start; /* nband + 1 */
  int *uoff;   /* nband + 1 */
  long *woff;  /* nband */
  double *A;   /* m x Q */
  double *W;   /* sum over bands of q_b len_b */
} ridge_bands;

/* The bands of width 64, 128, 256 or 512 (at least two of them) whose
 * basis predictions and their combination into every lambda's prediction
 * cost the fewest flops per voxel over nev held-out rows: *B (nband 0
 * when r is too small for two bands of 64). tol as in
 * ridge_matrix_basis, per band. */
vf_status ridge_bands_make(const double *s, long r, const double *lam, int m, double tol,
                           long nev, ridge_bands *B);
void ridge_bands_free(ridge_bands *B);
/* Per voxel: 2 nev sum_b q_b len_b flops for the basis predictions and
 * 2 m Q nev for their combination, each weighted by how much slower than
 * a deep GEMM its GEMM runs (choose.c). */
double ridge_bands_cost(const ridge_bands *B, long nev, int m);

/* Whether a fold of nf training rows and rank r, with nb basis rows (q
 * basis predictions of each held-out row), scores v voxels in fewer
 * flops through its kernel K = XVB U^T (nb x nf), formed once, than
 * through U^T Y and XVB (5% margin). */
int ridge_kernel_pays(long nf, long r, long nb, long v);

/* Adds weight x every lambda's CV score of one voxel to cv[0..m), from
 * its q basis predictions over n held-out rows: G (q x q, leading
 * dimension ldg) their centred Gram matrix, c their products with the
 * centred responses, mu their means, my and syy the responses' mean and
 * centred sum of squares. Lambda j's coefficients a_j (A, q x m) give
 * cov = a.c and var = a^T G a, so no prediction is formed. GA (q x m) is
 * workspace. */
void ridge_basis_scores(const double *A, int q, int m, const double *G, long ldg,
                        const double *c, const double *mu, double my, double syy, long n,
                        ridge_score kind, double weight, double *GA, double *cv);

/* A prediction's score against held-out responses (n rows, mean my,
 * centred sum of squares syy) from its centred products: cov with the
 * responses, var with itself, and its mean mp. r and R^2 are 0 against
 * flat responses (ridge_flat); minus the MSE is computed there too. */
double ridge_score_of(double cov, double var, double mp, double my, double syy, long n,
                      ridge_score kind);

/* Adds the wall time since *t to secs[phase] (secs may be NULL) and
 * restarts *t there: the fit's phase times (ridge_result.seconds). */
void ridge_lap(double *secs, ridge_phase phase, double *t);

/* Whether A (m x q) is the identity. */
int ridge_is_identity(const double *A, int q, int m);

#endif
