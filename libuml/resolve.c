/*
 * A URL's host name resolved to an address, for every libuml call that
 * takes an nfs:// URL: the kernel's client takes addresses only, so no
 * kernel thread ever waits for a resolver.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "resolve.h"

/* @url with its host, when a name, replaced by an address. 0, or -EINVAL with @why. */
int uml__url_resolve(const char *url, char *out, size_t size, char *why, size_t whylen)
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
