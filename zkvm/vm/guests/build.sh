#!/bin/sh
# Rebuilds the guest fixtures (needs `rustup target add riscv32im-unknown-none-elf`).
set -eu
cd "$(dirname "$0")"
cargo build --release --target riscv32im-unknown-none-elf --bins
mkdir -p ../tests/fixtures
for b in fib sha256; do
    cp "target/riscv32im-unknown-none-elf/release/$b" "../tests/fixtures/$b.elf"
done
