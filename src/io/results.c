/* The results file: definition, metadata, per-unit data then status flags.
 * Layout in docs/results.md. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pnetcdf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "voxfit/io.h"
#include "nc.h"
#include "voxfit/stats.h"

enum { V_TEST_R, V_TEST_R2, V_LAMBDA, V_CV, V_CVS, V_STATUS, V_ERROR,
       V_SECONDS, V_RSTATUS, V_MEAN, V_MEDIAN, V_NVOX, V_NMASK,
       V_EV, V_SH, V_RNORM, V_P, V_Q, V_SIG, V_NSIG, V_TOPK, V_NORM, V_NEV, V_COUNT };
static const char *const var_names[V_COUNT] = {
    "test_r", "test_r2", "best_lambda", "cv_score", "cv_scores", "unit_status",
    "unit_error", "unit_seconds", "roi_status", "roi_mean_r", "roi_median_r",
    "roi_n_voxels", "roi_n_masked", "ev", "split_half", "test_r_norm", "test_p",
    "test_q", "roi_mean_r_sig", "roi_n_sig", "roi_mean_r_topk", "roi_mean_r_norm",
    "roi_n_ev"};

struct io_results {
  MPI_Comm comm;
  int ncid;
  int var[V_COUNT];
  int *wvar;   /* per variant: weights variable, or -1 */
  long *wlen;  /* per variant: its feature length */
  int n_rois, n_lambdas, n_units;
  int vpred, vy;  /* test_pred, test_y, or -1 */
  char path[4096];
};

