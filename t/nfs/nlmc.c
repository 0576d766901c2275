/*
 * nlmc: NLM v4 and NSM v1 calls through libnfs's raw API, for the t/nfs
 * tests: a lock client we did not write (libnfs encodes and decodes).
 *
 *   nlmc [-b SRC] [-c CALLER] [-s SVID] [-o OH] [-F HEXFH] PORT EXPORT PATH CMD ARGS...
 *
 * Talks to 127.0.0.1:PORT over one TCP connection (bound to loopback
 * address SRC with -b) for MOUNT, NFS and NLM alike. The file is PATH
 * (components looked up from EXPORT's root handle), or the handle given in
 * hex by -F (then EXPORT and PATH are not used). CALLER (default "nlmc"),
 * SVID (1) and OH ("oh") make the lock owner. CMD:
 *   fh                        print the handle in hex
 *   test s|x OFF LEN          NLM4_TEST; a DENIED answer shows the holder
 *   lock s|x nb|block OFF LEN NLM4_LOCK
 *   unlock OFF LEN            NLM4_UNLOCK
 *   cancel s|x OFF LEN        NLM4_CANCEL (blocking)
 *   flood N                   N exclusive LOCKs of bytes 0, 2, 4...; prints
 *                             how many got each answer ("GRANTED 256 ...")
 *   notify NAME               NSM SM_NOTIFY with mon_name NAME (no answer
 *                             but the RPC's own)
 * Prints the nlm4_stats name (NLM4_GRANTED ...) and exits 0 when the
 * server answered; on an RPC failure says why on stderr and exits 1.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <nfsc/libnfs.h>
#include <nfsc/libnfs-raw.h>
#include <nfsc/libnfs-raw-mount.h>
#include <nfsc/libnfs-raw-nfs.h>
#include <nfsc/libnfs-raw-nlm.h>
#include <nfsc/libnfs-raw-nsm.h>

#define TIMEOUT_S 10

static const char *const stat_names[] = {
    "NLM4_GRANTED",
    "NLM4_DENIED",
    "NLM4_DENIED_NOLOCKS",
    "NLM4_BLOCKED",
    "NLM4_DENIED_GRACE_PERIOD",
    "NLM4_DEADLCK",
    "NLM4_ROFS",
    "NLM4_STALE_FH",
    "NLM4_FBIG",
    "NLM4_FAILED",
};

/* One call in flight: what its callback saw. */
struct call {
	int done, status;
	int stat; /* nlm4_stats, mountstat3 or nfsstat3 */
	char fh[128];
	unsigned fhlen;
	NLM4_TESTres test; /* holder fields, copied */
	char holder_oh[1025];
};

static const char *stat_name(int s)
{
	return s >= 0 && s < (int)(sizeof(stat_names) / sizeof(stat_names[0])) ? stat_names[s]
									       : "NLM4_?";
}

static void die(const char *what, struct rpc_context *rpc)
{
	fprintf(stderr, "nlmc: %s: %s\n", what, rpc ? rpc_get_error(rpc) : "failed");
	exit(1);
}

static void wait_call(struct rpc_context *rpc, struct call *c, const char *what)
{
	time_t deadline = time(NULL) + TIMEOUT_S;

	while (!c->done) {
		struct pollfd p = {.fd = rpc_get_fd(rpc), .events = rpc_which_events(rpc)};
		int n = poll(&p, 1, 100);

		if (n < 0 || rpc_service(rpc, n > 0 ? p.revents : 0) < 0)
			die(what, rpc);
		if (time(NULL) > deadline) {
			fprintf(stderr, "nlmc: %s: no answer in %d s\n", what, TIMEOUT_S);
			exit(1);
		}
	}
	if (c->status != RPC_STATUS_SUCCESS)
		die(what, rpc);
}

static void cb_done(struct rpc_context *rpc, int status, void *data, void *priv)
{
	struct call *c = priv;

	(void)rpc, (void)data;
	c->status = status;
	c->done = 1;
}

static void cb_mnt(struct rpc_context *rpc, int status, void *data, void *priv)
{
	struct call *c = priv;
	mountres3 *res = data;

	cb_done(rpc, status, data, priv);
	if (status != RPC_STATUS_SUCCESS)
		return;
	c->stat = res->fhs_status;
	if (res->fhs_status == MNT3_OK &&
	    res->mountres3_u.mountinfo.fhandle.fhandle3_len <= sizeof(c->fh)) {
		c->fhlen = res->mountres3_u.mountinfo.fhandle.fhandle3_len;
		memcpy(c->fh, res->mountres3_u.mountinfo.fhandle.fhandle3_val, c->fhlen);
	}
}

