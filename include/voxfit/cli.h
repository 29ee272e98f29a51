/* The subcommands; each returns the process exit code:
 * 0 every unit fine, 1 some units failed, 2 usage/config/input error,
 * 3 stopped by a signal with a resumable results file, 4 internal error,
 * 5 the system failed us: a file could not be written or read (disk full,
 * permissions, file system) or memory ran out (see README). */
#ifndef VOXFIT_CLI_H
#define VOXFIT_CLI_H

enum { CLI_EXIT_OK = 0, CLI_EXIT_UNITS_FAILED = 1, CLI_EXIT_INPUT = 2,
       CLI_EXIT_STOPPED = 3, CLI_EXIT_INTERNAL = 4, CLI_EXIT_SYSTEM = 5 };

/* Each is called on every rank after MPI_Init, with argv[0] = subcommand. */
int cli_run(int argc, char **argv);
int cli_plan(int argc, char **argv);
int cli_validate(int argc, char **argv);
int cli_gen(int argc, char **argv);
int cli_collect(int argc, char **argv);
int cli_group(int argc, char **argv);

/* The group stage of one results file into "<results stem>.group.nc",
 * printing the table (rank 0 only: local). */
#include <stddef.h>
#include "voxfit/util.h"
void cli_group_path(const char *results, char *buf, size_t cap);
vf_status cli_group_of(const char *results, double level, int force);

/* The program as it was started (argv[0] when it names a path, else
 * "voxfit", found on PATH), for the commands a subcommand suggests. */
void cli_set_program(const char *argv0);
const char *cli_program(void);

/* Prints "voxfit: error: <msg>" (rank 0 only when all ranks share it). */
void cli_print_error(const char *context);

/* The exit code of a failed command's status (never CLI_EXIT_OK). */
int cli_exit_code(vf_status st);

#endif
