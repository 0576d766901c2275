/*
 * kernel/fs/persist.c and kernel/block: the state image.
 *  1-3   a new image: files, a directory, a symlink, a hard link, a note and a chmod are
 *        back after a reboot, with the same handles, attributes and content
 *  4     the log goes round its circle many times (20x the image), checkpoints follow
 *        it, and what was written last is what comes back
 *  5-7   a full image: growth gets ENOSPC and FSSTAT shows no room, a knob-sized rewrite
 *        and removes still work, and every acknowledged byte is back after a reboot
 *  8     renames and links between the image and the memory-only tree: EXDEV
 *  9     a second machine can't open an image in use (EBUSY)
 * 10-15  refused and left untouched: an empty file, a foreign file, another version, a
 *        superblock with a bad CRC, a truncated image, a torn checkpoint
 * 16-18  random operations, then a reboot: the loaded tree is the live one, and checks clean
 * 19-20  power lost at every write of a random run, torn two ways: every image loads,
 *        checks clean, and holds the tree as it was after some operation no earlier than
 *        the last acknowledged one
 * 21     a hostile image: records whose payload is garbage but whose CRCs chain (as
 *        someone who can write the file can make them), 300 of them: every load refuses
 *        (EUCLEAN) or builds a tree that checks clean; none crashes
 * 22-23  (debug build) death at any instant: a process changing the tree is killed at
 *        each lock it takes or releases; the next holder repairs the tree and writes a
 *        checkpoint, and the image then loads as exactly the live tree
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "uml.h"
#include "uml/check.h"
#include "uml/crc32c.h"
#include "uml/host.h"
#include "uml/vfs.h"

static struct vfs_ctx root_ctx;
static char dir_tmpl[] = "/tmp/umlstate.XXXXXX";
static char img[256];

/* ---- helpers ---- */

static void boot(void)
{
	struct uml_boot_params bp = {.memory = 32u << 20};

	if (uml_boot(&bp))
		_exit(90);
}

static int open_img(const char *path, size_t size, unsigned flags)
{
	char msg[256];
	int err = uml_state_open(path, size, flags, msg, sizeof(msg));

	if (err && getenv("TEST_VERBOSE"))
		fprintf(stderr, "# open: %s\n", msg);
	return err;
}

/* Run @fn in a child with its own machine; its exit status (or 99 when it crashed). */
static int in_child(int (*fn)(void *), void *arg)
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		boot();
		_exit(fn(arg));
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return 98;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 99;
}

static struct vfs_ino walk(const char *path)
{
	struct vfs_ino f = {0, 0};

	vfs_walk(path, &f);
	return f;
}

/* Split "/a/b/c" into the directory's handle and the name. */
static int parent_of(const char *path, struct vfs_ino *dir, const char **name)
{
	const char *slash = strrchr(path, '/');
	char d[256];

	snprintf(d, sizeof(d), "%.*s", (int)(slash - path), path);
	*name = slash + 1;
	return vfs_walk(d[0] ? d : "/", dir);
}

/* ---- the tree's fingerprint: names, handles, attributes, content ---- */

struct names {
	char name[64][VFS_NAME_MAX + 1];
	int n;
};

static int collect(void *arg, const char *name, size_t len, struct vfs_ino ino, uint64_t cookie)
{
	struct names *ns = arg;

	(void)ino, (void)cookie;
	if ((len == 1 && name[0] == '.') || (len == 2 && !memcmp(name, "..", 2)) || ns->n == 64)
		return 0;
	snprintf(ns->name[ns->n++], VFS_NAME_MAX + 1, "%.*s", (int)len, name);
	return 0;
}

static uint32_t fp_dir(uint32_t crc, struct vfs_ino dir, const char *path, FILE *dump)
{
	struct names *ns = calloc(1, sizeof(*ns));
	uint64_t verf;

	vfs_readdir(dir, 0, &verf, collect, ns);
	for (int i = 0; i < ns->n; i++) {
		static char buf[1 << 17];
		struct vfs_ino f;
		struct vfs_attr a;
		char sub[512], line[700];
		size_t n = 0;
		bool eof;

		if (vfs_lookup(dir, ns->name[i], strlen(ns->name[i]), &f) || vfs_getattr(f, &a))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, ns->name[i]);
		if (a.type == VFS_REG)
			vfs_read(f, 0, buf, sizeof(buf), &n, &eof);
		else if (a.type == VFS_LNK)
			vfs_readlink(f, buf, sizeof(buf), &n);
		snprintf(line, sizeof(line),
			 "%s ino=%llu gen=%u type=%d mode=%o uid=%u nlink=%u size=%llu "
			 "mtime=%lld.%u data=%08x",
			 sub, (unsigned long long)f.ino, f.gen, a.type, a.mode, a.uid, a.nlink,
			 (unsigned long long)a.size, (long long)a.mtime.sec, a.mtime.nsec,
			 crc32c(0, buf, n));
		if (dump)
			fprintf(dump, "%s\n", line);
		crc = crc32c(crc, line, strlen(line));
		if (a.type == VFS_DIR)
			crc = fp_dir(crc, f, sub, dump);
	}
	free(ns);
	return crc;
}

