//! Loading the configuration: the file, the environment, and every rule
//! refusing a bad value with a message naming the key and the value.

use bitcoin::{Address, ScriptBuf};
use pool::config::{
    simnet_demo_address, BitcoindConfig, Config, ConfigError, Network, TemplateSourceKind,
};
use proptest::prelude::*;
use std::path::{Path, PathBuf};

fn repo_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(name)
}

fn env(vars: &[(&str, &str)]) -> Vec<(String, String)> {
    vars.iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}

/// The example file: a valid regtest config with one node.
fn example() -> Config {
    Config::load(Some(&repo_file("pool.example.toml")), Vec::new())
        .unwrap_or_else(|error| panic!("pool.example.toml: {error}"))
}

fn load_example_with(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::load(Some(&repo_file("pool.example.toml")), env(vars))
}

/// The message `config` is refused with.
fn refused(config: &Config) -> String {
    match config.validate() {
        Ok(()) => panic!("accepted: {config:?}"),
        Err(error) => error.to_string(),
    }
}

/// Refused with a message holding every one of `parts`.
#[track_caller]
fn assert_refused(config: &Config, parts: &[&str]) {
    let message = refused(config);
    for part in parts {
        assert!(message.contains(part), "{part:?} not in: {message}");
    }
}

/// A change to a valid config, and parts of the message it is refused with.
type Case = (fn(&mut Config), &'static [&'static str]);

fn node(url: &str) -> BitcoindConfig {
    BitcoindConfig {
        url: url.to_string(),
        user: Some("pool".to_string()),
        password: Some("secret".to_string()),
        cookie: None,
        zmq: None,
    }
}

// ---- the file -------------------------------------------------------------

#[test]
fn no_file_means_defaults_which_need_an_address_and_a_node() {
    // The defaults deserialize from nothing...
    assert_eq!(toml::from_str::<Config>("").unwrap(), Config::default());
    // ...but mining needs somewhere to get templates and someone to pay.
    let message = Config::load(None, Vec::new()).unwrap_err().to_string();
    assert!(message.contains("2 problems"), "{message}");
    assert!(
        message.contains("pool.address = \"\": is required"),
        "{message}"
    );
    assert!(
        message.contains("bitcoind: no [[bitcoind]] node"),
        "{message}"
    );
    // The simulated chain needs neither: every other key keeps its default.
    let config = Config::load(None, env(&[("POOL_CHAIN_SOURCE", "simnet")])).unwrap();
    let mut expected = Config::default();
    expected.chain.source = TemplateSourceKind::Simnet;
    assert_eq!(config, expected);
    assert_eq!(config.pool_address().unwrap(), simnet_demo_address());
}

#[test]
fn a_missing_file_is_an_error_naming_it() {
    let path = Path::new("/nonexistent/pool.toml");
    let message = Config::load(Some(path), Vec::new())
        .unwrap_err()
        .to_string();
    assert!(message.contains("/nonexistent/pool.toml"), "{message}");
}

#[test]
fn the_example_loads_and_documents_every_key_with_its_default() {
    let config = example();
    let defaults = Config::default();
    // Only the address and the node differ: both have no usable default.
    assert_eq!(config.pool.network, defaults.pool.network);
    assert_eq!(config.pool.tag, defaults.pool.tag);
    assert_eq!(config.pool.mode, defaults.pool.mode);
    assert_eq!(config.pool.fee_percent, defaults.pool.fee_percent);
    assert_eq!(config.stratum, defaults.stratum);
    assert_eq!(config.chain, defaults.chain);
    assert_eq!(config.simnet, defaults.simnet);
    assert_eq!(config.database, defaults.database);
    assert_eq!(config.web, defaults.web);
    assert_eq!(config.bitcoind.len(), 1);

    // Every key of every section is in the file (cookie as a comment, as
    // it excludes user and password).
    let text = std::fs::read_to_string(repo_file("pool.example.toml")).unwrap();
    let mut sections = toml::Table::try_from(Config::default()).unwrap();
    sections.insert(
        "bitcoind".to_string(),
        toml::Value::Table(
            toml::Table::try_from(BitcoindConfig {
                url: String::new(),
                user: Some(String::new()),
                password: Some(String::new()),
                cookie: Some(PathBuf::new()),
                zmq: Some(String::new()),
            })
            .unwrap(),
        ),
    );
    for (section, keys) in &sections {
        assert!(
            text.contains(&format!("\n[{section}]\n"))
                || text.contains(&format!("\n[[{section}]]\n")),
            "section {section}"
        );
        for key in keys.as_table().unwrap().keys() {
            assert!(
                text.contains(&format!("\n{key} = ")) || text.contains(&format!("# {key} = ")),
                "{section}.{key} is not in pool.example.toml"
            );
        }
    }
}

