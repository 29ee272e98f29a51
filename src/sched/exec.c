/* Executing a plan: rank 0 hands units to workers (voxfit/proto.h), or
 * with one rank computes them itself; finished units are flushed
 * collectively into the results file; a rerun skips the units done;
 * a signal stops the handing out and leaves a resumable file. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "voxfit/proto.h"
#include "voxfit/sched.h"

enum { TODO = 0, ASSIGNED = 1, RETURNED = 2, SKIP = 3 };

/* What every rank knows about the run. */
typedef struct {
  MPI_Comm comm;
  int rank, size;
  sched_plan *p;
  sched_layout *lay;  /* teams: who computes what */
  const sched_run_opts *opt;
  io_results *res;
  int *file_status;   /* per unit, as in the file (rank 0 keeps it current) */
  int *state;         /* per unit: TODO, ASSIGNED, RETURNED, SKIP */
  sched_run_stats *st;
  /* worker side: finished units waiting for a flush */
  sched_unit_out **pend;
  int *pend_unit, n_pend;
  double pend_bytes;
  sched_cache *cache;
  char models[CFG_PATH_LEN + 64]; /* published models; "" with one worker */
  int fatal;          /* this worker hit a broken invariant */
} exec_ctx;

void sched_shard_path(const char *output, int shard, int n_shards, char *buf,
                      size_t cap) {
  const char *dot = strrchr(output, '.'), *slash = strrchr(output, '/');
  size_t stem = dot && (!slash || dot > slash) ? (size_t)(dot - output) : strlen(output);
  snprintf(buf, cap, "%.*s.shard-%d-of-%d%s", (int)stem, output, shard + 1, n_shards,
           output + stem);
}

static double out_bytes(const sched_unit_out *o, int m) {
  return o->n_vox * (32.0 + (o->cv_scores ? 4.0 * m : 0) + 4.0 * o->weight_len);
}

/* ---- flushing --------------------------------------------------------- */

/* Collective: writes this rank's finished units (data, then flags). */
static vf_status flush(exec_ctx *x) {
  double t0 = vf_now();
  io_unit_result *r = NULL;
  vf_status st = vf_calloc((size_t)x->n_pend + 1, sizeof *r, "unit results", &r);
  for (int i = 0; st == VF_OK && i < x->n_pend; i++) {
    const sched_unit_out *o = x->pend[i];
    const sched_unit *u = &x->p->units[x->pend_unit[i]];
    r[i] = (io_unit_result){x->pend_unit[i], u->sweep, u->variant, u->vox0, o->n_vox,
                            o->test_r, o->test_r2, o->best_lambda, o->cv_best,
                            o->ev, o->split_half, o->test_r_norm, o->test_p,
                            o->pred, o->y, o->n_test, o->cv_scores, o->weights, o->status, o->error, o->seconds};
  }
  vf_status wst = io_results_write_units(x->res, r, st ? 0 : x->n_pend);
  vf_free(&r);
  for (int i = 0; i < x->n_pend; i++) sched_unit_out_destroy(&x->pend[i]);
  x->n_pend = 0, x->pend_bytes = 0;
  x->st->flush_seconds += vf_now() - t0;
  return st ? st : wst;
}

/* ---- the work of one unit ------------------------------------------------ */

/* A unit on this rank, or on its team (every member calls; the leader
 * keeps the outputs). */
static vf_status run_one(exec_ctx *x, int unit, int flags, sched_unit_out **o) {
  const sched_layout *l = x->lay;
  int team = l->team >= 0, leader = !team || l->team_rank == 0;
  vf_status st = leader ? sched_unit_out_create(x->p, unit, o) : VF_OK;
  if (team) st = sched_agree(l->team_comm, st);
  if (st == VF_OK && team) return sched_team_unit_run(x->p, unit, l, x->cache, leader ? *o : NULL);
  if (st == VF_OK) st = sched_unit_run(x->p, unit, x->cache, flags, *o);
  return st;
}

