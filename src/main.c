/* SPDX-License-Identifier: MIT */
/*
 * legato's entry point: parses the subcommand and its flags, resolves the
 * configuration and hands over to the subsystems. Exit status: 0 success,
 * 1 failure at run time, 2 bad usage (one line that names the problem).
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <dirent.h>
#include <jansson.h>
#include <termios.h>

#include "auth/auth.h"
#include "auth/qr.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/log.h"
#include "dsp/dsp.h"
#include "http/device_client.h"
#include "http/http.h"
#include "library/library.h"
#include "media/media.h"
#include "prof/prof.h"
#include "store/store.h"
#include "stream/stream.h"

#include "lg_build.h"

static const struct lg_log mlog = { "main" };

enum { EXIT_USAGE = 2 };

/* A subcommand-specific flag: boolean (flag) or with a value (value). */
struct opt {
    const char *name;
    int *flag;
    const char **value;
};

struct cmd {
    const char *name;
    const char *args;
    const char *summary;
    int (*run)(struct lg_config *cfg, int argc, char **argv);
    int min_args, max_args;
    const struct opt *opts;
};

static int usage_error(const char *fmt, ...) LG_PRINTF(1, 2);

static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("legato: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs(" (see legato help)\n", stderr);
    va_end(ap);
    return EXIT_USAGE;
}

static void print_cmd_help(const struct cmd *c)
{
    printf("usage: legato %s%s%s [options]\n\n%s\n\n", c->name, *c->args ? " " : "", c->args,
           c->summary);
    if (c->opts) {
        printf("Options of this command:\n");
        for (const struct opt *o = c->opts; o->name; o++)
            printf("  %s%s%s\n", o->name[1] ? "--" : "-", o->name, o->value ? " VALUE" : "");
        printf("\n");
    }
    printf("Options of every command (flag, then environment variable; flags win):\n");
    lg_config_print_flags(stdout);
}

/* Splits argv into configuration flags, this command's own flags and
 * positional arguments (left in pos). Returns 0, or an exit status. */
static int parse_args(const struct cmd *c, struct lg_config *cfg, int argc, char **argv, char **pos,
                      int *n_pos)
{
    char err[512];
    *n_pos = 0;
    for (int i = 0; i < argc;) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            print_cmd_help(c);
            return -1;
        }
        int r = lg_config_take_flag(cfg, argc, argv, &i, err, sizeof(err));
        if (r < 0)
            return usage_error("%s", err);
        if (r > 0)
            continue;
        const struct opt *o = c->opts;
        while (o && o->name && !(strncmp(argv[i], "--", 2) == 0 && !strcmp(argv[i] + 2, o->name)) &&
               !(o->name[1] == '\0' && argv[i][0] == '-' && !strcmp(argv[i] + 1, o->name)))
            o++;
        if (o && o->name && o->value) {
            if (i + 1 >= argc)
                return usage_error("option --%s needs a value", o->name);
            *o->value = argv[++i];
        } else if (o && o->name) {
            *o->flag = 1;
        } else if (strncmp(argv[i], "-", 1) == 0 && argv[i][1]) {
            return usage_error("unknown option %s", argv[i]);
        } else {
            if (*n_pos >= c->max_args)
                return usage_error("unexpected argument '%s'", argv[i]);
            pos[(*n_pos)++] = argv[i];
        }
        i++;
    }
    if (*n_pos < c->min_args)
        return usage_error("%s needs more arguments", c->name);
    if (lg_config_finish(cfg, err, sizeof(err)) < 0)
        return usage_error("%s", err);
    lg_log_setup((enum lg_log_level)cfg->log_level, cfg->log_json);
    return 0;
}

static int open_store(const struct lg_config *cfg, struct lg_store **out)
{
    char *path = lg_config_db_path(cfg);
    int r = lg_store_open(path, out);
    if (r < 0)
        lg_log(&mlog, LG_LOG_ERROR, "cannot open database %s: %s", path, lg_strerror(r));
    free(path);
    return r;
}

/* --- scan --- */

static void progress_bar(void *ud, int64_t done, int64_t total)
{
    (void)ud;
    if (total <= 0) {
        fprintf(stderr, "\rscanning: %lld files found", (long long)done);
    } else {
        int width = 30;
        int fill = (int)(done * width / total);
        fprintf(stderr, "\r[%.*s%*s] %lld/%lld", fill, "##############################",
                width - fill, "", (long long)done, (long long)total);
    }
    fflush(stderr);
}

static int cmd_scan(struct lg_config *cfg, int argc, char **argv)
{
    struct lg_store *store;
    if (open_store(cfg, &store) < 0)
        return 1;
    int tty = isatty(STDERR_FILENO);
    struct lg_scan_stats st;
    int r = lg_library_scan(store, cfg->music_dir, 0, tty ? progress_bar : NULL, NULL, &st);
    if (tty)
        fputs("\r\033[K", stderr);
    lg_store_close(store);
    if (r < 0) {
        fprintf(stderr, "legato: scan of %s failed: %s\n", cfg->music_dir, lg_strerror(r));
        return 1;
    }
    printf("scanned %s: %lld files, %lld added, %lld updated, %lld unchanged, %lld removed, "
           "%lld failed in %.2f s\n",
           cfg->music_dir, (long long)st.files, (long long)st.added, (long long)st.updated,
           (long long)st.unchanged, (long long)st.removed, (long long)st.failed, st.seconds);
    return 0;
}

