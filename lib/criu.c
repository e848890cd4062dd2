// SPDX-License-Identifier: MIT
/*
 * libcriu's API over ferry's RPC (see criu.h): the options are a CriuOpts of rpc.proto
 * plus how to reach the service; each operation connects (a unix socket, an fd, or a
 * `ferry swrk` forked and exec'd on a socketpair), sends one criu_req, reads the criu_resp
 * and maps it to libcriu's return values.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "criu.h"
#include "rpc.pb-c.h"

#define DEFAULT_ADDRESS "/var/run/criu_service.socket"
#define DEFAULT_BINARY "ferry"
#define MAX_RESP (1 << 20)

struct criu_opts {
	CriuOpts *rpc;
	enum criu_service_comm comm;
	char *address;
	int fd;
	char *binary;
	int (*notify)(char *action, criu_notify_arg_t na);
};

static criu_opts *global;

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void criu_local_free_opts(criu_opts *o)
{
	if (!o)
		return;
	if (o->rpc) {
		free(o->rpc->log_file);
		free(o->rpc->root);
		free(o->rpc->freeze_cgroup);
		free_strv(o->rpc->external, o->rpc->n_external);
		free(o->rpc);
	}
	free(o->address);
	free(o->binary);
	free(o);
}

int criu_local_init_opts(criu_opts **out)
{
	criu_opts *o = calloc(1, sizeof(*o));

	if (!o)
		return -1;
	o->rpc = malloc(sizeof(*o->rpc));
	o->binary = strdup(DEFAULT_BINARY);
	if (!o->rpc || !o->binary) {
		criu_local_free_opts(o);
		return -1;
	}
	criu_opts__init(o->rpc);
	o->comm = CRIU_COMM_BIN;
	o->fd = -1;
	*out = o;
	return 0;
}

/* Replace *dst with a copy of s; -ENOMEM, or 0. */
static int set_str(char **dst, const char *s)
{
	char *c = s ? strdup(s) : NULL;

	if (s && !c)
		return -ENOMEM;
	free(*dst);
	*dst = c;
	return 0;
}

int criu_local_set_service_address(criu_opts *o, const char *path)
{
	o->comm = CRIU_COMM_SK;
	return set_str(&o->address, path ? path : DEFAULT_ADDRESS);
}

void criu_local_set_service_fd(criu_opts *o, int fd)
{
	o->comm = CRIU_COMM_FD;
	o->fd = fd;
}

int criu_local_set_service_binary(criu_opts *o, const char *path)
{
	o->comm = CRIU_COMM_BIN;
	return set_str(&o->binary, path ? path : DEFAULT_BINARY);
}

void criu_local_set_pid(criu_opts *o, int pid)
{
	o->rpc->has_pid = true;
	o->rpc->pid = pid;
}

void criu_local_set_images_dir_fd(criu_opts *o, int fd)
{
	o->rpc->images_dir_fd = fd;
}

void criu_local_set_work_dir_fd(criu_opts *o, int fd)
{
	o->rpc->has_work_dir_fd = true;
	o->rpc->work_dir_fd = fd;
}

void criu_local_set_leave_running(criu_opts *o, bool v)
{
	o->rpc->has_leave_running = true;
	o->rpc->leave_running = v;
}

void criu_local_set_ext_unix_sk(criu_opts *o, bool v)
{
	o->rpc->has_ext_unix_sk = true;
	o->rpc->ext_unix_sk = v;
}

void criu_local_set_tcp_established(criu_opts *o, bool v)
{
	o->rpc->has_tcp_established = true;
	o->rpc->tcp_established = v;
}

void criu_local_set_tcp_close(criu_opts *o, bool v)
{
	o->rpc->has_tcp_close = true;
	o->rpc->tcp_close = v;
}

void criu_local_set_evasive_devices(criu_opts *o, bool v)
{
	o->rpc->has_evasive_devices = true;
	o->rpc->evasive_devices = v;
}

