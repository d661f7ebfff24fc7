/* SPDX-License-Identifier: MIT */
/*
 * The configuration table and its resolution. Every key has exactly one row
 * below; flags, environment variables, the config file, --help and
 * docs/config.md are all derived from it.
 */
#include "core/config.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/str.h"

enum key_type { T_STR, T_INT, T_LEVEL, T_FORMAT, T_DSP };

struct key {
    const char *name; /* file key; flag is --name with '_' as '-' */
    const char *env;
    enum key_type type;
    size_t offset;
    const char *def; /* NULL: computed (see default_for) */
    int64_t min, max;
    const char *help;
};

#define OFF(f) offsetof(struct lg_config, f)

static const struct key keys[] = {
    { "music", "LEGATO_MUSIC", T_STR, OFF(music_dir), NULL, 0, 0,
      "music folder to serve (default: $HOME/Music)" },
    { "data", "LEGATO_DATA", T_STR, OFF(data_dir), NULL, 0, 0,
      "data folder: database, keys, caches (default: $XDG_DATA_HOME/legato)" },
    { "listen", "LEGATO_LISTEN", T_STR, OFF(listen), "127.0.0.1:5342", 0, 0,
      "address and port to listen on, HOST:PORT (port 0 picks a free one)" },
    { "db", "LEGATO_DB", T_STR, OFF(db), "", 0, 0,
      "database file (default: legato.db in the data folder)" },
    { "public_url", "LEGATO_PUBLIC_URL", T_STR, OFF(public_url), "", 0, 0,
      "URL that clients use to reach this server (default: inferred)" },
    { "log_level", "LEGATO_LOG_LEVEL", T_LEVEL, OFF(log_level), "info", 0, 0,
      "error, warn, info, debug or trace" },
    { "log_format", "LEGATO_LOG_FORMAT", T_FORMAT, OFF(log_json), "text", 0, 0, "text or json" },
    { "scan_interval", "LEGATO_SCAN_INTERVAL", T_INT, OFF(scan_interval_s), "3600", 0, 604800,
      "seconds between background rescans, 0 to scan only at start" },
    { "http_threads", "LEGATO_HTTP_THREADS", T_INT, OFF(http_threads), "0", 0, 256,
      "HTTP worker threads, 0 for one per core" },
    { "max_connections", "LEGATO_MAX_CONNECTIONS", T_INT, OFF(max_connections), "1024", 1, 100000,
      "most simultaneous HTTP connections" },
    { "max_per_ip", "LEGATO_MAX_PER_IP", T_INT, OFF(max_per_ip), "256", 0, 100000,
      "most simultaneous connections from one IP address, 0 for no limit" },
    { "conn_timeout", "LEGATO_CONN_TIMEOUT", T_INT, OFF(conn_timeout_s), "30", 1, 3600,
      "seconds an idle or stalled connection is kept" },
    { "login_attempts", "LEGATO_LOGIN_ATTEMPTS", T_INT, OFF(login_attempts_per_min), "10", 1, 10000,
      "failed logins allowed per minute per IP address and per user" },
    { "replaygain_target", "LEGATO_REPLAYGAIN_TARGET", T_INT, OFF(replaygain_target_lufs), "-18",
      -40, -5, "target loudness in LUFS of the ReplayGain values reported to players" },
    { "device_code_ttl", "LEGATO_DEVICE_CODE_TTL", T_INT, OFF(device_code_ttl_s), "600", 60, 1800,
      "seconds a device sign-in code (user code, QR code) stays valid" },
    { "device_starts", "LEGATO_DEVICE_STARTS", T_INT, OFF(device_starts_per_min), "30", 1, 100000,
      "device sign-ins (device codes) that one IP address may start per minute" },
    { "device_idle", "LEGATO_DEVICE_IDLE", T_INT, OFF(device_idle_s), "300", 0, 86400,
      "seconds without a heartbeat after which a playing device's session ends, 0 never" },
    { "handoff_ttl", "LEGATO_HANDOFF_TTL", T_INT, OFF(handoff_ttl_s), "300", 10, 3600,
      "seconds a hand-off link (continue on another device) stays valid" },
    { "cache_dir", "LEGATO_CACHE_DIR", T_STR, OFF(cache_dir), "", 0, 0,
      "folder of the transcode cache (default: cache/transcode in the data folder)" },
    { "cache_size", "LEGATO_CACHE_SIZE", T_INT, OFF(cache_size_mib), "2048", 0, 1 << 20,
      "MiB of finished transcodes kept on disk (least recently used go first), 0 for none" },
    { "api_cache", "LEGATO_API_CACHE", T_INT, OFF(api_cache_mib), "128", 0, 1 << 16,
      "MiB of Subsonic answers kept in memory until the library or a user's data changes, 0 for "
      "none" },
    { "transcode_workers", "LEGATO_TRANSCODE_WORKERS", T_INT, OFF(transcode_workers), "0", 0, 256,
      "transcode threads, 0 for one per core" },
    { "transcode_memory", "LEGATO_TRANSCODE_MEMORY", T_INT, OFF(transcode_memory_mib), "0", 0,
      1048576,
      "MiB of transcoded audio held for listeners, 0 for a quarter of the memory; past three "
      "quarters new transcodes wait" },
    { "transcode_ahead", "LEGATO_TRANSCODE_AHEAD", T_INT, OFF(transcode_ahead_s), "30", 2, 3600,
      "seconds of audio a transcode may run ahead of its listener before it waits" },
    { "transcode_burst", "LEGATO_TRANSCODE_BURST", T_INT, OFF(transcode_burst_s), "10", 0, 120,
      "seconds at the start of a stream that are transcoded at once" },
    { "overload_late", "LEGATO_OVERLOAD_LATE", T_INT, OFF(overload_late_ms), "500", 10, 60000,
      "ms a chunk may be late; when over a tenth are, for 10 s, new transcodes are made cheaper" },
    { "dsp_backend", "LEGATO_DSP_BACKEND", T_DSP, OFF(dsp_backend), "auto", 0, 0,
      "where streams are resampled and normalised and the library analysed: cpu, cuda (an error "
      "without a usable GPU) or auto (cuda when a GPU is usable, else cpu)" },
};

