/*
 * kernel/net/sunrpc: XDR (RFC 4506) over a flat buffer.
 *
 * A struct xdr is a cursor over one buffer, used either to decode or to
 * encode. Every access is bounds-checked; the first failure sets a sticky
 * error, later calls do nothing and return zeros, and the caller checks
 * xdr_ok() once at the end. A short or lying buffer is thus an error, never an
 * overread, and decoders stay straight-line code.
 *
 * Decoded opaques and strings point into the buffer (no copy): they live as
 * long as the buffer does and strings are not NUL-terminated.
 */
#ifndef UML_XDR_H
#define UML_XDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct xdr {
	uint8_t *base;
	size_t len; /* decode: bytes of data; encode: capacity */
	size_t pos;
	bool err;
};

/* A counted byte string inside a decode buffer. */
struct xdr_bytes {
	const uint8_t *data;
	uint32_t len;
};

static inline void xdr_init(struct xdr *x, void *buf, size_t len)
{
	x->base = buf;
	x->len = len;
	x->pos = 0;
	x->err = false;
}

static inline bool xdr_ok(const struct xdr *x)
{
	return !x->err;
}

/* Bytes left to decode (or room left to encode). */
static inline size_t xdr_remaining(const struct xdr *x)
{
	return x->err ? 0 : x->len - x->pos;
}

/* Bytes in the XDR form of an opaque/string of @n bytes (length word + padding). */
static inline size_t xdr_sizeof_opaque(size_t n)
{
	return 4 + ((n + 3) & ~(size_t)3);
}

uint32_t xdr_get_u32(struct xdr *x);
uint64_t xdr_get_u64(struct xdr *x);
/* XDR bool: anything but 0 or 1 is an error. */
bool xdr_get_bool(struct xdr *x);
/* Fixed-length opaque of @n bytes (plus padding): a pointer into the buffer. */
const uint8_t *xdr_get_fixed(struct xdr *x, size_t n);
/* Variable-length opaque or string of at most @max bytes. */
struct xdr_bytes xdr_get_opaque(struct xdr *x, uint32_t max);

void xdr_put_u32(struct xdr *x, uint32_t v);
void xdr_put_u64(struct xdr *x, uint64_t v);
void xdr_put_bool(struct xdr *x, bool v);
void xdr_put_fixed(struct xdr *x, const void *p, size_t n);
void xdr_put_opaque(struct xdr *x, const void *p, uint32_t n);
/*
 * Reserve room for an opaque of @n bytes and return where its data goes (the
 * length word and padding are written), so a producer can fill it in place.
 * NULL when it does not fit.
 */
uint8_t *xdr_reserve_opaque(struct xdr *x, uint32_t n);

#endif
