//! Deploy-time work: validation, compilation and the module cache.
//!
//! All of it happens once per distinct module, outside the replicated apply path: a call only ever looks up
//! an [`AppModule`] by its [`CodeHash`] and instantiates it from a ready `InstancePre`.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};
use wasmtime::{Engine, ExternType, InstancePre, Linker, Module, ValType};

use crate::abi::{self, ABI_IMPORTS, ABI_MODULE, CallData};
use crate::artifact_cache::ArtifactCache;
use crate::engine_config::deterministic_config;
use crate::error::DeployError;
use crate::limits::Limits;

/// SHA-256 of a module's bytes: the identity of its code everywhere (cache keys, app records, receipts).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct CodeHash(pub [u8; 32]);

impl CodeHash {
    pub fn of(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for CodeHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CodeHash({})", self.to_hex())
    }
}

impl fmt::Display for CodeHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// A validated, compiled app module, ready to be instantiated for a call.
pub struct AppModule {
    code_hash: CodeHash,
    functions: Vec<String>,
    pub(crate) pre: InstancePre<CallData>,
}

impl AppModule {
    pub fn code_hash(&self) -> CodeHash {
        self.code_hash
    }

    /// The callable functions (exports of type `() -> ()`), sorted.
    pub fn functions(&self) -> &[String] {
        &self.functions
    }

    pub fn has_function(&self, name: &str) -> bool {
        self.functions.binary_search_by(|f| f.as_str().cmp(name)).is_ok()
    }
}

/// The deterministic execution host: one engine, one linker with the guest ABI, one module cache.
///
/// `Host` is `Sync`: calls may run on many threads at once (the pooling allocator bounds how many).
pub struct Host {
    pub(crate) engine: Engine,
    linker: Linker<CallData>,
    pub(crate) limits: Arc<Limits>,
    modules: Mutex<HashMap<CodeHash, Arc<AppModule>>>,
    artifacts: Option<ArtifactCache>,
}

impl Host {
    /// A host with an in-memory module cache only.
    pub fn new(limits: Limits) -> Result<Self, DeployError> {
        let engine = Engine::new(&deterministic_config(&limits)).map_err(|e| DeployError::Link(e.to_string()))?;
        let mut linker = Linker::new(&engine);
        abi::define_imports(&mut linker).map_err(|e| DeployError::Link(e.to_string()))?;
        Ok(Self { engine, linker, limits: Arc::new(limits), modules: Mutex::default(), artifacts: None })
    }