static vf_status work_unit(exec_ctx *x, int unit, int flags, proto_report *rep) {
  sched_unit_out *o = NULL;
  *rep = (proto_report){PROTO_DONE, unit, 0, 0, 0, 0, 0, 0, ""};
  if (x->fatal) return VF_OK; /* answered "not run" */
  if (x->opt->no_reuse) {
    sched_cache_destroy(&x->cache);
    VF_CALL(sched_cache_create(x->p, &x->cache));
    sched_cache_set_dir(x->cache, x->models);
  }
  vf_status st = run_one(x, unit, flags, &o);
  if (x->lay->team >= 0 && x->lay->team_rank > 0) { /* a member keeps nothing */
    x->fatal = st == VF_E_INTERNAL;
    return VF_OK;
  }
  if (st != VF_OK) {
    sched_unit_out_destroy(&o);
    rep->status = 2;
    snprintf(rep->error, sizeof rep->error, "%s", vf_error_message());
    if (st != VF_E_INTERNAL) return VF_OK; /* e.g. no memory for its outputs */
    x->fatal = 1;
    rep->kind = PROTO_FATAL, rep->status = 0;
    return VF_OK;
  }
  rep->status = o->status, rep->factorised = o->factorised, rep->seconds = o->seconds;
  rep->published = o->published;
  x->pend_unit[x->n_pend] = unit;
  x->pend[x->n_pend++] = o;
  x->pend_bytes += out_bytes(o, x->p->points[x->p->units[unit].sweep].ridge.n_lambdas);
  rep->pending = x->pend_bytes;
  return VF_OK;
}

/* Whether this rank, or with a team any rank of it, caught a stop signal:
 * a member has no line to the master, so its leader reports it. Collective
 * on a team, once per unit. */
static int signalled(const exec_ctx *x) {
  int mine = proto_signalled() != 0, any = mine;
  if (x->lay->team >= 0) MPI_Allreduce(&mine, &any, 1, MPI_INT, MPI_MAX, x->lay->team_comm);
  return any;
}

/* A worker: orders until STOP. */
static vf_status worker_loop(exec_ctx *x) {
  double waited = 0, t0 = vf_now();
  for (;;) {
    proto_order o;
    double t = vf_now();
    VF_CALL(proto_recv_order(x->comm, &o));
    if (x->lay->team >= 0) /* the leader passes every order to its team */
      MPI_Bcast(&o, sizeof o, MPI_BYTE, 0, x->lay->team_comm);
    waited += vf_now() - t;
    if (o.kind == PROTO_FLUSH || o.kind == PROTO_STOP) {
      VF_CALL(flush(x));
      if (o.kind != PROTO_STOP) continue;
      vf_log(VF_LOG_DEBUG, "worker: %.2f s waiting for orders, %.2f s in the loop", waited,
             vf_now() - t0);
      return proto_reports_flush();
    }
    proto_report rep;
    VF_CALL(work_unit(x, o.unit, o.flags, &rep));
    rep.signalled = signalled(x);
    VF_CALL(proto_send_report(x->comm, &rep));
  }
}

/* A team member: its leader's orders, until STOP. */
static vf_status member_loop(exec_ctx *x) {
  for (;;) {
    proto_order o;
    MPI_Bcast(&o, sizeof o, MPI_BYTE, 0, x->lay->team_comm);
    if (o.kind == PROTO_FLUSH || o.kind == PROTO_STOP) {
      VF_CALL(flush(x));
      if (o.kind == PROTO_STOP) return VF_OK;
      continue;
    }
    proto_report rep;
    VF_CALL(work_unit(x, o.unit, o.flags, &rep));
    signalled(x); /* the leader reports it */
  }
}

/* ---- the master ----------------------------------------------------------- */

typedef struct {
  int *end;            /* per design: one past its last unit in plan order */
  int *cursor;         /* per design: no TODO unit before this */
  int *started;        /* per design: handed out at least once */
  int *published;      /* per design: its model can be loaded from a file */
  int n_unstarted;     /* designs not yet handed out */
  int (*held)[2];      /* per worker: the last two designs it was given */
  int *outstanding;    /* per worker: orders not yet reported */
  int n_open;          /* units out at workers */
  int stopping, fatal;
  char fatal_msg[256];
  double last_flush, last_progress, t0, flops_done;
  double progress_every; /* VOXFIT_PROGRESS_SECONDS */
  int done_run;        /* units reported by this run */
} master;

