/* The job file: read, parse with libyaml's document API, validate into a
 * cfg_job. The ridge and sweep sections are in ridge.c, the typed node
 * reads in yamltree.c. */
#include "yamltree.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A job file is a few kilobytes; this only stops a wrong argument (a data
 * file, say) from being read whole. */
#define MAX_JOB_BYTES (16L << 20)

static const char *const tower_names[] = {"visual", "lingual", NULL};
static const char *const training_names[] = {"multimodal", "unimodal", NULL};

const char *cfg_tower_name(cfg_tower t) {
  return (unsigned)t < 2 ? tower_names[t] : "?";
}

const char *cfg_training_name(cfg_training t) {
  return (unsigned)t < 2 ? training_names[t] : "?";
}

/* ---- file names ---- */

static void set_dir_and_name(cfg_job *job, const char *path) {
  snprintf(job->path, sizeof job->path, "%s", path);
  const char *slash = strrchr(path, '/');
  if (!slash) snprintf(job->dir, sizeof job->dir, ".");
  else if (slash == path) snprintf(job->dir, sizeof job->dir, "/");
  else snprintf(job->dir, sizeof job->dir, "%.*s", (int)(slash - path), path);
  const char *base = slash ? slash + 1 : path;
  const char *dot = strrchr(base, '.');
  int len = dot && dot != base ? (int)(dot - base) : (int)strlen(base);
  snprintf(job->name, sizeof job->name, "%.*s", len, base);
}

/* Relative paths in a job file are relative to the file, so a job runs the
 * same from any working directory. */
static vf_status read_path(const yt_doc *d, const cfg_job *job, yaml_node_t *n,
                           const char *path, char out[CFG_PATH_LEN]) {
  char raw[CFG_PATH_LEN];
  VF_CALL(yt_str(d, n, path, raw, sizeof raw));
  int len;
  if (raw[0] == '/' || !strcmp(job->dir, "."))
    len = snprintf(out, CFG_PATH_LEN, "%s", raw);
  else
    len = snprintf(out, CFG_PATH_LEN, "%s%s%s", job->dir,
                   strcmp(job->dir, "/") ? "/" : "", raw);
  if (len < 0 || len >= CFG_PATH_LEN)
    return yt_bad(d, n, path, "the path resolved against '%s' is too long "
                  "(at most %d characters)", job->dir, CFG_PATH_LEN - 1);
  return VF_OK;
}

/* ---- subjects and variants ---- */

static const char *const subject_keys[] = {"id", "responses", NULL};

static vf_status parse_subject(const yt_doc *d, const cfg_job *job, yaml_node_t *n,
                               const char *path, cfg_subject *s) {
  yaml_node_t *v;
  VF_CALL(yt_check_map(d, n, path, subject_keys, "a mapping {id: ..., responses: ...}"));
  VF_CALL(yt_need(d, n, path, "id", &v));
  VF_CALL(yt_id(d, v, yt_key(path, "id").s, s->id, sizeof s->id));
  VF_CALL(yt_need(d, n, path, "responses", &v));
  VF_CALL(read_path(d, job, v, yt_key(path, "responses").s, s->responses));
  s->line = yt_line(n);
  return VF_OK;
}

/* A responses file holds one subject, so a repeated file is a copy-paste
 * slip that would fit one subject twice. */
static vf_status check_subject_unique(const yt_doc *d, const cfg_job *job, int i,
                                      yaml_node_t *item, const char *path) {
  const cfg_subject *s = &job->subjects[i];
  for (int j = 0; j < i; j++) {
    const cfg_subject *t = &job->subjects[j];
    if (!strcmp(t->id, s->id))
      return yt_bad(d, yt_get(d, item, "id"), yt_key(path, "id").s,
                    "duplicate subject id '%s' (also subjects[%d] at line %d)", s->id,
                    j, t->line);
    if (!strcmp(t->responses, s->responses))
      return yt_bad(d, yt_get(d, item, "responses"), yt_key(path, "responses").s,
                    "same responses file as subjects[%d] at line %d; each subject "
                    "needs its own", j, t->line);
  }
  return VF_OK;
}

