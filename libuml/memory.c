/*
 * Memory for applications: allocation, object caches, what mm reports, and
 * parsing sizes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "uml.h"
#include "uml/machine.h"
#include "uml/mm.h"
#include "uml/vfs.h"

int uml_parse_memory(const char *s, size_t *bytes)
{
	size_t v;

	if (uml_parse_size(s, &v) || v < UML_MEMORY_MIN)
		return -EINVAL;
	*bytes = v;
	return 0;
}

int uml_parse_size(const char *s, size_t *bytes)
{
	unsigned long long v;
	unsigned shift = 0;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (end == s || errno || *s == '-')
		return -EINVAL;
	switch (*end) {
	case 'k':
	case 'K':
		shift = 10;
		break;
	case 'm':
	case 'M':
		shift = 20;
		break;
	case 'g':
	case 'G':
		shift = 30;
		break;
	}
	if (shift) {
		end++;
		if (v > (UML_MEMORY_MAX >> shift))
			return -EINVAL;
		v <<= shift;
	}
	if (*end == 'b' || *end == 'B')
		end++;
	if (*end || v > UML_MEMORY_MAX)
		return -EINVAL;
	*bytes = (size_t)v;
	return 0;
}

void *uml_alloc(size_t size)
{
	return machine ? kmalloc(size) : NULL;
}

void *uml_zalloc(size_t size)
{
	return machine ? kzalloc(size) : NULL;
}

void uml_free(void *p)
{
	kfree(p);
}

uml_cache_t *uml_cache_create(const char *name, size_t size, size_t align)
{
	return machine ? (uml_cache_t *)kmem_cache_create(name, size, align) : NULL;
}

void *uml_cache_alloc(uml_cache_t *c)
{
	return kmem_cache_alloc((struct kmem_cache *)c);
}

void uml_cache_free(uml_cache_t *c, void *obj)
{
	kmem_cache_free((struct kmem_cache *)c, obj);
}

int uml_cache_destroy(uml_cache_t *c)
{
	return kmem_cache_destroy((struct kmem_cache *)c);
}

size_t uml_mm_buddyinfo(char *buf, size_t size)
{
	return mm_buddyinfo(buf, size);
}

size_t uml_mm_slabinfo(char *buf, size_t size)
{
	return mm_slabinfo(buf, size);
}

size_t uml_mm_meminfo(char *buf, size_t size)
{
	size_t n = mm_meminfo(buf, size);
	uint64_t used, limit;

	/* Clients' files and their cap (uml_fs_scratch_limit), in the same units. */
	vfs_scratch_stat(&used, &limit);
	if (n < size)
		n += (size_t)snprintf(
		    buf + n, size - n, "ScratchLimit:   %8llu kB\nScratchUsed:    %8llu kB\n",
		    (unsigned long long)(limit / 1024), (unsigned long long)(used / 1024));
	return n;
}
