// SPDX-License-Identifier: MIT
/*
 * The RPC of `ferry service` and `ferry swrk`: CRIU's criu_req/criu_resp (proto/rpc.proto),
 * one message a SOCK_SEQPACKET packet, a response to each request. DUMP, RESTORE, CHECK,
 * VERSION and FEATURE_CHECK are served; another type, or an option ferry does not do, gets
 * success false and a cr_errmsg that names it. The peer's credentials (SO_PEERCRED) decide:
 * root may do everything; another uid may only dump a tree all of whose tasks are its own,
 * into a directory it owns, and may not restore (images are untrusted: they could name
 * files and credentials it has no right to). The images directory is the client's fd,
 * opened again through /proc/PID/fd/N.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOG_PREFIX "rpc: "
#include "log.h"
#include "dump.h"
#include "image.h"
#include "proc-parse.h"
#include "restore.h"
#include "kerndat.h"
#include "sockets.h"
#include "rpc.h"
#include "rpc.pb-c.h"

#define RPC_MAX_REQ (1 << 20)	/* bytes of one request */

/* The CRIU release whose RPC this is (its proto's fields), answered to VERSION. */
#define RPC_CRIU_MAJOR 3
#define RPC_CRIU_MINOR 17

struct rpc_peer {
	pid_t pid;
	uid_t uid;
	gid_t gid;
	double since;		/* CLOCK_BOOTTIME seconds when the connection was served */
};

/* The response being built, and what a failure says. */
struct rpc_ctx {
	const struct rpc_peer *peer;
	CriuResp resp;
	char errmsg[512];
	bool own_log;		/* the request's log_file is the log */
};

/*
 * The options each request does; those of the other one are ignored (libcriu keeps one
 * set for both), any other set one refuses the request.
 */
static const char *const dump_opts_ok[] = {
	"images_dir_fd", "pid", "leave_running", "ext_unix_sk", "tcp_established", "shell_job",
	"file_locks", "log_level", "log_file", "work_dir_fd", "manage_cgroups",
	"manage_cgroups_mode", "ghost_limit", "external", "freeze_cgroup", "tcp_close",
	"network_lock", "root", NULL,
};

static const char *const restore_opts_ok[] = {
	"images_dir_fd", "ext_unix_sk", "tcp_established", "shell_job", "file_locks",
	"log_level", "log_file", "work_dir_fd", "root", "manage_cgroups", "manage_cgroups_mode",
	"external", "tcp_close", "network_lock", "pid", "leave_running", "ghost_limit",
	"freeze_cgroup", NULL,
};

static const char *const no_opts_ok[] = { "images_dir_fd", "log_level", "log_file", NULL };

static int fail(struct rpc_ctx *c, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct rpc_ctx *c, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->errmsg, sizeof(c->errmsg), fmt, ap);
	va_end(ap);
	pr_err("%s", c->errmsg);
	c->resp.success = false;
	c->resp.has_cr_errno = true;
	c->resp.cr_errno = err;
	c->resp.cr_errmsg = c->errmsg;
	return -err;
}

/* The engine failed: its last error is the message. */
static int engine_failed(struct rpc_ctx *c, int ret, const char *what)
{
	const char *last = log_last_error();

	return fail(c, ret < 0 ? -ret : EIO, "%s failed: %s", what, *last ? last : "see the log");
}

static bool listed(const char *name, const char *const *ok)
{
	for (; *ok; ok++)
		if (!strcmp(*ok, name))
			return true;
	return false;
}

