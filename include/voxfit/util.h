/* util (vf_): status codes, the check macros, logging, allocation, timing.
 * No MPI and no I/O beyond stderr. */
#ifndef VOXFIT_UTIL_H
#define VOXFIT_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define VF_VERSION "0.1.0"

/* Every fallible function returns one of these. VF_OK is 0 so that
 * "if (st)" reads as "if it failed". */
typedef enum {
  VF_OK = 0,
  VF_E_INPUT,    /* bad configuration or input data: exit code 2 */
  VF_E_USAGE,    /* bad command line: exit code 2 */
  VF_E_NOMEM,    /* allocation failed */
  VF_E_NUMERIC,  /* a factorisation failed, a result is not finite */
  VF_E_IO,       /* a file could not be written or read back */
  VF_E_MPI,      /* an MPI call failed */
  VF_E_INTERNAL, /* a bug: an invariant did not hold */
  VF_E_STOPPED   /* a signal asked the job to stop: not an error of the unit */
} vf_status;

/* The first error of a failing call chain sets a message with vf_error();
 * every VF_CALL on the way back up appends file:line:function. The message
 * and trace are per process (voxfit is single-threaded apart from BLAS). */
vf_status vf_error(vf_status code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void vf_trace_push(const char *file, int line, const char *func);
const char *vf_error_message(void); /* "" when none */
const char *vf_error_trace(void);   /* "a.c:12:f <- b.c:40:g" */
vf_status vf_error_code(void);
void vf_error_clear(void);
const char *vf_status_name(vf_status st);

/* Return on failure, recording where. */
#define VF_CALL(expr)                                       \
  do {                                                      \
    vf_status vf_st_ = (expr);                              \
    if (vf_st_ != VF_OK) {                                  \
      vf_trace_push(__FILE__, __LINE__, __func__);          \
      return vf_st_;                                        \
    }                                                       \
  } while (0)

/* Jump to the function's single "fail:" block on failure; the function
 * declares "vf_status st = VF_OK;" and returns st after the block. */
#define VF_TRY(expr)                                        \
  do {                                                      \
    st = (expr);                                            \
    if (st != VF_OK) {                                      \
      vf_trace_push(__FILE__, __LINE__, __func__);          \
      goto fail;                                            \
    }                                                       \
  } while (0)

/* Fail with a message, then jump to fail:. */
#define VF_FAIL(code, ...)                                  \
  do {                                                      \
    st = vf_error((code), __VA_ARGS__);                     \
    vf_trace_push(__FILE__, __LINE__, __func__);            \
    goto fail;                                              \
  } while (0)

/* Logging: one line per call to stderr, prefixed "voxfit[rank]". */
typedef enum { VF_LOG_ERROR, VF_LOG_WARN, VF_LOG_INFO, VF_LOG_DEBUG } vf_log_level;
void vf_log_set_rank(int rank);
void vf_log_set_level(vf_log_level lvl);
vf_log_level vf_log_get_level(void);
void vf_log(vf_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The environment variable `name` as a number in [lo, hi] (a whole
 * number when integral). Unset or empty: def. Any other value (not a
 * number, out of range) also gives def, after one warning line naming the
 * variable, the value, what is accepted (`accepted`, e.g. "a whole number
 * from 1 to 4096") and the default used (`fallback`, e.g. "10 s"); the
 * warning comes from rank 0 only (vf_log_set_rank; a run of one rank has
 * -1), so read it on every rank alike. Read it once per run, not per use. */
double vf_env_number(const char *name, double lo, double hi, int integral, double def,
                     const char *accepted, const char *fallback);

/* 64-byte aligned, zeroed allocation of n elements of size sz; fails with
 * VF_E_NOMEM naming what (a short noun) and the size. Free with vf_free. */
vf_status vf_calloc(size_t n, size_t sz, const char *what, void *out_ptr);
void vf_free(void *ptr_to_ptr); /* frees *(void**)p and sets it to NULL */

/* Called once at the start of a program: buffers of 1 MiB and more are
 * mapped on their own and returned to the system when freed. glibc's
 * default raises that threshold after each such free, so a fit's next
 * buffers come from the heap, whose freed holes stay resident (the
 * medium benchmark fit peaked 51 MiB higher, 910 against 859 MiB). */
void vf_memory_setup(void);

/* Monotonic wall time in seconds. */
double vf_now(void);
/* Peak resident set size of this process in bytes (0 when unknown). */
size_t vf_peak_rss(void);

/* Deterministic random numbers (xoshiro256**, seeded by splitmix64). */
typedef struct { uint64_t s[4]; } vf_rng;
void vf_rng_seed(vf_rng *r, uint64_t seed, uint64_t stream);
uint64_t vf_rng_u64(vf_rng *r);
double vf_rng_uniform(vf_rng *r); /* [0, 1) */
double vf_rng_normal(vf_rng *r);  /* standard normal (Box-Muller) */

/* FNV-1a 64-bit hash of a byte string, as 16 hex digits + NUL. */
void vf_hash_hex(const void *data, size_t n, char out[17]);

/* The last VF_SEEN_MAX distinct strings met (by hash): repeats of one
 * message are told once. Zero-initialise; no destroy. */
#define VF_SEEN_MAX 64
typedef struct {
  uint64_t h[VF_SEEN_MAX];
  int n;
} vf_seen;
/* 1 the first time msg is met (it is then remembered), else 0. */
int vf_seen_first(vf_seen *s, const char *msg);

/* The folder part of path ("." for a bare file name, "/" for a file in
 * the root) into dir. */
void vf_folder_of(const char *path, char *dir, size_t size);

/* Levenshtein distance, for "did you mean" suggestions. */
int vf_edit_distance(const char *a, const char *b);

#endif