#[test]
fn toml_errors_keep_their_line_and_key() {
    let syntax = Config::from_toml_str("[pool]\nfee_percent = \n", Vec::new())
        .unwrap_err()
        .to_string();
    assert!(syntax.contains("line 2"), "{syntax}");

    let wrong_type =
        Config::from_toml_str("[pool]\ntag = 'x'\nfee_percent = \"one\"\n", Vec::new())
            .unwrap_err()
            .to_string();
    assert!(wrong_type.contains("line 3"), "{wrong_type}");
    assert!(wrong_type.contains("fee_percent"), "{wrong_type}");

    let typo = Config::from_toml_str("[stratum]\nlistn = \"0.0.0.0:3333\"\n", Vec::new())
        .unwrap_err()
        .to_string();
    assert!(typo.contains("unknown field `listn`"), "{typo}");
    assert!(typo.contains("line 2"), "{typo}");

    let bad_listen = Config::from_toml_str("[web]\nlisten = \"localhost\"\n", Vec::new())
        .unwrap_err()
        .to_string();
    assert!(bad_listen.contains("listen"), "{bad_listen}");

    let bad_mode = Config::from_toml_str("[pool]\nmode = \"prop\"\n", Vec::new())
        .unwrap_err()
        .to_string();
    assert!(bad_mode.contains("unknown variant `prop`"), "{bad_mode}");
}

#[test]
fn whole_numbers_are_accepted_for_fractional_keys() {
    let config = Config::from_toml_str(
        "[chain]\nsource = \"simnet\"\n[stratum]\nstart_difficulty = 2048\nshare_interval_secs = 5\n",
        Vec::new(),
    )
    .unwrap();
    assert_eq!(config.stratum.start_difficulty, 2048.0);
    assert_eq!(config.stratum.share_interval_secs, 5.0);
}

// ---- the environment ------------------------------------------------------

#[test]
fn env_overrides_a_scalar_of_each_type() {
    let config = load_example_with(&[
        ("POOL_STRATUM_START_DIFFICULTY", "2048"),
        ("POOL_STRATUM_EXTRANONCE2_SIZE", "4"),
        ("POOL_STRATUM_LISTEN", "127.0.0.1:3334"),
        ("POOL_POOL_MODE", "solo"),
        ("POOL_POOL_TAG", "/mine/"),
        ("POOL_DATABASE_URL", "sqlite:///var/lib/pool/pool.db"),
        ("POOL_STRATUM_PROXY_PROTOCOL", "true"),
        (
            "POOL_STRATUM_PROXY_TRUSTED",
            "[\"10.0.0.5\", \"10.0.1.0/24\"]",
        ),
        ("HOME", "/root"),
        ("PATH", "/usr/bin"),
    ])
    .unwrap();
    assert_eq!(config.stratum.start_difficulty, 2048.0);
    assert_eq!(config.stratum.extranonce2_size, 4);
    assert_eq!(config.stratum.listen, "127.0.0.1:3334".parse().unwrap());
    assert_eq!(config.pool.mode, pool::config::PayoutMode::Solo);
    assert_eq!(config.pool.tag, "/mine/");
    assert_eq!(config.database.url, "sqlite:///var/lib/pool/pool.db");
    assert!(config.stratum.proxy_protocol);
    assert_eq!(config.stratum.proxy_trusted, ["10.0.0.5", "10.0.1.0/24"]);
}

