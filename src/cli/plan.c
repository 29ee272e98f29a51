/* voxfit plan: the units of a job, their cost and memory, without fitting. */
#include <math.h>
#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "voxfit/cli.h"
#include "voxfit/io.h"
#include "voxfit/sched.h"

static const char *help =
    "usage: voxfit plan JOB.yaml [--ranks N] [--config FILE] [--gflops G]\n"
    "                   [--mem-per-rank GiB] [--units] [--slurm]\n"
    "\n"
    "Opens the inputs' metadata and prints the job's units (sweep point x\n"
    "subject x variant x ROI block), the designs (factorisations) they share,\n"
    "their total flops and input bytes, the largest unit's working memory, the\n"
    "size of the results file (and, when it exists, its units done and what\n"
    "voxfit run would do with it) and an estimated wall time on N ranks (rank 0\n"
    "schedules when N > 1) at G GFLOP/s per rank. G, the memory per rank and the\n"
    "block size come from the site config (--config FILE, $VOXFIT_CONFIG, else\n"
    "configs/voxfit.yaml); --gflops and --mem-per-rank override it.\n"
    "Refuses (exit 2) a job whose largest unit needs more than the memory per rank.\n"
    "  --units   list every unit\n"
    "  --slurm   suggest sbatch options for slurm/run.sbatch on N ranks: --ntasks,\n"
    "            --nodes (at this machine's cores per node), --time (the estimate\n"
    "            x 1.5 + 15 min, room for the stop signal) and --mem-per-cpu\n"
    "            (the largest unit's memory + 20%)\n";

#define UNSET (-1e300)
typedef struct {
  int ranks, list, slurm;
  double gflops, mem_gib; /* UNSET: the site's */
  const char *job, *config;
} plan_args;

/* The value of option opt: a positive number (an integer when whole). */
static int positive(const char *opt, const char *s, int whole, double *v) {
  return cli_number("plan", opt, s, whole, whole ? 1 : 1e-300, whole ? 1e6 : 1e300,
                    whole ? "a positive integer" : "a positive number", v);
}

static int parse(int argc, char **argv, plan_args *a) {
  *a = (plan_args){1, 0, 0, UNSET, UNSET, NULL, NULL};
  for (int i = 1; i < argc; i++) {
    const char *s = argv[i];
    int more = i + 1 < argc;
    if (cli_is_help(s)) return 1;
    if (!strcmp(s, "--units")) a->list = 1;
    else if (!strcmp(s, "--slurm")) a->slurm = 1;
    else if (!strcmp(s, "--ranks") && more) {
      double v;
      if (positive(s, argv[++i], 1, &v)) return 2;
      a->ranks = (int)v;
    } else if (!strcmp(s, "--gflops") && more) {
      if (positive(s, argv[++i], 0, &a->gflops)) return 2;
    } else if (!strcmp(s, "--mem-per-rank") && more) {
      if (positive(s, argv[++i], 0, &a->mem_gib)) return 2;
    }
    else if (!strcmp(s, "--config") && more) a->config = argv[++i];
    else if (s[0] != '-' && !a->job) a->job = s;
    else return vf_error(VF_E_USAGE, "unexpected argument '%s' (voxfit plan --help)", s), 2;
  }
  if (!a->job) return vf_error(VF_E_USAGE, "no job file given (voxfit plan --help)"), 2;
  return 0;
}

/* The results file's size from the layout the run will write, or -1. */
static double output_bytes(const sched_plan *p) {
  io_results_layout L;
  if (sched_results_layout(p, &L) != VF_OK) return -1;
  double b = io_results_bytes(&L);
  sched_results_layout_free(&L);
  return b;
}

/* What voxfit run would do with an output that exists already. */
static void output_state(const sched_plan *p) {
  io_results_state s;
  const char *out = p->job->output;
  if (io_results_state_read(out, p->job->hash, &s) != VF_OK) {
    printf("  it exists, and voxfit run refuses it unless --force: %s\n", vf_error_message());
    vf_error_clear();
  } else if (s.exists && s.complete) {
    printf("  it exists, complete (%ld of %ld units done, %ld failed): voxfit run redoes "
           "only failed units; --force starts afresh\n", s.done, s.units, s.failed);
  } else if (s.exists) {
    printf("  it exists, this job's, incomplete: %ld of %ld units done, %ld failed; voxfit "
           "run resumes it (--force starts afresh)\n", s.done, s.units, s.failed);
  }
}

/* sbatch options for slurm/run.sbatch from the cost model. */
static void suggest_slurm(const sched_plan *p, const plan_args *a, double wall, double mem) {
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  long nodes = (a->ranks + cores - 1) / cores;
  long secs = (long)ceil(wall * 1.5) + 900, mins = (secs + 59) / 60;
  long mb = (long)ceil(mem * 1.2 / 1048576.0) + 64;
  printf("\n  suggested (%ld cores per node, as on this machine):\n"
         "  sbatch --ntasks=%d --nodes=%ld --time=%ld:%02ld:00 --mem-per-cpu=%ldM "
         "slurm/run.sbatch %s\n", cores, a->ranks, nodes, mins / 60, mins % 60, mb,
         p->job->path);
  if (a->ranks < 2)
    printf("  (with --ranks 1 there is no master; give --ranks N for N - 1 workers)\n");
}

/* The largest one-rank memory of a unit that runs on a team. */
static double team_one(const sched_plan *p) {
  double m = 0;
  for (int i = 0; i < p->n_units; i++)
    if (p->units[i].team > 1 && p->units[i].mem > m) m = p->units[i].mem;
  return m;
}

