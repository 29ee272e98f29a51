/* ranks: 1 2 */
/* The generator: presets, determinism (same seed and any rank count give
 * the same bytes), the file layout of docs/inputs.md read back with
 * PnetCDF directly, and the planted structure (semantic ROIs are predicted
 * better by multimodal features, V1 is not; layer profiles; the lag and
 * the noise model of the time-series preset). */
#include <errno.h>
#include <pnetcdf.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "voxfit/linalg.h"
#include "voxfit/io.h"
#include "voxfit/sim.h"

static int rank_, size_;
static char root_[256]; /* a fresh temporary folder, same on every rank */

static const char *roi_names[10] = {"V1", "V2", "V3", "V4", "LOC",
                                    "FFA", "PPA", "IFG", "AG", "PTL"};

/* ---- helpers --------------------------------------------------------------- */

static void dir_of(char *out, size_t n, const char *name) {
  snprintf(out, n, "%s/%s", root_, name);
}

static void file_of(char *out, size_t n, const char *dir, const char *file) {
  snprintf(out, n, "%s/%s/%s", root_, dir, file);
}

static void make_root(void) {
  if (rank_ == 0) {
    snprintf(root_, sizeof root_, "/tmp/voxfit-test-sim-XXXXXX");
    if (!mkdtemp(root_)) {
      perror("mkdtemp");
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
  }
  MPI_Bcast(root_, sizeof root_, MPI_CHAR, 0, MPI_COMM_WORLD);
}

static char *slurp(const char *path, long *n) {
  FILE *f = fopen(path, "rb");
  *n = -1;
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  *n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)*n + 1);
  if (fread(buf, 1, (size_t)*n, f) != (size_t)*n) *n = -1;
  buf[*n > 0 ? *n : 0] = '\0';
  fclose(f);
  return buf;
}

/* 1 same bytes, 0 different, -1 unreadable. */
static int same_bytes(const char *a, const char *b) {
  long na, nb;
  char *x = slurp(a, &na), *y = slurp(b, &nb);
  int r = (na < 0 || nb < 0) ? -1 : (na == nb && !memcmp(x, y, (size_t)na));
  free(x);
  free(y);
  return r;
}

static int contains(const char *path, const char *text) {
  long n;
  char *buf = slurp(path, &n);
  int r = buf && strstr(buf, text) != NULL;
  free(buf);
  return r;
}

static int nc_open_self(const char *path) {
  int ncid, err = ncmpi_open(MPI_COMM_SELF, path, NC_NOWRITE, MPI_INFO_NULL, &ncid);
  TU_CHECK(err == NC_NOERR, "open %s: %s", path, ncmpi_strerror(err));
  return err == NC_NOERR ? ncid : -1;
}

static long dim_len(int ncid, const char *name) {
  int d;
  MPI_Offset len;
  if (ncmpi_inq_dimid(ncid, name, &d) != NC_NOERR) return -1;
  ncmpi_inq_dimlen(ncid, d, &len);
  return (long)len;
}

/* Checks a variable's type and dimension names (NULL-terminated list). */
static void check_var(int ncid, const char *name, nc_type type, const char *d0,
                      const char *d1, const char *d2) {
  const char *want[3] = {d0, d1, d2};
  int v, nd = 0, dims[8], want_nd = d2 ? 3 : d1 ? 2 : 1;
  nc_type t;
  if (ncmpi_inq_varid(ncid, name, &v) != NC_NOERR) {
    TU_CHECK(0, "variable %s missing", name);
    return;
  }
  ncmpi_inq_varndims(ncid, v, &nd); /* NC_MAX_VAR_DIMS is huge in PnetCDF */
  if (nd > 8) nd = 8;
  ncmpi_inq_vartype(ncid, v, &t);
  ncmpi_inq_vardimid(ncid, v, dims);
  TU_CHECK(t == type && nd == want_nd, "%s: type %d, %d dims", name, (int)t, nd);
  for (int i = 0; i < nd && i < want_nd; i++) {
    char dn[NC_MAX_NAME + 1];
    ncmpi_inq_dimname(ncid, dims[i], dn);
    TU_CHECK(!strcmp(dn, want[i]), "%s: dim %d is %s, wanted %s", name, i, dn, want[i]);
  }
}