/* The first option set in o that ok does not list, or NULL. */
static const char *unsupported_opt(const CriuOpts *o, const char *const *ok)
{
	const ProtobufCMessageDescriptor *d = &criu_opts__descriptor;
	const char *base = (const char *)o;

	for (unsigned int i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		bool set;

		if (f->label == PROTOBUF_C_LABEL_REPEATED)
			set = *(const size_t *)(base + f->quantifier_offset) > 0;
		else if (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE)
			set = *(void *const *)(base + f->offset) != NULL;
		else if (f->label == PROTOBUF_C_LABEL_OPTIONAL)
			set = *(const protobuf_c_boolean *)(base + f->quantifier_offset);
		else
			set = true;
		/* a switch turned off is no option asked for */
		if (set && f->type == PROTOBUF_C_TYPE_BOOL && f->label == PROTOBUF_C_LABEL_OPTIONAL)
			set = *(const protobuf_c_boolean *)(base + f->offset);
		if (set && !listed(f->name, ok))
			return f->name;
	}
	return NULL;
}

static double boot_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int peer_creds(int sk, struct rpc_peer *p)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);

	if (getsockopt(sk, SOL_SOCKET, SO_PEERCRED, &uc, &len)) {
		pr_perror("cannot read the credentials of the RPC client");
		return -errno;
	}
	p->pid = uc.pid;
	p->uid = uc.uid;
	p->gid = uc.gid;
	p->since = boot_seconds();
	return 0;
}

/*
 * The client's PID still names the client: a process that took it after the client
 * exited started after the connection (its start time, /proc/PID/stat field 22).
 */
static bool still_client(const struct rpc_peer *p)
{
	struct proc_stat st;

	return !proc_read_stat(p->pid, &st) &&
	       (double)st.start_time / sysconf(_SC_CLK_TCK) <= p->since + 0.01;
}

/*
 * The client's directory fd, opened again here; path gets where it is, for messages.
 * A client that is not root must own it (ferry writes there as root).
 */