static void utc_now(char *buf, size_t n) {
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Refuses an existing file voxfit cannot resume: not NetCDF (its own
 * reason), no job_hash, or another job's. The file is opened once; *ncid
 * is left open for the caller. A truncated file is refused here, before
 * anything writes to it: its done flags may promise data no longer there. */
static vf_status open_same_job(const char *path, const char *hash, int *ncid) {
  if (io_check_format(path) != VF_OK) /* its own reason: unreadable, HDF5, not NetCDF */
    return vf_error(VF_E_INPUT, "%s: exists and is not a results file voxfit can resume (%s); "
                    "move it away or rerun with --force", path, vf_error_message());
  VF_CALL(io_nc_open(MPI_COMM_SELF, path, NC_NOWRITE, IO_TODO_RESUME, ncid));
  char old[64] = "";
  MPI_Offset len = 0;
  int err = ncmpi_inq_attlen(*ncid, NC_GLOBAL, "job_hash", &len);
  if (err == NC_NOERR && len < (MPI_Offset)sizeof old)
    err = ncmpi_get_att_text(*ncid, NC_GLOBAL, "job_hash", old);
  if (err == NC_NOERR && strcmp(old, hash) == 0) return VF_OK;
  ncmpi_close(*ncid);
  if (err != NC_NOERR)
    return vf_error(VF_E_INPUT, "%s: exists but has no job_hash attribute: not a "
                    "voxfit results file; move it away or rerun with --force", path);
  return vf_error(VF_E_INPUT, "%s: holds the results of another job (job_hash %s, "
                  "this job %s); choose another output or rerun with --force",
                  path, old, hash);
}

vf_status io_results_check_existing(const char *path, const char *hash,
                                    int force, int *resumable) {
  struct stat sb;
  int ncid;
  *resumable = 0;
  if (stat(path, &sb) != 0 || force) return VF_OK;
  VF_CALL(open_same_job(path, hash, &ncid));
  ncmpi_close(ncid);
  *resumable = 1;
  return VF_OK;
}

vf_status io_results_state_read(const char *path, const char *hash, io_results_state *s) {
  struct stat sb;
  int ncid, id, nd = 0, dim;
  memset(s, 0, sizeof *s);
  if (stat(path, &sb) != 0) return VF_OK;
  s->exists = 1;
  VF_CALL(open_same_job(path, hash, &ncid));
  s->same_job = 1;
  MPI_Offset n = 0;
  int *st = NULL, err = ncmpi_inq_varid(ncid, var_names[V_STATUS], &id);
  if (err == NC_NOERR) err = ncmpi_inq_varndims(ncid, id, &nd);
  if (err == NC_NOERR && nd == 1) err = ncmpi_inq_vardimid(ncid, id, &dim);
  if (err == NC_NOERR && nd == 1) err = ncmpi_inq_dimlen(ncid, dim, &n);
  if (err == NC_NOERR && nd == 1 && n > 0 && vf_calloc((size_t)n, sizeof(int), "unit status", &st))
    err = NC_ENOMEM;
  if (err == NC_NOERR && st) err = ncmpi_get_var_int_all(ncid, id, st);
  if (err == NC_NOERR) err = ncmpi_get_att_int(ncid, NC_GLOBAL, "complete", &s->complete);
  ncmpi_close(ncid);
  for (MPI_Offset u = 0; st && u < n; u++) s->done += st[u] == 1, s->failed += st[u] == 2;
  s->units = (long)n;
  vf_free(&st);
  if (err != NC_NOERR || nd != 1)
    return vf_error(VF_E_INPUT, "%s: cannot read its unit_status: %s; %s", path,
                    err != NC_NOERR ? ncmpi_strerror(err) : "not one-dimensional",
                    IO_TODO_RESUME);
  return VF_OK;
}

static vf_status def_dim(const char *path, int ncid, const char *name,
                         MPI_Offset len, int *id) {
  NC(ncmpi_def_dim(ncid, name, len > 0 ? len : 1, id), name);
  return VF_OK;
}

static vf_status def_var(const char *path, int ncid, const char *name,
                         nc_type t, int nd, const int *dims, int *id) {
  NC(ncmpi_def_var(ncid, name, t, nd, dims, id), name);
  return VF_OK;
}

static vf_status put_text_att(const char *path, int ncid, const char *name,
                              const char *text) {
  NC(ncmpi_put_att_text(ncid, NC_GLOBAL, name, strlen(text), text), name);
  return VF_OK;
}

/* Names and coordinates are written by rank 0 in independent mode. */
typedef struct { const char *name; nc_type t; const void *data; int nd; int dims[2]; } meta_var;

static vf_status write_meta(const char *path, int ncid, const meta_var *mv,
                            int n, int rank) {
  NC(ncmpi_begin_indep_data(ncid), "begin independent mode");
  for (int i = 0; i < n && rank == 0; i++) {
    int id;
    NC(ncmpi_inq_varid(ncid, mv[i].name, &id), mv[i].name);
    if (!mv[i].data) continue;
    switch (mv[i].t) {
      case NC_CHAR: NC(ncmpi_put_var_text(ncid, id, mv[i].data), mv[i].name); break;
      case NC_INT: NC(ncmpi_put_var_int(ncid, id, mv[i].data), mv[i].name); break;
      case NC_FLOAT: NC(ncmpi_put_var_float(ncid, id, mv[i].data), mv[i].name); break;
      default: NC(ncmpi_put_var_double(ncid, id, mv[i].data), mv[i].name); break;
    }
  }
  NC(ncmpi_end_indep_data(ncid), "end independent mode");
  return VF_OK;
}

/* weights_<variant>(sweep, voxel, wfeat_<variant>): one per variant, as
 * variants differ in their number of features. */
static vf_status define_weights(io_results *r, const io_results_layout *L,
                                int dsweep, int dvox) {
  const char *path = r->path;
  VF_CALL(vf_calloc((size_t)L->n_variants, sizeof(int), "weights ids", &r->wvar));
  VF_CALL(vf_calloc((size_t)L->n_variants, sizeof(long), "weights sizes", &r->wlen));
  for (int v = 0; v < L->n_variants; v++) {
    r->wvar[v] = -1;
    if (!L->weight_len) continue;
    char dn[IO_NAME_LEN + 8], vn[IO_NAME_LEN + 16];
    snprintf(dn, sizeof dn, "wfeat_%s", L->variant_ids[v]);
    snprintf(vn, sizeof vn, "weights_%s", L->variant_ids[v]);
    int dims[3] = {dsweep, dvox, 0};
    VF_CALL(def_dim(path, r->ncid, dn, L->weight_len[v], &dims[2]));
    VF_CALL(def_var(path, r->ncid, vn, NC_FLOAT, 3, dims, &r->wvar[v]));
    r->wlen[v] = L->weight_len[v];
  }
  return VF_OK;
}

/* The bytes define_all's variables take, with the header's 1 MiB and
 * each variable's 4 KiB alignment (nc_var_align_size) counted in full: an
 * upper bound but for a header beyond 1 MiB. Kept beside define_all: a
 * variable added there is added here. */
double io_results_bytes(const io_results_layout *L) {
  double S = L->n_sweep, V = L->n_variants, X = (double)L->n_vox, U = L->n_units;
  int nvar = 21 + 4 + 3 + 10 + 2 + (V_Q - V_RNORM + 1) + (L->save_cv_scores ? 1 : 0) +
             (L->save_predictions ? 2 : 0) + (L->weight_len ? L->n_variants : 0);
  double R = S * L->n_subjects * V * L->n_rois, b = 1048576 + 4096.0 * nvar, t = 1;
  for (int s = 0; s < L->n_subjects; s++)
    if (L->subject_n_test[s] > t) t = L->subject_n_test[s];
  b += (L->n_subjects + 4 * V + L->n_rois) * IO_NAME_LEN + 4 * V + 128 * S +
       8.0 * L->n_lambdas + 8.0 * L->n_pairs + 4.0 * L->n_subjects; /* names, axes */
  b += X * (3 * 4 + 3 * 4) + U * 6 * 4;               /* voxel and unit tables */
  b += S * V * X * 8 * (4 + (V_Q - V_RNORM + 1));     /* per-voxel scores */
  if (L->save_cv_scores) b += S * V * X * L->n_lambdas * 4;
  b += U * (4 + 256 + 8);                             /* unit status, error, time */
  b += R * (5 * 4 + 5 * 8);                           /* ROI summaries */
  b += X * 2 * 8;                                     /* noise ceilings */
  if (L->save_predictions) b += S * V * X * t * 4 + X * t * 4;
  for (int v = 0; L->weight_len && v < L->n_variants; v++) b += S * X * L->weight_len[v] * 4;
  return b;
}

static vf_status define_all(io_results *r, const io_results_layout *L,
                            meta_var *mv, int *nmv) {
  const char *path = r->path;
  int ncid = r->ncid, d[16], *v = r->var;
  enum { SW, SU, VA, RO, VX, LA, PA, TW, NL, ML, LL, XY, UN, TE };
  const char *dn[] = {"sweep", "subject", "variant", "roi", "voxel", "lambda",
                      "pair", "two", "name_len", "msg_len", "label_len", "xyz", "unit",
                      "test"};
  int max_test = 1;
  for (int s = 0; s < L->n_subjects; s++)
    if (L->subject_n_test[s] > max_test) max_test = L->subject_n_test[s];
  MPI_Offset dl[] = {L->n_sweep, L->n_subjects, L->n_variants, L->n_rois,
                     L->n_vox, L->n_lambdas, L->n_pairs, 2, IO_NAME_LEN, 256, 128, 3,
                     L->n_units, max_test};
  for (int i = 0; i <= TE; i++) VF_CALL(def_dim(path, ncid, dn[i], dl[i], &d[i]));
  int k = 0;
  meta_var m[] = {
      {"subject_id", NC_CHAR, L->subject_ids, 2, {SU, NL}},
      {"variant_id", NC_CHAR, L->variant_ids, 2, {VA, NL}},
      {"variant_model", NC_CHAR, L->variant_models, 2, {VA, NL}},
      {"variant_tower", NC_CHAR, L->variant_towers, 2, {VA, NL}},
      {"variant_training", NC_CHAR, L->variant_trainings, 2, {VA, NL}},
      {"variant_layer", NC_INT, L->variant_layers, 1, {VA, 0}},
      {"roi_name", NC_CHAR, L->roi_names, 2, {RO, NL}},
      {"sweep_label", NC_CHAR, L->sweep_labels, 2, {SW, LL}},
      {"lambda", NC_DOUBLE, L->lambdas, 1, {LA, 0}},
      {"pair_variants", NC_INT, L->pairs, 2, {PA, TW}},
      {"voxel_subject", NC_INT, L->voxel_subject, 1, {VX, 0}},
      {"voxel_roi", NC_INT, L->voxel_roi, 1, {VX, 0}},
      {"voxel_index", NC_INT, L->voxel_index, 1, {VX, 0}},
      {"voxel_xyz", NC_FLOAT, L->voxel_xyz, 2, {VX, XY}},
      {"unit_sweep", NC_INT, L->unit_sweep, 1, {UN, 0}},
      {"unit_subject", NC_INT, L->unit_subject, 1, {UN, 0}},
      {"unit_variant", NC_INT, L->unit_variant, 1, {UN, 0}},
      {"unit_roi", NC_INT, L->unit_roi, 1, {UN, 0}},
      {"unit_voxel_start", NC_INT, L->unit_vox0, 1, {UN, 0}},
      {"unit_voxel_count", NC_INT, L->unit_nvox, 1, {UN, 0}},
      {"subject_n_test", NC_INT, L->subject_n_test, 1, {SU, 0}},
  };
  for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
    int dims[2] = {d[m[i].dims[0]], d[m[i].dims[1]]}, id;
    VF_CALL(def_var(path, ncid, m[i].name, m[i].t, m[i].nd, dims, &id));
    mv[k++] = m[i];
  }
  *nmv = k;
  int pv[4] = {d[SW], d[VA], d[VX], d[LA]};
  VF_CALL(def_var(path, ncid, var_names[V_TEST_R], NC_DOUBLE, 3, pv, &v[V_TEST_R]));
  VF_CALL(def_var(path, ncid, var_names[V_TEST_R2], NC_DOUBLE, 3, pv, &v[V_TEST_R2]));
  VF_CALL(def_var(path, ncid, var_names[V_LAMBDA], NC_DOUBLE, 3, pv, &v[V_LAMBDA]));
  VF_CALL(def_var(path, ncid, var_names[V_CV], NC_DOUBLE, 3, pv, &v[V_CV]));
  v[V_CVS] = -1;
  if (L->save_cv_scores)
    VF_CALL(def_var(path, ncid, var_names[V_CVS], NC_FLOAT, 4, pv, &v[V_CVS]));
  int un[2] = {d[UN], d[ML]};
  VF_CALL(def_var(path, ncid, var_names[V_STATUS], NC_INT, 1, un, &v[V_STATUS]));
  VF_CALL(def_var(path, ncid, var_names[V_ERROR], NC_CHAR, 2, un, &v[V_ERROR]));
  VF_CALL(def_var(path, ncid, var_names[V_SECONDS], NC_DOUBLE, 1, un, &v[V_SECONDS]));
  int uv[4] = {d[SW], d[SU], d[VA], d[RO]};
  VF_CALL(def_var(path, ncid, var_names[V_RSTATUS], NC_INT, 4, uv, &v[V_RSTATUS]));
  VF_CALL(def_var(path, ncid, var_names[V_MEAN], NC_DOUBLE, 4, uv, &v[V_MEAN]));
  VF_CALL(def_var(path, ncid, var_names[V_MEDIAN], NC_DOUBLE, 4, uv, &v[V_MEDIAN]));
  VF_CALL(def_var(path, ncid, var_names[V_NVOX], NC_INT, 4, uv, &v[V_NVOX]));
  VF_CALL(def_var(path, ncid, var_names[V_NMASK], NC_INT, 4, uv, &v[V_NMASK]));
  VF_CALL(def_var(path, ncid, var_names[V_SIG], NC_DOUBLE, 4, uv, &v[V_SIG]));
  VF_CALL(def_var(path, ncid, var_names[V_NSIG], NC_INT, 4, uv, &v[V_NSIG]));
  VF_CALL(def_var(path, ncid, var_names[V_TOPK], NC_DOUBLE, 4, uv, &v[V_TOPK]));
  VF_CALL(def_var(path, ncid, var_names[V_NORM], NC_DOUBLE, 4, uv, &v[V_NORM]));
  VF_CALL(def_var(path, ncid, var_names[V_NEV], NC_INT, 4, uv, &v[V_NEV]));
  VF_CALL(def_var(path, ncid, var_names[V_EV], NC_DOUBLE, 1, &d[VX], &v[V_EV]));
  VF_CALL(def_var(path, ncid, var_names[V_SH], NC_DOUBLE, 1, &d[VX], &v[V_SH]));
  for (int i = V_RNORM; i <= V_Q; i++)
    VF_CALL(def_var(path, ncid, var_names[i], NC_DOUBLE, 3, pv, &v[i]));
  r->vpred = r->vy = -1;
  if (L->save_predictions) {
    int pd4[4] = {d[SW], d[VA], d[VX], d[TE]}, yd[2] = {d[VX], d[TE]};
    VF_CALL(def_var(path, ncid, "test_pred", NC_FLOAT, 4, pd4, &r->vpred));
    VF_CALL(def_var(path, ncid, "test_y", NC_FLOAT, 2, yd, &r->vy));
  }
  NC(ncmpi_put_att_double(ncid, NC_GLOBAL, "stats_alpha", NC_DOUBLE, 1, &L->alpha), "alpha");
  NC(ncmpi_put_att_int(ncid, NC_GLOBAL, "stats_top_k", NC_INT, 1, &L->top_k), "top_k");
  NC(ncmpi_put_att_int(ncid, NC_GLOBAL, "stats_permutations", NC_INT, 1, &L->permutations),
     "permutations");
  NC(ncmpi_put_att_int(ncid, NC_GLOBAL, "stats_block_length", NC_INT, 1, &L->block_length),
     "block_length");
  NC(ncmpi_put_att_double(ncid, NC_GLOBAL, "stats_ev_threshold", NC_DOUBLE, 1,
                          &L->ev_threshold), "ev_threshold");
  VF_CALL(define_weights(r, L, d[SW], d[VX]));
  char now[32];
  utc_now(now, sizeof now);
  VF_CALL(put_text_att(path, ncid, "voxfit_version", VF_VERSION));
  VF_CALL(put_text_att(path, ncid, "job_name", L->job_name));
  VF_CALL(put_text_att(path, ncid, "job_file", L->job_file));
  VF_CALL(put_text_att(path, ncid, "job_yaml", L->job_yaml));
  VF_CALL(put_text_att(path, ncid, "job_hash", L->job_hash));
  /* created at full size (extend_file): the truncation check may trust
   * its length; files of earlier builds end at their last write */
  VF_CALL(put_text_att(path, ncid, "full_size", "1"));
  VF_CALL(put_text_att(path, ncid, "started", now));
  VF_CALL(put_text_att(path, ncid, "finished", ""));
  int zero = 0, size;
  MPI_Comm_size(r->comm, &size);
  NC(ncmpi_put_att_int(ncid, NC_GLOBAL, "complete", NC_INT, 1, &zero), "complete");
  NC(ncmpi_put_att_int(ncid, NC_GLOBAL, "n_ranks", NC_INT, 1, &size), "n_ranks");
  /* a classic file has no empty fixed dimension: "pair" has length 1 and
   * holds -1 when the job declares no pair */
  NC(ncmpi_put_att_int(ncid, NC_GLOBAL, "n_pairs", NC_INT, 1, &L->n_pairs), "n_pairs");
  int shard[2] = {L->shard, L->n_shards};
  long long bv = L->block_voxels;
  NC(ncmpi_put_att_int(ncid, NC_GLOBAL, "shard", NC_INT, 2, shard), "shard");
  NC(ncmpi_put_att_longlong(ncid, NC_GLOBAL, "block_voxels", NC_INT64, 1, &bv), "block_voxels");
  /* 1 once every flag is zeroed: a file killed before is not resumed */
  NC(ncmpi_put_att_int(ncid, NC_GLOBAL, "initialised", NC_INT, 1, &zero), "initialised");
  return VF_OK;
}

