// Bounded UDP flood for bench/xdp.ts: raw frames on an AF_PACKET socket (qdisc bypassed),
// IPv4 sources cycling through a range of addresses, at most RATE packets/s for SECONDS.
// Usage: flood IFNAME DST_MAC DST_IP FIRST_SRC_IP NSRC RATE SECONDS
// Prints the number of frames sent. Only ever run inside a test namespace.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define FRAME 60

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint16_t ip_csum(const uint8_t *h)
{
	uint32_t sum = 0;
	for (int i = 0; i < 20; i += 2)
		sum += (uint32_t)(h[i] << 8 | h[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

int main(int argc, char **argv)
{
	if (argc != 8) {
		fprintf(stderr, "usage: flood IFNAME DST_MAC DST_IP FIRST_SRC_IP NSRC RATE SECONDS\n");
		return 2;
	}
	const char *ifname = argv[1];
	unsigned mac[6];
	struct in_addr dst, src0;
	if (sscanf(argv[2], "%x:%x:%x:%x:%x:%x", &mac[0], &mac[1], &mac[2], &mac[3], &mac[4], &mac[5]) != 6 ||
	    inet_pton(AF_INET, argv[3], &dst) != 1 || inet_pton(AF_INET, argv[4], &src0) != 1) {
		fprintf(stderr, "flood: bad MAC or address\n");
		return 2;
	}
	uint32_t nsrc = (uint32_t)strtoul(argv[5], NULL, 10);
	double rate = strtod(argv[6], NULL), seconds = strtod(argv[7], NULL);
	if (nsrc == 0 || rate <= 0 || seconds <= 0 || seconds > 10) {
		fprintf(stderr, "flood: NSRC and RATE must be positive, SECONDS in (0, 10]\n");
		return 2;
	}
	int ifindex = (int)if_nametoindex(ifname);
	int fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (!ifindex || fd < 0) {
		perror("flood: socket/interface");
		return 1;
	}
	int one = 1;
	setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_ifindex = ifindex, .sll_halen = 6 };
	for (int i = 0; i < 6; i++)
		sll.sll_addr[i] = (uint8_t)mac[i];

	static uint8_t frames[BATCH][FRAME];
	struct iovec iov[BATCH];
	struct mmsghdr msgs[BATCH];
	memset(frames, 0, sizeof frames);
	memset(msgs, 0, sizeof msgs);
	for (int i = 0; i < BATCH; i++) {
		uint8_t *f = frames[i];
		for (int j = 0; j < 6; j++)
			f[j] = (uint8_t)mac[j];
		f[6] = 0x02; f[11] = 0x01; // locally administered source MAC
		f[12] = 0x08; f[13] = 0x00;
		uint8_t *ip = f + 14;
		ip[0] = 0x45; ip[3] = FRAME - 14; ip[8] = 64; ip[9] = 17;
		memcpy(ip + 16, &dst, 4);
		uint8_t *udp = ip + 20;
		udp[0] = 0x9c; udp[1] = 0x40; udp[2] = 0x00; udp[3] = 0x09; // 40000 -> 9 (discard)
		udp[5] = FRAME - 14 - 20; // UDP length; checksum 0 = none (IPv4)
		iov[i].iov_base = f;
		iov[i].iov_len = FRAME;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_name = &sll;
		msgs[i].msg_hdr.msg_namelen = sizeof sll;
	}

	uint32_t base = ntohl(src0.s_addr), next = 0;
	unsigned long long sent = 0;
	double start = now(), end = start + seconds;
	for (;;) {
		double t = now();
		if (t >= end)
			break;
		// Pace: never ahead of RATE * elapsed.
		if ((double)sent > rate * (t - start)) {
			struct timespec ts = { 0, 50000 };
			nanosleep(&ts, NULL);
			continue;
		}
		for (int i = 0; i < BATCH; i++) {
			uint8_t *ip = frames[i] + 14;
			uint32_t s = htonl(base + next);
			next = next + 1 == nsrc ? 0 : next + 1;
			memcpy(ip + 12, &s, 4);
			ip[10] = ip[11] = 0;
			uint16_t c = ip_csum(ip);
			ip[10] = (uint8_t)(c >> 8);
			ip[11] = (uint8_t)c;
		}
		int n = sendmmsg(fd, msgs, BATCH, 0);
		if (n > 0)
			sent += (unsigned)n;
	}
	printf("%llu\n", sent);
	return 0;
}
