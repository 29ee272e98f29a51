/* ranks: 1 */
/* The job file loader: the demo job and a full job parsed field by field,
 * then bad jobs, each checked for its one-line message (file:line:col, the
 * key path and the advice). Run from the repository root (reads
 * jobs/demo.yaml). */
#include "voxfit/config.h"

#include <math.h>

#include "testutil.h"
#include "voxfit/linalg.h"

/* A minimal valid job; HEAD is lines 1-6, MINI adds ridge on lines 7-8, so
 * text appended to MINI starts on line 9 (inside ridge when indented). */
#define HEAD                                                              \
  "output: out.nc\n"                                                      \
  "subjects:\n"                                                           \
  "  - {id: s1, responses: s1.nc}\n"                                      \
  "variants:\n"                                                           \
  "  - {id: a, features: f.nc, tower: visual, training: multimodal}\n"    \
  "  - {id: b, features: f.nc, variable: v2, tower: visual, training: unimodal}\n"
#define MINI HEAD "ridge:\n  lambdas: [1, 10]\n"

static vf_status parse(const char *text) {
  cfg_job *job = (cfg_job *)&job; /* must come back NULL on failure */
  vf_status st = cfg_job_parse("jobs/t.yaml", text, &job);
  if (st) TU_CHECK(job == NULL, "a failed parse left *out set");
  cfg_job_destroy(&job);
  return st;
}

#define BAD(text, msg) TU_FAILS_WITH(parse(text), VF_E_INPUT, msg)

static void check_demo_variant(const cfg_job *job, int i, const char *id,
                               const char *variable, int layer, cfg_training tr) {
  const cfg_variant *v = &job->variants[i];
  TU_CHECK(!strcmp(v->id, id), "variant %d id %s", i, v->id);
  TU_CHECK(!strcmp(v->features, "jobs/../build/demo/data/features.nc"), "%s",
           v->features);
  TU_CHECK(!strcmp(v->variable, variable), "%s", v->variable);
  TU_CHECK(!strcmp(v->model, "synthetic-vit"), "%s", v->model);
  TU_CHECK(v->layer == layer && v->tower == CFG_TOWER_VISUAL && v->training == tr,
           "variant %d: layer %d tower %d training %d", i, v->layer, v->tower,
           v->training);
}

