//! Property tests: whatever we write, we read back to the same value; no
//! bytes at all make a parser panic.

use proptest::prelude::*;
use serde_json::{Number, Value};
use stratum::message::{
    Authorize, ClientMessage, ClientMethod, ClientRequest, Configure, ErrorCode, ErrorReply, Id,
    Notify, Reconnect, Response, ServerMessage, SetDifficulty, SetExtranonce, SetVersionMask,
    ShowMessage, Submit, Subscribe, SuggestDifficulty, SuggestTarget, VersionRollingRequest,
};
use stratum::{
    Difficulty, Extranonce1, Extranonce2, JobId, NBits, Nonce, Ntime, PrevHash, Target, Username,
    Version, VersionBits, VersionMask,
};

const KNOWN_METHODS: &[&str] = &[
    "mining.subscribe",
    "mining.authorize",
    "mining.configure",
    "mining.submit",
    "mining.suggest_difficulty",
    "mining.suggest_target",
    "mining.extranonce.subscribe",
    "mining.get_transactions",
    "pong",
    "mining.notify",
    "mining.set_difficulty",
    "mining.set_version_mask",
    "mining.set_extranonce",
    "client.reconnect",
    "client.show_message",
    "mining.ping",
    "client.get_version",
];

fn id() -> impl Strategy<Value = Id> {
    prop_oneof![
        Just(Id::Null),
        any::<u64>().prop_map(Id::from),
        any::<i64>().prop_map(|n| Id::Number(n.into())),
        // Float ids with few digits: serde_json's default float parser is
        // exact only up to about 15 significant digits.
        (any::<i32>(), 0i32..=3)
            .prop_map(|(n, k)| Id::Number(Number::from_f64(n as f64 / 10f64.powi(k)).unwrap())),
        any::<String>().prop_map(Id::from),
    ]
}

/// Difficulties as pools and miners write them: integers, and decimals of
/// up to nine significant digits (which serde_json's parser reads exactly).
fn difficulty() -> impl Strategy<Value = Difficulty> {
    prop_oneof![
        (1u64..1_000_000_000_000).prop_map(|d| d as f64),
        (1u64..1_000_000_000, 1i32..=12).prop_map(|(m, k)| m as f64 / 10f64.powi(k)),
    ]
    .prop_map(|d| Difficulty::new(d).unwrap())
}

fn simple_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<String>().prop_map(Value::from),
    ]
}

fn unknown_method() -> impl Strategy<Value = String> {
    "[a-z][a-z._]{0,24}".prop_filter("a known method", |m| !KNOWN_METHODS.contains(&m.as_str()))
}

fn username() -> impl Strategy<Value = Username> {
    "[a-zA-Z0-9]{1,40}(\\.[a-zA-Z0-9_.-]{1,20})?".prop_map(|user| Username::parse(&user).unwrap())
}

fn configure() -> impl Strategy<Value = Configure> {
    let rolling = (
        proptest::option::of(any::<u32>().prop_map(VersionMask)),
        proptest::option::of(0u32..=32),
    )
        .prop_map(|(mask, min_bit_count)| VersionRollingRequest {
            mask,
            min_bit_count,
        });
    (
        proptest::option::of(rolling),
        proptest::option::of(difficulty()),
        any::<bool>(),
        proptest::collection::vec("x-[a-z.]{1,12}", 0..3),
    )
        .prop_map(
            |(version_rolling, minimum_difficulty, subscribe_extranonce, unknown)| Configure {
                version_rolling,
                minimum_difficulty,
                subscribe_extranonce,
                unknown,
            },
        )
}

fn submit() -> impl Strategy<Value = Submit> {
    (
        any::<String>(),
        any::<u64>(),
        proptest::collection::vec(any::<u8>(), 0..=16),
        any::<u32>(),
        any::<u32>(),
        proptest::option::of(any::<u32>()),
    )
        .prop_map(|(worker, job, en2, ntime, nonce, bits)| Submit {
            worker,
            job_id: JobId(job),
            extranonce2: Extranonce2::from_bytes(&en2).unwrap(),
            ntime: Ntime(ntime),
            nonce: Nonce(nonce),
            version_bits: bits.map(VersionBits),
        })
}

fn client_method() -> impl Strategy<Value = ClientMethod> {
    prop_oneof![
        (
            proptest::option::of(any::<String>()),
            proptest::option::of(any::<String>())
        )
            .prop_map(
                |(user_agent, session_id)| ClientMethod::Subscribe(Subscribe {
                    user_agent,
                    session_id
                })
            ),
        (username(), proptest::option::of(any::<String>())).prop_map(|(username, password)| {
            ClientMethod::Authorize(Authorize { username, password })
        }),
        configure().prop_map(ClientMethod::Configure),
        submit().prop_map(ClientMethod::Submit),
        difficulty().prop_map(
            |difficulty| ClientMethod::SuggestDifficulty(SuggestDifficulty { difficulty })
        ),
        any::<[u8; 32]>().prop_map(|bytes| ClientMethod::SuggestTarget(SuggestTarget {
            target: Target::from_be_bytes(&bytes)
        })),
        Just(ClientMethod::ExtranonceSubscribe),
        Just(ClientMethod::GetTransactions),
        Just(ClientMethod::Pong),
        (
            unknown_method(),
            proptest::collection::vec(simple_value(), 0..4)
        )
            .prop_map(|(method, params)| ClientMethod::Unknown { method, params }),
    ]
}

