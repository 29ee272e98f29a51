/* The text files of a generated study: truth.yaml (what was planted) and
 * job.yaml (a runnable voxfit job). Written by rank 0 only. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sim_priv.h"

static vf_status open_text(const char *path, FILE **f) {
  *f = fopen(path, "w");
  if (!*f) return vf_error(VF_E_IO, "%s: cannot create: %s", path, strerror(errno));
  return VF_OK;
}

static vf_status close_text(const char *path, FILE *f) {
  int bad = ferror(f);
  if (fclose(f) != 0 || bad)
    return vf_error(VF_E_IO, "%s: write failed: %s", path, strerror(errno));
  return VF_OK;
}

/* ---- truth.yaml ---------------------------------------------------------- */

static void truth_params(FILE *f, const sim_params *p) {
  fprintf(f, "# Planted ground truth of a synthetic voxfit study; the model is in\n"
             "# docs/gen.md. Weights are fractions of variance.\n");
  fprintf(f, "generator: voxfit gen %s\n", VF_VERSION);
  fprintf(f, "preset: %s\nseed: %llu\nscale: %g\nformat: %s\n", p->preset,
          (unsigned long long)p->seed, p->scale, sim_format_name(p->format));
  fprintf(f, "stimuli: {train: %ld, test: %ld, repetitions: %ld, runs: %d, test_runs: %d}\n",
          p->n_train, p->n_test, p->n_rep, p->n_runs, p->n_test_runs);
  fprintf(f, "time_series: %s\nlag: %d\n", p->time_series ? "true" : "false",
          p->time_series ? p->lag : 0);
  fprintf(f, "latents: {low_level: %d, semantic: %d, ar_phi: %g}\n", SIM_K_LOW, SIM_K_SEM,
          p->time_series ? SIM_PHI_LATENT : 0.0);
  fprintf(f, "noise: {ar_phi: %g, snr_log10: [%g, %g], pure_noise_fraction: %g, "
             "pure_noise_snr: %g}\n",
          p->time_series ? SIM_PHI_NOISE : 0.0, SIM_LOG10_SNR_LO, SIM_LOG10_SNR_HI,
          SIM_NOISE_FRACTION, SIM_NOISE_SNR);
  fprintf(f, "features: %ld\nlayers: %d\n", p->n_feat, p->n_layers);
}

static void truth_subjects(FILE *f, const sim_params *p, sim_layout *const *lays) {
  fprintf(f, "subjects:\n");
  for (int i = 0; i < p->n_subjects; i++)
    fprintf(f, "  - {id: sub-%02d, responses: sub-%02d.nc, voxels: %ld, snr_gain: %.4f}\n",
            i + 1, i + 1, lays[i]->n_vox, lays[i]->snr_gain);
}

static void truth_variants(FILE *f, const sim_params *p) {
  sim_variant v[SIM_MAX_VARIANTS];
  int n = sim_variants(p, v);
  fprintf(f, "variants:\n");
  for (int i = 0; i < n; i++)
    fprintf(f, "  - {id: %s, variable: %s, model: %s, tower: %s, layer: %d, "
               "training: %s, low_level: %.4g, semantic: %.4g, nuisance: %.4g, "
               "noise: %.4g, fidelity_low: %.4g, fidelity_sem: %.4g}\n",
            v[i].id, v[i].var, v[i].model, v[i].tower, v[i].layer, v[i].training,
            v[i].w_low, v[i].multimodal ? v[i].w_sem : 0.0,
            v[i].multimodal ? 0.0 : v[i].w_sem, v[i].w_noise, v[i].fid_low, v[i].fid_sem);
}

static void truth_rois(FILE *f, const sim_params *p, sim_layout *const *lays) {
  fprintf(f, "rois:\n");
  for (int r = 0; r < SIM_N_ROI; r++) {
    const sim_roi *d = &sim_rois[r];
    fprintf(f, "  - {name: %s, effect: %s, low_level: %.4g, semantic: %.4g, voxels: [",
            d->name, d->effect, d->w_low, d->w_sem);
    for (int i = 0; i < p->n_subjects; i++)
      fprintf(f, "%s%ld", i ? ", " : "", lays[i]->count[r]);
    fprintf(f, "]}\n");
  }
  fprintf(f, "# effect semantic: multimodal > unimodal for every pair of twins;\n"
             "# effect none: the twins carry the ROI's latents identically.\n");
}

vf_status sim_write_truth(const sim_params *p, sim_layout *const *lays, const char *path) {
  FILE *f;
  VF_CALL(open_text(path, &f));
  truth_params(f, p);
  truth_subjects(f, p, lays);
  truth_variants(f, p);
  truth_rois(f, p, lays);
  VF_CALL(close_text(path, f));
  return VF_OK;
}

/* ---- job.yaml ------------------------------------------------------------ */

static void job_variants(FILE *f, const sim_variant *v, int n) {
  fprintf(f, "variants:\n");
  for (int i = 0; i < n; i++)
    fprintf(f, "  - {id: %s, features: features.nc, variable: %s, model: %s, layer: %d, "
               "tower: %s, training: %s}\n",
            v[i].id, v[i].var, v[i].model, v[i].layer, v[i].tower, v[i].training);
}

static void job_ridge(FILE *f, const sim_params *p) {
  fprintf(f, "ridge:\n  lambdas: {logspace: [-2, 6, 20]}\n");
  if (p->time_series)
    fprintf(f, "  cv: {scheme: leave-one-run-out}\n");
  else
    fprintf(f, "  cv: {scheme: kfold, folds: 5}\n");
  fprintf(f, "  score: r\n");
  fprintf(f, "  delays: %s\n", p->time_series ? "[1, 2, 3, 4]" : "[0]");
}

vf_status sim_write_job(const sim_params *p, const char *path) {
  sim_variant v[SIM_MAX_VARIANTS];
  int n = sim_variants(p, v);
  FILE *f;
  VF_CALL(open_text(path, &f));
  fprintf(f, "# Written by voxfit gen --preset %s --seed %llu; paths are relative to\n"
             "# this file. Run: mpirun -np N voxfit run job.yaml (N: the cores to use)\n",
          p->preset, (unsigned long long)p->seed);
  fprintf(f, "job: %s\noutput: results.nc\nsubjects:\n", p->preset);
  for (int i = 0; i < p->n_subjects; i++)
    fprintf(f, "  - {id: sub-%02d, responses: sub-%02d.nc}\n", i + 1, i + 1);
  job_variants(f, v, n);
  fprintf(f, "rois: all\nsplit: file\n");
  job_ridge(f, p);
  fprintf(f, "pairs:\n");
  for (int i = 0; i + 1 < n; i += 2) /* mm then uni of each (tower, layer) */
    fprintf(f, "  - [%s, %s]\n", v[i].id, v[i + 1].id);
  VF_CALL(close_text(path, f));
  return VF_OK;
}
