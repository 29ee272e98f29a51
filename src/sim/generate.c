/* sim_generate: the whole synthetic study, and the rank agreement used by
 * every collective step of the generator. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "sim_priv.h"

vf_status sim_agree(MPI_Comm comm, vf_status st) {
  int rank, size, mine, first;
  struct {
    int code;
    char msg[1024];
  } m;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  mine = st ? rank : size;
  MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm);
  if (first == size) return VF_OK;
  m.code = (int)st;
  snprintf(m.msg, sizeof m.msg, "%s", vf_error_message());
  MPI_Bcast(&m, (int)sizeof m, MPI_BYTE, first, comm);
  if (rank == first) return st;
  if (st) return st; /* keep this rank's own message and trace */
  return vf_error((vf_status)m.code, "%s", m.msg);
}

/* mkdir -p */
static vf_status make_dirs(const char *dir) {
  char path[4096];
  struct stat sb;
  if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path)
    return vf_error(VF_E_INPUT, "output folder name too long");
  for (char *s = path + 1;; s++) {
    char c = *s;
    if (c != '/' && c != '\0') continue;
    *s = '\0';
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
      return vf_error(VF_E_IO, "cannot create folder %s: %s", path, strerror(errno));
    *s = c;
    if (!c) break;
  }
  if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
    return vf_error(VF_E_IO, "%s: not a folder", dir);
  return VF_OK;
}

static vf_status check_params(const sim_params *p) {
  if (p->n_subjects < 1 || p->n_subjects > SIM_MAX_SUBJECTS)
    return vf_error(VF_E_INPUT, "subjects must be 1..%d, got %d", SIM_MAX_SUBJECTS,
                    p->n_subjects);
  if (p->n_layers < 1 || p->n_layers > SIM_MAX_LAYERS)
    return vf_error(VF_E_INPUT, "layers must be 1..%d, got %d", SIM_MAX_LAYERS, p->n_layers);
  if (p->n_train < 2 || p->n_test < 1 || p->n_rep < 2 || p->n_feat < 1 || p->n_vox < 1)
    return vf_error(VF_E_INPUT, "bad sizes: train %ld, test %ld, repetitions %ld, "
                    "features %ld, voxels %ld", p->n_train, p->n_test, p->n_rep,
                    p->n_feat, p->n_vox);
  if (p->time_series && (p->n_runs < 1 || p->n_test_runs < 1 || p->lag < 0 ||
                         p->n_runs > p->n_train || p->n_test_runs > p->n_test))
    return vf_error(VF_E_INPUT, "bad runs: %d training, %d test, lag %d", p->n_runs,
                    p->n_test_runs, p->lag);
  if (p->format != IO_CDF1 && p->format != IO_CDF2 && p->format != IO_CDF5)
    return vf_error(VF_E_INPUT, "unknown format %d", (int)p->format);
  return VF_OK;
}

static vf_status join_path(const char *dir, const char *name, char *out, size_t n) {
  if ((size_t)snprintf(out, n, "%s/%s", dir, name) >= n)
    return vf_error(VF_E_INPUT, "output path too long: %s/%s", dir, name);
  return VF_OK;
}

/* A file that could not be written whole (a full disk, say) is removed,
 * so no half-written input is left to be mistaken for a study's. */
static vf_status drop_on_failure(MPI_Comm comm, const char *path, vf_status st) {
  int rank;
  MPI_Comm_rank(comm, &rank);
  st = sim_agree(comm, st);
  if (st && rank == 0) unlink(path);
  return st;
}

static vf_status write_subjects(MPI_Comm comm, const sim_params *p, const sim_stimuli *s,
                                const char *outdir, sim_layout **lays) {
  char path[4096], name[32];
  int rank;
  MPI_Comm_rank(comm, &rank);
  for (int i = 0; i < p->n_subjects; i++) {
    double t0 = vf_now();
    snprintf(name, sizeof name, "sub-%02d.nc", i + 1);
    VF_CALL(sim_agree(comm, join_path(outdir, name, path, sizeof path)));
    VF_CALL(sim_agree(comm, sim_layout_create(p, i, &lays[i])));
    VF_CALL(drop_on_failure(comm, path, sim_write_subject(comm, p, s, lays[i], i, path)));
    if (rank == 0)
      vf_log(VF_LOG_INFO, "gen: wrote %s (%ld voxels, %.1f s)", path, lays[i]->n_vox,
             vf_now() - t0);
  }
  return VF_OK;
}

static vf_status write_text(MPI_Comm comm, const sim_params *p, const char *outdir,
                            sim_layout **lays) {
  vf_status st = VF_OK;
  int rank;
  MPI_Comm_rank(comm, &rank);
  if (rank == 0) {
    char path[4096];
    st = join_path(outdir, "truth.yaml", path, sizeof path);
    if (!st) st = sim_write_truth(p, lays, path);
    if (!st) st = join_path(outdir, "job.yaml", path, sizeof path);
    if (!st) st = sim_write_job(p, path);
  }
  return sim_agree(comm, st);
}

vf_status sim_generate(MPI_Comm comm, const sim_params *p, const char *outdir) {
  vf_status st = VF_OK;
  sim_stimuli *s = NULL;
  sim_layout *lays[SIM_MAX_SUBJECTS] = {NULL};
  char path[4096];
  int rank;
  MPI_Comm_rank(comm, &rank);
  VF_CALL(check_params(p));
  VF_TRY(sim_agree(comm, rank == 0 ? make_dirs(outdir) : VF_OK));
  VF_TRY(sim_agree(comm, sim_stimuli_create(p, &s)));
  VF_TRY(sim_agree(comm, join_path(outdir, "features.nc", path, sizeof path)));
  double t0 = vf_now();
  VF_TRY(drop_on_failure(comm, path, sim_write_features(comm, p, s, path)));
  if (rank == 0) vf_log(VF_LOG_INFO, "gen: wrote %s (%.1f s)", path, vf_now() - t0);
  VF_TRY(write_subjects(comm, p, s, outdir, lays));
  VF_TRY(write_text(comm, p, outdir, lays));
fail:
  sim_stimuli_destroy(&s);
  for (int i = 0; i < SIM_MAX_SUBJECTS; i++) sim_layout_destroy(&lays[i]);
  return st;
}
