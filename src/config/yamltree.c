/* Checked, typed reads of a libyaml document tree (see yamltree.h). */
#include "yamltree.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Paths longer than the buffer end in "..." rather than failing: they only
 * serve messages. */
static yt_path path_fmt(int n, yt_path p) {
  if (n < 0 || (size_t)n >= sizeof p.s) memcpy(p.s + sizeof p.s - 4, "...", 4);
  return p;
}

yt_path yt_key(const char *parent, const char *key) {
  yt_path p;
  int n = parent[0] ? snprintf(p.s, sizeof p.s, "%s.%s", parent, key)
                    : snprintf(p.s, sizeof p.s, "%s", key);
  return path_fmt(n, p);
}

yt_path yt_at(const char *parent, int index) {
  yt_path p;
  int n = snprintf(p.s, sizeof p.s, "%s[%d]", parent, index);
  return path_fmt(n, p);
}

int yt_line(const yaml_node_t *n) { return n ? (int)n->start_mark.line + 1 : 1; }

static int col(const yaml_node_t *n) { return n ? (int)n->start_mark.column + 1 : 1; }

vf_status yt_bad(const yt_doc *d, const yaml_node_t *n, const char *path,
                 const char *fmt, ...) {
  char what[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  if (path && path[0])
    return vf_error(VF_E_INPUT, "%s:%d:%d: %s: %s", d->file, yt_line(n), col(n),
                    path, what);
  return vf_error(VF_E_INPUT, "%s:%d:%d: %s", d->file, yt_line(n), col(n), what);
}

const char *yt_text(const yaml_node_t *n) {
  if (!n || n->type != YAML_SCALAR_NODE) return "";
  return (const char *)n->data.scalar.value;
}

static int is_plain(const yaml_node_t *n) {
  return n && n->type == YAML_SCALAR_NODE &&
         n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

int yt_is_null(const yaml_node_t *n) {
  if (!is_plain(n)) return 0;
  const char *s = yt_text(n);
  return !s[0] || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
         !strcmp(s, "NULL");
}

const char *yt_got(const yaml_node_t *n, char *buf, size_t cap) {
  if (!n) snprintf(buf, cap, "nothing");
  else if (n->type == YAML_SEQUENCE_NODE) snprintf(buf, cap, "a list");
  else if (n->type == YAML_MAPPING_NODE) snprintf(buf, cap, "a mapping");
  else if (yt_is_null(n)) snprintf(buf, cap, "an empty value");
  else if (!is_plain(n)) snprintf(buf, cap, "the quoted string \"%.40s\"", yt_text(n));
  else snprintf(buf, cap, "'%.40s'", yt_text(n));
  return buf;
}

vf_status yt_expected(const yt_doc *d, const yaml_node_t *n, const char *path,
                      const char *what) {
  char g[80];
  return yt_bad(d, n, path, "expected %s, got %s", what, yt_got(n, g, sizeof g));
}

/* Close enough to be a typo, or the word is part of the name
 * ("weights" -> "save_weights"); and only when one name is nearest, since
 * a guess between two is no help. */
const char *yt_suggest(const char *word, const char *const *names) {
  const char *best = NULL;
  int best_d = 1 << 30, ties = 0;
  for (int i = 0; names[i]; i++) {
    int dist = vf_edit_distance(word, names[i]);
    if (strlen(word) >= 3 && strstr(names[i], word) && dist > 2) dist = 2;
    if (dist == best_d) ties++;
    if (dist < best_d) best_d = dist, best = names[i], ties = 0;
  }
  int len = (int)strlen(word);
  int allowed = len < 4 ? 1 : (len / 3 > 2 ? len / 3 : 2);
  return best && !ties && best_d <= allowed ? best : NULL;
}

void yt_join(const char *const *names, char *buf, size_t cap) {
  size_t used = 0;
  buf[0] = '\0';
  for (int i = 0; names[i] && used < cap; i++) {
    int n = snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", names[i]);
    if (n < 0) break;
    used += (size_t)n;
  }
}

int yt_map_size(const yaml_node_t *map) {
  return (int)(map->data.mapping.pairs.top - map->data.mapping.pairs.start);
}

void yt_map_pair(const yt_doc *d, yaml_node_t *map, int i, yaml_node_t **key,
                 yaml_node_t **value) {
  yaml_node_pair_t *p = map->data.mapping.pairs.start + i;
  *key = yaml_document_get_node(d->doc, p->key);
  *value = yaml_document_get_node(d->doc, p->value);
}

static vf_status unknown_key(const yt_doc *d, const yaml_node_t *k,
                             const char *path, const char *const *keys) {
  const char *key = yt_text(k);
  yt_path kp = yt_key(path, key);
  const char *near = yt_suggest(key, keys);
  if (near) return yt_bad(d, k, kp.s, "unknown key; did you mean '%s'?", near);
  char list[512];
  yt_join(keys, list, sizeof list);
  return yt_bad(d, k, kp.s, "unknown key; expected one of: %s", list);
}

static int listed(const char *key, const char *const *keys) {
  for (int i = 0; keys[i]; i++)
    if (!strcmp(key, keys[i])) return 1;
  return 0;
}

vf_status yt_check_map(const yt_doc *d, yaml_node_t *n, const char *path,
                       const char *const *keys, const char *what) {
  char g[80];
  if (!n || n->type != YAML_MAPPING_NODE) return yt_expected(d, n, path, what);
  int size = yt_map_size(n);
  for (int i = 0; i < size; i++) {
    yaml_node_t *k, *v;
    yt_map_pair(d, n, i, &k, &v);
    if (!k || k->type != YAML_SCALAR_NODE || yt_is_null(k))
      return yt_bad(d, k, path, "keys must be plain names, got %s",
                    yt_got(k, g, sizeof g));
    for (int j = 0; j < i; j++) {
      yaml_node_t *k2, *v2;
      yt_map_pair(d, n, j, &k2, &v2);
      if (!strcmp(yt_text(k), yt_text(k2)))
        return yt_bad(d, k, yt_key(path, yt_text(k)).s,
                      "duplicate key (first given at line %d); keep one",
                      yt_line(k2));
    }
    if (keys && !listed(yt_text(k), keys)) return unknown_key(d, k, path, keys);
  }
  return VF_OK;
}

yaml_node_t *yt_get(const yt_doc *d, yaml_node_t *map, const char *key) {
  if (!map || map->type != YAML_MAPPING_NODE) return NULL;
  int size = yt_map_size(map);
  for (int i = 0; i < size; i++) {
    yaml_node_t *k, *v;
    yt_map_pair(d, map, i, &k, &v);
    if (!strcmp(yt_text(k), key)) return v;
  }
  return NULL;
}

vf_status yt_need(const yt_doc *d, yaml_node_t *map, const char *path,
                  const char *key, yaml_node_t **out) {
  *out = yt_get(d, map, key);
  if (!*out) return yt_bad(d, map, path, "missing required key '%s'", key);
  return VF_OK;
}

vf_status yt_seq(const yt_doc *d, yaml_node_t *n, const char *path,
                 const char *what, int min_items, int *count) {
  if (!n || n->type != YAML_SEQUENCE_NODE) return yt_expected(d, n, path, what);
  *count = (int)(n->data.sequence.items.top - n->data.sequence.items.start);
  if (*count < min_items && *count == 0)
    return yt_bad(d, n, path, "must not be empty; expected %s", what);
  if (*count < min_items)
    return yt_bad(d, n, path, "needs at least %d items, got %d", min_items, *count);
  return VF_OK;
}

yaml_node_t *yt_item(const yt_doc *d, yaml_node_t *seq, int i) {
  return yaml_document_get_node(d->doc, seq->data.sequence.items.start[i]);
}

vf_status yt_str(const yt_doc *d, yaml_node_t *n, const char *path, char *out,
                 size_t cap) {
  if (!n || n->type != YAML_SCALAR_NODE || yt_is_null(n))
    return yt_expected(d, n, path, "a string");
  size_t len = n->data.scalar.length;
  if (len == 0) return yt_bad(d, n, path, "must not be empty");
  if (memchr(n->data.scalar.value, '\0', len))
    return yt_bad(d, n, path, "must not contain a NUL character");
  if (len >= cap)
    return yt_bad(d, n, path, "is too long (%zu characters; at most %zu)", len,
                  cap - 1);
  memcpy(out, n->data.scalar.value, len + 1);
  return VF_OK;
}

/* Ids name files and variables downstream, so keep them to a safe set. */
vf_status yt_id(const yt_doc *d, yaml_node_t *n, const char *path, char *out,
                size_t cap) {
  VF_CALL(yt_str(d, n, path, out, cap));
  int ok = isalnum((unsigned char)out[0]);
  for (const char *p = out; *p && ok; p++)
    ok = isalnum((unsigned char)*p) || *p == '.' || *p == '_' || *p == '-';
  if (!ok)
    return yt_bad(d, n, path,
                  "'%s' is not a valid id; use letters, digits, '.', '_' and "
                  "'-', starting with a letter or digit", out);
  return VF_OK;
}

/* The text of a scalar that should be a number: plain, not empty. */
static vf_status number_text(const yt_doc *d, yaml_node_t *n, const char *path,
                             const char *what, const char **text) {
  if (!n || n->type != YAML_SCALAR_NODE || yt_is_null(n))
    return yt_expected(d, n, path, what);
  if (!is_plain(n)) {
    char g[80];
    return yt_bad(d, n, path, "expected %s, got %s; remove the quotes", what,
                  yt_got(n, g, sizeof g));
  }
  *text = yt_text(n);
  return VF_OK;
}

vf_status yt_long(const yt_doc *d, yaml_node_t *n, const char *path, long lo,
                  long hi, long *out) {
  const char *s = "";
  VF_CALL(number_text(d, n, path, "an integer", &s));
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (end == s || *end || isspace((unsigned char)s[0]))
    return yt_bad(d, n, path, "expected an integer, got '%.40s'", s);
  if (v < lo || (errno == ERANGE && v < 0))
    return yt_bad(d, n, path, "must be at least %ld, got %.40s", lo, s);
  if (v > hi || errno == ERANGE) return yt_bad(d, n, path, "must be at most %ld, got %.40s", hi, s);
  *out = v;
  return VF_OK;
}

vf_status yt_int(const yt_doc *d, yaml_node_t *n, const char *path, int lo,
                 int hi, int *out) {
  long v = 0;
  VF_CALL(yt_long(d, n, path, lo, hi, &v));
  *out = (int)v;
  return VF_OK;
}

static int is_yaml_nonfinite(const char *s) {
  if (*s == '+' || *s == '-') s++;
  return !strcasecmp(s, ".inf") || !strcasecmp(s, ".nan");
}

vf_status yt_num(const yt_doc *d, yaml_node_t *n, const char *path, double *out) {
  const char *s = "";
  VF_CALL(number_text(d, n, path, "a number", &s));
  char *end;
  double v = strtod(s, &end);
  int parsed = end != s && !*end && !isspace((unsigned char)s[0]);
  if (is_yaml_nonfinite(s) || (parsed && !isfinite(v)))
    return yt_bad(d, n, path, "must be a finite number, got '%.40s'", s);
  if (!parsed) return yt_bad(d, n, path, "expected a number, got '%.40s'", s);
  *out = v;
  return VF_OK;
}

vf_status yt_bool(const yt_doc *d, yaml_node_t *n, const char *path, int *out) {
  const char *s = yt_text(n);
  if (is_plain(n) && !strcasecmp(s, "true")) *out = 1;
  else if (is_plain(n) && !strcasecmp(s, "false")) *out = 0;
  else return yt_expected(d, n, path, "true or false");
  return VF_OK;
}

vf_status yt_enum(const yt_doc *d, yaml_node_t *n, const char *path,
                  const char *const *names, int *out) {
  char list[256];
  yt_join(names, list, sizeof list);
  if (!n || n->type != YAML_SCALAR_NODE || yt_is_null(n)) {
    char g[80];
    return yt_bad(d, n, path, "expected one of: %s; got %s", list,
                  yt_got(n, g, sizeof g));
  }
  const char *s = yt_text(n);
  for (int i = 0; names[i]; i++)
    if (!strcmp(s, names[i])) {
      *out = i;
      return VF_OK;
    }
  const char *near = yt_suggest(s, names);
  if (near)
    return yt_bad(d, n, path, "'%.40s' is not one of: %s; did you mean '%s'?", s,
                  list, near);
  return yt_bad(d, n, path, "'%.40s' is not one of: %s", s, list);
}

/* Appends to a fixed buffer; once full, later appends are dropped. */
typedef struct {
  char *buf;
  size_t cap, len;
  int full;
} sink;

static void put(sink *o, const char *s) {
  size_t n = strlen(s);
  if (o->full) return;
  if (o->len + n >= o->cap) {
    o->full = 1;
    return;
  }
  memcpy(o->buf + o->len, s, n + 1);
  o->len += n;
}

static void render(const yt_doc *d, yaml_node_t *n, sink *o, int depth) {
  if (!n || depth > 8) {
    put(o, "?");
    return;
  }
  if (n->type == YAML_SCALAR_NODE) {
    put(o, yt_text(n));
    return;
  }
  int seq = n->type == YAML_SEQUENCE_NODE;
  int size = seq ? (int)(n->data.sequence.items.top - n->data.sequence.items.start)
                 : yt_map_size(n);
  put(o, seq ? "[" : "{");
  for (int i = 0; i < size && !o->full; i++) {
    if (i) put(o, ",");
    if (seq) {
      render(d, yt_item(d, n, i), o, depth + 1);
    } else {
      yaml_node_t *k, *v;
      yt_map_pair(d, n, i, &k, &v);
      render(d, k, o, depth + 1);
      put(o, ":");
      render(d, v, o, depth + 1);
    }
  }
  put(o, seq ? "]" : "}");
}

void yt_render(const yt_doc *d, yaml_node_t *n, char *buf, size_t cap) {
  sink o = {buf, cap - 3, 0, 0}; /* room for "..." */
  buf[0] = '\0';
  render(d, n, &o, 0);
  if (o.full) memcpy(buf + o.len, "...", 4);
}

vf_status yt_strdup(const char *s, char **out) {
  size_t n = strlen(s) + 1;
  VF_CALL(vf_calloc(n, 1, "a job string", out));
  memcpy(*out, s, n);
  return VF_OK;
}