    /// A host that also keeps compiled artifacts on disk under `dir`, so a restarted replica does not
    /// recompile its apps.
    pub fn with_artifact_dir(limits: Limits, dir: impl Into<PathBuf>) -> Result<Self, DeployError> {
        let mut host = Self::new(limits)?;
        host.artifacts = Some(ArtifactCache::open(dir.into(), &host.engine));
        Ok(host)
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Validates and compiles `bytes`, or returns the cached module with the same code hash.
    pub fn load(&self, bytes: &[u8]) -> Result<Arc<AppModule>, DeployError> {
        if bytes.len() > self.limits.max_module_bytes {
            return Err(DeployError::TooLarge { size_bytes: bytes.len(), limit_bytes: self.limits.max_module_bytes });
        }
        let code_hash = CodeHash::of(bytes);
        if let Some(module) = self.cached(&code_hash) {
            return Ok(module);
        }
        let module = self.compile(code_hash, bytes)?;
        let app = Arc::new(self.prepare(code_hash, module)?);
        let mut modules = self.modules.lock().unwrap_or_else(|poison| poison.into_inner());
        Ok(modules.entry(code_hash).or_insert(app).clone())
    }

    /// The module with this code hash, if it was loaded before.
    pub fn cached(&self, code_hash: &CodeHash) -> Option<Arc<AppModule>> {
        self.modules.lock().unwrap_or_else(|poison| poison.into_inner()).get(code_hash).cloned()
    }

    /// Drops a module from the in-memory cache (an upgraded app's old code).
    pub fn evict(&self, code_hash: &CodeHash) {
        self.modules.lock().unwrap_or_else(|poison| poison.into_inner()).remove(code_hash);
    }

    fn compile(&self, code_hash: CodeHash, bytes: &[u8]) -> Result<Module, DeployError> {
        // Declared sizes first (wasmtime's own check of them reads as a pooling-allocator detail), then
        // validation; both before any compile work is spent.
        check_declared_sizes(bytes, &self.limits)?;
        Module::validate(&self.engine, bytes).map_err(|e| DeployError::Invalid(format!("{e:#}")))?;
        if let Some(artifacts) = &self.artifacts
            && let Some(module) = artifacts.load(&self.engine, &code_hash)
        {
            return Ok(module);
        }
        let module = Module::new(&self.engine, bytes).map_err(|e| DeployError::Invalid(format!("{e:#}")))?;
        if let Some(artifacts) = &self.artifacts {
            artifacts.store(&module, &code_hash);
        }
        Ok(module)
    }

    /// Checks the module against the ABI and the limits, and links it.
    fn prepare(&self, code_hash: CodeHash, module: Module) -> Result<AppModule, DeployError> {
        check_imports(&module)?;
        let mut has_memory = false;
        let mut functions = Vec::new();
        for export in module.exports() {
            match export.ty() {
                ExternType::Memory(_) if export.name() == "memory" => has_memory = true,
                ExternType::Func(f) if f.params().len() == 0 && f.results().len() == 0 => {
                    functions.push(export.name().to_string());
                }
                _ => {}
            }
        }
        if !has_memory {
            return Err(DeployError::MissingMemoryExport);
        }
        if functions.is_empty() {
            return Err(DeployError::NoFunctions);
        }
        functions.sort();
        let pre = self.linker.instantiate_pre(&module).map_err(|e| DeployError::Link(format!("{e:#}")))?;
        self.trial_instantiate(&pre).map_err(|e| DeployError::Instantiation(format!("{e:#}")))?;
        Ok(AppModule { code_hash, functions, pre })
    }
}

fn check_imports(module: &Module) -> Result<(), DeployError> {
    for import in module.imports() {
        let (module_name, name) = (import.module().to_string(), import.name().to_string());
        let func = match import.ty() {
            ExternType::Func(f) => f,
            other => {
                let kind = match other {
                    ExternType::Memory(_) => "memory",
                    ExternType::Table(_) => "table",
                    ExternType::Global(_) => "global",
                    _ => "tag",
                };
                return Err(DeployError::NonFunctionImport { kind, module: module_name, name });
            }
        };
        let spec = ABI_IMPORTS.iter().find(|(n, _, _)| *n == name).filter(|_| module_name == ABI_MODULE);
        let Some(&(_, params, results)) = spec else {
            return Err(DeployError::UnknownImport { module: module_name, name });
        };
        let ok = func.params().len() == params
            && func.results().len() == results
            && func.params().all(|t| matches!(t, ValType::I32))
            && func.results().all(|t| matches!(t, ValType::I32));
        if !ok {
            return Err(DeployError::ImportTypeMismatch {
                name,
                expected: format!("{params} i32 params -> {results} i32 results"),
                found: format!("{:?} -> {:?}", func.params().collect::<Vec<_>>(), func.results().collect::<Vec<_>>()),
            });
        }
    }
    Ok(())
}

/// Refuses memories and tables whose *initial* size is above the limits (growth is bounded at run time), and
/// start functions (code that would run at instantiation, outside any call and its fuel accounting).
fn check_declared_sizes(bytes: &[u8], limits: &Limits) -> Result<(), DeployError> {
    use wasmparser::{Parser, Payload};
    let invalid = |e: wasmparser::BinaryReaderError| DeployError::Invalid(e.to_string());
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.map_err(invalid)? {
            Payload::MemorySection(memories) => {
                for memory in memories {
                    let memory = memory.map_err(invalid)?;
                    let page_bytes = 1u64 << memory.page_size_log2.unwrap_or(16);
                    let declared_bytes = memory.initial.saturating_mul(page_bytes);
                    if declared_bytes > limits.max_memory_bytes as u64 {
                        return Err(DeployError::InitialMemoryTooLarge {
                            declared_bytes,
                            limit_bytes: limits.max_memory_bytes,
                        });
                    }
                }
            }
            Payload::StartSection { .. } => return Err(DeployError::StartFunction),
            Payload::TableSection(tables) => {
                for table in tables {
                    let table = table.map_err(invalid)?;
                    if table.ty.initial > limits.max_table_elements as u64 {
                        return Err(DeployError::TableTooLarge {
                            declared_elements: table.ty.initial,
                            limit_elements: limits.max_table_elements,
                        });
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}
