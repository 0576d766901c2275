/*
 * XDR codec (kernel/net/sunrpc/xdr.c): round trips, the wire format of
 * RFC 4506, and that every short or lying buffer is an error, never an
 * overread (run under ASan by make check-asan).
 */
#include <stdlib.h>
#include <string.h>
#include "tap.h"
#include "uml/xdr.h"

/* Decode @len bytes copied into an exactly-sized heap block, so ASan sees overreads. */
static uint8_t *exact_copy(const uint8_t *src, size_t len)
{
	uint8_t *p = malloc(len ? len : 1);

	memcpy(p, src, len);
	return p;
}

static void test_roundtrip(void)
{
	uint8_t buf[128];
	struct xdr x;
	struct xdr_bytes b;
	const uint8_t *f;

	xdr_init(&x, buf, sizeof(buf));
	xdr_put_u32(&x, 0xdeadbeef);
	xdr_put_u64(&x, 0x0102030405060708ULL);
	xdr_put_bool(&x, true);
	xdr_put_opaque(&x, "hello", 5);
	xdr_put_fixed(&x, "abc", 3);
	ok(xdr_ok(&x), "1 encoding fits");
	is_int(x.pos, 4 + 8 + 4 + 12 + 4, "2 encoded size includes padding to 4 bytes");
	ok(memcmp(
	       buf,
	       "\xde\xad\xbe\xef\x01\x02\x03\x04\x05\x06\x07\x08\0\0\0\1\0\0\0\5hello\0\0\0abc\0",
	       x.pos) == 0,
	   "3 big-endian words, zero padding (RFC 4506)");

	x.len = x.pos;
	x.pos = 0;
	is_int(xdr_get_u32(&x), 0xdeadbeef, "4 u32 decodes");
	ok(xdr_get_u64(&x) == 0x0102030405060708ULL, "5 u64 decodes");
	ok(xdr_get_bool(&x), "6 bool decodes");
	b = xdr_get_opaque(&x, 16);
	ok(b.len == 5 && memcmp(b.data, "hello", 5) == 0, "7 opaque decodes in place");
	f = xdr_get_fixed(&x, 3);
	ok(f && memcmp(f, "abc", 3) == 0, "8 fixed opaque decodes");
	ok(xdr_ok(&x) && xdr_remaining(&x) == 0, "9 everything consumed, no error");
}

static void test_errors(void)
{
	uint8_t buf[64] = {0};
	struct xdr x;
	struct xdr_bytes b;
	uint8_t *p;

	xdr_init(&x, buf, 3);
	ok(xdr_get_u32(&x) == 0 && !xdr_ok(&x), "10 a 3-byte buffer has no u32");
	ok(xdr_get_u32(&x) == 0 && !xdr_ok(&x), "11 the error is sticky");

	memcpy(buf, "\0\0\0\2", 4);
	xdr_init(&x, buf, 4);
	xdr_get_bool(&x);
	ok(!xdr_ok(&x), "12 a bool of 2 is an error");

	/* Opaque whose length claims more than the buffer holds. */
	memcpy(buf,
	       "\0\0\0\x10"
	       "abcd",
	       8);
	p = exact_copy(buf, 8);
	xdr_init(&x, p, 8);
	b = xdr_get_opaque(&x, 1024);
	ok(!xdr_ok(&x) && b.data == NULL, "13 opaque longer than the buffer is refused");
	free(p);

	memcpy(buf,
	       "\0\0\0\x04"
	       "abcd",
	       8);
	xdr_init(&x, buf, 8);
	xdr_get_opaque(&x, 3);
	ok(!xdr_ok(&x), "14 opaque over its declared limit is refused");

	/* A length near 2^32 must not wrap the bounds check. */
	memcpy(buf, "\xff\xff\xff\xfe", 4);
	xdr_init(&x, buf, 64);
	xdr_get_opaque(&x, UINT32_MAX);
	ok(!xdr_ok(&x), "15 length 0xfffffffe does not wrap the bounds check");

	/* Padding must be present too. */
	memcpy(buf,
	       "\0\0\0\x05"
	       "hello",
	       9);
	p = exact_copy(buf, 9);
	xdr_init(&x, p, 9);
	xdr_get_opaque(&x, 16);
	ok(!xdr_ok(&x), "16 an opaque missing its padding is refused");
	free(p);

	xdr_init(&x, buf, 7);
	xdr_put_opaque(&x, "abc", 3);
	ok(!xdr_ok(&x), "17 encoding past the end is an error");
	xdr_init(&x, buf, 64);
	ok(xdr_reserve_opaque(&x, 100) == NULL && !xdr_ok(&x), "18 reserve past the end fails");
	xdr_init(&x, buf, 64);
	p = xdr_reserve_opaque(&x, 5);
	ok(p == buf + 4 && x.pos == 12 && buf[9] == 0 && buf[11] == 0,
	   "19 reserve writes the length and padding");
}

/* Every prefix of a valid message fails cleanly; the whole succeeds. */
static void test_truncations(void)
{
	uint8_t buf[64];
	struct xdr x;
	size_t len, cut;
	int bad = 0;

	xdr_init(&x, buf, sizeof(buf));
	xdr_put_u32(&x, 7);
	xdr_put_opaque(&x, "name", 4);
	xdr_put_u64(&x, 42);
	xdr_put_opaque(&x, "xyz", 3);
	len = x.pos;

	for (cut = 0; cut <= len; cut++) {
		uint8_t *p = exact_copy(buf, cut);
		struct xdr d;

		xdr_init(&d, p, cut);
		xdr_get_u32(&d);
		xdr_get_opaque(&d, 255);
		xdr_get_u64(&d);
		xdr_get_opaque(&d, 255);
		if (xdr_ok(&d) != (cut == len))
			bad++;
		free(p);
	}
	is_int(bad, 0, "20 each of %zu truncations is an error, the full message is not", len);
}

int main(void)
{
	plan(20);
	test_roundtrip();
	test_errors();
	test_truncations();
	return done_testing();
}
