/* Benchmark of the cross-validated ridge fit (`make bench`; not a test:
 * tests/run.sh runs only tests/<dir>/test_*.c). See docs/benchmarks.md.
 *
 * For each selected case (shape x lambda grid x precision) it generates a
 * planted-model problem, measures the GEMM rate of the case's precision on
 * the same threads (square product, best of 3), times one call of
 * ridge_cv_fit_d / ridge_cv_fit_s and prints the time, the flops F of
 * ridge_cv_flops(), F / time, that rate as a fraction of the GEMM rate, the
 * peak RSS of the fit and the bytes of X + Y + outputs, then one
 * machine-readable "RESULT key=value ..." line (read by bench.sh). With
 * --dump DIR it writes the problem and voxfit's outputs under DIR/<case>/
 * for tests/bench/bench_numpy.py.
 *
 * Peak RSS: getrusage's high-water mark is per process. After the problem is
 * generated the mark is reset (Linux: "5" > /proc/self/clear_refs), so
 * "fit peak" is the high-water mark of the fit alone (the problem's arrays
 * included, as they are resident); where the reset is refused it is the
 * process's, said by rss_reset=0. Run one case per process (bench.sh does)
 * for the generation peak to mean anything. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "voxfit/linalg.h"
#include "voxfit/ridge.h"

/* OpenBLAS extensions (libopenblas), not in linalg.h. */
char *openblas_get_corename(void);
char *openblas_get_config(void);

typedef struct {
  const char *name;
  long ntr, nte, p, v; /* p: all features (base * delays for shortclips) */
  int runs;            /* > 0: leave-one-run-out over that many runs */
  long base;           /* shortclips: base features before the delays */
  int ndelay;
} shape;

static const shape SHAPES[] = {
    {"small", 1200, 300, 1000, 5000, 0, 0, 0},
    {"medium", 3000, 300, 2000, 20000, 0, 0, 0},
    {"shortclips", 3600, 270, 768 * 4, 20000, 12, 768, 4},
};
enum { N_SHAPES = 3 };
static const char *GRIDS[] = {"dense", "wide"};
static const char *PRECS[] = {"double", "single"};
enum { KFOLD = 5 };

static void usage(FILE *f) {
  fprintf(f,
          "usage: bench_ridge [--shape small,medium,shortclips|all]\n"
          "                   [--grid dense,wide|all] [--precision double,single|all]\n"
          "                   [--scale S] [--threads N] [--gemm N] [--seed N]\n"
          "                   [--vox-block N] [--cv-method auto|per_fold|held_out]\n"
          "                   [--bands auto|on|off]\n"
          "                   [--dump DIR]\n"
          "  shapes: small 1200x1000x5000, medium 3000x2000x20000,\n"
          "          shortclips 3600 (12 runs) x 768*4 delays x 20000\n"
          "  grids: dense logspace(-2, 6, 20), wide logspace(1, 20, 20)\n"
          "  --scale S multiplies n (train and test), p (base features) and v\n"
          "  --dump DIR writes DIR/<case>/ for tests/bench/bench_numpy.py\n");
}

/* ---- selection ------------------------------------------------------ */

/* Bit i set when names[i] is in the comma list (or the list is "all"). */
static int parse_set(const char *list, const char **names, int n,
                     const char *what) {
  if (!strcmp(list, "all")) return (1 << n) - 1;
  int set = 0;
  char buf[256];
  snprintf(buf, sizeof buf, "%s", list);
  for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
    int i = 0;
    while (i < n && strcmp(tok, names[i])) i++;
    if (i == n) {
      fprintf(stderr, "bench_ridge: unknown %s '%s'\n", what, tok);
      exit(2);
    }
    set |= 1 << i;
  }
  return set;
}

/* ---- the problem ---------------------------------------------------- */

typedef struct {
  int single;
  long ntr, nte, p, v;
  int k;
  long *start;                 /* k + 1 */
  void *Xtr, *Ytr, *Xte, *Yte; /* double or float, column-major */
  double gen_seconds;
} problem;

static void problem_free(problem *P) {
  free(P->start);
  vf_free(&P->Xtr);
  vf_free(&P->Ytr);
  vf_free(&P->Xte);
  vf_free(&P->Yte);
}

