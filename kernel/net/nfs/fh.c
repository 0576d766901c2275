/*
 * File handles: what a client holds to name a file, and so what an attacker
 * would forge. Layout (32 bytes, big-endian):
 *   0       version (NFS_FH_VERSION)
 *   1..7    export root ino (56 bits)     8..11  export root gen
 *   12..19  file ino                      20..23 file gen
 *   24..31  SipHash-2-4 of bytes 0..23 under the installation's key
 *
 * The MAC makes a handle unforgeable and unguessable: inode numbers count up
 * from 1, so without it any client could name any file. It binds the file to
 * the export it was issued under, so a handle spliced from two others fails
 * as well. Nothing in it depends on the process or the boot, so with a key
 * kept in a key file a client's handles survive a restart, and a handle from
 * another installation (another key) is refused. 32 bytes still fit MOUNT
 * v1's fixed fhandle.
 */
#include <assert.h>
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "uml/host.h"
#include "uml/nfs3.h"
#include "uml/siphash.h"

#define FH_MAC_OFF 24
#define FH_INO56   ((1ull << 56) - 1)

static void fh_put64(uint8_t *p, uint64_t v)
{
	v = htobe64(v);
	memcpy(p, &v, sizeof(v));
}

static void fh_put32(uint8_t *p, uint32_t v)
{
	v = htobe32(v);
	memcpy(p, &v, sizeof(v));
}

static uint64_t fh_get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return be64toh(v);
}

static uint32_t fh_get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return be32toh(v);
}

static uint64_t fh_mac(const uint8_t *p)
{
	return siphash24(nfs_state()->fh_key, p, FH_MAC_OFF);
}

void nfs_fh_encode(const struct nfs_fh *fh, uint8_t out[NFS_FH_SIZE])
{
	/* Inode numbers count up one per inode made: 2^56 of them is out of reach. */
	assert(fh->root.ino <= FH_INO56);
	fh_put64(out, (uint64_t)NFS_FH_VERSION << 56 | fh->root.ino);
	fh_put32(out + 8, fh->root.gen);
	fh_put64(out + 12, fh->ino.ino);
	fh_put32(out + 20, fh->ino.gen);
	fh_put64(out + FH_MAC_OFF, fh_mac(out));
}

int nfs_fh_decode(const uint8_t *p, size_t len, struct nfs_fh *fh)
{
	uint64_t mac, head;

	if (len != NFS_FH_SIZE || p[0] != NFS_FH_VERSION)
		return -EBADF;
	/* One compare of the whole word: no early exit that timing could reveal. */
	mac = fh_mac(p);
	if (mac != fh_get64(p + FH_MAC_OFF))
		return -EBADF;
	head = fh_get64(p);
	fh->root.ino = head & FH_INO56;
	fh->root.gen = fh_get32(p + 8);
	fh->ino.ino = fh_get64(p + 12);
	fh->ino.gen = fh_get32(p + 20);
	return 0;
}

/* --- the key --- */

#define KEY_HEX (2 * SIPHASH_KEY_SIZE)

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A key file holds the key as 32 hex digits and a newline. */
static int key_parse(const char *text, size_t len, uint8_t key[SIPHASH_KEY_SIZE])
{
	if (len == KEY_HEX + 1 && text[KEY_HEX] == '\n')
		len--;
	if (len != KEY_HEX)
		return -EINVAL;
	for (int i = 0; i < SIPHASH_KEY_SIZE; i++) {
		int hi = hexval(text[2 * i]), lo = hexval(text[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		key[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int nfs_fh_key_new(uint8_t key[SIPHASH_KEY_SIZE])
{
	return host_random_strict(key, SIPHASH_KEY_SIZE);
}

/* Make a key and write it to @path as a new file. */
static int key_create(const char *path, uint8_t key[SIPHASH_KEY_SIZE])
{
	char text[KEY_HEX + 1];
	int rc = nfs_fh_key_new(key);

	if (rc)
		return rc;
	for (int i = 0; i < SIPHASH_KEY_SIZE; i++)
		snprintf(text + 2 * i, 3, "%02x", key[i]);
	text[KEY_HEX] = '\n';
	return host_file_create(path, text, sizeof(text), 0600);
}

int nfs_fh_key_file(const char *path, char *err, size_t errlen)
{
	struct nfs_state *st = nfs_state();
	uint8_t key[SIPHASH_KEY_SIZE];
	char text[KEY_HEX + 2];
	size_t len = 0;
	uint32_t mode = 0;
	int rc;

	if (!st) {
		snprintf(err, errlen, "NFS is not initialized (no machine)");
		return -EINVAL;
	}
	rc = host_file_read(path, text, sizeof(text), &len, &mode);
	if (rc == -ENOENT) {
		rc = key_create(path, key);
		if (rc == 0) {
			memcpy(st->fh_key, key, sizeof(key));
			return 0;
		}
		/* Another process made it at the same moment: take its key. */
		if (rc == -EEXIST)
			rc = host_file_read(path, text, sizeof(text), &len, &mode);
	}
	if (rc) {
		snprintf(err, errlen, "cannot read or create it: %s", strerror(-rc));
		return rc;
	}
	if (mode & 077) {
		snprintf(err, errlen,
			 "it is open to others (mode %04o), so handles could be forged: chmod 600 "
			 "it",
			 mode);
		return -EPERM;
	}
	if (key_parse(text, len, key)) {
		snprintf(err, errlen, "it does not hold a key (%d hex digits and a newline)",
			 KEY_HEX);
		return -EINVAL;
	}
	memcpy(st->fh_key, key, sizeof(key));
	return 0;
}
