/*
 * NFS file handles (kernel/net/nfs/fh.c) and the export containment check
 * they rely on (vfs_within).
 *  1-2   SipHash-2-4 gives the paper's test vectors (empty message; 15 bytes)
 *  3     a handle decodes to what was encoded
 *  4     flipping any one bit of it makes it BADHANDLE (-EBADF)
 *  5     a handle of any other length is refused
 *  6     another key refuses the handle; the first key takes it again
 *  7     two handles differing only in the file differ in their MACs too
 *  8-9   vfs_within: a file and a directory inside the root, the root itself
 * 10     a file outside is -ESTALE; so is a directory that only shares a prefix
 * 11     after a rename out, the file is no longer within; a rename back restores it
 * 12     a file with a link inside and one outside is within both trees; the
 *        outside tree loses it when its link goes
 * 13     a replaced rename target drops out of the tree, the source comes in
 * 14     a stale handle is -ESTALE, not within
 */
#include <errno.h>
#include <string.h>

#include "tap.h"
#include "uml.h"
#include "uml/nfs3.h"
#include "uml/siphash.h"
#include "uml/vfs.h"

static struct vfs_ctx ctx;

static struct vfs_ino walk(const char *path)
{
	struct vfs_ino f = {0, 0};

	if (vfs_walk(path, &f))
		bail_out("walk %s", path);
	return f;
}

static void test_siphash(void)
{
	uint8_t key[16], msg[15];

	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (int i = 0; i < 15; i++)
		msg[i] = (uint8_t)i;
	is_int(siphash24(key, msg, 0), 0x726fdb47dd0e0e31ull, "1 SipHash-2-4 of the empty message");
	is_int(siphash24(key, msg, 15), 0xa129ca6149be45e5ull, "2 SipHash-2-4 of 00..0e");
}

static void test_handles(void)
{
	struct nfs_fh fh = {.root = {1, 1}, .ino = {0x123456789abcull, 0xdeadbeef}}, out;
	uint8_t h[NFS_FH_SIZE], bad[NFS_FH_SIZE], key[SIPHASH_KEY_SIZE], h2[NFS_FH_SIZE];
	struct nfs_state *st = nfs_state();
	int flips = 0;

	nfs_fh_encode(&fh, h);
	ok(nfs_fh_decode(h, sizeof(h), &out) == 0 && out.root.ino == 1 && out.root.gen == 1 &&
	       out.ino.ino == fh.ino.ino && out.ino.gen == fh.ino.gen,
	   "3 a handle decodes to what was encoded");
	for (int bit = 0; bit < NFS_FH_SIZE * 8; bit++) {
		memcpy(bad, h, sizeof(h));
		bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		flips += nfs_fh_decode(bad, sizeof(bad), &out) == -EBADF;
	}
	is_int(flips, NFS_FH_SIZE * 8, "4 every one-bit change is BADHANDLE");
	ok(nfs_fh_decode(h, sizeof(h) - 1, &out) == -EBADF && nfs_fh_decode(h, 0, &out) == -EBADF &&
	       nfs_fh_decode(h, 64, &out) == -EBADF,
	   "5 other lengths are refused");
	memcpy(key, st->fh_key, sizeof(key));
	st->fh_key[0] ^= 1;
	flips = nfs_fh_decode(h, sizeof(h), &out);
	memcpy(st->fh_key, key, sizeof(key));
	ok(flips == -EBADF && nfs_fh_decode(h, sizeof(h), &out) == 0,
	   "6 another key refuses the handle, the first takes it again");
	fh.ino.ino++;
	nfs_fh_encode(&fh, h2);
	ok(memcmp(h + 24, h2 + 24, 8) != 0, "7 another file, another MAC");
}

static void test_within(void)
{
	struct vfs_ino pub, d, f, sec, k, pubs, x;

	if (vfs_put("/pub/d/f", 0644, "1", 1, &f) || vfs_put("/secret/k", 0600, "2", 1, &k) ||
	    vfs_put("/pubs/x", 0644, "3", 1, &x))
		bail_out("build");
	pub = walk("/pub");
	d = walk("/pub/d");
	sec = walk("/secret");
	pubs = walk("/pubs");
	ok(vfs_within(pub, f) == 0 && vfs_within(pub, d) == 0, "8 a file and a directory within");
	ok(vfs_within(pub, pub) == 0 && vfs_within(vfs_root(), k) == 0,
	   "9 the root is within itself; everything is within /");
	ok(vfs_within(pub, k) == -ESTALE && vfs_within(pub, x) == -ESTALE &&
	       vfs_within(pub, pubs) == -ESTALE,
	   "10 outside: -ESTALE, also for /pubs next to /pub");
	ok(vfs_rename(d, "f", 1, sec, "f", 1, &ctx) == 0 && vfs_within(pub, f) == -ESTALE &&
	       vfs_rename(sec, "f", 1, d, "f", 1, &ctx) == 0 && vfs_within(pub, f) == 0,
	   "11 renamed out: not within; renamed back: within");
	ok(vfs_link(k, d, "k", 1, &ctx) == 0 && vfs_within(pub, k) == 0 &&
	       vfs_within(sec, k) == 0 && vfs_remove(sec, "k", 1, &ctx) == 0 &&
	       vfs_within(sec, k) == -ESTALE && vfs_within(pub, k) == 0,
	   "12 a hard link puts a file in both trees; removing one link takes it out of one");
	ok(vfs_rename(pubs, "x", 1, d, "f", 1, &ctx) == 0 && vfs_within(pub, x) == 0 &&
	       vfs_within(pub, f) == -ESTALE,
	   "13 a rename over a target: the source is within, the old target is gone");
	ok(vfs_within(pub, (struct vfs_ino){f.ino, f.gen + 1}) == -ESTALE,
	   "14 a stale handle is not within");
}

int main(void)
{
	struct uml_boot_params bp = {.memory = 4 << 20};

	plan(14);
	if (uml_boot(&bp) || nfs_init())
		bail_out("boot");
	test_siphash();
	test_handles();
	test_within();
	return done_testing();
}
