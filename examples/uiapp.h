/*
 * The part the UI-as-files apps share (examples/uiview.c, examples/uimail.c):
 * an interactive terminal program whose state is a tree of files on its own
 * libuml machine, exported over NFS, so that other processes can read what
 * the user sees and change it by writing files.
 *
 * One source of truth: the app's state, changed only by the commit hooks of
 * its files. A client's WRITE and the user's keystroke take the same way --
 * validate, then commit, under the filesystem's lock -- because a keystroke
 * is applied with uml_replace_file() on the file it changes. Files render
 * from that state, and so does the screen: every commit marks the screen
 * dirty and the terminal thread redraws it.
 *
 * Threads: the main thread is the machine's one CPU, serving NFS on kernel
 * threads (hooks run there); the terminal runs on a host thread of its own,
 * so a terminal that stops reading never holds the NFS service. The app's
 * state is under ui_lock, a plain mutex held only to copy or set fields,
 * never across a uml_* call (hooks take it inside the filesystem's lock;
 * the terminal thread must not hold it while it calls uml_replace_file).
 *
 * Every app also exports
 *   /status/errors   (read-only) the refused writes, oldest first:
 *                    "TIME PATH ERRNO WHO: reason", the last UI_ERRORS of them
 *   /status/latency  (read-only) "write_to_screen" (a client's accepted
 *                    write -> the frame showing it written to the terminal)
 *                    and "key_to_file" (a keystroke read -> the file holding
 *                    its effect), each "NAME count N p50_us X p99_us Y max_us Z"
 *                    over the last UI_LAT_SAMPLES
 */
#ifndef UIAPP_H
#define UIAPP_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "uml.h"

#define UI_ERRORS      64
#define UI_LAT_SAMPLES 4096
#define UI_WHY_MAX     160

extern pthread_mutex_t ui_lock;

/* --- what a value may be --- */

#define UI_TEXT_NEWLINES 0x1 /* \n and \t allowed (a body); else no control character at all */

/*
 * Whether @s/@len is well-formed UTF-8: no overlong forms, no surrogates
 * (U+D800..U+DFFF), nothing above U+10FFFF, no cut sequence; and no control
 * characters (C0, DEL, C1) but \n and \t with UI_TEXT_NEWLINES. 0, or
 * -EINVAL with the reason and its byte offset in @why.
 */
int ui_text_valid(const char *s, size_t len, unsigned flags, char *why, size_t whylen);
/*
 * One address, an RFC 5322 addr-spec subset: local@domain, the local part
 * a dot-atom (at most 64 bytes), the domain dot-separated labels of
 * letters, digits and '-' (not at either end of a label, at most 63 bytes
 * each, at least two labels), at most 254 bytes in all. 0 or -EINVAL.
 */
int ui_addr_valid(const char *s, size_t len, char *why, size_t whylen);
/*
 * A comma-separated list of such addresses (spaces around them are
 * allowed; empty is allowed), at most UI_ADDRS of them. With @partial the
 * user is still typing: only the characters an address list may hold are
 * checked. 0 or -EINVAL.
 */
#define UI_ADDRS 16
int ui_addrlist_valid(const char *s, size_t len, bool partial, char *why, size_t whylen);
/* The value of a write: @data/@len less one trailing "\n" (or "\r\n"). */
size_t ui_value_len(const char *data, size_t len);

/* --- reports and figures --- */

/* A refused write of @path, into /status/errors (and the screen's last line). */
void ui_error_report(const char *path, int err, const char *why, const struct uml_client *who);
/* The newest error as one line for the screen, "" if none. */
void ui_error_last(char *buf, size_t size);

enum ui_lat { UI_LAT_WRITE_SCREEN, UI_LAT_KEY_FILE, UI_LAT_KINDS };
uint64_t ui_now_ns(void);
void ui_lat_add(enum ui_lat kind, uint64_t ns);
/*
 * A client's write was committed (called from commit, ui_lock not held):
 * the screen is dirty, and the next frame written closes a write_to_screen
 * sample. Local writes (the user's keys) only make it dirty.
 */
void ui_changed(bool remote);
/* From validate: whether the write being validated comes from a client. */
static inline bool ui_remote(const struct uml_client *who)
{
	return who && who->addr;
}

/* --- the tree --- */

/*
 * A pinned file with hooks; read-only to clients unless @mode has a write
 * bit. By convention every hook's arg starts with the file's path (const
 * char *), so that ui_refused can name it.
 */
int ui_file_add(const char *path, unsigned mode, const struct uml_file_hooks *h);
/* The refused hook of every writable file: the filesystem's refusals (too long) reported. */
void ui_refused(void *arg, const char *data, size_t len, int err, const char *reason,
		const struct uml_client *who);
/* A generated read-only file: @render(@arg); writes are refused and reported. */
int ui_file_ro(const char *path, size_t (*render)(void *arg, char *buf, size_t size), void *arg);
/*
 * The user's edit of a file, as a client's write would be (validated,
 * committed): 0 or the refusal, which is reported like a client's.
 */
int ui_set(const char *path, const char *value, size_t len);
/* snprintf's length, clamped to what fits in @size (render's return). */
size_t ui_fit(int n, size_t size);

/* --- the terminal --- */

enum ui_key_kind {
	UI_KEY_CHAR, /* a printable character, UTF-8 in ui_key.text */
	UI_KEY_ENTER,
	UI_KEY_TAB,
	UI_KEY_BACKTAB,
	UI_KEY_BACKSPACE,
	UI_KEY_UP,
	UI_KEY_DOWN,
	UI_KEY_CTRL, /* Ctrl + ui_key.text[0] ('a'..'z') */
};
struct ui_key {
	enum ui_key_kind kind;
	char text[8];
	uint64_t at_ns; /* when it was read */
};

/* A frame: lines appended, then written in one write(2). */
struct ui_frame {
	char buf[64 * 1024];
	size_t len;
	int width, height, lines;
};
void ui_line(struct ui_frame *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

struct ui_app {
	const char *name;
	/* Build the tree and attach hooks (after boot, before serving). */
	int (*build)(char *why, size_t whylen);
	/* One key from the terminal thread (ui_lock not held). Return true to quit. */
	bool (*key)(const struct ui_key *k);
	/* Draw the whole screen from the state (ui_lock not held). */
	void (*draw)(struct ui_frame *f);
};

/*
 * Parse the common options (-N host:port to export on, -c clients, -R
 * ready file, -m memory), boot, build, serve, run the terminal until the
 * app quits or SIGTERM/SIGINT. Returns main's exit status. @opts are extra
 * getopt letters handed to @opt.
 */
int ui_main(const struct ui_app *app, int argc, char **argv, const char *opts,
	    int (*opt)(int c, const char *arg), const char *usage);

#endif
