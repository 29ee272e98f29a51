/* voxfit run: fit a job and print the per-ROI summary. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "voxfit/cli.h"
#include "voxfit/sched.h"

static const char *help =
    "usage: voxfit run JOB.yaml [--force] [--quiet]\n"
    "\n"
    "Fits ridge regression with per-voxel lambdas chosen by cross-validation\n"
    "for every (sweep point, subject, encoder variant) of the job, scores the\n"
    "test set, writes the job's results file (docs/results.md) and prints the\n"
    "mean test r per subject x variant x ROI.\n"
    "  --force   replace an output file that holds another job's results\n"
    "  --quiet   no progress lines\n"
    "Run it under MPI: mpirun -np N voxfit run JOB.yaml (units are shared\n"
    "among the ranks; results do not depend on N).\n"
    "Exit: 0 all units fine, 1 some failed, 2 usage/config/input error.\n";

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
  char full[PATH_MAX];
  printf("\nresults: %s%s\n", realpath(path, full) ? full : path,
         t->complete ? "" : " (incomplete)");
  io_results_table_destroy(&t);
}

int cli_run(int argc, char **argv) {
  const char *job = NULL;
  sched_run_opts opt = {0, 0};
  for (int i = 1; i < argc; i++) {
    if (cli_is_help(argv[i])) {
      cli_say(stdout, help);
      return CLI_EXIT_OK;
    } else if (!strcmp(argv[i], "--force")) opt.force = 1;
    else if (!strcmp(argv[i], "--quiet")) opt.quiet = 1;
    else if (argv[i][0] == '-' || job) {
      vf_error(VF_E_USAGE, "unexpected argument '%s' (voxfit run --help)", argv[i]);
      cli_print_error("run");
      return CLI_EXIT_INPUT;
    } else job = argv[i];
  }
  if (!job) {
    cli_say(stderr, "voxfit run: error: no job file given (voxfit run --help)\n");
    return CLI_EXIT_INPUT;
  }
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int threads = sched_set_blas_threads(MPI_COMM_WORLD);
  sched_plan *p = NULL;
  if (sched_plan_create(MPI_COMM_WORLD, job, &p) != VF_OK) {
    cli_print_error("run");
    return CLI_EXIT_INPUT;
  }
  if (rank == 0 && !opt.quiet)
    vf_log(VF_LOG_INFO, "job %s: %d units (%d sweep points x %d subjects x %d variants), "
           "%d ranks x %d BLAS threads", p->job->name, p->n_units, p->n_points,
           p->job->n_subjects, p->job->n_variants, size, threads);
  int failed = 0;
  vf_status st = sched_run(MPI_COMM_WORLD, p, &opt, &failed);
  char out[CFG_PATH_LEN];
  snprintf(out, sizeof out, "%s", p->job->output);
  sched_plan_destroy(&p);
  if (st != VF_OK) {
    cli_print_error("run");
    return st == VF_E_INPUT || st == VF_E_USAGE ? CLI_EXIT_INPUT : CLI_EXIT_INTERNAL;
  }
  if (rank == 0) print_summary(out);
  if (failed && rank == 0)
    fprintf(stderr, "voxfit run: %d unit(s) failed; see unit_error in %s\n", failed, out);
  return failed ? CLI_EXIT_UNITS_FAILED : CLI_EXIT_OK;
}
