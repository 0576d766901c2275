/*
 * umlfsck: check a state image (UmlConfState, umlnfsd -S) without changing it.
 *
 *   umlfsck [-m memory] image
 *
 * Boots a machine in this process, loads the image read-only -- superblocks,
 * the chain of records from the newest complete checkpoint, every record
 * applied to a tree -- and audits the tree it built (links, entries, data,
 * what the allocator handed out). Says what it found on stdout. Exit status: 0 clean, 1 an
 * inconsistency (the image would be refused, or the tree it makes is wrong), 2 usage, 3 the file
 * can't be read (missing, or in use by a running server: stop it first). -m sizes the machine that
 * holds the tree (default 256M).
 *
 * The unfinished tail a crash leaves (a record begun and never finished) is
 * not an inconsistency: the server discards it at the next open, and this
 * says how many bytes that is.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "uml.h"

static void usage(void)
{
	fprintf(stderr, "usage: umlfsck [-m memory[K|M|G]] image\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct uml_boot_params bp = {0};
	struct uml_state_stat st;
	char msg[512], report[16384];
	size_t len;
	int opt, rc;

	while ((opt = getopt(argc, argv, "m:")) != -1) {
		switch (opt) {
		case 'm':
			if (uml_parse_memory(optarg, &bp.memory))
				usage();
			break;
		default:
			usage();
		}
	}
	if (optind != argc - 1)
		usage();
	if (!bp.memory)
		bp.memory = 256UL << 20;
	rc = uml_boot(&bp);
	if (rc) {
		fprintf(stderr, "umlfsck: cannot boot a machine of %zu bytes: %s\n", bp.memory,
			strerror(-rc));
		return 3;
	}
	rc = uml_state_open(argv[optind], 0, UML_STATE_READONLY, msg, sizeof(msg));
	if (rc == -ENOENT || rc == -EACCES || rc == -EBUSY) {
		printf("umlfsck: %s\n", msg);
		return 3;
	}
	if (rc) {
		printf("umlfsck: %s\nFAIL\n", msg);
		return 1;
	}
	uml_state_stat(&st);
	len = uml_check(report, sizeof(report));
	printf("umlfsck: %s: %llu bytes, log %llu; %llu files and directories; %llu records "
	       "replayed from log position %llu to %llu; %llu bytes of an unfinished write "
	       "at the end (discarded at the next open)\n",
	       argv[optind], (unsigned long long)st.size, (unsigned long long)st.log_size,
	       (unsigned long long)st.inodes, (unsigned long long)st.replayed,
	       (unsigned long long)st.checkpoint, (unsigned long long)st.position,
	       (unsigned long long)st.torn);
	if (strncmp(report, "ok", 2) != 0) {
		fwrite(report, 1, len < sizeof(report) ? len : sizeof(report) - 1, stdout);
		printf("FAIL\n");
		return 1;
	}
	printf("ok\n");
	return 0;
}
