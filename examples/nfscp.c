/*
 * nfscp: read or write one file of a remote NFS export with libuml's own
 * NFS client -- a C program on libuml other than httpd.
 *
 *   nfscp get nfs://host[:port]/export[?mountport=N...] path/in/export
 *   nfscp put nfs://host[:port]/export[?mountport=N...] path/in/export < data
 *
 * get writes the file to standard output; put makes the file hold standard
 * input (created when missing). Exit status 0, or 1 with the error on
 * standard error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "uml.h"

#define NFSCP_MAX (16 << 20)

int main(int argc, char **argv)
{
	char *buf;
	long n;
	size_t len = 0;
	ssize_t r;

	if (argc != 4 || (strcmp(argv[1], "get") && strcmp(argv[1], "put"))) {
		fprintf(stderr, "usage: nfscp get|put nfs://host[:port]/export path\n");
		return 2;
	}
	buf = malloc(NFSCP_MAX);
	if (!buf)
		return 1;
	if (!strcmp(argv[1], "get")) {
		n = uml_nfs_get(argv[2], argv[3], buf, NFSCP_MAX);
		if (n < 0) {
			fprintf(stderr, "nfscp: get %s: %s\n", argv[3], strerror((int)-n));
			return 1;
		}
		fwrite(buf, 1, (size_t)n, stdout);
		return 0;
	}
	while (len < NFSCP_MAX && (r = read(0, buf + len, NFSCP_MAX - len)) > 0)
		len += (size_t)r;
	n = uml_nfs_put(argv[2], argv[3], buf, len);
	if (n < 0) {
		fprintf(stderr, "nfscp: put %s: %s\n", argv[3], strerror((int)-n));
		return 1;
	}
	return 0;
}