static void *xalloc(size_t n, size_t sz, const char *what) {
  void *p = NULL;
  if (vf_calloc(n, sz, what, &p)) {
    fprintf(stderr, "bench_ridge: %s\n", vf_error_message());
    exit(1);
  }
  return p;
}

/* dst[off + i] = src[i] in the problem's precision, for i < n. */
static void store(void *dst, int single, size_t off, const double *src,
                  long n) {
  if (single) {
    float *d = (float *)dst + off;
    for (long i = 0; i < n; i++) d[i] = (float)src[i];
  } else {
    memcpy((double *)dst + off, src, sizeof(double) * n);
  }
}

static void randn(vf_rng *g, double *a, size_t n) {
  for (size_t i = 0; i < n; i++) a[i] = vf_rng_normal(g);
}

/* Base features (n x pb, rows in time order, the first ntr training): a
 * factor model X = F L + 0.5 E with q = pb / 8 latent series (AR(1) in time,
 * rho 0.7, restarted at each run) whose loadings decay as 1 / sqrt(k + 1),
 * so the spectrum decays over q components above an isotropic floor; then
 * z-scored with the training rows' statistics. */
static void make_features(vf_rng *g, long n, long ntr, long pb,
                          const int *run, double *X) {
  long q = pb / 8 > 2 ? pb / 8 : 2;
  double *F = xalloc((size_t)n * q, sizeof(double), "latent series");
  double *L = xalloc((size_t)q * pb, sizeof(double), "loadings");
  const double rho = 0.7, c = sqrt(1 - rho * rho);
  for (long j = 0; j < q; j++)
    for (long t = 0; t < n; t++) {
      double z = vf_rng_normal(g);
      int fresh = t == 0 || (run && run[t] != run[t - 1]);
      F[j * n + t] = fresh ? z : rho * F[j * n + t - 1] + c * z;
    }
  for (long j = 0; j < pb; j++)
    for (long i = 0; i < q; i++)
      L[j * q + i] = vf_rng_normal(g) / sqrt((double)(i + 1));
  randn(g, X, (size_t)n * pb);
  la_dgemm('N', 'N', n, pb, q, 1, F, n, L, q, 0.5, X, n);
  double *mean = xalloc(pb, sizeof(double), "means");
  double *scale = xalloc(pb, sizeof(double), "scales");
  ridge_std_fit(X, n, pb, NULL, ntr, RIDGE_STD_ZSCORE, mean, scale, NULL);
  ridge_std_apply(X, n, pb, NULL, n, RIDGE_STD_ZSCORE, mean, scale);
  vf_free(&F);
  vf_free(&L);
  vf_free(&mean);
  vf_free(&scale);
}

/* The problem of one shape: features as above (shortclips: 768 base
 * features delayed by 1..4 TRs with ridge_delay, 12 training runs and one
 * test run), responses Y = X B + noise with B ~ N(0, 1/p) and per voxel a
 * noise standard deviation of 10^u times the signal's (u uniform in
 * [-1, 1.5]: SNR from 10 to 0.03, so the chosen lambdas spread), each
 * voxel z-scored on the training rows. Generated in double, stored in the
 * case's precision; Y is built in voxel blocks, so at most X in double is
 * held beside the stored problem. */
