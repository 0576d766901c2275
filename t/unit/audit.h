/*
 * What the death tests (test_death, test_inet_death, mm_kill) look at after
 * each death: the machine's own check, and the pages it has in use.
 */
#ifndef T_UNIT_AUDIT_H
#define T_UNIT_AUDIT_H

#include <stdbool.h>
#include <stdint.h>

/* uml_check's verdict: true for "ok", else false with the report as a diag. */
bool check_ok(void);
/* Pages neither free nor in a thread's cache, after the reaper and the caches gave back what they
 * can. */
uint64_t pages_used(void);

#endif
