//! Running one call: a fresh instance, metered by fuel, against a read-only state view.

use std::sync::Arc;

use wasmtime::{ResourceLimiter, Store};

use crate::abi::{CALLER_ID_BYTES, CallData, HostFault};
use crate::error::{CallError, Trap, WasmTrapCode};
use crate::module::{AppModule, Host};
use crate::state::{StateView, StateWrites};

/// Who is calling and with how much fuel. Everything here must be the same on every replica (it comes from
/// the replicated log), since it affects the result.
#[derive(Clone, Debug, Default)]
pub struct CallContext {
    /// The verified caller (an Ed25519 public key), if the call was signed.
    pub caller: Option<[u8; CALLER_ID_BYTES]>,
    /// Fuel for this call; `None` means the host's default. Never more than the host's default.
    pub fuel_limit: Option<u64>,
}

/// How a call ended.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Outcome {
    /// The function returned; these are the bytes it wrote as output.
    Returned(Vec<u8>),
    /// The call trapped; its state writes are discarded.
    Trapped(Trap),
}

/// Everything a call produced. Deterministic: identical on every replica for the same module, input, context
/// and state.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CallResult {
    pub outcome: Outcome,
    pub fuel_used: u64,
    /// Writes to apply if the call returned; always empty after a trap.
    pub writes: StateWrites,
    /// Log lines, kept after a trap too: they are how an app explains a failure.
    pub logs: Vec<String>,
}

impl CallResult {
    pub fn output(&self) -> Option<&[u8]> {
        match &self.outcome {
            Outcome::Returned(out) => Some(out),
            Outcome::Trapped(_) => None,
        }
    }

    pub fn trap(&self) -> Option<&Trap> {
        match &self.outcome {
            Outcome::Returned(_) => None,
            Outcome::Trapped(t) => Some(t),
        }
    }
}

/// Bounds memory and table growth, and turns a refused growth into a trap that says which limit was hit,
/// rather than a `-1` from `memory.grow` that the guest may misreport.
pub(crate) struct GuestLimiter {
    pub max_memory_bytes: usize,
    pub max_table_elements: usize,
}

impl ResourceLimiter for GuestLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.max_memory_bytes {
            return Err(wasmtime::Error::new(Trap::MemoryLimit {
                requested_bytes: desired as u64,
                limit_bytes: self.max_memory_bytes as u64,
            }));
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.max_table_elements {
            return Err(wasmtime::Error::new(Trap::TableLimit {
                requested_elements: desired as u64,
                limit_elements: self.max_table_elements as u64,
            }));
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        1
    }

    fn tables(&self) -> usize {
        1
    }

    fn memories(&self) -> usize {
        1
    }
}

impl Host {
    /// Runs `function` of `app` on `input` against `state`.
    ///
    /// `Ok` holds the call's result, trap included; `Err` means the call did not run to a result (bad
    /// request, or the state store failed) and nothing about it may be certified.
    pub fn call(
        &self,
        app: &AppModule,
        function: &str,
        input: &[u8],
        ctx: &CallContext,
        state: Arc<dyn StateView>,
    ) -> Result<CallResult, CallError> {
        let limits = &self.limits;
        if input.len() > limits.max_input_bytes {
            return Err(CallError::InputTooLarge { size_bytes: input.len(), limit_bytes: limits.max_input_bytes });
        }
        if !app.has_function(function) {
            return Err(CallError::NoSuchFunction {
                function: function.to_string(),
                available: app.functions().join(", "),
            });
        }
        let fuel_limit = ctx.fuel_limit.unwrap_or(limits.default_call_fuel);
        if fuel_limit > limits.default_call_fuel {
            return Err(CallError::FuelLimitTooHigh { requested: fuel_limit, maximum: limits.default_call_fuel });
        }
        let data = CallData::new(limits.clone(), input.to_vec(), ctx.caller, state, fuel_limit);
        let mut store = Store::new(&self.engine, data);
        store.limiter(|data| &mut data.limiter);
        store.set_fuel(fuel_limit).map_err(host_error)?;

        let run = run_export(&mut store, app, function);
        let fuel_left = store.get_fuel().map_err(host_error)?;
        let data = store.into_data();
        let fuel_used = fuel_limit - fuel_left;
        let outcome = match run {
            Ok(()) => Outcome::Returned(data.output),
            Err(error) => Outcome::Trapped(classify(error, fuel_limit)?),
        };
        let writes = match outcome {
            Outcome::Returned(_) => data.writes,
            Outcome::Trapped(_) => StateWrites::default(),
        };
        Ok(CallResult { outcome, fuel_used, writes, logs: data.logs })
    }
}

impl Host {
    /// Instantiates `pre` once without running any code: data and element segments that do not fit are
    /// found at deploy time instead of failing every call. (Modules have no start function, so nothing runs.)
    pub(crate) fn trial_instantiate(&self, pre: &wasmtime::InstancePre<CallData>) -> wasmtime::Result<()> {
        let data = CallData::new(self.limits.clone(), Vec::new(), None, Arc::new(crate::MemoryState::new()), 0);
        let mut store = Store::new(&self.engine, data);
        store.limiter(|data| &mut data.limiter);
        store.set_fuel(0)?;
        pre.instantiate(&mut store).map(drop)
    }
}

fn run_export(store: &mut Store<CallData>, app: &AppModule, function: &str) -> wasmtime::Result<()> {
    let instance = app.pre.instantiate(&mut *store)?;
    // Checked at deploy time; looked up here once per call.
    let memory = instance.get_memory(&mut *store, "memory");
    store.data_mut().memory = memory;
    let func = instance.get_typed_func::<(), ()>(&mut *store, function)?;
    func.call(&mut *store, ())
}

/// Sorts an error from wasmtime into a deterministic trap, or a host failure that must not be certified.
fn classify(error: wasmtime::Error, fuel_limit: u64) -> Result<Trap, CallError> {
    if let Some(fault) = error.downcast_ref::<HostFault>() {
        return Err(CallError::State(crate::state::StateError(fault.0.0.clone())));
    }
    if let Some(trap) = error.downcast_ref::<Trap>() {
        return Ok(trap.clone());
    }
    if let Some(trap) = error.downcast_ref::<wasmtime::Trap>() {
        return Ok(match trap {
            wasmtime::Trap::OutOfFuel => Trap::OutOfFuel { fuel_limit },
            other => Trap::Wasm(WasmTrapCode::from_wasmtime(*other)),
        });
    }
    // Instantiation failures (e.g. a data segment out of bounds) are deterministic properties of the module.
    Err(CallError::Host(format!("{error:#}")))
}

fn host_error(error: wasmtime::Error) -> CallError {
    CallError::Host(format!("{error:#}"))
}
