/* The results file: definition, metadata, per-unit data then status flags.
 * Layout in docs/results.md. */
#include <math.h>
#include <pnetcdf.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "voxfit/io.h"

enum { V_TEST_R, V_TEST_R2, V_LAMBDA, V_CV, V_CVS, V_STATUS, V_ERROR,
       V_MEAN, V_MEDIAN, V_NVOX, V_NMASK, V_SECONDS, V_COUNT };

struct io_results {
  MPI_Comm comm;
  int ncid;
  int var[V_COUNT];
  int *wvar;   /* per variant: weights variable, or -1 */
  long *wlen;  /* per variant: its feature length */
  int n_rois, n_lambdas;
  char path[4096];
};

#define NC(call, what)                                                     \
  do {                                                                     \
    int nc_err_ = (call);                                                  \
    if (nc_err_ != NC_NOERR)                                               \
      return vf_error(VF_E_IO, "%s: %s: %s", path, what,                   \
                      ncmpi_strerror(nc_err_));                            \
  } while (0)

static void utc_now(char *buf, size_t n) {
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

vf_status io_results_check_existing(const char *path, const char *hash,
                                    int force) {
  struct stat sb;
  if (stat(path, &sb) != 0 || force) return VF_OK;
  int ncid, err = ncmpi_open(MPI_COMM_SELF, path, NC_NOWRITE, MPI_INFO_NULL, &ncid);
  if (err != NC_NOERR)
    return vf_error(VF_E_INPUT, "%s: exists and is not a voxfit results file "
                    "(%s); move it away or rerun with --force", path,
                    ncmpi_strerror(err));
  char old[64] = "";
  MPI_Offset len = 0;
  err = ncmpi_inq_attlen(ncid, NC_GLOBAL, "job_hash", &len);
  if (err == NC_NOERR && len < (MPI_Offset)sizeof old)
    err = ncmpi_get_att_text(ncid, NC_GLOBAL, "job_hash", old);
  ncmpi_close(ncid);
  if (err != NC_NOERR)
    return vf_error(VF_E_INPUT, "%s: exists but has no job_hash attribute: not a "
                    "voxfit results file; move it away or rerun with --force", path);
  if (strcmp(old, hash) != 0)
    return vf_error(VF_E_INPUT, "%s: holds the results of another job (job_hash %s, "
                    "this job %s); choose another output or rerun with --force",
                    path, old, hash);
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

static vf_status define_all(io_results *r, const io_results_layout *L,
                            meta_var *mv, int *nmv) {
  const char *path = r->path;
  int ncid = r->ncid, d[16], *v = r->var;
  enum { SW, SU, VA, RO, VX, LA, PA, TW, NL, ML, LL, XY };
  const char *dn[] = {"sweep", "subject", "variant", "roi", "voxel", "lambda",
                      "pair", "two", "name_len", "msg_len", "label_len", "xyz"};
  MPI_Offset dl[] = {L->n_sweep, L->n_subjects, L->n_variants, L->n_rois,
                     L->n_vox, L->n_lambdas, L->n_pairs, 2, IO_NAME_LEN, 256, 128, 3};
  for (int i = 0; i <= XY; i++) VF_CALL(def_dim(path, ncid, dn[i], dl[i], &d[i]));
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
  };
  for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
    int dims[2] = {d[m[i].dims[0]], d[m[i].dims[1]]}, id;
    VF_CALL(def_var(path, ncid, m[i].name, m[i].t, m[i].nd, dims, &id));
    mv[k++] = m[i];
  }
  *nmv = k;
  int pv[4] = {d[SW], d[VA], d[VX], d[LA]};
  VF_CALL(def_var(path, ncid, "test_r", NC_DOUBLE, 3, pv, &v[V_TEST_R]));
  VF_CALL(def_var(path, ncid, "test_r2", NC_DOUBLE, 3, pv, &v[V_TEST_R2]));
  VF_CALL(def_var(path, ncid, "best_lambda", NC_DOUBLE, 3, pv, &v[V_LAMBDA]));
  VF_CALL(def_var(path, ncid, "cv_score", NC_DOUBLE, 3, pv, &v[V_CV]));
  v[V_CVS] = -1;
  if (L->save_cv_scores)
    VF_CALL(def_var(path, ncid, "cv_scores", NC_FLOAT, 4, pv, &v[V_CVS]));
  int uv[5] = {d[SW], d[SU], d[VA], d[RO], d[ML]};
  VF_CALL(def_var(path, ncid, "unit_status", NC_INT, 4, uv, &v[V_STATUS]));
  VF_CALL(def_var(path, ncid, "unit_error", NC_CHAR, 5, uv, &v[V_ERROR]));
  VF_CALL(def_var(path, ncid, "roi_mean_r", NC_DOUBLE, 4, uv, &v[V_MEAN]));
  VF_CALL(def_var(path, ncid, "roi_median_r", NC_DOUBLE, 4, uv, &v[V_MEDIAN]));
  VF_CALL(def_var(path, ncid, "roi_n_voxels", NC_INT, 4, uv, &v[V_NVOX]));
  VF_CALL(def_var(path, ncid, "roi_n_masked", NC_INT, 4, uv, &v[V_NMASK]));
  VF_CALL(def_var(path, ncid, "unit_seconds", NC_DOUBLE, 3, uv, &v[V_SECONDS]));
  VF_CALL(define_weights(r, L, d[SW], d[VX]));
  char now[32];
  utc_now(now, sizeof now);
  VF_CALL(put_text_att(path, ncid, "voxfit_version", VF_VERSION));
  VF_CALL(put_text_att(path, ncid, "job_name", L->job_name));
  VF_CALL(put_text_att(path, ncid, "job_file", L->job_file));
  VF_CALL(put_text_att(path, ncid, "job_yaml", L->job_yaml));
  VF_CALL(put_text_att(path, ncid, "job_hash", L->job_hash));
  VF_CALL(put_text_att(path, ncid, "started", now));
  VF_CALL(put_text_att(path, ncid, "finished", ""));
  int zero = 0, size;
  MPI_Comm_size(r->comm, &size);
  NC(ncmpi_put_att_int(ncid, NC_GLOBAL, "complete", NC_INT, 1, &zero), "complete");
  NC(ncmpi_put_att_int(ncid, NC_GLOBAL, "n_ranks", NC_INT, 1, &size), "n_ranks");
  /* a classic file has no empty fixed dimension: "pair" has length 1 and
   * holds -1 when the job declares no pair */
  NC(ncmpi_put_att_int(ncid, NC_GLOBAL, "n_pairs", NC_INT, 1, &L->n_pairs), "n_pairs");
  return VF_OK;
}

