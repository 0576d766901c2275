/*
 * LD_PRELOAD shim for the allowlist test: IPv4 sockets of the process bind to
 * $UMLCONF_SRC_ADDR (e.g. 127.0.0.2) before they connect, so a stock libnfs
 * client talks to the server from a loopback address other than 127.0.0.1.
 * The port the program asked for (libnfs takes a reserved one as root) is kept.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static int src(struct in_addr *a)
{
	const char *s = getenv("UMLCONF_SRC_ADDR");

	return s && inet_pton(AF_INET, s, a) == 1;
}

int bind(int fd, const struct sockaddr *sa, socklen_t len)
{
	static int (*real)(int, const struct sockaddr *, socklen_t);
	struct sockaddr_in sin;

	if (!real)
		real = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "bind");
	if (sa && sa->sa_family == AF_INET && len >= sizeof(sin)) {
		memcpy(&sin, sa, sizeof(sin));
		if (src(&sin.sin_addr))
			return real(fd, (struct sockaddr *)&sin, sizeof(sin));
	}
	return real(fd, sa, len);
}

int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	static int (*real)(int, const struct sockaddr *, socklen_t);
	struct sockaddr_in me = {.sin_family = AF_INET};
	struct sockaddr_in cur;
	socklen_t cl = sizeof(cur);

	if (!real)
		real =
		    (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "connect");
	/* Not bound yet (port 0): bind to the source address with any port. */
	if (sa && sa->sa_family == AF_INET && src(&me.sin_addr) &&
	    getsockname(fd, (struct sockaddr *)&cur, &cl) == 0 && cur.sin_family == AF_INET &&
	    cur.sin_port == 0)
		bind(fd, (struct sockaddr *)&me, sizeof(me));
	return real(fd, sa, len);
}