/* --- user --- */

/* Reads one line from stdin without its newline; caller frees. NULL at EOF. */
static char *read_line_stdin(int echo_off)
{
    struct termios old, quiet;
    int tty = echo_off && isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
    if (tty) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    char buf[1024];
    char *line = fgets(buf, sizeof(buf), stdin) ? lg_xstrdup(buf) : NULL;
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr);
    }
    if (line)
        line[strcspn(line, "\r\n")] = '\0';
    explicit_bzero(buf, sizeof(buf));
    return line;
}

static int user_admin;
static int user_pw_stdin;

static char *obtain_password(int *generated)
{
    *generated = 0;
    if (user_pw_stdin)
        return read_line_stdin(0);
    if (isatty(STDIN_FILENO)) {
        fputs("password: ", stderr);
        char *a = read_line_stdin(1);
        fputs("again: ", stderr);
        char *b = read_line_stdin(1);
        int same = a && b && strcmp(a, b) == 0;
        free(b);
        if (same)
            return a;
        free(a);
        fputs("legato: the passwords differ\n", stderr);
        return NULL;
    }
    *generated = 1;
    return lg_auth_random_password();
}

static int with_auth(struct lg_config *cfg, struct lg_store **store, struct lg_auth **auth)
{
    if (open_store(cfg, store) < 0)
        return 1;
    int r = lg_auth_new(*store, cfg->data_dir, cfg->login_attempts_per_min, auth);
    if (r < 0) {
        fprintf(stderr, "legato: %s\n", lg_strerror(r));
        lg_store_close(*store);
        return 1;
    }
    return 0;
}

/* Sets a password for user name: creates the user (create) or replaces the
 * password. The password is read, asked for or generated (then printed). */
static int set_password(struct lg_config *cfg, const char *name, int create)
{
    struct lg_store *store;
    struct lg_auth *auth;
    if (with_auth(cfg, &store, &auth))
        return 1;
    int generated;
    char *pw = obtain_password(&generated);
    int r = LG_EINVAL;
    if (pw && create)
        r = lg_auth_user_create(auth, name, pw, user_admin, NULL);
    else if (pw)
        r = lg_auth_password_set(auth, name, pw);
    if (r == 0) {
        if (create)
            printf("created %suser %s\n", user_admin ? "admin " : "", name);
        else
            printf("changed the password of %s\n", name);
        if (generated)
            printf("password: %s\n", pw);
    } else if (r == LG_EEXIST) {
        fprintf(stderr, "legato: user %s already exists\n", name);
    } else if (r == LG_ENOTFOUND) {
        fprintf(stderr, "legato: no user %s\n", name);
    } else {
        fprintf(stderr, "legato: cannot %s %s: %s\n",
                create ? "create user" : "change the password of", name,
                pw ? lg_strerror(r) : "no password given");
    }
    if (pw)
        explicit_bzero(pw, strlen(pw));
    free(pw);
    lg_auth_free(auth);
    lg_store_close(store);
    return r == 0 ? 0 : 1;
}

static int cmd_user_add(struct lg_config *cfg, int argc, char **argv)
{
    return set_password(cfg, argv[0], 1);
}

static int cmd_user_passwd(struct lg_config *cfg, int argc, char **argv)
{
    return set_password(cfg, argv[0], 0);
}

static int cmd_user_apikey(struct lg_config *cfg, int argc, char **argv)
{
    struct lg_store *store;
    struct lg_auth *auth;
    if (with_auth(cfg, &store, &auth))
        return 1;
    char *key = NULL;
    int r = lg_auth_apikey_create(auth, argv[0], &key);
    if (r == 0) {
        printf("%s\n", key);
        fprintf(stderr, "API key for %s; it is shown only this once\n", argv[0]);
        explicit_bzero(key, strlen(key));
        free(key);
    } else {
        fprintf(stderr, "legato: cannot create an API key for %s: %s\n", argv[0], lg_strerror(r));
    }
    lg_auth_free(auth);
    lg_store_close(store);
    return r == 0 ? 0 : 1;
}

/* --- serve --- */

/* Creates the first user when there is none, printing its password once. */
static int first_user(struct lg_store *store, struct lg_auth *auth)
{
    struct lg_store_counts n;
    int r = lg_store_counts(store, &n);
    if (r < 0 || n.users > 0)
        return r;
    char *pw = lg_auth_random_password();
    r = lg_auth_user_create(auth, "admin", pw, 1, NULL);
    if (r == 0) {
        printf("\nCreated the first user.\n  user:     admin\n  password: %s\n"
               "This password is shown only once.\n\n",
               pw);
        fflush(stdout);
    }
    explicit_bzero(pw, strlen(pw));
    free(pw);
    return r;
}

/* One line at start: where DSP runs and why, with the streams' backend
 * (the dsp_backend key, already checked by cmd_serve). */
