/*
 * nfsc: one NFS operation through libnfs, for the t/nfs tests (the libnfs
 * command-line tools only list, read and copy).
 *
 *   nfsc URL CMD ARGS...     URL: nfs://host/export?nfsport=P&mountport=P
 *
 * CMD: write PATH TEXT | mkdir PATH | rmdir PATH | rm PATH | mv FROM TO |
 *      chmod OCTAL PATH | truncate PATH LEN | symlink TARGET PATH |
 *      readlink PATH | ln FROM TO | stat PATH | ls PATH
 * Paths are relative to the export. On failure prints "nfsc: CMD: <strerror>"
 * on stderr and exits 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <nfsc/libnfs.h>

static int fail(const char *cmd, int rc, struct nfs_context *nfs)
{
	fprintf(stderr, "nfsc: %s: %s (%s)\n", cmd, strerror(-rc), nfs_get_error(nfs));
	return 1;
}

static int do_write(struct nfs_context *nfs, const char *path, const char *text)
{
	struct nfsfh *fh;
	int rc = nfs_open(nfs, path, O_WRONLY | O_CREAT | O_TRUNC, &fh);

	if (rc)
		return rc;
	rc = nfs_write(nfs, fh, strlen(text), text);
	nfs_close(nfs, fh);
	return rc < 0 ? rc : 0;
}

static int do_ls(struct nfs_context *nfs, const char *path)
{
	struct nfsdir *dir;
	struct nfsdirent *e;
	int rc = nfs_opendir(nfs, path, &dir);

	if (rc)
		return rc;
	while ((e = nfs_readdir(nfs, dir)))
		printf("%s\n", e->name);
	nfs_closedir(nfs, dir);
	return 0;
}

int main(int argc, char **argv)
{
	struct nfs_context *nfs;
	struct nfs_url *url;
	const char *cmd;
	int rc;

	if (argc < 4) {
		fprintf(stderr, "usage: nfsc URL CMD ARGS...\n");
		return 2;
	}
	cmd = argv[2];
	nfs = nfs_init_context();
	if (!nfs)
		return 1;
	url = nfs_parse_url_dir(nfs, argv[1]);
	if (!url) {
		fprintf(stderr, "nfsc: bad url: %s\n", nfs_get_error(nfs));
		return 1;
	}
	rc = nfs_mount(nfs, url->server, url->path);
	if (rc)
		return fail("mount", rc, nfs);

	if (!strcmp(cmd, "write") && argc == 5) {
		rc = do_write(nfs, argv[3], argv[4]);
	} else if (!strcmp(cmd, "mkdir")) {
		rc = nfs_mkdir(nfs, argv[3]);
	} else if (!strcmp(cmd, "rmdir")) {
		rc = nfs_rmdir(nfs, argv[3]);
	} else if (!strcmp(cmd, "rm")) {
		rc = nfs_unlink(nfs, argv[3]);
	} else if (!strcmp(cmd, "mv") && argc == 5) {
		rc = nfs_rename(nfs, argv[3], argv[4]);
	} else if (!strcmp(cmd, "ln") && argc == 5) {
		rc = nfs_link(nfs, argv[3], argv[4]);
	} else if (!strcmp(cmd, "chmod") && argc == 5) {
		rc = nfs_chmod(nfs, argv[4], (int)strtol(argv[3], NULL, 8));
	} else if (!strcmp(cmd, "truncate") && argc == 5) {
		rc = nfs_truncate(nfs, argv[3], strtoull(argv[4], NULL, 10));
	} else if (!strcmp(cmd, "symlink") && argc == 5) {
		rc = nfs_symlink(nfs, argv[3], argv[4]);
	} else if (!strcmp(cmd, "readlink")) {
		char buf[1024] = "";

		rc = nfs_readlink(nfs, argv[3], buf, sizeof(buf) - 1);
		if (!rc)
			printf("%s\n", buf);
	} else if (!strcmp(cmd, "stat")) {
		struct nfs_stat_64 st;

		rc = nfs_stat64(nfs, argv[3], &st);
		if (!rc)
			printf("size=%llu mode=%llo nlink=%llu uid=%llu\n",
			       (unsigned long long)st.nfs_size, (unsigned long long)st.nfs_mode,
			       (unsigned long long)st.nfs_nlink, (unsigned long long)st.nfs_uid);
	} else if (!strcmp(cmd, "ls")) {
		rc = do_ls(nfs, argv[3]);
	} else {
		fprintf(stderr, "nfsc: unknown command or arguments: %s\n", cmd);
		return 2;
	}
	if (rc < 0)
		return fail(cmd, rc, nfs);
	nfs_destroy_url(url);
	nfs_destroy_context(nfs);
	return 0;
}
