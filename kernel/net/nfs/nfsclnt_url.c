/*
 * The NFS client's URL: nfs://host[:port]/path[?opt=N&...], the form libnfs
 * takes, with the options our client has. The host is a numeric address
 * (no names are looked up: the kernel has no resolver); an IPv6 one is in
 * brackets. Every option is a decimal number in its bounds.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "uml/nfsclnt.h"
#include "uml/rpc.h"

/* One option per row: its name, where it goes, its bounds. */
static const struct {
	const char *name;
	size_t off, size; /* in struct nfsclnt_opts: a uint16_t or a uint32_t */
	uint32_t min, max;
} url_opts[] = {
    {"mountport", offsetof(struct nfsclnt_opts, mount_port), sizeof(uint16_t), 1, 65535},
    {"uid", offsetof(struct nfsclnt_opts, uid), sizeof(uint32_t), 0, UINT32_MAX},
    {"gid", offsetof(struct nfsclnt_opts, gid), sizeof(uint32_t), 0, UINT32_MAX},
    {"timeo", offsetof(struct nfsclnt_opts, timeout_ms), sizeof(uint32_t), 1, 3600000},
    {"retrans", offsetof(struct nfsclnt_opts, retries), sizeof(uint32_t), 0, 30},
};

/* Decimal digits only, @min to @max, the whole of [p, end). */
static bool url_number(const char *p, const char *end, uint32_t min, uint32_t max, uint32_t *out)
{
	uint64_t v = 0;

	if (p == end)
		return false;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > max)
			return false;
	}
	if (v < min)
		return false;
	*out = (uint32_t)v;
	return true;
}

static int url_fail(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int url_fail(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why && whylen) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* The query: opt=N pairs separated by '&'. */
static int url_query(const char *q, struct nfsclnt_opts *o, char *why, size_t whylen)
{
	while (*q) {
		const char *end = q + strcspn(q, "&"), *eq = memchr(q, '=', (size_t)(end - q));
		size_t i, klen;
		uint32_t v;

		if (!eq)
			return url_fail(why, whylen, "option without a value: %.*s", (int)(end - q),
					q);
		klen = (size_t)(eq - q);
		for (i = 0; i < sizeof(url_opts) / sizeof(url_opts[0]); i++)
			if (strlen(url_opts[i].name) == klen && !memcmp(url_opts[i].name, q, klen))
				break;
		if (i == sizeof(url_opts) / sizeof(url_opts[0]))
			return url_fail(why, whylen, "unknown option: %.*s", (int)klen, q);
		if (!url_number(eq + 1, end, url_opts[i].min, url_opts[i].max, &v))
			return url_fail(why, whylen, "bad value of %.*s", (int)klen, q);
		if (url_opts[i].size == sizeof(uint16_t)) {
			uint16_t v16 = (uint16_t)v;

			memcpy((char *)o + url_opts[i].off, &v16, sizeof(v16));
		} else {
			memcpy((char *)o + url_opts[i].off, &v, sizeof(v));
		}
		q = *end ? end + 1 : end;
	}
	return 0;
}

int nfsclnt_url_parse(const char *url, struct nfsclnt_opts *o, char *why, size_t whylen)
{
	const char *p = url, *host, *hend, *path, *q;
	struct sockaddr_storage ss;
	socklen_t sslen;
	uint32_t port = 0;
	size_t n;

	memset(o, 0, sizeof(*o));
	if (strncmp(p, "nfs://", 6))
		return url_fail(why, whylen, "not an nfs:// URL");
	p += 6;
	if (*p == '[') {
		host = p + 1;
		hend = strchr(host, ']');
		if (!hend)
			return url_fail(why, whylen, "no ']' after the IPv6 address");
		p = hend + 1;
	} else {
		host = p;
		hend = p + strcspn(p, ":/?");
		p = hend;
	}
	n = (size_t)(hend - host);
	if (n == 0 || n >= sizeof(o->host))
		return url_fail(why, whylen, "bad host");
	memcpy(o->host, host, n);
	o->host[n] = '\0';
	if (rpc_addr_parse(o->host, 0, &ss, &sslen) ||
	    (host[-1] == '[') != (ss.ss_family == AF_INET6))
		return url_fail(why, whylen, "not a numeric address: %.*s", (int)n, host);
	if (*p == ':') {
		const char *pend = p + 1 + strcspn(p + 1, "/?");

		if (!url_number(p + 1, pend, 1, 65535, &port))
			return url_fail(why, whylen, "bad port: %.*s", (int)(pend - p - 1), p + 1);
		o->port = (uint16_t)port;
		p = pend;
	}
	if (*p != '/')
		return url_fail(why, whylen, "no export path");
	path = p;
	q = strchr(path, '?');
	n = q ? (size_t)(q - path) : strlen(path);
	if (n >= sizeof(o->export))
		return url_fail(why, whylen, "export path over %zu bytes", sizeof(o->export) - 1);
	memcpy(o->export, path, n);
	o->export[n] = '\0';
	return q ? url_query(q + 1, o, why, whylen) : 0;
}
