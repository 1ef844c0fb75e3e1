// SPDX-License-Identifier: GPL-2.0 OR MIT
// logban XDP program: drop packets whose source address is banned, before the kernel builds a
// socket buffer. Exact addresses live in hash maps (one lookup per packet); CIDR bans live in
// LPM tries, consulted only when the exact lookup misses. Userspace (src/backends/xdp.ts) owns
// the contents and the expiry: BPF hash maps have no timeouts.
//
// Build: clang -O2 -g -target bpf -I/usr/include/x86_64-linux-gnu -c logban_xdp.c -o logban_xdp.o
// (-g gives BTF, which bpftool needs to pin and inspect the maps).

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

// Sizes are ceilings. By default every map is BPF_F_NO_PREALLOC so memory follows the number of
// bans; `make PREALLOC=1` preallocates the exact-address hashes instead (about 2x faster inserts,
// but 84 MB for IPv4 and 92 MB for IPv6 up front at these sizes).
#define MAX_EXACT 1048576
#define MAX_PREFIX 262144
#ifdef LOGBAN_PREALLOC
#define EXACT_FLAGS 0
#else
#define EXACT_FLAGS BPF_F_NO_PREALLOC
#endif

struct lpm_v4_key {
	__u32 prefixlen;
	__u8 addr[4];
};

struct lpm_v6_key {
	__u32 prefixlen;
	__u8 addr[16];
};

// value: 1 = banned (reserved for flags later)
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_EXACT);
	__uint(map_flags, EXACT_FLAGS);
	__type(key, __u32); // IPv4 address, network byte order
	__type(value, __u32);
} lb_ban_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_EXACT);
	__uint(map_flags, EXACT_FLAGS);
	__type(key, struct in6_addr);
	__type(value, __u32);
} lb_ban_v6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, MAX_PREFIX);
	__uint(map_flags, BPF_F_NO_PREALLOC); // required by LPM tries
	__type(key, struct lpm_v4_key);
	__type(value, __u32);
} lb_net_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, MAX_PREFIX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_v6_key);
	__type(value, __u32);
} lb_net_v6 SEC(".maps");

struct drop_stats {
	__u64 packets;
	__u64 bytes;
};

// Per-CPU so the hot path never contends on a shared cache line; userspace sums the CPUs.
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct drop_stats);
} lb_stats SEC(".maps");

struct vlan_hdr {
	__be16 tci;
	__be16 encapsulated_proto;
};

static __always_inline int drop(void *data, void *data_end)
{
	__u32 zero = 0;
	struct drop_stats *s = bpf_map_lookup_elem(&lb_stats, &zero);
	if (s) {
		s->packets++;
		s->bytes += (__u64)(data_end - data);
	}
	return XDP_DROP;
}

SEC("xdp")
int logban_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	void *cursor = eth + 1;
	__u16 proto;

	if (cursor > data_end)
		return XDP_PASS;
	proto = eth->h_proto;

	// Up to two VLAN tags (802.1Q, and 802.1ad outer tag).
#pragma unroll
	for (int i = 0; i < 2; i++) {
		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		struct vlan_hdr *vh = cursor;
		if ((void *)(vh + 1) > data_end)
			return XDP_PASS;
		proto = vh->encapsulated_proto;
		cursor = vh + 1;
	}

	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = cursor;
		if ((void *)(ip + 1) > data_end)
			return XDP_PASS;
		__u32 saddr = ip->saddr;
		if (bpf_map_lookup_elem(&lb_ban_v4, &saddr))
			return drop(data, data_end);
		struct lpm_v4_key k = { .prefixlen = 32 };
		__builtin_memcpy(k.addr, &saddr, 4);
		if (bpf_map_lookup_elem(&lb_net_v4, &k))
			return drop(data, data_end);
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = cursor;
		if ((void *)(ip6 + 1) > data_end)
			return XDP_PASS;
		struct in6_addr saddr = ip6->saddr;
		if (bpf_map_lookup_elem(&lb_ban_v6, &saddr))
			return drop(data, data_end);
		struct lpm_v6_key k = { .prefixlen = 128 };
		__builtin_memcpy(k.addr, &saddr, 16);
		if (bpf_map_lookup_elem(&lb_net_v6, &k))
			return drop(data, data_end);
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