#[test]
fn env_overrides_a_node_by_number_or_shorthand() {
    let by_number = load_example_with(&[("POOL_BITCOIND_0_URL", "http://10.0.0.2:18443")]).unwrap();
    assert_eq!(by_number.bitcoind[0].url, "http://10.0.0.2:18443");
    assert_eq!(by_number.bitcoind[0].user.as_deref(), Some("pool"));

    let shorthand = load_example_with(&[("POOL_BITCOIND_URL", "http://10.0.0.3:18443")]).unwrap();
    assert_eq!(shorthand.bitcoind[0].url, "http://10.0.0.3:18443");

    // An empty value removes an optional key: switch node 0 to a cookie.
    let cookie = load_example_with(&[
        ("POOL_BITCOIND_USER", ""),
        ("POOL_BITCOIND_PASSWORD", ""),
        ("POOL_BITCOIND_COOKIE", "/srv/bitcoin/regtest/.cookie"),
        ("POOL_BITCOIND_ZMQ", ""),
    ])
    .unwrap();
    assert_eq!(cookie.bitcoind[0].user, None);
    assert_eq!(
        cookie.bitcoind[0].cookie,
        Some(PathBuf::from("/srv/bitcoin/regtest/.cookie"))
    );
    assert_eq!(cookie.bitcoind[0].zmq, None);

    // A second node after the file's one.
    let two = load_example_with(&[
        ("POOL_BITCOIND_1_URL", "http://10.0.0.4:18443"),
        ("POOL_BITCOIND_1_COOKIE", "/tmp/.cookie"),
    ])
    .unwrap();
    assert_eq!(two.bitcoind.len(), 2);
    assert_eq!(two.bitcoind[1].url, "http://10.0.0.4:18443");
}

#[test]
fn env_creates_the_first_node_when_the_file_has_none() {
    let config = Config::load(
        None,
        env(&[
            (
                "POOL_POOL_ADDRESS",
                "bcrt1qdavt4j2sd7dlhqsavtnfxvzppw6k7qy97tmnu9",
            ),
            ("POOL_BITCOIND_URL", "http://127.0.0.1:18443"),
            ("POOL_BITCOIND_COOKIE", "/tmp/.cookie"),
        ]),
    )
    .unwrap();
    assert_eq!(config.bitcoind.len(), 1);
    assert_eq!(config.bitcoind[0].url, "http://127.0.0.1:18443");

    // A node made without a url is refused naming the key and the variable.
    let message = Config::load(
        None,
        env(&[
            (
                "POOL_POOL_ADDRESS",
                "bcrt1qdavt4j2sd7dlhqsavtnfxvzppw6k7qy97tmnu9",
            ),
            ("POOL_BITCOIND_0_COOKIE", "/tmp/.cookie"),
        ]),
    )
    .unwrap_err()
    .to_string();
    assert!(message.contains("bitcoind[0].url = \"\""), "{message}");
}

#[test]
fn env_node_numbers_have_no_gaps_and_one_name_each() {
    let gap = load_example_with(&[("POOL_BITCOIND_2_URL", "http://10.0.0.4:18443")])
        .unwrap_err()
        .to_string();
    assert!(gap.contains("POOL_BITCOIND_2_URL"), "{gap}");
    assert!(gap.contains("next one is number 1"), "{gap}");

    let twice = load_example_with(&[
        ("POOL_BITCOIND_URL", "http://10.0.0.4:18443"),
        ("POOL_BITCOIND_0_URL", "http://10.0.0.5:18443"),
    ])
    .unwrap_err()
    .to_string();
    assert!(twice.contains("POOL_BITCOIND_0_URL"), "{twice}");
    assert!(twice.contains("POOL_BITCOIND_URL"), "{twice}");
}

#[test]
fn unknown_pool_variables_are_refused_by_name() {
    for (var, hint) in [
        ("POOL_STRATUM_LISTN", "POOL_STRATUM_LISTEN"),
        (
            "POOL_STRATUMS_LISTEN",
            "with a section of alerts, bans, bitcoind, chain, database",
        ),
        ("POOL_BITCOIND_0_URI", "POOL_BITCOIND_URL"),
        ("POOL_ADDRESS", "POOL_<SECTION>_<KEY>"),
    ] {
        let error = load_example_with(&[(var, "x")]).unwrap_err();
        assert!(matches!(error, ConfigError::UnknownEnv { .. }), "{error}");
        let message = error.to_string();
        assert!(message.contains(var), "{message}");
        assert!(message.contains(hint), "{message}");
    }
}

