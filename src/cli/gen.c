/* voxfit gen: writes a synthetic study with planted ground truth
 * (docs/gen.md). Every rank parses the same argv, so they all agree on a
 * usage error without talking; rank 0 does the printing. */
#include <errno.h>
#include <math.h>
#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "voxfit/cli.h"
#include "voxfit/sim.h"

static const char *usage_text =
    "usage: voxfit gen --preset demo|god|shortclips --out DIR [--scale F]\n"
    "                  [--seed N] [--subjects S] [--format cdf1|cdf2|cdf5]\n"
    "\n"
    "Writes a synthetic fMRI study with planted ground truth into DIR:\n"
    "  features.nc          features of every encoder variant (multimodal and\n"
    "                       unimodal twins of each tower and layer)\n"
    "  sub-01.nc ...        responses of each subject, with test repetitions\n"
    "  truth.yaml           which ROI carries which planted effect\n"
    "  job.yaml             a runnable voxfit job for the study\n"
    "\n"
    "  --preset NAME   demo (3 subjects, 280 images, ~600 voxels: seconds),\n"
    "                  god (5 subjects, 1250 images, ~4500 voxels, 1000 features),\n"
    "                  shortclips (5 subjects, 3870 TRs in runs, ~84000 voxels)\n"
    "  --out DIR       output folder, created if missing; files are replaced\n"
    "  --scale F       shrink stimuli, voxels and features by F in (0, 1] (1)\n"
    "  --seed N        random seed (1); the same seed gives the same files\n"
    "                  whatever the number of ranks\n"
    "  --subjects S    number of subjects, 1..99 (the preset's)\n"
    "  --format F      cdf1, cdf2 (64-bit offset, default) or cdf5\n"
    "  --help          this text\n"
    "\n"
    "The generative model is described in docs/gen.md.\n";

typedef struct {
  const char *preset, *out;
  double scale;
  unsigned long long seed;
  int subjects; /* 0: the preset's */
  io_format format;
  int help;
} gen_args;

static int is_root(void) {
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank == 0;
}

/* One line "voxfit gen: ..." on rank 0; returns the usage exit code. */
static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...) {
  if (is_root()) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "voxfit gen: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
  }
  return CLI_EXIT_INPUT;
}

static const char *options[] = {"--preset", "--out", "--scale", "--seed",
                                "--subjects", "--format", "--help"};
enum { N_OPTIONS = sizeof options / sizeof options[0] };

static int known_option(const char *opt) {
  for (int i = 0; i < N_OPTIONS; i++)
    if (!strcmp(opt, options[i])) return 1;
  return 0;
}

static int unknown_option(const char *arg) {
  int best = -1, dist = 3; /* suggest only close misspellings */
  for (int i = 0; i < N_OPTIONS; i++) {
    int d = vf_edit_distance(arg, options[i]);
    if (d < dist) dist = d, best = i;
  }
  if (best >= 0)
    return usage_error("unknown option '%s' (did you mean %s?)", arg, options[best]);
  return usage_error("unknown option '%s' (see voxfit gen --help)", arg);
}

static int parse_scale(const char *s, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end || !isfinite(v) || v <= 0 || v > 1)
    return usage_error("--scale must be a number in (0, 1], got '%s'", s);
  *out = v;
  return 0;
}

static int parse_seed(const char *s, unsigned long long *out) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || end == s || *end || s[0] == '-' || s[0] == '+')
    return usage_error("--seed must be a non-negative integer, got '%s'", s);
  *out = v;
  return 0;
}

static int parse_subjects(const char *s, int *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < 1 || v > 99)
    return usage_error("--subjects must be an integer in 1..99, got '%s'", s);
  *out = (int)v;
  return 0;
}

static int parse_format(const char *s, io_format *out) {
  if (!strcmp(s, "cdf1")) *out = IO_CDF1;
  else if (!strcmp(s, "cdf2")) *out = IO_CDF2;
  else if (!strcmp(s, "cdf5")) *out = IO_CDF5;
  else return usage_error("--format must be cdf1, cdf2 or cdf5, got '%s'", s);
  return 0;
}