static void test_demo(void) {
  cfg_job *job = NULL;
  TU_OK(cfg_job_load("jobs/demo.yaml", &job));
  if (!job) return;
  TU_CHECK(!strcmp(job->path, "jobs/demo.yaml") && !strcmp(job->dir, "jobs"), "%s %s",
           job->path, job->dir);
  TU_CHECK(!strcmp(job->name, "demo"), "%s", job->name);
  TU_CHECK(!strcmp(job->output, "jobs/../build/demo/results.nc"), "%s", job->output);
  TU_CHECK(job->n_subjects == 3, "%d", job->n_subjects);
  for (int i = 0; i < job->n_subjects && i < 3; i++) {
    char id[32], path[64];
    snprintf(id, sizeof id, "sub-0%d", i + 1);
    snprintf(path, sizeof path, "jobs/../build/demo/data/sub-0%d.nc", i + 1);
    TU_CHECK(!strcmp(job->subjects[i].id, id), "%s", job->subjects[i].id);
    TU_CHECK(!strcmp(job->subjects[i].responses, path), "%s", job->subjects[i].responses);
    TU_CHECK(job->subjects[i].line > 1, "line %d", job->subjects[i].line);
  }
  TU_CHECK(job->n_variants == 4, "%d", job->n_variants);
  if (job->n_variants == 4) {
    check_demo_variant(job, 0, "mm-vis-l1", "mm_visual_l1", 1, CFG_TRAIN_MULTIMODAL);
    check_demo_variant(job, 1, "uni-vis-l1", "uni_visual_l1", 1, CFG_TRAIN_UNIMODAL);
    check_demo_variant(job, 2, "mm-vis-l2", "mm_visual_l2", 2, CFG_TRAIN_MULTIMODAL);
    check_demo_variant(job, 3, "uni-vis-l2", "uni_visual_l2", 2, CFG_TRAIN_UNIMODAL);
  }
  TU_CHECK(job->n_rois == 0 && job->rois == NULL, "rois %d", job->n_rois);
  TU_CHECK(job->split.from_file == 1, "split");
  const cfg_ridge *r = &job->ridge;
  TU_CHECK(r->n_lambdas == 20, "%d", r->n_lambdas);
  if (r->n_lambdas == 20) {
    TU_CHECK(fabs(r->lambdas[0] - 1e-2) < 1e-15 && fabs(r->lambdas[19] - 1e6) < 1e-6,
             "%g %g", r->lambdas[0], r->lambdas[19]);
    TU_CHECK(fabs(r->lambdas[1] / pow(10, -2 + 8.0 / 19) - 1) < 1e-12, "%g",
             r->lambdas[1]);
    for (int i = 1; i < 20; i++) TU_CHECK(r->lambdas[i] > r->lambdas[i - 1], "asc %d", i);
  }
  TU_CHECK(r->cv == CFG_CV_KFOLD && r->folds == 5 && r->seed == 0, "cv");
  TU_CHECK(r->score == CFG_SCORE_R, "score");
  TU_CHECK(r->n_delays == 1 && r->delays[0] == 0, "delays");
  TU_CHECK(r->std_features == CFG_STD_ZSCORE && r->std_responses == CFG_STD_ZSCORE &&
               r->std_per_run == 0, "standardize defaults");
  TU_CHECK(r->precision == CFG_PREC_DOUBLE && r->lambda_per_voxel == 1 &&
               r->save_weights == 0 && r->save_cv_scores == 0, "switch defaults");
  TU_CHECK(r->solver == CFG_SOLVER_AUTO && r->cv_method == CFG_CVM_AUTO, "method defaults");
  TU_CHECK(job->n_pairs == 2, "%d", job->n_pairs);
  if (job->n_pairs == 2) {
    TU_CHECK(!strcmp(job->pairs[0].a, "mm-vis-l1") && !strcmp(job->pairs[0].b, "uni-vis-l1") &&
                 job->pairs[0].ia == 0 && job->pairs[0].ib == 1, "pair 0");
    TU_CHECK(!strcmp(job->pairs[1].a, "mm-vis-l2") && !strcmp(job->pairs[1].b, "uni-vis-l2") &&
                 job->pairs[1].ia == 2 && job->pairs[1].ib == 3, "pair 1");
  }
  TU_CHECK(job->n_sweep == 0 && job->sweep == NULL, "sweep");
  char hash[17];
  TU_CHECK(job->text && !strncmp(job->text, "# Run:", 6), "text kept");
  if (job->text) vf_hash_hex(job->text, strlen(job->text), hash);
  TU_CHECK(job->text && !strcmp(hash, job->hash), "hash %s", job->hash);
  cfg_job_destroy(&job);
  TU_CHECK(job == NULL, "destroy NULLs the pointer");
}

/* Every key given, absolute and relative paths, a sweep over three axes. */
static const char *full_job =
    "job: full-1\n"
    "output: results.nc\n"
    "subjects:\n"
    "  - {id: S1, responses: /data/s1.nc}\n"
    "  - {id: S2, responses: 'sub dir/s2.nc'}\n"
    "variants:\n"
    "  - {id: clipimg-l2, features: f.nc, variable: clip_visual_l2, model: clip-vit-b16,\n"
    "     layer: 2, tower: visual, training: multimodal}\n"
    "  - {id: vitimg-l2, features: g.nc, tower: lingual, training: unimodal}\n"
    "rois: [V1, FFA]\n"
    "split: {train: [0, 100], test: [100, 20]}\n"
    "ridge:\n"
    "  lambdas: [100, 0.5, 1e3]\n"
    "  cv: {scheme: shuffled, folds: 4, seed: 42}\n"
    "  score: r2\n"
    "  delays: [4, 1, 3, 2]\n"
    "  standardize: {features: center, responses: none, per_run: true}\n"
    "  precision: single\n"
    "  cv_method: held_out\n"
    "  lambda_per_voxel: false\n"
    "  save_weights: true\n"
    "  save_cv_scores: TRUE\n"
    "pairs:\n"
    "  - [clipimg-l2, vitimg-l2]\n"
    "sweep:\n"
    "  ridge.delays: [[0], [1, 2, 3, 4]]\n"
    "  ridge.lambdas: [{logspace: [-2, 6, 20]}, {logspace: [1, 20, 20]}]\n"
    "  ridge.cv.folds: [5, 10]\n";

