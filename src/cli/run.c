/* voxfit run: fit a job and print the per-ROI summary. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "voxfit/cli.h"
#include "voxfit/linalg.h"
#include "voxfit/sched.h"

static const char *help =
    "usage: voxfit run JOB.yaml [--force] [--quiet] [--shard I/N] [--config FILE]\n"
    "                  [--no-reuse]\n"
    "\n"
    "Fits ridge regression with per-voxel lambdas chosen by cross-validation\n"
    "for every (sweep point, subject, encoder variant) of the job, scores the\n"
    "test set, writes the job's results file (docs/results.md) and prints the\n"
    "mean test r per subject x variant x ROI.\n"
    "  --force        replace an output file that holds another job's results\n"
    "                 (or start afresh instead of resuming this job's)\n"
    "  --quiet        no progress lines\n"
    "  --shard I/N    run the I-th (1..N) of N disjoint shares of the units into\n"
    "                 OUTPUT-STEM.shard-I-of-N.nc (results.nc: results.shard-1-of-3.nc);\n"
    "                 voxfit collect merges them\n"
    "  --config FILE  site settings (default: $VOXFIT_CONFIG, else configs/voxfit.yaml)\n"
    "  --no-reuse     factorise for every unit (benchmarks only: results are the same)\n"
    "Run it under MPI: mpirun -np N voxfit run JOB.yaml. Rank 0 hands units to the\n"
    "others (with -np 1 it computes them itself); results do not depend on N\n"
    "(the same bits at a fixed VOXFIT_THREADS, else to rounding: README.md).\n"
    "Rerunning on an existing results file of the same job resumes it: units\n"
    "done are skipped. SIGTERM, SIGINT or SIGUSR1 stop the job cleanly after the\n"
    "units in progress, leaving a resumable file. One run at a time writes an\n"
    "output: a second is refused (exit 2) while OUTPUT.lock is held.\n"
    "Exit: 0 all units fine, 1 some failed, 2 usage/config/input error,\n"
    "3 stopped by a signal (rerun to resume), 4 internal error, 5 a file could\n"
    "not be written or read, or memory ran out (fix it and rerun to resume).\n";

static double table_at(const io_results_table *t, int w, int s, int v, int q) {
  return t->roi_mean_r[(((size_t)w * t->n_subjects + s) * t->n_variants + v) * t->n_rois + q];
}

static void print_header(const io_results_table *t, const char *first) {
  printf("%-10s %-16s", "subject", first);
  for (int q = 0; q < t->n_rois; q++) printf(" %7.7s", t->roi_names[q]);
  printf("\n");
}

static void print_pairs(const io_results_table *t, int w) {
  if (t->n_pairs == 0) return;
  printf("\npairs a - b: mean over subjects of the difference in ROI mean r, and how\n"
         "many subjects have a > b\n");
  printf("%-27s", "");
  for (int q = 0; q < t->n_rois; q++) printf(" %7.7s", t->roi_names[q]);
  printf("\n");
  for (int i = 0; i < t->n_pairs; i++) {
    int a = t->pairs[2 * i], b = t->pairs[2 * i + 1];
    printf("%s - %s\n%-27s", t->variant_ids[a], t->variant_ids[b], "  mean difference");
    for (int q = 0; q < t->n_rois; q++) {
      double sum = 0;
      int n = 0;
      for (int s = 0; s < t->n_subjects; s++) {
        double d = table_at(t, w, s, a, q) - table_at(t, w, s, b, q);
        if (!isnan(d)) sum += d, n++;
      }
      printf(" %+7.3f", n ? sum / n : NAN);
    }
    printf("\n%-27s", "  subjects a > b");
    for (int q = 0; q < t->n_rois; q++) {
      int n = 0, up = 0;
      for (int s = 0; s < t->n_subjects; s++) {
        double d = table_at(t, w, s, a, q) - table_at(t, w, s, b, q);
        if (!isnan(d)) n++, up += d > 0;
      }
      printf(" %4d/%-2d", up, n);
    }
    printf("\n");
  }
}

/* A subject whose every voxel was masked has nothing but NaN: said on
 * stderr, as validate calls it a problem (checked where its units ran). */
