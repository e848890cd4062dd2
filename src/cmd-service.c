// SPDX-License-Identifier: MIT
/*
 * `ferry service`: CRIU's RPC service on a SOCK_SEQPACKET socket (default CRIU's
 * /var/run/criu_service.socket), a forked child for each connection; and `ferry swrk FD`:
 * the same on a socket inherited from the client (pycriu's and runc's way of running
 * CRIU). The requests themselves are rpc.c's.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define LOG_PREFIX "service: "
#include "log.h"
#include "cli.h"
#include "rpc.h"

enum { OPT_ADDRESS = 1000, OPT_PIDFILE, OPT_DAEMON };

#define SERVICE_ADDRESS "/var/run/criu_service.socket"

static const char service_help[] =
	"Usage: ferry service [--address PATH] [--daemon] [--pidfile FILE] [-o LOG] [-v[N]]\n\n"
	"Serve CRIU's RPC (criu_req/criu_resp, see proto/rpc.proto) on a SOCK_SEQPACKET\n"
	"socket, so that CRIU's clients (pycriu, libcriu users) work with ferry: DUMP,\n"
	"RESTORE, CHECK, VERSION and FEATURE_CHECK; any other request, or an option ferry\n"
	"does not do, is answered with success false and a message naming it. Each\n"
	"connection is served by a child of its own. The socket is open to every local user;\n"
	"the client's credentials decide: root may do everything, another user may only dump\n"
	"a tree whose tasks are all its own, into a directory it owns (the images become its\n"
	"own), and may not restore. SIGTERM or SIGINT stops the service and removes the\n"
	"socket.\n\n"
	"Options:\n"
	"      --address PATH  the socket (default " SERVICE_ADDRESS ")\n"
	"      --daemon        detach once the socket listens\n"
	"      --pidfile FILE  write the service's PID to FILE\n"
	COMMON_HELP;

static const char swrk_help[] =
	"Usage: ferry swrk FD\n\n"
	"Serve CRIU's RPC on the SOCK_SEQPACKET socket FD, inherited from the client that\n"
	"started ferry (pycriu's criu.use_binary(), runc): as `ferry service` does for one\n"
	"connection, until the client closes it or a request without keep_open is answered.\n";

#define SERVICE_MAX_CHILDREN 32	/* connections served at once; more wait in the backlog */
#define SERVICE_REQ_TIMEOUT 30		/* seconds a connection may take to send a request */

static volatile sig_atomic_t stopping, children;

static void on_stop(int sig)
{
	stopping = sig;
}

static void on_child(int sig)
{
	int err = errno;

	while (waitpid(-1, NULL, WNOHANG) > 0)
		children--;
	errno = err;
}

/* Clients that closed 0-2 before exec: an image must never land on them. */
static void open_std_fds(void)
{
	int fd;

	while ((fd = open("/dev/null", O_RDWR)) >= 0 && fd <= 2)
		;
	if (fd > 2)
		close(fd);
}

