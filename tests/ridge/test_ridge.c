/* ranks: 1 */
/* The ridge kernels against mathematics: every CV score against a direct
 * Cholesky solve of (X^T X + lambda I) W = X^T Y per fold and lambda, the
 * refit weights likewise, primal and dual shapes, rank-deficient X, single
 * against double, masked voxels, folds and FIR delays. */
#include "testutil.h"
#include "voxfit/linalg.h"
#include "voxfit/ridge.h"
#include "../../src/ridge/choose.h"

static void randn(vf_rng *g, double *a, long n) {
  for (long i = 0; i < n; i++) a[i] = vf_rng_normal(g);
}

/* Y = X B + noise with voxel-specific noise levels. */
static void make_problem(long n, long p, long v, uint64_t seed, double *X,
                         double *Y) {
  vf_rng g;
  vf_rng_seed(&g, seed, 1);
  randn(&g, X, n * p);
  double *B = malloc(sizeof(double) * p * v);
  randn(&g, B, p * v);
  la_dgemm('N', 'N', n, v, p, 1.0 / sqrt((double)p), X, n, B, p, 0, Y, n);
  for (long c = 0; c < v; c++) {
    double noise = pow(10.0, -1.0 + 2.0 * c / (double)(v > 1 ? v - 1 : 1));
    for (long i = 0; i < n; i++) Y[c * n + i] += noise * vf_rng_normal(&g);
  }
  free(B);
}

/* W (p x v) = (A^T A + lam I)^{-1} A^T Y for rows rows[0..nr) of A/Y. */
static int direct_solve(const double *X, long ldx, const double *Y, long ldy,
                        const long *rows, long nr, long p, long v, double lam,
                        double *W) {
  double *A = calloc(nr * p, sizeof(double)), *Yr = calloc(nr * v, sizeof(double));
  double *G = calloc(p * p, sizeof(double));
  for (long j = 0; j < p; j++)
    for (long i = 0; i < nr; i++) A[j * nr + i] = X[j * ldx + rows[i]];
  for (long j = 0; j < v; j++)
    for (long i = 0; i < nr; i++) Yr[j * nr + i] = Y[j * ldy + rows[i]];
  la_dgemm('T', 'N', p, p, nr, 1, A, nr, A, nr, 0, G, p);
  for (long i = 0; i < p; i++) G[i * p + i] += lam;
  la_dgemm('T', 'N', p, v, nr, 1, A, nr, Yr, nr, 0, W, p);
  la_int ip = (la_int)p, iv = (la_int)v, info = 0;
  dpotrf_("L", &ip, G, &ip, &info);
  if (!info) dpotrs_("L", &ip, &iv, G, &ip, W, &ip, &info);
  free(A), free(Yr), free(G);
  return info;
}

/* float copies of a split problem: f = {Xtr, Xte, Ytr, Yte}. */
static void to_float(const double *Xtr, const double *Xte, const double *Ytr,
                     const double *Yte, long ntr, long nte, long p, long v, float *f[4]) {
  const double *src[4] = {Xtr, Xte, Ytr, Yte};
  const long len[4] = {ntr * p, nte * p, ntr * v, nte * v};
  for (int a = 0; a < 4; a++) {
    f[a] = malloc(sizeof(float) * len[a]);
    for (long i = 0; i < len[a]; i++) f[a][i] = (float)src[a][i];
  }
}

/* The fit's phase times: none negative, each phase timed (a fit that
 * factorised itself spent time in all four), and together no more than
 * the wall time of the call (wall): a stretch counted twice shows when it
 * is longer than the untimed rest of the call. */
static void check_phases(const ridge_result *res, double wall, int factorised) {
  const double *t = res->seconds;
  double sum = 0;
  for (int i = 0; i < 4; i++) {
    TU_CHECK(t[i] >= 0 && (t[i] > 0 || (i == RIDGE_T_FACTOR && !factorised)),
             "phase %d took %g s", i, t[i]);
    sum += t[i];
  }
  TU_CHECK(sum <= wall, "phases sum to %.6f s, the call took %.6f s", sum, wall);
}

/* The fit o gave res (with CV scores) again with one lambda per product
 * (pred_block 1), which dense grids' folds honour: the same scores. */
static void check_one_per_product(const double *Xtr, long ntr, long p, const double *Ytr,
                                  long v, const long *start, int k, const double *Xte,
                                  long nte, const double *Yte, const ridge_opts *o,
                                  const ridge_result *res) {
  int m = o->n_lambdas;
  ridge_opts o1 = *o;
  o1.pred_block = 1;
  double *b = calloc((size_t)(m + 3) * v, sizeof(double));
  ridge_result r1 = {b, NULL, b + v, b + 2 * v, b + 3 * v, NULL, 0, NULL, 0, {0}, 0};
  TU_OK(ridge_cv_fit_d(Xtr, ntr, p, Ytr, v, start, k, Xte, nte, Yte, NULL, &o1, &r1));
  double err = 0;
  for (long i = 0; i < (long)m * v; i++) err = fmax(err, fabs(r1.cv_scores[i] - res->cv_scores[i]));
  for (long c = 0; c < v; c++) err = fmax(err, fabs(r1.best_lambda[c] - res->best_lambda[c]));
  TU_CHECK(err < 1e-12, "one lambda per product changes the CV scores by %.3g", err);
  free(b);
}