#[test]
fn env_values_must_fit_their_key() {
    for (var, value, reason) in [
        (
            "POOL_STRATUM_EXTRANONCE2_SIZE",
            "big",
            "expected a whole number",
        ),
        ("POOL_STRATUM_START_DIFFICULTY", "high", "expected a number"),
        ("POOL_STRATUM_NODE_PREFIX", "256", "expected u8"),
        ("POOL_CHAIN_SOURCE", "core", "unknown variant `core`"),
        ("POOL_STRATUM_LISTEN", "3333", "socket address"),
    ] {
        let message = load_example_with(&[(var, value)]).unwrap_err().to_string();
        assert!(message.contains(var), "{message}");
        assert!(message.contains(&format!("{value:?}")), "{message}");
        assert!(message.contains(reason), "{message}");
    }
}

#[test]
fn refusals_name_the_variable_that_set_the_value() {
    let message = load_example_with(&[("POOL_POOL_FEE_PERCENT", "150")])
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("pool.fee_percent = 150.0 (from POOL_POOL_FEE_PERCENT)"),
        "{message}"
    );
}

// ---- the rules ------------------------------------------------------------

#[test]
fn the_address_is_required_except_on_simnet() {
    let mut config = example();
    config.pool.address.clear();
    assert_refused(
        &config,
        &["pool.address = \"\"", "is required", "regtest address"],
    );
    config.chain.source = TemplateSourceKind::Simnet;
    config.validate().unwrap();
    assert_eq!(config.pool_address().unwrap(), simnet_demo_address());
}

#[test]
fn the_address_must_parse_and_belong_to_the_network() {
    let mut config = example();
    config.pool.address = "bcrt1qnotanaddress".to_string();
    assert_refused(
        &config,
        &[
            "pool.address = \"bcrt1qnotanaddress\"",
            "is not a Bitcoin address",
        ],
    );

    config.pool.address = "1FsSia9rv4NeEwvJ2GvXrX7LyxYspbN2mo".to_string();
    assert_refused(
        &config,
        &[
            "pool.address = \"1FsSia9rv4NeEwvJ2GvXrX7LyxYspbN2mo\"",
            "is a mainnet address, but pool.network = \"regtest\"",
        ],
    );

    config.pool.address = "tb1qcrh3yqn4nlleplcez2yndq2ry8h9ncg3qh7n54".to_string();
    assert_refused(&config, &["is a testnet4 or signet address"]);

    config.pool.network = Network::Mainnet;
    config.pool.address = "mzK2FFDEhxqHcmrJw1ysqFkVyhUULo45hZ".to_string();
    assert_refused(
        &config,
        &["is a testnet4, signet or regtest address", "\"mainnet\""],
    );
}

#[test]
fn addresses_anyone_can_spend_are_refused() {
    let mut config = example();
    config.pool.address =
        "bcrt1sx6p8njlx7h9mc2agz4yg82dzne23050ncq72cneeecez2pst8mahn8xecsf8g6hzx94420".to_string();
    assert_refused(&config, &["future segwit version (16)"]);
    config.pool.network = Network::Mainnet;
    config.pool.address = "bc1z2rksukkjr8".to_string();
    assert_refused(
        &config,
        &[
            "pool.address = \"bc1z2rksukkjr8\"",
            "future segwit version (2)",
        ],
    );

    // Pay-to-anchor: OP_1 <0x4e73>.
    let anchor = ScriptBuf::from_bytes(vec![0x51, 0x02, 0x4e, 0x73]);
    let address = Address::from_script(&anchor, bitcoin::Network::Bitcoin).unwrap();
    config.pool.address = address.to_string();
    assert_refused(
        &config,
        &[&format!("pool.address = \"{address}\""), "pay-to-anchor"],
    );
}

