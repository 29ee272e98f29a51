/* sub-XX.nc: one subject's responses. Voxels are generated in blocks, each
 * voxel from its own random stream keyed by (subject, voxel), so memory is
 * bounded by the block size and the file does not depend on the rank
 * count. Blocks go round-robin over the ranks; each round is one
 * collective write of adjacent blocks. */
#include <math.h>
#include <stdio.h>

#include "sim_priv.h"

#define BLOCK_BYTES (64L << 20) /* responses + repetitions of one block */

/* What one voxel does: its coefficients on the latents (scaled by its
 * SNR), and the baseline and gain of its raw signal. */
typedef struct {
  double coef[SIM_K];
  double offset, gain;
} voxel_model;

static void unit_vector(vf_rng *r, double *a, int k, double scale) {
  double ss = 0;
  for (int i = 0; i < k; i++) {
    a[i] = vf_rng_normal(r);
    ss += a[i] * a[i];
  }
  for (int i = 0; i < k; i++) a[i] *= scale / sqrt(ss);
}

/* The first draws of the voxel's stream; the noise follows. */
static void voxel_draw(vf_rng *r, const sim_layout *lay, long v, voxel_model *m) {
  const sim_roi *roi = &sim_rois[lay->roi[v]];
  int pure_noise = vf_rng_uniform(r) < SIM_NOISE_FRACTION;
  double u = vf_rng_uniform(r);
  double snr = pure_noise ? SIM_NOISE_SNR
                          : pow(10.0, SIM_LOG10_SNR_LO + (SIM_LOG10_SNR_HI - SIM_LOG10_SNR_LO) * u);
  double amp = sqrt(snr * lay->snr_gain);
  unit_vector(r, m->coef, SIM_K_LOW, amp * sqrt(roi->w_low));
  unit_vector(r, m->coef + SIM_K_LOW, SIM_K_SEM, amp * sqrt(roi->w_sem));
  m->offset = 2.0 * vf_rng_normal(r);
  m->gain = exp(0.5 * vf_rng_normal(r));
}

/* Noise-free response at row t: the latents `lag` rows earlier in the same
 * run, zero before the run's start (as FIR delays are zero-filled). */
static double signal_at(const sim_params *p, const sim_stimuli *s, const voxel_model *m,
                        long t) {
  long src = t - (p->time_series ? p->lag : 0);
  if (src < s->run_start[t]) return 0.0;
  const double *x = s->lat + src * SIM_K;
  double y = 0;
  for (int k = 0; k < SIM_K; k++) y += m->coef[k] * x[k];
  return y;
}

/* Unit-variance noise: independent for images, a stationary AR(1)
 * restarted at each run for time series. */
static double noise_next(const sim_params *p, const sim_stimuli *s, vf_rng *r, long t,
                         double *state) {
  const double phi = SIM_PHI_NOISE;
  double e = vf_rng_normal(r);
  if (!p->time_series || s->run_start[t] == t)
    *state = e;
  else
    *state = phi * *state + sqrt(1 - phi * phi) * e;
  return *state;
}

/* Voxel v: training rows into y (n rows), each repetition of the test rows
 * into yr (n_rep x n_test), their mean into y's test rows. */
static void voxel_generate(const sim_params *p, const sim_stimuli *s, const sim_layout *lay,
                           int subject, long v, float *y, float *yr) {
  vf_rng r;
  voxel_model m;
  double state = 0;
  sim_rng(&r, p, SIM_S_VOXEL, (uint64_t)subject, (uint64_t)v);
  voxel_draw(&r, lay, v, &m);
  for (long t = 0; t < p->n_train; t++)
    y[t] = (float)(m.offset + m.gain * (signal_at(p, s, &m, t) + noise_next(p, s, &r, t, &state)));
  for (long k = 0; k < p->n_rep; k++)
    for (long t = p->n_train; t < s->n; t++)
      yr[k * p->n_test + (t - p->n_train)] =
          (float)(m.offset + m.gain * (signal_at(p, s, &m, t) + noise_next(p, s, &r, t, &state)));
  /* The mean of the stored (float) repetitions, so the file agrees with
   * itself to float rounding. */
  for (long i = 0; i < p->n_test; i++) {
    double sum = 0;
    for (long k = 0; k < p->n_rep; k++) sum += yr[k * p->n_test + i];
    y[p->n_train + i] = (float)(sum / p->n_rep);
  }
}