static int open_client_dir(struct rpc_ctx *c, int fd, const char *what, char *path, size_t size)
{
	char link[64];
	struct stat st;
	ssize_t n;
	int dfd;

	snprintf(link, sizeof(link), "/proc/%d/fd/%d", c->peer->pid, fd);
	if (!still_client(c->peer))
		return fail(c, ESRCH, "the client (PID %d) is gone", c->peer->pid);
	dfd = open(link, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return fail(c, errno, "cannot open the %s, fd %d of the client (PID %d): %s", what,
			    fd, c->peer->pid, strerror(errno));
	if (!still_client(c->peer)) {
		close(dfd);
		return fail(c, ESRCH, "the client (PID %d) is gone", c->peer->pid);
	}
	n = readlink(link, path, size - 1);
	path[n < 0 ? 0 : n] = '\0';
	if (fstat(dfd, &st) || (c->peer->uid && st.st_uid != c->peer->uid)) {
		close(dfd);
		return fail(c, EACCES, "the %s %s must belong to the client (uid %u)", what, path,
			    c->peer->uid);
	}
	return dfd;
}

/*
 * The request's log: log_level, and log_file in the work directory (a name, no path; not
 * through a symlink: ferry writes as root where the client may have put one).
 */
static int start_log(struct rpc_ctx *c, const CriuOpts *o, int workfd)
{
	int level = o && o->has_log_level ? o->log_level : LOG_WARN, fd;

	if (!o || !o->log_file)
		return 0;	/* the service's own log */
	if (!*o->log_file || strchr(o->log_file, '/') || !strcmp(o->log_file, "..") ||
	    !strcmp(o->log_file, "."))
		return fail(c, EINVAL, "log_file '%s' must be a file name in the work directory",
			    o->log_file);
	fd = img_create(workfd, o->log_file, O_WRONLY);
	if (fd < 0)
		return fail(c, errno, "cannot create log_file %s: %s", o->log_file, strerror(errno));
	log_fini();
	c->own_log = !log_init_fd(fd, level);
	return c->own_log ? 0 : fail(c, EIO, "cannot log to %s", o->log_file);
}

/* What dump and restore share: sockets, externals, the network lock method. */
static int common_opts(struct rpc_ctx *c, const CriuOpts *o, unsigned int *sk_flags,
		       struct net_externals *ex)
{
	if (o->ext_unix_sk)
		*sk_flags |= SK_EXT_UNIX;
	if (o->tcp_established)
		*sk_flags |= SK_TCP_ESTABLISHED;
	if (o->tcp_close)
		*sk_flags |= SK_TCP_CLOSE;
	if (o->has_network_lock && o->network_lock != CRIU_NETWORK_LOCK_METHOD__NFTABLES)
		return fail(c, EOPNOTSUPP, "network_lock: ferry locks connections with nftables only");
	for (size_t i = 0; i < o->n_external; i++)
		if (net_parse_external(ex, o->external[i]))
			return fail(c, EINVAL, "external '%s': " NET_EXTERNAL_HINT, o->external[i]);
	return 0;
}

static int do_dump(struct rpc_ctx *c, const CriuOpts *o, int dfd, const char *dir)
{
	static CriuDumpResp dr = CRIU_DUMP_RESP__INIT;
	struct dump_opts d = { .release = DUMP_KILL, .ghost_limit = DUMP_DEFAULT_GHOST_LIMIT };
	int ret;

	if (!o->has_pid || o->pid <= 0)
		return fail(c, EINVAL, "ferry does not dump the calling process (self dump): set "
			    "opts.pid to the root of the tree");
	d.pid = o->pid;
	d.dirfd = dfd;
	d.images_dir = dir;
	d.release = o->leave_running ? DUMP_LEAVE_RUNNING : DUMP_KILL;
	d.shell_job = o->shell_job;
	d.file_locks = o->file_locks;
	d.freeze_cgroup = o->freeze_cgroup;
	/* a cgroup freeze is for all of its tasks, the TCP lock for the host's connections */
	if (c->peer->uid && o->freeze_cgroup)
		return fail(c, EPERM, "freeze_cgroup needs a root client (uid %u is not)",
			    c->peer->uid);
	if (c->peer->uid && o->tcp_established)
		return fail(c, EPERM, "tcp_established needs a root client (uid %u is not): its "
			    "lock is in the host's network", c->peer->uid);
	if (o->has_ghost_limit)
		d.ghost_limit = o->ghost_limit;
	ret = common_opts(c, o, &d.sk_flags, &d.externals);
	if (ret)
		return ret;
	d.check_owner = c->peer->uid != 0;
	d.owner = c->peer->uid;
	d.owner_gid = c->peer->gid;
	pr_info("dump of tree %d into %s for PID %d (uid %u)", d.pid, dir, c->peer->pid,
		c->peer->uid);
	ret = dump_tree(&d);
	if (ret)
		return engine_failed(c, ret, "dump");
	dr.has_restored = true;
	dr.restored = false;
	c->resp.dump = &dr;
	return 0;
}

static int cgroup_mode(struct rpc_ctx *c, const CriuOpts *o, enum cgroup_mode *m)
{
	*m = CGROUP_SOFT;
	if (!o->has_manage_cgroups_mode)
		return 0;
	switch (o->manage_cgroups_mode) {
	case CRIU_CG_MODE__SOFT:
	case CRIU_CG_MODE__DEFAULT:
		return 0;
	case CRIU_CG_MODE__STRICT:
		*m = CGROUP_STRICT;
		return 0;
	case CRIU_CG_MODE__IGNORE:
	case CRIU_CG_MODE__CG_NONE:
		*m = CGROUP_IGNORE;
		return 0;
	default:
		return fail(c, EOPNOTSUPP, "manage_cgroups_mode %d: ferry restores membership "
			    "(soft, strict, ignore), not cgroup properties",
			    o->manage_cgroups_mode);
	}
}

static int do_restore(struct rpc_ctx *c, const CriuOpts *o, int dfd, const char *dir)
{
	static CriuRestoreResp rr = CRIU_RESTORE_RESP__INIT;
	struct restore_opts r = { .detach = true };
	unsigned int sk_flags = 0;
	pid_t pid;
	int ret;

	if (c->peer->uid)
		return fail(c, EPERM, "restore needs a root client (uid %u is not): the images "
			    "could open files and set credentials the client has no right to",
			    c->peer->uid);
	r.dirfd = dfd;
	r.images_dir = dir;
	r.shell_job = o->shell_job;
	r.root = o->root;
	ret = cgroup_mode(c, o, &r.cgroups);
	if (!ret)
		ret = common_opts(c, o, &sk_flags, &r.externals);
	if (ret)
		return ret;
	pr_info("restore from %s for PID %d", dir, c->peer->pid);
	ret = restore_tree(&r, &pid);
	if (ret)
		return engine_failed(c, ret, "restore");
	rr.pid = pid;
	c->resp.restore = &rr;
	return 0;
}

static int do_check(struct rpc_ctx *c)
{
	static struct kerndat kd;
	char missing[256] = "";
	size_t len = 0;

	kerndat_probe(&kd);
	for (int i = 0; i < KD_NR; i++) {
		const struct kerndat_feature *f = &kerndat_features[i];

		if (f->required && !kd.has[f->id] && len < sizeof(missing))
			len += snprintf(missing + len, sizeof(missing) - len, "%s%s (%s)",
					len ? ", " : "", f->name, kd.why[f->id]);
	}
	if (len)
		return fail(c, ENOSYS, "the kernel lacks what ferry needs: %s", missing);
	return 0;
}

static int do_version(struct rpc_ctx *c)
{
	static CriuVersion v = CRIU_VERSION__INIT;

	v.major_number = RPC_CRIU_MAJOR;
	v.minor_number = RPC_CRIU_MINOR;
	v.gitid = (char *)FERRY_VERSION;
	v.name = (char *)"ferry";
	c->resp.version = &v;
	return 0;
}

static int do_features(struct rpc_ctx *c)
{
	static CriuFeatures f = CRIU_FEATURES__INIT;

	/* none of the three: no dirty-memory tracking, lazy pages or pidfd store */
	f.has_mem_track = f.has_lazy_pages = f.has_pidfd_store = true;
	c->resp.features = &f;
	return 0;
}

static const char *type_name(CriuReqType t)
{
	const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
		&criu_req_type__descriptor, t);

	return v ? v->name : "unknown";
}

