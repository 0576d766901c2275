/*
 * kernel/fs/ramfs.c: file data in a radix tree of pages, small files in slab
 * objects.
 *  1-2   a 30 MiB file (past the 2 MiB cap there was) written in pieces reads
 *        back byte-exact; it holds its pages and a few nodes
 *  3-6   writes at 3 GiB and at 2^62 make a sparse file: the holes read as zeros,
 *        `used` stays small, vfs_data_next finds the two pages and no more
 *  7-10  VFS_FILE_MAX is 2^63-1: a write ending there works, one byte further
 *        is EFBIG, offset + count overflowing is EFBIG, a size past it is EFBIG
 * 11-14  truncate down zeroes the kept page's tail (extending again reads zeros)
 *        and frees pages and nodes; truncating a sparse file to 100 bytes frees
 *        its nodes, and emptying it gives every page back
 * 15-17  2000 two-byte files took a page each (2142 pages); now their data takes a
 *        few pages of slab objects, `used` says 8 bytes, and removing them gives
 *        every page back
 * 18-19  a small file grows into a page and shrinks back into a slab object
 * 20     a knob's value moves from its slab object to a page when it is hooked
 * 21-23  a full machine: a write that needs a page, alone or with pages the file
 *        holds, fails with ENOSPC and leaves the file as it was (content, size, used)
 * 24-25  on the full machine the knob's value is replaced with VFS_HOOKED_MAX bytes,
 *        then `echo 1 >`, without allocating; a write into held pages works too
 * 26-27  random writes, truncates and reads at offsets small and huge (up to
 *        2^63-1) agree with a plain model; vfs_data_next covers every byte that is
 *        not zero, and the self-check agrees with the counts all along
 * 28     the self-check finds files, tree nodes and the scratch cap in step
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "uml.h"
#include "uml/mm.h"
#include "uml/vfs.h"
#include "../../kernel/fs/fs_internal.h"

#define MiB (1ull << 20)
#define GiB (1ull << 30)

static struct vfs_ctx root_ctx;
static char why[128];
static struct vfs_ino dir;

static struct vfs_ino must_create(const char *name)
{
	struct vfs_ino f;
	int err = vfs_create(dir, name, strlen(name), NULL, false, NULL, &root_ctx, &f);

	if (err)
		bail_out("create %s: %d", name, err);
	return f;
}

static struct vfs_ino must_walk_in(const char *name)
{
	struct vfs_ino f;

	if (vfs_lookup(dir, name, strlen(name), &f))
		bail_out("lookup %s", name);
	return f;
}

static void must_remove(const char *name)
{
	if (vfs_remove(dir, name, strlen(name), &root_ctx))
		bail_out("remove %s", name);
}

static uint64_t used_of(struct vfs_ino f)
{
	struct vfs_attr a;

	return vfs_getattr(f, &a) ? UINT64_MAX : a.used;
}

static uint64_t size_of(struct vfs_ino f)
{
	struct vfs_attr a;

	return vfs_getattr(f, &a) ? UINT64_MAX : a.size;
}

/* Read exactly @count bytes at @off, or fail. */
static bool read_at(struct vfs_ino f, uint64_t off, void *buf, size_t count)
{
	size_t n = 0;
	bool eof;

	return vfs_read(f, off, buf, count, &n, &eof) == 0 && n == count;
}

static bool all_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* Free pages, after the slabs and thread caches have given back what they can. */
static uint64_t free_pages(void)
{
	struct mm_stats st;

	mm_drain();
	mm_shrink();
	mm_stats(&st);
	return st.free_pages + st.cached_pages;
}

static bool check_clean(void)
{
	static char report[8192];

	uml_check(report, sizeof(report));
	if (strstr(report, "FAIL")) {
		diag("%s", report);
		return false;
	}
	return true;
}

static uint64_t rnd_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

