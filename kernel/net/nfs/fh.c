/*
 * File handle codec. Layout (32 bytes, big-endian):
 *   0      version (NFS_FH_VERSION)
 *   1      size (NFS_FH_SIZE), so a truncated copy is told from a real handle
 *   2..3   zero
 *   4..11  export root ino    12..15 export root gen
 *   16..23 file ino           24..27 file gen
 *   28..31 zero
 */
#include <errno.h>
#include <string.h>
#include "uml/nfs3.h"

static void fh_put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static uint32_t fh_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void fh_put_ino(uint8_t *p, struct vfs_ino i)
{
	fh_put32(p, i.ino >> 32);
	fh_put32(p + 4, (uint32_t)i.ino);
	fh_put32(p + 8, i.gen);
}

static struct vfs_ino fh_get_ino(const uint8_t *p)
{
	struct vfs_ino i;

	i.ino = (uint64_t)fh_get32(p) << 32 | fh_get32(p + 4);
	i.gen = fh_get32(p + 8);
	return i;
}

void nfs_fh_encode(const struct nfs_fh *fh, uint8_t out[NFS_FH_SIZE])
{
	memset(out, 0, NFS_FH_SIZE);
	out[0] = NFS_FH_VERSION;
	out[1] = NFS_FH_SIZE;
	fh_put_ino(out + 4, fh->root);
	fh_put_ino(out + 16, fh->ino);
}

int nfs_fh_decode(const uint8_t *p, size_t len, struct nfs_fh *fh)
{
	if (len != NFS_FH_SIZE || p[0] != NFS_FH_VERSION || p[1] != NFS_FH_SIZE)
		return -EBADF;
	if (p[2] | p[3] | p[28] | p[29] | p[30] | p[31])
		return -EBADF;
	fh->root = fh_get_ino(p + 4);
	fh->ino = fh_get_ino(p + 16);
	return 0;
}