static void master_free(master *m) {
  vf_free(&m->end), vf_free(&m->cursor), vf_free(&m->started), vf_free(&m->published);
  vf_free(&m->held), vf_free(&m->outstanding);
}

static int next_todo(const exec_ctx *x, master *m, int d);

static vf_status master_init(exec_ctx *x, master *m) {
  const sched_plan *p = x->p;
  int D = p->n_designs;
  memset(m, 0, sizeof *m);
  VF_CALL(vf_calloc((size_t)D, sizeof(int), "designs", &m->end));
  VF_CALL(vf_calloc((size_t)D, sizeof(int), "designs", &m->cursor));
  VF_CALL(vf_calloc((size_t)D, sizeof(int), "designs", &m->started));
  VF_CALL(vf_calloc((size_t)D, sizeof(int), "designs", &m->published));
  VF_CALL(vf_calloc((size_t)x->size, sizeof *m->held, "workers", &m->held));
  VF_CALL(vf_calloc((size_t)x->size, sizeof(int), "workers", &m->outstanding));
  /* units are grouped by design: the first seen is the group's start */
  for (int d = 0; d < D; d++) m->cursor[d] = -1;
  for (int u = 0; u < p->n_units; u++) {
    int d = p->units[u].design;
    if (m->cursor[d] < 0) m->cursor[d] = u;
    m->end[d] = u + 1;
  }
  for (int w = 0; w < x->size; w++) m->held[w][0] = m->held[w][1] = -1;
  for (int d = 0; d < D; d++) m->n_unstarted += next_todo(x, m, d) >= 0;
  m->t0 = m->last_flush = m->last_progress = vf_now();
  m->progress_every = vf_env_number("VOXFIT_PROGRESS_SECONDS", 0, 1e9, 0, 10.0,
                                    "a number of seconds >= 0", "10 s");
  return VF_OK;
}

static int next_todo(const exec_ctx *x, master *m, int d) {
  if (d < 0) return -1;
  while (m->cursor[d] < m->end[d] && x->state[m->cursor[d]] != TODO) m->cursor[d]++;
  return m->cursor[d] < m->end[d] ? m->cursor[d] : -1;
}

/* Team units go to teams; a team takes single-rank units only when the
 * job has no single-rank workers. */
static int fits(const exec_ctx *x, int w, int u) {
  int cap = sched_layout_ranks(x->lay, w), need = x->p->units[u].team;
  return cap > 1 ? need > 1 || x->p->n_singles == 0 : need == 1;
}

/* The first unit of design d still to do that worker w can run. */
static int next_fit(const exec_ctx *x, master *m, int d, int w) {
  int u = next_todo(x, m, d);
  for (; u >= 0 && u < m->end[d]; u++)
    if (x->state[u] == TODO && fits(x, w, u)) return u;
  return -1;
}

/* Affinity: a design the worker holds; else the largest design nobody
 * has started (near the end of the job, when fewer designs are left than
 * single workers, its builder publishes the model); else a unit of a
 * published design, loaded from its file. Each design is factorised once
 * by single workers; a worker with none of these waits. Teams take any
 * unit they fit, a design they hold first: each keeps its last design's
 * factorisation and shares none through files. *flags gets the order's
 * SCHED_ flags. */
static int pick(const exec_ctx *x, master *m, int w, int *flags) {
  int workers = x->p->team_size > 1 ? x->p->n_singles : x->size - 1;
  int single = sched_layout_ranks(x->lay, w) == 1;
  *flags = 0;
  for (int h = 0; h < 2; h++) {
    int u = next_fit(x, m, m->held[w][h], w);
    if (u >= 0) return u;
  }
  int loadable = -1;
  for (int u = 0; u < x->p->n_units; u = m->end[x->p->units[u].design]) {
    int d = x->p->units[u].design, t = next_fit(x, m, d, w);
    if (t < 0) continue;
    if (!single) return t;
    if (!m->started[d]) {
      if (workers > 1 && m->n_unstarted - 1 < workers) *flags = SCHED_PUBLISH;
      return t;
    }
    if (m->published[d] && loadable < 0) loadable = t;
  }
  if (loadable >= 0) *flags = SCHED_LOAD;
  return loadable;
}

