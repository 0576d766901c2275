/*
 * A block device on a host file, and the append stream over it with group
 * commit (uml/blk.h says how it is used).
 */
#include <errno.h>
#include <string.h>

#include "uml/blk.h"
#include "uml/compiler.h"
#include "uml/host.h"
#include "uml/mm.h"

/* How long a thread waiting for the flusher's role sleeps before it looks whether the holder died.
 */
#define BLK_ROLE_WAIT_NS 20000000

/*
 * Whether this process's fd number is still the device's file. Checked once
 * per process (the pid changes at fork): a program that closed the fd and
 * opened something else under its number would otherwise write the log into
 * that file.
 */
static uint32_t fd_checked_pid;
static bool fd_ok;

static int dev_fd(struct blk_dev *d)
{
	uint32_t pid = host_pid();

	if (fd_checked_pid != pid) {
		uint64_t dev, ino;

		fd_ok = host_dev_identity(d->fd, &dev, &ino) == 0 && dev == d->host_dev &&
			ino == d->host_ino;
		if (!fd_ok)
			host_log("umlblk: fd %d is no longer %s in process %u: its I/O is refused",
				 d->fd, d->path, pid);
		fd_checked_pid = pid;
	}
	return fd_ok ? d->fd : -1;
}

int blk_open(struct blk_dev *d, const char *path, bool readonly, bool create, uint64_t size,
	     bool *created)
{
	uint64_t cur;
	int fd, err;

	if (strlen(path) >= sizeof(d->path))
		return -ENAMETOOLONG;
	memset(d, 0, sizeof(*d));
	fd = host_dev_open(path, readonly, create, size, &cur, created);
	if (fd < 0)
		return fd;
	err = host_dev_identity(fd, &d->host_dev, &d->host_ino);
	if (err) {
		host_close(fd);
		return err;
	}
	strcpy(d->path, path);
	d->fd = fd;
	d->readonly = readonly;
	d->size = cur;
	fd_checked_pid = host_pid();
	fd_ok = true;
	return 0;
}

void blk_close(struct blk_dev *d)
{
	if (dev_fd(d) >= 0)
		host_close(d->fd);
	fd_ok = false;
	if (d->ring)
		page_free(d->ring, BLK_RING_ORDER);
	d->ring = NULL;
}

static bool in_device(struct blk_dev *d, uint64_t off, size_t len)
{
	return off <= d->size && len <= d->size - off;
}

int blk_read(struct blk_dev *d, uint64_t off, void *buf, size_t len)
{
	int fd = dev_fd(d), err;

	if (fd < 0)
		return -EBADF;
	if (!in_device(d, off, len))
		return -EINVAL;
	err = host_pread(fd, buf, len, off);
	if (!err)
		atomic_fetch_add(&d->nread, len);
	return err;
}

int blk_write(struct blk_dev *d, uint64_t off, const void *buf, size_t len)
{
	int fd = dev_fd(d), err;

	if (fd < 0)
		return -EBADF;
	if (d->readonly)
		return -EROFS;
	if (!in_device(d, off, len))
		return -EINVAL;
	err = host_pwrite(fd, buf, len, off);
	if (!err)
		atomic_fetch_add(&d->nwritten, len);
	return err;
}

int blk_flush(struct blk_dev *d)
{
	int fd = dev_fd(d), err;

	if (fd < 0)
		return -EBADF;
	err = host_fdatasync(fd);
	if (!err)
		atomic_fetch_add(&d->nflush, 1);
	return err;
}

int blk_queue_init(struct blk_dev *d, uint64_t area_off, uint64_t area_len, uint64_t tail)
{
	if (!in_device(d, area_off, area_len) || area_len < BLK_RING_SIZE)
		return -EINVAL;
	if (!d->ring) {
		d->ring = page_alloc(BLK_RING_ORDER);
		if (!d->ring)
			return -ENOMEM;
	}
	d->area_off = area_off;
	d->area_len = area_len;
	d->tail = tail;
	atomic_store(&d->appended, tail);
	atomic_store(&d->written, tail);
	atomic_store(&d->durable, tail);
	return 0;
}

/* The device error that stopped the queue, or 0. */
static int queue_err(struct blk_dev *d)
{
	return atomic_load(&d->err);
}

static void queue_fail(struct blk_dev *d, int err)
{
	int none = 0;

	if (atomic_compare_exchange_strong(&d->err, &none, err))
		host_log("umlblk: %s: write failed (%s): the log takes no more writes", d->path,
			 strerror(-err));
}

/*
 * Two roles, each held by one thread at a time (its host tid in the word):
 * the writer hands ring bytes to the host file in stream order, the syncer
 * makes what was written durable. They are apart so that an appender that
 * finds the ring full waits for a few page-cache copies, never for a disk
 * flush, and bytes keep going to the file while one flushes.
 *
 * Take @role, waiting while a live thread holds it. Give up waiting
 * (returning 1, role not taken) once @done says the holder's work covered
 * ours. With @held the caller holds a lock other threads of its CPU may
 * take: it waits with its CPU. A holder that died leaves the role to the
 * next: its work is done again.
 */