/* Every status starts at 0 ("not done"): PnetCDF does not fill. */
static vf_status zero_status(io_results *r, const io_results_layout *L,
                             int rank) {
  const char *path = r->path;
  size_t n = (size_t)L->n_sweep * L->n_subjects * L->n_variants * L->n_rois;
  int *z = NULL;
  VF_CALL(vf_calloc(n, sizeof(int), "status flags", &z));
  NC(ncmpi_begin_indep_data(r->ncid), "begin independent mode");
  int err = rank == 0 ? ncmpi_put_var_int(r->ncid, r->var[V_STATUS], z) : NC_NOERR;
  vf_free(&z);
  NC(err, "unit_status");
  NC(ncmpi_end_indep_data(r->ncid), "end independent mode");
  return VF_OK;
}

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
  snprintf(r->path, sizeof r->path, "%s", path);
  VF_TRY(create_file(r));
  VF_TRY(define_all(r, L, mv, &nmv));
  if (ncmpi_enddef(r->ncid) != NC_NOERR)
    VF_FAIL(VF_E_IO, "%s: cannot leave define mode", path);
  VF_TRY(write_meta(r->path, r->ncid, mv, nmv, rank));
  VF_TRY(zero_status(r, L, rank));
  if (ncmpi_sync(r->ncid) != NC_NOERR) VF_FAIL(VF_E_IO, "%s: sync failed", path);
  *out = r;
  return VF_OK;
fail:
  if (r && r->ncid >= 0) ncmpi_close(r->ncid);
  if (r) vf_free(&r->wvar), vf_free(&r->wlen);
  vf_free(&r);
  return st;
}

