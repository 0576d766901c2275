/*
 * Bounded text for the files the module renders (/status, /config): each
 * renderer appends to a caller's buffer and a full buffer cuts the last line
 * rather than overflow it.
 */
#include <stdarg.h>
#include <stdio.h>

#include "umlconf.h"

void umlconf_buf_printf(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (size == 0 || *len >= size - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *len, size - *len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	*len += (size_t)n;
	if (*len >= size)
		*len = size - 1; /* truncated: the last line is cut, the NUL stays */
}