static void log_dsp_backend(int backend)
{
    char why[160], backends[256];
    int usable = lg_dsp_cuda_status(why, sizeof(why));
    lg_dsp_backends(backends, sizeof(backends));
    if (backend == LG_DSP_CPU)
        lg_log(&mlog, LG_LOG_INFO, "dsp: on the cpu, as dsp_backend asks (backends: %s)", backends);
    else if (usable && backend == LG_DSP_CUDA)
        lg_log(&mlog, LG_LOG_INFO,
               "dsp: cuda usable on %s: streams run on it, as dsp_backend asks (backends: %s)", why,
               backends);
    else if (usable)
        lg_log(&mlog, LG_LOG_INFO,
               "dsp: cuda usable on %s: each batch of streams runs where it is predicted to end "
               "sooner (backends: %s)",
               why, backends);
    else
        lg_log(&mlog, LG_LOG_INFO, "dsp: on the cpu, cuda %s (backends: %s)", why, backends);
}

/* A backend asked for by source (a flag or a key) resolved: an explicit
 * cuda that cannot run is a usage error (-1, reason printed); auto is
 * logged with where what runs and why. */
static int resolve_backend(int backend, const char *source, const char *what)
{
    char why[160];
    int usable = backend != LG_DSP_CPU && lg_dsp_cuda_status(why, sizeof(why));
    if (backend == LG_DSP_CUDA && !usable) {
        fprintf(stderr, "legato: %s cuda: the CUDA backend cannot run here: %s\n", source, why);
        return -1;
    }
    if (backend == LG_DSP_AUTO && usable)
        lg_log(&mlog, LG_LOG_INFO, "%s on cuda (%s)", what, why);
    else if (backend == LG_DSP_AUTO)
        lg_log(&mlog, LG_LOG_INFO, "%s on the cpu: cuda %s", what, why);
    return backend;
}

/* --backend NAME of a command, parsed and resolved as resolve_backend(). */
static int backend_option(const char *name, const char *what)
{
    int backend = lg_dsp_backend_parse(name);
    if (backend < 0) {
        usage_error("--backend must be cpu, cuda or auto, not '%s'", name);
        return -1;
    }
    return resolve_backend(backend, "--backend", what);
}

static int serve_until_signal(struct lg_config *cfg, struct lg_store *store, struct lg_auth *auth)
{
    struct lg_scanner *scanner = NULL;
    int r =
        lg_scanner_start(store, cfg->music_dir, cfg->scan_interval_s, cfg->dsp_backend, &scanner);
    if (r < 0) {
        lg_log(&mlog, LG_LOG_ERROR, "cannot start the scanner: %s", lg_strerror(r));
        return 1;
    }
    struct lg_http_deps deps = { cfg, store, auth, scanner };
    struct lg_http *http;
    r = lg_http_start(&deps, &http);
    if (r < 0) { /* lg_http_start logged why */
        lg_scanner_stop(scanner);
        return 1;
    }
    lg_log(&mlog, LG_LOG_INFO, "legato %s serving %s", LG_VERSION, cfg->music_dir);
    log_dsp_backend(cfg->dsp_backend);
    char pub[512];
    const char *colon = strrchr(cfg->listen, ':');
    int hlen = colon ? (int)(colon - cfg->listen) : (int)strlen(cfg->listen);
    snprintf(pub, sizeof(pub), "http://%.*s:%d", hlen ? hlen : 9, hlen ? cfg->listen : "127.0.0.1",
             lg_http_port(http));
    lg_log(&mlog, LG_LOG_INFO, "listening on %s", pub);
    /* On a terminal, a QR code of the address: a phone scans it to open it. */
    if (cfg->public_url && *cfg->public_url)
        snprintf(pub, sizeof(pub), "%s", cfg->public_url);
    if (cfg->public_url && *cfg->public_url)
        lg_log(&mlog, LG_LOG_INFO, "public URL %s", pub);
    if (isatty(STDOUT_FILENO)) {
        lg_qr_print_terminal(stdout, pub);
        printf("    %s\n\n", pub);
        fflush(stdout);
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    int sig = 0;
    sigwait(&set, &sig);
    lg_log(&mlog, LG_LOG_INFO, "stopping on signal %d", sig);
    lg_http_stop(http);
    lg_scanner_stop(scanner);
    return 0;
}

/* Each connection holds a socket and, while streaming, a file: lift the soft
 * limit on descriptors to the hard one so that max_connections can be met. */
static void raise_fd_limit(const struct lg_config *cfg)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= rl.rlim_max)
        return;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        lg_log(&mlog, LG_LOG_WARN, "cannot raise the open file limit");
    if ((int64_t)rl.rlim_cur < 2 * cfg->max_connections + 64)
        lg_log(&mlog, LG_LOG_WARN,
               "open file limit %llu is low for max_connections %lld; raise it (ulimit -n)",
               (unsigned long long)rl.rlim_cur, (long long)cfg->max_connections);
}

static int cmd_serve(struct lg_config *cfg, int argc, char **argv)
{
    /* Checked before anything starts; logged once serving (log_dsp_backend). */
    char why[160];
    if (cfg->dsp_backend == LG_DSP_CUDA && !lg_dsp_cuda_status(why, sizeof(why))) {
        fprintf(stderr, "legato: dsp_backend cuda: the CUDA backend cannot run here: %s\n", why);
        return EXIT_USAGE;
    }
    raise_fd_limit(cfg);
    struct lg_store *store;
    struct lg_auth *auth;
    if (with_auth(cfg, &store, &auth))
        return 1;
    int status = 1;
    if (first_user(store, auth) < 0)
        lg_log(&mlog, LG_LOG_ERROR, "cannot create the first user");
    else
        status = serve_until_signal(cfg, store, auth);
    lg_auth_free(auth);
    lg_store_close(store);
    return status;
}

