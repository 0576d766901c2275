/*
 * XDR primitives. All multi-byte values are big-endian and every item is a
 * multiple of four bytes; padding is written as zeros and not checked on
 * decode (RFC 4506 says receivers should not rely on it).
 */
#include <string.h>
#include "uml/xdr.h"

static inline size_t xdr_pad(size_t n)
{
	return (4 - (n & 3)) & 3;
}

/* Claim @n bytes at the cursor, or set the sticky error. */
static uint8_t *xdr_claim(struct xdr *x, size_t n)
{
	uint8_t *p;

	if (x->err || n > x->len - x->pos) {
		x->err = true;
		return NULL;
	}
	p = x->base + x->pos;
	x->pos += n;
	return p;
}

uint32_t xdr_get_u32(struct xdr *x)
{
	const uint8_t *p = xdr_claim(x, 4);

	if (!p)
		return 0;
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

uint64_t xdr_get_u64(struct xdr *x)
{
	uint64_t hi = xdr_get_u32(x);

	return hi << 32 | xdr_get_u32(x);
}

bool xdr_get_bool(struct xdr *x)
{
	uint32_t v = xdr_get_u32(x);

	if (v > 1)
		x->err = true;
	return v == 1;
}

const uint8_t *xdr_get_fixed(struct xdr *x, size_t n)
{
	if (n > x->len) /* keeps n + padding from wrapping */
		x->err = true;
	return xdr_claim(x, n + xdr_pad(n));
}

struct xdr_bytes xdr_get_opaque(struct xdr *x, uint32_t max)
{
	struct xdr_bytes b = {NULL, 0};
	uint32_t n = xdr_get_u32(x);
	const uint8_t *p;

	if (n > max)
		x->err = true;
	p = xdr_get_fixed(x, n);
	if (p) {
		b.data = p;
		b.len = n;
	}
	return b;
}

void xdr_put_u32(struct xdr *x, uint32_t v)
{
	uint8_t *p = xdr_claim(x, 4);

	if (!p)
		return;
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

void xdr_put_u64(struct xdr *x, uint64_t v)
{
	xdr_put_u32(x, v >> 32);
	xdr_put_u32(x, (uint32_t)v);
}

void xdr_put_bool(struct xdr *x, bool v)
{
	xdr_put_u32(x, v ? 1 : 0);
}

void xdr_put_fixed(struct xdr *x, const void *src, size_t n)
{
	size_t pad = xdr_pad(n);
	uint8_t *p;

	if (n > x->len)
		x->err = true;
	p = xdr_claim(x, n + pad);
	if (!p)
		return;
	if (n)
		memcpy(p, src, n);
	memset(p + n, 0, pad);
}

void xdr_put_opaque(struct xdr *x, const void *p, uint32_t n)
{
	xdr_put_u32(x, n);
	xdr_put_fixed(x, p, n);
}

uint8_t *xdr_reserve_opaque(struct xdr *x, uint32_t n)
{
	size_t pad = xdr_pad(n);
	uint8_t *p;

	xdr_put_u32(x, n);
	if (n > x->len)
		x->err = true;
	p = xdr_claim(x, (size_t)n + pad);
	if (!p)
		return NULL;
	memset(p + n, 0, pad);
	return p;
}
