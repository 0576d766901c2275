/*
 * kernel/fs: the ramfs tree, its handles, and hooked files.
 *  1-4   create, write, read back; size, mtime and change move on write
 *  5-6   a write across pages with a hole reads zeros in the hole; truncate frees pages
 *  7-9   readdir lists "." ".." and entries; a cookie stays valid after its entry is removed
 * 10-14  rename: replace a file, refuse a dir into its own subtree, ENOTEMPTY, EISDIR, ENOTDIR
 * 15-17  remove/rmdir errors; a removed file's handle is stale
 * 18-19  permissions: another uid can't write a 0644 file or create in a 0755 dir
 * 20-28  hooked file: invalid write refused and content kept; truncate to empty is pending
 *        until the write that follows (refused: old value back; none: back after 2 s);
 *        a valid write commits; rename onto it validates; pinned can't be removed
 * 29-30  read-only and no-create flags
 * 31     a generated file's size and content agree
 * 32     a full machine fails a write whole (ENOSPC) and keeps the old content
 * 33-34  the same tree built at another boot has the same handles; client files do not
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "uml.h"
#include "uml/vfs.h"

static struct vfs_ctx root_ctx;
static const char *self_path;
static char why[128];

static struct vfs_ino must_walk(const char *path)
{
	struct vfs_ino f = {0, 0};

	if (vfs_walk(path, &f))
		bail_out("walk %s", path);
	return f;
}

static int write_str(struct vfs_ino f, uint64_t off, const char *s)
{
	return vfs_write(f, off, s, strlen(s), &root_ctx);
}

static size_t read_all(struct vfs_ino f, char *buf, size_t size)
{
	size_t n = 0;
	bool eof;

	if (vfs_read(f, 0, buf, size - 1, &n, &eof))
		return (size_t)-1;
	buf[n] = '\0';
	return n;
}

struct names {
	char list[512];
	uint64_t cookies[32];
	int n;
};

static int collect(void *arg, const char *name, size_t len, struct vfs_ino ino, uint64_t cookie)
{
	struct names *nm = arg;

	(void)ino;
	strncat(nm->list, name, len);
	strcat(nm->list, " ");
	nm->cookies[nm->n++] = cookie;
	return nm->n >= 32;
}

/* Knob-like validation: a decimal number 1..100 and an optional newline. */
static int knob_validate(void *arg, const char *data, size_t len, struct vfs_ctx *ctx)
{
	char buf[32], *end;
	long v;

	(void)arg;
	if (len == 0)
		return 0;
	if (len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, data, len);
	buf[len] = '\0';
	v = strtol(buf, &end, 10);
	if (end == buf || (*end && strcmp(end, "\n"))) {
		snprintf(ctx->why, ctx->whylen, "not a number");
		return -EINVAL;
	}
	return v < 1 || v > 100 ? -ERANGE : 0;
}

static int commits;
static void knob_commit(void *arg, const char *data, size_t len)
{
	(void)arg;
	(void)data;
	(void)len;
	commits++;
}

static int ro_attempts;
static int ro_validate(void *arg, const char *data, size_t len, struct vfs_ctx *ctx)
{
	(void)arg;
	(void)data;
	(void)len;
	(void)ctx;
	ro_attempts++;
	return 0; /* says yes: the file must stay read-only all the same */
}

static int renders;
static size_t gen_render(void *arg, char *buf, size_t size)
{
	(void)arg;
	return (size_t)snprintf(buf, size, "rendered %d times\n", ++renders);
}

static void test_files(void)
{
	struct vfs_ino root = vfs_root(), f, d;
	struct vfs_attr a1, a2;
	char buf[16384];

	ok(vfs_create(root, "hello", 5, NULL, false, NULL, &root_ctx, &f) == 0, "create /hello");
	vfs_getattr(f, &a1);
	ok(write_str(f, 0, "hello world\n") == 0 && read_all(f, buf, sizeof(buf)) == 12 &&
		   strcmp(buf, "hello world\n") == 0,
	   "write and read back");
	vfs_getattr(f, &a2);
	ok(a2.size == 12 && a2.change > a1.change, "size is 12 and the change counter moved");
	ok(vfs_lookup(root, "hello", 5, &d) == 0 && d.ino == f.ino && d.gen == f.gen,
	   "lookup finds the same handle");

	ok(vfs_write(f, 10000, "end", 3, &root_ctx) == 0 && read_all(f, buf, sizeof(buf)) == 10003 &&
		   buf[5000] == 0 && buf[11] == '\n' && memcmp(buf + 10000, "end", 3) == 0,
	   "a write past the end leaves a hole of zeros");
	ok(vfs_setattr(f, &(struct vfs_sattr){.mask = VFS_SET_SIZE, .size = 5}, &root_ctx, &a1) == 0 &&
		   a1.size == 5 && a1.used == 4096,
	   "truncate to 5 bytes frees all but one page");
}

