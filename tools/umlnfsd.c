/*
 * umlnfsd: a standalone NFSv3 server for a libuml machine.
 *
 *   umlnfsd [-l host:port] [-T tcp|udp|tcp+udp] [-w nprocs] [-m memory] [-s scratch]
 *           [-k keyfile] [-S image[:size]] [-L lease]
 *           [-e path:ro|rw[,secure]:client,client...]... [-p /path=content]...
 *           [-I /dir=nfs://host[:port]/export[?...][ options]]... [-P pidfile] [-f]
 *           [-r | -R] [-i tap:address/prefix[,gateway][+address6/prefix[,gateway6]]]
 *
 * Boots a machine, creates the files given with -p, exports the tree (by
 * default / read-only to 127.0.0.1 and ::1) and serves it over TCP (-T to
 * add or choose UDP) with nprocs worker processes, each attached as a CPU of
 * the machine. File handles are keyed by the secret in -k's file (made there
 * when missing), else by one made at boot. The parent restarts
 * workers that die and stops them all on SIGTERM or SIGINT; SIGUSR1 prints
 * the service's counters. -s caps what
 * clients' files may hold (uml_fs_scratch_limit; default half of the
 * memory). -S keeps the tree in a state image (made with @size bytes,
 * default 16M, when missing): clients' files and their contents survive a
 * restart, and their handles too when -k keeps the handles' key; a stable
 * write is on disk before its reply; the -p files are put after it is
 * loaded. -I imports a remote export at /dir, a read-only copy kept by the
 * machine's own NFS client (uml_mount_nfs; options after a space, such as
 * "interval=500,maxfile=4096"); the workers share the polling. Clients'
 * locks (NLM, on the same port) of a client silent for -L seconds (default
 * 600, 0: never) are broken when another client asks for them
 * (uml_nfs_lock_lease).
 * -r registers the programs with the host's rpcbind once serving (an
 * entry a live server holds is left to it; -R takes those too) and
 * withdraws them at a clean stop, so that clients that know only the host
 * find us (a plain `mount -t nfs host:/ /mnt`).
 * -i gives the machine an interface of its own on the host's TAP device
 * (made multi-queue beforehand: `ip tuntap add NAME mode tap multi_queue`)
 * with that address, and serves NFS there too, on -l's port (2049 when -l
 * says 0), over the machine's own TCP/IP stack: each worker reads its own
 * queue of the device. After a "+", an IPv6 address/prefix (and gateway)
 * beside the IPv4 one: the machine answers neighbour discovery and ping -6
 * there and on its link-local address, and NFS and MOUNT listen on "::",
 * every address of both families (the export lists take IPv6 clients and
 * prefixes: "fd00::/64"). The machine answers rpcbind on port 111 of its
 * addresses itself (-r and -R are for the host's), so its clients need no
 * ports either.
 * Port 0 picks a free port;
 * the line "umlnfsd: ready on HOST:PORT" on stderr says which.
 *
 * It uses nothing but libuml/uml.h: libuml is usable by any C program.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "uml.h"

#define MAX_WORKERS 64
#define MAX_EXPORTS 16
#define MAX_FILES   256
#define MAX_CLIENTS 16
#define MAX_IMPORTS 4

struct worker {
	pid_t pid;
	time_t started;
};

static struct uml_nfs_listener listener;
static struct worker workers[MAX_WORKERS];
static int nworkers = 2;
static int nimports;
static char net_tap[16]; /* -i: the machine's interface; "" without one */

/* What a worker runs on its CPU, and stops when asked to. */
static struct {
	uml_nfs_server_t *srv;
	uml_net_queue_t *queue;
} on_cpu;

static void worker_stop(void *arg)
{
	(void)arg;
	if (nimports)
		uml_import_stop();
	if (on_cpu.srv)
		uml_nfs_stop(on_cpu.srv);
	uml_net_if_stop(on_cpu.queue);
	on_cpu.srv = NULL;
	on_cpu.queue = NULL;
}

/*
 * A worker of a machine with imports or an interface of its own: the
 * service, an importer per import and the interface's queue, all on its CPU.
 */
