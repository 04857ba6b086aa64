/* SPDX-License-Identifier: Apache-2.0 */
/*
 * plugin/libfile.c: why a plugin library did not load, from files whose
 * ELF header is this program's own, changed where a plugin built wrong
 * differs (machine, word size, byte order, type), from files that are no
 * ELF at all, and from dlerror() texts; and a file of this machine cut
 * short, which dlopen() would die of.
 */
#include "tc_test.h"

#include "plugin/libfile.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>

static char dir[] = "/tmp/tc-test-libfile-XXXXXX";
static unsigned char self[64]; /* this program's ELF header */
static char path[128];

static int
setup(void **state)
{
    (void)state;
    assert_non_null(mkdtemp(dir));
    int fd = open("/proc/self/exe", O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(read(fd, self, sizeof(self)), sizeof(self));
    close(fd);
    snprintf(path, sizeof(path), "%s/lib.so", dir);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    (void)unlink(path);
    (void)rmdir(dir);
    return 0;
}

static void
put_file(const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* What tc_libfile_why() says of 'path' holding 'data', with dlerror() text 'dlerr'. */
static const char *
why(const void *data, size_t len, const char *dlerr)
{
    static char buf[512];
    put_file(data, len);
    tc_libfile_why(path, dlerr, buf, sizeof(buf));
    return buf;
}

/* This program's header with e_machine 'm' in the byte order 'data', and class 'cls'. */
static const unsigned char *
header(unsigned cls, unsigned data, unsigned type, unsigned m)
{
    static unsigned char h[64];
    memcpy(h, self, sizeof(h));
    h[EI_CLASS] = (unsigned char)cls;
    h[EI_DATA] = (unsigned char)data;
    unsigned char lo[2] = {(unsigned char)(type & 0xff), (unsigned char)(m & 0xff)};
    unsigned char hi[2] = {(unsigned char)(type >> 8), (unsigned char)(m >> 8)};
    h[16] = data == ELFDATA2MSB ? hi[0] : lo[0];
    h[17] = data == ELFDATA2MSB ? lo[0] : hi[0];
    h[18] = data == ELFDATA2MSB ? hi[1] : lo[1];
    h[19] = data == ELFDATA2MSB ? lo[1] : hi[1];
    return h;
}

static void
test_another_machine(void **state)
{
    (void)state;
    unsigned mine = (unsigned)self[18] | (unsigned)self[19] << 8; /* little-endian hosts */
    if (self[EI_DATA] != ELFDATA2LSB || self[EI_CLASS] != ELFCLASS64 || mine != EM_X86_64) {
        print_message("skipped: the texts of this test name an x86-64 host\n");
        skip();
    }
    const char *ours = "this server runs on x86-64 (64-bit): build it for this machine";
    char want[256];
    snprintf(want, sizeof(want), "it is built for AArch64 (64-bit), %s", ours);
    /* dlopen() calls such a file missing */
    const char *enoent = "cannot open shared object file: No such file or directory";
    char dlerr[256];
    snprintf(dlerr, sizeof(dlerr), "%s: %s", path, enoent);
    assert_string_equal(why(header(ELFCLASS64, ELFDATA2LSB, ET_DYN, EM_AARCH64), 64, dlerr), want);
    snprintf(want, sizeof(want), "it is built for x86 (i386) (32-bit), %s", ours);
    assert_string_equal(why(header(ELFCLASS32, ELFDATA2LSB, ET_DYN, EM_386), 64, dlerr), want);
    snprintf(want, sizeof(want), "it is built for PowerPC64 (64-bit, big-endian), %s", ours);
    assert_string_equal(why(header(ELFCLASS64, ELFDATA2MSB, ET_DYN, EM_PPC64), 64, dlerr), want);
    snprintf(want, sizeof(want), "it is built for ELF machine 4242 (64-bit), %s", ours);
    assert_string_equal(why(header(ELFCLASS64, ELFDATA2LSB, ET_DYN, 4242), 64, dlerr), want);
}

static void
test_not_a_shared_object(void **state)
{
    (void)state;
    const char *dlerr = "invalid ELF header";
    assert_string_equal(why("#!/bin/sh\necho hello\n", 21, dlerr),
                        "it is not a shared object (it does not start with an ELF header)");
    assert_string_equal(why("", 0, "file too short"), "the file is empty");
    assert_string_equal(why("!<arch>\n/               0", 24, dlerr),
                        "it is a static library (an ar archive), not a shared object: link it "
                        "with -shared");
    unsigned m = (unsigned)self[18] | (unsigned)self[19] << 8;
    assert_string_equal(why(header(self[EI_CLASS], self[EI_DATA], ET_REL, m), 64,
                            "only ET_DYN and ET_EXEC can be loaded"),
                        "it is an object file (.o), not a shared object: link it with -shared");
}

static void
test_dlerror_text(void **state)
{
    (void)state;
    char dlerr[256];
    char buf[512];
    /* a file of this machine: dlopen()'s reason, without the path it starts with */
    snprintf(dlerr, sizeof(dlerr), "%s: undefined symbol: missing_fn", path);
    assert_string_equal(why(self, sizeof(self), dlerr), "undefined symbol: missing_fn");
    /* another file's name first: a library the plugin needs */
    assert_string_equal(why(self, sizeof(self),
                            "libdep.so: cannot open shared object file: No such file or directory"),
                        "a library it needs does not load: libdep.so: cannot open shared object "
                        "file: No such file or directory");
    snprintf(dlerr, sizeof(dlerr), "%s.1: undefined symbol: f", path);
    snprintf(buf, sizeof(buf), "a library it needs does not load: %s", dlerr);
    assert_string_equal(why(self, sizeof(self), dlerr), buf);
    /* no file name first: as it is */
    assert_string_equal(why(self, sizeof(self), "out of memory"), "out of memory");
    assert_string_equal(why(self, sizeof(self), NULL), "dlopen() failed without saying why");
    /* no file there (or a folder): dlopen() says it well */
    (void)unlink(path);
    snprintf(dlerr, sizeof(dlerr), "%s: cannot open shared object file: No such file or directory",
             path);
    tc_libfile_why(path, dlerr, buf, sizeof(buf));
    assert_string_equal(buf, "cannot open shared object file: No such file or directory");
    /* cut to fit */
    tc_libfile_why(path, dlerr, buf, 7);
    assert_string_equal(buf, "cannot");
}

/* tc_libfile_truncated() of 'path' holding 'data'; its text in 'buf'. */
static bool
truncated(const void *data, size_t len, char *buf, size_t cap)
{
    put_file(data, len);
    buf[0] = '\0';
    return tc_libfile_truncated(path, buf, cap);
}

static void
test_truncated(void **state)
{
    (void)state;
    /* this program's whole file, then cut short: its last segments lie past its end */
    FILE *f = fopen("/proc/self/exe", "rb");
    assert_non_null(f);
    size_t cap = (size_t)64 << 20;
    unsigned char *exe = malloc(cap);
    assert_non_null(exe);
    size_t len = fread(exe, 1, cap, f);
    fclose(f);
    assert_true(len > 4096 && len < cap);
    char buf[512];
    assert_false(truncated(exe, len, buf, sizeof(buf)));
    assert_true(truncated(exe, len / 2, buf, sizeof(buf)));
    char want[128];
    snprintf(want, sizeof(want), "it is truncated: the file has %zu bytes, its ELF headers ",
             len / 2);
    assert_memory_equal(buf, want, strlen(want));
    assert_non_null(strstr(buf, "(an interrupted copy or build?): copy or build it again"));
    /* the ELF header alone: its program headers are cut off too */
    assert_true(truncated(exe, 64, buf, sizeof(buf)));
    assert_memory_equal(buf, "it is truncated: the file has 64 bytes", 38);
    free(exe);
    /* another machine's, or no ELF at all: left to dlopen() and tc_libfile_why() */
    assert_false(truncated(header(ELFCLASS64, ELFDATA2MSB, ET_DYN, EM_PPC64), 64, buf, 512));
    assert_false(truncated("#!/bin/sh\n", 10, buf, sizeof(buf)));
    assert_false(truncated("", 0, buf, sizeof(buf)));
    /* a name dlopen() searches for is not a path to read */
    assert_false(tc_libfile_truncated("lib.so", buf, sizeof(buf)));
    (void)unlink(path);
    assert_false(tc_libfile_truncated(path, buf, sizeof(buf)));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_another_machine),
        cmocka_unit_test(test_not_a_shared_object),
        cmocka_unit_test(test_dlerror_text),
        cmocka_unit_test(test_truncated),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