static vf_status assign(exec_ctx *x, master *m, int w) {
  while (!m->stopping && m->outstanding[w] < x->p->site.prefetch) {
    int flags, u = pick(x, m, w, &flags);
    if (u < 0) return VF_OK;
    int d = x->p->units[u].design;
    x->state[u] = ASSIGNED;
    if (sched_layout_ranks(x->lay, w) == 1) { /* only a single worker builds a shared model */
      m->n_unstarted -= !m->started[d];
      m->started[d] = 1;
    }
    if (m->held[w][0] != d) m->held[w][1] = m->held[w][0], m->held[w][0] = d;
    m->outstanding[w]++, m->n_open++;
    VF_CALL(proto_send_order(x->comm, w, PROTO_UNIT, u, flags));
  }
  return VF_OK;
}

/* Workers left waiting get work as soon as a model is published. */
static vf_status assign_idle(exec_ctx *x, master *m) {
  for (int w = 1; w < x->size; w++)
    if (sched_layout_contact(x->lay, w) && m->outstanding[w] == 0) VF_CALL(assign(x, m, w));
  return VF_OK;
}

/* Progress on rank 0: at most every VOXFIT_PROGRESS_SECONDS (default 10)
 * and at the end; a live line when stderr is a terminal. */
static void progress(exec_ctx *x, master *m, int last) {
  double now = vf_now(), el = now - m->t0;
  int tty = isatty(2), total = x->st->n_units;
  if (x->rank != 0 || x->opt->quiet ||
      (!last && now - m->last_progress < (tty ? 0.5 : m->progress_every)))
    return; /* only the master knows the counts */
  m->last_progress = now;
  double eta = m->done_run ? el / m->done_run * (total - m->done_run) : 0;
  char line[256];
  snprintf(line, sizeof line, "%d/%d units done (%d skipped as done before), %d failed, "
           "%.1f s, %.2f GFLOP/s, ETA %.0f s", m->done_run, total, x->st->n_skipped,
           x->st->n_failed, el, el > 0 ? m->flops_done / el / 1e9 : 0, eta);
  if (tty) fprintf(stderr, "\r%s%s", line, last ? "\n" : "");
  else vf_log(VF_LOG_INFO, "%s", line);
}

static void record(exec_ctx *x, master *m, const proto_report *r) {
  if (r->kind == PROTO_FATAL && !m->fatal) {
    m->fatal = 1, m->stopping = 1;
    snprintf(m->fatal_msg, sizeof m->fatal_msg, "%s", r->error);
  }
  x->state[r->unit] = r->status ? RETURNED : TODO;
  if (r->status == 0) return;
  x->file_status[r->unit] = r->status;
  m->done_run++;
  m->flops_done += x->p->units[r->unit].flops;
  x->st->n_done += r->status == 1;
  x->st->n_failed += r->status == 2;
  x->st->n_factorisations += r->factorised;
  if (r->published) m->published[x->p->units[r->unit].design] = 1;
  x->st->compute_seconds += r->seconds;
  if (r->signalled) m->stopping = 1;
}

static vf_status flush_all(exec_ctx *x, master *m, int kind) {
  for (int w = 1; w < x->size; w++)
    if (sched_layout_contact(x->lay, w)) VF_CALL(proto_send_order(x->comm, w, kind, -1, 0));
  m->last_flush = vf_now();
  return flush(x);
}

/* Finished units are written at least every flush_seconds, and sooner
 * when a worker holds more than 256 MiB of them. */
#define PENDING_MAX (256.0 * 1048576.0)
static int flush_due(const exec_ctx *x, const master *m, int unflushed, double held) {
  return unflushed > 0 &&
         (vf_now() - m->last_flush >= x->p->site.flush_seconds || held > PENDING_MAX);
}