static vf_status parse_subjects(const yt_doc *d, yaml_node_t *root, cfg_job *job) {
  yaml_node_t *seq;
  int m = 0;
  VF_CALL(yt_need(d, root, "", "subjects", &seq));
  VF_CALL(yt_seq(d, seq, "subjects", "a list of {id: ..., responses: ...}", 1, &m));
  VF_CALL(vf_calloc((size_t)m, sizeof *job->subjects, "subjects", &job->subjects));
  job->n_subjects = m;
  for (int i = 0; i < m; i++) {
    yaml_node_t *item = yt_item(d, seq, i);
    yt_path p = yt_at("subjects", i);
    VF_CALL(parse_subject(d, job, item, p.s, &job->subjects[i]));
    VF_CALL(check_subject_unique(d, job, i, item, p.s));
  }
  return VF_OK;
}

static const char *const variant_keys[] = {"id",    "features", "variable", "model",
                                           "layer", "tower",    "training", NULL};

static vf_status parse_variant_optional(const yt_doc *d, yaml_node_t *n,
                                        const char *path, cfg_variant *v) {
  yaml_node_t *x;
  snprintf(v->variable, sizeof v->variable, "features");
  v->layer = -1;
  if ((x = yt_get(d, n, "variable")))
    VF_CALL(yt_str(d, x, yt_key(path, "variable").s, v->variable, sizeof v->variable));
  if ((x = yt_get(d, n, "model")))
    VF_CALL(yt_str(d, x, yt_key(path, "model").s, v->model, sizeof v->model));
  if ((x = yt_get(d, n, "layer")))
    VF_CALL(yt_int(d, x, yt_key(path, "layer").s, 0, 1 << 30, &v->layer));
  return VF_OK;
}

static vf_status parse_variant(const yt_doc *d, const cfg_job *job, yaml_node_t *n,
                               const char *path, cfg_variant *v) {
  yaml_node_t *x;
  int e = 0;
  VF_CALL(yt_check_map(d, n, path, variant_keys,
                       "a mapping {id, features, tower, training, ...}"));
  VF_CALL(yt_need(d, n, path, "id", &x));
  VF_CALL(yt_id(d, x, yt_key(path, "id").s, v->id, sizeof v->id));
  VF_CALL(yt_need(d, n, path, "features", &x));
  VF_CALL(read_path(d, job, x, yt_key(path, "features").s, v->features));
  VF_CALL(yt_need(d, n, path, "tower", &x));
  VF_CALL(yt_enum(d, x, yt_key(path, "tower").s, tower_names, &e));
  v->tower = (cfg_tower)e;
  VF_CALL(yt_need(d, n, path, "training", &x));
  VF_CALL(yt_enum(d, x, yt_key(path, "training").s, training_names, &e));
  v->training = (cfg_training)e;
  VF_CALL(parse_variant_optional(d, n, path, v));
  v->line = yt_line(n);
  return VF_OK;
}

/* Two variants reading the same matrix would fit the same model twice. */
static vf_status check_variant_unique(const yt_doc *d, const cfg_job *job, int i,
                                      yaml_node_t *item, const char *path) {
  const cfg_variant *v = &job->variants[i];
  for (int j = 0; j < i; j++) {
    const cfg_variant *w = &job->variants[j];
    if (!strcmp(w->id, v->id))
      return yt_bad(d, yt_get(d, item, "id"), yt_key(path, "id").s,
                    "duplicate variant id '%s' (also variants[%d] at line %d)",
                    v->id, j, w->line);
    if (!strcmp(w->features, v->features) && !strcmp(w->variable, v->variable))
      return yt_bad(d, item, path, "reads the same features and variable ('%s') "
                    "as variants[%d] at line %d; each variant needs its own data",
                    v->variable, j, w->line);
  }
  return VF_OK;
}

static vf_status parse_variants(const yt_doc *d, yaml_node_t *root, cfg_job *job) {
  yaml_node_t *seq;
  int m = 0;
  VF_CALL(yt_need(d, root, "", "variants", &seq));
  VF_CALL(yt_seq(d, seq, "variants", "a list of {id, features, tower, training, ...}",
                 1, &m));
  VF_CALL(vf_calloc((size_t)m, sizeof *job->variants, "variants", &job->variants));
  job->n_variants = m;
  for (int i = 0; i < m; i++) {
    yaml_node_t *item = yt_item(d, seq, i);
    yt_path p = yt_at("variants", i);
    VF_CALL(parse_variant(d, job, item, p.s, &job->variants[i]));
    VF_CALL(check_variant_unique(d, job, i, item, p.s));
  }
  return VF_OK;
}

