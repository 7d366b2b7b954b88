//! Webhook alerts end to end: a receiver on 127.0.0.1 gets exactly one
//! offline alert when a worker stops sending shares, one back-online alert
//! when it resumes, and the ledger records both deliveries.

#[path = "support/e2e.rs"]
mod e2e;

use axum::extract::State;
use axum::routing::post;
use axum::Router;
use e2e::{accepted, regtest_address, wait_until, RawClient, TestPool};
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Received = Arc<Mutex<Vec<Value>>>;

/// A webhook receiver: every POSTed JSON body, in order.
async fn receiver() -> (SocketAddr, Received) {
    let received: Received = Arc::default();
    let app = Router::new()
        .route(
            "/hook",
            post(
                |State(received): State<Received>, body: String| async move {
                    let value = serde_json::from_str(&body).expect("an alert is JSON");
                    received.lock().unwrap().push(value);
                    "ok"
                },
            ),
        )
        .with_state(Arc::clone(&received));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, received)
}

fn kinds(received: &Received) -> Vec<String> {
    received
        .lock()
        .unwrap()
        .iter()
        .map(|alert| alert["kind"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_stops_and_resumes_raises_one_alert_each() {
    let (hook, received) = receiver().await;
    let address = regtest_address(81).to_string();
    let pool = TestPool::start("alerts", |config| {
        config.alerts.webhooks = vec![format!("http://{hook}/hook")];
        config.alerts.offline_after_secs = 2;
        config.stratum.start_difficulty = 0.00001;
        config.stratum.min_difficulty = 0.00001;
        config.simnet.difficulty = 1.0;
    })
    .await;
    let user = format!("{address}.rig");
    let mut miner = RawClient::miner(pool.addr(), &user).await;
    let job = miner.latest_job();
    let share = miner.grind(&job.job, None, job.difficulty, None);
    assert!(accepted(&miner.submit(&user, &share).await));

    wait_until("the offline alert", Duration::from_secs(20), || {
        kinds(&received) == ["worker_offline"]
    })
    .await;
    // Not synchronisation: time for several more looks at the board, in
    // which a second offline alert would show.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(
        kinds(&received),
        ["worker_offline"],
        "exactly one offline alert"
    );

    let job = miner.latest_job();
    let share = miner.grind(&job.job, None, job.difficulty, None);
    assert!(accepted(&miner.submit(&user, &share).await));
    wait_until("the back-online alert", Duration::from_secs(20), || {
        kinds(&received).len() >= 2
    })
    .await;
    let alerts = received.lock().unwrap().clone();
    assert_eq!(kinds(&received), ["worker_offline", "worker_online"]);
    for alert in &alerts {
        assert_eq!(alert["address"], address.as_str());
        assert_eq!(alert["worker"], "rig");
        assert!(alert["last_share_ms"].as_i64().is_some());
    }

    let ledger = pool.ledger().clone();
    e2e::wait_until_async("both deliveries recorded", Duration::from_secs(10), || {
        let ledger = ledger.clone();
        async move {
            let recorded = ledger.alerts(10).await.unwrap();
            recorded.len() == 2 && recorded.iter().all(|alert| alert.delivered_ms.is_some())
        }
    })
    .await;
    let recorded = ledger.alerts(10).await.unwrap();
    assert_eq!(recorded[0].kind, "worker_online");
    assert_eq!(recorded[1].kind, "worker_offline");
    assert!(recorded
        .iter()
        .all(|alert| alert.attempts == 1 && alert.last_error.is_empty()));
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_webhook_is_retried_and_every_attempt_recorded() {
    // A port nothing listens on: every attempt fails at once.
    let dead = format!("http://127.0.0.1:{}/hook", e2e_free_port());
    let pool = TestPool::start("alerts-dead", |config| {
        config.alerts.webhooks = vec![dead.clone()];
        config.alerts.offline_after_secs = 1;
        config.stratum.start_difficulty = 0.00001;
        config.stratum.min_difficulty = 0.00001;
        config.simnet.difficulty = 1.0;
    })
    .await;
    let address = regtest_address(82).to_string();
    let _miner = RawClient::miner(pool.addr(), &format!("{address}.idle")).await;
    let ledger = pool.ledger().clone();
    // The idle worker goes offline; its alert fails and is retried.
    e2e::wait_until_async(
        "two failed attempts recorded",
        Duration::from_secs(20),
        || {
            let ledger = ledger.clone();
            async move {
                ledger
                    .alerts(10)
                    .await
                    .unwrap()
                    .iter()
                    .any(|alert| alert.attempts >= 2)
            }
        },
    )
    .await;
    let recorded = ledger.alerts(10).await.unwrap();
    let alert = recorded.iter().find(|alert| alert.attempts >= 2).unwrap();
    assert_eq!(alert.kind, "worker_offline");
    assert_eq!(alert.url, dead);
    assert!(alert.delivered_ms.is_none());
    assert!(!alert.last_error.is_empty());
    pool.shutdown().await;
}

fn e2e_free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// `application/x-www-form-urlencoded` for `pairs`.
fn form(pairs: &[(&str, &str)]) -> String {
    let encode = |text: &str| {
        text.bytes()
            .map(|byte| match byte {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (byte as char).to_string()
                }
                other => format!("%{other:02X}"),
            })
            .collect::<String>()
    };
    pairs
        .iter()
        .map(|(key, value)| format!("{}={}", encode(key), encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// POSTs a form to the pool's web listener; the status and body.
async fn post_form(addr: SocketAddr, path: &str, body: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut answer))
        .await
        .expect("an answer in time")
        .unwrap();
    let status = answer.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, answer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_miner_sets_their_webhook_with_a_signed_message() {
    use bitcoin::secp256k1::{Secp256k1, SecretKey};
    use bitcoin::{Address, CompressedPublicKey, Network, PrivateKey};
    let (hook, received) = receiver().await;
    let url = format!("http://{hook}/hook");
    let pool = TestPool::start("alerts-miner", |config| {
        config.alerts.miner_webhooks = true;
        config.alerts.allow_http_miner_webhooks = true;
        // The receiver is on loopback.
        config.alerts.allow_private_miner_webhooks = true;
        config.alerts.offline_after_secs = 2;
        config.stratum.start_difficulty = 0.00001;
        config.stratum.min_difficulty = 0.00001;
        config.simnet.difficulty = 1.0;
    })
    .await;
    // The miner's own key and P2WPKH payout address.
    let secp = Secp256k1::new();
    let key = PrivateKey::new(SecretKey::from_slice(&[7; 32]).unwrap(), Network::Regtest);
    let public = CompressedPublicKey::from_private_key(&secp, &key).unwrap();
    let address = Address::p2wpkh(&public, Network::Regtest).to_string();
    let wif = key.to_wif();
    let sign = |webhook: &str, timestamp: i64| {
        let message = pool::web::miner_alerts::message(&address, webhook, timestamp);
        bip322::sign_simple_encoded(&address, &message, &[wif.as_str()], None).expect("sign")
    };
    let path = format!("/miner/{address}/alerts");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let web = pool.web_addr();

    // A signature of another URL does not authorise this one.
    let forged = sign("https://elsewhere.example/", now);
    let body = form(&[
        ("webhook", &url),
        ("timestamp", &now.to_string()),
        ("signature", &forged),
    ]);
    assert_eq!(post_form(web, &path, &body).await.0, 403);
    // An old signature cannot be replayed.
    let stale = now - 3_600;
    let body = form(&[
        ("webhook", &url),
        ("timestamp", &stale.to_string()),
        ("signature", &sign(&url, stale)),
    ]);
    assert_eq!(post_form(web, &path, &body).await.0, 403);
    // The right one is saved, and never shown back.
    let body = form(&[
        ("webhook", &url),
        ("timestamp", &now.to_string()),
        ("signature", &sign(&url, now)),
    ]);
    let (status, answer) = post_form(web, &path, &body).await;
    assert_eq!(status, 200, "{answer}");
    let (status, page) = pool.get(&format!("/miner/{address}")).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("A webhook is set"),
        "the page says one is set"
    );
    assert!(
        !page.contains(&hook.to_string()),
        "the URL never appears on a page"
    );

    // The miner's worker stops: the miner's webhook hears of it.
    let user = format!("{address}.rig");
    let mut miner = RawClient::miner(pool.addr(), &user).await;
    let job = miner.latest_job();
    let share = miner.grind(&job.job, None, job.difficulty, None);
    assert!(accepted(&miner.submit(&user, &share).await));
    wait_until("the miner's offline alert", Duration::from_secs(20), || {
        kinds(&received).contains(&"worker_offline".to_string())
    })
    .await;
    assert_eq!(received.lock().unwrap()[0]["address"], address.as_str());

    // Five attempts per address per ten minutes: three were made.
    for _ in 0..2 {
        assert_eq!(
            post_form(
                web,
                &path,
                &form(&[("webhook", ""), ("timestamp", "1"), ("signature", "x")])
            )
            .await
            .0,
            403
        );
    }
    let (status, _) = post_form(web, &path, &body).await;
    assert_eq!(status, 429, "the sixth attempt is refused before any check");
    pool.shutdown().await;
}

/// A miner's key: their regtest P2WPKH address and a BIP 322 signer of the
/// alert settings message.
fn miner_signer(seed: u8) -> (String, impl Fn(&str, i64) -> String) {
    use bitcoin::secp256k1::{Secp256k1, SecretKey};
    use bitcoin::{Address, CompressedPublicKey, Network, PrivateKey};
    let secp = Secp256k1::new();
    let key = PrivateKey::new(
        SecretKey::from_slice(&[seed; 32]).unwrap(),
        Network::Regtest,
    );
    let public = CompressedPublicKey::from_private_key(&secp, &key).unwrap();
    let address = Address::p2wpkh(&public, Network::Regtest).to_string();
    let wif = key.to_wif();
    let signer_address = address.clone();
    let sign = move |webhook: &str, timestamp: i64| {
        let message = pool::web::miner_alerts::message(&signer_address, webhook, timestamp);
        bip322::sign_simple_encoded(&signer_address, &message, &[wif.as_str()], None).expect("sign")
    };
    (address, sign)
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The alert recorded for `url` once it has an attempt that failed.
async fn failed_delivery(pool: &TestPool, url: &str) -> pool::ledger::StoredAlert {
    let ledger = pool.ledger().clone();
    let wanted = url.to_string();
    e2e::wait_until_async(
        "a failed delivery recorded",
        Duration::from_secs(20),
        || {
            let (ledger, wanted) = (ledger.clone(), wanted.clone());
            async move {
                ledger.alerts(10).await.unwrap().iter().any(|alert| {
                    alert.url == wanted && alert.attempts >= 1 && !alert.last_error.is_empty()
                })
            }
        },
    )
    .await;
    let alerts = pool.ledger().alerts(10).await.unwrap();
    alerts.into_iter().find(|alert| alert.url == url).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_miners_webhook_may_not_lead_to_the_pools_own_network() {
    let (hook, received) = receiver().await;
    let pool = TestPool::start("alerts-ssrf", |config| {
        config.alerts.miner_webhooks = true;
        config.alerts.allow_http_miner_webhooks = true;
        config.alerts.offline_after_secs = 1;
    })
    .await;
    let (address, sign) = miner_signer(11);
    let path = format!("/miner/{address}/alerts");
    let now = unix_now();
    let web = pool.web_addr();

    // An address literal is refused before any signature check; a name is
    // resolved once the request is signed, and refused if it leads only to
    // loopback.
    let literal = format!("http://{hook}/hook");
    let named = format!("http://localhost:{}/hook", hook.port());
    for (url, reason) in [
        (&literal, "127.0.0.1 is not a public address"),
        (&named, "localhost resolves only to non-public addresses"),
    ] {
        let body = form(&[
            ("webhook", url),
            ("timestamp", &now.to_string()),
            ("signature", &sign(url, now)),
        ]);
        let (status, answer) = post_form(web, &path, &body).await;
        assert_eq!(status, 400, "{url}: {answer}");
        assert!(answer.contains(reason), "{url}: {answer}");
    }
    assert_eq!(pool.ledger().miner_webhook(&address).await.unwrap(), None);

    // One saved before the operator tightened the rules is refused at
    // delivery: recorded, never sent.
    pool.ledger()
        .set_miner_webhook(&address, Some(&literal), 1)
        .await
        .unwrap();
    let _idle = RawClient::miner(pool.addr(), &format!("{address}.idle")).await;
    let refused = failed_delivery(&pool, &literal).await;
    assert_eq!(refused.kind, "worker_offline");
    assert_eq!(refused.attempts, 1, "a refusal is not retried");
    assert!(refused.delivered_ms.is_none());
    assert_eq!(
        refused.last_error,
        "refused: 127.0.0.1 is not a public address"
    );
    assert!(
        received.lock().unwrap().is_empty(),
        "nothing reached 127.0.0.1"
    );
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_miners_webhook_is_not_redirected() {
    // A receiver that sends every alert on to another one, as a public
    // host could send it on to bitcoind's RPC port.
    let (inner, received) = receiver().await;
    let target = format!("http://{inner}/hook");
    let redirect = Router::new().route(
        "/hook",
        post(move || async move {
            (
                axum::http::StatusCode::TEMPORARY_REDIRECT,
                [(axum::http::header::LOCATION, target)],
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let outer = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, redirect).await });

    let pool = TestPool::start("alerts-redirect", |config| {
        config.alerts.miner_webhooks = true;
        config.alerts.allow_http_miner_webhooks = true;
        config.alerts.allow_private_miner_webhooks = true;
        config.alerts.offline_after_secs = 1;
    })
    .await;
    let (address, _) = miner_signer(12);
    let url = format!("http://{outer}/hook");
    pool.ledger()
        .set_miner_webhook(&address, Some(&url), 1)
        .await
        .unwrap();
    let _idle = RawClient::miner(pool.addr(), &format!("{address}.idle")).await;
    let failed = failed_delivery(&pool, &url).await;
    assert!(
        failed.last_error.contains("307"),
        "the redirect is the answer: {}",
        failed.last_error
    );
    assert!(failed.delivered_ms.is_none());
    assert!(
        received.lock().unwrap().is_empty(),
        "the redirect was not followed"
    );
    pool.shutdown().await;
}
