/* voxfit group: the pairs of variants compared across subjects. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "voxfit/cli.h"
#include "voxfit/config.h"
#include "voxfit/io.h"
#include "voxfit/ridge.h"
#include "voxfit/stats.h"

static const char *help =
    "usage: voxfit group RESULTS.nc [MORE.nc ...] [--out GROUP.nc] [--force]\n"
    "                    [--level L] [--bootstrap B] [--seed S]\n"
    "\n"
    "Compares every declared pair of variants (a - b) in every ROI across the\n"
    "subjects of one or more results files (same variants, ROIs and sweep\n"
    "points; the subjects of all files together). The score compared is each\n"
    "ROI's mean test r over its scoreable voxels. Per (sweep point, pair, ROI):\n"
    "the mean difference with its L confidence interval (t, over subjects), the\n"
    "paired t-test and the Wilcoxon signed-rank test (exact for <= 50 subjects\n"
    "without ties), Benjamini-Hochberg q over the ROIs, and how many subjects\n"
    "go each way; also the layer profile (mean r per variant and ROI).\n"
    "Writes GROUP.nc (default: the first results file's name with .group.nc;\n"
    "schema in docs/statistics.md) and prints the table.\n"
    "  --out GROUP.nc  where to write; refused (exit 2) when it is one of the\n"
    "                  results files, or an existing file that is not a group file\n"
    "  --force         replace an existing GROUP.nc that is not a group file\n"
    "  --level L       confidence level, 0 < L < 1 (default 0.95)\n"
    "  --bootstrap B   resamples of the test stimuli for each subject's CI of the\n"
    "                  difference (default 1000; 0: none); needs the job's\n"
    "                  stats.save_predictions: true\n"
    "  --seed S        of the resamples (default 1)\n";

typedef struct {
  int n;
  io_results_table **t;
  const char **paths;
  int force; /* --force: replace an output that is not a group file */
  io_group g;
  char sources[8192];
} group_ctx;

static vf_status same_names(const char *path, const char *what, const char *a,
                            const char *b, size_t stride, int n) {
  for (int i = 0; i < n; i++)
    if (strcmp(a + i * stride, b + i * stride))
      return vf_error(VF_E_INPUT, "%s: its %s differ from the first file's ('%s' vs '%s'); "
                      "group files of one study", path, what, b + i * stride, a + i * stride);
  return VF_OK;
}

/* Every file: the same sweep points, variants, ROIs and pairs. */
static vf_status check_alike(const group_ctx *c) {
  const io_results_table *a = c->t[0];
  for (int f = 1; f < c->n; f++) {
    const io_results_table *b = c->t[f];
    const char *p = c->paths[f];
    if (b->n_sweep != a->n_sweep || b->n_variants != a->n_variants ||
        b->n_rois != a->n_rois || b->n_pairs != a->n_pairs)
      return vf_error(VF_E_INPUT, "%s: %d sweep points, %d variants, %d ROIs, %d pairs; the "
                      "first file has %d, %d, %d, %d: group the results of one study "
                      "(jobs with the same variants, ROIs, pairs and sweep)", p, b->n_sweep,
                      b->n_variants, b->n_rois, b->n_pairs, a->n_sweep, a->n_variants,
                      a->n_rois, a->n_pairs);
    VF_CALL(same_names(p, "sweep labels", a->sweep_labels[0], b->sweep_labels[0], 128, a->n_sweep));
    VF_CALL(same_names(p, "variants", a->variant_ids[0], b->variant_ids[0], IO_NAME_LEN, a->n_variants));
    VF_CALL(same_names(p, "ROIs", a->roi_names[0], b->roi_names[0], IO_NAME_LEN, a->n_rois));
    if (memcmp(a->pairs, b->pairs, sizeof(int) * 2 * (size_t)a->n_pairs))
      return vf_error(VF_E_INPUT, "%s: declares other pairs than the first file", p);
  }
  if (a->n_pairs == 0)
    return vf_error(VF_E_INPUT, "%s: the job declares no pairs of variants to compare; add "
                    "pairs: [[VARIANT_A, VARIANT_B]] to the job and run it again with --force "
                    "(the pairs are part of the job, so its results refit)", c->paths[0]);
  return VF_OK;
}

