#!/usr/bin/env bash
# The main job: a local network of 4 replicas (processes on loopback, t=3 of n=4 to come with certification),
# an example app deployed through it and called, and every replica's status. Embedded defaults; everything it
# writes (keys, network data) stays under target/nexus-main. Stops the network when done.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cargo build --locked -p nexus-cli --bin nexus
nexus="${CARGO_TARGET_DIR:-target}/debug/nexus"
work="$PWD/target/nexus-main"
export NEXUS_CONFIG_DIR="$work/config"
mkdir -p "$work"

echo "== building the example apps (wasm32 + riscv32im)"
"$nexus" build --manifest apps/Cargo.toml --out "$work/apps"

echo "== starting a local network of 4 replicas"
"$nexus" up --replicas 4 --data "$work/network" > "$work/up.log" 2>&1 &
up=$!
trap 'kill $up 2>/dev/null; wait $up 2>/dev/null || true' EXIT
for _ in $(seq 1 150); do
  if "$nexus" status 2>/dev/null | grep -q "leader [0-9]"; then break; fi
  sleep 0.2
done
cat "$work/up.log"

[ -f "$NEXUS_CONFIG_DIR/keys/default.key" ] || "$nexus" keys new
echo "== deploying counter"
deployed=$("$nexus" deploy "$work/apps/counter.wasm")
echo "$deployed"
app=$(echo "$deployed" | awk '$1 == "app" {print $2}')
echo "== calling counter::increment(5), then (2) through another replica"
"$nexus" call "$app" increment --input u64:5 --decode u64
second=$(awk -F'"' '/^replicas/ {print $2}' "$work/network/network.toml")
called=$("$nexus" call "$app" increment --input u64:2 --decode u64 --replica "$second")
echo "$called"
call_id=$(echo "$called" | awk '$1 == "call" && $2 == "id" {print $3}')
echo "== the receipt of call $call_id, with its sealed batch, Merkle path and certificate"
"$nexus" receipt "$call_id" --decode u64 --out "$work/receipt.json"
echo "== the saved receipt, verified offline against the group key"
group_key=$("$nexus" status | awk '$1 == "group" && $2 == "key" {print $3; exit}')
"$nexus" verify "$work/receipt.json" --group-key "$group_key"
echo "== status of every replica"
"$nexus" status
echo "== deploying fibonacci with both builds (wasm + NVM), calling fib(10) with --zk"
deployed=$("$nexus" deploy "$work/apps/fibonacci.wasm")
echo "$deployed"
fib=$(echo "$deployed" | awk '$1 == "app" {print $2}')
called=$("$nexus" call "$fib" fib --input u64:10 --decode u64 --zk)
echo "$called"
zk_call=$(echo "$called" | awk '$1 == "call" && $2 == "id" {print $3}')
echo "== waiting for the local prover worker to prove call $zk_call"
"$nexus" receipt "$zk_call" --zk --decode u64 --out "$work/proven.json"
echo "== the proven receipt, verified offline: certificate, then proof against the certified program and output"
"$nexus" verify "$work/proven.json" --group-key "$group_key"
