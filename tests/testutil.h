/* A few macros for voxfit's C tests. A test file says on its first line how
 * many ranks it runs on ("ranks: 1" or "ranks: 1 2 4"); tests/run.sh reads
 * that. Failures are summed over ranks by tu_finish(). */
#ifndef VOXFIT_TESTUTIL_H
#define VOXFIT_TESTUTIL_H

#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tu_fails = 0, tu_checks = 0;

#define TU_CHECK(cond, ...)                                              \
  do {                                                                   \
    tu_checks++;                                                         \
    if (!(cond)) {                                                       \
      tu_fails++;                                                        \
      fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);    \
      fprintf(stderr, __VA_ARGS__);                                      \
      fprintf(stderr, "\n");                                             \
    }                                                                    \
  } while (0)

/* A voxfit call that must succeed. */
#define TU_OK(expr)                                                      \
  do {                                                                   \
    vf_status tu_st_ = (expr);                                           \
    TU_CHECK(tu_st_ == VF_OK, "%s -> %s: %s [%s]", #expr,                \
             vf_status_name(tu_st_), vf_error_message(), vf_error_trace()); \
  } while (0)

/* A call that must fail with code and a message containing substr. */
#define TU_FAILS_WITH(expr, code, substr)                                \
  do {                                                                   \
    vf_error_clear();                                                    \
    vf_status tu_st_ = (expr);                                           \
    TU_CHECK(tu_st_ == (code) && strstr(vf_error_message(), (substr)),   \
             "%s -> %s: '%s' (wanted '%s')", #expr, vf_status_name(tu_st_), \
             vf_error_message(), (substr));                              \
  } while (0)

static inline int tu_finish(const char *name) {
  int local[2] = {tu_fails, tu_checks}, total[2];
  MPI_Allreduce(local, total, 2, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (rank == 0)
    printf("%s %s (%d checks, %d failed, %d ranks)\n", total[0] ? "FAIL" : "PASS",
           name, total[1], total[0], size);
  MPI_Finalize();
  return total[0] ? 1 : 0;
}

static inline double tu_relerr(const double *a, const double *b, long n) {
  double num = 0, den = 0;
  for (long i = 0; i < n; i++) {
    num += (a[i] - b[i]) * (a[i] - b[i]);
    den += b[i] * b[i];
  }
  return sqrt(num) / (sqrt(den) > 0 ? sqrt(den) : 1.0);
}

#endif
