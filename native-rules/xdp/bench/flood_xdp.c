// Bounded flood of xdp_frames for bench/xdp.ts (see flood_xdp.bpf.c). Runs in the client
// namespace. Usage: flood_xdp OBJ IFNAME DST_MAC DST_IP FIRST_SRC_IP NSRC RATE SECONDS
// Prints the number of frames sent.
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "flood_common.h"

struct flood_cfg {
	uint32_t ifindex, base, nsrc, next;
};

int main(int argc, char **argv)
{
	if (argc != 9) {
		fprintf(stderr, "usage: flood_xdp OBJ IFNAME DST_MAC DST_IP FIRST_SRC_IP NSRC RATE SECONDS\n");
		return 2;
	}
	struct flood_args a;
	if (parse_flood_args("flood_xdp", argv + 2, &a))
		return 2;
	struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
	if (!obj || bpf_object__load(obj)) {
		fprintf(stderr, "flood_xdp: cannot load %s\n", argv[1]);
		return 1;
	}
	int prog = bpf_program__fd(bpf_object__find_program_by_name(obj, "flood"));
	int cfg_fd = bpf_object__find_map_fd_by_name(obj, "flood_cfg");
	struct flood_cfg cfg = { (uint32_t)a.ifindex, ntohl(a.src0.s_addr), a.nsrc, 0 };
	uint32_t zero = 0;
	if (prog < 0 || cfg_fd < 0 || bpf_map_update_elem(cfg_fd, &zero, &cfg, BPF_ANY)) {
		fprintf(stderr, "flood_xdp: program or map missing\n");
		return 1;
	}

	uint8_t frame[FRAME];
	build_frame(frame, &a);

	// Pace by deficit, not by sleep length: on a loaded machine a sleep can last many ms, and
	// the next call catches up (at most 20 ms worth at once).
	unsigned max_chunk = (unsigned)(a.rate / 50) < 64 ? 64 : (unsigned)(a.rate / 50);
	unsigned long long sent = 0;
	double start = now(), end = start + a.seconds;
	for (;;) {
		double t = now();
		if (t >= end)
			break;
		double deficit = a.rate * (t - start) - (double)sent;
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
