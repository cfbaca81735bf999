/* replay.h: replays the fuzz corpus and the crash regressions through the fuzz targets' own entry
 * points, in the normal build (gcc, no libFuzzer), so that `make test` (and `make test
 * SANITIZE=1` under ASan+UBSan) re-runs every input that ever crashed, without clang.
 *
 * A target file is included with FUZZ_NO_MAIN (it then defines fuzz_<name>_one and no
 * LLVMFuzzerTestOneInput); replay_dir() feeds it each file of fuzz/corpus/<target>/ and
 * fuzz/regress/<target>/. A crash fails the test by crashing it; a target's own oracle aborts. */
#ifndef BH_TEST_REPLAY_H
#define BH_TEST_REPLAY_H

#define FUZZ_NO_MAIN 1

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int (*replay_fn)(const uint8_t *data, size_t size);

/* The repository root, from this file's path (CMake compiles with absolute paths). */
static const char *replay_root(void)
{
    static char root[1024];
    if (root[0]) return root;
    snprintf(root, sizeof root, "%s", __FILE__);
    char *p = strstr(root, "/tests/unit/");
    if (p) *p = '\0';
    else snprintf(root, sizeof root, ".");
    return root;
}

/* Feeds every file of fuzz/<kind>/<target>/ to fn. Returns the count, or -1 if the directory is
 * missing (kind "corpus" must exist for every target; "regress" only for targets with finds). */
static int replay_dir(const char *kind, const char *target, replay_fn fn)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/fuzz/%s/%s", replay_root(), kind, target);
    DIR *d = opendir(path);
    if (d == NULL) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char file[4096];
        snprintf(file, sizeof file, "%s/%s", path, e->d_name);
        FILE *f = fopen(file, "rb");
        if (f == NULL) continue;
        uint8_t *buf = malloc(1 << 20);
        size_t len = fread(buf, 1, 1 << 20, f);
        fclose(f);
        /* An exactly sized copy, as libFuzzer passes it. */
        uint8_t *in = malloc(len ? len : 1);
        memcpy(in, buf, len);
        free(buf);
        printf("#   %s/%s/%s\n", kind, target, e->d_name);
        fn(in, len);
        free(in);
        n++;
    }
    closedir(d);
    return n;
}

#endif
