/*
 * mod_umlconf: the pure half of the knobs -- what a write's bytes mean and
 * how a refused value is shown. No httpd or APR here, so that the fuzzer
 * (t/fuzz/fuzz_knob.c) and the RPC harness's validated files link exactly
 * the code the module runs.
 */
#ifndef UMLCONF_KNOB_PARSE_H
#define UMLCONF_KNOB_PARSE_H

#include <stddef.h>
#include <stdint.h>

#define UMLCONF_VALUE_MAX 32 /* longest knob content accepted, in bytes */

/*
 * A knob's text to number: @data/@len is the whole new content of the file
 * (not NUL-terminated). Returns 0 with the value in *@v, or -EINVAL/-ERANGE
 * with a reason in @why (NUL-terminated within @whylen, which must be > 0);
 * *@v is left alone then.
 */
typedef int umlconf_parse_fn(const char *data, size_t len, int64_t *v, char *why, size_t whylen);

/* One decimal number and at most one trailing newline (what `echo N >` writes). */
int umlconf_parse_decimal(const char *data, size_t len, int64_t *v, char *why, size_t whylen);

/* 0 when @n is in @min..@max, else -ERANGE with a reason in @why as above. */
int umlconf_knob_range(int64_t n, int64_t min, int64_t max, char *why, size_t whylen);

/*
 * @parse, then the bounds: 0 with *@v in @min..@max, or the parser's error,
 * or -ERANGE, with a reason in @why as above.
 */
int umlconf_knob_check(umlconf_parse_fn *parse, const char *data, size_t len, int64_t min,
		       int64_t max, int64_t *v, char *why, size_t whylen);

/*
 * A refused value as one printable line for the error ring and log: the
 * first 40 bytes with \n, \", \\ and \xNN escapes, "..." when cut. @out is
 * always NUL-terminated (@size > 0).
 */
void umlconf_quote_value(char *out, size_t size, const char *data, size_t len);

#endif
