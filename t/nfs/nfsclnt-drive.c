/*
 * nfsclnt-drive: the kernel's NFS client (uml/nfsclnt.h) against a real
 * server, for t/nfs/13-client.t. Runs every call once or more and prints
 * one line per step, "step rc key=value...", rc being 0 or a negative
 * errno; the test checks them.
 *
 *   nfsclnt-drive URL    URL: nfs://host:port/export; the export holds
 *                        etc/motd ("hello") and many/ (one file, seed);
 *                        /priv is exported to another client only,
 *                        /nothere not at all, and /pub/missing does not exist.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uml/nfsclnt.h"

#define BIG (200 * 1024)

struct count {
	unsigned n, fh, attr;
};

static int count_entry(void *arg, const char *name, const struct nfsclnt_fh *fh,
		       const struct nfsclnt_attr *attr)
{
	struct count *c = arg;

	(void)name;
	c->n++;
	c->fh += fh != NULL;
	c->attr += attr && attr->type == NFSCLNT_REG;
	return 0;
}

static int mount_rc(const struct nfsclnt_opts *base, const char *export)
{
	struct nfsclnt_opts o = *base;
	struct nfsclnt_fh root;
	struct nfsclnt *c;
	int rc;

	snprintf(o.export, sizeof(o.export), "%s", export);
	rc = nfsclnt_open(&o, &c, &root);
	if (!rc)
		nfsclnt_close(c);
	return rc;
}

int main(int argc, char **argv)
{
	struct nfsclnt_fh root, etc, motd, many, f, forged;
	struct nfsclnt_opts o;
	struct nfsclnt_stats st0, st1;
	struct nfsclnt_attr a;
	struct nfsclnt *c;
	struct count cnt = {0, 0, 0};
	char why[128], name[64];
	uint8_t *big, *back;
	uint32_t granted;
	size_t got;
	bool eof;
	int rc;

	if (argc != 2 || nfsclnt_url_parse(argv[1], &o, why, sizeof(why))) {
		fprintf(stderr, "usage: nfsclnt-drive nfs://host:port/export (%s)\n",
			argc == 2 ? why : "");
		return 2;
	}
	rc = nfsclnt_open(&o, &c, &root);
	printf("mount %d fhlen=%u\n", rc, root.len);
	if (rc)
		return 1;

	rc = nfsclnt_lookup(c, &root, "etc", &etc, NULL);
	if (!rc)
		rc = nfsclnt_lookup(c, &etc, "motd", &motd, &a);
	printf("lookup %d type=%u size=%llu\n", rc, a.type, (unsigned long long)a.size);
	rc = nfsclnt_getattr(c, &etc, &a);
	printf("getattr %d type=%u\n", rc, a.type);
	rc = nfsclnt_lookup(c, &root, "absent", &f, NULL);
	printf("lookup-absent %d\n", rc);
	rc = nfsclnt_access(c, &motd, ACCESS3_READ | ACCESS3_MODIFY | ACCESS3_EXECUTE, &granted);
	printf("access %d read=%d modify=%d\n", rc, !!(granted & ACCESS3_READ),
	       !!(granted & ACCESS3_MODIFY));

	/* 299 files beside the seed: a listing of 300. */
	rc = nfsclnt_lookup(c, &root, "many", &many, NULL);
	for (int i = 1; i < 300 && !rc; i++) {
		snprintf(name, sizeof(name), "file-%03d-with-a-longer-name", i);
		rc = nfsclnt_create(c, &many, name, 0644, NULL);
	}
	printf("create-many %d\n", rc);
	nfsclnt_stats(c, &st0);
	rc = nfsclnt_readdirplus(c, &many, 1000, count_entry, &cnt);
	nfsclnt_stats(c, &st1);
	printf("readdirplus %d n=%u fh=%u attr=%u calls=%llu\n", rc, cnt.n, cnt.fh, cnt.attr,
	       (unsigned long long)(st1.calls - st0.calls));
	cnt.n = 0;
	rc = nfsclnt_readdirplus(c, &many, 100, count_entry, &cnt);
	printf("readdirplus-max %d n=%u\n", rc, cnt.n);

	big = malloc(BIG);
	back = malloc(BIG);
	for (size_t i = 0; i < BIG; i++)
		big[i] = (uint8_t)(i * 131 + (i >> 12));
	rc = nfsclnt_create(c, &root, "data.bin", 0600, &f);
	printf("create %d\n", rc);
	rc = nfsclnt_write(c, &f, 0, big, BIG);
	printf("write %d\n", rc);
	memset(back, 0, BIG);
	rc = nfsclnt_read(c, &f, 0, back, BIG, &got, &eof);
	printf("read %d got=%zu same=%d\n", rc, got, !memcmp(big, back, BIG));
	rc = nfsclnt_read(c, &f, BIG - 100, back, 4096, &got, &eof);
	printf("read-end %d got=%zu eof=%d\n", rc, got, eof);
	rc = nfsclnt_truncate(c, &f, 1000);
	if (!rc)
		rc = nfsclnt_getattr(c, &f, &a);
	printf("truncate %d size=%llu\n", rc, (unsigned long long)a.size);
	rc = nfsclnt_create(c, &root, "data.bin", 0600, &f);
	if (!rc)
		rc = nfsclnt_getattr(c, &f, &a);
	printf("create-existing %d size=%llu\n", rc, (unsigned long long)a.size);
	rc = nfsclnt_read(c, &f, 0, back, 4096, &got, &eof);
	printf("read-short %d got=%zu eof=%d same=%d\n", rc, got, eof, !memcmp(big, back, 1000));

	forged = f;
	forged.data[forged.len - 1] ^= 0x55;
	rc = nfsclnt_getattr(c, &forged, &a);
	printf("forged %d\n", rc);

	printf("mount-priv %d\n", mount_rc(&o, "/priv"));
	printf("mount-nothere %d\n", mount_rc(&o, "/nothere"));
	printf("mount-missing %d\n", mount_rc(&o, "/pub/missing"));
	nfsclnt_stats(c, &st1);
	printf("stats calls=%llu retransmits=%llu timeouts=%llu\n", (unsigned long long)st1.calls,
	       (unsigned long long)st1.retransmits, (unsigned long long)st1.timeouts);
	nfsclnt_close(c);
	free(big);
	free(back);

	o.port = 1;
	o.mount_port = 0;
	snprintf(o.export, sizeof(o.export), "/pub");
	rc = nfsclnt_open(&o, &c, &root);
	printf("refused %d\n", rc);
	return 0;
}