/* Every status starts at 0 ("not done"): PnetCDF does not fill. */
static vf_status zero_status(io_results *r, const io_results_layout *L,
                             int rank) {
  const char *path = r->path;
  size_t n = (size_t)L->n_sweep * L->n_subjects * L->n_variants * L->n_rois;
  int *z = NULL;
  if (n < (size_t)L->n_units) n = (size_t)L->n_units;
  VF_CALL(vf_calloc(n, sizeof(int), "status flags", &z));
  NC(ncmpi_begin_indep_data(r->ncid), "begin independent mode");
  int err = rank == 0 ? ncmpi_put_var_int(r->ncid, r->var[V_STATUS], z) : NC_NOERR;
  if (err == NC_NOERR && rank == 0) err = ncmpi_put_var_int(r->ncid, r->var[V_RSTATUS], z);
  vf_free(&z);
  NC(err, "unit_status");
  NC(ncmpi_end_indep_data(r->ncid), "end independent mode");
  return VF_OK;
}

static vf_status set_int_att(io_results *r, const char *name, int value) {
  const char *path = r->path;
  NC(ncmpi_redef(r->ncid), "redef");
  NC(ncmpi_put_att_int(r->ncid, NC_GLOBAL, name, NC_INT, 1, &value), name);
  NC(ncmpi_enddef(r->ncid), "enddef");
  return VF_OK;
}

/* PnetCDF neither fills nor pads: a file whose last variables are not
 * written yet (a run in progress or stopped, one shard of several) would
 * end before the size its header implies, and so would a copy cut short.
 * Given its full size at creation (io_nc_reserve), a results file shorter
 * than its header implies has lost data, and a resume refuses it
 * (io_nc_open). Reserved at creation and again on resume. Collective. */
static vf_status create_file(io_results *r) {
  const char *path = r->path;
  MPI_Info info;
  MPI_Info_create(&info);
  /* Reserve header space so variables can be added later without moving
   * the data section (resume, new sweep points). */
  MPI_Info_set(info, "nc_header_align_size", "1048576");
  MPI_Info_set(info, "nc_var_align_size", "4096");
  int err = ncmpi_create(r->comm, path, NC_CLOBBER | NC_64BIT_DATA, info, &r->ncid);
  MPI_Info_free(&info);
  NC(err, "cannot create results file");
  return VF_OK;
}

vf_status io_results_create(MPI_Comm comm, const char *path,
                            const io_results_layout *L, io_results **out) {
  vf_status st; /* set by every VF_TRY before fail: */
  io_results *r = NULL;
  meta_var mv[32];
  int nmv = 0, rank;
  MPI_Comm_rank(comm, &rank);
  *out = NULL;
  VF_TRY(vf_calloc(1, sizeof *r, "results handle", &r));
  r->comm = comm;
  r->ncid = -1;
  r->n_rois = L->n_rois;
  r->n_lambdas = L->n_lambdas;
  r->n_units = L->n_units;
  snprintf(r->path, sizeof r->path, "%s", path);
  VF_TRY(create_file(r));
  VF_TRY(define_all(r, L, mv, &nmv));
  if (ncmpi_enddef(r->ncid) != NC_NOERR)
    VF_FAIL(VF_E_IO, "%s: cannot leave define mode", path);
  VF_TRY(write_meta(r->path, r->ncid, mv, nmv, rank));
  VF_TRY(zero_status(r, L, rank));
  if (ncmpi_sync(r->ncid) != NC_NOERR) VF_FAIL(VF_E_IO, "%s: sync failed", path);
  VF_TRY(io_nc_reserve_all(r->comm, r->path, r->ncid));
  VF_TRY(set_int_att(r, "initialised", 1));
  *out = r;
  return VF_OK;
fail:
  if (r && r->ncid >= 0) {
    ncmpi_close(r->ncid);
    if (rank == 0) unlink(path); /* not set up: nothing to resume (e.g. a full disk) */
  }
  if (r) vf_free(&r->wvar), vf_free(&r->wlen);
  vf_free(&r);
  return st;
}

