/* Internal to src/sched: one unit's data preparation, shared by the
 * single-rank path (unit.c) and the team path (team.c). All Local. */
#ifndef VOXFIT_SCHED_UNIT_H
#define VOXFIT_SCHED_UNIT_H

#include "voxfit/ridge.h"
#include "voxfit/sched.h"

/* A unit's working arrays (time order until put in fold order). */
typedef struct {
  long ntr, nte, p, pd, nv;
  const long *vox;     /* the voxels (indices in the subject's file) */
  double *Xtr, *Xte;   /* ntr x pd, nte x pd (after delays) */
  double *Ytr, *Yte;   /* ntr x nv, nte x nv */
  int *run_tr, *run_te;/* run labels or NULL */
  unsigned char *valid;
  int *fold, k;
  long *order, *start;
  double *ev, *split_half; /* per voxel; NaN without repetitions */
  int n_rep;               /* test repetitions averaged (0: none) */
} unit_data;

void unit_data_free(unit_data *d);
/* Rows, run labels and folds of the unit's subject; every voxel of u. */
vf_status unit_prepare(const sched_plan *p, const sched_unit *u, const cfg_ridge *rg,
                       unit_data *d);
/* The variant's features (cols[0..ncols) of them, or all with cols NULL):
 * read, checked, standardised and delayed into d->Xtr, d->Xte. */
vf_status unit_load_features(const sched_plan *p, const sched_unit *u, const cfg_ridge *rg,
                             const long *cols, long ncols, unit_data *d);
/* The responses of d->vox[0..d->nv): read, checked, standardised; noise
 * ceilings from the test repetitions. */
vf_status unit_load_responses(const sched_plan *p, const sched_unit *u, const cfg_ridge *rg,
                              unit_data *d);
/* Rows of A (ntr x cols) in fold order. */
vf_status unit_reorder(const unit_data *d, double *A, long cols);
ridge_opts unit_opts(const cfg_ridge *rg);
/* Noise ceilings, normalised r and permutation p-values of d's voxels
 * from their test predictions (nte x nv, NULL: none) into o. */
vf_status unit_test_statistics(const sched_plan *p, const unit_data *d, const double *pred,
                               sched_unit_out *o);
void unit_mark_failed(sched_unit_out *o, const char *why, int m);
/* A team keeps its last design's factorisations (ridge_team_model): the
 * cache's, for design, or NULL; set replaces (and destroys) the one held. */
ridge_team_model *unit_cache_team(sched_cache *c, int design);
void unit_cache_set_team(sched_cache *c, int design, ridge_team_model *M);

#endif