/* One option with its value; returns 0 or an exit code. */
static int set_option(gen_args *a, const char *opt, const char *val) {
  if (!strcmp(opt, "--preset")) a->preset = val;
  else if (!strcmp(opt, "--out")) a->out = val;
  else if (!strcmp(opt, "--scale")) return parse_scale(val, &a->scale);
  else if (!strcmp(opt, "--seed")) return parse_seed(val, &a->seed);
  else if (!strcmp(opt, "--subjects")) return parse_subjects(val, &a->subjects);
  else if (!strcmp(opt, "--format")) return parse_format(val, &a->format);
  else if (!strcmp(opt, "--help")) return usage_error("--help takes no value");
  else return unknown_option(opt);
  if (!val[0]) return usage_error("%s needs a non-empty value", opt);
  return 0;
}

/* Accepts "--opt value" and "--opt=value". */
static int parse_args(int argc, char **argv, gen_args *a) {
  char opt[64];
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i], *eq = strchr(arg, '='), *val;
    if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
      a->help = 1;
      continue;
    }
    if (strncmp(arg, "--", 2) != 0)
      return usage_error("unexpected argument '%s' (see voxfit gen --help)", arg);
    size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
    if (len >= sizeof opt) return unknown_option(arg);
    memcpy(opt, arg, len);
    opt[len] = '\0';
    if (!known_option(opt)) return unknown_option(opt);
    if (eq)
      val = eq + 1;
    else if (i + 1 < argc)
      val = argv[++i];
    else
      return usage_error("%s needs a value", opt);
    int rc = set_option(a, opt, val);
    if (rc) return rc;
  }
  return 0;
}

static void print_summary(const sim_params *p, const char *out, double secs) {
  printf("voxfit gen: wrote %s (preset %s, scale %g, seed %llu, %s) in %.2f s\n", out,
         p->preset, p->scale, (unsigned long long)p->seed,
         p->format == IO_CDF1 ? "cdf1" : p->format == IO_CDF2 ? "cdf2" : "cdf5", secs);
  printf("  features.nc  %d layers per tower and regime, %ld features each, %ld stimuli"
         " (%ld train + %ld test)\n",
         p->n_layers, p->n_feat, p->n_train + p->n_test, p->n_train, p->n_test);
  printf("  sub-01.nc .. sub-%02d.nc  ~%ld voxels in 10 ROIs, %ld test repetitions%s\n",
         p->n_subjects, p->n_vox, p->n_rep, p->time_series ? ", runs, lag" : "");
  printf("  truth.yaml   the planted effects\n");
  /* as voxfit plan --slurm counts them: rank 0 schedules, the others fit
   * with (cores) / (workers) BLAS threads each */
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  printf("  job.yaml     run it: mpirun -np %ld %s run %s/job.yaml\n"
         "               (-np: the %ld cores of this machine)\n",
         cores > 0 ? cores : 1, cli_program(), out, cores > 0 ? cores : 1);
}

/* DIR without its trailing slashes ("study/" -> "study"; "/" stays), so
 * the paths joined to it have one slash. */
static void strip_slashes(const char *dir, char *buf, size_t cap) {
  snprintf(buf, cap, "%s", dir);
  for (size_t n = strlen(buf); n > 1 && buf[n - 1] == '/';) buf[--n] = '\0';
}

/* A study that cannot be written in --out DIR is the user's to fix
 * (exit 2, as a bad --out is); the rest as every command maps it. */
static int exit_code(vf_status st) {
  return st == VF_E_IO ? CLI_EXIT_INPUT : cli_exit_code(st);
}

int cli_gen(int argc, char **argv) {
  gen_args a = {NULL, NULL, 1.0, 1, 0, IO_CDF2, 0};
  sim_params p;
  int rc = parse_args(argc, argv, &a);
  if (rc) return rc;
  if (a.help) {
    if (is_root()) fputs(usage_text, stdout);
    return CLI_EXIT_OK;
  }
  if (!a.preset) return usage_error("--preset is required (demo, god or shortclips)");
  if (!a.out) return usage_error("--out DIR is required");
  char out[4096];
  strip_slashes(a.out, out, sizeof out);
  a.out = out;
  if (sim_preset(a.preset, a.scale, a.seed, &p) != VF_OK)
    return usage_error("%s", vf_error_message());
  if (a.subjects) p.n_subjects = a.subjects;
  p.format = a.format;
  double t0 = vf_now();
  vf_status st = sim_generate(MPI_COMM_WORLD, &p, a.out);
  if (st != VF_OK) {
    if (is_root()) fprintf(stderr, "voxfit gen: %s\n", vf_error_message());
    return exit_code(st);
  }
  if (is_root()) print_summary(&p, a.out, vf_now() - t0);
  return CLI_EXIT_OK;
}