static void cb_lookup(struct rpc_context *rpc, int status, void *data, void *priv)
{
	struct call *c = priv;
	LOOKUP3res *res = data;

	cb_done(rpc, status, data, priv);
	if (status != RPC_STATUS_SUCCESS)
		return;
	c->stat = res->status;
	if (res->status == NFS3_OK &&
	    res->LOOKUP3res_u.resok.object.data.data_len <= sizeof(c->fh)) {
		c->fhlen = res->LOOKUP3res_u.resok.object.data.data_len;
		memcpy(c->fh, res->LOOKUP3res_u.resok.object.data.data_val, c->fhlen);
	}
}

/* LOCK, UNLOCK and CANCEL results all start cookie, stat. */
static void cb_res(struct rpc_context *rpc, int status, void *data, void *priv)
{
	struct call *c = priv;

	cb_done(rpc, status, data, priv);
	if (status == RPC_STATUS_SUCCESS)
		c->stat = ((NLM4_LOCKres *)data)->status;
}

static void cb_test(struct rpc_context *rpc, int status, void *data, void *priv)
{
	struct call *c = priv;
	NLM4_TESTres *res = data;

	cb_done(rpc, status, data, priv);
	if (status != RPC_STATUS_SUCCESS)
		return;
	c->stat = res->reply.status;
	c->test = *res;
	if (res->reply.status == NLM4_DENIED && res->reply.nlm4_testreply_u.lock.holder.oh)
		snprintf(c->holder_oh, sizeof(c->holder_oh), "%s",
			 res->reply.nlm4_testreply_u.lock.holder.oh);
}

static void cb_connect(struct rpc_context *rpc, int status, void *data, void *priv)
{
	cb_done(rpc, status, data, priv);
}

