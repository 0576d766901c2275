/*
 * mod_umlconf: httpd's live settings as files, served over NFSv3 by a small
 * kernel that every httpd process shares (libuml).
 *
 *   LoadModule umlconf_module modules/mod_umlconf.so
 *   UmlConfNFS        127.0.0.1:2049 tcp      # NFS + MOUNT listener: tcp, udp or tcp+udp,
 *                     register=auto           # and in the host's rpcbind: auto, force or off
 *   UmlConfExport     / rw 127.0.0.1 10.0.0.0/8   # path ro|rw[,secure] client...; may repeat
 *   UmlConfKeyFile    umlconf.key             # secret of the file handles (ServerRoot-relative)
 *   UmlConfMemory     8M + 256K x ServerLimit # the machine's memory
 *   UmlConfScratch    4M                      # of it, what clients' own files may hold
 *   UmlConfQueue      256 30                  # admission queue: most (QueueLimit), wait in s
 *   UmlConfRetryAfter 5                       # Retry-After of the 503 sent after that
 *   UmlConfState      /var/lib/umlconf/web1.img [16M]  # keep knobs and files on disk
 *   UmlConfImport     nfs://central/fleet interval=1s  # knobs from a central export
 *   UmlConfInterface  uc0 10.20.0.2/24 [10.20.0.1] [fd00::2/64 [fd00::1]]  # own network, a TAP
 *                                         # device (up to 4); UmlConfNFS 10.20.0.2 then
 *                                         # serves NFS on the machine's own TCP/IP stack
 *
 * Without UmlConfExport, "/" is exported read-only to 127.0.0.1 and ::1.
 *
 * A monitor then reads and writes the tree with any NFSv3 client:
 *   /config/MaxRequestWorkers   admission limit on requests in flight, all children
 *   /config/ListenBacklog       listen() backlog of every listening socket
 *   /config/Accepting           0 holds new requests, 1 lets them run
 *   /config/QueueLimit          how many may wait for admission; 0 sheds
 *   /config/...                 the knobs other modules register (mod_umlconf.h)
 *   /import/...                 UmlConfImport's copy of the central export (read-only)
 *   /status/...                 read-only figures (see status.c for the formats)
 *   /status/metrics             the same in Prometheus's text format; over HTTP too with
 *                               <Location /metrics> SetHandler umlconf-metrics
 * e.g. nfs-cat 'nfs://127.0.0.1/config/MaxRequestWorkers?nfsport=2049&mountport=2049'.
 *
 * Lifecycle: the parent boots the machine in post_config (the real pass, not
 * the pre-detach one) and keeps its arena address and the NFS sockets in the
 * process pool, so a graceful restart (which reloads this DSO and forgets its
 * static data) adopts the same machine, values and file handles. Each child
 * attaches in child_init and runs its NFS service and watcher threads.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ap_mpm.h"
#include "http_core.h"
#include "http_protocol.h"
#include "http_request.h"
#include "mpm_common.h"
#include "apr_strings.h"

#include "umlconf.h"

/* Process-pool userdata keys: they outlive a DSO reload. */
#define KEY_BASE "umlconf:arena-base"
#define KEY_NFS	 "umlconf:nfs-listener"
#define KEY_SH	 "umlconf:shared"

struct umlconf_shared *umlconf_sh;
int umlconf_cpu = -1;
server_rec *umlconf_server;
/* The NFS sockets, opened once per httpd instance; inherited by children. */
static const struct uml_nfs_listener *umlconf_nfs;

/* In the process pool, so the NFS sockets outlive restarts along with it. */
struct nfs_kept {
	struct uml_nfs_listener l;
	const char *host;
	int port;
	unsigned protos;
	pid_t owner;	 /* the parent: only it withdraws the rpcbind entries */
	bool registered; /* entries of ours may be in rpcbind */
	bool net;	 /* on the machine's own address (UmlConfInterface) */
};

static void *umlconf_create_server(apr_pool_t *p, server_rec *s)
{
	struct umlconf_conf *c = apr_pcalloc(p, sizeof(*c));

	(void)s;
	c->nfs_host = UMLCONF_DEFAULT_NFS_HOST;
	c->nfs_port = UMLCONF_DEFAULT_NFS_PORT;
	c->nfs_protos = UML_NFS_TCP;
	c->key_file = UMLCONF_DEFAULT_KEY_FILE;
	c->exports = apr_array_make(p, 2, sizeof(struct umlconf_export));
	c->ifaces = apr_array_make(p, UML_NET_IFS_MAX, sizeof(struct umlconf_iface));
	c->queue_size = UMLCONF_DEFAULT_QUEUE;
	c->queue_timeout = UMLCONF_DEFAULT_QUEUE_WAIT;
	c->retry_after = UMLCONF_DEFAULT_RETRY_AFTER;
	return c;
}

