/*
 * Harness: the knob parsers of mod_umlconf (mod_umlconf/knob_parse.c), which
 * see the bytes any NFS client with write access puts into /config, and the
 * split of a write into its value part and its reason (a comment) that runs
 * before them.
 *
 * Input: one control byte, then the content of a knob write.
 *   ctl & 3         the bounds: MaxRequestWorkers (1..400), ListenBacklog
 *                   (1..65535), Accepting (0..1), or all of int64
 *   (ctl >> 2) & 3  the size of the reason buffer: 160 (knob_validate), 8
 *                   (knob_commit), 1 or 2
 *   ctl >> 4        the size of the quoting buffer: 200 (the error ring) or
 *                   one of a few small ones
 * Every buffer is allocated to its exact size so that ASan sees a byte read
 * past the content or written past a buffer.
 *
 * Invariants: the parser agrees with an independent reference (accepts what
 * it accepts, with the same value, and tells -EINVAL from -ERANGE the same
 * way); an accepted value is within the bounds; a refusal leaves the value
 * alone and writes a NUL-terminated, non-empty reason; a quoted value is
 * printable, NUL-terminated, made of whole escapes, and a prefix of the full
 * quoting ("..." aside), and quoted whole with room for it, it is the full
 * quoting. The split agrees with a reference too: content
 * without a comment goes to the parser untouched (the same pointer and
 * length), content with one as the same bytes less the comment and the
 * blanks before it; a reason is at most UMLCONF_REASON_MAX printable bytes;
 * and the value part then meets every rule above, so that a comment never
 * changes what a value means.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../../mod_umlconf/knob_parse.h"
#include "fuzz.h"

const char fuzz_name[] = "knob";

static const struct {
	int64_t min, max;
} bounds[4] = {{1, 400}, {1, 65535}, {0, 1}, {INT64_MIN, INT64_MAX}};
static const size_t why_sizes[4] = {160, 8, 1, 2};
static const size_t quote_sizes[16] = {200, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 16, 43, 44, 45, 64};

/* What the parser must answer, written the plain way: 0, -EINVAL or -ERANGE. */
static int reference_parse(const char *s, size_t len, int64_t *v)
{
	__int128 n = 0;
	size_t i = 0;
	bool neg;

	if (len > UMLCONF_VALUE_MAX)
		return -EINVAL;
	if (len && s[len - 1] == '\n')
		len--;
	neg = len && s[0] == '-';
	i = neg;
	if (i == len)
		return -EINVAL;
	/* Left to right: whichever comes first, a stray byte or the 64-bit overflow, decides. */
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		n = n * 10 + (s[i] - '0');
		if (n > INT64_MAX)
			return -ERANGE;
	}
	*v = (int64_t)(neg ? -n : n);
	return 0;
}

/*
 * What the split must answer: 0 with the value part in @value (*@vlen bytes,
 * @value at least @len long) and the reason in @reason, or -EINVAL.
 * *@comment says whether a comment was found.
 */
static int reference_split(const char *s, size_t len, char *value, size_t *vlen, char *reason,
			   bool *comment)
{
	size_t at = len, eol, from, to, n = 0;

	*comment = false;
	reason[0] = '\0';
	for (size_t i = 0; i < len && at == len; i++)
		if (s[i] == '#' && (i == 0 || s[i - 1] == ' ' || s[i - 1] == '\t'))
			at = i;
	if (at == len) {
		memcpy(value, s, len);
		*vlen = len;
		return 0;
	}
	*comment = true;
	eol = at;
	while (eol < len && s[eol] != '\n')
		eol++;
	from = at + 1;
	while (from < eol && (s[from] == ' ' || s[from] == '\t'))
		from++;
	to = eol;
	while (to > from && (s[to - 1] == ' ' || s[to - 1] == '\t'))
		to--;
	if (to - from > UMLCONF_REASON_MAX)
		return -EINVAL;
	for (size_t i = from; i < to; i++)
		if (!(s[i] >= ' ' && s[i] <= '~'))
			return -EINVAL;
	memcpy(reason, s + from, to - from);
	reason[to - from] = '\0';
	while (at > 0 && (s[at - 1] == ' ' || s[at - 1] == '\t'))
		at--;
	for (size_t i = 0; i < at; i++)
		value[n++] = s[i];
	for (size_t i = eol; i < len; i++)
		value[n++] = s[i];
	if (n > UMLCONF_SPLIT_MAX)
		return -EINVAL;
	*vlen = n;
	return 0;
}

/* The quoting of the first @shown bytes, without the cut mark and the room limit. */
static size_t reference_quote(char *out, const char *s, size_t len, size_t shown)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (size_t i = 0; i < len && i < shown; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20 || c >= 0x7f) {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
	return o;
}

