// SPDX-License-Identifier: MIT
/*
 * SysV IPC in an IPC namespace of the test's own (unshare(CLONE_NEWIPC)): a keyed shm
 * segment of an odd size attached read-write, a private one attached twice (read-write and
 * read-only), one not attached at all, a semaphore set with values, a message queue with
 * three messages and a lowered qbytes. After restore: same ids, keys, sizes and modes, the
 * attachments at the same addresses with the same contents and still shared, the
 * semaphore values, and the messages in order with their types and texts.
 */
#include <sched.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>

#include "lib.h"

#define KEY_A 0x1234abcd
#define KEY_SEM 0x5e5e0001
#define KEY_MSG 0x4d5a0001
#define SIZE_A (3 * 4096 + 100)
#define SIZE_B (64 << 10)
#define SIZE_C 5000
#define NSEMS 5

static int id_a, id_b, id_c, id_sem, id_msg;
static unsigned char *a, *b_rw;
static const unsigned char *b_ro;

static const struct {
	long type;
	const char *text;
} msgs[] = { { 1, "first message" }, { 5, "" }, { 2, "the third, a little longer message" } };

static unsigned char pat(int seg, size_t i)
{
	return (unsigned char)(zt_mix(seg * 1000003ULL + i) >> 17);
}

static void fill(int seg, unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		p[i] = pat(seg, i);
}

static size_t bad_bytes(int seg, const unsigned char *p, size_t len)
{
	size_t bad = 0;

	for (size_t i = 0; i < len; i++)
		bad += p[i] != pat(seg, i);
	return bad;
}

static void build(void)
{
	unsigned short vals[NSEMS];
	struct msqid_ds mq;
	unsigned char *c;
	size_t i;

	id_a = shmget(KEY_A, SIZE_A, IPC_CREAT | IPC_EXCL | 0640);
	id_b = shmget(IPC_PRIVATE, SIZE_B, IPC_CREAT | 0600);
	id_c = shmget(IPC_PRIVATE, SIZE_C, IPC_CREAT | 0604);
	if (id_a < 0 || id_b < 0 || id_c < 0)
		zt_skip("shmget: %m");
	a = shmat(id_a, NULL, 0);
	b_rw = shmat(id_b, NULL, 0);
	b_ro = shmat(id_b, NULL, SHM_RDONLY);
	c = shmat(id_c, NULL, 0);
	if (a == (void *)-1 || b_rw == (void *)-1 || b_ro == (void *)-1 || c == (void *)-1)
		zt_skip("shmat: %m");
	fill(1, a, SIZE_A);
	fill(2, b_rw, SIZE_B);
	fill(3, c, SIZE_C);
	shmdt(c);

	id_sem = semget(KEY_SEM, NSEMS, IPC_CREAT | 0660);
	for (i = 0; i < NSEMS; i++)
		vals[i] = i * 7 + 1;
	if (id_sem < 0 || semctl(id_sem, 0, SETALL, vals))
		zt_skip("semaphores: %m");

	id_msg = msgget(KEY_MSG, IPC_CREAT | 0620);
	if (id_msg < 0 || msgctl(id_msg, IPC_STAT, &mq))
		zt_skip("msgget: %m");
	mq.msg_qbytes = 8000;
	zt_check(!msgctl(id_msg, IPC_SET, &mq), "msgctl IPC_SET: %m");
	for (i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		struct { long type; char text[64]; } m = { msgs[i].type, "" };

		strcpy(m.text, msgs[i].text);
		zt_check(!msgsnd(id_msg, &m, strlen(m.text), IPC_NOWAIT), "msgsnd: %m");
	}
}

static void check_shm(int id, key_t key, size_t size, unsigned mode, unsigned nattch)
{
	struct shmid_ds ds;

	if (shmctl(id, IPC_STAT, &ds)) {
		zt_fail("shm %d is gone: %m", id);
		return;
	}
	zt_check(ds.shm_perm.__key == key && ds.shm_segsz == size &&
			 (ds.shm_perm.mode & 0777) == mode && ds.shm_nattch == nattch,
		 "shm %d: key %#x size %zu mode %o nattch %lu", id, ds.shm_perm.__key,
		 ds.shm_segsz, ds.shm_perm.mode & 0777, (unsigned long)ds.shm_nattch);
}

static void verify(void)
{
	unsigned short vals[NSEMS];
	struct msqid_ds mq;
	unsigned char *c;
	size_t i;

	check_shm(id_a, KEY_A, SIZE_A, 0640, 1);
	check_shm(id_b, IPC_PRIVATE, SIZE_B, 0600, 2);
	check_shm(id_c, IPC_PRIVATE, SIZE_C, 0604, 0);
	zt_check(!bad_bytes(1, a, SIZE_A), "segment A differs in %zu bytes", bad_bytes(1, a, SIZE_A));
	zt_check(!bad_bytes(2, b_ro, SIZE_B), "segment B differs in %zu bytes",
		 bad_bytes(2, b_ro, SIZE_B));
	b_rw[100] ^= 0xff;	/* the two attachments of B still share it */
	zt_check(b_ro[100] == (unsigned char)(pat(2, 100) ^ 0xff), "B's attachments are not shared");
	c = shmat(id_c, NULL, SHM_RDONLY);
	zt_check(c != (void *)-1 && !bad_bytes(3, c, SIZE_C), "segment C lost its contents");

	zt_check(semctl(id_sem, 0, GETALL, vals) == 0, "GETALL: %m");
	for (i = 0; i < NSEMS; i++)
		zt_check(vals[i] == i * 7 + 1, "semaphore %zu is %u", i, vals[i]);

	zt_check(!msgctl(id_msg, IPC_STAT, &mq) && mq.msg_qnum == 3 && mq.msg_qbytes == 8000,
		 "queue: %lu messages, qbytes %lu", (unsigned long)mq.msg_qnum,
		 (unsigned long)mq.msg_qbytes);
	for (i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		struct { long type; char text[64]; } m = { 0, "" };
		ssize_t n = msgrcv(id_msg, &m, sizeof(m.text), 0, IPC_NOWAIT);

		zt_check(n == (ssize_t)strlen(msgs[i].text) && m.type == msgs[i].type &&
				 !memcmp(m.text, msgs[i].text, n),
			 "message %zu: type %ld, %zd bytes '%.*s'", i, m.type, n, (int)(n > 0 ? n : 0),
			 m.text);
	}
}

int main(int argc, char **argv)
{
	zt_init(argc, argv);
	if (unshare(CLONE_NEWIPC))
		zt_skip("unshare(CLONE_NEWIPC): %m");
	build();
	zt_expose(a, SIZE_A);
	zt_ready();
	zt_wait();
	verify();
	return zt_result();
}
