/* The site configuration (configs/voxfit.yaml): what a machine offers a
 * job, as opposed to what the job asks (the job YAML). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "yamltree.h"

void cfg_site_defaults(cfg_site *s) {
  memset(s, 0, sizeof *s);
  s->mem_per_rank_gib = 16;
  s->block_voxels = 20000;
  s->prefetch = 2;
  s->flush_seconds = 60;
  s->gflops_per_rank = 20;
  s->model_cache_mib = 4096;
  s->team_block = 64;
}

static const char *const site_keys[] = {"memory_per_rank_gib", "block_voxels", "prefetch",
                                        "flush_seconds", "gflops_per_rank",
                                        "model_cache_mib", "team_size", "team_rows",
                                        "team_block", NULL};

static vf_status positive(const yt_doc *d, yaml_node_t *n, const char *key, double *out) {
  VF_CALL(yt_num(d, n, key, out));
  if (!(*out > 0)) return yt_bad(d, n, key, "must be positive");
  return VF_OK;
}

static vf_status parse_site(const yt_doc *d, yaml_node_t *root, cfg_site *s) {
  VF_CALL(yt_check_map(d, root, "", site_keys, "a mapping of site settings"));
  yaml_node_t *n;
  if ((n = yt_get(d, root, "memory_per_rank_gib")))
    VF_CALL(positive(d, n, "memory_per_rank_gib", &s->mem_per_rank_gib));
  if ((n = yt_get(d, root, "block_voxels")))
    VF_CALL(yt_long(d, n, "block_voxels", 0, 1L << 40, &s->block_voxels));
  if ((n = yt_get(d, root, "prefetch"))) VF_CALL(yt_int(d, n, "prefetch", 1, 64, &s->prefetch));
  if ((n = yt_get(d, root, "flush_seconds")))
    VF_CALL(positive(d, n, "flush_seconds", &s->flush_seconds));
  if ((n = yt_get(d, root, "gflops_per_rank")))
    VF_CALL(positive(d, n, "gflops_per_rank", &s->gflops_per_rank));
  if ((n = yt_get(d, root, "model_cache_mib")))
    VF_CALL(yt_long(d, n, "model_cache_mib", 0, 1L << 40, &s->model_cache_mib));
  if ((n = yt_get(d, root, "team_size"))) VF_CALL(yt_int(d, n, "team_size", 0, 1 << 20, &s->team_size));
  if ((n = yt_get(d, root, "team_rows"))) VF_CALL(yt_int(d, n, "team_rows", 0, 1 << 20, &s->team_rows));
  if ((n = yt_get(d, root, "team_block")))
    VF_CALL(yt_int(d, n, "team_block", 1, 4096, &s->team_block));
  return VF_OK;
}

vf_status cfg_site_load(const char *path, cfg_site *s) {
  char *text = NULL;
  yaml_document_t doc;
  cfg_site_defaults(s);
  snprintf(s->path, sizeof s->path, "%s", path);
  VF_CALL(yt_read_file(path, "site config", &text));
  vf_status st = yt_load(path, text, "site config", &doc);
  free(text);
  VF_CALL(st);
  yt_doc d = {path, &doc};
  yaml_node_t *root = yaml_document_get_root_node(&doc);
  st = root ? parse_site(&d, root, s) : VF_OK;
  yaml_document_delete(&doc);
  VF_CALL(st);
  return VF_OK;
}

/* configs/voxfit.yaml beside the build folder of this executable. */
static int installed_config(char *out, size_t cap) {
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return 0;
  exe[n] = '\0';
  for (int up = 0; up < 3; up++) {
    char *slash = strrchr(exe, '/');
    if (!slash) return 0;
    *slash = '\0';
    if (strlen(exe) + 21 >= cap) return 0;
    memcpy(out, exe, strlen(exe));
    memcpy(out + strlen(exe), "/configs/voxfit.yaml", 21);
    if (access(out, R_OK) == 0) return 1;
  }
  return 0;
}

vf_status cfg_site_find(const char *given, cfg_site *s) {
  const char *env = getenv("VOXFIT_CONFIG");
  char found[CFG_PATH_LEN];
  if (given && given[0]) return cfg_site_load(given, s);
  if (env && env[0]) return cfg_site_load(env, s);
  if (installed_config(found, sizeof found)) return cfg_site_load(found, s);
  cfg_site_defaults(s);
  return VF_OK;
}
