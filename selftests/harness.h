/* SPDX-License-Identifier: MIT */
/*
 * ferry's own small test harness for C unit tests: TEST()/FIXTURE()/TEST_F(), ASSERT_*
 * (stop the test) versus EXPECT_* (record and go on), SKIP(reason). Each test runs in a
 * forked child in its own process group with a timeout; results are printed as TAP with a
 * closing "N passed, N failed, N skipped" line. Header only: include it from one file.
 */
#ifndef FERRY_HARNESS_H
#define FERRY_HARNESS_H

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef TH_TIMEOUT
#define TH_TIMEOUT 30 /* seconds per test; a test may override with TEST_TIMEOUT() */
#endif
#ifndef TH_UNUSED
#define TH_UNUSED __attribute__((unused))
#endif

enum th_result { TH_PASS, TH_FAIL, TH_SKIP };

/* Shared between the forked test and the parent: the verdict and a skip reason. */
struct th_state {
	int result;
	char reason[256];
};

struct th_ctx {
	struct th_state *st;
	sigjmp_buf abort_jmp;
};

struct th_test {
	const char *name;
	void (*run)(struct th_ctx *ctx);
	int timeout;
	struct th_test *next;
};

static struct th_test *th_first, **th_last = &th_first;

static inline void th_register(struct th_test *t)
{
	*th_last = t;
	th_last = &t->next;
}

