//! `#[repr(C)]` types shared by the XDP program (ebpf/xdp) and the loader in
//! the daemon. Filled in with the XDP fast path.
#![no_std]