/* The ridge settings that change a fit, named where a and b differ. */
static void ridge_diff(const cfg_ridge *a, const cfg_ridge *b, char *buf, size_t cap) {
  int lam = a->n_lambdas != b->n_lambdas, del = a->n_delays != b->n_delays;
  for (int i = 0; !lam && i < a->n_lambdas; i++) lam = a->lambdas[i] != b->lambdas[i];
  for (int i = 0; !del && i < a->n_delays; i++) del = a->delays[i] != b->delays[i];
  struct { int differs; const char *key; } k[] = {
      {lam, "lambdas"}, {del, "delays"},
      {a->cv != b->cv || a->folds != b->folds ||
           (a->cv == CFG_CV_SHUFFLED && a->seed != b->seed), "cv"},
      {a->score != b->score, "score"},
      {a->std_features != b->std_features || a->std_responses != b->std_responses ||
           a->std_per_run != b->std_per_run, "standardize"},
      {a->precision != b->precision, "precision"},
      {a->lambda_per_voxel != b->lambda_per_voxel, "lambda_per_voxel"}};
  buf[0] = 0;
  for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
    if (k[i].differs)
      snprintf(buf + strlen(buf), cap - strlen(buf), "%sridge.%s", buf[0] ? ", " : "",
               k[i].key);
}

/* Files fitted with other ridge settings (or another split) than the
 * first are grouped, as the schema allows, but the comparison then mixes
 * two methods: a warning names what differs. Files without a job text
 * (or whose text no longer parses) are not compared. */
static void warn_settings(const group_ctx *c) {
  cfg_job *a = NULL;
  if (!c->t[0]->job_yaml || cfg_job_parse(c->paths[0], c->t[0]->job_yaml, &a) != VF_OK) {
    vf_error_clear();
    return;
  }
  for (int f = 1; f < c->n; f++) {
    cfg_job *b = NULL;
    char what[256] = "";
    if (!c->t[f]->job_yaml || cfg_job_parse(c->paths[f], c->t[f]->job_yaml, &b) != VF_OK) {
      vf_error_clear();
      continue;
    }
    ridge_diff(&a->ridge, &b->ridge, what, sizeof what);
    const cfg_split *x = &a->split, *y = &b->split;
    if (x->from_file != y->from_file || x->train_start != y->train_start ||
        x->train_count != y->train_count || x->test_start != y->test_start ||
        x->test_count != y->test_count)
      snprintf(what + strlen(what), sizeof what - strlen(what), "%ssplit", what[0] ? ", " : "");
    if (what[0])
      vf_log(VF_LOG_WARN, "%s: fitted with other settings than %s (%s): its subjects' "
             "differences come from another method", c->paths[f], c->paths[0], what);
    cfg_job_destroy(&b);
  }
  cfg_job_destroy(&a);
}

/* ROI mean r of global subject s (files' subjects in order). */
static double score(const group_ctx *c, int w, int s, int v, int q) {
  for (int f = 0; f < c->n; f++) {
    const io_results_table *t = c->t[f];
    if (s >= t->n_subjects) {
      s -= t->n_subjects;
      continue;
    }
    size_t i = (((size_t)w * t->n_subjects + s) * t->n_variants + v) * t->n_rois + q;
    return t->status[i] == 1 ? t->roi_mean_r[i] : NAN;
  }
  return NAN;
}

