/*
 * mod_umlconf private header: the state shared by every httpd process (in the
 * machine's arena), the per-process configuration, and the entry points of
 * each file of the module.
 *
 * Only libuml/uml.h is used to reach the kernel.
 */
#ifndef UMLCONF_H
#define UMLCONF_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "ap_mpm.h"
#include "apr_pools.h"

#include "uml.h"

#include "knob_parse.h"	 /* UMLCONF_VALUE_MAX, the knobs' parsers */
#include "mod_umlconf.h" /* struct umlconf_knob_def, struct umlconf_value */

/*
 * Stable log numbers (UMLCONF_LOGNO, mod_umlconf.h), in the spirit of httpd's
 * APLOGNO: grep the error log for "umlconf(100NN)". Never renumber; add new
 * ones at the end.
 *
 * 10001 boot failed                    10002 adopt failed
 * 10003 invalid knob write             10004 NFS listener failed
 * 10005 export refused                 10006 attach failed (child)
 * 10007 thread start failed            10008 request refused (503)
 * 10009 reclaimed dead child's share   10010 shared state missing
 * 10011 tree/hook setup failed         10012 listen() backlog failed
 * 10013 NFS service ended with error   10014 NFS address changed (needs stop/start)
 * 10015 machine booted / adopted       10016 write to a read-only status file
 * 10017 UmlConfScratch refused           10018 key file unusable (handles per boot)
 * 10030 shared layout changed: fresh boot
 * 10031 knob apply failed (child)      10032 knob registration refused
 * 10033 mod_umlconf_httpd without mod_umlconf
 * 10034 UmlConfMemory too small for ServerLimit
 * 10035 UmlConfState refused           10036 UmlConfState changed (needs stop/start)
 * 10037 state image opened             10038 httpd.conf changed a saved knob
 * 10039 saved knob value invalid now   10040 state not synced at stop
 * 10041 UmlConfImport refused          10042 import answers again
 * 10043 import stale                  10044 import expired (ttl): values dropped
 * 10045 importer thread start failed  10046 knob changed (info)
 * 10047-10052 rpcbind (see doc/log-messages.md)
 * 10053 UmlConfInterface refused       10054 interface made (notice)
 * 10055 UmlConfInterface changed (needs stop/start)
 * 10056 a child cannot read its queue of an interface
 */

#define UMLCONF_ROOT  "umlconf"	  /* uml_root_set name of struct umlconf_shared */
#define UMLCONF_MAGIC 0x75636f6eU /* "ucon" */
/* Bump with any change of struct umlconf_shared or what it points to. */
#define UMLCONF_LAYOUT	5   /* 5: QueueLimit; the changes ring; the latency histograms */
#define UMLCONF_ERRORS	32  /* the ring in /status/errors */
#define UMLCONF_ERRLINE 256 /* one formatted error line, NUL included */
#define UMLCONF_CHANGES 64  /* the ring in /status/changes */
#define UMLCONF_CLIENT_MAX                                                                         \
	64 /* a client as /status/errors shows it ("[::1]:871"), NUL included                      \
	    */
/* Knobs of this module and of the modules that register theirs. */
#ifndef UMLCONF_KNOB_SLOTS
#define UMLCONF_KNOB_SLOTS 32
#endif

/* The built-in knobs (knobs.c): always the first slots, in this order. */
enum umlconf_knob_id {
	UMLCONF_KNOB_MAX_REQUEST_WORKERS,
	UMLCONF_KNOB_LISTEN_BACKLOG,
	UMLCONF_KNOB_ACCEPTING,
	UMLCONF_KNOB_QUEUE_LIMIT,
	UMLCONF_KNOB_COUNT
};

/*
 * One knob's value in the arena, found by name after a restart. name and
 * flags are written by the parent in post_config, before any child runs;
 * value, min and max are atomics for the request path; text (text knobs)
 * is guarded by umlconf_shared.knobs_lock. changes counts accepted writes:
 * a child applies the knob when it differs from what it applied last.
 */