/* TEST(name) { body } : a test without fixture. `_ctx` is visible to the checks. */
#define TEST(name) TEST_TIMEOUT(name, TH_TIMEOUT)
#define TEST_TIMEOUT(name, secs)                                                               \
	static void th_body_##name(struct th_ctx *_ctx TH_UNUSED);                                      \
	static struct th_test th_test_##name = { #name, th_body_##name, secs, NULL };           \
	__attribute__((constructor)) static void th_reg_##name(void)                            \
	{                                                                                       \
		th_register(&th_test_##name);                                                   \
	}                                                                                       \
	static void th_body_##name(struct th_ctx *_ctx TH_UNUSED)

/*
 * FIXTURE(f) { fields };  FIXTURE_SETUP(f) { ... self->x ... }  FIXTURE_TEARDOWN(f) { ... }
 * TEST_F(f, name) { ... self ... }. Teardown also runs after a failed ASSERT or SKIP.
 */
#define FIXTURE(f) struct th_fixture_##f
#define FIXTURE_SETUP(f)                                                                       \
	static void th_setup_##f(struct th_ctx *_ctx __attribute__((unused)),                   \
				 struct th_fixture_##f *self)
#define FIXTURE_TEARDOWN(f)                                                                    \
	static void th_teardown_##f(struct th_ctx *_ctx __attribute__((unused)),                \
				    struct th_fixture_##f *self)
#define TEST_F(f, name)                                                                        \
	static void th_fbody_##f##_##name(struct th_ctx *_ctx TH_UNUSED, struct th_fixture_##f *self TH_UNUSED);    \
	static void th_body_##f##_##name(struct th_ctx *_ctx)                                   \
	{                                                                                       \
		static struct th_fixture_##f fx;                                                \
		static int th_td_##f##_##name;                                                  \
		memset(&fx, 0, sizeof(fx));                                                     \
		if (!sigsetjmp(_ctx->abort_jmp, 1)) {                                           \
			th_setup_##f(_ctx, &fx);                                                \
			th_fbody_##f##_##name(_ctx, &fx);                                       \
		}                                                                               \
		if (!th_td_##f##_##name++) /* once, even if teardown itself asserts */          \
			th_teardown_##f(_ctx, &fx);                                             \
	}                                                                                       \
	static struct th_test th_test_##f##_##name = { #f "." #name, th_body_##f##_##name,      \
						       TH_TIMEOUT, NULL };                      \
	__attribute__((constructor)) static void th_reg_##f##_##name(void)                      \
	{                                                                                       \
		th_register(&th_test_##f##_##name);                                             \
	}                                                                                       \
	static void th_fbody_##f##_##name(struct th_ctx *_ctx TH_UNUSED, struct th_fixture_##f *self TH_UNUSED)

/* Diagnostics go to stdout as TAP comments so they stay in order with the results. */
static inline void th_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void th_note(const char *fmt, ...)
{
	va_list ap;

	fputs("#   ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

static inline void th_failed(struct th_ctx *ctx, int stop)
{
	ctx->st->result = TH_FAIL;
	if (stop)
		siglongjmp(ctx->abort_jmp, 1);
}

#define TH_CHECK_AS(stop, cond, what, fmt, ...)                                                \
	do {                                                                                    \
		if (!(cond)) {                                                                  \
			th_note("%s:%d: check failed: %s", __FILE__, __LINE__, what);           \
			th_note(fmt, ##__VA_ARGS__);                                            \
			th_failed(_ctx, stop);                                                  \
		}                                                                               \
	} while (0)
#define TH_CHECK(stop, cond, fmt, ...) TH_CHECK_AS(stop, cond, #cond, fmt, ##__VA_ARGS__)

/* Integer comparisons; both sides are evaluated once and shown as numbers on failure. */
#define TH_CMP(stop, a, op, b)                                                                 \
	do {                                                                                    \
		__typeof__(a) _th_a = (a);                                                      \
		__typeof__(b) _th_b = (b);                                                      \
		TH_CHECK_AS(stop, _th_a op _th_b, #a " " #op " " #b,                            \
			    "  left %lld (0x%llx), right %lld (0x%llx)", (long long)_th_a,      \
			    (unsigned long long)_th_a, (long long)_th_b,                        \
			    (unsigned long long)_th_b);                                         \
	} while (0)

#define ASSERT_EQ(a, b) TH_CMP(1, a, ==, b)
#define ASSERT_NE(a, b) TH_CMP(1, a, !=, b)
#define ASSERT_LT(a, b) TH_CMP(1, a, <, b)
#define ASSERT_LE(a, b) TH_CMP(1, a, <=, b)
#define ASSERT_GT(a, b) TH_CMP(1, a, >, b)
#define ASSERT_GE(a, b) TH_CMP(1, a, >=, b)
#define EXPECT_EQ(a, b) TH_CMP(0, a, ==, b)
#define EXPECT_NE(a, b) TH_CMP(0, a, !=, b)
#define EXPECT_LT(a, b) TH_CMP(0, a, <, b)
#define EXPECT_LE(a, b) TH_CMP(0, a, <=, b)
#define EXPECT_GT(a, b) TH_CMP(0, a, >, b)
#define EXPECT_GE(a, b) TH_CMP(0, a, >=, b)
#define ASSERT_TRUE(c) TH_CHECK(1, c, "  expected true")
#define ASSERT_FALSE(c) TH_CHECK(1, !(c), "  expected false")
#define EXPECT_TRUE(c) TH_CHECK(0, c, "  expected true")
#define EXPECT_FALSE(c) TH_CHECK(0, !(c), "  expected false")
#define ASSERT_NULL(p) TH_CHECK(1, (p) == NULL, "  got %p", (const void *)(p))
#define ASSERT_NONNULL(p) TH_CHECK(1, (p) != NULL, "  got NULL (errno %d: %m)", errno)
#define EXPECT_NULL(p) TH_CHECK(0, (p) == NULL, "  got %p", (const void *)(p))
#define EXPECT_NONNULL(p) TH_CHECK(0, (p) != NULL, "  got NULL (errno %d: %m)", errno)
#define TH_STR(stop, a, b, rel, what)                                                          \
	do {                                                                                    \
		const char *_th_a = (a), *_th_b = (b);                                          \
		TH_CHECK_AS(stop, _th_a && _th_b && (rel), #a " " what " " #b,                  \
			    "  left \"%s\"\n#     right \"%s\"", _th_a ? _th_a : "(null)",       \
			    _th_b ? _th_b : "(null)");                                          \
	} while (0)
#define ASSERT_STREQ(a, b) TH_STR(1, a, b, !strcmp(_th_a, _th_b), "equals")
#define EXPECT_STREQ(a, b) TH_STR(0, a, b, !strcmp(_th_a, _th_b), "equals")
#define ASSERT_CONTAINS(hay, needle) TH_STR(1, hay, needle, strstr(_th_a, _th_b), "contains")
#define EXPECT_CONTAINS(hay, needle) TH_STR(0, hay, needle, strstr(_th_a, _th_b), "contains")

/* SKIP(fmt, ...): leave the test now, reported as skipped with the reason. */
#define SKIP(fmt, ...)                                                                         \
	do {                                                                                    \
		snprintf(_ctx->st->reason, sizeof(_ctx->st->reason), fmt, ##__VA_ARGS__);       \
		_ctx->st->result = TH_SKIP;                                                     \
		siglongjmp(_ctx->abort_jmp, 1);                                                 \
	} while (0)

/* Child side: run the body; a crash is seen by the parent as a signal. */
static inline void th_child(struct th_test *t, struct th_state *st)
{
	struct th_ctx ctx = { .st = st };

	setpgid(0, 0);
	if (!sigsetjmp(ctx.abort_jmp, 1))
		t->run(&ctx);
	fflush(stdout);
	fflush(stderr);
	_exit(0);
}

/* Parent side: wait for the child with a deadline (pidfd + poll); kill its group on expiry. */
static inline int th_wait(pid_t pid, int timeout, int *status)
{
	int pidfd = syscall(SYS_pidfd_open, pid, 0);
	int timed_out = 0;

	if (pidfd >= 0) {
		struct pollfd p = { .fd = pidfd, .events = POLLIN };
		int n;

		do
			n = poll(&p, 1, timeout * 1000);
		while (n < 0 && errno == EINTR);
		if (n == 0) {
			timed_out = 1;
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
		}
		close(pidfd);
	}
	while (waitpid(pid, status, 0) < 0 && errno == EINTR)
		;
	kill(-pid, SIGKILL); /* anything the test left behind in its group */
	return timed_out;
}

static inline int th_run_one(struct th_test *t, int n, int *counts)
{
	struct th_state *st;
	int status = 0, timed_out;
	pid_t pid;

	st = mmap(NULL, sizeof(*st), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (st == MAP_FAILED) {
		perror("harness: mmap");
		exit(2);
	}
	st->result = TH_PASS;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		perror("harness: fork");
		exit(2);
	}
	if (pid == 0)
		th_child(t, st);
	timed_out = th_wait(pid, t->timeout, &status);
	if (timed_out) {
		th_note("%s: timed out after %d s", t->name, t->timeout);
		st->result = TH_FAIL;
	} else if (WIFSIGNALED(status)) {
		th_note("%s: killed by signal %d (%s)", t->name, WTERMSIG(status),
			strsignal(WTERMSIG(status)));
		st->result = TH_FAIL;
	} else if (WEXITSTATUS(status) != 0) {
		th_note("%s: exited with status %d", t->name, WEXITSTATUS(status));
		st->result = TH_FAIL;
	}
	if (st->result == TH_SKIP)
		printf("ok %d %s # SKIP %s\n", n, t->name, st->reason);
	else
		printf("%sok %d %s\n", st->result == TH_PASS ? "" : "not ", n, t->name);
	fflush(stdout);
	counts[st->result]++;
	munmap(st, sizeof(*st));
	return 0;
}

/* main(): [-l] list tests, [-t NAME]... run only those. */
static inline int th_main(int argc, char **argv)
{
	int counts[3] = { 0 }, planned = 0, n = 0, i;
	struct th_test *t;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-l")) {
			for (t = th_first; t; t = t->next)
				puts(t->name);
			return 0;
		}
	}
#define TH_SELECTED(t)                                                                         \
	({                                                                                      \
		int _sel = 1, _j;                                                               \
		for (_j = 1; _j < argc; _j++)                                                   \
			if (!strcmp(argv[_j], "-t") && _j + 1 < argc)                           \
				_sel = 0;                                                       \
		for (_j = 1; _j + 1 < argc; _j++)                                               \
			if (!strcmp(argv[_j], "-t") && !strcmp(argv[_j + 1], (t)->name))       \
				_sel = 1;                                                       \
		_sel;                                                                           \
	})
	for (t = th_first; t; t = t->next)
		planned += TH_SELECTED(t);
	printf("TAP version 13\n1..%d\n", planned);
	for (t = th_first; t; t = t->next)
		if (TH_SELECTED(t))
			th_run_one(t, ++n, counts);
	printf("%d passed, %d failed, %d skipped\n", counts[TH_PASS], counts[TH_FAIL],
	       counts[TH_SKIP]);
	return counts[TH_FAIL] ? 1 : 0;
}

#define TEST_HARNESS_MAIN                                                                      \
	int main(int argc, char **argv)                                                         \
	{                                                                                       \
		return th_main(argc, argv);                                                     \
	}

#endif
