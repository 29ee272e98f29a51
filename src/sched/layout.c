/* Teams: which units need several ranks (sched_plan_teams), and the one
 * struct that owns the team communicators and BLACS grids. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "voxfit/sched.h"

#define GIB 1073741824.0

/* A team of t ranks holds 1/t of the features, the Gram matrix and its
 * eigenvectors, every fold's factors, the responses and the predictions;
 * every rank holds the per-voxel CV scores and results, and a block
 * workspace (projected responses of up to 2048 voxels, and basis
 * predictions, at most one per lambda, of fewer: see ridge/team.c). */
double sched_unit_mem(const sched_plan *p, const sched_unit *u, int t) {
  if (t <= 1) return u->mem;
  const cfg_ridge *rg = &p->points[u->sweep].ridge;
  const io_responses *r = p->resp[u->subject];
  double ntr = p->n_train[u->subject], nte = p->n_test[u->subject], nv = (double)u->n_vox;
  double pd = (double)p->n_feat[u->variant] * rg->n_delays, sm = ntr < pd ? ntr : pd;
  int k = (int)(ntr / (u->n_eval > 0 ? u->n_eval : ntr)) + 1;
  double feat = 8 * (2 * ntr * pd + 2 * nte * pd + 2 * sm * sm +
                     (k + 1.0) * (ntr + pd + u->n_eval) * sm);
  /* blocks: projected responses of up to 2048 voxels, and basis
   * predictions of as many as keep them within the rank's responses */
  double wl = nv / t + 1 < 2048 ? nv / t + 1 : 2048, nev = u->n_eval > 0 ? u->n_eval : 1;
  double ws = ntr * (nv / t + 1) / ((rg->n_lambdas + 1.0) * nev);
  ws = ws < 256 ? 256 : ws > 2048 ? 2048 : ws;
  ws = ws < wl ? ws : wl;
  double block = 8 * (ws * (rg->n_lambdas + 1.0) * nev + wl * sm);
  double resp = 8 * nv * (2 * ntr + 4 * nte + sm + (double)r->n_rep * r->n_test);
  if (p->weight_len) resp += 8 * 2 * pd * nv;
  double repl = 8 * nv * (2.0 * rg->n_lambdas + 8);
  return (feat + resp) / t + repl + block;
}

/* The smallest power-of-two team (at most maxt ranks) that holds unit u
 * in limit bytes per rank; 0 if none does. */
static int team_needed(const sched_plan *p, const sched_unit *u, double limit, int maxt) {
  if (u->mem <= limit) return 1;
  for (int t = 2; t <= maxt; t *= 2)
    if (sched_unit_mem(p, u, t) <= limit) return t;
  return 0;
}

static vf_status too_big(const sched_plan *p, int unit, int w, double limit) {
  const sched_unit *u = &p->units[unit];
  double need = u->mem, team = sched_unit_mem(p, u, w);
  return vf_error(VF_E_INPUT, "unit %d (%s x %s, %ld voxels) needs %.3g GiB but a rank has "
                  "%.3g GiB (--mem-per-rank, or memory_per_rank_gib in %s), and a team of all "
                  "%d workers would need %.3g GiB per rank; give ranks more memory, run more "
                  "ranks, or lower block_voxels", unit, p->job->subjects[u->subject].id,
                  p->job->variants[u->variant].id, u->n_vox, need / GIB, limit / GIB,
                  p->site.path[0] ? p->site.path : "the built-in defaults", w, team / GIB);
}

/* A unit with more than a worker's share of the job's flops alone
 * outlasts the ideal schedule: the smallest power-of-two team (of at
 * most the workers) that brings it under. */
static int team_for_flops(const sched_plan *p, const sched_unit *u, int workers) {
  double total = 0;
  for (int i = 0; i < p->n_units; i++) total += p->units[i].flops;
  double share = total / workers;
  int t = 1;
  while (u->flops / t > share && 2 * t <= workers) t *= 2;
  return t;
}