static vf_status put_unit_data(io_results *r, const io_unit_result *u) {
  const char *path = r->path;
  int id = r->ncid, *v = r->var, req;
  MPI_Offset s3[3] = {u->sweep, u->variant, u->vox0}, c3[3] = {1, 1, u->n_vox};
  NC(ncmpi_iput_vara_double(id, v[V_TEST_R], s3, c3, u->test_r, &req), "test_r");
  NC(ncmpi_iput_vara_double(id, v[V_TEST_R2], s3, c3, u->test_r2, &req), "test_r2");
  NC(ncmpi_iput_vara_double(id, v[V_LAMBDA], s3, c3, u->best_lambda, &req), "best_lambda");
  NC(ncmpi_iput_vara_double(id, v[V_CV], s3, c3, u->cv_best, &req), "cv_score");
  NC(ncmpi_iput_vara_double(id, v[V_RNORM], s3, c3, u->test_r_norm, &req), "test_r_norm");
  NC(ncmpi_iput_vara_double(id, v[V_P], s3, c3, u->test_p, &req), "test_p");
  MPI_Offset s1[1] = {u->vox0}, c1v[1] = {u->n_vox};
  NC(ncmpi_iput_vara_double(id, v[V_EV], s1, c1v, u->ev, &req), "ev");
  NC(ncmpi_iput_vara_double(id, v[V_SH], s1, c1v, u->split_half, &req), "split_half");
  if (r->vpred >= 0 && u->pred) {
    MPI_Offset s4[4] = {u->sweep, u->variant, u->vox0, 0}, c4[4] = {1, 1, u->n_vox, u->n_test};
    MPI_Offset s2[2] = {u->vox0, 0}, c2[2] = {u->n_vox, u->n_test};
    NC(ncmpi_iput_vara_float(id, r->vpred, s4, c4, u->pred, &req), "test_pred");
    NC(ncmpi_iput_vara_float(id, r->vy, s2, c2, u->y, &req), "test_y");
  }
  if (v[V_CVS] >= 0 && u->cv_scores) {
    MPI_Offset s4[4] = {u->sweep, u->variant, u->vox0, 0},
               c4[4] = {1, 1, u->n_vox, r->n_lambdas};
    NC(ncmpi_iput_vara_float(id, v[V_CVS], s4, c4, u->cv_scores, &req), "cv_scores");
  }
  if (r->wvar[u->variant] >= 0 && u->weights) {
    MPI_Offset sw[3] = {u->sweep, u->vox0, 0}, cw[3] = {1, u->n_vox, r->wlen[u->variant]};
    NC(ncmpi_iput_vara_float(id, r->wvar[u->variant], sw, cw, u->weights, &req), "weights");
  }
  MPI_Offset s2[2] = {u->unit, 0}, c2[2] = {1, 256}, c1[1] = {1};
  NC(ncmpi_iput_vara_text(id, v[V_ERROR], s2, c2, u->error, &req), "unit_error");
  NC(ncmpi_iput_vara_double(id, v[V_SECONDS], s2, c1, &u->seconds, &req), "unit_seconds");
  return VF_OK;
}

static vf_status put_unit_status(io_results *r, const io_unit_result *u) {
  const char *path = r->path;
  int req;
  MPI_Offset s1[1] = {u->unit}, c1[1] = {1};
  NC(ncmpi_iput_vara_int(r->ncid, r->var[V_STATUS], s1, c1, &u->status, &req),
     "unit_status");
  return VF_OK;
}

vf_status io_results_write_units(io_results *r, const io_unit_result *u,
                                 int n) {
  const char *path = r->path;
  vf_status st = VF_OK;
  /* A failing put on one rank must not leave the others inside the
   * collective wait: every rank reaches wait_all, then all agree. */
  for (int i = 0; i < n && st == VF_OK; i++) st = put_unit_data(r, &u[i]);
  int e1 = ncmpi_wait_all(r->ncid, NC_REQ_ALL, NULL, NULL);
  int e2 = ncmpi_sync(r->ncid);
  int bad = st != VF_OK || e1 != NC_NOERR || e2 != NC_NOERR, any = 0;
  MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, r->comm);
  if (st) return st;
  NC(e1, "writing unit results");
  NC(e2, "syncing unit results");
  if (any) return vf_error(VF_E_IO, "%s: another rank failed to write its units", path);
  /* Only now the flags: data first, then "done". */
  for (int i = 0; i < n && st == VF_OK; i++) st = put_unit_status(r, &u[i]);
  e1 = ncmpi_wait_all(r->ncid, NC_REQ_ALL, NULL, NULL);
  e2 = ncmpi_sync(r->ncid);
  bad = st != VF_OK || e1 != NC_NOERR || e2 != NC_NOERR;
  MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, r->comm);
  if (st) return st;
  NC(e1, "writing unit status");
  NC(e2, "syncing unit status");
  if (any) return vf_error(VF_E_IO, "%s: another rank failed to write its status", path);
  return VF_OK;
}

vf_status io_results_close(io_results **rp, int complete) {
  if (!rp || !*rp) return VF_OK;
  io_results *r = *rp;
  const char *path = r->path;
  vf_status st = VF_OK;
  char now[32];
  utc_now(now, sizeof now);
  /* finished is the time of completion only: a stopped run's file has
   * none, so it never reads as done; last_closed says when it stopped */
  const char *fin = complete ? now : "";
  int err = ncmpi_redef(r->ncid);
  if (err == NC_NOERR)
    err = ncmpi_put_att_text(r->ncid, NC_GLOBAL, "finished", strlen(fin), fin);
  if (err == NC_NOERR)
    err = ncmpi_put_att_text(r->ncid, NC_GLOBAL, "last_closed", strlen(now), now);
  if (err == NC_NOERR)
    err = ncmpi_put_att_int(r->ncid, NC_GLOBAL, "complete", NC_INT, 1, &complete);
  if (err == NC_NOERR) err = ncmpi_enddef(r->ncid);
  int cerr = ncmpi_close(r->ncid);
  if (err != NC_NOERR || cerr != NC_NOERR)
    st = vf_error(VF_E_IO, "%s: closing: %s", path,
                  ncmpi_strerror(err != NC_NOERR ? err : cerr));
  vf_free(&r->wvar);
  vf_free(&r->wlen);
  vf_free(rp);
  return st;
}

static vf_status dim_len(const char *path, int ncid, const char *name, int *n) {
  int id;
  MPI_Offset len;
  NC(ncmpi_inq_dimid(ncid, name, &id), name);
  NC(ncmpi_inq_dimlen(ncid, id, &len), name);
  *n = (int)len;
  return VF_OK;
}

static vf_status get_var(const char *path, int ncid, const char *name,
                         nc_type t, void *buf) {
  int id;
  NC(ncmpi_inq_varid(ncid, name, &id), name);
  if (t == NC_CHAR) NC(ncmpi_get_var_text_all(ncid, id, buf), name);
  else if (t == NC_INT) NC(ncmpi_get_var_int_all(ncid, id, buf), name);
  else NC(ncmpi_get_var_double_all(ncid, id, buf), name);
  return VF_OK;
}