static void test_big_file(void)
{
	size_t len = 30 * MiB, piece = 3 * MiB / 2 + 17;
	unsigned char *data = malloc(len), *back = malloc(len);
	struct vfs_ino f = must_create("big");
	uint64_t pages = len / PAGE_SIZE;
	bool wrote = true;

	for (size_t i = 0; i < len; i++)
		data[i] = (unsigned char)(rnd() >> 32);
	for (size_t off = 0; off < len && wrote; off += piece)
		wrote = vfs_write(f, off, data + off, MIN(piece, len - off), &root_ctx) == 0;
	ok(wrote && size_of(f) == len && read_at(f, 0, back, len) && memcmp(data, back, len) == 0,
	   "a 30 MiB file reads back byte-exact");
	/* 7680 pages under 2 levels: 120 leaf nodes and the top. */
	ok(used_of(f) >= pages * PAGE_SIZE && used_of(f) <= pages * PAGE_SIZE + 128 * 512,
	   "it holds its pages and a few nodes (%llu bytes)", (unsigned long long)used_of(f));
	must_remove("big");
	free(data);
	free(back);
}

/* The stored ranges of @f from vfs_data_next, into @r (at most @max): how many. */
static int stored_ranges(struct vfs_ino f, uint64_t r[][2], int max)
{
	struct vfs_inode *ip;
	uint64_t off = 0;
	int n = 0;

	vfs_lock();
	ip = inode_get(f);
	while (ip && n < max && vfs_data_next(ip, off, &r[n][0], &r[n][1])) {
		off = r[n][1];
		n++;
	}
	vfs_unlock();
	return n;
}

static void test_sparse(void)
{
	struct vfs_ino f = must_create("sparse");
	uint64_t far = 1ull << 62, r[4][2];
	unsigned char buf[8192];
	int n;

	ok(vfs_write(f, 3 * GiB, "hello", 5, &root_ctx) == 0 &&
	       vfs_write(f, far, "world", 5, &root_ctx) == 0 && size_of(f) == far + 5,
	   "writes at 3 GiB and at 2^62 work");
	memset(buf, 0xff, sizeof(buf));
	ok(read_at(f, 3 * GiB - 4096, buf, sizeof(buf)) && all_zero(buf, 4096) &&
	       memcmp(buf + 4096, "hello", 5) == 0 && all_zero(buf + 4101, 4091) &&
	       read_at(f, far - 8, buf, 13) && all_zero(buf, 8) &&
	       memcmp(buf + 8, "world", 5) == 0 && read_at(f, GiB, buf, sizeof(buf)) &&
	       all_zero(buf, sizeof(buf)) && read_at(f, 1ull << 50, buf, sizeof(buf)) &&
	       all_zero(buf, sizeof(buf)),
	   "the holes read as zeros");
	ok(used_of(f) >= 2 * PAGE_SIZE && used_of(f) <= 2 * PAGE_SIZE + 20 * 512,
	   "it holds two pages and the nodes on their way (%llu bytes)",
	   (unsigned long long)used_of(f));
	n = stored_ranges(f, r, 4);
	/* Whole pages, but never past the size. */
	ok(n == 2 && r[0][0] == 3 * GiB && r[0][1] == 3 * GiB + PAGE_SIZE && r[1][0] == far &&
	       r[1][1] == far + 5,
	   "vfs_data_next finds the two pages and nothing else (%d ranges)", n);
	must_remove("sparse");
}

static void test_limits(void)
{
	struct vfs_ino f = must_create("limits");
	struct vfs_sattr s = {.mask = VFS_SET_SIZE};
	char c;

	ok(vfs_write(f, VFS_FILE_MAX - 1, "x", 1, &root_ctx) == 0 &&
	       size_of(f) == (uint64_t)INT64_MAX && read_at(f, VFS_FILE_MAX - 1, &c, 1) && c == 'x',
	   "a write ending at 2^63-1 works");
	is_int(vfs_write(f, VFS_FILE_MAX - 1, "xy", 2, &root_ctx), -EFBIG,
	       "a write ending one byte past 2^63-1 is EFBIG");
	is_int(vfs_write(f, UINT64_MAX - 1, "xyz", 3, &root_ctx), -EFBIG,
	       "a write whose offset + count overflows is EFBIG");
	s.size = VFS_FILE_MAX + 1;
	ok(vfs_setattr(f, &s, &root_ctx, NULL) == -EFBIG && size_of(f) == VFS_FILE_MAX,
	   "a size past 2^63-1 is EFBIG and changes nothing");
	must_remove("limits");
}

