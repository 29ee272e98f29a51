/* proto (proto_): the master/worker protocol, all of it. Fixed-size
 * messages on two tags of the job's communicator:
 *
 *   master -> worker, PROTO_TAG_ORDER:  proto_order
 *     UNIT u   fit unit u (orders queue up: a worker holds up to the
 *              site's prefetch units, so it never waits on the master);
 *              flags SCHED_PUBLISH: write the factorisation it builds for
 *              the others; SCHED_LOAD: read the one another published
 *     FLUSH    write the finished units collectively (every rank joins)
 *     STOP     write the finished units collectively, then leave the loop
 *   worker -> master, PROTO_TAG_REPORT: proto_report
 *     DONE u   after each UNIT order, with the unit's status (1 done,
 *              2 failed, 0 not run: the worker hit a fatal error before)
 *              and whether it built and published its factorisation
 *     FATAL    the worker cannot go on (a broken invariant); the master
 *              stops handing out work and ends the job
 *
 * Collective steps happen only after FLUSH or STOP, which the master sends
 * to every worker before joining the collective write itself, so every
 * rank enters each collective the same number of times. */
#ifndef VOXFIT_PROTO_H
#define VOXFIT_PROTO_H

#include <mpi.h>

#include "voxfit/util.h"

enum { PROTO_TAG_ORDER = 4101, PROTO_TAG_REPORT = 4102 };
typedef enum { PROTO_UNIT = 1, PROTO_FLUSH = 2, PROTO_STOP = 3 } proto_order_kind;
typedef enum { PROTO_DONE = 1, PROTO_FATAL = 2 } proto_report_kind;

typedef struct {
  int kind;  /* proto_order_kind */
  int unit;  /* PROTO_UNIT: the unit's index in the plan */
  int flags; /* PROTO_UNIT: SCHED_PUBLISH | SCHED_LOAD */
} proto_order;

typedef struct {
  int kind;         /* proto_report_kind */
  int unit;
  int status;       /* 1 done, 2 failed, 0 not run */
  int factorised;   /* this unit computed its design's factorisation */
  int published;    /* ... and wrote it where the others can load it */
  int signalled;    /* the worker received SIGTERM/SIGUSR1/SIGINT */
  double seconds;   /* the unit's wall time */
  double pending;   /* bytes of finished units waiting for a flush */
  char error[256];  /* FATAL: why */
} proto_report;

vf_status proto_send_order(MPI_Comm comm, int worker, int kind, int unit, int flags);
vf_status proto_recv_order(MPI_Comm comm, proto_order *o);
/* Nonblocking (a blocking send of even a small report was measured to wait
 * about 1 ms for the master each time); the previous report is completed
 * first. A worker calls proto_reports_flush before it leaves. */
vf_status proto_send_report(MPI_Comm comm, const proto_report *r);
vf_status proto_reports_flush(void);
/* Master: a report if one has arrived (*got = 1), without blocking. */
vf_status proto_poll_report(MPI_Comm comm, proto_report *r, int *from, int *got);

/* Signals: SIGTERM, SIGUSR1 and SIGINT set a flag instead of killing; the
 * job then stops cleanly (exit code 3). */
void proto_catch_signals(void);
int proto_signalled(void);

#endif
