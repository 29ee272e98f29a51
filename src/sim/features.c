/* features.nc: one variable per encoder variant. Each rank computes and
 * writes a contiguous range of stimuli; every number comes from a stream
 * keyed by (tower, layer) and stimulus, so the file does not depend on the
 * rank count. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sim_priv.h"

/* What one variant computes from: its latent inputs (n x SIM_K: a
 * corrupted L, then a corrupted S or nuisance) and the mixing of its
 * (tower, layer) into P columns (SIM_K x P, entries N(0, 1/k) so each
 * column has about unit variance per unit of weight). The corruption and
 * the mixing depend on (tower, layer) only: the twins share them. */
typedef struct {
  double *in, *mix;
  long p;
} variant_model;

static uint64_t tower_layer(const sim_variant *v) {
  return (uint64_t)(v->tower_i * SIM_MAX_LAYERS + v->layer);
}

static void fill_mix(const sim_params *p, const sim_variant *v, double *mix) {
  vf_rng r;
  long n_low = SIM_K_LOW * p->n_feat;
  sim_rng(&r, p, SIM_S_MIX_LOW, (uint64_t)v->tower_i, (uint64_t)v->layer);
  for (long i = 0; i < n_low; i++) mix[i] = vf_rng_normal(&r) / sqrt((double)SIM_K_LOW);
  sim_rng(&r, p, SIM_S_MIX_SEM, (uint64_t)v->tower_i, (uint64_t)v->layer);
  for (long i = n_low; i < SIM_K * p->n_feat; i++)
    mix[i] = vf_rng_normal(&r) / sqrt((double)SIM_K_SEM);
}

/* in = sqrt(fidelity) * latent + sqrt(1 - fidelity) * corruption. */
static void fill_inputs(const sim_params *p, const sim_stimuli *s, const sim_variant *v,
                        double *in) {
  vf_rng r;
  for (int c = 0; c < SIM_K; c++) {
    sim_rng(&r, p, SIM_S_CORRUPT, tower_layer(v), (uint64_t)c);
    sim_latent_column(&r, p, s, in + c, SIM_K);
  }
  double al = sqrt(v->fid_low), bl = sqrt(1 - v->fid_low);
  double as = sqrt(v->fid_sem), bs = sqrt(1 - v->fid_sem);
  for (long t = 0; t < s->n; t++) {
    double *row = in + t * SIM_K;
    const double *low = s->lat + t * SIM_K;
    const double *sem = v->multimodal
                            ? s->lat + t * SIM_K + SIM_K_LOW
                            : s->nuis + ((long)v->tower_i * s->n + t) * SIM_K_SEM;
    for (int k = 0; k < SIM_K_LOW; k++) row[k] = al * low[k] + bl * row[k];
    for (int k = 0; k < SIM_K_SEM; k++)
      row[SIM_K_LOW + k] = as * sem[k] + bs * row[SIM_K_LOW + k];
  }
}

static vf_status model_make(const sim_params *p, const sim_stimuli *s, const sim_variant *v,
                            variant_model *m) {
  m->p = p->n_feat;
  VF_CALL(vf_calloc((size_t)(SIM_K * m->p), sizeof(double), "mixing", &m->mix));
  VF_CALL(vf_calloc((size_t)(SIM_K * s->n), sizeof(double), "variant latents", &m->in));
  fill_mix(p, v, m->mix);
  fill_inputs(p, s, v, m->in);
  return VF_OK;
}

static void model_free(variant_model *m) {
  vf_free(&m->in);
  vf_free(&m->mix);
}

/* One row of features for stimulus t: the two latent blocks mixed with
 * their weights, plus iid noise (shared by the twins: same stream). */
static void feature_row(const sim_params *p, const sim_variant *v, const variant_model *m,
                        long t, float *out) {
  const double *in = m->in + t * SIM_K;
  double a = sqrt(v->w_low), b = sqrt(v->w_sem), c = sqrt(v->w_noise);
  vf_rng r;
  sim_rng(&r, p, SIM_S_FEAT_NOISE, tower_layer(v), (uint64_t)t);
  for (long j = 0; j < m->p; j++) {
    double xl = 0, xs = 0;
    for (int k = 0; k < SIM_K_LOW; k++) xl += in[k] * m->mix[k * m->p + j];
    for (int k = SIM_K_LOW; k < SIM_K; k++) xs += in[k] * m->mix[k * m->p + j];
    out[j] = (float)(a * xl + b * xs + c * vf_rng_normal(&r));
  }
}

static vf_status write_variant(io_writer *w, const sim_params *p, const sim_stimuli *s,
                               const sim_variant *v, int iv, long r0, long r1,
                               float *buf) {
  vf_status st = VF_OK;
  variant_model m = {NULL, NULL, 0};
  VF_TRY(model_make(p, s, v, &m));
  for (long t = r0; t < r1; t++) feature_row(p, v, &m, t, buf + (t - r0) * m.p);
fail:
  model_free(&m);
  /* Every rank joins the collective write, even after a local failure. */
  vf_status wst = io_features_write_rows(w, iv, r0, st ? 0 : r1 - r0, buf);
  return st ? st : wst;
}

static void to_io_var(const sim_params *p, const sim_variant *v, io_feature_var *f) {
  memcpy(f->name, v->var, sizeof f->name); /* same size, NUL-terminated */
  f->n_feat = p->n_feat;
  snprintf(f->model, sizeof f->model, "%s", v->model);
  f->layer = v->layer;
  snprintf(f->tower, sizeof f->tower, "%s", v->tower);
  snprintf(f->training, sizeof f->training, "%s", v->training);
}

vf_status sim_write_features(MPI_Comm comm, const sim_params *p, const sim_stimuli *s,
                             const char *path) {
  vf_status st = VF_OK;
  sim_variant v[SIM_MAX_VARIANTS];
  io_feature_var fv[SIM_MAX_VARIANTS];
  io_writer *w = NULL;
  float *buf = NULL;
  int rank, size, n = sim_variants(p, v);
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  for (int i = 0; i < n; i++) to_io_var(p, &v[i], &fv[i]);
  VF_CALL(io_features_create(comm, path, p->format, s->n, fv, n, &w));
  long r0 = s->n * rank / size, r1 = s->n * (rank + 1) / size;
  st = vf_calloc((size_t)((r1 - r0) * p->n_feat), sizeof(float), "features", &buf);
  VF_TRY(sim_agree(comm, st));
  for (int i = 0; i < n; i++)
    VF_TRY(sim_agree(comm, write_variant(w, p, s, &v[i], i, r0, r1, buf)));
fail:
  vf_free(&buf);
  vf_status cst = io_writer_close(&w);
  return st ? st : cst;
}
