/*
 * umlmon: watch a fleet of httpd instances that run mod_umlconf and steer
 * their knobs. See umlmon.h for the parts and README for the config file.
 *
 *   umlmon [-c FILE] [-i NAME=URL]... [-n] [-V|-Q] [-N host:port] [-H host:port]
 *          [-L FILE] [-P FILE]
 *
 * The machine it boots holds its own tree (export.c), served over NFS when
 * an address is given; its one CPU runs that service and a poller per
 * instance.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include "uml.h"
#include "umlmon.h"

struct mon_fleet fleet = {.lock = PTHREAD_MUTEX_INITIALIZER};
FILE *mon_log;
static int stop_fd = -1;

void mon_logf(const char *fmt, ...)
{
	double now = mon_now();
	time_t secs = (time_t)now;
	char when[40];
	struct tm tm;
	va_list ap;

	if (!mon_log)
		return;
	gmtime_r(&secs, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	flockfile(mon_log);
	fprintf(mon_log, "%s.%03dZ ", when, (int)((now - (double)secs) * 1000));
	va_start(ap, fmt);
	vfprintf(mon_log, fmt, ap);
	va_end(ap);
	fputc('\n', mon_log);
	fflush(mon_log);
	funlockfile(mon_log);
}

void mon_request_stop(void)
{
	uint64_t one = 1;

	/* From a signal handler too: write(2) is async-signal-safe. */
	if (write(stop_fd, &one, sizeof(one)) < 0)
		return;
}

static void on_signal(int sig)
{
	(void)sig;
	mon_request_stop();
}

static void usage(void)
{
	fprintf(stderr,
		"usage: umlmon [-c config] [-i name=nfs://host[:port]/path]... [-n]\n"
		"              [-V | -Q] [-N host:port] [-H host:port] [-L logfile] [-P pidfile]\n"
		"  -c  the config file (instances, policies, listeners; see README)\n"
		"  -i  watch an instance (more after the config file's)\n"
		"  -n  dry run: decide and log, never write a knob\n"
		"  -V  the terminal view (the default on a terminal); -Q: no view\n"
		"  -N  export the monitor's own tree over NFS here\n"
		"  -H  serve the dashboard here\n"
		"  -L  log actions and reachability changes to this file (default: stderr\n"
		"      without the view)\n");
	exit(2);
}

static int export_up(struct mon_config *c, struct uml_nfs_listener *l, char *why, size_t whylen)
{
	char host[64], list[sizeof(c->nfs_clients)], *save = NULL;
	const char *clients[16];
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	size_t n = 0;
	int port, rc;

	if (mon_parse_listen(c->nfs_listen, host, sizeof(host), &port)) {
		snprintf(why, whylen, "nfs %s: not host:port", c->nfs_listen);
		return -EINVAL;
	}
	snprintf(list, sizeof(list), "%s", c->nfs_clients);
	for (char *t = strtok_r(list, ",", &save); t && n < 16; t = strtok_r(NULL, ",", &save)) {
		if (uml_nfs_client_valid(t)) {
			snprintf(why, whylen, "nfs clients: %s is not an address or prefix", t);
			return -EINVAL;
		}
		clients[n++] = t;
	}
	uml_nfs_exports_clear();
	rc = uml_nfs_export("/", UML_NFS_RW, clients, n, why, whylen);
	if (rc)
		return rc;
	rc = uml_nfs_listen(host, port, UML_NFS_TCP, l);
	if (rc) {
		snprintf(why, whylen, "nfs %s: %s", c->nfs_listen, strerror(-rc));
		return rc;
	}
	/* Port 0 took a free one: say which. */
	if (port == 0 && getsockname(l->tcp_fd, (struct sockaddr *)&ss, &sl) == 0)
		snprintf(c->nfs_listen, sizeof(c->nfs_listen),
			 strchr(host, ':') ? "[%s]:%u" : "%s:%u", host,
			 ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
							: ((struct sockaddr_in *)&ss)->sin_port));
	return 0;
}

static uml_nfs_server_t *nfs_srv;

static void stop_all(void *arg)
{
	(void)arg;
	mon_pollers_stop();
	if (nfs_srv)
		uml_nfs_stop(nfs_srv);
}

static void die(const char *what)
{
	fprintf(stderr, "umlmon: %s\n", what);
	exit(1);
}