static int serve_on_cpu(int stop_fd)
{
	int rc = uml_cpu_init();

	if (rc)
		return rc;
	if (net_tap[0]) {
		rc = uml_net_if_start(net_tap, &on_cpu.queue);
		if (rc)
			fprintf(stderr, "umlnfsd: -i %s: this worker's queue: %s\n", net_tap,
				strerror(-rc));
	}
	if (rc == 0)
		rc = uml_nfs_start(&listener, &on_cpu.srv);
	if (rc == 0 && nimports)
		rc = uml_import_start(NULL, NULL);
	if (rc >= 0)
		rc = uml_cpu_stop_on_fd(stop_fd, worker_stop, NULL);
	if (rc < 0)
		worker_stop(NULL);
	uml_cpu_run(true);
	uml_cpu_exit();
	return rc < 0 ? rc : 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: umlnfsd [-l host:port] [-T tcp|udp|tcp+udp] [-w nprocs]\n"
		"               [-m memory[K|M|G]] [-s scratch[K|M|G]] [-k keyfile]\n"
		"               [-S image[:size[K|M|G]]] [-L lease-seconds]\n"
		"               [-e path:ro|rw[,secure]:client,client...]...\n"
		"               [-I /dir=nfs://host[:port]/export[?...][ options]]...\n"
		"               [-p /path=content]... [-P pidfile] [-f] [-r | -R]\n"
		"               [-i tap:address/prefix[,gateway][+address6/prefix[,gateway6]]]\n");
	exit(2);
}