static void make_problem(const shape *s, double scale, int single,
                         uint64_t seed, problem *P) {
  double t0 = vf_now();
  memset(P, 0, sizeof *P);
  P->single = single;
  long ntr, nte, pb;
  int nd = s->ndelay, runs = s->runs;
  if (runs) {
    long runlen = lround(s->ntr / runs * scale);
    if (runlen < 4) runlen = 4;
    ntr = runlen * runs;
    pb = lround(s->base * scale);
  } else {
    ntr = lround(s->ntr * scale);
    pb = lround(s->p * scale);
  }
  if (ntr < 4 * KFOLD) ntr = 4 * KFOLD;
  if (pb < 4) pb = 4;
  nte = lround(s->nte * scale);
  if (nte < 8) nte = 8;
  long v = lround(s->v * scale);
  if (v < 16) v = 16;
  long p = runs ? pb * nd : pb, n = ntr + nte;
  P->ntr = ntr, P->nte = nte, P->p = p, P->v = v;

  vf_rng g;
  vf_rng_seed(&g, seed, 0xbe7c);
  int *run = NULL, *fold = xalloc(ntr, sizeof(int), "folds");
  double *X = xalloc((size_t)n * p, sizeof(double), "features");
  if (runs) {
    run = xalloc(n, sizeof(int), "run labels");
    for (long t = 0; t < n; t++) run[t] = t < ntr ? (int)(t / (ntr / runs)) : runs;
    double *Xb = xalloc((size_t)n * pb, sizeof(double), "base features");
    make_features(&g, n, ntr, pb, run, Xb);
    int delays[16];
    for (int d = 0; d < nd; d++) delays[d] = d + 1;
    if (ridge_delay(Xb, n, pb, run, delays, nd, X)) {
      fprintf(stderr, "bench_ridge: %s\n", vf_error_message());
      exit(1);
    }
    vf_free(&Xb);
    if (ridge_folds_runs(ntr, run, fold, &P->k)) {
      fprintf(stderr, "bench_ridge: %s\n", vf_error_message());
      exit(1);
    }
  } else {
    make_features(&g, n, ntr, pb, NULL, X);
    P->k = KFOLD;
    if (ridge_folds_kfold(ntr, KFOLD, fold)) {
      fprintf(stderr, "bench_ridge: %s\n", vf_error_message());
      exit(1);
    }
  }
  /* contiguous folds: the order is the identity, only the starts matter */
  long *order = xalloc(ntr, sizeof(long), "row order");
  P->start = calloc(P->k + 1, sizeof(long));
  ridge_folds_order(ntr, fold, P->k, order, P->start);
  vf_free(&order);
  vf_free(&fold);
  vf_free(&run);

  size_t sz = single ? sizeof(float) : sizeof(double);
  P->Xtr = xalloc((size_t)ntr * p, sz, "training features");
  P->Xte = xalloc((size_t)nte * p, sz, "test features");
  P->Ytr = xalloc((size_t)ntr * v, sz, "training responses");
  P->Yte = xalloc((size_t)nte * v, sz, "test responses");
  for (long j = 0; j < p; j++) {
    store(P->Xtr, single, (size_t)j * ntr, X + (size_t)j * n, ntr);
    store(P->Xte, single, (size_t)j * nte, X + (size_t)j * n + ntr, nte);
  }

  const long vb = 256;
  double *B = xalloc((size_t)p * vb, sizeof(double), "weights");
  double *Y = xalloc((size_t)n * vb, sizeof(double), "response block");
  double mean[256], sd[256];
  for (long c0 = 0; c0 < v; c0 += vb) {
    long nb = c0 + vb <= v ? vb : v - c0;
    randn(&g, B, (size_t)p * nb);
    la_dgemm('N', 'N', n, nb, p, 1 / sqrt((double)p), X, n, B, p, 0, Y, n);
    ridge_std_fit(Y, n, nb, NULL, ntr, RIDGE_STD_ZSCORE, mean, sd, NULL);
    for (long c = 0; c < nb; c++) {
      double noise = pow(10.0, -1.0 + 2.5 * vf_rng_uniform(&g)) * sd[c];
      for (long t = 0; t < n; t++) Y[c * n + t] += noise * vf_rng_normal(&g);
    }
    ridge_std_fit(Y, n, nb, NULL, ntr, RIDGE_STD_ZSCORE, mean, sd, NULL);
    ridge_std_apply(Y, n, nb, NULL, n, RIDGE_STD_ZSCORE, mean, sd);
    for (long c = 0; c < nb; c++) {
      store(P->Ytr, single, (size_t)(c0 + c) * ntr, Y + (size_t)c * n, ntr);
      store(P->Yte, single, (size_t)(c0 + c) * nte, Y + (size_t)c * n + ntr, nte);
    }
  }
  vf_free(&B);
  vf_free(&Y);
  vf_free(&X);
  P->gen_seconds = vf_now() - t0;
}

/* ---- measurements --------------------------------------------------- */

/* GEMM rate in GFLOP/s: C = A B with square N x N, best of 3 after one
 * warm-up. */
