/*
 * Imports: a remote NFS export kept as a read-only copy in the machine's
 * tree (kernel/net/nfs/import.c), for configuration that one central
 * server holds for a fleet.
 *
 * An import is registered once for the machine (the table is in the arena)
 * and served by an importer thread in every process that starts them: the
 * threads share a lease, and the one holding it polls the server -- one
 * READDIRPLUS per directory per interval, whose attributes say which files
 * changed; only those are read. A holder that dies leaves the lease to the
 * next thread that looks. Local reads never wait for the server: they see
 * the copy, which keeps the last good content while the server is away.
 *
 * Bounds (hostile servers): files over maxfile bytes, more than maxentries
 * names or deeper than depth directories are left out and reported. A pass
 * that hit maxentries removes nothing from the copy: what it did not reach
 * may still be there.
 */
#ifndef UML_NFSIMPORT_H
#define UML_NFSIMPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NFSIMPORT_MAX	   4
#define NFSIMPORT_PATH_MAX 128
#define NFSIMPORT_URL_MAX  256
#define NFSIMPORT_ERR_MAX  200

enum nfsimport_state {
	NFSIMPORT_NEW,	 /* no pass done yet */
	NFSIMPORT_OK,	 /* the last pass reached the server */
	NFSIMPORT_STALE, /* the server is away: the copy is what it was */
};

/* A snapshot of one import, for status files. Times are CLOCK_REALTIME ns. */
struct nfsimport_status {
	char url[NFSIMPORT_URL_MAX];
	char path[NFSIMPORT_PATH_MAX];
	uint32_t state; /* enum nfsimport_state */
	uint32_t interval_ms;
	uint64_t last_ok_ns;	 /* end of the last pass that reached the server */
	uint64_t stale_since_ns; /* first failure since then; 0 when OK */
	uint64_t changed_ns;	 /* when the copy last changed */
	uint64_t version;	 /* changes made to the copy so far */
	uint64_t passes, rpcs;
	uint64_t newest_mtime_ns;      /* the newest mtime among the remote files */
	uint32_t files, dirs;	       /* in the copy */
	uint32_t skipped;	       /* names left out by the bounds in the last pass */
	uint32_t holder_pid;	       /* the process polling now; 0: none */
	char error[NFSIMPORT_ERR_MAX]; /* the last failure or bound hit; "" if none */
};

/*
 * Register an import of @url (nfs://host[:port]/export[?...], see
 * nfsclnt_url_parse) at @path, a directory made for it, read-only to NFS
 * clients. @options: comma-separated interval=MS (1000), maxfile=BYTES
 * (65536), maxentries=N (1024), depth=N (8), uid=N, gid=N; NULL or "" for
 * the defaults. Registering the same path again replaces the URL and
 * options. Returns the import's index, or -EINVAL (with @why), -ENOSPC (no
 * slot left), -ENODEV (no machine), -ENOMEM.
 */
int nfsimport_add(const char *url, const char *path, const char *options, char *why, size_t whylen);

/*
 * What a holder tells its process after each pass: @rel is a changed or
 * removed file's path under the import's directory
 * ("config/MaxRequestWorkers"), once per such file, then NULL once at the
 * end of every pass, changed or not, reached the server or not (the status
 * says which). Runs on the importer thread, without the vfs lock.
 */
typedef void (*nfsimport_changed_fn)(void *arg, int idx, const char *rel);

/*
 * Start an importer thread for every registered import on this process's
 * CPU. Returns how many started, or a negative errno.
 */
int nfsimport_start(nfsimport_changed_fn fn, void *arg);
/* Interrupt this process's importers; each lets its lease go and frees what it holds as it ends. */
void nfsimport_stop(void);

/* The number of registered imports; a snapshot of import @idx (0, or -ENOENT). */
int nfsimport_count(void);
int nfsimport_status(int idx, struct nfsimport_status *st);

#endif
