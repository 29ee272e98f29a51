/* Opening existing classic NetCDF files for reading, and the truncation
 * check every such open makes (features, responses, results and shard
 * files alike).
 *
 * PnetCDF reads past the end of a file as zeros and fills nothing: a file
 * cut short opens without complaint and its missing data reads as garbage.
 * So before trusting a file we compare its size with what its header
 * implies, in two steps:
 * - before ncmpi_open, our own walk of the header (magic, numrecs, the
 *   dimension, attribute and variable lists of the CDF-1/2/5 format): a
 *   file that ends inside its header is truncated, whatever PnetCDF would
 *   make of the zeros after its end (an odd error, or an empty file);
 * - after it, from PnetCDF's view of the header: the header's size and
 *   the end of every variable's data (record variables: the last record's
 *   end) must lie within the file.
 * The walk only reports a file that ends too early; a header it does not
 * understand is left to ncmpi_open to judge. */
#include "nc.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Every rank ends with the same status and message: that of the lowest
 * failing rank. Collective on comm. */
vf_status io_agree(MPI_Comm comm, vf_status st) {
  int rank, size, root;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  int mine = st != VF_OK ? rank : size;
  MPI_Allreduce(&mine, &root, 1, MPI_INT, MPI_MIN, comm);
  if (root == size) return VF_OK;
  char msg[1024];
  int code = (int)st;
  snprintf(msg, sizeof msg, "%s", vf_error_message());
  MPI_Bcast(&code, 1, MPI_INT, root, comm);
  MPI_Bcast(msg, (int)sizeof msg, MPI_CHAR, root, comm);
  if (rank != root) return vf_error((vf_status)code, "%s", msg);
  return st;
}

/* ---- sizes that cannot overflow ----------------------------------------- */

/* Of non-negative sizes; a damaged header's huge ones stop at INT64_MAX. */
static int64_t sat_add(int64_t a, int64_t b) {
  return a > INT64_MAX - b ? INT64_MAX : a + b;
}

static int64_t sat_mul(int64_t a, int64_t b) {
  if (a == 0 || b == 0) return 0;
  return a > INT64_MAX / b ? INT64_MAX : a * b;
}

/* The one message: the file, its size, the size its header implies
 * (at_least: the file ends inside the header, so more is needed still),
 * what ends there, and what to do. */
static vf_status truncated(const char *path, int64_t size, int64_t need,
                           int at_least, const char *where, const char *todo) {
  return vf_error(VF_E_INPUT, "%s: is truncated: %lld bytes, but its header "
                  "implies %s%lld (%s); %s", path, (long long)size,
                  at_least ? "at least " : "", (long long)need, where, todo);
}

/* ---- the header walk -------------------------------------------------- */

enum { TAG_DIMENSION = 10, TAG_VARIABLE = 11, TAG_ATTRIBUTE = 12 };

typedef struct {
  FILE *f;
  int64_t size, pos;
  int wide;     /* CDF-5: counts and lengths are 8 bytes */
  int fmt;      /* 1, 2 or 5 */
  int64_t need; /* > 0: the file ended here, this many bytes needed */
  int odd;      /* a header we do not understand: leave it to PnetCDF */
} walk_t;

/* Reads n (<= 8) big-endian bytes as an unsigned number. 0 when the file
 * ends first (w->need is set). */
static int get_uint(walk_t *w, int n, uint64_t *v) {
  unsigned char b[8];
  if (w->pos + n > w->size) {
    w->need = w->pos + n;
    return 0;
  }
  if (fread(b, 1, (size_t)n, w->f) != (size_t)n) {
    w->odd = 1; /* a read error, not a short file: not ours to judge */
    return 0;
  }
  w->pos += n;
  *v = 0;
  for (int i = 0; i < n; i++) *v = *v << 8 | b[i];
  return 1;
}

/* A count or length: 4 bytes, or 8 in CDF-5. */
static int get_count(walk_t *w, int64_t *n) {
  uint64_t v;
  if (!get_uint(w, w->wide ? 8 : 4, &v)) return 0;
  if (v > (uint64_t)INT64_MAX) {
    w->odd = 1;
    return 0;
  }
  *n = (int64_t)v;
  return 1;
}

/* Skips n bytes padded to a multiple of 4. */
static int skip(walk_t *w, int64_t n) {
  int64_t padded = sat_mul((sat_add(n, 3) / 4), 4);
  int64_t to = sat_add(w->pos, padded);
  if (to > w->size) {
    w->need = to;
    return 0;
  }
  if (fseeko(w->f, (off_t)to, SEEK_SET) != 0) {
    w->odd = 1;
    return 0;
  }
  w->pos = to;
  return 1;
}

static int skip_name(walk_t *w) {
  int64_t n;
  return get_count(w, &n) && skip(w, n);
}

static int64_t type_size(uint64_t t) {
  switch (t) {
    case NC_BYTE: case NC_CHAR: case NC_UBYTE: return 1;
    case NC_SHORT: case NC_USHORT: return 2;
    case NC_INT: case NC_FLOAT: case NC_UINT: return 4;
    case NC_DOUBLE: case NC_INT64: case NC_UINT64: return 8;
    default: return 0;
  }
}

