//! The whole block path on the simulated chain: template → job → a share
//! that meets the network target → block persisted, submitted, accepted,
//! and the chain moves on; a stale share that solves is submitted too.

use pool::block::{self, BlockStore};
use pool::config::{ChainConfig, PayoutMode, SimnetConfig};
use pool::jobs::{JobManager, JobSettings, TemplateChange};
use pool::template::simnet::SimnetSource;
use pool::template::{Template, TemplateSource};
use std::sync::Arc;
use std::time::{Duration, Instant};
use stratum::{Extranonce1, Extranonce2};

#[path = "support/solve.rs"]
mod solve;
use solve::solve;

async fn next_template(
    templates: &mut tokio::sync::watch::Receiver<Option<Arc<Template>>>,
    after_height: Option<u32>,
) -> Arc<Template> {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Some(template) = templates.borrow_and_update().clone() {
                if after_height.is_none_or(|height| template.height > height) {
                    return template;
                }
            }
            templates.changed().await.expect("source alive");
        }
    })
    .await
    .expect("a template within 10 s")
}

fn scratch_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("pool-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_solving_share_becomes_a_block_the_chain_accepts() {
    let source = SimnetSource::start(
        &SimnetConfig {
            difficulty: 0.0001,
            transactions: 6,
        },
        &ChainConfig {
            template_refresh_secs: 0,
            ..ChainConfig::default()
        },
    );
    let mut templates = source.templates();
    let template = next_template(&mut templates, None).await;
    let pool_script = pool::config::simnet_demo_address().script_pubkey();
    let mut manager = JobManager::new(JobSettings {
        tag: b"/pool-test/".to_vec(),
        extranonce2_size: 8,
        mode: PayoutMode::Pplns,
        pool_script: pool_script.clone(),
        fee_basis_points: 100,
        stale_window: Duration::from_secs(120),
        fpps_fee_window: 10,
    });
    assert_eq!(
        manager
            .on_template(Arc::clone(&template), Instant::now())
            .unwrap(),
        TemplateChange::NewBlock
    );
    let job = manager.current_job(None).unwrap();
    let extranonce1 = Extranonce1::from_bytes(&[9, 0, 0, 1]).unwrap();
    let solution = solve(&job, extranonce1, Extranonce2::from_bytes(&[1; 8]).unwrap());
    let solved = block::assemble(&job, &solution).unwrap();
    let store = BlockStore::new(scratch_dir("block-path"));

    let report = block::submit_solved(&source, &store, job.height(), solved.clone()).await;
    assert_eq!(report.answers.len(), 1);
    assert_eq!(report.answers[0].result, Ok(None), "simnet accepted it");
    assert!(report.confirmed);
    assert_eq!(report.block_hash, solved.block_hash());

    // Persisted before submission, answers recorded after.
    let stem = format!("{}-{}", template.height, solved.block_hash());
    let hex = std::fs::read_to_string(store.dir().join(format!("{stem}.hex"))).unwrap();
    assert_eq!(hex, bitcoin::consensus::encode::serialize_hex(&solved));
    let record: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(store.dir().join(format!("{stem}.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(record["answers"][0]["accepted"], true);
    assert_eq!(record["confirmed"], true);

    // The chain moved: the next template builds on our block, old jobs are stale.
    let next = next_template(&mut templates, Some(template.height)).await;
    assert_eq!(next.previous_block_hash, solved.block_hash());
    assert_eq!(
        manager
            .on_template(Arc::clone(&next), Instant::now())
            .unwrap(),
        TemplateChange::NewBlock
    );
    assert!(manager.is_stale(&job));

    // A stale share that still meets the target is submitted anyway; the
    // chain answers as Core does for a competitor at a height it has.
    let stale_job = manager.job(job.id()).expect("kept for the stale window");
    let stale = solve(
        &stale_job,
        extranonce1,
        Extranonce2::from_bytes(&[2; 8]).unwrap(),
    );
    let competitor = block::assemble(&stale_job, &stale).unwrap();
    let report = block::submit_solved(&source, &store, stale_job.height(), competitor).await;
    assert_eq!(
        report.answers[0].result,
        Ok(Some("inconclusive".to_string()))
    );
    assert!(!report.confirmed);

    let _ = std::fs::remove_dir_all(store.dir());
}
