/*
 * A descriptor's file (socket.c's table): a socket, or a poll set
 * (pollset.c). The table is the process's own memory; so is the file.
 */
#ifndef INET_SOCK_FILE_H
#define INET_SOCK_FILE_H

#include <stdbool.h>
#include <stdint.h>

#include "uml/inet_sock.h"

#define INET_FILE_POLLSET 3 /* a file's type beside INET_SOCK_STREAM and INET_SOCK_DGRAM */

struct inet_pollset;
struct inet_pollitem;

struct inet_file {
	uint32_t refs; /* the table's one, and one per call in progress (files.lock) */
	uint8_t type;  /* INET_SOCK_STREAM, INET_SOCK_DGRAM or INET_FILE_POLLSET */
	bool nonblock; /* INET_SOCK_NONBLOCK */
	bool shut_rd;  /* inet_sock_shutdown(INET_SHUT_RD): receives say 0 */
	int rcvtimeo;  /* ms, < 0: none */
	int sndtimeo;  /* ms, < 0: none */
	bool inet6;    /* INET_SOCK_INET6: its endpoints are IPv6 ones */
	bool has_peer; /* UDP: connected, to peer */
	struct inet_endpoint peer;
	struct tcp_sock *tcp;
	struct udp_sock *udp;
	struct inet_pollset *set;    /* a poll set's (in the arena) */
	struct inet_pollitem *items; /* a socket's: the sets that watch it (pollset.c's lock) */
};

/* The file of @fd, held until inet_file_put; NULL when @fd is not open. */
struct inet_file *inet_file_get(int fd);
/* Give @f back; the last one closes what it is (inet_file_free). */
void inet_file_put(struct inet_file *f);
/* A new file's lowest free descriptor, or -EMFILE, -ENOMEM. */
int inet_file_install(struct inet_file *f);

/* pollset.c: a socket's file is closing; no set watches it after. */
void inet_pollset_forget(struct inet_file *f);
/* pollset.c: a set's file is closing: its items and itself are freed. */
void inet_pollset_free(struct inet_pollset *set);

#endif