static vf_status alloc_group(group_ctx *c) {
  io_group *g = &c->g;
  const io_results_table *a = c->t[0];
  g->n_sweep = a->n_sweep, g->n_pairs = a->n_pairs, g->n_rois = a->n_rois;
  g->n_variants = a->n_variants;
  for (int f = 0; f < c->n; f++) g->n_subjects += c->t[f]->n_subjects;
  size_t n3 = (size_t)g->n_sweep * g->n_pairs * g->n_rois;
  double **d3[] = {&g->mean_diff, &g->ci_lo, &g->ci_hi, &g->t, &g->p_t, &g->q_t,
                   &g->w, &g->p_w, &g->q_w};
  for (size_t i = 0; i < sizeof d3 / sizeof d3[0]; i++)
    VF_CALL(vf_calloc(n3, sizeof(double), "group results", d3[i]));
  VF_CALL(vf_calloc(n3, sizeof(int), "group counts", &g->n_used));
  VF_CALL(vf_calloc(n3, sizeof(int), "group counts", &g->n_up));
  VF_CALL(vf_calloc(n3, sizeof(int), "group counts", &g->n_down));
  VF_CALL(vf_calloc(n3 * g->n_subjects, sizeof(double), "differences", &g->diff));
  size_t np = (size_t)g->n_sweep * g->n_variants * g->n_rois;
  VF_CALL(vf_calloc(np, sizeof(double), "profiles", &g->profile_mean));
  VF_CALL(vf_calloc(np, sizeof(double), "profiles", &g->profile_sem));
  VF_CALL(vf_calloc((size_t)g->n_subjects, IO_NAME_LEN, "names", &g->subject_ids));
  for (int f = 0, s = 0; f < c->n; f++)
    for (int k = 0; k < c->t[f]->n_subjects; k++, s++) {
      memcpy(g->subject_ids[s], c->t[f]->subject_ids[k], IO_NAME_LEN);
      for (int j = 0; j < s; j++)
        if (!strcmp(g->subject_ids[j], g->subject_ids[s]))
          return vf_error(VF_E_INPUT, "%s: subject '%s' is in an earlier file too; give each "
                          "subject once", c->paths[f], g->subject_ids[s]);
    }
  g->sweep_labels = a->sweep_labels, g->roi_names = a->roi_names;
  g->variant_ids = a->variant_ids, g->variant_models = a->variant_models;
  g->variant_layers = a->variant_layers, g->pairs = a->pairs;
  return VF_OK;
}

static void compare(group_ctx *c, int w, int i, int q) {
  io_group *g = &c->g;
  size_t k = ((size_t)w * g->n_pairs + i) * g->n_rois + q;
  double *d = g->diff + k * g->n_subjects;
  int up = 0, down = 0;
  for (int s = 0; s < g->n_subjects; s++) {
    d[s] = score(c, w, s, g->pairs[2 * i], q) - score(c, w, s, g->pairs[2 * i + 1], q);
    up += d[s] > 0, down += d[s] < 0;
  }
  stats_ttest t;
  stats_wilcoxon wx;
  stats_ttest_paired(d, g->n_subjects, g->level, &t);
  stats_wilcoxon_signed_rank(d, g->n_subjects, &wx);
  g->mean_diff[k] = t.mean, g->ci_lo[k] = t.ci_lo, g->ci_hi[k] = t.ci_hi;
  g->t[k] = t.t, g->p_t[k] = t.p, g->w[k] = wx.w, g->p_w[k] = wx.p;
  g->n_used[k] = t.n, g->n_up[k] = up, g->n_down[k] = down;
}

static void profile(group_ctx *c, int w, int v, int q) {
  io_group *g = &c->g;
  size_t k = ((size_t)w * g->n_variants + v) * g->n_rois + q;
  double sum = 0, ss = 0;
  int n = 0;
  for (int s = 0; s < g->n_subjects; s++) {
    double x = score(c, w, s, v, q);
    if (!isnan(x)) sum += x, n++;
  }
  double m = n ? sum / n : NAN;
  for (int s = 0; s < g->n_subjects; s++) { /* two passes: sum x^2 - n m^2 cancels */
    double x = score(c, w, s, v, q);
    if (!isnan(x)) ss += (x - m) * (x - m);
  }
  g->profile_mean[k] = m;
  g->profile_sem[k] = n > 1 ? sqrt(ss / (n - 1) / n) : NAN;
}

/* Pearson r of predictions x and responses y at the test stimuli idx; 0
 * when either is constant there (ridge_flat), as test r is: such a voxel
 * counts in the ROI mean with 0, in the bootstrap as in roi_mean_r. */
static double r_at(const float *x, const float *y, const int *idx, int n) {
  double mx = 0, my = 0, sxy = 0, sxx = 0, syy = 0;
  for (int t = 0; t < n; t++) mx += x[idx[t]], my += y[idx[t]];
  mx /= n, my /= n;
  for (int t = 0; t < n; t++) {
    double a = x[idx[t]] - mx, b = y[idx[t]] - my;
    sxy += a * b, sxx += a * a, syy += b * b;
  }
  if (isnan(sxy) || isnan(sxx) || isnan(syy)) return NAN; /* a masked voxel */
  if (ridge_flat(sxx, mx, n) || ridge_flat(syy, my, n)) return 0.0;
  return sxy / sqrt(sxx * syy);
}