static double gemm_rate(int single, long N, uint64_t seed) {
  size_t sz = single ? sizeof(float) : sizeof(double);
  void *A = xalloc((size_t)N * N, sz, "gemm A");
  void *B = xalloc((size_t)N * N, sz, "gemm B");
  void *C = xalloc((size_t)N * N, sz, "gemm C");
  vf_rng g;
  vf_rng_seed(&g, seed, 0x6e33);
  for (size_t i = 0; i < (size_t)N * N; i++) {
    double a = vf_rng_uniform(&g) - 0.5, b = vf_rng_uniform(&g) - 0.5;
    if (single) ((float *)A)[i] = (float)a, ((float *)B)[i] = (float)b;
    else ((double *)A)[i] = a, ((double *)B)[i] = b;
  }
  double best = INFINITY;
  for (int rep = -1; rep < 3; rep++) { /* rep -1: warm-up (threads, pages) */
    double t0 = vf_now();
    if (single) la_sgemm('N', 'N', N, N, N, 1, A, N, B, N, 0, C, N);
    else la_dgemm('N', 'N', N, N, N, 1, A, N, B, N, 0, C, N);
    double t = vf_now() - t0;
    if (rep >= 0 && t < best) best = t;
  }
  vf_free(&A);
  vf_free(&B);
  vf_free(&C);
  return 2.0 * N * N * (double)N / best / 1e9;
}

/* Resets the process's RSS high-water mark to the current RSS (Linux >=
 * 4.0); 1 when it was done. */
static int reset_peak_rss(void) {
  FILE *f = fopen("/proc/self/clear_refs", "w");
  if (!f) return 0;
  int ok = fputs("5", f) >= 0;
  ok = (fclose(f) == 0) && ok;
  return ok;
}

/* ---- dump ----------------------------------------------------------- */

/* out = dir/name, or exit when it does not fit. */
static void join(char *out, size_t n, const char *dir, const char *name) {
  int len = snprintf(out, n, "%s/%s", dir, name);
  if (len < 0 || (size_t)len >= n) {
    fprintf(stderr, "bench_ridge: path too long: %s/%s\n", dir, name);
    exit(2);
  }
}

static void write_raw(const char *dir, const char *name, const void *a,
                      size_t n, size_t sz) {
  char path[4096];
  join(path, sizeof path, dir, name);
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(a, sz, n, f) != n || fclose(f) != 0) {
    fprintf(stderr, "bench_ridge: cannot write %s: %s\n", path, strerror(errno));
    exit(1);
  }
}

static void mkdir_p(const char *dir) {
  char buf[4096];
  if (strlen(dir) >= sizeof buf) {
    fprintf(stderr, "bench_ridge: path too long: %s\n", dir);
    exit(2);
  }
  strcpy(buf, dir);
  for (char *s = buf + 1; *s; s++)
    if (*s == '/') {
      *s = 0;
      mkdir(buf, 0777);
      *s = '/';
    }
  if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
    fprintf(stderr, "bench_ridge: cannot create %s: %s\n", dir, strerror(errno));
    exit(1);
  }
}

