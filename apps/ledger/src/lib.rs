//! ledger: a token with an issuer, balances per account, transfers, and typed errors.
//!
//! Accounts are caller ids (Ed25519 public keys): the network verifies the signature, the app only sees
//! `caller()`. The first caller of `init` becomes the issuer and holds the whole supply.
#![no_std]

extern crate alloc;

use alloc::vec::Vec;
use core::fmt;

use nexus_sdk::{CALLER_ID_BYTES, entrypoints, state};
use serde::{Deserialize, Serialize};

pub type Account = [u8; CALLER_ID_BYTES];

const ISSUER: &[u8] = b"issuer";
const BALANCE_PREFIX: &[u8] = b"balance/";
/// Most holders returned by one `holders` call, so its output stays bounded.
const MAX_HOLDERS_LISTED: usize = 256;

#[derive(Serialize, Deserialize)]
pub struct Transfer {
    pub to: Account,
    pub amount: u64,
}

/// Everything that can go wrong, as a type: the message is what the caller sees in the trap.
#[derive(Debug, PartialEq, Eq)]
pub enum LedgerError {
    AlreadyInitialized,
    NotInitialized,
    AnonymousCaller,
    ZeroAmount,
    ZeroSupply,
    SelfTransfer,
    InsufficientFunds { balance: u64, amount: u64 },
    BalanceOverflow,
}

impl fmt::Display for LedgerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AlreadyInitialized => f.write_str("ledger is already initialized"),
            Self::NotInitialized => f.write_str("ledger is not initialized"),
            Self::AnonymousCaller => f.write_str("this function needs a signed call"),
            Self::ZeroAmount => f.write_str("amount must be positive"),
            Self::ZeroSupply => f.write_str("supply must be positive"),
            Self::SelfTransfer => f.write_str("cannot transfer to yourself"),
            Self::InsufficientFunds { balance, amount } => {
                write!(f, "insufficient funds: balance {balance}, amount {amount}")
            }
            Self::BalanceOverflow => f.write_str("recipient balance would overflow"),
        }
    }
}

fn balance_key(account: &Account) -> Vec<u8> {
    [BALANCE_PREFIX, account.as_slice()].concat()
}

fn balance(account: &Account) -> u64 {
    state::get_as(&balance_key(account)).unwrap_or(0)
}

fn set_balance(account: &Account, amount: u64) {
    if amount == 0 {
        state::delete(&balance_key(account));
    } else {
        state::set_as(&balance_key(account), &amount);
    }
}

fn caller() -> Result<Account, LedgerError> {
    nexus_sdk::caller().ok_or(LedgerError::AnonymousCaller)
}

/// Creates `supply` tokens owned by the caller, who becomes the issuer. Only once.
fn init(supply: u64) -> Result<Account, LedgerError> {
    let issuer = caller()?;
    if state::get(ISSUER).is_some() {
        return Err(LedgerError::AlreadyInitialized);
    }
    if supply == 0 {
        return Err(LedgerError::ZeroSupply);
    }
    state::set_as(ISSUER, &issuer);
    set_balance(&issuer, supply);
    Ok(issuer)
}

/// Moves `amount` from the caller to `to`; returns the caller's new balance.
fn transfer(t: Transfer) -> Result<u64, LedgerError> {
    let from = caller()?;
    if state::get(ISSUER).is_none() {
        return Err(LedgerError::NotInitialized);
    }
    if t.amount == 0 {
        return Err(LedgerError::ZeroAmount);
    }
    if t.to == from {
        return Err(LedgerError::SelfTransfer);
    }
    let from_balance = balance(&from);
    let left = from_balance
        .checked_sub(t.amount)
        .ok_or(LedgerError::InsufficientFunds { balance: from_balance, amount: t.amount })?;
    let to_balance = balance(&t.to).checked_add(t.amount).ok_or(LedgerError::BalanceOverflow)?;
    set_balance(&from, left);
    set_balance(&t.to, to_balance);
    nexus_sdk::log!("transfer of {} done", t.amount);
    Ok(left)
}

fn balance_of(account: Account) -> Result<u64, LedgerError> {
    Ok(balance(&account))
}

/// Accounts with a positive balance, in key order, at most `MAX_HOLDERS_LISTED`.
fn holders(_: ()) -> Result<Vec<(Account, u64)>, LedgerError> {
    let mut out = Vec::new();
    for key in state::keys_with_prefix(BALANCE_PREFIX).take(MAX_HOLDERS_LISTED) {
        let Ok(account) = Account::try_from(&key[BALANCE_PREFIX.len()..]) else { continue };
        out.push((account, balance(&account)));
    }
    Ok(out)
}

entrypoints!(init, transfer, balance_of, holders);