int main(int argc, char **argv)
{
	const char *conf = NULL, *logfile = NULL, *pidfile = NULL, *nfs = NULL, *http = NULL;
	struct uml_boot_params bp = {0};
	struct uml_nfs_listener listener = {-1, -1};
	char why[256], *inst[MON_MAX_INSTANCES];
	int ninst = 0, opt, rc, view = -1;
	bool dry = false;
	struct sigaction sa = {.sa_handler = on_signal};

	while ((opt = getopt(argc, argv, "c:i:nVQN:H:L:P:h")) != -1) {
		switch (opt) {
		case 'c':
			conf = optarg;
			break;
		case 'i':
			if (ninst == MON_MAX_INSTANCES)
				die("too many -i");
			inst[ninst++] = optarg;
			break;
		case 'n':
			dry = true;
			break;
		case 'V':
			view = 1;
			break;
		case 'Q':
			view = 0;
			break;
		case 'N':
			nfs = optarg;
			break;
		case 'H':
			http = optarg;
			break;
		case 'L':
			logfile = optarg;
			break;
		case 'P':
			pidfile = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();

	mon_conf_defaults(&fleet.cfg);
	if (conf && mon_conf_load(&fleet, conf, why, sizeof(why)))
		die(why);
	for (int i = 0; i < ninst; i++) {
		char *eq = strchr(inst[i], '=');

		if (!eq)
			die("-i takes name=nfs://host[:port]/path");
		*eq = '\0';
		if (mon_instance_add(&fleet, inst[i], eq + 1, why, sizeof(why)))
			die(why);
	}
	if (!fleet.n)
		die("no instance to watch: give -c with instance lines, or -i");
	if (dry)
		fleet.cfg.dry_run = true;
	if (nfs)
		snprintf(fleet.cfg.nfs_listen, sizeof(fleet.cfg.nfs_listen), "%s", nfs);
	if (http)
		snprintf(fleet.cfg.http_listen, sizeof(fleet.cfg.http_listen), "%s", http);
	if (view < 0)
		view = isatty(STDOUT_FILENO);
	if (logfile) {
		mon_log = fopen(logfile, "a");
		if (!mon_log) {
			snprintf(why, sizeof(why), "%s: %s", logfile, strerror(errno));
			die(why);
		}
	} else if (!view) {
		mon_log = stderr;
	}
	fleet.started = mon_now();

	stop_fd = eventfd(0, EFD_CLOEXEC);
	if (stop_fd < 0)
		die("eventfd");
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	rc = uml_boot(&bp);
	if (rc) {
		snprintf(why, sizeof(why), "boot: %s", strerror(-rc));
		die(why);
	}
	if (mon_export_build(&fleet, why, sizeof(why)))
		die(why);
	if (fleet.cfg.nfs_listen[0] && export_up(&fleet.cfg, &listener, why, sizeof(why)))
		die(why);
	if (fleet.cfg.http_listen[0]) {
		char host[64];
		int port;

		if (mon_http_start(&fleet, fleet.cfg.http_listen, why, sizeof(why)))
			die(why);
		/* Port 0 took a free one: say which. */
		if (!mon_parse_listen(fleet.cfg.http_listen, host, sizeof(host), &port) &&
		    port == 0)
			snprintf(fleet.cfg.http_listen, sizeof(fleet.cfg.http_listen),
				 strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, mon_http_port());
	}
	if (pidfile) {
		FILE *p = fopen(pidfile, "w");

		if (!p)
			die("cannot write the pid file");
		fprintf(p, "%d\n", (int)getpid());
		fclose(p);
	}

	rc = uml_cpu_init();
	if (rc)
		die("cannot become the machine's CPU");
	if (fleet.cfg.nfs_listen[0] && (rc = uml_nfs_start(&listener, &nfs_srv)))
		die("cannot start the NFS service");
	rc = mon_pollers_start(&fleet);
	if (!rc)
		rc = uml_cpu_stop_on_fd(stop_fd, stop_all, NULL);
	if (rc) {
		stop_all(NULL);
		fprintf(stderr, "umlmon: cannot start the pollers: %s\n", strerror(-rc));
	}
	mon_logf("umlmon watching %d instances%s%s%s%s%s", fleet.n,
		 fleet.cfg.nfs_listen[0] ? ", exported on " : "", fleet.cfg.nfs_listen,
		 fleet.cfg.http_listen[0] ? ", dashboard on " : "", fleet.cfg.http_listen,
		 fleet.cfg.dry_run ? " (dry run)" : "");
	if (view && !rc)
		mon_view_start(&fleet);
	uml_cpu_run(true);
	uml_cpu_exit();
	mon_view_stop();
	mon_drains_undo(&fleet);
	mon_http_stop();
	if (pidfile)
		unlink(pidfile);
	mon_logf("umlmon stopped after %llu actions", (unsigned long long)fleet.nactions);
	return rc ? 1 : 0;
}