/* Printable, and every backslash starts \n, \", \\ or \xHH. */
static bool quote_well_formed(const char *q)
{
	for (size_t i = 0; q[i]; i++) {
		if (q[i] < 0x20 || q[i] > 0x7e)
			return false;
		if (q[i] != '\\')
			continue;
		i++;
		if (q[i] == 'x') {
			if (!strchr("0123456789abcdef", q[i + 1]) || !q[i + 1] ||
			    !strchr("0123456789abcdef", q[i + 2]) || !q[i + 2])
				return false;
			i += 2;
		} else if (q[i] != 'n' && q[i] != '"' && q[i] != '\\') {
			return false;
		}
	}
	return true;
}

static bool reason_ok(const char *why, size_t whylen)
{
	/* Room for at least one byte of reason besides the NUL: it must not be empty. */
	return memchr(why, '\0', whylen) && (whylen < 2 || why[0] != '\0');
}

static void check_parse(const char *data, size_t len, size_t whylen)
{
	const int64_t untouched = 0x5a5a5a5a5a5a5a5a;
	int64_t v = untouched, want = 0;
	char *why = malloc(whylen);
	int rc, ref;

	memset(why, 0xff, whylen);
	rc = umlconf_parse_decimal(data, len, &v, why, whylen);
	ref = reference_parse(data, len, &want);
	fuzz_check(rc == ref, "parse_decimal answered %d, the reference %d (%zu bytes)", rc, ref,
		   len);
	if (rc == 0)
		fuzz_check(v == want, "parse_decimal gave %lld, the reference %lld", (long long)v,
			   (long long)want);
	else
		fuzz_check(v == untouched && reason_ok(why, whylen),
			   "a refusal changed the value or left no terminated reason");
	free(why);
}

static void check_bounds(const char *data, size_t len, int64_t min, int64_t max, size_t whylen)
{
	const int64_t untouched = 0x5a5a5a5a5a5a5a5a;
	int64_t v = untouched, want = 0;
	char *why = malloc(whylen);
	int rc, ref;

	memset(why, 0xff, whylen);
	rc = umlconf_knob_check(umlconf_parse_decimal, data, len, min, max, &v, why, whylen);
	ref = reference_parse(data, len, &want);
	if (ref == 0 && (want < min || want > max))
		ref = -ERANGE;
	fuzz_check(rc == ref, "knob_check answered %d, the reference %d", rc, ref);
	if (rc == 0)
		fuzz_check(v == want && v >= min && v <= max,
			   "knob_check accepted %lld for bounds %lld..%lld", (long long)v,
			   (long long)min, (long long)max);
	else
		fuzz_check(v == untouched && reason_ok(why, whylen),
			   "a refused knob value changed the value or left no terminated reason");
	free(why);
}

static void check_quote(const char *data, size_t len, size_t size)
{
	char *out = malloc(size), full[4 * 40 + 1], *all = malloc(4 * len + 1),
	     *whole = malloc(4 * len + 1);
	size_t n, flen = reference_quote(full, data, len, 40);

	memset(out, 0xff, size);
	umlconf_quote_value(out, size, data, len);
	n = strnlen(out, size);
	fuzz_check(n < size, "quote_value left no NUL in %zu bytes", size);
	fuzz_check(quote_well_formed(out), "quote_value made '%s'", out);
	if (len > 40 && n >= 3 && memcmp(out + n - 3, "...", 3) == 0 &&
	    !(n <= flen && memcmp(out, full, n) == 0))
		n -= 3; /* the cut mark, unless it was the data's own dots */
	fuzz_check(n <= flen && memcmp(out, full, n) == 0,
		   "quote_value made '%s', not a prefix of '%s'", out, full);
	if (size >= 200)
		fuzz_check(n == flen, "quote_value cut '%s' short of '%s' with room to spare", out,
			   full);
	/* Quoted whole (the changes ring's values and reasons): every byte, no cut mark. */
	reference_quote(whole, data, len, len);
	umlconf_quote(all, 4 * len + 1, data, len, len);
	fuzz_check(strcmp(all, whole) == 0, "quote of all %zu bytes made '%s', not '%s'", len, all,
		   whole);
	free(whole);
	free(all);
	free(out);
}

/*
 * Split, then hold the value part to the parser's rules as any content is:
 * in its own exactly sized buffer, so that ASan sees a read past it.
 */