/* A request that needs the images directory: open it (and the work one), log, run. */
static int with_dirs(struct rpc_ctx *c, const CriuReq *req)
{
	const CriuOpts *o = req->opts;
	const char *const *ok = req->type == CRIU_REQ_TYPE__DUMP ? dump_opts_ok : restore_opts_ok;
	const char *bad;
	char dir[4096], work[4096];
	int dfd, wfd = -1, ret;

	if (!o)
		return fail(c, EINVAL, "a %s request needs opts (images_dir_fd)", type_name(req->type));
	bad = unsupported_opt(o, ok);
	if (bad)
		return fail(c, EBADRQC, "option %s is not supported by ferry's %s", bad,
			    type_name(req->type));
	dfd = open_client_dir(c, o->images_dir_fd, "images directory", dir, sizeof(dir));
	if (dfd < 0)
		return dfd;
	if (o->has_work_dir_fd) {
		wfd = open_client_dir(c, o->work_dir_fd, "work directory", work, sizeof(work));
		if (wfd < 0) {
			close(dfd);
			return wfd;
		}
	}
	/* a client that is not root gets new files of its own, never what is there */
	if (c->peer->uid)
		img_set_owner(c->peer->uid, c->peer->gid);
	ret = start_log(c, o, wfd >= 0 ? wfd : dfd);
	if (!ret)
		ret = req->type == CRIU_REQ_TYPE__DUMP ? do_dump(c, o, dfd, dir) :
							  do_restore(c, o, dfd, dir);
	if (c->own_log)
		log_fini();
	img_set_owner((uid_t)-1, (gid_t)-1);
	if (wfd >= 0)
		close(wfd);
	close(dfd);
	return ret;
}

