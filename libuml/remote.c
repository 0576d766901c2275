/*
 * Remote files with the machine's own NFS client (kernel/net/nfs/nfs3clnt.c):
 * one file read or written by a call that mounts and unmounts
 * (uml_nfs_get/put), and sessions that stay mounted and keep the handles
 * they looked up, for programs that come back to the same files every
 * second (a monitor).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resolve.h"
#include "uml.h"
#include "uml/nfsclnt.h"
#include "uml/nfsimport.h"

/* Mount @url's export and walk @path's directories: the last name's directory in *dir. */
static int remote_open(const char *url, const char *path, struct nfsclnt **c,
		       struct nfsclnt_fh *dir, const char **name)
{
	char resolved[NFSIMPORT_URL_MAX], why[160], part[NFSCLNT_NAME_MAX + 1];
	struct nfsclnt_opts o;
	const char *p = path;
	int rc;

	if (!url || !path)
		return -EINVAL;
	rc = uml__url_resolve(url, resolved, sizeof(resolved), why, sizeof(why));
	if (!rc)
		rc = nfsclnt_url_parse(resolved, &o, why, sizeof(why));
	if (!rc)
		rc = nfsclnt_open(&o, c, dir);
	if (rc)
		return rc;
	for (;;) {
		size_t n;

		while (*p == '/')
			p++;
		n = strcspn(p, "/");
		if (!n || n > NFSCLNT_NAME_MAX)
			rc = -EINVAL;
		else if (!p[n])
			break;
		else {
			memcpy(part, p, n);
			part[n] = '\0';
			rc = nfsclnt_lookup(*c, dir, part, dir, NULL);
		}
		if (rc) {
			nfsclnt_close(*c);
			return rc;
		}
		p += n;
	}
	*name = p;
	return 0;
}

long uml_nfs_get(const char *url, const char *path, void *buf, size_t size)
{
	struct nfsclnt_fh dir, fh;
	struct nfsclnt_attr attr;
	struct nfsclnt *c;
	const char *name;
	size_t got = 0;
	bool eof = false;
	int rc = remote_open(url, path, &c, &dir, &name);

	if (rc)
		return rc;
	rc = nfsclnt_lookup(c, &dir, name, &fh, &attr);
	if (!rc && attr.type != NFSCLNT_REG)
		rc = -EISDIR;
	else if (!rc && attr.size > size)
		rc = -EFBIG;
	while (!rc && !eof && got < size) {
		size_t n = 0;

		rc = nfsclnt_read(c, &fh, got, (char *)buf + got, size - got, &n, &eof);
		if (!n)
			break;
		got += n;
	}
	nfsclnt_close(c);
	return rc ? rc : (long)got;
}

int uml_nfs_put(const char *url, const char *path, const void *data, size_t len)
{
	struct nfsclnt_fh dir, fh;
	struct nfsclnt *c;
	const char *name;
	int rc = remote_open(url, path, &c, &dir, &name);

	if (rc)
		return rc;
	rc = nfsclnt_create(c, &dir, name, 0644, &fh);
	if (!rc)
		rc = nfsclnt_truncate(c, &fh, 0);
	if (!rc && len)
		rc = nfsclnt_write(c, &fh, 0, data, len);
	nfsclnt_close(c);
	return rc;
}

/*
 * --- sessions ---
 *
 * A small table of the handles a session looked up, keyed by path. A
 * monitor uses a handful of paths per server, so a linear search over a
 * few entries beats anything cleverer; when full, the least recently used
 * entry makes room.
 */
#define SESSION_HANDLES 16
#define SESSION_PATH	128

struct session_handle {
	char path[SESSION_PATH]; /* "" : free */
	struct nfsclnt_fh fh;
	uint64_t used; /* session tick of the last use */
};

struct uml_nfs_session {
	struct nfsclnt *c;
	struct nfsclnt_fh root;
	uint64_t tick;
	bool broken; /* a transport failure: close without UMNT */
	struct session_handle h[SESSION_HANDLES];
};

/* Failures of the transport, not answers of the server. */
static bool transport_error(int rc)
{
	return rc == -ETIMEDOUT || rc == -ECONNREFUSED || rc == -ECONNRESET || rc == -EPIPE ||
	       rc == -EPROTO || rc == -ENOTCONN || rc == -EHOSTUNREACH || rc == -ENETUNREACH;
}

static int session_note(struct uml_nfs_session *s, int rc)
{
	if (transport_error(rc))
		s->broken = true;
	return rc;
}