/* Raw little-endian column-major arrays + problem.json describing them. */
static void dump_case(const char *dir, const char *name, const problem *P,
                      const double *lam, int m, const ridge_result *res,
                      int threads, double seconds, double flops) {
  mkdir_p(dir);
  size_t sz = P->single ? sizeof(float) : sizeof(double);
  write_raw(dir, "Xtr.bin", P->Xtr, (size_t)P->ntr * P->p, sz);
  write_raw(dir, "Ytr.bin", P->Ytr, (size_t)P->ntr * P->v, sz);
  write_raw(dir, "Xte.bin", P->Xte, (size_t)P->nte * P->p, sz);
  write_raw(dir, "Yte.bin", P->Yte, (size_t)P->nte * P->v, sz);
  int64_t start[P->k + 1];
  for (int f = 0; f <= P->k; f++) start[f] = P->start[f];
  write_raw(dir, "fold_start.bin", start, P->k + 1, sizeof(int64_t));
  write_raw(dir, "lambdas.bin", lam, m, sizeof(double));
  write_raw(dir, "best_lambda.bin", res->best_lambda, P->v, sizeof(double));
  write_raw(dir, "test_r.bin", res->test_r, P->v, sizeof(double));
  write_raw(dir, "cv_best.bin", res->cv_best, P->v, sizeof(double));
  char path[4096];
  join(path, sizeof path, dir, "problem.json");
  FILE *f = fopen(path, "w");
  if (!f) {
    fprintf(stderr, "bench_ridge: cannot write %s: %s\n", path, strerror(errno));
    exit(1);
  }
  fprintf(f,
          "{\"case\": \"%s\", \"dtype\": \"%s\", \"order\": \"column-major\",\n"
          " \"ntr\": %ld, \"nte\": %ld, \"p\": %ld, \"v\": %ld, \"k\": %d,"
          " \"n_lambdas\": %d,\n"
          " \"threads\": %d, \"voxfit_seconds\": %.6f, \"flops\": %.6e,\n"
          " \"arrays\": {\"Xtr\": [\"ntr\", \"p\"], \"Ytr\": [\"ntr\", \"v\"],"
          " \"Xte\": [\"nte\", \"p\"], \"Yte\": [\"nte\", \"v\"],\n"
          "   \"fold_start\": [\"k+1\", \"int64\"], \"lambdas\": [\"n_lambdas\", \"float64\"],\n"
          "   \"best_lambda\": [\"v\", \"float64\"], \"test_r\": [\"v\", \"float64\"],"
          " \"cv_best\": [\"v\", \"float64\"]}}\n",
          name, P->single ? "float32" : "float64", P->ntr, P->nte, P->p, P->v,
          P->k, m, threads, seconds, flops);
  if (fclose(f) != 0) {
    fprintf(stderr, "bench_ridge: cannot write %s\n", path);
    exit(1);
  }
}

/* ---- one case ------------------------------------------------------- */

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static size_t base_rss; /* peak RSS at the start of main: the libraries */
static ridge_cv_method cv_method = RIDGE_CV_AUTO; /* --cv-method */
static int bands; /* --bands auto|on|off: 0, 1, -1 */

