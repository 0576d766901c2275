/*
 * The filesystem for applications: building the tree, reading it, and
 * attaching validation and rendering hooks to files.
 */
#include <errno.h>
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
 * The vfs calls hooks with its own context; this table turns those calls into
 * the public form. Process-local, like the vfs's own hook table.
 */
#define UML_HOOKS_MAX 128
static struct uml_hook_slot {
	struct vfs_ino id;
	struct uml_file_hooks h;
} uml_hooks[UML_HOOKS_MAX];

static int hook_validate(void *arg, const char *data, size_t len, struct vfs_ctx *ctx)
{
	struct uml_hook_slot *s = arg;
	struct uml_client who = {ctx->client, ctx->cred.uid, ctx->cred.gid};

	return s->h.validate(s->h.arg, data, len, &who, ctx->why, ctx->whylen);
}

static void hook_commit(void *arg, const char *data, size_t len)
{
	struct uml_hook_slot *s = arg;

	s->h.commit(s->h.arg, data, len);
}

static size_t hook_render(void *arg, char *buf, size_t size)
{
	struct uml_hook_slot *s = arg;

	return s->h.render(s->h.arg, buf, size);
}

static void hook_refused(void *arg, const char *data, size_t len, int err, const char *why,
			 struct vfs_ctx *ctx)
{
	struct uml_hook_slot *s = arg;
	struct uml_client who = {ctx->client, ctx->cred.uid, ctx->cred.gid};

	s->h.refused(s->h.arg, data, len, err, why, &who);
}

int uml_file_hooks(const char *path, const struct uml_file_hooks *h)
{
	struct uml_hook_slot *slot = NULL;
	struct vfs_hooks vh = {0};
	struct vfs_ino f;
	int err;

	if (!machine)
		return -ENODEV;
	err = vfs_walk(path, &f);
	if (err)
		return err;
	for (int i = 0; i < UML_HOOKS_MAX; i++) {
		struct uml_hook_slot *s = &uml_hooks[i];

		if (s->id.ino == f.ino && s->id.gen == f.gen) {
			slot = s;
			break;
		}
		if (!slot && s->id.ino == 0)
			slot = s;
	}
	if (!h) {
		err = vfs_set_hooks(f, NULL);
		if (slot && slot->id.ino == f.ino)
			memset(slot, 0, sizeof(*slot));
		return err;
	}
	if (!slot)
		return -ENOSPC;
	slot->id = f;
	slot->h = *h;
	vh.validate = h->validate ? hook_validate : NULL;
	vh.commit = h->commit ? hook_commit : NULL;
	vh.render = h->render ? hook_render : NULL;
	vh.refused = h->refused ? hook_refused : NULL;
	vh.arg = slot;
	return vfs_set_hooks(f, &vh);
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