int uml_nfs_session_open(const char *url, uml_nfs_session_t **out, char *why, size_t whylen)
{
	char resolved[NFSIMPORT_URL_MAX];
	struct uml_nfs_session *s;
	struct nfsclnt_opts o;
	int rc;

	*out = NULL;
	if (!url)
		return -EINVAL;
	rc = uml__url_resolve(url, resolved, sizeof(resolved), why, whylen);
	if (!rc)
		rc = nfsclnt_url_parse(resolved, &o, why, whylen);
	if (rc)
		return rc;
	if (!strstr(resolved, "timeo="))
		o.timeout_ms = 500;
	if (!strstr(resolved, "retrans="))
		o.retries = 1;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	rc = nfsclnt_open(&o, &s->c, &s->root);
	if (rc) {
		free(s);
		return rc;
	}
	*out = s;
	return 0;
}

/* The handle of @path, looked up from the root when not known. */
static int session_lookup(struct uml_nfs_session *s, const char *path, struct nfsclnt_fh *fh,
			  struct session_handle **slot)
{
	struct session_handle *victim = &s->h[0];
	char part[NFSCLNT_NAME_MAX + 1];
	const char *p = path;
	int rc;

	while (*p == '/')
		p++;
	if (!*p || strlen(p) >= SESSION_PATH)
		return -EINVAL;
	for (int i = 0; i < SESSION_HANDLES; i++) {
		if (strcmp(s->h[i].path, p) == 0) {
			s->h[i].used = ++s->tick;
			*fh = s->h[i].fh;
			*slot = &s->h[i];
			return 0;
		}
		if (s->h[i].used < victim->used)
			victim = &s->h[i];
	}
	*fh = s->root;
	for (const char *q = p; *q;) {
		size_t n = strcspn(q, "/");

		if (n == 0 || n > NFSCLNT_NAME_MAX || (n <= 2 && strncmp(q, "..", n) == 0))
			return -EINVAL;
		memcpy(part, q, n);
		part[n] = '\0';
		rc = session_note(s, nfsclnt_lookup(s->c, fh, part, fh, NULL));
		if (rc)
			return rc;
		q += n;
		while (*q == '/')
			q++;
	}
	snprintf(victim->path, sizeof(victim->path), "%s", p);
	victim->fh = *fh;
	victim->used = ++s->tick;
	*slot = victim;
	return 0;
}

/* A handle gone stale (the file was replaced): forget it, so the next call looks again. */
static void session_forget(struct session_handle *slot)
{
	slot->path[0] = '\0';
	slot->used = 0;
}

long uml_nfs_session_read(uml_nfs_session_t *s, const char *path, void *buf, size_t size)
{
	struct session_handle *slot;
	struct nfsclnt_fh fh;
	size_t got = 0;
	bool eof = false, retried = false;
	int rc;

again:
	rc = session_lookup(s, path, &fh, &slot);
	if (rc)
		return rc;
	got = 0;
	eof = false;
	while (!eof) {
		size_t n = 0;

		if (got == size) {
			char probe;

			/* Full: one byte more tells whether the file is longer. */
			rc = session_note(s, nfsclnt_read(s->c, &fh, got, &probe, 1, &n, &eof));
			if (!rc && n)
				rc = -EFBIG;
			break;
		}
		rc = session_note(
		    s, nfsclnt_read(s->c, &fh, got, (char *)buf + got, size - got, &n, &eof));
		if (rc || !n)
			break;
		got += n;
	}
	if (rc == -ESTALE) {
		session_forget(slot);
		if (!retried) {
			retried = true;
			goto again;
		}
	}
	return rc ? rc : (long)got;
}

int uml_nfs_session_write(uml_nfs_session_t *s, const char *path, const void *data, size_t len)
{
	struct session_handle *slot;
	struct nfsclnt_fh fh;
	bool retried = false;
	int rc;

again:
	rc = session_lookup(s, path, &fh, &slot);
	if (rc)
		return rc;
	rc = session_note(s, nfsclnt_truncate(s->c, &fh, 0));
	if (!rc && len)
		rc = session_note(s, nfsclnt_write(s->c, &fh, 0, data, len));
	if (rc == -ESTALE) {
		session_forget(slot);
		if (!retried) {
			retried = true;
			goto again;
		}
	}
	return rc;
}

uint64_t uml_nfs_session_calls(uml_nfs_session_t *s)
{
	struct nfsclnt_stats st;

	nfsclnt_stats(s->c, &st);
	return st.calls;
}

void uml_nfs_session_close(uml_nfs_session_t *s)
{
	if (!s)
		return;
	if (s->broken)
		nfsclnt_abandon(s->c);
	else
		nfsclnt_close(s->c);
	free(s);
}
