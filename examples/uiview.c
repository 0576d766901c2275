/*
 * uiview: a page viewer whose user interface is also a filesystem. It shows
 * local HTML-ish pages (examples/pages/README: a title, links, an owner's
 * contact card) and lets the user follow links with the keyboard; its NFS
 * export says what is on the screen, and a write of a page's name to
 * /ui/page/url goes there as if the user had followed a link.
 *
 *   uiview [-N host:port] [-c clients] [-R ready-file] [-d pages-dir] [-p first-page]
 *
 *   /ui/page/url          the page shown (a file name in the pages' directory);
 *                         write one to go there (a name that is not a readable,
 *                         valid page is refused with NFS3ERR_INVAL and reported)
 *   /ui/page/title        (read-only) its title
 *   /ui/page/owner/name   (read-only) its owner's name, empty without an owner
 *   /ui/page/owner/email  (read-only) its owner's address, empty without an owner
 *   /ui/page/links        (read-only) one "HREF TEXT" line per link
 *   /ui/selection         (read-only) "N HREF" of the selected link (from 1), empty
 *                         when the page has none
 *   /status/errors, /status/latency (uiapp.h)
 *
 * Keys: Up / Down (or k / j, Tab) select a link, Enter follows it, b goes
 * back, r reloads, q quits.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "uiapp.h"

#define NAME_MAX_ 64
#define LINKS	  32

struct link {
	char href[NAME_MAX_ + 1];
	char text[160];
};

struct page {
	char url[NAME_MAX_ + 1];
	char title[201];
	char owner_name[121], owner_email[255];
	struct link links[LINKS];
	int nlinks;
	char text[4096]; /* what is left of the page's lines once the tags are out */
	size_t textlen;
	char note[160]; /* what was wrong with the page but did not stop it */
};

static const char *pages_dir = "examples/pages", *first_page = "index.html";
static const char *const url_path = "/ui/page/url";

/* Under ui_lock. */
static struct page cur;
static int selection; /* index into cur.links; meaningless when it has none */
static char history[16][NAME_MAX_ + 1];
static int nhist;

/* Between url's validate and commit, under the filesystem's lock. */
static struct page next;
static bool next_remote;

/* ---------------------------------------------------------------- pages --- */

static int name_valid(const char *s, size_t n, char *why, size_t whylen)
{
	if (!n || n > NAME_MAX_ || s[0] == '.') {
		snprintf(why, whylen,
			 "a page is a file name of 1 to %d bytes, not starting with '.'",
			 NAME_MAX_);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || strchr("._-", s[i]))) {
			snprintf(why, whylen,
				 "'%.*s': a page name has letters, digits, '.', '_', '-'", (int)n,
				 s);
			return -EINVAL;
		}
	return 0;
}

/* The text between @open and the next @close after it, trimmed, into @out. */
static bool between(const char *s, const char *open, const char *close, char *out, size_t size)
{
	const char *a = strstr(s, open), *b;
	size_t n;

	if (!a)
		return false;
	a += strlen(open);
	b = strstr(a, close);
	if (!b)
		return false;
	while (a < b && (*a == ' ' || *a == '\n'))
		a++;
	while (b > a && (b[-1] == ' ' || b[-1] == '\n'))
		b--;
	n = (size_t)(b - a) < size - 1 ? (size_t)(b - a) : size - 1;
	/* Never cut a character in two. */
	while (n && n < (size_t)(b - a) && ((unsigned char)a[n] & 0xc0) == 0x80)
		n--;
	memcpy(out, a, n);
	out[n] = '\0';
	return true;
}

