/* The group file: comparisons of variant pairs across subjects. */
#include <errno.h>
#include <pnetcdf.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "voxfit/io.h"
#include "nc.h"

typedef struct {
  const char *name;
  nc_type type;
  int nd, dims[4];
  const void *data;
} gvar;

static vf_status define(const char *path, int ncid, const io_group *g, gvar *v, int nv,
                        int *ids) {
  enum { SW, PA, RO, SU, VA, TW, NL, LL, BO, TE };
  const char *dn[] = {"sweep", "pair", "roi", "subject", "variant", "two", "name_len",
                      "label_len", "boot", "boot_test"};
  MPI_Offset len[] = {g->n_sweep, g->n_pairs > 0 ? g->n_pairs : 1, g->n_rois, g->n_subjects,
                      g->n_variants, 2, IO_NAME_LEN, 128, g->n_boot > 0 ? g->n_boot : 1,
                      g->boot_tests > 0 ? g->boot_tests : 1};
  int d[10];
  for (int i = 0; i < 10; i++) NC(ncmpi_def_dim(ncid, dn[i], len[i], &d[i]), dn[i]);
  for (int i = 0; i < nv; i++) {
    int dims[4];
    for (int k = 0; k < v[i].nd; k++) dims[k] = d[v[i].dims[k]];
    NC(ncmpi_def_var(ncid, v[i].name, v[i].type, v[i].nd, dims, &ids[i]), v[i].name);
  }
  NC(ncmpi_put_att_double(ncid, NC_GLOBAL, "ci_level", NC_DOUBLE, 1, &g->level), "ci_level");
  NC(ncmpi_put_att_text(ncid, NC_GLOBAL, "sources", strlen(g->sources), g->sources), "sources");
  NC(ncmpi_put_att_text(ncid, NC_GLOBAL, "voxfit_version", strlen(VF_VERSION), VF_VERSION),
     "voxfit_version");
  NC(ncmpi_put_att_int(ncid, NC_GLOBAL, "n_pairs", NC_INT, 1, &g->n_pairs), "n_pairs");
  char seed[24]; /* text: CDF-2 has no 64-bit integers, and a double loses seeds > 2^53 */
  snprintf(seed, sizeof seed, "%lu", g->boot_seed);
  NC(ncmpi_put_att_int(ncid, NC_GLOBAL, "n_boot", NC_INT, 1, &g->n_boot), "n_boot");
  NC(ncmpi_put_att_text(ncid, NC_GLOBAL, "boot_seed", strlen(seed), seed), "boot_seed");
  NC(ncmpi_put_att_int(ncid, NC_GLOBAL, "inputs_complete", NC_INT, 1, &g->inputs_complete),
     "inputs_complete");
  return VF_OK;
}

static vf_status put_all(const char *path, int ncid, const gvar *v, int nv, const int *ids) {
  NC(ncmpi_begin_indep_data(ncid), "independent mode");
  for (int i = 0; i < nv; i++) {
    if (v[i].type == NC_CHAR) NC(ncmpi_put_var_text(ncid, ids[i], v[i].data), v[i].name);
    else if (v[i].type == NC_INT) NC(ncmpi_put_var_int(ncid, ids[i], v[i].data), v[i].name);
    else NC(ncmpi_put_var_double(ncid, ids[i], v[i].data), v[i].name);
  }
  NC(ncmpi_end_indep_data(ncid), "independent mode");
  return VF_OK;
}