static int cmp_dbl(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* numpy.percentile's default (linear interpolation) of sorted x[0..n). */
static double percentile(const double *x, int n, double q) {
  double h = (n - 1) * q;
  int lo = (int)floor(h);
  return lo + 1 < n ? x[lo] + (h - lo) * (x[lo + 1] - x[lo]) : x[n - 1];
}

/* One subject's ROI voxels [a, b): the bootstrap CI of the difference of
 * the ROI's mean r (a - b variants) over resampled test stimuli. */
static void boot_one(const io_group *g, const io_results_table *t, const int *index, int nt,
                     const float *pa, const float *pb, const float *y, long a, long b,
                     double *diff, double *lo, double *hi) {
  int nb = 0;
  for (int k = 0; k < g->n_boot; k++) {
    const int *idx = index + (size_t)k * nt;
    double sum = 0;
    long n = 0;
    for (long v = a; v < b; v++) {
      const float *yv = y + v * t->max_test;
      double ra = r_at(pa + v * t->max_test, yv, idx, nt);
      double rb = r_at(pb + v * t->max_test, yv, idx, nt);
      if (!isnan(ra) && !isnan(rb) && !isnan(yv[0])) sum += ra - rb, n++;
    }
    if (n) diff[nb++] = sum / n;
  }
  if (nb < 2) return;
  qsort(diff, (size_t)nb, sizeof(double), cmp_dbl);
  *lo = percentile(diff, nb, (1 - g->level) / 2);
  *hi = percentile(diff, nb, 1 - (1 - g->level) / 2);
}

/* The resamples of n test stimuli (n_boot x n): draw k takes the first
 * n uniforms u of stream k of the seed, index floor(u n). Every subject
 * with n test stimuli gets the same ones, for every ROI and variant. */
static void boot_draws(const io_group *g, int n, int *index) {
  for (int k = 0; k < g->n_boot; k++) {
    vf_rng r;
    vf_rng_seed(&r, g->boot_seed, (uint64_t)k);
    for (int t = 0; t < n; t++) index[(size_t)k * n + t] = (int)(vf_rng_uniform(&r) * n);
  }
}

/* Every (sweep, pair, ROI) of the file's subjects (from global subject s0);
 * a subject with fewer test stimuli than boot_index's resamples its own
 * (work: n_boot x boot_tests ints). */
static void boot_file(group_ctx *c, const io_results_table *t, int s0, int w, int i,
                      const float *pa, const float *pb, const float *y, double *diff,
                      int *work) {
  io_group *g = &c->g;
  int drawn = -1;
  for (long a = 0, b; a < t->n_vox; a = b) {
    int s = t->voxel_subject[a], q = t->voxel_roi[a], nt = t->subject_n_test[s];
    for (b = a; b < t->n_vox && t->voxel_subject[b] == s && t->voxel_roi[b] == q;) b++;
    size_t k = (((size_t)w * g->n_pairs + i) * g->n_rois + q) * g->n_subjects + s0 + s;
    if (isnan(g->diff[k]) || nt < 2) continue;
    if (nt != g->boot_tests && nt != drawn) boot_draws(g, nt, work), drawn = nt;
    boot_one(g, t, nt == g->boot_tests ? g->boot_index : work, nt, pa, pb, y, a, b, diff,
             &g->boot_lo[k], &g->boot_hi[k]);
  }
}

static vf_status boot_alloc(group_ctx *c) {
  io_group *g = &c->g;
  size_t n = (size_t)g->n_sweep * g->n_pairs * g->n_rois * g->n_subjects;
  VF_CALL(vf_calloc(n, sizeof(double), "bootstrap", &g->boot_lo));
  VF_CALL(vf_calloc(n, sizeof(double), "bootstrap", &g->boot_hi));
  for (size_t k = 0; k < n; k++) g->boot_lo[k] = g->boot_hi[k] = NAN;
  VF_CALL(vf_calloc((size_t)g->n_boot * g->boot_tests, sizeof(int), "bootstrap", &g->boot_index));
  boot_draws(g, g->boot_tests, g->boot_index);
  return VF_OK;
}

static int boot_possible(group_ctx *c) {
  for (int f = 0; f < c->n; f++) {
    if (!c->t[f]->has_predictions) {
      vf_log(VF_LOG_WARN, "%s: no test predictions (set stats.save_predictions: true in "
             "the job and rerun it): no bootstrap CIs", c->paths[f]);
      return 0;
    }
  }
  return 1;
}

/* Bootstrap CIs over test stimuli per subject (docs/statistics.md). */
static vf_status bootstrap(group_ctx *c) {
  io_group *g = &c->g;
  if (g->n_boot == 0 || !boot_possible(c)) {
    g->n_boot = 0;
    return VF_OK;
  }
  g->boot_tests = 1; /* boot_index: the resamples of the most test stimuli */
  for (int f = 0; f < c->n; f++)
    for (int s = 0; s < c->t[f]->n_subjects; s++)
      if (c->t[f]->subject_n_test[s] > g->boot_tests) g->boot_tests = c->t[f]->subject_n_test[s];
  VF_CALL(boot_alloc(c));
  vf_status st = VF_OK;
  double *diff = NULL;
  int *work = NULL;
  VF_CALL(vf_calloc((size_t)g->n_boot, sizeof(double), "bootstrap", &diff));
  st = vf_calloc((size_t)g->n_boot * g->boot_tests, sizeof(int), "bootstrap", &work);
  for (int f = 0, s0 = 0; f < c->n && st == VF_OK; s0 += c->t[f++]->n_subjects) {
    const io_results_table *t = c->t[f];
    size_t n = (size_t)t->n_vox * t->max_test + 1;
    float *pa = NULL, *pb = NULL, *y = NULL;
    st = vf_calloc(n, sizeof(float), "predictions", &pa);
    if (!st) st = vf_calloc(n, sizeof(float), "predictions", &pb);
    if (!st) st = vf_calloc(n, sizeof(float), "responses", &y);
    for (int w = 0; w < g->n_sweep && st == VF_OK; w++)
      for (int i = 0; i < g->n_pairs && st == VF_OK; i++) {
        st = io_results_read_predictions(c->paths[f], w, g->pairs[2 * i], t, pa, y);
        if (!st) st = io_results_read_predictions(c->paths[f], w, g->pairs[2 * i + 1], t, pb, NULL);
        if (!st) boot_file(c, t, s0, w, i, pa, pb, y, diff, work);
      }
    vf_free(&pa), vf_free(&pb), vf_free(&y);
  }
  vf_free(&diff), vf_free(&work);
  return st;
}

static vf_status compute(group_ctx *c) {
  io_group *g = &c->g;
  for (int w = 0; w < g->n_sweep; w++) {
    for (int i = 0; i < g->n_pairs; i++) {
      for (int q = 0; q < g->n_rois; q++) compare(c, w, i, q);
      size_t k = ((size_t)w * g->n_pairs + i) * g->n_rois;
      VF_CALL(stats_bh(g->p_t + k, g->n_rois, g->q_t + k));
      VF_CALL(stats_bh(g->p_w + k, g->n_rois, g->q_w + k));
    }
    for (int v = 0; v < g->n_variants; v++)
      for (int q = 0; q < g->n_rois; q++) profile(c, w, v, q);
  }
  return VF_OK;
}

/* The subjects and ROIs a pair's table rests on: all of them, or, with
 * results not done in some input, the range per ROI and the ROIs tested. */
static void header_counts(const io_group *g, int w, int i, char *subj, size_t ns, char *rois,
                          size_t nr) {
  int lo = g->n_subjects, hi = 0, tested = 0;
  for (int q = 0; q < g->n_rois; q++) {
    size_t k = ((size_t)w * g->n_pairs + i) * g->n_rois + q;
    lo = g->n_used[k] < lo ? g->n_used[k] : lo, hi = g->n_used[k] > hi ? g->n_used[k] : hi;
    tested += !isnan(g->p_t[k]);
  }
  if (lo == hi) snprintf(subj, ns, "%d subjects", hi);
  else snprintf(subj, ns, "%d to %d subjects per ROI (n_subjects_used)", lo, hi);
  if (tested == g->n_rois) snprintf(rois, nr, "the %d ROIs", g->n_rois);
  else snprintf(rois, nr, "the %d of %d ROIs with a test", tested, g->n_rois);
}

static void print_table(const group_ctx *c, const char *out) {
  const io_group *g = &c->g;
  for (int w = 0; w < g->n_sweep; w++)
    for (int i = 0; i < g->n_pairs; i++) {
      char subj[64], rois[96];
      header_counts(g, w, i, subj, sizeof subj, rois, sizeof rois);
      printf("\n%s - %s (sweep point %s): difference of each ROI's mean test r over its\n"
             "scoreable voxels, %s; %.0f%% CI over subjects; paired t-test and\n"
             "Wilcoxon signed-rank, q = Benjamini-Hochberg over %s\n",
             g->variant_ids[g->pairs[2 * i]], g->variant_ids[g->pairs[2 * i + 1]],
             g->sweep_labels[w], subj, 100 * g->level, rois);
      if (g->n_boot)
        printf("boot: subjects whose %.0f%% bootstrap CI (%d resamples of the test stimuli)\n"
               "excludes 0, a>b and b>a\n", 100 * g->level, g->n_boot);
      printf("%-10s %9s %20s %8s %8s %8s %8s %7s%s\n", "ROI", "mean diff", "CI", "p(t)",
             "q(t)", "p(W)", "q(W)", "a>b b>a", g->n_boot ? "    boot" : "");
      for (int q = 0; q < g->n_rois; q++) {
        size_t k = ((size_t)w * g->n_pairs + i) * g->n_rois + q;
        printf("%-10.10s %+9.4f [%+8.4f, %+8.4f] %8.2g %8.2g %8.2g %8.2g %3d %-3d",
               g->roi_names[q], g->mean_diff[k], g->ci_lo[k], g->ci_hi[k], g->p_t[k],
               g->q_t[k], g->p_w[k], g->q_w[k], g->n_up[k], g->n_down[k]);
        int bu = 0, bd = 0;
        for (int s = 0; g->n_boot && s < g->n_subjects; s++) {
          bu += g->boot_lo[k * g->n_subjects + s] > 0;
          bd += g->boot_hi[k * g->n_subjects + s] < 0;
        }
        if (g->n_boot) printf(" %3d %-3d", bu, bd);
        printf("\n");
      }
    }
  printf("\ngroup results: %s\n", out);
}

static int parse(int argc, char **argv, group_ctx *c, const char **out) {
  c->g.level = 0.95, c->g.n_boot = 1000, c->g.boot_seed = 1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int more = i + 1 < argc;
    if (cli_is_help(a)) return 1;
    if (!strcmp(a, "--out") && more) *out = argv[++i];
    else if (!strcmp(a, "--force")) c->force = 1;
    else if (!strcmp(a, "--level") && more) {
      if (cli_number("group", a, argv[++i], 0, 1e-9, 1 - 1e-9, "a level between 0 and 1, "
                     "such as 0.95", &c->g.level))
        return 2;
    } else if (!strcmp(a, "--bootstrap") && more) {
      double b;
      if (cli_number("group", a, argv[++i], 1, 0, 1000000, "an integer from 0 (none) to "
                     "1000000", &b))
        return 2;
      c->g.n_boot = (int)b;
    } else if (!strcmp(a, "--seed") && more) {
      uint64_t seed;
      if (cli_seed("group", a, argv[++i], &seed)) return 2;
      c->g.boot_seed = seed;
    } else if (a[0] == '-')
      return vf_error(VF_E_USAGE, "unexpected argument '%s' (voxfit group --help)", a), 2;
    else c->paths[c->n++] = a;
  }
  if (c->n == 0) return vf_error(VF_E_USAGE, "no results file given (voxfit group --help)"), 2;
  if (!(c->g.level > 0 && c->g.level < 1))
    return vf_error(VF_E_USAGE, "--level must be between 0 and 1"), 2;
  if (c->g.n_boot < 0 || c->g.n_boot > 1000000)
    return vf_error(VF_E_USAGE, "--bootstrap must be 0 (none) to 1000000"), 2;
  return 0;
}

