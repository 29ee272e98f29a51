/* The team fit's benchmark (not a test; docs/benchmarks.md): one unit of
 * ridge_team_fit on a pr x pc grid, or with --single the single-rank
 * ridge_cv_fit_d on one rank, on a generated problem. Prints one RESULT
 * line from rank 0: wall time (the slowest rank), split into factorising
 * and fitting; F (ridge_cv_flops) / time; the DGEMM rate each rank
 * reaches at the same moment on its threads; the largest per-rank peak
 * RSS of the fit (the high-water mark is reset just before it); and the
 * bytes each rank handed to MPI to send during the fit (PMPI wrappers:
 * point-to-point exactly, collectives by payload).
 *
 * usage: mpirun -np R bench_team [--ntr N] [--p P] [--v V] [--nte T]
 *            [--folds K] [--grid RxC] [--nb NB] [--threads N] [--single] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include "voxfit/linalg.h"
#include "voxfit/ridge.h"
#include "voxfit/util.h"

typedef struct {
  long ntr, p, v, nte;
  int k, pr, pc, nb, threads, single;
} args;

static void parse(int argc, char **argv, args *a) {
  *a = (args){2000, 1000, 8000, 300, 5, 1, 1, 64, 1, 0};
  for (int i = 1; i < argc; i++) {
    const char *s = argv[i], *n = i + 1 < argc ? argv[i + 1] : "0";
    if (!strcmp(s, "--ntr")) a->ntr = atol(n), i++;
    else if (!strcmp(s, "--p")) a->p = atol(n), i++;
    else if (!strcmp(s, "--v")) a->v = atol(n), i++;
    else if (!strcmp(s, "--nte")) a->nte = atol(n), i++;
    else if (!strcmp(s, "--folds")) a->k = atoi(n), i++;
    else if (!strcmp(s, "--grid")) sscanf(n, "%dx%d", &a->pr, &a->pc), i++;
    else if (!strcmp(s, "--nb")) a->nb = atoi(n), i++;
    else if (!strcmp(s, "--threads")) a->threads = atoi(n), i++;
    else if (!strcmp(s, "--single")) a->single = 1;
    else {
      fprintf(stderr, "bench_team: unknown option %s\n", s);
      exit(2);
    }
  }
}

/* Column j of X (n rows): a smooth factor plus noise, from j's own seed,
 * so any rank can make any column. */
static void x_column(long j, long n, double *x) {
  vf_rng g;
  vf_rng_seed(&g, 11, (uint64_t)j);
  double f = 0;
  for (long i = 0; i < n; i++) {
    f = 0.7 * f + vf_rng_normal(&g);
    x[i] = f / sqrt((double)(1 + j % 50)) + 0.5 * vf_rng_normal(&g);
  }
}

/* Response column j: two features plus noise of a voxel-specific level. */
static void y_column(long j, long n, long p, double *xa, double *xb, double *y) {
  vf_rng g;
  vf_rng_seed(&g, 12, (uint64_t)j);
  x_column(j % p, n, xa);
  x_column((7 * j + 3) % p, n, xb);
  double sd = pow(10.0, -1.0 + 2.5 * vf_rng_uniform(&g));
  for (long i = 0; i < n; i++) y[i] = 0.3 * xa[i] + 0.2 * xb[i] + sd * vf_rng_normal(&g);
}

/* Rows [r0, r0 + m) of a generated column block into A's local piece. */
static void fill(la_dmat *A, long r0, int is_y, long p, double *col, double *xa, double *xb) {
  long n = r0 + A->m;
  for (int j = 0; j < A->nloc; j++) {
    long gj = la_dmat_gcol(A, j);
    if (is_y) y_column(gj, n, p, xa, xb, col);
    else x_column(gj, n, col);
    for (int i = 0; i < A->mloc; i++) A->a[(size_t)j * A->desc[8] + i] = col[r0 + la_dmat_grow(A, i)];
  }
}