/* Replace the connection's socket with one from @src to the same server. */
static void rebind(struct rpc_context *rpc, const char *src, int port)
{
	struct sockaddr_in from = {.sin_family = AF_INET}, to = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	to.sin_port = htons((uint16_t)port);
	inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
	if (fd < 0 || inet_pton(AF_INET, src, &from.sin_addr) != 1 ||
	    bind(fd, (struct sockaddr *)&from, sizeof(from)) < 0 ||
	    connect(fd, (struct sockaddr *)&to, sizeof(to)) < 0) {
		perror("nlmc: -b");
		exit(1);
	}
	fcntl(fd, F_SETFL, O_NONBLOCK);
	if (dup2(fd, rpc_get_fd(rpc)) < 0) {
		perror("nlmc: dup2");
		exit(1);
	}
	close(fd);
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The file's handle: MNT of @export, then LOOKUP of each component of @path. */
static void resolve(struct rpc_context *rpc, char *export, char *path, struct call *fh)
{
	struct call c = {0};
	char *save, *comp;

	if (rpc_mount3_mnt_async(rpc, cb_mnt, export, &c))
		die("mnt", rpc);
	wait_call(rpc, &c, "mnt");
	if (c.stat != MNT3_OK) {
		fprintf(stderr, "nlmc: mnt %s: status %d\n", export, c.stat);
		exit(1);
	}
	*fh = c;
	for (comp = strtok_r(path, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
		LOOKUP3args args = {0};

		memset(&c, 0, sizeof(c));
		args.what.dir.data.data_len = fh->fhlen;
		args.what.dir.data.data_val = fh->fh;
		args.what.name = comp;
		if (rpc_nfs3_lookup_async(rpc, cb_lookup, &args, &c))
			die("lookup", rpc);
		wait_call(rpc, &c, "lookup");
		if (c.stat != NFS3_OK) {
			fprintf(stderr, "nlmc: lookup %s: status %d\n", comp, c.stat);
			exit(1);
		}
		*fh = c;
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: nlmc [-b src] [-c caller] [-s svid] [-o oh] [-F hexfh] PORT EXPORT "
			"PATH CMD ARGS...\n");
	exit(2);
}

static uint32_t kind(const char *s)
{
	if (strcmp(s, "x") && strcmp(s, "s"))
		usage();
	return s[0] == 'x';
}

int main(int argc, char **argv)
{
	char *src = NULL, *caller = "nlmc", *oh = "oh", *hexfh = NULL, *cmd;
	struct rpc_context *rpc;
	struct call fh = {0}, c = {0};
	nlm4_lock lk = {0};
	int opt, port;
	unsigned svid = 1;

	while ((opt = getopt(argc, argv, "b:c:s:o:F:")) != -1) {
		switch (opt) {
		case 'b':
			src = optarg;
			break;
		case 'c':
			caller = optarg;
			break;
		case 's':
			svid = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'o':
			oh = optarg;
			break;
		case 'F':
			hexfh = optarg;
			break;
		default:
			usage();
		}
	}
	if (argc - optind < 4)
		usage();
	port = atoi(argv[optind]);
	cmd = argv[optind + 3];
	argv += optind + 4;
	argc -= optind + 4;

	rpc = rpc_init_context();
	if (!rpc)
		die("init", NULL);
	if (rpc_connect_port_async(rpc, "127.0.0.1", port, NLM_PROGRAM, NLM_V4, cb_connect, &c))
		die("connect", rpc);
	wait_call(rpc, &c, "connect");
	if (src)
		rebind(rpc, src, port);

	if (hexfh) {
		size_t n = strlen(hexfh) / 2;

		for (size_t i = 0; i < n && i < sizeof(fh.fh); i++) {
			int hi = hexval(hexfh[2 * i]), lo = hexval(hexfh[2 * i + 1]);

			if (hi < 0 || lo < 0)
				usage();
			fh.fh[i] = (char)(hi << 4 | lo);
		}
		fh.fhlen = n < sizeof(fh.fh) ? n : sizeof(fh.fh);
	} else if (strcmp(cmd, "notify") != 0) {
		resolve(rpc, argv[-3], argv[-2], &fh);
	}
	lk.caller_name = caller;
	lk.fh.data.data_len = fh.fhlen;
	lk.fh.data.data_val = fh.fh;
	lk.oh = oh;
	lk.svid = svid;

	memset(&c, 0, sizeof(c));
	if (!strcmp(cmd, "fh")) {
		for (unsigned i = 0; i < fh.fhlen; i++)
			printf("%02x", (unsigned char)fh.fh[i]);
		printf("\n");
		return 0;
	} else if (!strcmp(cmd, "test") && argc == 3) {
		NLM4_TESTargs a = {.exclusive = kind(argv[0]), .lock = lk};
		nlm4_holder *h = &c.test.reply.nlm4_testreply_u.lock.holder;

		a.lock.l_offset = strtoull(argv[1], NULL, 10);
		a.lock.l_len = strtoull(argv[2], NULL, 10);
		if (rpc_nlm4_test_async(rpc, cb_test, &a, &c))
			die("test", rpc);
		wait_call(rpc, &c, "test");
		if (c.stat == NLM4_DENIED)
			printf("%s excl=%u svid=%u oh=%s off=%llu len=%llu\n", stat_name(c.stat),
			       h->exclusive, h->svid, c.holder_oh, (unsigned long long)h->l_offset,
			       (unsigned long long)h->l_len);
		else
			printf("%s\n", stat_name(c.stat));
		return 0;
	} else if (!strcmp(cmd, "lock") && argc == 4) {
		NLM4_LOCKargs a = {
		    .exclusive = kind(argv[0]), .block = !strcmp(argv[1], "block"), .lock = lk};

		a.lock.l_offset = strtoull(argv[2], NULL, 10);
		a.lock.l_len = strtoull(argv[3], NULL, 10);
		if (rpc_nlm4_lock_async(rpc, cb_res, &a, &c))
			die("lock", rpc);
		wait_call(rpc, &c, "lock");
	} else if (!strcmp(cmd, "unlock") && argc == 2) {
		NLM4_UNLOCKargs a = {.lock = lk};

		a.lock.l_offset = strtoull(argv[0], NULL, 10);
		a.lock.l_len = strtoull(argv[1], NULL, 10);
		if (rpc_nlm4_unlock_async(rpc, cb_res, &a, &c))
			die("unlock", rpc);
		wait_call(rpc, &c, "unlock");
	} else if (!strcmp(cmd, "cancel") && argc == 3) {
		NLM4_CANCargs a = {.block = 1, .exclusive = kind(argv[0]), .lock = lk};

		a.lock.l_offset = strtoull(argv[1], NULL, 10);
		a.lock.l_len = strtoull(argv[2], NULL, 10);
		if (rpc_nlm4_cancel_async(rpc, cb_res, &a, &c))
			die("cancel", rpc);
		wait_call(rpc, &c, "cancel");
	} else if (!strcmp(cmd, "flood") && argc == 1) {
		int n = atoi(argv[0]), count[10] = {0};

		for (int i = 0; i < n; i++) {
			NLM4_LOCKargs a = {.exclusive = 1, .lock = lk};

			memset(&c, 0, sizeof(c));
			a.lock.l_offset = 2 * (uint64_t)i;
			a.lock.l_len = 1;
			if (rpc_nlm4_lock_async(rpc, cb_res, &a, &c))
				die("lock", rpc);
			wait_call(rpc, &c, "lock");
			if (c.stat >= 0 && c.stat < 10)
				count[c.stat]++;
		}
		for (int s = 0; s < 10; s++)
			if (count[s])
				printf("%s %d ", stat_name(s) + 5, count[s]);
		printf("\n");
		return 0;
	} else if (!strcmp(cmd, "notify") && argc == 1) {
		struct NSM1_NOTIFYargs a = {.mon_name = argv[0], .state = 3};

		if (rpc_nsm1_notify_async(rpc, cb_done, &a, &c))
			die("notify", rpc);
		wait_call(rpc, &c, "notify");
		printf("notified\n");
		return 0;
	} else {
		usage();
	}
	printf("%s\n", stat_name(c.stat));
	rpc_destroy_context(rpc);
	return 0;
}