/* ---- rois, split ---- */

static vf_status parse_rois(const yt_doc *d, yaml_node_t *root, cfg_job *job) {
  yaml_node_t *n = yt_get(d, root, "rois");
  int m = 0;
  if (!n || (n->type == YAML_SCALAR_NODE && !strcmp(yt_text(n), "all")))
    return VF_OK;
  if (n->type != YAML_SEQUENCE_NODE)
    return yt_expected(d, n, "rois", "'all' or a list of ROI names");
  VF_CALL(yt_seq(d, n, "rois", "'all' or a list of ROI names", 1, &m));
  VF_CALL(vf_calloc((size_t)m, sizeof *job->rois, "ROI names", &job->rois));
  for (int i = 0; i < m; i++) {
    yaml_node_t *item = yt_item(d, n, i);
    yt_path p = yt_at("rois", i);
    char name[CFG_ID_LEN];
    VF_CALL(yt_str(d, item, p.s, name, sizeof name));
    for (int j = 0; j < i; j++)
      if (!strcmp(job->rois[j], name))
        return yt_bad(d, item, p.s, "duplicate ROI '%s' (also rois[%d])", name, j);
    VF_CALL(yt_strdup(name, &job->rois[i]));
    job->n_rois = i + 1;
  }
  return VF_OK;
}

static vf_status parse_range(const yt_doc *d, yaml_node_t *split, const char *key,
                             long *start, long *count) {
  yaml_node_t *n;
  yt_path p = yt_key("split", key);
  int m = 0;
  VF_CALL(yt_need(d, split, "split", key, &n));
  VF_CALL(yt_seq(d, n, p.s, "[start, count] (stimulus indices)", 2, &m));
  if (m != 2)
    return yt_bad(d, n, p.s, "expected [start, count] (stimulus indices), got %d "
                  "items", m);
  VF_CALL(yt_long(d, yt_item(d, n, 0), yt_at(p.s, 0).s, 0, 1L << 40, start));
  VF_CALL(yt_long(d, yt_item(d, n, 1), yt_at(p.s, 1).s, 1, 1L << 40, count));
  return VF_OK;
}

static const char *const split_keys[] = {"train", "test", NULL};

static vf_status parse_split(const yt_doc *d, yaml_node_t *root, cfg_job *job) {
  yaml_node_t *n = yt_get(d, root, "split");
  cfg_split *s = &job->split;
  s->from_file = 1;
  if (!n || (n->type == YAML_SCALAR_NODE && !strcmp(yt_text(n), "file")))
    return VF_OK;
  VF_CALL(yt_check_map(d, n, "split", split_keys,
                       "'file' or {train: [start, count], test: [start, count]}"));
  VF_CALL(parse_range(d, n, "train", &s->train_start, &s->train_count));
  VF_CALL(parse_range(d, n, "test", &s->test_start, &s->test_count));
  s->from_file = 0;
  if (s->train_start < s->test_start + s->test_count &&
      s->test_start < s->train_start + s->train_count)
    return yt_bad(d, yt_get(d, n, "test"), "split.test",
                  "stimuli [%ld, %ld) overlap the training stimuli [%ld, %ld); "
                  "training and test sets must be disjoint",
                  s->test_start, s->test_start + s->test_count, s->train_start,
                  s->train_start + s->train_count);
  return VF_OK;
}

/* ---- pairs ---- */

static int variant_index(const cfg_job *job, const char *id) {
  for (int i = 0; i < job->n_variants; i++)
    if (!strcmp(job->variants[i].id, id)) return i;
  return -1;
}

static vf_status pair_side(const yt_doc *d, const cfg_job *job, yaml_node_t *n,
                           const char *path, char *id, int *index) {
  VF_CALL(yt_str(d, n, path, id, CFG_ID_LEN));
  *index = variant_index(job, id);
  if (*index >= 0) return VF_OK;
  const char *near = NULL;
  int best = 1 << 30;
  for (int i = 0; i < job->n_variants; i++) {
    int dist = vf_edit_distance(id, job->variants[i].id);
    if (dist < best) best = dist, near = job->variants[i].id;
  }
  if (near && best <= 2)
    return yt_bad(d, n, path, "'%s' is not a declared variant id; did you mean "
                  "'%s'?", id, near);
  return yt_bad(d, n, path, "'%s' is not a declared variant id (see variants)", id);
}

