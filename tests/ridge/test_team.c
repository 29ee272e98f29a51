/* ranks: 1 2 4 */
/* The team fit (ScaLAPACK) against the single-rank engine on the same
 * data: chosen lambdas identical, CV scores, test r and R^2, predictions
 * and weights within 1e-10, on every grid the rank count allows (1x1;
 * 1x2, 2x1; 2x2, 1x4, 4x1), with a block size that divides none of the
 * sizes: primal (n > p) and dual (p > n) shapes, rank-deficient features,
 * one voxel, a masked voxel, one lambda shared by all voxels, R^2, a
 * voxel constant over one fold's held-out rows and one over the test
 * rows (both engines score those 0 in r and R^2), neg_mse (minus the
 * held-out MSE, also on those flat rows; primal, dual with a shared
 * lambda, masked), and enough voxels for several scoring blocks. */
#include "testutil.h"
#include "voxfit/linalg.h"
#include "voxfit/ridge.h"

static const double lambdas[] = {0.01, 0.1, 1, 10, 100, 1e3, 1e4, 1e5, 1e7, 1e10};

typedef struct {
  long ntr, nte, p, v;
  int k, dup, mask, shared, r2, flat; /* r2: the CV score, 0 r, 1 R^2, 2 neg_mse */
  const char *name;
} tcase;

static void make(const tcase *c, double *X, double *Y) {
  vf_rng g;
  long n = c->ntr + c->nte;
  vf_rng_seed(&g, 7 + c->p + c->v, 3);
  for (long i = 0; i < n * c->p; i++) X[i] = vf_rng_normal(&g);
  if (c->dup)
    for (long j = 0; j < c->p / 4; j++) memcpy(X + (c->p - 1 - j) * n, X + j * n, sizeof(double) * n);
  double *B = malloc(sizeof(double) * c->p * c->v);
  for (long i = 0; i < c->p * c->v; i++) B[i] = vf_rng_normal(&g) / sqrt((double)c->p);
  la_dgemm('N', 'N', n, c->v, c->p, 1, X, n, B, c->p, 0, Y, n);
  for (long j = 0; j < c->v; j++)
    for (long i = 0; i < n; i++) Y[j * n + i] += pow(10.0, -1 + 2.5 * j / (double)c->v) * vf_rng_normal(&g);
  if (c->mask)
    for (long i = 0; i < n; i++) Y[2 * n + i] = 0;
  free(B);
}

/* Rows [r0, r0 + nr) of full (leading dimension ld) into this rank's part. */
static void scatter(la_dmat *A, const double *full, long ld, long r0) {
  for (int j = 0; j < A->nloc; j++)
    for (int i = 0; i < A->mloc; i++)
      A->a[(size_t)j * A->desc[8] + i] =
          full[la_dmat_gcol(A, j) * ld + r0 + la_dmat_grow(A, i)];
}