void criu_local_set_shell_job(criu_opts *o, bool v)
{
	o->rpc->has_shell_job = true;
	o->rpc->shell_job = v;
}

void criu_local_set_file_locks(criu_opts *o, bool v)
{
	o->rpc->has_file_locks = true;
	o->rpc->file_locks = v;
}

void criu_local_set_track_mem(criu_opts *o, bool v)
{
	o->rpc->has_track_mem = true;
	o->rpc->track_mem = v;
}

void criu_local_set_auto_dedup(criu_opts *o, bool v)
{
	o->rpc->has_auto_dedup = true;
	o->rpc->auto_dedup = v;
}

void criu_local_set_link_remap(criu_opts *o, bool v)
{
	o->rpc->has_link_remap = true;
	o->rpc->link_remap = v;
}

void criu_local_set_orphan_pts_master(criu_opts *o, bool v)
{
	o->rpc->has_orphan_pts_master = true;
	o->rpc->orphan_pts_master = v;
}

void criu_local_set_log_level(criu_opts *o, int level)
{
	o->rpc->has_log_level = true;
	o->rpc->log_level = level;
}

int criu_local_set_log_file(criu_opts *o, const char *name)
{
	return set_str(&o->rpc->log_file, name);
}

int criu_local_set_root(criu_opts *o, const char *root)
{
	return set_str(&o->rpc->root, root);
}

void criu_local_set_manage_cgroups(criu_opts *o, bool v)
{
	o->rpc->has_manage_cgroups = true;
	o->rpc->manage_cgroups = v;
}

void criu_local_set_manage_cgroups_mode(criu_opts *o, enum criu_cg_mode mode)
{
	/* libcriu's enum and the proto's have the same values in the same order */
	o->rpc->has_manage_cgroups_mode = true;
	o->rpc->manage_cgroups_mode = (CriuCgMode)mode;
}

int criu_local_set_freeze_cgroup(criu_opts *o, const char *name)
{
	return set_str(&o->rpc->freeze_cgroup, name);
}

void criu_local_set_timeout(criu_opts *o, unsigned int timeout)
{
	o->rpc->has_timeout = true;
	o->rpc->timeout = timeout;
}

void criu_local_set_ghost_limit(criu_opts *o, unsigned int limit)
{
	o->rpc->has_ghost_limit = true;
	o->rpc->ghost_limit = limit;
}

int criu_local_add_external(criu_opts *o, const char *key)
{
	char **v = realloc(o->rpc->external, (o->rpc->n_external + 1) * sizeof(*v));
	char *c = strdup(key);

	if (v)
		o->rpc->external = v;
	if (!v || !c) {
		free(c);
		return -ENOMEM;
	}
	v[o->rpc->n_external++] = c;
	return 0;
}

int criu_local_set_network_lock(criu_opts *o, enum criu_network_lock_method method)
{
	if (method != CRIU_NETWORK_LOCK_IPTABLES && method != CRIU_NETWORK_LOCK_NFTABLES)
		return -EINVAL;	/* SKIP has no value in the protocol ferry speaks */
	o->rpc->has_network_lock = true;
	o->rpc->network_lock = (CriuNetworkLockMethod)method;
	return 0;
}

void criu_local_set_notify_cb(criu_opts *o, int (*cb)(char *action, criu_notify_arg_t na))
{
	o->notify = cb;
	o->rpc->has_notify_scripts = true;
	o->rpc->notify_scripts = cb != NULL;
}

int criu_notify_pid(criu_notify_arg_t na)
{
	return na && na->has_pid ? na->pid : 0;
}

/* ---- one request, one response ------------------------------------------------------ */

/* The child: `BINARY swrk FD`, FD our end of the pair. */
static void exec_swrk(const char *binary, int fd)
{
	char num[16];

	snprintf(num, sizeof(num), "%d", fd);
	execlp(binary, binary, "swrk", num, (char *)NULL);
	_exit(127);
}

