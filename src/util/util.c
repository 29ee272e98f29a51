/* Logging, allocation, timing, random numbers, hashing. */
#include "voxfit/util.h"

#include <malloc.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static int log_rank_ = -1;
static vf_log_level log_level_ = VF_LOG_INFO;

void vf_log_set_rank(int rank) { log_rank_ = rank; }
void vf_log_set_level(vf_log_level lvl) { log_level_ = lvl; }
vf_log_level vf_log_get_level(void) { return log_level_; }

void vf_log(vf_log_level lvl, const char *fmt, ...) {
  static const char *names[] = {"error", "warning", "info", "debug"};
  if (lvl > log_level_) return;
  char line[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (log_rank_ >= 0)
    fprintf(stderr, "voxfit[%d] %s: %s\n", log_rank_, names[lvl], line);
  else
    fprintf(stderr, "voxfit: %s: %s\n", names[lvl], line);
}

double vf_env_number(const char *name, double lo, double hi, int integral, double def,
                     const char *accepted, const char *fallback) {
  const char *s = getenv(name);
  if (!s || !s[0]) return def;
  char *end;
  double v = strtod(s, &end);
  int good = end != s && *end == '\0' && isfinite(v) && v >= lo && v <= hi &&
             (!integral || v == floor(v));
  if (integral && good) /* digits only: no 1e3, 0x10 or 2.0 for a count */
    for (const char *c = s + (s[0] == '+'); *c && good; c++) good = *c >= '0' && *c <= '9';
  if (good) return v;
  if (log_rank_ <= 0)
    vf_log(VF_LOG_WARN, "%s='%s' is not %s; using the default (%s)", name, s, accepted,
           fallback);
  return def;
}

vf_status vf_calloc(size_t n, size_t sz, const char *what, void *out_ptr) {
  void **out = (void **)out_ptr;
  *out = NULL;
  if (n == 0 || sz == 0) n = 1, sz = 1;
  if (n > SIZE_MAX / sz)
    return vf_error(VF_E_NOMEM, "%s: %zu x %zu bytes overflows", what, n, sz);
  size_t bytes = n * sz;
  size_t padded = (bytes + 63) / 64 * 64;
  void *p = aligned_alloc(64, padded);
  if (!p)
    return vf_error(VF_E_NOMEM, "cannot allocate %.1f MiB for %s",
                    bytes / 1048576.0, what);
  memset(p, 0, padded);
  *out = p;
  return VF_OK;
}

void vf_free(void *ptr_to_ptr) {
  void **p = (void **)ptr_to_ptr;
  if (!p) return;
  free(*p);
  *p = NULL;
}

double vf_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

void vf_memory_setup(void) {
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  mallopt(M_TRIM_THRESHOLD, 4 << 20);
}

size_t vf_peak_rss(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
  return (size_t)ru.ru_maxrss * 1024; /* Linux reports KiB */
}

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

void vf_rng_seed(vf_rng *r, uint64_t seed, uint64_t stream) {
  uint64_t x = seed ^ (stream * 0xD1B54A32D192ED03ULL);
  for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t vf_rng_u64(vf_rng *r) {
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

double vf_rng_uniform(vf_rng *r) { return (vf_rng_u64(r) >> 11) * 0x1.0p-53; }

double vf_rng_normal(vf_rng *r) {
  double u1 = vf_rng_uniform(r), u2 = vf_rng_uniform(r);
  if (u1 < 1e-300) u1 = 1e-300;
  return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

static uint64_t fnv1a(const void *data, size_t n) {
  const unsigned char *p = data;
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}

void vf_hash_hex(const void *data, size_t n, char out[17]) {
  snprintf(out, 17, "%016llx", (unsigned long long)fnv1a(data, n));
}

int vf_seen_first(vf_seen *s, const char *msg) {
  uint64_t h = fnv1a(msg, strlen(msg));
  for (int i = 0; i < s->n && i < VF_SEEN_MAX; i++)
    if (s->h[i] == h) return 0;
  s->h[s->n++ % VF_SEEN_MAX] = h;
  if (s->n == 2 * VF_SEEN_MAX) s->n = VF_SEEN_MAX; /* no overflow on long runs */
  return 1;
}

void vf_folder_of(const char *path, char *dir, size_t size) {
  const char *slash = strrchr(path, '/');
  if (!slash) snprintf(dir, size, ".");
  else if (slash == path) snprintf(dir, size, "/");
  else snprintf(dir, size, "%.*s", (int)(slash - path), path);
}

int vf_edit_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 63 || lb > 63) return 99;
  int prev[64], cur[64];
  for (size_t j = 0; j <= lb; j++) prev[j] = (int)j;
  for (size_t i = 1; i <= la; i++) {
    cur[0] = (int)i;
    for (size_t j = 1; j <= lb; j++) {
      int sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
      int del = prev[j] + 1, ins = cur[j - 1] + 1;
      cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
    }
    memcpy(prev, cur, sizeof(int) * (lb + 1));
  }
  return prev[lb];
}