struct umlconf_knob_slot {
	char name[UMLCONF_KNOB_NAME_MAX + 1]; /* "": a free slot */
	uint32_t flags;			      /* UMLCONF_KNOB_* */
	_Atomic uint32_t changes;
	_Atomic uint64_t changed; /* its entries in /status/changes, ever */
	_Atomic int64_t value, min, max;
	char text[UMLCONF_TEXT_MAX];
	/*
	 * The layers (knobs.c): httpd.conf < import < local write; the value
	 * in force is the highest one set. Guarded by knobs_lock, like text.
	 */
	uint32_t source;	     /* enum umlconf_source of the value in force */
	bool local, imported;	     /* those layers hold a value */
	struct umlconf_value conf;   /* httpd.conf's, or the default */
	struct umlconf_value import; /* the import's, when imported */
	uint64_t applied_ns;	     /* CLOCK_REALTIME when the value in force last changed */
	uint64_t import_mtime_ns;    /* mtime of the imported file at the center */
};

enum umlconf_source { UMLCONF_SRC_CONF, UMLCONF_SRC_IMPORT, UMLCONF_SRC_LOCAL };

/*
 * An accepted change of a knob's value in force or of one of its layers,
 * for /status/changes (changes.c). old and new are the value in force
 * before and after, as the file shows it without the newline; a change of
 * the import's layer under a local value (which stays in force) has that
 * layer's values instead, "" for none.
 */
struct umlconf_change {
	uint64_t ns;			      /* CLOCK_REALTIME of the change */
	uint32_t source;		      /* enum umlconf_source in force after it */
	char client[UMLCONF_CLIENT_MAX];      /* NFS client's address, "import" or "-" (local) */
	char knob[UMLCONF_KNOB_NAME_MAX + 1]; /* its name */
	char old[UMLCONF_TEXT_MAX], new[UMLCONF_TEXT_MAX];
	char reason[UMLCONF_REASON_MAX + 1]; /* the write's comment, or "" */
};

/*
 * One httpd child (a CPU of the machine), indexed by its CPU number.
 * pid is written under umlconf_shared.children_lock (by the child when it
 * attaches and by the parent when it reclaims); the counters are atomics the
 * child updates without a lock; a child's counters are also counted in the
 * global totals, so the parent can subtract a dead child's share.
 */
struct umlconf_child {
	_Atomic uint32_t pid;	      /* 0: no child on this CPU */
	_Atomic int32_t in_flight;    /* admitted requests not yet finished */
	_Atomic int32_t queued;	      /* requests waiting for admission */
	_Atomic uint32_t applied_gen; /* config generation applied by the watcher */
	_Atomic uint64_t applied_ns;  /* CLOCK_REALTIME when it was applied */
	/* In force in the child: applied_gen, or config_gen when no write since needs applying. */
};

#define UMLCONF_BUCKETS 14 /* of a latency histogram: 1 ms .. 10 s, then +Inf */

/*
 * A latency histogram (latency.c), written by every child's request path
 * with atomic adds and no lock. bucket[b] counts the samples of bucket b
 * alone (at most umlconf_latency_le_us[b], above the one before); the
 * count is their sum.
 */
struct umlconf_histogram {
	_Atomic uint64_t bucket[UMLCONF_BUCKETS];
	_Atomic uint64_t sum_us; /* microseconds, all samples */
};

/*
 * In the arena, found by name (UMLCONF_ROOT) after fork and after uml_adopt.
 * The first five words are the same in every layout: a graceful restart
 * reads them before it adopts the arena, and boots a fresh machine when they
 * describe another layout (umlconf(10030)).
 */
