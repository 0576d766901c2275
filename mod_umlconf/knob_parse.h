/*
 * mod_umlconf: the pure half of the knobs -- what a write's bytes mean and
 * how a refused value is shown. No httpd or APR here, so that the fuzzer
 * (t/fuzz/fuzz_knob.c) and the RPC harness's validated files link exactly
 * the code the module runs.
 */
#ifndef UMLCONF_KNOB_PARSE_H
#define UMLCONF_KNOB_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UMLCONF_VALUE_MAX  32  /* longest knob content accepted, in bytes */
#define UMLCONF_REASON_MAX 160 /* longest reason (a write's comment), in bytes */
#define UMLCONF_SPLIT_MAX  256 /* longest value part of a write that has a comment */

/*
 * A knob write split into its value part and its reason. A comment starts
 * at a '#' that begins the content or follows a blank (space or tab) and
 * runs to the end of its line; the reason is its text without the '#' and
 * the blanks around it. The value part is the content without the comment
 * and the blanks before it: "0 # drain\n" is "0\n" and "drain".
 */
struct umlconf_knob_write {
	/*
	 * The value part, for the parser: the content itself (whatever its
	 * length) when it has no comment, else @buf.
	 */
	const char *value;
	size_t len;
	bool comment;			     /* the content had one (its reason may be "") */
	char reason[UMLCONF_REASON_MAX + 1]; /* NUL-terminated printable ASCII; "" without */
	char buf[UMLCONF_SPLIT_MAX];	     /* the value part of a write with a comment */
};

/*
 * Split @data/@len (not NUL-terminated) into *@w. Returns 0, or -EINVAL with
 * a reason in @why (as for umlconf_parse_fn) when the comment is longer than
 * UMLCONF_REASON_MAX, holds a byte that is not printable ASCII, or leaves a
 * value part longer than UMLCONF_SPLIT_MAX.
 */
int umlconf_knob_split(const char *data, size_t len, struct umlconf_knob_write *w, char *why,
		       size_t whylen);

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
 * Bytes as one printable line, for a quoted field: the first @shown bytes
 * with \n, \", \\ and \xNN escapes, "..." when cut there. A field is never
 * cut inside an escape: what does not fit in @size is left out. @out is
 * always NUL-terminated (@size > 0).
 */
void umlconf_quote(char *out, size_t size, const char *data, size_t len, size_t shown);

/* A refused value for the error ring and log: umlconf_quote of its first 40 bytes. */
void umlconf_quote_value(char *out, size_t size, const char *data, size_t len);

#endif
