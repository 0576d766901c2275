/* Minimal TAP producer for the kernel's unit tests; run them with prove. */
#ifndef UML_TAP_H
#define UML_TAP_H

#include <stdarg.h>

void plan(int n);
void plan_no_plan(void);
/* Report test number N: ok or not ok with a description. Returns @pass. */
int ok_(int pass, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#define ok(pass, ...) ok_(!!(pass), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(got, want, ...)                                                                     \
	({                                                                                         \
		long long g__ = (long long)(got), w__ = (long long)(want);                         \
		int r__ = ok(g__ == w__, __VA_ARGS__);                                             \
		if (!r__)                                                                          \
			diag("    got %lld, want %lld", g__, w__);                                 \
		r__;                                                                               \
	})
void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void skip(int n, const char *why);
void bail_out(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Print the plan if none was given and return the exit status for main(). */
int done_testing(void);

#endif
