/* ranks: 1 */
/* The util module's pure helpers: the FNV-1a hash against published
 * values, the repeated-message filter (vf_seen) that validate and the
 * unit runner share, the edit distance behind "did you mean", the folder
 * of a path, and the random numbers' range and reproducibility. */
#include "voxfit/util.h"

#include "testutil.h"

static void test_hash(void) {
  char h[17];
  vf_hash_hex("", 0, h); /* FNV-1a 64 offset basis */
  TU_CHECK(!strcmp(h, "cbf29ce484222325"), "hash of '' %s", h);
  vf_hash_hex("a", 1, h);
  TU_CHECK(!strcmp(h, "af63dc4c8601ec8c"), "hash of 'a' %s", h);
  vf_hash_hex("foobar", 6, h);
  TU_CHECK(!strcmp(h, "85944171f73967e8"), "hash of 'foobar' %s", h);
}

static void test_seen(void) {
  vf_seen s = {0};
  char msg[32];
  TU_CHECK(vf_seen_first(&s, "bad file x.nc"), "a new message");
  TU_CHECK(!vf_seen_first(&s, "bad file x.nc"), "the same message again");
  TU_CHECK(vf_seen_first(&s, "bad file y.nc"), "another message");
  /* VF_SEEN_MAX others push the first out: it is told again. */
  for (int i = 0; i < VF_SEEN_MAX; i++) {
    snprintf(msg, sizeof msg, "message %d", i);
    TU_CHECK(vf_seen_first(&s, msg), "%s is new", msg);
  }
  TU_CHECK(vf_seen_first(&s, "bad file x.nc"), "forgotten after %d others", VF_SEEN_MAX);
  /* Many distinct messages keep the count bounded and recent ones known. */
  for (int i = 0; i < 10 * VF_SEEN_MAX; i++) {
    snprintf(msg, sizeof msg, "long run %d", i);
    vf_seen_first(&s, msg);
  }
  TU_CHECK(s.n >= 0 && s.n < 2 * VF_SEEN_MAX, "count %d", s.n);
  snprintf(msg, sizeof msg, "long run %d", 10 * VF_SEEN_MAX - 1);
  TU_CHECK(!vf_seen_first(&s, msg), "the newest is remembered");
}

static void test_edit_distance(void) {
  TU_CHECK(vf_edit_distance("kitten", "sitting") == 3, "kitten/sitting");
  TU_CHECK(vf_edit_distance("lambdas", "lambdas") == 0, "equal");
  TU_CHECK(vf_edit_distance("", "abc") == 3, "empty");
}

static void test_folder_of(void) {
  char d[64];
  vf_folder_of("results.nc", d, sizeof d);
  TU_CHECK(!strcmp(d, "."), "bare name: '%s'", d);
  vf_folder_of("/results.nc", d, sizeof d);
  TU_CHECK(!strcmp(d, "/"), "in the root: '%s'", d);
  vf_folder_of("a/b/results.nc", d, sizeof d);
  TU_CHECK(!strcmp(d, "a/b"), "relative: '%s'", d);
}

static void test_rng(void) {
  vf_rng a, b;
  vf_rng_seed(&a, 42, 7);
  vf_rng_seed(&b, 42, 7);
  double sum = 0;
  int same = 1, in_range = 1;
  for (int i = 0; i < 100000; i++) {
    double u = vf_rng_uniform(&a);
    same &= u == vf_rng_uniform(&b);
    in_range &= u >= 0 && u < 1;
    sum += u;
  }
  TU_CHECK(same, "one seed and stream give one sequence");
  TU_CHECK(in_range, "uniform outside [0, 1)");
  TU_CHECK(fabs(sum / 100000 - 0.5) < 0.005, "uniform mean %g", sum / 100000);
  vf_rng_seed(&b, 42, 8);
  vf_rng_seed(&a, 42, 7);
  TU_CHECK(vf_rng_u64(&a) != vf_rng_u64(&b), "another stream, another sequence");
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  test_hash();
  test_seen();
  test_edit_distance();
  test_folder_of();
  test_rng();
  return tu_finish("util");
}
