/* SPDX-License-Identifier: MIT */
/*
 * libcriu's C API, served by ferry: the same functions, types and return values as CRIU's
 * libcriu, so that a program written for it builds and runs against ferry (link with
 * -lcriu from ferry's lib directory). Each call sends one criu_req (proto/rpc.proto) to
 * `ferry service` (criu_set_service_address) or to a `ferry swrk` it starts
 * (criu_set_service_binary, the default: "ferry" from PATH), and reads the criu_resp.
 * Options ferry does not do can be set; the request is then refused by ferry with a
 * message naming the option (-EBADE, errno the service's cr_errno).
 *
 * Return values of criu_check, criu_dump, criu_restore, criu_restore_child:
 *   0 (criu_restore: the restored root's PID, > 0)   success
 *   -EBADE         the request failed; errno is the service's cr_errno (0 if none)
 *   -ECONNREFUSED  no connection to the service (errno says why)
 *   -ECOMM         sending or receiving failed (errno says why)
 *   -EINVAL        the service does not know this request type
 *   -EBADMSG       the response cannot be decoded or is for another request
 * Not thread safe; the global options are one criu_opts of the library's.
 */
#ifndef FERRY_LIBCRIU_H
#define FERRY_LIBCRIU_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CRIU_LOG_UNSET (-1)
#define CRIU_LOG_MSG (0)
#define CRIU_LOG_ERROR (1)
#define CRIU_LOG_WARN (2)
#define CRIU_LOG_INFO (3)
#define CRIU_LOG_DEBUG (4)

enum criu_service_comm { CRIU_COMM_SK, CRIU_COMM_FD, CRIU_COMM_BIN };

enum criu_cg_mode {
	CRIU_CG_MODE_IGNORE,
	CRIU_CG_MODE_NONE,
	CRIU_CG_MODE_PROPS,
	CRIU_CG_MODE_SOFT,
	CRIU_CG_MODE_FULL,
	CRIU_CG_MODE_STRICT,
	CRIU_CG_MODE_DEFAULT,
};

enum criu_network_lock_method {
	CRIU_NETWORK_LOCK_IPTABLES = 1,
	CRIU_NETWORK_LOCK_NFTABLES = 2,
	CRIU_NETWORK_LOCK_SKIP = 3,
};

struct CriuNotify;
typedef struct CriuNotify *criu_notify_arg_t;
typedef struct criu_opts criu_opts;

struct criu_feature_check {
	bool mem_track;
	bool lazy_pages;
	bool pidfd_store;
};

/* The library's own options (what the calls without _local_ use). */
int criu_init_opts(void);
void criu_free_opts(void);
int criu_set_service_address(const char *path);
void criu_set_service_fd(int fd);
int criu_set_service_binary(const char *path);
void criu_set_pid(int pid);
void criu_set_images_dir_fd(int fd);
void criu_set_work_dir_fd(int fd);
void criu_set_leave_running(bool leave_running);
void criu_set_ext_unix_sk(bool ext_unix_sk);
void criu_set_tcp_established(bool tcp_established);
void criu_set_tcp_close(bool tcp_close);
void criu_set_evasive_devices(bool evasive_devices);
void criu_set_shell_job(bool shell_job);
void criu_set_file_locks(bool file_locks);
void criu_set_track_mem(bool track_mem);
void criu_set_auto_dedup(bool auto_dedup);
void criu_set_link_remap(bool link_remap);
void criu_set_orphan_pts_master(bool orphan_pts_master);
void criu_set_log_level(int log_level);
int criu_set_log_file(const char *log_file);
int criu_set_root(const char *root);
void criu_set_manage_cgroups(bool manage);
void criu_set_manage_cgroups_mode(enum criu_cg_mode mode);
int criu_set_freeze_cgroup(const char *name);
void criu_set_timeout(unsigned int timeout);
void criu_set_ghost_limit(unsigned int limit);
int criu_add_external(const char *key);
int criu_set_network_lock(enum criu_network_lock_method method);
void criu_set_notify_cb(int (*cb)(char *action, criu_notify_arg_t na));
int criu_notify_pid(criu_notify_arg_t na);

int criu_check(void);
int criu_dump(void);
int criu_restore(void);
int criu_restore_child(void);
/* (major * 10000) + (minor * 100) + sublevel of the RPC the service speaks; < 0 on error */
int criu_get_version(void);
/* 1 if at least minimum, 0 if older, < 0 on error */
int criu_check_version(int minimum);
int criu_feature_check(struct criu_feature_check *features, size_t size);

/* The same on options of the caller's own. */
int criu_local_init_opts(criu_opts **opts);
void criu_local_free_opts(criu_opts *opts);
int criu_local_set_service_address(criu_opts *opts, const char *path);
void criu_local_set_service_fd(criu_opts *opts, int fd);
int criu_local_set_service_binary(criu_opts *opts, const char *path);
void criu_local_set_pid(criu_opts *opts, int pid);
void criu_local_set_images_dir_fd(criu_opts *opts, int fd);
void criu_local_set_work_dir_fd(criu_opts *opts, int fd);
void criu_local_set_leave_running(criu_opts *opts, bool leave_running);
void criu_local_set_ext_unix_sk(criu_opts *opts, bool ext_unix_sk);
void criu_local_set_tcp_established(criu_opts *opts, bool tcp_established);
void criu_local_set_tcp_close(criu_opts *opts, bool tcp_close);
void criu_local_set_evasive_devices(criu_opts *opts, bool evasive_devices);
void criu_local_set_shell_job(criu_opts *opts, bool shell_job);
void criu_local_set_file_locks(criu_opts *opts, bool file_locks);
void criu_local_set_track_mem(criu_opts *opts, bool track_mem);
void criu_local_set_auto_dedup(criu_opts *opts, bool auto_dedup);
void criu_local_set_link_remap(criu_opts *opts, bool link_remap);
void criu_local_set_orphan_pts_master(criu_opts *opts, bool orphan_pts_master);
void criu_local_set_log_level(criu_opts *opts, int log_level);
int criu_local_set_log_file(criu_opts *opts, const char *log_file);
int criu_local_set_root(criu_opts *opts, const char *root);
void criu_local_set_manage_cgroups(criu_opts *opts, bool manage);
void criu_local_set_manage_cgroups_mode(criu_opts *opts, enum criu_cg_mode mode);
int criu_local_set_freeze_cgroup(criu_opts *opts, const char *name);
void criu_local_set_timeout(criu_opts *opts, unsigned int timeout);
void criu_local_set_ghost_limit(criu_opts *opts, unsigned int limit);
int criu_local_add_external(criu_opts *opts, const char *key);
int criu_local_set_network_lock(criu_opts *opts, enum criu_network_lock_method method);
void criu_local_set_notify_cb(criu_opts *opts, int (*cb)(char *action, criu_notify_arg_t na));

int criu_local_check(criu_opts *opts);
int criu_local_dump(criu_opts *opts);
int criu_local_restore(criu_opts *opts);
int criu_local_restore_child(criu_opts *opts);
int criu_local_get_version(criu_opts *opts);
int criu_local_check_version(criu_opts *opts, int minimum);
int criu_local_feature_check(criu_opts *opts, struct criu_feature_check *features, size_t size);

#ifdef __cplusplus
}
#endif

#endif
