/*
 * TCP record marking (RFC 5531 section 11) over a byte buffer: no sockets,
 * so that the transport and a fuzzer run the very same parser.
 *
 * A record is a run of fragments, each behind a 4-byte mark: the top bit
 * says "last fragment", the other 31 bits give its length. Fragments are
 * joined in place: once a fragment is complete its mark is squeezed out, so
 * buf[0..rec_len) always holds the record's bytes so far and what follows
 * is raw stream. The one-fragment record, by far the usual case, is served
 * where it lies without a move.
 *
 * A record may take at most RPC_MAX_RECORD bytes and, with the mark of its
 * last fragment, must fit @cap. Then a full buffer always holds a complete
 * record or a mark that is refused, so a caller that reads more whenever 0
 * comes back always has room to read into.
 */
#include <assert.h>
#include <errno.h>
#include <string.h>
#include "uml/rpc.h"

#define RPC_LAST_FRAG 0x80000000u

int rpc_record_next(struct rpc_recbuf *b, uint8_t **rec, size_t *len, size_t *used)
{
	size_t max = b->cap >= 4 ? MIN(RPC_MAX_RECORD, b->cap - 4) : 0;

	assert(b->rec_len <= b->in_len && b->in_len <= b->cap);
	while (b->in_len - b->rec_len >= 4) {
		uint8_t *h = b->buf + b->rec_len;
		uint32_t mark =
		    (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
		size_t flen = mark & ~RPC_LAST_FRAG;
		bool last = mark & RPC_LAST_FRAG;

		if (b->rec_len + flen > max)
			return -EMSGSIZE;
		if (b->in_len - b->rec_len - 4 < flen)
			return 0; /* fragment incomplete */
		if (b->rec_len == 0 && last) {
			*rec = b->buf + 4;
			*len = flen;
			*used = 4 + flen;
			return 1;
		}
		memmove(h, h + 4, b->in_len - b->rec_len - 4);
		b->in_len -= 4;
		b->rec_len += flen;
		if (last) {
			*rec = b->buf;
			*len = *used = b->rec_len;
			b->rec_len = 0;
			return 1;
		}
	}
	/* Only a buffer too small for any mark gets here full. */
	return b->in_len < b->cap ? 0 : -EMSGSIZE;
}

void rpc_record_consume(struct rpc_recbuf *b, size_t used)
{
	assert(used <= b->in_len && b->rec_len == 0);
	memmove(b->buf, b->buf + used, b->in_len - used);
	b->in_len -= used;
}
