#!/usr/bin/env bash
# The test command: installs what it needs, then checks formatting, lints, and runs every test.
# Heavy runs (long proofs, big benchmarks) are `#[ignore]`d tests or benchmarks, not part of this.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo nextest run --workspace --locked --no-fail-fast