/* --- directives --- */

static bool numeric_host(const char *h)
{
	unsigned char a[16];

	return inet_pton(AF_INET, h, a) == 1 || inet_pton(AF_INET6, h, a) == 1;
}

/* A non-negative decimal integer in [min, max]. */
static const char *parse_int(cmd_parms *cmd, const char *arg, long min, long max, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (!*arg || *end || errno || v < min || v > max)
		return apr_psprintf(cmd->pool, "%s: '%s' is not a whole number in %ld..%ld",
				    cmd->cmd->name, arg, min, max);
	*out = (int)v;
	return NULL;
}

/* UmlConfNFS addr[:port] [tcp|udp|tcp+udp] [register=auto|force|off] */
static const char *set_nfs(cmd_parms *cmd, void *dummy, int argc, char *const argv[])
{
	struct umlconf_conf *c = umlconf_conf_of(cmd->server);
	const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
	char *host = NULL, *scope = NULL;
	apr_port_t port = 0;
	unsigned protos = UML_NFS_TCP;
	int reg = UMLCONF_REGISTER_AUTO;

	if (err)
		return err;
	if (argc < 1 || argc > 3)
		return "UmlConfNFS takes addr[:port] [tcp|udp|tcp+udp] [register=auto|force|off]";
	if (apr_parse_addr_port(&host, &scope, &port, argv[0], cmd->pool) != APR_SUCCESS || !host ||
	    scope || !numeric_host(host))
		return apr_psprintf(cmd->pool,
				    "UmlConfNFS: '%s' is not a numeric address with an optional "
				    "port (e.g. 127.0.0.1:2049 or [::1]:2049)",
				    argv[0]);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcasecmp(a, "tcp") == 0)
			protos = UML_NFS_TCP;
		else if (strcasecmp(a, "udp") == 0)
			protos = UML_NFS_UDP;
		else if (strcasecmp(a, "tcp+udp") == 0)
			protos = UML_NFS_TCP | UML_NFS_UDP;
		else if (strcasecmp(a, "register=auto") == 0)
			reg = UMLCONF_REGISTER_AUTO;
		else if (strcasecmp(a, "register=force") == 0)
			reg = UMLCONF_REGISTER_FORCE;
		else if (strcasecmp(a, "register=off") == 0)
			reg = UMLCONF_REGISTER_OFF;
		else
			return apr_psprintf(cmd->pool,
					    "UmlConfNFS: '%s' is neither tcp, udp or tcp+udp nor "
					    "register=auto|force|off",
					    a);
	}
	c->nfs_host = host;
	c->nfs_port = port ? port : UMLCONF_DEFAULT_NFS_PORT;
	c->nfs_protos = protos;
	c->nfs_register = reg;
	return NULL;
}

static const char *set_key_file(cmd_parms *cmd, void *dummy, const char *arg)
{
	struct umlconf_conf *c = umlconf_conf_of(cmd->server);
	const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

	if (err)
		return err;
	if (strcasecmp(arg, "none") == 0) {
		c->key_file = NULL;
		return NULL;
	}
	c->key_file = arg; /* resolved against ServerRoot when used: it may come later */
	return NULL;
}

/* "ro" or "rw", then options after commas: "rw,secure". */
static const char *parse_export_mode(cmd_parms *cmd, const char *arg, unsigned *flags)
{
	char *words = apr_pstrdup(cmd->temp_pool, arg), *save = NULL;
	const char *w = apr_strtok(words, ",", &save);

	*flags = 0;
	if (!w || (strcasecmp(w, "ro") && strcasecmp(w, "rw")))
		return apr_psprintf(cmd->pool,
				    "UmlConfExport: '%s' must be ro or rw, with options "
				    "after commas (rw,secure)",
				    arg);
	if (strcasecmp(w, "rw") == 0)
		*flags |= UML_NFS_RW;
	while ((w = apr_strtok(NULL, ",", &save))) {
		if (strcasecmp(w, "secure") == 0)
			*flags |= UML_NFS_SECURE;
		else
			return apr_psprintf(cmd->pool,
					    "UmlConfExport: unknown option '%s' in '%s' "
					    "(known: secure)",
					    w, arg);
	}
	return NULL;
}