static void die(const char *what, int err)
{
	fprintf(stderr, "umlnfsd: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

/* "1.2.3.4:2049", "[::1]:2049" -> host and port. */
static void parse_listen(char *arg, char **host, int *port)
{
	char *colon = strrchr(arg, ':'), *end;

	if (!colon)
		usage();
	*colon = '\0';
	*port = (int)strtol(colon + 1, &end, 10);
	if (*end || *port < 0 || *port > 65535)
		usage();
	*host = arg;
	if (arg[0] == '[' && colon > arg && colon[-1] == ']') {
		colon[-1] = '\0';
		*host = arg + 1;
	}
}

/* "path:rw,secure:127.0.0.1,::1": clients are the rest after the second ':'. */
static void add_export(char *arg)
{
	const char *clients[MAX_CLIENTS];
	char *mode, *list, *tok, *save, err[256];
	unsigned flags = 0;
	size_t n = 0;
	int rc;

	mode = strchr(arg, ':');
	if (!mode)
		usage();
	*mode++ = '\0';
	list = strchr(mode, ':');
	if (!list)
		usage();
	*list++ = '\0';
	for (tok = strtok_r(mode, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (strcmp(tok, "rw") == 0)
			flags |= UML_NFS_RW;
		else if (strcmp(tok, "secure") == 0)
			flags |= UML_NFS_SECURE;
		else if (strcmp(tok, "ro") != 0)
			usage();
	}
	for (tok = strtok_r(list, ",", &save); tok && n < MAX_CLIENTS;
	     tok = strtok_r(NULL, ",", &save))
		clients[n++] = tok;
	rc = uml_nfs_export(arg, flags, clients, n, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "umlnfsd: -e %s: %s\n", arg, err);
		exit(1);
	}
}

/* "/dir/file=content": parents are made as needed. */
static void add_file(char *arg)
{
	char *eq = strchr(arg, '='), *slash;
	int rc;

	if (!eq || arg[0] != '/')
		usage();
	*eq = '\0';
	slash = strrchr(arg, '/');
	if (slash != arg) {
		*slash = '\0';
		rc = uml_mkdir_p(arg, 0755);
		*slash = '/';
		if (rc)
			die(arg, rc);
	}
	rc = uml_put_file(arg, 0644, eq + 1, strlen(eq + 1));
	if (rc)
		die(arg, rc);
}

/* "/dir=nfs://host/export[ options]". */
static void add_import(char *arg)
{
	char *eq = strchr(arg, '='), *sp, why[200] = "";
	int rc;

	if (!eq || arg[0] != '/')
		usage();
	*eq = '\0';
	sp = strchr(eq + 1, ' ');
	if (sp)
		*sp++ = '\0';
	rc = uml_mount_nfs(eq + 1, arg, sp, why, sizeof(why));
	if (rc < 0) {
		fprintf(stderr, "umlnfsd: -I %s=%s: %s\n", arg, eq + 1,
			why[0] ? why : strerror(-rc));
		exit(1);
	}
}

/* "tap:10.0.0.2/24[,10.0.0.1][+fd00::2/64[,fd00::1]]": the machine's interface; exits on a bad one.
 */
static void add_interface(char *arg)
{
	char *colon = strchr(arg, ':'), *comma, *plus, *comma6 = NULL, err[256];
	int rc;

	if (!colon)
		usage();
	*colon = '\0';
	plus = strchr(colon + 1, '+');
	if (plus) {
		*plus++ = '\0';
		comma6 = strchr(plus, ',');
		if (comma6)
			*comma6++ = '\0';
	}
	comma = strchr(colon + 1, ',');
	if (comma)
		*comma++ = '\0';
	rc = uml_net_if_add6(arg, colon + 1, comma, plus, comma6, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "umlnfsd: -i: %s\n", err);
		exit(1);
	}
	snprintf(net_tap, sizeof(net_tap), "%s", arg);
}

/* The service's counters on stderr: at a stop, and on SIGUSR1 while running. */
static void print_stats(const char *what)
{
	struct uml_nfs_lock_stats ls;
	struct uml_nfs_stats st;

	uml_nfs_stats(&st);
	uml_nfs_lock_stats(&ls);
	fprintf(stderr,
		"umlnfsd: %s: %llu calls, %llu errors, %llu garbage, %llu connections, "
		"%llu refused, %llu unlisted\n",
		what, (unsigned long long)st.calls, (unsigned long long)st.errors,
		(unsigned long long)st.garbage, (unsigned long long)st.connections,
		(unsigned long long)st.refused, (unsigned long long)st.unlisted);
	fprintf(stderr,
		"umlnfsd: %s: locks %llu held, %llu shares, %llu hosts, %llu granted, %llu denied, "
		"%llu blocked, %llu nolocks, %llu refused, %llu notify-freed, %llu lease-broken, "
		"%llu repairs\n",
		what, (unsigned long long)ls.held, (unsigned long long)ls.shares,
		(unsigned long long)ls.hosts, (unsigned long long)ls.granted,
		(unsigned long long)ls.denied, (unsigned long long)ls.blocked,
		(unsigned long long)ls.nolocks, (unsigned long long)ls.refused,
		(unsigned long long)ls.notify_freed, (unsigned long long)ls.lease_broken,
		(unsigned long long)ls.repairs);
	if (net_tap[0]) {
		char net[8192];

		uml_net_status(net, sizeof(net));
		fprintf(stderr, "umlnfsd: %s: the machine's network:\n%s", what, net);
	}
}

static void worker_main(pid_t parent)
{
	sigset_t stop;
	int cpu, fd, rc;

	/* A worker must not outlive the parent that would restart or stop it. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(0);
	cpu = uml_attach();
	if (cpu < 0) {
		fprintf(stderr, "umlnfsd: attach: %s\n", strerror(-cpu));
		_exit(1);
	}
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	/* The signals stay blocked (inherited): the stop request arrives as a readable fd. */
	fd = signalfd(-1, &stop, SFD_CLOEXEC);
	if (fd < 0)
		_exit(1);
	rc = nimports || net_tap[0] ? serve_on_cpu(fd) : uml_nfs_serve(&listener, fd);
	uml_detach();
	if (rc)
		fprintf(stderr, "umlnfsd: serve: %s\n", strerror(-rc));
	_exit(rc ? 1 : 0);
}

static void worker_start(struct worker *w)
{
	pid_t parent = getpid(), pid = fork();

	if (pid < 0) {
		perror("umlnfsd: fork");
		return;
	}
	if (pid == 0)
		worker_main(parent);
	w->pid = pid;
	w->started = time(NULL);
}

static void stop_workers(void)
{
	int i;

	for (i = 0; i < nworkers; i++)
		if (workers[i].pid > 0)
			kill(workers[i].pid, SIGTERM);
	for (i = 0; i < nworkers; i++)
		if (workers[i].pid > 0)
			waitpid(workers[i].pid, NULL, 0);
}

static void reap_and_restart(void)
{
	pid_t pid;
	int i, status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < nworkers; i++) {
			if (workers[i].pid != pid)
				continue;
			fprintf(stderr, "umlnfsd: worker %d exited (status 0x%x), restarting\n",
				(int)pid, status);
			/* A worker that dies at once would otherwise be forked in a tight loop. */
			if (time(NULL) - workers[i].started < 1)
				sleep(1);
			workers[i].pid = 0;
		}
	}
	uml_reap();
	for (i = 0; i < nworkers; i++)
		if (workers[i].pid == 0)
			worker_start(&workers[i]);
}

