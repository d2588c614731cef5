//! Host benchmarks: the cost of a call on a cached module, wasm vs native speed on SHA-256, and cold
//! deploy (validate + compile) time per example app. Run: `cargo bench -p nexus-tests --bench wasm_host`.

use std::sync::Arc;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use nexus_tests::{enc, example_apps};
use nexus_wasm_host::{CallContext, Host, Limits, MemoryState, StateView};

const MIB: usize = 1 << 20;

fn empty_call(c: &mut Criterion) {
    let host = Host::new(Limits::default()).unwrap();
    let noop = wat::parse_str(r#"(module (memory (export "memory") 1) (func (export "noop")))"#).unwrap();
    let noop = host.load(&noop).unwrap();
    let counter = host.load(&example_apps()["counter"].wasm).unwrap();
    let state: Arc<dyn StateView> = Arc::new(MemoryState::new());
    let ctx = CallContext::default();
    let mut group = c.benchmark_group("call");
    group.bench_function("empty call, cached module", |b| {
        b.iter(|| host.call(&noop, "noop", &[], &ctx, state.clone()).unwrap())
    });
    group.bench_function("counter::get (state read, postcard)", |b| {
        b.iter(|| host.call(&counter, "get", &enc(&()), &ctx, state.clone()).unwrap())
    });
    group.finish();
}

fn sha256(c: &mut Criterion) {
    let host = Host::new(Limits::default()).unwrap();
    let module = host.load(&example_apps()["sha256"].wasm).unwrap();
    let data: Vec<u8> = (0..MIB).map(|i| (i % 251) as u8).collect();
    let input = enc(&data);
    let state: Arc<dyn StateView> = Arc::new(MemoryState::new());
    let ctx = CallContext::default();
    let mut group = c.benchmark_group("sha256 1 MiB");
    group.throughput(Throughput::Bytes(MIB as u64));
    group.sample_size(30);
    group.bench_function("wasm (fuel on)", |b| {
        b.iter(|| host.call(&module, "digest", &input, &ctx, state.clone()).unwrap())
    });
    group.bench_function("native, same portable code", |b| {
        use sha2_portable::Digest;
        b.iter(|| sha2_portable::Sha256::digest(&data))
    });
    group.bench_function("native, CPU SHA extensions", |b| {
        use sha2::Digest;
        b.iter(|| sha2::Sha256::digest(&data))
    });
    group.finish();
}

fn cold_deploy(c: &mut Criterion) {
    let mut group = c.benchmark_group("cold deploy (validate + compile)");
    group.sample_size(10);
    for (name, app) in example_apps() {
        group.bench_function(name.as_str(), |b| {
            b.iter_batched(
                || Host::new(Limits::default()).unwrap(),
                // The host is returned so that its teardown is not timed.
                |host| {
                    host.load(&app.wasm).unwrap();
                    host
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, empty_call, sha256, cold_deploy);
criterion_main!(benches);
