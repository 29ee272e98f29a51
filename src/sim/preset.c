/* Presets, the ROI table and the encoder variants of the generator. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sim_priv.h"

/* Weights are fractions of a voxel's signal variance. Shares are of the
 * voxel count. Centres are in grid voxels (x from the midline). */
const sim_roi sim_rois[SIM_N_ROI] = {
    {"V1", "none", 1.00, 0.00, 0.16, 0, 6, 10, 40, 1},
    {"V2", "none", 1.00, 0.00, 0.14, 0, 12, 15, 44, 1},
    {"V3", "none", 1.00, 0.00, 0.11, 0, 18, 20, 48, 1},
    {"V4", "semantic", 0.85, 0.15, 0.08, 0, 22, 24, 30, 1},
    {"LOC", "semantic", 0.50, 0.50, 0.10, 0, 34, 28, 38, 1},
    {"FFA", "semantic", 0.40, 0.60, 0.04, 0, 30, 40, 24, 1},
    {"PPA", "semantic", 0.45, 0.55, 0.05, 0, 22, 46, 28, 1},
    {"IFG", "semantic", 0.10, 0.90, 0.12, 1, 40, 86, 50, 0},
    {"AG", "semantic", 0.15, 0.85, 0.10, 1, 38, 36, 62, 0},
    {"PTL", "semantic", 0.10, 0.90, 0.10, 1, 44, 52, 40, 0},
};

void sim_rng(vf_rng *r, const sim_params *p, int kind, uint64_t a, uint64_t b) {
  /* kind: 8 bits, a: 16 bits, b: 40 bits; distinct keys give distinct
   * streams (vf_rng_seed multiplies the key by an odd constant). */
  uint64_t key = ((uint64_t)kind << 56) | ((a & 0xFFFFu) << 40) | (b & 0xFFFFFFFFFFull);
  vf_rng_seed(r, p->seed, key);
}

const char *sim_format_name(io_format f) {
  switch (f) {
    case IO_CDF1: return "cdf1";
    case IO_CDF2: return "cdf2";
    case IO_CDF5: return "cdf5";
  }
  return "?";
}

/* demo is an image study of a vision model only; the others have both. */
int sim_n_towers(const sim_params *p) { return strcmp(p->preset, "demo") ? 2 : 1; }

void sim_roi_shares(const sim_params *p, double share[SIM_N_ROI]) {
  /* GOD-like data cover visual cortex: language ROIs stay small there. */
  double lang = strcmp(p->preset, "god") ? 1.0 : 0.2, sum = 0;
  for (int i = 0; i < SIM_N_ROI; i++) {
    share[i] = sim_rois[i].share * (sim_rois[i].language ? lang : 1.0);
    sum += share[i];
  }
  for (int i = 0; i < SIM_N_ROI; i++) share[i] /= sum;
}

/* Deeper layers carry more S and less L, both in variance and in
 * fidelity; the lingual tower carries less L than the visual one at every
 * depth. Fidelity is what makes layer profiles: iid column noise averages
 * out over many columns, a corrupted latent does not. */
static void variant_weights(sim_variant *v, double depth) {
  if (v->tower_i == 0) {
    v->w_low = 0.70 - 0.40 * depth;
    v->w_sem = 0.10 + 0.40 * depth;
    v->fid_low = 0.90 - 0.60 * depth;
    v->fid_sem = 0.20 + 0.60 * depth;
  } else {
    v->w_low = 0.25 - 0.15 * depth;
    v->w_sem = 0.45 + 0.25 * depth;
    v->fid_low = 0.40 - 0.25 * depth;
    v->fid_sem = 0.50 + 0.40 * depth;
  }
  v->w_noise = 1.0 - v->w_low - v->w_sem;
}

static void variant_fill(sim_variant *v, int tower, int layer, int n_layers, int mm) {
  static const char *tw[] = {"visual", "lingual"}, *tws[] = {"vis", "lng"};
  static const char *model[] = {"synthetic-vit", "synthetic-bert"};
  memset(v, 0, sizeof *v);
  v->tower_i = tower;
  v->layer = layer;
  v->multimodal = mm;
  v->model = model[tower];
  v->tower = tw[tower];
  v->training = mm ? "multimodal" : "unimodal";
  snprintf(v->var, sizeof v->var, "%s_%s_l%d", mm ? "mm" : "uni", tw[tower], layer);
  snprintf(v->id, sizeof v->id, "%s-%s-l%d", mm ? "mm" : "uni", tws[tower], layer);
  variant_weights(v, n_layers > 1 ? (layer - 1.0) / (n_layers - 1.0) : 0.0);
}

int sim_variants(const sim_params *p, sim_variant *v) {
  int n = 0;
  for (int t = 0; t < sim_n_towers(p); t++)
    for (int l = 1; l <= p->n_layers; l++)
      for (int mm = 1; mm >= 0; mm--) variant_fill(&v[n++], t, l, p->n_layers, mm);
  return n;
}

static long scaled(long full, double scale, long min) {
  long n = lround(full * scale);
  return n < min ? min : n;
}

static void preset_demo(double s, sim_params *p) {
  p->n_subjects = 3;
  p->n_train = scaled(240, s, 40);
  p->n_test = scaled(40, s, 10);
  p->n_rep = 4;
  p->n_vox = scaled(600, s, 10 * SIM_N_ROI);
  p->n_feat = scaled(64, s, 8);
  p->n_layers = 2;
}

static void preset_god(double s, sim_params *p) {
  p->n_subjects = 5;
  p->n_train = scaled(1200, s, 40);
  p->n_test = scaled(50, s, 10);
  p->n_rep = 35;
  p->n_vox = scaled(4500, s, 10 * SIM_N_ROI);
  p->n_feat = scaled(1000, s, 8);
  p->n_layers = 6;
}

/* 12 runs of 300 TRs; shrinking keeps >= 2 runs of >= 20 TRs. */
static void preset_shortclips(double s, sim_params *p) {
  long per_run = scaled(300, s, 20);
  p->n_subjects = 5;
  long runs = lround(3600.0 * s / per_run);
  p->n_runs = runs < 2 ? 2 : (int)runs;
  p->n_train = p->n_runs * per_run;
  p->n_test = scaled(270, s, 20);
  p->n_test_runs = 1;
  p->n_rep = 10;
  p->n_vox = scaled(84000, s, 10 * SIM_N_ROI);
  p->n_feat = scaled(768, s, 8);
  p->n_layers = 6;
  p->time_series = 1;
  p->lag = 2;
}

vf_status sim_preset(const char *name, double scale, uint64_t seed, sim_params *p) {
  memset(p, 0, sizeof *p);
  if (!(scale > 0 && scale <= 1))
    return vf_error(VF_E_INPUT, "--scale must be in (0, 1], got %g", scale);
  if (!strcmp(name, "demo"))
    preset_demo(scale, p);
  else if (!strcmp(name, "god"))
    preset_god(scale, p);
  else if (!strcmp(name, "shortclips"))
    preset_shortclips(scale, p);
  else
    return vf_error(VF_E_INPUT, "unknown preset '%s' (choose demo, god or shortclips)",
                    name);
  snprintf(p->preset, sizeof p->preset, "%s", name);
  p->scale = scale;
  p->seed = seed;
  p->format = IO_CDF2;
  return VF_OK;
}