/* --- analyze --- */

static int analyze_json;
static const char *analyze_backend = "auto";

static const struct opt analyze_opts[] = {
    { "json", &analyze_json, NULL },
    { "backend", NULL, &analyze_backend },
    { NULL, NULL, NULL },
};

/* Prints v with one decimal, or null/"-" when not measurable. */
static void print_value(const char *key, double v, int json)
{
    if (json)
        isnan(v) ? printf(",\"%s\":null", key) : printf(",\"%s\":%.2f", key, v);
    else
        isnan(v) ? printf("  %8s", "-") : printf("  %8.2f", v);
}

static void print_analysis(const char *name, const struct lg_analysis *a, int json)
{
    if (json) {
        json_t *s = json_string(name);
        char *quoted = s ? json_dumps(s, JSON_ENCODE_ANY) : NULL;
        printf("{\"file\":%s", quoted ? quoted : "null");
        free(quoted);
        json_decref(s);
    }
    print_value("integrated_lufs", a->integrated_lufs, json);
    print_value("range_lu", a->range_lu, json);
    print_value("true_peak_dbtp", a->true_peak_dbtp, json);
    print_value("sample_peak_dbfs", a->sample_peak_dbfs, json);
    if (json)
        printf("}\n");
    else
        printf("  %s\n", name);
}

static int cmd_analyze(struct lg_config *cfg, int argc, char **argv)
{
    int backend = backend_option(analyze_backend, "analysis");
    if (backend < 0)
        return EXIT_USAGE;
    struct lg_analysis *res = lg_xcalloc((size_t)argc, sizeof(*res));
    int *status = lg_xcalloc((size_t)argc, sizeof(*status));
    char(*errs)[160] = lg_xcalloc((size_t)argc, sizeof(*errs));
    int r = lg_analyze_files_backend((const char *const *)argv, (size_t)argc, 0, backend, res,
                                     status, errs);
    int failed = r < 0;
    if (!analyze_json)
        printf("  %8s  %8s  %8s  %8s  %s\n", "LUFS", "LU", "dBTP", "dBFS", "file");
    for (int i = 0; r == 0 && i < argc; i++) {
        if (status[i] < 0) {
            fprintf(stderr, "legato: %s: %s\n", argv[i],
                    errs[i][0] ? errs[i] : lg_strerror(status[i]));
            failed = 1;
            continue;
        }
        print_analysis(argv[i], &res[i], analyze_json);
    }
    struct lg_analysis album;
    if (r == 0 && argc > 1 && lg_analyze_album(res, (size_t)argc, &album) == 0)
        print_analysis("(album)", &album, analyze_json);
    for (int i = 0; i < argc; i++)
        lg_analysis_free(&res[i]);
    free(res);
    free(status);
    free(errs);
    return failed ? 1 : 0;
}

/* --- transcode --- */

static const char *tc_format, *tc_bitrate, *tc_normalize = "off", *tc_target, *tc_offset,
                                           *tc_complexity, *tc_backend = "auto";

static const struct opt transcode_opts[] = {
    { "format", NULL, &tc_format },       { "bitrate", NULL, &tc_bitrate },
    { "normalize", NULL, &tc_normalize }, { "target", NULL, &tc_target },
    { "offset", NULL, &tc_offset },       { "complexity", NULL, &tc_complexity },
    { "backend", NULL, &tc_backend },     { NULL, NULL, NULL },
};

/* A number option within [lo, hi]; def when absent. */
static int number_opt(const char *name, const char *v, double lo, double hi, double def,
                      double *out)
{
    *out = def;
    if (!v)
        return 0;
    char *end;
    double d = strtod(v, &end);
    if (end == v || *end || !isfinite(d) || d < lo || d > hi)
        return usage_error("--%s must be a number from %g to %g", name, lo, hi);
    *out = d;
    return 0;
}

/* The audio files in path's folder, path among them: the album. */
static size_t album_files(const char *path, char ***out)
{
    const char *slash = strrchr(path, '/');
    char *dir = !slash ? lg_xstrdup(".")
                       : lg_xasprintf("%.*s", (int)(slash == path ? 1 : slash - path), path);
    size_t n = 0;
    char **v = NULL;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.' || !lg_media_is_audio_name(e->d_name))
            continue;
        v = lg_xrealloc(v, (n + 1) * sizeof(*v));
        v[n++] = lg_xasprintf("%s/%s", dir, e->d_name);
    }
    if (d)
        closedir(d);
    free(dir);
    *out = v;
    return n;
}