/* Largest |A - full| over this rank's part, over every rank. */
static double maxdiff(const la_dmat *A, const double *full, long ld) {
  double d = 0;
  for (int j = 0; j < A->nloc; j++)
    for (int i = 0; i < A->mloc; i++) {
      double a = A->a[(size_t)j * A->desc[8] + i], b = full[la_dmat_gcol(A, j) * ld + la_dmat_grow(A, i)];
      double e = (isnan(a) && isnan(b)) ? 0 : fabs(a - b);
      if (!(e <= d)) d = e;
    }
  MPI_Allreduce(MPI_IN_PLACE, &d, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return d;
}

static double vecdiff(const double *a, const double *b, long n) {
  double d = 0;
  for (long i = 0; i < n; i++) {
    double e = (isnan(a[i]) && isnan(b[i])) ? 0 : fabs(a[i] - b[i]);
    if (!(e <= d)) d = e;
  }
  return d;
}

/* Minus the held-out MSE of voxel j's ridge fit at lam, averaged over the
 * k folds of the training rows [0, ntr) of X (n x p) and Y (n x v): the
 * direct Cholesky solve per fold, what a neg_mse fit's cv_best holds. */
static double direct_neg_mse(const double *X, const double *Y, long n, long ntr, long p,
                             const long *start, int k, long j, double lam) {
  double *A = malloc(sizeof(double) * ntr * p), *y = malloc(sizeof(double) * ntr);
  double *G = malloc(sizeof(double) * p * p), *w = malloc(sizeof(double) * p), score = 0;
  for (int f = 0; f < k; f++) {
    long nr = 0;
    for (long i = 0; i < ntr; i++) {
      if (i >= start[f] && i < start[f + 1]) continue;
      for (long q = 0; q < p; q++) A[q * ntr + nr] = X[q * n + i];
      y[nr++] = Y[j * n + i];
    }
    la_dgemm('T', 'N', p, p, nr, 1, A, ntr, A, ntr, 0, G, p);
    for (long q = 0; q < p; q++) G[q * p + q] += lam;
    la_dgemm('T', 'N', p, 1, nr, 1, A, ntr, y, ntr, 0, w, p);
    la_int ip = (la_int)p, one = 1, info = 0;
    dpotrf_("L", &ip, G, &ip, &info);
    if (!info) dpotrs_("L", &ip, &one, G, &ip, w, &ip, &info);
    TU_CHECK(info == 0, "cholesky of fold %d", f);
    double sse = 0;
    for (long i = start[f]; i < start[f + 1]; i++) {
      double e = Y[j * n + i];
      for (long q = 0; q < p; q++) e -= X[q * n + i] * w[q];
      sse += e * e;
    }
    score -= sse / (double)(start[f + 1] - start[f]) / k;
  }
  free(A), free(y), free(G), free(w);
  return score;
}

static void run_case(const tcase *c, int ctxt, int pr, int pc, int nb) {
  long n = c->ntr + c->nte, ntr = c->ntr, nte = c->nte, p = c->p, v = c->v;
  double *X = malloc(sizeof(double) * n * p), *Y = malloc(sizeof(double) * n * v);
  make(c, X, Y);
  long start[16];
  for (int f = 0; f <= c->k; f++) start[f] = ntr * f / c->k;
  if (c->flat) { /* constant (to rounding) over fold 1's rows, or the test rows */
    for (long i = start[1]; i < start[2]; i++) Y[1 * n + i] = 0.1;
    for (long i = ntr; i < n; i++) Y[2 * n + i] = 0.1;
  }
  unsigned char *valid = calloc(v, 1);
  for (long j = 0; j < v; j++) valid[j] = !(c->mask && j == 2);
  ridge_score kind = c->r2 == 2 ? RIDGE_SCORE_NEG_MSE : c->r2 ? RIDGE_SCORE_R2 : RIDGE_SCORE_R;
  ridge_opts o = {lambdas, 10, kind, !c->shared, 0,
                  RIDGE_SOLVER_AUTO, RIDGE_CV_PER_FOLD, 0, 0, 0};
  /* the single-rank reference, on contiguous train/test copies */
  double *Xtr = malloc(sizeof(double) * ntr * p), *Xte = malloc(sizeof(double) * nte * p);
  double *Ytr = malloc(sizeof(double) * ntr * v), *Yte = malloc(sizeof(double) * nte * v);
  for (long j = 0; j < p; j++)
    memcpy(Xtr + j * ntr, X + j * n, sizeof(double) * ntr), memcpy(Xte + j * nte, X + j * n + ntr, sizeof(double) * nte);
  for (long j = 0; j < v; j++)
    memcpy(Ytr + j * ntr, Y + j * n, sizeof(double) * ntr), memcpy(Yte + j * nte, Y + j * n + ntr, sizeof(double) * nte);
  double *ref[4], *got[4];
  for (int i = 0; i < 4; i++) ref[i] = calloc(v, sizeof(double)), got[i] = calloc(v, sizeof(double));
  double *rcv = calloc(10 * v, sizeof(double)), *gcv = calloc(10 * v, sizeof(double));
  double *rW = calloc(p * v, sizeof(double)), *rP = calloc(nte * v, sizeof(double));
  ridge_result rr = {ref[0], ref[1], ref[2], ref[3], rcv, rW, 0, rP, 0, {0}, 0};
  TU_OK(ridge_cv_fit_d(Xtr, ntr, p, Ytr, v, start, c->k, Xte, nte, Yte, valid, &o, &rr));
  /* the team */
  la_grid g;
  la_dmat dX, dY, dXte, dYte, P, W;
  la_grid_of(ctxt, &g);
  TU_OK(la_dmat_create(&g, ntr, p, nb, &dX));
  TU_OK(la_dmat_create(&g, ntr, v, nb, &dY));
  TU_OK(la_dmat_create(&g, nte, p, nb, &dXte));
  TU_OK(la_dmat_create(&g, nte, v, nb, &dYte));
  scatter(&dX, X, n, 0), scatter(&dY, Y, n, 0);
  scatter(&dXte, X, n, ntr), scatter(&dYte, Y, n, ntr);
  ridge_team_result tr = {got[0], got[1], got[2], got[3], gcv, &P, &W, 0};
  TU_OK(ridge_team_fit(&dX, &dY, start, c->k, &dXte, &dYte, valid, &o, &tr));
  int same = 1;
  for (long j = 0; j < v; j++)
    same &= (isnan(ref[0][j]) && isnan(got[0][j])) || ref[0][j] == got[0][j];
  TU_CHECK(same, "%s on %dx%d: chosen lambdas differ", c->name, pr, pc);
  double e_cv = vecdiff(rcv, gcv, 10 * v), e_best = vecdiff(ref[1], got[1], v);
  double e_r = vecdiff(ref[2], got[2], v), e_r2 = vecdiff(ref[3], got[3], v);
  double e_p = maxdiff(&P, rP, nte), e_w = maxdiff(&W, rW, p);
  TU_CHECK(e_cv < 1e-10 && e_best < 1e-10, "%s on %dx%d: CV scores differ by %.2e / %.2e",
           c->name, pr, pc, e_cv, e_best);
  TU_CHECK(e_r < 1e-10 && e_r2 < 1e-10, "%s on %dx%d: test r differs by %.2e, R2 by %.2e",
           c->name, pr, pc, e_r, e_r2);
  TU_CHECK(e_p < 1e-10 && e_w < 1e-10, "%s on %dx%d: predictions differ by %.2e, weights by %.2e",
           c->name, pr, pc, e_p, e_w);
  TU_CHECK(tr.n_masked == rr.n_masked, "%s: %ld masked, want %ld", c->name, tr.n_masked, rr.n_masked);
  if (kind == RIDGE_SCORE_NEG_MSE) { /* the team's cv_best is minus the MSE */
    double e_mse = 0;
    for (long j = 0; j < v; j++)
      if (valid[j]) {
        double want = direct_neg_mse(X, Y, n, ntr, p, start, c->k, j, got[0][j]);
        e_mse = fmax(e_mse, fabs(got[1][j] - want) / fmax(1.0, fabs(want)));
      }
    TU_CHECK(e_mse < 1e-8, "%s on %dx%d: cv_best differs from the direct -MSE by %.2e",
             c->name, pr, pc, e_mse);
  }
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank == 0)
    printf("%-14s grid %dx%d, block %2d: |dcv| %.1e |dr| %.1e |dR2| %.1e |dpred| %.1e "
           "|dW| %.1e\n", c->name, pr, pc, nb, e_cv, e_r, e_r2, e_p, e_w);
  la_dmat_destroy(&dX), la_dmat_destroy(&dY), la_dmat_destroy(&dXte), la_dmat_destroy(&dYte);
  la_dmat_destroy(&P), la_dmat_destroy(&W);
  free(X), free(Y), free(Xtr), free(Xte), free(Ytr), free(Yte);
  free(rcv), free(gcv), free(rW), free(rP), free(valid);
  for (int i = 0; i < 4; i++) free(ref[i]), free(got[i]);
}

