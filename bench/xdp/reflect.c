// The kernel baseline: an XDP program that answers every UDP datagram to port
// 53 by sending it back out of the interface it came in on (XDP_TX) with the
// Ethernet, IP and UDP source and destination swapped and the DNS QR bit set.
// No DNS work: what it answers per second is what the NIC driver and one core
// allow. Built with clang by `cargo xtask bench`; loaded with
// `ip link set dev IF xdpdrv obj reflect.o sec xdp`.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define DNS_PORT 53

// RFC 1624: HC' = ~(~HC + ~m + m'), for one 16-bit word that changed.
static __always_inline __u16 csum_replace(__u16 check, __u16 old, __u16 new)
{
	__u32 sum = (__u16)~check + (__u16)~old + new;
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

// Sets QR in the DNS header; returns the UDP checksum to write. Swapping
// addresses and ports leaves the one's complement sum as it was, so only the
// flags word changes it.
static __always_inline int reflect_udp(struct udphdr *udp, void *end, int v4)
{
	__u8 *dns = (__u8 *)(udp + 1);
	if ((void *)(dns + 12) > end)
		return -1;
	if (udp->dest != bpf_htons(DNS_PORT))
		return -1;
	__u16 old = *(__u16 *)(dns + 2);
	dns[2] |= 0x80;
	__u16 new = *(__u16 *)(dns + 2);
	__u16 port = udp->source;
	udp->source = udp->dest;
	udp->dest = port;
	if (v4)
		udp->check = 0; // optional for IPv4; also right for partial checksums
	else
		udp->check = csum_replace(udp->check, old, new);
	return 0;
}

SEC("xdp")
int xdp_reflect(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end)
		return XDP_PASS;

	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		if ((void *)(ip + 1) > end || ip->ihl != 5 || ip->protocol != IPPROTO_UDP)
			return XDP_PASS;
		if (ip->frag_off & bpf_htons(0x3fff))
			return XDP_PASS;
		struct udphdr *udp = (void *)(ip + 1);
		if ((void *)(udp + 1) > end || reflect_udp(udp, end, 1))
			return XDP_PASS;
		// The IP header sum does not change when its addresses swap places.
		__be32 a = ip->saddr;
		ip->saddr = ip->daddr;
		ip->daddr = a;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		if ((void *)(ip6 + 1) > end || ip6->nexthdr != IPPROTO_UDP)
			return XDP_PASS;
		struct udphdr *udp = (void *)(ip6 + 1);
		if ((void *)(udp + 1) > end || reflect_udp(udp, end, 0))
			return XDP_PASS;
		struct in6_addr a = ip6->saddr;
		ip6->saddr = ip6->daddr;
		ip6->daddr = a;
	} else {
		return XDP_PASS;
	}

	unsigned char mac[ETH_ALEN];
	__builtin_memcpy(mac, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, mac, ETH_ALEN);
	return XDP_TX;
}

char _license[] SEC("license") = "GPL";
