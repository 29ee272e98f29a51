/* sim (sim_): the synthetic study generator with planted ground truth.
 * See docs/gen.md. Deterministic from the seed, whatever the rank count. */
#ifndef VOXFIT_SIM_H
#define VOXFIT_SIM_H

#include <mpi.h>
#include <stdint.h>

#include "voxfit/io.h"
#include "voxfit/util.h"

typedef struct {
  char preset[32];   /* "demo", "god", "shortclips" */
  int n_subjects;
  long n_train, n_test, n_rep;  /* n_rep test repetitions (>= 2) */
  int n_runs;        /* training runs (time-series presets); 0 = none */
  int n_test_runs;   /* runs of the test set (time series); 0 = none */
  long n_vox;        /* voxels per subject (approximately, split over ROIs) */
  long n_feat;       /* features per variant (layer) */
  int n_layers;      /* layers per (model, tower, training) */
  int time_series;   /* AR(1) noise, hemodynamic lag, smooth latents */
  int lag;           /* hemodynamic lag in TRs (time series) */
  double scale;      /* the preset was shrunk by this factor (1 = full) */
  uint64_t seed;
  io_format format;  /* of the files written */
} sim_params;

/* Local. Fills p with the named preset shrunk by scale (0 < scale <= 1:
 * stimuli, voxels and features scale, never below sane minima). */
vf_status sim_preset(const char *name, double scale, uint64_t seed,
                     sim_params *p);

/* Collective on comm. Writes into outdir (created if missing):
 *   features.nc, sub-01.nc ... sub-SS.nc, truth.yaml, job.yaml
 * job.yaml is a runnable voxfit job for the study (relative paths). */
vf_status sim_generate(MPI_Comm comm, const sim_params *p, const char *outdir);

#endif
