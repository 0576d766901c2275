/*
 * kernel/block: a block device on a host file, and its request queue.
 *
 * The device is a host file opened once, by the process that boots (or
 * first opens it), and inherited by every process forked after: any CPU
 * may read, write and flush it. The structure lives in the arena; each
 * process checks once that the fd number it holds is still the device's
 * file (a program may have closed and reused it), and refuses I/O when not.
 *
 * The queue is an append stream over a circular area of the device, the
 * shape a log wants: a caller appends bytes at the tail (stream positions
 * grow for ever; position p lies at area_off + p mod area_len), and asks
 * for them to be durable with blk_sync. Appended bytes wait in a ring in
 * the arena until a thread in the writer's role hands everything appended
 * so far to the host file, in stream order; then one thread in the syncer's
 * role syncs the file once for all that was written. Callers that ask
 * while a sync runs wait for the next one and share it: group commit. The
 * roles are apart, so an appender that finds the ring full waits for
 * page-cache copies, not for the disk. A thread that dies in a role leaves
 * it to the next asker, who does its work again.
 *
 * Appends must be serialized by the caller (the filesystem appends under
 * its lock); syncs and flushes may come from any thread of any process.
 * Calls return 0 or a negative errno.
 */
#ifndef UML_BLK_H
#define UML_BLK_H

#include <stdbool.h>
#include <stdint.h>

#include "gen.h"

#define BLK_PATH_MAX   256
#define BLK_RING_ORDER 6 /* the ring: 2^6 pages */
#define BLK_RING_SIZE                                                                              \
	(4096u << BLK_RING_ORDER) /* bytes awaiting the device; the largest append                 \
				   */

struct blk_stats {
	uint64_t flushes;  /* syncs of the host file */
	uint64_t syncs;	   /* blk_sync calls that needed one (shared flushes count each) */
	uint64_t written;  /* bytes written to the device */
	uint64_t appended; /* bytes appended to the stream */
	uint64_t reads;	   /* bytes read */
	int err;	   /* the first write error; the queue refuses everything since */
};

struct blk_dev {
	char path[BLK_PATH_MAX];
	int fd;			   /* the host fd, the same number in every process */
	bool readonly;		   /* opened for reading only (umlfsck) */
	uint64_t host_dev;	   /* what fd must be, checked per process */
	uint64_t host_ino;	   /* (host_dev_identity) */
	uint64_t size;		   /* bytes */
	uint64_t area_off;	   /* the stream's circular area */
	uint64_t area_len;	   /* (blk_queue_init) */
	char *ring;		   /* BLK_RING_SIZE bytes in the arena */
	uint64_t tail;		   /* next stream position; the appender's lock */
	_Atomic uint64_t appended; /* tail, published for the writer */
	_Atomic uint64_t written;  /* stream bytes handed to the host file */
	_Atomic uint64_t durable;  /* stream bytes the host file has synced */
	_Atomic uint32_t writer;   /* host tid in the writer's role, 0 when none */
	_Atomic uint32_t syncer;   /* host tid in the syncer's role, 0 when none */
	_Atomic int err;	   /* the first write or sync error (sticky) */
	struct kgen progress;	   /* bumped when a role is let go */
	_Atomic uint64_t nflush, nsync, nwritten, nread;
};

/*
 * Open (or with @create make, @size bytes) the device file @path into @d,
 * in the arena. -ENAMETOOLONG, or host_dev_open's errors. *@created tells
 * that the file is new.
 */
int blk_open(struct blk_dev *d, const char *path, bool readonly, bool create, uint64_t size,
	     bool *created);
/* Close the device in this process (the booter's, at halt). */
void blk_close(struct blk_dev *d);
/* Read/write @len bytes at device offset @off; -EINVAL past the end. */
int blk_read(struct blk_dev *d, uint64_t off, void *buf, size_t len);
int blk_write(struct blk_dev *d, uint64_t off, const void *buf, size_t len);
/* Sync the host file: what blk_write wrote is durable after it. */
int blk_flush(struct blk_dev *d);

/*
 * Set up the stream on [@area_off, @area_off + @area_len) of the device,
 * its next append at stream position @tail, everything before it durable.
 * -ENOMEM for the ring.
 */
int blk_queue_init(struct blk_dev *d, uint64_t area_off, uint64_t area_len, uint64_t tail);
/*
 * Append @len bytes (at most BLK_RING_SIZE) at the tail; *@pos gets the
 * stream position after them. When the ring is full the appender writes
 * the oldest bytes out itself (waiting for the writer's role, never for a
 * sync). Caller serializes appends. -EIO (or the device's error) once a write failed.
 */
int blk_append(struct blk_dev *d, const void *buf, size_t len, uint64_t *pos);
/*
 * Make every byte before stream position @pos durable, sharing flushes. A
 * kernel thread that waits for a role lets its CPU's other threads
 * run; with blk_sync_held, for a caller holding a lock they may take, its
 * CPU waits too. Appends wait that way (they are made under such a lock).
 */
int blk_sync(struct blk_dev *d, uint64_t pos);
int blk_sync_held(struct blk_dev *d, uint64_t pos);
/* Read @len stream bytes at position @pos from the device (replay). */
int blk_stream_read(struct blk_dev *d, uint64_t pos, void *buf, size_t len);
void blk_stats(struct blk_dev *d, struct blk_stats *st);

#endif