static const char *set_export(cmd_parms *cmd, void *dummy, int argc, char *const argv[])
{
	struct umlconf_conf *c = umlconf_conf_of(cmd->server);
	const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
	struct umlconf_export *e;
	unsigned flags;

	if (err)
		return err;
	if (argc < 3)
		return "UmlConfExport: usage is 'UmlConfExport /path ro|rw[,secure] client...' "
		       "(clients are addresses or CIDR prefixes, or *)";
	if (argv[0][0] != '/')
		return apr_psprintf(cmd->pool, "UmlConfExport: path '%s' must be absolute",
				    argv[0]);
	err = parse_export_mode(cmd, argv[1], &flags);
	if (err)
		return err;
	e = apr_array_push(c->exports);
	e->path = argv[0];
	e->flags = flags;
	e->clients = apr_array_make(cmd->pool, argc - 2, sizeof(const char *));
	for (int i = 2; i < argc; i++) {
		if (uml_nfs_client_valid(argv[i]))
			return apr_psprintf(cmd->pool,
					    "UmlConfExport: client '%s' is not an address, an "
					    "address/prefix (e.g. 10.0.0.0/8) or *",
					    argv[i]);
		*(const char **)apr_array_push(e->clients) = argv[i];
	}
	return NULL;
}

static const char *set_memory(cmd_parms *cmd, void *dummy, const char *arg)
{
	struct umlconf_conf *c = umlconf_conf_of(cmd->server);
	const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

	if (err)
		return err;
	if (uml_parse_memory(arg, &c->memory) == 0 && c->memory)
		return NULL;
	return apr_psprintf(cmd->pool,
			    "UmlConfMemory: '%s' is not a size from 1M to 4G (bytes, or with a "
			    "K, M or G suffix)",
			    arg);
}

/* Checked against UmlConfMemory in post_config: the two may come in either order. */
static const char *set_scratch(cmd_parms *cmd, void *dummy, const char *arg)
{
	struct umlconf_conf *c = umlconf_conf_of(cmd->server);
	const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

	if (err)
		return err;
	if (uml_parse_size(arg, &c->scratch) == 0 && c->scratch > 0)
		return NULL;
	return apr_psprintf(cmd->pool,
			    "UmlConfScratch: '%s' is not a size above 0 (bytes, or with a K, M "
			    "or G suffix)",
			    arg);
}

static const char *set_queue(cmd_parms *cmd, void *dummy, const char *size, const char *wait)
{
	struct umlconf_conf *c = umlconf_conf_of(cmd->server);
	const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

	if (!err)
		err = parse_int(cmd, size, 0, 1000000, &c->queue_size);
	if (!err)
		err = parse_int(cmd, wait, 0, 3600, &c->queue_timeout);
	return err;
}

static const char *set_retry_after(cmd_parms *cmd, void *dummy, const char *arg)
{
	struct umlconf_conf *c = umlconf_conf_of(cmd->server);
	const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

	return err ? err : parse_int(cmd, arg, 0, 86400, &c->retry_after);
}

static const char *set_state(cmd_parms *cmd, void *dummy, const char *path, const char *size)
{
	struct umlconf_conf *c = umlconf_conf_of(cmd->server);
	const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

	if (err)
		return err;
	c->state = path;
	if (size && (uml_parse_size(size, &c->state_size) || c->state_size < UML_STATE_SIZE_MIN))
		return apr_psprintf(
		    cmd->pool,
		    "UmlConfState: '%s' is not a size from 1M to 4G (bytes, or with "
		    "a K, M or G suffix)",
		    size);
	return NULL;
}

static const command_rec umlconf_cmds[] = {
    AP_INIT_TAKE_ARGV("UmlConfNFS", set_nfs, NULL, RSRC_CONF,
		      "addr[:port] [tcp|udp|tcp+udp] [register=auto|force|off] of the NFS/MOUNT "
		      "listener and its entries in the host's rpcbind (default 127.0.0.1:2049 tcp "
		      "register=auto)"),
    AP_INIT_TAKE_ARGV("UmlConfExport", set_export, NULL, RSRC_CONF,
		      "/path ro|rw[,secure] client... (addresses, CIDR prefixes or *); may "
		      "repeat"),
    AP_INIT_TAKE1("UmlConfKeyFile", set_key_file, NULL, RSRC_CONF,
		  "file with the secret that keys NFS file handles (default umlconf.key in "
		  "ServerRoot; made when missing), or none for a secret per boot"),
    AP_INIT_TAKE1("UmlConfMemory", set_memory, NULL, RSRC_CONF,
		  "memory of the shared machine, e.g. 8M"),
    AP_INIT_TAKE1("UmlConfScratch", set_scratch, NULL, RSRC_CONF,
		  "what NFS clients' own files may hold of the machine's memory (default "
		  "half of UmlConfMemory)"),
    AP_INIT_TAKE2("UmlConfQueue", set_queue, NULL, RSRC_CONF,
		  "admission queue size and wait in seconds (default 256 30)"),
    AP_INIT_TAKE12(
	"UmlConfState", set_state, NULL, RSRC_CONF,
	"state image (ServerRoot-relative) keeping knob values and clients' files across "
	"stop and start, and the size of a new one (default 16M)"),
    AP_INIT_TAKE_ARGV("UmlConfImport", umlconf_import_directive, NULL, RSRC_CONF,
		      "nfs://host[:port]/path [interval=1s] [ttl=0] [maxfile=N] [maxentries=N]: "
		      "knobs from a central NFS export, copied at /import"),
    AP_INIT_TAKE1("UmlConfRetryAfter", set_retry_after, NULL, RSRC_CONF,
		  "Retry-After seconds of a 503 from admission (default 5)"),
    AP_INIT_TAKE_ARGV("UmlConfInterface", umlconf_interface_directive, NULL, RSRC_CONF,
		      "tap-name address/prefix [gateway] [address6/prefix [gateway6]]: an "
		      "interface of the machine's own network on the host's TAP device (IPv4, "
		      "and IPv6 beside it); may repeat, up to 4"),
    {NULL}};