fn response() -> impl Strategy<Value = Response> {
    let error = (any::<i64>(), any::<String>())
        .prop_map(|(code, message)| ErrorReply::new(ErrorCode::from_code(code), message));
    let result = prop_oneof![simple_value().prop_map(Ok), error.prop_map(Err),];
    (id(), result).prop_map(|(id, result)| Response { id, result })
}

fn notify() -> impl Strategy<Value = Notify> {
    (
        any::<u64>(),
        any::<[u8; 32]>(),
        proptest::collection::vec(any::<u8>(), 0..200),
        proptest::collection::vec(any::<u8>(), 0..200),
        proptest::collection::vec(any::<[u8; 32]>(), 0..14),
        (any::<u32>(), any::<u32>(), any::<u32>()),
        any::<bool>(),
    )
        .prop_map(
            |(job, prev, coinb1, coinb2, merkle_branch, (version, nbits, ntime), clean_jobs)| {
                Notify {
                    job_id: JobId(job),
                    prevhash: PrevHash(prev),
                    coinb1,
                    coinb2,
                    merkle_branch,
                    version: Version(version),
                    nbits: NBits(nbits),
                    ntime: Ntime(ntime),
                    clean_jobs,
                }
            },
        )
}

fn server_message() -> impl Strategy<Value = ServerMessage> {
    prop_oneof![
        response().prop_map(ServerMessage::Response),
        notify().prop_map(ServerMessage::Notify),
        difficulty()
            .prop_map(|difficulty| ServerMessage::SetDifficulty(SetDifficulty { difficulty })),
        any::<u32>().prop_map(|mask| ServerMessage::SetVersionMask(SetVersionMask {
            mask: VersionMask(mask)
        })),
        (proptest::collection::vec(any::<u8>(), 0..=8), 0usize..=16).prop_map(|(en1, size)| {
            ServerMessage::SetExtranonce(SetExtranonce {
                extranonce1: Extranonce1::from_bytes(&en1).unwrap(),
                extranonce2_size: size,
            })
        }),
        (
            proptest::option::of(any::<String>()),
            proptest::option::of(any::<u16>()),
            proptest::option::of(any::<u32>())
        )
            .prop_map(
                |(host, port, wait_secs)| ServerMessage::Reconnect(Reconnect {
                    host,
                    port,
                    wait_secs
                })
            ),
        any::<String>().prop_map(|message| ServerMessage::ShowMessage(ShowMessage { message })),
        id().prop_map(|id| ServerMessage::Ping { id }),
        id().prop_map(|id| ServerMessage::GetVersion { id }),
        (
            id(),
            unknown_method(),
            proptest::collection::vec(simple_value(), 0..4)
        )
            .prop_map(|(id, method, params)| ServerMessage::Unknown { id, method, params }),
    ]
}

fn one_line(line: &str) -> &[u8] {
    assert!(line.ends_with('\n'));
    let body = &line[..line.len() - 1];
    assert!(!body.contains('\n'), "{line:?}");
    body.as_bytes()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn client_requests_roundtrip(id in id(), method in client_method()) {
        let message = ClientMessage::Request(ClientRequest { id, method });
        let line = message.to_line();
        prop_assert_eq!(ClientMessage::parse(one_line(&line)), Ok(message));
    }

    #[test]
    fn client_responses_roundtrip(response in response()) {
        let message = ClientMessage::Response(response);
        let line = message.to_line();
        prop_assert_eq!(ClientMessage::parse(one_line(&line)), Ok(message));
    }

    #[test]
    fn server_messages_roundtrip(message in server_message()) {
        let line = message.to_line();
        prop_assert_eq!(ServerMessage::parse(one_line(&line)), Ok(message));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = ClientMessage::parse(&bytes);
        let _ = ServerMessage::parse(&bytes);
    }

    /// Random JSON-shaped noise reaches deeper than random bytes do.
    #[test]
    fn json_shaped_noise_never_panics(
        id in simple_value(),
        method in prop_oneof![Just(Value::Null), simple_value(), proptest::sample::select(KNOWN_METHODS).prop_map(Value::from)],
        params in proptest::collection::vec(simple_value(), 0..10),
    ) {
        let line = serde_json::json!({"id": id, "method": method, "params": params}).to_string();
        let _ = ClientMessage::parse(line.as_bytes());
        let _ = ServerMessage::parse(line.as_bytes());
    }

    /// A mutated real request: still never a panic, and any error keeps the id.
    #[test]
    fn mutated_submits_keep_their_id(index in 0usize..6, replacement in simple_value()) {
        let mut params = vec![Value::from("w"), "1a2b3c4d".into(), "00000001".into(), "6b060d97".into(), "000795a5".into(), "00002000".into()];
        params[index] = replacement;
        let line = serde_json::json!({"id": 4, "method": "mining.submit", "params": params}).to_string();
        if let Err(error) = ClientMessage::parse(line.as_bytes()) {
            prop_assert_eq!(error.id, Id::from(4));
        }
    }
}
