/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The watchdog's pace (pace.h).
 */
#include "worker/pace.h"

#include "core/selfpipe.h"

void
tc_pace_init(tc_pace_t *p)
{
    p->quiet = TC_PACE_QUIET_LOOKS;
    p->armed = false;
}

long
tc_pace_next(tc_pace_t *p, bool busy, bool stopping)
{
    if (busy) {
        p->quiet = 0;
        return TC_PACE_BUSY_NS;
    }
    if (stopping) {
        return TC_PACE_STOP_NS;
    }
    if (p->quiet < TC_PACE_QUIET_LOOKS) {
        p->quiet++;
        return TC_PACE_QUIET_NS;
    }
    return TC_PACE_IDLE_NS;
}

void
tc_pace_arm(tc_pace_t *p, atomic_bool *idle)
{
    p->armed = true;
    atomic_store(idle, true);
}

void
tc_pace_disarm(tc_pace_t *p, atomic_bool *idle)
{
    if (!p->armed) {
        return;
    }
    p->armed = false;
    if (!atomic_exchange(idle, false)) {
        p->quiet = 0; /* a call took it: it woke us */
    }
}

void
tc_pace_call_started(atomic_bool *idle)
{
    if (TC_UNLIKELY(atomic_load(idle)) && atomic_exchange(idle, false)) {
        tc_selfpipe_wake();
    }
}
