/* The reader half of io.h: features and responses files (CDF-1/2/5) via
 * PnetCDF. Every error is one line naming the file, the variable or
 * dimension, what is wrong and, where there is one, what to do.
 *
 * Collective discipline: metadata checks see the same header on every rank
 * (PnetCDF broadcasts it), so they fail alike everywhere. Checks that depend
 * on a rank's own arguments (row and voxel indices, allocations) are agreed
 * on with io_agree() before any collective read, so no rank is left waiting. */
#include "voxfit/io.h"

#include <errno.h>
#include <limits.h>
#include <pnetcdf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nc.h"

/* Reads go through a bounded buffer (the file is row-major, the output
 * column-major), so a big file never doubles memory. VOXFIT_IO_BUFFER_BYTES
 * overrides the size; tests use it to force many small batches. */
#define IO_BUFFER_BYTES (64L << 20)
/* Requests per ncmpi_wait_all: PnetCDF merges them into one MPI-IO call. */
#define IO_MAX_REQ 1024

/* ---- small helpers ---------------------------------------------------- */

static const char *type_name(nc_type t) {
  switch (t) {
    case NC_BYTE: return "byte";
    case NC_CHAR: return "char";
    case NC_SHORT: return "short";
    case NC_INT: return "int";
    case NC_FLOAT: return "float";
    case NC_DOUBLE: return "double";
    case NC_UBYTE: return "ubyte";
    case NC_USHORT: return "ushort";
    case NC_UINT: return "uint";
    case NC_INT64: return "int64";
    case NC_UINT64: return "uint64";
    default: return "unknown";
  }
}

static int is_int_type(nc_type t) {
  return t == NC_BYTE || t == NC_SHORT || t == NC_INT || t == NC_UBYTE ||
         t == NC_USHORT || t == NC_UINT || t == NC_INT64 || t == NC_UINT64;
}

static int is_real_type(nc_type t) { return t == NC_FLOAT || t == NC_DOUBLE; }

static vf_status nc_fail(const char *path, const char *what, int err) {
  vf_status code = err == NC_ERANGE ? VF_E_INPUT : VF_E_IO;
  return vf_error(code, "%s: %s: %s", path, what, ncmpi_strerror(err));
}

/* Appends s to buf (size n) as an item of a comma-separated list, ending it
 * with ", ..." once it is long enough to keep a message on one line. */
static void list_append(char *buf, size_t n, const char *s) {
  size_t len = strlen(buf);
  if (len >= 400) {
    if (strcmp(buf + len - 3, "...") != 0)
      snprintf(buf + len, n - len, ", ...");
    return;
  }
  snprintf(buf + len, n - len, "%s%s", len ? ", " : "", s);
}

/* ---- format check ------------------------------------------------------ */

static int has_magic_at(FILE *f, long off, const char *magic, size_t n) {
  char got[8];
  if (fseek(f, off, SEEK_SET) != 0) return 0;
  if (fread(got, 1, n, f) != n) return 0;
  return memcmp(got, magic, n) == 0;
}

/* HDF5 puts its superblock at 0, 512, 1024, 2048, ... (a user block may
 * come first). */