static vf_status parse_pair(const yt_doc *d, const cfg_job *job, yaml_node_t *n,
                            const char *path, cfg_pair *pr) {
  int m = 0;
  VF_CALL(yt_seq(d, n, path, "a pair [variant_a, variant_b]", 2, &m));
  if (m != 2)
    return yt_bad(d, n, path, "expected a pair [variant_a, variant_b], got %d items", m);
  VF_CALL(pair_side(d, job, yt_item(d, n, 0), yt_at(path, 0).s, pr->a, &pr->ia));
  VF_CALL(pair_side(d, job, yt_item(d, n, 1), yt_at(path, 1).s, pr->b, &pr->ib));
  if (pr->ia == pr->ib)
    return yt_bad(d, n, path, "compares '%s' with itself; name two different variants",
                  pr->a);
  return VF_OK;
}

static vf_status parse_pairs(const yt_doc *d, yaml_node_t *root, cfg_job *job) {
  yaml_node_t *seq = yt_get(d, root, "pairs");
  int m = 0;
  if (!seq) return VF_OK;
  VF_CALL(yt_seq(d, seq, "pairs", "a list of pairs [variant_a, variant_b]", 1, &m));
  VF_CALL(vf_calloc((size_t)m, sizeof *job->pairs, "pairs", &job->pairs));
  job->n_pairs = m;
  for (int i = 0; i < m; i++) {
    yaml_node_t *item = yt_item(d, seq, i);
    yt_path p = yt_at("pairs", i);
    cfg_pair *pr = &job->pairs[i];
    VF_CALL(parse_pair(d, job, item, p.s, pr));
    for (int j = 0; j < i; j++) {
      const cfg_pair *q = &job->pairs[j];
      if ((q->ia == pr->ia && q->ib == pr->ib) || (q->ia == pr->ib && q->ib == pr->ia))
        return yt_bad(d, item, p.s, "compares the same variants as pairs[%d]; "
                      "list each pair once", j);
    }
  }
  return VF_OK;
}

/* ---- the whole job ---- */

/* ---- stats ---- */

static const char *const stats_keys[] = {"permutations", "block_length", "seed", "alpha",
                                         "ev_threshold", "top_k", "group",
                                         "save_predictions", NULL};

static vf_status parse_stats(const yt_doc *d, yaml_node_t *root, cfg_job *job) {
  cfg_stats *s = &job->stats;
  *s = (cfg_stats){1000, 1, 1, 0.05, 0.1, 50, 0, 0};
  yaml_node_t *m = yt_get(d, root, "stats"), *n;
  if (!m) return VF_OK;
  VF_CALL(yt_check_map(d, m, "stats", stats_keys, "a mapping of test statistics settings"));
  long seed = 1;
  if ((n = yt_get(d, m, "permutations")))
    VF_CALL(yt_int(d, n, "stats.permutations", 0, 1000000, &s->permutations));
  if ((n = yt_get(d, m, "block_length")))
    VF_CALL(yt_int(d, n, "stats.block_length", 1, 1000000, &s->block_length));
  if ((n = yt_get(d, m, "seed"))) VF_CALL(yt_long(d, n, "stats.seed", 0, 1L << 62, &seed));
  s->seed = (unsigned long)seed;
  if ((n = yt_get(d, m, "alpha"))) {
    VF_CALL(yt_num(d, n, "stats.alpha", &s->alpha));
    if (!(s->alpha > 0 && s->alpha < 1))
      return yt_bad(d, n, "stats.alpha", "must be between 0 and 1, got %g", s->alpha);
  }
  if ((n = yt_get(d, m, "ev_threshold"))) {
    VF_CALL(yt_num(d, n, "stats.ev_threshold", &s->ev_threshold));
    if (!(s->ev_threshold >= 0 && s->ev_threshold < 1))
      return yt_bad(d, n, "stats.ev_threshold", "must be in [0, 1), got %g", s->ev_threshold);
  }
  if ((n = yt_get(d, m, "top_k"))) VF_CALL(yt_int(d, n, "stats.top_k", 1, 1 << 30, &s->top_k));
  if ((n = yt_get(d, m, "group"))) VF_CALL(yt_bool(d, n, "stats.group", &s->group));
  if ((n = yt_get(d, m, "save_predictions")))
    VF_CALL(yt_bool(d, n, "stats.save_predictions", &s->save_predictions));
  return VF_OK;
}

