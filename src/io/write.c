/* The writer half of io: features and responses input files (the layout of
 * docs/inputs.md), written collectively with PnetCDF, data as NC_FLOAT.
 * Used by `voxfit gen` and by tests that need input files. */
#include <pnetcdf.h>
#include <stdio.h>
#include <string.h>

#include "voxfit/io.h"
#include "nc.h"

enum { W_FEATURES, W_RESPONSES };

struct io_writer {
  MPI_Comm comm; /* as given (PnetCDF keeps its own duplicate) */
  int ncid;
  int kind;
  char path[4096];
  long n_stim;
  /* features */
  int n_vars;
  int *varids;  /* n_vars */
  long *n_feat; /* n_vars */
  /* responses */
  long n_vox, n_rep, n_test;
  int v_resp, v_reps; /* v_reps = -1 without repetitions */
};

static vf_status nc_fail(const char *path, const char *what, int err) {
  return vf_error(VF_E_IO, "%s: %s: %s", path, what, ncmpi_strerror(err));
}

#define NC_TRY(expr, what)                                    \
  do {                                                        \
    int nc_err_ = (expr);                                     \
    if (nc_err_ != NC_NOERR) VF_FAIL(VF_E_IO, "%s: %s: %s",   \
        w->path, (what), ncmpi_strerror(nc_err_));            \
  } while (0)

/* Ends define mode; says what to do when the sizes need a bigger format. */
static vf_status end_define(io_writer *w) {
  int err = ncmpi_enddef(w->ncid);
  if (err == NC_EVARSIZE)
    return vf_error(VF_E_IO, "%s: %s (use the 64-bit formats cdf2 or cdf5)", w->path,
                    ncmpi_strerror(err));
  if (err != NC_NOERR) return nc_fail(w->path, "enddef", err);
  return io_nc_reserve_all(w->comm, w->path, w->ncid);
}

static int create_mode(io_format fmt) {
  switch (fmt) {
    case IO_CDF1: return NC_CLOBBER;
    case IO_CDF2: return NC_CLOBBER | NC_64BIT_OFFSET;
    case IO_CDF5: return NC_CLOBBER | NC_64BIT_DATA;
  }
  return -1;
}

static void writer_free(io_writer **pw) {
  io_writer *w = *pw;
  if (!w) return;
  vf_free(&w->varids);
  vf_free(&w->n_feat);
  vf_free(pw);
}

/* Allocates the writer and creates the file (collective). On failure the
 * writer is freed and nothing stays open. */
static vf_status writer_open(MPI_Comm comm, const char *path, io_format fmt,
                             int kind, io_writer **out) {
  vf_status st = VF_OK;
  io_writer *w = NULL;
  *out = NULL;
  int mode = create_mode(fmt);
  if (mode < 0) return vf_error(VF_E_INTERNAL, "%s: unknown format %d", path, (int)fmt);
  if (strlen(path) >= sizeof w->path)
    return vf_error(VF_E_INPUT, "path too long: %.80s...", path);
  VF_CALL(vf_calloc(1, sizeof *w, "writer", &w));
  w->comm = comm;
  w->ncid = -1;
  w->kind = kind;
  w->v_reps = -1;
  snprintf(w->path, sizeof w->path, "%s", path);
  int err = ncmpi_create(comm, path, mode, MPI_INFO_NULL, &w->ncid);
  if (err != NC_NOERR) {
    w->ncid = -1;
    VF_FAIL(VF_E_IO, "%s: cannot create: %s", path, ncmpi_strerror(err));
  }
fail:
  if (st) writer_free(&w);
  *out = w;
  return st;
}

/* On a failure while defining: close what was created and free. */
static void writer_abort(io_writer **pw) {
  if (*pw && (*pw)->ncid >= 0) ncmpi_close((*pw)->ncid);
  writer_free(pw);
}

static vf_status put_text_att(io_writer *w, int varid, const char *name,
                              const char *text) {
  if (!text || !text[0]) return VF_OK;
  int err = ncmpi_put_att_text(w->ncid, varid, name, (MPI_Offset)strlen(text), text);
  if (err != NC_NOERR) return nc_fail(w->path, name, err);
  return VF_OK;
}

/* ---- features ----------------------------------------------------------- */