static vf_status read_table(const char *path, int ncid, io_results_table *t) {
  VF_CALL(dim_len(path, ncid, "sweep", &t->n_sweep));
  VF_CALL(dim_len(path, ncid, "subject", &t->n_subjects));
  VF_CALL(dim_len(path, ncid, "variant", &t->n_variants));
  VF_CALL(dim_len(path, ncid, "roi", &t->n_rois));
  NC(ncmpi_get_att_int(ncid, NC_GLOBAL, "n_pairs", &t->n_pairs), "n_pairs");
  size_t n = (size_t)t->n_sweep * t->n_subjects * t->n_variants * t->n_rois;
  VF_CALL(vf_calloc((size_t)t->n_sweep, 128, "labels", &t->sweep_labels));
  VF_CALL(vf_calloc((size_t)t->n_subjects, IO_NAME_LEN, "names", &t->subject_ids));
  VF_CALL(vf_calloc((size_t)t->n_variants, IO_NAME_LEN, "names", &t->variant_ids));
  VF_CALL(vf_calloc((size_t)t->n_rois, IO_NAME_LEN, "names", &t->roi_names));
  VF_CALL(vf_calloc((size_t)2 * (t->n_pairs + 1), sizeof(int), "pairs", &t->pairs));
  VF_CALL(vf_calloc(n, sizeof(double), "ROI means", &t->roi_mean_r));
  VF_CALL(vf_calloc(n, sizeof(int), "status", &t->status));
  VF_CALL(vf_calloc(n, sizeof(int), "masked", &t->roi_n_masked));
  VF_CALL(get_var(path, ncid, "sweep_label", NC_CHAR, t->sweep_labels));
  VF_CALL(get_var(path, ncid, "subject_id", NC_CHAR, t->subject_ids));
  VF_CALL(get_var(path, ncid, "variant_id", NC_CHAR, t->variant_ids));
  VF_CALL(get_var(path, ncid, "roi_name", NC_CHAR, t->roi_names));
  VF_CALL(get_var(path, ncid, "pair_variants", NC_INT, t->pairs));
  VF_CALL(get_var(path, ncid, "roi_mean_r", NC_DOUBLE, t->roi_mean_r));
  VF_CALL(get_var(path, ncid, "roi_status", NC_INT, t->status));
  VF_CALL(get_var(path, ncid, "roi_n_masked", NC_INT, t->roi_n_masked));
  NC(ncmpi_get_att_int(ncid, NC_GLOBAL, "complete", &t->complete), "complete");
  VF_CALL(vf_calloc((size_t)t->n_variants, sizeof(int), "layers", &t->variant_layers));
  VF_CALL(vf_calloc((size_t)t->n_variants, IO_NAME_LEN, "names", &t->variant_models));
  VF_CALL(get_var(path, ncid, "variant_layer", NC_INT, t->variant_layers));
  VF_CALL(get_var(path, ncid, "variant_model", NC_CHAR, t->variant_models));
  int nv, id;
  VF_CALL(dim_len(path, ncid, "voxel", &nv));
  t->n_vox = nv;
  VF_CALL(vf_calloc((size_t)nv, sizeof(int), "voxels", &t->voxel_subject));
  VF_CALL(vf_calloc((size_t)nv, sizeof(int), "voxels", &t->voxel_roi));
  VF_CALL(vf_calloc((size_t)t->n_subjects, sizeof(int), "test sizes", &t->subject_n_test));
  VF_CALL(get_var(path, ncid, "voxel_subject", NC_INT, t->voxel_subject));
  VF_CALL(get_var(path, ncid, "voxel_roi", NC_INT, t->voxel_roi));
  VF_CALL(get_var(path, ncid, "subject_n_test", NC_INT, t->subject_n_test));
  int mt = 0;
  VF_CALL(dim_len(path, ncid, "test", &mt));
  t->max_test = mt;
  t->has_predictions = ncmpi_inq_varid(ncid, "test_pred", &id) == NC_NOERR;
  MPI_Offset len = 0;
  NC(ncmpi_inq_attlen(ncid, NC_GLOBAL, "job_hash", &len), "job_hash");
  if (len < (MPI_Offset)sizeof t->job_hash)
    NC(ncmpi_get_att_text(ncid, NC_GLOBAL, "job_hash", t->job_hash), "job_hash");
  if (ncmpi_inq_attlen(ncid, NC_GLOBAL, "job_yaml", &len) == NC_NOERR &&
      vf_calloc((size_t)len + 1, 1, "job text", &t->job_yaml) == VF_OK &&
      ncmpi_get_att_text(ncid, NC_GLOBAL, "job_yaml", t->job_yaml) != NC_NOERR)
    vf_free(&t->job_yaml); /* optional: only group's settings check reads it */
  return VF_OK;
}

vf_status io_results_read_table(const char *path, io_results_table **out) {
  io_results_table *t = NULL;
  int ncid;
  *out = NULL;
  VF_CALL(io_check_format(path));
  VF_CALL(io_nc_open(MPI_COMM_SELF, path, NC_NOWRITE, IO_TODO_RESULTS, &ncid));
  vf_status cst = vf_calloc(1, sizeof *t, "results table", &t);
  if (cst) {
    ncmpi_close(ncid);
    return cst;
  }
  vf_status st = read_table(path, ncid, t);
  ncmpi_close(ncid);
  if (st) {
    io_results_table_destroy(&t);
    return vf_error(VF_E_INPUT, "%s: not a voxfit results file of this version (%s)",
                    path, vf_error_message());
  }
  *out = t;
  return VF_OK;
}

static vf_status read_pred_slice(const char *path, int ncid, int sweep, int variant,
                                  const io_results_table *t, float *pred, float *y) {
  int id;
  MPI_Offset s4[4] = {sweep, variant, 0, 0}, c4[4] = {1, 1, t->n_vox, t->max_test};
  NC(ncmpi_inq_varid(ncid, "test_pred", &id), "test_pred: none; set stats.save_predictions");
  NC(ncmpi_get_vara_float_all(ncid, id, s4, c4, pred), "test_pred");
  if (!y) return VF_OK;
  NC(ncmpi_inq_varid(ncid, "test_y", &id), "test_y");
  NC(ncmpi_get_var_float_all(ncid, id, y), "test_y");
  return VF_OK;
}

vf_status io_results_read_predictions(const char *path, int sweep, int variant,
                                      const io_results_table *t, float *pred, float *y) {
  int ncid;
  VF_CALL(io_nc_open(MPI_COMM_SELF, path, NC_NOWRITE, IO_TODO_RESULTS, &ncid));
  vf_status st = read_pred_slice(path, ncid, sweep, variant, t, pred, y);
  ncmpi_close(ncid);
  return st;
}

void io_results_table_destroy(io_results_table **tp) {
  if (!tp || !*tp) return;
  io_results_table *t = *tp;
  vf_free(&t->sweep_labels), vf_free(&t->subject_ids), vf_free(&t->variant_ids);
  vf_free(&t->roi_names), vf_free(&t->pairs), vf_free(&t->roi_mean_r);
  vf_free(&t->status), vf_free(&t->roi_n_masked);
  vf_free(&t->variant_layers), vf_free(&t->variant_models);
  vf_free(&t->voxel_subject), vf_free(&t->voxel_roi), vf_free(&t->subject_n_test);
  vf_free(&t->job_yaml);
  vf_free(tp);
}

/* ---- resuming ---------------------------------------------------------- */

static vf_status find_vars(io_results *r, const io_results_layout *L) {
  const char *path = r->path;
  for (int i = 0; i < V_COUNT; i++) {
    int err = ncmpi_inq_varid(r->ncid, var_names[i], &r->var[i]);
    if (err != NC_NOERR && !(i == V_CVS && !L->save_cv_scores))
      return vf_error(VF_E_INPUT, "%s: has no variable '%s': written by another "
                      "voxfit version or job settings; rerun with --force", path,
                      var_names[i]);
    if (err != NC_NOERR) r->var[i] = -1;
  }
  r->vpred = r->vy = -1;
  if (L->save_predictions) {
    NC(ncmpi_inq_varid(r->ncid, "test_pred", &r->vpred), "test_pred");
    NC(ncmpi_inq_varid(r->ncid, "test_y", &r->vy), "test_y");
  }
  VF_CALL(vf_calloc((size_t)L->n_variants, sizeof(int), "weights ids", &r->wvar));
  VF_CALL(vf_calloc((size_t)L->n_variants, sizeof(long), "weights sizes", &r->wlen));
  for (int v = 0; v < L->n_variants; v++) {
    char vn[IO_NAME_LEN + 16];
    snprintf(vn, sizeof vn, "weights_%s", L->variant_ids[v]);
    r->wvar[v] = -1;
    if (!L->weight_len) continue;
    NC(ncmpi_inq_varid(r->ncid, vn, &r->wvar[v]), vn);
    r->wlen[v] = L->weight_len[v];
  }
  return VF_OK;
}

