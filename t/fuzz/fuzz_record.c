/*
 * Harness: TCP record marking (kernel/net/sunrpc/record.c), the first code
 * to see the bytes of every NFS connection.
 *
 * Input: two control bytes, then the stream a client sends.
 *   ctl0 & 15   the buffer's capacity: the transport's (RPC_MAX_RECORD + 4)
 *               or one of a few small ones, where every bound is near
 *   ctl0 >> 4   the largest chunk a recv() returns (1 byte .. 64 KiB)
 *   ctl1        seeds the sizes of the chunks, so one stream arrives cut in
 *               many ways
 * The harness plays the transport: it reads a chunk into the free end of the
 * buffer whenever rpc_record_next wants more, and consumes each record it
 * gets, until the stream ends or the reader refuses it. The buffer is
 * allocated to its exact capacity so that ASan sees any access past it.
 *
 * Invariants: each record lies inside the bytes held and ends where *used
 * says; it is at most RPC_MAX_RECORD and cap - 4 bytes; consuming keeps
 * in_len and rec_len consistent; "need more" is only said while there is
 * room to read more (else the connection would hang); and the records and
 * the refusal are exactly those of an independent decoding of the whole
 * stream at once (reference_decode).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "uml/rpc.h"
#include "fuzz.h"

const char fuzz_name[] = "record";

#define REAL_CAP (RPC_MAX_RECORD + 4) /* kernel/net/sunrpc/svc_sock.c: SVC_IN_CAP */

static const size_t caps[16] = {REAL_CAP, REAL_CAP, REAL_CAP, REAL_CAP, 1,   3,	   4,	 5,
				8,	  12,	    13,	      64,	100, 4095, 4096, 4100};
static const size_t max_chunks[16] = {1,  2,  3,   4,	5,    7,    8,	  16,
				      31, 64, 100, 512, 1460, 4096, 9000, 65536};

/* The stream decoded in one go: the records in order, and whether a mark is refused after them. */
struct decoded {
	uint8_t *bytes; /* the records' bytes, one after another */
	size_t *lens;
	size_t n;
	bool refused;
};

static void reference_decode(const uint8_t *s, size_t total, size_t cap, struct decoded *d)
{
	size_t max = cap > 4 ? (cap - 4 < RPC_MAX_RECORD ? cap - 4 : RPC_MAX_RECORD) : 0;
	size_t pos = 0, cur = 0, out = 0;

	d->bytes = malloc(total + 1);
	d->lens = malloc((total / 4 + 1) * sizeof(*d->lens));
	d->n = 0;
	d->refused = false;
	if (cap < 4) {
		/* No mark ever fits: the reader gives up once the buffer is full. */
		d->refused = total >= cap;
		return;
	}
	while (total - pos >= 4) {
		uint32_t mark = (uint32_t)s[pos] << 24 | (uint32_t)s[pos + 1] << 16 |
				(uint32_t)s[pos + 2] << 8 | s[pos + 3];
		size_t flen = mark & 0x7fffffffu;

		if (cur + flen > max) {
			d->refused = true;
			return;
		}
		if (total - pos - 4 < flen)
			return;
		memcpy(d->bytes + out + cur, s + pos + 4, flen);
		cur += flen;
		pos += 4 + flen;
		if (mark & 0x80000000u) {
			d->lens[d->n++] = cur;
			out += cur;
			cur = 0;
		}
	}
}

static uint32_t rnd_next(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
	struct rpc_recbuf b = {0};
	struct decoded want;
	const uint8_t *stream;
	size_t total, fed = 0, seen = 0, off = 0, max_chunk;
	uint32_t seed;

	if (size < 2)
		return 0;
	b.cap = caps[in[0] & 15];
	max_chunk = max_chunks[in[0] >> 4];
	seed = 0x9e3779b9u ^ in[1];
	stream = in + 2;
	total = size - 2;
	b.buf = malloc(b.cap);
	reference_decode(stream, total, b.cap, &want);

	for (;;) {
		uint8_t *rec = NULL;
		size_t len = 0, used = 0, held;
		int rc = rpc_record_next(&b, &rec, &len, &used);

		fuzz_check(b.rec_len <= b.in_len && b.in_len <= b.cap,
			   "rec_len %zu, in_len %zu, cap %zu", b.rec_len, b.in_len, b.cap);
		if (rc == 1) {
			fuzz_check(rec >= b.buf && rec + len == b.buf + used && used <= b.in_len,
				   "record at +%td, %zu bytes, used %zu of %zu held", rec - b.buf,
				   len, used, b.in_len);
			fuzz_check(len <= RPC_MAX_RECORD && len + 4 <= b.cap,
				   "a %zu-byte record in a %zu-byte buffer", len, b.cap);
			fuzz_check(b.rec_len == 0, "rec_len %zu after a record", b.rec_len);
			fuzz_check(seen < want.n && len == want.lens[seen] &&
				       memcmp(rec, want.bytes + off, len) == 0,
				   "record %zu (%zu bytes) differs from the stream's", seen, len);
			off += len;
			seen++;
			held = b.in_len;
			rpc_record_consume(&b, used);
			fuzz_check(b.in_len == held - used && b.rec_len == 0,
				   "consume of %zu from %zu left in_len %zu, rec_len %zu", used,
				   held, b.in_len, b.rec_len);
			continue;
		}
		if (rc < 0) {
			fuzz_check(rc == -EMSGSIZE, "rpc_record_next returned %d", rc);
			fuzz_check(want.refused && seen == want.n,
				   "refused after %zu records; the stream has %zu%s", seen, want.n,
				   want.refused ? " and a refused mark" : "");
			break;
		}
		fuzz_check(rc == 0, "rpc_record_next returned %d", rc);
		/* "Need more" with a full buffer: the connection would wait forever. */
		fuzz_check(b.in_len < b.cap, "need more with %zu of %zu bytes held", b.in_len,
			   b.cap);
		if (fed == total) {
			fuzz_check(!want.refused && seen == want.n,
				   "stream ended after %zu records; it has %zu%s", seen, want.n,
				   want.refused ? " and a refused mark" : "");
			break;
		}
		{
			size_t chunk = 1 + rnd_next(&seed) % max_chunk;

			if (chunk > b.cap - b.in_len)
				chunk = b.cap - b.in_len;
			if (chunk > total - fed)
				chunk = total - fed;
			memcpy(b.buf + b.in_len, stream + fed, chunk);
			b.in_len += chunk;
			fed += chunk;
		}
	}
	free(want.bytes);
	free(want.lens);
	free(b.buf);
	return 0;
}