static vf_status master_loop(exec_ctx *x, master *m) {
  int unflushed = 0;
  double held = 0;
  struct timespec nap = {0, 2000000}; /* 2 ms: the master must not take a core */
  for (int w = 1; w < x->size; w++)
    if (sched_layout_contact(x->lay, w)) VF_CALL(assign(x, m, w));
  while (m->n_open > 0) {
    proto_report r;
    int from = 0, got = 0;
    VF_CALL(proto_poll_report(x->comm, &r, &from, &got));
    if (proto_signalled()) m->stopping = 1;
    if (got) {
      m->outstanding[from]--, m->n_open--;
      record(x, m, &r);
      unflushed += r.status != 0;
      held = r.pending > held ? r.pending : held;
      VF_CALL(assign(x, m, from));
      if (r.published) VF_CALL(assign_idle(x, m));
      progress(x, m, 0);
    } else {
      nanosleep(&nap, NULL);
    }
    if (flush_due(x, m, unflushed, held)) {
      VF_CALL(flush_all(x, m, PROTO_FLUSH));
      unflushed = 0, held = 0;
    }
  }
  return flush_all(x, m, PROTO_STOP);
}

/* One rank: the master computes the units itself, in plan order. */
static vf_status alone_loop(exec_ctx *x, master *m) {
  for (int u = 0; u < x->p->n_units && !m->stopping; u++) {
    if (x->state[u] != TODO) continue;
    proto_report r;
    VF_CALL(work_unit(x, u, 0, &r));
    r.signalled = proto_signalled() != 0;
    record(x, m, &r);
    progress(x, m, 0);
    if (flush_due(x, m, x->n_pend, x->pend_bytes)) {
      VF_CALL(flush(x));
      m->last_flush = vf_now();
    }
  }
  return flush(x);
}

/* ---- set-up and the end ------------------------------------------------- */

/* Shard i of N: a contiguous share of the units in plan order (designs
 * stay together), cut at equal shares of the flops. */
void sched_unit_shards(const sched_plan *p, int n_shards, int *shard) {
  double total = 0, at = 0;
  for (int u = 0; u < p->n_units; u++) total += p->units[u].flops + 1;
  for (int u = 0; u < p->n_units; u++) {
    int s = (int)((at + 0.5 * (p->units[u].flops + 1)) / total * n_shards);
    shard[u] = s < n_shards ? s : n_shards - 1;
    at += p->units[u].flops + 1;
  }
}

/* Units of other shards are skipped; state[] serves as scratch first. */
static void mark_shard(exec_ctx *x) {
  sched_unit_shards(x->p, x->opt->n_shards, x->state);
  for (int u = 0; u < x->p->n_units; u++)
    x->state[u] = x->state[u] == x->opt->shard ? TODO : SKIP;
}

static vf_status open_results(exec_ctx *x, io_results_layout *L) {
  int resumable = 0;
  vf_status st = VF_OK;
  if (x->rank == 0)
    st = io_results_check_existing(x->opt->output, x->p->job->hash, x->opt->force, &resumable);
  VF_CALL(sched_agree(x->comm, st));
  MPI_Bcast(&resumable, 1, MPI_INT, 0, x->comm);
  if (resumable) st = io_results_open(x->comm, x->opt->output, L, &x->res, x->file_status);
  else st = io_results_create(x->comm, x->opt->output, L, &x->res);
  VF_CALL(sched_agree(x->comm, st));
  for (int u = 0; u < x->p->n_units; u++)
    if (x->file_status[u] == 1 && x->state[u] == TODO) x->state[u] = SKIP, x->st->n_skipped++;
  if (resumable && x->rank == 0 && !x->opt->quiet)
    vf_log(VF_LOG_INFO, "resuming %s: %d of this run's units are done already",
           x->opt->output, x->st->n_skipped);
  return VF_OK;
}

static vf_status exec_alloc(exec_ctx *x) {
  int n = x->p->n_units + 1;
  VF_CALL(vf_calloc((size_t)n, sizeof(int), "unit flags", &x->file_status));
  VF_CALL(vf_calloc((size_t)n, sizeof(int), "unit states", &x->state));
  VF_CALL(vf_calloc((size_t)n, sizeof(sched_unit_out *), "finished units", &x->pend));
  VF_CALL(vf_calloc((size_t)n, sizeof(int), "finished units", &x->pend_unit));
  VF_CALL(sched_cache_create(x->p, &x->cache));
  if (x->size > 2) sched_models_dir(x->opt->output, x->models, sizeof x->models);
  sched_cache_set_dir(x->cache, x->models);
  return VF_OK;
}