/* --- start-up --- */

/*
 * The shared state a restart would adopt, when its layout is this build's.
 * Its header is read before adopting, through the mapping the arena keeps
 * in this process, because an adopted machine can't be given back.
 */
static bool layout_same(server_rec *s, const struct umlconf_shared *old)
{
	char was[96] = "no layout recorded: an older mod_umlconf";

	if (old && old->magic == UMLCONF_MAGIC && old->layout == UMLCONF_LAYOUT &&
	    old->size == sizeof(*old) && old->knob_slots == UMLCONF_KNOB_SLOTS &&
	    old->builtin == UMLCONF_KNOB_COUNT)
		return true;
	if (old)
		snprintf(was, sizeof(was), "layout %u, %u bytes, %u knob slots, %u built-in knobs",
			 old->layout, old->size, old->knob_slots, old->builtin);
	ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
		     UMLCONF_LOGNO(10030) "this mod_umlconf has another shared layout (layout %u, "
					  "%u bytes, %u knob slots, %u built-in knobs; the running "
					  "machine has %s): booting a fresh machine instead of "
					  "adopting it. Knobs are back to httpd.conf's values and "
					  "monitors must remount; the old machine's memory stays "
					  "mapped until httpd stops",
		     UMLCONF_LAYOUT, (unsigned)sizeof(*old), UMLCONF_KNOB_SLOTS, UMLCONF_KNOB_COUNT,
		     was);
	return false;
}

/*
 * UmlConfMemory's default: 8M for the tree, the status and NFS connections,
 * and what each child httpd may start (ServerLimit) takes of it as a CPU.
 * The arena's pages are touched as they are used, not at boot.
 */
static size_t memory_for_children(void)
{
	int daemons = 0;

	if (ap_mpm_query(AP_MPMQ_HARD_LIMIT_DAEMONS, &daemons) != APR_SUCCESS || daemons < 0)
		daemons = 0;
	return UMLCONF_DEFAULT_MEMORY + (size_t)daemons * UMLCONF_CHILD_MEMORY;
}

/* Boot the machine, or adopt the one this process booted before a restart. */
static int machine_up(server_rec *s, struct umlconf_conf *conf, bool *adopted)
{
	apr_pool_t *proc = s->process->pool;
	void *base = NULL, *old = NULL;
	int rc;

	apr_pool_userdata_get(&base, KEY_BASE, proc);
	apr_pool_userdata_get(&old, KEY_SH, proc);
	if (base && layout_same(s, old)) {
		rc = uml_adopt(base);
		if (rc < 0)
			ap_log_error(APLOG_MARK, APLOG_EMERG, -rc, s,
				     UMLCONF_LOGNO(10002) "cannot adopt the machine at %pp after a "
							  "restart (%s); stop and start httpd",
				     base, strerror(-rc));
		*adopted = true;
		return rc;
	}
	struct uml_boot_params bp = {.memory = conf->memory};

	rc = uml_boot(&bp);
	if (rc < 0) {
		ap_log_error(APLOG_MARK, APLOG_EMERG, -rc, s,
			     UMLCONF_LOGNO(10001) "cannot boot the machine with %" APR_SIZE_T_FMT
						  " bytes (%s); "
						  "check UmlConfMemory",
			     conf->memory, strerror(-rc));
		return rc;
	}
	/* The arena outlives the DSO: remember where it is for the next generation. */
	apr_pool_userdata_set(uml_machine_base(), KEY_BASE, apr_pool_cleanup_null, proc);
	*adopted = false;
	return 0;
}

/*
 * The secret of the file handles, on a fresh boot only (an adopted machine
 * keeps its own). A key file that cannot be read or made costs handle
 * stability across full restarts, not security: the machine's own per-boot
 * key stays in force, and the log says so.
 */