static vf_status def_feature_var(io_writer *w, int dim_stim,
                                 const io_feature_var *v, int iv) {
  vf_status st = VF_OK;
  char dname[IO_NAME_LEN + 8];
  int dims[2] = {dim_stim, -1};
  if (v->n_feat <= 0)
    VF_FAIL(VF_E_INPUT, "%s: variable %s: n_feat must be > 0", w->path, v->name);
  snprintf(dname, sizeof dname, "feat_%s", v->name);
  NC_TRY(ncmpi_def_dim(w->ncid, dname, v->n_feat, &dims[1]), dname);
  NC_TRY(ncmpi_def_var(w->ncid, v->name, NC_FLOAT, 2, dims, &w->varids[iv]), v->name);
  VF_TRY(put_text_att(w, w->varids[iv], "model", v->model));
  NC_TRY(ncmpi_put_att_int(w->ncid, w->varids[iv], "layer", NC_INT, 1, &v->layer),
         "layer");
  VF_TRY(put_text_att(w, w->varids[iv], "tower", v->tower));
  VF_TRY(put_text_att(w, w->varids[iv], "training", v->training));
  w->n_feat[iv] = v->n_feat;
fail:
  return st;
}

vf_status io_features_create(MPI_Comm comm, const char *path, io_format fmt,
                             long n_stim, const io_feature_var *vars,
                             int n_vars, io_writer **out) {
  vf_status st = VF_OK;
  io_writer *w = NULL;
  int dim_stim;
  *out = NULL;
  if (n_stim <= 0 || n_vars <= 0)
    return vf_error(VF_E_INPUT, "%s: need n_stim > 0 and n_vars > 0", path);
  VF_CALL(writer_open(comm, path, fmt, W_FEATURES, &w));
  w->n_stim = n_stim;
  w->n_vars = n_vars;
  VF_TRY(vf_calloc((size_t)n_vars, sizeof(int), "varids", &w->varids));
  VF_TRY(vf_calloc((size_t)n_vars, sizeof(long), "n_feat", &w->n_feat));
  NC_TRY(ncmpi_def_dim(w->ncid, "stimulus", n_stim, &dim_stim), "stimulus");
  for (int i = 0; i < n_vars; i++) VF_TRY(def_feature_var(w, dim_stim, &vars[i], i));
  VF_TRY(end_define(w));
fail:
  if (st) writer_abort(&w);
  *out = w;
  return st;
}

vf_status io_features_write_rows(io_writer *w, int iv, long row0, long nrows,
                                 const float *F) {
  vf_status st = VF_OK;
  if (w->kind != W_FEATURES || iv < 0 || iv >= w->n_vars)
    return vf_error(VF_E_INTERNAL, "%s: no features variable %d", w->path, iv);
  if (row0 < 0 || nrows < 0 || row0 + nrows > w->n_stim)
    return vf_error(VF_E_INTERNAL, "%s: rows [%ld, %ld) outside [0, %ld)",
                    w->path, row0, row0 + nrows, w->n_stim);
  MPI_Offset start[2] = {nrows ? row0 : 0, 0}, count[2] = {nrows, w->n_feat[iv]};
  NC_TRY(ncmpi_put_vara_float_all(w->ncid, w->varids[iv], start, count, F),
         "writing features");
fail:
  return st;
}

/* ---- responses ---------------------------------------------------------- */

typedef struct {
  int stim, vox, roi, name_len, rep, test, xyz;
} resp_dims;

typedef struct {
  int roi_index, roi_name, split, run, xyz;
} resp_vars;

static long name_len_of(const io_responses_layout *lay) {
  long len = 1;
  for (int i = 0; i < lay->n_roi; i++) {
    long n = (long)strnlen(lay->roi_names[i], IO_NAME_LEN) + 1;
    if (n > len) len = n;
  }
  return len > IO_NAME_LEN ? IO_NAME_LEN : len;
}

static vf_status def_resp_dims(io_writer *w, const io_responses_layout *lay,
                               resp_dims *d) {
  vf_status st = VF_OK;
  NC_TRY(ncmpi_def_dim(w->ncid, "stimulus", lay->n_stim, &d->stim), "stimulus");
  NC_TRY(ncmpi_def_dim(w->ncid, "voxel", lay->n_vox, &d->vox), "voxel");
  NC_TRY(ncmpi_def_dim(w->ncid, "roi", lay->n_roi, &d->roi), "roi");
  NC_TRY(ncmpi_def_dim(w->ncid, "name_len", name_len_of(lay), &d->name_len), "name_len");
  if (lay->n_rep > 0) {
    NC_TRY(ncmpi_def_dim(w->ncid, "repetition", lay->n_rep, &d->rep), "repetition");
    NC_TRY(ncmpi_def_dim(w->ncid, "test_stimulus", lay->n_test, &d->test),
           "test_stimulus");
  }
  if (lay->xyz) NC_TRY(ncmpi_def_dim(w->ncid, "xyz", 3, &d->xyz), "xyz");
fail:
  return st;
}