static void check_full_ridge(const cfg_ridge *r) {
  TU_CHECK(r->n_lambdas == 3 && r->lambdas[0] == 0.5 && r->lambdas[1] == 100 &&
               r->lambdas[2] == 1000, "lambdas sorted");
  TU_CHECK(r->cv == CFG_CV_SHUFFLED && r->folds == 4 && r->seed == 42, "cv");
  TU_CHECK(r->score == CFG_SCORE_R2, "score");
  TU_CHECK(r->n_delays == 4 && r->delays[0] == 1 && r->delays[3] == 4, "delays sorted");
  TU_CHECK(r->std_features == CFG_STD_CENTER && r->std_responses == CFG_STD_NONE &&
               r->std_per_run == 1, "standardize");
  TU_CHECK(r->precision == CFG_PREC_SINGLE && r->lambda_per_voxel == 0 &&
               r->save_weights == 1 && r->save_cv_scores == 1, "switches");
  TU_CHECK(r->cv_method == CFG_CVM_HELD_OUT, "cv_method");
}

static void check_full_sweep(const cfg_job *job) {
  TU_CHECK(job->n_sweep == 3, "%d axes", job->n_sweep);
  if (job->n_sweep != 3) return;
  const cfg_sweep_axis *d = &job->sweep[0], *l = &job->sweep[1], *f = &job->sweep[2];
  TU_CHECK(!strcmp(d->key, "ridge.delays") && d->n_values == 2, "%s", d->key);
  TU_CHECK(d->values[0].n_delays == 1 && d->values[1].n_delays == 4 &&
               d->values[1].delays[3] == 4, "delay values");
  TU_CHECK(!strcmp(d->labels[0], "[0]") && !strcmp(d->labels[1], "[1,2,3,4]"), "%s %s",
           d->labels[0], d->labels[1]);
  /* other settings are the base ones, lambdas deep-copied */
  TU_CHECK(d->values[0].score == CFG_SCORE_R2 && d->values[0].n_lambdas == 3 &&
               d->values[0].lambdas != job->ridge.lambdas &&
               d->values[0].lambdas[0] == 0.5, "base kept");
  TU_CHECK(!strcmp(l->key, "ridge.lambdas") && l->n_values == 2 &&
               l->values[0].n_lambdas == 20 && l->values[1].n_lambdas == 20 &&
               fabs(l->values[1].lambdas[19] - 1e20) < 1e6 &&
               l->values[0].n_delays == 4, "lambda values");
  TU_CHECK(!strcmp(l->labels[0], "{logspace:[-2,6,20]}"), "%s", l->labels[0]);
  TU_CHECK(!strcmp(f->key, "ridge.cv.folds") && f->n_values == 2 &&
               f->values[0].folds == 5 && f->values[1].folds == 10 &&
               f->values[1].cv == CFG_CV_SHUFFLED && f->values[1].seed == 42,
           "folds values");
  TU_CHECK(!strcmp(f->labels[1], "10"), "%s", f->labels[1]);
}

static void test_full(void) {
  cfg_job *job = NULL;
  TU_OK(cfg_job_parse("/srv/study/jobs/full.yaml", full_job, &job));
  if (!job) return;
  TU_CHECK(!strcmp(job->dir, "/srv/study/jobs") && !strcmp(job->name, "full-1"), "%s %s",
           job->dir, job->name);
  TU_CHECK(!strcmp(job->output, "/srv/study/jobs/results.nc"), "%s", job->output);
  TU_CHECK(job->n_subjects == 2 && !strcmp(job->subjects[0].responses, "/data/s1.nc") &&
               !strcmp(job->subjects[1].responses, "/srv/study/jobs/sub dir/s2.nc"),
           "responses");
  TU_CHECK(job->subjects[0].line == 4 && job->subjects[1].line == 5, "subject lines");
  const cfg_variant *v = job->variants;
  TU_CHECK(job->n_variants == 2 && v[0].layer == 2 && !strcmp(v[0].model, "clip-vit-b16") &&
               v[0].line == 7, "variant 0");
  TU_CHECK(v[1].layer == -1 && !strcmp(v[1].variable, "features") && !v[1].model[0] &&
               v[1].tower == CFG_TOWER_LINGUAL && v[1].training == CFG_TRAIN_UNIMODAL &&
               !strcmp(v[1].features, "/srv/study/jobs/g.nc"), "variant 1 defaults");
  TU_CHECK(job->n_rois == 2 && !strcmp(job->rois[0], "V1") && !strcmp(job->rois[1], "FFA"),
           "rois");
  const cfg_split *s = &job->split;
  TU_CHECK(!s->from_file && s->train_start == 0 && s->train_count == 100 &&
               s->test_start == 100 && s->test_count == 20, "split");
  check_full_ridge(&job->ridge);
  TU_CHECK(job->n_pairs == 1 && job->pairs[0].ia == 0 && job->pairs[0].ib == 1, "pairs");
  check_full_sweep(job);
  cfg_job_destroy(&job);
}