static uint32_t fingerprint(FILE *dump)
{
	char note[VFS_NOTE_MAX + 1] = "";
	uint32_t crc = 0;
	struct vfs_attr a;

	vfs_getattr(vfs_root(), &a);
	if (uml_state_note_get("n", note, sizeof(note)) < 0)
		note[0] = '\0';
	crc = crc32c(crc, note, strlen(note));
	crc = crc32c(crc, &a.mode, sizeof(a.mode));
	return fp_dir(crc, vfs_root(), "", dump);
}

static bool tree_clean(void)
{
	char buf[2048];
	struct kcheck r = {.buf = buf, .size = sizeof(buf)};

	vfs_check(&r);
	if (r.problems)
		diag("check: %.*s", (int)(r.len < sizeof(buf) ? r.len : sizeof(buf)), buf);
	return r.problems == 0;
}

/* ---- 1-3: a first life and a second ---- */

static int life1(void *arg)
{
	struct vfs_ino d, f, g, h;
	struct vfs_sattr s = {.mask = VFS_SET_MODE, .mode = 0600};
	FILE *out = arg;

	if (open_img(img, 0, UML_STATE_CREATE))
		return 1;
	if (vfs_mkdir(vfs_root(), "dir", 3, NULL, &root_ctx, &d) ||
	    vfs_create(d, "file", 4, NULL, true, NULL, &root_ctx, &f) ||
	    vfs_write(f, 0, "hello, world", 12, &root_ctx) ||
	    vfs_write(f, 100000, "far", 3, &root_ctx) || vfs_setattr(f, &s, &root_ctx, NULL) ||
	    vfs_symlink(vfs_root(), "ln", 2, "dir/file", 8, NULL, &root_ctx, &g) ||
	    vfs_link(f, vfs_root(), "hard", 4, &root_ctx) ||
	    vfs_create(vfs_root(), "gone", 4, NULL, true, NULL, &root_ctx, &h) ||
	    vfs_remove(vfs_root(), "gone", 4, &root_ctx) || uml_state_note_set("n", "noted") ||
	    vfs_sync())
		return 2;
	fprintf(out, "%u\n", fingerprint(NULL));
	fflush(out);
	return 0;
}

static int life2(void *arg)
{
	FILE *out = arg;
	char buf[32] = "";
	struct vfs_ino f;
	size_t n;
	bool eof;

	if (open_img(img, 0, 0))
		return 1;
	if (vfs_walk("/hard", &f) || vfs_read(f, 0, buf, 12, &n, &eof))
		return 2;
	fprintf(out, "%u %s\n", fingerprint(NULL), buf);
	fflush(out);
	return tree_clean() ? 0 : 3;
}

static void test_lives(void)
{
	FILE *out = tmpfile();
	unsigned fp1 = 0, fp2 = 0;
	char word[32] = "";
	int rc1, rc2;

	rc1 = in_child(life1, out);
	rc2 = in_child(life2, out);
	rewind(out);
	if (fscanf(out, "%u %u %31s", &fp1, &fp2, word) != 3)
		fp1 = 0;
	is_int(rc1, 0, "a new image takes files, a directory, a symlink, a link and a note");
	is_int(rc2, 0, "it opens again and checks clean");
	ok(fp1 && fp1 == fp2 && !strcmp(word, "hello,"),
	   "names, handles, modes, sizes, times, content and the note are the same "
	   "(%08x, %08x)",
	   fp1, fp2);
	fclose(out);
	unlink(img);
}

/* ---- 4: round and round ---- */

