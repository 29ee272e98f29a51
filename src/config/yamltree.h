/* Private to the config module: checked, typed reads of a libyaml document
 * tree. Every failure is VF_E_INPUT with one line
 *   "file:line:col: key.path: what is wrong and what to do"
 * where line:col (1-based) is the node the problem is about. */
#ifndef VOXFIT_CONFIG_YAMLTREE_H
#define VOXFIT_CONFIG_YAMLTREE_H

#include <yaml.h>

#include "voxfit/config.h"

typedef struct {
  const char *file;      /* the job file, for messages */
  yaml_document_t *doc;  /* the parsed tree */
} yt_doc;

/* Reads a whole text file (kind names it in messages: "job file"). */
vf_status yt_read_file(const char *path, const char *kind, char **out);
/* Parses text's one YAML document into doc (yaml_document_delete it). */
vf_status yt_load(const char *file, const char *text, const char *kind,
                  yaml_document_t *doc);

/* A dotted key path ("variants[2].tower"), built while descending. */
typedef struct { char s[256]; } yt_path;
yt_path yt_key(const char *parent, const char *key);
yt_path yt_at(const char *parent, int index);

int yt_line(const yaml_node_t *n); /* 1-based */

vf_status yt_bad(const yt_doc *d, const yaml_node_t *n, const char *path,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* "a list", "a mapping", "an empty value", "'text'", ... for messages. */
const char *yt_got(const yaml_node_t *n, char *buf, size_t cap);
int yt_is_null(const yaml_node_t *n);
/* "expected <what>, got <what n is>" */
vf_status yt_expected(const yt_doc *d, const yaml_node_t *n, const char *path,
                      const char *what);
const char *yt_text(const yaml_node_t *n); /* a scalar's value, else "" */

/* Nearest of the NULL-terminated names, or NULL when none is close. */
const char *yt_suggest(const char *word, const char *const *names);
/* "a, b, c" */
void yt_join(const char *const *names, char *buf, size_t cap);

/* A mapping whose keys are plain scalars, given once, each one of keys
 * (NULL-terminated; keys == NULL allows any). what describes the expected
 * mapping for the "expected ..." message. */
vf_status yt_check_map(const yt_doc *d, yaml_node_t *n, const char *path,
                       const char *const *keys, const char *what);
yaml_node_t *yt_get(const yt_doc *d, yaml_node_t *map, const char *key);
/* A required key of map (path is the map's path). */
vf_status yt_need(const yt_doc *d, yaml_node_t *map, const char *path,
                  const char *key, yaml_node_t **out);

/* A list of at least min_items items. */
vf_status yt_seq(const yt_doc *d, yaml_node_t *n, const char *path,
                 const char *what, int min_items, int *count);
yaml_node_t *yt_item(const yt_doc *d, yaml_node_t *seq, int i);
int yt_map_size(const yaml_node_t *map);
void yt_map_pair(const yt_doc *d, yaml_node_t *map, int i, yaml_node_t **key,
                 yaml_node_t **value);

/* Scalars. Numbers must be plain (unquoted) scalars. */
vf_status yt_str(const yt_doc *d, yaml_node_t *n, const char *path, char *out,
                 size_t cap);
vf_status yt_id(const yt_doc *d, yaml_node_t *n, const char *path, char *out,
                size_t cap);
vf_status yt_long(const yt_doc *d, yaml_node_t *n, const char *path, long lo,
                  long hi, long *out);
vf_status yt_int(const yt_doc *d, yaml_node_t *n, const char *path, int lo,
                 int hi, int *out);
vf_status yt_num(const yt_doc *d, yaml_node_t *n, const char *path, double *out);
vf_status yt_bool(const yt_doc *d, yaml_node_t *n, const char *path, int *out);
vf_status yt_enum(const yt_doc *d, yaml_node_t *n, const char *path,
                  const char *const *names, int *out);

/* Compact flow-style text of a node ("[1,2,3]", "{logspace:[-2,6,20]}"),
 * cut with "..." to fit cap. */
void yt_render(const yt_doc *d, yaml_node_t *n, char *buf, size_t cap);

vf_status yt_strdup(const char *s, char **out);

/* The ridge section and the sweep section (ridge.c). */
vf_status cfg_parse_ridge(const yt_doc *d, yaml_node_t *root, cfg_job *job);

#endif
