/*
 * The input of the RPC harness (fuzz_rpc.c), shared with its seed writer
 * (fuzz_rpc_seeds.c).
 *
 * An input is a script of at most RPC_STEPS_MAX calls, each
 *
 *     ctl:u8  len:u16 (big-endian)  record[len]
 *
 * ctl & 7 picks the peer the record comes from (fuzz_tree.c's table) and
 * ctl & 8 sends it as a UDP datagram; the other bits are free for the
 * mutator. A len past the end of the input takes what is left.
 *
 * In a record, the 4 bytes RPC_FH_MARK0..2 k stand for a 32-byte file
 * handle, put in before dispatch:
 *     k < 0x80    base handle k % FH_NBASE (fuzz_tree.h): the same file
 *                 whatever the inode numbers, across resets of the tree;
 *     k >= 0x80   the (k - 0x80)-th newest handle seen in a reply (modulo
 *                 how many are kept): what a CREATE, LOOKUP or MNT of this
 *                 input or an earlier one handed out.
 * So a seed says "WRITE to the file the CREATE just made" without knowing
 * the handle, and a mutation of k moves a call to another valid handle.
 */
#ifndef UML_FUZZ_RPC_H
#define UML_FUZZ_RPC_H

#define RPC_STEPS_MAX 16
#define RPC_CTL_PEER  0x07
#define RPC_CTL_UDP   0x08

#define RPC_FH_MARK0  0xfe
#define RPC_FH_MARK1  'F'
#define RPC_FH_MARK2  'H'
#define RPC_FH_RECENT 0x80

/* NFS v3 and MOUNT procedure numbers (RFC 1813); the kernel's are private to it. */
enum {
	PROC3_NULL,
	PROC3_GETATTR,
	PROC3_SETATTR,
	PROC3_LOOKUP,
	PROC3_ACCESS,
	PROC3_READLINK,
	PROC3_READ,
	PROC3_WRITE,
	PROC3_CREATE,
	PROC3_MKDIR,
	PROC3_SYMLINK,
	PROC3_MKNOD,
	PROC3_REMOVE,
	PROC3_RMDIR,
	PROC3_RENAME,
	PROC3_LINK,
	PROC3_READDIR,
	PROC3_READDIRPLUS,
	PROC3_FSSTAT,
	PROC3_FSINFO,
	PROC3_PATHCONF,
	PROC3_COMMIT
};
enum { MNT_NULL, MNT_MNT, MNT_DUMP, MNT_UMNT, MNT_UMNTALL, MNT_EXPORT };

/* Largest UDP payload over IPv4 (kernel/net/sunrpc/svc_sock.c: SVC_UDP_MAX). */
#define RPC_UDP_MAX 65507

#endif
