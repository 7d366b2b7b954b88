//! Subscribe, authorize, configure and difficulty suggestions, in the
//! variants real firmware sends them (see the miner dialect vectors).

use super::{Session, Worker};
use crate::server::Line;
use crate::template::TemplateSource;
use bitcoin::Address;
use std::str::FromStr;
use stratum::message::{
    Authorize, Configure, ConfigureResult, ErrorCode, ErrorReply, Id, Response, Subscribe,
    SubscribeResult,
};
use stratum::{Difficulty, Extranonce1, VersionMask};

impl<S: TemplateSource> Session<S> {
    pub(super) fn on_subscribe(&mut self, id: Id, subscribe: Subscribe) -> Vec<Line> {
        if self.extranonce1.is_none() {
            // The session id we hand out is the extranonce1: a reconnecting
            // miner gets its old one back when it is free.
            let resumed = subscribe
                .session_id
                .as_deref()
                .and_then(|session| Extranonce1::from_wire(session).ok())
                .and_then(|previous| self.shared.allocator.resume(previous));
            match resumed.or_else(|| self.shared.allocator.allocate()) {
                Some(lease) => self.extranonce1 = Some(lease),
                None => {
                    return vec![Response::error(
                        id,
                        ErrorReply::new(ErrorCode::Other, "pool full: no extranonce1 left"),
                    )
                    .to_line()
                    .into()]
                }
            }
        }
        if let Some(agent) = &subscribe.user_agent {
            tracing::debug!(session = self.id, %agent, "subscribed");
        }
        let extranonce1 = self.extranonce1.as_ref().expect("allocated above").value();
        let result = SubscribeResult::new(
            &extranonce1.to_wire(),
            extranonce1,
            self.shared.settings.extranonce2_size,
        );
        let mut lines = vec![Response::subscribe(id, &result).to_line().into()];
        lines.extend(self.start_work());
        lines
    }

    pub(super) fn on_authorize(&mut self, id: Id, authorize: Authorize) -> Vec<Line> {
        let network = self.shared.settings.network;
        let username = authorize.username.to_string();
        let address = match Address::from_str(&authorize.username.address)
            .ok()
            .and_then(|address| address.require_network(network).ok())
        {
            Some(address) => address,
            None => {
                tracing::info!(session = self.id, %username, "refused: not an address of this network");
                return vec![Response::error(
                    id,
                    ErrorReply::new(
                        ErrorCode::UnauthorizedWorker,
                        format!(
                            "{} is not a valid {network} address (user must be address.worker)",
                            authorize.username.address
                        ),
                    ),
                )
                .to_line()
                .into()];
            }
        };
        let worker_name = authorize.username.worker.clone().unwrap_or_default();
        let known = self
            .workers
            .iter()
            .any(|worker| worker.username == username);
        let limit = self.shared.settings.max_workers_per_connection;
        if !known && self.workers.len() >= limit {
            tracing::debug!(session = self.id, %username, limit, "refused: too many workers");
            return vec![Response::error(
                id,
                ErrorReply::new(
                    ErrorCode::UnauthorizedWorker,
                    format!("this connection already has {limit} workers, the most it may have"),
                ),
            )
            .to_line()
            .into()];
        }
        if !known {
            let live = self.shared.workers.connected(
                &authorize.username.address,
                &worker_name,
                super::super::unix_millis(),
            );
            // Most connections authorize one worker: no room held for four.
            self.workers.reserve_exact(1);
            self.workers.push(Worker {
                username: username.clone(),
                address: authorize.username.address.clone(),
                worker: worker_name,
                payout_script: address.script_pubkey(),
                live,
            });
        }
        // The password's d= and a suggestion sent before authorize arrive
        // together; vardiff rate-limits suggestions, so it gets one: the higher.
        let wish = match (authorize.options().difficulty, self.early_suggestion.take()) {
            (Some(password), Some(suggested)) => Some(if password > suggested {
                password
            } else {
                suggested
            }),
            (password, suggested) => password.or(suggested),
        };
        if let Some(difficulty) = wish {
            self.vardiff.suggest(difficulty, self.now);
        }
        tracing::debug!(session = self.id, %username, "authorized");
        let mut lines = vec![Response::boolean(id, true).to_line().into()];
        lines.extend(self.start_work());
        lines
    }

    pub(super) fn on_configure(&mut self, id: Id, configure: Configure) -> Vec<Line> {
        let mut result = ConfigureResult::default();
        let mut after: Vec<Line> = Vec::new();
        if let Some(request) = configure.version_rolling {
            let mask =
                VersionMask::negotiate(self.shared.settings.version_mask, request.requested_mask());
            if mask != VersionMask::NONE {
                self.version_mask = mask;
                result.version_rolling = Some(mask);
                after.push(Self::version_mask_line(mask).into());
            }
        }
        if let Some(difficulty) = configure.minimum_difficulty {
            self.on_suggestion(difficulty);
            result.minimum_difficulty = Some(true);
        }
        if configure.subscribe_extranonce {
            result.subscribe_extranonce = Some(false);
        }
        let mut lines = vec![Response::configure(id, &result).to_line().into()];
        lines.extend(after);
        lines
    }

    pub(super) fn on_suggest(&mut self, id: Id, difficulty: Difficulty) -> Vec<Line> {
        let mut lines = vec![Response::boolean(id, true).to_line().into()];
        lines.extend(self.on_suggestion(difficulty));
        lines
    }

    /// suggest_difficulty, suggest_target or minimum-difficulty: before
    /// authorize it waits; after, vardiff takes it (rate-limited there).
    fn on_suggestion(&mut self, difficulty: Difficulty) -> Vec<Line> {
        if self.workers.is_empty() {
            self.early_suggestion = Some(difficulty);
            return Vec::new();
        }
        match self.vardiff.suggest(difficulty, self.now) {
            Some(new) => self.retarget(new),
            None => Vec::new(),
        }
    }
}
