//! An in-process Ethereum chain (revm, Prague rules, the EVM version the contracts are compiled for) to deploy
//! the contracts on, call them and measure their gas: what the tests and the gas benchmark run on. No network,
//! no node: one account sends every transaction; gas is free (price 0), so it needs no balance.

use alloy_primitives::{Address, Bytes, Log, TxKind, U256, address};
use revm::context::result::{ExecutionResult, HaltReason, Output};
use revm::context::{BlockEnv, Context, TxEnv};
use revm::context_interface::cfg::GasParams;
use revm::context_interface::cfg::gas::InitialAndFloorGas;
use revm::database::{CacheDB, EmptyDB};
use revm::handler::MainnetContext;
use revm::primitives::hardfork::SpecId;
use revm::{ExecuteCommitEvm, ExecuteEvm, MainBuilder, MainContext, MainnetEvm};

/// The chain id a [`Chain`] starts with (the usual local development chain's).
pub const DEFAULT_CHAIN_ID: u64 = 31_337;
/// The account that sends every transaction.
pub const SENDER: Address = address!("0x1000000000000000000000000000000000000001");
/// Gas limit of every transaction: the EIP-7825 cap (Osaka), far above anything the contracts need.
pub const TX_GAS_LIMIT: u64 = 16_777_216;
/// The rules the chain runs: Prague, the `evmVersion` the contracts are compiled for.
pub const SPEC: SpecId = SpecId::PRAGUE;

type Evm = MainnetEvm<MainnetContext<CacheDB<EmptyDB>>>;

/// Why the harness could not run a transaction (as opposed to a transaction that ran and reverted).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HarnessError {
    #[error("the EVM refused the transaction: {0}")]
    Evm(String),
    #[error("deployment failed: {0}")]
    DeployFailed(String),
}

/// The gas of one transaction, split the way the benchmark reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gas {
    /// What the EVM spent running the code (before refunds): the contracts' cost.
    pub execution: u64,
    /// The transaction's intrinsic cost: 21,000, calldata, contract creation.
    pub intrinsic: u64,
    /// The refund granted (storage cleared), already capped.
    pub refund: u64,
    /// The EIP-7623 floor: what the transaction costs at least, given its calldata.
    pub floor: u64,
}

impl Gas {
    /// What the transaction is charged (its receipt's gas used): intrinsic + execution − refund, at least the
    /// floor.
    pub fn transaction(&self) -> u64 {
        (self.intrinsic + self.execution).saturating_sub(self.refund).max(self.floor)
    }
}

/// What a transaction did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Returned, with the return data and the logs emitted.
    Success { output: Bytes, gas: Gas, logs: Vec<Log> },
    /// Reverted, with the revert data.
    Revert { output: Bytes, gas: Gas },
    /// Stopped abnormally (out of gas, invalid opcode, ...): all gas spent.
    Halt { reason: String, gas: Gas },
}

impl Outcome {
    /// The return data, if the transaction succeeded.
    pub fn success(&self) -> Option<&Bytes> {
        match self {
            Outcome::Success { output, .. } => Some(output),
            _ => None,
        }
    }

    /// The revert data, if the transaction reverted.
    pub fn revert_data(&self) -> Option<&Bytes> {
        match self {
            Outcome::Revert { output, .. } => Some(output),
            _ => None,
        }
    }

    /// The logs, if the transaction succeeded (a reverted transaction's logs are dropped).
    pub fn logs(&self) -> &[Log] {
        match self {
            Outcome::Success { logs, .. } => logs,
            _ => &[],
        }
    }

    /// Execution gas: what the code cost, without the transaction's intrinsic cost.
    pub fn gas(&self) -> u64 {
        self.gas_detail().execution
    }

    /// The gas in detail.
    pub fn gas_detail(&self) -> Gas {
        match self {
            Outcome::Success { gas, .. } | Outcome::Revert { gas, .. } | Outcome::Halt { gas, .. } => *gas,
        }
    }
}

/// One chain: its state, and the sender's nonce.
pub struct Chain {
    evm: Evm,
    nonce: u64,
    chain_id: u64,
}

impl Default for Chain {
    fn default() -> Self {
        Self::new(DEFAULT_CHAIN_ID)
    }
}

