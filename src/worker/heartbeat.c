/* SPDX-License-Identifier: Apache-2.0 */
/* The heartbeat page shared by a worker and its arbiter (MAP_SHARED|MAP_ANONYMOUS). */
#include "worker/heartbeat.h"

#include "core/clock.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>

struct tc_heartbeat {
    atomic_llong beat_ns; /* CLOCK_MONOTONIC, the same clock in both processes */
    atomic_int ready;
    atomic_int stopping;
    atomic_int shutdown;  /* written by the arbiter, read by the worker */
    atomic_int timed_out; /* written by the arbiter, read by the worker */
    atomic_int hook;      /* 1 + the index in hooks[] of the hook the main thread runs; 0: none */
    long long born_ns;    /* the page's creation, written before the fork */
    atomic_llong boot_ns; /* from then until the worker was ready; 0: not yet */
};

/*
 * The hooks a worker's main thread runs (the connection hooks run on the
 * loops, as calls), then a plugin's boot and exit hooks (on any thread, as
 * the host reports them). New names go at the end: a page holds an index.
 */
static const char *const hooks[] = {
    "post_fork",          "post_worker_init",   "worker_int",
    "worker_abort",       "worker_exit",        "plugin init_worker",
    "plugin init_thread", "plugin exit_thread", "plugin exit_worker"};

tc_heartbeat_t *
tc_heartbeat_new(void)
{
    void *p = mmap(NULL, sizeof(tc_heartbeat_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                   -1, 0);
    if (p == MAP_FAILED) {
        return NULL;
    }
    tc_heartbeat_t *hb = p;
    hb->born_ns = tc_clock_mono_ns();
    atomic_init(&hb->beat_ns, hb->born_ns);
    atomic_init(&hb->boot_ns, 0);
    atomic_init(&hb->ready, 0);
    atomic_init(&hb->stopping, 0);
    atomic_init(&hb->shutdown, 0);
    atomic_init(&hb->timed_out, 0);
    atomic_init(&hb->hook, 0);
    return hb;
}

int
tc_heartbeat_seal(tc_heartbeat_t *hb)
{
    return madvise(hb, sizeof(*hb), MADV_DONTFORK) == 0 ? TC_OK : -errno;
}

void
tc_heartbeat_free(tc_heartbeat_t *hb)
{
    if (hb != NULL) {
        (void)munmap(hb, sizeof(*hb));
    }
}

void
tc_heartbeat_beat(tc_heartbeat_t *hb)
{
    atomic_store_explicit(&hb->beat_ns, tc_clock_mono_ns(), memory_order_relaxed);
}

void
tc_heartbeat_beat_since(tc_heartbeat_t *hb, double stuck)
{
    long long t = tc_clock_mono_ns();
    if (stuck > 0) {
        long long back = stuck < (double)t / 1e9 ? (long long)(stuck * 1e9) : t;
        t -= back;
    }
    atomic_store_explicit(&hb->beat_ns, t, memory_order_relaxed);
}

void
tc_heartbeat_set_ready(tc_heartbeat_t *hb)
{
    long long t = tc_clock_mono_ns();
    atomic_store_explicit(&hb->beat_ns, t, memory_order_relaxed);
    atomic_store_explicit(&hb->boot_ns, t > hb->born_ns ? t - hb->born_ns : 1,
                          memory_order_relaxed);
    atomic_store(&hb->ready, 1); /* (after boot_ns: one who sees it ready sees how long) */
}

double
tc_heartbeat_last(const tc_heartbeat_t *hb)
{
    return (double)atomic_load_explicit(&hb->beat_ns, memory_order_relaxed) / 1e9;
}

double
tc_heartbeat_boot_time(const tc_heartbeat_t *hb)
{
    if (!atomic_load(&hb->ready)) {
        return -1.0;
    }
    return (double)atomic_load_explicit(&hb->boot_ns, memory_order_relaxed) / 1e9;
}

bool
tc_heartbeat_ready(const tc_heartbeat_t *hb)
{
    return atomic_load(&hb->ready) != 0;
}

void
tc_heartbeat_set_stopping(tc_heartbeat_t *hb)
{
    atomic_store(&hb->stopping, 1);
}

bool
tc_heartbeat_stopping(const tc_heartbeat_t *hb)
{
    return atomic_load(&hb->stopping) != 0;
}

void
tc_heartbeat_set_shutdown(tc_heartbeat_t *hb)
{
    atomic_store(&hb->shutdown, 1);
}

bool
tc_heartbeat_shutdown(const tc_heartbeat_t *hb)
{
    return atomic_load(&hb->shutdown) != 0;
}

void
tc_heartbeat_set_timed_out(tc_heartbeat_t *hb)
{
    atomic_store(&hb->timed_out, 1);
}

bool
tc_heartbeat_timed_out(const tc_heartbeat_t *hb)
{
    return atomic_load(&hb->timed_out) != 0;
}

void
tc_heartbeat_set_hook(tc_heartbeat_t *hb, const char *name)
{
    int code = 0;
    for (size_t i = 0; name != NULL && i < TC_ARRAY_LEN(hooks); i++) {
        if (strcmp(hooks[i], name) == 0) {
            code = (int)i + 1;
        }
    }
    atomic_store(&hb->hook, code);
}

const char *
tc_heartbeat_hook(const tc_heartbeat_t *hb)
{
    /* the worker writes the page: any number may be there */
    int code = atomic_load(&hb->hook);
    return code > 0 && (size_t)code <= TC_ARRAY_LEN(hooks) ? hooks[code - 1] : NULL;
}
