// Runs a command while summing the NET_RX softirq time of every CPU exactly (see
// softirq_time.bpf.c). Usage: softirq_time OBJ CMD [ARGS...]
// The command's output passes through; then one line "net_rx_ns N runs M" on stdout.
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static int sum(int fd, uint32_t key, int ncpu, uint64_t *out)
{
	uint64_t vals[ncpu];
	if (bpf_map_lookup_elem(fd, &key, vals))
		return -1;
	*out = 0;
	for (int i = 0; i < ncpu; i++)
		*out += vals[i];
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: softirq_time OBJ CMD [ARGS...]\n");
		return 2;
	}
	struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
	if (!obj || bpf_object__load(obj)) {
		fprintf(stderr, "softirq_time: cannot load %s\n", argv[1]);
		return 1;
	}
	struct bpf_program *p;
	bpf_object__for_each_program(p, obj) {
		if (!bpf_program__attach(p)) {
			fprintf(stderr, "softirq_time: cannot attach %s\n", bpf_program__name(p));
			return 1;
		}
	}
	int fd = bpf_object__find_map_fd_by_name(obj, "net_rx");
	int ncpu = libbpf_num_possible_cpus();
	if (fd < 0 || ncpu <= 0) {
		fprintf(stderr, "softirq_time: map missing\n");
		return 1;
	}
	fflush(stdout);
	pid_t child = fork();
	if (child == 0) {
		execvp(argv[2], argv + 2);
		perror("softirq_time: exec");
		_exit(127);
	}
	int status = 0;
	if (child < 0 || waitpid(child, &status, 0) < 0) {
		perror("softirq_time");
		return 1;
	}
	uint64_t ns = 0, runs = 0;
	if (sum(fd, 1, ncpu, &ns) || sum(fd, 2, ncpu, &runs)) {
		fprintf(stderr, "softirq_time: cannot read the map\n");
		return 1;
	}
	printf("net_rx_ns %llu runs %llu\n", (unsigned long long)ns, (unsigned long long)runs);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
