/* The master/worker messages (voxfit/proto.h). */
#include <signal.h>
#include <string.h>

#include "voxfit/proto.h"

static vf_status mpi_check(int err, const char *what) {
  if (err == MPI_SUCCESS) return VF_OK;
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(err, msg, &len);
  return vf_error(VF_E_MPI, "%s: %s", what, msg);
}

vf_status proto_send_order(MPI_Comm comm, int worker, int kind, int unit, int flags) {
  proto_order o = {kind, unit, flags};
  return mpi_check(MPI_Send(&o, sizeof o, MPI_BYTE, worker, PROTO_TAG_ORDER, comm),
                   "sending an order");
}

vf_status proto_recv_order(MPI_Comm comm, proto_order *o) {
  return mpi_check(MPI_Recv(o, sizeof *o, MPI_BYTE, 0, PROTO_TAG_ORDER, comm,
                            MPI_STATUS_IGNORE), "receiving an order");
}

/* Reports go out without blocking: the previous one (long delivered by
 * then) is completed first, so one buffer suffices. */
static proto_report out_report;
static MPI_Request out_req = MPI_REQUEST_NULL;

vf_status proto_send_report(MPI_Comm comm, const proto_report *r) {
  VF_CALL(mpi_check(MPI_Wait(&out_req, MPI_STATUS_IGNORE), "sending a report"));
  out_report = *r;
  return mpi_check(MPI_Isend(&out_report, sizeof out_report, MPI_BYTE, 0,
                             PROTO_TAG_REPORT, comm, &out_req), "sending a report");
}

vf_status proto_reports_flush(void) {
  return mpi_check(MPI_Wait(&out_req, MPI_STATUS_IGNORE), "sending a report");
}

vf_status proto_poll_report(MPI_Comm comm, proto_report *r, int *from, int *got) {
  MPI_Status s;
  *got = 0;
  VF_CALL(mpi_check(MPI_Iprobe(MPI_ANY_SOURCE, PROTO_TAG_REPORT, comm, got, &s),
                    "probing for reports"));
  if (!*got) return VF_OK;
  *from = s.MPI_SOURCE;
  return mpi_check(MPI_Recv(r, sizeof *r, MPI_BYTE, s.MPI_SOURCE, PROTO_TAG_REPORT,
                            comm, MPI_STATUS_IGNORE), "receiving a report");
}

static volatile sig_atomic_t caught = 0;

static void on_signal(int sig) { caught = sig; }

void proto_catch_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGUSR1, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
}

int proto_signalled(void) { return caught; }
