/*
 * What the bytes of a knob write mean, and how a refused one is shown.
 *
 * Everything here sees bytes a client sent over NFS, so none of it may read
 * past @len or assume a NUL: the fuzzer (t/fuzz/fuzz_knob.c) hands these
 * functions exactly sized buffers under ASan to hold them to that.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "knob_parse.h"

/*
 * A knob file holds one decimal number and at most one trailing newline
 * (what `echo N >` writes). Anything else is refused rather than guessed at.
 */
int umlconf_parse_decimal(const char *data, size_t len, int64_t *v, char *why, size_t whylen)
{
	size_t i = 0;
	bool neg = false;
	int64_t n = 0;

	if (len > UMLCONF_VALUE_MAX) {
		snprintf(why, whylen, "too long (%zu bytes, at most %d)", len, UMLCONF_VALUE_MAX);
		return -EINVAL;
	}
	if (len > 0 && data[len - 1] == '\n')
		len--;
	if (len == 0) {
		snprintf(why, whylen, "no value");
		return -EINVAL;
	}
	if (data[0] == '-') {
		neg = true;
		i = 1;
	}
	if (i == len) {
		snprintf(why, whylen, "not a decimal number");
		return -EINVAL;
	}
	for (; i < len; i++) {
		if (data[i] < '0' || data[i] > '9') {
			snprintf(why, whylen, "not a decimal number");
			return -EINVAL;
		}
		if (__builtin_mul_overflow(n, 10, &n) ||
		    __builtin_add_overflow(n, data[i] - '0', &n)) {
			snprintf(why, whylen, "out of range (does not fit in 64 bits)");
			return -ERANGE;
		}
	}
	*v = neg ? -n : n;
	return 0;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * The reason rides in the write itself, so that the value and why it was
 * set arrive in one NFS call and are accepted or refused together. Without
 * a comment the parser sees the content exactly as sent; with one it sees
 * the same bytes less the comment, so the parsers' own rules still decide.
 */
int umlconf_knob_split(const char *data, size_t len, struct umlconf_knob_write *w, char *why,
		       size_t whylen)
{
	size_t hash, vend, r, rend, eol;

	w->value = data;
	w->len = len;
	w->comment = false;
	w->reason[0] = '\0';
	for (hash = 0; hash < len; hash++)
		if (data[hash] == '#' && (hash == 0 || is_blank(data[hash - 1])))
			break;
	if (hash == len)
		return 0;

	for (eol = hash; eol < len && data[eol] != '\n'; eol++)
		;
	for (r = hash + 1; r < eol && is_blank(data[r]); r++)
		;
	for (rend = eol; rend > r && is_blank(data[rend - 1]); rend--)
		;
	if (rend - r > UMLCONF_REASON_MAX) {
		snprintf(why, whylen, "reason too long (%zu bytes, at most %d)", rend - r,
			 UMLCONF_REASON_MAX);
		return -EINVAL;
	}
	for (size_t i = r; i < rend; i++) {
		if ((unsigned char)data[i] < 0x20 || (unsigned char)data[i] > 0x7e) {
			snprintf(why, whylen,
				 "the reason holds a byte that is not printable ASCII (0x%02x)",
				 (unsigned char)data[i]);
			return -EINVAL;
		}
	}
	for (vend = hash; vend > 0 && is_blank(data[vend - 1]); vend--)
		;
	if (vend + (len - eol) > sizeof(w->buf)) {
		snprintf(why, whylen, "too long before the comment (%zu bytes, at most %d)",
			 vend + (len - eol), UMLCONF_SPLIT_MAX);
		return -EINVAL;
	}
	memcpy(w->buf, data, vend);
	memcpy(w->buf + vend, data + eol, len - eol);
	memcpy(w->reason, data + r, rend - r);
	w->reason[rend - r] = '\0';
	w->value = w->buf;
	w->len = vend + (len - eol);
	w->comment = true;
	return 0;
}

int umlconf_knob_range(int64_t n, int64_t min, int64_t max, char *why, size_t whylen)
{
	if (n >= min && n <= max)
		return 0;
	snprintf(why, whylen, "%" PRId64 " is out of range %" PRId64 "..%" PRId64, n, min, max);
	return -ERANGE;
}

int umlconf_knob_check(umlconf_parse_fn *parse, const char *data, size_t len, int64_t min,
		       int64_t max, int64_t *v, char *why, size_t whylen)
{
	int64_t n;
	int rc = parse(data, len, &n, why, whylen);

	if (rc == 0)
		rc = umlconf_knob_range(n, min, max, why, whylen);
	if (rc == 0)
		*v = n;
	return rc;
}

void umlconf_quote_value(char *out, size_t size, const char *data, size_t len)
{
	umlconf_quote(out, size, data, len, 40);
}

void umlconf_quote(char *out, size_t size, const char *data, size_t len, size_t shown)
{
	size_t o = 0;

	if (shown > len)
		shown = len;
	for (size_t i = 0; i < shown; i++) {
		unsigned char c = (unsigned char)data[i];
		bool hex = c < 0x20 || c >= 0x7f;
		size_t need = c == '\n' || c == '"' || c == '\\' ? 2 : hex ? 4 : 1;

		if (o + need >= size)
			break; /* a whole escape or nothing, and room for the NUL */
		if (c == '\n')
			o += (size_t)snprintf(out + o, size - o, "\\n");
		else if (c == '"' || c == '\\')
			o += (size_t)snprintf(out + o, size - o, "\\%c", c);
		else if (hex)
			o += (size_t)snprintf(out + o, size - o, "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	if (shown < len && o + 4 < size)
		o += (size_t)snprintf(out + o, size - o, "...");
	out[o < size ? o : size - 1] = '\0';
}
