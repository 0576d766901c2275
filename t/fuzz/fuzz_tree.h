/*
 * The machine behind the RPC harness (fuzz_rpc.c): one booted libuml with a
 * tree shaped like mod_umlconf's (validated knob files, generated status
 * files, plain files and directories, a symlink), four exports that differ
 * in who may do what, and eight peers to call from.
 *
 *   /            ro      127.0.0.1
 *   /rw          rw      127.0.0.1, 10.0.0.0/8, ::1
 *     config/    pinned  MaxRequestWorkers (1..400), Accepting (0..1): validated
 *     status/    pinned, no creates: counter, big: generated, read-only
 *     data/      file, big;  many/ f00..f39;  link -> data/file
 *   /ro          ro      127.0.0.0/30, ::1           a, sub/b
 *   /secure      rw, privileged ports only: 127.0.0.1, ::1       s
 *
 * The tree is kept across inputs, so the fuzzer works on what earlier
 * inputs made; fuzz_tree_reset tears it down and builds it again (the
 * exports too, as their roots are new inodes then).
 */
#ifndef UML_FUZZ_TREE_H
#define UML_FUZZ_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "uml/nfs3.h"

enum fuzz_export { FX_ROOT, FX_RW, FX_RO, FX_SECURE, FX_COUNT };

#define FUZZ_NPEERS 8

struct fuzz_peer {
	struct sockaddr_storage sa;
	socklen_t len;
	char client[64]; /* "addr:port", as a transport formats it */
	unsigned may;	 /* (1 << FX_*) for each export the peer may use */
};

/* Handles whose meaning stays while the tree is rebuilt under them. */
enum fuzz_base_fh {
	FH_ROOT,	/* /  (export /) */
	FH_RW,		/* /rw */
	FH_RO,		/* /ro */
	FH_SECURE,	/* /secure */
	FH_CONFIG,	/* /rw/config */
	FH_KNOB_MRW,	/* /rw/config/MaxRequestWorkers: validated */
	FH_KNOB_ACCEPT, /* /rw/config/Accepting: validated */
	FH_STATUS,	/* /rw/status */
	FH_COUNTER,	/* /rw/status/counter: generated */
	FH_BIG_GEN,	/* /rw/status/big: generated, 10000 bytes */
	FH_DATA,	/* /rw/data */
	FH_DATA_FILE,	/* /rw/data/file */
	FH_MANY,	/* /rw/many: 40 entries */
	FH_LINK,	/* /rw/link: symlink */
	FH_RO_FILE,	/* /ro/a */
	FH_SECURE_FILE, /* /secure/s */
	FH_RO_VIA_ROOT, /* /ro through export / */
	FH_CROSS,	/* /rw/data/file under export /ro's root: a good MAC, outside its export */
	FH_NBASE
};

/* Boot the machine with a fixed handle key, build the tree. 0 or a negative errno. */
int fuzz_tree_boot(void);
/* Tear the tree down and build it again. 0 or a negative errno. */
int fuzz_tree_reset(void);
/* True when the machine has less than a quarter of its memory free. */
bool fuzz_tree_low_memory(void);
/* Free pages of the machine once caches are given back (slow: for after a reset). */
uint32_t fuzz_tree_free_pages(void);

const struct fuzz_peer *fuzz_tree_peer(unsigned i);
void fuzz_tree_base_fh(enum fuzz_base_fh which, uint8_t out[NFS_FH_SIZE]);
/* The export (FX_*) a handle of ours was issued under, or -1 for anything else. */
int fuzz_tree_export_of(const uint8_t *fh, size_t len);

/*
 * Who may change what: "fixed" is everything outside /rw and /secure (nobody
 * may change it), then /rw and /secure. A snapshot lists a region's names,
 * inodes and attributes (not atime; nothing of hooked files, whose hooks
 * watch them), so that a change can be told, and shown.
 */
enum fuzz_region { FR_FIXED, FR_RW, FR_SECURE, FR_COUNT };

struct fuzz_entry {
	struct vfs_ino dir, ino;
	uint32_t type, mode, nlink, uid, gid;
	uint64_t size;
	struct vfs_time mtime;
	size_t name; /* offset into the listing's names */
};

struct fuzz_listing {
	struct fuzz_entry *v;
	size_t n, cap;
	char *names;
	size_t nlen, ncap;
};

struct fuzz_snapshot {
	unsigned regions; /* (1 << FR_*) taken */
	struct fuzz_listing r[FR_COUNT];
};

/* Take the @regions (1 << FR_*) into @s, reusing its buffers. */
void fuzz_tree_snapshot(struct fuzz_snapshot *s, unsigned regions);
/* True when region @r is the same in both (or not in both); else the first difference in @why. */
bool fuzz_tree_same(const struct fuzz_snapshot *before, const struct fuzz_snapshot *after,
		    enum fuzz_region r, char *why, size_t size);

/* The peer of the call being served (NULL between calls): the knob hooks check it. */
void fuzz_tree_serving(const struct fuzz_peer *p);

#endif
