/* The choice of lambda from CV scores (choose.h). */
#include <math.h>
#include <stddef.h>

#include "choose.h"

/* The index of the best score; scores within RIDGE_TIE of the best are
 * ties, and ties go to the larger lambda. Far beyond the spectrum every
 * lambda predicts the same direction, so their scores differ only by
 * rounding: without a tolerance the choice among them would be noise. */
#define RIDGE_TIE 1e-9
static int argbest(const double *score, int m) {
  double top = -INFINITY;
  for (int j = 0; j < m; j++)
    if (score[j] > top) top = score[j];
  int b = 0;
  for (int j = 0; j < m; j++)
    if (score[j] >= top - RIDGE_TIE * fmax(1.0, fabs(top))) b = j;
  return b;
}

void ridge_choose(const double *cv, int m, long v, const unsigned char *valid,
                  int per_voxel, int *best) {
  int shared = 0;
  if (!per_voxel) {
    double mean[m];
    for (int j = 0; j < m; j++) {
      long nv = 0;
      mean[j] = 0;
      for (long c = 0; c < v; c++)
        if (!valid || valid[c]) mean[j] += cv[(size_t)c * m + j], nv++;
      mean[j] = nv ? mean[j] / nv : 0;
    }
    shared = argbest(mean, m);
  }
  for (long c = 0; c < v; c++) {
    if (valid && !valid[c]) {
      best[c] = -1;
      continue;
    }
    best[c] = per_voxel ? argbest(cv + (size_t)c * m, m) : shared;
  }
}
