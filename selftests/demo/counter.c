// SPDX-License-Identifier: MIT
/*
 * counter: the `make demo` workload. Appends "tick N" to LOG once a second, keeps a 64 MiB
 * patterned buffer and its checksum; on SIGUSR1 it re-checks the buffer and logs "checksum ok"
 * (or "checksum MISMATCH"), on SIGTERM it logs where it stopped and exits. Usage: counter LOG.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>

#define BUF_SIZE (64UL << 20)
#define NAPS_PER_TICK 10 /* of 100 ms: counts naps, not clock time, so a restore can't skew it */

static volatile sig_atomic_t want_check, want_stop;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		want_check = 1;
	else
		want_stop = 1;
}

static uint64_t checksum(const uint64_t *w, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++)
		h = (h ^ w[i]) * 0x100000001b3ULL;
	return h;
}

static uint64_t *make_buffer(void)
{
	uint64_t *w = mmap(NULL, BUF_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			   -1, 0);

	if (w == MAP_FAILED)
		return NULL;
	for (size_t i = 0; i < BUF_SIZE / sizeof(*w); i++)
		w[i] = i * 0x9e3779b97f4a7c15ULL;
	return w;
}

static void check(int log, const uint64_t *buf, uint64_t want)
{
	uint64_t got = checksum(buf, BUF_SIZE / sizeof(*buf));

	if (got == want)
		dprintf(log, "checksum ok (%016llx over 64 MiB)\n", (unsigned long long)got);
	else
		dprintf(log, "checksum MISMATCH: %016llx, expected %016llx\n",
			(unsigned long long)got, (unsigned long long)want);
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct timespec nap = { 0, 100 * 1000 * 1000 };
	unsigned long tick = 0, naps = 0;
	uint64_t *buf, sum;
	int log;
	/* like a daemon, hold nothing the caller leaked to us (pipes cannot be dumped yet) */
	close_range(3, ~0U, 0);

	if (argc != 2) {
		fprintf(stderr, "usage: counter LOG\n");
		return 2;
	}
	setsid(); /* its own session, no terminal: nothing tying it to the demo's shell */
	log = open(argv[1], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	buf = make_buffer();
	if (log < 0 || !buf) {
		perror("counter");
		return 1;
	}
	sum = checksum(buf, BUF_SIZE / sizeof(*buf));
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	dprintf(log, "counter %d started, checksum %016llx\n", getpid(), (unsigned long long)sum);
	while (!want_stop) {
		nanosleep(&nap, NULL);
		if (want_check) {
			want_check = 0;
			check(log, buf, sum);
		}
		if (++naps % NAPS_PER_TICK == 0)
			dprintf(log, "tick %lu\n", ++tick);
	}
	dprintf(log, "counter %d stopping at tick %lu\n", getpid(), tick);
	return 0;
}
