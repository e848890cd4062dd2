// SPDX-License-Identifier: MIT
/*
 * The network namespace test's two ends (netns_test.py).
 * "netns_veth task PORT": runs in its own network namespace; prints "started"; on SIGUSR1
 * (the test has set up lo, veth fv0, addresses, routes, sysctls) records what it sees
 * (links via ioctl, addresses via getifaddrs, /proc/net routes, sysctls), checks a UDP
 * exchange with the peer over v4 and v6 and prints "snap"; on SIGTERM (after restore) sees
 * and exchanges again and prints PASS when all is as recorded, else FAIL and the difference.
 * "netns_veth peer PORT": the host side: a UDP echo server on [::]:PORT.
 */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define SNAP_MAX 16384

static volatile sig_atomic_t got_usr1, got_term;
static int port;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		got_usr1 = 1;
	else
		got_term = 1;
}

static void add(char *buf, const char *fmt, const char *a, const char *b)
{
	size_t len = strlen(buf);

	snprintf(buf + len, SNAP_MAX - len, fmt, a, b);
}

static void snap_link(char *buf, int fd, const char *name)
{
	struct ifreq ifr = { 0 };
	char line[128];
	unsigned char *m;

	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr))
		return;
	snprintf(line, sizeof(line), "%s", ifr.ifr_flags & IFF_UP ? "up" : "down");
	ioctl(fd, SIOCGIFMTU, &ifr);
	snprintf(line + strlen(line), sizeof(line) - strlen(line), " mtu %d", ifr.ifr_mtu);
	ioctl(fd, SIOCGIFHWADDR, &ifr);
	m = (unsigned char *)ifr.ifr_hwaddr.sa_data;
	snprintf(line + strlen(line), sizeof(line) - strlen(line),
		 " mac %02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
	add(buf, "link %s %s\n", name, line);
}

static int prefix_len(const struct sockaddr *mask)
{
	const unsigned char *p;
	int i, n, bits = 0;

	if (!mask)
		return -1;
	p = mask->sa_family == AF_INET ? (void *)&((struct sockaddr_in *)mask)->sin_addr
				       : (void *)&((struct sockaddr_in6 *)mask)->sin6_addr;
	n = mask->sa_family == AF_INET ? 4 : 16;
	for (i = 0; i < n; i++)
		bits += __builtin_popcount(p[i]);
	return bits;
}

static void snap_addrs(char *buf)
{
	struct ifaddrs *ifa, *i;
	char a[INET6_ADDRSTRLEN + 16];
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (getifaddrs(&ifa))
		return;
	for (i = ifa; i; i = i->ifa_next) {
		int fam = i->ifa_addr ? i->ifa_addr->sa_family : -1;
		const void *p;

		if (fam == AF_PACKET)
			snap_link(buf, fd, i->ifa_name);
		if (fam != AF_INET && fam != AF_INET6)
			continue;
		p = fam == AF_INET ? (void *)&((struct sockaddr_in *)i->ifa_addr)->sin_addr
				   : (void *)&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
		inet_ntop(fam, p, a, INET6_ADDRSTRLEN);
		if (!strncmp(a, "fe80", 4))
			continue;	/* link-local: made by the kernel, maybe still tentative */
		snprintf(a + strlen(a), 16, "/%d", prefix_len(i->ifa_netmask));
		add(buf, fam == AF_INET ? "inet %s %s\n" : "inet6 %s %s\n", i->ifa_name, a);
	}
	freeifaddrs(ifa);
	close(fd);
}

/* Routes: the columns that say where packets go (no counters). */
static void snap_routes(char *buf)
{
	char line[512], f[11][64];
	FILE *r = fopen("/proc/net/route", "re"), *r6 = fopen("/proc/net/ipv6_route", "re");

	while (r && fgets(line, sizeof(line), r))
		if (sscanf(line, "%63s %63s %63s %63s %*s %*s %63s %63s", f[0], f[1], f[2], f[3],
			   f[4], f[5]) == 6 && strcmp(f[0], "Iface")) {
			snprintf(line, sizeof(line), "%s gw %s flags %s metric %s mask %s", f[1],
				 f[2], f[3], f[4], f[5]);
			add(buf, "route %s %s\n", f[0], line);
		}
	while (r6 && fgets(line, sizeof(line), r6))
		if (sscanf(line, "%63s %63s %63s %63s %63s %63s %*s %*s %63s %63s", f[0], f[1],
			   f[2], f[3], f[4], f[5], f[6], f[7]) == 8 && strncmp(f[0], "fe80", 4) &&
		    strncmp(f[0], "ff", 2)) {
			snprintf(line, sizeof(line), "%s/%s via %s metric %s flags %s", f[0], f[1],
				 f[4], f[5], f[6]);
			add(buf, "route6 %s %s\n", f[7], line);
		}
	if (r)
		fclose(r);
	if (r6)
		fclose(r6);
}

