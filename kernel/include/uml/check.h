/*
 * The machine's self-check (uml_check): each layer audits what it owns under
 * its own lock and writes what it found into one report, a line each;
 * "FAIL ..." lines count as problems.
 */
#ifndef UML_CHECK_H
#define UML_CHECK_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

struct kcheck {
	char *buf;
	size_t size, len; /* len: what the whole report needs, may exceed size */
	unsigned problems;
};

static inline void __attribute__((format(printf, 2, 3)))
kcheck_line(struct kcheck *c, const char *fmt, ...)
{
	size_t at = c->len < c->size ? c->len : c->size;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(c->buf + at, c->size - at, fmt, ap);
	va_end(ap);
	if (n > 0)
		c->len += (size_t)n;
	at = c->len < c->size ? c->len : c->size;
	if (at < c->size)
		c->buf[at] = '\n';
	c->len++;
}

#define kcheck_fail(c, ...) ((c)->problems++, kcheck_line((c), "FAIL " __VA_ARGS__))

#endif
