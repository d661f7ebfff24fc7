/* SPDX-License-Identifier: MIT */
/*
 * Configuration: one table of keys, each settable by a flag (--music DIR),
 * an environment variable (LEGATO_MUSIC) and a line of the config file
 * (music = DIR). Precedence: flags > environment > file > defaults. The file
 * is --config FILE, else LEGATO_CONFIG, else $XDG_CONFIG_HOME/legato/legato.conf
 * (absent is fine unless named explicitly). Unknown keys, bad values and out of
 * range numbers are errors that name the key and its source.
 *
 * A struct lg_config is built once at start-up and then read-only: share it
 * between threads freely.
 */
#ifndef LG_CORE_CONFIG_H
#define LG_CORE_CONFIG_H

#include <stdio.h>

#include "core/common.h"

enum { LG_CONFIG_N_KEYS = 28 };

struct lg_config {
    char *music_dir;   /* the library root */
    char *data_dir;    /* database, keys, caches */
    char *listen;      /* HOST:PORT */
    char *db;          /* database file (or URL, later); empty = data_dir/legato.db */
    char *public_url;  /* URL clients use to reach this server; empty = inferred */
    char *config_file; /* the file that was read, or "" */
    int log_level;     /* enum lg_log_level */
    int log_json;      /* 1 = JSON log lines */
    int64_t scan_interval_s;
    int64_t http_threads; /* 0 = one per core */
    int64_t max_connections;
    int64_t max_per_ip;
    int64_t conn_timeout_s;
    int64_t login_attempts_per_min; /* failed logins allowed per IP and per user */
    int64_t replaygain_target_lufs; /* loudness the reported ReplayGain reaches */
    int64_t device_code_ttl_s;      /* lifetime of a device sign-in code */
    int64_t device_starts_per_min;  /* device authorizations per IP a minute */
    int64_t device_idle_s;          /* heartbeat timeout of a playing device, 0: never */
    int64_t handoff_ttl_s;          /* lifetime of a hand-off link */
    char *cache_dir;                /* transcode cache; empty = data_dir/cache/transcode */
    int64_t cache_size_mib;         /* bound of the transcode cache, 0: caching off */
    int64_t api_cache_mib;          /* bound of the Subsonic answer cache, 0: off */
    int64_t transcode_workers;      /* transcode threads, 0: one per core */
    int64_t transcode_ahead_s;      /* a transcode this far ahead of its listener waits */
    int64_t transcode_memory_mib;   /* transcoded audio held for listeners, 0: auto */
    int64_t transcode_burst_s;      /* the first seconds of a stream, made at once */
    int64_t overload_late_ms;       /* a chunk this late counts towards overload */
    int dsp_backend; /* where streams' DSP runs: 0 cpu, 1 cuda, 2 auto (enum lg_dsp_backend) */

    /* Private: values given on the command line, by key index. */
    char *flags_[LG_CONFIG_N_KEYS + 1];
};

/* Empties c. Call before anything else. */
void lg_config_init(struct lg_config *c);
/* Releases what c owns. */
void lg_config_free(struct lg_config *c);

/* Looks at argv[*i]: when it is a configuration flag ("--key VALUE" or
 * "--key=VALUE", also --config), records it, advances *i past it and returns 1.
 * Returns 0 when argv[*i] is not a configuration flag (the caller handles it),
 * LG_EINVAL with a message in err when the flag lacks its value. */
int lg_config_take_flag(struct lg_config *c, int argc, char **argv, int *i, char *err,
                        size_t errlen) LG_MUST_CHECK;

/* Resolves every key from flags, environment, file and defaults, and checks
 * them. Returns 0, or LG_EINVAL with one line naming the bad key in err. */
int lg_config_finish(struct lg_config *c, char *err, size_t errlen) LG_MUST_CHECK;

/* Path of the SQLite database that c designates (caller frees). */
char *lg_config_db_path(const struct lg_config *c);
/* Folder of the transcode cache that c designates (caller frees). */
char *lg_config_cache_dir(const struct lg_config *c);

/* Prints the flags with their environment variables and defaults, one per
 * line, for --help. */
void lg_config_print_flags(FILE *f);
/* Prints docs/config.md. */
void lg_config_print_markdown(FILE *f);

#endif