static const char *const top_keys[] = {"job",   "output", "subjects", "variants", "rois",
                                       "split", "ridge",  "stats",    "pairs",    "sweep",
                                       NULL};

static vf_status parse_job(const yt_doc *d, yaml_node_t *root, cfg_job *job) {
  yaml_node_t *n;
  VF_CALL(yt_check_map(d, root, "", top_keys,
                       "a mapping of job settings (output, subjects, variants, ridge)"));
  if ((n = yt_get(d, root, "job")))
    VF_CALL(yt_id(d, n, "job", job->name, sizeof job->name));
  VF_CALL(yt_need(d, root, "", "output", &n));
  VF_CALL(read_path(d, job, n, "output", job->output));
  VF_CALL(parse_subjects(d, root, job));
  VF_CALL(parse_variants(d, root, job));
  VF_CALL(parse_rois(d, root, job));
  VF_CALL(parse_split(d, root, job));
  VF_CALL(cfg_parse_ridge(d, root, job));
  VF_CALL(parse_stats(d, root, job));
  VF_CALL(parse_pairs(d, root, job));
  return VF_OK;
}

/* libyaml's reader errors carry a byte offset, not a line. */
static void offset_to_mark(const char *text, size_t offset, int *line, int *col) {
  *line = 1, *col = 1;
  for (size_t i = 0; i < offset && text[i]; i++) {
    if (text[i] == '\n') (*line)++, *col = 1;
    else (*col)++;
  }
}

static vf_status syntax_error(const char *file, const char *text,
                              const yaml_parser_t *p) {
  if (p->error == YAML_MEMORY_ERROR)
    return vf_error(VF_E_NOMEM, "%s: out of memory while parsing YAML", file);
  const char *problem = p->problem ? p->problem : "unknown error";
  if (p->error == YAML_READER_ERROR) {
    int line, col;
    offset_to_mark(text, p->problem_offset, &line, &col);
    return vf_error(VF_E_INPUT, "%s:%d:%d: invalid YAML: %s", file, line, col,
                    problem);
  }
  int line = (int)p->problem_mark.line + 1, col = (int)p->problem_mark.column + 1;
  if (p->context)
    return vf_error(VF_E_INPUT, "%s:%d:%d: invalid YAML: %s (%s at line %d)", file,
                    line, col, problem, p->context, (int)p->context_mark.line + 1);
  return vf_error(VF_E_INPUT, "%s:%d:%d: invalid YAML: %s", file, line, col, problem);
}

/* The first document, and a check that there is no second one. */
vf_status yt_load(const char *file, const char *text, const char *kind,
                  yaml_document_t *doc) {
  yaml_parser_t p;
  yaml_document_t extra;
  vf_status st = VF_OK;
  if (!yaml_parser_initialize(&p))
    return vf_error(VF_E_NOMEM, "%s: cannot start the YAML parser", file);
  yaml_parser_set_input_string(&p, (const unsigned char *)text, strlen(text));
  if (!yaml_parser_load(&p, doc)) {
    st = syntax_error(file, text, &p);
    yaml_parser_delete(&p);
    return st;
  }
  if (!yaml_parser_load(&p, &extra)) {
    st = syntax_error(file, text, &p);
  } else {
    yaml_node_t *root = yaml_document_get_root_node(&extra);
    if (root)
      st = vf_error(VF_E_INPUT, "%s:%d:%d: a %s holds one YAML document; "
                    "remove the second one (or the '---' line)", file,
                    (int)extra.start_mark.line + 1, (int)extra.start_mark.column + 1, kind);
    yaml_document_delete(&extra);
  }
  if (st) yaml_document_delete(doc);
  yaml_parser_delete(&p);
  return st;
}

