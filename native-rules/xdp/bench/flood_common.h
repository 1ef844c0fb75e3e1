// What the two flood generators of bench/xdp.ts share: their common arguments, the UDP frame
// they send (60 bytes, to port 9 of DST from a locally administered MAC) and a monotonic clock.
#ifndef LOGBAN_FLOOD_COMMON_H
#define LOGBAN_FLOOD_COMMON_H
#include <arpa/inet.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FRAME 60

struct flood_args {
	int ifindex;
	uint8_t mac[6];
	struct in_addr dst, src0;
	uint32_t nsrc;
	double rate, seconds;
};

/* argv[0..6]: IFNAME DST_MAC DST_IP FIRST_SRC_IP NSRC RATE SECONDS. 0 or an error said on stderr. */
static int parse_flood_args(const char *prog, char **argv, struct flood_args *a)
{
	unsigned mac[6];
	if (sscanf(argv[1], "%x:%x:%x:%x:%x:%x", &mac[0], &mac[1], &mac[2], &mac[3], &mac[4], &mac[5]) != 6 ||
	    inet_pton(AF_INET, argv[2], &a->dst) != 1 || inet_pton(AF_INET, argv[3], &a->src0) != 1) {
		fprintf(stderr, "%s: bad MAC or address\n", prog);
		return -1;
	}
	for (int i = 0; i < 6; i++)
		a->mac[i] = (uint8_t)mac[i];
	a->nsrc = (uint32_t)strtoul(argv[4], NULL, 10);
	a->rate = strtod(argv[5], NULL);
	a->seconds = strtod(argv[6], NULL);
	a->ifindex = (int)if_nametoindex(argv[0]);
	if (!a->ifindex || a->nsrc == 0 || a->rate <= 0 || a->seconds <= 0 || a->seconds > 10) {
		fprintf(stderr, "%s: bad interface, NSRC, RATE or SECONDS (at most 10)\n", prog);
		return -1;
	}
	return 0;
}

/* The frame's Ethernet, IPv4 (source and checksum left 0) and UDP headers. */
static void build_frame(uint8_t *f, const struct flood_args *a)
{
	memset(f, 0, FRAME);
	memcpy(f, a->mac, 6);
	f[6] = 0x02; f[11] = 0x01; // locally administered source MAC
	f[12] = 0x08; f[13] = 0x00;
	uint8_t *ip = f + 14;
	ip[0] = 0x45; ip[3] = FRAME - 14; ip[8] = 64; ip[9] = 17;
	memcpy(ip + 16, &a->dst, 4);
	uint8_t *udp = ip + 20;
	udp[0] = 0x9c; udp[1] = 0x40; udp[2] = 0x00; udp[3] = 0x09; // 40000 -> 9 (discard)
	udp[5] = FRAME - 14 - 20; // UDP length; checksum 0 = none (IPv4)
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

#endif
