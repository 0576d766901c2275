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

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "ap_mpm.h"
#include "apr_pools.h"

#include "uml.h"

#include "knob_parse.h" /* UMLCONF_VALUE_MAX, the knobs' parsers */

/*
 * Stable log numbers, in the spirit of httpd's APLOGNO: grep the error log
 * for "umlconf(100NN)". Never renumber; add new ones at the end.
 */
#define UMLCONF_LOGNO(n) "umlconf(" #n "): "
/* 10001 boot failed                    10002 adopt failed
 * 10003 invalid knob write             10004 NFS listener failed
 * 10005 export refused                 10006 attach failed (child)
 * 10007 thread start failed            10008 request refused (503)
 * 10009 reclaimed dead child's share   10010 shared state missing
 * 10011 tree/hook setup failed         10012 listen() backlog failed
 * 10013 NFS service ended with error   10014 NFS address changed (needs stop/start)
 * 10015 machine booted / adopted       10016 write to a read-only status file
 * 10017 UmlConfScratch refused           10018 key file unusable (handles per boot)
 */

#define UMLCONF_ROOT	  "umlconf"   /* uml_root_set name of struct umlconf_shared */
#define UMLCONF_MAGIC	  0x75636f6eU /* "ucon" */
#define UMLCONF_VERSION	  1
#define UMLCONF_ERRORS	  32  /* the ring in /status/errors */
#define UMLCONF_ERRLINE	  256 /* one formatted error line, NUL included */

enum umlconf_knob_id {
	UMLCONF_KNOB_MAX_REQUEST_WORKERS,
	UMLCONF_KNOB_LISTEN_BACKLOG,
	UMLCONF_KNOB_ACCEPTING,
	UMLCONF_KNOB_COUNT
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
};

/* In the arena, found by name (UMLCONF_ROOT) after fork and after uml_adopt. */
struct umlconf_shared {
	uint32_t magic, version;
	uml_gen_t config_gen; /* bumped by every accepted knob write; watchers sleep on it */
	uml_gen_t
	    admit_gen; /* bumped when a slot frees or a knob changes; the queue sleeps on it */
	/* Knob values and bounds: atomics, read by the request hot path. Bounds are
	 * set by the parent at each post_config (they come from the MPM). */
	_Atomic int64_t value[UMLCONF_KNOB_COUNT];
	_Atomic int64_t min[UMLCONF_KNOB_COUNT];
	_Atomic int64_t max[UMLCONF_KNOB_COUNT];
	_Atomic int32_t in_flight; /* sum of child[].in_flight */
	_Atomic int32_t queued;	   /* sum of child[].queued */
	_Atomic uint64_t rejected; /* 503s sent by admission */
	uml_lock_t *children_lock; /* guards child[].pid */
	struct umlconf_child child[UML_MAX_CPUS];
	uml_lock_t *errors_lock; /* guards errors_total and errors[] */
	uint32_t errors_total;	 /* errors ever recorded; the next slot is total % UMLCONF_ERRORS */
	char errors[UMLCONF_ERRORS][UMLCONF_ERRLINE];
};

/* One UmlConfExport line. */
struct umlconf_export {
	const char *path;
	unsigned flags; /* UML_NFS_RW, UML_NFS_SECURE */
	apr_array_header_t *clients; /* const char * */
};

/* Server configuration (only the main server's is used). */
struct umlconf_conf {
	const char *nfs_host; /* UmlConfNFS */
	int nfs_port;
	unsigned nfs_protos;	     /* UML_NFS_TCP and/or UML_NFS_UDP */
	const char *key_file;	     /* UmlConfKeyFile as given; NULL: a key per boot ("none") */
	apr_array_header_t *exports; /* struct umlconf_export; empty: "/" ro to localhost */
	size_t memory;		     /* UmlConfMemory; 0: default */
	size_t scratch;		     /* UmlConfScratch; 0: half of the memory */
	int queue_size;		     /* UmlConfQueue */
	int queue_timeout;	     /* seconds */
	int retry_after;	     /* UmlConfRetryAfter, seconds */
};

#define UMLCONF_DEFAULT_NFS_HOST    "127.0.0.1"
#define UMLCONF_DEFAULT_NFS_PORT    2049
#define UMLCONF_DEFAULT_KEY_FILE    "umlconf.key" /* relative to ServerRoot */
#define UMLCONF_DEFAULT_MEMORY	    (8UL << 20)
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
extern server_rec *umlconf_server;

static inline struct umlconf_conf *umlconf_conf_of(server_rec *s)
{
	return ap_get_module_config(s->module_config, &umlconf_module);
}

/* --- knobs.c: the knob table, its file hooks, the error ring --- */

/* Set bounds from the MPM and, on a fresh machine, defaults. */
void umlconf_knobs_bounds(struct umlconf_shared *sh, bool fresh);
/* Create /config and its knob files (fresh machine only: values survive restarts). */
int umlconf_knobs_tree(struct umlconf_shared *sh, bool fresh);
/* Attach the knobs' hooks and flags in this process. */
int umlconf_knobs_hooks(struct umlconf_shared *sh);
/* Apply every knob in this child (watcher thread). */
void umlconf_knobs_apply(struct umlconf_shared *sh);
/* Put the value in force back into knob files a refused write left empty. */
const char *umlconf_knob_name(int id);
/* Record a refused write in /status/errors and the error log. */
void umlconf_error_record(struct umlconf_shared *sh, const char *client, const char *file,
			  const char *data, size_t len, const char *reason);

/* --- admission.c: MaxRequestWorkers and Accepting on the request path --- */
int umlconf_admit(request_rec *r);

/* --- listeners.c: the listening sockets --- */
/* listen(fd, backlog) on every ap_listeners socket of this process. */
int umlconf_listeners_backlog(int backlog);
/* One line per listener: "ADDR:PORT backlog N queue M". */
size_t umlconf_listeners_render(char *buf, size_t size);
/* The ListenBacklog configured in httpd.conf (or httpd's default). */
int umlconf_listeners_configured_backlog(void);

/* --- status.c: /status and mod_status --- */
int umlconf_status_tree(struct umlconf_shared *sh);
int umlconf_status_hooks(struct umlconf_shared *sh);
void umlconf_status_register(void);

/* --- cpu.c: this child as a CPU of the machine; the parent's reaper --- */
void umlconf_cpu_start(apr_pool_t *pchild, server_rec *s, const struct uml_nfs_listener *nfs);
int umlconf_cpu_reap(apr_pool_t *p, server_rec *s);
void umlconf_cpu_child_status(server_rec *s, pid_t pid, ap_generation_t gen, int slot,
			      mpm_child_status state);

/* --- watcher.c: the per-child thread that applies knob changes --- */
/* The watcher's kernel thread (@arg: this child's struct umlconf_child). */
int umlconf_watcher_main(void *arg);

/* --- small helpers shared by the files above --- */

/* Append printf output to a buffer of @size, tracking the length in *@len. */
void umlconf_buf_printf(char *buf, size_t size, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
uint64_t umlconf_now_ns(void);

#endif
