//! The exact lines real firmware sends and expects (vectors/miner-dialects)
//! must parse to the right typed messages, and what we write back must be
//! the same JSON.

use serde_json::{json, Value};
use stratum::message::{
    Authorize, ClientMessage, ClientMethod, ClientRequest, Configure, ConfigureResult, Id,
    Reconnect, Response, ServerMessage, SetExtranonce, SetVersionMask, ShowMessage, Submit,
    Subscribe, SuggestDifficulty, VersionRollingRequest,
};
use stratum::{
    Difficulty, Extranonce1, Extranonce2, JobId, Nonce, Ntime, Username, VersionBits, VersionMask,
};

const DIALECTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../vectors/miner-dialects");
const WORKED_SHARE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../vectors/worked-share-regtest.json"
);

struct Entry {
    dir: String,
    line: String,
    /// `answer: false`: the pool must not answer this line.
    no_answer: bool,
}

fn dialect(file: &str) -> Vec<Entry> {
    let path = format!("{DIALECTS}/{file}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"));
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let entry: Value = serde_json::from_str(line).unwrap();
            Entry {
                dir: entry["dir"].as_str().unwrap().to_string(),
                line: entry["line"].as_str().unwrap().to_string(),
                no_answer: entry["answer"] == json!(false),
            }
        })
        .collect()
}

fn files() -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(DIALECTS)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".jsonl"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 3, "{files:?}");
    files
}

fn lines(file: &str, dir: &str) -> Vec<String> {
    dialect(file)
        .into_iter()
        .filter(|entry| entry.dir == dir)
        .map(|entry| entry.line)
        .collect()
}

fn request(id: u64, method: ClientMethod) -> ClientMessage {
    ClientMessage::Request(ClientRequest::new(id, method))
}

fn answer(id: u64, result: &str) -> ClientMessage {
    ClientMessage::Response(Response::ok(Id::from(id), json!(result)))
}

fn subscribe(agent: Option<&str>, session: Option<&str>) -> ClientMethod {
    ClientMethod::Subscribe(Subscribe {
        user_agent: agent.map(str::to_string),
        session_id: session.map(str::to_string),
    })
}

fn authorize(user: &str) -> ClientMethod {
    ClientMethod::Authorize(Authorize {
        username: Username::parse(user).unwrap(),
        password: Some("x".to_string()),
    })
}

fn configure_all_bits() -> ClientMethod {
    ClientMethod::Configure(Configure {
        version_rolling: Some(VersionRollingRequest {
            mask: Some(VersionMask(0xffff_ffff)),
            min_bit_count: None,
        }),
        ..Configure::default()
    })
}

fn suggest(difficulty: f64) -> ClientMethod {
    ClientMethod::SuggestDifficulty(SuggestDifficulty {
        difficulty: Difficulty::new(difficulty).unwrap(),
    })
}

fn submit(worker: &str, version_bits: Option<u32>) -> ClientMethod {
    ClientMethod::Submit(Submit {
        worker: worker.to_string(),
        job_id: JobId(0x1a2b_3c4d),
        extranonce2: Extranonce2::from_bytes(&[0, 0, 0, 0, 0, 0, 0, 1]).unwrap(),
        ntime: Ntime(0x6b06_0d97),
        nonce: Nonce(0x0007_95a5),
        version_bits: version_bits.map(VersionBits),
    })
}

const CGMINER_USER: &str = "bc1qexampleaddressxxxxxxxxxxxxxxxxxxxxxxxx.s9";
const CPUMINER_USER: &str = "bcrt1qexampleworkeraddress.cpu1";
const BITAXE_USER: &str = "bc1qexampleaddressxxxxxxxxxxxxxxxxxxxxxxxx.bitaxe1";

fn expected_client(file: &str) -> Vec<ClientMessage> {
    match file {
        "cgminer.jsonl" => vec![
            request(0, configure_all_bits()),
            request(1, subscribe(Some("cgminer/4.11.1"), None)),
            request(2, authorize(CGMINER_USER)),
            request(3, suggest(512.0)),
            request(4, submit(CGMINER_USER, Some(0x2000))),
            answer(5, "pong"),
            answer(6, "cgminer/4.11.1"),
        ],
        "cpuminer.jsonl" => vec![
            request(1, subscribe(Some("cpuminer/2.5.1"), None)),
            request(1, subscribe(Some("cpuminer/2.5.1"), Some("deadbeef"))),
            request(1, subscribe(None, None)),
            request(2, authorize(CPUMINER_USER)),
            request(4, submit(CPUMINER_USER, None)),
        ],
        "esp-miner-bitaxe.jsonl" => vec![
            request(1, configure_all_bits()),
            request(2, subscribe(Some("bitaxe/BM1370/v2.9.0"), None)),
            request(3, authorize(BITAXE_USER)),
            request(4, suggest(1000.0)),
            request(5, ClientMethod::ExtranonceSubscribe),
            request(6, submit(BITAXE_USER, Some(0x2000))),
            request(7, ClientMethod::Pong),
            answer(8, "v2.9.0"),
        ],
        other => panic!("no expectations for {other}"),
    }
}

