/* Config: defaults, environment, flags winning over environment, bounds, validation. */
#include "app/config.h"
#include "core/err.h"
#include "test.h"

#include <string.h>

typedef struct {
    const char *const *pairs; /* name, value, ..., NULL */
} fake_env_t;

static const char *fake_getenv(const char *name, void *data)
{
    const fake_env_t *e = data;
    for (const char *const *p = e->pairs; *p; p += 2)
        if (strcmp(p[0], name) == 0) return p[1];
    return NULL;
}

TEST(defaults_are_valid)
{
    config_t c;
    char err[256];
    config_init(&c);
    ASSERT_EQ_INT(4000, c.port);
    ASSERT_EQ_STR("./data", c.data_dir);
    ASSERT_EQ_STR("development", c.env);
    ASSERT_EQ_INT(1048576, c.max_body);
    ASSERT_EQ_INT(0, config_validate(&c, err, sizeof err));
    config_dispose(&c);
}

TEST(env_then_flags_win)
{
    static const char *const pairs[] = {"BELLHOP_PORT", "5000", "BELLHOP_DATA_DIR", "/tmp/x",
                                        "BELLHOP_MAX_BODY", "2048", NULL};
    fake_env_t env = {pairs};
    config_t c;
    char err[256];
    config_init(&c);
    ASSERT_EQ_INT(0, config_load_env(&c, fake_getenv, &env, err, sizeof err));
    ASSERT_EQ_INT(5000, c.port);
    ASSERT_EQ_INT(2048, c.max_body);
    char a0[] = "--port", a1[] = "6000", a2[] = "--org", a3[] = "7", a4[] = "--demo",
         a5[] = "--data-dir=/tmp/y";
    char *argv[] = {a0, a1, a2, a3, a4, a5};
    int rest = -1;
    ASSERT_EQ_INT(0, config_load_args(&c, 6, argv, &rest, err, sizeof err));
    ASSERT_EQ_INT(6000, c.port);
    ASSERT_EQ_INT(1, c.demo);
    ASSERT_EQ_STR("/tmp/y", c.data_dir);
    ASSERT_EQ_INT(2, rest); /* --org 7 left for the command */
    ASSERT_EQ_STR("--org", argv[0]);
    ASSERT_EQ_STR("7", argv[1]);
    config_dispose(&c);
}

TEST(bad_values_name_their_source)
{
    static const char *const pairs[] = {"BELLHOP_PORT", "abc", NULL};
    static const char *const pairs2[] = {"BELLHOP_PORT", "70000", NULL};
    static const char *const pairs3[] = {"BELLHOP_DEMO", "maybe", NULL};
    fake_env_t env = {pairs}, env2 = {pairs2}, env3 = {pairs3};
    config_t c;
    char err[256];
    config_init(&c);
    ASSERT_EQ_INT(BH_ECONFIG, config_load_env(&c, fake_getenv, &env, err, sizeof err));
    ASSERT(strstr(err, "BELLHOP_PORT") != NULL);
    ASSERT_EQ_INT(BH_ECONFIG, config_load_env(&c, fake_getenv, &env2, err, sizeof err));
    ASSERT(strstr(err, "outside") != NULL);
    ASSERT_EQ_INT(BH_ECONFIG, config_load_env(&c, fake_getenv, &env3, err, sizeof err));
    char a0[] = "--port";
    char *argv[] = {a0};
    int rest;
    ASSERT_EQ_INT(BH_ECONFIG, config_load_args(&c, 1, argv, &rest, err, sizeof err));
    ASSERT(strstr(err, "needs a value") != NULL);
    config_dispose(&c);
}

TEST(production_requires_a_long_secret)
{
    static const char *const prod[] = {"BELLHOP_ENV", "production", NULL};
    static const char *const shortsec[] = {"BELLHOP_JWT_SECRET", "short", NULL};
    static const char *const level[] = {"BELLHOP_LOG_LEVEL", "loud", NULL};
    fake_env_t e1 = {prod}, e2 = {shortsec}, e3 = {level};
    config_t c;
    char err[256];
    config_init(&c);
    config_load_env(&c, fake_getenv, &e1, err, sizeof err);
    ASSERT_EQ_INT(BH_ECONFIG, config_validate(&c, err, sizeof err));
    ASSERT(strstr(err, "BELLHOP_JWT_SECRET") != NULL);
    config_dispose(&c);
    config_init(&c);
    config_load_env(&c, fake_getenv, &e2, err, sizeof err);
    ASSERT_EQ_INT(BH_ECONFIG, config_validate(&c, err, sizeof err));
    config_dispose(&c);
    config_init(&c);
    config_load_env(&c, fake_getenv, &e3, err, sizeof err);
    ASSERT_EQ_INT(BH_ECONFIG, config_validate(&c, err, sizeof err));
    ASSERT(strstr(err, "BELLHOP_LOG_LEVEL") != NULL);
    config_dispose(&c);
}

TEST_MAIN(TEST_ENTRY(defaults_are_valid), TEST_ENTRY(env_then_flags_win),
          TEST_ENTRY(bad_values_name_their_source), TEST_ENTRY(production_requires_a_long_secret))