/// Bitcoin Core's key_io vectors: every address is accepted on its own
/// chain and refused on the others, except where the encodings coincide:
/// base58 test addresses serve testnet4, signet and regtest alike, and
/// `tb1` serves testnet4 and signet. Future segwit versions are refused
/// everywhere (anyone who mines could take the coins).
#[test]
fn key_io_addresses_are_accepted_exactly_for_their_network() {
    let text = std::fs::read_to_string(repo_file("vectors/key_io_valid.json")).unwrap();
    let vectors: Vec<(String, String, serde_json::Value)> = serde_json::from_str(&text).unwrap();
    let mut accepted = std::collections::HashMap::new();
    for (address, script, meta) in &vectors {
        if meta["isPrivkey"] != serde_json::Value::Bool(false) {
            continue;
        }
        let own = match meta["chain"].as_str().unwrap() {
            "main" => Network::Mainnet,
            "testnet4" => Network::Testnet4,
            "signet" => Network::Signet,
            "regtest" => Network::Regtest,
            other => panic!("chain {other}"),
        };
        let bech32 = ["bc1", "tb1", "bcrt1"]
            .iter()
            .any(|hrp| address.starts_with(hrp));
        // Witness version: the script's first opcode (OP_0, OP_1..OP_16).
        let version = u8::from_str_radix(&script[..2], 16).unwrap();
        let spendable = !bech32 || version == 0x00 || (version == 0x51 && script.len() == 68);
        let family = |network: Network| match network {
            Network::Mainnet => "main",
            Network::Testnet4 | Network::Signet => "test",
            Network::Regtest if bech32 => "regtest",
            Network::Regtest => "test",
        };
        for network in Network::ALL {
            let mut config = example();
            config.pool.network = network;
            config.pool.address = address.clone();
            let expected = spendable && family(network) == family(own);
            let result = config.pool_address();
            assert_eq!(
                result.is_ok(),
                expected,
                "{address} on {network}: {result:?}"
            );
            if let Err(problem) = result {
                let message = problem.to_string();
                assert!(message.contains(&format!("\"{address}\"")), "{message}");
                if family(network) != family(own) {
                    assert!(message.contains(own.name()), "{message}");
                }
            } else if network == own {
                *accepted.entry(own).or_insert(0) += 1;
            }
        }
    }
    for network in Network::ALL {
        assert!(
            accepted.get(&network).copied().unwrap_or(0) >= 5,
            "{network}: {accepted:?}"
        );
    }
}

#[test]
fn fee_is_a_percentage_with_two_decimals() {
    let mut config = example();
    for (fee, basis_points) in [
        (0.0, 0),
        (1.0, 100),
        (1.25, 125),
        (2.3, 230),
        (0.01, 1),
        (99.99, 9999),
    ] {
        config.pool.fee_percent = fee;
        config.validate().unwrap();
        assert_eq!(config.pool.fee_basis_points(), basis_points, "{fee}");
    }
    for (fee, shown) in [(100.0, "100.0"), (-1.0, "-1.0"), (f64::NAN, "nan")] {
        config.pool.fee_percent = fee;
        assert_refused(
            &config,
            &[
                &format!("pool.fee_percent = {shown}"),
                "at least 0 and below 100",
            ],
        );
    }
    config.pool.fee_percent = 1.234;
    assert_refused(&config, &["pool.fee_percent = 1.234", "at most 2 decimals"]);
}

proptest! {
    #[test]
    fn every_two_decimal_fee_is_exact_in_basis_points(basis_points in 0u32..10_000) {
        let mut config = example();
        config.pool.fee_percent = f64::from(basis_points) / 100.0;
        prop_assert!(config.validate().is_ok());
        prop_assert_eq!(config.pool.fee_basis_points(), basis_points);
    }

    #[test]
    fn no_float_panics_validation(value in any::<f64>()) {
        let mut config = example();
        config.pool.fee_percent = value;
        config.stratum.start_difficulty = value;
        config.stratum.max_difficulty = value;
        config.stratum.share_interval_secs = value;
        config.simnet.difficulty = value;
        if config.validate().is_ok() {
            // What validates, the server can be built from.
            let _ = pool::server::ServerSettings::from_config(&config);
        }
        prop_assert!(config.pool.fee_basis_points() < 10_000);
    }
}

#[test]
fn tag_is_short_printable_ascii() {
    let mut config = example();
    config.pool.tag = "/".repeat(32);
    config.validate().unwrap();
    config.pool.tag = "x".repeat(33);
    assert_refused(
        &config,
        &[
            &format!("pool.tag = \"{}\"", "x".repeat(33)),
            "is 33 bytes; at most 32",
        ],
    );
    config.pool.tag = "/pool\n/".to_string();
    assert_refused(
        &config,
        &["pool.tag = ", "printable ASCII", "'\\n' at byte 5"],
    );
    config.pool.tag = "/pööl/".to_string();
    assert_refused(&config, &["pool.tag = \"/pööl/\"", "printable ASCII"]);
}