static vf_status check_dims(io_results *r, const io_results_layout *L) {
  const char *path = r->path;
  const char *names[] = {"sweep", "subject", "variant", "roi", "voxel", "lambda", "unit"};
  long want[] = {L->n_sweep, L->n_subjects, L->n_variants, L->n_rois, L->n_vox,
                 L->n_lambdas, L->n_units};
  for (int i = 0; i < 7; i++) {
    int id;
    MPI_Offset len = -1;
    if (ncmpi_inq_dimid(r->ncid, names[i], &id) == NC_NOERR) ncmpi_inq_dimlen(r->ncid, id, &len);
    if (len != (want[i] > 0 ? want[i] : 1))
      return vf_error(VF_E_INPUT, "%s: has %lld along '%s' but this run has %ld (the "
                      "inputs or the site's block_voxels changed); rerun with --force",
                      path, (long long)len, names[i], want[i]);
  }
  return VF_OK;
}

static vf_status check_units(io_results *r, const io_results_layout *L) {
  const char *path = r->path;
  const char *names[] = {"unit_sweep", "unit_subject", "unit_variant", "unit_roi",
                         "unit_voxel_start", "unit_voxel_count"};
  const int *want[] = {L->unit_sweep, L->unit_subject, L->unit_variant, L->unit_roi,
                       L->unit_vox0, L->unit_nvox};
  int *got = NULL, same = 1;
  VF_CALL(vf_calloc((size_t)L->n_units + 1, sizeof(int), "unit table", &got));
  for (int i = 0; i < 6 && same; i++) {
    int id, err = ncmpi_inq_varid(r->ncid, names[i], &id);
    if (err == NC_NOERR) err = ncmpi_get_var_int_all(r->ncid, id, got);
    same = err == NC_NOERR && !memcmp(got, want[i], sizeof(int) * (size_t)L->n_units);
  }
  vf_free(&got);
  if (!same)
    return vf_error(VF_E_INPUT, "%s: its units are not this run's (the site's "
                    "block_voxels or the unit order changed); rerun with the same "
                    "configs/ or with --force", path);
  return VF_OK;
}

static vf_status check_header(io_results *r, const io_results_layout *L) {
  const char *path = r->path;
  int init = 0, shard[2] = {-1, -1};
  if (ncmpi_get_att_int(r->ncid, NC_GLOBAL, "initialised", &init) != NC_NOERR)
    return vf_error(VF_E_INPUT, "%s: was written by an older voxfit (no unit table); "
                    "rerun with --force to start afresh", path);
  if (init != 1)
    return vf_error(VF_E_INPUT, "%s: the job that created it was stopped before the "
                    "file was set up; rerun with --force to start afresh", path);
  ncmpi_get_att_int(r->ncid, NC_GLOBAL, "shard", shard);
  if (shard[0] != L->shard || shard[1] != L->n_shards)
    return vf_error(VF_E_INPUT, "%s: holds shard %d of %d, not %d of %d; choose the "
                    "matching --shard or rerun with --force", path, shard[0] + 1,
                    shard[1], L->shard + 1, L->n_shards);
  return VF_OK;
}

static vf_status open_checked(io_results *r, const io_results_layout *L, int *status) {
  const char *path = r->path;
  VF_CALL(io_nc_open(r->comm, path, NC_WRITE, IO_TODO_RESUME, &r->ncid));
  VF_CALL(check_header(r, L));
  VF_CALL(check_dims(r, L));
  VF_CALL(find_vars(r, L));
  VF_CALL(check_units(r, L));
  int rank;
  MPI_Comm_rank(r->comm, &rank);
  VF_CALL(io_nc_reserve_all(r->comm, r->path, r->ncid)); /* the units still to do get their blocks */
  NC(ncmpi_get_var_int_all(r->ncid, r->var[V_STATUS], status), "unit_status");
  /* the file is being worked on again: no longer complete */
  int zero = 0;
  NC(ncmpi_redef(r->ncid), "redef");
  NC(ncmpi_put_att_int(r->ncid, NC_GLOBAL, "complete", NC_INT, 1, &zero), "complete");
  NC(ncmpi_enddef(r->ncid), "enddef");
  return VF_OK;
}

vf_status io_results_open(MPI_Comm comm, const char *path,
                          const io_results_layout *L, io_results **out,
                          int *status) {
  io_results *r = NULL;
  *out = NULL;
  VF_CALL(vf_calloc(1, sizeof *r, "results handle", &r));
  r->comm = comm, r->ncid = -1;
  r->n_rois = L->n_rois, r->n_lambdas = L->n_lambdas, r->n_units = L->n_units;
  snprintf(r->path, sizeof r->path, "%s", path);
  vf_status st = open_checked(r, L, status);
  if (st) {
    if (r->ncid >= 0) ncmpi_close(r->ncid);
    vf_free(&r->wvar), vf_free(&r->wlen), vf_free(&r);
    return st;
  }
  *out = r;
  return VF_OK;
}

/* ---- ROI summaries ----------------------------------------------------- */

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Per (sweep, subject, variant, roi): 1 when every unit covering it is
 * done, 2 when one failed, else 0. */
static void roi_flags(const io_results_layout *L, const int *status, int *flag) {
  size_t n = (size_t)L->n_sweep * L->n_subjects * L->n_variants * L->n_rois;
  for (size_t i = 0; i < n; i++) flag[i] = 1;
  for (int u = 0; u < L->n_units; u++) {
    for (int q = 0; q < L->n_rois; q++) {
      if (L->unit_roi[u] >= 0 && L->unit_roi[u] != q) continue;
      size_t i = (((size_t)L->unit_sweep[u] * L->n_subjects + L->unit_subject[u]) *
                      L->n_variants + L->unit_variant[u]) * L->n_rois + q;
      if (status[u] == 2) flag[i] = 2;
      else if (status[u] == 0 && flag[i] == 1) flag[i] = 0;
    }
  }
}

typedef struct {
  double *mean, *median, *sig, *topk, *norm;
  int *nvox, *nmask, *flag, *nsig, *nev;
} roi_stats;

/* A (sweep, variant) slice of the per-voxel results, and scratch. */
typedef struct {
  double *r, *q, *rnorm, *buf;
} slice_data;

static double mean_of(const double *x, long n) {
  double s = 0;
  for (long i = 0; i < n; i++) s += x[i];
  return n ? s / n : NAN;
}

/* One (subject, ROI) group's summaries from its voxels [a, b). */
static void summarise_group(const io_results_layout *L, const slice_data *d, long a,
                            long b, roi_stats *o, size_t i) {
  long n = 0, masked = 0, nsig = 0, nev = 0;
  double sig = 0, norm = 0;
  for (long k = a; k < b; k++) {
    if (isnan(d->r[k])) {
      masked++;
      continue;
    }
    d->buf[n++] = d->r[k];
    if (d->q[k] < L->alpha) nsig++, sig += d->r[k];
    if (!isnan(d->rnorm[k])) nev++, norm += d->rnorm[k];
  }
  if (n) qsort(d->buf, (size_t)n, sizeof(double), cmp_double);
  int ok = o->flag[i] == 1 && n > 0;
  long k = n < L->top_k ? n : L->top_k;
  o->nvox[i] = (int)(n + masked);
  o->nmask[i] = o->flag[i] == 1 ? (int)masked : 0;
  o->mean[i] = ok ? mean_of(d->buf, n) : NAN;
  o->median[i] = ok ? (n % 2 ? d->buf[n / 2] : 0.5 * (d->buf[n / 2 - 1] + d->buf[n / 2])) : NAN;
  o->topk[i] = ok ? mean_of(d->buf + n - k, k) : NAN;
  o->nsig[i] = ok ? (int)nsig : 0, o->nev[i] = ok ? (int)nev : 0;
  o->sig[i] = ok && nsig ? sig / nsig : NAN;
  o->norm[i] = ok && nev ? norm / nev : NAN;
}

/* The voxel axis holds each subject, and within it each ROI, as one
 * contiguous run, so one pass finds every group. */
static void summarise_slice(const io_results_layout *L, int w, int v, const slice_data *d,
                            roi_stats *o) {
  for (int s = 0; s < L->n_subjects; s++)
    for (int q = 0; q < L->n_rois; q++) {
      size_t i = (((size_t)w * L->n_subjects + s) * L->n_variants + v) * L->n_rois + q;
      summarise_group(L, d, 0, 0, o, i);
    }
  for (long a = 0, b; a < L->n_vox; a = b) {
    int s = L->voxel_subject[a], q = L->voxel_roi[a];
    for (b = a; b < L->n_vox && L->voxel_subject[b] == s && L->voxel_roi[b] == q;) b++;
    size_t i = (((size_t)w * L->n_subjects + s) * L->n_variants + v) * L->n_rois + q;
    summarise_group(L, d, a, b, o, i);
  }
}