/* A file with ROI results not done (a run stopped early, or one shard of a
 * job, which is complete as a run) is grouped, with a warning. */
static int warn_not_done(const char *path, const io_results_table *t) {
  size_t n = (size_t)t->n_sweep * t->n_subjects * t->n_variants * t->n_rois, open = 0;
  for (size_t i = 0; i < n; i++) open += t->status[i] == 0;
  if (!t->complete || open)
    vf_log(VF_LOG_WARN, "%s: %zu of %zu ROI results not done (%s); they are left out, and "
           "q is over the ROIs that have results", path,
           open, n, t->complete ? "one shard of a job? collect the shards first"
                                : "the run is not complete: rerun it to finish");
  return t->complete && !open;
}

static vf_status run_group(group_ctx *c, const char *out) {
  VF_CALL(io_group_check_out(out, c->paths, c->n, c->force,
                             "give --out another name, or add --force to replace it"));
  VF_CALL(vf_calloc((size_t)c->n, sizeof *c->t, "tables", &c->t));
  c->g.inputs_complete = 1;
  for (int f = 0; f < c->n; f++) {
    VF_CALL(io_results_read_table(c->paths[f], &c->t[f]));
    c->g.inputs_complete &= warn_not_done(c->paths[f], c->t[f]);
    snprintf(c->sources + strlen(c->sources), sizeof c->sources - strlen(c->sources),
             "%s\n", c->paths[f]);
  }
  VF_CALL(check_alike(c));
  warn_settings(c);
  VF_CALL(alloc_group(c));
  VF_CALL(compute(c));
  VF_CALL(bootstrap(c));
  c->g.sources = c->sources;
  VF_CALL(io_group_write(out, &c->g));
  print_table(c, out);
  return VF_OK;
}

