// SPDX-License-Identifier: MIT
/*
 * FPU/vector state: ymm0-ymm14 hold known 256-bit values and MXCSR and the x87 control
 * word non-default modes, all the time: one asm loop compares the registers with the
 * reference, then sleeps in a raw nanosleep syscall, so the dump finds the values only in
 * the registers (and the xsave area). After restore the registers must still match.
 */
#include <string.h>
#include <time.h>

#include "lib.h"

#define NREGS 15
#define MXCSR_WANT 0xff80	/* all exceptions masked, round toward zero, FTZ, DAZ (0x40) off */
#define FPUCW_WANT 0x0f7f	/* all exceptions masked, round toward zero, 64-bit precision */

static unsigned char ref[NREGS * 32] __attribute__((aligned(32))); /* exposed */
static struct timespec step = { 0, 5 * 1000 * 1000 };

/* Returns -1 when stopped by SIGTERM, or the index of the first register that differs. */
static int hold_registers(unsigned long *loops)
{
	unsigned int mxcsr = MXCSR_WANT;
	unsigned short cw = FPUCW_WANT;
	int bad;

	asm volatile(
		"ldmxcsr %[mxcsr]\n\t"
		"fldcw %[cw]\n\t"
		"vmovdqu 0(%[ref]), %%ymm0\n\t"
		"vmovdqu 32(%[ref]), %%ymm1\n\t"
		"vmovdqu 64(%[ref]), %%ymm2\n\t"
		"vmovdqu 96(%[ref]), %%ymm3\n\t"
		"vmovdqu 128(%[ref]), %%ymm4\n\t"
		"vmovdqu 160(%[ref]), %%ymm5\n\t"
		"vmovdqu 192(%[ref]), %%ymm6\n\t"
		"vmovdqu 224(%[ref]), %%ymm7\n\t"
		"vmovdqu 256(%[ref]), %%ymm8\n\t"
		"vmovdqu 288(%[ref]), %%ymm9\n\t"
		"vmovdqu 320(%[ref]), %%ymm10\n\t"
		"vmovdqu 352(%[ref]), %%ymm11\n\t"
		"vmovdqu 384(%[ref]), %%ymm12\n\t"
		"vmovdqu 416(%[ref]), %%ymm13\n\t"
		"vmovdqu 448(%[ref]), %%ymm14\n\t"
		"1:\n\t"
		"mov $0, %%edx\n\t"
		"vpcmpeqb 0(%[ref]), %%ymm0, %%ymm15\n\t"
		"vpmovmskb %%ymm15, %%eax\n\t"
		"cmp $-1, %%eax\n\t"
		"jne 8f\n\t"
		"mov $1, %%edx\n\t"
		"vpcmpeqb 32(%[ref]), %%ymm1, %%ymm15\n\t"
		"vpmovmskb %%ymm15, %%eax\n\t"
		"cmp $-1, %%eax\n\t"
		"jne 8f\n\t"
		"mov $2, %%edx\n\t"
		"vpcmpeqb 64(%[ref]), %%ymm2, %%ymm15\n\t"
		"vpmovmskb %%ymm15, %%eax\n\t"
		"cmp $-1, %%eax\n\t"
		"jne 8f\n\t"
		"mov $3, %%edx\n\t"
		"vpcmpeqb 96(%[ref]), %%ymm3, %%ymm15\n\t"
		"vpmovmskb %%ymm15, %%eax\n\t"
		"cmp $-1, %%eax\n\t"
		"jne 8f\n\t"
		"mov $4, %%edx\n\t"
		"vpcmpeqb 128(%[ref]), %%ymm4, %%ymm15\n\t"
		"vpmovmskb %%ymm15, %%eax\n\t"
		"cmp $-1, %%eax\n\t"
		"jne 8f\n\t"
		"mov $5, %%edx\n\t"
		"vpcmpeqb 160(%[ref]), %%ymm5, %%ymm15\n\t"
		"vpmovmskb %%ymm15, %%eax\n\t"
		"cmp $-1, %%eax\n\t"
		"jne 8f\n\t"
		"mov $6, %%edx\n\t"
		"vpcmpeqb 192(%[ref]), %%ymm6, %%ymm15\n\t"
		"vpmovmskb %%ymm15, %%eax\n\t"
		"cmp $-1, %%eax\n\t"
		"jne 8f\n\t"
		"mov $7, %%edx\n\t"
		"vpcmpeqb 224(%[ref]), %%ymm7, %%ymm15\n\t"
		"vpmovmskb %%ymm15, %%eax\n\t"
		"cmp $-1, %%eax\n\t"
		"jne 8f\n\t"
		"mov $8, %%edx\n\t"
		"vpcmpeqb 256(%[ref]), %%ymm8, %%ymm15\n\t"
		"vpmovmskb %%ymm15, %%eax\n\t"
		"cmp $-1, %%eax\n\t"
		"jne 8f\n\t"
		"mov $9, %%edx\n\t"
		"vpcmpeqb 288(%[ref]), %%ymm9, %%ymm15\n\t"
		"vpmovmskb %%ymm15, %%eax\n\t"
		"cmp $-1, %%eax\n\t"
		"jne 8f\n\t"
		"mov $10, %%edx\n\t"
		"vpcmpeqb 320(%[ref]), %%ymm10, %%ymm15\n\t"
		"vpmovmskb %%ymm15, %%eax\n\t"
		"cmp $-1, %%eax\n\t"
		"jne 8f\n\t"
		"mov $11, %%edx\n\t"
		"vpcmpeqb 352(%[ref]), %%ymm11, %%ymm15\n\t"
		"vpmovmskb %%ymm15, %%eax\n\t"
		"cmp $-1, %%eax\n\t"
		"jne 8f\n\t"
		"mov $12, %%edx\n\t"
		"vpcmpeqb 384(%[ref]), %%ymm12, %%ymm15\n\t"
		"vpmovmskb %%ymm15, %%eax\n\t"
		"cmp $-1, %%eax\n\t"
		"jne 8f\n\t"
		"mov $13, %%edx\n\t"
		"vpcmpeqb 416(%[ref]), %%ymm13, %%ymm15\n\t"
		"vpmovmskb %%ymm15, %%eax\n\t"
		"cmp $-1, %%eax\n\t"
		"jne 8f\n\t"
		"mov $14, %%edx\n\t"
		"vpcmpeqb 448(%[ref]), %%ymm14, %%ymm15\n\t"
		"vpmovmskb %%ymm15, %%eax\n\t"
		"cmp $-1, %%eax\n\t"
		"jne 8f\n\t"
		"cmpl $0, %[stop]\n\t"
		"jne 9f\n\t"
		"mov $35, %%eax\n\t"		/* nanosleep(&step, NULL) */
		"lea %[ts], %%rdi\n\t"
		"xor %%esi, %%esi\n\t"
		"syscall\n\t"
		"incq %[loops]\n\t"
		"jmp 1b\n"
		"8:\n\t"
		"mov %%edx, %[bad]\n\t"
		"jmp 10f\n"
		"9:\n\t"
		"movl $-1, %[bad]\n"
		"10:\n\t"
		: [bad] "=m"(bad), [loops] "+m"(*loops)
		: [ref] "r"(ref), [stop] "m"(zt_stop), [ts] "m"(step), [mxcsr] "m"(mxcsr),
		  [cw] "m"(cw)
		: "rax", "rcx", "rdx", "rdi", "rsi", "r11", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4",
		  "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13",
		  "xmm14", "xmm15", "memory", "cc");
	return bad;
}