static double dgemm_rate(void) {
  long N = 1500;
  double *A = calloc(N * N, 8), *B = calloc(N * N, 8), *C = calloc(N * N, 8), best = 1e30;
  for (long i = 0; i < N * N; i++) A[i] = (double)(i % 7) - 3, B[i] = (double)(i % 5) - 2;
  for (int r = -1; r < 2; r++) {
    double t0 = vf_now();
    la_dgemm('N', 'N', N, N, N, 1, A, N, B, N, 0, C, N);
    if (r >= 0 && vf_now() - t0 < best) best = vf_now() - t0;
  }
  free(A), free(B), free(C);
  return 2.0 * N * N * N / best / 1e9;
}

static void reset_peak(void) {
  FILE *f = fopen("/proc/self/clear_refs", "w");
  if (f) fputs("5", f), fclose(f);
}

/* Bytes this rank hands to MPI to send, counted by PMPI wrappers around
 * the calls BLACS and the code use: point-to-point sends (exact), and
 * the payload of collectives (one copy of the data each call moves; the
 * algorithm's own traffic depends on the MPI library). */
static double sent_p2p, sent_coll, sent_create;

static double bytes_of(int count, MPI_Datatype t) {
  int sz = 0;
  PMPI_Type_size(t, &sz);
  return (double)count * sz;
}

int MPI_Send(const void *b, int c, MPI_Datatype t, int d, int tag, MPI_Comm comm) {
  sent_p2p += bytes_of(c, t);
  return PMPI_Send(b, c, t, d, tag, comm);
}
int MPI_Rsend(const void *b, int c, MPI_Datatype t, int d, int tag, MPI_Comm comm) {
  sent_p2p += bytes_of(c, t);
  return PMPI_Rsend(b, c, t, d, tag, comm);
}
int MPI_Isend(const void *b, int c, MPI_Datatype t, int d, int tag, MPI_Comm comm,
              MPI_Request *r) {
  sent_p2p += bytes_of(c, t);
  return PMPI_Isend(b, c, t, d, tag, comm, r);
}
int MPI_Irsend(const void *b, int c, MPI_Datatype t, int d, int tag, MPI_Comm comm,
               MPI_Request *r) {
  sent_p2p += bytes_of(c, t);
  return PMPI_Irsend(b, c, t, d, tag, comm, r);
}
int MPI_Sendrecv(const void *sb, int sc, MPI_Datatype st, int d, int stag, void *rb, int rc,
                 MPI_Datatype rt, int s, int rtag, MPI_Comm comm, MPI_Status *status) {
  sent_p2p += bytes_of(sc, st);
  return PMPI_Sendrecv(sb, sc, st, d, stag, rb, rc, rt, s, rtag, comm, status);
}
int MPI_Allreduce(const void *sb, void *rb, int c, MPI_Datatype t, MPI_Op op, MPI_Comm comm) {
  sent_coll += bytes_of(c, t);
  return PMPI_Allreduce(sb, rb, c, t, op, comm);
}
int MPI_Reduce(const void *sb, void *rb, int c, MPI_Datatype t, MPI_Op op, int root,
               MPI_Comm comm) {
  sent_coll += bytes_of(c, t);
  return PMPI_Reduce(sb, rb, c, t, op, root, comm);
}
int MPI_Bcast(void *b, int c, MPI_Datatype t, int root, MPI_Comm comm) {
  int me;
  PMPI_Comm_rank(comm, &me);
  if (me == root) sent_coll += bytes_of(c, t);
  return PMPI_Bcast(b, c, t, root, comm);
}

static const double lam[20] = {1e-2, 2.6e-2, 6.95e-2, 1.83e-1, 4.83e-1, 1.27, 3.36, 8.86,
                               2.34e1, 6.16e1, 1.62e2, 4.28e2, 1.13e3, 2.98e3, 7.85e3,
                               2.07e4, 5.46e4, 1.44e5, 3.79e5, 1e6};

static void folds(const args *a, long *start) {
  for (int f = 0; f <= a->k; f++) start[f] = a->ntr * f / a->k;
}

