/*
 * libuml's imports: wrappers over kernel/net/nfs/import.c. The URL's host
 * name is resolved here (resolve.c), by the caller, so no kernel thread
 * waits for a resolver.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "uml.h"
#include "resolve.h"
#include "uml/nfsimport.h"

_Static_assert(sizeof(((struct uml_import_stat *)0)->url) == NFSIMPORT_URL_MAX, "url");
_Static_assert(sizeof(((struct uml_import_stat *)0)->path) == NFSIMPORT_PATH_MAX, "path");
_Static_assert(sizeof(((struct uml_import_stat *)0)->error) == NFSIMPORT_ERR_MAX, "error");

int uml_mount_nfs(const char *url, const char *path, const char *options, char *why, size_t whylen)
{
	char resolved[NFSIMPORT_URL_MAX];
	int rc;

	if (!url)
		return -EINVAL;
	rc = uml__url_resolve(url, resolved, sizeof(resolved), why, whylen);
	if (rc)
		return rc;
	return nfsimport_add(resolved, path, options, why, whylen);
}

int uml_import_start(uml_import_fn fn, void *arg)
{
	return nfsimport_start(fn, arg);
}

void uml_import_stop(void)
{
	nfsimport_stop();
}

int uml_import_count(void)
{
	return nfsimport_count();
}

int uml_import_stat(int idx, struct uml_import_stat *st)
{
	struct nfsimport_status s;
	int rc = nfsimport_status(idx, &s);

	if (rc)
		return rc;
	memset(st, 0, sizeof(*st));
	memcpy(st->url, s.url, sizeof(st->url));
	memcpy(st->path, s.path, sizeof(st->path));
	st->state = s.state;
	st->interval_ms = s.interval_ms;
	st->last_ok_ns = s.last_ok_ns;
	st->stale_since_ns = s.stale_since_ns;
	st->changed_ns = s.changed_ns;
	st->version = s.version;
	st->passes = s.passes;
	st->rpcs = s.rpcs;
	st->newest_mtime_ns = s.newest_mtime_ns;
	st->files = s.files;
	st->dirs = s.dirs;
	st->skipped = s.skipped;
	st->holder_pid = s.holder_pid;
	memcpy(st->error, s.error, sizeof(st->error));
	return 0;
}