/* The published models of a finished run: no longer needed. */
static void remove_models(const char *dir) {
  DIR *d = dir[0] ? opendir(dir) : NULL;
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d)))
    if (e->d_name[0] != '.') {
      char path[CFG_PATH_LEN + 400];
      snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
      unlink(path);
    }
  closedir(d);
  rmdir(dir);
}

static void exec_free(exec_ctx *x) {
  sched_layout_destroy(&x->lay);
  for (int i = 0; i < x->n_pend; i++) sched_unit_out_destroy(&x->pend[i]);
  vf_free(&x->file_status), vf_free(&x->state), vf_free(&x->pend), vf_free(&x->pend_unit);
  sched_cache_destroy(&x->cache);
}

/* Collective: the counts every rank returns, and a fatal error anywhere. */
static vf_status finish(exec_ctx *x, master *m, io_results_layout *L, vf_status st) {
  double t0 = vf_now();
  int flags[2] = {m->stopping && !m->fatal, m->fatal};
  MPI_Bcast(flags, 2, MPI_INT, 0, x->comm);
  MPI_Bcast(x->st, sizeof *x->st, MPI_BYTE, 0, x->comm);
  x->st->stopped = flags[0];
  if (st == VF_OK) st = io_results_summarise(x->res, L, x->file_status);
  int complete = 1;
  for (int u = 0; u < x->p->n_units; u++)
    if (x->state[u] != SKIP && x->file_status[u] == 0) complete = 0;
  MPI_Bcast(&complete, 1, MPI_INT, 0, x->comm);
  vf_status cst = io_results_close(&x->res, st == VF_OK && complete);
  if (st == VF_OK) st = cst;
  if (st == VF_OK && complete && x->rank == 0) {
    /* by its path, not x->models: a run on 1 or 2 ranks publishes none but
     * removes those a killed run on more ranks left behind */
    char dir[sizeof x->models];
    sched_models_dir(x->opt->output, dir, sizeof dir);
    remove_models(dir);
  }
  x->st->finish_seconds = vf_now() - t0;
  if (st == VF_OK && flags[1] && x->rank == 0)
    st = vf_error(VF_E_INTERNAL, "a worker failed: %s", m->fatal_msg);
  return sched_agree(x->comm, st);
}

vf_status sched_run(MPI_Comm comm, sched_plan *p, const sched_run_opts *opt,
                    sched_run_stats *stats) {
  exec_ctx x;
  memset(&x, 0, sizeof x);
  x.comm = comm, x.p = p, x.opt = opt, x.st = stats;
  master m;
  io_results_layout L;
  memset(stats, 0, sizeof *stats);
  memset(&m, 0, sizeof m);
  memset(&L, 0, sizeof L);
  MPI_Comm_rank(comm, &x.rank);
  MPI_Comm_size(comm, &x.size);
  proto_catch_signals();
  double t0 = vf_now();
  vf_status st = exec_alloc(&x);
  if (st == VF_OK) st = sched_plan_teams(p, x.size);
  st = sched_agree(comm, st);
  if (st == VF_OK) st = sched_layout_create(comm, p, &x.lay);
  if (st == VF_OK) st = sched_results_layout(p, &L);
  L.shard = opt->n_shards > 1 ? opt->shard : 0, L.n_shards = opt->n_shards > 1 ? opt->n_shards : 1;
  if (st == VF_OK && opt->n_shards > 1) mark_shard(&x);
  st = sched_agree(comm, st);
  if (st == VF_OK) st = open_results(&x, &L);
  stats->setup_seconds = vf_now() - t0;
  if (st) {
    exec_free(&x);
    sched_results_layout_free(&L);
    return st;
  }
  for (int u = 0; u < p->n_units; u++) stats->n_units += x.state[u] == TODO;
  if (x.rank == 0) st = master_init(&x, &m);
  if (st == VF_OK) {
    if (x.size == 1) st = alone_loop(&x, &m);
    else if (x.rank == 0) st = master_loop(&x, &m);
    else st = x.lay->team_rank > 0 ? member_loop(&x) : worker_loop(&x);
  }
  progress(&x, &m, 1);
  stats->seconds = vf_now() - t0;
  st = finish(&x, &m, &L, st);
  stats->seconds = vf_now() - t0;
  master_free(&m);
  exec_free(&x);
  sched_results_layout_free(&L);
  return st;
}

