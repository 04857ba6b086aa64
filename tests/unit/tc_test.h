/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one include for unit tests: cmocka needs these system headers first,
 * in this order.
 */
#ifndef TC_TEST_H
#define TC_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* Assert that 'len' bytes at 'got' equal the bytes at 'want'. */
#define TC_ASSERT_BYTES(got, want, len) assert_memory_equal((got), (want), (len))

/*
 * Set the soft file size limit (RLIMIT_FSIZE) to 'max' bytes: a write past
 * it is cut to what fits, as on a full disk (the caller ignores SIGXFSZ).
 */
static inline void
tc_test_limit_file_size(rlim_t max)
{
    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &rl), 0);
    rl.rlim_cur = max;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &rl), 0);
}

/*
 * Create an empty file of its own for a test named 'name' (its path into
 * 'path', of 'cap' bytes) and return it open for reading and writing.
 */
static inline int
tc_test_temp_file(char *path, size_t cap, const char *name)
{
    snprintf(path, cap, "/tmp/tc-test-%s-%d-XXXXXX", name, (int)getpid());
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    return fd;
}

/*
 * A thread's body: 50 ms from its start, SIGUSR1 to the thread '*arg'
 * (a pthread_t), so that a wait in that thread is interrupted.
 */
static inline void *
tc_test_usr1_later(void *arg)
{
    const pthread_t *to = arg;
    struct timespec ts = {0, 50000000L};
    nanosleep(&ts, NULL);
    assert_int_equal(pthread_kill(*to, SIGUSR1), 0);
    return NULL;
}

#endif /* TC_TEST_H */