static void key_up(server_rec *s, struct umlconf_conf *conf, apr_pool_t *ptemp)
{
	const char *path;
	char err[256];
	int rc;

	if (!conf->key_file)
		return;
	path = ap_server_root_relative(ptemp, conf->key_file);
	rc = path ? uml_nfs_key_file(path, err, sizeof(err)) : -EINVAL;
	if (rc < 0)
		ap_log_error(APLOG_MARK, APLOG_WARNING, -rc, s,
			     UMLCONF_LOGNO(10018) "UmlConfKeyFile %s: %s; NFS file handles are "
						  "keyed per boot and go stale at the next full "
						  "restart",
			     path ? path : conf->key_file, path ? err : "not a valid path");
}

/* Our state in the arena: found by name, or made on the first boot. */
static struct umlconf_shared *shared_up(server_rec *s)
{
	struct umlconf_shared *sh = uml_root_get(UMLCONF_ROOT);

	if (sh)
		return sh;
	sh = uml_zalloc(sizeof(*sh));
	if (!sh)
		goto fail;
	sh->children_lock = uml_lock_new();
	sh->errors_lock = uml_lock_new();
	sh->knobs_lock = uml_lock_new();
	sh->changes_lock = uml_lock_new();
	if (!sh->children_lock || !sh->errors_lock || !sh->knobs_lock || !sh->changes_lock ||
	    uml_root_set(UMLCONF_ROOT, sh) < 0)
		goto fail;
	sh->magic = UMLCONF_MAGIC;
	sh->layout = UMLCONF_LAYOUT;
	sh->size = sizeof(*sh);
	sh->knob_slots = UMLCONF_KNOB_SLOTS;
	sh->builtin = UMLCONF_KNOB_COUNT;
	/* The next generation of the module checks the layout before adopting. */
	apr_pool_userdata_set(sh, KEY_SH, apr_pool_cleanup_null, s->process->pool);
	return sh;
fail:
	ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
		     UMLCONF_LOGNO(10010) "no room for the module's shared state; raise "
					  "UmlConfMemory");
	return NULL;
}

/* At every restart and at stop: what clients wrote unstable and never committed is synced too. */
static apr_status_t state_sync(void *data)
{
	server_rec *s = data;
	int rc = uml_state_sync();

	if (rc < 0)
		ap_log_error(APLOG_MARK, APLOG_ERR, -rc, s,
			     UMLCONF_LOGNO(10040) "the state image could not be synced (%s): "
						  "unstable writes not yet committed may be lost",
			     strerror(-rc));
	return APR_SUCCESS;
}

static void state_refused(server_rec *s, int rc, const char *msg)
{
	ap_log_error(APLOG_MARK, APLOG_EMERG, -rc, s,
		     UMLCONF_LOGNO(10035) "UmlConfState %s%s; httpd does not start (an "
					  "existing image is left as it is)",
		     msg,
		     rc == -ENOENT || rc == -EACCES || rc == -EROFS || rc == -ENOTDIR
			 ? " (the directory must exist and be writable by httpd's parent)"
		     : rc == -EUCLEAN || rc == -EFBIG || rc == -EINVAL || rc == -EPROTONOSUPPORT
			 ? " (check it with umlfsck; move it away and a new image is made)"
			 : "");
}

/*
 * The state image, opened once per machine, after the generated /status
 * (which stays in memory) and before /config, so that the knobs and every
 * file created from then on are kept. httpd refuses to start when it can't
 * be opened: a corrupt or foreign image is never overwritten.
 */
static int state_up(server_rec *s, struct umlconf_conf *conf, apr_pool_t *pconf)
{
	char open_path[256], msg[512];
	const char *path;
	int rc;

	path = conf->state ? ap_server_root_relative(pconf, conf->state) : NULL;
	if (uml_state_active(open_path, sizeof(open_path))) {
		if (!path || strcmp(path, open_path))
			ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
				     UMLCONF_LOGNO(10036) "UmlConfState changed to %s but the "
							  "machine keeps %s until httpd is stopped "
							  "and started",
				     path ? path : "none", open_path);
		apr_pool_cleanup_register(pconf, s, state_sync, apr_pool_cleanup_null);
		return 0;
	}
	if (!path)
		return 0;
	rc = uml_state_open(path, conf->state_size, UML_STATE_CREATE, msg, sizeof(msg));
	if (rc < 0) {
		state_refused(s, rc, msg);
		return rc;
	}
	{
		struct uml_state_stat st;

		uml_state_stat(&st);
		ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
			     UMLCONF_LOGNO(10037) "state image %s: %" APR_UINT64_T_FMT
						  " files and directories, %" APR_UINT64_T_FMT
						  " records replayed, %" APR_UINT64_T_FMT
						  " bytes of an unfinished write discarded",
			     path, st.inodes, st.replayed, st.torn);
	}
	apr_pool_cleanup_register(pconf, s, state_sync, apr_pool_cleanup_null);
	return 0;
}