/* The single-rank engine on one rank, full matrices. */
static double run_single(const args *a, double *model_s) {
  long n = a->ntr + a->nte, p = a->p, v = a->v;
  double *X = calloc(n * p, 8), *Y = calloc(n * v, 8), *xa = calloc(n, 8), *xb = calloc(n, 8);
  double *Xtr = calloc(a->ntr * p, 8), *Xte = calloc(a->nte * p, 8);
  double *Ytr = calloc(a->ntr * v, 8), *Yte = calloc(a->nte * v, 8);
  for (long j = 0; j < p; j++) x_column(j, n, X + j * n);
  for (long j = 0; j < v; j++) y_column(j, n, p, xa, xb, Y + j * n);
  for (long j = 0; j < p; j++)
    memcpy(Xtr + j * a->ntr, X + j * n, 8 * a->ntr), memcpy(Xte + j * a->nte, X + j * n + a->ntr, 8 * a->nte);
  for (long j = 0; j < v; j++)
    memcpy(Ytr + j * a->ntr, Y + j * n, 8 * a->ntr), memcpy(Yte + j * a->nte, Y + j * n + a->ntr, 8 * a->nte);
  free(X), free(Y);
  long start[64];
  folds(a, start);
  double *r[4];
  for (int i = 0; i < 4; i++) r[i] = calloc(v, 8);
  ridge_result res = {r[0], r[1], r[2], r[3], NULL, NULL, 0, NULL, 0, {0}, 0};
  ridge_opts o = {lam, 20, RIDGE_SCORE_R, 1, 0, RIDGE_SOLVER_AUTO, RIDGE_CV_AUTO, 0, 0, 0};
  reset_peak();
  double t0 = vf_now();
  vf_status st = ridge_cv_fit_d(Xtr, a->ntr, p, Ytr, v, start, a->k, Xte, a->nte, Yte, NULL, &o, &res);
  double t = vf_now() - t0;
  *model_s = NAN;
  if (st) fprintf(stderr, "bench_team: %s\n", vf_error_message());
  for (int i = 0; i < 4; i++) free(r[i]);
  free(Xtr), free(Xte), free(Ytr), free(Yte), free(xa), free(xb);
  return t;
}

static double run_team(const args *a, double *model_s, double *sent) {
  long n = a->ntr + a->nte, v = a->v;
  int ctxt = Csys2blacs_handle(MPI_COMM_WORLD);
  Cblacs_gridinit(&ctxt, "Row", a->pr, a->pc);
  la_grid g;
  la_grid_of(ctxt, &g);
  la_dmat X, Xte, Y, Yte;
  double *col = calloc(n, 8), *xa = calloc(n, 8), *xb = calloc(n, 8);
  la_dmat_create(&g, a->ntr, a->p, a->nb, &X), la_dmat_create(&g, a->nte, a->p, a->nb, &Xte);
  la_dmat_create(&g, a->ntr, v, a->nb, &Y), la_dmat_create(&g, a->nte, v, a->nb, &Yte);
  fill(&X, 0, 0, a->p, col, xa, xb), fill(&Xte, a->ntr, 0, a->p, col, xa, xb);
  fill(&Y, 0, 1, a->p, col, xa, xb), fill(&Yte, a->ntr, 1, a->p, col, xa, xb);
  free(col), free(xa), free(xb);
  long start[64];
  folds(a, start);
  double *r[4];
  for (int i = 0; i < 4; i++) r[i] = calloc(v, 8);
  ridge_team_result res = {r[0], r[1], r[2], r[3], NULL, NULL, NULL, 0};
  ridge_opts o = {lam, 20, RIDGE_SCORE_R, 1, 0, RIDGE_SOLVER_AUTO, RIDGE_CV_AUTO, 0, 0, 0};
  ridge_team_model *M = NULL;
  MPI_Barrier(MPI_COMM_WORLD);
  reset_peak();
  double s0 = sent_p2p + sent_coll, t0 = vf_now();
  vf_status st = ridge_team_model_create(&X, start, a->k, &Xte, &o, &M);
  *model_s = vf_now() - t0;
  sent_create = sent_p2p + sent_coll - s0;
  if (!st) st = ridge_team_model_fit(M, &Y, &Yte, NULL, &o, &res);
  double t = vf_now() - t0;
  *sent = sent_p2p + sent_coll - s0;
  if (st) fprintf(stderr, "bench_team: %s\n", vf_error_message());
  ridge_team_model_destroy(&M);
  for (int i = 0; i < 4; i++) free(r[i]);
  la_dmat_destroy(&X), la_dmat_destroy(&Xte), la_dmat_destroy(&Y), la_dmat_destroy(&Yte);
  Cblacs_gridexit(ctxt);
  return t;
}

