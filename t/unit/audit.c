/* The death tests' audit (audit.h). */
#include <string.h>

#include "audit.h"
#include "tap.h"
#include "uml.h"
#include "uml/mm.h"

bool check_ok(void)
{
	static char report[16384];

	uml_check(report, sizeof(report));
	if (strncmp(report, "ok\n", 3) == 0)
		return true;
	diag("%s", report);
	return false;
}

uint64_t pages_used(void)
{
	struct mm_stats st;

	uml_reap();
	mm_drain();
	mm_shrink();
	mm_stats(&st);
	return st.total_pages - st.free_pages - st.cached_pages;
}