static void warn_all_masked(const io_results_table *t) {
  for (int s = 0; s < t->n_subjects; s++) {
    long nv = 0;
    for (long k = 0; k < t->n_vox; k++) nv += t->voxel_subject[k] == s;
    for (int w = 0; w < t->n_sweep && nv > 0; w++) {
      long masked = -1; /* masking does not depend on the variant: any that ran */
      for (int v = 0; v < t->n_variants && masked < 0; v++) {
        long m = 0;
        int ran = 1;
        for (int q = 0; q < t->n_rois; q++) {
          size_t i = (((size_t)w * t->n_subjects + s) * t->n_variants + v) * t->n_rois + q;
          ran &= t->status[i] == 1, m += t->roi_n_masked[i];
        }
        if (ran) masked = m;
      }
      if (masked < nv) continue;
      fprintf(stderr, "voxfit run: warning: subject %s: all %ld voxels are masked (NaN/Inf "
              "values, or constant over the training stimuli) at sweep point %s; its results "
              "are NaN (voxfit validate names the voxels)\n", t->subject_ids[s], nv,
              t->sweep_labels[w]);
      break;
    }
  }
}

static void print_summary(const char *path) {
  io_results_table *t = NULL;
  if (io_results_read_table(path, &t) != VF_OK) {
    cli_print_error("run");
    return;
  }
  for (int w = 0; w < t->n_sweep; w++) {
    printf("\nmean test r over each ROI's scoreable voxels (sweep point: %s)\n",
           t->sweep_labels[w]);
    print_header(t, "variant");
    for (int s = 0; s < t->n_subjects; s++)
      for (int v = 0; v < t->n_variants; v++) {
        printf("%-10.10s %-16.16s", t->subject_ids[s], t->variant_ids[v]);
        for (int q = 0; q < t->n_rois; q++) {
          size_t i = (((size_t)w * t->n_subjects + s) * t->n_variants + v) * t->n_rois + q;
          if (t->status[i] == 2) printf(" %7s", "FAILED");
          else printf(" %7.3f", t->roi_mean_r[i]);
        }
        printf("\n");
      }
    print_pairs(t, w);
  }
  fflush(stdout);
  warn_all_masked(t);
  char full[PATH_MAX];
  printf("\nresults: %s%s\n", realpath(path, full) ? full : path,
         t->complete ? "" : " (incomplete)");
  io_results_table_destroy(&t);
}

static int parse_shard(const char *s, sched_run_opts *o) {
  int i = 0, n = 0;
  char end = 0;
  if (sscanf(s, "%d/%d%c", &i, &n, &end) != 2 || n < 1 || i < 1 || i > n) return -1;
  o->shard = i - 1, o->n_shards = n;
  return 0;
}

static int parse_run(int argc, char **argv, sched_run_opts *o, const char **job,
                     const char **config) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int more = i + 1 < argc;
    if (cli_is_help(a)) return 1;
    if (!strcmp(a, "--force")) o->force = 1;
    else if (!strcmp(a, "--quiet")) o->quiet = 1;
    else if (!strcmp(a, "--no-reuse")) o->no_reuse = 1;
    else if (!strcmp(a, "--config") && more) *config = argv[++i];
    else if (!strcmp(a, "--shard") && more) {
      if (parse_shard(argv[++i], o))
        return vf_error(VF_E_USAGE, "--shard wants I/N with 1 <= I <= N, got '%s'", argv[i]), 2;
    } else if (a[0] == '-' || *job)
      return vf_error(VF_E_USAGE, "unexpected argument '%s' (voxfit run --help)", a), 2;
    else *job = a;
  }
  if (!*job) return vf_error(VF_E_USAGE, "no job file given (voxfit run --help)"), 2;
  return 0;
}

/* Collective: the largest peak RSS over the ranks, on rank 0. */
static void peak_memory(int rank, int quiet) {
  double mine = (double)vf_peak_rss(), top[2] = {0, 0}, in[2] = {mine, (double)rank};
  MPI_Reduce(in, top, 1, MPI_2DOUBLE_PRECISION, MPI_MAXLOC, 0, MPI_COMM_WORLD);
  if (rank == 0 && !quiet)
    printf("peak memory per rank: %.0f MiB (rank %d)\n", top[0] / 1048576.0, (int)top[1]);
}

static void report(const sched_plan *p, const sched_run_stats *s, const char *out, int rank) {
  if (rank != 0) return;
  if (s->stopped) {
    fprintf(stderr, "voxfit run: stopped by a signal after %d of %d units; rerun the same "
            "command to resume %s\n", s->n_done + s->n_failed, s->n_units, out);
    return;
  }
  print_summary(out);
  printf("units: %d run (%d done, %d failed), %d done before; %d factorisations for %d "
         "designs; %.1f s wall, %.1f s in units\n", s->n_units, s->n_done, s->n_failed,
         s->n_skipped, s->n_factorisations, p->n_designs, s->seconds, s->compute_seconds);
  if (p->team_size > 1) {
    char line[256];
    int size;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    sched_layout_describe(p, size, line, sizeof line);
    printf("teams: %s\n", line);
  }
  fflush(stdout); /* the summary's lines whole before any on stderr */
  vf_log(VF_LOG_DEBUG, "rank 0: %.2f s opening the results, %.2f s in flushes, %.2f s "
         "in ROI summaries and closing", s->setup_seconds, s->flush_seconds, s->finish_seconds);
  if (s->n_failed)
    fprintf(stderr, "voxfit run: %d unit(s) failed; see unit_error in %s\n", s->n_failed, out);
}

