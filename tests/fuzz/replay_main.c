/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The main() of the replay executables: runs every file of the given seed
 * corpus directories (or single files) through LLVMFuzzerTestOneInput(),
 * so that the fuzz drivers build and run with any C compiler (CI has only
 * gcc). Seeds named "ok-*" must be accepted and "bad-*" refused; a run
 * that finds no input at all fails, so an empty or moved corpus is noticed.
 */
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

typedef struct stats {
    unsigned runs;
    unsigned ok;
    unsigned bad;
    unsigned failures;
} stats_t;

/* The whole file in a buffer of exactly its size, so ASan sees any overread. */
static uint8_t *
read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    uint8_t *data = NULL;
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && st.st_size >= 0) {
        *len = (size_t)st.st_size;
        data = malloc(*len > 0 ? *len : 1);
        if (data != NULL && fread(data, 1, *len, f) != *len) {
            free(data);
            data = NULL;
        }
    }
    fclose(f);
    return data;
}

static void
run_file(const char *path, stats_t *s)
{
    size_t len = 0;
    uint8_t *data = read_file(path, &len);
    if (data == NULL) {
        fprintf(stderr, "%s: cannot read\n", path);
        s->failures++;
        return;
    }
    tc_fuzz_verdict = -1;
    (void)LLVMFuzzerTestOneInput(data, len);
    free(data);
    s->runs++;
    const char *base = strrchr(path, '/');
    base = base != NULL ? base + 1 : path;
    int want = -1;
    if (strncmp(base, "ok-", 3) == 0) {
        want = 1;
        s->ok++;
    } else if (strncmp(base, "bad-", 4) == 0) {
        want = 0;
        s->bad++;
    }
    if (tc_fuzz_verdict != 0 && tc_fuzz_verdict != 1) {
        fprintf(stderr, "%s: the driver set no verdict\n", path);
        s->failures++;
    } else if (want >= 0 && tc_fuzz_verdict != want) {
        fprintf(stderr, "%s: %s, expected %s\n", path, tc_fuzz_verdict ? "accepted" : "refused",
                want ? "accepted" : "refused");
        s->failures++;
    }
}

static int
by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int
skip_entry(const struct dirent *e)
{
    return e->d_name[0] != '.';
}

static void
run_path(const char *path, stats_t *s)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno)); /* NOLINT(concurrency-mt-unsafe) */
        s->failures++;
        return;
    }
    if (!S_ISDIR(st.st_mode)) {
        run_file(path, s);
        return;
    }
    struct dirent **names;
    int n = scandir(path, &names, skip_entry, by_name);
    if (n < 0) {
        fprintf(stderr, "%s: cannot list\n", path);
        s->failures++;
        return;
    }
    for (int i = 0; i < n; i++) {
        char full[4096];
        int k = snprintf(full, sizeof(full), "%s/%s", path, names[i]->d_name);
        if (k > 0 && (size_t)k < sizeof(full)) {
            run_path(full, s);
        }
        free(names[i]);
    }
    free(names);
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
        return 2;
    }
    stats_t s = {0, 0, 0, 0};
    for (int i = 1; i < argc; i++) {
        run_path(argv[i], &s);
    }
    printf("%s: %u inputs (%u ok-*, %u bad-*), %u failures\n", argv[0], s.runs, s.ok, s.bad,
           s.failures);
    if (s.runs == 0) {
        fprintf(stderr, "%s: no input found: the corpus is missing or empty\n", argv[0]);
        return 1;
    }
    return s.failures == 0 ? 0 : 1;
}