static void test_truncate(void)
{
	struct vfs_ino f = must_create("trunc");
	struct vfs_sattr s = {.mask = VFS_SET_SIZE};
	unsigned char data[5 * 4096], buf[8192];
	uint64_t before = free_pages();
	bool tail_zero;

	memset(data, 'a', sizeof(data));
	vfs_write(f, 0, data, sizeof(data), &root_ctx);
	s.size = 5000;
	vfs_setattr(f, &s, &root_ctx, NULL);
	/* Two pages take a tree of one node. */
	ok(size_of(f) == 5000 && used_of(f) == 2 * PAGE_SIZE + sizeof(struct vfs_node),
	   "truncate to 5000 keeps 2 pages and their node (used %llu)",
	   (unsigned long long)used_of(f));
	s.size = 8192;
	vfs_setattr(f, &s, &root_ctx, NULL);
	tail_zero = read_at(f, 0, buf, 8192) && buf[4999] == 'a' && all_zero(buf + 5000, 3192);
	ok(tail_zero && used_of(f) == 2 * PAGE_SIZE + sizeof(struct vfs_node),
	   "extending it again reads zeros past the cut, with nothing allocated");
	vfs_write(f, 5 * GiB, "z", 1, &root_ctx);
	s.size = 100;
	vfs_setattr(f, &s, &root_ctx, NULL);
	ok(size_of(f) == 100 && used_of(f) <= 128 && read_at(f, 0, buf, 100) && buf[0] == 'a' &&
	       buf[99] == 'a',
	   "a sparse file cut to 100 bytes frees its pages and nodes (used %llu)",
	   (unsigned long long)used_of(f));
	s.size = 0;
	vfs_setattr(f, &s, &root_ctx, NULL);
	ok(used_of(f) == 0 && free_pages() == before,
	   "emptied, it holds nothing and every page is back (%llu, %llu)",
	   (unsigned long long)free_pages(), (unsigned long long)before);
	must_remove("trunc");
}

static void test_many_small(void)
{
	uint64_t start = free_pages(), empty, small;
	char name[16];
	bool fine = true;

	for (int i = 0; i < 2000; i++) {
		snprintf(name, sizeof(name), "e%d", i);
		must_create(name);
	}
	empty = start - free_pages();
	for (int i = 0; i < 2000; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		fine &= vfs_write(must_create(name), 0, "hi", 2, &root_ctx) == 0;
	}
	small = start - free_pages() - empty;
	diag("2000 empty files take %llu pages, 2000 two-byte files %llu",
	     (unsigned long long)empty, (unsigned long long)small);
	ok(fine && small < empty + 50,
	   "2000 two-byte files take only a few pages more than 2000 empty ones");
	snprintf(name, sizeof(name), "s%d", 7);
	ok(fine && used_of(must_walk_in(name)) == 8, "and each holds 8 bytes");
	for (int i = 0; i < 2000; i++) {
		snprintf(name, sizeof(name), "e%d", i);
		must_remove(name);
		snprintf(name, sizeof(name), "s%d", i);
		must_remove(name);
	}
	is_int(free_pages(), start, "removing them gives every page back");
}

static void test_small_grows(void)
{
	struct vfs_ino f = must_create("grow");
	struct vfs_sattr s = {.mask = VFS_SET_SIZE, .size = 50};
	unsigned char data[100], buf[3001];

	memset(data, 'g', sizeof(data));
	vfs_write(f, 0, data, sizeof(data), &root_ctx);
	ok(used_of(f) == 128 && vfs_write(f, 3000, "!", 1, &root_ctx) == 0 &&
	       used_of(f) == PAGE_SIZE && read_at(f, 0, buf, 3001) && memcmp(buf, data, 100) == 0 &&
	       all_zero(buf + 100, 2900) && buf[3000] == '!',
	   "a 100-byte file (128 bytes held) grows into a page and keeps its bytes");
	vfs_setattr(f, &s, &root_ctx, NULL);
	ok(used_of(f) == 64 && read_at(f, 0, buf, 50) && memcmp(buf, data, 50) == 0,
	   "cut to 50 bytes, it goes back to a 64-byte object (used %llu)",
	   (unsigned long long)used_of(f));
	must_remove("grow");
}