struct umlconf_shared {
	uint32_t magic;	      /* UMLCONF_MAGIC */
	uint32_t layout;      /* UMLCONF_LAYOUT */
	uint32_t size;	      /* sizeof(struct umlconf_shared) */
	uint32_t knob_slots;  /* UMLCONF_KNOB_SLOTS */
	uint32_t builtin;     /* UMLCONF_KNOB_COUNT: the built-in knobs' slots */
	uml_gen_t config_gen; /* bumped by every accepted knob write */
	/*
	 * Bumped by the writes of knobs that a child must apply (an apply
	 * hook: ListenBacklog); the watchers sleep on it. A knob without one
	 * (MaxRequestWorkers, Accepting) is read from its slot by every child
	 * on every request: it is in force everywhere at its commit, and no
	 * child wakes for it.
	 */
	uml_gen_t apply_gen;
	_Atomic uint32_t apply_config_gen; /* config_gen of the last write to apply */
	_Atomic uint64_t commit_ns;	   /* CLOCK_REALTIME of the last accepted write */
	/* Bumped when slots free (a slot, a raise, a dead child's); the queue sleeps on it. */
	uml_gen_t admit_gen;
	uml_lock_t *knobs_lock; /* guards knob[].text */
	struct umlconf_knob_slot knob[UMLCONF_KNOB_SLOTS];
	_Atomic int32_t in_flight; /* sum of child[].in_flight */
	_Atomic int32_t queued;	   /* sum of child[].queued */
	_Atomic uint64_t rejected; /* 503s sent by admission */
	/* /status/admission: how well the queue's wake-ups match the slots freed */
	_Atomic uint64_t admit_waited;	 /* requests admitted after a wait in the queue */
	_Atomic uint64_t admit_released; /* slots released while requests were queued */
	_Atomic uint64_t admit_wakeups;	 /* times a queued request woke to look again */
	/* Admitted requests: admission to the end (service), arrival to admission (wait). */
	struct umlconf_histogram service, wait;
	uml_lock_t *children_lock; /* guards child[].pid */
	struct umlconf_child child[UML_MAX_CPUS];
	uml_lock_t *errors_lock; /* guards errors_total and errors[] */
	uint32_t errors_total;	 /* errors ever recorded; the next slot is total % UMLCONF_ERRORS */
	char errors[UMLCONF_ERRORS][UMLCONF_ERRLINE];
	/*
	 * Taken under knobs_lock (never the other way round), so that the
	 * ring's order is the order in which changes went in force.
	 */
	uml_lock_t *changes_lock; /* guards changes_total and changes[] */
	uint32_t
	    changes_total; /* changes ever recorded; the next slot is total % UMLCONF_CHANGES */
	struct umlconf_change changes[UMLCONF_CHANGES];
};

/* CLOCK_REALTIME in ns, the clock of /status/children. */
static inline uint64_t umlconf_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* A built-in knob's value, on the request path. */
static inline int64_t umlconf_knob_value(const struct umlconf_shared *sh, enum umlconf_knob_id id)
{
	return atomic_load(&sh->knob[id].value);
}

/* One UmlConfExport line. */
struct umlconf_export {
	const char *path;
	unsigned flags;		     /* UML_NFS_RW, UML_NFS_SECURE */
	apr_array_header_t *clients; /* const char * */
};

/* One UmlConfInterface line. */
struct umlconf_iface {
	const char *tap;      /* the host's TAP device */
	const char *cidr;     /* "10.20.0.2/24" */
	const char *gateway;  /* NULL: none */
	const char *addr;     /* cidr's address alone */
	const char *cidr6;    /* "fd00::2/64"; NULL: the link-local address alone */
	const char *gateway6; /* NULL: none */
};

/* Server configuration (only the main server's is used). */
struct umlconf_conf {
	const char *nfs_host; /* UmlConfNFS */
	int nfs_port;
	unsigned nfs_protos;	     /* UML_NFS_TCP and/or UML_NFS_UDP */
	int nfs_register;	     /* UMLCONF_REGISTER_*: with the host's rpcbind */
	const char *key_file;	     /* UmlConfKeyFile as given; NULL: a key per boot ("none") */
	apr_array_header_t *exports; /* struct umlconf_export; empty: "/" ro to localhost */
	size_t memory;		     /* UmlConfMemory; 0: default */
	size_t scratch;		     /* UmlConfScratch; 0: half of the memory */
	int queue_size;		     /* UmlConfQueue: QueueLimit's ceiling and default */
	int queue_timeout;	     /* seconds */
	int retry_after;	     /* UmlConfRetryAfter, seconds */
	const char *state;	     /* UmlConfState path as given; NULL: none */
	size_t state_size;	     /* bytes of a new image; 0: the library's default */
	const char *import_url;	     /* UmlConfImport; NULL: none */
	const char *import_opts;     /* its options for uml_mount_nfs ("interval=1000,...") */
	int import_ttl;		     /* seconds a stale import's values stay; 0: for ever */
	apr_array_header_t *ifaces;  /* struct umlconf_iface: UmlConfInterface, in order */
};

/* UmlConfNFS register=: whether and how the NFS programs go into the host's rpcbind. */
enum { UMLCONF_REGISTER_AUTO, UMLCONF_REGISTER_FORCE, UMLCONF_REGISTER_OFF };

#define UMLCONF_DEFAULT_NFS_HOST    "127.0.0.1"
#define UMLCONF_DEFAULT_NFS_PORT    2049
#define UMLCONF_DEFAULT_KEY_FILE    "umlconf.key" /* relative to ServerRoot */
#define UMLCONF_DEFAULT_MEMORY	    (8UL << 20)	  /* plus UMLCONF_CHILD_MEMORY a child */
#define UMLCONF_CHILD_MEMORY	    (256UL << 10) /* a child's CPU: its threads' stacks, its service */
#define UMLCONF_DEFAULT_QUEUE	    256
#define UMLCONF_DEFAULT_QUEUE_WAIT  30
#define UMLCONF_DEFAULT_RETRY_AFTER 5

