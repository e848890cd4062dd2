// SPDX-License-Identifier: MIT
/*
 * Per-thread FPU state: four threads each hold their own 256-bit values in ymm8-ymm11 and
 * their own MXCSR rounding mode, all the time (an asm loop compares the registers with
 * the thread's reference, then sleeps in a raw nanosleep), so the dump finds them only
 * in each thread's registers. After restore every thread's registers must still match.
 */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "lib.h"

#define NTHREADS 4
#define MXCSR_BASE 0x1f80	/* all exceptions masked; rounding (bits 13-14) per thread */

static unsigned char ref[NTHREADS][4 * 32] __attribute__((aligned(32))); /* exposed */
static volatile int stop_now;
static struct timespec step = { 0, 5 * 1000 * 1000 };
static int bad[NTHREADS];
static unsigned long loops[NTHREADS];
static unsigned int mxcsr_seen[NTHREADS];

/* -1 when stopped, or the first ymm (8..11) that differs. */
static int hold(const unsigned char *r, unsigned int mxcsr, unsigned long *n)
{
	int res;

	asm volatile(
		"ldmxcsr %[mxcsr]\n\t"
		"vmovdqu 0(%[r]), %%ymm8\n\t"
		"vmovdqu 32(%[r]), %%ymm9\n\t"
		"vmovdqu 64(%[r]), %%ymm10\n\t"
		"vmovdqu 96(%[r]), %%ymm11\n\t"
		"1:\n\t"
		"mov $8, %%edx\n\t"
		"vpcmpeqb 0(%[r]), %%ymm8, %%ymm15\n\t"
		"vpmovmskb %%ymm15, %%eax\n\t"
		"cmp $-1, %%eax\n\t"
		"jne 8f\n\t"
		"mov $9, %%edx\n\t"
		"vpcmpeqb 32(%[r]), %%ymm9, %%ymm15\n\t"
		"vpmovmskb %%ymm15, %%eax\n\t"
		"cmp $-1, %%eax\n\t"
		"jne 8f\n\t"
		"mov $10, %%edx\n\t"
		"vpcmpeqb 64(%[r]), %%ymm10, %%ymm15\n\t"
		"vpmovmskb %%ymm15, %%eax\n\t"
		"cmp $-1, %%eax\n\t"
		"jne 8f\n\t"
		"mov $11, %%edx\n\t"
		"vpcmpeqb 96(%[r]), %%ymm11, %%ymm15\n\t"
		"vpmovmskb %%ymm15, %%eax\n\t"
		"cmp $-1, %%eax\n\t"
		"jne 8f\n\t"
		"cmpl $0, %[stop]\n\t"
		"jne 9f\n\t"
		"mov $35, %%eax\n\t"
		"lea %[ts], %%rdi\n\t"
		"xor %%esi, %%esi\n\t"
		"syscall\n\t"
		"incq %[n]\n\t"
		"jmp 1b\n"
		"8:\n\t"
		"mov %%edx, %[res]\n\t"
		"jmp 10f\n"
		"9:\n\t"
		"movl $-1, %[res]\n"
		"10:\n\t"
		: [res] "=m"(res), [n] "+m"(*n)
		: [r] "r"(r), [stop] "m"(stop_now), [ts] "m"(step), [mxcsr] "m"(mxcsr)
		: "rax", "rcx", "rdx", "rdi", "rsi", "r11", "xmm8", "xmm9", "xmm10", "xmm11",
		  "xmm15", "memory", "cc");
	return res;
}

static void *thread_main(void *arg)
{
	long i = (long)arg;
	unsigned int m;

	bad[i] = hold(ref[i], MXCSR_BASE | (i % 4) << 13, &loops[i]);
	asm volatile("stmxcsr %0" : "=m"(m));
	mxcsr_seen[i] = m;
	return NULL;
}

static int have_avx(void)
{
	unsigned int lo, hi;

	if (!__builtin_cpu_supports("avx"))
		return 0;
	asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return (lo & 6) == 6;
}

int main(int argc, char **argv)
{
	pthread_t th[NTHREADS];
	sigset_t term, old;
	long i, k;

	zt_init(argc, argv);
	if (!have_avx())
		zt_skip("no AVX (or the OS does not enable it)");
	for (i = 0; i < NTHREADS; i++)
		for (k = 0; k < 16; k++) {
			uint64_t v = zt_mix(i * 100 + k);

			memcpy(ref[i] + 8 * k, &v, 8);
		}
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &term, &old); /* the threads never take SIGTERM */
	for (i = 0; i < NTHREADS; i++)
		if (pthread_create(&th[i], NULL, thread_main, (void *)i)) {
			zt_fail("pthread_create: %m");
			return zt_result();
		}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	/* ready only once every thread holds its values in its registers */
	for (i = 0; i < NTHREADS; i++)
		while (!*(volatile unsigned long *)&loops[i])
			nanosleep(&step, NULL);
	zt_expose(ref, sizeof(ref));
	zt_ready();
	zt_wait();

	stop_now = 1;
	for (i = 0; i < NTHREADS; i++) {
		pthread_join(th[i], NULL);
		zt_check(bad[i] < 0, "thread %ld: ymm%d differs after %lu loops", i, bad[i],
			 loops[i]);
		zt_check(mxcsr_seen[i] == (MXCSR_BASE | (unsigned int)(i % 4) << 13),
			 "thread %ld: MXCSR 0x%x", i, mxcsr_seen[i]);
		zt_check(loops[i] > 0, "thread %ld: the register loop never ran", i);
	}
	return zt_result();
}