/* Small valid variants: defaults, a job file without a folder, rules that
 * pass. */
static void test_good_small(void) {
  cfg_job *job = NULL;
  TU_OK(cfg_job_parse("t.yml", MINI, &job));
  if (job) {
    TU_CHECK(!strcmp(job->dir, ".") && !strcmp(job->name, "t") &&
                 !strcmp(job->output, "out.nc"), "%s %s %s", job->dir, job->name,
             job->output);
    TU_CHECK(job->n_pairs == 0 && job->pairs == NULL, "no pairs");
  }
  cfg_job_destroy(&job);
  TU_OK(parse(MINI "  cv: {scheme: leave-one-run-out}\n"));
  TU_OK(parse(MINI "  cv: {seed: 3, scheme: shuffled}\n"));
  TU_OK(parse(HEAD "ridge:\n  lambdas: {logspace: [3, 3, 1]}\n"));
  TU_OK(parse(MINI "sweep:\n  ridge.cv: [{scheme: kfold, folds: 3}, "
                   "{scheme: leave-one-run-out}]\n"));
  TU_OK(parse(MINI "sweep:\n  ridge.cv.scheme: [kfold, leave-one-run-out]\n"
                   "  ridge.standardize.per_run: [false, true]\n"));
  TU_OK(parse(MINI "rois: all\nsplit: file\n"));
  /* score: neg_mse (himalaya's default l2_neg_loss), as a setting and swept */
  TU_OK(cfg_job_parse("t.yml", MINI "  score: neg_mse\nsweep:\n  ridge.score: [r, r2, neg_mse]\n",
                      &job));
  if (job) {
    const cfg_sweep_axis *a = &job->sweep[0];
    TU_CHECK(job->ridge.score == CFG_SCORE_NEG_MSE, "score %d", job->ridge.score);
    TU_CHECK(job->n_sweep == 1 && a->n_values == 3 && a->values[0].score == CFG_SCORE_R &&
                 a->values[1].score == CFG_SCORE_R2 && a->values[2].score == CFG_SCORE_NEG_MSE &&
                 !strcmp(a->labels[2], "neg_mse"),
             "swept scores");
  }
  cfg_job_destroy(&job);
  cfg_job_destroy(&job); /* NULL pointer */
  cfg_job_destroy(NULL);
  TU_CHECK(!strcmp(cfg_cv_name(CFG_CV_LEAVE_ONE_RUN_OUT), "leave-one-run-out") &&
               !strcmp(cfg_std_name(CFG_STD_CENTER), "center") &&
               !strcmp(cfg_tower_name(CFG_TOWER_LINGUAL), "lingual") &&
               !strcmp(cfg_training_name(CFG_TRAIN_UNIMODAL), "unimodal"), "names");
}

static void test_bad_files(void) {
  cfg_job *job = NULL;
  TU_FAILS_WITH(cfg_job_load("no/such/job.yaml", &job), VF_E_INPUT,
                "no/such/job.yaml: cannot read job file: No such file or directory");
  TU_CHECK(job == NULL, "no job");
  TU_FAILS_WITH(cfg_job_load("jobs", &job), VF_E_INPUT, "jobs: cannot read job file: ");
  BAD("output: x\n  bad: 1\n", "jobs/t.yaml:2:6: invalid YAML: mapping values are not "
                               "allowed in this context");
  BAD(MINI "pairs: [[a, b]\n", "jobs/t.yaml:10:1: invalid YAML: did not find expected ',' "
                              "or ']' (while parsing a flow sequence at line 9)");
  BAD("output: \xff\n", "jobs/t.yaml:1:9: invalid YAML: invalid leading UTF-8 octet");
  BAD("", "jobs/t.yaml:1:1: the job file is empty");
  BAD(MINI "---\noutput: x\n", "jobs/t.yaml:9:1: a job file holds one YAML document");
  BAD("- output\n", "jobs/t.yaml:1:1: expected a mapping of job settings");
}