/* Refuse a path another service still listens on; remove a stale socket. */
static int bind_address(int sk, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int probe;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		pr_err("--address %s is too long for a unix socket", path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	if (!lstat(path, &st)) {
		probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		if (!S_ISSOCK(st.st_mode) ||
		    (probe >= 0 && !connect(probe, (struct sockaddr *)&sa, sizeof(sa)))) {
			pr_err("%s is %s: not replaced", path, S_ISSOCK(st.st_mode) ?
			       "the socket of a running service" : "not a socket");
			close(probe);
			return -EEXIST;
		}
		close(probe);
		unlink(path);
	}
	if (bind(sk, (struct sockaddr *)&sa, sizeof(sa)) || chmod(path, 0666) || listen(sk, 64)) {
		pr_perror("cannot listen on %s", path);
		return -errno;
	}
	return 0;
}

static void serve_child(int sk, int conn)
{
	struct timeval tv = { .tv_sec = SERVICE_REQ_TIMEOUT };

	close(sk);
	/* a client that never sends must not hold a child of root's for ever */
	setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	signal(SIGCHLD, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	_exit(rpc_serve(conn) ? 1 : 0);
}

/* Out of memory or fds for now: say so and go on, the service must not end for it. */
static void accept_failed(void)
{
	pr_perror("cannot accept a connection (retrying)");
	usleep(100000);
}

static int accept_loop(int sk)
{
	sigset_t chld, old;
	pid_t pid;
	int conn;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	while (!stopping) {
		sigprocmask(SIG_BLOCK, &chld, &old);
		while (children >= SERVICE_MAX_CHILDREN && !stopping)
			sigsuspend(&old);	/* SIGCHLD: one is done */
		sigprocmask(SIG_SETMASK, &old, NULL);
		conn = accept4(sk, NULL, NULL, SOCK_CLOEXEC);
		if (conn < 0) {
			if (errno != EINTR && errno != ECONNABORTED)
				accept_failed();
			continue;
		}
		fflush(NULL);
		sigprocmask(SIG_BLOCK, &chld, &old);
		pid = fork();
		if (pid == 0) {
			sigprocmask(SIG_SETMASK, &old, NULL);
			serve_child(sk, conn);
		}
		if (pid > 0)
			children++;
		else
			pr_perror("cannot fork for a connection");
		sigprocmask(SIG_SETMASK, &old, NULL);
		close(conn);
	}
	pr_info("stopped by signal %d", (int)stopping);
	return 0;
}

static int serve(const char *address, bool detach, const char *pidfile)
{
	struct sigaction sa = { .sa_handler = on_stop };
	int sk, ret;

	sk = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (sk < 0) {
		pr_perror("cannot make the service socket");
		return -errno;
	}
	ret = bind_address(sk, address);
	if (ret)
		goto out;
	if (detach && daemon(0, 0)) {
		ret = -errno;
		pr_perror("cannot detach");
		goto out_unlink;
	}
	if (pidfile && cli_write_pidfile(pidfile, (pid_t[]){ getpid() }, 1)) {
		ret = -EIO;
		goto out_unlink;
	}
	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGTERM, &sa, NULL);	/* no SA_RESTART: accept returns */
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_child;	/* counts the connections' children as they end */
	sigaction(SIGCHLD, &sa, NULL);
	pr_info("serving CRIU's RPC on %s", address);
	ret = accept_loop(sk);
out_unlink:
	unlink(address);
out:
	close(sk);
	return ret;
}

int cmd_service(int argc, char **argv)
{
	static const struct option longopts[] = {
		COMMON_LONGOPTS,
		{ "address", required_argument, NULL, OPT_ADDRESS },
		{ "pidfile", required_argument, NULL, OPT_PIDFILE },
		{ "daemon", no_argument, NULL, OPT_DAEMON },
		{ NULL, 0, NULL, 0 },
	};
	const char *address = SERVICE_ADDRESS, *pidfile = NULL;
	bool detach = false;
	struct common_opts co;
	int c, ret;

	common_opts_init(&co);
	while ((c = getopt_long(argc, argv, COMMON_SHORTOPTS, longopts, NULL)) != -1) {
		if (common_opt(&co, c, optarg))
			continue;
		switch (c) {
		case 'h':
			fputs(service_help, stdout);
			return 0;
		case OPT_ADDRESS:
			address = optarg;
			break;
		case OPT_PIDFILE:
			pidfile = optarg;
			break;
		case OPT_DAEMON:
			detach = true;
			break;
		default:
			return cli_usage_error("service", "unknown option");
		}
	}
	if (optind < argc)
		return cli_usage_error("service", "unexpected argument '%s'", argv[optind]);
	open_std_fds();
	if (common_opts_apply(&co, false))
		return 1;
	ret = serve(address, detach, pidfile);
	common_opts_release(&co);
	return ret ? 1 : 0;
}

int cmd_swrk(int argc, char **argv)
{
	int fd, type = 0;
	socklen_t len = sizeof(type);
	char *end;

	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		fputs(swrk_help, stdout);
		return 0;
	}
	if (argc != 2)
		return cli_usage_error("swrk", "give the socket's fd number: ferry swrk FD");
	fd = strtol(argv[1], &end, 10);
	if (*end || end == argv[1] || fd < 0)
		return cli_usage_error("swrk", "'%s' is not an fd number", argv[1]);
	open_std_fds();
	log_init(NULL, LOG_WARN);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) || type != SOCK_SEQPACKET) {
		pr_err("fd %d is not a SOCK_SEQPACKET socket (%s)", fd,
		       type ? "another socket type" : strerror(errno));
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	return rpc_serve(fd) ? 1 : 0;
}