fn expected_server(file: &str) -> Vec<ServerMessage> {
    match file {
        "cgminer.jsonl" => vec![ServerMessage::Response(Response::ok(
            Id::from(0),
            json!({"version-rolling": true, "version-rolling.mask": "1fffe000"}),
        ))],
        "cpuminer.jsonl" => vec![],
        "esp-miner-bitaxe.jsonl" => vec![
            ServerMessage::SetVersionMask(SetVersionMask {
                mask: VersionMask(0x1fff_e000),
            }),
            ServerMessage::SetExtranonce(SetExtranonce {
                extranonce1: Extranonce1::from_wire("f000000b").unwrap(),
                extranonce2_size: 8,
            }),
            ServerMessage::Ping { id: Id::from(9) },
            ServerMessage::Reconnect(Reconnect::default()),
            ServerMessage::ShowMessage(ShowMessage {
                message: "maintenance at 12:00 UTC".to_string(),
            }),
        ],
        other => panic!("no expectations for {other}"),
    }
}

fn same_json(ours: &str, theirs: &str) {
    assert!(
        ours.ends_with('\n') && !ours[..ours.len() - 1].contains('\n'),
        "{ours:?}"
    );
    let ours: Value = serde_json::from_str(ours).unwrap();
    let theirs: Value = serde_json::from_str(theirs).unwrap();
    assert_eq!(ours, theirs);
}

#[test]
fn every_client_line_parses_to_the_right_request() {
    for file in files() {
        let entries: Vec<Entry> = dialect(&file)
            .into_iter()
            .filter(|entry| entry.dir == "client->pool")
            .collect();
        let expected = expected_client(&file);
        assert_eq!(entries.len(), expected.len(), "{file}");
        for (entry, expected) in entries.iter().zip(expected) {
            let parsed = ClientMessage::parse(entry.line.as_bytes())
                .unwrap_or_else(|error| panic!("{file}: {}: {error}", entry.line));
            assert_eq!(parsed, expected, "{file}: {}", entry.line);
            // What a simulated miner writes is the same JSON as the firmware's line.
            same_json(&parsed.to_line(), &entry.line);
            if entry.no_answer {
                let is_answer = matches!(
                    parsed,
                    ClientMessage::Response(_)
                        | ClientMessage::Request(ClientRequest {
                            method: ClientMethod::Pong,
                            ..
                        })
                );
                assert!(is_answer, "{file}: {} must not be answered", entry.line);
            }
        }
    }
}

#[test]
fn every_pool_line_parses_with_the_miner_side_parser() {
    for file in files() {
        let lines = lines(&file, "pool->client");
        let expected = expected_server(&file);
        assert_eq!(lines.len(), expected.len(), "{file}");
        for (line, expected) in lines.iter().zip(expected) {
            let parsed = ServerMessage::parse(line.as_bytes())
                .unwrap_or_else(|error| panic!("{file}: {line}: {error}"));
            assert_eq!(parsed, expected, "{file}: {line}");
            same_json(&parsed.to_line(), line);
        }
    }
}

#[test]
fn the_configure_answer_cgminer_accepts() {
    let line = &lines("cgminer.jsonl", "pool->client")[0];
    let Ok(ServerMessage::Response(response)) = ServerMessage::parse(line.as_bytes()) else {
        panic!("{line}");
    };
    let result = ConfigureResult::from_value(response.result.as_ref().unwrap()).unwrap();
    assert_eq!(result.version_rolling, Some(VersionMask(0x1fff_e000)));
    // And the answer the pool writes for Bitaxe's ffffffff request is that line.
    let negotiated = VersionMask::negotiate(VersionMask::POOL_DEFAULT, VersionMask(u32::MAX));
    let ours = Response::configure(
        Id::from(0),
        &ConfigureResult {
            version_rolling: Some(negotiated),
            ..ConfigureResult::default()
        },
    );
    same_json(&ours.to_line(), line);
}