static float *get_floats(int ncid, const char *name, long n) {
  int v;
  float *buf = calloc((size_t)n, sizeof(float));
  int err = ncmpi_inq_varid(ncid, name, &v);
  if (!err) err = ncmpi_get_var_float_all(ncid, v, buf);
  TU_CHECK(err == NC_NOERR, "reading %s: %s", name, ncmpi_strerror(err));
  return buf;
}

static int *get_ints(int ncid, const char *name, long n) {
  int v;
  int *buf = calloc((size_t)n, sizeof(int));
  int err = ncmpi_inq_varid(ncid, name, &v);
  if (!err) err = ncmpi_get_var_int_all(ncid, v, buf);
  TU_CHECK(err == NC_NOERR, "reading %s: %s", name, ncmpi_strerror(err));
  return buf;
}

static void text_att(int ncid, int varid, const char *name, char *out, size_t n) {
  MPI_Offset len = 0;
  out[0] = '\0';
  if (ncmpi_inq_attlen(ncid, varid, name, &len) != NC_NOERR || (size_t)len >= n) return;
  ncmpi_get_att_text(ncid, varid, name, out);
  out[len] = '\0';
}

/* One subject's data, read back whole. */
typedef struct {
  long n, v, r, t; /* stimuli, voxels, repetitions, test stimuli */
  float *Y, *reps, *xyz;
  int *roi, *split, *run;
} subject_data;

static int subject_read(const char *path, subject_data *s) {
  memset(s, 0, sizeof *s);
  int ncid = nc_open_self(path);
  if (ncid < 0) return -1;
  s->n = dim_len(ncid, "stimulus");
  s->v = dim_len(ncid, "voxel");
  s->r = dim_len(ncid, "repetition");
  s->t = dim_len(ncid, "test_stimulus");
  s->Y = get_floats(ncid, "responses", s->n * s->v);
  s->reps = get_floats(ncid, "test_repetitions", s->r * s->t * s->v);
  s->xyz = get_floats(ncid, "voxel_xyz", 3 * s->v);
  s->roi = get_ints(ncid, "roi_index", s->v);
  s->split = get_ints(ncid, "split", s->n);
  int v;
  if (ncmpi_inq_varid(ncid, "run", &v) == NC_NOERR) s->run = get_ints(ncid, "run", s->n);
  ncmpi_close(ncid);
  return 0;
}

static void subject_free(subject_data *s) {
  free(s->Y);
  free(s->reps);
  free(s->xyz);
  free(s->roi);
  free(s->split);
  free(s->run);
}

static float *features_read(const char *path, const char *var, long *n, long *p) {
  int ncid = nc_open_self(path), v, dims[2];
  MPI_Offset len[2];
  if (ncid < 0) return NULL;
  if (ncmpi_inq_varid(ncid, var, &v) != NC_NOERR) {
    TU_CHECK(0, "%s: no variable %s", path, var);
    ncmpi_close(ncid);
    return NULL;
  }
  ncmpi_inq_vardimid(ncid, v, dims);
  ncmpi_inq_dimlen(ncid, dims[0], &len[0]);
  ncmpi_inq_dimlen(ncid, dims[1], &len[1]);
  *n = (long)len[0];
  *p = (long)len[1];
  float *F = get_floats(ncid, var, *n * *p);
  ncmpi_close(ncid);
  return F;
}

/* ---- a small ridge, for the planted structure ------------------------------ */

static int cholesky(double *A, long p) {
  for (long j = 0; j < p; j++) {
    double d = A[j * p + j];
    for (long k = 0; k < j; k++) d -= A[j * p + k] * A[j * p + k];
    if (d <= 0) return -1;
    A[j * p + j] = sqrt(d);
    for (long i = j + 1; i < p; i++) {
      double s = A[i * p + j];
      for (long k = 0; k < j; k++) s -= A[i * p + k] * A[j * p + k];
      A[i * p + j] = s / A[j * p + j];
    }
  }
  return 0;
}

static void chol_solve(const double *L, long p, double *b) {
  for (long i = 0; i < p; i++) {
    for (long k = 0; k < i; k++) b[i] -= L[i * p + k] * b[k];
    b[i] /= L[i * p + i];
  }
  for (long i = p - 1; i >= 0; i--) {
    for (long k = i + 1; k < p; k++) b[i] -= L[k * p + i] * b[k];
    b[i] /= L[i * p + i];
  }
}

