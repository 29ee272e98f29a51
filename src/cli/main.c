/* voxfit: the command line entry point. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "voxfit/cli.h"
#include "voxfit/io.h"
#include "voxfit/linalg.h"
#include "voxfit/proto.h"
#include "voxfit/util.h"

static const char *usage =
    "usage: voxfit <command> [options]\n"
    "\n"
    "commands:\n"
    "  run JOB.yaml       fit every (subject, variant) of a job; write the results file\n"
    "  plan JOB.yaml      print the units, their cost and memory, without fitting\n"
    "  validate JOB.yaml  open every input and report shapes and problems\n"
    "  collect JOB.yaml --shards N  merge the shard files of a sharded run\n"
    "  group RESULTS.nc   compare the declared pairs of variants across subjects\n"
    "  gen --preset NAME  write a synthetic study with planted ground truth\n"
    "\n"
    "options: --help (also after a command), --version\n"
    "exit codes: 0 every unit fine; 1 some units failed; 2 usage, config or\n"
    "input error; 3 stopped by a signal; 4 internal error; 5 a file could not\n"
    "be written or read, or memory ran out\n"
    "Run under MPI: mpirun -np N voxfit run JOB.yaml\n";

static const char *program_ = "voxfit";

void cli_set_program(const char *argv0) {
  program_ = argv0 && strchr(argv0, '/') ? argv0 : "voxfit";
}

const char *cli_program(void) { return program_; }

void cli_print_error(const char *context) {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank != 0) return;
  fprintf(stderr, "voxfit %s: error: %s\n", context, vf_error_message());
  if (vf_log_get_level() >= VF_LOG_DEBUG && vf_error_trace()[0])
    fprintf(stderr, "  at %s\n", vf_error_trace());
}

int cli_exit_code(vf_status st) {
  switch (st) {
  case VF_E_INPUT:
  case VF_E_USAGE: return CLI_EXIT_INPUT;
  case VF_E_STOPPED: return CLI_EXIT_STOPPED;
  case VF_E_IO:
  case VF_E_NOMEM: return CLI_EXIT_SYSTEM;
  default: return CLI_EXIT_INTERNAL;
  }
}

static int dispatch(int argc, char **argv, int rank) {
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    if (rank == 0) fputs(usage, argc < 2 ? stderr : stdout);
    return argc < 2 ? CLI_EXIT_INPUT : CLI_EXIT_OK;
  }
  if (!strcmp(argv[1], "--version")) {
    char blas[160];
    la_blas_describe(blas, sizeof blas);
    if (rank == 0) printf("voxfit %s\n%s\n", VF_VERSION, blas);
    return CLI_EXIT_OK;
  }
  struct { const char *name; int (*fn)(int, char **); } cmds[] = {
      {"run", cli_run}, {"plan", cli_plan}, {"validate", cli_validate}, {"gen", cli_gen},
      {"collect", cli_collect}, {"group", cli_group}};
  for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
    if (!strcmp(argv[1], cmds[i].name)) return cmds[i].fn(argc - 1, argv + 1);
  if (rank == 0)
    fprintf(stderr, "voxfit: unknown command '%s'; commands: run, plan, validate, gen, collect, group "
            "(voxfit --help)\n", argv[1]);
  return CLI_EXIT_INPUT;
}

int main(int argc, char **argv) {
  la_blas_setup(argv);
  vf_memory_setup();
  io_mpi_setup();
  /* run's stop signals are caught from the start: one that comes while MPI
   * starts or the plan is made stops the run before its first unit (exit
   * 3) instead of killing a rank by the default action */
  if (argc > 1 && !strcmp(argv[1], "run")) proto_catch_signals();
  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  vf_log_set_rank(size > 1 ? rank : -1);
  cli_set_program(argc > 0 ? argv[0] : NULL);
  const char *lvl = getenv("VOXFIT_LOG");
  if (lvl && !strcmp(lvl, "debug")) vf_log_set_level(VF_LOG_DEBUG);
  else if (lvl && !strcmp(lvl, "quiet")) vf_log_set_level(VF_LOG_WARN);
  else if (lvl && lvl[0] && strcmp(lvl, "info") && rank == 0)
    vf_log(VF_LOG_WARN, "VOXFIT_LOG='%s' is not one of debug, info, quiet; using the "
           "default (info)", lvl);
  int code = dispatch(argc, argv, rank);
  MPI_Finalize();
  return code;
}