/* The gain of --normalize track|album to the target loudness. */
static int normalize_gain(const char *in, bool album, double target, double *gain_db)
{
    char **files = NULL;
    size_t n = album ? album_files(in, &files) : 0;
    if (!album || n == 0) {
        files = lg_xrealloc(files, sizeof(*files));
        files[0] = lg_xstrdup(in);
        n = 1;
    }
    struct lg_analysis *res = lg_xcalloc(n, sizeof(*res));
    int *status = lg_xcalloc(n, sizeof(*status));
    char(*errs)[160] = lg_xcalloc(n, sizeof(*errs));
    int r = lg_analyze_files((const char *const *)files, n, 0, res, status, errs);
    struct lg_analysis a = { 0 };
    if (r == 0 && n > 1)
        r = lg_analyze_album(res, n, &a);
    else if (r == 0)
        r = status[0];
    if (r == 0) {
        const struct lg_analysis *m = n > 1 ? &a : &res[0];
        *gain_db = isfinite(m->integrated_lufs)
                       ? lg_replaygain_db(m->integrated_lufs, m->true_peak_dbtp, target, -1.0, 1)
                       : 0; /* silence: nothing to bring up */
    } else {
        fprintf(stderr, "legato: cannot measure %s: %s\n", in,
                errs[0][0] ? errs[0] : lg_strerror(r));
    }
    for (size_t i = 0; i < n; i++) {
        lg_analysis_free(&res[i]);
        free(files[i]);
    }
    free(files);
    free(res);
    free(status);
    free(errs);
    return r;
}

static int cmd_transcode(struct lg_config *cfg, int argc, char **argv)
{
    (void)cfg, (void)argc;
    const char *in = argv[0], *out = argv[1];
    const char *fmt = tc_format;
    if (!fmt) {
        const char *dot = strrchr(out, '.');
        fmt = dot && !strchr(dot, '/') ? dot + 1 : NULL;
    }
    struct lg_transcode_opts o = { .complexity = -1 };
    o.format = fmt ? lg_format_parse(fmt) : LG_EINVAL;
    if (o.format < 0)
        return usage_error("--format must be opus, mp3, aac, flac or wav%s%s%s",
                           fmt ? " (not '" : "", fmt ? fmt : "", fmt ? "')" : "");
    double kbps, target, complexity;
    int r = number_opt("bitrate", tc_bitrate, 6, 512, 0, &kbps);
    if (r == 0)
        r = number_opt("target", tc_target, -40, -5, LG_REPLAYGAIN_TARGET_LUFS, &target);
    if (r == 0)
        r = number_opt("offset", tc_offset, 0, 1e7, 0, &o.offset_s);
    if (r == 0)
        r = number_opt("complexity", tc_complexity, 0, 10, -1, &complexity);
    if (r != 0)
        return r;
    o.bitrate_kbps = (int)kbps;
    o.complexity = (int)complexity;
    bool track = strcmp(tc_normalize, "track") == 0, album = strcmp(tc_normalize, "album") == 0;
    if (!track && !album && strcmp(tc_normalize, "off") != 0)
        return usage_error("--normalize must be track, album or off, not '%s'", tc_normalize);
    o.backend = backend_option(tc_backend, "dsp");
    if (o.backend < 0)
        return EXIT_USAGE;
    if ((track || album) && normalize_gain(in, album, target, &o.gain_db) < 0)
        return 1;
    o.limit = track || album;
    char err[256] = "";
    r = lg_transcode_file(in, out, &o, err, sizeof(err));
    if (r < 0) {
        fprintf(stderr, "legato: %s: %s\n", in, err[0] ? err : lg_strerror(r));
        return 1;
    }
    return 0;
}

/* --- profile --- */

static const char *pf_trace, *pf_backend = "auto";
static int pf_gpu_profile;

static const struct opt profile_opts[] = {
    { "format", NULL, &tc_format },
    { "bitrate", NULL, &tc_bitrate },
    { "trace", NULL, &pf_trace },
    { "complexity", NULL, &tc_complexity },
    { "backend", NULL, &pf_backend },
    { "gpu-profile", &pf_gpu_profile, NULL },
    { NULL, NULL, NULL },
};

enum { GPU_ROW = 1000000 }; /* trace rows of CUDA streams: GPU_ROW + stream id */

static int discard(void *ctx, const uint8_t *data, size_t len)
{
    (void)data;
    *(int64_t *)ctx += (int64_t)len;
    return 0;
}

/* One file through the pipeline, its process stage in tb (one job at a
 * time: each chunk is submitted, run and generated in turn). */
static int profile_file(const char *path, const struct lg_transcode_opts *o,
                        struct lg_transcode_batch *tb, int64_t *bytes, double *media)
{
    struct lg_transcode *t = NULL;
    struct lg_transcode *ran[1];
    char err[256] = "";
    int r = lg_transcode_open(path, o, discard, NULL, bytes, &t, err, sizeof(err));
    while (r >= 0 && (r = lg_transcode_submit(t, lg_prof_now_ns())) > 0) {
        r = lg_transcode_batch_run(tb, ran, 1);
        if (r >= 0)
            r = lg_transcode_generate(t);
    }
    if (r < 0)
        fprintf(stderr, "legato: %s: %s\n", path, err[0] ? err : lg_strerror(r));
    if (t)
        *media += lg_transcode_media_s(t);
    lg_transcode_free(t);
    return r;
}

/* What --gpu-profile recorded: totals, and the CUDA streams seen (each
 * gets a named row in the trace). */
struct gpu_seen {
    uint64_t kernels, copies, bytes;
    double kernel_ms, copy_ms;
    uint32_t streams[32];
    int n_streams;
};