static int page_parse(const char *src, struct page *p, char *why, size_t whylen)
{
	char card[400];
	const char *s;

	if (!between(src, "<title>", "</title>", p->title, sizeof(p->title)))
		snprintf(p->title, sizeof(p->title), "%s", p->url);
	if (between(src, "<meta name=\"owner\" content=\"", "\">", card, sizeof(card))) {
		char *lt = strchr(card, '<'), *gt = lt ? strchr(lt, '>') : NULL;
		char *e = lt;

		while (e && e > card && e[-1] == ' ')
			e--;
		if (!lt || !gt || ui_addr_valid(lt + 1, (size_t)(gt - lt - 1), why, whylen)) {
			snprintf(p->note, sizeof(p->note),
				 "the owner's card is not \"Name <addr>\"");
		} else {
			snprintf(p->owner_name, sizeof(p->owner_name), "%.*s", (int)(e - card),
				 card);
			snprintf(p->owner_email, sizeof(p->owner_email), "%.*s", (int)(gt - lt - 1),
				 lt + 1);
		}
	}
	for (s = strstr(src, "<a href=\""); s && p->nlinks < LINKS;
	     s = strstr(s + 1, "<a href=\"")) {
		struct link *l = &p->links[p->nlinks];
		const char *h = s + 9, *q = strchr(h, '"');

		if (!q || name_valid(h, (size_t)(q - h), why, whylen))
			continue; /* a link we could not follow is not offered */
		snprintf(l->href, sizeof(l->href), "%.*s", (int)(q - h), h);
		if (!between(q, ">", "</a>", l->text, sizeof(l->text)))
			memcpy(l->text, l->href, strlen(l->href) + 1); /* 65 bytes at most */
		p->nlinks++;
	}
	/* The text: every line but those of the title, card and links, tags dropped. */
	for (s = src; *s;) {
		const char *nl = strchr(s, '\n'), *e = nl ? nl : s + strlen(s);
		bool skip = false, in_tag = false;
		size_t start = p->textlen;

		for (const char *t = s; t < e; t++) {
			if (*t == '<' && (!strncmp(t, "<title>", 7) || !strncmp(t, "<meta ", 6) ||
					  !strncmp(t, "<a ", 3)))
				skip = true;
			if (*t == '<')
				in_tag = true;
			else if (*t == '>')
				in_tag = false;
			else if (!in_tag && p->textlen < sizeof(p->text) - 2)
				p->text[p->textlen++] = *t;
		}
		if (skip || p->textlen == start)
			p->textlen = start;
		else
			p->text[p->textlen++] = '\n';
		s = nl ? nl + 1 : e;
	}
	return 0;
}

/* Read and parse page @name of the pages' directory into @p. */
static int page_load(const char *name, size_t n, struct page *p, char *why, size_t whylen)
{
	char path[512], src[16384];
	ssize_t len;
	int fd, rc;

	memset(p, 0, sizeof(*p));
	if ((rc = name_valid(name, n, why, whylen)))
		return rc;
	snprintf(p->url, sizeof(p->url), "%.*s", (int)n, name);
	snprintf(path, sizeof(path), "%s/%s", pages_dir, p->url);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, whylen, "no page %s in %s: %s", p->url, pages_dir, strerror(errno));
		return -EINVAL;
	}
	len = read(fd, src, sizeof(src) - 1);
	close(fd);
	if (len < 0 || len == (ssize_t)sizeof(src) - 1) {
		snprintf(why, whylen, "page %s: %s", p->url,
			 len < 0 ? strerror(errno) : "longer than 16 KiB");
		return -EINVAL;
	}
	src[len] = '\0';
	if (ui_text_valid(src, (size_t)len, UI_TEXT_NEWLINES, why, whylen)) {
		char inner[UI_WHY_MAX];

		snprintf(inner, sizeof(inner), "%s", why);
		snprintf(why, whylen, "page %s: %s", p->url, inner);
		return -EINVAL;
	}
	return page_parse(src, p, why, whylen);
}

/* ---------------------------------------------------------------- files --- */

static int url_validate(void *arg, const char *data, size_t len, const struct uml_client *who,
			char *why, size_t whylen)
{
	int rc;

	(void)arg;
	rc = page_load(data, ui_value_len(data, len), &next, why, whylen);
	if (rc) {
		ui_error_report(url_path, rc, why, who);
		return rc;
	}
	next_remote = ui_remote(who);
	return 0;
}