static void test_readdir(void)
{
	struct vfs_ino root = vfs_root(), d, f;
	struct names nm = {{0}};
	uint64_t verf;
	char name[16];

	vfs_mkdir(root, "dir", 3, NULL, &root_ctx, &d);
	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		vfs_create(d, name, strlen(name), NULL, true, NULL, &root_ctx, &f);
	}
	ok(vfs_readdir(d, 0, &verf, collect, &nm) == 0 && strcmp(nm.list, ". .. f0 f1 f2 f3 f4 ") == 0,
	   "readdir lists . .. and the files in creation order (%s)", nm.list);
	vfs_remove(d, "f2", 2, &root_ctx);
	{
		struct names rest = {{0}};

		/* Resume after f2's cookie although f2 is gone. */
		vfs_readdir(d, nm.cookies[4], &verf, collect, &rest);
		ok(strcmp(rest.list, "f3 f4 ") == 0, "resuming after a removed entry's cookie (%s)",
		   rest.list);
	}
	{
		struct vfs_attr a;

		vfs_getattr(d, &a);
		ok(a.type == VFS_DIR && a.nlink == 2, "a directory without subdirectories has 2 links");
	}
}

static void test_rename(void)
{
	struct vfs_ino root = vfs_root(), a, b, d, sub, x;
	char buf[64];

	vfs_create(root, "a", 1, NULL, true, NULL, &root_ctx, &a);
	write_str(a, 0, "A");
	vfs_create(root, "b", 1, NULL, true, NULL, &root_ctx, &b);
	write_str(b, 0, "B");
	ok(vfs_rename(root, "a", 1, root, "b", 1, &root_ctx) == 0 && vfs_lookup(root, "b", 1, &x) == 0 &&
		   x.ino == a.ino && read_all(x, buf, sizeof(buf)) == 1 && buf[0] == 'A' &&
		   vfs_lookup(root, "a", 1, &x) == -ENOENT,
	   "rename replaces the target, the source name is gone");
	vfs_mkdir(root, "top", 3, NULL, &root_ctx, &d);
	vfs_mkdir(d, "sub", 3, NULL, &root_ctx, &sub);
	is_int(vfs_rename(root, "top", 3, sub, "x", 1, &root_ctx), -EINVAL,
	       "a directory can't move into its own subtree");
	vfs_mkdir(root, "full", 4, NULL, &root_ctx, &x);
	vfs_create(x, "f", 1, NULL, true, NULL, &root_ctx, &a);
	is_int(vfs_rename(root, "top", 3, root, "full", 4, &root_ctx), -ENOTEMPTY,
	       "no rename over a non-empty directory");
	is_int(vfs_rename(root, "b", 1, root, "top", 3, &root_ctx), -EISDIR,
	       "no rename of a file over a directory");
	is_int(vfs_rename(root, "top", 3, root, "b", 1, &root_ctx), -ENOTDIR,
	       "no rename of a directory over a file");
}

static void test_remove(void)
{
	struct vfs_ino root = vfs_root(), f, x;
	struct vfs_attr a;

	is_int(vfs_rmdir(root, "full", 4, &root_ctx), -ENOTEMPTY, "rmdir of a non-empty dir");
	is_int(vfs_remove(root, "top", 3, &root_ctx), -EISDIR, "remove of a directory");
	vfs_walk("/full/f", &f);
	ok(vfs_remove(must_walk("/full"), "f", 1, &root_ctx) == 0 &&
		   vfs_getattr(f, &a) == -ESTALE && vfs_lookup(root, "nonexist", 8, &x) == -ENOENT,
	   "a removed file's handle is stale");
}

