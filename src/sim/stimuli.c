/* The stimulus axis of a study: split, runs and the latents that drive both
 * the features and the responses. Small (n x 12 doubles): every rank
 * builds all of it. */
#include <math.h>
#include <stdlib.h>

#include "sim_priv.h"

/* Runs of [first, first + n) rows split into k runs labelled label0... */
static void set_runs(sim_stimuli *s, long first, long n, int k, int label0) {
  for (int r = 0; r < k; r++) {
    long a = first + n * r / k, b = first + n * (r + 1) / k;
    for (long t = a; t < b; t++) {
      s->run[t] = label0 + r;
      s->run_start[t] = a;
    }
  }
}

static void set_axis(const sim_params *p, sim_stimuli *s) {
  for (long t = 0; t < s->n; t++) s->split[t] = t >= p->n_train;
  if (p->time_series) {
    set_runs(s, 0, p->n_train, p->n_runs, 0);
    set_runs(s, p->n_train, p->n_test, p->n_test_runs, p->n_runs);
  } else {
    set_runs(s, 0, p->n_train, 1, 0);
    set_runs(s, p->n_train, p->n_test, 1, 1);
  }
}

void sim_latent_column(vf_rng *r, const sim_params *p, const sim_stimuli *s,
                          double *out, long stride) {
  const double phi = SIM_PHI_LATENT, innov = sqrt(1 - phi * phi);
  double x = 0;
  for (long t = 0; t < s->n; t++) {
    double e = vf_rng_normal(r);
    int restart = !p->time_series || s->run_start[t] == t;
    x = restart ? e : phi * x + innov * e;
    out[t * stride] = x;
  }
}

static void make_latents(const sim_params *p, sim_stimuli *s) {
  vf_rng r;
  for (int c = 0; c < SIM_K; c++) {
    int sem = c >= SIM_K_LOW;
    sim_rng(&r, p, SIM_S_LATENT, (uint64_t)sem, (uint64_t)(sem ? c - SIM_K_LOW : c));
    sim_latent_column(&r, p, s, s->lat + c, SIM_K);
  }
  for (int tw = 0; tw < sim_n_towers(p); tw++)
    for (int c = 0; c < SIM_K_SEM; c++) {
      sim_rng(&r, p, SIM_S_NUISANCE, (uint64_t)tw, (uint64_t)c);
      sim_latent_column(&r, p, s, s->nuis + (long)tw * s->n * SIM_K_SEM + c, SIM_K_SEM);
    }
}

vf_status sim_stimuli_create(const sim_params *p, sim_stimuli **out) {
  vf_status st = VF_OK;
  sim_stimuli *s = NULL;
  *out = NULL;
  VF_CALL(vf_calloc(1, sizeof *s, "stimuli", &s));
  s->n = p->n_train + p->n_test;
  size_t n = (size_t)s->n;
  VF_TRY(vf_calloc(n, sizeof(int), "split", &s->split));
  VF_TRY(vf_calloc(n, sizeof(int), "runs", &s->run));
  VF_TRY(vf_calloc(n, sizeof(long), "run starts", &s->run_start));
  VF_TRY(vf_calloc(n * SIM_K, sizeof(double), "latents", &s->lat));
  VF_TRY(vf_calloc(n * SIM_K_SEM * SIM_MAX_TOWERS, sizeof(double), "nuisance latents",
                   &s->nuis));
  set_axis(p, s);
  make_latents(p, s);
fail:
  if (st) sim_stimuli_destroy(&s);
  *out = s;
  return st;
}

void sim_stimuli_destroy(sim_stimuli **ps) {
  sim_stimuli *s = *ps;
  if (!s) return;
  vf_free(&s->split);
  vf_free(&s->run);
  vf_free(&s->run_start);
  vf_free(&s->lat);
  vf_free(&s->nuis);
  vf_free(ps);
}