static void test_bad_keys(void) {
  BAD(MINI "  lamdas: [1]\n", "jobs/t.yaml:9:3: ridge.lamdas: unknown key; did you "
                             "mean 'lambdas'?");
  BAD(MINI "outptu: x\n", "jobs/t.yaml:9:1: outptu: unknown key; did you mean 'output'?");
  BAD(MINI "  cv: {scheme: kfold, fold: 3}\n",
      "jobs/t.yaml:9:23: ridge.cv.fold: unknown key; did you mean 'folds'?");
  BAD(MINI "  zzz: 1\n", "ridge.zzz: unknown key; expected one of: lambdas, cv, score");
  BAD(MINI "  lambdas: [2]\n", "jobs/t.yaml:9:3: ridge.lambdas: duplicate key (first "
                              "given at line 8); keep one");
  BAD("subjects: []\n", "jobs/t.yaml:1:1: missing required key 'output'");
  BAD(HEAD, "jobs/t.yaml:1:1: missing required key 'ridge'");
  BAD(HEAD "ridge: {score: r}\n", "jobs/t.yaml:7:8: ridge: missing required key 'lambdas'");
  BAD("output: o\nsubjects: [{id: s}]\n", "jobs/t.yaml:2:12: subjects[0]: missing "
                                         "required key 'responses'");
  BAD("output: o\nsubjects: [{id: s, responses: r}]\nvariants:\n"
      "  - {id: a, features: f, training: unimodal}\n",
      "jobs/t.yaml:4:5: variants[0]: missing required key 'tower'");
}

static void test_bad_types(void) {
  BAD("output: [a, b]\n", "jobs/t.yaml:1:9: output: expected a string, got a list");
  BAD("output:\n", "output: expected a string, got an empty value");
  BAD(MINI "  cv: {folds: 2.5}\n", "jobs/t.yaml:9:15: ridge.cv.folds: expected an "
                                  "integer, got '2.5'");
  BAD(MINI "  cv: {folds: \"5\"}\n", "ridge.cv.folds: expected an integer, got the "
                                    "quoted string \"5\"; remove the quotes");
  BAD(MINI "  save_weights: yes\n", "ridge.save_weights: expected true or false, got 'yes'");
  BAD(MINI "  delays: 0\n", "ridge.delays: expected a list of delays in TRs");
  BAD(MINI "  standardize: zscore\n", "ridge.standardize: expected a mapping like");
  BAD(MINI "rois: V1\n", "jobs/t.yaml:9:7: rois: expected 'all' or a list of ROI names, "
                        "got 'V1'");
  BAD(MINI "subjects: {id: s}\n", "duplicate key");
  BAD("output: o\nsubjects: {id: s}\n", "jobs/t.yaml:2:11: subjects: expected a list of");
}

