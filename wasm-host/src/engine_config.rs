//! The one wasmtime configuration every replica uses.
//!
//! Each setting here closes a source of non-determinism or of unbounded resource use; changing any of them
//! changes results (fuel used, trap points) and therefore needs a coordinated upgrade of the whole cluster.

use wasmtime::{
    Config, Enabled, InstanceAllocationStrategy, OperatorCost, OptLevel, PoolingAllocationConfig, Strategy,
};

use crate::limits::Limits;

/// How many instances may be live at once across all threads of one host (pooling allocator slots).
const POOL_INSTANCES: u32 = 64;

/// Bytes of each memory and table slot reset in place between calls instead of being decommitted.
const KEEP_RESIDENT_BYTES: usize = 1 << 20;

/// Fuel charged per 64 KiB page requested by `memory.grow`, on top of the flat cost: the host zeroes
/// the page, so growth is not free. (The per-byte costs of `memory.copy`/`memory.fill` are already 1.)
const MEMORY_GROW_FUEL_PER_PAGE: u8 = 255;

pub(crate) fn deterministic_config(limits: &Limits) -> Config {
    let mut config = Config::new();
    config.strategy(Strategy::Cranelift);
    config.cranelift_opt_level(OptLevel::Speed);

    // Fuel is the only deterministic bound on execution: epochs depend on wall-clock time.
    config.consume_fuel(true);
    let mut cost = OperatorCost::new();
    cost.variable.memory_grow_per_page = MEMORY_GROW_FUEL_PER_PAGE;
    config.operator_cost(cost);

    // NaN bit patterns are the one place where IEEE floats differ between hardware.
    config.cranelift_nan_canonicalization(true);

    // Features whose results may differ between hosts, or that we have no use for, are off. SIMD is off
    // too: the apps don't need it and a smaller surface is easier to keep deterministic. Threads, GC,
    // exceptions and the component model are not even compiled in (wasmtime cargo features), so modules
    // using them fail validation.
    config.wasm_relaxed_simd(false);
    config.wasm_simd(false);
    config.wasm_multi_memory(false);
    config.wasm_memory64(false);
    config.wasm_gc(false);
    config.wasm_stack_switching(false);
    config.wasm_custom_page_sizes(false);
    config.wasm_wide_arithmetic(false);

    config.max_wasm_stack(limits.max_wasm_stack_bytes);
    // Backtraces cost time on every trap and are not part of the result.
    config.wasm_backtrace_max_frames(None);

    // Instances are created per call: the pooling allocator with copy-on-write memory images makes that a
    // few microseconds instead of an mmap per call.
    let mut pool = PoolingAllocationConfig::default();
    pool.total_core_instances(POOL_INSTANCES);
    pool.total_memories(POOL_INSTANCES);
    pool.total_tables(POOL_INSTANCES);
    pool.max_memories_per_module(1);
    pool.max_tables_per_module(1);
    pool.max_memory_size(limits.max_memory_bytes);
    pool.table_elements(limits.max_table_elements);
    // Resetting a slot's first pages with memset is cheaper than returning them to the kernel and faulting
    // them back in on the next call; Rust guests keep their stack and statics in the first MiB.
    pool.linear_memory_keep_resident(KEEP_RESIDENT_BYTES);
    pool.table_keep_resident(KEEP_RESIDENT_BYTES);
    pool.pagemap_scan(Enabled::Auto);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    config.memory_init_cow(true);
    config
}
