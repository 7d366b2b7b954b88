//! The pool's address: it must parse, belong to `pool.network` and pay a
//! script someone holds the key to.

use super::error::toml_string;
use super::{Config, Invalid, Network, TemplateSourceKind};
use bitcoin::address::{AddressType, NetworkUnchecked};
use bitcoin::{Address, ScriptBuf};

/// What the simulated chain pays when `pool.address` is empty: P2WSH of
/// `OP_TRUE` on regtest, which anyone can spend (the demo's coins are
/// nobody's).
pub fn simnet_demo_address() -> Address {
    let op_true = ScriptBuf::from_bytes(vec![bitcoin::opcodes::OP_TRUE.to_u8()]);
    Address::p2wsh(&op_true, bitcoin::Network::Regtest)
}

impl Config {
    /// The address every coinbase pays the pool: `pool.address`, checked
    /// against `pool.network`, or [`simnet_demo_address`] when it is empty
    /// on the simulated chain.
    pub fn pool_address(&self) -> Result<Address, Invalid> {
        let text = &self.pool.address;
        if text.is_empty() {
            if self.chain.source == TemplateSourceKind::Simnet {
                return Ok(simnet_demo_address());
            }
            return Err(Invalid::new(
                "pool.address",
                toml_string(text),
                format!(
                    "is required: every coinbase pays the pool (the whole reward in pooled \
                     modes, the fee in solo); set a {} address (it may be empty only with \
                     chain.source = \"simnet\")",
                    self.pool.network
                ),
            ));
        }
        parse_address(text, self.pool.network)
            .map_err(|problem| Invalid::new("pool.address", toml_string(text), problem))
    }
}

/// Why `text` cannot be the pool's address on `network`.
fn parse_address(text: &str, network: Network) -> Result<Address, String> {
    let unchecked: Address<NetworkUnchecked> = text
        .parse()
        .map_err(|error| format!("is not a Bitcoin address ({error})"))?;
    if !unchecked.is_valid_for_network(network.to_bitcoin()) {
        let owners: Vec<&str> = Network::ALL
            .iter()
            .filter(|other| unchecked.is_valid_for_network(other.to_bitcoin()))
            .map(|other| other.name())
            .collect();
        return Err(format!(
            "is a {} address, but pool.network = \"{network}\"; use a {network} address",
            or_list(&owners)
        ));
    }
    let address = unchecked.assume_checked();
    match address.address_type() {
        Some(
            AddressType::P2pkh
            | AddressType::P2sh
            | AddressType::P2wpkh
            | AddressType::P2wsh
            | AddressType::P2tr,
        ) => Ok(address),
        Some(AddressType::P2a) => Err(
            "is a pay-to-anchor address, which anyone can spend; use an address of a key or \
             script the pool holds"
                .to_string(),
        ),
        _ => Err(format!(
            "pays to a witness program of a future segwit version ({}), which anyone who \
             mines can take today; use a P2PKH, P2SH, P2WPKH, P2WSH or P2TR address",
            address
                .witness_program()
                .map(|program| program.version().to_num().to_string())
                .unwrap_or_else(|| "unknown".to_string())
        )),
    }
}

/// `a`, `a or b`, `a, b or c`.
fn or_list(names: &[&str]) -> String {
    match names {
        [] => "foreign".to_string(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_address_is_regtest_p2wsh() {
        let address = simnet_demo_address();
        assert_eq!(address.address_type(), Some(AddressType::P2wsh));
        assert!(address.to_string().starts_with("bcrt1q"));
    }

    #[test]
    fn or_lists_read_naturally() {
        assert_eq!(or_list(&["signet"]), "signet");
        assert_eq!(or_list(&["testnet4", "signet"]), "testnet4 or signet");
        assert_eq!(
            or_list(&["testnet4", "signet", "regtest"]),
            "testnet4, signet or regtest"
        );
    }
}