static void describe_listener(char *buf, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char a[INET6_ADDRSTRLEN] = "?";

	if (getsockname(listener.tcp_fd >= 0 ? listener.tcp_fd : listener.udp_fd,
			(struct sockaddr *)&ss, &len) < 0) {
		snprintf(buf, size, "?");
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		snprintf(buf, size, "[%s]:%u", a, ntohs(s6->sin6_port));
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		snprintf(buf, size, "%s:%u", a, ntohs(s4->sin_port));
	}
}

int main(int argc, char **argv)
{
	char *exports[MAX_EXPORTS], *files[MAX_FILES], *imports[MAX_IMPORTS], *host, where[80];
	char *iface = NULL, *net_addr = NULL;
	char listen_arg[128] = "127.0.0.1:2049", err[256];
	const char *pidfile = NULL, *keyfile = NULL;
	char *image = NULL, *isize;
	size_t image_size = 0;
	unsigned protos = UML_NFS_TCP;
	struct uml_boot_params bp = {0};
	size_t scratch = 0;
	long lease = -1;
	int nexports = 0, nfiles = 0, port, opt, i, rc, sfd;
	bool foreground = false, running = true, registered = false;
	int reg = -1; /* -1: don't register; else uml_nfs_register's flags */
	sigset_t sigs;

	while ((opt = getopt(argc, argv, "l:T:w:m:s:k:e:p:P:fS:I:L:rRi:")) != -1) {
		switch (opt) {
		case 'l':
			snprintf(listen_arg, sizeof(listen_arg), "%s", optarg);
			break;
		case 'T':
			if (strcmp(optarg, "tcp") == 0)
				protos = UML_NFS_TCP;
			else if (strcmp(optarg, "udp") == 0)
				protos = UML_NFS_UDP;
			else if (strcmp(optarg, "tcp+udp") == 0)
				protos = UML_NFS_TCP | UML_NFS_UDP;
			else
				usage();
			break;
		case 's':
			if (uml_parse_size(optarg, &scratch))
				usage();
			break;
		case 'k':
			keyfile = optarg;
			break;
		case 'L': {
			char *end;

			lease = strtol(optarg, &end, 10);
			if (*end || end == optarg || lease < 0 || lease > 100000000)
				usage();
			break;
		}
		case 'S':
			image = optarg;
			isize = strrchr(image, ':');
			if (isize) {
				*isize++ = '\0';
				if (uml_parse_size(isize, &image_size))
					usage();
			}
			break;
		case 'w':
			nworkers = atoi(optarg);
			if (nworkers < 1 || nworkers > MAX_WORKERS)
				usage();
			break;
		case 'm':
			if (uml_parse_memory(optarg, &bp.memory))
				usage();
			break;
		case 'e':
			if (nexports == MAX_EXPORTS)
				usage();
			exports[nexports++] = optarg;
			break;
		case 'p':
			if (nfiles == MAX_FILES)
				usage();
			files[nfiles++] = optarg;
			break;
		case 'I':
			if (nimports == MAX_IMPORTS)
				usage();
			imports[nimports++] = optarg;
			break;
		case 'P':
			pidfile = optarg;
			break;
		case 'f':
			foreground = true;
			break;
		case 'r':
			reg = 0;
			break;
		case 'R':
			reg = UML_NFS_REGISTER_FORCE;
			break;
		case 'i':
			iface = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	parse_listen(listen_arg, &host, &port);

	rc = uml_boot(&bp);
	if (rc)
		die("boot", rc);
	rc = uml_fs_scratch_limit(scratch);
	if (rc)
		die("-s (more than the machine's memory?)", rc);
	if (keyfile && (rc = uml_nfs_key_file(keyfile, err, sizeof(err)))) {
		fprintf(stderr, "umlnfsd: -k %s: %s\n", keyfile, err);
		exit(1);
	}
	if (lease >= 0 && (rc = uml_nfs_lock_lease((unsigned)lease)))
		die("-L", rc);
	if (image) {
		rc = uml_state_open(image, image_size, UML_STATE_CREATE, err, sizeof(err));
		if (rc) {
			fprintf(stderr, "umlnfsd: -S %s\n", err);
			exit(1);
		}
	}
	for (i = 0; i < nfiles; i++)
		add_file(files[i]);
	for (i = 0; i < nimports; i++)
		add_import(imports[i]);
	uml_nfs_exports_clear();
	if (nexports == 0) {
		static char dflt[] = "/:ro:127.0.0.1,::1";

		add_export(dflt);
	}
	for (i = 0; i < nexports; i++)
		add_export(exports[i]);
	rc = uml_nfs_listen(host, port, protos, &listener);
	if (rc)
		die(listen_arg, rc);
	if (iface) {
		struct uml_nfs_listener net;
		char *cidr;

		/* With an IPv6 address too, every address of the machine's (they are this one's).
		 */
		bool six = strchr(iface, '+') != NULL;

		add_interface(iface);
		cidr = iface + strlen(iface) + 1;
		net_addr = cidr;
		*strchr(cidr, '/') = '\0';
		/* The machine is a host of its own there: it answers rpcbind itself. */
		rc = uml_nfs_listen_net(six ? "::" : net_addr, port ? port : 2049,
					protos | UML_NFS_RPCBIND, &net);
		if (rc)
			die("-i: listen on the machine's address", rc);
		listener.net_tcp = net.net_tcp;
		listener.net_udp = net.net_udp;
		listener.net_rpcb_tcp = net.net_rpcb_tcp;
		listener.net_rpcb_udp = net.net_rpcb_udp;
	}

	if (!foreground && daemon(0, 1) < 0)
		die("daemon", errno);

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGCHLD);
	sigaddset(&sigs, SIGUSR1);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	if (sfd < 0)
		die("signalfd", errno);

	for (i = 0; i < nworkers; i++)
		worker_start(&workers[i]);
	if (pidfile) {
		FILE *f = fopen(pidfile, "w");

		if (!f)
			die(pidfile, errno);
		fprintf(f, "%d\n", (int)getpid());
		fclose(f);
	}
	/* Serving first: a client rpcbind sends our way must find us answering. */
	if (reg >= 0) {
		char msg[1024];

		rc = uml_nfs_register(&listener, (unsigned)reg, msg, sizeof(msg));
		fprintf(stderr, "umlnfsd: rpcbind: %s%s\n", msg,
			rc == -EBUSY ? " (-R takes them)" : "");
		registered = rc != -ENOENT;
	}
	describe_listener(where, sizeof(where));
	if (net_addr)
		fprintf(stderr, "umlnfsd: ready on %s and %s:%d (%s)\n", where, net_addr,
			port ? port : 2049, net_tap);
	else
		fprintf(stderr, "umlnfsd: ready on %s\n", where);

	while (running) {
		struct signalfd_siginfo si;

		if (read(sfd, &si, sizeof(si)) != sizeof(si)) {
			if (errno == EINTR)
				continue;
			die("signalfd read", errno);
		}
		if (si.ssi_signo == SIGCHLD)
			reap_and_restart();
		else if (si.ssi_signo == SIGUSR1)
			print_stats("counters");
		else
			running = false;
	}
	/* Withdrawn before we stop answering, so no client is sent to a dead port. */
	if (registered) {
		char msg[1024];

		uml_nfs_unregister(&listener, msg, sizeof(msg));
		fprintf(stderr, "umlnfsd: rpcbind: %s\n", msg);
	}
	stop_workers();
	uml_nfs_unlisten(&listener);
	uml_reap();
	/* Unstable writes nobody committed yet go to disk too: a clean stop loses nothing. */
	if (image && uml_state_sync() != 0)
		fprintf(stderr, "umlnfsd: %s: the last changes could not be synced\n", image);
	if (pidfile)
		unlink(pidfile);
	print_stats("stopped");
	return 0;
}