static int connect_service(criu_opts *o, pid_t *swrk)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int sk, sp[2];

	*swrk = 0;
	if (o->comm == CRIU_COMM_FD)
		return o->fd;
	if (o->comm == CRIU_COMM_SK) {
		sk = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", o->address);
		if (sk >= 0 && !connect(sk, (struct sockaddr *)&sa, sizeof(sa)))
			return sk;
		if (sk >= 0) {
			int err = errno;

			close(sk);
			errno = err;
		}
		return -ECONNREFUSED;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp))
		return -ECONNREFUSED;
	*swrk = fork();
	if (*swrk == 0) {
		close(sp[0]);
		exec_swrk(o->binary, sp[1]);
	}
	close(sp[1]);
	if (*swrk < 0) {
		close(sp[0]);
		return -ECONNREFUSED;
	}
	return sp[0];
}

static void disconnect_service(criu_opts *o, int sk, pid_t swrk)
{
	int err = errno;

	if (o->comm != CRIU_COMM_FD)
		close(sk);
	if (swrk > 0)
		while (waitpid(swrk, NULL, 0) < 0 && errno == EINTR)
			;
	errno = err;
}

static int exchange(int sk, const CriuReq *req, CriuResp **resp)
{
	size_t len = criu_req__get_packed_size(req);
	uint8_t *buf = malloc(len ? len : 1), peek;
	ssize_t n;

	if (!buf)
		return -ENOMEM;
	criu_req__pack(req, buf);
	n = send(sk, buf, len, MSG_NOSIGNAL);
	free(buf);
	if (n != (ssize_t)len)
		return -ECOMM;
	n = recv(sk, &peek, 1, MSG_PEEK | MSG_TRUNC);
	if (n <= 0 || n > MAX_RESP) {
		if (n == 0)
			errno = ECONNRESET;
		return n > MAX_RESP ? -EBADMSG : -ECOMM;
	}
	buf = malloc(n);
	if (!buf)
		return -ENOMEM;
	n = recv(sk, buf, n, 0);
	*resp = n > 0 ? criu_resp__unpack(NULL, n, buf) : NULL;
	free(buf);
	return *resp ? 0 : -EBADMSG;
}

/* Send type (with opts, or without for checks) and get the response; libcriu's codes. */
static int request(criu_opts *o, CriuReq *req, CriuResp **resp)
{
	pid_t swrk;
	int sk, ret;

	*resp = NULL;
	sk = connect_service(o, &swrk);
	if (sk < 0)
		return sk;
	ret = exchange(sk, req, resp);
	disconnect_service(o, sk, swrk);
	if (ret)
		return ret;
	if ((*resp)->type == CRIU_REQ_TYPE__EMPTY && !(*resp)->success)
		ret = -EINVAL;
	else if ((*resp)->type != req->type)
		ret = -EBADMSG;
	else if (!(*resp)->success)
		ret = -EBADE;
	if (ret) {
		errno = (*resp)->has_cr_errno ? (*resp)->cr_errno : 0;
		criu_resp__free_unpacked(*resp, NULL);
		*resp = NULL;
	}
	return ret;
}

static int simple(criu_opts *o, CriuReqType type, bool with_opts, CriuResp **resp)
{
	CriuReq req = CRIU_REQ__INIT;

	req.type = type;
	req.opts = with_opts ? o->rpc : NULL;
	return request(o, &req, resp);
}

int criu_local_check(criu_opts *o)
{
	CriuResp *resp;
	int ret = simple(o, CRIU_REQ_TYPE__CHECK, false, &resp);

	if (!ret)
		criu_resp__free_unpacked(resp, NULL);
	return ret;
}

int criu_local_dump(criu_opts *o)
{
	CriuResp *resp;
	int ret = simple(o, CRIU_REQ_TYPE__DUMP, true, &resp);

	if (!ret)
		criu_resp__free_unpacked(resp, NULL);
	return ret;
}

