/*
 * umlmon's config file: one setting per line, '#' starts a comment.
 *
 *   interval 1s                      poll period (100ms .. 60s)
 *   nfs 127.0.0.1:20490 [clients 127.0.0.1,::1]   its own export (read-write to them)
 *   http 127.0.0.1:8090              the dashboard
 *   history 10m                      what the dashboard shows (at most 10 minutes)
 *   dry-run on|off                   decide and log, never write
 *   drain on|off [high=64] [low=8] [for=2s] [dwell=5s]
 *   limit on|off [min=8] [max=512] [tolerance=1.5] [window=5] [dwell=5s] [per_min=6]
 *   instance NAME URL [drain=off] [limit=off]
 *
 * Durations take ms, s or m. Every bad line is refused with its number: a
 * monitor that starts with half its config steers the fleet wrongly.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "umlmon.h"

void mon_conf_defaults(struct mon_config *c)
{
	memset(c, 0, sizeof(*c));
	c->interval_ms = 1000;
	snprintf(c->nfs_clients, sizeof(c->nfs_clients), "127.0.0.1,::1");
	c->history_s = 600;
	c->drain = (struct mon_drain_conf){
	    .on = true, .high = 64, .low = 8, .for_ms = 2000, .dwell_ms = 5000};
	c->limit = (struct mon_limit_conf){.on = false,
					   .min = 8,
					   .max = 512,
					   .tolerance = 1.5,
					   .window = 5,
					   .dwell_ms = 5000,
					   .per_min = 6};
}

/* "250ms", "2s", "10m" (or a bare 0) -> ms within [@lo, @hi]. */
int mon_parse_duration(const char *s, unsigned lo, unsigned hi, unsigned *ms)
{
	char *end;
	double v = strtod(s, &end), scale;

	if (end == s || !isfinite(v) || v < 0)
		return -EINVAL;
	if (*end == '\0' && v == 0)
		scale = 1; /* nothing needs no unit */
	else if (strcmp(end, "ms") == 0)
		scale = 1;
	else if (strcmp(end, "s") == 0)
		scale = 1000;
	else if (strcmp(end, "m") == 0)
		scale = 60000;
	else
		return -EINVAL;
	v *= scale;
	if (v < lo || v > hi)
		return -ERANGE;
	*ms = (unsigned)v;
	return 0;
}

int mon_parse_int(const char *s, long lo, long hi, int32_t *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || *end || errno)
		return -EINVAL;
	if (v < lo || v > hi)
		return -ERANGE;
	*out = (int32_t)v;
	return 0;
}

/*
 * Split "host:port", "[v6]:port" or ":port" (any IPv4 address) into @host
 * and @port, for the dashboard's and the export's listeners. 0 or -EINVAL.
 */
int mon_parse_listen(const char *listen, char *host, size_t hostlen, int *port)
{
	const char *colon, *h = listen;
	size_t hl;
	char *end;
	long v;

	if (*listen == '[') {
		const char *rb = strchr(listen, ']');

		if (!rb || rb[1] != ':')
			return -EINVAL;
		h = listen + 1;
		hl = (size_t)(rb - h);
		colon = rb + 1;
	} else {
		colon = strrchr(listen, ':');
		if (!colon || memchr(listen, ':', (size_t)(colon - listen)))
			return -EINVAL;
		hl = (size_t)(colon - listen);
	}
	if (hl >= hostlen)
		return -EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	if (!hl || (hl == 1 && *h == '*'))
		strcpy(host, "0.0.0.0");
	if (colon[1] < '0' || colon[1] > '9' || strlen(colon + 1) > 5)
		return -EINVAL;
	v = strtol(colon + 1, &end, 10);
	if (*end || v > 65535)
		return -EINVAL;
	*port = (int)v;
	return 0;
}

int mon_parse_onoff(const char *s, bool *on)
{
	if (strcmp(s, "on") == 0 || strcmp(s, "1") == 0) {
		*on = true;
		return 0;
	}
	if (strcmp(s, "off") == 0 || strcmp(s, "0") == 0) {
		*on = false;
		return 0;
	}
	return -EINVAL;
}