/*
 * The rpcbind entries, asked for on every pass: a graceful restart may
 * have changed register=, and rpcbind may have restarted meanwhile (it
 * forgets everything). A registration that fails never stops httpd: the
 * service still answers whoever knows the port.
 */
static void nfs_register(server_rec *s, struct umlconf_conf *conf, struct nfs_kept *k)
{
	char msg[1024];
	int rc;

	if (conf->nfs_register == UMLCONF_REGISTER_OFF) {
		if (k->registered && uml_nfs_unregister(&k->l, msg, sizeof(msg)) == 0)
			ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
				     UMLCONF_LOGNO(10052) "rpcbind: %s (register=off)", msg);
		k->registered = false;
		return;
	}
	rc = uml_nfs_register(
	    &k->l, conf->nfs_register == UMLCONF_REGISTER_FORCE ? UML_NFS_REGISTER_FORCE : 0, msg,
	    sizeof(msg));
	k->registered = rc != -ENOENT;
	if (rc == 0)
		ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, UMLCONF_LOGNO(10047) "rpcbind: %s",
			     msg);
	else if (rc == -ENOENT)
		ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
			     UMLCONF_LOGNO(10048) "rpcbind: %s; clients must be given the NFS and "
						  "MOUNT port (%d)",
			     msg, k->port);
	else if (rc == -EBUSY)
		ap_log_error(
		    APLOG_MARK, APLOG_WARNING, 0, s,
		    UMLCONF_LOGNO(10049) "rpcbind: %s; clients that ask rpcbind reach that "
					 "server, not ours (UmlConfNFS ... register=force "
					 "takes the entries)",
		    msg);
	else
		ap_log_error(APLOG_MARK, APLOG_WARNING, -rc, s, UMLCONF_LOGNO(10051) "rpcbind: %s",
			     msg);
}

/*
 * Withdraw the entries when httpd stops, so that no client is sent to a
 * port nobody serves; a graceful restart keeps them (the listener stays).
 * A pconf cleanup, so that the server_rec still exists to log with: httpd
 * destroys pconf at a restart too, and only its state tells the two apart.
 */
static apr_status_t nfs_withdraw(void *data)
{
	struct nfs_kept *k = data;
	char msg[1024];

	if (!k->registered || getpid() != k->owner ||
	    ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_EXITING)
		return APR_SUCCESS;
	k->registered = false;
	if (uml_nfs_unregister(&k->l, msg, sizeof(msg)) == 0)
		ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, umlconf_server,
			     UMLCONF_LOGNO(10050) "rpcbind: %s (httpd stops)", msg);
	return APR_SUCCESS;
}

/* Open the NFS sockets once per httpd instance; reuse them after restarts. */
static int nfs_up(server_rec *s, struct umlconf_conf *conf, apr_pool_t *pconf)
{
	apr_pool_t *proc = s->process->pool;
	struct nfs_kept *k = NULL;
	bool net = umlconf_interface_addr(conf, conf->nfs_host);
	int rc;

	apr_pool_userdata_get((void **)&k, KEY_NFS, proc);
	if (k) {
		if (strcmp(k->host, conf->nfs_host) || k->port != conf->nfs_port ||
		    k->protos != conf->nfs_protos)
			ap_log_error(
			    APLOG_MARK, APLOG_WARNING, 0, s,
			    UMLCONF_LOGNO(10014) "UmlConfNFS changed to %s:%d but NFS "
						 "stays on %s:%d until httpd is stopped and "
						 "started",
			    conf->nfs_host, conf->nfs_port, k->host, k->port);
		umlconf_nfs = &k->l;
		if (!k->net)
			nfs_register(s, conf, k);
		apr_pool_cleanup_register(pconf, k, nfs_withdraw, apr_pool_cleanup_null);
		return 0;
	}
	k = apr_pcalloc(proc, sizeof(*k));
	/*
	 * The machine's own address: its sockets live in the machine, so they
	 * outlive this DSO and this process's restarts as the fds do. The host's
	 * rpcbind does not speak for another network: the machine answers
	 * rpcbind there itself (port 111 of its address), unless register=off.
	 */
	rc = net ? uml_nfs_listen_net(
		       conf->nfs_host, conf->nfs_port,
		       conf->nfs_protos |
			   (conf->nfs_register == UMLCONF_REGISTER_OFF ? 0 : UML_NFS_RPCBIND),
		       &k->l)
		 : uml_nfs_listen(conf->nfs_host, conf->nfs_port, conf->nfs_protos, &k->l);
	if (rc < 0) {
		ap_log_error(APLOG_MARK, APLOG_EMERG, -rc, s,
			     UMLCONF_LOGNO(10004) "cannot listen for NFS on %s:%d (%s); pick "
						  "another UmlConfNFS",
			     conf->nfs_host, conf->nfs_port, strerror(-rc));
		return rc;
	}
	k->host = apr_pstrdup(proc, conf->nfs_host);
	k->port = conf->nfs_port;
	k->protos = conf->nfs_protos;
	k->owner = getpid();
	k->net = net;
	apr_pool_userdata_set(k, KEY_NFS, apr_pool_cleanup_null, proc);
	umlconf_nfs = &k->l;
	if (!net)
		nfs_register(s, conf, k);
	apr_pool_cleanup_register(pconf, k, nfs_withdraw, apr_pool_cleanup_null);
	return 0;
}