static void test_bad_values(void) {
  BAD("output: o\nsubjects: []\n", "jobs/t.yaml:2:11: subjects: must not be empty");
  BAD("output: o\nsubjects:\n  - {id: s1, responses: a}\n  - {id: s1, responses: b}\n",
      "jobs/t.yaml:4:10: subjects[1].id: duplicate subject id 's1' (also subjects[0] at "
      "line 3)");
  BAD("output: o\nsubjects:\n  - {id: s1, responses: a}\n  - {id: s2, responses: ./../a}\n"
      "  - {id: s3, responses: a}\n",
      "jobs/t.yaml:5:25: subjects[2].responses: same responses file as subjects[0] at "
      "line 3; each subject needs its own");
  BAD("output: o\nsubjects: [{id: 'sub 1', responses: r}]\n",
      "subjects[0].id: 'sub 1' is not a valid id");
  BAD(HEAD "  - {id: a, features: g.nc, tower: visual, training: unimodal}\n",
      "jobs/t.yaml:7:10: variants[2].id: duplicate variant id 'a' (also variants[0] at "
      "line 5)");
  BAD(HEAD "  - {id: c, features: f.nc, tower: visual, training: unimodal}\n",
      "jobs/t.yaml:7:5: variants[2]: reads the same features and variable ('features') "
      "as variants[0]");
  BAD("output: o\nsubjects: [{id: s, responses: r}]\nvariants:\n"
      "  - {id: a, features: f, tower: visul, training: unimodal}\n",
      "jobs/t.yaml:4:33: variants[0].tower: 'visul' is not one of: visual, lingual; did "
      "you mean 'visual'?");
  BAD("output: o\nsubjects: [{id: s, responses: r}]\nvariants:\n"
      "  - {id: a, features: f, tower: visual, training: both}\n",
      "variants[0].training: 'both' is not one of: multimodal, unimodal");
  BAD("output: o\nsubjects: [{id: s, responses: r}]\nvariants:\n"
      "  - {id: a, features: f, tower: visual, training: unimodal, layer: -1}\n",
      "variants[0].layer: must be at least 0, got -1");
  BAD(MINI "  score: R\n", "ridge.score: 'R' is not one of: r, r2, neg_mse; did you mean 'r'?");
  BAD(MINI "  score: mse\n", "jobs/t.yaml:9:10: ridge.score: 'mse' is not one of: r, r2, "
                             "neg_mse");
  BAD(MINI "sweep:\n  ridge.score: [r, neg-mse]\n", "jobs/t.yaml:10:20: sweep.ridge.score[1]: "
      "'neg-mse' is not one of: r, r2, neg_mse; did you mean 'neg_mse'?");
  BAD(MINI "  cv: {scheme: kfodl}\n", "ridge.cv.scheme: 'kfodl' is not one of: kfold, "
                                     "leave-one-run-out, shuffled; did you mean 'kfold'?");
  BAD(MINI "  standardize: {features: zscored}\n",
      "ridge.standardize.features: 'zscored' is not one of: none, center, zscore; did "
      "you mean 'zscore'?");
  BAD(MINI "  precision: half\n", "ridge.precision: 'half' is not one of: double, single");
  BAD(MINI "  cv_method: heldout\n", "ridge.cv_method: 'heldout' is not one of: auto, "
                                     "per_fold, held_out; did you mean 'held_out'?");
  BAD(MINI "rois: [V1, V2, V1]\n", "jobs/t.yaml:9:16: rois[2]: duplicate ROI 'V1'");
  BAD(MINI "rois: []\n", "rois: must not be empty");
  BAD(MINI "split: {train: [0, 100], test: [50, 10]}\n",
      "jobs/t.yaml:9:32: split.test: stimuli [50, 60) overlap the training stimuli "
      "[0, 100)");
  BAD(MINI "split: {train: [0, 0], test: [50, 10]}\n",
      "split.train[1]: must be at least 1, got 0");
  BAD(MINI "split: {train: [0, 10]}\n", "jobs/t.yaml:9:8: split: missing required key 'test'");
  BAD(MINI "split: {train: [0, 10, 3], test: [50, 10]}\n",
      "split.train: expected [start, count] (stimulus indices), got 3 items");
}