static int circle(void *arg)
{
	static char data[40000];
	struct vfs_ino f;

	(void)arg;
	if (open_img(img, 1u << 20, UML_STATE_CREATE) ||
	    vfs_create(vfs_root(), "f", 1, NULL, true, NULL, &root_ctx, &f))
		return 1;
	for (int i = 0; i < 600; i++) {
		memset(data, 'a' + i % 26, sizeof(data));
		if (vfs_write(f, (uint64_t)(i % 3) * 1000, data, sizeof(data), &root_ctx) ||
		    vfs_sync())
			return 2;
	}
	return 0;
}

static int circle_check(void *arg)
{
	static char data[42000];
	struct uml_state_stat st;
	struct vfs_ino f;
	size_t n;
	bool eof;

	(void)arg;
	if (open_img(img, 0, 0) || vfs_walk("/f", &f) ||
	    vfs_read(f, 0, data, sizeof(data), &n, &eof) || uml_state_stat(&st))
		return 1;
	/* Write i went to (i % 3) * 1000: the last three left 597 | 598 | 599 from 0, 1000, 2000.
	 */
	if (n != 42000 || data[0] != 'a' + 597 % 26 || data[999] != 'a' + 597 % 26 ||
	    data[1000] != 'a' + 598 % 26 || data[1999] != 'a' + 598 % 26 ||
	    data[2000] != 'a' + 599 % 26 || data[41999] != 'a' + 599 % 26)
		return 2;
	if (st.checkpoints != 0 || st.replayed == 0)
		return 4;
	return tree_clean() ? 0 : 3;
}

/* ---- 5-7: full ---- */

static int accept_any(void *arg, const char *data, size_t len, struct vfs_ctx *ctx)
{
	(void)arg, (void)data, (void)len, (void)ctx;
	return 0;
}

static struct vfs_hooks knob_hooks = {.validate = accept_any};

static int fill(void *arg)
{
	static char data[8192];
	FILE *out = arg;
	struct vfs_statfs sf;
	struct vfs_ino f, k, hk;
	char name[32];
	int i, err = 0;

	if (open_img(img, 1u << 20, UML_STATE_CREATE) ||
	    vfs_create(vfs_root(), "knob", 4, NULL, true, NULL, &root_ctx, &k) ||
	    vfs_write(k, 0, "100", 3, &root_ctx) || vfs_put("/hooked", 0644, "1", 1, &hk) ||
	    vfs_set_hooks(hk, &knob_hooks) || vfs_sync())
		return 1;
	for (i = 0; i < 1000 && !err; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		memset(data, 'A' + i % 26, sizeof(data));
		err = vfs_create(vfs_root(), name, strlen(name), NULL, true, NULL, &root_ctx, &f);
		if (!err)
			err = vfs_write(f, 0, data, sizeof(data), &root_ctx);
		if (!err)
			err = vfs_sync();
	}
	/* The last file may exist, empty: its create was acknowledged, its write was not. */
	vfs_statfs(&sf);
	fprintf(out, "%d %d %llu ", i - 1, err, (unsigned long long)sf.abytes);
	/* A value the size of the last takes no more room; removing frees room. */
	err = vfs_write(k, 0, "250", 3, &root_ctx);
	if (!err)
		err = vfs_sync();
	fprintf(out, "%d ", err);
	/* A validated file (a knob) takes a longer value too: its page holds any. */
	err = vfs_write(hk, 0, "12345", 5, &root_ctx);
	if (!err)
		err = vfs_sync();
	fprintf(out, "%d ", err);
	err = vfs_remove(vfs_root(), "f0", 2, &root_ctx);
	if (!err)
		err = vfs_sync();
	fprintf(out, "%d\n", err);
	fflush(out);
	return 0;
}

static int fill_check(void *arg)
{
	static char data[8192];
	int *last = arg, bad = 0;
	struct vfs_ino f;
	char name[32];
	size_t n;
	bool eof;

	if (open_img(img, 0, 0))
		return 1;
	if (vfs_walk("/knob", &f) || vfs_read(f, 0, data, 3, &n, &eof) || memcmp(data, "250", 3))
		return 2;
	if (vfs_walk("/f0", &f) != -ENOENT)
		return 3;
	for (int i = 1; i < *last; i++) {
		snprintf(name, sizeof(name), "/f%d", i);
		if (vfs_walk(name, &f) || vfs_read(f, 0, data, sizeof(data), &n, &eof) ||
		    n != sizeof(data) || data[0] != 'A' + i % 26 || data[8191] != 'A' + i % 26)
			bad++;
	}
	if (bad)
		return 4;
	return tree_clean() ? 0 : 5;
}