int main(int argc, char **argv) {
  la_blas_setup(argv);
  vf_memory_setup();
  MPI_Init(&argc, &argv);
  args a;
  parse(argc, argv, &a);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  openblas_set_num_threads(a.threads);
  if (a.single ? size != 1 : a.pr * a.pc != size) {
    if (!rank) fprintf(stderr, "bench_team: --single needs 1 rank, --grid RxC needs R*C ranks\n");
    MPI_Finalize();
    return 2;
  }
  double gemm = dgemm_rate(), model_s, sent = -1;
  double p2p0 = sent_p2p, coll0 = sent_coll;
  double t = a.single ? run_single(&a, &model_s) : run_team(&a, &model_s, &sent);
  double coll = sent_coll - coll0, p2p = sent_p2p - p2p0;
  MPI_Allreduce(MPI_IN_PLACE, &coll, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  MPI_Allreduce(MPI_IN_PLACE, &p2p, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  double create_tot = sent_create;
  MPI_Allreduce(MPI_IN_PLACE, &create_tot, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  double rss = (double)vf_peak_rss(), mx[4] = {t, model_s, rss, sent}, mn = gemm, tot = sent;
  MPI_Allreduce(MPI_IN_PLACE, mx, 4, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  MPI_Allreduce(MPI_IN_PLACE, &mn, 1, MPI_DOUBLE, MPI_MIN, MPI_COMM_WORLD);
  MPI_Allreduce(MPI_IN_PLACE, &tot, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  long start[64];
  folds(&a, start);
  double F = ridge_cv_flops(a.ntr, a.p, a.v, start, a.k, 20, a.nte);
  double inputs = 8.0 * (a.ntr + a.nte) * (a.p + a.v);
  if (!rank) {
    char sent_txt[64];
    if (mx[3] < 0) snprintf(sent_txt, sizeof sent_txt, "n/a");
    else snprintf(sent_txt, sizeof sent_txt, "%.1f", mx[3] / 1048576.0);
    printf("RESULT mode=%s ranks=%d grid=%dx%d nb=%d threads=%d ntr=%ld p=%ld v=%ld nte=%ld "
           "folds=%d time_s=%.3f factor_s=%.3f gflops=%.2f gemm_rank=%.2f eff=%.2f "
           "rss_max_mib=%.1f inputs_per_rank_mib=%.1f sent_max_mib=%s sent_total_mib=%.1f "
           "p2p_max_mib=%.1f coll_max_mib=%.1f create_total_mib=%.1f fit_total_mib=%.1f\n",
           a.single ? "single" : "team", size, a.pr, a.pc, a.nb, a.threads, a.ntr, a.p, a.v,
           a.nte, a.k, mx[0], mx[1], F / mx[0] / 1e9, mn, F / mx[0] / 1e9 / (mn * size),
           mx[2] / 1048576.0, inputs / size / 1048576.0, sent_txt, tot < 0 ? 0 : tot / 1048576.0,
           p2p / 1048576.0, coll / 1048576.0, create_tot / 1048576.0,
           (tot - create_tot) / 1048576.0);
  }
  MPI_Finalize();
  return 0;
}