static const tcase cases[] = {
    {90, 23, 37, 29, 5, 0, 0, 0, 0, 0, "primal"},
    {60, 17, 101, 13, 4, 0, 0, 0, 0, 0, "dual"},
    {70, 19, 45, 11, 3, 1, 0, 0, 0, 0, "rank-deficient"},
    {50, 12, 21, 1, 5, 0, 0, 0, 0, 0, "one voxel"},
    {66, 15, 30, 9, 3, 0, 1, 0, 0, 0, "masked voxel"},
    {66, 15, 30, 9, 3, 0, 0, 1, 0, 0, "shared lambda"},
    {48, 14, 61, 10, 4, 0, 0, 0, 1, 0, "R2, dual"},
    {66, 15, 30, 9, 3, 0, 0, 0, 1, 1, "R2, flat rows"},
    {90, 23, 37, 29, 5, 0, 1, 0, 2, 0, "neg_mse"},
    {48, 14, 61, 10, 4, 0, 0, 1, 2, 0, "neg_mse, dual"},
    {66, 15, 30, 9, 3, 0, 0, 0, 2, 1, "neg_mse, flat"},
    {40, 11, 13, 4500, 4, 0, 0, 0, 0, 0, "many voxels"},
};

/* 8 divides none of the sizes; 64, the default team_block, exceeds most
 * of them, so that some processes hold no block of a matrix (PDSYEVD's
 * own workspace query once gave those too little). */
static const int blocks[] = {8, 64};

int main(int argc, char **argv) {
  la_blas_setup(argv); /* the kernels voxfit runs */
  MPI_Init(&argc, &argv);
  int size;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int shapes[3][2] = {{1, size}, {size, 1}, {2, 2}};
  for (int s = 0; s < 3; s++) {
    int pr = shapes[s][0], pc = shapes[s][1];
    if (pr * pc != size || (s == 1 && size == 1)) continue;
    int ctxt = Csys2blacs_handle(MPI_COMM_WORLD);
    Cblacs_gridinit(&ctxt, "Row", pr, pc);
    for (int b = 0; b < 2; b++)
      for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        run_case(&cases[i], ctxt, pr, pc, blocks[b]);
    Cblacs_gridexit(ctxt);
  }
  return tu_finish("ridge/test_team");
}