static void test_full(void)
{
	FILE *out = tmpfile();
	int last = 0, err = 0, knob = -1, hooked = -1, rm = -1, rc;
	unsigned long long avail = ~0ull;

	rc = in_child(fill, out);
	rewind(out);
	if (fscanf(out, "%d %d %llu %d %d %d", &last, &err, &avail, &knob, &hooked, &rm) != 6)
		rc = 50;
	ok(rc == 0 && err == -ENOSPC && last > 20 && avail < 3 * 8192,
	   "a 1 MiB image fills: file %d of 8 KiB got ENOSPC (%d), and FSSTAT offers clients "
	   "%llu bytes",
	   last, err, avail);
	ok(knob == 0 && hooked == 0 && rm == 0,
	   "then a same-size value (%d), a validated file's longer value (%d) and a remove (%d) "
	   "still work",
	   knob, hooked, rm);
	is_int(in_child(fill_check, &last), 0,
	       "after a reboot every acknowledged file is whole, the knob is 250, f0 is gone");
	fclose(out);
	unlink(img);
}

/* ---- 8: two filesystems ---- */

static int exdev(void *arg)
{
	struct vfs_ino mem, f, g;

	(void)arg;
	/* Built before the image is opened: memory only, like /status. */
	if (vfs_mkpath("/status", 0755, &mem) ||
	    vfs_create(mem, "s", 1, NULL, true, NULL, &root_ctx, &g) ||
	    open_img(img, 0, UML_STATE_CREATE) ||
	    vfs_create(vfs_root(), "p", 1, NULL, true, NULL, &root_ctx, &f))
		return 1;
	if (vfs_rename(vfs_root(), "p", 1, mem, "p", 1, &root_ctx) != -EXDEV ||
	    vfs_rename(mem, "s", 1, vfs_root(), "s", 1, &root_ctx) != -EXDEV ||
	    vfs_link(f, mem, "l", 1, &root_ctx) != -EXDEV ||
	    vfs_link(g, vfs_root(), "l", 1, &root_ctx) != -EXDEV)
		return 2;
	return 0;
}

/* ---- 9: one machine per image ---- */

static int hold(void *arg)
{
	int *fds = arg;
	char c;

	if (open_img(img, 0, UML_STATE_CREATE))
		return 1;
	if (write(fds[1], "x", 1) != 1 || read(fds[0], &c, 1) != 1)
		return 2;
	return 0;
}

static int second(void *arg)
{
	(void)arg;
	return open_img(img, 0, UML_STATE_CREATE) == -EBUSY ? 0 : 1;
}

static void test_busy(void)
{
	int up[2], down[2], fds[2];
	pid_t pid;
	char c;
	int status;

	if (pipe(up) || pipe(down))
		bail_out("pipe");
	fds[0] = down[0];
	fds[1] = up[1];
	pid = fork();
	if (pid == 0) {
		boot();
		_exit(hold(fds));
	}
	if (read(up[0], &c, 1) != 1)
		c = 0;
	is_int(in_child(second, NULL), 0, "a second machine can't open an image in use (EBUSY)");
	if (write(down[1], "x", 1) != 1)
		diag("write");
	waitpid(pid, &status, 0);
	close(up[0]), close(up[1]), close(down[0]), close(down[1]);
	unlink(img);
}

/* ---- 10-15: refused and untouched ---- */

static uint32_t file_crc(const char *path, long *size)
{
	static char buf[1 << 20];
	FILE *f = fopen(path, "rb");
	size_t n = f ? fread(buf, 1, sizeof(buf), f) : 0;

	if (f)
		fclose(f);
	*size = (long)n;
	return crc32c(0, buf, n);
}

static int refuse(void *arg)
{
	return -open_img(img, 0, (unsigned)(uintptr_t)arg);
}

static int make_small(void *arg)
{
	struct vfs_ino f;

	(void)arg;
	if (open_img(img, 1u << 20, UML_STATE_CREATE) ||
	    vfs_create(vfs_root(), "f", 1, NULL, true, NULL, &root_ctx, &f) ||
	    vfs_write(f, 0, "x", 1, &root_ctx) || vfs_sync())
		return 1;
	return 0;
}