int criu_local_restore(criu_opts *o)
{
	CriuResp *resp;
	int ret = simple(o, CRIU_REQ_TYPE__RESTORE, true, &resp);

	if (ret)
		return ret;
	ret = resp->restore ? resp->restore->pid : -EBADMSG;
	criu_resp__free_unpacked(resp, NULL);
	return ret;
}

/* The restored root as the caller's child: swrk restores it as its sibling. */
int criu_local_restore_child(criu_opts *o)
{
	enum criu_service_comm comm = o->comm;
	bool had = o->rpc->has_rst_sibling, was = o->rpc->rst_sibling;
	int ret;

	o->comm = CRIU_COMM_BIN;
	o->rpc->has_rst_sibling = o->rpc->rst_sibling = true;
	ret = criu_local_restore(o);
	o->rpc->has_rst_sibling = had;
	o->rpc->rst_sibling = was;
	o->comm = comm;
	return ret;
}

int criu_local_get_version(criu_opts *o)
{
	CriuResp *resp;
	int ret = simple(o, CRIU_REQ_TYPE__VERSION, false, &resp);
	const CriuVersion *v;

	if (ret)
		return ret;
	v = resp->version;
	ret = v ? v->major_number * 10000 + v->minor_number * 100 +
			  (v->has_sublevel ? v->sublevel : 0) :
		  -EBADMSG;
	criu_resp__free_unpacked(resp, NULL);
	return ret;
}

int criu_local_check_version(criu_opts *o, int minimum)
{
	int v = criu_local_get_version(o);

	return v < 0 ? v : v >= minimum;
}

int criu_local_feature_check(criu_opts *o, struct criu_feature_check *features, size_t size)
{
	struct criu_feature_check want = { 0 }, got = { 0 };
	CriuFeatures f = CRIU_FEATURES__INIT;
	CriuReq req = CRIU_REQ__INIT;
	CriuResp *resp;
	int ret;

	if (!features || size > sizeof(want))
		return -EINVAL;
	memcpy(&want, features, size);
	f.has_mem_track = want.mem_track;
	f.mem_track = want.mem_track;
	f.has_lazy_pages = want.lazy_pages;
	f.lazy_pages = want.lazy_pages;
	f.has_pidfd_store = want.pidfd_store;
	f.pidfd_store = want.pidfd_store;
	req.type = CRIU_REQ_TYPE__FEATURE_CHECK;
	req.features = &f;
	ret = request(o, &req, &resp);
	if (ret)
		return ret;
	if (resp->features) {
		got.mem_track = want.mem_track && resp->features->mem_track;
		got.lazy_pages = want.lazy_pages && resp->features->lazy_pages;
		got.pidfd_store = want.pidfd_store && resp->features->pidfd_store;
	}
	memcpy(features, &got, size);
	criu_resp__free_unpacked(resp, NULL);
	return 0;
}

/* ---- the library's own options --------------------------------------------------------- */

int criu_init_opts(void)
{
	criu_local_free_opts(global);
	global = NULL;
	return criu_local_init_opts(&global) ? -1 : 0;
}

void criu_free_opts(void)
{
	criu_local_free_opts(global);
	global = NULL;
}

/* criu_check may come before criu_init_opts */
static criu_opts *opts(void)
{
	if (!global)
		criu_local_init_opts(&global);
	return global;
}

int criu_set_service_address(const char *path)
{
	return opts() ? criu_local_set_service_address(global, path) : -ENOMEM;
}

void criu_set_service_fd(int fd)
{
	if (opts())
		criu_local_set_service_fd(global, fd);
}

int criu_set_service_binary(const char *path)
{
	return opts() ? criu_local_set_service_binary(global, path) : -ENOMEM;
}

void criu_set_pid(int pid)
{
	if (opts())
		criu_local_set_pid(global, pid);
}