static void check_fit(long ntr, long nte, long p, long v, int k, int dup,
                      ridge_solver solver, ridge_cv_method cvm) {
  double *X = malloc(sizeof(double) * (ntr + nte) * p);
  double *Y = malloc(sizeof(double) * (ntr + nte) * v);
  long n = ntr + nte;
  make_problem(n, p, v, 42 + ntr + p, X, Y);
  if (dup) /* rank-deficient: duplicate the first columns */
    for (long j = 0; j < p / 4; j++) memcpy(X + (p - 1 - j) * n, X + j * n, sizeof(double) * n);
  /* split into contiguous train/test copies with their own leading dims */
  double *Xtr = malloc(sizeof(double) * ntr * p), *Xte = malloc(sizeof(double) * nte * p);
  double *Ytr = malloc(sizeof(double) * ntr * v), *Yte = malloc(sizeof(double) * nte * v);
  for (long j = 0; j < p; j++) {
    memcpy(Xtr + j * ntr, X + j * n, sizeof(double) * ntr);
    memcpy(Xte + j * nte, X + j * n + ntr, sizeof(double) * nte);
  }
  for (long j = 0; j < v; j++) {
    memcpy(Ytr + j * ntr, Y + j * n, sizeof(double) * ntr);
    memcpy(Yte + j * nte, Y + j * n + ntr, sizeof(double) * nte);
  }
  int fold[ntr];
  long start[k + 1], order[ntr];
  TU_OK(ridge_folds_kfold(ntr, k, fold));
  ridge_folds_order(ntr, fold, k, order, start);
  double lams[6] = {1e-2, 1e-1, 1, 10, 100, 1e4};
  ridge_opts o = {lams, 6, RIDGE_SCORE_R, 1, 7, solver, cvm, 0, 0, 0};
  ridge_result res = {0};
  double *cvs = calloc(6 * v, sizeof(double)), *W = calloc(p * v, sizeof(double));
  res.best_lambda = calloc(v, sizeof(double));
  res.cv_best = calloc(v, sizeof(double));
  res.test_r = calloc(v, sizeof(double));
  res.test_r2 = calloc(v, sizeof(double));
  res.cv_scores = cvs;
  res.weights = W;
  res.held_out = -1;
  double t0 = vf_now();
  TU_OK(ridge_cv_fit_d(Xtr, ntr, p, Ytr, v, start, k, Xte, nte, Yte, NULL, &o, &res));
  check_phases(&res, vf_now() - t0, 1);
  check_one_per_product(Xtr, ntr, p, Ytr, v, start, k, Xte, nte, Yte, &o, &res);
  /* held_out is honoured on these well-conditioned problems; auto takes it
   * for many short folds (12 of 20 rows against 60 features) */
  int want_ho = cvm == RIDGE_CV_HELD_OUT || (cvm == RIDGE_CV_AUTO && k >= 12);
  TU_CHECK(res.held_out == want_ho, "held_out %d, wanted %d (n=%ld p=%ld k=%d)", res.held_out,
           want_ho, ntr, p, k);

  /* every CV score against the direct solve */
  double worst = 0;
  double *Wd = malloc(sizeof(double) * p * v), *pred = malloc(sizeof(double) * ntr);
  long tr_rows[ntr];
  for (int f = 0; f < k; f++) {
    long nr = 0;
    for (long i = 0; i < ntr; i++) if (fold[i] != f) tr_rows[nr++] = i;
    for (int j = 0; j < 6; j++) {
      TU_CHECK(direct_solve(Xtr, ntr, Ytr, ntr, tr_rows, nr, p, v, lams[j], Wd) == 0, "chol");
      for (long c = 0; c < v; c++) {
        long nva = start[f + 1] - start[f];
        double yv[nva];
        for (long i = 0; i < nva; i++) {
          long row = start[f] + i;
          double s = 0;
          for (long q = 0; q < p; q++) s += Xtr[q * ntr + row] * Wd[c * p + q];
          pred[i] = s;
          yv[i] = Ytr[c * ntr + row];
        }
        double want = ridge_pearson(pred, yv, nva) / k;
        /* accumulate per fold into a copy for comparison */
        cvs[c * 6 + j] -= want;
      }
    }
  }
  for (long i = 0; i < 6 * v; i++) worst = fmax(worst, fabs(cvs[i]));
  TU_CHECK(worst < 1e-8, "CV scores differ from the direct solve by %.3g (n=%ld p=%ld dup=%d "
           "held_out=%d)", worst, ntr, p, dup, res.held_out);

  /* refit weights: each voxel's column against the direct solve at its lambda */
  long all[ntr];
  for (long i = 0; i < ntr; i++) all[i] = i;
  double werr = 0;
  for (int j = 0; j < 6; j++) {
    direct_solve(Xtr, ntr, Ytr, ntr, all, ntr, p, v, lams[j], Wd);
    for (long c = 0; c < v; c++)
      if (res.best_lambda[c] == lams[j])
        werr = fmax(werr, tu_relerr(W + c * p, Wd + c * p, p));
  }
  TU_CHECK(werr < 1e-8, "refit weights differ from the direct solve by %.3g", werr);
  /* test r from the weights */
  double rerr = 0;
  for (long c = 0; c < v; c++) {
    double pt[nte];
    for (long i = 0; i < nte; i++) {
      double s = 0;
      for (long q = 0; q < p; q++) s += Xte[q * nte + i] * W[c * p + q];
      pt[i] = s;
    }
    rerr = fmax(rerr, fabs(ridge_pearson(pt, Yte + c * nte, nte) - res.test_r[c]));
    rerr = fmax(rerr, fabs(ridge_r2(pt, Yte + c * nte, nte) - res.test_r2[c]));
  }
  TU_CHECK(rerr < 1e-10, "test scores inconsistent with weights: %.3g", rerr);
  /* the single-precision engine agrees in r to 1e-3 on this problem,
   * rank-deficient or not, against a double fit with its tie band: with
   * double's own (1e-9) a voxel whose two best lambdas score within 1e-6
   * picks the better in double and the larger in single (0.0014 in r) */
  {
    float *f[4];
    to_float(Xtr, Xte, Ytr, Yte, ntr, nte, p, v, f);
    ridge_result rs = res, rd = res;
    rs.test_r = calloc(v, sizeof(double));
    rs.best_lambda = calloc(v, sizeof(double));
    rs.cv_scores = rs.weights = NULL;
    rd.test_r = calloc(v, sizeof(double));
    rd.best_lambda = calloc(v, sizeof(double));
    rd.cv_scores = rd.weights = NULL;
    TU_OK(ridge_cv_fit_s(f[0], ntr, p, f[2], v, start, k, f[1], nte, f[3], NULL, &o, &rs));
    ridge_opts od = o;
    od.tie = RIDGE_TIE_SINGLE;
    TU_OK(ridge_cv_fit_d(Xtr, ntr, p, Ytr, v, start, k, Xte, nte, Yte, NULL, &od, &rd));
    double d = 0;
    for (long c = 0; c < v; c++) d = fmax(d, fabs(rs.test_r[c] - rd.test_r[c]));
    TU_CHECK(d < 1e-3, "single vs double r differ by %.3g (held_out %d, n=%ld p=%ld k=%d)", d,
             rs.held_out, ntr, p, k);
    free(rs.test_r), free(rs.best_lambda), free(rd.test_r), free(rd.best_lambda);
    for (int a = 0; a < 4; a++) free(f[a]);
  }
  free(X), free(Y), free(Xtr), free(Xte), free(Ytr), free(Yte), free(cvs), free(W);
  free(Wd), free(pred), free(res.best_lambda), free(res.cv_best), free(res.test_r),
      free(res.test_r2);
}

/* FIR-delayed features with runs, fitted and checked against the direct
 * solve on the delayed matrix, which must equal a hand-built one. */
static void check_delayed_fit(void) {
  long n = 48, p = 3, nd = 3, v = 4;
  int run[48], delays[3] = {0, 1, 3};
  for (int i = 0; i < 48; i++) run[i] = i / 12;
  double X[48 * 3], Xd[48 * 9], Y[48 * 4];
  make_problem(n, p, v, 11, X, Y);
  TU_OK(ridge_delay(X, n, p, run, delays, nd, Xd));
  double worst = 0;
  for (int d = 0; d < nd; d++)
    for (long j = 0; j < p; j++)
      for (long t = 0; t < n; t++) {
        long src = t - delays[d];
        double want = (src >= 0 && src / 12 == t / 12) ? X[j * n + src] : 0;
        worst = fmax(worst, fabs(Xd[(d * p + j) * n + t] - want));
      }
  TU_CHECK(worst == 0, "delayed matrix differs from the hand-built one by %g", worst);
  /* training = runs 0-2 (leave-one-run-out), test = run 3 */
  long ntr = 36, nte = 12, pd = p * nd;
  double Xtr[36 * 9], Xte[12 * 9], Ytr[36 * 4], Yte[12 * 4];
  for (long j = 0; j < pd; j++)
    memcpy(Xtr + j * ntr, Xd + j * n, 8 * ntr), memcpy(Xte + j * nte, Xd + j * n + ntr, 8 * nte);
  for (long j = 0; j < v; j++)
    memcpy(Ytr + j * ntr, Y + j * n, 8 * ntr), memcpy(Yte + j * nte, Y + j * n + ntr, 8 * nte);
  int fold[36], k;
  long order[36], start[4];
  TU_OK(ridge_folds_runs(ntr, run, fold, &k));
  ridge_folds_order(ntr, fold, k, order, start);
  double lams[4] = {0.1, 1, 10, 100}, bl[4], r[4], r2[4], W[9 * 4], Wd[9 * 4];
  ridge_opts o = {lams, 4, RIDGE_SCORE_R, 1, 0, RIDGE_SOLVER_AUTO, RIDGE_CV_AUTO, 0, 0, 0};
  double *pred = malloc(sizeof(double) * nte * v), *XW = malloc(sizeof(double) * nte * v);
  ridge_result res = {bl, NULL, r, r2, NULL, W, 0, pred, 0, {0}, 0};
  TU_OK(ridge_cv_fit_d(Xtr, ntr, pd, Ytr, v, start, k, Xte, nte, Yte, NULL, &o, &res));
  /* the test predictions returned are X_test W (what the permutation tests reuse) */
  la_dgemm('N', 'N', nte, v, pd, 1, Xte, nte, W, pd, 0, XW, nte);
  TU_CHECK(tu_relerr(pred, XW, nte * v) < 1e-10, "test predictions differ from X_test W by %.3g",
           tu_relerr(pred, XW, nte * v));
  free(pred), free(XW);
  long all[36];
  for (long i = 0; i < ntr; i++) all[i] = i;
  double err = 0;
  for (long c = 0; c < v; c++) {
    direct_solve(Xtr, ntr, Ytr + c * ntr, ntr, all, ntr, pd, 1, bl[c], Wd);
    err = fmax(err, tu_relerr(W + c * pd, Wd, pd));
  }
  TU_CHECK(err < 1e-8, "delayed refit differs from the direct solve by %.3g", err);
}

static void check_masked(void) {
  long ntr = 40, nte = 10, p = 5, v = 4;
  double X[50 * 5], Y[50 * 4];
  make_problem(50, p, v, 7, X, Y);
  double Xtr[40 * 5], Xte[10 * 5], Ytr[40 * 4], Yte[10 * 4];
  for (long j = 0; j < p; j++) memcpy(Xtr + j * ntr, X + j * 50, 40 * 8), memcpy(Xte + j * nte, X + j * 50 + 40, 10 * 8);
  for (long j = 0; j < v; j++) memcpy(Ytr + j * ntr, Y + j * 50, 40 * 8), memcpy(Yte + j * nte, Y + j * 50 + 40, 10 * 8);
  for (long i = 0; i < ntr; i++) Ytr[1 * ntr + i] = NAN; /* voxel 1: NaN */
  unsigned char valid[4] = {1, 0, 1, 1};
  int fold[40];
  long order[40], start[6];
  ridge_folds_kfold(ntr, 5, fold);
  ridge_folds_order(ntr, fold, 5, order, start);
  double lams[3] = {0.1, 1, 10}, bl[4], r[4], r2[4];
  ridge_opts o = {lams, 3, RIDGE_SCORE_R2, 0, 0, RIDGE_SOLVER_AUTO, RIDGE_CV_AUTO, 0, 0, 0};
  ridge_result res = {bl, NULL, r, r2, NULL, NULL, 0, NULL, 0, {0}, 0};
  TU_OK(ridge_cv_fit_d(Xtr, ntr, p, Ytr, v, start, 5, Xte, nte, Yte, valid, &o, &res));
  TU_CHECK(res.n_masked == 1 && isnan(r[1]) && isnan(bl[1]), "masked voxel not masked");
  TU_CHECK(isfinite(r[0]) && isfinite(r[2]) && isfinite(r[3]), "NaN voxel polluted others");
  TU_CHECK(bl[0] == bl[2] && bl[2] == bl[3], "shared lambda differs across voxels");
}