static void url_commit(void *arg, const char *data, size_t len)
{
	(void)arg;
	(void)data;
	(void)len;
	pthread_mutex_lock(&ui_lock);
	/* Going where the history says we came from is going back. */
	if (nhist && !strcmp(history[nhist - 1], next.url)) {
		nhist--;
	} else if (cur.url[0] && strcmp(cur.url, next.url)) {
		if (nhist == (int)(sizeof(history) / sizeof(history[0]))) {
			memmove(history[0], history[1], sizeof(history) - sizeof(history[0]));
			nhist--;
		}
		snprintf(history[nhist++], sizeof(history[0]), "%s", cur.url);
	}
	cur = next;
	selection = 0;
	pthread_mutex_unlock(&ui_lock);
	ui_changed(next_remote);
}

#define RENDER_FIELD(fn, expr)                                                                     \
	static size_t fn(void *arg, char *buf, size_t size)                                        \
	{                                                                                          \
		int n;                                                                             \
		(void)arg;                                                                         \
		pthread_mutex_lock(&ui_lock);                                                      \
		n = (expr)[0] ? snprintf(buf, size, "%s\n", (expr)) : 0;                           \
		pthread_mutex_unlock(&ui_lock);                                                    \
		return ui_fit(n, size);                                                            \
	}
RENDER_FIELD(url_render, cur.url)
RENDER_FIELD(title_render, cur.title)
RENDER_FIELD(owner_name_render, cur.owner_name)
RENDER_FIELD(owner_email_render, cur.owner_email)

static size_t links_render(void *arg, char *buf, size_t size)
{
	size_t len = 0;

	(void)arg;
	pthread_mutex_lock(&ui_lock);
	for (int i = 0; i < cur.nlinks; i++)
		len += ui_fit(snprintf(buf + len, size - len, "%s %s\n", cur.links[i].href,
				       cur.links[i].text),
			      size - len);
	pthread_mutex_unlock(&ui_lock);
	return len;
}

static size_t selection_render(void *arg, char *buf, size_t size)
{
	int n = 0;

	(void)arg;
	pthread_mutex_lock(&ui_lock);
	if (cur.nlinks)
		n = snprintf(buf, size, "%d %s\n", selection + 1, cur.links[selection].href);
	pthread_mutex_unlock(&ui_lock);
	return ui_fit(n, size);
}

static int build(char *why, size_t whylen)
{
	static const struct uml_file_hooks url_h = {.validate = url_validate,
						    .commit = url_commit,
						    .render = url_render,
						    .refused = ui_refused,
						    .arg = (void *)&url_path};
	int rc = uml_mkdir_p("/ui/page/owner", 0755);

	if (!rc)
		rc = ui_file_add(url_path, 0666, &url_h);
	if (!rc)
		rc = ui_file_ro("/ui/page/title", title_render, NULL);
	if (!rc)
		rc = ui_file_ro("/ui/page/owner/name", owner_name_render, NULL);
	if (!rc)
		rc = ui_file_ro("/ui/page/owner/email", owner_email_render, NULL);
	if (!rc)
		rc = ui_file_ro("/ui/page/links", links_render, NULL);
	if (!rc)
		rc = ui_file_ro("/ui/selection", selection_render, NULL);
	if (!rc)
		rc = uml_file_flags("/ui/page/owner", UML_DIR_NOCREATE);
	if (!rc)
		rc = uml_file_flags("/ui/page", UML_DIR_NOCREATE);
	if (!rc)
		rc = uml_file_flags("/ui", UML_DIR_NOCREATE);
	if (rc) {
		snprintf(why, whylen, "building /ui: %s", strerror(-rc));
		return rc;
	}
	rc = uml_replace_file(url_path, first_page, strlen(first_page), NULL, why, whylen);
	if (rc) {
		char inner[UI_WHY_MAX];

		snprintf(inner, sizeof(inner), "%s", why);
		snprintf(why, whylen, "the first page: %s", inner);
	}
	return rc;
}

