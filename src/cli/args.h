/* Shared argument handling of the subcommands. */
#ifndef VOXFIT_CLI_ARGS_H
#define VOXFIT_CLI_ARGS_H

#include <mpi.h>
#include <stdio.h>
#include <string.h>

/* Prints text on rank 0 only. */
static inline void cli_say(FILE *f, const char *text) {
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank == 0) fputs(text, f);
}

static inline int cli_is_help(const char *a) {
  return !strcmp(a, "--help") || !strcmp(a, "-h");
}

#endif
