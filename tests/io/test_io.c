/* ranks: 1 */
/* The input reader: round trips through CDF-1/2/5 files written here with
 * raw ncmpi_* calls (float and double storage, row and voxel subsets,
 * a tiny read buffer to force many batches), and one broken file per
 * check the reader makes, each asserted by its message. Works on any
 * number of ranks (each rank reads its own subsets). */
#include <pnetcdf.h>
#include <stdlib.h>
#include <unistd.h>

#include "testutil.h"
#include "voxfit/linalg.h"
#include "voxfit/io.h"

static int rank_;
static char dir_[256];
static char files_[64][512];
static int n_files_;

/* A path in the test folder, remembered for clean-up. */
static const char *tpath(const char *name) {
  static char buf[8][512];
  static int k;
  char *p = buf[k++ % 8];
  snprintf(p, 512, "%s/%s", dir_, name);
  int seen = 0;
  for (int i = 0; i < n_files_; i++) seen |= strcmp(files_[i], p) == 0;
  if (!seen && n_files_ < 64) snprintf(files_[n_files_++], 512, "%s", p);
  return p;
}

static void nc_ok(int err, const char *what) {
  if (err != NC_NOERR) {
    fprintf(stderr, "test_io: %s: %s\n", what, ncmpi_strerror(err));
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
}

static int fmt_flags(int fmt) {
  return NC_CLOBBER | (fmt == 2 ? NC_64BIT_OFFSET : fmt == 5 ? NC_64BIT_DATA : 0);
}

/* Exact in float and in double: small integers over 4. */
static double fval(long s, long j) { return (double)(s * 100 + j) * 0.25 - 7.0; }
/* Not representable in float: checks double storage stays double. */
static double dval(long s, long j) { return (double)(s * 100 + j) + 1.0 / 3.0; }
static double yval(long s, long v) { return (double)(s * 1000 + v) * 0.5 - 3.0; }
static double rval(long k, long t, long v) { return (double)(k * 10000 + t * 100 + v); }

/* Rank 0 writes whole variables; the others take part in the collectives. */
static void put_doubles(int ncid, int varid, const double *d) {
  nc_ok(ncmpi_begin_indep_data(ncid), "begin_indep");
  if (rank_ == 0) nc_ok(ncmpi_put_var_double(ncid, varid, d), "put double");
  nc_ok(ncmpi_end_indep_data(ncid), "end_indep");
}

static void put_ints(int ncid, int varid, const int *d) {
  nc_ok(ncmpi_begin_indep_data(ncid), "begin_indep");
  if (rank_ == 0) nc_ok(ncmpi_put_var_int(ncid, varid, d), "put int");
  nc_ok(ncmpi_end_indep_data(ncid), "end_indep");
}

static void put_text(int ncid, int varid, const char *d) {
  nc_ok(ncmpi_begin_indep_data(ncid), "begin_indep");
  if (rank_ == 0) nc_ok(ncmpi_put_var_text(ncid, varid, d), "put text");
  nc_ok(ncmpi_end_indep_data(ncid), "end_indep");
}

/* ---- features files ----------------------------------------------------- */

/* Variables names[0..nv) each (stimulus, feat_i) of type t, N x P,
 * values fval or dval. transposed: stored (feat, stimulus) instead. */
static void write_features(const char *path, int fmt, nc_type t, long N,
                           long P, const char *const *names, int nv,
                           int transposed) {
  int ncid, dim_s, varids[8];
  nc_ok(ncmpi_create(MPI_COMM_WORLD, path, fmt_flags(fmt), MPI_INFO_NULL, &ncid),
        "create features");
  nc_ok(ncmpi_def_dim(ncid, "stimulus", N, &dim_s), "def stimulus");
  for (int i = 0; i < nv; i++) {
    char fname[64];
    int dim_f;
    snprintf(fname, sizeof fname, "feat_%d", i);
    nc_ok(ncmpi_def_dim(ncid, fname, P, &dim_f), "def feat");
    int dims[2] = {dim_s, dim_f};
    if (transposed) dims[0] = dim_f, dims[1] = dim_s;
    nc_ok(ncmpi_def_var(ncid, names[i], t, 2, dims, &varids[i]), "def var");
  }
  nc_ok(ncmpi_enddef(ncid), "enddef");
  double *F = malloc(sizeof(double) * N * P);
  for (long s = 0; s < N; s++)
    for (long j = 0; j < P; j++) {
      double x = t == NC_DOUBLE ? dval(s, j) : fval(s, j);
      if (transposed) F[j * N + s] = x;
      else F[s * P + j] = x;
    }
  for (int i = 0; i < nv; i++) put_doubles(ncid, varids[i], F);
  free(F);
  nc_ok(ncmpi_close(ncid), "close");
}

/* Reads rows of a features file back and compares exactly. */
static void check_features_rows(const char *path, const char *var, nc_type t,
                                 long N, long P, const long *rows, long nrows,
                                 const char *label) {
  io_features_info info = {0, 0};
  TU_OK(io_features_info_read(MPI_COMM_WORLD, path, var, &info));
  TU_CHECK(info.n_stim == N && info.n_feat == P, "%s: info %ld x %ld", label,
           info.n_stim, info.n_feat);
  double *X = calloc((size_t)(nrows * P + 1), sizeof(double));
  TU_OK(io_features_read_rows(MPI_COMM_WORLD, path, var, rows, nrows, X));
  long bad = 0;
  for (long i = 0; i < nrows; i++)
    for (long j = 0; j < P; j++) {
      double want = t == NC_DOUBLE ? dval(rows[i], j) : fval(rows[i], j);
      bad += X[i + j * nrows] != want;
    }
  TU_CHECK(bad == 0, "%s: %ld values differ", label, bad);
  free(X);
}

static void test_features_roundtrip(void) {
  static const int fmts[3] = {1, 2, 5};
  static const nc_type types[2] = {NC_FLOAT, NC_DOUBLE};
  const char *names[1] = {"features"};
  const long N = 37, P = 11;
  /* train rows then test rows, as a job asks; a rank reads its own set. */
  long rows[] = {3, 4, 5, 6, 20, 21, 0, 36, 35, 10};
  long nrows = 10 - (rank_ % 3);
  long all[37];
  for (long i = 0; i < N; i++) all[i] = i;
  for (int f = 0; f < 3; f++)
    for (int ti = 0; ti < 2; ti++) {
      char name[64], label[64];
      snprintf(name, sizeof name, "feat_cdf%d_%s.nc", fmts[f], ti ? "d" : "f");
      snprintf(label, sizeof label, "CDF-%d %s", fmts[f], ti ? "double" : "float");
      const char *p = tpath(name);
      write_features(p, fmts[f], types[ti], N, P, names, 1, 0);
      check_features_rows(p, "features", types[ti], N, P, rows, nrows, label);
      check_features_rows(p, "features", types[ti], N, P, all, N, label);
      /* A buffer of 5 doubles: every piece is split, many batches. */
      setenv("VOXFIT_IO_BUFFER_BYTES", "40", 1);
      check_features_rows(p, "features", types[ti], N, P, rows, nrows, label);
      unsetenv("VOXFIT_IO_BUFFER_BYTES");
      check_features_rows(p, NULL, types[ti], N, P, rows, 0, label);
    }
}

/* ---- responses files ----------------------------------------------------- */

typedef struct {
  int fmt;
  nc_type type, roi_type, xyz_type;
  long N, V, R, n_rep, n_test, xyz_len;
  const char *names;    /* R names of name_len 8, NUL-padded */
  const int *roi_index; /* V */
  const int *split;     /* N or NULL */
  const int *run;       /* N or NULL */
  const char *split_dim; /* dimension of split; default "stimulus" */
  int swap, with_xyz, no_responses;
} resp_spec;

static int def1(int ncid, const char *name, nc_type t, int dim) {
  int varid;
  nc_ok(ncmpi_def_var(ncid, name, t, 1, &dim, &varid), name);
  return varid;
}

static int def_dim(int ncid, const char *name, long len) {
  int id;
  if (ncmpi_inq_dimid(ncid, name, &id) == NC_NOERR) return id;
  nc_ok(ncmpi_def_dim(ncid, name, len, &id), name);
  return id;
}

typedef struct { int resp, roi_name, roi_index, split, run, reps, xyz; } resp_ids;

static resp_ids define_responses(int ncid, const resp_spec *s) {
  resp_ids id = {-1, -1, -1, -1, -1, -1, -1};
  int ds = def_dim(ncid, "stimulus", s->N), dv = def_dim(ncid, "voxel", s->V);
  int dr = def_dim(ncid, "roi", s->R), dl = def_dim(ncid, "name_len", 8);
  int d2[2] = {ds, dv}, dn[2] = {dr, dl};
  if (s->swap) d2[0] = dv, d2[1] = ds;
  if (!s->no_responses)
    nc_ok(ncmpi_def_var(ncid, "responses", s->type, 2, d2, &id.resp), "resp");
  nc_ok(ncmpi_def_var(ncid, "roi_name", NC_CHAR, 2, dn, &id.roi_name), "names");
  id.roi_index = def1(ncid, "roi_index", s->roi_type, dv);
  if (s->split) {
    const char *sd = s->split_dim ? s->split_dim : "stimulus";
    id.split = def1(ncid, "split", NC_BYTE, def_dim(ncid, sd, s->N - (s->split_dim != NULL)));
  }
  if (s->run) id.run = def1(ncid, "run", NC_SHORT, ds);
  if (s->n_rep > 0) {
    int d3[3] = {def_dim(ncid, "repetition", s->n_rep),
                 def_dim(ncid, "test_stimulus", s->n_test), dv};
    nc_ok(ncmpi_def_var(ncid, "test_repetitions", s->type, 3, d3, &id.reps), "reps");
  }
  if (s->with_xyz) {
    int dx[2] = {dv, def_dim(ncid, "xyz", s->xyz_len)};
    nc_ok(ncmpi_def_var(ncid, "voxel_xyz", s->xyz_type, 2, dx, &id.xyz), "xyz");
  }
  return id;
}

static void write_responses(const char *path, const resp_spec *s) {
  int ncid;
  nc_ok(ncmpi_create(MPI_COMM_WORLD, path, fmt_flags(s->fmt), MPI_INFO_NULL, &ncid),
        "create responses");
  resp_ids id = define_responses(ncid, s);
  nc_ok(ncmpi_enddef(ncid), "enddef");
  long nrep = s->n_rep * s->n_test * s->V, nxyz = s->V * s->xyz_len;
  double *Y = malloc(sizeof(double) * (s->N * s->V + nrep + nxyz + 1));
  for (long a = 0; a < s->N; a++)
    for (long v = 0; v < s->V; v++)
      Y[s->swap ? v * s->N + a : a * s->V + v] = yval(a, v);
  if (id.resp >= 0) put_doubles(ncid, id.resp, Y);
  put_text(ncid, id.roi_name, s->names);
  put_ints(ncid, id.roi_index, s->roi_index);
  if (id.split >= 0) put_ints(ncid, id.split, s->split);
  if (id.run >= 0) put_ints(ncid, id.run, s->run);
  for (long k = 0; k < s->n_rep; k++)
    for (long t = 0; t < s->n_test; t++)
      for (long v = 0; v < s->V; v++)
        Y[(k * s->n_test + t) * s->V + v] = rval(k, t, v);
  if (id.reps >= 0) put_doubles(ncid, id.reps, Y);
  for (long i = 0; i < nxyz; i++) Y[i] = (double)i;
  if (id.xyz >= 0) put_doubles(ncid, id.xyz, Y);
  free(Y);
  nc_ok(ncmpi_close(ncid), "close");
}

enum { N_ = 23, V_ = 41, R_ = 3, NREP_ = 3, NTEST_ = 5 };
static int roi_index_[V_], split_[N_], run_[N_];
static const char names_[R_ * 8 + 1] = "V1\0\0\0\0\0\0" "V2\0\0\0\0\0\0" "hMT+\0\0\0\0";

/* A good spec: 5 test stimuli (indices 4, 9, 14, 19, 22), 3 runs. */
static resp_spec good_spec(int fmt, nc_type t) {
  for (int v = 0; v < V_; v++) roi_index_[v] = v % 4 == 3 ? -1 : v % 4;
  for (int s = 0; s < N_; s++) split_[s] = s % 5 == 4 || s == 22;
  for (int s = 0; s < N_; s++) run_[s] = s / 8;
  resp_spec s = {fmt, t, NC_INT, NC_FLOAT, N_, V_, R_, NREP_, NTEST_, 3,
                 names_, roi_index_, split_, run_, NULL, 0, 1, 0};
  return s;
}

static void check_meta(const io_responses *r, const char *label) {
  TU_CHECK(r->n_stim == N_ && r->n_vox == V_ && r->n_roi == R_, "%s: shape", label);
  TU_CHECK(r->n_rep == NREP_ && r->n_test == NTEST_, "%s: reps %ld x %ld", label,
           r->n_rep, r->n_test);
  TU_CHECK(!strcmp(r->roi_names[0], "V1") && !strcmp(r->roi_names[2], "hMT+"),
           "%s: names", label);
  int bad = 0;
  for (int v = 0; v < V_; v++) bad += r->roi_index[v] != roi_index_[v];
  for (int s = 0; s < N_; s++) bad += r->split[s] != split_[s] || r->run[s] != run_[s];
  for (int i = 0; i < 3 * V_; i++) bad += r->xyz[i] != (double)i;
  TU_CHECK(bad == 0, "%s: %d labels differ", label, bad);
}

static void check_read(const io_responses *r, const char *label) {
  long rows[] = {0, 1, 2, 3, 5, 6, 7, 8, 10, 4, 9, 14, 22};
  long vox[] = {40, 0, 1, 2, 10, 11, 12, 5, 39};
  long nrows = 13 - rank_ % 2, nvox = 9 - (rank_ % 3) * 2;
  double *Y = calloc((size_t)(nrows * nvox + 1), sizeof(double));
  TU_OK(io_responses_read(MPI_COMM_WORLD, r, rows, nrows, vox, nvox, Y));
  long bad = 0;
  for (long j = 0; j < nvox; j++)
    for (long i = 0; i < nrows; i++) bad += Y[i + j * nrows] != yval(rows[i], vox[j]);
  TU_CHECK(bad == 0, "%s: %ld responses differ", label, bad);
  long rv[] = {7, 3, 4, 40};
  long nrv = 4 - rank_ % 2, nq = NREP_ * NTEST_;
  double *Yr = calloc((size_t)(nq * nrv), sizeof(double));
  TU_OK(io_responses_read_reps(MPI_COMM_WORLD, r, rv, nrv, Yr));
  bad = 0;
  for (long j = 0; j < nrv; j++)
    for (long k = 0; k < NREP_; k++)
      for (long s = 0; s < NTEST_; s++)
        bad += Yr[(j * NREP_ + k) * NTEST_ + s] != rval(k, s, rv[j]);
  TU_CHECK(bad == 0, "%s: %ld repetitions differ", label, bad);
  free(Y);
  free(Yr);
}

static void test_responses_roundtrip(void) {
  static const int fmts[3] = {1, 2, 5};
  static const nc_type types[2] = {NC_FLOAT, NC_DOUBLE};
  for (int f = 0; f < 3; f++)
    for (int ti = 0; ti < 2; ti++) {
      char name[64], label[64];
      snprintf(name, sizeof name, "resp_cdf%d_%s.nc", fmts[f], ti ? "d" : "f");
      snprintf(label, sizeof label, "responses CDF-%d %s", fmts[f],
               ti ? "double" : "float");
      resp_spec s = good_spec(fmts[f], types[ti]);
      const char *p = tpath(name);
      write_responses(p, &s);
      io_responses *r = NULL;
      TU_OK(io_responses_open(MPI_COMM_WORLD, p, &r));
      if (!r) continue;
      check_meta(r, label);
      TU_CHECK(r->resp_is_double == (types[ti] == NC_DOUBLE), "%s: type", label);
      check_read(r, label);
      setenv("VOXFIT_IO_BUFFER_BYTES", "24", 1);
      check_read(r, label);
      unsetenv("VOXFIT_IO_BUFFER_BYTES");
      io_responses_destroy(&r);
      io_responses_destroy(&r); /* takes NULL */
      TU_CHECK(r == NULL, "destroy NULLs the pointer");
    }
}

/* ---- broken files -------------------------------------------------------- */

static void run0(const char *cmd) {
  if (rank_ == 0 && system(cmd) != 0) fprintf(stderr, "test_io: failed: %s\n", cmd);
  MPI_Barrier(MPI_COMM_WORLD);
}

static void write_bytes(const char *path, const char *data, size_t n, size_t at) {
  if (rank_ == 0) {
    FILE *f = fopen(path, "wb");
    for (size_t i = 0; i < at; i++) fputc(0, f);
    fwrite(data, 1, n, f);
    fclose(f);
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

static void test_format_checks(void) {
  const char *missing = tpath("missing.nc");
  TU_FAILS_WITH(io_check_format(missing), VF_E_INPUT, "missing.nc: no such file");
  io_responses *r = NULL;
  TU_FAILS_WITH(io_responses_open(MPI_COMM_WORLD, missing, &r), VF_E_INPUT,
                "no such file");
  TU_CHECK(r == NULL, "no struct on failure");

  const char *a = tpath("small.nc"), *h = tpath("small_nc4.nc");
  const char *names[1] = {"features"};
  write_features(a, 1, NC_FLOAT, 4, 3, names, 1, 0);
  char cmd[1200];
  snprintf(cmd, sizeof cmd, "nccopy -k nc4 %s %s", a, h);
  run0(cmd);
  TU_FAILS_WITH(io_check_format(h), VF_E_INPUT, "NetCDF-4/HDF5");
  TU_FAILS_WITH(io_check_format(h), VF_E_INPUT, "nccopy -k cdf5");
  io_features_info info;
  TU_FAILS_WITH(io_features_info_read(MPI_COMM_WORLD, h, "features", &info),
                VF_E_INPUT, "small_nc4.nc: is a NetCDF-4/HDF5 file");

  /* An HDF5 superblock after a 512-byte user block. */
  const char *ub = tpath("userblock.h5");
  write_bytes(ub, "\x89HDF\r\n\x1a\n", 8, 512);
  TU_FAILS_WITH(io_check_format(ub), VF_E_INPUT, "nccopy -k cdf5");

  const char *txt = tpath("notes.txt");
  write_bytes(txt, "stimulus,voxel\n1,2\n", 19, 0);
  TU_FAILS_WITH(io_check_format(txt), VF_E_INPUT,
                "notes.txt: not a NetCDF classic (CDF-1/2/5) file");
  TU_FAILS_WITH(io_features_info_read(MPI_COMM_WORLD, txt, "features", &info),
                VF_E_INPUT, "not a NetCDF classic");
  const char *empty = tpath("empty.nc");
  write_bytes(empty, "", 0, 0);
  TU_FAILS_WITH(io_check_format(empty), VF_E_INPUT, "not a NetCDF classic");
  TU_FAILS_WITH(io_check_format(dir_), VF_E_INPUT, "is a directory");
  TU_OK(io_check_format(a));
}

static void test_features_broken(void) {
  const char *p = tpath("layers.nc");
  const char *names[2] = {"mm_visual_l1", "mm_visual_l2"};
  io_features_info info;
  write_features(p, 2, NC_FLOAT, 6, 4, names, 2, 0);
  TU_FAILS_WITH(io_features_info_read(MPI_COMM_WORLD, p, "mm_visual_l3", &info),
                VF_E_INPUT,
                "layers.nc: no variable 'mm_visual_l3' (variables here: "
                "mm_visual_l1, mm_visual_l2)");
  long rows[2] = {1, 6};
  double X[8];
  TU_FAILS_WITH(io_features_read_rows(MPI_COMM_WORLD, p, "mm_visual_l1", rows, 2, X),
                VF_E_INPUT, "has 6 stimuli but stimulus 6 was asked for");

  const char *q = tpath("transposed.nc");
  write_features(q, 5, NC_DOUBLE, 6, 4, names, 1, 1);
  TU_FAILS_WITH(io_features_info_read(MPI_COMM_WORLD, q, "mm_visual_l1", &info),
                VF_E_INPUT,
                "variable 'mm_visual_l1' has dimensions (feat_0, stimulus); "
                "expected (stimulus, <feature dimension>)");
  const char *ip = tpath("intfeat.nc");
  write_features(ip, 1, NC_INT, 6, 4, names, 1, 0);
  TU_FAILS_WITH(io_features_info_read(MPI_COMM_WORLD, ip, "mm_visual_l1", &info),
                VF_E_INPUT, "has type int; expected float or double");
}

/* Writes spec s to name, then io_responses_open must fail with substr. */
static void expect_open_fails(const char *name, const resp_spec *s,
                              const char *substr) {
  const char *p = tpath(name);
  write_responses(p, s);
  io_responses *r = NULL;
  TU_FAILS_WITH(io_responses_open(MPI_COMM_WORLD, p, &r), VF_E_INPUT, substr);
  TU_CHECK(r == NULL, "%s: no struct on failure", name);
  io_responses_destroy(&r);
}

static void test_responses_broken(void) {
  resp_spec s = good_spec(1, NC_FLOAT);
  s.swap = 1;
  expect_open_fails("swapped.nc", &s,
                    "swapped.nc: variable 'responses' has dimensions (voxel, "
                    "stimulus); expected (stimulus, voxel)");
  s = good_spec(2, NC_FLOAT);
  s.no_responses = 1;
  expect_open_fails("noresp.nc", &s,
                    "noresp.nc: no variable 'responses' (variables here: "
                    "roi_name, roi_index, split, run, test_repetitions, voxel_xyz)");

  s = good_spec(5, NC_FLOAT);
  roi_index_[17] = 7;
  expect_open_fails("roirange.nc", &s,
                    "roirange.nc: roi_index(voxel) = 7 at voxel 17 but roi_name "
                    "has 3 names");
  s = good_spec(1, NC_FLOAT);
  s.roi_type = NC_FLOAT;
  expect_open_fails("roifloat.nc", &s,
                    "variable 'roi_index' has type float; expected an integer");

  s = good_spec(1, NC_DOUBLE);
  split_[5] = 2;
  expect_open_fails("split2.nc", &s,
                    "split2.nc: split(stimulus) = 2 at stimulus 5; expected 0 "
                    "(training) or 1 (test)");
  s = good_spec(1, NC_FLOAT);
  s.split_dim = "trial";
  expect_open_fails("splitdim.nc", &s,
                    "variable 'split' has dimensions (trial); expected (stimulus)");

  /* repetitions of 4 test stimuli while split marks 5: the file opens
   * (a job may give its own split of 4); the plan checks the count
   * against the split the job uses (tests/cli/test_errors.sh) */
  s = good_spec(2, NC_FLOAT);
  s.n_test = 4;
  {
    const char *p = tpath("reps.nc");
    write_responses(p, &s);
    io_responses *r = NULL;
    TU_OK(io_responses_open(MPI_COMM_WORLD, p, &r));
    TU_CHECK(r && r->n_rep == NREP_ && r->n_test == 4, "reps.nc: %ld x %ld repetitions",
             r ? r->n_rep : -1, r ? r->n_test : -1);
    io_responses_destroy(&r);
  }

  s = good_spec(1, NC_FLOAT);
  s.xyz_len = 2;
  expect_open_fails("xyz.nc", &s, "variable 'voxel_xyz' has a second dimension "
                    "of length 2; expected 3");

  static const char dup[R_ * 8 + 1] = "V1\0\0\0\0\0\0" "V2\0\0\0\0\0\0" "V1\0\0\0\0\0\0";
  s = good_spec(1, NC_FLOAT);
  s.names = dup;
  expect_open_fails("dup.nc", &s, "roi_name has 'V1' twice");
}

/* Features of 37 stimuli, responses of 23: a job's rows for the features
 * are out of range for the responses. */
static void test_stimulus_mismatch(void) {
  resp_spec s = good_spec(1, NC_FLOAT);
  s.n_rep = 0, s.split = NULL;
  const char *p = tpath("short.nc");
  write_responses(p, &s);
  io_responses *r = NULL;
  TU_OK(io_responses_open(MPI_COMM_WORLD, p, &r));
  if (!r) return;
  TU_CHECK(r->split == NULL && r->n_rep == 0, "optional variables absent");
  long rows[3] = {0, 22, 30}, vox[2] = {0, 1};
  double Y[6];
  TU_FAILS_WITH(io_responses_read(MPI_COMM_WORLD, r, rows, 3, vox, 2, Y), VF_E_INPUT,
                "short.nc: variable 'responses' has 23 stimuli but stimulus 30 "
                "was asked for");
  long badvox[2] = {0, 41};
  TU_FAILS_WITH(io_responses_read(MPI_COMM_WORLD, r, rows, 2, badvox, 2, Y),
                VF_E_INPUT, "has 41 voxels but voxel 41 was asked for");
  /* Only the last rank asks for a bad row: every rank must fail, none hang. */
  int size;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  long one[1] = {rank_ == size - 1 ? 99 : 0};
  vf_error_clear();
  vf_status st = io_responses_read(MPI_COMM_WORLD, r, one, 1, vox, 1, Y);
  TU_CHECK(st == VF_E_INPUT && strstr(vf_error_message(), "stimulus 99"),
           "a bad index on one rank fails on all: %s", vf_error_message());
  TU_FAILS_WITH(io_responses_read_reps(MPI_COMM_WORLD, r, vox, 1, Y),
                VF_E_INTERNAL, "no test_repetitions");
  io_responses_destroy(&r);
}

/* ---- truncated files ------------------------------------------------------ */

/* The first n bytes of src into dst (rank 0 writes, all wait). */
static void write_prefix(const char *src, const char *dst, long n) {
  if (rank_ == 0) {
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    for (long i = 0; in && out && i < n; i++) {
      int c = fgetc(in);
      if (c == EOF) break;
      fputc(c, out);
    }
    if (in) fclose(in);
    if (out) fclose(out);
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

static long file_size(const char *path) {
  long n = -1;
  FILE *f = fopen(path, "rb");
  if (f && fseek(f, 0, SEEK_END) == 0) n = ftell(f);
  if (f) fclose(f);
  return n;
}

/* A features file with attributes of several types and lengths (so cuts
 * fall inside names, values and their padding), a fixed variable and,
 * with records, two record variables along an unlimited stimulus axis
 * (a short one of 6 bytes a record: padded to 8 between records). */
static void write_attr_features(const char *path, int fmt, int records) {
  const long N = 5, P = 3;
  int ncid, ds, df, dx, vf, vs, vc;
  nc_ok(ncmpi_create(MPI_COMM_WORLD, path, fmt_flags(fmt), MPI_INFO_NULL, &ncid),
        "create");
  nc_ok(ncmpi_put_att_text(ncid, NC_GLOBAL, "title", 5, "cut 1"), "title");
  double d[3] = {1.5, 2.5, -3};
  short sh[3] = {1, 2, 3};
  nc_ok(ncmpi_put_att_double(ncid, NC_GLOBAL, "scale", NC_DOUBLE, 3, d), "scale");
  nc_ok(ncmpi_put_att_short(ncid, NC_GLOBAL, "odd", NC_SHORT, 3, sh), "odd");
  nc_ok(ncmpi_def_dim(ncid, "stimulus", records ? NC_UNLIMITED : N, &ds), "stimulus");
  nc_ok(ncmpi_def_dim(ncid, "feat", P, &df), "feat");
  nc_ok(ncmpi_def_dim(ncid, "x", 7, &dx), "x");
  nc_ok(ncmpi_def_var(ncid, "coef", NC_CHAR, 1, &dx, &vc), "coef");
  int d2[2] = {ds, df};
  nc_ok(ncmpi_def_var(ncid, "features", NC_FLOAT, 2, d2, &vf), "features");
  nc_ok(ncmpi_put_att_text(ncid, vf, "units", 3, "a.u"), "units");
  nc_ok(ncmpi_def_var(ncid, "counts", NC_SHORT, 2, d2, &vs), "counts");
  nc_ok(ncmpi_enddef(ncid), "enddef");
  float F[15];
  short S[15];
  for (long i = 0; i < N * P; i++) F[i] = (float)fval(i / P, i % P), S[i] = (short)i;
  MPI_Offset st[2] = {0, 0}, ct[2] = {rank_ == 0 ? N : 0, P};
  nc_ok(ncmpi_put_vara_float_all(ncid, vf, st, ct, F), "put features");
  nc_ok(ncmpi_put_vara_short_all(ncid, vs, st, ct, S), "put counts");
  nc_ok(ncmpi_begin_indep_data(ncid), "begin_indep");
  if (rank_ == 0) nc_ok(ncmpi_put_var_text(ncid, vc, "abcdefg"), "put coef");
  nc_ok(ncmpi_end_indep_data(ncid), "end_indep");
  nc_ok(ncmpi_close(ncid), "close");
}

/* Every cut of a whole file from byte 4 on (shorter ones do not start
 * with "CDF") is refused, naming the file, "truncated" and both sizes. */
static void check_every_cut(const char *whole, const char *label) {
  const char *cut = tpath("cut.nc");
  long size = file_size(whole), hs = 0;
  MPI_Bcast(&size, 1, MPI_LONG, 0, MPI_COMM_WORLD);
  int ncid;
  MPI_Offset h = 0;
  nc_ok(ncmpi_open(MPI_COMM_WORLD, whole, NC_NOWRITE, MPI_INFO_NULL, &ncid), "open");
  nc_ok(ncmpi_inq_header_size(ncid, &h), "header size");
  nc_ok(ncmpi_close(ncid), "close");
  hs = (long)h;
  TU_CHECK(size > hs && hs > 8, "%s: %ld bytes, header %ld", label, size, hs);
  io_features_info info;
  TU_OK(io_features_info_read(MPI_COMM_WORLD, whole, "features", &info));
  long bad = 0, wrong = 0;
  for (long n = 4; n < size; n++) {
    write_prefix(whole, cut, n);
    char want[160];
    /* inside the header: the walk saw where it ends; after it PnetCDF's
     * header gives the whole size (the last variable ends the file) */
    if (n < hs) snprintf(want, sizeof want, "cut.nc: is truncated: %ld bytes, but "
                         "its header implies at least ", n);
    else snprintf(want, sizeof want, "cut.nc: is truncated: %ld bytes, but its "
                  "header implies %ld (variable '", n, size);
    vf_error_clear();
    vf_status st = io_features_info_read(MPI_COMM_WORLD, cut, "features", &info);
    const char *m = vf_error_message();
    if (st != VF_E_INPUT || !strstr(m, want) || !strstr(m, "copy it again")) {
      if (bad++ < 3)
        fprintf(stderr, "%s: cut at %ld of %ld (header %ld): %s: '%s'\n", label, n,
                size, hs, vf_status_name(st), m);
    }
    /* a read through the other entry point is refused alike */
    long rows[1] = {0};
    double X[3];
    wrong += io_features_read_rows(MPI_COMM_WORLD, cut, "features", rows, 1, X) !=
             VF_E_INPUT;
  }
  TU_CHECK(bad == 0, "%s: %ld of %ld cuts not refused as truncated", label, bad,
           size - 4);
  TU_CHECK(wrong == 0, "%s: io_features_read_rows read %ld cut files", label, wrong);
}

static void test_truncated(void) {
  static const int fmts[3] = {1, 2, 5};
  for (int f = 0; f < 3; f++)
    for (int rec = 0; rec < 2; rec++) {
      char name[64], label[64];
      snprintf(name, sizeof name, "whole_cdf%d%s.nc", fmts[f], rec ? "_rec" : "");
      snprintf(label, sizeof label, "CDF-%d%s", fmts[f], rec ? " with records" : "");
      const char *p = tpath(name);
      write_attr_features(p, fmts[f], rec);
      /* the whole file reads back: the check passes good files */
      long rows[2] = {4, 0};
      double X[6];
      TU_OK(io_features_read_rows(MPI_COMM_WORLD, p, "features", rows, 2, X));
      TU_CHECK(X[0] == fval(4, 0) && X[5] == fval(0, 2), "%s: values", label);
      check_every_cut(p, label);
    }

  /* A responses file cut in half: truncated, not "roi_name entry 0 is
   * empty" from the zeros PnetCDF reads past its end. */
  const char *whole = tpath("resp_whole.nc"), *half = tpath("resp_half.nc");
  resp_spec s = good_spec(2, NC_FLOAT);
  write_responses(whole, &s);
  long size = file_size(whole);
  MPI_Bcast(&size, 1, MPI_LONG, 0, MPI_COMM_WORLD);
  write_prefix(whole, half, size / 2);
  io_responses *r = NULL;
  TU_FAILS_WITH(io_responses_open(MPI_COMM_WORLD, half, &r), VF_E_INPUT,
                "resp_half.nc: is truncated");
  TU_CHECK(r == NULL, "no struct for a truncated file");
  write_prefix(whole, half, size - 1);
  TU_FAILS_WITH(io_responses_open(MPI_COMM_WORLD, half, &r), VF_E_INPUT,
                "is truncated: ");
  TU_OK(io_responses_open(MPI_COMM_WORLD, whole, &r));
  io_responses_destroy(&r);

  /* A results file to resume goes through the same check: refused, the
   * message says --force; with --force it is not looked at. */
  int resumable = -1;
  TU_FAILS_WITH(io_results_check_existing(half, "0123", 0, &resumable), VF_E_INPUT,
                "resp_half.nc: is truncated");
  TU_FAILS_WITH(io_results_check_existing(half, "0123", 0, &resumable), VF_E_INPUT,
                "rerun with --force");
  TU_CHECK(resumable == 0, "a truncated file is not resumable");
  TU_OK(io_results_check_existing(half, "0123", 1, &resumable));
}

static void cleanup(void) {
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank_ != 0) return;
  for (int i = 0; i < n_files_; i++) unlink(files_[i]);
  if (rmdir(dir_) != 0) fprintf(stderr, "test_io: %s not empty\n", dir_);
}

int main(int argc, char **argv) {
  la_blas_setup(argv); /* the kernels voxfit runs */
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  if (rank_ == 0) {
    snprintf(dir_, sizeof dir_, "/tmp/voxfit_test_io_XXXXXX");
    if (!mkdtemp(dir_)) MPI_Abort(MPI_COMM_WORLD, 1);
  }
  MPI_Bcast(dir_, sizeof dir_, MPI_CHAR, 0, MPI_COMM_WORLD);

  test_features_roundtrip();
  test_responses_roundtrip();
  test_format_checks();
  test_features_broken();
  test_responses_broken();
  test_stimulus_mismatch();
  test_truncated();

  int open = -1;
  ncmpi_inq_files_opened(&open, NULL);
  TU_CHECK(open == 0, "%d files left open", open);
  cleanup();
  return tu_finish("io");
}