/* A CUPTI record into the trace, on the clock of the CPU's spans. */
static void gpu_event(const struct lg_dsp_gpu_event *e, void *ctx)
{
    struct gpu_seen *g = ctx;
    double ms = (double)(e->end_ns - e->begin_ns) / 1e6;
    if (strcmp(e->cat, "kernel") == 0) {
        g->kernels++;
        g->kernel_ms += ms;
    } else {
        g->copies++;
        g->copy_ms += ms;
        g->bytes += e->bytes;
    }
    int32_t row = GPU_ROW + (int32_t)(e->stream % GPU_ROW);
    int k = 0;
    while (k < g->n_streams && g->streams[k] != e->stream)
        k++;
    if (k == g->n_streams && k < (int)LG_ARRAY_LEN(g->streams)) {
        char name[32];
        snprintf(name, sizeof(name), "cuda stream %u", (unsigned)e->stream);
        lg_prof_trace_row_name(row, name);
        g->streams[g->n_streams++] = e->stream;
    }
    lg_prof_trace_event(e->name, e->cat, row, e->begin_ns, e->end_ns);
}

/* One row of the table; returns its total in seconds. */
static double print_row(const char *stage, struct lg_hist *h, const char *backend, double wall)
{
    uint64_t n = lg_hist_count(h);
    double sum = lg_hist_sum(h);
    printf("%-9s %8llu %10.2f %10.3f %10.3f %10.3f %6.1f%%  %s\n", stage, (unsigned long long)n,
           sum * 1e3, n ? sum * 1e3 / (double)n : 0, lg_hist_quantile(h, 0.5) * 1e3,
           lg_hist_quantile(h, 0.99) * 1e3, wall > 0 ? 100 * sum / wall : 0, backend);
    return sum;
}

/* The stage table: a row per stage and backend that ran (the cpu's, empty,
 * for a stage that never did), the CUDA phases when there were any, then
 * the bottleneck. */
static void print_stages(const char *format, double wall)
{
    printf("%-9s %8s %10s %10s %10s %10s %7s  %s\n", "stage", "calls", "total ms", "mean ms",
           "p50 ms", "p99 ms", "share", "backend");
    static const char *const stages[] = { "load", "process", "generate" };
    static const char *const backends[] = { "cpu", "cuda" };
    int worst = 0;
    double worst_s = -1;
    for (int i = 0; i < 3; i++) {
        struct lg_hist *h[2];
        for (int b = 0; b < 2; b++)
            h[b] = lg_prof_stage(stages[i], format, backends[b]);
        bool none = lg_hist_count(h[0]) == 0 && lg_hist_count(h[1]) == 0;
        double sum = 0;
        for (int b = 0; b < 2; b++)
            if (lg_hist_count(h[b]) > 0 || (none && b == 0))
                sum += print_row(stages[i], h[b], backends[b], wall);
        if (sum > worst_s) {
            worst_s = sum;
            worst = i;
        }
    }
    static const char *const phases[] = { "upload", "kernels", "download" };
    for (int i = 0; i < 3; i++) {
        struct lg_hist *h = lg_prof_stage(phases[i], "all", "cuda");
        if (lg_hist_count(h) > 0)
            print_row(phases[i], h, "cuda", wall);
    }
    printf("\nbottleneck: %s (%.0f%% of the wall time)\n", stages[worst],
           wall > 0 ? 100 * worst_s / wall : 0);
}

/* --gpu-profile: recording starts, or the exit status of why not (2 where
 * no GPU can be profiled, 1 for a failure here and now). */
static int gpu_profile_start(void)
{
    char why[192] = "";
    int r = lg_dsp_gpu_profile_start(why, sizeof(why));
    if (r == 0)
        return 0;
    fprintf(stderr, "legato: --gpu-profile: %s\n", why[0] ? why : lg_strerror(r));
    return r == -ENOTSUP || r == -ENODEV ? EXIT_USAGE : 1;
}

static int write_trace(const char *path)
{
    struct lg_buf b;
    lg_buf_init(&b, 1u << 30);
    int r = lg_prof_trace_stop(&b);
    FILE *out = r == 0 ? fopen(path, "w") : NULL;
    bool ok = out && fwrite(b.data, 1, b.len, out) == b.len;
    if (out && fclose(out) != 0)
        ok = false;
    lg_buf_free(&b);
    if (!ok) {
        fprintf(stderr, "legato: cannot write %s\n", path);
        return 1;
    }
    printf("trace: %s (open it in https://ui.perfetto.dev)\n", path);
    return 0;
}

