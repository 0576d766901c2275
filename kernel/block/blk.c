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
 * Take the flusher's role, waiting while a live thread holds it. With
 * @pos, give up waiting (returning 1, role not taken) once the stream is
 * durable up to @pos: the holder's flush covered it. With @held the caller
 * holds a lock other threads of its CPU may take: it waits with its CPU.
 */
static int role_take(struct blk_dev *d, uint64_t pos, bool held)
{
	uint32_t me = host_tid();

	for (;;) {
		uint32_t seen = kgen_read(&d->flushed);
		uint32_t owner = 0;
		int err;

		if (atomic_compare_exchange_strong(&d->flusher, &owner, me))
			return 0;
		if (pos && atomic_load(&d->durable) >= pos)
			return 1;
		err = held ? kgen_wait_cpu(&d->flushed, seen, BLK_ROLE_WAIT_NS)
			   : kgen_wait(&d->flushed, seen, BLK_ROLE_WAIT_NS);
		if (err == -ETIMEDOUT && !host_task_alive(owner) &&
		    atomic_compare_exchange_strong(&d->flusher, &owner, me)) {
			/* It died flushing: what it wrote is written again. */
			return 0;
		}
	}
}

static void role_release(struct blk_dev *d)
{
	atomic_store(&d->flusher, 0);
	kgen_bump(&d->flushed);
}

/* With the role: hand the host file everything appended, and sync it when @sync. */
static int flush_out(struct blk_dev *d, bool sync)
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
	if (sync && atomic_load(&d->durable) < upto) {
		err = host_fdatasync(fd);
		if (err)
			return err;
		atomic_store(&d->durable, upto);
		atomic_fetch_add(&d->nflush, 1);
	}
	return 0;
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
	while (t + len - atomic_load(&d->written) > BLK_RING_SIZE) {
		role_take(d, 0, true);
		err = flush_out(d, false);
		role_release(d);
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

static int sync_to(struct blk_dev *d, uint64_t pos, bool held)
{
	bool counted = false;
	int err;

	for (;;) {
		if (atomic_load(&d->durable) >= pos)
			return 0;
		err = queue_err(d);
		if (err)
			return err;
		if (!counted) {
			atomic_fetch_add(&d->nsync, 1);
			counted = true;
		}
		if (role_take(d, pos, held) == 1)
			return 0;
		err = atomic_load(&d->durable) < pos ? flush_out(d, true) : 0;
		role_release(d);
		if (err) {
			queue_fail(d, err);
			return err;
		}
	}
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
