// Bounded flood of xdp_frames for bench/xdp.ts (see flood_xdp.bpf.c). Runs in the client
// namespace. Usage: flood_xdp OBJ IFNAME DST_MAC DST_IP FIRST_SRC_IP NSRC RATE SECONDS
// Prints the number of frames sent.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FRAME 60

struct flood_cfg {
	uint32_t ifindex, base, nsrc, next;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc != 9) {
		fprintf(stderr, "usage: flood_xdp OBJ IFNAME DST_MAC DST_IP FIRST_SRC_IP NSRC RATE SECONDS\n");
		return 2;
	}
	unsigned mac[6];
	struct in_addr dst, src0;
	if (sscanf(argv[3], "%x:%x:%x:%x:%x:%x", &mac[0], &mac[1], &mac[2], &mac[3], &mac[4], &mac[5]) != 6 ||
	    inet_pton(AF_INET, argv[4], &dst) != 1 || inet_pton(AF_INET, argv[5], &src0) != 1) {
		fprintf(stderr, "flood_xdp: bad MAC or address\n");
		return 2;
	}
	uint32_t nsrc = (uint32_t)strtoul(argv[6], NULL, 10);
	double rate = strtod(argv[7], NULL), seconds = strtod(argv[8], NULL);
	int ifindex = (int)if_nametoindex(argv[2]);
	if (!ifindex || nsrc == 0 || rate <= 0 || seconds <= 0 || seconds > 10) {
		fprintf(stderr, "flood_xdp: bad interface, NSRC, RATE or SECONDS (at most 10)\n");
		return 2;
	}
	struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
	if (!obj || bpf_object__load(obj)) {
		fprintf(stderr, "flood_xdp: cannot load %s\n", argv[1]);
		return 1;
	}
	int prog = bpf_program__fd(bpf_object__find_program_by_name(obj, "flood"));
	int cfg_fd = bpf_object__find_map_fd_by_name(obj, "flood_cfg");
	struct flood_cfg cfg = { (uint32_t)ifindex, ntohl(src0.s_addr), nsrc, 0 };
	uint32_t zero = 0;
	if (prog < 0 || cfg_fd < 0 || bpf_map_update_elem(cfg_fd, &zero, &cfg, BPF_ANY)) {
		fprintf(stderr, "flood_xdp: program or map missing\n");
		return 1;
	}

	uint8_t frame[FRAME] = { 0 };
	for (int j = 0; j < 6; j++)
		frame[j] = (uint8_t)mac[j];
	frame[6] = 0x02; frame[11] = 0x01; // locally administered source MAC
	frame[12] = 0x08; frame[13] = 0x00;
	uint8_t *ip = frame + 14;
	ip[0] = 0x45; ip[3] = FRAME - 14; ip[8] = 64; ip[9] = 17;
	memcpy(ip + 16, &dst, 4);
	uint8_t *udp = ip + 20;
	udp[0] = 0x9c; udp[1] = 0x40; udp[3] = 0x09; udp[5] = FRAME - 34;

	// Pace by deficit, not by sleep length: on a loaded machine a sleep can last many ms, and
	// the next call catches up (at most 20 ms worth at once).
	unsigned max_chunk = (unsigned)(rate / 50) < 64 ? 64 : (unsigned)(rate / 50);
	unsigned long long sent = 0;
	double start = now(), end = start + seconds;
	for (;;) {
		double t = now();
		if (t >= end)
			break;
		double deficit = rate * (t - start) - (double)sent;
		if (deficit < 64) {
			struct timespec ts = { 0, 200000 };
			nanosleep(&ts, NULL);
			continue;
		}
		unsigned chunk = deficit > max_chunk ? max_chunk : (unsigned)deficit;
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = FRAME,
			    .repeat = chunk, .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .batch_size = 64);
		if (bpf_prog_test_run_opts(prog, &opts)) {
			perror("flood_xdp: BPF_PROG_TEST_RUN");
			return 1;
		}
		sent += chunk;
	}
	printf("%llu\n", sent);
	return 0;
}
