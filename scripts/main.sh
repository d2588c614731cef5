#!/usr/bin/env bash
# The main job: builds the example apps and runs calls of each through the deterministic host, printing
# output, fuel used and state writes. (Becomes the local network once the replica lands.)
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cargo run --locked -p nexus-cli --bin nexus -- demo