/* The names of T_DSP values, by value: the order of enum lg_dsp_backend in
 * dsp/dsp.h (LG_DSP_CPU, LG_DSP_CUDA, LG_DSP_AUTO), which core does not
 * include; tests/unit/test_config.c checks that they agree. */
static const char *const dsp_names[] = { "cpu", "cuda", "auto" };

/* Index LG_CONFIG_N_KEYS - 1 is --config itself, which is not a table row. */
_Static_assert(LG_ARRAY_LEN(keys) == LG_CONFIG_N_KEYS - 1, "keys and LG_CONFIG_N_KEYS differ");
#define CONFIG_FLAG (LG_CONFIG_N_KEYS - 1)

void lg_config_init(struct lg_config *c)
{
    memset(c, 0, sizeof(*c));
}

void lg_config_free(struct lg_config *c)
{
    for (size_t i = 0; i < LG_ARRAY_LEN(keys); i++) {
        if (keys[i].type == T_STR) {
            char **slot = (char **)((char *)c + keys[i].offset);
            free(*slot);
            *slot = NULL;
        }
    }
    free(c->config_file);
    c->config_file = NULL;
    for (size_t i = 0; i < LG_ARRAY_LEN(c->flags_); i++) {
        free(c->flags_[i]);
        c->flags_[i] = NULL;
    }
}

/* "--public-url" matches key "public_url". */
static int flag_key(const char *arg, size_t len)
{
    if (len == 6 && memcmp(arg, "config", 6) == 0)
        return CONFIG_FLAG;
    for (size_t i = 0; i < LG_ARRAY_LEN(keys); i++) {
        const char *k = keys[i].name;
        if (strlen(k) != len)
            continue;
        size_t j = 0;
        while (j < len && (arg[j] == k[j] || (arg[j] == '-' && k[j] == '_')))
            j++;
        if (j == len)
            return (int)i;
    }
    return -1;
}

int lg_config_take_flag(struct lg_config *c, int argc, char **argv, int *i, char *err,
                        size_t errlen)
{
    const char *a = argv[*i];
    if (strncmp(a, "--", 2) != 0)
        return 0;
    a += 2;
    const char *eq = strchr(a, '=');
    size_t len = eq ? (size_t)(eq - a) : strlen(a);
    int k = flag_key(a, len);
    if (k < 0)
        return 0;
    const char *val;
    if (eq) {
        val = eq + 1;
        *i += 1;
    } else {
        if (*i + 1 >= argc) {
            snprintf(err, errlen, "option --%.*s needs a value", (int)len, a);
            return LG_EINVAL;
        }
        val = argv[*i + 1];
        *i += 2;
    }
    free(c->flags_[k]);
    c->flags_[k] = lg_xstrdup(val);
    return 1;
}