static int run_case(const shape *s, int grid, int single, double scale,
                    int threads, long gemm_n, long vox_block, uint64_t seed,
                    const char *dump) {
  char name[128];
  snprintf(name, sizeof name, "%s-%s-%s", s->name, GRIDS[grid], PRECS[single]);
  double lam[20];
  int m = 20;
  double lo = grid ? 1 : -2, hi = grid ? 20 : 6;
  for (int j = 0; j < m; j++) lam[j] = pow(10.0, lo + (hi - lo) * j / (m - 1));

  /* The GEMM rate before and after the fit, the better taken: on a shared
   * (virtual) machine a neighbour's burst during one short measurement
   * would otherwise flatter the fit's fraction of it. */
  double gemm_before = gemm_rate(single, gemm_n, seed);
  problem P;
  make_problem(s, scale, single, seed + (uint64_t)(s - SHAPES), &P);
  size_t gen_peak = vf_peak_rss();

  long v = P.v;
  ridge_opts o = {.lambdas = lam, .n_lambdas = m, .score = RIDGE_SCORE_R,
                  .lambda_per_voxel = 1, .vox_block = vox_block, .cv_method = cv_method,
                  .bands = bands};
  ridge_result res = {0};
  res.best_lambda = xalloc(v, sizeof(double), "best lambda");
  res.cv_best = xalloc(v, sizeof(double), "cv best");
  res.test_r = xalloc(v, sizeof(double), "test r");
  res.test_r2 = xalloc(v, sizeof(double), "test r2");
  int reset = reset_peak_rss();
  size_t start_rss = vf_peak_rss(); /* after the reset: the RSS now */

  double t0 = vf_now();
  vf_status st =
      single ? ridge_cv_fit_s(P.Xtr, P.ntr, P.p, P.Ytr, v, P.start, P.k, P.Xte,
                              P.nte, P.Yte, NULL, &o, &res)
             : ridge_cv_fit_d(P.Xtr, P.ntr, P.p, P.Ytr, v, P.start, P.k, P.Xte,
                              P.nte, P.Yte, NULL, &o, &res);
  double secs = vf_now() - t0;
  size_t fit_peak = vf_peak_rss();
  if (st) {
    fprintf(stderr, "bench_ridge: %s: %s: %s [%s]\n", name, vf_status_name(st),
            vf_error_message(), vf_error_trace());
    return 1;
  }

  double gemm_after = gemm_rate(single, gemm_n, seed);
  double gemm = gemm_after > gemm_before ? gemm_after : gemm_before;
  double flops = ridge_cv_flops(P.ntr, P.p, v, P.start, P.k, m, P.nte);
  double rate = flops / secs / 1e9;
  size_t sz = single ? sizeof(float) : sizeof(double);
  double xyo = (double)(P.ntr + P.nte) * (double)(P.p + v) * sz +
               4.0 * v * sizeof(double); /* best_lambda, cv_best, test_r, test_r2 */
  const double MiB = 1048576.0;

  /* chosen lambdas and test r, to see that the problem is not degenerate */
  int hist[20] = {0};
  double *r = xalloc(v, sizeof(double), "sorted r");
  for (long c = 0; c < v; c++) {
    for (int j = 0; j < m; j++)
      if (res.best_lambda[c] == lam[j]) hist[j]++;
    r[c] = res.test_r[c];
  }
  qsort(r, v, sizeof(double), cmp_double);
  int distinct = 0;
  for (int j = 0; j < m; j++) distinct += hist[j] > 0;

  printf("== %s: ntr %ld (%d folds) x p %ld x v %ld, nte %ld, %d lambdas "
         "1e%g..1e%g, %d threads, generated in %.1f s\n",
         name, P.ntr, P.k, P.p, v, P.nte, m, lo, hi, threads, P.gen_seconds);
  printf("   %cGEMM %ld^3: %.1f GFLOP/s (best of 3 before the fit %.1f, after it %.1f), "
         "kernel %s\n", single ? 'S' : 'D', gemm_n, gemm, gemm_before, gemm_after,
         openblas_get_corename());
  printf("   fit %.3f s (%s, %d of %d folds through bands), F %.4g GFLOP, %.2f GFLOP/s = "
         "%.3f x GEMM\n", secs, res.held_out ? "held-out correction" : "factorised per fold",
         res.banded, P.k, flops / 1e9, rate, rate / gemm);
  const double *ph = res.seconds;
  double other = secs - ph[RIDGE_T_FACTOR] - ph[RIDGE_T_PRODUCTS] - ph[RIDGE_T_SCORE] -
                 ph[RIDGE_T_REFIT];
  printf("   phases: factorisations %.2f s, CV products %.2f s, CV scoring %.2f s, "
         "refit %.2f s, other %.2f s\n", ph[RIDGE_T_FACTOR], ph[RIDGE_T_PRODUCTS],
         ph[RIDGE_T_SCORE], ph[RIDGE_T_REFIT], other);
  printf("   peak RSS of the fit %.1f MiB%s (%.1f MiB when it started; generation %.1f MiB, "
         "process at start %.1f MiB); X+Y+outputs %.1f MiB; ratio %.2f\n",
         fit_peak / MiB, reset ? "" : " (process; reset refused)", start_rss / MiB,
         gen_peak / MiB, base_rss / MiB, xyo / MiB, fit_peak / xyo);
  printf("   chosen lambdas (grid index:voxels):");
  for (int j = 0; j < m; j++)
    if (hist[j]) printf(" %d:%d", j, hist[j]);
  printf("; test r median %.3f, 10%% %.3f, 90%% %.3f\n", r[v / 2], r[v / 10],
         r[(9 * v) / 10]);
  printf("RESULT case=%s shape=%s grid=%s precision=%s ntr=%ld nte=%ld p=%ld "
         "v=%ld k=%d m=%d threads=%d seconds=%.6f flops=%.6e gflops=%.4f "
         "gemm=%.4f gemm_before=%.4f gemm_after=%.4f frac=%.4f rss=%.0f gen_rss=%.0f base_rss=%.0f start_rss=%.0f rss_reset=%d "
         "xyo=%.0f rss_ratio=%.4f distinct_lambdas=%d median_r=%.4f kernel=%s held_out=%d "
         "banded=%d t_factor=%.4f t_products=%.4f t_score=%.4f t_refit=%.4f\n",
         name, s->name, GRIDS[grid], PRECS[single], P.ntr, P.nte, P.p, v, P.k,
         m, threads, secs, flops, rate, gemm, gemm_before, gemm_after, rate / gemm, (double)fit_peak,
         (double)gen_peak, (double)base_rss, (double)start_rss, reset, xyo, fit_peak / xyo, distinct, r[v / 2],
         openblas_get_corename(), res.held_out, res.banded, ph[RIDGE_T_FACTOR], ph[RIDGE_T_PRODUCTS],
         ph[RIDGE_T_SCORE], ph[RIDGE_T_REFIT]);
  fflush(stdout);
  vf_free(&r);

  if (dump) {
    char dir[4096];
    join(dir, sizeof dir, dump, name);
    dump_case(dir, name, &P, lam, m, &res, threads, secs, flops);
    printf("   dumped to %s\n", dir);
  }
  vf_free(&res.best_lambda);
  vf_free(&res.cv_best);
  vf_free(&res.test_r);
  vf_free(&res.test_r2);
  problem_free(&P);
  return 0;
}