static void test_perms(void)
{
	struct vfs_ctx user = {.cred = {.uid = 1000, .gid = 1000}};
	struct vfs_ino f, x;

	vfs_put("/etc/motd", 0644, "hi\n", 3, &f);
	is_int(vfs_write(f, 0, "x", 1, &user), -EACCES, "uid 1000 can't write a root 0644 file");
	is_int(vfs_create(must_walk("/etc"), "new", 3, NULL, false, NULL, &user, &x), -EACCES,
	       "uid 1000 can't create in a root 0755 directory");
}

static void test_hooks(void)
{
	struct vfs_hooks h = {.validate = knob_validate, .commit = knob_commit};
	struct vfs_ino knob, tmp, root = vfs_root(), cfg;
	char buf[64];

	vfs_put("/config/Knob", 0644, "7\n", 2, &knob);
	vfs_set_hooks(knob, &h);
	vfs_set_flags(knob, VFS_F_PINNED);
	cfg = must_walk("/config");

	is_int(write_str(knob, 0, "abc\n"), -EINVAL, "a non-number is refused with EINVAL");
	ok(read_all(knob, buf, sizeof(buf)) == 2 && strcmp(buf, "7\n") == 0 && strcmp(why, "not a number") == 0,
	   "the old value stays in the file and the hook said why");
	is_int(write_str(knob, 0, "500\n"), -ERANGE, "out of range is refused with ERANGE");
	ok(vfs_setattr(knob, &(struct vfs_sattr){.mask = VFS_SET_SIZE, .size = 0}, &root_ctx, NULL) == 0 &&
		   read_all(knob, buf, sizeof(buf)) == 0 && write_str(knob, 0, "42\n") == 0 &&
		   read_all(knob, buf, sizeof(buf)) == 3 && strcmp(buf, "42\n") == 0 && commits == 1,
	   "truncate (reads empty) then write (echo >) commits the new value once");
	ok(vfs_setattr(knob, &(struct vfs_sattr){.mask = VFS_SET_SIZE, .size = 0}, &root_ctx, NULL) == 0 &&
		   write_str(knob, 0, "zzz\n") == -EINVAL && read_all(knob, buf, sizeof(buf)) == 3 &&
		   strcmp(buf, "42\n") == 0,
	   "a refused write after a truncate leaves the old value in the file at once");
	{
		struct vfs_attr a;

		vfs_setattr(knob, &(struct vfs_sattr){.mask = VFS_SET_SIZE, .size = 0}, &root_ctx, NULL);
		usleep(2100000);
		ok(vfs_getattr(knob, &a) == 0 && a.size == 3 && read_all(knob, buf, sizeof(buf)) == 3 &&
			   commits == 1,
		   "a truncate that no write follows gives the old value back after 2 s");
	}
	vfs_create(cfg, "sedXYZ", 6, NULL, true, NULL, &root_ctx, &tmp);
	write_str(tmp, 0, "nope\n");
	ok(vfs_rename(cfg, "sedXYZ", 6, cfg, "Knob", 4, &root_ctx) == -EINVAL &&
		   read_all(knob, buf, sizeof(buf)) == 3 && strcmp(buf, "42\n") == 0,
	   "rename of an invalid temporary onto the knob is refused");
	write_str(tmp, 0, "9\n\n\n");
	vfs_setattr(tmp, &(struct vfs_sattr){.mask = VFS_SET_SIZE, .size = 2}, &root_ctx, NULL);
	{
		struct vfs_ino after, gone;

		ok(vfs_rename(cfg, "sedXYZ", 6, cfg, "Knob", 4, &root_ctx) == 0 &&
			   vfs_lookup(cfg, "Knob", 4, &after) == 0 && after.ino == knob.ino &&
			   read_all(knob, buf, sizeof(buf)) == 2 && strcmp(buf, "9\n") == 0 &&
			   vfs_lookup(cfg, "sedXYZ", 6, &gone) == -ENOENT,
		   "a valid rename onto the knob keeps its handle and takes the content");
	}
	ok(vfs_remove(cfg, "Knob", 4, &root_ctx) == -EPERM &&
		   vfs_rename(cfg, "Knob", 4, root, "stolen", 6, &root_ctx) == -EPERM,
	   "a pinned knob can't be removed or renamed away");
	(void)root;
}