/* Fill the machine with an application file (not capped like clients'): its name. */
static const char *fill_machine(void)
{
	static unsigned char chunk[1 << 20];
	struct vfs_ino f;
	uint64_t off = 0;

	if (vfs_put("/fill", 0644, "", 0, &f))
		bail_out("put /fill");
	memset(chunk, 'f', sizeof(chunk));
	for (size_t n = sizeof(chunk); n >= PAGE_SIZE; n /= 2)
		while (vfs_write(f, off, chunk, n, &root_ctx) == 0)
			off += n;
	return "fill";
}

static int knob_validate(void *arg, const char *data, size_t len, struct vfs_ctx *ctx)
{
	(void)arg;
	(void)data;
	(void)len;
	(void)ctx;
	return 0;
}

static void test_full_machine(void)
{
	static struct vfs_hooks h = {.validate = knob_validate};
	static unsigned char data[8192], xs[8192], big[VFS_HOOKED_MAX], want[(1 << 20) + 4096],
	    buf[sizeof(want)];
	struct vfs_ino victim, knob;
	uint64_t used, size;
	bool same;

	memset(data, 'v', sizeof(data));
	vfs_put("/victim", 0644, data, sizeof(data), &victim);
	vfs_write(victim, 1 << 20, "w", 1, &root_ctx);
	memset(want, 0, sizeof(want));
	memset(want, 'v', sizeof(data));
	want[1 << 20] = 'w';
	vfs_put("/knob", 0644, "55\n", 3, &knob);
	used = used_of(knob);
	vfs_set_hooks(knob, &h);
	ok(used == 8 && used_of(knob) == PAGE_SIZE,
	   "a knob's value moves from its slab object to a page when it is hooked");
	fill_machine();
	used = used_of(victim);
	size = size_of(victim);
	is_int(vfs_write(victim, 64 << 10, data, 4096, &root_ctx), -ENOSPC,
	       "on the full machine a write into a hole needs a page: ENOSPC");
	memset(xs, 'X', sizeof(xs));
	is_int(vfs_write(victim, 4096, xs, sizeof(xs), &root_ctx), -ENOSPC,
	       "so does one across a held page and a hole");
	same = read_at(victim, 0, buf, size) && memcmp(buf, want, size) == 0;
	ok(same && used_of(victim) == used && size_of(victim) == size,
	   "and the file is as it was: content, size and used");
	memset(big, 'k', sizeof(big));
	ok(vfs_write(knob, 0, big, sizeof(big), &root_ctx) == 0 &&
	       vfs_setattr(knob, &(struct vfs_sattr){.mask = VFS_SET_SIZE, .size = 0}, &root_ctx,
			   NULL) == 0 &&
	       vfs_write(knob, 0, "1\n", 2, &root_ctx) == 0 && size_of(knob) == 2 &&
	       read_at(knob, 0, buf, 2) && memcmp(buf, "1\n", 2) == 0 && used_of(knob) == PAGE_SIZE,
	   "replacing the knob's value with 4096 bytes, then `echo 1 >`, needs no allocation");
	ok(vfs_write(victim, 100, data, 5000, &root_ctx) == 0,
	   "a write into pages the file holds still works");
	vfs_remove(vfs_root(), "fill", 4, &root_ctx);
	vfs_set_hooks(knob, NULL);
	vfs_remove(vfs_root(), "knob", 4, &root_ctx);
	vfs_remove(vfs_root(), "victim", 6, &root_ctx);
}

/*
 * The model of a sparse file: its size, and the bytes of a few regions far
 * apart (zeros elsewhere, where nothing is ever written).
 */
static struct region {
	uint64_t base;
	size_t len;
	unsigned char *bytes;
} regions[] = {
    {0, 256 << 10, NULL},
    {3 * GiB - 8192, 64 << 10, NULL},
    {(1ull << 62) - 4096, 64 << 10, NULL},
    {VFS_FILE_MAX - (32 << 10), 32 << 10, NULL},
};
#define NREGIONS (sizeof(regions) / sizeof(regions[0]))

static uint64_t model_size;

static void model_cut(uint64_t size)
{
	for (size_t r = 0; r < NREGIONS; r++)
		for (size_t i = 0; i < regions[r].len; i++)
			if (regions[r].base + i >= size)
				regions[r].bytes[i] = 0;
	model_size = size;
}