/* ------------------------------------------------------------ terminal --- */

static bool key(const struct ui_key *k)
{
	char href[NAME_MAX_ + 1] = "";
	bool moved = false;

	pthread_mutex_lock(&ui_lock);
	switch (k->kind) {
	case UI_KEY_DOWN:
	case UI_KEY_TAB:
		moved = cur.nlinks > 0;
		if (moved)
			selection = (selection + 1) % cur.nlinks;
		break;
	case UI_KEY_UP:
	case UI_KEY_BACKTAB:
		moved = cur.nlinks > 0;
		if (moved)
			selection = (selection + cur.nlinks - 1) % cur.nlinks;
		break;
	case UI_KEY_ENTER:
		if (cur.nlinks)
			snprintf(href, sizeof(href), "%s", cur.links[selection].href);
		break;
	case UI_KEY_CHAR:
		if (k->text[0] == 'j' || k->text[0] == 'k') {
			moved = cur.nlinks > 0;
			if (moved)
				selection = (selection + (k->text[0] == 'j' ? 1 : cur.nlinks - 1)) %
					    cur.nlinks;
		} else if (k->text[0] == 'b' && nhist) {
			snprintf(href, sizeof(href), "%s", history[nhist - 1]);
		} else if (k->text[0] == 'r') {
			snprintf(href, sizeof(href), "%s", cur.url);
		} else if (k->text[0] == 'q') {
			pthread_mutex_unlock(&ui_lock);
			return true;
		}
		break;
	case UI_KEY_CTRL:
		if (k->text[0] == 'q') {
			pthread_mutex_unlock(&ui_lock);
			return true;
		}
		break;
	default:
		break;
	}
	pthread_mutex_unlock(&ui_lock);
	/* /ui/selection renders from the state just set: it says so from now on. */
	if (moved)
		ui_lat_add(UI_LAT_KEY_FILE, ui_now_ns() - k->at_ns);
	if (href[0] && ui_set(url_path, href, strlen(href)) == 0)
		ui_lat_add(UI_LAT_KEY_FILE, ui_now_ns() - k->at_ns);
	return false;
}

static void draw(struct ui_frame *f)
{
	char err[300];

	ui_error_last(err, sizeof(err));
	pthread_mutex_lock(&ui_lock);
	ui_line(f, "uiview  %s    (Up/Down select, Enter follow, b back, r reload, q quit)",
		cur.url);
	ui_line(f, "%s", "");
	ui_line(f, "  %s", cur.title);
	if (cur.owner_email[0])
		ui_line(f, "  owner: %s <%s>", cur.owner_name, cur.owner_email);
	else
		ui_line(f, "  owner: -");
	ui_line(f, "%s", "");
	for (const char *p = cur.text, *e = cur.text + cur.textlen; p < e;) {
		const char *nl = memchr(p, '\n', (size_t)(e - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(e - p);

		ui_line(f, "  %.*s", (int)l, p);
		p += l + 1;
	}
	ui_line(f, "%s", "");
	ui_line(f, "  links:");
	for (int i = 0; i < cur.nlinks; i++)
		ui_line(f, "%c [%d] %s  (%s)", i == selection ? '>' : ' ', i + 1, cur.links[i].text,
			cur.links[i].href);
	ui_line(f, "%s", "");
	ui_line(f, "note: %s", cur.note[0] ? cur.note : "-");
	pthread_mutex_unlock(&ui_lock);
	ui_line(f, "last refused: %s", err[0] ? err : "-");
}

static int opt(int c, const char *arg)
{
	if (c == 'd')
		pages_dir = arg;
	else if (c == 'p')
		first_page = arg;
	else
		return -EINVAL;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct ui_app app = {
	    .name = "uiview", .build = build, .key = key, .draw = draw};

	return ui_main(&app, argc, argv, "d:p:", opt, "[-d pages-dir] [-p first-page]");
}