static vf_status def_resp_vars(io_writer *w, const io_responses_layout *lay,
                               const resp_dims *d, resp_vars *v) {
  vf_status st = VF_OK;
  int sv[2] = {d->stim, d->vox}, rn[2] = {d->roi, d->name_len};
  int rtv[3] = {d->rep, d->test, d->vox}, vx[2] = {d->vox, d->xyz};
  NC_TRY(ncmpi_def_var(w->ncid, "responses", NC_FLOAT, 2, sv, &w->v_resp), "responses");
  NC_TRY(ncmpi_def_var(w->ncid, "roi_index", NC_INT, 1, &d->vox, &v->roi_index),
         "roi_index");
  NC_TRY(ncmpi_def_var(w->ncid, "roi_name", NC_CHAR, 2, rn, &v->roi_name), "roi_name");
  v->split = v->run = v->xyz = -1;
  if (lay->split)
    NC_TRY(ncmpi_def_var(w->ncid, "split", NC_INT, 1, &d->stim, &v->split), "split");
  if (lay->run)
    NC_TRY(ncmpi_def_var(w->ncid, "run", NC_INT, 1, &d->stim, &v->run), "run");
  if (lay->n_rep > 0)
    NC_TRY(ncmpi_def_var(w->ncid, "test_repetitions", NC_FLOAT, 3, rtv, &w->v_reps),
           "test_repetitions");
  if (lay->xyz)
    NC_TRY(ncmpi_def_var(w->ncid, "voxel_xyz", NC_FLOAT, 2, vx, &v->xyz), "voxel_xyz");
fail:
  return st;
}

/* One collective put of a whole small variable, data from rank 0 only. */
static vf_status put_small_int(io_writer *w, int varid, long n, const int *data,
                               int root) {
  MPI_Offset start[1] = {0}, count[1] = {root ? n : 0};
  int err = ncmpi_put_vara_int_all(w->ncid, varid, start, count, data);
  if (err != NC_NOERR) return nc_fail(w->path, "writing labels", err);
  return VF_OK;
}

static vf_status put_roi_names(io_writer *w, const io_responses_layout *lay,
                               int varid, int root) {
  vf_status st = VF_OK;
  long len = name_len_of(lay);
  char *text = NULL;
  VF_CALL(vf_calloc((size_t)(lay->n_roi * len), 1, "roi names", &text));
  for (int i = 0; i < lay->n_roi; i++)
    memcpy(text + i * len, lay->roi_names[i],
           strnlen(lay->roi_names[i], (size_t)len - 1));
  MPI_Offset start[2] = {0, 0}, count[2] = {root ? lay->n_roi : 0, len};
  NC_TRY(ncmpi_put_vara_text_all(w->ncid, varid, start, count, text), "roi_name");
fail:
  vf_free(&text);
  return st;
}

static vf_status put_resp_labels(io_writer *w, const io_responses_layout *lay,
                                 const resp_vars *v) {
  vf_status st = VF_OK;
  int rank;
  MPI_Comm_rank(w->comm, &rank);
  int root = rank == 0;
  VF_CALL(put_small_int(w, v->roi_index, lay->n_vox, lay->roi_index, root));
  VF_CALL(put_roi_names(w, lay, v->roi_name, root));
  if (lay->split) VF_CALL(put_small_int(w, v->split, lay->n_stim, lay->split, root));
  if (lay->run) VF_CALL(put_small_int(w, v->run, lay->n_stim, lay->run, root));
  if (lay->xyz) {
    MPI_Offset start[2] = {0, 0}, count[2] = {root ? lay->n_vox : 0, 3};
    NC_TRY(ncmpi_put_vara_float_all(w->ncid, v->xyz, start, count, lay->xyz),
           "voxel_xyz");
  }
fail:
  return st;
}