static void group_free(group_ctx *c) {
  io_group *g = &c->g;
  double **d[] = {&g->mean_diff, &g->ci_lo, &g->ci_hi, &g->t, &g->p_t, &g->q_t, &g->w,
                  &g->p_w, &g->q_w, &g->diff, &g->profile_mean, &g->profile_sem};
  for (size_t i = 0; i < sizeof d / sizeof d[0]; i++) vf_free(d[i]);
  vf_free(&g->n_used), vf_free(&g->n_up), vf_free(&g->n_down), vf_free(&g->subject_ids);
  vf_free(&g->boot_lo), vf_free(&g->boot_hi), vf_free(&g->boot_index);
  for (int f = 0; c->t && f < c->n; f++) io_results_table_destroy(&c->t[f]);
  vf_free(&c->t);
}

void cli_group_path(const char *results, char *buf, size_t cap) {
  size_t n = strlen(results);
  if (n > 3 && !strcmp(results + n - 3, ".nc")) n -= 3;
  snprintf(buf, cap, "%.*s.group.nc", (int)n, results);
}

vf_status cli_group_of(const char *results, double level, int force) {
  group_ctx c;
  const char *paths[1] = {results};
  char out[4200];
  memset(&c, 0, sizeof c);
  c.paths = paths, c.n = 1, c.g.level = level, c.g.n_boot = 1000, c.g.boot_seed = 1;
  c.force = force;
  cli_group_path(results, out, sizeof out);
  vf_status st = run_group(&c, out);
  group_free(&c);
  return st;
}

int cli_group(int argc, char **argv) {
  group_ctx c;
  const char *out = NULL;
  const char *paths[256];
  memset(&c, 0, sizeof c);
  c.paths = paths;
  if (argc > 257) {
    vf_error(VF_E_USAGE, "at most 256 results files");
    cli_print_error("group");
    return CLI_EXIT_INPUT;
  }
  int r = parse(argc, argv, &c, &out);
  if (r == 1) {
    cli_say(stdout, help);
    return CLI_EXIT_OK;
  }
  if (r) {
    cli_print_error("group");
    return CLI_EXIT_INPUT;
  }
  char def[4200];
  cli_group_path(c.paths[0], def, sizeof def);
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  vf_status st = rank == 0 ? run_group(&c, out ? out : def) : VF_OK;
  group_free(&c);
  if (st) {
    cli_print_error("group");
    return cli_exit_code(st);
  }
  return CLI_EXIT_OK;
}
