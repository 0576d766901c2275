/*
 * libuml's NFS client: imports (wrappers over kernel/net/nfs/import.c) and
 * one file of a remote export read or written (kernel/net/nfs/nfs3clnt.c).
 * The one thing the kernel leaves to the library: a host name in the URL
 * is resolved here, by the caller, so no kernel thread waits for a resolver.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "uml.h"
#include "uml/nfsclnt.h"
#include "uml/nfsimport.h"

_Static_assert(sizeof(((struct uml_import_stat *)0)->url) == NFSIMPORT_URL_MAX, "url");
_Static_assert(sizeof(((struct uml_import_stat *)0)->path) == NFSIMPORT_PATH_MAX, "path");
_Static_assert(sizeof(((struct uml_import_stat *)0)->error) == NFSIMPORT_ERR_MAX, "error");

/* @url with its host, when a name, replaced by an address. 0, or -EINVAL with @why. */
static int url_resolve(const char *url, char *out, size_t size, char *why, size_t whylen)
{
	const char *host = strncmp(url, "nfs://", 6) == 0 ? url + 6 : NULL;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	char name[256], addr[INET6_ADDRSTRLEN];
	struct in6_addr a6;
	struct in_addr a4;
	size_t n;
	int rc;

	if (!host || *host == '[') {
		snprintf(out, size, "%s", url);
		return strlen(url) < size ? 0 : -EINVAL;
	}
	n = strcspn(host, ":/?");
	if (n == 0 || n >= sizeof(name)) {
		snprintf(out, size, "%s", url);
		return 0; /* the kernel's parser says what is wrong */
	}
	memcpy(name, host, n);
	name[n] = '\0';
	if (inet_pton(AF_INET, name, &a4) == 1 || inet_pton(AF_INET6, name, &a6) == 1) {
		snprintf(out, size, "%s", url);
		return strlen(url) < size ? 0 : -EINVAL;
	}
	rc = getaddrinfo(name, NULL, &hints, &res);
	if (rc || !res) {
		snprintf(why, whylen, "%s: %s", name, rc ? gai_strerror(rc) : "no address");
		return -EINVAL;
	}
	if (res->ai_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)res->ai_addr)->sin6_addr, addr,
			  sizeof(addr));
	else
		inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, addr,
			  sizeof(addr));
	rc = snprintf(out, size, "nfs://%s%s%s%s", res->ai_family == AF_INET6 ? "[" : "", addr,
		      res->ai_family == AF_INET6 ? "]" : "", host + n);
	freeaddrinfo(res);
	if (rc < 0 || (size_t)rc >= size) {
		snprintf(why, whylen, "the URL is too long");
		return -EINVAL;
	}
	return 0;
}

int uml_mount_nfs(const char *url, const char *path, const char *options, char *why, size_t whylen)
{
	char resolved[NFSIMPORT_URL_MAX];
	int rc;

	if (!url)
		return -EINVAL;
	rc = url_resolve(url, resolved, sizeof(resolved), why, whylen);
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
	rc = url_resolve(url, resolved, sizeof(resolved), why, sizeof(why));
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
