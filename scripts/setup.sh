#!/usr/bin/env bash
# Installs what building and testing Nexus needs on a fresh machine, and nothing that is already there:
# the pinned Rust toolchain's targets (wasm32 for the Nexus tier, riscv32im for the NVM), qemu-user (the
# NVM's reference machine in differential tests), the bridge's pinned Solidity compiler (npm) and
# cargo-nextest. Safe to run repeatedly.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "setup: $*"; }

# rust-toolchain.toml pins the toolchain; rustup installs it on first use. Targets are added explicitly
# because an already-installed toolchain does not pick up targets listed later.
for target in wasm32-unknown-unknown riscv32im-unknown-none-elf; do
  if ! rustup target list --installed | grep -qx "$target"; then
    say "adding rust target $target"
    rustup target add "$target"
  fi
done

if ! command -v qemu-riscv32 >/dev/null 2>&1; then
  say "installing qemu-user (qemu-riscv32)"
  if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq qemu-user >/dev/null
fi

# The Solidity compiler the bridge's contracts are built with (npm `solc`, pinned by bridge/solc's lock file;
# it runs offline once installed). The bridge's tests recompile the contracts and compare with the committed
# artifacts.
if ! command -v npm >/dev/null 2>&1; then
  say "installing node and npm"
  if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq nodejs npm >/dev/null
fi
if [ ! -d bridge/solc/node_modules/solc ]; then
  say "installing the pinned solc (npm ci in bridge/solc)"
  npm ci --ignore-scripts --no-audit --no-fund --prefix bridge/solc >/dev/null
fi

if ! cargo nextest --version >/dev/null 2>&1; then
  say "installing cargo-nextest"
  cargo install --locked cargo-nextest
fi