#[test]
fn difficulties_are_positive_and_ordered() {
    let base = example();
    let cases: [Case; 10] = [
        (|c| c.stratum.start_difficulty = 0.0, &["stratum.start_difficulty = 0.0", "finite number above 0"]),
        (|c| c.stratum.start_difficulty = f64::INFINITY, &["stratum.start_difficulty = inf"]),
        (|c| c.stratum.min_difficulty = -1.0, &["stratum.min_difficulty = -1.0", "finite number above 0"]),
        (|c| c.stratum.min_difficulty = 2048.0, &["stratum.min_difficulty = 2048.0", "must not exceed stratum.start_difficulty = 1024.0"]),
        (|c| c.stratum.max_difficulty = 512.0, &["stratum.max_difficulty = 512.0", "0 (no limit but the network's) or a finite number at least stratum.start_difficulty = 1024.0"]),
        (|c| c.stratum.max_difficulty = -1.0, &["stratum.max_difficulty = -1.0"]),
        (|c| c.stratum.max_difficulty = f64::NAN, &["stratum.max_difficulty = nan"]),
        (|c| c.stratum.share_interval_secs = 0.0, &["stratum.share_interval_secs = 0.0", "above 0"]),
        // 1e300 once made the server's Duration::from_secs_f64 panic at start.
        (|c| c.stratum.share_interval_secs = 86400.0, &["stratum.share_interval_secs = 86400.0", "at most 3600"]),
        (|c| c.stratum.share_interval_secs = f64::NAN, &["stratum.share_interval_secs = nan"]),
    ];
    for (change, parts) in cases {
        let mut config = base.clone();
        change(&mut config);
        assert_refused(&config, parts);
    }
    let mut config = base.clone();
    config.stratum.max_difficulty = 1024.0;
    let bounds = config.stratum.difficulty_bounds().unwrap();
    assert_eq!(bounds.max.map(|d| d.as_f64()), Some(1024.0));
    assert_eq!(base.stratum.difficulty_bounds().unwrap().max, None);
}

#[test]
fn extranonce2_size_and_version_mask() {
    let mut config = example();
    for size in [1, 17, 0] {
        config.stratum.extranonce2_size = size;
        assert_refused(
            &config,
            &[
                &format!("stratum.extranonce2_size = {size}"),
                "2 to 16 bytes",
            ],
        );
    }
    config.stratum.extranonce2_size = 16;
    config.validate().unwrap();
    for mask in ["1fffe00", "1fffe000a", "1fffg000", "0x1fffe0", ""] {
        config.stratum.version_mask = mask.to_string();
        assert_refused(
            &config,
            &[
                &format!("stratum.version_mask = \"{mask}\""),
                "8 hex digits",
            ],
        );
    }
    config.stratum.version_mask = "00000000".to_string();
    assert_eq!(config.stratum.parsed_version_mask().unwrap().0, 0);
    config.stratum.version_mask = "1FFFE000".to_string();
    assert_eq!(config.stratum.parsed_version_mask().unwrap().0, 0x1fffe000);
}

