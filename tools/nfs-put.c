/*
 * nfs-put: write standard input as the whole new content of a file over
 * NFSv3, the way an admin's tools do. libnfs-utils has nfs-cat and nfs-ls to
 * read, but its nfs-cp creates its target with GUARDED and so cannot replace
 * an existing file such as a knob; this small libnfs client can:
 *
 *   echo 150 | nfs-put 'nfs://127.0.0.1/config/MaxRequestWorkers?nfsport=2049&mountport=2049'
 *
 *   nfs-put URL        open(O_WRONLY|O_TRUNC), WRITE, COMMIT: like `echo N > f`
 *   nfs-put -r URL     write a temporary beside it and RENAME it over the file:
 *                      like an editor or `sed -i`
 *   nfs-put -d S URL   open first, write S seconds later through the same file
 *                      handle (a handle that must survive a server restart)
 *
 * URL as for nfs-cat. Exit status 0 on success; otherwise the error is on
 * stderr (libnfs 4.0 reports a refused WRITE with an empty message: the
 * server's reason is in /status/errors).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nfsc/libnfs.h>

static int write_all(struct nfs_context *nfs, struct nfsfh *fh, const char *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		int n = nfs_pwrite(nfs, fh, off, len - off, buf + off);

		if (n <= 0)
			return n < 0 ? n : -EIO;
		off += (size_t)n;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct nfs_context *nfs;
	struct nfs_url *url;
	struct nfsfh *fh = NULL;
	char buf[65536], tmp[4096];
	const char *target;
	size_t len = 0;
	ssize_t n;
	int rename_over = 0, delay = 0, rc;

	if (argc == 3 && strcmp(argv[1], "-r") == 0) {
		rename_over = 1;
		argv++;
	} else if (argc == 4 && strcmp(argv[1], "-d") == 0) {
		delay = atoi(argv[2]);
		argv += 2;
	} else if (argc != 2) {
		fprintf(stderr, "usage: nfs-put [-r | -d seconds] "
				"nfs://host/path?nfsport=P&mountport=P < content\n");
		return 2;
	}
	while (len < sizeof(buf) && (n = read(0, buf + len, sizeof(buf) - len)) > 0)
		len += (size_t)n;

	nfs = nfs_init_context();
	if (!nfs)
		return 3;
	url = nfs_parse_url_full(nfs, argv[1]);
	if (!url) {
		fprintf(stderr, "nfs-put: %s\n", nfs_get_error(nfs));
		return 3;
	}
	if (nfs_mount(nfs, url->server, url->path) != 0) {
		fprintf(stderr, "nfs-put: mount %s: %s\n", url->path, nfs_get_error(nfs));
		return 4;
	}
	target = url->file;
	if (rename_over) {
		const char *slash = strrchr(target, '/');

		snprintf(tmp, sizeof(tmp), "%.*s/.%s.tmp%ld", (int)(slash - target), target,
			 slash + 1, (long)getpid());
		rc = nfs_creat(nfs, tmp, 0644, &fh);
	} else {
		rc = nfs_open(nfs, target, O_WRONLY | O_TRUNC, &fh);
	}
	if (rc != 0) {
		fprintf(stderr, "nfs-put: open: %s\n", nfs_get_error(nfs));
		return 5;
	}
	if (delay > 0)
		sleep((unsigned)delay);
	rc = write_all(nfs, fh, buf, len);
	if (rc == 0)
		rc = nfs_fsync(nfs, fh);
	if (rc != 0) {
		/* libnfs 4.0 turns a refused WRITE into EFAULT with no message. */
		if (rc == -EFAULT)
			fprintf(stderr, "nfs-put: the server refused the write (a knob's reason is "
					"in /status/errors)\n");
		else
			fprintf(stderr, "nfs-put: write: %s (%s)\n", nfs_get_error(nfs),
				strerror(-rc));
		nfs_close(nfs, fh);
		if (rename_over)
			nfs_unlink(nfs, tmp);
		return 6;
	}
	nfs_close(nfs, fh);
	if (rename_over && nfs_rename(nfs, tmp, target) != 0) {
		fprintf(stderr, "nfs-put: rename refused: %s\n", nfs_get_error(nfs));
		nfs_unlink(nfs, tmp);
		return 7;
	}
	nfs_destroy_url(url);
	nfs_destroy_context(nfs);
	return 0;
}