static char *default_for(const struct key *k)
{
    const char *home = getenv("HOME");
    if (!home || !*home)
        home = ".";
    if (strcmp(k->name, "music") == 0)
        return lg_xasprintf("%s/Music", home);
    if (strcmp(k->name, "data") == 0) {
        const char *x = getenv("XDG_DATA_HOME");
        if (x && *x == '/')
            return lg_xasprintf("%s/legato", x);
        return lg_xasprintf("%s/.local/share/legato", home);
    }
    return lg_xstrdup(k->def);
}

static int set_value(struct lg_config *c, const struct key *k, const char *val, const char *src,
                     char *err, size_t errlen)
{
    void *slot = (char *)c + k->offset;
    int64_t n;
    int r;
    switch (k->type) {
    case T_STR:
        free(*(char **)slot);
        *(char **)slot = lg_xstrdup(val);
        return 0;
    case T_INT:
        r = lg_str_to_i64(val, k->min, k->max, &n);
        if (r < 0) {
            snprintf(err, errlen, "%s: %s must be a whole number from %lld to %lld, not '%s'", src,
                     k->name, (long long)k->min, (long long)k->max, val);
            return LG_EINVAL;
        }
        *(int64_t *)slot = n;
        return 0;
    case T_LEVEL:
        r = lg_log_level_parse(val);
        if (r < 0) {
            snprintf(err, errlen, "%s: %s must be error, warn, info, debug or trace, not '%s'", src,
                     k->name, val);
            return LG_EINVAL;
        }
        *(int *)slot = r;
        return 0;
    case T_FORMAT:
        if (strcmp(val, "text") != 0 && strcmp(val, "json") != 0) {
            snprintf(err, errlen, "%s: %s must be text or json, not '%s'", src, k->name, val);
            return LG_EINVAL;
        }
        *(int *)slot = strcmp(val, "json") == 0;
        return 0;
    case T_DSP:
        for (size_t i = 0; i < LG_ARRAY_LEN(dsp_names); i++) {
            if (strcmp(val, dsp_names[i]) == 0) {
                *(int *)slot = (int)i;
                return 0;
            }
        }
        snprintf(err, errlen, "%s: %s must be cpu, cuda or auto, not '%s'", src, k->name, val);
        return LG_EINVAL;
    }
    return LG_EINVAL;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

/* Cuts a comment off a value: '#' after a space or tab and what follows
 * ("/music  # the NAS"). A '#' inside a word stays ("/music/#1 hits"). */
static char *cut_comment(char *val)
{
    for (char *c = val; *c; c++) {
        if (*c == '#' && c > val && (c[-1] == ' ' || c[-1] == '\t')) {
            *c = '\0';
            break;
        }
    }
    return trim(val);
}

/* Reads "key = value" lines into vals[] (by key index). '#' starts a comment
 * at the start of a line or after a space. */
static int read_file(const char *path, int required, char **vals, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        if (!required && errno == ENOENT)
            return 0;
        snprintf(err, errlen, "config file %s: %s", path, strerror(errno));
        return LG_EINVAL;
    }
    char line[4096];
    int lineno = 0;
    int r = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        char *s = trim(line);
        if (!*s || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(err, errlen, "%s:%d: expected 'key = value'", path, lineno);
            r = LG_EINVAL;
            break;
        }
        *eq = '\0';
        char *name = trim(s);
        char *val = cut_comment(trim(eq + 1));
        int k = -1;
        for (size_t i = 0; i < LG_ARRAY_LEN(keys); i++) {
            if (strcmp(keys[i].name, name) == 0)
                k = (int)i;
        }
        if (k < 0) {
            snprintf(err, errlen, "%s:%d: unknown key '%s'", path, lineno, name);
            r = LG_EINVAL;
            break;
        }
        free(vals[k]);
        vals[k] = lg_xstrdup(val);
    }
    fclose(f);
    return r;
}