static int cmd_profile(struct lg_config *cfg, int argc, char **argv)
{
    (void)cfg;
    struct lg_transcode_opts o = { .format = lg_format_parse(tc_format ? tc_format : "opus") };
    if (o.format < 0)
        return usage_error("--format must be opus, mp3, aac, flac or wav");
    double kbps, complexity;
    int r = number_opt("bitrate", tc_bitrate, 6, 512, 0, &kbps);
    if (r == 0)
        r = number_opt("complexity", tc_complexity, 0, 10, -1, &complexity);
    if (r != 0)
        return r;
    o.bitrate_kbps = (int)kbps;
    o.complexity = (int)complexity;
    int backend = backend_option(pf_backend, "dsp");
    if (backend < 0)
        return EXIT_USAGE;
    if (pf_gpu_profile && (r = gpu_profile_start()) != 0)
        return r;
    struct gpu_seen gpu = { 0 };
    char why[192] = "";
    /* The trace starts first: opening the batcher copies to the GPU. */
    lg_prof_thread_name("pipeline");
    int tr = pf_trace ? lg_prof_trace_start(1000000) : 0;
    bool tracing = pf_trace && tr == 0;
    if (tr < 0) {
        snprintf(why, sizeof(why), "%s",
                 tr == LG_EEXIST ? "a trace is already recording" : "no memory for the trace");
        r = tr;
    }
    if (r == 0)
        r = lg_transcode_batch_new(backend, 1, &o.batch, why, sizeof(why));
    if (r < 0) {
        fprintf(stderr, "legato: %s\n", why[0] ? why : lg_strerror(r));
        if (pf_gpu_profile)
            lg_dsp_gpu_profile_stop(NULL, NULL);
        if (tracing) { /* the recording is dropped */
            struct lg_buf b;
            lg_buf_init(&b, 1u << 30);
            int stopped = lg_prof_trace_stop(&b);
            (void)stopped;
            lg_buf_free(&b);
        }
        lg_transcode_batch_free(o.batch);
        return 1;
    }
    int64_t t0 = lg_prof_now_ns(), bytes = 0;
    double media = 0;
    int failed = 0;
    for (int i = 0; i < argc; i++)
        failed |= profile_file(argv[i], &o, o.batch, &bytes, &media) < 0;
    double wall = (double)(lg_prof_now_ns() - t0) / 1e9;
    if (pf_gpu_profile)
        lg_dsp_gpu_profile_stop(gpu_event, &gpu);
    const char *f = lg_format_name(o.format);
    int next = lg_transcode_batch_choice(o.batch, why, sizeof(why));
    printf("%d file(s), %.1f s of audio in %.3f s: %.1fx realtime, %lld bytes of %s\n", argc, media,
           wall, wall > 0 ? media / wall : 0, (long long)bytes, f);
    printf("process stage: the next batch runs on %s (%s)\n\n", lg_dsp_backend_name(next), why);
    print_stages(f, wall);
    if (pf_gpu_profile)
        printf("gpu: %llu kernels (%.2f ms), %llu copies (%.1f MB, %.2f ms), %llu records "
               "dropped\n",
               (unsigned long long)gpu.kernels, gpu.kernel_ms, (unsigned long long)gpu.copies,
               (double)gpu.bytes / 1e6, gpu.copy_ms,
               (unsigned long long)lg_dsp_gpu_profile_dropped());
    if (pf_trace && write_trace(pf_trace) != 0)
        failed = 1;
    lg_transcode_batch_free(o.batch);
    return failed;
}

/* --- device --- */

static const char *device_server, *device_name, *device_out;

static const struct opt device_opts[] = {
    { "server", NULL, &device_server },
    { "name", NULL, &device_name },
    { NULL, NULL, NULL },
};

static const struct opt device_play_opts[] = {
    { "o", NULL, &device_out },
    { NULL, NULL, NULL },
};

static int cmd_device(struct lg_config *cfg, int argc, char **argv)
{
    (void)argc, (void)argv;
    return lg_device_cli_login(device_server, device_name, cfg->data_dir);
}

static int cmd_device_play(struct lg_config *cfg, int argc, char **argv)
{
    (void)argc;
    return lg_device_cli_play(cfg->data_dir, argv[0], device_out);
}

static int cmd_device_logout(struct lg_config *cfg, int argc, char **argv)
{
    (void)argc, (void)argv;
    return lg_device_cli_logout(cfg->data_dir);
}

static int cmd_help(struct lg_config *cfg, int argc, char **argv);

static const struct opt user_add_opts[] = {
    { "admin", &user_admin, NULL },
    { "password-stdin", &user_pw_stdin, NULL },
    { NULL, NULL, NULL },
};