#[test]
fn bitcoind_source_needs_a_node_with_url_and_credentials() {
    let mut config = example();
    config.bitcoind.clear();
    assert_refused(
        &config,
        &["bitcoind: no [[bitcoind]] node while chain.source = \"bitcoind\""],
    );

    config.bitcoind = vec![node("127.0.0.1:8332")];
    assert_refused(
        &config,
        &[
            "bitcoind[0].url = \"127.0.0.1:8332\"",
            "must be http://host:port",
        ],
    );
    config.bitcoind = vec![node("http://127.0.0.1")];
    assert_refused(
        &config,
        &["bitcoind[0].url = \"http://127.0.0.1\"", "port is missing"],
    );

    let mut both = node("http://127.0.0.1:18443");
    both.cookie = Some(PathBuf::from("/tmp/.cookie"));
    config.bitcoind = vec![both];
    assert_refused(
        &config,
        &[
            "bitcoind[0].cookie = \"/tmp/.cookie\"",
            "use one or the other",
        ],
    );

    let mut neither = node("http://127.0.0.1:18443");
    neither.user = None;
    neither.password = None;
    config.bitcoind = vec![neither.clone()];
    assert_refused(&config, &["bitcoind[0]: has no credentials"]);

    let mut no_password = node("http://127.0.0.1:18443");
    no_password.password = None;
    config.bitcoind = vec![no_password];
    assert_refused(&config, &["bitcoind[0].password: is missing"]);

    let mut bad_zmq = node("http://127.0.0.1:18443");
    bad_zmq.zmq = Some("127.0.0.1:28332".to_string());
    config.bitcoind = vec![node("http://127.0.0.1:8332"), bad_zmq];
    assert_refused(
        &config,
        &["bitcoind[1].zmq = \"127.0.0.1:28332\"", "tcp://host:port"],
    );

    config.bitcoind = vec![node("http://127.0.0.1:8332"), node("http://127.0.0.1:8332")];
    assert_refused(
        &config,
        &[
            "bitcoind[1].url = \"http://127.0.0.1:8332\"",
            "is also bitcoind[0].url",
        ],
    );

    // Nodes are still checked on simnet, but none is required.
    config.chain.source = TemplateSourceKind::Simnet;
    config.bitcoind.clear();
    config.validate().unwrap();
    config.bitcoind = vec![neither];
    assert_refused(&config, &["bitcoind[0]: has no credentials"]);
}

#[test]
fn chain_simnet_database_and_listen_rules() {
    let base = example();
    let cases: [Case; 8] = [
        (
            |c| c.chain.poll_interval_ms = 0,
            &["chain.poll_interval_ms = 0", "1 to 500"],
        ),
        (
            |c| c.chain.poll_interval_ms = 501,
            &["chain.poll_interval_ms = 501", "1 to 500"],
        ),
        (
            |c| c.chain.template_refresh_secs = 0,
            &["chain.template_refresh_secs = 0", "at least 1"],
        ),
        (
            |c| c.chain.blocks_dir = PathBuf::new(),
            &["chain.blocks_dir = \"\"", "must name a directory"],
        ),
        (
            |c| c.simnet.difficulty = 0.0,
            &["simnet.difficulty = 0.0", "above 0"],
        ),
        (
            |c| c.database.url = "mysql://db".to_string(),
            &["database.url = \"mysql://db\"", "sqlite://<path>"],
        ),
        (
            |c| c.web.listen = "127.0.0.1:3333".parse().unwrap(),
            &[
                "web.listen = \"127.0.0.1:3333\"",
                "stratum.listen = \"0.0.0.0:3333\"",
            ],
        ),
        (
            |c| {
                c.chain.source = TemplateSourceKind::Simnet;
                c.pool.network = Network::Signet;
                c.pool.address.clear();
            },
            &[
                "pool.network = \"signet\"",
                "must be \"regtest\" with chain.source = \"simnet\"",
            ],
        ),
    ];
    for (change, parts) in cases {
        let mut config = base.clone();
        change(&mut config);
        assert_refused(&config, parts);
    }
    let mut config = base;
    config.database.url = "postgres://pool@db/pool".to_string();
    config.validate().unwrap();
}

#[test]
fn a_fee_target_outside_the_estimators_range_is_refused() {
    for (target, valid) in [(0, false), (1, true), (1_008, true), (1_009, false)] {
        let mut config = example();
        config.payout.conf_target = target;
        let outcome = config.validate();
        assert_eq!(outcome.is_ok(), valid, "conf_target {target}: {outcome:?}");
        if let Err(error) = outcome {
            assert!(error.to_string().contains("payout.conf_target"), "{error}");
        }
    }
}

#[test]
fn every_problem_is_reported_at_once() {
    let mut config = example();
    config.pool.fee_percent = 100.0;
    config.stratum.extranonce2_size = 1;
    config.chain.poll_interval_ms = 0;
    let error = config.validate().unwrap_err();
    let ConfigError::Invalid(problems) = &error else {
        panic!("{error}");
    };
    assert_eq!(problems.len(), 3);
    let message = error.to_string();
    assert!(
        message.starts_with("invalid configuration, 3 problems:"),
        "{message}"
    );
    assert_eq!(message.lines().count(), 4, "{message}");
}
