/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the configuration: precedence of flags over environment over
 * file over defaults, and the errors for bad keys and values.
 */
#include <stdlib.h>

#include <unistd.h>

#include "core/config.h"
#include "core/log.h"

#include "harness.h"

static char *tmp;

static char *write_conf(const char *name, const char *text)
{
    char *path = lg_xasprintf("%s/%s", tmp, name);
    FILE *f = fopen(path, "w");
    lg_assert(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static void clear_env(void)
{
    static const char *const vars[] = { "LEGATO_MUSIC",         "LEGATO_DATA",
                                        "LEGATO_LISTEN",        "LEGATO_DB",
                                        "LEGATO_CONFIG",        "LEGATO_LOG_LEVEL",
                                        "LEGATO_SCAN_INTERVAL", "LEGATO_LOG_FORMAT" };
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        unsetenv(vars[i]);
    setenv("XDG_CONFIG_HOME", tmp, 1);
    setenv("HOME", "/home/someone", 1);
    unsetenv("XDG_DATA_HOME");
}

/* Resolves a config from argv; returns the result code, err in errbuf. */
static int load(struct lg_config *c, int argc, char **argv, char *err, size_t errlen)
{
    lg_config_init(c);
    for (int i = 0; i < argc;) {
        int r = lg_config_take_flag(c, argc, argv, &i, err, errlen);
        if (r < 0)
            return r;
        if (r == 0)
            i++;
    }
    return lg_config_finish(c, err, errlen);
}

LG_TEST(defaults)
{
    clear_env();
    struct lg_config c;
    char err[256];
    CHECK_INT(load(&c, 0, NULL, err, sizeof(err)), 0);
    CHECK_STR(c.listen, "127.0.0.1:5342");
    CHECK_STR(c.music_dir, "/home/someone/Music");
    CHECK_STR(c.data_dir, "/home/someone/.local/share/legato");
    CHECK_INT(c.log_level, LG_LOG_INFO);
    CHECK_INT(c.scan_interval_s, 3600);
    char *db = lg_config_db_path(&c);
    CHECK_STR(db, "/home/someone/.local/share/legato/legato.db");
    free(db);
    lg_config_free(&c);
}

LG_TEST(precedence)
{
    clear_env();
    char *conf = write_conf("p.conf", "# comment\nlisten = 127.0.0.1:1111\n"
                                      "music = /file/music\ndata=/file/data\n"
                                      "scan_interval = 60\n");
    setenv("LEGATO_CONFIG", conf, 1);
    setenv("LEGATO_LISTEN", "127.0.0.1:2222", 1);
    setenv("LEGATO_MUSIC", "/env/music", 1);
    char *argv[] = { "--listen", "127.0.0.1:3333", "--log-level=debug", "positional" };
    struct lg_config c;
    char err[256];
    CHECK_INT(load(&c, 4, argv, err, sizeof(err)), 0);
    CHECK_STR(c.listen, "127.0.0.1:3333"); /* flag beats env and file */
    CHECK_STR(c.music_dir, "/env/music");  /* env beats file */
    CHECK_STR(c.data_dir, "/file/data");   /* file beats default */
    CHECK_INT(c.scan_interval_s, 60);
    CHECK_INT(c.log_level, LG_LOG_DEBUG);
    CHECK_STR(c.config_file, conf);
    lg_config_free(&c);
    free(conf);
    clear_env();
}

LG_TEST(default_file_location)
{
    clear_env();
    char *cmd = lg_xasprintf("mkdir -p %s/legato", tmp);
    CHECK_INT(system(cmd), 0);
    free(cmd);
    char *conf = write_conf("legato/legato.conf", "music = /xdg/music  # the NAS\n"
                                                  "data = /xdg/#1 data\t# a comment\n");
    struct lg_config c;
    char err[256];
    CHECK_INT(load(&c, 0, NULL, err, sizeof(err)), 0);
    CHECK_STR(c.music_dir, "/xdg/music");
    CHECK_STR(c.data_dir, "/xdg/#1 data"); /* a '#' inside a word stays */
    lg_config_free(&c);
    unlink(conf);
    free(conf);
}

LG_TEST(errors)
{
    static const struct {
        const char *file;
        const char *flag;
        const char *needle;
    } rows[] = {
        { "bogus = 1\n", NULL, "unknown key 'bogus'" },
        { "no equals sign\n", NULL, "expected 'key = value'" },
        { "scan_interval = soon\n", NULL, "scan_interval must be a whole number" },
        { "", "--scan-interval=-1", "option --scan-interval: scan_interval" },
        { "", "--log-level=loud", "log_level must be error, warn" },
        { "", "--log-format=xml", "log_format must be text or json" },
        { "", "--max-connections=0", "max_connections must be a whole number from 1" },
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        clear_env();
        char *conf = write_conf("e.conf", rows[i].file);
        char *argv[] = { "--config", conf, (char *)rows[i].flag };
        struct lg_config c;
        char err[256] = "";
        CHECK_INT(load(&c, rows[i].flag ? 3 : 2, argv, err, sizeof(err)), LG_EINVAL);
        if (!strstr(err, rows[i].needle)) {
            fprintf(stderr, "  row %zu: '%s' lacks '%s'\n", i, err, rows[i].needle);
            CHECK(0);
        }
        lg_config_free(&c);
        free(conf);
    }
}

LG_TEST(missing_named_file_and_value)
{
    clear_env();
    struct lg_config c;
    char err[256] = "";
    char *argv[] = { "--config", "/nonexistent/legato.conf" };
    CHECK_INT(load(&c, 2, argv, err, sizeof(err)), LG_EINVAL);
    CHECK(strstr(err, "/nonexistent/legato.conf") != NULL);
    lg_config_free(&c);
    char *argv2[] = { "--music" };
    CHECK_INT(load(&c, 1, argv2, err, sizeof(err)), LG_EINVAL);
    CHECK(strstr(err, "--music needs a value") != NULL);
    lg_config_free(&c);
}

LG_TEST(setup)
{
    tmp = lg_test_tmpdir("config");
}

LG_TEST_MAIN(LG_CASE(setup), LG_CASE(defaults), LG_CASE(precedence), LG_CASE(default_file_location),
             LG_CASE(errors), LG_CASE(missing_named_file_and_value))