static void handle(struct rpc_ctx *c, const CriuReq *req)
{
	const char *bad = req->opts ? unsupported_opt(req->opts, no_opts_ok) : NULL;

	c->resp.type = req->type;
	c->resp.success = true;
	switch (req->type) {
	case CRIU_REQ_TYPE__DUMP:
	case CRIU_REQ_TYPE__RESTORE:
		with_dirs(c, req);
		return;
	case CRIU_REQ_TYPE__CHECK:
	case CRIU_REQ_TYPE__VERSION:
	case CRIU_REQ_TYPE__FEATURE_CHECK:
		if (bad) {
			fail(c, EBADRQC, "option %s does not go with %s", bad,
			     type_name(req->type));
			return;
		}
		if (req->type == CRIU_REQ_TYPE__CHECK)
			do_check(c);
		else if (req->type == CRIU_REQ_TYPE__VERSION)
			do_version(c);
		else
			do_features(c);
		return;
	case CRIU_REQ_TYPE__EMPTY:
		break;
	default:
		if (protobuf_c_enum_descriptor_get_value(&criu_req_type__descriptor, req->type)) {
			fail(c, EOPNOTSUPP, "%s requests are not supported by ferry (DUMP, "
			     "RESTORE, CHECK, VERSION, FEATURE_CHECK are)", type_name(req->type));
			return;
		}
	}
	c->resp.type = CRIU_REQ_TYPE__EMPTY;
	fail(c, EINVAL, "unknown request type %d", req->type);
}

static int send_resp(int sk, const CriuResp *r)
{
	size_t len = criu_resp__get_packed_size(r);
	uint8_t *buf = malloc(len ? len : 1);
	int ret = 0;

	if (!buf)
		return -ENOMEM;
	criu_resp__pack(r, buf);
	if (send(sk, buf, len, MSG_NOSIGNAL) != (ssize_t)len) {
		pr_perror("cannot send the response to the RPC client");
		ret = -errno;
	}
	free(buf);
	return ret;
}

/* One packet: 0 with *req, 1 at the end of the connection, -errno; a bad one answered. */
static int recv_req(int sk, CriuReq **req)
{
	struct rpc_ctx c = { .resp = CRIU_RESP__INIT };
	uint8_t peek, *buf;
	ssize_t n;

	n = recv(sk, &peek, 1, MSG_PEEK | MSG_TRUNC);
	if (n <= 0)
		return n == 0 ? 1 : (pr_perror("cannot read an RPC request"), -errno);
	if (n > RPC_MAX_REQ) {
		recv(sk, &peek, 1, 0);
		c.resp.type = CRIU_REQ_TYPE__EMPTY;
		fail(&c, E2BIG, "a request of %zd bytes is over the %d ferry takes", n, RPC_MAX_REQ);
		send_resp(sk, &c.resp);
		return -E2BIG;
	}
	buf = malloc(n);
	if (!buf)
		return -ENOMEM;
	n = recv(sk, buf, n, 0);
	*req = n > 0 ? criu_req__unpack(NULL, n, buf) : NULL;
	free(buf);
	if (!*req) {
		c.resp.type = CRIU_REQ_TYPE__EMPTY;
		fail(&c, EBADMSG, "cannot decode a request of %zd bytes (not a criu_req)", n);
		send_resp(sk, &c.resp);
		return -EBADMSG;
	}
	return 0;
}

int rpc_serve(int sk)
{
	struct rpc_peer peer;
	CriuReq *req = NULL;
	bool keep;
	int ret;

	ret = peer_creds(sk, &peer);
	while (!ret) {
		struct rpc_ctx c = { .peer = &peer, .resp = CRIU_RESP__INIT };

		ret = recv_req(sk, &req);
		if (ret)
			break;
		pr_info("%s request from PID %d (uid %u)", type_name(req->type), peer.pid,
			peer.uid);
		log_clear_error();
		handle(&c, req);
		keep = req->keep_open;
		criu_req__free_unpacked(req, NULL);
		ret = send_resp(sk, &c.resp);
		if (!keep)
			break;
	}
	return ret > 0 ? 0 : ret;
}
