#include <stdio.h>
#include <stdlib.h>
#include <stdarg.h>
#include "tap.h"

static int tap_planned = -1;
static int tap_run;
static int tap_failed;

void plan(int n)
{
	tap_planned = n;
	printf("1..%d\n", n);
	fflush(stdout);
}

void plan_no_plan(void)
{
	tap_planned = -1;
}

int ok_(int pass, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	tap_run++;
	printf("%sok %d - ", pass ? "" : "not ", tap_run);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!pass) {
		tap_failed++;
		printf("#   Failed test at %s line %d.\n", file, line);
	}
	fflush(stdout);
	return pass;
}

void diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

void skip(int n, const char *why)
{
	while (n-- > 0) {
		tap_run++;
		printf("ok %d # skip %s\n", tap_run, why);
	}
	fflush(stdout);
}

void bail_out(const char *fmt, ...)
{
	va_list ap;

	printf("Bail out! ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	exit(255);
}

int done_testing(void)
{
	if (tap_planned < 0)
		printf("1..%d\n", tap_run);
	fflush(stdout);
	if (tap_planned >= 0 && tap_planned != tap_run)
		return 255;
	return tap_failed ? 1 : 0;
}