int main(int argc, char **argv) {
  la_blas_setup(argv);
  vf_memory_setup();
  base_rss = vf_peak_rss();
  const char *shapes = "small", *grids = "all", *precs = "all", *dump = NULL;
  double scale = 1;
  int threads = 0;
  long gemm_n = 2500, vox_block = 0;
  uint64_t seed = 20240601;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return 0;
    }
    if (!val) {
      usage(stderr);
      return 2;
    }
    i++;
    char *end = NULL;
    if (!strcmp(a, "--shape")) shapes = val;
    else if (!strcmp(a, "--grid")) grids = val;
    else if (!strcmp(a, "--precision")) precs = val;
    else if (!strcmp(a, "--dump")) dump = val;
    else if (!strcmp(a, "--scale")) scale = strtod(val, &end);
    else if (!strcmp(a, "--threads")) threads = (int)strtol(val, &end, 10);
    else if (!strcmp(a, "--gemm")) gemm_n = strtol(val, &end, 10);
    else if (!strcmp(a, "--vox-block")) vox_block = strtol(val, &end, 10);
    else if (!strcmp(a, "--seed")) seed = strtoull(val, &end, 10);
    else if (!strcmp(a, "--bands") && (!strcmp(val, "on") || !strcmp(val, "off") ||
                                       !strcmp(val, "auto")))
      bands = !strcmp(val, "on") ? 1 : !strcmp(val, "off") ? -1 : 0;
    else if (!strcmp(a, "--cv-method")) {
      const char *names[3] = {"auto", "per_fold", "held_out"};
      int k = 0;
      while (k < 3 && strcmp(val, names[k])) k++;
      if (k == 3) {
        fprintf(stderr, "bench_ridge: --cv-method is auto, per_fold or held_out\n");
        return 2;
      }
      cv_method = (ridge_cv_method)k;
    } else {
      usage(stderr);
      return 2;
    }
    if (end && (*end || end == val)) {
      fprintf(stderr, "bench_ridge: bad value '%s' for %s\n", val, a);
      return 2;
    }
  }
  if (!(scale > 0) || threads < 0 || gemm_n < 16) {
    fprintf(stderr, "bench_ridge: need --scale > 0, --threads >= 0, --gemm >= 16\n");
    return 2;
  }
  const char *shape_names[N_SHAPES];
  for (int i = 0; i < N_SHAPES; i++) shape_names[i] = SHAPES[i].name;
  int sset = parse_set(shapes, shape_names, N_SHAPES, "shape");
  int gset = parse_set(grids, GRIDS, 2, "grid");
  int pset = parse_set(precs, PRECS, 2, "precision");
  if (threads > 0) openblas_set_num_threads(threads);
  threads = openblas_get_num_threads();
  printf("bench_ridge: voxfit %s, %s, %d threads, scale %g\n", VF_VERSION,
         openblas_get_config(), threads, scale);
  int fails = 0;
  for (int si = 0; si < N_SHAPES; si++)
    for (int g = 0; g < 2; g++)
      for (int pr = 0; pr < 2; pr++)
        if ((sset >> si & 1) && (gset >> g & 1) && (pset >> pr & 1))
          fails += run_case(&SHAPES[si], g, pr, scale, threads, gemm_n,
                            vox_block, seed, dump);
  return fails ? 1 : 0;
}
