/* Config: the chat block (defaults, environment, flags, bounds). */
#include "app/config.h"
#include "core/err.h"
#include "test.h"

#include <string.h>

static const char *env_of(const char *name, void *data)
{
    for (const char *const *p = data; *p; p += 2)
        if (strcmp(p[0], name) == 0) return p[1];
    return NULL;
}

TEST(chat_defaults)
{
    config_t c;
    config_init(&c);
    ASSERT_EQ_INT(50, c.chat_history);
    ASSERT_EQ_INT(4000, c.chat_max_length);
    ASSERT_EQ_INT(5, c.chat_rate);
    ASSERT_EQ_INT(20, c.chat_burst);
    ASSERT_EQ_INT(100, c.chat_max_rooms);
    ASSERT_EQ_INT(5000, c.chat_typing_timeout_ms);
    ASSERT_EQ_INT(300000, c.chat_away_ms);
    ASSERT_EQ_INT(10000, c.chat_offline_grace_ms);
    config_dispose(&c);
}

TEST(chat_from_env_and_flags)
{
    static const char *const env[] = {"BELLHOP_CHAT_HISTORY",
                                      "7",
                                      "BELLHOP_CHAT_RATE",
                                      "2",
                                      "BELLHOP_CHAT_OFFLINE_GRACE_MS",
                                      "0",
                                      NULL};
    config_t c;
    char err[256];
    config_init(&c);
    ASSERT_EQ_INT(0, config_load_env(&c, env_of, (void *)env, err, sizeof err));
    ASSERT_EQ_INT(7, c.chat_history);
    ASSERT_EQ_INT(2, c.chat_rate);
    ASSERT_EQ_INT(0, c.chat_offline_grace_ms);
    char a0[] = "--chat-history=9", a1[] = "--chat-burst", a2[] = "3", a3[] = "--chat-max-rooms",
         a4[] = "4", a5[] = "--chat-max-length=10", a6[] = "--chat-typing-timeout=300",
         a7[] = "--chat-away=400";
    char *argv[] = {a0, a1, a2, a3, a4, a5, a6, a7};
    int rest = -1;
    ASSERT_EQ_INT(0, config_load_args(&c, 8, argv, &rest, err, sizeof err));
    ASSERT_EQ_INT(0, rest);
    ASSERT_EQ_INT(9, c.chat_history);
    ASSERT_EQ_INT(3, c.chat_burst);
    ASSERT_EQ_INT(4, c.chat_max_rooms);
    ASSERT_EQ_INT(10, c.chat_max_length);
    ASSERT_EQ_INT(300, c.chat_typing_timeout_ms);
    ASSERT_EQ_INT(400, c.chat_away_ms);
    config_dispose(&c);
}

TEST(chat_bounds)
{
    static const char *const bad[][3] = {
        {"BELLHOP_CHAT_HISTORY", "0", NULL},
        {"BELLHOP_CHAT_HISTORY", "501", NULL},
        {"BELLHOP_CHAT_MAX_LENGTH", "16001", NULL},
        {"BELLHOP_CHAT_RATE", "0", NULL},
        {"BELLHOP_CHAT_BURST", "0", NULL},
        {"BELLHOP_CHAT_MAX_ROOMS", "0", NULL},
        {"BELLHOP_CHAT_TYPING_TIMEOUT_MS", "49", NULL},
        {"BELLHOP_CHAT_AWAY_MS", "-1", NULL},
        {"BELLHOP_CHAT_OFFLINE_GRACE_MS", "3600001", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        config_t c;
        char err[256] = "";
        config_init(&c);
        int rc = config_load_env(&c, env_of, (void *)bad[i], err, sizeof err);
        config_dispose(&c);
        if (rc != BH_ECONFIG) TEST_FAIL_("%s=%s accepted", bad[i][0], bad[i][1]);
        ASSERT(strstr(err, bad[i][0]) != NULL);
    }
}

TEST_MAIN(TEST_ENTRY(chat_defaults), TEST_ENTRY(chat_from_env_and_flags), TEST_ENTRY(chat_bounds))
