/*
 * UmlConfInterface: the machine's own network interfaces in httpd.
 *
 *   UmlConfInterface uc0 10.20.0.2/24 [10.20.0.1] [fd00::2/64 [fd00::1]]
 *
 * The TAP device, the IPv4 address/prefix and gateway, then optionally an
 * IPv6 global address/prefix and gateway (every interface has an IPv6
 * link-local address made from its MAC anyway).
 *
 * The parent makes each interface once per machine, in post_config
 * (uml_net_if_add): it lives in the arena with the machine, so a graceful
 * restart that adopts the machine finds it made (-EEXIST) and keeps it, as
 * the NFS listener is kept. Each child opens its own queue of every
 * interface's multi-queue TAP device on its CPU (uml_net_if_start) and
 * closes it as the CPU stops (uml_net_if_stop), so the host spreads the
 * machine's flows over the children. UmlConfNFS on one of these addresses
 * serves NFS on the machine's own stack instead of a host socket.
 *
 * The children open the device after httpd has given up root: it must be
 * made beforehand, multi-queue and owned by httpd's User
 * (`ip tuntap add dev uc0 mode tap multi_queue user www-data`), and
 * /dev/net/tun must be open to that user.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "apr_strings.h"

#include "umlconf.h"

/* Process-pool userdata: what the parent made, kept across a DSO reload. */
#define KEY_IFACES "umlconf:interfaces"

/* What the parent made on the machine, in the process pool. */
struct iface_made {
	char tap[16], cidr[64], gateway[64], cidr6[64], gateway6[64];
};
struct ifaces_made {
	int n;
	struct iface_made made[UML_NET_IFS_MAX];
};

/* This generation's interfaces: set by the parent, inherited by the children. */
static const struct umlconf_iface *ifaces;
static int nifaces;

/* This child's queues, one per interface; opened and closed by threads of its CPU. */
static uml_net_queue_t *queues[UML_NET_IFS_MAX];

/* UmlConfInterface tap-name address/prefix [gateway] [address6/prefix [gateway6]] */
const char *umlconf_interface_directive(cmd_parms *cmd, void *dummy, int argc, char *const argv[])
{
	struct umlconf_conf *c = umlconf_conf_of(cmd->server);
	const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
	const char *gw = NULL, *cidr6 = NULL, *gw6 = NULL;
	struct umlconf_iface *f;
	char why[256];

	(void)dummy;
	if (err)
		return err;
	if (argc < 2 || argc > 5)
		return "UmlConfInterface takes tap-name address/prefix [gateway] "
		       "[address6/prefix [gateway6]], as UmlConfInterface uc0 10.20.0.2/24 "
		       "10.20.0.1 "
		       "fd00:20::2/64";
	if (strchr(argv[1], ':'))
		return apr_psprintf(cmd->pool,
				    "UmlConfInterface: '%s' is IPv6; the IPv4 address/prefix comes "
				    "first (every interface speaks IPv4), then the IPv6 one",
				    argv[1]);
	/* After the IPv4 address: its gateway, then IPv6's address/prefix and gateway, in order. */
	for (int i = 2; i < argc; i++) {
		const char **slot = !strchr(argv[i], ':')  ? &gw
				    : strchr(argv[i], '/') ? &cidr6
							   : &gw6;

		if (*slot || (slot == &gw && cidr6) || (slot == &cidr6 && gw6))
			return apr_psprintf(cmd->pool,
					    "UmlConfInterface: '%s' out of place; the order is "
					    "tap-name address/prefix [gateway] [address6/prefix "
					    "[gateway6]]",
					    argv[i]);
		*slot = argv[i];
	}
	if (uml_net_if_check6(argv[0], argv[1], gw, cidr6, gw6, why, sizeof(why)))
		return apr_psprintf(cmd->pool, "UmlConfInterface: %s", why);
	for (int i = 0; i < c->ifaces->nelts; i++) {
		const struct umlconf_iface *o = &((struct umlconf_iface *)c->ifaces->elts)[i];

		if (!strcmp(o->tap, argv[0]))
			return apr_psprintf(cmd->pool, "UmlConfInterface: %s is given twice",
					    argv[0]);
		if (!strcmp(o->addr, apr_pstrndup(cmd->temp_pool, argv[1], strcspn(argv[1], "/"))))
			return apr_psprintf(cmd->pool,
					    "UmlConfInterface: %s is %s's address already", argv[1],
					    o->tap);
	}
	if (c->ifaces->nelts == UML_NET_IFS_MAX)
		return apr_psprintf(cmd->pool,
				    "UmlConfInterface: at most %d interfaces; %s is one too many",
				    UML_NET_IFS_MAX, argv[0]);
	f = apr_array_push(c->ifaces);
	f->tap = argv[0];
	f->cidr = argv[1];
	f->gateway = gw;
	f->addr = apr_pstrndup(cmd->pool, argv[1], strcspn(argv[1], "/"));
	f->cidr6 = cidr6;
	f->gateway6 = gw6;
	return NULL;
}

