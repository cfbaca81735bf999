/* Config: the uploads block (defaults, variables, flags, bounds). */
#include "app/config.h"
#include "core/err.h"
#include "test.h"

#include <string.h>

static const char *fake_getenv(const char *name, void *data)
{
    const char *const *p = data;
    for (; *p; p += 2)
        if (strcmp(p[0], name) == 0) return p[1];
    return NULL;
}

TEST(upload_defaults)
{
    config_t c;
    char err[256];
    config_init(&c);
    ASSERT_EQ_INT(10 * 1024 * 1024, c.upload_max_id_document);
    ASSERT_EQ_INT(25 * 1024 * 1024, c.upload_max_image);
    ASSERT_EQ_INT(256 * 1024 * 1024, c.upload_max_csv);
    ASSERT_EQ_INT(256 * 1024 * 1024, c.upload_max_excel);
    ASSERT_EQ_INT(4 * 1024 * 1024, c.upload_chunk_max);
    ASSERT_EQ_INT(4 * 1024 * 1024, c.upload_buffer);
    ASSERT_EQ_INT(4 * 1024 * 1024, c.upload_ack_bytes);
    ASSERT_EQ_INT(86400, c.upload_expiry_s);
    ASSERT_EQ_INT(60000, c.upload_sweep_ms);
    ASSERT_EQ_INT(20, c.upload_max_active);
    ASSERT_EQ_INT(0, config_validate(&c, err, sizeof err));
    config_dispose(&c);
}

TEST(upload_env_and_flags)
{
    static const char *const env[] = {"BELLHOP_UPLOAD_MAX_ID_DOCUMENT",
                                      "1000",
                                      "BELLHOP_UPLOAD_MAX_IMAGE",
                                      "2000",
                                      "BELLHOP_UPLOAD_MAX_CSV",
                                      "3000",
                                      "BELLHOP_UPLOAD_MAX_EXCEL",
                                      "4000",
                                      "BELLHOP_UPLOAD_CHUNK_MAX",
                                      "65536",
                                      "BELLHOP_UPLOAD_BUFFER",
                                      "131072",
                                      "BELLHOP_UPLOAD_ACK_BYTES",
                                      "1048576",
                                      "BELLHOP_UPLOAD_EXPIRY_S",
                                      "60",
                                      "BELLHOP_UPLOAD_SWEEP_MS",
                                      "500",
                                      "BELLHOP_UPLOAD_MAX_ACTIVE",
                                      "2",
                                      NULL};
    config_t c;
    char err[256];
    config_init(&c);
    ASSERT_EQ_INT(0, config_load_env(&c, fake_getenv, (void *)env, err, sizeof err));
    ASSERT_EQ_INT(1000, c.upload_max_id_document);
    ASSERT_EQ_INT(2000, c.upload_max_image);
    ASSERT_EQ_INT(3000, c.upload_max_csv);
    ASSERT_EQ_INT(4000, c.upload_max_excel);
    ASSERT_EQ_INT(65536, c.upload_chunk_max);
    ASSERT_EQ_INT(131072, c.upload_buffer);
    ASSERT_EQ_INT(1048576, c.upload_ack_bytes);
    ASSERT_EQ_INT(60, c.upload_expiry_s);
    ASSERT_EQ_INT(500, c.upload_sweep_ms);
    ASSERT_EQ_INT(2, c.upload_max_active);
    char a0[] = "--upload-max-active=7", a1[] = "--upload-buffer", a2[] = "65536";
    char *argv[] = {a0, a1, a2};
    int rest = -1;
    ASSERT_EQ_INT(0, config_load_args(&c, 3, argv, &rest, err, sizeof err));
    ASSERT_EQ_INT(7, c.upload_max_active);
    ASSERT_EQ_INT(65536, c.upload_buffer);
    ASSERT_EQ_INT(0, rest);
    config_dispose(&c);
}

TEST(upload_bounds)
{
    static const char *const bad[][2] = {
        {"BELLHOP_UPLOAD_CHUNK_MAX", "100"}, /* under 1 KiB */
        {"BELLHOP_UPLOAD_BUFFER", "1000"},   /* under 64 KiB */
        {"BELLHOP_UPLOAD_ACK_BYTES", "0"},
        {"BELLHOP_UPLOAD_EXPIRY_S", "0"},
        {"BELLHOP_UPLOAD_SWEEP_MS", "10"},
        {"BELLHOP_UPLOAD_MAX_ACTIVE", "0"},
        {"BELLHOP_UPLOAD_MAX_IMAGE", "-1"},
        {"BELLHOP_UPLOAD_MAX_ID_DOCUMENT", "2000000000"}, /* over 1 GiB */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *env[] = {bad[i][0], bad[i][1], NULL};
        config_t c;
        char err[256] = "";
        config_init(&c);
        ASSERT_EQ_INT(BH_ECONFIG, config_load_env(&c, fake_getenv, (void *)env, err, sizeof err));
        ASSERT(strstr(err, bad[i][0]) != NULL);
        config_dispose(&c);
    }
}

TEST_MAIN(TEST_ENTRY(upload_defaults), TEST_ENTRY(upload_env_and_flags), TEST_ENTRY(upload_bounds))