/* Whether the stored ranges of @f are in order, within the size, and hold every byte not zero. */
static bool ranges_cover(struct vfs_ino f)
{
	static uint64_t r[4096][2];
	int n = stored_ranges(f, r, 4096);

	for (int i = 0; i < n; i++)
		if (r[i][0] >= r[i][1] || r[i][1] > model_size || (i && r[i][0] < r[i - 1][1]))
			return false;
	for (size_t k = 0; k < NREGIONS; k++)
		for (size_t j = 0; j < regions[k].len; j++) {
			uint64_t pos = regions[k].base + j;
			int i = 0;

			if (!regions[k].bytes[j])
				continue;
			while (i < n && r[i][1] <= pos)
				i++;
			if (i == n || r[i][0] > pos) {
				diag("    byte at %llu is outside every stored range",
				     (unsigned long long)pos);
				return false;
			}
		}
	return true;
}

static void test_random(void)
{
	static unsigned char data[20 << 10], buf[20 << 10];
	struct vfs_ino f = must_create("random");
	int bad_reads = 0, bad_ranges = 0, bad_checks = 0, reads = 0;

	for (size_t r = 0; r < NREGIONS; r++)
		regions[r].bytes = calloc(1, regions[r].len);
	model_size = 0;
	for (int op = 0; op < 3000; op++) {
		struct region *g = &regions[rnd() % NREGIONS];
		uint64_t off = g->base + rnd() % g->len;
		size_t count = 1 + rnd() % MIN(sizeof(data), g->base + g->len - off);
		unsigned kind = rnd() % 100;

		if (kind < 50) {
			for (size_t i = 0; i < count; i++)
				data[i] = (unsigned char)(rnd() % 4 ? rnd() : 0);
			if (vfs_write(f, off, data, count, &root_ctx) == 0) {
				memcpy(g->bytes + (off - g->base), data, count);
				model_size = MAX(model_size, off + count);
			} else {
				bad_reads++;
			}
		} else if (kind < 62) {
			/* Now and then to nothing at all, so the tree starts over. */
			uint64_t size = kind < 52 ? 0 : off;

			if (vfs_setattr(f, &(struct vfs_sattr){.mask = VFS_SET_SIZE, .size = size},
					&root_ctx, NULL) == 0)
				model_cut(size);
			else
				bad_reads++;
		} else {
			size_t n = 0, want = off >= model_size ? 0 : MIN(count, model_size - off);
			bool eof;

			reads++;
			memset(buf, 0xa5, sizeof(buf));
			if (vfs_read(f, off, buf, count, &n, &eof) || n != want ||
			    memcmp(buf, g->bytes + (off - g->base), n) != 0)
				bad_reads++;
		}
		if (size_of(f) != model_size)
			bad_reads++;
		if (op % 100 == 99) {
			bad_ranges += !ranges_cover(f);
			bad_checks += !check_clean();
		}
	}
	ok(bad_reads == 0,
	   "%d random reads among 3000 operations agree with the model (%d did not)", reads,
	   bad_reads);
	ok(bad_ranges == 0 && bad_checks == 0,
	   "vfs_data_next covers every byte not zero, and the check agrees (%d, %d failures)",
	   bad_ranges, bad_checks);
	must_remove("random");
	for (size_t r = 0; r < NREGIONS; r++)
		free(regions[r].bytes);
}

int main(void)
{
	struct uml_boot_params bp = {.memory = 128 << 20};
	struct vfs_statfs st;

	root_ctx.why = why;
	root_ctx.whylen = sizeof(why);
	root_ctx.client = "test";
	if (uml_boot(&bp))
		bail_out("uml_boot failed");
	if (vfs_mkdir(vfs_root(), "t", 1, NULL, &root_ctx, &dir))
		bail_out("mkdir /t");
	/* The scratch cap is not what these tests are about: the whole machine. */
	vfs_statfs(&st);
	vfs_set_scratch_limit(st.tbytes);
	plan(28);
	test_big_file();
	test_sparse();
	test_limits();
	test_truncate();
	test_many_small();
	test_small_grows();
	test_full_machine();
	test_random();
	ok(check_clean(), "the self-check finds files, tree nodes and the scratch cap in step");
	return done_testing();
}
