//! bpf-linker (LLVM 22 builds) emits a packet word read or written at any
//! address as one load or store, where LLVM's BPF target otherwise splits
//! a read of unknown alignment into single bytes: the program reads and
//! writes headers and names a word at a time (the verifier allows that on
//! architectures with cheap unaligned access, which the JIT targets are).

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rustc-link-arg-bins=--cpu-features=+allows-misaligned-mem-access");
}