static bool name_valid(const char *name)
{
	size_t n = strlen(name);

	if (!n || n > MON_NAME_MAX || name[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return false;
	}
	return true;
}

int mon_instance_add(struct mon_fleet *f, const char *name, const char *url, char *why,
		     size_t whylen)
{
	struct mon_instance *in;

	if (!name_valid(name)) {
		snprintf(why, whylen,
			 "instance name \"%s\": letters, digits, '-', '_', '.' only "
			 "(at most %d)",
			 name, MON_NAME_MAX);
		return -EINVAL;
	}
	if (strncmp(url, "nfs://", 6) != 0 || strlen(url) >= MON_URL_MAX) {
		snprintf(why, whylen, "instance %s: the URL must be nfs://host[:port]/path", name);
		return -EINVAL;
	}
	for (int i = 0; i < f->n; i++)
		if (strcmp(f->inst[i]->name, name) == 0) {
			snprintf(why, whylen, "instance %s is listed twice", name);
			return -EINVAL;
		}
	if (f->n == MON_MAX_INSTANCES) {
		snprintf(why, whylen, "more than %d instances", MON_MAX_INSTANCES);
		return -ENOSPC;
	}
	in = calloc(1, sizeof(*in));
	if (!in)
		return -ENOMEM;
	snprintf(in->name, sizeof(in->name), "%s", name);
	snprintf(in->url, sizeof(in->url), "%s", url);
	in->drain_on = in->limit_on = true;
	f->inst[f->n++] = in;
	return 0;
}

void mon_instances_free(struct mon_fleet *f)
{
	for (int i = 0; i < f->n; i++) {
		free(f->inst[i]);
		f->inst[i] = NULL;
	}
	f->n = 0;
}

/* key=value of a policy line. */
static int drain_opt(struct mon_drain_conf *d, const char *k, const char *v)
{
	if (strcmp(k, "high") == 0)
		return mon_parse_int(v, 1, 1000000, &d->high);
	if (strcmp(k, "low") == 0)
		return mon_parse_int(v, 0, 1000000, &d->low);
	if (strcmp(k, "for") == 0)
		return mon_parse_duration(v, 0, 3600000, &d->for_ms);
	if (strcmp(k, "dwell") == 0)
		return mon_parse_duration(v, 0, 3600000, &d->dwell_ms);
	return -ENOENT;
}

static int limit_opt(struct mon_limit_conf *l, const char *k, const char *v)
{
	int32_t n;
	int rc;

	if (strcmp(k, "min") == 0)
		return mon_parse_int(v, 1, 1000000, &l->min);
	if (strcmp(k, "max") == 0)
		return mon_parse_int(v, 1, 1000000, &l->max);
	if (strcmp(k, "tolerance") == 0) {
		char *end;
		double t = strtod(v, &end);

		if (end == v || *end || !isfinite(t))
			return -EINVAL;
		if (t < 1.05 || t > 10)
			return -ERANGE;
		l->tolerance = t;
		return 0;
	}
	if (strcmp(k, "window") == 0) {
		rc = mon_parse_int(v, 1, 60, &n);
		l->window = rc ? l->window : (unsigned)n;
		return rc;
	}
	if (strcmp(k, "dwell") == 0)
		return mon_parse_duration(v, 0, 3600000, &l->dwell_ms);
	if (strcmp(k, "per_min") == 0) {
		rc = mon_parse_int(v, 1, 8, &n);
		l->per_min = rc ? l->per_min : (unsigned)n;
		return rc;
	}
	return -ENOENT;
}

/* @src into @dst when it fits, NUL included. */
static int copy_str(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size)
		return -EINVAL;
	memcpy(dst, src, n + 1);
	return 0;
}

static const char *opt_error(int rc)
{
	return rc == -ENOENT   ? "unknown option"
	       : rc == -ERANGE ? "out of range"
			       : "not valid (a number; a duration with ms, s or m)";
}

int mon_conf_check(const struct mon_config *c, char *why, size_t whylen)
{
	if (c->drain.low >= c->drain.high) {
		snprintf(why, whylen, "drain: low (%d) must be under high (%d)", c->drain.low,
			 c->drain.high);
		return -EINVAL;
	}
	if (c->limit.min > c->limit.max) {
		snprintf(why, whylen, "limit: min (%d) is over max (%d)", c->limit.min,
			 c->limit.max);
		return -EINVAL;
	}
	return 0;
}

