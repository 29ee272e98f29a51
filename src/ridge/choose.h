/* Internal to src/ridge: the choice of lambda from CV scores, shared by
 * the single-rank fit (cv.inc) and the team fit (team.c) so both break
 * ties the same way. */
#ifndef VOXFIT_RIDGE_CHOOSE_H
#define VOXFIT_RIDGE_CHOOSE_H

/* Per voxel (or one for all voxels) the index of the lambda with the best
 * mean CV score (cv: m x v, lambda fastest); best[j] = -1 for masked
 * voxels (valid[j] == 0; valid may be NULL). */
void ridge_choose(const double *cv, int m, long v, const unsigned char *valid,
                  int per_voxel, int *best);

#endif