static vf_status parse_text(const char *file, const char *text, cfg_job *job) {
  yaml_document_t doc;
  VF_CALL(yt_load(file, text, "job file", &doc));
  yt_doc d = {file, &doc};
  yaml_node_t *root = yaml_document_get_root_node(&doc);
  vf_status st = root ? parse_job(&d, root, job)
                      : vf_error(VF_E_INPUT, "%s:1:1: the job file is empty; it needs "
                                 "at least output, subjects, variants and ridge", file);
  yaml_document_delete(&doc);
  if (st) vf_trace_push(__FILE__, __LINE__, __func__);
  return st;
}

vf_status cfg_job_parse(const char *path, const char *text, cfg_job **out) {
  vf_status st;
  cfg_job *job = NULL;
  *out = NULL;
  if (!path || !text)
    return vf_error(VF_E_INTERNAL, "cfg_job_parse: NULL %s", path ? "text" : "path");
  if (strlen(path) >= CFG_PATH_LEN)
    return vf_error(VF_E_INPUT, "%.200s...: job file path is too long", path);
  VF_TRY(vf_calloc(1, sizeof *job, "job", &job));
  set_dir_and_name(job, path);
  VF_TRY(yt_strdup(text, &job->text));
  vf_hash_hex(text, strlen(text), job->hash);
  VF_TRY(parse_text(path, text, job));
  *out = job;
  return VF_OK;
fail:
  cfg_job_destroy(&job);
  return st;
}

/* Reads into a buffer that doubles as needed: the size of a pipe or of
 * /dev/stdin is not known up front. */
vf_status yt_read_file(const char *path, const char *kind, char **out) {
  vf_status st;
  size_t cap = 1 << 16, n = 0;
  char *buf = NULL;
  FILE *f = fopen(path, "rb");
  *out = NULL;
  if (!f) return vf_error(VF_E_INPUT, "%s: cannot read %s: %s", path, kind, strerror(errno));
  for (;;) {
    char *grown = realloc(buf, cap + 1);
    if (!grown) VF_FAIL(VF_E_NOMEM, "%s: cannot allocate %zu bytes for the job file", path, cap);
    buf = grown;
    n += fread(buf + n, 1, cap - n, f);
    if (ferror(f))
      VF_FAIL(VF_E_INPUT, "%s: cannot read %s: %s", path, kind, strerror(errno));
    if (n < cap || cap > (size_t)MAX_JOB_BYTES) break;
    cap *= 2;
  }
  if (n > (size_t)MAX_JOB_BYTES)
    VF_FAIL(VF_E_INPUT, "%s: %s is larger than %ld MiB; is it the right file?",
            path, kind, MAX_JOB_BYTES >> 20);
  if (memchr(buf, '\0', n))
    VF_FAIL(VF_E_INPUT, "%s: %s contains a NUL byte; is it a text file?", path, kind);
  buf[n] = '\0';
  fclose(f);
  *out = buf;
  return VF_OK;
fail:
  fclose(f);
  free(buf);
  return st;
}

vf_status cfg_job_read(const char *path, char **text) {
  return yt_read_file(path, "job file", text);
}

vf_status cfg_job_load(const char *path, cfg_job **out) {
  char *text = NULL;
  *out = NULL;
  if (!path) return vf_error(VF_E_INTERNAL, "cfg_job_load: NULL path");
  VF_CALL(yt_read_file(path, "job file", &text));
  vf_status st = cfg_job_parse(path, text, out);
  free(text);
  if (st) vf_trace_push(__FILE__, __LINE__, __func__);
  return st;
}

static void free_sweep(cfg_job *j) {
  for (int a = 0; a < j->n_sweep; a++) {
    cfg_sweep_axis *ax = &j->sweep[a];
    for (int i = 0; i < ax->n_values; i++) {
      if (ax->values) vf_free(&ax->values[i].lambdas);
      if (ax->labels) vf_free(&ax->labels[i]);
    }
    vf_free(&ax->values);
    vf_free(&ax->labels);
  }
  vf_free(&j->sweep);
}

void cfg_job_destroy(cfg_job **job) {
  if (!job || !*job) return;
  cfg_job *j = *job;
  vf_free(&j->text);
  vf_free(&j->subjects);
  vf_free(&j->variants);
  for (int i = 0; i < j->n_rois; i++) vf_free(&j->rois[i]);
  vf_free(&j->rois);
  vf_free(&j->ridge.lambdas);
  vf_free(&j->pairs);
  free_sweep(j);
  vf_free(job);
}