/* ---- collect ---------------------------------------------------------------- */

static vf_status collect_shards(MPI_Comm comm, sched_plan *p, io_results *res,
                                const io_results_layout *L, int n_shards) {
  int *take = NULL, *shard = NULL, rank;
  MPI_Comm_rank(comm, &rank);
  VF_CALL(vf_calloc((size_t)p->n_units + 1, sizeof(int), "unit flags", &take));
  vf_status st0 = vf_calloc((size_t)p->n_units + 1, sizeof(int), "unit shards", &shard);
  if (st0) {
    vf_free(&take);
    return st0;
  }
  sched_unit_shards(p, n_shards, shard);
  vf_status st = VF_OK;
  for (int i = 0; i < n_shards && st == VF_OK; i++) {
    char path[CFG_PATH_LEN + 32];
    int copied = 0;
    sched_shard_path(p->job->output, i, n_shards, path, sizeof path);
    for (int u = 0; u < p->n_units; u++) take[u] = shard[u] == i;
    st = io_results_copy_units(res, path, L, take, &copied);
    st = sched_agree(comm, st);
    if (st == VF_OK && rank == 0 && !access(path, R_OK))
      vf_log(VF_LOG_INFO, "collect: %d units from %s", copied, path);
  }
  vf_free(&take), vf_free(&shard);
  return st;
}

vf_status sched_collect(MPI_Comm comm, sched_plan *p, int n_shards, int force,
                        sched_run_stats *stats) {
  io_results_layout L;
  io_results *res = NULL;
  int resumable = 0, rank, *status = NULL;
  MPI_Comm_rank(comm, &rank);
  memset(stats, 0, sizeof *stats);
  vf_status st = rank == 0 ? io_results_check_existing(p->job->output, p->job->hash,
                                                       force, &resumable) : VF_OK;
  VF_CALL(sched_agree(comm, st));
  VF_CALL(sched_results_layout(p, &L));
  /* every shard readable and of this job before the output is replaced:
   * a missing one must not cost an existing output (exit 2 writes nothing) */
  for (int i = 0; rank == 0 && st == VF_OK && i < n_shards; i++) {
    char path[CFG_PATH_LEN + 32];
    sched_shard_path(p->job->output, i, n_shards, path, sizeof path);
    st = io_results_check_source(path, &L, i, n_shards);
  }
  st = sched_agree(comm, st);
  if (st == VF_OK)
    st = vf_calloc((size_t)p->n_units + 1, sizeof(int), "unit flags", &status);
  if (st == VF_OK) st = io_results_create(comm, p->job->output, &L, &res);
  st = sched_agree(comm, st);
  if (st == VF_OK) st = collect_shards(comm, p, res, &L, n_shards);
  if (st == VF_OK) st = io_results_close(&res, 0);
  /* reopen to read every unit's flag, summarise and mark complete */
  if (st == VF_OK) st = io_results_open(comm, p->job->output, &L, &res, status);
  st = sched_agree(comm, st);
  int missing = -1;
  for (int u = 0; st == VF_OK && u < p->n_units; u++) {
    stats->n_done += status[u] == 1, stats->n_failed += status[u] == 2;
    if (status[u] == 0 && missing < 0) missing = u;
  }
  if (st == VF_OK) st = io_results_summarise(res, &L, status);
  if (res) {
    vf_status cst = io_results_close(&res, st == VF_OK && missing < 0);
    if (st == VF_OK) st = cst;
  }
  if (st == VF_OK && missing >= 0) {
    char path[CFG_PATH_LEN + 32];
    int *shard = status; /* no longer needed: reused as scratch */
    sched_unit_shards(p, n_shards, shard);
    sched_shard_path(p->job->output, shard[missing], n_shards, path, sizeof path);
    st = vf_error(VF_E_INPUT, "%s: unit %d is not done there; rerun that shard (the "
                  "merged file is written but not marked complete)", path, missing);
  }
  vf_free(&status);
  sched_results_layout_free(&L);
  return st;
}
