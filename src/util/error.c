/* The error message and traceback of the current failing call chain. */
#include "voxfit/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static char msg_[1024];
static char trace_[2048];
static vf_status code_ = VF_OK;

vf_status vf_error(vf_status code, const char *fmt, ...) {
  /* Format into a copy first: callers may wrap the current message
   * (vf_error(st, "%s: %s", file, vf_error_message())). */
  char tmp[sizeof msg_];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  memcpy(msg_, tmp, sizeof msg_);
  trace_[0] = '\0';
  code_ = code;
  return code;
}

void vf_trace_push(const char *file, int line, const char *func) {
  size_t len = strlen(trace_);
  if (len + 8 >= sizeof trace_) return;
  const char *base = strrchr(file, '/');
  snprintf(trace_ + len, sizeof trace_ - len, "%s%s:%d:%s", len ? " <- " : "",
           base ? base + 1 : file, line, func);
}

const char *vf_error_message(void) { return msg_; }
const char *vf_error_trace(void) { return trace_; }
vf_status vf_error_code(void) { return code_; }

void vf_error_clear(void) {
  msg_[0] = '\0';
  trace_[0] = '\0';
  code_ = VF_OK;
}

const char *vf_status_name(vf_status st) {
  switch (st) {
    case VF_OK: return "ok";
    case VF_E_INPUT: return "input error";
    case VF_E_USAGE: return "usage error";
    case VF_E_NOMEM: return "out of memory";
    case VF_E_NUMERIC: return "numerical error";
    case VF_E_IO: return "I/O error";
    case VF_E_MPI: return "MPI error";
    case VF_E_INTERNAL: return "internal error";
    case VF_E_STOPPED: return "stopped";
  }
  return "unknown status";
}