static int role_take(struct blk_dev *d, _Atomic uint32_t *role,
		     bool (*done)(struct blk_dev *d, uint64_t pos), uint64_t pos, bool held)
{
	uint32_t me = host_tid();

	for (;;) {
		uint32_t seen = kgen_read(&d->progress);
		uint32_t owner = 0;
		int err;

		if (atomic_compare_exchange_strong(role, &owner, me))
			return 0;
		if (done(d, pos))
			return 1;
		err = held ? kgen_wait_cpu(&d->progress, seen, BLK_ROLE_WAIT_NS)
			   : kgen_wait(&d->progress, seen, BLK_ROLE_WAIT_NS);
		if (err == -ETIMEDOUT && !host_task_alive(owner) &&
		    atomic_compare_exchange_strong(role, &owner, me))
			return 0;
	}
}

static void role_release(struct blk_dev *d, _Atomic uint32_t *role)
{
	atomic_store(role, 0);
	kgen_bump(&d->progress);
}

static bool is_written(struct blk_dev *d, uint64_t pos)
{
	return atomic_load(&d->written) >= pos;
}

static bool is_durable(struct blk_dev *d, uint64_t pos)
{
	return atomic_load(&d->durable) >= pos;
}

/* With the writer's role: hand the host file everything appended so far. */
static int write_out(struct blk_dev *d)
{
	uint64_t upto = atomic_load_explicit(&d->appended, memory_order_acquire);
	uint64_t w = atomic_load(&d->written);
	int fd = dev_fd(d), err;

	if (fd < 0)
		return -EBADF;
	while (w < upto) {
		uint64_t in_ring = w % BLK_RING_SIZE, in_area = w % d->area_len;
		size_t chunk =
		    (size_t)MIN(upto - w, MIN(BLK_RING_SIZE - in_ring, d->area_len - in_area));

		err = host_pwrite(fd, d->ring + in_ring, chunk, d->area_off + in_area);
		if (err)
			return err;
		w += chunk;
		atomic_store(&d->written, w);
		atomic_fetch_add(&d->nwritten, chunk);
	}
	return 0;
}

/* Write out up to @pos at least (more if more was appended). */
static int write_to(struct blk_dev *d, uint64_t pos, bool held)
{
	int err = 0;

	while (!is_written(d, pos) && !err) {
		if (role_take(d, &d->writer, is_written, pos, held) == 1)
			break;
		err = is_written(d, pos) ? 0 : write_out(d);
		role_release(d, &d->writer);
	}
	return err;
}

int blk_append(struct blk_dev *d, const void *buf, size_t len, uint64_t *pos)
{
	const char *src = buf;
	uint64_t t = d->tail;
	size_t done = 0;
	int err = queue_err(d);

	if (err)
		return err;
	if (len > BLK_RING_SIZE || d->readonly)
		return len > BLK_RING_SIZE ? -EINVAL : -EROFS;
	/* Room in the ring: the oldest bytes go to the host file (its page cache). */
	if (t + len - atomic_load(&d->written) > BLK_RING_SIZE) {
		err = write_to(d, t + len - BLK_RING_SIZE, true);
		if (err) {
			queue_fail(d, err);
			return err;
		}
	}
	while (done < len) {
		uint64_t r = (t + done) % BLK_RING_SIZE;
		size_t chunk = MIN(len - done, (size_t)(BLK_RING_SIZE - r));

		memcpy(d->ring + r, src + done, chunk);
		done += chunk;
	}
	d->tail = t + len;
	atomic_store_explicit(&d->appended, d->tail, memory_order_release);
	*pos = d->tail;
	return 0;
}

/*
 * Group commit: the bytes up to @pos are written (by us or a writer before
 * us), then one syncer at a time syncs everything written when it starts;
 * those who wait meanwhile find their bytes covered, or sync the next batch
 * together.
 */
static int sync_to(struct blk_dev *d, uint64_t pos, bool held)
{
	int err;

	if (is_durable(d, pos))
		return 0;
	atomic_fetch_add(&d->nsync, 1);
	for (;;) {
		err = queue_err(d);
		if (!err)
			err = write_to(d, pos, held);
		if (err)
			break;
		if (role_take(d, &d->syncer, is_durable, pos, held) == 1)
			return 0;
		if (!is_durable(d, pos)) {
			uint64_t target = atomic_load(&d->written);
			int fd = dev_fd(d);

			err = fd < 0 ? -EBADF : host_fdatasync(fd);
			if (!err) {
				atomic_store(&d->durable, target);
				atomic_fetch_add(&d->nflush, 1);
			}
		}
		role_release(d, &d->syncer);
		if (err || is_durable(d, pos))
			break;
	}
	if (err)
		queue_fail(d, err);
	return err;
}

int blk_sync(struct blk_dev *d, uint64_t pos)
{
	return sync_to(d, pos, false);
}

int blk_sync_held(struct blk_dev *d, uint64_t pos)
{
	return sync_to(d, pos, true);
}

int blk_stream_read(struct blk_dev *d, uint64_t pos, void *buf, size_t len)
{
	char *dst = buf;

	while (len) {
		uint64_t in_area = pos % d->area_len;
		size_t chunk = (size_t)MIN((uint64_t)len, d->area_len - in_area);
		int err = blk_read(d, d->area_off + in_area, dst, chunk);

		if (err)
			return err;
		dst += chunk;
		pos += chunk;
		len -= chunk;
	}
	return 0;
}

void blk_stats(struct blk_dev *d, struct blk_stats *st)
{
	st->flushes = atomic_load(&d->nflush);
	st->syncs = atomic_load(&d->nsync);
	st->written = atomic_load(&d->nwritten);
	st->appended = atomic_load(&d->appended);
	st->reads = atomic_load(&d->nread);
	st->err = atomic_load(&d->err);
}