static void check_split(const char *data, size_t len, int64_t min, int64_t max, size_t whylen)
{
	struct umlconf_knob_write *w = malloc(sizeof(*w));
	char *why = malloc(whylen), *want = malloc(len ? len : 1), *part;
	char want_reason[UMLCONF_REASON_MAX + 1];
	size_t want_len = 0;
	bool comment;
	int rc, ref;

	memset(why, 0xff, whylen);
	rc = umlconf_knob_split(data, len, w, why, whylen);
	ref = reference_split(data, len, want, &want_len, want_reason, &comment);
	fuzz_check(rc == ref, "knob_split answered %d, the reference %d (%zu bytes)", rc, ref, len);
	if (rc) {
		fuzz_check(reason_ok(why, whylen), "a refused split left no terminated reason");
		goto out;
	}
	fuzz_check(w->comment == comment, "knob_split found %s comment, the reference %s",
		   w->comment ? "a" : "no", comment ? "did" : "did not");
	if (!comment)
		fuzz_check(w->value == data && w->len == len,
			   "content without a comment did not reach the parser untouched");
	fuzz_check(w->len == want_len && memcmp(w->value, want, want_len) == 0,
		   "knob_split's value part (%zu bytes) is not the reference's (%zu bytes)", w->len,
		   want_len);
	fuzz_check(strcmp(w->reason, want_reason) == 0, "knob_split's reason '%s', not '%s'",
		   w->reason, want_reason);
	fuzz_check(strlen(w->reason) <= UMLCONF_REASON_MAX, "a reason of %zu bytes",
		   strlen(w->reason));
	for (const char *c = w->reason; *c; c++)
		fuzz_check(*c >= ' ' && *c <= '~', "a reason with byte 0x%02x", (unsigned char)*c);
	part = malloc(w->len ? w->len : 1);
	memcpy(part, w->value, w->len);
	check_parse(part, w->len, whylen);
	check_bounds(part, w->len, min, max, whylen);
	free(part);
out:
	free(want);
	free(why);
	free(w);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
	uint8_t ctl;
	size_t len;
	char *data;

	if (size == 0)
		return 0;
	ctl = in[0];
	len = size - 1;
	data = malloc(len ? len : 1);
	memcpy(data, in + 1, len);
	check_parse(data, len, why_sizes[(ctl >> 2) & 3]);
	check_bounds(data, len, bounds[ctl & 3].min, bounds[ctl & 3].max,
		     why_sizes[(ctl >> 2) & 3]);
	check_quote(data, len, quote_sizes[ctl >> 4]);
	check_split(data, len, bounds[ctl & 3].min, bounds[ctl & 3].max, why_sizes[(ctl >> 2) & 3]);
	free(data);
	return 0;
}

void fuzz_replay_reset(void)
{
}

int fuzz_make_seeds(const char *dir)
{
	static const struct {
		const char *name;
		uint8_t ctl;
		const char *text;
	} seeds[] = {
	    {"mrw-150", 0x00, "150\n"},
	    {"mrw-0", 0x00, "0\n"},
	    {"mrw-401-why8", 0x04, "401"},
	    {"backlog-65535", 0x01, "65535\n"},
	    {"backlog-neg", 0x01, "-1\n"},
	    {"accepting-1", 0x02, "1"},
	    {"accepting-2-newlines", 0x02, "1\n\n"},
	    {"int64-max", 0x03, "9223372036854775807\n"},
	    {"int64-over", 0x03, "9223372036854775808\n"},
	    {"int64-min", 0x03, "-9223372036854775808"},
	    {"minus-only", 0x03, "-"},
	    {"empty", 0x00, ""},
	    {"newline-only", 0x00, "\n"},
	    {"too-long", 0x10, "000000000000000000000000000000001"},
	    {"spaces", 0x20, " 150 \n"},
	    {"plus", 0x30, "+5\n"},
	    {"quote-escapes", 0xd0, "\"\\\x01\x7f\xff\n"},
	    {"quote-long", 0x00, "0123456789012345678901234567890123456789\"\"\"\"\"\n"},
	    {"overflow-then-junk", 0x08, "99999999999999999999x"},
	    {"comment-drain", 0x00, "0 # drain: backlog 312 > 64 for 3s\n"},
	    {"comment-tab-no-newline", 0x02, "1\t#back"},
	    {"comment-only", 0x00, "# clear: the incident is over\n"},
	    {"comment-blanks-only", 0x04, "  \t#\n"},
	    {"comment-hash-in-value", 0x00, "5#x\n"},
	    {"comment-then-line", 0x01, "80 # a\n90\n"},
	    {"comment-second-hash", 0x00, "7 # one # two \n"},
	    {"comment-reason-tab", 0x0c, "7 # a\tb\n"},
	    {"comment-reason-high", 0x00, "7 # caf\xc3\xa9\n"},
	    {"comment-reason-160", 0x03,
	     "-5 # "
	     "0123456789012345678901234567890123456789012345678901234567890123456789012345678"
	     "901234567890123456789012345678901234567890123456789012345678901234567890123456789"
	     "\n"},
	    {"comment-reason-161", 0x03,
	     "-5 # "
	     "0123456789012345678901234567890123456789012345678901234567890123456789012345678"
	     "9012345678901234567890123456789012345678901234567890123456789012345678901234567890"
	     "\n"},
	};
	uint8_t buf[256];
	int err;

	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		size_t n = strlen(seeds[i].text);

		buf[0] = seeds[i].ctl;
		memcpy(buf + 1, seeds[i].text, n);
		err = fuzz_write_seed(dir, seeds[i].name, buf, n + 1);
		if (err)
			return err;
	}
	return 0;
}