/* Teams fit in double precision only: a single-precision unit that needs
 * one (for its memory, or by the site's team_size) is refused before
 * anything runs. */
static vf_status single_needs_team(const sched_plan *p, int unit, int t) {
  const sched_unit *u = &p->units[unit];
  const char *site = p->site.path[0] ? p->site.path : "the site config";
  if (p->site.team_size > 0)
    return vf_error(VF_E_INPUT, "unit %d (%s x %s, ridge.precision: single) would run on a "
                    "team of %d ranks (team_size in %s), and teams fit in double precision "
                    "only; remove team_size from %s, or set ridge.precision: double", unit,
                    p->job->subjects[u->subject].id, p->job->variants[u->variant].id, t, site,
                    site);
  return vf_error(VF_E_INPUT, "unit %d (%s x %s, %ld voxels, ridge.precision: single) needs a "
                  "team of %d ranks for its memory, and teams fit in double precision only; "
                  "lower block_voxels or raise memory_per_rank_gib in %s, or set "
                  "ridge.precision: double", unit, p->job->subjects[u->subject].id,
                  p->job->variants[u->variant].id, u->n_vox, t, site);
}

/* Each unit's team size (need[u]): from its memory and, in double
 * precision, its flops. */
static vf_status unit_teams(sched_plan *p, int workers, int *need) {
  double limit = p->site.mem_per_rank_gib * GIB;
  int forced = p->site.team_size;
  for (int u = 0; u < p->n_units; u++) {
    int single = p->points[p->units[u].sweep].ridge.precision == CFG_PREC_SINGLE;
    need[u] = forced > 0 ? forced : team_needed(p, &p->units[u], limit, workers);
    if (need[u] == 0) return too_big(p, u, workers, limit);
    if (single && need[u] > 1) return single_needs_team(p, u, need[u]);
    if (forced > 0 || single) continue;
    int tf = team_for_flops(p, &p->units[u], workers);
    if (tf > need[u]) need[u] = tf;
  }
  return VF_OK;
}

/* Teams get the workers in proportion to their units' flops, at least one
 * team; with no single-rank units every worker is in a team. */
static void split_workers(sched_plan *p, int workers) {
  double team = 0, all = 0;
  for (int u = 0; u < p->n_units; u++) {
    all += p->units[u].flops;
    if (p->units[u].team > 1) team += p->units[u].flops;
  }
  int most = workers / p->team_size, n = most;
  if (team < all && p->site.team_size == 0) {
    n = (int)lround(workers * team / all / p->team_size);
    n = n < 1 ? 1 : n > most ? most : n;
  }
  p->n_teams = n, p->n_singles = workers - n * p->team_size;
}

vf_status sched_plan_teams(sched_plan *p, int n_ranks) {
  int workers = n_ranks > 1 ? n_ranks - 1 : 1, *need = NULL;
  if (p->site.team_size > workers)
    return vf_error(VF_E_INPUT, "team_size %d in %s needs at least %d ranks (a master and %d "
                    "workers); this job has %d", p->site.team_size,
                    p->site.path[0] ? p->site.path : "the site config", p->site.team_size + 1,
                    p->site.team_size, n_ranks);
  VF_CALL(vf_calloc((size_t)p->n_units + 1, sizeof(int), "teams", &need));
  vf_status st = unit_teams(p, workers, need);
  p->team_size = 1;
  for (int u = 0; st == VF_OK && u < p->n_units; u++) {
    sched_unit *x = &p->units[u];
    x->team = need[u];
    x->mem_rank = sched_unit_mem(p, x, x->team);
    if (x->team > p->team_size) p->team_size = x->team;
  }
  vf_free(&need);
  VF_CALL(st);
  p->n_teams = 0, p->n_singles = workers;
  if (p->team_size > 1) split_workers(p, workers);
  return VF_OK;
}

