/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Telling why a plugin library did not load (plugin/host.c's
 * tc_host_open()): the ELF header of the file against the server's own,
 * then dlerror()'s text; and, before dlopen(), whether a file of this
 * machine is cut short, which the loader would die of.
 */
#include "plugin/libfile.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* What an ELF header says about the code in its file. */
typedef struct elf_id {
    unsigned cls;     /* ELFCLASS32, ELFCLASS64 */
    unsigned data;    /* ELFDATA2LSB, ELFDATA2MSB */
    unsigned type;    /* ET_REL, ET_DYN, ... */
    unsigned machine; /* EM_X86_64, EM_AARCH64, ... */
} elf_id_t;

/* e_type and e_machine are at the same offsets in 32- and 64-bit headers. */
#define ELF_TYPE_AT    16
#define ELF_MACHINE_AT 18
#define ELF_ID_LEN     20

static unsigned
half(const unsigned char *p, unsigned data)
{
    return data == ELFDATA2MSB ? (unsigned)p[0] << 8 | p[1] : (unsigned)p[1] << 8 | p[0];
}

/* 'id' from the first 'n' bytes of a file; false when they hold no ELF header. */
static bool
elf_parse(const unsigned char *h, size_t n, elf_id_t *id)
{
    if (n < ELF_ID_LEN || memcmp(h, ELFMAG, SELFMAG) != 0) {
        return false;
    }
    id->cls = h[EI_CLASS];
    id->data = h[EI_DATA];
    id->type = half(h + ELF_TYPE_AT, id->data);
    id->machine = half(h + ELF_MACHINE_AT, id->data);
    return true;
}

/* An object of this file, whose address dladdr() finds the server's executable by. */
static const char anchor;

/* The server's own: the ELF header the executable holding this code is mapped with. */
static bool
elf_self(elf_id_t *id)
{
    Dl_info info;
    if (dladdr(&anchor, &info) == 0 || info.dli_fbase == NULL) {
        return false;
    }
    return elf_parse(info.dli_fbase, ELF_ID_LEN, id);
}

static const char *
machine_name(unsigned m)
{
    switch (m) {
    case EM_386:
        return "x86 (i386)";
    case EM_X86_64:
        return "x86-64";
    case EM_ARM:
        return "ARM";
    case EM_AARCH64:
        return "AArch64";
    case EM_PPC:
        return "PowerPC";
    case EM_PPC64:
        return "PowerPC64";
    case EM_S390:
        return "s390";
    case EM_MIPS:
        return "MIPS";
    case EM_RISCV:
        return "RISC-V";
    case EM_SPARCV9:
        return "SPARC V9";
    case 258: /* EM_LOONGARCH, which older <elf.h> lack */
        return "LoongArch";
    default:
        return NULL;
    }
}

/* "AArch64 (64-bit)", "PowerPC64 (64-bit, big-endian)", "ELF machine 4242 (32-bit)". */
static void
describe(const elf_id_t *id, char *buf, size_t cap)
{
    const char *name = machine_name(id->machine);
    char number[32];
    if (name == NULL) {
        (void)snprintf(number, sizeof(number), "ELF machine %u", id->machine);
        name = number;
    }
    const char *bits = id->cls == ELFCLASS64   ? "64-bit"
                       : id->cls == ELFCLASS32 ? "32-bit"
                                               : "?-bit";
    (void)snprintf(buf, cap, "%s (%s%s)", name, bits,
                   id->data == ELFDATA2MSB ? ", big-endian" : "");
}

/* Up to 'cap' bytes of the start of 'path' into 'h'; -1 when it is no regular file to read. */
static ssize_t
head(const char *path, unsigned char *h, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        return -1;
    }
    struct stat st;
    ssize_t n = -1;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        do {
            n = read(fd, h, cap);
        } while (n < 0 && errno == EINTR);
    }
    (void)close(fd);
    return n;
}