impl Chain {
    /// An empty chain with id `chain_id` (what `block.chainid` returns).
    pub fn new(chain_id: u64) -> Self {
        let evm = Context::mainnet()
            .with_db(CacheDB::<EmptyDB>::default())
            .modify_cfg_chained(|cfg| {
                // The gas table goes with the spec (`set_spec` alone would keep the default one).
                cfg.set_spec_and_mainnet_gas_params(SPEC);
                cfg.chain_id = chain_id;
                // With the EIP-7623 floor on, a transaction whose calldata outweighs its execution is charged
                // the floor, and what the execution spent is lost: off, so that gas is measured; the floor is
                // reported separately (`Outcome::floor`).
                cfg.disable_eip7623 = true;
            })
            .modify_block_chained(|block: &mut BlockEnv| {
                block.number = U256::from(1);
                block.timestamp = U256::from(1_700_000_000u64);
            })
            .build_mainnet();
        Chain { evm, nonce: 0, chain_id }
    }

    /// The chain id.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// Changes the chain id (`block.chainid`) from the next transaction on; the state stays. Models the same
    /// contract's code and state on another chain.
    pub fn set_chain_id(&mut self, chain_id: u64) {
        self.evm.ctx.modify_cfg(|cfg| cfg.chain_id = chain_id);
        self.chain_id = chain_id;
    }

    fn tx(&self, kind: TxKind, data: Bytes) -> Result<TxEnv, HarnessError> {
        TxEnv::builder()
            .caller(SENDER)
            .kind(kind)
            .data(data)
            .nonce(self.nonce)
            .chain_id(Some(self.chain_id))
            .gas_limit(TX_GAS_LIMIT)
            .build()
            .map_err(|e| HarnessError::Evm(format!("{e:?}")))
    }

    /// Deploys `creation_code` (with its constructor arguments appended); returns the address and the
    /// execution gas of the deployment.
    pub fn deploy(&mut self, creation_code: Vec<u8>) -> Result<(Address, u64), HarnessError> {
        let tx = self.tx(TxKind::Create, creation_code.into())?;
        let intrinsic = intrinsic_gas(&tx);
        let result = self.evm.transact_commit(tx).map_err(|e| HarnessError::Evm(format!("{e:?}")))?;
        // A transaction that ran (whatever its result) used the nonce.
        self.nonce += 1;
        match result {
            ExecutionResult::Success { output: Output::Create(_, Some(address)), gas, .. } => {
                Ok((address, gas.total_gas_spent().saturating_sub(intrinsic.initial_regular_gas)))
            }
            other => Err(HarnessError::DeployFailed(format!("{other:?}"))),
        }
    }

    /// Sends a transaction calling `to` with `calldata` and keeps its effects.
    pub fn call(&mut self, to: Address, calldata: Vec<u8>) -> Result<Outcome, HarnessError> {
        let tx = self.tx(TxKind::Call(to), calldata.into())?;
        let intrinsic = intrinsic_gas(&tx);
        let result = self.evm.transact_commit(tx).map_err(|e| HarnessError::Evm(format!("{e:?}")))?;
        self.nonce += 1;
        Ok(outcome(result, intrinsic))
    }

    /// Runs a transaction calling `to` with `calldata` and drops its effects (an `eth_call`): the state, nonce
    /// included, is as before. Storage is cold, as at the start of a real transaction.
    pub fn view(&mut self, to: Address, calldata: Vec<u8>) -> Result<Outcome, HarnessError> {
        let tx = self.tx(TxKind::Call(to), calldata.into())?;
        let intrinsic = intrinsic_gas(&tx);
        let result = self.evm.transact(tx).map_err(|e| HarnessError::Evm(format!("{e:?}")))?;
        Ok(outcome(result.result, intrinsic))
    }

    /// The code deployed at `address`.
    pub fn code(&mut self, address: Address) -> Option<Bytes> {
        let account = self.evm.ctx.journaled_state.database.cache.accounts.get(&address)?;
        account.info.code.as_ref().map(|code| code.original_bytes())
    }
}

/// The intrinsic gas and the EIP-7623 floor of `tx` under [`SPEC`].
fn intrinsic_gas(tx: &TxEnv) -> InitialAndFloorGas {
    GasParams::new_spec(SPEC).initial_tx_gas_for_tx(tx, None)
}

fn outcome(result: ExecutionResult<HaltReason>, intrinsic: InitialAndFloorGas) -> Outcome {
    let spent = result.gas();
    let gas = Gas {
        execution: spent.total_gas_spent().saturating_sub(intrinsic.initial_regular_gas),
        intrinsic: intrinsic.initial_regular_gas,
        refund: spent.inner_refunded(),
        floor: intrinsic.floor_gas(),
    };
    match result {
        ExecutionResult::Success { output, logs, .. } => Outcome::Success { output: output.into_data(), gas, logs },
        ExecutionResult::Revert { output, .. } => Outcome::Revert { output, gas },
        ExecutionResult::Halt { reason, .. } => Outcome::Halt { reason: format!("{reason:?}"), gas },
    }
}
