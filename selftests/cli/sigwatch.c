// SPDX-License-Identifier: MIT
/*
 * The switch-root guard's workload: three processes that log every signal they get, as
 * "got PID SIGNO SENDER" lines appended to one file (argv[1]). The parent (with a second
 * thread) catches SIGTERM, SIGHUP, SIGCONT, SIGUSR1 and SIGWINCH with handlers; its first child
 * blocks them and reads them from a signalfd, as event-loop daemons do; its second child
 * stops itself (SIGSTOP) once ready. Each says "ready PID" first.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

static int logfd = 1;

/* async-signal-safe: one write of "got PID SIGNO SENDER\n" */
static void log_signal(int sig, pid_t from)
{
	char buf[64], *p = buf + sizeof(buf);
	long v[3] = { from, sig, getpid() };

	*--p = '\n';
	for (int i = 0; i < 3; i++) {
		unsigned long n = v[i] < 0 ? 0 : v[i];

		do
			*--p = '0' + n % 10;
		while (n /= 10);
		*--p = ' ';
	}
	memcpy(p -= 3, "got", 3);
	if (write(logfd, p, buf + sizeof(buf) - p) < 0)
		_exit(3);
}

static void on_signal(int sig, siginfo_t *si, void *uc)
{
	log_signal(sig, si->si_pid);
}

static void say_ready(void)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "ready %d\n", getpid());

	if (write(logfd, buf, n) != n)
		_exit(3);
}

static void *idle_thread(void *arg)
{
	for (;;)
		pause();
	return arg;
}

static int handler_parent(void)
{
	static const int sigs[] = { SIGTERM, SIGHUP, SIGCONT, SIGUSR1, SIGWINCH };
	struct sigaction sa = { .sa_sigaction = on_signal, .sa_flags = SA_SIGINFO | SA_RESTART };
	pthread_t th;

	for (unsigned int i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	if (pthread_create(&th, NULL, idle_thread, NULL))
		return 1;
	say_ready();
	for (;;)
		pause();
	return 0;
}

static int signalfd_child(void)
{
	struct signalfd_siginfo si;
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCONT);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGWINCH);
	sigprocmask(SIG_BLOCK, &set, NULL);
	fd = signalfd(-1, &set, 0);
	if (fd < 0)
		return 1;
	say_ready();
	while (read(fd, &si, sizeof(si)) == sizeof(si))
		log_signal(si.ssi_signo, si.ssi_pid);
	return 2;
}

static int stopped_child(void)
{
	say_ready();
	raise(SIGSTOP);
	for (;;)
		pause();
	return 0;
}

int main(int argc, char **argv)
{
	FILE *f;

	if (argc != 2) {
		fprintf(stderr, "usage: sigwatch LOGFILE\n");
		return 2;
	}
	f = fopen(argv[1], "a");
	if (!f)
		return 1;
	logfd = fileno(f);
	if (fork() == 0)
		return signalfd_child();
	if (fork() == 0)
		return stopped_child();
	return handler_parent();
}
