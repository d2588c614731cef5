//! A bounded fuzz run: thousands of generated modules (wasm-smith), each deployed and called on two
//! independent hosts. The host must never panic or hang, and both hosts must agree on every result.

mod common;

use std::sync::Arc;

use arbitrary::Unstructured;
use nexus_wasm_host::{CallContext, Host, Limits, MemoryState, StateView};
use rand::{Rng, SeedableRng};

/// Modules generated per run; seeded, so a failure reproduces.
const MODULES: usize = 2_000;
/// Loop iterations wasm-smith's termination instrumentation allows each function.
const LOOP_FUEL: u32 = 1_000;
/// Host fuel per call: small, so runaway-but-terminating code ends quickly too.
const CALL_FUEL: u64 = 200_000;

fn smith_config() -> wasm_smith::Config {
    let available_imports = wat::parse_str(format!("(module {})", common::IMPORTS)).unwrap();
    let exports =
        wat::parse_str(r#"(module (memory (export "memory") 1) (func (export "a")) (func (export "b")))"#).unwrap();
    wasm_smith::Config {
        available_imports: Some(available_imports),
        exports: Some(exports),
        // Initial memories up to the limit; growth past it is exercised at run time.
        max_memory32_bytes: 64 << 20,
        // The required `memory` export brings the one memory; the generator must not add another.
        max_memories: 0,
        compact_imports_enabled: false,
        max_table_elements: 20_000,
        simd_enabled: false,
        relaxed_simd_enabled: false,
        gc_enabled: false,
        exceptions_enabled: false,
        memory64_enabled: false,
        threads_enabled: false,
        wide_arithmetic_enabled: false,
        // Typed function references need wasmtime's GC support, which is not compiled in.
        reference_types_enabled: false,
        tail_call_enabled: false,
        custom_page_sizes_enabled: false,
        shared_everything_threads_enabled: false,
        allow_start_export: false,
        max_funcs: 20,
        max_instructions: 200,
        ..wasm_smith::Config::default()
    }
}

#[test]
fn generated_modules_never_panic_the_host_and_two_hosts_agree() {
    let limits = Limits { default_call_fuel: CALL_FUEL, ..Limits::default() };
    let (a, b) = (Host::new(limits.clone()).unwrap(), Host::new(limits).unwrap());
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x006e_6578_7573);
    let mut seed = vec![0u8; 8 << 10];
    let state: Arc<dyn StateView> =
        Arc::new([(b"k".to_vec(), b"v".to_vec()), (b"z".to_vec(), vec![1; 100])].into_iter().collect::<MemoryState>());
    let (mut deployed, mut called, mut trapped) = (0, 0, 0);
    for i in 0..MODULES {
        rng.fill(&mut seed[..]);
        let mut u = Unstructured::new(&seed);
        let Ok(mut module) = wasm_smith::Module::new(smith_config(), &mut u) else { continue };
        if module.ensure_termination(LOOP_FUEL).is_err() {
            continue;
        }
        let bytes = module.to_bytes();
        let (ma, mb) = match (a.load(&bytes), b.load(&bytes)) {
            (Ok(ma), Ok(mb)) => (ma, mb),
            (Err(ea), Err(eb)) => {
                assert_eq!(ea.to_string(), eb.to_string(), "module {i}: hosts refuse differently");
                continue;
            }
            (ra, rb) => panic!("module {i}: one host accepts, the other refuses: {:?} / {:?}", ra.err(), rb.err()),
        };
        deployed += 1;
        let input: Vec<u8> = (0..rng.random_range(0..64)).map(|_| rng.random()).collect();
        for function in ["a", "b"] {
            let ctx = CallContext { caller: Some([3; 32]), fuel_limit: None };
            let ra = a.call(&ma, function, &input, &ctx, state.clone());
            let rb = b.call(&mb, function, &input, &ctx, state.clone());
            match (ra, rb) {
                (Ok(ra), Ok(rb)) => {
                    assert_eq!(ra, rb, "module {i} function {function}: results differ");
                    assert!(ra.fuel_used <= CALL_FUEL);
                    called += 1;
                    trapped += usize::from(ra.trap().is_some());
                }
                (Err(ea), Err(eb)) => assert_eq!(ea.to_string(), eb.to_string()),
                (ra, rb) => panic!("module {i}: one host ran the call, the other failed: {ra:?} / {rb:?}"),
            }
        }
        a.evict(&ma.code_hash());
        b.evict(&mb.code_hash());
    }
    println!("{MODULES} generated, {deployed} deployed, {called} calls, {trapped} trapped");
    // The generator is configured to produce deployable modules; if most are refused, the run tests nothing.
    assert!(deployed > MODULES / 2, "only {deployed} of {MODULES} modules deployed");
    assert!(called > deployed, "calls ran: {called}");
}