/* stats.group: the group stage ends a whole (unsharded) run. */
static int group_stage(const sched_plan *p, const sched_run_opts *o) {
  return p->job->stats.group && p->job->n_pairs > 0 && o->n_shards == 1;
}

/* The group stage's file is checked before the fit, not after hours of
 * it: one that is not a group file is replaced only with --force. */
static vf_status group_out_check(const sched_plan *p, const sched_run_opts *o, int rank) {
  vf_status st = VF_OK;
  if (group_stage(p, o) && rank == 0) {
    char g[CFG_PATH_LEN + 64];
    const char *in[1] = {o->output};
    cli_group_path(o->output, g, sizeof g);
    st = io_group_check_out(g, in, 1, o->force,
                            "move it away (stats.group writes the group file there), or set "
                            "stats.group: false in the job");
  }
  return sched_agree(MPI_COMM_WORLD, st);
}

/* The end of a run: the error (if any) printed, the plan freed, the
 * output's lock released; returns the exit code of st. */
static int run_end(sched_plan **p, io_lock **lock, vf_status st) {
  if (st != VF_OK) cli_print_error("run");
  sched_plan_destroy(p);
  io_lock_release(lock);
  return cli_exit_code(st);
}

int cli_run(int argc, char **argv) {
  const char *job = NULL, *config = NULL;
  sched_run_opts opt = {0, 0, 0, 1, NULL, 0};
  int r = parse_run(argc, argv, &opt, &job, &config);
  if (r == 1) {
    cli_say(stdout, help);
    return CLI_EXIT_OK;
  }
  if (r) {
    cli_print_error("run");
    return CLI_EXIT_INPUT;
  }
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int threads = sched_set_blas_threads(MPI_COMM_WORLD);
  cfg_site site;
  sched_plan *p = NULL;
  vf_status st = cfg_site_find(config, &site);
  if (st == VF_OK) st = sched_plan_create(MPI_COMM_WORLD, job, &site, &p);
  if (st != VF_OK) {
    cli_print_error("run");
    return cli_exit_code(st);
  }
  char out[CFG_PATH_LEN + 32];
  if (opt.n_shards > 1) sched_shard_path(p->job->output, opt.shard, opt.n_shards, out, sizeof out);
  else snprintf(out, sizeof out, "%s", p->job->output);
  opt.output = out;
  io_lock *lock = NULL;
  st = sched_output_check(MPI_COMM_WORLD, p->job, out);
  if (st == VF_OK) st = sched_agree(MPI_COMM_WORLD, rank == 0 ? io_lock_take(out, &lock) : VF_OK);
  if (st == VF_OK) st = group_out_check(p, &opt, rank);
  if (st != VF_OK) return run_end(&p, &lock, st);
  char blas[160];
  la_blas_describe(blas, sizeof blas);
  if (rank == 0 && !opt.quiet)
    vf_log(VF_LOG_INFO, "job %s: %d units (%d sweep points x %d subjects x %d variants, "
           "ROIs split at %ld voxels), %d designs; %d ranks x %d BLAS threads%s; %s",
           p->job->name, p->n_units, p->n_points, p->job->n_subjects, p->job->n_variants,
           site.block_voxels, p->n_designs, size, threads,
           size > 1 ? " (rank 0 schedules)" : "", blas);
  sched_run_stats stats;
  st = sched_run(MPI_COMM_WORLD, p, &opt, &stats);
  if (st != VF_OK) return run_end(&p, &lock, st);
  report(p, &stats, out, rank);
  peak_memory(rank, opt.quiet || stats.stopped);
  /* the group stage as the job's last step: a whole, unsharded run only */
  if (group_stage(p, &opt) && !stats.stopped && rank == 0 &&
      (st = cli_group_of(out, 0.95, opt.force)) != VF_OK)
    return run_end(&p, &lock, st);
  run_end(&p, &lock, VF_OK);
  if (stats.stopped) return CLI_EXIT_STOPPED;
  return stats.n_failed ? CLI_EXIT_UNITS_FAILED : CLI_EXIT_OK;
}