static void check_folds_and_delays(void) {
  int fold[10], k = 0;
  TU_OK(ridge_folds_kfold(10, 3, fold));
  TU_CHECK(fold[0] == 0 && fold[3] == 0 && fold[4] == 1 && fold[7] == 2 && fold[9] == 2,
           "kfold sizes are not 4,3,3");
  TU_FAILS_WITH(ridge_folds_kfold(3, 5, fold), VF_E_INPUT, "3 training stimuli into 5 folds");
  int run[10] = {3, 3, 3, 7, 7, 7, 7, 1, 1, 1};
  TU_OK(ridge_folds_runs(10, run, fold, &k));
  TU_CHECK(k == 3 && fold[0] == 0 && fold[3] == 1 && fold[9] == 2, "run folds wrong");
  /* leave-one-run-out never trains on the held-out run */
  long order[10], start[4];
  ridge_folds_order(10, fold, k, order, start);
  for (int f = 0; f < k; f++)
    for (long i = start[f]; i < start[f + 1]; i++)
      TU_CHECK(run[order[i]] == run[order[start[f]]], "fold %d mixes runs", f);
  int sh[10], sh2[10], count[5] = {0};
  TU_OK(ridge_folds_shuffled(10, 5, 99, sh));
  TU_OK(ridge_folds_shuffled(10, 5, 99, sh2));
  for (int i = 0; i < 10; i++) count[sh[i]]++;
  TU_CHECK(!memcmp(sh, sh2, sizeof sh) && count[0] == 2 && count[4] == 2, "shuffled folds");
  /* delays: zero at run starts, never reading across a run boundary */
  double x[10], xd[30];
  for (int i = 0; i < 10; i++) x[i] = i + 1;
  int delays[3] = {0, 1, 2};
  TU_OK(ridge_delay(x, 10, 1, run, delays, 3, xd));
  TU_CHECK(xd[0 * 10 + 4] == 5 && xd[1 * 10 + 4] == 4 && xd[2 * 10 + 4] == 0,
           "delay at t=4 (second row of run 7): %g %g %g", xd[4], xd[14], xd[24]);
  TU_CHECK(xd[1 * 10 + 3] == 0 && xd[2 * 10 + 7] == 0 && xd[2 * 10 + 9] == 8,
           "delays cross runs");
}

/* A byte buffer for the model's serialisation. */
typedef struct { unsigned char *b; size_t n, cap, pos; } membuf;
static int mb_put(void *ctx, const void *d, size_t n) {
  membuf *m = ctx;
  if (m->n + n > m->cap) {
    m->cap = 2 * (m->n + n);
    m->b = realloc(m->b, m->cap);
  }
  memcpy(m->b + m->n, d, n);
  m->n += n;
  return 0;
}
static int mb_get(void *ctx, void *d, size_t n) {
  membuf *m = ctx;
  if (m->pos + n > m->n) return 1;
  memcpy(d, m->b + m->pos, n);
  m->pos += n;
  return 0;
}

static int same(const double *a, const double *b, long n) {
  for (long i = 0; i < n; i++)
    if (!(a[i] == b[i] || (isnan(a[i]) && isnan(b[i])))) return 0;
  return 1;
}

/* Rows [0, ntr) of X (n x p) and Y (n x v), n = ntr + nte, copied out as
 * the training set, the rest as the test set. */
static void split_rows(const double *X, const double *Y, long ntr, long nte, long p, long v,
                       double **Xtr, double **Xte, double **Ytr, double **Yte) {
  long n = ntr + nte;
  *Xtr = malloc(8 * ntr * p), *Xte = malloc(8 * nte * p);
  *Ytr = malloc(8 * ntr * v), *Yte = malloc(8 * nte * v);
  for (long j = 0; j < p; j++)
    memcpy(*Xtr + j * ntr, X + j * n, 8 * ntr), memcpy(*Xte + j * nte, X + j * n + ntr, 8 * nte);
  for (long j = 0; j < v; j++)
    memcpy(*Ytr + j * ntr, Y + j * n, 8 * ntr), memcpy(*Yte + j * nte, Y + j * n + ntr, 8 * nte);
}

/* A planted problem (make_problem) of ntr training and nte test rows,
 * split by split_rows. */
static void split_problem(long ntr, long nte, long p, long v, uint64_t seed, double **Xtr,
                          double **Xte, double **Ytr, double **Yte) {
  long n = ntr + nte;
  double *X = malloc(sizeof(double) * n * p), *Y = malloc(sizeof(double) * n * v);
  make_problem(n, p, v, seed, X, Y);
  split_rows(X, Y, ntr, nte, p, v, Xtr, Xte, Ytr, Yte);
  free(X), free(Y);
}

/* A model made once and fitted to voxel blocks gives exactly the streaming
 * fit of all voxels; after a write/read round trip too. */
static void check_model(long ntr, long nte, long p, long v, int k, ridge_cv_method cvm) {
  double *Xtr, *Xte, *Ytr, *Yte;
  split_problem(ntr, nte, p, v, 99 + p, &Xtr, &Xte, &Ytr, &Yte);
  int *fold = malloc(sizeof(int) * ntr);
  long *order = malloc(sizeof(long) * ntr), start[16];
  ridge_folds_kfold(ntr, k, fold);
  ridge_folds_order(ntr, fold, k, order, start);
  double lams[6] = {0.01, 1, 10, 100, 1e4, 1e8};
  ridge_opts o = {lams, 6, RIDGE_SCORE_R, 1, 0, RIDGE_SOLVER_AUTO, cvm, 0, 0, 0};
  double *a = calloc(4 * v, 8), *b = calloc(4 * v, 8), *c = calloc(4 * v, 8);
  ridge_result ra = {a, a + v, a + 2 * v, a + 3 * v, NULL, NULL, 0, NULL, 0, {0}, 0};
  TU_OK(ridge_cv_fit_d(Xtr, ntr, p, Ytr, v, start, k, Xte, nte, Yte, NULL, &o, &ra));
  ridge_model_d *M = NULL, *M2 = NULL;
  TU_OK(ridge_model_create_d(Xtr, ntr, p, start, k, Xte, nte, &o, &M));
  long h = v / 3; /* two blocks of voxels, fitted separately */
  ridge_result rb1 = {b, b + v, b + 2 * v, b + 3 * v, NULL, NULL, 0, NULL, 0, {0}, 0};
  ridge_result rb2 = {b + h, b + v + h, b + 2 * v + h, b + 3 * v + h, NULL, NULL, 0, NULL, 0, {0}, 0};
  TU_OK(ridge_model_fit_d(M, Ytr, h, Yte, NULL, &o, &rb1));
  TU_CHECK(rb1.held_out == ra.held_out && ra.held_out == (cvm == RIDGE_CV_HELD_OUT),
           "model held_out %d, streaming %d", rb1.held_out, ra.held_out);
  TU_OK(ridge_model_fit_d(M, Ytr + h * ntr, v - h, Yte + h * nte, NULL, &o, &rb2));
  double err = 0;
  for (long i = 0; i < 4 * v; i++) err = fmax(err, fabs(a[i] - b[i]) / fmax(1, fabs(a[i])));
  TU_CHECK(same(a, b, v) && err < 1e-12, "model fit of two blocks differs from the streaming "
           "fit by %.3g (or in a chosen lambda)", err);
  membuf mb = {0};
  TU_OK(ridge_model_write_d(M, mb_put, &mb));
  size_t cterms = 0; /* a held-out model recomputes its folds' C_t (q <= 6) when read */
  for (int f = 0; f < k && cvm == RIDGE_CV_HELD_OUT; f++)
    cterms += 8 * 3 * (size_t)(start[f + 1] - start[f]) * (start[f + 1] - start[f] + 1);
  TU_CHECK(mb.n + cterms >= ridge_model_bytes_d(M), "serialised %zu bytes (+ %zu) < %zu", mb.n,
           cterms, ridge_model_bytes_d(M));
  TU_OK(ridge_model_read_d(mb_get, &mb, &M2));
  ridge_result rc = {c, c + v, c + 2 * v, c + 3 * v, NULL, NULL, 0, NULL, 0, {0}, 0};
  ridge_result rd = {b, b + v, b + 2 * v, b + 3 * v, NULL, NULL, 0, NULL, 0, {0}, 0};
  double t0 = vf_now();
  TU_OK(ridge_model_fit_d(M, Ytr, v, Yte, NULL, &o, &rd));
  check_phases(&rd, vf_now() - t0, 0); /* the model was factorised when made */
  TU_CHECK(same(a, b, 4 * v), "model fit of all voxels differs from the streaming fit");
  if (M2) TU_OK(ridge_model_fit_d(M2, Ytr, v, Yte, NULL, &o, &rc));
  TU_CHECK(same(a, c, 4 * v), "model read back gives other results");
  ridge_model_destroy_d(&M2);
  mb.pos = 0, mb.n /= 2; /* truncated */
  TU_FAILS_WITH(ridge_model_read_d(mb_get, &mb, &M2), VF_E_IO, "truncated");
  TU_CHECK(M2 == NULL, "a failed read left a model");
  mb.pos = 0;
  ridge_model_s *Ms = NULL;
  TU_FAILS_WITH(ridge_model_read_s(mb_get, &mb, &Ms), VF_E_IO, "precision");
  unsigned long long old = 0x024d52465856ULL, magic; /* format 2, before held_out */
  memcpy(&magic, mb.b, sizeof magic);
  memcpy(mb.b, &old, sizeof old);
  mb.pos = 0;
  TU_FAILS_WITH(ridge_model_read_d(mb_get, &mb, &M2), VF_E_IO, "format");
  memcpy(mb.b, &magic, sizeof magic);
  double other[6] = {0.1, 1, 10, 100, 1e4, 1e8};
  ridge_opts o2 = o;
  o2.lambdas = other;
  TU_FAILS_WITH(ridge_model_fit_d(M, Ytr, v, Yte, NULL, &o2, &rc), VF_E_INTERNAL, "lambdas");
  ridge_model_destroy_d(&M);
  ridge_model_destroy_d(&M); /* takes NULL */
  free(mb.b), free(Xtr), free(Xte), free(Ytr), free(Yte);
  free(fold), free(order), free(a), free(b), free(c);
}