void fuzz_replay_reset(void)
{
}

/* Append a fragment mark and @len bytes of @fill. */
static size_t put_frag(uint8_t *p, size_t len, bool last, uint8_t fill)
{
	uint32_t mark = (uint32_t)len | (last ? 0x80000000u : 0);

	p[0] = (uint8_t)(mark >> 24);
	p[1] = (uint8_t)(mark >> 16);
	p[2] = (uint8_t)(mark >> 8);
	p[3] = (uint8_t)mark;
	memset(p + 4, fill, len);
	return 4 + len;
}

int fuzz_make_seeds(const char *dir)
{
	static uint8_t buf[8192];
	size_t n;
	int err;

#define SEED(name)                                                                                 \
	do {                                                                                       \
		err = fuzz_write_seed(dir, name, buf, n);                                          \
		if (err)                                                                           \
			return err;                                                                \
	} while (0)

	/* The transport's buffer, read in TCP-segment-sized chunks. */
	buf[0] = 0xc0;
	buf[1] = 1;
	n = 2 + put_frag(buf + 2, 40, true, 'a');
	n += put_frag(buf + n, 100, true, 'b');
	n += put_frag(buf + n, 0, true, 0);
	SEED("one-fragment-records");

	buf[0] = 0x20;
	buf[1] = 7;
	n = 2 + put_frag(buf + 2, 10, false, 'a');
	n += put_frag(buf + n, 0, false, 0);
	n += put_frag(buf + n, 30, true, 'b');
	n += put_frag(buf + n, 8, true, 'c');
	SEED("fragments-joined-byte-by-byte");

	buf[0] = 0xd0;
	buf[1] = 3;
	n = 2;
	for (int i = 0; i < 6; i++)
		n += put_frag(buf + n, 500, i == 5, (uint8_t)('0' + i));
	SEED("six-fragments");

	/* At and over the record limit, with no data needed to tell. */
	buf[0] = 0xf0;
	buf[1] = 0;
	n = 2 + put_frag(buf + 2, 0, false, 0);
	memcpy(buf + n, "\x80\x01\x10\x00", 4); /* last, exactly RPC_MAX_RECORD: wait */
	n += 4;
	SEED("mark-at-limit");
	buf[5] = 0;
	memcpy(buf + 6, "\x80\x01\x10\x01", 4); /* one byte over: refused */
	n = 10;
	SEED("mark-over-limit");

	/* Small buffers: the refusal at cap - 4, and buffers no mark fits. */
	buf[0] = 0x17; /* cap 5 */
	buf[1] = 9;
	n = 2 + put_frag(buf + 2, 1, true, 'x');
	n += put_frag(buf + n, 2, true, 'y');
	SEED("cap5-one-byte-record-then-refused");
	buf[0] = 0x0b; /* cap 64 */
	n = 2 + put_frag(buf + 2, 30, false, 'p');
	n += put_frag(buf + n, 30, true, 'q');
	n += put_frag(buf + n, 60, true, 'r');
	n += put_frag(buf + n, 61, true, 's');
	SEED("cap64-fill-then-refused");
	buf[0] = 0x05; /* cap 3 */
	n = 2 + put_frag(buf + 2, 0, true, 0);
	SEED("cap3-no-room-for-a-mark");

	/* A half mark and a half record at the end: wait, don't fail. */
	buf[0] = 0x30;
	buf[1] = 5;
	n = 2 + put_frag(buf + 2, 12, true, 'z');
	memcpy(buf + n, "\x80\x00", 2);
	n += 2;
	SEED("trailing-half-mark");
#undef SEED
	return 0;
}