/* A list's tag and length; *n = 0 for an absent list. 0 when the walk
 * stops (end of file, or a tag that is not `tag`). */
static int list_head(walk_t *w, uint64_t tag, int64_t *n) {
  uint64_t t;
  if (!get_uint(w, 4, &t) || !get_count(w, n)) return 0;
  if (t == 0 && *n == 0) return 1;
  if (t != tag) {
    w->odd = 1;
    return 0;
  }
  return 1;
}

static int skip_atts(walk_t *w) {
  int64_t n;
  if (!list_head(w, TAG_ATTRIBUTE, &n)) return 0;
  for (int64_t i = 0; i < n; i++) {
    uint64_t t;
    int64_t len;
    if (!skip_name(w) || !get_uint(w, 4, &t) || !get_count(w, &len)) return 0;
    int64_t ts = type_size(t);
    if (!ts) {
      w->odd = 1;
      return 0;
    }
    if (!skip(w, sat_mul(len, ts))) return 0;
  }
  return 1;
}

/* Walks the whole header; on return w->need > 0 when the file ends inside
 * it. */
static void walk_header(walk_t *w) {
  uint64_t v;
  int64_t n;
  if (!get_uint(w, 4, &v)) return; /* magic, checked by the caller */
  if (!get_uint(w, w->wide ? 8 : 4, &v)) return; /* numrecs */
  if (!list_head(w, TAG_DIMENSION, &n)) return;
  for (int64_t i = 0; i < n; i++) {
    int64_t len;
    if (!skip_name(w) || !get_count(w, &len)) return;
  }
  if (!skip_atts(w)) return;
  if (!list_head(w, TAG_VARIABLE, &n)) return;
  for (int64_t i = 0; i < n; i++) {
    int64_t nd, dummy;
    if (!skip_name(w) || !get_count(w, &nd)) return;
    for (int64_t d = 0; d < nd; d++)
      if (!get_count(w, &dummy)) return;
    if (!skip_atts(w)) return;
    if (!get_uint(w, 4, &v)) return;              /* nc_type */
    if (!get_count(w, &dummy)) return;            /* vsize */
    if (!get_uint(w, w->fmt == 1 ? 4 : 8, &v)) return; /* begin */
  }
}

/* Local: fails when path, a file starting with the CDF magic, ends
 * inside its header. Other files (and headers the walk does not follow)
 * pass: ncmpi_open judges them. */
static vf_status check_header(const char *path, const char *todo) {
  struct stat sb;
  if (stat(path, &sb) != 0) return VF_OK; /* ncmpi_open says why */
  FILE *f = fopen(path, "rb");
  if (!f) return VF_OK;
  unsigned char magic[4] = {0};
  size_t got = fread(magic, 1, 4, f);
  walk_t w = {f, (int64_t)sb.st_size, 0, magic[3] == 5, magic[3], 0, 0};
  int cdf = got == 4 && !memcmp(magic, "CDF", 3) &&
            (magic[3] == 1 || magic[3] == 2 || magic[3] == 5);
  if (cdf && fseeko(f, 0, SEEK_SET) == 0) walk_header(&w);
  fclose(f);
  if (!cdf || w.odd || w.need <= 0) return VF_OK;
  return truncated(path, w.size, w.need, 1, "the file ends inside the header", todo);
}

/* ---- the data extent -------------------------------------------------- */

/* Local: the first byte after the data of the last variable (or the
 * header), and the name of what ends there. */
static vf_status data_end(const char *path, int ncid, int64_t *end,
                          char *what, size_t n) {
  MPI_Offset hs = 0, numrecs = 0, recsize = 0;
  int nvars = 0, unlim = -1;
  NC(ncmpi_inq_header_size(ncid, &hs), "header size");
  NC(ncmpi_inq_nvars(ncid, &nvars), "variables");
  NC(ncmpi_inq_unlimdim(ncid, &unlim), "record dimension");
  if (unlim >= 0) {
    NC(ncmpi_inq_dimlen(ncid, unlim, &numrecs), "record dimension");
    NC(ncmpi_inq_recsize(ncid, &recsize), "record size");
  }
  *end = hs;
  snprintf(what, n, "the header ends there");
  for (int v = 0; v < nvars; v++) {
    char name[NC_MAX_NAME + 1];
    nc_type t;
    int nd = 0, *dims = NULL;
    MPI_Offset off = 0;
    NC(ncmpi_inq_varname(ncid, v, name), "variable names");
    NC(ncmpi_inq_varndims(ncid, v, &nd), name);
    NC(ncmpi_inq_vartype(ncid, v, &t), name);
    NC(ncmpi_inq_varoffset(ncid, v, &off), name);
    VF_CALL(vf_calloc((size_t)nd + 1, sizeof(int), "dimension ids", &dims));
    int err = ncmpi_inq_vardimid(ncid, v, dims);
    int64_t bytes = type_size((uint64_t)t);
    int rec = nd > 0 && dims[0] == unlim;
    for (int d = rec; d < nd && err == NC_NOERR; d++) {
      MPI_Offset len = 0;
      err = ncmpi_inq_dimlen(ncid, dims[d], &len);
      bytes = sat_mul(bytes, len);
    }
    vf_free(&dims);
    NC(err, name);
    if (bytes == 0 || (rec && numrecs == 0)) continue; /* no data */
    int64_t e = sat_add(off, bytes);
    if (rec) e = sat_add(e, sat_mul(numrecs - 1, recsize));
    if (e > *end) {
      *end = e;
      snprintf(what, n, "variable '%s' ends there", name);
    }
  }
  return VF_OK;
}