static vf_status write_file(const char *path, const io_group *g) {
  enum { SW, PA, RO, SU, VA, TW, NL, LL, BO, TE };
  gvar v[] = {
      {"sweep_label", NC_CHAR, 2, {SW, LL}, g->sweep_labels},
      {"roi_name", NC_CHAR, 2, {RO, NL}, g->roi_names},
      {"subject_id", NC_CHAR, 2, {SU, NL}, g->subject_ids},
      {"variant_id", NC_CHAR, 2, {VA, NL}, g->variant_ids},
      {"variant_model", NC_CHAR, 2, {VA, NL}, g->variant_models},
      {"variant_layer", NC_INT, 1, {VA}, g->variant_layers},
      {"pair_variants", NC_INT, 2, {PA, TW}, g->pairs},
      {"mean_diff", NC_DOUBLE, 3, {SW, PA, RO}, g->mean_diff},
      {"ci_low", NC_DOUBLE, 3, {SW, PA, RO}, g->ci_lo},
      {"ci_high", NC_DOUBLE, 3, {SW, PA, RO}, g->ci_hi},
      {"t", NC_DOUBLE, 3, {SW, PA, RO}, g->t},
      {"p_t", NC_DOUBLE, 3, {SW, PA, RO}, g->p_t},
      {"q_t", NC_DOUBLE, 3, {SW, PA, RO}, g->q_t},
      {"wilcoxon_w", NC_DOUBLE, 3, {SW, PA, RO}, g->w},
      {"p_wilcoxon", NC_DOUBLE, 3, {SW, PA, RO}, g->p_w},
      {"q_wilcoxon", NC_DOUBLE, 3, {SW, PA, RO}, g->q_w},
      {"n_subjects_used", NC_INT, 3, {SW, PA, RO}, g->n_used},
      {"n_a_better", NC_INT, 3, {SW, PA, RO}, g->n_up},
      {"n_b_better", NC_INT, 3, {SW, PA, RO}, g->n_down},
      {"subject_diff", NC_DOUBLE, 4, {SW, PA, RO, SU}, g->diff},
      {"profile_mean_r", NC_DOUBLE, 3, {SW, VA, RO}, g->profile_mean},
      {"profile_sem_r", NC_DOUBLE, 3, {SW, VA, RO}, g->profile_sem},
      {"boot_ci_low", NC_DOUBLE, 4, {SW, PA, RO, SU}, g->boot_lo},
      {"boot_ci_high", NC_DOUBLE, 4, {SW, PA, RO, SU}, g->boot_hi},
      {"boot_index", NC_INT, 2, {BO, TE}, g->boot_index},
  };
  int nv = (int)(sizeof v / sizeof v[0]), ids[32], ncid;
  if (g->n_boot == 0) nv -= 3;
  NC(ncmpi_create(MPI_COMM_SELF, path, NC_CLOBBER | NC_64BIT_OFFSET, MPI_INFO_NULL, &ncid),
     "cannot create");
  vf_status st = define(path, ncid, g, v, nv, ids);
  if (st == VF_OK && ncmpi_enddef(ncid) != NC_NOERR)
    st = vf_error(VF_E_IO, "%s: cannot leave define mode", path);
  if (st == VF_OK) st = io_nc_reserve_all(MPI_COMM_SELF, path, ncid);
  if (st == VF_OK) st = put_all(path, ncid, v, nv, ids);
  int err = ncmpi_close(ncid);
  if (st == VF_OK && err != NC_NOERR)
    st = vf_error(VF_E_IO, "%s: closing: %s", path, ncmpi_strerror(err));
  return st;
}

vf_status io_group_write(const char *path, const io_group *g) {
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
  vf_status st = write_file(tmp, g);
  if (st == VF_OK && rename(tmp, path) != 0)
    st = vf_error(VF_E_IO, "%s: cannot rename %s to it: %m", path, tmp);
  if (st) unlink(tmp);
  return st;
}

int io_group_is_group_file(const char *path) {
  int ncid, found = 1;
  if (ncmpi_open(MPI_COMM_SELF, path, NC_NOWRITE, MPI_INFO_NULL, &ncid) != NC_NOERR) return 0;
  const char *marks[] = {"ci_level", "sources"};
  for (int i = 0; i < 2; i++) {
    int id;
    if (ncmpi_inq_attid(ncid, NC_GLOBAL, marks[i], &id) != NC_NOERR) found = 0;
  }
  ncmpi_close(ncid);
  return found;
}

/* The folder of path exists and is writable (else the write would fail at
 * its end, naming a temporary file). */
static vf_status folder_usable(const char *path) {
  char dir[4200];
  struct stat sb;
  vf_folder_of(path, dir, sizeof dir);
  if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
    return vf_error(VF_E_INPUT, "%s: its folder %s does not exist; create it or write "
                    "the group file elsewhere", path, dir);
  if (access(dir, W_OK | X_OK) != 0)
    return vf_error(VF_E_INPUT, "%s: its folder %s is not writable (%m); write the group "
                    "file elsewhere", path, dir);
  return VF_OK;
}

vf_status io_group_check_out(const char *path, const char *const *inputs, int n, int force,
                             const char *remedy) {
  struct stat out, in;
  if (stat(path, &out) != 0) {
    if (errno == ENOENT) return folder_usable(path);
    return vf_error(VF_E_INPUT, "%s: cannot check the output: %m; %s", path, remedy);
  }
  for (int i = 0; i < n; i++)
    if (stat(inputs[i], &in) == 0 && in.st_dev == out.st_dev && in.st_ino == out.st_ino)
      return vf_error(VF_E_INPUT, "%s: is the input %s (the same file); writing the group "
                      "file there would destroy it: give --out another name", path, inputs[i]);
  if (S_ISDIR(out.st_mode))
    return vf_error(VF_E_INPUT, "%s: is a directory; %s", path, remedy);
  if (!force && !io_group_is_group_file(path))
    return vf_error(VF_E_INPUT, "%s: exists and is not a voxfit group file (no ci_level and "
                    "sources attributes); %s", path, remedy);
  return VF_OK;
}