/* What the file itself says is wrong with it, into 'buf'; false when it looks loadable. */
static bool
file_why(const char *path, char *buf, size_t cap)
{
    unsigned char h[64];
    ssize_t n = head(path, h, sizeof(h));
    if (n < 0) {
        return false; /* missing, unreadable, a folder: dlerror() says so well */
    }
    if (n == 0) {
        (void)snprintf(buf, cap, "the file is empty");
        return true;
    }
    elf_id_t id;
    if (!elf_parse(h, (size_t)n, &id)) {
        if ((size_t)n >= 8 && memcmp(h, "!<arch>\n", 8) == 0) {
            (void)snprintf(buf, cap,
                           "it is a static library (an ar archive), not a shared object: link it "
                           "with -shared");
        } else {
            (void)snprintf(buf, cap,
                           "it is not a shared object (it does not start with an ELF header)");
        }
        return true;
    }
    elf_id_t self;
    if (elf_self(&self) &&
        (id.cls != self.cls || id.data != self.data || id.machine != self.machine)) {
        char theirs[64];
        char ours[64];
        describe(&id, theirs, sizeof(theirs));
        describe(&self, ours, sizeof(ours));
        (void)snprintf(buf, cap,
                       "it is built for %s, this server runs on %s: build it for this machine",
                       theirs, ours);
        return true;
    }
    if (id.type == ET_REL) {
        (void)snprintf(buf, cap,
                       "it is an object file (.o), not a shared object: link it with -shared");
        return true;
    }
    return false;
}

bool
tc_libfile_truncated(const char *path, char *buf, size_t cap)
{
    if (strchr(path, '/') == NULL) {
        return false;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        return false;
    }
    struct stat st;
    ElfW(Ehdr) eh;
    uint64_t need = 0;
    bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
              pread(fd, &eh, sizeof(eh), 0) == (ssize_t)sizeof(eh) &&
              memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0;
    elf_id_t self;
    /* another machine's, word size or byte order: dlopen() refuses it, tc_libfile_why() says why */
    ok = ok && elf_self(&self) && eh.e_ident[EI_CLASS] == self.cls &&
         eh.e_ident[EI_DATA] == self.data && eh.e_machine == self.machine &&
         eh.e_phentsize == sizeof(ElfW(Phdr));
    if (ok) {
        need = (uint64_t)eh.e_phoff + (uint64_t)eh.e_phnum * sizeof(ElfW(Phdr));
        for (unsigned i = 0; i < eh.e_phnum && need <= (uint64_t)st.st_size; i++) {
            ElfW(Phdr) ph;
            off_t at = (off_t)(eh.e_phoff + i * sizeof(ph));
            if (pread(fd, &ph, sizeof(ph), at) != (ssize_t)sizeof(ph)) {
                break;
            }
            uint64_t end = (uint64_t)ph.p_offset + ph.p_filesz;
            if (ph.p_type == PT_LOAD && end > need) {
                need = end;
            }
        }
    }
    (void)close(fd);
    if (!ok || need <= (uint64_t)st.st_size) {
        return false;
    }
    (void)snprintf(buf, cap,
                   "it is truncated: the file has %lld bytes, its ELF headers place its code and "
                   "data up to byte %llu (an interrupted copy or build?): copy or build it again",
                   (long long)st.st_size, (unsigned long long)need);
    return true;
}

void
tc_libfile_why(const char *path, const char *dlerr, char *buf, size_t cap)
{
    if (cap == 0) {
        return;
    }
    /* a copy first: dladdr() below is a dl*() call, after which dlerror()'s text may go */
    char text[4096]; /* it holds a path */
    (void)snprintf(text, sizeof(text), "%s", dlerr != NULL ? dlerr : "");
    dlerr = text;
    if (file_why(path, buf, cap)) {
        return;
    }
    if (dlerr[0] == '\0') {
        (void)snprintf(buf, cap, "dlopen() failed without saying why");
        return;
    }
    /*
     * dlerror() starts with the name of the file it is about: the plugin
     * (its path as given), or another file, such as a library the plugin
     * needs ("libfoo.so: cannot open shared object file: ..."), which
     * would otherwise read as the plugin itself.
     */
    size_t plen = strlen(path);
    const char *colon = strstr(dlerr, ": ");
    if (strncmp(dlerr, path, plen) == 0 && strncmp(dlerr + plen, ": ", 2) == 0) {
        (void)snprintf(buf, cap, "%s", dlerr + plen + 2);
    } else if (colon != NULL && colon > dlerr &&
               memchr(dlerr, ' ', (size_t)(colon - dlerr)) == NULL) {
        (void)snprintf(buf, cap, "a library it needs does not load: %s", dlerr);
    } else {
        (void)snprintf(buf, cap, "%s", dlerr);
    }
}
