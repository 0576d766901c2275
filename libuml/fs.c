/*
 * The filesystem for applications: building the tree, reading it, and
 * attaching validation and rendering hooks to files.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uml.h"
#include "uml/machine.h"
#include "uml/vfs.h"

int uml_mkdir_p(const char *path, unsigned mode)
{
	return machine ? vfs_mkpath(path, mode, NULL) : -ENODEV;
}

int uml_put_file(const char *path, unsigned mode, const void *data, size_t len)
{
	return machine ? vfs_put(path, mode, data, len, NULL) : -ENODEV;
}

int uml_replace_file(const char *path, const void *data, size_t len, const struct uml_client *who,
		     char *why, size_t whylen)
{
	struct vfs_ctx ctx = {.client = who ? who->addr : NULL, .why = why, .whylen = whylen};
	struct vfs_ino f;
	int err;

	if (!machine)
		return -ENODEV;
	if (who) {
		ctx.cred.uid = who->uid;
		ctx.cred.gid = who->gid;
	}
	if (why && whylen)
		why[0] = '\0';
	err = vfs_walk(path, &f);
	return err ? err : vfs_replace(f, data, len, &ctx);
}

long uml_get_file(const char *path, void *buf, size_t size)
{
	struct vfs_ino f;
	size_t n = 0;
	bool eof;
	int err;

	if (!machine)
		return -ENODEV;
	err = vfs_walk(path, &f);
	if (!err)
		err = vfs_read(f, 0, buf, size, &n, &eof);
	return err ? err : (long)n;
}

/*
 * A file's public hooks and the vfs's form of them, in one block the vfs holds
 * until it releases it: the vfs's table is the only one. The vfs's slots are
 * filled per file, since an empty one means something (no render: the stored
 * content stands).
 */
struct uml_hooked {
	struct vfs_hooks vh;
	struct uml_file_hooks h;
};

static int hook_validate(void *arg, const char *data, size_t len, struct vfs_ctx *ctx)
{
	struct uml_hooked *k = arg;
	struct uml_client who = {ctx->client, ctx->cred.uid, ctx->cred.gid};

	return k->h.validate(k->h.arg, data, len, &who, ctx->why, ctx->whylen);
}

static void hook_commit(void *arg, const char *data, size_t len)
{
	struct uml_hooked *k = arg;

	k->h.commit(k->h.arg, data, len);
}

static size_t hook_render(void *arg, char *buf, size_t size)
{
	struct uml_hooked *k = arg;

	return k->h.render(k->h.arg, buf, size);
}

static void hook_refused(void *arg, const char *data, size_t len, int err, const char *why,
			 struct vfs_ctx *ctx)
{
	struct uml_hooked *k = arg;
	struct uml_client who = {ctx->client, ctx->cred.uid, ctx->cred.gid};

	k->h.refused(k->h.arg, data, len, err, why, &who);
}

int uml_file_hooks(const char *path, const struct uml_file_hooks *h)
{
	struct uml_hooked *k;
	struct vfs_ino f;
	int err;

	if (!machine)
		return -ENODEV;
	err = vfs_walk(path, &f);
	if (err)
		return err;
	if (!h)
		return vfs_set_hooks(f, NULL);
	k = malloc(sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->h = *h;
	k->vh = (struct vfs_hooks){
	    .validate = h->validate ? hook_validate : NULL,
	    .commit = h->commit ? hook_commit : NULL,
	    .render = h->render ? hook_render : NULL,
	    .refused = h->refused ? hook_refused : NULL,
	    .release = free,
	    .arg = k,
	};
	err = vfs_set_hooks(f, &k->vh);
	if (err)
		free(k);
	return err;
}

void uml_file_hooks_release_all(void)
{
	if (machine)
		vfs_hooks_release_all();
}

int uml_file_flags(const char *path, unsigned flags)
{
	struct vfs_ino f;
	uint32_t vf = 0;
	int err;

	if (!machine)
		return -ENODEV;
	err = vfs_walk(path, &f);
	if (err)
		return err;
	if (flags & UML_FILE_PINNED)
		vf |= VFS_F_PINNED;
	if (flags & UML_FILE_READONLY)
		vf |= VFS_F_READONLY;
	if (flags & UML_DIR_NOCREATE)
		vf |= VFS_F_NOCREATE;
	return vfs_set_flags(f, vf);
}

int uml_fs_scratch_limit(size_t bytes)
{
	return machine ? vfs_set_scratch_limit(bytes) : -ENODEV;
}

int uml_state_open(const char *path, size_t size, unsigned flags, char *msg, size_t msglen)
{
	unsigned f = (flags & UML_STATE_CREATE ? VFS_STATE_CREATE : 0) |
		     (flags & UML_STATE_READONLY ? VFS_STATE_READONLY : 0);

	if (!machine) {
		if (msglen)
			snprintf(msg, msglen, "no machine");
		return -ENODEV;
	}
	return vfs_state_open(path, size ? size : UML_STATE_SIZE_DEFAULT, f, msg, msglen);
}

int uml_state_probe(const char *path, size_t size, char *msg, size_t msglen)
{
	return vfs_state_probe(path, size ? size : UML_STATE_SIZE_DEFAULT, msg, msglen);
}

bool uml_state_active(char *path, size_t size)
{
	return machine && vfs_state_active(path, size);
}

int uml_state_stat(struct uml_state_stat *st)
{
	struct vfs_state_stat v;
	int err;

	if (!machine)
		return -ENODEV;
	err = vfs_state_stat(&v);
	if (err)
		return err;
	_Static_assert(sizeof(st->path) == sizeof(v.path), "path sizes");
	memcpy(st->path, v.path, sizeof(st->path));
	st->size = v.size;
	st->log_size = v.log_size;
	st->used = v.used;
	st->live = v.live;
	st->free = v.free;
	st->position = v.position;
	st->checkpoint = v.checkpoint;
	st->checkpoints = v.checkpoints;
	st->checkpoint_at = v.checkpoint_at;
	st->records = v.records;
	st->flushes = v.flushes;
	st->syncs = v.syncs;
	st->inodes = v.inodes;
	st->replayed = v.replayed;
	st->torn = v.torn;
	st->err = v.err;
	return 0;
}

int uml_state_checkpoint(void)
{
	return machine ? vfs_state_checkpoint() : -ENODEV;
}

int uml_state_note_get(const char *key, char *buf, size_t size)
{
	return machine ? vfs_state_note_get(key, buf, size) : -ENODEV;
}

int uml_state_note_set(const char *key, const char *value)
{
	return machine ? vfs_state_note_set(key, value) : -ENODEV;
}

int uml_state_sync(void)
{
	return machine ? vfs_sync_all() : -ENODEV;
}
