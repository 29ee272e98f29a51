/* Shared argument handling of the subcommands. */
#ifndef VOXFIT_CLI_ARGS_H
#define VOXFIT_CLI_ARGS_H

#include <errno.h>
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "voxfit/util.h"

/* Prints text on rank 0 only. */
static inline void cli_say(FILE *f, const char *text) {
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank == 0) fputs(text, f);
}

static inline int cli_is_help(const char *a) {
  return !strcmp(a, "--help") || !strcmp(a, "-h");
}

/* The value of the option opt of voxfit cmd: the whole string s a number
 * (an integer when whole) in [lo, hi]; else 2, with a usage error saying
 * what was expected (what: "a positive integer", ...). A trailing "x", an
 * exponent for a count ("1e2") or an empty string is refused, not read
 * as far as it goes. */
static inline int cli_number(const char *cmd, const char *opt, const char *s, int whole,
                             double lo, double hi, const char *what, double *v) {
  char *end = NULL;
  errno = 0;
  *v = whole ? (double)strtol(s, &end, 10) : strtod(s, &end);
  if (end == s || *end || errno || !(*v >= lo && *v <= hi))
    return vf_error(VF_E_USAGE, "%s '%s': expected %s (voxfit %s --help)", opt, s, what, cmd),
           2;
  return 0;
}

/* A seed: a decimal integer in [0, 2^64). */
static inline int cli_seed(const char *cmd, const char *opt, const char *s, uint64_t *v) {
  char *end = NULL;
  errno = 0;
  unsigned long long x = strtoull(s, &end, 10);
  if (end == s || *end || errno || strchr(s, '-'))
    return vf_error(VF_E_USAGE, "%s '%s': expected an integer from 0 to 2^64 - 1 "
                    "(voxfit %s --help)", opt, s, cmd), 2;
  *v = (uint64_t)x;
  return 0;
}

#endif