static int is_hdf5(FILE *f, long size) {
  static const char magic[8] = {'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};
  if (has_magic_at(f, 0, magic, 8)) return 1;
  for (long off = 512; off + 8 <= size && off > 0; off *= 2)
    if (has_magic_at(f, off, magic, 8)) return 1;
  return 0;
}

vf_status io_check_format(const char *path) {
  struct stat sb;
  if (stat(path, &sb) != 0 && errno == ENOENT)
    return vf_error(VF_E_INPUT, "%s: no such file", path);
  if (stat(path, &sb) != 0)
    return vf_error(VF_E_INPUT, "%s: cannot access: %s", path, strerror(errno));
  if (S_ISDIR(sb.st_mode))
    return vf_error(VF_E_INPUT, "%s: is a directory, not a NetCDF file", path);
  FILE *f = fopen(path, "rb");
  if (!f)
    return vf_error(VF_E_INPUT, "%s: cannot open: %s", path, strerror(errno));
  unsigned char head[4] = {0};
  size_t got = fread(head, 1, 4, f);
  int cdf = got == 4 && memcmp(head, "CDF", 3) == 0 &&
            (head[3] == 1 || head[3] == 2 || head[3] == 5);
  int hdf = !cdf && is_hdf5(f, (long)sb.st_size);
  fclose(f);
  if (cdf) return VF_OK;
  if (hdf)
    return vf_error(VF_E_INPUT,
                    "%s: is a NetCDF-4/HDF5 file, which PnetCDF cannot read; "
                    "convert it with: nccopy -k cdf5 %s %s.cdf5.nc",
                    path, path, path);
  return vf_error(VF_E_INPUT,
                  "%s: not a NetCDF classic (CDF-1/2/5) file (it does not "
                  "start with \"CDF\"); see docs/inputs.md", path);
}

/* ---- opening and looking things up ------------------------------------- */

/* Rank 0 checks the format (one file-system look-up, not one per rank),
 * then all ranks open, refusing a truncated file (io_nc_open). Collective
 * on comm. */
static vf_status open_file(MPI_Comm comm, const char *path, int *ncid) {
  int rank;
  MPI_Comm_rank(comm, &rank);
  *ncid = -1;
  vf_status st = rank == 0 ? io_check_format(path) : VF_OK;
  VF_CALL(io_agree(comm, st));
  VF_CALL(io_nc_open(comm, path, NC_NOWRITE, IO_TODO_INPUT, ncid));
  return VF_OK;
}

static void close_file(int *ncid) {
  if (*ncid >= 0) ncmpi_close(*ncid);
  *ncid = -1;
}

static void list_vars(int ncid, char *buf, size_t n) {
  int nvars = 0;
  buf[0] = '\0';
  ncmpi_inq_nvars(ncid, &nvars);
  for (int v = 0; v < nvars; v++) {
    char name[NC_MAX_NAME + 1];
    if (ncmpi_inq_varname(ncid, v, name) == NC_NOERR) list_append(buf, n, name);
  }
  if (!buf[0]) snprintf(buf, n, "none");
}

static void list_dims(int ncid, char *buf, size_t n) {
  int ndims = 0;
  buf[0] = '\0';
  ncmpi_inq_ndims(ncid, &ndims);
  for (int d = 0; d < ndims; d++) {
    char name[NC_MAX_NAME + 1];
    if (ncmpi_inq_dimname(ncid, d, name) == NC_NOERR) list_append(buf, n, name);
  }
  if (!buf[0]) snprintf(buf, n, "none");
}

/* *varid = -1 when absent and optional. */
static vf_status find_var(const char *path, int ncid, const char *name,
                          int required, int *varid) {
  if (ncmpi_inq_varid(ncid, name, varid) == NC_NOERR) return VF_OK;
  *varid = -1;
  if (!required) return VF_OK;
  char list[512];
  list_vars(ncid, list, sizeof list);
  return vf_error(VF_E_INPUT, "%s: no variable '%s' (variables here: %s)",
                  path, name, list);
}

static vf_status find_dim(const char *path, int ncid, const char *name,
                          long *len) {
  int dimid;
  MPI_Offset n;
  if (ncmpi_inq_dimid(ncid, name, &dimid) != NC_NOERR) {
    char list[512];
    list_dims(ncid, list, sizeof list);
    return vf_error(VF_E_INPUT, "%s: no dimension '%s' (dimensions here: %s)",
                    path, name, list);
  }
  ncmpi_inq_dimlen(ncid, dimid, &n);
  *len = (long)n;
  return VF_OK;
}

/* Dimension names and lengths of a variable (up to 4), and all of them as
 * "(a, b)"; returns the number of dims. */
static int var_dims(int ncid, int varid, char names[][NC_MAX_NAME + 1],
                    long *lens, char *text, size_t n) {
  int ndims = 0, dimids[4];
  ncmpi_inq_varndims(ncid, varid, &ndims);
  if (ndims > 4) { /* NC_MAX_VAR_DIMS is INT_MAX: never size by it */
    snprintf(text, n, "(%d dimensions)", ndims);
    return ndims;
  }
  ncmpi_inq_vardimid(ncid, varid, dimids);
  snprintf(text, n, "(");
  for (int d = 0; d < ndims; d++) {
    MPI_Offset len = 0;
    ncmpi_inq_dimname(ncid, dimids[d], names[d]);
    ncmpi_inq_dimlen(ncid, dimids[d], &len);
    lens[d] = (long)len;
    size_t used = strlen(text);
    snprintf(text + used, n - used, "%s%s", d ? ", " : "", names[d]);
  }
  size_t used = strlen(text);
  snprintf(text + used, n - used, ")");
  return ndims;
}

/* Checks that variable name has exactly the dimensions expect[] (NULL: any
 * name) and fills lens. expect_text is how the message spells them. */
static vf_status check_dims(const char *path, int ncid, int varid,
                            const char *name, int ndims,
                            const char *const *expect, const char *expect_text,
                            long *lens) {
  char names[4][NC_MAX_NAME + 1], text[4 * (NC_MAX_NAME + 2) + 4];
  long got_lens[4] = {0};
  int nd = var_dims(ncid, varid, names, got_lens, text, sizeof text);
  int ok = nd == ndims;
  for (int d = 0; ok && d < ndims; d++)
    ok = !expect[d] || strcmp(names[d], expect[d]) == 0;
  if (!ok)
    return vf_error(VF_E_INPUT,
                    "%s: variable '%s' has dimensions %s; expected %s "
                    "(see docs/inputs.md)", path, name, text, expect_text);
  for (int d = 0; d < ndims; d++) lens[d] = got_lens[d];
  return VF_OK;
}

typedef enum { KIND_REAL, KIND_INT, KIND_NUMBER, KIND_CHAR } var_kind;

static vf_status check_type(const char *path, int ncid, int varid,
                            const char *name, var_kind kind, nc_type *out) {
  nc_type t;
  ncmpi_inq_vartype(ncid, varid, &t);
  int ok = kind == KIND_REAL     ? is_real_type(t)
           : kind == KIND_INT    ? is_int_type(t)
           : kind == KIND_NUMBER ? is_int_type(t) || is_real_type(t)
                                 : t == NC_CHAR;
  if (!ok) {
    static const char *want[] = {"float or double",
                                 "an integer type (int, short, byte)",
                                 "a number type", "char"};
    return vf_error(VF_E_INPUT, "%s: variable '%s' has type %s; expected %s",
                    path, name, type_name(t), want[kind]);
  }
  if (out) *out = t;
  return VF_OK;
}

/* ---- row/column runs and the batched, bounded reader --------------------- */

/* A run of consecutive indices: file index src.. goes to output dst.. */
typedef struct { long src, dst, len; } run_t;

/* Position of the first index outside [0, limit), or -1. */
static long first_out_of_range(const long *idx, long n, long limit) {
  for (long i = 0; i < n; i++)
    if (idx[i] < 0 || idx[i] >= limit) return i;
  return -1;
}

/* Coalesces idx[0..n) (NULL: 0..n-1) into runs of consecutive indices, none
 * longer than maxlen. */
static vf_status runs_build(const long *idx, long n, long maxlen, run_t **out,
                            long *nout) {
  long cap = 1;
  for (long i = 1; i < n; i++) {
    long a = idx ? idx[i - 1] : i - 1, b = idx ? idx[i] : i;
    if (b != a + 1) cap++;
  }
  cap += n / maxlen + 1;
  VF_CALL(vf_calloc((size_t)cap, sizeof(run_t), "index runs", out));
  run_t *r = *out;
  long k = -1;
  for (long i = 0; i < n; i++) {
    long s = idx ? idx[i] : i;
    if (k >= 0 && s == r[k].src + r[k].len && r[k].len < maxlen) {
      r[k].len++;
    } else {
      k++;
      r[k] = (run_t){s, i, 1};
    }
  }
  *nout = k + 1;
  return VF_OK;
}

/* The variable being read: 2-D (row, col), or 3-D (outer, inner, col) seen
 * as rows q = outer * inner + i, so a piece never crosses an outer index. */
typedef struct {
  int ncid, varid, ndims;
  long inner;
} read_var;

/* One request: rows x cols of the file, row-major at buf + off. */
typedef struct { long src_row, dst_row, rows, src_col, dst_col, cols, off; } piece_t;

/* Walks the pieces: for each band of rows of a row run, every column run. */
typedef struct {
  const run_t *rr, *cr;
  long nrr, ncr, total_cols, cap, inner;
  long ri, roff, h, ci;
} piece_iter;

static void band_start(piece_iter *it) {
  if (it->ri >= it->nrr) return;
  const run_t *r = &it->rr[it->ri];
  long h = r->len - it->roff;
  long fit = it->cap / it->total_cols;
  if (fit < 1) fit = 1; /* each column run is <= cap by construction */
  if (h > fit) h = fit;
  if (it->inner > 0) {
    long left = it->inner - (r->src + it->roff) % it->inner;
    if (h > left) h = left;
  }
  it->h = h;
  it->ci = 0;
}

static int piece_next(piece_iter *it, piece_t *p) {
  if (it->ri >= it->nrr || it->ncr == 0) return 0;
  const run_t *r = &it->rr[it->ri], *c = &it->cr[it->ci];
  *p = (piece_t){r->src + it->roff, r->dst + it->roff, it->h,
                 c->src, c->dst, c->len, 0};
  if (++it->ci == it->ncr) {
    it->roff += it->h;
    if (it->roff == r->len) it->ri++, it->roff = 0;
    band_start(it);
  }
  return 1;
}

static void piece_iter_init(piece_iter *it, const run_t *rr, long nrr,
                            const run_t *cr, long ncr, long cap, long inner) {
  long total = 0;
  for (long i = 0; i < ncr; i++) total += cr[i].len;
  *it = (piece_iter){rr, cr, nrr, ncr, total > 0 ? total : 1, cap, inner,
                     0, 0, 0, 0};
  band_start(it);
}

/* Number of ncmpi_wait_all calls the batched read will make. */
static long count_batches(piece_iter it) {
  long batches = 0, used = 0, n = 0;
  piece_t p;
  while (piece_next(&it, &p)) {
    long sz = p.rows * p.cols;
    if (n > 0 && (used + sz > it.cap || n == IO_MAX_REQ)) batches++, used = 0, n = 0;
    used += sz, n++;
  }
  return batches + (n > 0);
}

/* Transposes a row-major piece into the column-major output (tiled, so
 * neither side strides through memory a whole row at a time). */
static void scatter(const piece_t *p, const double *buf, long ld, double *out) {
  const long T = 32;
  const double *b = buf + p->off;
  for (long i0 = 0; i0 < p->rows; i0 += T)
    for (long j0 = 0; j0 < p->cols; j0 += T) {
      long i1 = i0 + T < p->rows ? i0 + T : p->rows;
      long j1 = j0 + T < p->cols ? j0 + T : p->cols;
      for (long j = j0; j < j1; j++) {
        double *o = out + (p->dst_col + j) * ld + p->dst_row;
        for (long i = i0; i < i1; i++) o[i] = b[i * p->cols + j];
      }
    }
}

typedef struct {
  const read_var *v;
  double *buf, *out;
  long ld, n, used;
  piece_t pieces[IO_MAX_REQ];
  int reqs[IO_MAX_REQ], stats[IO_MAX_REQ];
  int nreq, err;
} batch_t;

static void batch_add(batch_t *b, piece_t p) {
  MPI_Offset start[3], count[3];
  p.off = b->used;
  if (b->v->ndims == 3) {
    start[0] = p.src_row / b->v->inner, start[1] = p.src_row % b->v->inner;
    start[2] = p.src_col;
    count[0] = 1, count[1] = p.rows, count[2] = p.cols;
  } else {
    start[0] = p.src_row, start[1] = p.src_col;
    count[0] = p.rows, count[1] = p.cols;
  }
  b->used += p.rows * p.cols;
  b->n++;
  if (b->err != NC_NOERR) return; /* keep counting, stop reading */
  int err = ncmpi_iget_vara_double(b->v->ncid, b->v->varid, start, count,
                                   b->buf + p.off, &b->reqs[b->nreq]);
  if (err != NC_NOERR) { b->err = err; return; }
  b->pieces[b->nreq++] = p;
}

/* Collective: every rank calls this the same number of times. */
static void batch_flush(batch_t *b) {
  int err = ncmpi_wait_all(b->v->ncid, b->nreq, b->reqs, b->stats);
  if (err == NC_NOERR)
    for (int i = 0; i < b->nreq && err == NC_NOERR; i++) err = b->stats[i];
  if (err != NC_NOERR && b->err == NC_NOERR) b->err = err;
  if (b->err == NC_NOERR)
    for (int i = 0; i < b->nreq; i++) scatter(&b->pieces[i], b->buf, b->ld, b->out);
  b->nreq = 0, b->n = 0, b->used = 0;
}

static long buffer_elems(void) {
  const char *env = getenv("VOXFIT_IO_BUFFER_BYTES");
  long bytes = env ? atol(env) : IO_BUFFER_BYTES;
  if (bytes < (long)sizeof(double)) bytes = IO_BUFFER_BYTES;
  return bytes / (long)sizeof(double);
}

/* Reads the rows rr x columns cr of v into out (column-major, leading
 * dimension ld). Collective on comm; the runs may differ between ranks.
 * Runs of cr must be no longer than cap (see runs_build). */
static vf_status read_runs(MPI_Comm comm, const char *path, const char *name,
                           const read_var *v, const run_t *rr, long nrr,
                           const run_t *cr, long ncr, long cap, long ld,
                           double *out) {
  batch_t *b = NULL;
  piece_iter it;
  piece_iter_init(&it, rr, nrr, cr, ncr, cap, v->ndims == 3 ? v->inner : 0);
  long mine = count_batches(it), all = 0, done = 0;
  vf_status st = vf_calloc(1, sizeof *b, "read batch", &b);
  if (!st) st = vf_calloc((size_t)cap, sizeof(double), "read buffer", &b->buf);
  MPI_Allreduce(&mine, &all, 1, MPI_LONG, MPI_MAX, comm);
  VF_TRY(io_agree(comm, st));
  b->v = v, b->out = out, b->ld = ld, b->err = NC_NOERR;
  piece_t p;
  while (piece_next(&it, &p)) {
    if (b->n > 0 && (b->used + p.rows * p.cols > cap || b->n == IO_MAX_REQ))
      batch_flush(b), done++;
    batch_add(b, p);
  }
  if (b->n > 0) batch_flush(b), done++;
  for (; done < all; done++) ncmpi_wait_all(v->ncid, 0, NULL, NULL);
  if (b->err != NC_NOERR) {
    char what[NC_MAX_NAME + 32];
    snprintf(what, sizeof what, "reading variable '%s'", name);
    VF_TRY(nc_fail(path, what, b->err));
  }
fail:
  if (b) vf_free(&b->buf);
  vf_free(&b);
  return st;
}

/* One axis of a request: indices idx[0..n) (NULL: 0..n-1) into an axis of
 * length len of the file; one/many name its elements in messages. */
typedef struct {
  const long *idx;
  long n, len;
  const char *one, *many;
} axis_t;

static vf_status check_axis(const char *path, const char *name,
                            const axis_t *a) {
  long bad = a->idx ? first_out_of_range(a->idx, a->n, a->len) : -1;
  if (bad < 0) return VF_OK;
  return vf_error(VF_E_INPUT,
                  "%s: variable '%s' has %ld %s but %s %ld was asked for "
                  "(entry %ld of the request); all inputs of a job must have "
                  "the same %s count", path, name, a->len, a->many, a->one,
                  a->idx[bad], bad, a->one);
}

/* Checks every index against the variable's extent, builds the runs,
 * agrees across ranks, then reads. Collective on comm. */
static vf_status read_indexed(MPI_Comm comm, const char *path, const char *name,
                              const read_var *v, const axis_t *rows,
                              const axis_t *cols, double *out) {
  vf_status st = VF_OK;
  run_t *rr = NULL, *cr = NULL;
  long nrr = 0, ncr = 0, cap = buffer_elems(), total = rows->n * cols->n;
  /* No bigger than the request: a small read allocates a small buffer. */
  if (cap > total) cap = total > 0 ? total : 1;
  st = check_axis(path, name, rows);
  if (!st) st = check_axis(path, name, cols);
  if (!st) st = runs_build(rows->idx, rows->n, LONG_MAX, &rr, &nrr);
  if (!st) st = runs_build(cols->idx, cols->n, cap, &cr, &ncr);
  VF_TRY(io_agree(comm, st));
  VF_TRY(read_runs(comm, path, name, v, rr, nrr, cr, ncr, cap, rows->n, out));
fail:
  vf_free(&rr);
  vf_free(&cr);
  return st;
}

/* ---- features ----------------------------------------------------------- */

/* Opens path and checks var is (stimulus, <feature>) float/double. */
static vf_status features_open(MPI_Comm comm, const char *path, const char *var,
                               int *ncid, int *varid, io_features_info *info) {
  vf_status st = VF_OK;
  static const char *const expect[2] = {"stimulus", NULL};
  long lens[2];
  VF_TRY(open_file(comm, path, ncid));
  VF_TRY(find_var(path, *ncid, var, 1, varid));
  VF_TRY(check_dims(path, *ncid, *varid, var, 2, expect,
                    "(stimulus, <feature dimension>)", lens));
  VF_TRY(check_type(path, *ncid, *varid, var, KIND_REAL, NULL));
  info->n_stim = lens[0];
  info->n_feat = lens[1];
fail:
  if (st) close_file(ncid);
  return st;
}

vf_status io_features_info_read(MPI_Comm comm, const char *path,
                                const char *var, io_features_info *info) {
  int ncid = -1, varid;
  if (!var || !var[0]) var = "features";
  VF_CALL(features_open(comm, path, var, &ncid, &varid, info));
  close_file(&ncid);
  return VF_OK;
}

/* cols NULL: every column. */
static vf_status features_read(MPI_Comm comm, const char *path, const char *var,
                               const long *rows, long nrows, const long *cols,
                               long ncols, double *X) {
  vf_status st = VF_OK;
  int ncid = -1, varid;
  io_features_info info;
  if (!var || !var[0]) var = "features";
  VF_TRY(features_open(comm, path, var, &ncid, &varid, &info));
  read_var v = {ncid, varid, 2, 0};
  axis_t ra = {rows, nrows, info.n_stim, "stimulus", "stimuli"};
  axis_t ca = {cols, cols ? ncols : info.n_feat, info.n_feat, "feature", "features"};
  VF_TRY(read_indexed(comm, path, var, &v, &ra, &ca, X));
fail:
  close_file(&ncid);
  return st;
}

vf_status io_features_read_rows(MPI_Comm comm, const char *path,
                                const char *var, const long *rows, long nrows,
                                double *X) {
  return features_read(comm, path, var, rows, nrows, NULL, 0, X);
}

vf_status io_features_read_cols(MPI_Comm comm, const char *path,
                                const char *var, const long *rows, long nrows,
                                const long *cols, long ncols, double *X) {
  if (ncols <= 0) return VF_OK;
  return features_read(comm, path, var, rows, nrows, cols, ncols, X);
}

/* ---- responses: the small variables -------------------------------------- */

/* Reads a 1-D integer-like variable of length n into a new int array. */
static vf_status read_ints(const char *path, int ncid, int varid,
                           const char *name, long n, int **out) {
  VF_CALL(vf_calloc((size_t)n, sizeof(int), name, out));
  MPI_Offset start[1] = {0}, count[1] = {n};
  int err = ncmpi_get_vara_int_all(ncid, varid, start, count, *out);
  if (err != NC_NOERR) {
    vf_free(out);
    char what[NC_MAX_NAME + 32];
    snprintf(what, sizeof what, "reading variable '%s'", name);
    return nc_fail(path, what, err);
  }
  return VF_OK;
}

/* An optional (or required) 1-D integer variable along dimension dim. */
static vf_status read_label_var(const char *path, int ncid, const char *name,
                                const char *dim, long n, int required,
                                int **out) {
  int varid;
  long len;
  const char *expect[1] = {dim};
  char expect_text[NC_MAX_NAME + 3];
  *out = NULL;
  VF_CALL(find_var(path, ncid, name, required, &varid));
  if (varid < 0) return VF_OK;
  snprintf(expect_text, sizeof expect_text, "(%s)", dim);
  VF_CALL(check_dims(path, ncid, varid, name, 1, expect, expect_text, &len));
  VF_CALL(check_type(path, ncid, varid, name, KIND_INT, NULL));
  if (len != n)
    return vf_error(VF_E_INPUT, "%s: variable '%s' has %ld entries but "
                    "dimension '%s' has %ld", path, name, len, dim, n);
  VF_CALL(read_ints(path, ncid, varid, name, n, out));
  return VF_OK;
}

/* Copies ROI name k (NUL-padded or full length L) and checks it. */
static vf_status roi_name_take(const char *path, const char *text, long L,
                               int k, char name[IO_NAME_LEN]) {
  long len = 0;
  while (len < L && text[len]) len++;
  if (len == 0)
    return vf_error(VF_E_INPUT, "%s: roi_name entry %d is empty; every ROI "
                    "needs a name", path, k);
  if (len >= IO_NAME_LEN)
    return vf_error(VF_E_INPUT, "%s: roi_name entry %d is %ld characters "
                    "long; at most %d are supported", path, k, len,
                    IO_NAME_LEN - 1);
  memcpy(name, text, (size_t)len);
  name[len] = '\0';
  return VF_OK;
}

static vf_status read_roi_names(const char *path, int ncid, io_responses *r) {
  vf_status st = VF_OK;
  static const char *const expect[2] = {"roi", NULL};
  char *text = NULL;
  int varid;
  long lens[2];
  VF_TRY(find_var(path, ncid, "roi_name", 1, &varid));
  VF_TRY(check_dims(path, ncid, varid, "roi_name", 2, expect,
                    "(roi, name_len)", lens));
  VF_TRY(check_type(path, ncid, varid, "roi_name", KIND_CHAR, NULL));
  r->n_roi = (int)lens[0];
  VF_TRY(vf_calloc((size_t)(lens[0] * lens[1] + 1), 1, "roi_name text", &text));
  VF_TRY(vf_calloc((size_t)lens[0], IO_NAME_LEN, "ROI names", &r->roi_names));
  MPI_Offset start[2] = {0, 0}, count[2] = {lens[0], lens[1]};
  int err = ncmpi_get_vara_text_all(ncid, varid, start, count, text);
  if (err != NC_NOERR) VF_TRY(nc_fail(path, "reading roi_name", err));
  for (int k = 0; k < r->n_roi; k++) {
    VF_TRY(roi_name_take(path, text + k * lens[1], lens[1], k, r->roi_names[k]));
    for (int j = 0; j < k; j++)
      if (strcmp(r->roi_names[j], r->roi_names[k]) == 0)
        VF_FAIL(VF_E_INPUT, "%s: roi_name has '%s' twice (entries %d and %d); "
                "ROI names must be unique", path, r->roi_names[k], j, k);
  }
fail:
  vf_free(&text);
  return st;
}

static vf_status check_roi_index(const char *path, const io_responses *r) {
  for (long v = 0; v < r->n_vox; v++) {
    int k = r->roi_index[v];
    if (k < -1 || k >= r->n_roi)
      return vf_error(VF_E_INPUT,
                      "%s: roi_index(voxel) = %d at voxel %ld but roi_name has "
                      "%d names; use 0..%d, or -1 for a voxel in no ROI",
                      path, k, v, r->n_roi, r->n_roi - 1);
  }
  return VF_OK;
}

static vf_status check_split(const char *path, const io_responses *r) {
  for (long s = 0; s < r->n_stim; s++)
    if (r->split[s] != 0 && r->split[s] != 1)
      return vf_error(VF_E_INPUT,
                      "%s: split(stimulus) = %d at stimulus %ld; expected 0 "
                      "(training) or 1 (test)", path, r->split[s], s);
  return VF_OK;
}

static vf_status read_reps_info(const char *path, int ncid, io_responses *r) {
  static const char *const expect[3] = {"repetition", "test_stimulus", "voxel"};
  int varid;
  long lens[3];
  VF_CALL(find_var(path, ncid, "test_repetitions", 0, &varid));
  if (varid < 0) return VF_OK;
  VF_CALL(check_dims(path, ncid, varid, "test_repetitions", 3, expect,
                     "(repetition, test_stimulus, voxel)", lens));
  VF_CALL(check_type(path, ncid, varid, "test_repetitions", KIND_REAL, NULL));
  /* its test_stimulus length is checked against the split the job uses
   * (the file's, or the job's explicit one) where the rows are made */
  r->n_rep = lens[0];
  r->n_test = lens[1];
  return VF_OK;
}

static vf_status read_xyz(const char *path, int ncid, io_responses *r) {
  static const char *const expect[2] = {"voxel", NULL};
  int varid;
  long lens[2];
  VF_CALL(find_var(path, ncid, "voxel_xyz", 0, &varid));
  if (varid < 0) return VF_OK;
  VF_CALL(check_dims(path, ncid, varid, "voxel_xyz", 2, expect,
                     "(voxel, xyz) with xyz = 3", lens));
  VF_CALL(check_type(path, ncid, varid, "voxel_xyz", KIND_NUMBER, NULL));
  if (lens[1] != 3)
    return vf_error(VF_E_INPUT, "%s: variable 'voxel_xyz' has a second "
                    "dimension of length %ld; expected 3 (x, y, z)", path, lens[1]);
  VF_CALL(vf_calloc((size_t)(3 * r->n_vox), sizeof(double), "voxel_xyz", &r->xyz));
  MPI_Offset start[2] = {0, 0}, count[2] = {r->n_vox, 3};
  int err = ncmpi_get_vara_double_all(ncid, varid, start, count, r->xyz);
  if (err != NC_NOERR) return nc_fail(path, "reading voxel_xyz", err);
  return VF_OK;
}

/* Finds 'responses' and checks it is (stimulus, voxel) of n_stim x n_vox. */
static vf_status responses_var(const char *path, int ncid, long n_stim,
                               long n_vox, int *varid, int *is_double) {
  static const char *const expect[2] = {"stimulus", "voxel"};
  long lens[2];
  nc_type t;
  VF_CALL(find_var(path, ncid, "responses", 1, varid));
  VF_CALL(check_dims(path, ncid, *varid, "responses", 2, expect,
                     "(stimulus, voxel)", lens));
  VF_CALL(check_type(path, ncid, *varid, "responses", KIND_REAL, &t));
  if (lens[0] != n_stim || lens[1] != n_vox)
    return vf_error(VF_E_INPUT, "%s: variable 'responses' is now %ld x %ld, "
                    "was %ld x %ld when opened; was the file rewritten?",
                    path, lens[0], lens[1], n_stim, n_vox);
  if (is_double) *is_double = t == NC_DOUBLE;
  return VF_OK;
}

static vf_status responses_fill(const char *path, int ncid, io_responses *r) {
  int varid;
  VF_CALL(find_dim(path, ncid, "stimulus", &r->n_stim));
  VF_CALL(find_dim(path, ncid, "voxel", &r->n_vox));
  VF_CALL(responses_var(path, ncid, r->n_stim, r->n_vox, &varid,
                        &r->resp_is_double));
  VF_CALL(read_roi_names(path, ncid, r));
  VF_CALL(read_label_var(path, ncid, "roi_index", "voxel", r->n_vox, 1,
                         &r->roi_index));
  VF_CALL(check_roi_index(path, r));
  VF_CALL(read_label_var(path, ncid, "split", "stimulus", r->n_stim, 0,
                         &r->split));
  if (r->split) VF_CALL(check_split(path, r));
  VF_CALL(read_label_var(path, ncid, "run", "stimulus", r->n_stim, 0, &r->run));
  VF_CALL(read_reps_info(path, ncid, r));
  VF_CALL(read_xyz(path, ncid, r));
  return VF_OK;
}

vf_status io_responses_open(MPI_Comm comm, const char *path,
                            io_responses **out) {
  vf_status st = VF_OK;
  int ncid = -1;
  io_responses *r = NULL;
  *out = NULL;
  if (strlen(path) >= sizeof r->path)
    return vf_error(VF_E_INPUT, "%.200s...: path too long", path);
  VF_TRY(open_file(comm, path, &ncid));
  VF_TRY(vf_calloc(1, sizeof *r, "responses info", &r));
  snprintf(r->path, sizeof r->path, "%s", path);
  VF_TRY(responses_fill(path, ncid, r));
fail:
  close_file(&ncid);
  if (st) io_responses_destroy(&r);
  *out = r;
  return st;
}

void io_responses_destroy(io_responses **r) {
  if (!r || !*r) return;
  vf_free(&(*r)->roi_names);
  vf_free(&(*r)->roi_index);
  vf_free(&(*r)->split);
  vf_free(&(*r)->run);
  vf_free(&(*r)->xyz);
  vf_free(r);
}

/* ---- responses: the big arrays ------------------------------------------- */

vf_status io_responses_read(MPI_Comm comm, const io_responses *r,
                            const long *rows, long nrows, const long *vox,
                            long nvox, double *Y) {
  vf_status st = VF_OK;
  int ncid = -1, varid;
  VF_TRY(open_file(comm, r->path, &ncid));
  VF_TRY(responses_var(r->path, ncid, r->n_stim, r->n_vox, &varid, NULL));
  read_var v = {ncid, varid, 2, 0};
  axis_t ra = {rows, nrows, r->n_stim, "stimulus", "stimuli"};
  axis_t ca = {vox, nvox, r->n_vox, "voxel", "voxels"};
  VF_TRY(read_indexed(comm, r->path, "responses", &v, &ra, &ca, Y));
fail:
  close_file(&ncid);
  return st;
}

vf_status io_responses_read_reps(MPI_Comm comm, const io_responses *r,
                                 const long *vox, long nvox, double *Yr) {
  vf_status st = VF_OK;
  static const char *const expect[3] = {"repetition", "test_stimulus", "voxel"};
  int ncid = -1, varid;
  long lens[3];
  if (r->n_rep <= 0)
    return vf_error(VF_E_INTERNAL, "%s: io_responses_read_reps called but the "
                    "file has no test_repetitions", r->path);
  VF_TRY(open_file(comm, r->path, &ncid));
  VF_TRY(find_var(r->path, ncid, "test_repetitions", 1, &varid));
  VF_TRY(check_dims(r->path, ncid, varid, "test_repetitions", 3, expect,
                    "(repetition, test_stimulus, voxel)", lens));
  if (lens[0] != r->n_rep || lens[1] != r->n_test || lens[2] != r->n_vox)
    VF_FAIL(VF_E_INPUT, "%s: test_repetitions changed shape since the file "
            "was opened; was it rewritten?", r->path);
  /* Rows are (repetition, test stimulus) pairs q = k * n_test + t, which is
   * exactly the layout Yr wants per voxel. */
  read_var v = {ncid, varid, 3, r->n_test};
  long nq = r->n_rep * r->n_test;
  axis_t ra = {NULL, nq, nq, "repetition row", "repetition rows"};
  axis_t ca = {vox, nvox, r->n_vox, "voxel", "voxels"};
  VF_TRY(read_indexed(comm, r->path, "test_repetitions", &v, &ra, &ca, Yr));
fail:
  close_file(&ncid);
  return st;
}