static void test_flags_render(void)
{
	struct vfs_hooks h = {.render = gen_render, .validate = ro_validate};
	struct vfs_ino st, f, x;
	struct vfs_attr a;
	char buf[64];

	vfs_put("/status/gen", 0444, "", 0, &f);
	vfs_set_hooks(f, &h);
	vfs_set_flags(f, VFS_F_READONLY);
	st = must_walk("/status");
	vfs_set_flags(st, VFS_F_NOCREATE);
	ok(write_str(f, 0, "x") == -EACCES && ro_attempts == 1,
	   "a read-only file refuses writes, even from root; its validator hears of it");
	is_int(vfs_create(st, "new", 3, NULL, false, NULL, &root_ctx, &x), -EACCES,
	       "a no-create directory refuses new files");
	vfs_getattr(f, &a);
	ok(read_all(f, buf, sizeof(buf)) == a.size + 0 && strncmp(buf, "rendered ", 9) == 0,
	   "a generated file's size matches what a read returns (%.16s)", buf);
}

static void test_enospc(void)
{
	struct vfs_ino f;
	char *big = calloc(1, VFS_FILE_MAX);
	char buf[8];
	int err = 0, i;

	vfs_put("/fill/keep", 0644, "keep", 4, &f);
	/* Fill the machine with 2 MiB files until a write fails. */
	for (i = 0; i < 64 && !err; i++) {
		char path[32];
		struct vfs_ino g;

		snprintf(path, sizeof(path), "/fill/%d", i);
		vfs_put(path, 0644, "", 0, &g);
		err = vfs_write(g, 0, big, VFS_FILE_MAX, &root_ctx);
	}
	ok(err == -ENOSPC && vfs_write(f, 0, big, VFS_FILE_MAX, &root_ctx) == -ENOSPC &&
		   read_all(f, buf, sizeof(buf)) == 4 && memcmp(buf, "keep", 4) == 0,
	   "a full machine refuses a write whole and keeps the old content");
	free(big);
}

/* Build the same small tree on a fresh machine in a child; report one handle. */
static void test_stable_handles(void)
{
	struct vfs_ino here, hello, there[2] = {{0, 0}, {0, 0}};
	int p[2];

	here = must_walk("/config/Knob");
	hello = must_walk("/hello");
	if (pipe(p))
		bail_out("pipe");
	if (fork() == 0) {
		/* A forked child can't boot a second machine: exec a new image. */
		char fd[16];

		snprintf(fd, sizeof(fd), "%d", p[1]);
		execl(self_path, self_path, "--child", fd, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	if (read(p[0], there, sizeof(there)) != sizeof(there))
		there[0].ino = 0;
	wait(NULL);
	ok(here.ino == there[0].ino && here.gen == there[0].gen,
	   "another boot building the same tree gives /config/Knob the same handle");
	ok(hello.ino == there[1].ino && hello.gen != there[1].gen,
	   "a client's file of an earlier boot is told apart by its generation");
}

/* What the application builds at every boot, before any client acts. */
static void build_tree(void)
{
	vfs_put("/config/Knob", 0644, "7\n", 2, NULL);
}

int main(int argc, char **argv)
{
	struct uml_boot_params bp = {.memory = 8 << 20};

	self_path = argv[0];
	root_ctx.why = why;
	root_ctx.whylen = sizeof(why);
	root_ctx.client = "test";
	if (uml_boot(&bp))
		bail_out("uml_boot failed");
	if (argc == 3 && strcmp(argv[1], "--child") == 0) {
		struct vfs_ino f[2];
		int fd = atoi(argv[2]);

		build_tree();
		vfs_walk("/config/Knob", &f[0]);
		vfs_create(vfs_root(), "hello", 5, NULL, false, NULL, &root_ctx, &f[1]);
		return write(fd, f, sizeof(f)) == sizeof(f) ? 0 : 1;
	}
	plan(34);
	build_tree();
	test_files();
	test_readdir();
	test_rename();
	test_remove();
	test_perms();
	test_hooks();
	test_flags_render();
	test_enospc();
	test_stable_handles();
	return done_testing();
}