static long block_voxels(const sim_params *p, const sim_stimuli *s, long n_vox) {
  long per_voxel = (long)sizeof(float) * (s->n + p->n_rep * p->n_test);
  long b = BLOCK_BYTES / per_voxel;
  return b < 1 ? 1 : b > n_vox ? n_vox : b;
}

static void fill_layout(const sim_params *p, const sim_stimuli *s, const sim_layout *lay,
                        const char (*names)[IO_NAME_LEN], const char *subject,
                        io_responses_layout *out) {
  out->n_stim = s->n;
  out->n_vox = lay->n_vox;
  out->n_rep = p->n_rep;
  out->n_test = p->n_test;
  out->n_roi = SIM_N_ROI;
  out->roi_names = names;
  out->roi_index = lay->roi;
  out->split = s->split;
  out->run = p->time_series ? s->run : NULL;
  out->xyz = lay->xyz;
  out->subject = subject;
}

/* One round: this rank's block (maybe none), then the collective writes. */
static vf_status write_round(io_writer *w, const sim_params *p, const sim_stimuli *s,
                             const sim_layout *lay, int subject, long v0, long nv, float *Y,
                             float *Yr) {
  long nr = p->n_rep * p->n_test;
  for (long j = 0; j < nv; j++)
    voxel_generate(p, s, lay, subject, v0 + j, Y + j * s->n, Yr + j * nr);
  vf_status st = io_responses_write_block(w, v0, nv, Y);
  vf_status st2 = io_responses_write_reps(w, v0, nv, Yr);
  return st ? st : st2;
}

static vf_status write_voxels(MPI_Comm comm, io_writer *w, const sim_params *p,
                              const sim_stimuli *s, const sim_layout *lay, int subject) {
  vf_status st = VF_OK;
  float *Y = NULL, *Yr = NULL;
  int rank, size;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  long B = block_voxels(p, s, lay->n_vox), n_blocks = (lay->n_vox + B - 1) / B;
  st = vf_calloc((size_t)(B * s->n), sizeof(float), "response block", &Y);
  if (!st) st = vf_calloc((size_t)(B * p->n_rep * p->n_test), sizeof(float), "repetitions", &Yr);
  VF_TRY(sim_agree(comm, st));
  for (long round = 0; round * size < n_blocks; round++) {
    long b = round * size + rank, v0 = b * B;
    long nv = b < n_blocks ? (v0 + B > lay->n_vox ? lay->n_vox - v0 : B) : 0;
    VF_TRY(sim_agree(comm, write_round(w, p, s, lay, subject, nv ? v0 : 0, nv, Y, Yr)));
  }
fail:
  vf_free(&Y);
  vf_free(&Yr);
  return st;
}

vf_status sim_write_subject(MPI_Comm comm, const sim_params *p, const sim_stimuli *s,
                            const sim_layout *lay, int subject, const char *path) {
  vf_status st = VF_OK;
  char names[SIM_N_ROI][IO_NAME_LEN] = {{0}}, id[16];
  io_responses_layout io_lay;
  io_writer *w = NULL;
  for (int i = 0; i < SIM_N_ROI; i++) snprintf(names[i], IO_NAME_LEN, "%s", sim_rois[i].name);
  snprintf(id, sizeof id, "sub-%02d", subject + 1);
  fill_layout(p, s, lay, (const char(*)[IO_NAME_LEN])names, id, &io_lay);
  VF_CALL(io_responses_create(comm, path, p->format, &io_lay, &w));
  VF_TRY(write_voxels(comm, w, p, s, lay, subject));
fail:;
  vf_status cst = io_writer_close(&w);
  return st ? st : cst;
}