static int line_apply(struct mon_fleet *f, char **w, int nw, char *why, size_t whylen)
{
	struct mon_config *c = &f->cfg;
	int rc, i;

	if (strcmp(w[0], "interval") == 0 && nw == 2) {
		rc = mon_parse_duration(w[1], 100, 60000, &c->interval_ms);
	} else if (strcmp(w[0], "history") == 0 && nw == 2) {
		unsigned ms;

		rc = mon_parse_duration(w[1], 10000, MON_HISTORY * 1000, &ms);
		c->history_s = rc ? c->history_s : ms / 1000;
	} else if (strcmp(w[0], "nfs") == 0 && (nw == 2 || (nw == 4 && !strcmp(w[2], "clients")))) {
		rc = copy_str(c->nfs_listen, sizeof(c->nfs_listen), w[1]);
		if (!rc && nw == 4)
			rc = copy_str(c->nfs_clients, sizeof(c->nfs_clients), w[3]);
	} else if (strcmp(w[0], "http") == 0 && nw == 2) {
		rc = copy_str(c->http_listen, sizeof(c->http_listen), w[1]);
	} else if (strcmp(w[0], "dry-run") == 0 && nw == 2) {
		rc = mon_parse_onoff(w[1], &c->dry_run);
	} else if ((strcmp(w[0], "drain") == 0 || strcmp(w[0], "limit") == 0) && nw >= 2) {
		bool drain = w[0][0] == 'd';

		rc = mon_parse_onoff(w[1], drain ? &c->drain.on : &c->limit.on);
		for (i = 2; !rc && i < nw; i++) {
			char *eq = strchr(w[i], '=');

			if (!eq) {
				rc = -EINVAL;
				break;
			}
			*eq = '\0';
			rc = drain ? drain_opt(&c->drain, w[i], eq + 1)
				   : limit_opt(&c->limit, w[i], eq + 1);
			if (rc) {
				snprintf(why, whylen, "%s %s: %s", w[0], w[i], opt_error(rc));
				return -EINVAL;
			}
		}
	} else if (strcmp(w[0], "instance") == 0 && nw >= 3) {
		struct mon_instance *in;

		rc = mon_instance_add(f, w[1], w[2], why, whylen);
		if (rc)
			return rc;
		in = f->inst[f->n - 1];
		for (i = 3; !rc && i < nw; i++) {
			if (strncmp(w[i], "drain=", 6) == 0)
				rc = mon_parse_onoff(w[i] + 6, &in->drain_on);
			else if (strncmp(w[i], "limit=", 6) == 0)
				rc = mon_parse_onoff(w[i] + 6, &in->limit_on);
			else
				rc = -ENOENT;
			if (rc) {
				snprintf(why, whylen, "instance %s: %s: %s", in->name, w[i],
					 opt_error(rc));
				return -EINVAL;
			}
		}
	} else {
		snprintf(why, whylen, "unknown setting or wrong number of words: %s", w[0]);
		return -EINVAL;
	}
	if (rc)
		snprintf(why, whylen, "%s: %s", w[0], opt_error(rc));
	return rc;
}

int mon_conf_load(struct mon_fleet *f, const char *path, char *why, size_t whylen)
{
	FILE *fp = fopen(path, "r");
	char line[1024], msg[200];
	unsigned lineno = 0;
	int rc = 0;

	if (!fp) {
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	while (!rc && fgets(line, sizeof(line), fp)) {
		char *w[16], *save = NULL, *hash = strchr(line, '#'), *tok;
		int nw = 0;

		lineno++;
		if (!strchr(line, '\n') && !feof(fp)) {
			snprintf(why, whylen, "%s:%u: line too long", path, lineno);
			rc = -EINVAL;
			break;
		}
		if (hash)
			*hash = '\0';
		for (tok = strtok_r(line, " \t\r\n", &save); tok && nw < 16;
		     tok = strtok_r(NULL, " \t\r\n", &save))
			w[nw++] = tok;
		if (!nw)
			continue;
		msg[0] = '\0';
		rc = line_apply(f, w, nw, msg, sizeof(msg));
		if (rc) {
			snprintf(why, whylen, "%s:%u: %s", path, lineno, msg);
			rc = -EINVAL;
		}
	}
	fclose(fp);
	if (!rc && (rc = mon_conf_check(&f->cfg, msg, sizeof(msg))))
		snprintf(why, whylen, "%s: %s", path, msg);
	return rc;
}
