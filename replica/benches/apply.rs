//! How fast the state machine applies calls, by batch size: each batch is one redb write transaction with
//! fsync, so batching is what makes throughput. Run: `cargo bench -p nexus-replica --bench apply`.

use std::sync::Arc;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use nexus_replica::{ClientKey, Request, StateMachine};
use nexus_tests::{enc, example_apps};
use nexus_wasm_host::{Host, Limits};

const CLUSTER: [u8; 32] = [7; 32];

fn apply(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let host = Arc::new(Host::new(Limits::default()).unwrap());
    let mut sm = StateMachine::open(&dir.path().join("state.redb"), CLUSTER, host).unwrap();
    let key = ClientKey::from_secret([1; 32]);
    let deploy =
        key.sign(&CLUSTER, 1, Request::Deploy { module: example_apps()["counter"].wasm.clone(), program: None });
    let app = deploy.app();
    sm.apply_batch(&[(1, deploy)]).unwrap();
    let mut nonce = 1u64;
    let mut next_index = 2u64;

    let mut group = c.benchmark_group("apply counter::increment");
    for batch in [1usize, 64, 256] {
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_function(format!("batch of {batch}"), |b| {
            b.iter_batched(
                || {
                    (0..batch)
                        .map(|_| {
                            nonce += 1;
                            next_index += 1;
                            let call =
                                Request::Call { app, function: "increment".into(), input: enc(&1u64), zk: false };
                            (next_index - 1, key.sign(&CLUSTER, nonce, call))
                        })
                        .collect::<Vec<_>>()
                },
                |entries| sm.apply_batch(&entries).unwrap(),
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, apply);
criterion_main!(benches);