static int have_avx(void)
{
	unsigned int lo, hi;

	if (!__builtin_cpu_supports("avx"))
		return 0;
	asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return (lo & 6) == 6; /* the OS saves SSE and AVX state */
}

int main(int argc, char **argv)
{
	unsigned long loops = 0, i;
	unsigned int mxcsr;
	unsigned short cw;
	int bad;

	zt_init(argc, argv);
	if (!have_avx())
		zt_skip("no AVX (or the OS does not enable it)");
	for (i = 0; i < sizeof(ref) / 8; i++) {
		uint64_t v = zt_mix(i + 0xf00);

		memcpy(ref + 8 * i, &v, 8);
	}
	zt_expose(ref, 64);
	zt_ready();
	bad = hold_registers(&loops);
	asm volatile("stmxcsr %0" : "=m"(mxcsr));
	asm volatile("fnstcw %0" : "=m"(cw));
	if (bad >= 0) {
		zt_fail("ymm%d differs from its reference after %lu loops", bad, loops);
		zt_wait();
	}
	zt_check(mxcsr == MXCSR_WANT, "MXCSR is 0x%x, expected 0x%x", mxcsr, MXCSR_WANT);
	zt_check(cw == FPUCW_WANT, "x87 control word is 0x%x, expected 0x%x", cw, FPUCW_WANT);
	zt_check(loops > 0, "the register loop never ran");
	zt_msg("%lu loops", loops);
	return zt_result();
}
