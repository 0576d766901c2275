/*
 * Host files the kernel keeps beside the machine: small ones for secrets
 * (never partly written), and the files behind block devices. Never through
 * a symlink.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "uml/compiler.h"
#include "uml/host.h"

int host_file_read(const char *path, void *buf, size_t size, size_t *len, uint32_t *mode)
{
	struct stat st;
	ssize_t n;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		err = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		err = -EINVAL;
		goto out;
	}
	if ((uint64_t)st.st_size > size) {
		err = -EFBIG;
		goto out;
	}
	*len = 0;
	while (*len < size) {
		n = read(fd, (char *)buf + *len, size - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			goto out;
		}
		if (n == 0)
			break;
		*len += (size_t)n;
	}
	*mode = st.st_mode & 07777;
out:
	close(fd);
	return err;
}

int host_file_create(const char *path, const void *buf, size_t len, uint32_t mode)
{
	const char *p = buf;
	int fd, err = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, mode);
	if (fd < 0)
		return -errno;
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? -errno : -EIO;
			break;
		}
		p += n;
		len -= (size_t)n;
	}
	if (!err && fsync(fd) < 0)
		err = -errno;
	close(fd);
	/* Half a secret is worse than none: a failed file does not stay behind. */
	if (err)
		unlink(path);
	return err;
}

int host_random_strict(void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n = getrandom(p, len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int host_dev_open(const char *path, bool readonly, bool create, uint64_t size, uint64_t *cur,
		  bool *created)
{
	int flags = (readonly ? O_RDONLY : O_RDWR) | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY;
	struct stat st;
	int fd, err;

	*created = false;
	fd = open(path, flags);
	if (fd < 0 && errno == ENOENT && create && !readonly) {
		fd = open(path, flags | O_CREAT | O_EXCL, 0600);
		if (fd < 0)
			return -errno;
		*created = true;
		/* Reserve the blocks now: a full disk is an error at start, not a lost write. */
		err = -posix_fallocate(fd, 0, (off_t)size);
		if (err == -EOPNOTSUPP && ftruncate(fd, (off_t)size) == 0)
			err = 0;
		if (err)
			goto out_remove;
	} else if (fd < 0) {
		return -errno;
	}
	if (flock(fd, (readonly ? LOCK_SH : LOCK_EX) | LOCK_NB) < 0) {
		err = errno == EWOULDBLOCK ? -EBUSY : -errno;
		goto out_close;
	}
	if (fstat(fd, &st) < 0) {
		err = -errno;
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		err = -EINVAL;
		goto out_close;
	}
	*cur = (uint64_t)st.st_size;
	return fd;

out_remove:
	unlink(path);
	*created = false;
out_close:
	close(fd);
	return err;
}

int host_dir_writable(const char *path, uint64_t *free)
{
	const char *slash = strrchr(path, '/');
	char dir[4096];
	struct statvfs vfs;
	struct stat st;

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash == path ? 1 : slash - path), path);
	if (stat(dir, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if (statvfs(dir, &vfs) < 0)
		return -errno;
	*free = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	return access(dir, W_OK | X_OK) < 0 ? -errno : 0;
}

int host_dev_identity(int fd, uint64_t *dev, uint64_t *ino)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	*dev = st.st_dev;
	*ino = st.st_ino;
	return 0;
}

int host_pread(int fd, void *buf, size_t len, uint64_t off)
{
	char *p = buf;

	while (len) {
		ssize_t n = pread(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

static uint64_t io_writes, io_crash_at = UINT64_MAX;
static size_t io_tear;

void host_io_crash(uint64_t n, size_t tear)
{
	io_crash_at = io_writes + n;
	io_tear = tear;
}

uint64_t host_io_writes(void)
{
	return io_writes;
}

int host_pwrite(int fd, const void *buf, size_t len, uint64_t off)
{
	const char *p = buf;

	if (unlikely(io_writes++ >= io_crash_at)) {
		if (io_writes - 1 > io_crash_at)
			return 0;
		len = io_tear < len ? io_tear : len;
	}

	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

int host_fdatasync(int fd)
{
	if (unlikely(io_writes > io_crash_at))
		return 0;
	while (fdatasync(fd) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}