static const struct cmd cmds[] = {
    { "serve", "", "Serve the music folder over HTTP (Subsonic API, streaming).", cmd_serve, 0, 0,
      NULL },
    { "scan", "", "Scan the music folder now and update the catalogue.", cmd_scan, 0, 0, NULL },
    { "user add", "NAME",
      "Create a user. The password is read from standard input with --password-stdin, asked\n"
      "for on a terminal, or else generated and printed.",
      cmd_user_add, 1, 1, user_add_opts },
    { "user passwd", "NAME",
      "Set a user's password (for a lost one, too). The password is read from standard input\n"
      "with --password-stdin, asked for on a terminal, or else generated and printed.",
      cmd_user_passwd, 1, 1, user_add_opts },
    { "user apikey", "NAME", "Create an API key (OpenSubsonic apiKey) for a user; printed once.",
      cmd_user_apikey, 1, 1, NULL },
    { "analyze", "FILE...",
      "Measure integrated loudness (LUFS), loudness range (LU), true peak (dBTP) and sample\n"
      "peak (dBFS) of audio files, and the album values of the set. --json prints one\n"
      "object per line: one per file, then {\"file\":\"(album)\",...} for two or more\n"
      "files. --backend cpu|cuda|auto chooses where the DSP runs (auto, the default: cuda\n"
      "when a GPU is usable, else cpu; 'legato --version' lists the backends).",
      cmd_analyze, 1, 100000, analyze_opts },
    { "transcode", "IN OUT",
      "Run the stream pipeline from file to file: decode IN, resample, normalise and encode to\n"
      "OUT ('-' for standard output). --format opus|mp3|aac|flac|wav (default: OUT's suffix),\n"
      "--bitrate KBPS, --normalize track|album|off (album: the files in IN's folder),\n"
      "--target LUFS (default -18), --offset SECONDS, --complexity 0..10, --backend\n"
      "cpu|cuda|auto: where resampling, gain and limiting run (auto, the default: where a\n"
      "batch is predicted to end sooner, the cpu without a usable GPU).",
      cmd_transcode, 2, 2, transcode_opts },
    { "profile", "FILE...",
      "Run the stream pipeline over files under the profiler and print, per stage (load,\n"
      "process, generate) and backend: calls, total, mean, p50 and p99 time and share of the\n"
      "wall time, the CUDA phases (upload, kernels, download) when the GPU ran, then the\n"
      "bottleneck. --format F (default opus), --bitrate K, --complexity 0..10, --backend\n"
      "cpu|cuda|auto (as for transcode), --trace OUT.json writes a Chrome trace-event file\n"
      "that Perfetto opens, --gpu-profile records every GPU kernel and copy (CUPTI) into it\n"
      "on the same clock and prints their totals (an error without a usable GPU).",
      cmd_profile, 1, 100000, profile_opts },
    /* "device play" and "device logout" before "device": find_cmd takes the first match. */
    { "device play", "ID [-o FILE]", "Stream a track of the signed-in server to FILE (or stdout).",
      cmd_device_play, 1, 1, device_play_opts },
    { "device logout", "", "Sign the device out: revoke its tokens and delete device.json.",
      cmd_device_logout, 0, 0, NULL },
    { "device", "--server URL [--name NAME]",
      "Sign in to a legato server as a device: shows a QR code and a code to approve, then\n"
      "waits for the approval and keeps the tokens in DATA_DIR/device.json.",
      cmd_device, 0, 0, device_opts },
    { "help", "[COMMAND|config]", "Show help for legato or one command.", cmd_help, 0, 2, NULL },
};

static void print_help(void)
{
    printf("legato %s: a music streaming server\n\nusage: legato COMMAND [options]\n\n"
           "Commands:\n",
           LG_VERSION);
    for (size_t i = 0; i < LG_ARRAY_LEN(cmds); i++)
        printf("  %-12s %s\n", cmds[i].name, cmds[i].args);
    printf("\n'legato COMMAND --help' tells more; 'legato help config' prints every setting.\n");
}

static int cmd_help(struct lg_config *cfg, int argc, char **argv)
{
    if (argc == 0) {
        print_help();
        return 0;
    }
    if (strcmp(argv[0], "config") == 0) {
        lg_config_print_markdown(stdout);
        return 0;
    }
    for (size_t i = 0; i < LG_ARRAY_LEN(cmds); i++) {
        size_t n = strlen(argv[0]);
        if (strncmp(cmds[i].name, argv[0], n) == 0 &&
            (cmds[i].name[n] == '\0' || (argc > 1 && !strcmp(cmds[i].name + n + 1, argv[1]))))
        {
            print_cmd_help(&cmds[i]);
            return 0;
        }
    }
    return usage_error("no command '%s'", argv[0]);
}

/* Finds the command named by argv[0] (and argv[1] for two-word commands);
 * *used is how many words it took. */
static const struct cmd *find_cmd(int argc, char **argv, int *used)
{
    for (size_t i = 0; i < LG_ARRAY_LEN(cmds); i++) {
        const char *name = cmds[i].name;
        const char *sp = strchr(name, ' ');
        if (!sp && strcmp(name, argv[0]) == 0) {
            *used = 1;
            return &cmds[i];
        }
        if (sp && argc > 1 && strncmp(name, argv[0], (size_t)(sp - name)) == 0 &&
            argv[0][sp - name] == '\0' && strcmp(sp + 1, argv[1]) == 0)
        {
            *used = 2;
            return &cmds[i];
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        print_help();
        return argc < 2 ? EXIT_USAGE : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        char backends[256];
        lg_dsp_backends(backends, sizeof(backends));
        printf("legato %s\nbackends: %s\n", LG_VERSION, backends);
        return 0;
    }
    /* The profiler is always on; off only to measure what it costs. */
    const char *prof = getenv("LEGATO_PROFILE");
    if (prof && strcmp(prof, "off") == 0)
        lg_prof_enable(false);
    int used = 0;
    const struct cmd *c = find_cmd(argc - 1, argv + 1, &used);
    if (!c) {
        if (!strcmp(argv[1], "user"))
            return usage_error("'user' needs a subcommand: add, passwd or apikey");
        return usage_error("unknown command '%s'", argv[1]);
    }
    /* Signals are taken by sigwait in serve; block them before any thread
     * starts so that no other thread receives them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    if (strcmp(c->name, "serve") == 0)
        pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct lg_config cfg;
    lg_config_init(&cfg);
    char **pos = lg_xcalloc((size_t)argc, sizeof(*pos));
    int n_pos;
    int r = parse_args(c, &cfg, argc - 1 - used, argv + 1 + used, pos, &n_pos);
    if (r == 0)
        r = c->run(&cfg, n_pos, pos);
    else if (r < 0)
        r = 0; /* --help was printed */
    free(pos);
    lg_config_free(&cfg);
    return r;
}
