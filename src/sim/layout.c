/* One subject's voxels: how many per ROI, and where. Each ROI is one blob
 * (left hemisphere) or two (bilateral) grown around a jittered centre in a
 * 96 x 112 x 96 grid; voxels are then listed in grid order, as a masked
 * volume would list them, so ROIs interleave along the voxel axis. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "sim_priv.h"

#define GRID_CELLS ((long)SIM_GRID_X * SIM_GRID_Y * SIM_GRID_Z)

typedef struct {
  double key;
  long cell;
} cand;

typedef struct {
  long cell;
  int roi;
} placed;

static int cmp_cand(const void *a, const void *b) {
  const cand *x = a, *y = b;
  if (x->key != y->key) return x->key < y->key ? -1 : 1;
  return (x->cell > y->cell) - (x->cell < y->cell);
}

static int cmp_placed(const void *a, const void *b) {
  const placed *x = a, *y = b;
  return (x->cell > y->cell) - (x->cell < y->cell);
}

static long clampl(long v, long lo, long hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Candidates of the box of half-width R around (x, y, z), keyed by distance
 * plus a little jitter so blobs are not perfect spheres. */
static long box_candidates(vf_rng *r, int x, int y, int z, long R, cand *c) {
  long n = 0;
  for (long k = clampl(z - R, 0, SIM_GRID_Z - 1); k <= clampl(z + R, 0, SIM_GRID_Z - 1); k++)
    for (long j = clampl(y - R, 0, SIM_GRID_Y - 1); j <= clampl(y + R, 0, SIM_GRID_Y - 1); j++)
      for (long i = clampl(x - R, 0, SIM_GRID_X - 1); i <= clampl(x + R, 0, SIM_GRID_X - 1);
           i++) {
        double d = sqrt((double)((i - x) * (i - x) + (j - y) * (j - y) + (k - z) * (k - z)));
        c[n].key = d + 0.75 * vf_rng_uniform(r);
        c[n++].cell = i + SIM_GRID_X * (j + SIM_GRID_Y * k);
      }
  return n;
}

/* Takes the n nearest free cells around (x, y, z), widening the box until
 * there are enough. */
static vf_status grow_blob(vf_rng *r, unsigned char *grid, cand *c, int x, int y,
                           int z, long n, int roi, placed *out, long *n_out) {
  long R = (long)(1.3 * cbrt(3.0 * n / (4 * M_PI))) + 3;
  for (;;) {
    long m = box_candidates(r, x, y, z, R, c), free_cells = 0;
    for (long i = 0; i < m; i++) free_cells += !grid[c[i].cell];
    if (free_cells >= n) {
      qsort(c, (size_t)m, sizeof *c, cmp_cand);
      for (long i = 0, taken = 0; taken < n; i++) {
        if (grid[c[i].cell]) continue;
        grid[c[i].cell] = 1;
        out[(*n_out)++] = (placed){c[i].cell, roi};
        taken++;
      }
      return VF_OK;
    }
    if (R > SIM_GRID_Y) return vf_error(VF_E_INTERNAL, "voxel grid full (%ld voxels)", n);
    R = R * 3 / 2 + 1;
  }
}

static int jitter(vf_rng *r) { return (int)(vf_rng_u64(r) % 5) - 2; }

static vf_status place_roi(vf_rng *r, unsigned char *grid, cand *c, int roi, long count,
                           placed *out, long *n_out) {
  const sim_roi *d = &sim_rois[roi];
  int blobs = d->bilateral ? 2 : 1;
  for (int b = 0; b < blobs; b++) {
    int side = b == 0 ? -1 : 1; /* left first */
    int x = SIM_GRID_X / 2 + side * d->cx + jitter(r);
    int y = d->cy + jitter(r), z = d->cz + jitter(r);
    long n = count * (b + 1) / blobs - count * b / blobs;
    VF_CALL(grow_blob(r, grid, c, x, y, z, n, roi, out, n_out));
  }
  return VF_OK;
}

static void set_counts(const sim_params *p, vf_rng *r, sim_layout *l) {
  double share[SIM_N_ROI];
  sim_roi_shares(p, share);
  l->snr_gain = 0.6 + 0.8 * vf_rng_uniform(r);
  l->n_vox = 0;
  for (int i = 0; i < SIM_N_ROI; i++) {
    long n = lround(share[i] * p->n_vox * (0.9 + 0.2 * vf_rng_uniform(r)));
    l->count[i] = n < 10 ? 10 : n;
    l->n_vox += l->count[i];
  }
}

static vf_status place_all(vf_rng *r, sim_layout *l) {
  vf_status st = VF_OK;
  unsigned char *grid = NULL;
  cand *c = NULL;
  placed *pl = NULL;
  long n = 0;
  VF_TRY(vf_calloc((size_t)GRID_CELLS, 1, "voxel grid", &grid));
  VF_TRY(vf_calloc((size_t)GRID_CELLS, sizeof(cand), "voxel candidates", &c));
  VF_TRY(vf_calloc((size_t)l->n_vox, sizeof(placed), "voxels", &pl));
  for (int i = 0; i < SIM_N_ROI; i++) VF_TRY(place_roi(r, grid, c, i, l->count[i], pl, &n));
  qsort(pl, (size_t)n, sizeof *pl, cmp_placed);
  for (long v = 0; v < n; v++) {
    l->roi[v] = pl[v].roi;
    l->xyz[3 * v + 0] = (float)(pl[v].cell % SIM_GRID_X);
    l->xyz[3 * v + 1] = (float)(pl[v].cell / SIM_GRID_X % SIM_GRID_Y);
    l->xyz[3 * v + 2] = (float)(pl[v].cell / ((long)SIM_GRID_X * SIM_GRID_Y));
  }
fail:
  vf_free(&grid);
  vf_free(&c);
  vf_free(&pl);
  return st;
}

vf_status sim_layout_create(const sim_params *p, int subject, sim_layout **out) {
  vf_status st = VF_OK;
  sim_layout *l = NULL;
  vf_rng r;
  *out = NULL;
  VF_CALL(vf_calloc(1, sizeof *l, "layout", &l));
  sim_rng(&r, p, SIM_S_LAYOUT, (uint64_t)subject, 0);
  set_counts(p, &r, l);
  VF_TRY(vf_calloc((size_t)l->n_vox, sizeof(int), "roi index", &l->roi));
  VF_TRY(vf_calloc((size_t)l->n_vox * 3, sizeof(float), "voxel xyz", &l->xyz));
  VF_TRY(place_all(&r, l));
fail:
  if (st) sim_layout_destroy(&l);
  *out = l;
  return st;
}

void sim_layout_destroy(sim_layout **pl) {
  sim_layout *l = *pl;
  if (!l) return;
  vf_free(&l->roi);
  vf_free(&l->xyz);
  vf_free(pl);
}