static void snap_sysctls(char *buf)
{
	static const char *const names[] = {
		"net/ipv4/ip_forward", "net/ipv4/conf/fv0/rp_filter",
		"net/ipv6/conf/all/forwarding", "net/ipv6/conf/fv0/accept_ra",
		"net/unix/max_dgram_qlen",
	};
	char path[128], val[32];
	size_t i;
	FILE *f;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "/proc/sys/%s", names[i]);
		f = fopen(path, "re");
		if (!f || !fgets(val, sizeof(val), f))
			snprintf(val, sizeof(val), "missing\n");
		if (f)
			fclose(f);
		add(buf, "sysctl %s %s", names[i], val);
	}
}

/* One datagram to the peer and its echo back: 0, or -1 after some tries. */
static int exchange(int fam, const char *addr)
{
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
	struct sockaddr_in s4 = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct timeval tv = { 1, 0 };
	char msg[64], back[80];
	int fd = socket(fam, SOCK_DGRAM, 0), i, ret = -1;
	ssize_t n;

	inet_pton(fam, addr, fam == AF_INET ? (void *)&s4.sin_addr : (void *)&s6.sin6_addr);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, fam == AF_INET ? (void *)&s4 : (void *)&s6,
		    fam == AF_INET ? sizeof(s4) : sizeof(s6)))
		goto out;
	for (i = 0; i < 20 && ret; i++) {
		snprintf(msg, sizeof(msg), "hello %d from %d", i, getpid());
		if (send(fd, msg, strlen(msg), 0) < 0) {
			sleep(1);	/* the neighbour may be unresolved yet */
			continue;
		}
		n = recv(fd, back, sizeof(back) - 1, 0);
		if (n > 0) {
			back[n] = '\0';
			ret = strncmp(back, "echo:", 5) || strcmp(back + 5, msg);
		}
	}
out:
	close(fd);
	return ret ? -1 : 0;
}

static void snapshot(char *buf)
{
	buf[0] = '\0';
	snap_addrs(buf);
	snap_routes(buf);
	snap_sysctls(buf);
}

static int run_task(void)
{
	static char before[SNAP_MAX], after[SNAP_MAX];
	static const char *const must[] = { "link lo up", "link fv0 up mtu 1400",
					    "inet fv0 10.77.0.2/24", "inet6 fv0 fd77::2/64",
					    "route fv0 00000000 gw 01004D0A",
					    "sysctl net/ipv4/ip_forward 1",
					    "link in1 down mtu 9000 mac 02:00:00:00:88:02",
					    "inet in0 10.88.0.1/24",
					    "sysctl net/unix/max_dgram_qlen 77" };
	size_t i;
	int bad = 0;

	signal(SIGUSR1, on_signal);
	signal(SIGTERM, on_signal);
	printf("started\n");
	fflush(stdout);
	while (!got_usr1)
		pause();
	snapshot(before);
	for (i = 0; i < sizeof(must) / sizeof(must[0]); i++)
		if (!strstr(before, must[i]))
			printf("FAIL: the set-up is not there: no '%s' in\n%s", must[i], before), bad = 1;
	if (exchange(AF_INET, "10.77.0.1") || exchange(AF_INET6, "fd77::1"))
		printf("FAIL: no UDP exchange with the peer before the dump\n"), bad = 1;
	printf(bad ? "FAIL\n" : "snap\n");
	fflush(stdout);
	while (!got_term)
		pause();
	snapshot(after);
	if (strcmp(before, after))
		printf("FAIL: state differs\n--- before\n%s--- after\n%s", before, after), bad = 1;
	if (exchange(AF_INET, "10.77.0.1"))
		printf("FAIL: no UDP exchange with 10.77.0.1 after restore\n"), bad = 1;
	if (exchange(AF_INET6, "fd77::1"))
		printf("FAIL: no UDP exchange with fd77::1 after restore\n"), bad = 1;
	printf(bad ? "FAIL\n" : "PASS\n");
	return bad;
}

static int run_peer(void)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
	struct sockaddr_storage from;
	socklen_t len;
	char buf[128];
	int fd = socket(AF_INET6, SOCK_DGRAM, 0), off = 0;
	ssize_t n;

	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a))) {
		perror("bind");
		return 1;
	}
	memcpy(buf, "echo:", 5);
	for (;;) {
		len = sizeof(from);
		n = recvfrom(fd, buf + 5, sizeof(buf) - 5, 0, (struct sockaddr *)&from, &len);
		if (n > 0)
			sendto(fd, buf, n + 5, 0, (struct sockaddr *)&from, len);
	}
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: netns_veth task|peer PORT\n");
		return 2;
	}
	port = atoi(argv[2]);
	return !strcmp(argv[1], "peer") ? run_peer() : run_task();
}