/// Every strict prefix of a line is what a miner that drops the connection
/// mid-line leaves behind: a typed error, never a panic, never a message.
#[test]
fn every_prefix_of_every_line_is_a_typed_error() {
    for file in files() {
        for entry in dialect(&file).iter().filter(|entry| !entry.line.is_empty()) {
            let bytes = entry.line.as_bytes();
            for end in 0..bytes.len() {
                let prefix = &bytes[..end];
                let client = ClientMessage::parse(prefix);
                let server = ServerMessage::parse(prefix);
                assert!(
                    client.is_err(),
                    "{file}: {:?}",
                    String::from_utf8_lossy(prefix)
                );
                assert!(
                    server.is_err(),
                    "{file}: {:?}",
                    String::from_utf8_lossy(prefix)
                );
            }
        }
    }
}

#[test]
fn the_worked_share_notify_and_submit() {
    let share: Value =
        serde_json::from_str(&std::fs::read_to_string(WORKED_SHARE).unwrap()).unwrap();
    let params = share["notify_params"].as_array().unwrap();
    let text = |index: usize| params[index].as_str().unwrap();
    let notify = stratum::message::Notify {
        job_id: JobId::from_wire(text(0)).unwrap(),
        prevhash: stratum::PrevHash::from_wire(text(1)).unwrap(),
        coinb1: stratum::hex::decode_vec(text(2)).unwrap(),
        coinb2: stratum::hex::decode_vec(text(3)).unwrap(),
        merkle_branch: params[4]
            .as_array()
            .unwrap()
            .iter()
            .map(|hash| stratum::hex::decode_32(hash.as_str().unwrap()).unwrap())
            .collect(),
        version: stratum::Version::from_wire(text(5)).unwrap(),
        nbits: stratum::NBits::from_wire(text(6)).unwrap(),
        ntime: Ntime::from_wire(text(7)).unwrap(),
        clean_jobs: params[8].as_bool().unwrap(),
    };
    let line = notify.to_line();
    let sent: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(sent["params"], share["notify_params"]);
    assert_eq!(sent["id"], Value::Null);
    assert_eq!(sent["method"], "mining.notify");
    assert!(line.starts_with("{\"id\":null,\"method\":\"mining.notify\",\"params\":["));
    assert_eq!(
        ServerMessage::parse(line.trim_end().as_bytes()),
        Ok(ServerMessage::Notify(notify))
    );

    let difficulty = Difficulty::new(share["set_difficulty"].as_f64().unwrap()).unwrap();
    let set = stratum::message::SetDifficulty { difficulty }.to_line();
    let set: Value = serde_json::from_str(&set).unwrap();
    assert_eq!(set["params"], json!([share["set_difficulty"]]));

    let submit_line = json!({"id": 1, "method": "mining.submit", "params": share["submit_params"]});
    let parsed = ClientMessage::parse(submit_line.to_string().as_bytes()).unwrap();
    let ClientMessage::Request(ClientRequest {
        id,
        method: ClientMethod::Submit(submit),
    }) = parsed
    else {
        panic!("{parsed:?}");
    };
    assert_eq!(id, Id::from(1));
    assert_eq!(submit.worker, "bcrt1qexampleworkeraddress.rig1");
    assert_eq!(submit.job_id, notify_job_id(&share));
    assert_eq!(
        submit.extranonce2.fit(8).unwrap().to_wire(),
        "0000000000000001"
    );
    assert_eq!(submit.ntime, Ntime(0x6b06_0d97));
    assert_eq!(submit.nonce, Nonce(0x0007_95a5));
    let mask = VersionMask::from_wire(share["negotiated_version_mask"].as_str().unwrap()).unwrap();
    let version = submit
        .version_bits
        .unwrap()
        .apply(stratum::Version(0x2000_0000), mask)
        .unwrap();
    assert_eq!(version.to_wire(), share["header_version"].as_str().unwrap());
}

fn notify_job_id(share: &Value) -> JobId {
    JobId::from_wire(share["notify_params"][0].as_str().unwrap()).unwrap()
}

#[test]
fn the_worked_share_subscribe_answer() {
    let share: Value =
        serde_json::from_str(&std::fs::read_to_string(WORKED_SHARE).unwrap()).unwrap();
    let extranonce1 = Extranonce1::from_wire(share["extranonce1"].as_str().unwrap()).unwrap();
    let size = share["extranonce2_size"].as_u64().unwrap() as usize;
    let result = stratum::message::SubscribeResult::new("6d", extranonce1, size);
    let line = Response::subscribe(Id::from(2), &result).to_line();
    assert_eq!(
        line,
        "{\"id\":2,\"result\":[[[\"mining.set_difficulty\",\"6d\"],[\"mining.notify\",\"6d\"]],\"f000000a\",8],\"error\":null}\n"
    );
    let Ok(ServerMessage::Response(response)) = ServerMessage::parse(line.trim_end().as_bytes())
    else {
        panic!("{line}");
    };
    let parsed =
        stratum::message::SubscribeResult::from_value(response.result.as_ref().unwrap()).unwrap();
    assert_eq!(parsed, result);
}