/* held_out where a fold's I - H_vv is singular to rounding (20 held-out
 * rows, only 10 dimensions outside the span of 50 features, lambda 1e-12)
 * falls back to factorising each fold, with the per-fold answers. */
static void check_heldout_fallback(void) {
  long ntr = 60, nte = 10, p = 50, v = 4;
  long start[4] = {0, 20, 40, 60};
  double lams[3] = {1e-12, 1, 100}, a[4 * 4], b[4 * 4];
  ridge_opts o = {lams, 3, RIDGE_SCORE_R, 1, 0, RIDGE_SOLVER_AUTO, RIDGE_CV_HELD_OUT, 0, 0, 0};
  ridge_result ra = {a, a + v, a + 2 * v, a + 3 * v, NULL, NULL, 0, NULL, -1, {0}, 0};
  ridge_result rb = {b, b + v, b + 2 * v, b + 3 * v, NULL, NULL, 0, NULL, -1, {0}, 0};
  double *Xtr, *Xte, *Ytr, *Yte;
  split_problem(ntr, nte, p, v, 5, &Xtr, &Xte, &Ytr, &Yte);
  TU_OK(ridge_cv_fit_d(Xtr, ntr, p, Ytr, v, start, 3, Xte, nte, Yte, NULL, &o, &ra));
  o.cv_method = RIDGE_CV_PER_FOLD;
  TU_OK(ridge_cv_fit_d(Xtr, ntr, p, Ytr, v, start, 3, Xte, nte, Yte, NULL, &o, &rb));
  TU_CHECK(ra.held_out == 0 && rb.held_out == 0, "ill-conditioned held_out was used (%d)",
           ra.held_out);
  TU_CHECK(same(a, b, 4 * v), "the fallback differs from the per-fold fit");
  free(Xtr), free(Xte), free(Ytr), free(Yte);
}

/* With one lambda for all voxels the held-out fit cannot refit block by
 * block (the lambda needs every voxel's scores): it refits afterwards, with
 * the per-fold answers. */
static void check_heldout_shared(void) {
  long ntr = 60, nte = 15, p = 12, v = 7;
  double *Xtr, *Xte, *Ytr, *Yte;
  split_problem(ntr, nte, p, v, 8, &Xtr, &Xte, &Ytr, &Yte);
  long start[6] = {0, 12, 24, 36, 48, 60};
  double lams[5] = {0.1, 1, 10, 100, 1e3}, a[4 * 7], b[4 * 7], W[12 * 7], Wd[12 * 7];
  ridge_opts o = {lams, 5, RIDGE_SCORE_R2, 0, 0, RIDGE_SOLVER_AUTO, RIDGE_CV_HELD_OUT, 0, 0, 0};
  ridge_result ra = {a, a + v, a + 2 * v, a + 3 * v, NULL, W, 0, NULL, -1, {0}, 0};
  ridge_result rb = {b, b + v, b + 2 * v, b + 3 * v, NULL, Wd, 0, NULL, -1, {0}, 0};
  double t0 = vf_now();
  TU_OK(ridge_cv_fit_d(Xtr, ntr, p, Ytr, v, start, 5, Xte, nte, Yte, NULL, &o, &ra));
  check_phases(&ra, vf_now() - t0, 1); /* the refit after the held-out scores */
  o.cv_method = RIDGE_CV_PER_FOLD;
  TU_OK(ridge_cv_fit_d(Xtr, ntr, p, Ytr, v, start, 5, Xte, nte, Yte, NULL, &o, &rb));
  double err = tu_relerr(a + v, b + v, 3 * v);
  TU_CHECK(ra.held_out == 1 && rb.held_out == 0, "held_out %d / %d", ra.held_out, rb.held_out);
  TU_CHECK(same(a, b, v) && a[0] == a[v - 1], "shared lambda differs between the methods");
  TU_CHECK(err < 1e-10 && tu_relerr(W, Wd, p * v) < 1e-10,
           "held-out and per-fold fits with a shared lambda differ by %.3g", err);
  free(Xtr), free(Xte), free(Ytr), free(Yte);
}

/* Single precision on features whose condition number (about 3000)
 * squared is beyond float32: singular values from 1 down to 10^-3.5 and
 * responses with an equal share of every direction, so the smallest
 * directions matter at small lambdas. The Gram matrix, formed and
 * decomposed in float32, would lose them; every single-precision solver
 * must give the double engine's test r to 1e-3 (the data's own float32
 * rounding moves it by about 1e-4). */
static void check_single_conditioned(void) {
  long ntr = 240, nte = 60, p = 40, v = 6, n = ntr + nte;
  double *X = malloc(sizeof(double) * n * p), *Y = calloc(n * v, sizeof(double));
  double *c = malloc(sizeof(double) * p * v);
  vf_rng g;
  vf_rng_seed(&g, 11, 1);
  randn(&g, X, n * p);
  randn(&g, c, p * v);
  la_dgemm('N', 'N', n, v, p, 1 / sqrt((double)p), X, n, c, p, 0, Y, n);
  for (long j = 0; j < p; j++)
    for (long i = 0; i < n; i++) X[j * n + i] *= pow(10.0, -3.5 * j / (p - 1));
  for (long i = 0; i < n * v; i++) Y[i] += 1e-3 * (1 + i / n) * vf_rng_normal(&g);
  double lams[5] = {1e-6, 1e-4, 1e-2, 1, 100}, d4[4 * 6] = {0}, s4[4 * 6] = {0};
  const double *rd = d4 + 2 * v;
  long start[5] = {0, 60, 120, 180, 240};
  double *Xtr, *Xte, *Ytr, *Yte;
  split_rows(X, Y, ntr, nte, p, v, &Xtr, &Xte, &Ytr, &Yte);
  ridge_opts o = {lams, 5, RIDGE_SCORE_R, 1, 0, RIDGE_SOLVER_SVD, RIDGE_CV_PER_FOLD, 0, 0, 0};
  ridge_result rdbl = {d4, d4 + v, d4 + 2 * v, d4 + 3 * v, NULL, NULL, 0, NULL, -1, {0}, 0};
  TU_OK(ridge_cv_fit_d(Xtr, ntr, p, Ytr, v, start, 4, Xte, nte, Yte, NULL, &o, &rdbl));
  TU_CHECK(d4[0] <= 1e-4 && rd[0] > 0.99, "the problem should favour small lambdas "
           "(lambda %g, r %.4f)", d4[0], rd[0]);
  float *f[4];
  to_float(Xtr, Xte, Ytr, Yte, ntr, nte, p, v, f);
  ridge_solver solvers[3] = {RIDGE_SOLVER_AUTO, RIDGE_SOLVER_SVD, RIDGE_SOLVER_EIGEN};
  for (int i = 0; i < 3; i++) {
    o.solver = solvers[i];
    ridge_result rsgl = {s4, s4 + v, s4 + 2 * v, s4 + 3 * v, NULL, NULL, 0, NULL, -1, {0}, 0};
    TU_OK(ridge_cv_fit_s(f[0], ntr, p, f[2], v, start, 4, f[1], nte, f[3], NULL, &o, &rsgl));
    double d = 0;
    for (long k = 0; k < v; k++) d = fmax(d, fabs(s4[2 * v + k] - rd[k]));
    TU_CHECK(d < 1e-3, "ill-conditioned single (solver %d) differs from double by %.3g in r",
             (int)solvers[i], d);
  }
  for (int a = 0; a < 4; a++) free(f[a]);
  free(X), free(Y), free(c), free(Xtr), free(Xte), free(Ytr), free(Yte);
}