extern module AP_MODULE_DECLARE_DATA umlconf_module;

/*
 * This process's view of the machine: set in the parent by post_config and
 * inherited by children; umlconf_cpu is this child's CPU (-1 in the parent or
 * when attaching failed).
 */
extern struct umlconf_shared *umlconf_sh;
extern int umlconf_cpu;
/*
 * Set in a child that could not become a CPU with a watcher: it would serve
 * with knobs that no longer change, so it answers 503 instead (admission.c).
 */
extern _Atomic bool umlconf_cpu_down;
extern server_rec *umlconf_server;

static inline struct umlconf_conf *umlconf_conf_of(server_rec *s)
{
	return ap_get_module_config(s->module_config, &umlconf_module);
}

/* --- knobs.c: the knob table, the registry, their file hooks, the error ring --- */

/* Offer umlconf_register_knob to other modules (register_hooks). */
void umlconf_knobs_offer(void);
/* Forget the knobs registered by the last configuration pass (pre_config). */
void umlconf_knobs_reset(void);
/*
 * Give every knob a slot (its own after a restart), set bounds from the MPM
 * and, for a knob new to the machine, its default; build /config and attach
 * the hooks in this process. Parent, post_config.
 */
int umlconf_knobs_up(struct umlconf_shared *sh, server_rec *s);
/* Apply every knob whose value changed since this child last did (watcher thread). */
void umlconf_knobs_apply(struct umlconf_shared *sh);
/* The value of slot @slot as text, as server-status shows it. */
void umlconf_knob_show(struct umlconf_shared *sh, int slot, char *buf, size_t size);
/*
 * The import's layer of knob @name: @data/@len its content at the center
 * (@where names the file, for reports), or @data NULL for none there
 * (@dropped: why, when the import itself went; the reason in
 * /status/changes, or NULL). The value is validated like a local write; a
 * refused one is reported and the layer keeps what it had. Returns 0,
 * -ENOENT (no such knob) or the refusal.
 */
int umlconf_knob_import(struct umlconf_shared *sh, const char *name, const char *data, size_t len,
			const char *where, uint64_t mtime_ns, const char *dropped);
/* /status/config: each knob's value in force, its source and when it was applied. */
size_t umlconf_knobs_render(char *buf, size_t size);

/* --- import.c: UmlConfImport, the central configuration --- */
/* UmlConfImport nfs://host[:port]/path [interval=1s] [ttl=0] [maxfile=...]... */
const char *umlconf_import_directive(cmd_parms *cmd, void *dummy, int argc, char *const argv[]);
/*
 * Register the import (parent, post_config, after the knobs); without
 * UmlConfImport, drop the import's values. 0, or -1 after logging why.
 */
int umlconf_import_up(server_rec *s, struct umlconf_conf *conf, struct umlconf_shared *sh);
/* Start this child's importer thread (on its CPU). */
void umlconf_import_start(void);
/* UmlConfImport's state into *@st: 0, or -ENOENT without one in this configuration. */
int umlconf_import_state(struct uml_import_stat *st);
/* /status/import: the import's state, its last error and its figures. */
size_t umlconf_import_render(char *buf, size_t size);

/* --- interface.c: UmlConfInterface, the machine's own network --- */
/* UmlConfInterface tap-name address/prefix [gateway] */
const char *umlconf_interface_directive(cmd_parms *cmd, void *dummy, int argc, char *const argv[]);
/* Whether @host is a configured interface's address (NFS is then served on the machine's stack). */
bool umlconf_interface_addr(const struct umlconf_conf *conf, const char *host);
/*
 * Make every interface on the machine once (parent, post_config, every
 * pass: a made one is kept). 0, or the error after logging it.
 */
int umlconf_interfaces_up(server_rec *s, struct umlconf_conf *conf);
/* Open this child's queue of every interface, on its CPU: 0, or the last error (logged). */
int umlconf_interfaces_start(void);
/* Close them, from a thread of the same CPU. */
void umlconf_interfaces_stop(void);

/* --- errors.c: the ring of refused writes --- */

/* @ns (CLOCK_REALTIME) as 2026-12-04T22:50:01Z; 0 as "-". */
void umlconf_time_format(uint64_t ns, char *buf, size_t size);
/* Record a refused write in /status/errors and the error log. */
void umlconf_error_record(struct umlconf_shared *sh, const char *client, const char *file,
			  const char *data, size_t len, const char *reason);
