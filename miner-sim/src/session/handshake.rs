//! Opening a session the way each firmware does: cgminer waits for every
//! answer, ESP-Miner pipelines, cpuminer retries subscribe without params.

use super::*;

impl Session<'_> {
    pub(super) async fn handshake(&mut self) -> Result<(), SessionEnd> {
        if self.config.misbehaviour.submit_before_auth && self.draw_once(BadShare::BeforeAuthorize)
        {
            self.submit_before_authorize().await?;
        }
        let dialect = self.dialect;
        let username = self.config.username.clone();
        let password = self.config.password.clone();
        let all_bits = VersionMask(u32::MAX);
        match dialect {
            Dialect::Cgminer => {
                let id = self.request(Pending::Configure, |id| {
                    dialect.configure_line(id, all_bits)
                });
                let id = self.send_request(id).await?;
                self.await_answer(id).await?;
                let id = self.request(Pending::Subscribe { with_agent: true }, |id| {
                    dialect.subscribe_line(id, true)
                });
                let id = self.send_request(id).await?;
                self.await_answer(id).await?;
                self.require_subscribed()?;
                let id = self.request(Pending::Authorize, |id| {
                    dialect.authorize_line(id, &username, &password)
                });
                let id = self.send_request(id).await?;
                self.await_answer(id).await?;
            }
            Dialect::Bitaxe => {
                let configure = self.request(Pending::Configure, |id| {
                    dialect.configure_line(id, all_bits)
                });
                self.send_request(configure).await?;
                let subscribe = self.request(Pending::Subscribe { with_agent: true }, |id| {
                    dialect.subscribe_line(id, true)
                });
                let subscribe = self.send_request(subscribe).await?;
                let authorize = self.request(Pending::Authorize, |id| {
                    dialect.authorize_line(id, &username, &password)
                });
                let authorize = self.send_request(authorize).await?;
                self.await_answer(subscribe).await?;
                self.await_answer(authorize).await?;
                self.require_subscribed()?;
            }
            Dialect::Cpuminer => {
                let id = self.request(Pending::Subscribe { with_agent: true }, |id| {
                    dialect.subscribe_line(id, true)
                });
                let id = self.send_request(id).await?;
                self.await_answer(id).await?;
                if !self.subscribed {
                    // cpuminer's retry form: the same id, no params.
                    self.next_id = id;
                    let id = self.request(Pending::Subscribe { with_agent: false }, |id| {
                        dialect.subscribe_line(id, false)
                    });
                    let id = self.send_request(id).await?;
                    self.await_answer(id).await?;
                }
                self.require_subscribed()?;
                let id = self.request(Pending::Authorize, |id| {
                    dialect.authorize_line(id, &username, &password)
                });
                let id = self.send_request(id).await?;
                self.await_answer(id).await?;
            }
        }
        if self.authorized != Some(true) {
            return Err(SessionEnd::Refused(format!(
                "worker {} not authorized",
                self.config.username
            )));
        }
        if let Some(suggested) = self.config.suggested_difficulty() {
            if let Ok(difficulty) = Difficulty::new(suggested) {
                let id = self.request(Pending::Other, |id| {
                    dialect.suggest_difficulty_line(id, difficulty)
                });
                self.send_request(id).await?;
            }
        }
        if dialect == Dialect::Bitaxe && self.config.extranonce_subscribe {
            let id = self.request(Pending::Other, |id| dialect.extranonce_subscribe_line(id));
            self.send_request(id).await?;
        }
        Ok(())
    }

    pub(super) fn require_subscribed(&self) -> Result<(), SessionEnd> {
        if self.subscribed {
            Ok(())
        } else {
            Err(SessionEnd::Refused("subscription refused".into()))
        }
    }

    /// Registers a request under the next id and renders its line.
    pub(super) fn request(
        &mut self,
        pending: Pending,
        line: impl FnOnce(u64) -> String,
    ) -> (u64, String) {
        let id = self.next_id;
        self.next_id += 1;
        self.pending.push_back((id, pending));
        (id, line(id))
    }

    pub(super) async fn send_request(
        &mut self,
        (id, line): (u64, String),
    ) -> Result<u64, SessionEnd> {
        self.send(&line).await?;
        Ok(id)
    }

    /// Reads and handles lines until the request `id` is answered.
    pub(super) async fn await_answer(&mut self, id: u64) -> Result<(), SessionEnd> {
        while self.pending.iter().any(|(pending, _)| *pending == id) {
            let line = tokio::select! {
                biased;
                _ = stopped(&mut self.stop) => return Err(SessionEnd::Stopped),
                line = self.conn.read_line() => line,
            };
            let line = line.map_err(|error| SessionEnd::Disconnected(error.to_string()))?;
            self.handle_line(&line).await?;
        }
        Ok(())
    }
}
