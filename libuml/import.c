/*
 * libuml's imports: wrappers over kernel/net/nfs/import.c, and the one
 * thing the kernel leaves to the library: a host name in the URL is
 * resolved here, at set-up, so no kernel thread ever waits for a resolver.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "uml.h"
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