static char *config_path(const struct lg_config *c, int *required)
{
    *required = 1;
    if (c->flags_[CONFIG_FLAG])
        return lg_xstrdup(c->flags_[CONFIG_FLAG]);
    const char *e = getenv("LEGATO_CONFIG");
    if (e && *e)
        return lg_xstrdup(e);
    *required = 0;
    const char *x = getenv("XDG_CONFIG_HOME");
    if (x && *x == '/')
        return lg_xasprintf("%s/legato/legato.conf", x);
    const char *home = getenv("HOME");
    return lg_xasprintf("%s/.config/legato/legato.conf", home && *home ? home : ".");
}

int lg_config_finish(struct lg_config *c, char *err, size_t errlen)
{
    char *file_vals[LG_ARRAY_LEN(keys)] = { 0 };
    int required;
    char *path = config_path(c, &required);
    int r = read_file(path, required, file_vals, err, errlen);
    for (size_t i = 0; r == 0 && i < LG_ARRAY_LEN(keys); i++) {
        const struct key *k = &keys[i];
        const char *env = getenv(k->env);
        char src[256];
        char *def = NULL;
        const char *val;
        if (c->flags_[i]) {
            val = c->flags_[i];
            snprintf(src, sizeof(src), "option --%s", k->name);
            for (char *p = src; *p; p++)
                *p = *p == '_' ? '-' : *p;
        } else if (env) {
            val = env;
            snprintf(src, sizeof(src), "environment %s", k->env);
        } else if (file_vals[i]) {
            val = file_vals[i];
            snprintf(src, sizeof(src), "config file %s", path);
        } else {
            val = def = default_for(k);
            snprintf(src, sizeof(src), "default");
        }
        r = set_value(c, k, val, src, err, errlen);
        free(def);
    }
    for (size_t i = 0; i < LG_ARRAY_LEN(keys); i++)
        free(file_vals[i]);
    if (r == 0) {
        free(c->config_file);
        c->config_file = path;
    } else {
        free(path);
    }
    return r;
}

char *lg_config_db_path(const struct lg_config *c)
{
    if (c->db && *c->db)
        return lg_xstrdup(c->db);
    return lg_xasprintf("%s/legato.db", c->data_dir);
}

char *lg_config_cache_dir(const struct lg_config *c)
{
    if (c->cache_dir && *c->cache_dir)
        return lg_xstrdup(c->cache_dir);
    return lg_xasprintf("%s/cache/transcode", c->data_dir);
}

void lg_config_print_flags(FILE *f)
{
    for (size_t i = 0; i < LG_ARRAY_LEN(keys); i++) {
        char flag[64];
        snprintf(flag, sizeof(flag), "--%s", keys[i].name);
        for (char *p = flag; *p; p++)
            *p = *p == '_' ? '-' : *p;
        fprintf(f, "  %-20s %s [%s]\n", flag, keys[i].help, keys[i].env);
    }
    fprintf(f, "  %-20s %s [%s]\n", "--config", "configuration file to read", "LEGATO_CONFIG");
}

void lg_config_print_markdown(FILE *f)
{
    fputs("# Configuration\n\n"
          "Generated by `legato help config` from the configuration table; do not edit.\n\n"
          "Each key is set, in order of precedence, by a command-line flag, an environment\n"
          "variable, a line `key = value` of the config file, or its default. The config file\n"
          "is `--config FILE`, else `$LEGATO_CONFIG`, else `$XDG_CONFIG_HOME/legato/legato.conf`\n"
          "(`~/.config/legato/legato.conf`). Unknown keys and bad values stop the program with\n"
          "a message that names them (exit status 2).\n\n"
          "| key | flag | environment | default | meaning |\n"
          "| --- | --- | --- | --- | --- |\n",
          f);
    for (size_t i = 0; i < LG_ARRAY_LEN(keys); i++) {
        char flag[64];
        snprintf(flag, sizeof(flag), "--%s", keys[i].name);
        for (char *p = flag; *p; p++)
            *p = *p == '_' ? '-' : *p;
        const char *def = keys[i].def ? keys[i].def : "(see meaning)";
        fprintf(f, "| `%s` | `%s` | `%s` | `%s` | %s |\n", keys[i].name, flag, keys[i].env,
                *def ? def : "(empty)", keys[i].help);
    }
}