/* Folds that score through their kernel K = XVB U^T (more voxels than
 * basis rows; dual shapes), against the direct solve, and a model whose
 * fits of 80 and 160 voxels make their kernels at fit time. */
static void check_kernel_path(void) {
  /* the shapes below: 3 folds of 30 rows (nf 20, 10 held out, r 20) and
   * 4 of 20 (nf 15, 5 held out), q <= 6 basis predictions */
  for (long nb = 10; nb <= 60; nb += 10)
    TU_CHECK(ridge_kernel_pays(20, 20, nb, 120) && ridge_kernel_pays(20, 20, nb, 80),
             "the kernel should pay for 20 x 20 folds, %ld basis rows", nb);
  for (long nb = 5; nb <= 30; nb += 5)
    TU_CHECK(ridge_kernel_pays(15, 15, nb, 120), "kernel for 15 x 15, %ld basis rows", nb);
  TU_CHECK(!ridge_kernel_pays(48, 12, 72, 120) && !ridge_kernel_pays(20, 20, 60, 10),
           "the kernel should not pay for a primal fold, nor for 10 voxels");
  ridge_solver solvers[3] = {RIDGE_SOLVER_AUTO, RIDGE_SOLVER_SVD, RIDGE_SOLVER_EIGEN};
  for (int i = 0; i < 3; i++) {
    check_fit(30, 10, 50, 120, 3, 0, solvers[i], RIDGE_CV_PER_FOLD);
    check_fit(20, 10, 40, 120, 4, 1, solvers[i], RIDGE_CV_PER_FOLD); /* rank-deficient */
  }
  check_model(30, 10, 50, 240, 3, RIDGE_CV_PER_FOLD);
}

/* Without weights wanted, a refit of many voxels on a short test set
 * predicts each chosen lambda's voxels straight from their responses
 * (K_j Y); its test predictions and scores must be those of the weights
 * (checked against the direct solve in check_fit), masked voxels NaN. */
static void check_refit_groups(void) {
  long ntr = 30, nte = 10, p = 50, v = 120;
  double *Xtr, *Xte, *Ytr, *Yte;
  split_problem(ntr, nte, p, v, 7, &Xtr, &Xte, &Ytr, &Yte);
  int fold[30];
  long order[30], start[4];
  ridge_folds_kfold(ntr, 3, fold);
  ridge_folds_order(ntr, fold, 3, order, start);
  double lams[6] = {1e-2, 1e-1, 1, 10, 100, 1e4};
  ridge_opts o = {lams, 6, RIDGE_SCORE_R, 1, 0, RIDGE_SOLVER_AUTO, RIDGE_CV_PER_FOLD, 0, 0, 0};
  unsigned char valid[120];
  for (long c = 0; c < v; c++) valid[c] = c % 17 != 5;
  double *a = calloc(4 * v + p * v, 8), *b = calloc(4 * v + nte * v, 8);
  ridge_result ra = {a, a + v, a + 2 * v, a + 3 * v, NULL, a + 4 * v, 0, NULL, 0, {0}, 0};
  ridge_result rb = {b, b + v, b + 2 * v, b + 3 * v, NULL, NULL, 0, b + 4 * v, 0, {0}, 0};
  TU_OK(ridge_cv_fit_d(Xtr, ntr, p, Ytr, v, start, 3, Xte, nte, Yte, valid, &o, &ra));
  double t0 = vf_now();
  TU_OK(ridge_cv_fit_d(Xtr, ntr, p, Ytr, v, start, 3, Xte, nte, Yte, valid, &o, &rb));
  check_phases(&rb, vf_now() - t0, 1); /* the refit by groups of voxels */
  double err = 0;
  int nan_ok = 1, distinct = 0;
  for (int j = 0; j < 6; j++) {
    int used = 0;
    for (long c = 0; c < v; c++) used |= ra.best_lambda[c] == lams[j];
    distinct += used;
  }
  for (long c = 0; c < v; c++) {
    const double *pt = b + 4 * v + c * nte, *w = a + 4 * v + c * p;
    if (!valid[c]) {
      for (long i = 0; i < nte; i++) nan_ok &= isnan(pt[i]);
      continue;
    }
    err = fmax(err, fabs(ra.test_r[c] - rb.test_r[c]));
    err = fmax(err, fabs(ra.test_r2[c] - rb.test_r2[c]));
    for (long i = 0; i < nte; i++) {
      double s = 0;
      for (long q = 0; q < p; q++) s += Xte[q * nte + i] * w[q];
      err = fmax(err, fabs(s - pt[i]) / fmax(1, fabs(s)));
    }
  }
  TU_CHECK(distinct >= 2, "the problem should choose several lambdas (%d)", distinct);
  TU_CHECK(err < 1e-10, "refit by lambda differs from the weights' predictions by %.3g", err);
  TU_CHECK(nan_ok, "masked voxels' test predictions should be NaN");
  free(Xtr), free(Xte), free(Ytr), free(Yte), free(a), free(b);
}

/* ridge_score_of (the scores of the basis and of dense grids' own
 * predictions) from centred sums, against Pearson r and R^2 written out,
 * on a prediction with its own offset and scale; and ridge_is_identity,
 * which sends dense grids' folds to their own predictions. */
