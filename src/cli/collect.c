/* voxfit collect: merge the shard files of a sharded run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "voxfit/cli.h"
#include "voxfit/io.h"
#include "voxfit/sched.h"

static const char *help =
    "usage: voxfit collect JOB.yaml --shards N [--force] [--config FILE]\n"
    "\n"
    "Merges STEM.shard-1-of-N.nc ... STEM.shard-N-of-N.nc (STEM: the output's\n"
    "name without .nc), written by\n"
    "`voxfit run JOB.yaml --shard I/N`, into the job's output file, with the\n"
    "same contents as an unsharded run, and prints its summary. Use the same\n"
    "site config as the shards (the units must match). A shard with units not\n"
    "done is named (exit 2; the merged file is written, not marked complete);\n"
    "rerun it and collect again.\n"
    "  --force   replace an output file that holds another job's results\n";

int cli_collect(int argc, char **argv) {
  const char *job = NULL, *config = NULL;
  int n = 0, force = 0;
  for (int i = 1; i < argc; i++) {
    int more = i + 1 < argc;
    if (cli_is_help(argv[i])) {
      cli_say(stdout, help);
      return CLI_EXIT_OK;
    } else if (!strcmp(argv[i], "--shards") && more) {
      double v;
      if (cli_number("collect", "--shards", argv[++i], 1, 1, 1000000, "a positive integer",
                     &v)) {
        cli_print_error("collect");
        return CLI_EXIT_INPUT;
      }
      n = (int)v;
    } else if (!strcmp(argv[i], "--config") && more) config = argv[++i];
    else if (!strcmp(argv[i], "--force")) force = 1;
    else if (argv[i][0] != '-' && !job) job = argv[i];
    else {
      vf_error(VF_E_USAGE, "unexpected argument '%s' (voxfit collect --help)", argv[i]);
      cli_print_error("collect");
      return CLI_EXIT_INPUT;
    }
  }
  if (!job || n < 1) {
    vf_error(VF_E_USAGE, "%s (voxfit collect --help)",
             job ? "--shards N (N >= 1) is required" : "no job file given");
    cli_print_error("collect");
    return CLI_EXIT_INPUT;
  }
  cfg_site site;
  sched_plan *p = NULL;
  sched_run_stats s;
  vf_status st = cfg_site_find(config, &site);
  if (st == VF_OK) st = sched_plan_create(MPI_COMM_WORLD, job, &site, &p);
  if (st == VF_OK) st = sched_output_check(MPI_COMM_WORLD, p->job, p->job->output);
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  /* The output's lock, as a run takes it: a collect must not rewrite a
   * file that a run (or another collect) is writing. */
  io_lock *lock = NULL;
  if (st == VF_OK)
    st = sched_agree(MPI_COMM_WORLD, rank == 0 ? io_lock_take(p->job->output, &lock) : VF_OK);
  if (st == VF_OK) st = sched_collect(MPI_COMM_WORLD, p, n, force, &s);
  if (st != VF_OK) {
    cli_print_error("collect");
    sched_plan_destroy(&p);
    io_lock_release(&lock);
    return cli_exit_code(st);
  }
  io_lock_release(&lock);
  if (rank == 0)
    printf("collected %d units (%d failed) from %d shards into %s\n", s.n_done + s.n_failed,
           s.n_failed, n, p->job->output);
  sched_plan_destroy(&p);
  return s.n_failed ? CLI_EXIT_UNITS_FAILED : CLI_EXIT_OK;
}