static int exports_up(server_rec *s, struct umlconf_conf *conf)
{
	static const char *const local[] = {"127.0.0.1", "::1"};
	char err[256] = "";
	int rc;

	uml_nfs_exports_clear();
	if (conf->exports->nelts == 0) {
		rc = uml_nfs_export("/", 0, local, 2, err, sizeof(err));
		if (rc < 0)
			goto fail;
		return 0;
	}
	for (int i = 0; i < conf->exports->nelts; i++) {
		struct umlconf_export *e = &((struct umlconf_export *)conf->exports->elts)[i];

		/* An export names a room for the monitor's files: make it if missing. */
		rc = uml_mkdir_p(e->path, 0777);
		if (rc < 0) {
			snprintf(err, sizeof(err), "cannot create %s: %s", e->path, strerror(-rc));
			goto fail;
		}
		rc = uml_nfs_export(e->path, e->flags, (const char *const *)e->clients->elts,
				    (size_t)e->clients->nelts, err, sizeof(err));
		if (rc < 0)
			goto fail;
	}
	return 0;
fail:
	ap_log_error(APLOG_MARK, APLOG_EMERG, -rc, s,
		     UMLCONF_LOGNO(10005) "UmlConfExport refused: %s",
		     err[0] ? err : strerror(-rc));
	return rc;
}

/*
 * The hooks' copies live in the heap, which outlives the DSO a graceful
 * restart unloads: without this each restart would leak them. The files
 * stay hooked; the next generation attaches its own.
 */
static apr_status_t hooks_release(void *unused)
{
	uml_file_hooks_release_all();
	return APR_SUCCESS;
}