static void check_score_of(void) {
  enum { N = 37 };
  double y[N], pr[N], my = 0, mp = 0, sxy = 0, sxx = 0, syy = 0, res = 0;
  for (int i = 0; i < N; i++) {
    y[i] = sin(0.7 * i) + 0.1 * i;
    pr[i] = 3.0 + 0.5 * y[i] + 0.3 * cos(1.3 * i);
    my += y[i] / N, mp += pr[i] / N;
  }
  for (int i = 0; i < N; i++) {
    sxy += (pr[i] - mp) * (y[i] - my), sxx += (pr[i] - mp) * (pr[i] - mp);
    syy += (y[i] - my) * (y[i] - my), res += (y[i] - pr[i]) * (y[i] - pr[i]);
  }
  double r = ridge_score_of(sxy, sxx, mp, my, syy, N, RIDGE_SCORE_R);
  double r2 = ridge_score_of(sxy, sxx, mp, my, syy, N, RIDGE_SCORE_R2);
  TU_CHECK(fabs(r - sxy / sqrt(sxx * syy)) < 1e-14 && r > 0.5, "r %.17g", r);
  TU_CHECK(fabs(r2 - (1 - res / syy)) < 1e-12 && r2 < 0, "R^2 %.17g against %.17g", r2,
           1 - res / syy);
  TU_CHECK(ridge_score_of(0, 0, 0, my, syy, N, RIDGE_SCORE_R) == 0 &&
           ridge_score_of(sxy, sxx, mp, my, 0, N, RIDGE_SCORE_R2) == 0,
           "a constant prediction or response scores 0");
  double mse = ridge_score_of(sxy, sxx, mp, my, syy, N, RIDGE_SCORE_NEG_MSE);
  TU_CHECK(fabs(mse + res / N) < 1e-13 * (res / N), "-MSE %.17g against %.17g", mse, -res / N);
  /* against a constant response (syy 0) minus the MSE is still defined:
   * sum (p - my)^2 / N = (sxx + N (mp - my)^2) / N */
  double flat = ridge_score_of(0, sxx, mp, my, 0, N, RIDGE_SCORE_NEG_MSE);
  double want_flat = -(sxx + N * (mp - my) * (mp - my)) / N;
  TU_CHECK(fabs(flat - want_flat) < 1e-13 * fabs(want_flat) && flat < 0,
           "-MSE against a constant response %.17g, wanted %.17g", flat, want_flat);
  TU_CHECK(ridge_score_of(0, 0, my, my, 0, N, RIDGE_SCORE_NEG_MSE) == 0,
           "a perfect prediction of a constant response has -MSE 0");
  double A[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
  TU_CHECK(ridge_is_identity(A, 3, 3) && !ridge_is_identity(A, 2, 3) &&
           !ridge_is_identity(A, 3, 2), "the 3 x 3 identity, and no non-square one");
  A[5] = 1e-300;
  TU_CHECK(!ridge_is_identity(A, 3, 3), "an off-diagonal entry is not the identity");
}

/* want (m x v): every lambda's CV score of every voxel from the direct
 * solve of each fold (Pearson r, R^2 or minus the MSE of its held-out
 * rows), averaged over the k folds. */
static void direct_cv(const double *Xtr, long ntr, long p, const double *Ytr, long v,
                      const int *fold, const long *start, int k, const double *lams, int m,
                      ridge_score kind, double *want) {
  double *Wd = malloc(sizeof(double) * p * v);
  long *rows = malloc(sizeof(long) * ntr);
  memset(want, 0, sizeof(double) * m * v);
  for (int f = 0; f < k; f++) {
    long nr = 0, nva = start[f + 1] - start[f];
    for (long i = 0; i < ntr; i++)
      if (fold[i] != f) rows[nr++] = i;
    for (int j = 0; j < m; j++) {
      TU_CHECK(direct_solve(Xtr, ntr, Ytr, ntr, rows, nr, p, v, lams[j], Wd) == 0, "chol");
      for (long c = 0; c < v; c++) {
        const double *y = Ytr + c * ntr + start[f];
        double pred[nva], sse = 0;
        for (long i = 0; i < nva; i++) {
          double s = 0;
          for (long q = 0; q < p; q++) s += Xtr[q * ntr + start[f] + i] * Wd[c * p + q];
          pred[i] = s, sse += (y[i] - s) * (y[i] - s);
        }
        want[c * m + j] += (kind == RIDGE_SCORE_R    ? ridge_pearson(pred, y, nva)
                            : kind == RIDGE_SCORE_R2 ? ridge_r2(pred, y, nva)
                                                     : -sse / nva) / k;
      }
    }
  }
  free(Wd), free(rows);
}

/* The largest difference of two score arrays, relative where above 1. */
static double score_diff(const double *a, const double *b, long n) {
  double d = 0;
  for (long i = 0; i < n; i++) d = fmax(d, fabs(a[i] - b[i]) / fmax(1.0, fabs(b[i])));
  return d;
}

/* score: neg_mse. Every lambda's CV score, -(1/n_f) sum over fold f's
 * held-out rows of (y - prediction)^2 averaged over the k folds, against
 * the direct Cholesky solve of each fold; the chosen lambdas against the
 * choice on those scores (larger is better, ties to the larger lambda),
 * cv_best at the chosen lambda; a model made for another score fitted
 * with neg_mse gives the streaming fit's results; single precision agrees
 * to its rounding. A grid of m lambdas from 1e-2 to lmax: 6 to 1e4 puts
 * the folds on their own predictions or a small basis, 16 to 1e8 on the
 * low-rank basis; shapes as check_fit's (and its kernel path with v 120,
 * p > n). */
static void check_neg_mse(long ntr, long nte, long p, long v, int k, int m, double lmax,
                          ridge_solver solver, ridge_cv_method cvm) {
  double *Xtr, *Xte, *Ytr, *Yte, lams[16];
  split_problem(ntr, nte, p, v, 314 + p + m, &Xtr, &Xte, &Ytr, &Yte);
  for (int j = 0; j < m; j++) lams[j] = 1e-2 * pow(lmax / 1e-2, j / (double)(m - 1));
  int *fold = malloc(sizeof(int) * ntr), *best = malloc(sizeof(int) * v);
  long *order = malloc(sizeof(long) * ntr), start[16];
  TU_OK(ridge_folds_kfold(ntr, k, fold));
  ridge_folds_order(ntr, fold, k, order, start);
  /* designated: the structs grow fields */
  ridge_opts o = {.lambdas = lams, .n_lambdas = m, .score = RIDGE_SCORE_NEG_MSE,
                  .lambda_per_voxel = 1, .solver = solver, .cv_method = cvm};
  long len = (4 + m) * v;
  double *a = calloc(len, 8), *b = calloc(len, 8), *want = calloc((size_t)m * v, 8);
  ridge_result ra = {.best_lambda = a, .cv_best = a + v, .test_r = a + 2 * v,
                     .test_r2 = a + 3 * v, .cv_scores = a + 4 * v, .held_out = -1};
  TU_OK(ridge_cv_fit_d(Xtr, ntr, p, Ytr, v, start, k, Xte, nte, Yte, NULL, &o, &ra));
  direct_cv(Xtr, ntr, p, Ytr, v, fold, start, k, lams, m, RIDGE_SCORE_NEG_MSE, want);
  double err = score_diff(ra.cv_scores, want, (long)m * v), top = -INFINITY;
  for (long i = 0; i < (long)m * v; i++) top = fmax(top, ra.cv_scores[i]);
  TU_CHECK(err < 1e-8 && top < 0, "neg_mse CV scores differ from the direct solve's by %.3g "
           "(largest %.3g; n=%ld p=%ld v=%ld k=%d m=%d held_out=%d)", err, top, ntr, p, v, k,
           m, ra.held_out);
  /* the choice: the largest score wins (a tie band apart) */
  ridge_choose(want, m, v, NULL, 1, RIDGE_TIE_DOUBLE, best);
  long moved = 0, lam_lo = 0;
  double cvb = 0;
  for (long c = 0; c < v; c++) {
    int g = 0;
    while (g < m && lams[g] != ra.best_lambda[c]) g++;
    if (g == m || (g != best[c] && fabs(want[c * m + g] - want[c * m + best[c]]) > 1e-8))
      moved++;
    lam_lo += g < m - 1;
    if (g < m) cvb = fmax(cvb, fabs(ra.cv_best[c] - ra.cv_scores[c * m + g]));
  }
  TU_CHECK(moved == 0 && cvb == 0 && lam_lo > 0, "neg_mse: %ld voxels chose another lambda "
           "than the direct scores' best, cv_best off by %.3g, %ld below the grid's top",
           moved, cvb, lam_lo);
  /* a model made for r, fitted with neg_mse */
  ridge_model_d *M = NULL;
  ridge_opts orr = o;
  orr.score = RIDGE_SCORE_R;
  TU_OK(ridge_model_create_d(Xtr, ntr, p, start, k, Xte, nte, &orr, &M));
  ridge_result rb = {.best_lambda = b, .cv_best = b + v, .test_r = b + 2 * v,
                     .test_r2 = b + 3 * v, .cv_scores = b + 4 * v, .held_out = -1};
  TU_OK(ridge_model_fit_d(M, Ytr, v, Yte, NULL, &o, &rb));
  double dm = 0;
  for (long i = 0; i < len; i++) dm = fmax(dm, fabs(a[i] - b[i]));
  TU_CHECK(same(a, b, v) && dm < 1e-12, "a model fitted with neg_mse: results off by %.3g", dm);
  ridge_model_destroy_d(&M);
  /* single precision */
  float *f[4];
  to_float(Xtr, Xte, Ytr, Yte, ntr, nte, p, v, f);
  TU_OK(ridge_cv_fit_s(f[0], ntr, p, f[2], v, start, k, f[1], nte, f[3], NULL, &o, &rb));
  double ds = score_diff(rb.cv_scores, want, (long)m * v);
  TU_CHECK(ds < 1e-3, "single-precision neg_mse CV scores off by %.3g", ds);
  for (int i = 0; i < 4; i++) free(f[i]);
  free(Xtr), free(Xte), free(Ytr), free(Yte), free(fold), free(best), free(order);
  free(a), free(b), free(want);
}

/* Long constant columns: their summed mean drifts by up to ~n eps, so a
 * fixed tolerance stopped calling them flat at about 1000 rows (R^2
 * -1e25 again); a column that truly varies, even by 1e-6 on 1e3, is not
 * flat. Means and sums of squares as the engine's moments() forms them. */
static void check_flat_long(void) {
  static const double values[] = {0.1, 0.3, 1234.567, -7.77};
  static const long sizes[] = {1000, 10000, 100000};
  double *y = malloc(sizeof(double) * 100000), *p = malloc(sizeof(double) * 100000);
  for (int a = 0; a < 4; a++)
    for (int b = 0; b < 3; b++) {
      long n = sizes[b];
      double my = 0, syy = 0;
      for (long i = 0; i < n; i++) y[i] = values[a], p[i] = sin(0.01 * i);
      for (long i = 0; i < n; i++) my += y[i];
      my /= n;
      for (long i = 0; i < n; i++) syy += (y[i] - my) * (y[i] - my);
      TU_CHECK(ridge_flat(syy, my, n) && ridge_r2(p, y, n) == 0 && ridge_pearson(p, y, n) == 0,
               "%ld rows of %g: syy %.3g, mean off by %.3g, R2 %g", n, values[a], syy,
               my - values[a], ridge_r2(p, y, n));
      for (long i = 0; i < n; i++) y[i] = 1e3 + 1e-6 * sin(0.37 * i);
      my = syy = 0;
      for (long i = 0; i < n; i++) my += y[i];
      my /= n;
      for (long i = 0; i < n; i++) syy += (y[i] - my) * (y[i] - my);
      TU_CHECK(!ridge_flat(syy, my, n), "%ld rows varying by 1e-6 on 1e3 called flat", n);
    }
  free(y), free(p);
}

/* A voxel whose held-out rows in one fold are constant (0.1, which the
 * mean rounds: the centred sum of squares is then a few ulps, not 0)
 * while its training rows vary: that fold scores it 0, in r and in R^2,
 * so its CV score is the other folds' direct-solve scores / k (R^2 was
 * -1e30 from the rounding). Every CV method, and the same for a voxel
 * constant over the test rows only (test r and R^2 0, not masked). */
static void check_flat_fold(ridge_cv_method cvm, ridge_score kind) {
  enum { NTR = 48, NTE = 12, P = 6, V = 3, K = 4 };
  double X[(NTR + NTE) * P], Y[(NTR + NTE) * V], *Xtr, *Xte, *Ytr, *Yte;
  make_problem(NTR + NTE, P, V, 11, X, Y);
  split_rows(X, Y, NTR, NTE, P, V, &Xtr, &Xte, &Ytr, &Yte);
  int fold[NTR];
  long order[NTR], start[K + 1];
  TU_OK(ridge_folds_kfold(NTR, K, fold));
  ridge_folds_order(NTR, fold, K, order, start);
  for (long i = start[1]; i < start[2]; i++) Ytr[1 * NTR + i] = 0.1;
  for (long i = 0; i < NTE; i++) Yte[2 * NTE + i] = 0.1;
  double lams[4] = {0.1, 1, 10, 100}, cv[4 * V], bl[V] = {0}, r[V], r2[V];
  ridge_opts o = {lams, 4, kind, 1, 0, RIDGE_SOLVER_AUTO, cvm, 0, 0, 0};
  ridge_result res = {bl, NULL, r, r2, cv, NULL, 0, NULL, 0, {0}, 0};
  TU_OK(ridge_cv_fit_d(Xtr, NTR, P, Ytr, V, start, K, Xte, NTE, Yte, NULL, &o, &res));
  double worst = 0, W[P * V], pred[NTR];
  long rows[NTR];
  for (int j = 0; j < 4; j++) {
    double want = 0;
    for (int f = 0; f < K; f++) {
      long nr = 0, nva = start[f + 1] - start[f];
      for (long i = 0; i < NTR; i++) if (fold[i] != f) rows[nr++] = i;
      TU_CHECK(direct_solve(Xtr, NTR, Ytr, NTR, rows, nr, P, V, lams[j], W) == 0, "chol");
      for (long i = 0; i < nva; i++) {
        pred[i] = 0;
        for (long q = 0; q < P; q++) pred[i] += Xtr[q * NTR + start[f] + i] * W[1 * P + q];
      }
      const double *y = Ytr + 1 * NTR + start[f];
      if (kind == RIDGE_SCORE_NEG_MSE) { /* defined on the flat fold too */
        double sse = 0;
        for (long i = 0; i < nva; i++) sse += (y[i] - pred[i]) * (y[i] - pred[i]);
        want -= sse / nva / K;
      } else if (f != 1) {
        want += (kind == RIDGE_SCORE_R2 ? ridge_r2(pred, y, nva) : ridge_pearson(pred, y, nva)) / K;
      }
    }
    worst = fmax(worst, fabs(cv[1 * 4 + j] - want));
  }
  TU_CHECK(worst < 1e-10, "a fold with constant held-out rows: CV scores %.3g from the "
           "direct solve's (held_out %d, %s)", worst, res.held_out,
           kind == RIDGE_SCORE_R2 ? "R2" : kind == RIDGE_SCORE_R ? "r" : "neg_mse");
  TU_CHECK(res.n_masked == 0 && r[2] == 0 && r2[2] == 0 && isfinite(r[1]) && r[0] != 0,
           "constant test rows: test r %g, R2 %g, masked %ld", r[2], r2[2], res.n_masked);
  free(Xtr), free(Xte), free(Ytr), free(Yte);
}

/* A fit whose results go to one buffer: best lambda, CV best, test r,
 * test R^2 (4 v) and the CV scores (m v). */
static ridge_result result_in(double *b, long v) {
  ridge_result r = {b, b + v, b + 2 * v, b + 3 * v, b + 4 * v, NULL, 0, NULL, 0, {0}, 0};
  return r;
}

static double max_diff(const double *a, const double *b, long n) {
  double d = 0;
  for (long i = 0; i < n; i++) d = fmax(d, fabs(a[i] - b[i]));
  return d;
}

/* A dense grid on folds of rank 512 scores through the bands of the
 * spectrum (ridge_bands): every CV score against the direct solve, the
 * same results as every lambda's own predictions (bands -1), in products
 * of one voxel and in uneven voxel blocks, through a model and its
 * serialised copy, and in single precision. */
static void check_bands(void) {
  long ntr = 900, nte = 50, p = 512, v = 40, m = 20;
  int k = 3, fold[900];
  long start[4], order[900];
  double *Xtr, *Xte, *Ytr, *Yte, lams[20];
  for (int j = 0; j < m; j++) lams[j] = pow(10.0, -2 + 8.0 * j / (m - 1));
  split_problem(ntr, nte, p, v, 2026, &Xtr, &Xte, &Ytr, &Yte);
  for (long j = 0; j < p; j++) { /* a spectrum over 1e8: the filters have full rank */
    double s = pow(10.0, -4.0 * j / p);
    for (long i = 0; i < ntr; i++) Xtr[j * ntr + i] *= s;
    for (long i = 0; i < nte; i++) Xte[j * nte + i] *= s;
  }
  TU_OK(ridge_folds_kfold(ntr, k, fold));
  ridge_folds_order(ntr, fold, k, order, start);
  ridge_opts o = {lams, (int)m, RIDGE_SCORE_R, 1, 0, RIDGE_SOLVER_AUTO, RIDGE_CV_PER_FOLD, 0, 1, 0};
  long len = (4 + m) * v;
  double *a = calloc(len, 8), *b = calloc(len, 8);
  ridge_result ra = result_in(a, v), rb = result_in(b, v);
  TU_OK(ridge_cv_fit_d(Xtr, ntr, p, Ytr, v, start, k, Xte, nte, Yte, NULL, &o, &ra));
  TU_CHECK(ra.banded == k, "%d of %d folds scored through bands", ra.banded, k);
  double *want = malloc(sizeof(double) * m * v);
  direct_cv(Xtr, ntr, p, Ytr, v, fold, start, k, lams, (int)m, RIDGE_SCORE_R, want);
  double err = score_diff(ra.cv_scores, want, m * v);
  free(want);
  TU_CHECK(err < 1e-10, "banded CV scores differ from the direct solve by %.3g", err);
  ridge_opts on = o;
  on.bands = -1;
  TU_OK(ridge_cv_fit_d(Xtr, ntr, p, Ytr, v, start, k, Xte, nte, Yte, NULL, &on, &rb));
  TU_CHECK(rb.banded == 0, "bands -1: %d folds banded", rb.banded);
  TU_CHECK(same(a, b, v) && max_diff(a, b, len) < 1e-12,
           "bands change the results by %.3g (or a chosen lambda)", max_diff(a, b, len));
  { /* neg_mse: the bands' predictions scored as every lambda's own (check_neg_mse) */
    double *c = calloc(len, 8), *e = calloc(len, 8);
    ridge_opts om = o, omn = on;
    om.score = omn.score = RIDGE_SCORE_NEG_MSE;
    ridge_result rc = result_in(c, v), re = result_in(e, v);
    TU_OK(ridge_cv_fit_d(Xtr, ntr, p, Ytr, v, start, k, Xte, nte, Yte, NULL, &om, &rc));
    TU_OK(ridge_cv_fit_d(Xtr, ntr, p, Ytr, v, start, k, Xte, nte, Yte, NULL, &omn, &re));
    double d = 0; /* relative: minus the MSE is in the responses' units (up to ~100 here) */
    for (long i = 0; i < len; i++) d = fmax(d, fabs(c[i] - e[i]) / fmax(1.0, fabs(e[i])));
    TU_CHECK(rc.banded == k && re.banded == 0 && same(c, e, v) && d < 1e-12,
             "neg_mse: %d folds banded, bands change the results by %.3g relative (or a "
             "lambda)", rc.banded, d);
    free(c), free(e);
  }
  ridge_opts small = o; /* one voxel per product, blocks of 7 */
  small.pred_block = 1, small.vox_block = 7;
  TU_OK(ridge_cv_fit_d(Xtr, ntr, p, Ytr, v, start, k, Xte, nte, Yte, NULL, &small, &rb));
  TU_CHECK(rb.banded == k && same(a, b, v) && max_diff(a, b, len) < 1e-12,
           "banded products of one voxel in blocks of 7 differ by %.3g", max_diff(a, b, len));
  ridge_model_d *M = NULL, *M2 = NULL;
  membuf mb = {0};
  TU_OK(ridge_model_create_d(Xtr, ntr, p, start, k, Xte, nte, &o, &M));
  TU_OK(ridge_model_fit_d(M, Ytr, v, Yte, NULL, &o, &rb));
  TU_CHECK(rb.banded == k && same(a, b, len), "model: %d folds banded, same results %d",
           rb.banded, same(a, b, len));
  TU_OK(ridge_model_write_d(M, mb_put, &mb));
  TU_OK(ridge_model_create_d(Xtr, ntr, p, start, k, Xte, nte, &on, &M2));
  size_t held = ridge_model_bytes_d(M), unbanded = ridge_model_bytes_d(M2);
  ridge_model_destroy_d(&M2);
  TU_CHECK(held + 4096 >= mb.n && held < unbanded, "a banded model holds %zu bytes, serialised "
           "%zu, %zu without bands", held, mb.n, unbanded);
  TU_OK(ridge_model_read_d(mb_get, &mb, &M2));
  memset(b, 0, 8 * len);
  if (M2) TU_OK(ridge_model_fit_d(M2, Ytr, v, Yte, NULL, &o, &rb));
  TU_CHECK(rb.banded == k && same(a, b, len), "model read back: %d folds banded, same %d",
           rb.banded, same(a, b, len));
  float *f[4];
  to_float(Xtr, Xte, Ytr, Yte, ntr, nte, p, v, f);
  TU_OK(ridge_cv_fit_s(f[0], ntr, p, f[2], v, start, k, f[1], nte, f[3], NULL, &o, &rb));
  TU_CHECK(rb.banded == k && max_diff(a + 2 * v, b + 2 * v, v) < 1e-3,
           "single precision: %d folds banded, test r off by %.3g", rb.banded,
           max_diff(a + 2 * v, b + 2 * v, v));
  ridge_model_destroy_d(&M), ridge_model_destroy_d(&M2);
  for (int i = 0; i < 4; i++) free(f[i]);
  free(mb.b), free(a), free(b), free(Xtr), free(Xte), free(Ytr), free(Yte);
}

/* The tie band: scores within tie x max(1, |best|) of the best go to the
 * larger lambda; 1e-9 in double, 1e-6 in single, or ridge_opts.tie. On a
 * wide grid (1e1..1e20) the plateau lambdas' scores differ by less than
 * float32's rounding: single precision must choose as an exact (double)
 * fit with its band does, not by its rounding. */
static void check_tie_band(void) {
  double cv[3] = {0.5, 0.5 + 5e-7, 0.5 - 2e-7};
  int best = -1;
  ridge_choose(cv, 3, 1, NULL, 1, 1e-9, &best);
  TU_CHECK(best == 1, "band 1e-9 chose %d, want the best score (1)", best);
  ridge_choose(cv, 3, 1, NULL, 1, 1e-6, &best);
  TU_CHECK(best == 2, "band 1e-6 chose %d, want the largest lambda within it (2)", best);
  ridge_opts o = {0};
  TU_CHECK(ridge_tie(&o, 0) == 1e-9 && ridge_tie(&o, 1) == 1e-6,
           "default bands %g (double) and %g (single)", ridge_tie(&o, 0), ridge_tie(&o, 1));
  o.tie = 1e-4;
  TU_CHECK(ridge_tie(&o, 0) == 1e-4 && ridge_tie(&o, 1) == 1e-4, "tie 1e-4 not kept");

  long ntr = 300, nte = 40, p = 120, v = 60, m = 20;
  int k = 3, fold[300];
  long start[4], order[300];
  double *Xtr, *Xte, *Ytr, *Yte, lams[20];
  for (int j = 0; j < m; j++) lams[j] = pow(10.0, 1 + 19.0 * j / (m - 1));
  split_problem(ntr, nte, p, v, 77, &Xtr, &Xte, &Ytr, &Yte);
  for (long i = 0; i < ntr * v; i++) Ytr[i] += 3 * sin(1.7 * i); /* noisy voxels: plateau */
  TU_OK(ridge_folds_kfold(ntr, k, fold));
  ridge_folds_order(ntr, fold, k, order, start);
  ridge_opts w = {lams, (int)m, RIDGE_SCORE_R, 1, 0, RIDGE_SOLVER_AUTO, RIDGE_CV_PER_FOLD, 0, 0,
                  0};
  long len = (4 + m) * v;
  double *a = calloc(len, 8), *b = calloc(len, 8);
  ridge_result rs = result_in(a, v), rd = result_in(b, v);
  float *f[4];
  to_float(Xtr, Xte, Ytr, Yte, ntr, nte, p, v, f);
  TU_OK(ridge_cv_fit_s(f[0], ntr, p, f[2], v, start, k, f[1], nte, f[3], NULL, &w, &rs));
  ridge_opts wd = w;
  wd.tie = 1e-6;
  TU_OK(ridge_cv_fit_d(Xtr, ntr, p, Ytr, v, start, k, Xte, nte, Yte, NULL, &wd, &rd));
  long differ = 0, plateau = 0;
  for (long c = 0; c < v; c++) {
    differ += rs.best_lambda[c] != rd.best_lambda[c];
    plateau += rd.best_lambda[c] >= 1e8;
  }
  TU_CHECK(differ == 0 && plateau > 0, "single chose another lambda than double with its band "
           "on %ld of %ld voxels (%ld on the plateau)", differ, v, plateau);
  free(a), free(b), free(Xtr), free(Xte), free(Ytr), free(Yte);
  for (int i = 0; i < 4; i++) free(f[i]);
}

int main(int argc, char **argv) {
  la_blas_setup(argv); /* the kernels voxfit runs */
  MPI_Init(&argc, &argv);
  ridge_solver solvers[3] = {RIDGE_SOLVER_AUTO, RIDGE_SOLVER_SVD, RIDGE_SOLVER_EIGEN};
  ridge_cv_method methods[2] = {RIDGE_CV_PER_FOLD, RIDGE_CV_HELD_OUT};
  for (int i = 0; i < 3; i++)
    for (int h = 0; h < 2; h++) {
      check_fit(60, 20, 12, 9, 5, 0, solvers[i], methods[h]); /* primal shape: n > p */
      check_fit(30, 10, 50, 6, 3, 0, solvers[i], methods[h]); /* dual shape: p > n */
      check_fit(60, 20, 16, 5, 4, 1, solvers[i], methods[h]); /* rank-deficient X */
      check_fit(20, 10, 40, 5, 4, 1, solvers[i], methods[h]); /* rank-deficient, p > n */
    }
  check_score_of();
  for (int i = 0; i < 3; i++)
    for (int h = 0; h < 2; h++) {
      check_neg_mse(60, 20, 12, 9, 5, 6, 1e4, solvers[i], methods[h]);  /* primal */
      check_neg_mse(30, 10, 50, 6, 3, 16, 1e8, solvers[i], methods[h]); /* dual, low-rank */
    }
  check_neg_mse(213, 20, 30, 40, 5, 16, 1e8, RIDGE_SOLVER_AUTO, RIDGE_CV_AUTO); /* uneven */
  check_neg_mse(30, 10, 50, 120, 3, 6, 1e4, RIDGE_SOLVER_AUTO, RIDGE_CV_PER_FOLD); /* kernel */
  check_flat_long();
  for (int m = 0; m < 2; m++) {
    check_flat_fold(methods[m], RIDGE_SCORE_R);
    check_flat_fold(methods[m], RIDGE_SCORE_R2);
    check_flat_fold(methods[m], RIDGE_SCORE_NEG_MSE);
  }
  check_kernel_path();
  check_bands();
  check_tie_band();
  check_refit_groups();
  check_fit(240, 40, 60, 8, 12, 0, RIDGE_SOLVER_AUTO, RIDGE_CV_AUTO); /* many short folds */
  check_fit(240, 40, 60, 8, 4, 0, RIDGE_SOLVER_AUTO, RIDGE_CV_AUTO);  /* few long ones */
  check_heldout_fallback();
  check_single_conditioned();
  check_heldout_shared();
  check_delayed_fit();
  check_masked();
  check_folds_and_delays();
  for (int h = 0; h < 2; h++) {
    check_model(60, 20, 12, 30, 5, methods[h]); /* primal */
    check_model(30, 10, 50, 20, 3, methods[h]); /* dual */
  }
  return tu_finish("ridge");
}