/* /status/errors: the ring, oldest first. */
size_t umlconf_errors_render(char *buf, size_t size);

/* --- changes.c: the ring of accepted changes --- */

/*
 * Append @c to /status/changes; the caller holds knobs_lock (the ring's
 * order is the commits'). Log it with umlconf_change_log once unlocked.
 */
void umlconf_change_record_locked(struct umlconf_shared *sh, const struct umlconf_change *c);
/* The change's line in the error log (umlconf(10046), info). */
void umlconf_change_log(const struct umlconf_change *c);
/* /status/changes: the ring, oldest first. */
size_t umlconf_changes_render(char *buf, size_t size);
/* "conf", "import" or "local". */
const char *umlconf_source_name(uint32_t source);

/* --- admission.c: MaxRequestWorkers, Accepting and QueueLimit on the request path --- */
int umlconf_admit(request_rec *r);
/* Slots may have freed (a knob changed, a child died): wake as many waiters. */
void umlconf_admit_kick(struct umlconf_shared *sh);

/* --- latency.c: the latency histograms --- */

/* Upper bounds of the buckets but the last (+Inf), in microseconds. */
extern const uint64_t umlconf_latency_le_us[UMLCONF_BUCKETS - 1];
/* The same as Prometheus "le" labels, "+Inf" last. */
extern const char *const umlconf_latency_le[UMLCONF_BUCKETS];
/* One sample of @us microseconds; lock-free, any process. */
void umlconf_latency_record(struct umlconf_histogram *h, uint64_t us);
/* The cumulative counts per bucket and the sum; returns the count. */
uint64_t umlconf_latency_read(const struct umlconf_histogram *h,
			      uint64_t cumulative[UMLCONF_BUCKETS], uint64_t *sum_us);

/* --- listeners.c: the listening sockets --- */
/* listen(fd, backlog) on every ap_listeners socket of this process. */
int umlconf_listeners_backlog(int backlog);
/* A listening socket as /status/listeners and the metrics show it. */
struct umlconf_listener {
	char addr[64];	  /* "127.0.0.1:8529", "[::1]:8529" */
	unsigned backlog; /* the listen() backlog in effect */
	unsigned queue;	  /* connections waiting in its accept queue */
};
/* Call @fn for every listening socket of this process. */
void umlconf_listeners_each(void (*fn)(const struct umlconf_listener *l, void *arg), void *arg);
/* One line per listener: "ADDR:PORT backlog N queue M". */
size_t umlconf_listeners_render(char *buf, size_t size);
/* The ListenBacklog configured in httpd.conf (or httpd's default). */
int umlconf_listeners_configured_backlog(void);

/* --- status.c: /status and mod_status --- */
int umlconf_status_tree(struct umlconf_shared *sh);
/* Busy and idle workers of httpd's scoreboard, counted as mod_status counts them. */
void umlconf_workers_count(int *busy, int *idle);
int umlconf_status_hooks(struct umlconf_shared *sh);
void umlconf_status_register(void);

/* --- metrics.c: the figures in Prometheus's text format --- */

/*
 * What a render of the metrics may take: the vfs's render buffer, which
 * /status/metrics is rendered into, and the handler's.
 */
#define UMLCONF_METRICS_MAX (64 * 1024)
/* /status/metrics and the umlconf-metrics handler's body. */
size_t umlconf_metrics_render(char *buf, size_t size);
/* SetHandler umlconf-metrics: the same text over HTTP (GET and HEAD). */
int umlconf_metrics_handler(request_rec *r);

/* --- cpu.c: this child as a CPU of the machine; the parent's reaper --- */
void umlconf_cpu_start(apr_pool_t *pchild, server_rec *s, const struct uml_nfs_listener *nfs);
int umlconf_cpu_reap(apr_pool_t *p, server_rec *s);
void umlconf_cpu_child_status(server_rec *s, pid_t pid, ap_generation_t gen, int slot,
			      mpm_child_status state);

/* --- watcher.c: the per-child thread that applies knob changes --- */
/* The watcher's kernel thread (@arg: this child's struct umlconf_child). */
int umlconf_watcher_main(void *arg);

/* --- render.c: bounded text for rendered files --- */

/* Append printf output to a buffer of @size, tracking the length in *@len. */
void umlconf_buf_printf(char *buf, size_t size, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