static void test_bad_ridge(void) {
  BAD(HEAD "ridge:\n  lambdas: [1, -3]\n",
      "jobs/t.yaml:8:16: ridge.lambdas[1]: a lambda must be positive (> 0), got -3");
  BAD(HEAD "ridge:\n  lambdas: [1, 0]\n", "ridge.lambdas[1]: a lambda must be positive");
  BAD(HEAD "ridge:\n  lambdas: [1, .inf]\n",
      "ridge.lambdas[1]: must be a finite number, got '.inf'");
  BAD(HEAD "ridge:\n  lambdas: [1, 1e999]\n", "must be a finite number, got '1e999'");
  BAD(HEAD "ridge:\n  lambdas: [1, ten]\n", "ridge.lambdas[1]: expected a number, got 'ten'");
  BAD(HEAD "ridge:\n  lambdas: [10, 1, 10.0]\n",
      "ridge.lambdas[2]: duplicate of ridge.lambdas[0] (10); list each value once");
  BAD(HEAD "ridge:\n  lambdas: []\n", "ridge.lambdas: must not be empty");
  BAD(HEAD "ridge:\n  lambdas: 1\n", "ridge.lambdas: expected a list of positive numbers "
                                    "or {logspace: [lo, hi, n]}, got '1'");
  BAD(HEAD "ridge:\n  lambdas: {logspace: [6, -2, 20]}\n",
      "jobs/t.yaml:8:23: ridge.lambdas.logspace: lo (6) must be below hi (-2)");
  BAD(HEAD "ridge:\n  lambdas: {logspace: [-2, 6]}\n",
      "ridge.lambdas.logspace: expected [lo, hi, n] (exponents of 10 and a count), got 2 "
      "items");
  BAD(HEAD "ridge:\n  lambdas: {logspace: [-2, 6, 0]}\n",
      "ridge.lambdas.logspace[2]: must be at least 1, got 0");
  BAD(HEAD "ridge:\n  lambdas: {logspace: [-2, 6, 2.5]}\n",
      "ridge.lambdas.logspace[2]: expected an integer, got '2.5'");
  BAD(HEAD "ridge:\n  lambdas: {logspace: [-2, 400, 3]}\n",
      "ridge.lambdas.logspace: 10^400 is not a usable lambda; keep the exponents within [-300, 300]");
  BAD(HEAD "ridge:\n  lambdas: {logspac: [-2, 6, 3]}\n",
      "ridge.lambdas.logspac: unknown key; did you mean 'logspace'?");
  BAD(MINI "  cv: {scheme: kfold, folds: 1}\n",
      "jobs/t.yaml:9:30: ridge.cv.folds: must be at least 2, got 1");
  BAD(MINI "  cv: {scheme: leave-one-run-out, folds: 5}\n",
      "jobs/t.yaml:9:42: ridge.cv.folds: scheme leave-one-run-out makes one fold per run "
      "and takes no 'folds'; remove it");
  BAD(MINI "  cv: {seed: 1}\n",
      "jobs/t.yaml:9:14: ridge.cv.seed: 'seed' applies only to scheme shuffled; remove it");
  BAD(MINI "  delays: [1, 2, 1]\n",
      "jobs/t.yaml:9:18: ridge.delays[2]: duplicate delay 1; list each lag once");
  BAD(MINI "  delays: [0, -1]\n", "ridge.delays[1]: must be at least 0, got -1");
  BAD(MINI "  delays: [0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,"
           "25,26,27,28,29,30,31,32]\n", "ridge.delays: at most 32 delays, got 33");
}

static void test_bad_pairs(void) {
  BAD(MINI "pairs:\n  - [a, c]\n",
      "jobs/t.yaml:10:9: pairs[0][1]: 'c' is not a declared variant id");
  BAD(MINI "pairs:\n  - [a, bb]\n",
      "pairs[0][1]: 'bb' is not a declared variant id; did you mean 'b'?");
  BAD(MINI "pairs:\n  - [a, a]\n",
      "jobs/t.yaml:10:5: pairs[0]: compares 'a' with itself; name two different variants");
  BAD(MINI "pairs:\n  - [a, b]\n  - [b, a]\n",
      "jobs/t.yaml:11:5: pairs[1]: compares the same variants as pairs[0]");
  BAD(MINI "pairs:\n  - [a, b, a]\n",
      "pairs[0]: expected a pair [variant_a, variant_b], got 3 items");
  BAD(MINI "pairs: [a, b]\n", "jobs/t.yaml:9:9: pairs[0]: expected a pair [variant_a, "
                             "variant_b], got 'a'");
}

