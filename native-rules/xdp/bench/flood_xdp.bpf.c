// SPDX-License-Identifier: GPL-2.0 OR MIT
// Traffic source for bench/xdp.ts: run with BPF_PROG_TEST_RUN in live-frames mode, it rewrites
// the IPv4 source of each frame (cycling through NSRC addresses from BASE) and redirects it out
// of the client's veth, so the server's veth receives xdp_frames the way a NIC driver hands
// packets to XDP, with no socket buffer. `pass` only gives the server's veth a native XDP
// program (which veth needs to accept redirected frames) when the bench measures nftables.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct flood_cfg {
	__u32 ifindex;
	__u32 base; // first source address, host order
	__u32 nsrc;
	__u32 next;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct flood_cfg);
} flood_cfg SEC(".maps");

SEC("xdp")
int flood(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct iphdr *ip = data + sizeof(struct ethhdr);
	__u32 zero = 0;
	struct flood_cfg *cfg = bpf_map_lookup_elem(&flood_cfg, &zero);

	if (!cfg || (void *)(ip + 1) > data_end)
		return XDP_ABORTED;
	__u32 n = cfg->next;
	cfg->next = n + 1 >= cfg->nsrc ? 0 : n + 1;
	ip->saddr = bpf_htonl(cfg->base + n);
	ip->check = 0;
	__u32 sum = 0;
	__u16 *w = (__u16 *)ip;
#pragma unroll
	for (int i = 0; i < 10; i++)
		sum += w[i];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	ip->check = (__u16)~sum;
	return bpf_redirect(cfg->ifindex, 0);
}

SEC("xdp")
int pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