void criu_set_images_dir_fd(int fd)
{
	if (opts())
		criu_local_set_images_dir_fd(global, fd);
}

void criu_set_work_dir_fd(int fd)
{
	if (opts())
		criu_local_set_work_dir_fd(global, fd);
}

void criu_set_leave_running(bool v)
{
	if (opts())
		criu_local_set_leave_running(global, v);
}

void criu_set_ext_unix_sk(bool v)
{
	if (opts())
		criu_local_set_ext_unix_sk(global, v);
}

void criu_set_tcp_established(bool v)
{
	if (opts())
		criu_local_set_tcp_established(global, v);
}

void criu_set_tcp_close(bool v)
{
	if (opts())
		criu_local_set_tcp_close(global, v);
}

void criu_set_evasive_devices(bool v)
{
	if (opts())
		criu_local_set_evasive_devices(global, v);
}

void criu_set_shell_job(bool v)
{
	if (opts())
		criu_local_set_shell_job(global, v);
}

void criu_set_file_locks(bool v)
{
	if (opts())
		criu_local_set_file_locks(global, v);
}

void criu_set_track_mem(bool v)
{
	if (opts())
		criu_local_set_track_mem(global, v);
}

void criu_set_auto_dedup(bool v)
{
	if (opts())
		criu_local_set_auto_dedup(global, v);
}

void criu_set_link_remap(bool v)
{
	if (opts())
		criu_local_set_link_remap(global, v);
}

void criu_set_orphan_pts_master(bool v)
{
	if (opts())
		criu_local_set_orphan_pts_master(global, v);
}

void criu_set_log_level(int level)
{
	if (opts())
		criu_local_set_log_level(global, level);
}

int criu_set_log_file(const char *name)
{
	return opts() ? criu_local_set_log_file(global, name) : -ENOMEM;
}

int criu_set_root(const char *root)
{
	return opts() ? criu_local_set_root(global, root) : -ENOMEM;
}

void criu_set_manage_cgroups(bool v)
{
	if (opts())
		criu_local_set_manage_cgroups(global, v);
}

void criu_set_manage_cgroups_mode(enum criu_cg_mode mode)
{
	if (opts())
		criu_local_set_manage_cgroups_mode(global, mode);
}

int criu_set_freeze_cgroup(const char *name)
{
	return opts() ? criu_local_set_freeze_cgroup(global, name) : -ENOMEM;
}

void criu_set_timeout(unsigned int timeout)
{
	if (opts())
		criu_local_set_timeout(global, timeout);
}

void criu_set_ghost_limit(unsigned int limit)
{
	if (opts())
		criu_local_set_ghost_limit(global, limit);
}

int criu_add_external(const char *key)
{
	return opts() ? criu_local_add_external(global, key) : -ENOMEM;
}

int criu_set_network_lock(enum criu_network_lock_method method)
{
	return opts() ? criu_local_set_network_lock(global, method) : -ENOMEM;
}

void criu_set_notify_cb(int (*cb)(char *action, criu_notify_arg_t na))
{
	if (opts())
		criu_local_set_notify_cb(global, cb);
}

int criu_check(void)
{
	return opts() ? criu_local_check(global) : -ENOMEM;
}

int criu_dump(void)
{
	return opts() ? criu_local_dump(global) : -ENOMEM;
}

int criu_restore(void)
{
	return opts() ? criu_local_restore(global) : -ENOMEM;
}

int criu_restore_child(void)
{
	return opts() ? criu_local_restore_child(global) : -ENOMEM;
}

int criu_get_version(void)
{
	return opts() ? criu_local_get_version(global) : -ENOMEM;
}

int criu_check_version(int minimum)
{
	return opts() ? criu_local_check_version(global, minimum) : -ENOMEM;
}

int criu_feature_check(struct criu_feature_check *features, size_t size)
{
	return opts() ? criu_local_feature_check(global, features, size) : -ENOMEM;
}