/* Whether @host is the address of a configured interface: NFS is then served on it. */
bool umlconf_interface_addr(const struct umlconf_conf *conf, const char *host)
{
	struct in_addr a, b;

	if (inet_pton(AF_INET, host, &a) != 1)
		return false;
	for (int i = 0; i < conf->ifaces->nelts; i++) {
		const struct umlconf_iface *f = &((struct umlconf_iface *)conf->ifaces->elts)[i];

		if (inet_pton(AF_INET, f->addr, &b) == 1 && a.s_addr == b.s_addr)
			return true;
	}
	return false;
}

static struct iface_made *made_find(struct ifaces_made *m, const char *tap)
{
	for (int i = 0; i < m->n; i++)
		if (!strcmp(m->made[i].tap, tap))
			return &m->made[i];
	return NULL;
}

int umlconf_interfaces_up(server_rec *s, struct umlconf_conf *conf)
{
	apr_pool_t *proc = s->process->pool;
	struct ifaces_made *m = NULL;
	char err[256];

	apr_pool_userdata_get((void **)&m, KEY_IFACES, proc);
	if (!m) {
		m = apr_pcalloc(proc, sizeof(*m));
		apr_pool_userdata_set(m, KEY_IFACES, apr_pool_cleanup_null, proc);
	}
	for (int i = 0; i < conf->ifaces->nelts; i++) {
		const struct umlconf_iface *f = &((struct umlconf_iface *)conf->ifaces->elts)[i];
		const char *gw = f->gateway ? f->gateway : "";
		const char *cidr6 = f->cidr6 ? f->cidr6 : "", *gw6 = f->gateway6 ? f->gateway6 : "";
		struct iface_made *was = made_find(m, f->tap);
		int rc = uml_net_if_add6(f->tap, f->cidr, f->gateway, f->cidr6, f->gateway6, err,
					 sizeof(err));

		if (rc == -EEXIST) {
			/* Made by an earlier generation: the machine keeps it as it was made. */
			if (was && (strcmp(was->cidr, f->cidr) || strcmp(was->gateway, gw) ||
				    strcmp(was->cidr6, cidr6) || strcmp(was->gateway6, gw6)))
				ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
					     UMLCONF_LOGNO(10055) "UmlConfInterface %s changed to "
								  "%s %s %s %s but the machine "
								  "keeps %s %s %s %s until httpd "
								  "is stopped and started",
					     f->tap, f->cidr, gw, cidr6, gw6, was->cidr,
					     was->gateway, was->cidr6, was->gateway6);
			continue;
		}
		if (rc < 0) {
			ap_log_error(APLOG_MARK, APLOG_EMERG, -rc, s,
				     UMLCONF_LOGNO(10053) "UmlConfInterface %s %s: %s; httpd "
							  "does not start",
				     f->tap, f->cidr, err);
			return rc;
		}
		if (!was && m->n < UML_NET_IFS_MAX)
			was = &m->made[m->n++];
		if (was) {
			snprintf(was->tap, sizeof(was->tap), "%s", f->tap);
			snprintf(was->cidr, sizeof(was->cidr), "%s", f->cidr);
			snprintf(was->gateway, sizeof(was->gateway), "%s", gw);
			snprintf(was->cidr6, sizeof(was->cidr6), "%s", cidr6);
			snprintf(was->gateway6, sizeof(was->gateway6), "%s", gw6);
		}
		ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
			     UMLCONF_LOGNO(10054) "the machine's interface %s is %s%s%s%s%s%s%s; "
						  "each child reads a queue of the TAP device",
			     f->tap, f->cidr, f->gateway ? " via " : "", gw,
			     f->cidr6 ? " and " : "", cidr6, f->gateway6 ? " via " : "", gw6);
	}
	ifaces = (const struct umlconf_iface *)conf->ifaces->elts;
	nifaces = conf->ifaces->nelts;
	return 0;
}

int umlconf_interfaces_start(void)
{
	int failed = 0;

	for (int i = 0; i < nifaces; i++) {
		int rc = uml_net_if_start(ifaces[i].tap, &queues[i]);

		if (rc == 0)
			continue;
		queues[i] = NULL;
		failed = rc;
		ap_log_error(APLOG_MARK, APLOG_ERR, -rc, umlconf_server,
			     UMLCONF_LOGNO(10056) "child %ld cannot read its queue of %s (%s): the "
						  "TAP device must exist, multi-queue, owned by "
						  "httpd's User (ip tuntap add dev %s mode tap "
						  "multi_queue user USER)%s",
			     (long)getpid(), ifaces[i].tap, strerror(-rc), ifaces[i].tap,
			     rc == -EPERM || rc == -EACCES ? ", and /dev/net/tun be open to it"
							   : "");
	}
	return failed;
}

void umlconf_interfaces_stop(void)
{
	for (int i = 0; i < nifaces; i++) {
		uml_net_if_stop(queues[i]);
		queues[i] = NULL;
	}
}
