/* Private to src/sim: the generator's model constants, the tables of ROIs
 * and encoder variants, and the pieces sim_generate puts together.
 * The model is documented in docs/gen.md; keep the two in step. */
#ifndef VOXFIT_SIM_PRIV_H
#define VOXFIT_SIM_PRIV_H

#include "voxfit/sim.h"

#define SIM_K_LOW 8                  /* low-level latents L */
#define SIM_K_SEM 4                  /* semantic latents S */
#define SIM_K (SIM_K_LOW + SIM_K_SEM)
#define SIM_N_ROI 10
#define SIM_MAX_TOWERS 2
#define SIM_MAX_LAYERS 32
#define SIM_MAX_VARIANTS (SIM_MAX_TOWERS * SIM_MAX_LAYERS * 2)
#define SIM_MAX_SUBJECTS 99

#define SIM_PHI_LATENT 0.7           /* AR(1) of latents (time series) */
#define SIM_PHI_NOISE 0.5            /* AR(1) of voxel noise (time series) */
#define SIM_LOG10_SNR_LO (-2.0)      /* voxel SNR, log-uniform */
#define SIM_LOG10_SNR_HI 0.0
#define SIM_NOISE_FRACTION 0.01      /* voxels that are almost pure noise */
#define SIM_NOISE_SNR 1e-3
#define SIM_GRID_X 96                /* voxel grid (a 2 mm MNI-like box) */
#define SIM_GRID_Y 112
#define SIM_GRID_Z 96

/* Random streams: every random quantity comes from its own stream, keyed by
 * what it is and which one, so no result depends on who computes it. */
enum {
  SIM_S_LATENT = 1,  /* a = 0 (L) / 1 (S), b = column */
  SIM_S_NUISANCE,    /* a = tower, b = column */
  SIM_S_MIX_LOW,     /* a = tower, b = layer */
  SIM_S_MIX_SEM,     /* a = tower, b = layer */
  SIM_S_FEAT_NOISE,  /* a = tower * SIM_MAX_LAYERS + layer, b = stimulus */
  SIM_S_CORRUPT,     /* a = tower * SIM_MAX_LAYERS + layer, b = column */
  SIM_S_LAYOUT,      /* a = subject */
  SIM_S_VOXEL        /* a = subject, b = voxel */
};
void sim_rng(vf_rng *r, const sim_params *p, int kind, uint64_t a, uint64_t b);

/* A ROI: its planted mixture (fractions of the signal variance carried by
 * L and S), its relative size, and where its blobs sit in the grid. */
typedef struct {
  const char *name;
  const char *effect; /* "semantic" (multimodal > unimodal) or "none" */
  double w_low, w_sem;
  double share;       /* fraction of the voxels */
  int language;       /* a language ROI (small in the god preset) */
  int cx, cy, cz;     /* centre; x is the distance from the midline */
  int bilateral;      /* 1: a blob in each hemisphere; 0: left only */
} sim_roi;
extern const sim_roi sim_rois[SIM_N_ROI];

/* An encoder variant: the variance shares of its feature columns, and how
 * faithfully it carries each latent block (the fraction of the block's
 * variance that is the latent itself, the rest a layer-specific
 * corruption shared by the two twins). */
typedef struct {
  char var[IO_NAME_LEN]; /* mm_visual_l1 */
  char id[IO_NAME_LEN];  /* mm-vis-l1 */
  const char *model, *tower, *training;
  int tower_i, layer, multimodal;
  double w_low, w_sem, w_noise; /* w_sem: S (multimodal) or nuisance */
  double fid_low, fid_sem;      /* fid_sem: of S or of the nuisance */
} sim_variant;

int sim_n_towers(const sim_params *p);
/* Fills v[0 .. n) in file order: for each tower, layer: mm then uni. */
int sim_variants(const sim_params *p, sim_variant *v);
/* The share of each ROI in this preset's voxels (sums to 1). */
void sim_roi_shares(const sim_params *p, double share[SIM_N_ROI]);

/* The stimulus axis: train then test, runs, and the latents. */
typedef struct {
  long n;
  int *split;       /* n: 0 train, 1 test */
  int *run;         /* n: run label (non time series: 0 train, 1 test) */
  long *run_start;  /* n: first row of the run of row t */
  double *lat;      /* n x SIM_K row-major: L then S */
  double *nuis;     /* n_towers x n x SIM_K_SEM: nuisance of uni towers */
} sim_stimuli;

vf_status sim_stimuli_create(const sim_params *p, sim_stimuli **out);
/* One latent-like column over the whole stimulus axis (with stride):
 * N(0,1) for images, stationary AR(1) restarted at every run for time
 * series. */
void sim_latent_column(vf_rng *r, const sim_params *p, const sim_stimuli *s,
                       double *out, long stride);
void sim_stimuli_destroy(sim_stimuli **s);

/* One subject's voxels: ROI, coordinates (file order = grid order). */
typedef struct {
  long n_vox;
  int *roi;         /* n_vox */
  float *xyz;       /* 3 * n_vox */
  long count[SIM_N_ROI];
  double snr_gain;  /* this subject's overall signal level */
} sim_layout;

vf_status sim_layout_create(const sim_params *p, int subject, sim_layout **out);
void sim_layout_destroy(sim_layout **l);

/* Collective on comm: the whole features file. */
vf_status sim_write_features(MPI_Comm comm, const sim_params *p,
                             const sim_stimuli *s, const char *path);
/* Collective on comm: one subject's responses file. */
vf_status sim_write_subject(MPI_Comm comm, const sim_params *p,
                            const sim_stimuli *s, const sim_layout *lay,
                            int subject, const char *path);
/* Local (rank 0): the text files. */
vf_status sim_write_truth(const sim_params *p, sim_layout *const *lays,
                          const char *path);
vf_status sim_write_job(const sim_params *p, const char *path);

/* Collective: all ranks return the same status; a rank that did not fail
 * gets the message of the lowest failing rank. */
vf_status sim_agree(MPI_Comm comm, vf_status st);

const char *sim_format_name(io_format f);

#endif