static vf_status check_layout(const char *path, const io_responses_layout *lay) {
  if (lay->n_stim <= 0 || lay->n_vox <= 0 || lay->n_roi <= 0 || !lay->roi_index)
    return vf_error(VF_E_INPUT, "%s: need n_stim, n_vox, n_roi > 0 and roi_index", path);
  if (lay->n_rep < 0 || lay->n_test < 0 || (lay->n_rep > 0) != (lay->n_test > 0) ||
      lay->n_test > lay->n_stim)
    return vf_error(VF_E_INPUT, "%s: bad repetitions %ld x %ld", path, lay->n_rep,
                    lay->n_test);
  return VF_OK;
}

vf_status io_responses_create(MPI_Comm comm, const char *path, io_format fmt,
                              const io_responses_layout *lay, io_writer **out) {
  vf_status st = VF_OK;
  io_writer *w = NULL;
  resp_dims d = {-1, -1, -1, -1, -1, -1, -1};
  resp_vars v;
  *out = NULL;
  VF_CALL(check_layout(path, lay));
  VF_CALL(writer_open(comm, path, fmt, W_RESPONSES, &w));
  w->n_stim = lay->n_stim;
  w->n_vox = lay->n_vox;
  w->n_rep = lay->n_rep;
  w->n_test = lay->n_test;
  VF_TRY(def_resp_dims(w, lay, &d));
  VF_TRY(def_resp_vars(w, lay, &d, &v));
  if (lay->subject) VF_TRY(put_text_att(w, NC_GLOBAL, "subject", lay->subject));
  VF_TRY(end_define(w));
  VF_TRY(put_resp_labels(w, lay, &v));
fail:
  if (st) writer_abort(&w);
  *out = w;
  return st;
}

static vf_status check_block(const io_writer *w, long vox0, long nvox) {
  if (w->kind != W_RESPONSES)
    return vf_error(VF_E_INTERNAL, "%s: not a responses file", w->path);
  if (vox0 < 0 || nvox < 0 || vox0 + nvox > w->n_vox)
    return vf_error(VF_E_INTERNAL, "%s: voxels [%ld, %ld) outside [0, %ld)",
                    w->path, vox0, vox0 + nvox, w->n_vox);
  return VF_OK;
}

/* Transposes a voxel-major block (nvox columns of `rows` values, rows =
 * the product of the leading dimensions) into the file's voxel-fastest
 * order and writes it. A rank that cannot allocate the buffer still joins
 * the collective, with nothing to write, so no rank is left waiting. */
static vf_status put_block(io_writer *w, int varid, int ndims, const MPI_Offset *lead,
                           long vox0, long nvox, const float *src, const char *what) {
  MPI_Offset start[3] = {0, 0, 0}, count[3];
  long rows = 1;
  float *T = NULL;
  for (int i = 0; i < ndims - 1; i++) rows *= (long)(count[i] = lead[i]);
  vf_status st = vf_calloc((size_t)(rows * nvox), sizeof(float), what, &T);
  if (st) nvox = 0;
  for (long j = 0; j < nvox; j++)
    for (long i = 0; i < rows; i++) T[i * nvox + j] = src[j * rows + i];
  start[ndims - 1] = nvox ? vox0 : 0;
  count[ndims - 1] = nvox;
  int err = ncmpi_put_vara_float_all(w->ncid, varid, start, count, T);
  vf_free(&T);
  if (st) return st;
  if (err != NC_NOERR) return nc_fail(w->path, what, err);
  return VF_OK;
}

vf_status io_responses_write_block(io_writer *w, long vox0, long nvox,
                                   const float *Y) {
  VF_CALL(check_block(w, vox0, nvox));
  MPI_Offset lead[1] = {w->n_stim};
  VF_CALL(put_block(w, w->v_resp, 2, lead, vox0, nvox, Y, "writing responses"));
  return VF_OK;
}

vf_status io_responses_write_reps(io_writer *w, long vox0, long nvox,
                                  const float *Yr) {
  VF_CALL(check_block(w, vox0, nvox));
  if (w->v_reps < 0)
    return vf_error(VF_E_INTERNAL, "%s: file has no test_repetitions", w->path);
  MPI_Offset lead[2] = {w->n_rep, w->n_test};
  VF_CALL(put_block(w, w->v_reps, 3, lead, vox0, nvox, Yr, "writing test_repetitions"));
  return VF_OK;
}

vf_status io_writer_close(io_writer **pw) {
  if (!pw || !*pw) return VF_OK;
  io_writer *w = *pw;
  vf_status st = VF_OK;
  int err = ncmpi_close(w->ncid);
  if (err != NC_NOERR) st = nc_fail(w->path, "close", err);
  writer_free(pw);
  return st;
}
