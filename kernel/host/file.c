/*
 * Small host files the kernel keeps beside the machine: secrets and state
 * that must outlive the arena. Never through a symlink, never partly written.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

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
