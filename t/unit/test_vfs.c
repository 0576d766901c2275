/*
 * kernel/fs: the ramfs tree, its handles, and hooked files.
 *  1-4   create, write, read back; size, mtime and change move on write
 *  5-6   a write across pages with a hole reads zeros in the hole; truncate frees pages
 *        (what is left fits a slab object, so the last page goes too)
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
 * 35-51  a full machine must not lock the monitor out (attack review, part 3):
 *   35-38  a cap above the machine is refused; clients' files, links, symlinks and
 *          directories past the scratch cap get ENOSPC while the machine has room; built
 *          files and a knob still change; FSSTAT offers clients only the room left
 *   39     removing them gives every byte back, and the same fill fits again
 *   40-43  a knob edit at offset 4096 or 2^40, a truncate to 2^40, a rename of a 5000-byte
 *          file onto it: EINVAL (was EFBIG or unreported) and its hooks heard why
 *   44     whatever the cap, clients (past their first sixteenth) stop while 5/16 of
 *          the machine is free (the quarter new connections need, and some): a dozen
 *          httpd children's stacks plus half for clients had left a monitor unable
 *          to mount
 *   45-47  on a machine exhausted by client and application files an invalid knob
 *          edit is EINVAL, not ENOSPC (nothing is allocated before validating), and
 *          `echo N >` still commits
 *   48     a valid value that finds no memory is refused with ENOSPC and reported
 *   49-50  chmod/chown of a knob or a status file: EPERM and reported (chmod 0 locked
 *          clients out); setting the mode it has passes
 *   51     a symlink target holding a NUL is refused
 * 52-58  one table of hooks, the vfs's, without a fixed size (issue 9):
 *   52-55  the vfs keeps the caller's hooks until it releases them: replacing releases the
 *          old ones once (the same ones again, never), a refused set takes nothing,
 *          detaching and removing the file release them
 *   56     300 files hooked through uml_file_hooks each answer with their own validator
 *          (libuml and the vfs each had a table of 128: the 129th got ENOSPC)
 *   57     a forked child replaces its copy of its parent's hooks with its own, and each
 *          process's writes meet its own validator
 *   58     releasing all of a process's hooks (a module unloaded at a graceful restart)
 *          releases each once and leaves the files hooked
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "uml.h"
#include "uml/mm.h"
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

	ok(vfs_write(f, 10000, "end", 3, &root_ctx) == 0 &&
	       read_all(f, buf, sizeof(buf)) == 10003 && buf[5000] == 0 && buf[11] == '\n' &&
	       memcmp(buf + 10000, "end", 3) == 0,
	   "a write past the end leaves a hole of zeros");
	ok(vfs_setattr(f, &(struct vfs_sattr){.mask = VFS_SET_SIZE, .size = 5}, &root_ctx, &a1) ==
		   0 &&
	       a1.size == 5 && a1.used == 8,
	   "truncate to 5 bytes frees the pages: the 5 bytes move to an 8-byte slab object");
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
	ok(vfs_readdir(d, 0, &verf, collect, &nm) == 0 &&
	       strcmp(nm.list, ". .. f0 f1 f2 f3 f4 ") == 0,
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
		ok(a.type == VFS_DIR && a.nlink == 2,
		   "a directory without subdirectories has 2 links");
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
	ok(vfs_rename(root, "a", 1, root, "b", 1, &root_ctx) == 0 &&
	       vfs_lookup(root, "b", 1, &x) == 0 && x.ino == a.ino &&
	       read_all(x, buf, sizeof(buf)) == 1 && buf[0] == 'A' &&
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
	/* Static: the vfs keeps the structure itself, after this function returns. */
	static struct vfs_hooks h = {.validate = knob_validate, .commit = knob_commit};
	struct vfs_ino knob, tmp, root = vfs_root(), cfg;
	char buf[64];

	vfs_put("/config/Knob", 0644, "7\n", 2, &knob);
	vfs_set_hooks(knob, &h);
	vfs_set_flags(knob, VFS_F_PINNED);
	cfg = must_walk("/config");

	is_int(write_str(knob, 0, "abc\n"), -EINVAL, "a non-number is refused with EINVAL");
	ok(read_all(knob, buf, sizeof(buf)) == 2 && strcmp(buf, "7\n") == 0 &&
	       strcmp(why, "not a number") == 0,
	   "the old value stays in the file and the hook said why");
	is_int(write_str(knob, 0, "500\n"), -ERANGE, "out of range is refused with ERANGE");
	ok(vfs_setattr(knob, &(struct vfs_sattr){.mask = VFS_SET_SIZE, .size = 0}, &root_ctx,
		       NULL) == 0 &&
	       read_all(knob, buf, sizeof(buf)) == 0 && write_str(knob, 0, "42\n") == 0 &&
	       read_all(knob, buf, sizeof(buf)) == 3 && strcmp(buf, "42\n") == 0 && commits == 1,
	   "truncate (reads empty) then write (echo >) commits the new value once");
	ok(vfs_setattr(knob, &(struct vfs_sattr){.mask = VFS_SET_SIZE, .size = 0}, &root_ctx,
		       NULL) == 0 &&
	       write_str(knob, 0, "zzz\n") == -EINVAL && read_all(knob, buf, sizeof(buf)) == 3 &&
	       strcmp(buf, "42\n") == 0,
	   "a refused write after a truncate leaves the old value in the file at once");
	{
		struct vfs_attr a;

		vfs_setattr(knob, &(struct vfs_sattr){.mask = VFS_SET_SIZE, .size = 0}, &root_ctx,
			    NULL);
		usleep(2100000);
		ok(vfs_getattr(knob, &a) == 0 && a.size == 3 &&
		       read_all(knob, buf, sizeof(buf)) == 3 && commits == 1,
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
	static struct vfs_hooks h = {.render = gen_render, .validate = ro_validate};
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

/* Bigger than what an 8 MiB machine has left after a few of them. */
#define FILL_BYTES (2 << 20)

static void test_enospc(void)
{
	struct vfs_ino f;
	char *big = calloc(1, FILL_BYTES);
	char buf[8];
	int err = 0, i;

	vfs_put("/fill/keep", 0644, "keep", 4, &f);
	/* Fill the machine with 2 MiB files until a write fails. */
	for (i = 0; i < 64 && !err; i++) {
		char path[32];
		struct vfs_ino g;

		snprintf(path, sizeof(path), "/fill/%d", i);
		vfs_put(path, 0644, "", 0, &g);
		err = vfs_write(g, 0, big, FILL_BYTES, &root_ctx);
	}
	ok(err == -ENOSPC && vfs_write(f, 0, big, FILL_BYTES, &root_ctx) == -ENOSPC &&
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

/* What a knob's hooks heard of refusals the vfs made on its own. */
static struct {
	int n, err;
	size_t len;
	char why[160];
} heard;

static void note_refused(void *arg, const char *data, size_t len, int err, const char *reason,
			 struct vfs_ctx *ctx)
{
	(void)arg;
	(void)data;
	(void)ctx;
	heard.n++;
	heard.err = err;
	heard.len = len;
	snprintf(heard.why, sizeof(heard.why), "%s", reason);
}

/* A fresh hearing: the next refusal must be reported with @err. */
static bool heard_once(int err, const char *why_part)
{
	bool yes = heard.n == 1 && heard.err == err && strstr(heard.why, why_part);

	if (!yes)
		diag("    heard %d refusals, last %d \"%s\"", heard.n, heard.err, heard.why);
	memset(&heard, 0, sizeof(heard));
	return yes;
}

static uint64_t scratch_used(void)
{
	uint64_t used, limit;

	vfs_scratch_stat(&used, &limit);
	return used;
}

/*
 * What an rw client does to fill the tree: per round a directory, a file of
 * @chunk bytes, a symlink to it and a hard link (names start with @pfx),
 * until something is refused. Returns the rounds completed; *@err is the
 * refusal.
 */
static int client_fill(struct vfs_ino dir, const char *pfx, size_t chunk, int *err)
{
	static char data[64 * 1024];
	char name[32];
	int i;

	memset(data, 'x', sizeof(data));
	for (i = 0;; i++) {
		struct vfs_ino f, x;

		snprintf(name, sizeof(name), "%sd%d", pfx, i);
		*err = vfs_mkdir(dir, name, strlen(name), NULL, &root_ctx, &x);
		if (*err)
			break;
		snprintf(name, sizeof(name), "%sf%d", pfx, i);
		*err = vfs_create(dir, name, strlen(name), NULL, true, NULL, &root_ctx, &f);
		if (*err)
			break;
		*err = vfs_write(f, 0, data, chunk, &root_ctx);
		if (*err)
			break;
		snprintf(name, sizeof(name), "%sl%d", pfx, i);
		*err = vfs_symlink(dir, name, strlen(name), "some/where/else", 15, NULL, &root_ctx,
				   &x);
		if (*err)
			break;
		snprintf(name, sizeof(name), "%sh%d", pfx, i);
		*err = vfs_link(f, dir, name, strlen(name), &root_ctx);
		if (*err)
			break;
	}
	return i;
}

/* Remove what client_fill made (and the partial last round). */
static void client_unfill(struct vfs_ino dir, const char *pfx, int rounds)
{
	char name[32];

	for (int i = 0; i <= rounds; i++) {
		snprintf(name, sizeof(name), "%sd%d", pfx, i);
		vfs_rmdir(dir, name, strlen(name), &root_ctx);
		for (const char *p = "flh"; *p; p++) {
			snprintf(name, sizeof(name), "%s%c%d", pfx, *p, i);
			vfs_remove(dir, name, strlen(name), &root_ctx);
		}
	}
}

/* Files the application builds (uncharged), @size bytes each, until the machine refuses. */
static int app_fill(size_t size)
{
	static char data[64 * 1024];
	static int n;
	char path[32];

	for (int i = 0;; i++) {
		snprintf(path, sizeof(path), "/appfill/%d", n++);
		if (vfs_put(path, 0644, data, size, NULL))
			return i;
	}
}

static void app_unfill(int n)
{
	char name[16];

	for (int i = 0; i <= n + 3; i++) {
		snprintf(name, sizeof(name), "%d", i);
		vfs_remove(must_walk("/appfill"), name, strlen(name), &root_ctx);
	}
}

static void test_scratch_cap(void)
{
	struct vfs_ino root = vfs_root(), dir, knob = must_walk("/config/Knob");
	uint64_t base, used, limit;
	struct vfs_statfs st;
	char buf[64], name[16];
	int rounds, again, err;

	/* Test 32 filled the machine with built files: give that back first. */
	for (int i = 0; i < 64; i++) {
		snprintf(name, sizeof(name), "%d", i);
		vfs_remove(must_walk("/fill"), name, strlen(name), &root_ctx);
	}
	vfs_statfs(&st);
	base = scratch_used();
	ok(vfs_set_scratch_limit(st.tbytes + 4096) == -EINVAL &&
	       vfs_set_scratch_limit(256 << 10) == 0,
	   "a scratch cap above the machine is refused; 256 KiB is set");
	vfs_mkdir(root, "scratch", 7, NULL, &root_ctx, &dir);
	rounds = client_fill(dir, "", 16 << 10, &err);
	vfs_scratch_stat(&used, &limit);
	vfs_statfs(&st);
	ok(err == -ENOSPC && rounds > 5 && used <= limit && used > limit - (20 << 10) &&
	       st.fbytes > (2 << 20),
	   "a client filling the tree gets ENOSPC at the cap (%d rounds, %llu of %llu bytes) "
	   "while the machine has %llu bytes free",
	   rounds, (unsigned long long)used, (unsigned long long)limit,
	   (unsigned long long)st.fbytes);
	{
		static char big[64 << 10];

		ok(vfs_put("/app/big", 0644, big, sizeof(big), NULL) == 0 &&
		       write_str(knob, 0, "55\n") == 0 && read_all(knob, buf, sizeof(buf)) == 3 &&
		       strcmp(buf, "55\n") == 0 && scratch_used() == used,
		   "the application's 64 KiB file and a knob write still go in, uncharged");
	}
	ok(st.abytes == limit - used && st.abytes < st.fbytes,
	   "FSSTAT offers clients the room under the cap (%llu), not the machine's free memory",
	   (unsigned long long)st.abytes);
	client_unfill(dir, "", rounds);
	vfs_rmdir(root, "scratch", 7, &root_ctx);
	used = scratch_used();
	vfs_mkdir(root, "scratch", 7, NULL, &root_ctx, &dir);
	again = client_fill(dir, "", 16 << 10, &err);
	client_unfill(dir, "", again);
	vfs_rmdir(root, "scratch", 7, &root_ctx);
	ok(used == base && again == rounds && err == -ENOSPC && scratch_used() == base,
	   "removing data, inodes, links and entries gives every byte back: the same %d rounds "
	   "fit again (%llu bytes held after, %llu before)",
	   again, (unsigned long long)used, (unsigned long long)base);
	vfs_set_scratch_limit(0);
}

static void test_knob_far_writes(void)
{
	static struct vfs_hooks h = {
	    .validate = knob_validate, .commit = knob_commit, .refused = note_refused};
	struct vfs_ino knob = must_walk("/config/Knob"), cfg = must_walk("/config"), tmp;
	char buf[64], big[5000];

	vfs_set_hooks(knob, &h);
	memset(&heard, 0, sizeof(heard));
	ok(write_str(knob, 4096, "5\n") == -EINVAL && heard.len == 2 &&
	       heard_once(-EINVAL, "4098 bytes") && read_all(knob, buf, sizeof(buf)) == 3 &&
	       strcmp(buf, "55\n") == 0,
	   "a knob write at offset 4096 is EINVAL, its hooks heard why, the value stays");
	ok(write_str(knob, 1ULL << 40, "5\n") == -EINVAL && heard_once(-EINVAL, "1099511627778"),
	   "a knob write at offset 2^40 is EINVAL (not EFBIG) and reported");
	ok(vfs_setattr(knob, &(struct vfs_sattr){.mask = VFS_SET_SIZE, .size = 1ULL << 40},
		       &root_ctx, NULL) == -EINVAL &&
	       heard_once(-EINVAL, "too long") && read_all(knob, buf, sizeof(buf)) == 3,
	   "a knob truncate to 2^40 is EINVAL and reported");
	memset(big, '7', sizeof(big));
	vfs_create(cfg, "sedBIG", 6, NULL, true, NULL, &root_ctx, &tmp);
	vfs_write(tmp, 0, big, sizeof(big), &root_ctx);
	ok(vfs_rename(cfg, "sedBIG", 6, cfg, "Knob", 4, &root_ctx) == -EINVAL &&
	       heard_once(-EINVAL, "5000 bytes") && read_all(knob, buf, sizeof(buf)) == 3,
	   "renaming a 5000-byte file onto a knob is EINVAL and reported");
	vfs_remove(cfg, "sedBIG", 6, &root_ctx);
}

static void test_knob_on_full_machine(void)
{
	static struct vfs_hooks h = {
	    .validate = knob_validate, .commit = knob_commit, .refused = note_refused};
	struct vfs_ino root = vfs_root(), knob = must_walk("/config/Knob"), empty, dir;
	struct vfs_statfs st;
	static char data[PAGE_SIZE];
	int rounds[3], err, before, apps, more;
	uint64_t grown = 64 << 10;
	char buf[64];
	void *p;

	/* A validated file that holds no page yet: its first value needs one. */
	vfs_put("/config/Empty", 0644, "", 0, &empty);
	vfs_set_hooks(empty, &h);
	vfs_statfs(&st);
	vfs_set_scratch_limit(st.tbytes);
	vfs_mkdir(root, "scratch", 7, NULL, &root_ctx, &dir);
	/* Big rounds, then small ones, then empty files: all clients may take. */
	rounds[0] = client_fill(dir, "big", 64 << 10, &err);
	rounds[1] = client_fill(dir, "small", 1, &err);
	rounds[2] = client_fill(dir, "empty", 0, &err);
	vfs_statfs(&st);
	/* Within a slab's growth of the mark: a charge of a few bytes may take a new slab. */
	ok(err == -ENOSPC && st.abytes == 0 &&
	       st.fbytes + (64 << 10) >= st.tbytes / 4 + st.tbytes / 16 &&
	       st.fbytes < st.tbytes / 4 + st.tbytes / 16 + (128 << 10),
	   "with no cap in the way clients stop at 5/16 of the machine free (%llu of %llu bytes)",
	   (unsigned long long)st.fbytes, (unsigned long long)st.tbytes);
	/* The application takes the rest: big files, small ones, empty ones. */
	apps = app_fill(64 << 10);
	/*
	 * Until nothing more fits: a fill that fails on a slab's page may
	 * leave pages in this thread's cache, which a file's data then takes.
	 */
	do {
		mm_drain();
		more = app_fill(1);
		more += app_fill(0);
		apps += more;
		/* Inodes may run out before pages (small files take none): the rest to one file. */
		for (;
		     vfs_write(must_walk("/appfill/0"), grown, data, sizeof(data), &root_ctx) == 0;
		     grown += sizeof(data))
			more++;
	} while (more);
	p = uml_alloc(4097);
	ok(!p, "the application's %d files exhausted the rest of the machine", apps);
	uml_free(p);
	before = commits;
	ok(write_str(knob, 0, "abc\n") == -EINVAL && read_all(knob, buf, sizeof(buf)) == 3 &&
	       strcmp(buf, "55\n") == 0,
	   "an invalid knob edit on the full machine is EINVAL, not ENOSPC");
	ok(vfs_setattr(knob, &(struct vfs_sattr){.mask = VFS_SET_SIZE, .size = 0}, &root_ctx,
		       NULL) == 0 &&
	       write_str(knob, 0, "0\n") == -ERANGE &&
	       vfs_setattr(knob, &(struct vfs_sattr){.mask = VFS_SET_SIZE, .size = 0}, &root_ctx,
			   NULL) == 0 &&
	       write_str(knob, 0, "1\n") == 0 && read_all(knob, buf, sizeof(buf)) == 2 &&
	       strcmp(buf, "1\n") == 0 && commits == before + 1,
	   "`echo 1 > knob` (the brake) on the full machine commits");
	memset(&heard, 0, sizeof(heard));
	ok(write_str(empty, 0, "5\n") == -ENOSPC && heard_once(-ENOSPC, "no memory") &&
	       read_all(empty, buf, sizeof(buf)) == 0,
	   "a valid value that finds no page is refused with ENOSPC and reported");
	app_unfill(apps);
	client_unfill(dir, "empty", rounds[2]);
	client_unfill(dir, "small", rounds[1]);
	client_unfill(dir, "big", rounds[0]);
	vfs_rmdir(root, "scratch", 7, &root_ctx);
	vfs_set_scratch_limit(0);
}

static void test_fixed_attrs(void)
{
	struct vfs_ctx user = {.cred = {.uid = 1000, .gid = 1000}, .client = "test"};
	struct vfs_ino knob = must_walk("/config/Knob"), st = must_walk("/status/gen");
	struct vfs_attr a;
	int ro_before = ro_attempts;

	memset(&heard, 0, sizeof(heard));
	ok(vfs_setattr(knob, &(struct vfs_sattr){.mask = VFS_SET_MODE, .mode = 0}, &root_ctx,
		       NULL) == -EPERM &&
	       heard_once(-EPERM, "mode and owner") &&
	       vfs_setattr(knob, &(struct vfs_sattr){.mask = VFS_SET_UID, .uid = 1000}, &root_ctx,
			   NULL) == -EPERM &&
	       heard_once(-EPERM, "mode and owner") &&
	       vfs_setattr(knob, &(struct vfs_sattr){.mask = VFS_SET_MODE, .mode = 0}, &user,
			   NULL) == -EPERM &&
	       heard_once(-EPERM, "mode and owner") && vfs_getattr(knob, &a) == 0 &&
	       a.mode == 0644 && a.uid == 0,
	   "chmod 0 / chown of a knob, by root or not, is EPERM and reported; the mode stays");
	ok(vfs_setattr(knob, &(struct vfs_sattr){.mask = VFS_SET_MODE | VFS_SET_UID, .mode = 0644},
		       &root_ctx, NULL) == 0 &&
	       heard.n == 0 &&
	       vfs_setattr(st, &(struct vfs_sattr){.mask = VFS_SET_MODE, .mode = 0666}, &root_ctx,
			   NULL) == -EPERM &&
	       ro_attempts == ro_before + 1,
	   "setting the mode a knob has passes; chmod of a status file is EPERM and its "
	   "validator heard of it");
}

static void test_symlink_nul(void)
{
	struct vfs_ino root = vfs_root(), x;

	ok(vfs_symlink(root, "evil", 4, "/etc\0passwd", 11, NULL, &root_ctx, &x) == -EINVAL &&
	       vfs_lookup(root, "evil", 4, &x) == -ENOENT,
	   "a symlink target holding a NUL is refused");
}

/* Counts the releases of hooks whose @arg is the counter. */
static void count_release(void *arg)
{
	++*(int *)arg;
}

static void test_hook_release(void)
{
	static int released[3];
	static struct vfs_hooks h[3];
	struct vfs_ino f, gone, cfg = must_walk("/config");

	for (int i = 0; i < 3; i++)
		h[i] = (struct vfs_hooks){
		    .validate = knob_validate, .release = count_release, .arg = &released[i]};
	vfs_put("/config/Gone", 0644, "", 0, &gone);
	vfs_remove(cfg, "Gone", 4, &root_ctx);
	vfs_put("/config/Rel", 0644, "", 0, &f);
	ok(vfs_set_hooks(f, &h[0]) == 0 && vfs_set_hooks(f, &h[0]) == 0 && released[0] == 0 &&
	       vfs_set_hooks(f, &h[1]) == 0 && released[0] == 1 && released[1] == 0 &&
	       write_str(f, 0, "abc\n") == -EINVAL,
	   "replacing a file's hooks releases the old ones once (the same ones again, never)");
	ok(vfs_set_hooks(cfg, &h[2]) == -EINVAL && vfs_set_hooks(gone, &h[2]) == -ESTALE &&
	       released[1] == 0 && released[2] == 0 && write_str(f, 0, "abc\n") == -EINVAL,
	   "hooks for a directory or a removed file are refused, and the file's stay");
	ok(vfs_set_hooks(f, NULL) == 0 && released[1] == 1 && write_str(f, 0, "abc\n") == 0,
	   "detaching releases the hooks, and the file takes any content again");
	vfs_set_hooks(f, &h[2]);
	ok(vfs_remove(cfg, "Rel", 3, &root_ctx) == 0 && released[2] == 1 && released[0] == 1 &&
	       released[1] == 1,
	   "removing a hooked file releases this process's hooks of it");
}

/*
 * 58: a module unloaded at httpd's graceful restart takes its hook table
 * with it; what the table pointed to must be released first, or each
 * restart leaks it. The files stay hooked for the other processes.
 */
static void test_hook_release_all(void)
{
	static int released[2];
	static struct vfs_hooks h[2];
	struct vfs_ino f[2];

	for (int i = 0; i < 2; i++) {
		h[i] = (struct vfs_hooks){
		    .validate = knob_validate, .release = count_release, .arg = &released[i]};
		vfs_put(i ? "/config/All1" : "/config/All0", 0644, "7\n", 2, &f[i]);
		vfs_set_hooks(f[i], &h[i]);
	}
	vfs_hooks_release_all();
	ok(released[0] == 1 && released[1] == 1 && write_str(f[0], 0, "8\n") == -EACCES &&
	       write_str(f[1], 0, "8\n") == -EACCES,
	   "releasing all hooks releases each once; the files stay hooked, unwritable here");
}

/* File number @arg of /many accepts only its own number. */
static int many_validate(void *arg, const char *data, size_t len, const struct uml_client *who,
			 char *msg, size_t msglen)
{
	char want[16];

	(void)who;
	(void)msg;
	(void)msglen;
	snprintf(want, sizeof(want), "%d\n", (int)(intptr_t)arg);
	return len == strlen(want) && memcmp(data, want, len) == 0 ? 0 : -EINVAL;
}

static void test_many_hooked(void)
{
	enum { N = 300 };
	static const int probe[] = {0, 127, 128, 200, N - 1};
	const int nprobe = sizeof(probe) / sizeof(probe[0]);
	int hooked = 0, right = 0;
	char path[32], val[16];

	for (int i = 0; i < N; i++) {
		struct uml_file_hooks h = {.validate = many_validate, .arg = (void *)(intptr_t)i};

		snprintf(path, sizeof(path), "/many/f%d", i);
		if (uml_put_file(path, 0644, "", 0) == 0 && uml_file_hooks(path, &h) == 0)
			hooked++;
	}
	for (int i = 0; i < nprobe; i++) {
		struct vfs_ino f;

		snprintf(path, sizeof(path), "/many/f%d", probe[i]);
		f = must_walk(path);
		snprintf(val, sizeof(val), "%d\n", probe[i] + 1);
		if (write_str(f, 0, val) != -EINVAL)
			continue;
		snprintf(val, sizeof(val), "%d\n", probe[i]);
		if (write_str(f, 0, val) == 0)
			right++;
	}
	ok(hooked == N && right == nprobe,
	   "%d of %d files hooked through uml_file_hooks; %d of %d answered with their own "
	   "validator",
	   hooked, N, right, nprobe);
	for (int i = 0; i < N; i++) {
		snprintf(path, sizeof(path), "/many/f%d", i);
		uml_file_hooks(path, NULL);
	}
}

/* Accepts only the content @arg. */
static int only_validate(void *arg, const char *data, size_t len, struct vfs_ctx *ctx)
{
	(void)ctx;
	return len == strlen(arg) && memcmp(data, arg, len) == 0 ? 0 : -EINVAL;
}

static int parent_hooks_released;
static void parent_release(void *arg)
{
	(void)arg;
	parent_hooks_released++;
}

static void test_hooks_per_process(void)
{
	static struct vfs_hooks parent = {
	    .validate = only_validate, .release = parent_release, .arg = "parent\n"};
	static struct vfs_hooks child = {.validate = only_validate, .arg = "child\n"};
	struct vfs_ino f;
	int status = -1;
	pid_t pid;

	vfs_put("/config/Shared", 0644, "", 0, &f);
	vfs_set_hooks(f, &parent);
	pid = fork();
	if (pid == 0) {
		bool good = vfs_set_hooks(f, &child) == 0 && parent_hooks_released == 1 &&
			    write_str(f, 0, "parent\n") == -EINVAL &&
			    write_str(f, 0, "child\n") == 0;

		_exit(good ? 0 : 1);
	}
	waitpid(pid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0 && parent_hooks_released == 0 &&
	       write_str(f, 0, "child\n") == -EINVAL && write_str(f, 0, "parent\n") == 0,
	   "a forked child replaces its copy of its parent's hooks with its own; each process's "
	   "writes meet its own validator");
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
	plan(58);
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
	test_scratch_cap();
	test_knob_far_writes();
	test_knob_on_full_machine();
	test_fixed_attrs();
	test_symlink_nul();
	test_hook_release();
	test_hook_release_all();
	test_many_hooked();
	test_hooks_per_process();
	return done_testing();
}