/* Damage a fresh image with @how and check the open refuses with @want, leaving it as it was. */
static void refused(const char *what, int want, void (*how)(int fd))
{
	long before_size, after_size;
	uint32_t before, after;
	int fd, got;

	unlink(img);
	if (in_child(make_small, NULL)) {
		ok(0, "%s: the image was made", what);
		return;
	}
	fd = open(img, O_RDWR);
	how(fd);
	close(fd);
	before = file_crc(img, &before_size);
	got = in_child(refuse, (void *)(uintptr_t)UML_STATE_CREATE);
	after = file_crc(img, &after_size);
	ok(got == want && before == after && before_size == after_size,
	   "%s: refused with %s (got %s), the file untouched", what, strerror(want),
	   got ? strerror(got) : "success");
}

static void zap_empty(int fd)
{
	if (ftruncate(fd, 0))
		diag("ftruncate");
}

static void zap_foreign(int fd)
{
	static char junk[8192];

	memset(junk, 'J', sizeof(junk));
	if (pwrite(fd, junk, sizeof(junk), 0) != sizeof(junk))
		diag("pwrite");
}

static void zap_version(int fd)
{
	uint32_t v = 99;

	/* Both slots: the version follows the 8-byte magic. */
	if (pwrite(fd, &v, 4, 8) != 4 || pwrite(fd, &v, 4, 4096 + 8) != 4)
		diag("pwrite");
}

static void zap_crc(int fd)
{
	uint64_t seq = 12345;

	/* The sequence number follows magic, version and size: no CRC matches any more. */
	if (pwrite(fd, &seq, 8, 16) != 8 || pwrite(fd, &seq, 8, 4096 + 16) != 8)
		diag("pwrite");
}

static void zap_truncate(int fd)
{
	if (ftruncate(fd, 512 << 10))
		diag("ftruncate");
}

static void zap_checkpoint(int fd)
{
	static char junk[4096];

	/* The log starts at 8 KiB with the first checkpoint. */
	memset(junk, 0x5a, sizeof(junk));
	if (pwrite(fd, junk, sizeof(junk), 8192 + 64) != sizeof(junk))
		diag("pwrite");
}

/* ---- 16-19: random operations, reboots and power cuts ---- */

#define OPS 400

struct run {
	uint32_t fp[OPS + 1];	  /* the live tree after op i (0: before any) */
	uint64_t writes[OPS + 1]; /* host writes when op i's sync returned */
	int64_t crash;		  /* cut power after this many writes (< 0: never) */
	uint64_t checkpoints;	  /* the run wrote */
	size_t tear;
};

static uint64_t rnd_state;

static uint32_t rnd(uint32_t n)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return (uint32_t)(rnd_state % n);
}

static void rnd_path(char *buf, size_t size, bool dir)
{
	static const char *const dirs[] = {"", "/a", "/b", "/a/c"};

	snprintf(buf, size, "%s/%c%u", dirs[rnd(4)], dir ? 'd' : 'f', rnd(5));
}

static void one_op(void)
{
	static char data[70000];
	char p[64], q[64];
	struct vfs_ino d, f;
	const char *name, *tname;
	struct vfs_sattr s = {0};
	uint32_t off, len;

	switch (rnd(11)) {
	case 0:
	case 1:
		rnd_path(p, sizeof(p), false);
		if (!parent_of(p, &d, &name))
			vfs_create(d, name, strlen(name), NULL, false, NULL, &root_ctx, &f);
		break;
	case 2:
	case 3:
		rnd_path(p, sizeof(p), false);
		off = rnd(3) ? rnd(9000) : rnd(200000);
		len = rnd(2) ? 1 + rnd(3000) : 1 + rnd(sizeof(data) - 1);
		memset(data, 'a' + (int)rnd(26), len);
		f = walk(p);
		if (f.ino)
			vfs_write(f, off, data, len, &root_ctx);
		break;
	case 4:
		rnd_path(p, sizeof(p), false);
		s.mask = VFS_SET_SIZE;
		s.size = rnd(20000);
		f = walk(p);
		if (f.ino)
			vfs_setattr(f, &s, &root_ctx, NULL);
		break;
	case 5:
		snprintf(p, sizeof(p), "/%c", "abc"[rnd(3)]);
		if (p[1] == 'c')
			snprintf(p, sizeof(p), "/a/c");
		if (!parent_of(p, &d, &name))
			vfs_mkdir(d, name, strlen(name), NULL, &root_ctx, &f);
		break;
	case 6:
		rnd_path(p, sizeof(p), false);
		if (!parent_of(p, &d, &name))
			vfs_remove(d, name, strlen(name), &root_ctx);
		if (rnd(4) == 0 && !parent_of("/a/c", &d, &name))
			vfs_rmdir(d, name, 1, &root_ctx);
		break;
	case 7:
		rnd_path(p, sizeof(p), false);
		rnd_path(q, sizeof(q), false);
		if (!parent_of(p, &d, &name) && !parent_of(q, &f, &tname))
			vfs_rename(d, name, strlen(name), f, tname, strlen(tname), &root_ctx);
		break;
	case 8:
		rnd_path(p, sizeof(p), false);
		rnd_path(q, sizeof(q), false);
		f = walk(p);
		if (f.ino && !parent_of(q, &d, &tname))
			vfs_link(f, d, tname, strlen(tname), &root_ctx);
		break;
	case 9:
		rnd_path(p, sizeof(p), false);
		if (!parent_of(p, &d, &name))
			vfs_symlink(d, name, strlen(name), "target", 6, NULL, &root_ctx, &f);
		s.mask = VFS_SET_MODE;
		s.mode = 0600 + rnd(0100);
		rnd_path(p, sizeof(p), false);
		f = walk(p);
		if (f.ino)
			vfs_setattr(f, &s, &root_ctx, NULL);
		break;
	default:
		snprintf(p, sizeof(p), "v%u", rnd(1000));
		uml_state_note_set("n", p);
		break;
	}
}