static int umlconf_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
			       server_rec *s)
{
	struct umlconf_conf *conf = umlconf_conf_of(s);
	struct umlconf_shared *sh;
	bool adopted = false;
	size_t need;
	int rc;

	umlconf_server = s;
	need = memory_for_children();
	if (!conf->memory)
		conf->memory = need;
	/* Before the first pass returns, so that the mistake shows on the console. */
	if (conf->scratch > conf->memory) {
		ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
			     UMLCONF_LOGNO(10017) "UmlConfScratch %" APR_SIZE_T_FMT
						  " is more than UmlConfMemory "
						  "%" APR_SIZE_T_FMT
						  ": the knobs and status need their share",
			     conf->scratch, conf->memory);
		return HTTP_INTERNAL_SERVER_ERROR;
	}
	/*
	 * The pass before httpd detaches runs no server: nothing to boot yet.
	 * A state image that can't be used is refused here, so that
	 * `apachectl start` fails rather than a detached httpd dying.
	 */
	if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
		char msg[512];
		const char *path = conf->state ? ap_server_root_relative(ptemp, conf->state) : NULL;

		if (path && !uml_state_active(NULL, 0) &&
		    (rc = uml_state_probe(path, conf->state_size, msg, sizeof(msg))) < 0) {
			state_refused(s, rc, msg);
			return HTTP_INTERNAL_SERVER_ERROR;
		}
		return OK;
	}

	if (machine_up(s, conf, &adopted) < 0)
		return HTTP_INTERNAL_SERVER_ERROR;
	if (!adopted && conf->memory < need)
		ap_log_error(
		    APLOG_MARK, APLOG_WARNING, 0, s,
		    UMLCONF_LOGNO(10034) "UmlConfMemory %" APR_SIZE_T_FMT
					 "K is less than the %" APR_SIZE_T_FMT "K that "
					 "ServerLimit's %" APR_SIZE_T_FMT
					 " children may need (8M and 256K a "
					 "child): a child that finds no room answers every "
					 "request with 503",
		    conf->memory >> 10, need >> 10,
		    (need - UMLCONF_DEFAULT_MEMORY) / UMLCONF_CHILD_MEMORY);
	/* On every pass: a graceful restart may change it (the memory it can't). */
	rc = uml_fs_scratch_limit(conf->scratch);
	if (rc < 0) {
		ap_log_error(APLOG_MARK, APLOG_EMERG, -rc, s,
			     UMLCONF_LOGNO(10023) "UmlConfScratch %" APR_SIZE_T_FMT
						  " is more than the memory of "
						  "the running machine; stop and start httpd for a "
						  "new UmlConfMemory",
			     conf->scratch);
		return HTTP_INTERNAL_SERVER_ERROR;
	}
	if (!adopted)
		key_up(s, conf, ptemp);
	sh = shared_up(s);
	if (!sh)
		return HTTP_INTERNAL_SERVER_ERROR;
	rc = umlconf_status_tree(sh);
	if (rc == 0 && state_up(s, conf, pconf) < 0)
		return HTTP_INTERNAL_SERVER_ERROR;
	if (rc == 0)
		rc = umlconf_knobs_up(sh, s);
	if (rc == 0 && umlconf_import_up(s, conf, sh) < 0)
		return HTTP_INTERNAL_SERVER_ERROR;
	/* Hooks are per process and die with the old DSO: attach them on every pass. */
	if (rc == 0)
		rc = umlconf_status_hooks(sh);
	if (rc < 0) {
		ap_log_error(APLOG_MARK, APLOG_EMERG, -rc, s,
			     UMLCONF_LOGNO(10011) "cannot build /config and /status (%s)%s",
			     strerror(-rc),
			     rc == -ENOMEM || rc == -ENOSPC ? "; raise UmlConfMemory" : "");
		return HTTP_INTERNAL_SERVER_ERROR;
	}
	/* ...and hand them back before this DSO is unloaded (its pconf cleanup runs first). */
	apr_pool_cleanup_register(pconf, NULL, hooks_release, apr_pool_cleanup_null);
	umlconf_sh = sh;
	/* The interfaces first: NFS may listen on one of their addresses. */
	if (umlconf_interfaces_up(s, conf) < 0 || nfs_up(s, conf, pconf) < 0 ||
	    exports_up(s, conf) < 0)
		return HTTP_INTERNAL_SERVER_ERROR;
	ap_log_error(
	    APLOG_MARK, APLOG_NOTICE, 0, s,
	    UMLCONF_LOGNO(10015) "machine %s at %pp; NFS on %s:%d%s; MaxRequestWorkers "
				 "%ld (1..%ld), generation %u",
	    adopted ? "adopted" : "booted", uml_machine_base(), conf->nfs_host, conf->nfs_port,
	    umlconf_interface_addr(conf, conf->nfs_host) ? " (the machine's own network)" : "",
	    (long)umlconf_knob_value(sh, UMLCONF_KNOB_MAX_REQUEST_WORKERS),
	    (long)atomic_load(&sh->knob[UMLCONF_KNOB_MAX_REQUEST_WORKERS].max),
	    uml_gen_read(&sh->config_gen));
	return OK;
}

/* Every module's pre_config runs before any post_config: knobs register there. */
static int umlconf_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
	umlconf_knobs_reset();
	return OK;
}

static void umlconf_child_init(apr_pool_t *pchild, server_rec *s)
{
	umlconf_cpu_start(pchild, s, umlconf_nfs);
}

static void umlconf_register_hooks(apr_pool_t *p)
{
	/* Before the pre_config of the modules that register knobs. */
	ap_hook_pre_config(umlconf_pre_config, NULL, NULL, APR_HOOK_REALLY_FIRST);
	ap_hook_post_config(umlconf_post_config, NULL, NULL, APR_HOOK_MIDDLE);
	ap_hook_child_init(umlconf_child_init, NULL, NULL, APR_HOOK_MIDDLE);
	/* Before any other module spends work on a request we may hold or refuse. */
	ap_hook_post_read_request(umlconf_admit, NULL, NULL, APR_HOOK_REALLY_FIRST);
	/* SetHandler umlconf-metrics: /status/metrics over HTTP. */
	ap_hook_handler(umlconf_metrics_handler, NULL, NULL, APR_HOOK_MIDDLE);
	/* A dead child's admission share comes back when httpd collects it. */
	ap_hook_child_status(umlconf_cpu_child_status, NULL, NULL, APR_HOOK_MIDDLE);
	ap_hook_monitor(umlconf_cpu_reap, NULL, NULL, APR_HOOK_MIDDLE);
	umlconf_status_register();
	umlconf_knobs_offer();
}

AP_DECLARE_MODULE(umlconf) = {
    STANDARD20_MODULE_STUFF,
    NULL,		   /* per-directory config creator */
    NULL,		   /* per-directory config merger */
    umlconf_create_server, /* per-server config creator */
    NULL,		   /* per-server config merger: only the main server's is used */
    umlconf_cmds,	   /* directives */
    umlconf_register_hooks /* hooks */
};