static void test_bad_sweep(void) {
  BAD(MINI "sweep:\n  ridge.lamdas: [[1]]\n",
      "jobs/t.yaml:10:3: sweep.ridge.lamdas: unknown sweep key; did you mean "
      "'ridge.lambdas'?");
  BAD(MINI "sweep:\n  ridge.folds: [5]\n", "sweep.ridge.folds: unknown sweep key; did you "
                                          "mean 'ridge.cv.folds'?");
  BAD(MINI "sweep:\n  ridge.save_weights: [true, false]\n",
      "sweep.ridge.save_weights: unknown sweep key; expected one of: ridge.lambdas, ");
  BAD(MINI "sweep:\n  ridge.cv.folds: [5, 1]\n",
      "jobs/t.yaml:10:23: sweep.ridge.cv.folds[1]: must be at least 2, got 1");
  BAD(MINI "sweep:\n  ridge.delays: [[0], [1, 1]]\n",
      "jobs/t.yaml:10:27: sweep.ridge.delays[1][1]: duplicate delay 1");
  BAD(MINI "sweep:\n  ridge.delays: [0, 1]\n",
      "sweep.ridge.delays[0]: expected a list of delays in TRs");
  BAD(MINI "sweep:\n  ridge.lambdas: [{logspace: [1, 2, 3]}, {logspace: [1, 2]}]\n",
      "sweep.ridge.lambdas[1].logspace: expected [lo, hi, n]");
  BAD(MINI "sweep:\n  ridge.cv.folds: 5\n",
      "jobs/t.yaml:10:19: sweep.ridge.cv.folds: expected a list of values to try");
  BAD(MINI "sweep:\n  ridge.cv.folds: []\n", "sweep.ridge.cv.folds: must not be empty");
  BAD(MINI "sweep: {}\n", "jobs/t.yaml:9:8: sweep: must not be empty");
  BAD(MINI "sweep:\n  ridge.cv.folds: [5, 10, 5]\n",
      "sweep.ridge.cv.folds[2]: same value as sweep.ridge.cv.folds[0]");
  BAD(MINI "  cv: {folds: 5}\nsweep:\n  ridge.cv.scheme: [kfold, leave-one-run-out]\n",
      "jobs/t.yaml:11:28: sweep.ridge.cv.scheme[1]: scheme leave-one-run-out makes one "
      "fold per run and takes no 'folds', but ridge.cv.folds is set at line 9");
  BAD(MINI "  cv: {scheme: leave-one-run-out}\nsweep:\n  ridge.cv.folds: [5]\n",
      "sweep.ridge.cv.folds[0]: scheme leave-one-run-out makes one fold per run");
  BAD(MINI "sweep:\n  ridge.cv: [{scheme: leave-one-run-out, folds: 3}]\n",
      "jobs/t.yaml:10:14: sweep.ridge.cv[0]: scheme leave-one-run-out makes one fold");
  BAD(MINI "sweep:\n  ridge.cv.scheme: [kfold, leave-one-run-out]\n"
           "  ridge.cv.folds: [5, 10]\n",
      "jobs/t.yaml:11:20: sweep.ridge.cv.folds[0]: combined with "
      "sweep.ridge.cv.scheme[1] (line 10): scheme leave-one-run-out");
  BAD(MINI "sweep:\n  ridge.cv: [{folds: 3}]\n  ridge.cv.folds: [5, 10]\n",
      "jobs/t.yaml:11:3: sweep.ridge.cv.folds: overlaps the axis 'ridge.cv' (line 10)");
  BAD(MINI "sweep:\n  ridge.score: [r]\n  ridge.score: [r2]\n",
      "sweep.ridge.score: duplicate key (first given at line 10)");
}

/* stats: defaults, values, and errors that name the key. */
static void test_stats(void) {
  cfg_job *job = NULL;
  TU_OK(cfg_job_parse("jobs/t.yaml", MINI, &job));
  if (job)
    TU_CHECK(job->stats.permutations == 1000 && job->stats.block_length == 1 &&
             job->stats.alpha == 0.05 && job->stats.top_k == 50 && !job->stats.group &&
             !job->stats.save_predictions, "stats defaults");
  cfg_job_destroy(&job);
  TU_OK(cfg_job_parse("jobs/t.yaml", MINI "stats: {permutations: 0, block_length: 10, "
                      "alpha: 0.01, group: true, save_predictions: true}\n", &job));
  if (job)
    TU_CHECK(job->stats.permutations == 0 && job->stats.block_length == 10 &&
             job->stats.alpha == 0.01 && job->stats.group && job->stats.save_predictions,
             "stats values");
  cfg_job_destroy(&job);
  BAD(MINI "stats: {alpha: 1.5}\n", "stats.alpha: must be between 0 and 1, got 1.5");
  BAD(MINI "stats: {permutations: -1}\n", "stats.permutations: must be at least 0");
  BAD(MINI "stats: {block_length: 0}\n", "stats.block_length: must be at least 1");
  BAD(MINI "stats: {permutation: 10}\n", "stats.permutation: unknown key; did you mean "
                                          "'permutations'?");
  BAD(MINI "stats: {group: yes please}\n", "stats.group: expected true or false");
}

int main(int argc, char **argv) {
  la_blas_setup(argv); /* the kernels voxfit runs */
  MPI_Init(&argc, &argv);
  test_stats();
  test_demo();
  test_full();
  test_good_small();
  test_bad_files();
  test_bad_keys();
  test_bad_types();
  test_bad_values();
  test_bad_ridge();
  test_bad_pairs();
  test_bad_sweep();
  return tu_finish("config");
}