/* ---- the layout ---------------------------------------------------- */

/* Process rows of a team's grid: the site's team_rows when it divides
 * the team, else 1. A 1 x t grid keeps every voxel's rows on one rank:
 * the per-lambda products then move only the small projected features,
 * where taller grids move the projected responses too (measured: 934
 * against 3249 MiB sent per rank, docs/teams.md). */
static int grid_rows(const sched_plan *p, int t) {
  int want = p->site.team_rows;
  return want > 0 && t % want == 0 ? want : 1;
}

vf_status sched_layout_create(MPI_Comm comm, const sched_plan *p, sched_layout **out) {
  sched_layout *l = NULL;
  VF_CALL(vf_calloc(1, sizeof *l, "layout", &l));
  MPI_Comm_rank(comm, &l->rank);
  MPI_Comm_size(comm, &l->size);
  l->team_comm = MPI_COMM_NULL, l->team = -1;
  l->n_teams = p->n_teams, l->team_size = p->team_size;
  vf_status st = vf_calloc((size_t)l->size, sizeof(int), "layout", &l->team_of);
  for (int w = 0; st == VF_OK && w < l->size; w++) {
    int i = w - 1; /* workers start at rank 1 */
    l->team_of[w] = w > 0 && l->n_teams > 0 && i < l->n_teams * l->team_size
                        ? i / l->team_size : -1;
  }
  st = sched_agree(comm, st);
  if (st) {
    sched_layout_destroy(&l);
    return st;
  }
  l->team = l->team_of[l->rank];
  MPI_Comm_split(comm, l->team >= 0 ? l->team : MPI_UNDEFINED, l->rank, &l->team_comm);
  if (l->team >= 0) {
    int rows = grid_rows(p, l->team_size), ctxt;
    MPI_Comm_rank(l->team_comm, &l->team_rank);
    l->blacs = Csys2blacs_handle(l->team_comm);
    ctxt = l->blacs;
    Cblacs_gridinit(&ctxt, "Row", rows, l->team_size / rows);
    la_grid_of(ctxt, &l->grid);
    ctxt = l->blacs;
    Cblacs_gridinit(&ctxt, "Row", 1, l->team_size);
    la_grid_of(ctxt, &l->row);
  }
  *out = l;
  return VF_OK;
}

void sched_layout_destroy(sched_layout **lp) {
  if (!lp || !*lp) return;
  sched_layout *l = *lp;
  if (l->team >= 0) {
    Cblacs_gridexit(l->grid.ctxt);
    Cblacs_gridexit(l->row.ctxt);
    Cfree_blacs_system_handle(l->blacs);
  }
  if (l->team_comm != MPI_COMM_NULL) MPI_Comm_free(&l->team_comm);
  vf_free(&l->team_of);
  vf_free(lp);
}

int sched_layout_contact(const sched_layout *l, int w) {
  if (w <= 0 || w >= l->size) return 0;
  int t = l->team_of[w];
  return t < 0 || l->team_of[w - 1] != t;
}

int sched_layout_ranks(const sched_layout *l, int w) {
  return l->team_of[w] >= 0 ? l->team_size : 1;
}

void sched_layout_describe(const sched_plan *p, int n_ranks, char *buf, size_t cap) {
  if (p->team_size <= 1) {
    snprintf(buf, cap, "no teams: every unit fits one rank");
    return;
  }
  int t = p->team_size, rows = grid_rows(p, t), team_units = 0;
  for (int u = 0; u < p->n_units; u++) team_units += p->units[u].team > 1;
  snprintf(buf, cap, "%d team%s of %d ranks (grid %dx%d, block %d) for %d of %d units, "
           "%d single-rank worker%s, of %d ranks", p->n_teams, p->n_teams == 1 ? "" : "s",
           t, rows, t / rows, p->site.team_block, team_units, p->n_units, p->n_singles,
           p->n_singles == 1 ? "" : "s", n_ranks);
}