/* test_q: Benjamini-Hochberg over each subject's voxels (d->q holds p). */
static vf_status fdr_by_subject(const io_results_layout *L, slice_data *d) {
  for (long a = 0, b; a < L->n_vox; a = b) {
    for (b = a; b < L->n_vox && L->voxel_subject[b] == L->voxel_subject[a];) b++;
    memcpy(d->buf, d->q + a, sizeof(double) * (size_t)(b - a));
    VF_CALL(stats_bh(d->buf, (int)(b - a), d->q + a));
  }
  return VF_OK;
}

/* Voxels of units not done hold whatever the disk held (PnetCDF does not
 * fill): they are NaN for the summaries and the FDR. */
static void mask_not_done(const io_results_layout *L, const int *status, int w, int v,
                          slice_data *d) {
  for (int u = 0; u < L->n_units; u++) {
    if (L->unit_sweep[u] != w || L->unit_variant[u] != v || status[u] == 1) continue;
    for (long k = L->unit_vox0[u]; k < L->unit_vox0[u] + L->unit_nvox[u]; k++)
      d->r[k] = d->q[k] = d->rnorm[k] = NAN;
  }
}

static vf_status summarise_rank0(io_results *r, const io_results_layout *L,
                                 const int *status, roi_stats *o, slice_data *d) {
  const char *path = r->path;
  for (int w = 0; w < L->n_sweep; w++)
    for (int v = 0; v < L->n_variants; v++) {
      MPI_Offset st[3] = {w, v, 0}, ct[3] = {1, 1, L->n_vox};
      NC(ncmpi_get_vara_double(r->ncid, r->var[V_TEST_R], st, ct, d->r), "test_r");
      NC(ncmpi_get_vara_double(r->ncid, r->var[V_P], st, ct, d->q), "test_p");
      NC(ncmpi_get_vara_double(r->ncid, r->var[V_RNORM], st, ct, d->rnorm), "test_r_norm");
      mask_not_done(L, status, w, v, d);
      VF_CALL(fdr_by_subject(L, d));
      NC(ncmpi_put_vara_double(r->ncid, r->var[V_Q], st, ct, d->q), "test_q");
      summarise_slice(L, w, v, d, o);
    }
  NC(ncmpi_put_var_double(r->ncid, r->var[V_MEAN], o->mean), "roi_mean_r");
  NC(ncmpi_put_var_double(r->ncid, r->var[V_MEDIAN], o->median), "roi_median_r");
  NC(ncmpi_put_var_double(r->ncid, r->var[V_SIG], o->sig), "roi_mean_r_sig");
  NC(ncmpi_put_var_double(r->ncid, r->var[V_TOPK], o->topk), "roi_mean_r_topk");
  NC(ncmpi_put_var_double(r->ncid, r->var[V_NORM], o->norm), "roi_mean_r_norm");
  NC(ncmpi_put_var_int(r->ncid, r->var[V_NVOX], o->nvox), "roi_n_voxels");
  NC(ncmpi_put_var_int(r->ncid, r->var[V_NMASK], o->nmask), "roi_n_masked");
  NC(ncmpi_put_var_int(r->ncid, r->var[V_NSIG], o->nsig), "roi_n_sig");
  NC(ncmpi_put_var_int(r->ncid, r->var[V_NEV], o->nev), "roi_n_ev");
  NC(ncmpi_put_var_int(r->ncid, r->var[V_RSTATUS], o->flag), "roi_status");
  return VF_OK;
}

static vf_status summary_alloc(const io_results_layout *L, roi_stats *o, slice_data *d) {
  size_t n = (size_t)L->n_sweep * L->n_subjects * L->n_variants * L->n_rois;
  double **dbl[] = {&o->mean, &o->median, &o->sig, &o->topk, &o->norm};
  int **ints[] = {&o->nvox, &o->nmask, &o->flag, &o->nsig, &o->nev};
  double **vox[] = {&d->r, &d->q, &d->rnorm, &d->buf};
  for (int i = 0; i < 5; i++) VF_CALL(vf_calloc(n, sizeof(double), "ROI summaries", dbl[i]));
  for (int i = 0; i < 5; i++) VF_CALL(vf_calloc(n, sizeof(int), "ROI summaries", ints[i]));
  for (int i = 0; i < 4; i++)
    VF_CALL(vf_calloc((size_t)L->n_vox + 1, sizeof(double), "voxel slice", vox[i]));
  return VF_OK;
}

static void summary_free(roi_stats *o, slice_data *d) {
  double **dbl[] = {&o->mean, &o->median, &o->sig, &o->topk, &o->norm,
                    &d->r, &d->q, &d->rnorm, &d->buf};
  int **ints[] = {&o->nvox, &o->nmask, &o->flag, &o->nsig, &o->nev};
  for (int i = 0; i < 9; i++) vf_free(dbl[i]);
  for (int i = 0; i < 5; i++) vf_free(ints[i]);
}

vf_status io_results_summarise(io_results *r, const io_results_layout *L,
                               const int *status) {
  const char *path = r->path;
  int rank;
  MPI_Comm_rank(r->comm, &rank);
  roi_stats o;
  slice_data d;
  memset(&o, 0, sizeof o), memset(&d, 0, sizeof d);
  vf_status st = VF_OK;
  NC(ncmpi_begin_indep_data(r->ncid), "begin independent mode");
  if (rank == 0) {
    st = summary_alloc(L, &o, &d);
    if (st == VF_OK) {
      roi_flags(L, status, o.flag);
      st = summarise_rank0(r, L, status, &o, &d);
    }
  }
  summary_free(&o, &d);
  int bad = st != VF_OK, any = 0;
  MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, r->comm);
  NC(ncmpi_end_indep_data(r->ncid), "end independent mode");
  if (st) return st;
  if (any) return vf_error(VF_E_IO, "%s: rank 0 could not write the ROI summaries", path);
  NC(ncmpi_sync(r->ncid), "sync");
  return VF_OK;
}

/* ---- copying units between files (collect) ----------------------------- */

/* A unit's data read from an open source file into owned buffers. */
typedef struct {
  io_unit_result u;
  double *d;     /* 8 x n_vox */
  float *cvs, *w, *pred, *y;
  char error[256];
} unit_copy;

static void unit_copy_free(unit_copy *c) {
  vf_free(&c->d), vf_free(&c->cvs), vf_free(&c->w), vf_free(&c->pred), vf_free(&c->y);
}

static vf_status read_predictions(const char *path, int ncid, const io_results *dst,
                                  const io_results_layout *L, unit_copy *c) {
  long nv = c->u.n_vox, nt = L->subject_n_test[L->unit_subject[c->u.unit]];
  MPI_Offset s4[4] = {c->u.sweep, c->u.variant, c->u.vox0, 0}, c4[4] = {1, 1, nv, nt};
  MPI_Offset s2[2] = {c->u.vox0, 0}, c2[2] = {nv, nt};
  VF_CALL(vf_calloc((size_t)nv * nt + 1, sizeof(float), "unit copy", &c->pred));
  VF_CALL(vf_calloc((size_t)nv * nt + 1, sizeof(float), "unit copy", &c->y));
  NC(ncmpi_get_vara_float(ncid, dst->vpred, s4, c4, c->pred), "test_pred");
  NC(ncmpi_get_vara_float(ncid, dst->vy, s2, c2, c->y), "test_y");
  c->u.pred = c->pred, c->u.y = c->y, c->u.n_test = nt;
  return VF_OK;
}