static double pearson(const double *a, const double *b, long n) {
  double ma = 0, mb = 0, sab = 0, saa = 0, sbb = 0;
  for (long i = 0; i < n; i++) ma += a[i], mb += b[i];
  ma /= n;
  mb /= n;
  for (long i = 0; i < n; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  return saa > 0 && sbb > 0 ? sab / sqrt(saa * sbb) : 0;
}

/* Design matrix (n x p*nd, row-major): features z-scored with training
 * statistics, copies shifted by each delay within runs (zero-filled). */
static double *design(const float *F, long n, long p, const subject_data *s,
                      const int *delays, int nd) {
  double *Z = calloc((size_t)(n * p), sizeof(double));
  double *X = calloc((size_t)(n * p * nd), sizeof(double));
  for (long j = 0; j < p; j++) {
    double m = 0, v = 0;
    long ntr = 0;
    for (long t = 0; t < n; t++)
      if (!s->split[t]) m += F[t * p + j], ntr++;
    m /= ntr;
    for (long t = 0; t < n; t++)
      if (!s->split[t]) v += (F[t * p + j] - m) * (F[t * p + j] - m);
    double sd = sqrt(v / ntr);
    for (long t = 0; t < n; t++) Z[t * p + j] = (F[t * p + j] - m) / sd;
  }
  for (int d = 0; d < nd; d++)
    for (long t = 0; t < n; t++) {
      long src = t - delays[d];
      int same_run = src >= 0 && (s->run ? s->run[src] == s->run[t] : s->split[src] == s->split[t]);
      if (!same_run) continue;
      for (long j = 0; j < p; j++) X[t * p * nd + d * p + j] = Z[src * p + j];
    }
  free(Z);
  return X;
}

/* Test-set r of every voxel for a ridge fit on the training rows. */
static void ridge_scores(const double *X, long n, long q, const subject_data *s,
                         double lambda, double *r) {
  double *G = calloc((size_t)(q * q), sizeof(double)), *b = calloc((size_t)q, sizeof(double));
  double *pred = calloc((size_t)n, sizeof(double)), *obs = calloc((size_t)n, sizeof(double));
  for (long t = 0; t < n; t++)
    if (!s->split[t])
      for (long i = 0; i < q; i++)
        for (long k = 0; k <= i; k++) G[i * q + k] += X[t * q + i] * X[t * q + k];
  for (long i = 0; i < q; i++) G[i * q + i] += lambda;
  TU_CHECK(cholesky(G, q) == 0, "cholesky failed");
  for (long v = 0; v < s->v; v++) {
    double mean = 0;
    long ntr = 0, nte = 0;
    for (long t = 0; t < n; t++)
      if (!s->split[t]) mean += s->Y[t * s->v + v], ntr++;
    mean /= ntr;
    memset(b, 0, sizeof(double) * (size_t)q);
    for (long t = 0; t < n; t++)
      if (!s->split[t])
        for (long i = 0; i < q; i++) b[i] += X[t * q + i] * (s->Y[t * s->v + v] - mean);
    chol_solve(G, q, b);
    for (long t = 0; t < n; t++) {
      if (!s->split[t]) continue;
      pred[nte] = 0;
      for (long i = 0; i < q; i++) pred[nte] += X[t * q + i] * b[i];
      obs[nte++] = s->Y[t * s->v + v];
    }
    r[v] = pearson(pred, obs, nte);
  }
  free(G);
  free(b);
  free(pred);
  free(obs);
}

/* Mean test r per ROI of one variant, summed over subjects into sum[],
 * counts into cnt[]. */
static void roi_scores(const char *dir, const char *var, int n_sub, const int *delays,
                       int nd, double *sum, long *cnt) {
  char path[512], name[32];
  long n, p;
  file_of(path, sizeof path, dir, "features.nc");
  float *F = features_read(path, var, &n, &p);
  if (!F) return;
  for (int i = 0; i < 10; i++) sum[i] = 0, cnt[i] = 0;
  for (int sub = 0; sub < n_sub; sub++) {
    subject_data s;
    snprintf(name, sizeof name, "sub-%02d.nc", sub + 1);
    file_of(path, sizeof path, dir, name);
    if (subject_read(path, &s)) continue;
    double *X = design(F, n, p, &s, delays, nd), *r = calloc((size_t)s.v, sizeof(double));
    ridge_scores(X, n, p * nd, &s, 0.5 * n, r);
    for (long v = 0; v < s.v; v++) sum[s.roi[v]] += r[v], cnt[s.roi[v]]++;
    free(X);
    free(r);
    subject_free(&s);
  }
  for (int i = 0; i < 10; i++) sum[i] /= cnt[i] ? cnt[i] : 1;
  free(F);
}

/* ---- tests ------------------------------------------------------------------ */

static void test_presets(void) {
  sim_params p;
  TU_OK(sim_preset("demo", 1.0, 3, &p));
  TU_CHECK(p.n_subjects == 3 && p.n_train == 240 && p.n_test == 40 && p.n_rep == 4 &&
               p.n_vox == 600 && p.n_feat == 64 && p.n_layers == 2 && !p.time_series &&
               p.seed == 3 && p.format == IO_CDF2,
           "demo preset");
  TU_OK(sim_preset("god", 1.0, 1, &p));
  TU_CHECK(p.n_subjects == 5 && p.n_train == 1200 && p.n_test == 50 && p.n_rep == 35 &&
               p.n_vox == 4500 && p.n_feat == 1000 && p.n_layers == 6,
           "god preset");
  TU_OK(sim_preset("shortclips", 1.0, 1, &p));
  TU_CHECK(p.n_train == 3600 && p.n_runs == 12 && p.n_test == 270 && p.n_rep == 10 &&
               p.n_test_runs == 1 && p.n_vox == 84000 && p.n_feat == 768 &&
               p.time_series && p.lag == 2,
           "shortclips preset");
  TU_OK(sim_preset("shortclips", 0.001, 1, &p));
  TU_CHECK(p.n_runs >= 2 && p.n_train / p.n_runs >= 20 && p.n_test >= 20 &&
               p.n_vox >= 100 && p.n_feat >= 8,
           "shortclips minima: %d runs, %ld train, %ld test, %ld vox, %ld feat", p.n_runs,
           p.n_train, p.n_test, p.n_vox, p.n_feat);
  TU_OK(sim_preset("shortclips", 0.05, 1, &p));
  TU_CHECK(p.n_train % p.n_runs == 0 && p.n_train / p.n_runs >= 20, "runs of equal length");
  TU_FAILS_WITH(sim_preset("dmeo", 1.0, 1, &p), VF_E_INPUT, "unknown preset 'dmeo'");
  TU_FAILS_WITH(sim_preset("demo", 0.0, 1, &p), VF_E_INPUT, "--scale");
  TU_FAILS_WITH(sim_preset("demo", 1.5, 1, &p), VF_E_INPUT, "--scale");
}

static void gen(MPI_Comm comm, const char *preset, double scale, uint64_t seed, int subjects,
                io_format fmt, const char *dir) {
  sim_params p;
  char out[512];
  TU_OK(sim_preset(preset, scale, seed, &p));
  if (subjects) p.n_subjects = subjects;
  p.format = fmt;
  dir_of(out, sizeof out, dir);
  TU_OK(sim_generate(comm, &p, out));
}

static const char *demo_files[] = {"features.nc", "sub-01.nc", "sub-02.nc", "sub-03.nc",
                                   "truth.yaml", "job.yaml"};

static void check_same_dirs(const char *a, const char *b, int want_same) {
  char pa[512], pb[512];
  int n = want_same ? 6 : 2; /* a new seed must change the data files */
  for (int i = 0; i < n; i++) {
    file_of(pa, sizeof pa, a, demo_files[i]);
    file_of(pb, sizeof pb, b, demo_files[i]);
    int r = same_bytes(pa, pb);
    TU_CHECK(r == want_same, "%s vs %s: same=%d, wanted %d", pa, pb, r, want_same);
  }
}

static void test_determinism(void) {
  gen(MPI_COMM_WORLD, "demo", 1.0, 7, 0, IO_CDF2, "a");
  gen(MPI_COMM_WORLD, "demo", 1.0, 7, 0, IO_CDF2, "b");
  gen(MPI_COMM_WORLD, "demo", 1.0, 8, 0, IO_CDF2, "c");
  if (rank_ == 0) {
    check_same_dirs("a", "b", 1);
    check_same_dirs("a", "c", 0);
  }
  if (size_ > 1) { /* the same files from one rank alone */
    if (rank_ == 0) gen(MPI_COMM_SELF, "demo", 1.0, 7, 0, IO_CDF2, "d");
    if (rank_ == 0) check_same_dirs("a", "d", 1);
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

static void check_features_file(const char *path, long n, long p) {
  static const char *vars[] = {"mm_visual_l1", "uni_visual_l1", "mm_visual_l2",
                               "uni_visual_l2"};
  int ncid = nc_open_self(path), nvars = 0;
  if (ncid < 0) return;
  TU_CHECK(dim_len(ncid, "stimulus") == n, "features: stimulus");
  ncmpi_inq_nvars(ncid, &nvars);
  TU_CHECK(nvars == 4, "demo has 4 variants, got %d", nvars);
  for (int i = 0; i < 4; i++) {
    char dim[80], text[64];
    int v, layer = 0;
    snprintf(dim, sizeof dim, "feat_%s", vars[i]);
    check_var(ncid, vars[i], NC_FLOAT, "stimulus", dim, NULL);
    TU_CHECK(dim_len(ncid, dim) == p, "%s has %ld features", dim, dim_len(ncid, dim));
    if (ncmpi_inq_varid(ncid, vars[i], &v)) continue;
    text_att(ncid, v, "model", text, sizeof text);
    TU_CHECK(!strcmp(text, "synthetic-vit"), "%s model %s", vars[i], text);
    text_att(ncid, v, "tower", text, sizeof text);
    TU_CHECK(!strcmp(text, "visual"), "%s tower %s", vars[i], text);
    text_att(ncid, v, "training", text, sizeof text);
    TU_CHECK(!strcmp(text, i % 2 ? "unimodal" : "multimodal"), "%s training %s", vars[i], text);
    ncmpi_get_att_int(ncid, v, "layer", &layer);
    TU_CHECK(layer == 1 + i / 2, "%s layer %d", vars[i], layer);
  }
  ncmpi_close(ncid);
}

static void check_responses_layout(const char *path, long n, long r, long t) {
  int ncid = nc_open_self(path), v;
  char text[64];
  if (ncid < 0) return;
  long V = dim_len(ncid, "voxel"), L = dim_len(ncid, "name_len");
  TU_CHECK(dim_len(ncid, "stimulus") == n && V >= 500 && V <= 700 &&
               dim_len(ncid, "roi") == 10 && dim_len(ncid, "repetition") == r &&
               dim_len(ncid, "test_stimulus") == t && dim_len(ncid, "xyz") == 3 && L > 3,
           "%s: dimensions", path);
  check_var(ncid, "responses", NC_FLOAT, "stimulus", "voxel", NULL);
  check_var(ncid, "roi_index", NC_INT, "voxel", NULL, NULL);
  check_var(ncid, "roi_name", NC_CHAR, "roi", "name_len", NULL);
  check_var(ncid, "split", NC_INT, "stimulus", NULL, NULL);
  check_var(ncid, "test_repetitions", NC_FLOAT, "repetition", "test_stimulus", "voxel");
  check_var(ncid, "voxel_xyz", NC_FLOAT, "voxel", "xyz", NULL);
  TU_CHECK(ncmpi_inq_varid(ncid, "run", &v) != NC_NOERR, "demo has no runs");
  text_att(ncid, NC_GLOBAL, "subject", text, sizeof text);
  TU_CHECK(!strcmp(text, "sub-01"), "subject attribute '%s'", text);
  char *names = calloc(10 * (size_t)L + 1, 1);
  if (!ncmpi_inq_varid(ncid, "roi_name", &v)) ncmpi_get_var_text_all(ncid, v, names);
  for (int i = 0; i < 10; i++)
    TU_CHECK(!strncmp(names + i * L, roi_names[i], (size_t)L), "roi_name[%d] = %.*s", i,
             (int)L, names + i * L);
  free(names);
  ncmpi_close(ncid);
}

/* Labels, ROI sizes, coordinates, repetitions vs means. */
static void check_responses_data(const subject_data *s, long n_train) {
  long count[10] = {0}, bad = 0;
  for (long v = 0; v < s->v; v++) {
    if (s->roi[v] < 0 || s->roi[v] >= 10) bad++;
    else count[s->roi[v]]++;
  }
  TU_CHECK(bad == 0, "%ld voxels without a ROI", bad);
  for (int i = 0; i < 10; i++) TU_CHECK(count[i] >= 3, "%s has %ld voxels", roi_names[i], count[i]);
  for (long t = 0; t < s->n; t++) bad += s->split[t] != (t >= n_train);
  TU_CHECK(bad == 0, "split is train then test");
  /* distinct integer coordinates inside the grid, listed in grid order */
  double prev = -1;
  for (long v = 0; v < s->v; v++) {
    const float *c = s->xyz + 3 * v;
    double key = c[0] + 96.0 * (c[1] + 112.0 * c[2]);
    bad += c[0] != floorf(c[0]) || c[0] < 0 || c[0] >= 96 || c[1] < 0 || c[1] >= 112 ||
           c[2] < 0 || c[2] >= 96 || key <= prev;
    prev = key;
  }
  TU_CHECK(bad == 0, "%ld bad voxel coordinates", bad);
  double worst = 0;
  for (long v = 0; v < s->v; v++)
    for (long i = 0; i < s->t; i++) {
      double m = 0;
      for (long k = 0; k < s->r; k++) m += s->reps[(k * s->t + i) * s->v + v];
      m /= s->r;
      double y = s->Y[(n_train + i) * s->v + v], e = fabs(m - y) / (fabs(y) + 1);
      if (e > worst) worst = e;
    }
  TU_CHECK(worst < 1e-6, "test rows are the mean of the repetitions (worst %g)", worst);
}

/* Lag-1 autocorrelation of (repetition - mean of repetitions): pure noise. */
static double noise_autocorr(const subject_data *s) {
  double sum = 0;
  long cnt = 0;
  double *e = calloc((size_t)s->t, sizeof(double));
  for (long v = 0; v < s->v; v++) {
    for (long i = 0; i < s->t; i++) {
      double m = 0;
      for (long k = 0; k < s->r; k++) m += s->reps[(k * s->t + i) * s->v + v];
      e[i] = s->reps[i * s->v + v] - m / s->r;
    }
    sum += pearson(e, e + 1, s->t - 1);
    cnt++;
  }
  free(e);
  return sum / cnt;
}

static void test_layout(void) {
  char path[512];
  subject_data s;
  if (rank_ != 0) return;
  file_of(path, sizeof path, "a", "features.nc");
  check_features_file(path, 280, 64);
  file_of(path, sizeof path, "a", "sub-01.nc");
  check_responses_layout(path, 280, 4, 40);
  if (subject_read(path, &s)) return;
  check_responses_data(&s, 240);
  double ac = noise_autocorr(&s);
  TU_CHECK(fabs(ac) < 0.1, "image noise is independent (lag-1 autocorrelation %.3f)", ac);
  subject_free(&s);
  file_of(path, sizeof path, "a", "truth.yaml");
  TU_CHECK(contains(path, "{name: V1, effect: none") &&
               contains(path, "{name: LOC, effect: semantic") && contains(path, "seed: 7"),
           "truth.yaml names the planted effects");
  file_of(path, sizeof path, "a", "job.yaml");
  TU_CHECK(contains(path, "- [mm-vis-l2, uni-vis-l2]") &&
               contains(path, "variable: uni_visual_l1") &&
               contains(path, "cv: {scheme: kfold, folds: 5}") &&
               contains(path, "responses: sub-03.nc"),
           "job.yaml");
}

/* Multimodal beats unimodal in semantic ROIs, not in V1-V3; V1 prefers the
 * early layer, language ROIs the deep multimodal one. */
static void test_planted(void) {
  static const int d0[1] = {0};
  double mm1[10], uni1[10], mm2[10], uni2[10];
  long cnt[10];
  if (rank_ != 0) return;
  roi_scores("a", "mm_visual_l1", 3, d0, 1, mm1, cnt);
  roi_scores("a", "uni_visual_l1", 3, d0, 1, uni1, cnt);
  roi_scores("a", "mm_visual_l2", 3, d0, 1, mm2, cnt);
  roi_scores("a", "uni_visual_l2", 3, d0, 1, uni2, cnt);
  if (getenv("VOXFIT_TEST_VERBOSE"))
    for (int i = 0; i < 10; i++)
      printf("%-4s n=%4ld  l1 mm %.3f uni %.3f   l2 mm %.3f uni %.3f\n", roi_names[i], cnt[i],
             mm1[i], uni1[i], mm2[i], uni2[i]);
  for (int i = 0; i < 3; i++)
    TU_CHECK(fabs(mm2[i] - uni2[i]) < 0.04 && fabs(mm1[i] - uni1[i]) < 0.04,
             "%s is a null ROI: mm-uni %.3f (l1), %.3f (l2)", roi_names[i], mm1[i] - uni1[i],
             mm2[i] - uni2[i]);
  for (int i = 4; i < 10; i++)
    TU_CHECK(mm2[i] - uni2[i] > 0.1, "%s: multimodal beats unimodal (%.3f vs %.3f)",
             roi_names[i], mm2[i], uni2[i]);
  TU_CHECK(mm2[3] - uni2[3] > 0.02, "V4 has a small semantic effect (%.3f)", mm2[3] - uni2[3]);
  TU_CHECK(mm1[0] > mm2[0] + 0.1, "V1 prefers layer 1 (%.3f vs %.3f)", mm1[0], mm2[0]);
  TU_CHECK(mm2[7] > mm1[7] + 0.05, "IFG prefers layer 2 (%.3f vs %.3f)", mm2[7], mm1[7]);
}

/* Runs, lag and AR noise of the time-series preset. */
static void test_time_series(void) {
  static const int d0[1] = {0}, d2[1] = {2};
  char path[512];
  sim_params p;
  subject_data s;
  gen(MPI_COMM_WORLD, "shortclips", 0.02, 5, 2, IO_CDF2, "ts");
  if (rank_ != 0) return;
  TU_OK(sim_preset("shortclips", 0.02, 5, &p));
  file_of(path, sizeof path, "ts", "sub-01.nc");
  if (subject_read(path, &s)) return;
  TU_CHECK(s.run != NULL && s.n == p.n_train + p.n_test && s.r == 10, "time series layout");
  long bad = 0, per_run = p.n_train / p.n_runs;
  for (long t = 0; s.run && t < s.n; t++)
    bad += s.run[t] != (t < p.n_train ? t / per_run : p.n_runs);
  TU_CHECK(bad == 0, "runs 0..%d then the test run %d", p.n_runs - 1, p.n_runs);
  double ac = noise_autocorr(&s);
  TU_CHECK(ac > 0.25 && ac < 0.65, "AR(1) noise within runs (lag-1 autocorrelation %.3f)", ac);
  subject_free(&s);
  double r0[10], r2[10];
  long cnt[10];
  roi_scores("ts", "mm_visual_l1", 2, d0, 1, r0, cnt);
  roi_scores("ts", "mm_visual_l1", 2, d2, 1, r2, cnt);
  if (getenv("VOXFIT_TEST_VERBOSE"))
    printf("time series: noise autocorrelation %.3f, V1 r %.3f (lag 0) %.3f (lag 2)\n", ac,
           r0[0], r2[0]);
  TU_CHECK(r2[0] > r0[0] + 0.15, "V1 responds 2 TRs late (r %.3f at lag 2, %.3f at 0)", r2[0],
           r0[0]);
  file_of(path, sizeof path, "ts", "job.yaml");
  TU_CHECK(contains(path, "leave-one-run-out") && contains(path, "delays: [1, 2, 3, 4]") &&
               contains(path, "- [mm-lng-l6, uni-lng-l6]"),
           "time-series job.yaml");
}

static void test_formats(void) {
  static const io_format fmts[3] = {IO_CDF1, IO_CDF2, IO_CDF5};
  static const int want[3] = {NC_FORMAT_CLASSIC, NC_FORMAT_CDF2, NC_FORMAT_CDF5};
  static const char *dirs[3] = {"f1", "f2", "f5"};
  for (int i = 0; i < 3; i++) gen(MPI_COMM_WORLD, "demo", 0.3, 9, 1, fmts[i], dirs[i]);
  if (rank_ != 0) return;
  subject_data ref;
  char path[512];
  file_of(path, sizeof path, "f2", "sub-01.nc");
  if (subject_read(path, &ref)) return;
  for (int i = 0; i < 3; i++) {
    int fmt = -1;
    subject_data s;
    file_of(path, sizeof path, dirs[i], "sub-01.nc");
    ncmpi_inq_file_format(path, &fmt);
    TU_CHECK(fmt == want[i], "%s: format %d, wanted %d", path, fmt, want[i]);
    if (subject_read(path, &s)) continue;
    TU_CHECK(s.v == ref.v && !memcmp(s.Y, ref.Y, sizeof(float) * (size_t)(s.n * s.v)),
             "%s holds the same responses", path);
    subject_free(&s);
    file_of(path, sizeof path, dirs[i], "features.nc");
    ncmpi_inq_file_format(path, &fmt);
    TU_CHECK(fmt == want[i], "%s: format %d", path, fmt);
  }
  subject_free(&ref);
}

/* The writer alone: optional variables left out, bad blocks refused. */
static void test_writer(void) {
  char path[512];
  io_writer *w = NULL;
  const char names[2][IO_NAME_LEN] = {"A", "LongerName"};
  int roi[3] = {0, 1, -1};
  float Y[2 * 3] = {1, 2, 3, 4, 5, 6};
  io_responses_layout lay = {2, 3, 0, 0, 2, names, roi, NULL, NULL, NULL, NULL};
  dir_of(path, sizeof path, "w.nc");
  TU_OK(io_responses_create(MPI_COMM_WORLD, path, IO_CDF5, &lay, &w));
  TU_OK(io_responses_write_block(w, 0, rank_ == 0 ? 3 : 0, Y));
  TU_FAILS_WITH(io_responses_write_block(w, 2, 2, Y), VF_E_INTERNAL, "outside");
  TU_FAILS_WITH(io_responses_write_reps(w, 0, 1, Y), VF_E_INTERNAL, "no test_repetitions");
  TU_OK(io_writer_close(&w));
  TU_CHECK(w == NULL, "close NULLs the writer");
  TU_OK(io_writer_close(&w));
  if (rank_ == 0) {
    int ncid = nc_open_self(path), v;
    if (ncid < 0) return;
    TU_CHECK(ncmpi_inq_varid(ncid, "split", &v) && ncmpi_inq_varid(ncid, "run", &v) &&
                 ncmpi_inq_varid(ncid, "voxel_xyz", &v) &&
                 ncmpi_inq_varid(ncid, "test_repetitions", &v) &&
                 dim_len(ncid, "repetition") < 0 && dim_len(ncid, "name_len") == 11,
             "optional variables left out");
    float *got = get_floats(ncid, "responses", 6);
    /* Y is voxel-major; the file is stimulus-major */
    TU_CHECK(got[0] == 1 && got[1] == 3 && got[2] == 5 && got[3] == 2 && got[5] == 6,
             "responses transposed into the file");
    free(got);
    ncmpi_close(ncid);
  }
  TU_FAILS_WITH(io_responses_create(MPI_COMM_WORLD, "/nonexistent-dir/x.nc", IO_CDF2, &lay, &w),
                VF_E_IO, "/nonexistent-dir/x.nc");
}

static void test_errors(void) {
  sim_params p;
  char out[600];
  TU_OK(sim_preset("demo", 0.2, 1, &p));
  file_of(out, sizeof out, "a", "truth.yaml/sub"); /* below a plain file */
  TU_FAILS_WITH(sim_generate(MPI_COMM_WORLD, &p, out), VF_E_IO, "cannot create folder");
  p.n_subjects = 0;
  TU_FAILS_WITH(sim_generate(MPI_COMM_WORLD, &p, out), VF_E_INPUT, "subjects");
}

static void remove_tree(void) {
  if (rank_ != 0 || getenv("VOXFIT_TEST_KEEP")) return;
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", root_);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", root_);
}

int main(int argc, char **argv) {
  la_blas_setup(argv); /* the kernels voxfit runs */
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  vf_log_set_level(VF_LOG_WARN);
  make_root();
  test_presets();
  test_determinism();
  test_layout();
  test_planted();
  test_time_series();
  test_formats();
  test_writer();
  test_errors();
  MPI_Barrier(MPI_COMM_WORLD);
  remove_tree();
  return tu_finish("sim");
}