static int has_att(int ncid, const char *name) {
  MPI_Offset len = 0;
  return ncmpi_inq_attlen(ncid, NC_GLOBAL, name, &len) == NC_NOERR;
}

/* Local. A results file of an earlier build (a job_hash, no full_size
 * mark) ended at its last write, so only the header walk can judge it. */
static vf_status check_extent(const char *path, int ncid, const char *todo) {
  struct stat sb;
  int64_t end = 0;
  char what[NC_MAX_NAME + 64];
  if (has_att(ncid, "job_hash") && !has_att(ncid, "full_size")) return VF_OK;
  if (stat(path, &sb) != 0)
    return vf_error(VF_E_INPUT, "%s: cannot access: %s", path, strerror(errno));
  VF_CALL(data_end(path, ncid, &end, what, sizeof what));
  if ((int64_t)sb.st_size < end)
    return truncated(path, (int64_t)sb.st_size, end, 0, what, todo);
  return VF_OK;
}

vf_status io_nc_size_needed(const char *path, int ncid, long long *end) {
  int64_t e = 0;
  char what[NC_MAX_NAME + 64];
  VF_CALL(data_end(path, ncid, &e, what, sizeof what));
  *end = (long long)e;
  return VF_OK;
}

vf_status io_nc_open(MPI_Comm comm, const char *path, int mode,
                     const char *todo, int *ncid) {
  int rank;
  MPI_Comm_rank(comm, &rank);
  *ncid = -1;
  VF_CALL(io_agree(comm, rank == 0 ? check_header(path, todo) : VF_OK));
  int err = ncmpi_open(comm, path, mode, MPI_INFO_NULL, ncid);
  if (err != NC_NOERR) {
    *ncid = -1;
    return vf_error(VF_E_INPUT, "%s: cannot open: %s; %s", path,
                    ncmpi_strerror(err), todo);
  }
  vf_status st = io_agree(comm, rank == 0 ? check_extent(path, *ncid, todo) : VF_OK);
  if (st) {
    ncmpi_close(*ncid);
    *ncid = -1;
    vf_trace_push(__FILE__, __LINE__, __func__);
  }
  return st;
}

vf_status io_nc_reserve(const char *path, long long need) {
  int fd = open(path, O_WRONLY), err = 0;
  struct stat sb;
  if (fd < 0 || fstat(fd, &sb) != 0) err = errno;
  else if (fallocate(fd, 0, 0, (off_t)need) != 0) {
    err = errno;
    if ((err == EOPNOTSUPP || err == ENOSYS) && ((long long)sb.st_size >= need ||
                                                 ftruncate(fd, (off_t)need) == 0))
      err = 0;
  }
  if (fd >= 0 && close(fd) != 0 && !err) err = errno;
  if (err)
    return vf_error(VF_E_IO, "%s: cannot reserve its full size (%lld bytes) on disk: %s; "
                    "free space there or write it elsewhere", path, need, strerror(err));
  return VF_OK;
}

vf_status io_nc_reserve_all(MPI_Comm comm, const char *path, int ncid) {
  int rank;
  long long need = 0;
  MPI_Comm_rank(comm, &rank);
  vf_status st = VF_OK;
  if (rank == 0) st = io_nc_size_needed(path, ncid, &need);
  if (rank == 0 && st == VF_OK) st = io_nc_reserve(path, need);
  VF_CALL(io_agree(comm, st));
  int err = ncmpi_sync(ncid);
  if (err != NC_NOERR)
    return vf_error(VF_E_IO, "%s: sync after reserving its size: %s", path, ncmpi_strerror(err));
  return VF_OK;
}

void io_mpi_setup(void) { setenv("OMPI_MCA_sharedfp", "individual", 0); }

void io_mpi_side_files_remove(const char *path) {
  const char *kinds[] = {"data", "metadata"};
  for (int k = 0; k < 2; k++) {
    char pattern[4200];
    glob_t g;
    snprintf(pattern, sizeof pattern, "%s.%s.[0-9]*", path, kinds[k]);
    if (glob(pattern, GLOB_NOSORT, NULL, &g) != 0) continue;
    for (size_t i = 0; i < g.gl_pathc; i++) {
      struct stat sb;
      const char *f = g.gl_pathv[i], *tail = f + strlen(path) + strlen(kinds[k]) + 2;
      if (strspn(tail, "0123456789") == strlen(tail) && stat(f, &sb) == 0 &&
          S_ISREG(sb.st_mode) && sb.st_size == 0)
        unlink(f);
    }
    globfree(&g);
  }
}