/* Teams, and the largest per-rank memory of a team unit. */
static void report_teams(const sched_plan *p, const plan_args *a) {
  char line[256];
  double mem = 0;
  sched_layout_describe(p, a->ranks, line, sizeof line);
  printf("  teams: %s\n", line);
  for (int i = 0; i < p->n_units; i++)
    if (p->units[i].team > 1 && p->units[i].mem_rank > mem) mem = p->units[i].mem_rank;
  if (p->team_size > 1)
    printf("  team units: working memory up to %.3g GiB per rank on teams of %d (%.3g GiB on "
           "one rank)\n", mem / 1073741824.0, p->team_size, team_one(p) / 1073741824.0);
}

static void report(const sched_plan *p, const plan_args *a, int teams_ok) {
  double flops = 0, bytes = 0, mem = 0, top = 0;
  for (int i = 0; i < p->n_units; i++) {
    const sched_unit *u = &p->units[i];
    flops += u->flops, bytes += u->bytes_in;
    if (teams_ok && u->mem_rank > mem) mem = u->mem_rank;
    if (!teams_ok && u->mem > mem) mem = u->mem;
    if (u->flops > top) top = u->flops;
  }
  printf("job %s (%s)\n", p->job->name, p->job->path);
  double fact = 0;
  for (int d = 0; d < p->n_designs; d++) fact += p->designs[d].flops;
  printf("  %d units = %d sweep points x %d subjects x %d variants x ROI blocks (%d ROIs, "
         "split at %ld voxels); %ld voxels\n", p->n_units, p->n_points, p->job->n_subjects,
         p->job->n_variants, p->n_rois, p->site.block_voxels, p->sub_vox0[p->job->n_subjects]);
  printf("  %d designs (one factorisation each, %.3g flop in all) shared by the units\n",
         p->n_designs, fact);
  flops += fact;
  printf("  total %.3g flop, %.3g GB read from the inputs\n", flops, bytes / 1e9);
  printf("  largest unit %.3g flop, working memory %.3g GiB per rank (limit %.3g GiB)\n",
         top, mem / 1073741824.0, a->mem_gib);
  printf("  results file %s: about %.1f MB\n", p->job->output, output_bytes(p) / 1e6);
  if (p->job->n_pairs > 0)
    printf("  pairs: %d, compared across subjects by voxfit group\n", p->job->n_pairs);
  else
    printf("  pairs: none (voxfit group needs pairs: [[VARIANT_A, VARIANT_B]] in the job)\n");
  output_state(p);
  if (teams_ok) report_teams(p, a);
  int workers = a->ranks > 1 ? a->ranks - 1 : 1;
  double per_rank = flops / workers, wall = per_rank / (a->gflops * 1e9);
  if (top / (a->gflops * 1e9) > wall) wall = top / (a->gflops * 1e9);
  printf("  estimated wall time on %d rank(s) (%d computing) at %.3g GFLOP/s each: %.3g s\n",
         a->ranks, workers, a->gflops, wall);
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  if (cores > 0 && a->ranks > cores) /* the estimate gives each rank a core */
    printf("  (run here, %d ranks would share this machine's %ld cores: about %.3g s)\n",
           a->ranks, cores, wall * a->ranks / cores);
  if (a->slurm) suggest_slurm(p, a, wall, mem);
  if (!a->list) return;
  if (p->job->n_sweep > 0) printf("\n  sweep points (sweep_label in the results):\n");
  for (int i = 0; p->job->n_sweep > 0 && i < p->n_points; i++)
    printf("  %-5d %s\n", i, p->points[i].label);
  printf("\n  %-5s %-24s %-10s %-16s %-8s %8s %7s %10s %10s %10s %5s\n", "unit", "sweep",
         "subject", "variant", "roi", "voxels", "design", "Gflop", "MB in", "MiB/rank",
         "ranks");
  for (int i = 0; i < p->n_units; i++) {
    const sched_unit *u = &p->units[i];
    printf("  %-5d %-24.24s %-10.10s %-16.16s %-8.8s %8ld %7d %10.3f %10.2f %10.1f %5d\n", i,
           p->points[u->sweep].label, p->job->subjects[u->subject].id,
           p->job->variants[u->variant].id, u->roi >= 0 ? p->roi_names[u->roi] : "(all)",
           u->n_vox, u->design, u->flops / 1e9, u->bytes_in / 1e6, u->mem_rank / 1048576.0,
           u->team);
  }
}

int cli_plan(int argc, char **argv) {
  plan_args a;
  int r = parse(argc, argv, &a);
  if (r == 1) {
    cli_say(stdout, help);
    return CLI_EXIT_OK;
  }
  if (r) {
    cli_print_error("plan");
    return CLI_EXIT_INPUT;
  }
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  sched_plan *p = NULL;
  cfg_site site;
  vf_status st = cfg_site_find(a.config, &site);
  if (a.gflops != UNSET) site.gflops_per_rank = a.gflops;
  if (a.mem_gib != UNSET) site.mem_per_rank_gib = a.mem_gib;
  a.gflops = site.gflops_per_rank, a.mem_gib = site.mem_per_rank_gib;
  if (st == VF_OK) st = sched_plan_create(MPI_COMM_WORLD, a.job, &site, &p);
  if (st == VF_OK) st = sched_output_check(MPI_COMM_WORLD, p->job, p->job->output);
  if (st != VF_OK) {
    cli_print_error("plan");
    sched_plan_destroy(&p);
    return cli_exit_code(st);
  }
  st = sched_plan_teams(p, a.ranks);
  if (rank == 0) report(p, &a, st == VF_OK);
  int code = CLI_EXIT_OK;
  if (st != VF_OK) {
    cli_print_error("plan");
    code = CLI_EXIT_INPUT;
  }
  sched_plan_destroy(&p);
  return code;
}