static vf_status put_unit_data(io_results *r, const io_unit_result *u) {
  const char *path = r->path;
  int id = r->ncid, *v = r->var, R = r->n_rois, req;
  MPI_Offset s3[3] = {u->sweep, u->variant, u->vox0}, c3[3] = {1, 1, u->n_vox};
  NC(ncmpi_iput_vara_double(id, v[V_TEST_R], s3, c3, u->test_r, &req), "test_r");
  NC(ncmpi_iput_vara_double(id, v[V_TEST_R2], s3, c3, u->test_r2, &req), "test_r2");
  NC(ncmpi_iput_vara_double(id, v[V_LAMBDA], s3, c3, u->best_lambda, &req), "best_lambda");
  NC(ncmpi_iput_vara_double(id, v[V_CV], s3, c3, u->cv_best, &req), "cv_score");
  if (v[V_CVS] >= 0 && u->cv_scores) {
    MPI_Offset s4[4] = {u->sweep, u->variant, u->vox0, 0},
               c4[4] = {1, 1, u->n_vox, r->n_lambdas};
    NC(ncmpi_iput_vara_float(id, v[V_CVS], s4, c4, u->cv_scores, &req), "cv_scores");
  }
  if (r->wvar[u->variant] >= 0 && u->weights) {
    MPI_Offset sw[3] = {u->sweep, u->vox0, 0}, cw[3] = {1, u->n_vox, r->wlen[u->variant]};
    NC(ncmpi_iput_vara_float(id, r->wvar[u->variant], sw, cw, u->weights, &req), "weights");
  }
  MPI_Offset s4[4] = {u->sweep, u->subject, u->variant, 0}, c4[4] = {1, 1, 1, R};
  NC(ncmpi_iput_vara_double(id, v[V_MEAN], s4, c4, u->roi_mean_r, &req), "roi_mean_r");
  NC(ncmpi_iput_vara_double(id, v[V_MEDIAN], s4, c4, u->roi_median_r, &req), "roi_median_r");
  NC(ncmpi_iput_vara_int(id, v[V_NVOX], s4, c4, u->roi_n_voxels, &req), "roi_n_voxels");
  NC(ncmpi_iput_vara_int(id, v[V_NMASK], s4, c4, u->roi_n_masked, &req), "roi_n_masked");
  MPI_Offset s5[5] = {u->sweep, u->subject, u->variant, 0, 0},
             c5[5] = {1, 1, 1, R, 256};
  NC(ncmpi_iput_vara_text(id, v[V_ERROR], s5, c5, &u->errors[0][0], &req), "unit_error");
  NC(ncmpi_iput_vara_double(id, v[V_SECONDS], s4, c4, &u->seconds, &req), "unit_seconds");
  return VF_OK;
}

static vf_status put_unit_status(io_results *r, const io_unit_result *u) {
  const char *path = r->path;
  int req;
  MPI_Offset s4[4] = {u->sweep, u->subject, u->variant, 0},
             c4[4] = {1, 1, 1, r->n_rois};
  NC(ncmpi_iput_vara_int(r->ncid, r->var[V_STATUS], s4, c4, u->status, &req),
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
  int err = ncmpi_redef(r->ncid);
  if (err == NC_NOERR)
    err = ncmpi_put_att_text(r->ncid, NC_GLOBAL, "finished", strlen(now), now);
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
  VF_CALL(get_var(path, ncid, "unit_status", NC_INT, t->status));
  VF_CALL(get_var(path, ncid, "roi_n_masked", NC_INT, t->roi_n_masked));
  NC(ncmpi_get_att_int(ncid, NC_GLOBAL, "complete", &t->complete), "complete");
  return VF_OK;
}

vf_status io_results_read_table(const char *path, io_results_table **out) {
  io_results_table *t = NULL;
  int ncid;
  *out = NULL;
  VF_CALL(vf_calloc(1, sizeof *t, "results table", &t));
  int err = ncmpi_open(MPI_COMM_SELF, path, NC_NOWRITE, MPI_INFO_NULL, &ncid);
  if (err != NC_NOERR) {
    vf_free(&t);
    return vf_error(VF_E_IO, "%s: cannot open results: %s", path, ncmpi_strerror(err));
  }
  vf_status st = read_table(path, ncid, t);
  ncmpi_close(ncid);
  if (st) {
    io_results_table_destroy(&t);
    return st;
  }
  *out = t;
  return VF_OK;
}

void io_results_table_destroy(io_results_table **tp) {
  if (!tp || !*tp) return;
  io_results_table *t = *tp;
  vf_free(&t->sweep_labels), vf_free(&t->subject_ids), vf_free(&t->variant_ids);
  vf_free(&t->roi_names), vf_free(&t->pairs), vf_free(&t->roi_mean_r);
  vf_free(&t->status), vf_free(&t->roi_n_masked);
  vf_free(tp);
}