static int random_run(void *arg)
{
	struct run *r = arg;

	rnd_state = 0x9e3779b97f4a7c15ull;
	if (open_img(img, 1u << 20, UML_STATE_CREATE))
		return 1;
	vfs_mkpath("/a/c", 0755, NULL);
	vfs_mkpath("/b", 0755, NULL);
	vfs_sync();
	r->fp[0] = fingerprint(NULL);
	r->writes[0] = 0;
	if (r->crash >= 0)
		host_io_crash((uint64_t)r->crash, r->tear);
	for (int i = 1; i <= OPS; i++) {
		uint64_t w0 = host_io_writes();

		one_op();
		vfs_sync();
		r->fp[i] = fingerprint(NULL);
		r->writes[i] = r->writes[i - 1] + host_io_writes() - w0;
	}
	{
		struct uml_state_stat st;

		uml_state_stat(&st);
		r->checkpoints = st.checkpoints;
	}
	return 0;
}

static int load_fp(void *arg)
{
	uint32_t *fp = arg;

	if (open_img(img, 0, 0))
		return 1;
	*fp = fingerprint(getenv("TEST_VERBOSE") ? stderr : NULL);
	return tree_clean() ? 0 : 2;
}

static void test_random(void)
{
	struct run *r =
	    mmap(NULL, sizeof(*r) + 64, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	uint32_t *loaded = (uint32_t *)(r + 1);
	uint64_t total;
	int bad[2] = {0, 0}, unclean[2] = {0, 0}, points = 0, rc0;

	unlink(img);
	r->crash = -1;
	rc0 = in_child(random_run, r);
	ok(rc0 == 0 && r->checkpoints > 0,
	   "%d random operations on a 1 MiB image (%llu writes, %llu checkpoints)", OPS,
	   (unsigned long long)r->writes[OPS], (unsigned long long)r->checkpoints);
	rc0 = in_child(load_fp, loaded);
	ok(rc0 == 0 && *loaded == r->fp[OPS],
	   "after a reboot the loaded tree is the live one (%08x, %08x), and checks clean", *loaded,
	   r->fp[OPS]);
	total = r->writes[OPS];
	for (int t = 0; t < 2; t++) {
		for (uint64_t n = 0; n < total; n++) {
			int acked = 0, k, rc;

			unlink(img);
			r->crash = (int64_t)n;
			r->tear = t ? 100 : 0;
			if (in_child(random_run, r) != 0) {
				bad[t]++;
				continue;
			}
			/* Ops whose sync had returned when the disk stopped must be there. */
			for (int i = 1; i <= OPS; i++)
				if (r->writes[i] <= n)
					acked = i;
			rc = in_child(load_fp, loaded);
			if (rc) {
				unclean[t]++;
				if (unclean[t] < 3)
					diag("power cut after write %llu (tear %zu): load or check "
					     "failed (%d)",
					     (unsigned long long)n, r->tear, rc);
				continue;
			}
			for (k = OPS; k >= acked; k--)
				if (r->fp[k] == *loaded)
					break;
			if (k < acked) {
				bad[t]++;
				if (bad[t] < 3)
					diag("power cut after write %llu (tear %zu): the tree "
					     "matches no "
					     "state from op %d on",
					     (unsigned long long)n, r->tear, acked);
			}
			points++;
		}
	}
	ok(!bad[0] && !unclean[0],
	   "power cut at each of %llu writes, the last one lost: every image loads and holds every "
	   "acknowledged change (%d wrong, %d unloadable)",
	   (unsigned long long)total, bad[0], unclean[0]);
	ok(!bad[1] && !unclean[1],
	   "the same with the last write torn after 100 bytes (%d wrong, %d unloadable)", bad[1],
	   unclean[1]);
	munmap(r, sizeof(*r) + 64);
}

/* ---- 21: hostile images ---- */

struct hdr {
	uint32_t magic;
	uint16_t type, zero;
	uint32_t len, crc;
	uint64_t lsn;
	int64_t sec;
	uint32_t nsec, pad;
};

static int load_check(void *arg)
{
	(void)arg;
	if (open_img(img, 0, 0))
		return 2; /* refused: what it should do with garbage it can tell */
	return tree_clean() ? 0 : 1;
}

static void test_hostile(void)
{
	static char orig[1 << 20], copy[1 << 20];
	struct run *r =
	    mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	size_t offs[4096], n = 0, len;
	int crashed = 0, unclean = 0, refused = 0, loaded = 0;
	FILE *f;

	unlink(img);
	r->crash = -1;
	if (in_child(random_run, r) != 0 || !(f = fopen(img, "rb"))) {
		ok(0, "a hostile image: the base image was made");
		return;
	}
	len = fread(orig, 1, sizeof(orig), f);
	fclose(f);
	/* The records of the log's first lap, from 8 KiB on. */
	for (size_t off = 8192; off + sizeof(struct hdr) <= len && n < 4096;) {
		struct hdr h;

		memcpy(&h, orig + off, sizeof(h));
		if (h.magic != 0x524c4d55u || h.lsn != off - 8192 || h.len > len - off)
			break;
		offs[n++] = off;
		off += sizeof(h) + h.len;
	}
	rnd_state = 0x5eed;
	for (int k = 0; k < 300 && n; k++) {
		size_t i = rnd((uint32_t)n), m;
		struct hdr h;
		uint32_t prev;

		memcpy(copy, orig, len);
		memcpy(&h, copy + offs[i], sizeof(h));
		/* Garbage in the payload: a few bytes, or a whole run, or a type changed. */
		m = 1 + rnd(8);
		for (size_t j = 0; j < m && h.len; j++)
			copy[offs[i] + sizeof(h) + rnd(h.len)] = (char)rnd(256);
		if (rnd(4) == 0) {
			h.type = (uint16_t)(1 + rnd(24));
			memcpy(copy + offs[i], &h, sizeof(h));
		}
		/* Chain the CRCs again from this record on, as a forger would (the first chains
		 * from 0). */
		memcpy(&h, copy + offs[i ? i - 1 : 0], sizeof(h));
		prev = i ? h.crc : 0;
		for (size_t j = i; j < n; j++) {
			struct hdr c;

			memcpy(&c, copy + offs[j], sizeof(c));
			c.crc = 0;
			c.crc = crc32c(prev, &c, sizeof(c));
			c.crc = crc32c(c.crc, copy + offs[j] + sizeof(c), c.len);
			memcpy(copy + offs[j], &c, sizeof(c));
			prev = c.crc;
		}
		if (!(f = fopen(img, "wb")) || fwrite(copy, 1, len, f) != len)
			bail_out("write %s", img);
		fclose(f);
		switch (in_child(load_check, NULL)) {
		case 0:
			loaded++;
			break;
		case 1:
			unclean++;
			break;
		case 2:
			refused++;
			break;
		default:
			crashed++;
		}
	}
	ok(n > 50 && !crashed && !unclean && refused > 0,
	   "300 hostile images (records with garbage and CRCs that chain): %d refused, %d loaded "
	   "and checked clean, none crashed the loader (%d did) or loaded a tree that fails its "
	   "check (%d did); %zu records to pick from",
	   refused, loaded, crashed, unclean, n);
	munmap(r, sizeof(*r));
	unlink(img);
}

#ifdef MM_DEBUG
/* The work the killed process does: each step takes and drops a few locks. */
static void death_work(struct vfs_ino dir)
{
	static char data[6000];
	struct vfs_ino f, d;

	memset(data, 'x', sizeof(data));
	vfs_create(dir, "a", 1, NULL, true, NULL, &root_ctx, &f);
	vfs_write(f, 0, data, sizeof(data), &root_ctx);
	vfs_rename(dir, "a", 1, dir, "b", 1, &root_ctx);
	vfs_mkdir(dir, "d", 1, NULL, &root_ctx, &d);
	vfs_rename(dir, "b", 1, d, "c", 1, &root_ctx);
	vfs_create(dir, "e", 1, NULL, true, NULL, &root_ctx, &f);
	vfs_link(f, d, "e2", 2, &root_ctx);
	vfs_remove(dir, "e", 1, &root_ctx);
	vfs_sync();
}

struct death {
	uint64_t n;    /* kill at this fault point */
	bool died;     /* the worker was killed (else it got through) */
	uint32_t fp;   /* the survivor's tree after the death */
	int recovered; /* checkpoints the survivor wrote */
};

/* A machine whose worker is killed at point n; the survivor takes over and syncs. */
static int death_run(void *arg)
{
	struct death *r = arg;
	struct uml_state_stat st;
	struct vfs_ino dir;
	int status;
	pid_t pid;

	if (open_img(img, 1u << 20, UML_STATE_CREATE) || vfs_mkpath("/w", 0755, &dir) || vfs_sync())
		return 1;
	pid = fork();
	if (pid == 0) {
		host_fault_arm(r->n);
		death_work(dir);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	r->died = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
	uml_reap();
	/* The next change takes the tree's lock over from the dead, then is logged on top. */
	vfs_mkpath("/after", 0755, NULL);
	if (vfs_sync_all())
		return 2;
	uml_state_stat(&st);
	r->recovered = (int)st.checkpoints;
	r->fp = fingerprint(NULL);
	return tree_clean() ? 0 : 3;
}

static void test_death_sweep(void)
{
	struct death *r =
	    mmap(NULL, sizeof(*r) + 64, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	uint32_t *loaded = (uint32_t *)(r + 1);
	int deaths = 0, bad = 0, unclean = 0, checkpoints = 0;
	uint64_t n;

	for (n = 1; n < 5000; n++) {
		unlink(img);
		r->n = n;
		r->died = false;
		if (in_child(death_run, r) != 0) {
			unclean++;
			continue;
		}
		if (!r->died)
			break;
		deaths++;
		checkpoints += r->recovered > 1; /* the first is the new image's */
		if (in_child(load_fp, loaded) != 0 || *loaded != r->fp) {
			if (bad++ < 3)
				diag("killed at lock instant %llu: the image loads as %08x, the "
				     "tree is "
				     "%08x",
				     (unsigned long long)n, *loaded, r->fp);
		}
	}
	ok(deaths > 20 && !unclean,
	   "a worker killed at each of its %d lock instants; the survivor's tree checks clean "
	   "every time (%d not), %d times after a recovery checkpoint",
	   deaths, unclean, checkpoints);
	ok(!bad, "and every time the image loads as the survivor's live tree (%d did not)", bad);
	munmap(r, sizeof(*r) + 64);
}
#endif

int main(void)
{
	int fds[2];

	(void)fds;
	if (!mkdtemp(dir_tmpl))
		bail_out("mkdtemp");
	snprintf(img, sizeof(img), "%s/state.img", dir_tmpl);
#ifdef MM_DEBUG
	plan(23);
#else
	plan(21);
#endif

	test_lives();

	unlink(img);
	is_int(in_child(circle, NULL), 0, "600 writes of 40 KB go round a 1 MiB log");
	ok(in_child(circle_check, NULL) == 0, "the newest content comes back, and checks clean");

	test_full();

	unlink(img);
	is_int(in_child(exdev, NULL), 0,
	       "rename and link between the image and the memory-only tree: EXDEV");

	unlink(img);
	test_busy();

	refused("an empty file", EUCLEAN, zap_empty);
	refused("a foreign file", EINVAL, zap_foreign);
	refused("an image of another version", EPROTONOSUPPORT, zap_version);
	refused("superblocks whose CRC fails", EUCLEAN, zap_crc);
	refused("an image cut short", EFBIG, zap_truncate);
	refused("a torn checkpoint", EUCLEAN, zap_checkpoint);

	test_random();
	test_hostile();
#ifdef MM_DEBUG
	test_death_sweep();
#endif

	unlink(img);
	rmdir(dir_tmpl);
	return done_testing();
}
