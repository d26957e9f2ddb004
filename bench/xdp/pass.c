// Attached to the client's veth while the XDP reflector runs, for dnsperf
// and the project's generator (kxdpgun brings its own program): a veth
// delivers frames that its peer sent with XDP_TX only when it runs XDP too.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
