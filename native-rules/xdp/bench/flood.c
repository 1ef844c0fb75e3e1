// Bounded UDP flood for bench/xdp.ts: raw frames on an AF_PACKET socket (qdisc bypassed),
// IPv4 sources cycling through a range of addresses, at most RATE packets/s for SECONDS.
// Usage: flood IFNAME DST_MAC DST_IP FIRST_SRC_IP NSRC RATE SECONDS
// Prints the number of frames sent. Only ever run inside a test namespace.
#define _GNU_SOURCE
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <sys/socket.h>
#include <unistd.h>
#include "flood_common.h"

#define BATCH 64

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
	struct flood_args a;
	if (parse_flood_args("flood", argv + 1, &a))
		return 2;
	int fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (fd < 0) {
		perror("flood: socket");
		return 1;
	}
	int one = 1;
	setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_ifindex = a.ifindex, .sll_halen = 6 };
	memcpy(sll.sll_addr, a.mac, 6);

	static uint8_t frames[BATCH][FRAME];
	struct iovec iov[BATCH];
	struct mmsghdr msgs[BATCH];
	memset(msgs, 0, sizeof msgs);
	for (int i = 0; i < BATCH; i++) {
		uint8_t *f = frames[i];
		build_frame(f, &a);
		iov[i].iov_base = f;
		iov[i].iov_len = FRAME;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_name = &sll;
		msgs[i].msg_hdr.msg_namelen = sizeof sll;
	}

	uint32_t base = ntohl(a.src0.s_addr), next = 0;
	unsigned long long sent = 0;
	double start = now(), end = start + a.seconds;
	for (;;) {
		double t = now();
		if (t >= end)
			break;
		// Pace: never ahead of RATE * elapsed.
		if ((double)sent > a.rate * (t - start)) {
			struct timespec ts = { 0, 50000 };
			nanosleep(&ts, NULL);
			continue;
		}
		for (int i = 0; i < BATCH; i++) {
			uint8_t *ip = frames[i] + 14;
			uint32_t s = htonl(base + next);
			next = next + 1 == a.nsrc ? 0 : next + 1;
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
