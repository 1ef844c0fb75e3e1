// SPDX-License-Identifier: GPL-2.0 OR MIT
// Exact NET_RX softirq time for bench/xdp.ts: /proc/stat samples softirq time at 10 ms ticks
// (this kernel has no IRQ_TIME_ACCOUNTING), too coarse for an XDP drop. The softirq_entry and
// softirq_exit raw tracepoints bracket each run of the NET_RX vector; the time between them is
// summed per CPU.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define NET_RX_SOFTIRQ 3

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__type(value, __u64);
} net_rx SEC(".maps"); // 0: start of the current run, 1: total ns, 2: runs

SEC("raw_tp/softirq_entry")
int on_entry(struct bpf_raw_tracepoint_args *ctx)
{
	if (ctx->args[0] != NET_RX_SOFTIRQ)
		return 0;
	__u32 k = 0;
	__u64 *start = bpf_map_lookup_elem(&net_rx, &k);
	if (start)
		*start = bpf_ktime_get_ns();
	return 0;
}

SEC("raw_tp/softirq_exit")
int on_exit(struct bpf_raw_tracepoint_args *ctx)
{
	if (ctx->args[0] != NET_RX_SOFTIRQ)
		return 0;
	__u32 k0 = 0, k1 = 1, k2 = 2;
	__u64 *start = bpf_map_lookup_elem(&net_rx, &k0);
	__u64 *total = bpf_map_lookup_elem(&net_rx, &k1);
	__u64 *runs = bpf_map_lookup_elem(&net_rx, &k2);
	if (!start || !total || !runs || *start == 0)
		return 0;
	*total += bpf_ktime_get_ns() - *start;
	*runs += 1;
	*start = 0;
	return 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