static vf_status read_unit(const char *path, int ncid, const io_results *dst,
                           const io_results_layout *L, int u, int status, unit_copy *c) {
  long nv = L->unit_nvox[u];
  int v = L->unit_variant[u], id;
  memset(c, 0, sizeof *c);
  memset(&c->u, 0, sizeof c->u);
  c->u.unit = u, c->u.sweep = L->unit_sweep[u], c->u.variant = v;
  c->u.vox0 = L->unit_vox0[u], c->u.n_vox = nv, c->u.status = status, c->u.error = c->error;
  VF_CALL(vf_calloc((size_t)nv * 8 + 1, sizeof(double), "unit copy", &c->d));
  MPI_Offset s3[3] = {c->u.sweep, v, c->u.vox0}, c3[3] = {1, 1, nv};
  MPI_Offset s1[1] = {c->u.vox0}, cv1[1] = {nv};
  const int per_voxel[8] = {V_TEST_R, V_TEST_R2, V_LAMBDA, V_CV, V_RNORM, V_P, V_EV, V_SH};
  for (int k = 0; k < 8; k++) {
    int one = per_voxel[k] == V_EV || per_voxel[k] == V_SH;
    NC(ncmpi_get_vara_double(ncid, dst->var[per_voxel[k]], one ? s1 : s3, one ? cv1 : c3,
                             c->d + k * nv), var_names[per_voxel[k]]);
  }
  const double **to[8] = {&c->u.test_r, &c->u.test_r2, &c->u.best_lambda, &c->u.cv_best,
                          &c->u.test_r_norm, &c->u.test_p, &c->u.ev, &c->u.split_half};
  for (int k = 0; k < 8; k++) *to[k] = c->d + k * nv;
  if (dst->var[V_CVS] >= 0) {
    MPI_Offset s4[4] = {c->u.sweep, v, c->u.vox0, 0}, c4[4] = {1, 1, nv, L->n_lambdas};
    VF_CALL(vf_calloc((size_t)nv * L->n_lambdas + 1, sizeof(float), "unit copy", &c->cvs));
    NC(ncmpi_get_vara_float(ncid, dst->var[V_CVS], s4, c4, c->cvs), "cv_scores");
    c->u.cv_scores = c->cvs;
  }
  if (dst->wvar[v] >= 0) {
    char vn[IO_NAME_LEN + 16];
    snprintf(vn, sizeof vn, "weights_%s", L->variant_ids[v]);
    NC(ncmpi_inq_varid(ncid, vn, &id), vn);
    MPI_Offset sw[3] = {c->u.sweep, c->u.vox0, 0}, cw[3] = {1, nv, dst->wlen[v]};
    VF_CALL(vf_calloc((size_t)nv * dst->wlen[v] + 1, sizeof(float), "unit copy", &c->w));
    NC(ncmpi_get_vara_float(ncid, id, sw, cw, c->w), vn);
    c->u.weights = c->w;
  }
  if (dst->vpred >= 0) VF_CALL(read_predictions(path, ncid, dst, L, c));
  MPI_Offset s2[2] = {u, 0}, c2[2] = {1, 256}, c1[1] = {1};
  NC(ncmpi_inq_varid(ncid, "unit_error", &id), "unit_error");
  NC(ncmpi_get_vara_text(ncid, id, s2, c2, c->error), "unit_error");
  NC(ncmpi_inq_varid(ncid, "unit_seconds", &id), "unit_seconds");
  NC(ncmpi_get_vara_double(ncid, id, s2, c1, &c->u.seconds), "unit_seconds");
  return VF_OK;
}

static vf_status open_source(const char *path, const io_results_layout *L, int *ncid,
                             int *status) {
  char hash[64] = "";
  MPI_Offset len = 0;
  int id;
  if (access(path, R_OK) != 0)
    return vf_error(VF_E_INPUT, "%s: cannot read it (%m); run the shard that writes it "
                    "(voxfit run JOB --shard I/N) first", path);
  if (io_check_format(path) != VF_OK) /* empty, not NetCDF, HDF5: its own reason */
    return vf_error(VF_E_INPUT, "%s; rerun the shard that writes it (voxfit run JOB "
                    "--shard I/N --force)", vf_error_message());
  VF_CALL(io_nc_open(MPI_COMM_SELF, path, NC_NOWRITE, IO_TODO_SHARD, ncid));
  NC(ncmpi_begin_indep_data(*ncid), "begin independent mode");
  if (ncmpi_inq_attlen(*ncid, NC_GLOBAL, "job_hash", &len) != NC_NOERR ||
      len >= (MPI_Offset)sizeof hash ||
      ncmpi_get_att_text(*ncid, NC_GLOBAL, "job_hash", hash) != NC_NOERR ||
      strcmp(hash, L->job_hash))
    return vf_error(VF_E_INPUT, "%s: is not a results file of this job (job_hash '%s', "
                    "this job %s): written by another or an edited job; rerun that shard "
                    "of this one (voxfit run JOB --shard I/N --force)", path, hash,
                    L->job_hash);
  MPI_Offset nu = -1;
  if (ncmpi_inq_dimid(*ncid, "unit", &id) == NC_NOERR) ncmpi_inq_dimlen(*ncid, id, &nu);
  if (nu != L->n_units)
    return vf_error(VF_E_INPUT, "%s: has %lld units, this job %d: the shards ran with another "
                    "block_voxels; collect with the --config they used",
                    path, (long long)nu, L->n_units);
  NC(ncmpi_inq_varid(*ncid, "unit_status", &id), "unit_status");
  NC(ncmpi_get_var_int(*ncid, id, status), "unit_status");
  return VF_OK;
}

vf_status io_results_check_source(const char *src, const io_results_layout *L, int shard,
                                  int n_shards) {
  int ncid = -1, *status = NULL, was[2] = {-1, -1};
  vf_status st = vf_calloc((size_t)L->n_units + 1, sizeof(int), "unit flags", &status);
  if (st == VF_OK) st = open_source(src, L, &ncid, status);
  if (st == VF_OK && (ncmpi_get_att_int(ncid, NC_GLOBAL, "shard", was) != NC_NOERR ||
                      was[0] != shard || was[1] != n_shards))
    st = vf_error(VF_E_INPUT, "%s: holds shard %d of %d, not %d of %d (renamed from another "
                  "split?); rerun that shard (voxfit run JOB --shard %d/%d --force)", src,
                  was[0] + 1, was[1], shard + 1, n_shards, shard + 1, n_shards);
  if (ncid >= 0) ncmpi_close(ncid);
  vf_free(&status);
  return st;
}

#define COPY_BATCH 32
static vf_status copy_rank0(io_results *dst, const char *src, const io_results_layout *L,
                            const int *take, int *copied) {
  int ncid = -1, *status = NULL, more = 1, u = 0;
  unit_copy batch[COPY_BATCH];
  io_unit_result res[COPY_BATCH];
  vf_status st = VF_OK;
  st = vf_calloc((size_t)L->n_units + 1, sizeof(int), "unit flags", &status);
  if (!st) st = open_source(src, L, &ncid, status);
  while (more) {
    int n = 0;
    for (; u < L->n_units && n < COPY_BATCH && st == VF_OK; u++)
      if (take[u] && (status[u] == 1 || status[u] == 2)) {
        st = read_unit(src, ncid, dst, L, u, status[u], &batch[n]);
        res[n] = batch[n].u;
        n++;
      }
    more = u < L->n_units && st == VF_OK;
    MPI_Bcast(&more, 1, MPI_INT, 0, dst->comm);
    vf_status wst = io_results_write_units(dst, res, st ? 0 : n); /* collective */
    if (!st) *copied += n;
    for (int i = 0; i < n; i++) unit_copy_free(&batch[i]);
    if (!st) st = wst;
  }
  if (ncid >= 0) ncmpi_close(ncid);
  vf_free(&status);
  return st;
}

vf_status io_results_copy_units(io_results *dst, const char *src,
                                const io_results_layout *L, const int *take,
                                int *copied) {
  int rank, more = 1;
  MPI_Comm_rank(dst->comm, &rank);
  *copied = 0;
  if (rank == 0) return copy_rank0(dst, src, L, take, copied);
  while (more) {
    MPI_Bcast(&more, 1, MPI_INT, 0, dst->comm);
    VF_CALL(io_results_write_units(dst, NULL, 0));
  }
  return VF_OK;
}
