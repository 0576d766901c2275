#ifndef LIBUML_RESOLVE_H
#define LIBUML_RESOLVE_H

#include <stddef.h>

/*
 * Shared by libuml's own files, hidden from libuml.so's users (the double
 * underscore says so to readers of libuml.a).
 *
 * @url ("nfs://name[:port]/...") with its host, when a name, replaced by its
 * first address, into @out (@size bytes); an address or a bracketed IPv6
 * host is copied as it is. 0, or -EINVAL with the reason in @why.
 */
__attribute__((visibility("hidden"))) int uml__url_resolve(const char *url, char *out, size_t size,
							   char *why, size_t whylen);

#endif
