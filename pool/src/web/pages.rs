//! The HTML pages: `/` for the pool and `/miner/<address>` for one miner,
//! rendered on the server from the same views as the API. Small, no
//! script, the chart inline SVG: it loads fast on a phone and offline.

use super::chart;
use super::format::{ago, difficulty, escape, hashrate, sats};
use super::view::{self, unix_millis, BlockView, MinerView, PoolView};
use super::WebState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0 auto;max-width:60rem;\
padding:0 1rem;color:#222}h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:1.6rem}\
table{border-collapse:collapse;width:100%;font-size:.9rem}td,th{text-align:left;\
padding:.25rem .5rem;border-bottom:1px solid #ddd}code{font-size:.85rem;word-break:break-all}\
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(11rem,1fr));gap:.5rem}\
.card{background:#f5f5f5;padding:.6rem;border-radius:.3rem}.card b{display:block;font-size:1.2rem}\
.note{color:#555;font-size:.85rem}.chart{width:100%;height:auto}.chart .axis{stroke:#999}\
.chart .line{fill:none;stroke:#e67e22;stroke-width:2}.chart .area{fill:#e67e2233}\
.chart .label{font-size:11px;fill:#555}form{margin:1rem 0}input[type=text]{width:70%;padding:.3rem}";

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta http-equiv=\"refresh\" content=\"30\"><title>{title}</title>\
         <style>{STYLE}</style></head><body>{body}</body></html>",
        title = escape(title),
    ))
}

fn unavailable(error: impl std::fmt::Display) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        page(
            "pool: unavailable",
            &format!(
                "<p>The ledger is unavailable: {}</p>",
                escape(&error.to_string())
            ),
        ),
    )
        .into_response()
}

fn search_form() -> &'static str {
    "<form action=\"/miner\" method=\"get\"><input type=\"text\" name=\"address\" \
     placeholder=\"your payout address\" aria-label=\"payout address\"> \
     <button type=\"submit\">Look up</button></form>"
}

fn card(html: &mut String, label: &str, value: &str) {
    let _ = write!(
        html,
        "<div class=\"card\">{}<b>{}</b></div>",
        escape(label),
        escape(value)
    );
}

pub(super) async fn index(State(state): State<Arc<WebState>>) -> Response {
    let (pool, blocks) = match (
        view::pool_view(&state).await,
        view::blocks_view(&state).await,
    ) {
        (Ok(pool), Ok(blocks)) => (pool, blocks),
        (Err(error), _) | (_, Err(error)) => return unavailable(error),
    };
    page("pool", &render_pool(&pool, &blocks)).into_response()
}

fn render_pool(pool: &PoolView, blocks: &[BlockView]) -> String {
    let now = unix_millis();
    let mut html = String::new();
    let _ = write!(
        html,
        "<h1>Mining pool ({network})</h1><p>Connect your miner to <code>{url}</code> \
         with user <code>&lt;your address&gt;.&lt;worker name&gt;</code>; payouts are \
         <b>{mode}</b> with a {fee}&nbsp;% fee.</p>{search}<div class=\"grid\">",
        network = escape(&pool.network),
        url = escape(&pool.stratum_url),
        mode = pool.mode.to_uppercase(),
        fee = pool.fee_percent,
        search = search_form(),
    );
    card(
        &mut html,
        "hashrate 5 min",
        &hashrate(pool.hashrate.five_minutes),
    );
    card(&mut html, "hashrate 1 h", &hashrate(pool.hashrate.hour));
    card(&mut html, "hashrate 24 h", &hashrate(pool.hashrate.day));
    card(
        &mut html,
        "miners / workers",
        &format!("{} / {}", pool.miners, pool.workers),
    );
    card(&mut html, "height", &pool.height.to_string());
    card(
        &mut html,
        "network difficulty",
        &difficulty(pool.network_difficulty),
    );
    card(
        &mut html,
        "round progress",
        &format!("{:.1} %", pool.round.progress_percent),
    );
    card(
        &mut html,
        "last block's luck",
        &pool
            .last_block_luck_percent
            .map_or("no block yet".to_string(), |luck| format!("{luck:.0} %")),
    );
    let _ = write!(
        html,
        "</div><p class=\"note\">Hashrate is the difficulty of accepted shares × 2³² over the \
         window. Round progress is the work since the last block ({shares} shares) against the \
         work one block takes on average; luck is 100&nbsp;% over the effort a block took \
         (above 100&nbsp;% is lucky).</p><h2>Hashrate, last 24 hours</h2>{chart}\
         <h2>Blocks found ({found})</h2><table><tr><th>height</th><th>status</th>\
         <th>reward</th><th>effort</th><th>finder</th><th>found</th></tr>",
        shares = pool.round.shares,
        chart = chart::svg(&pool.chart),
        found = pool.blocks_found,
    );
    for block in blocks {
        let _ = write!(
            html,
            "<tr><td title=\"{hash}\">{height}</td><td>{status}{confirmations}</td><td>{reward}</td>\
             <td>{effort}</td><td><a href=\"/miner/{finder}\">{finder_short}</a>{worker}</td><td>{when}</td></tr>",
            hash = escape(&block.hash),
            height = block.height,
            status = block.status,
            confirmations = if block.status == "submitted" {
                format!(" ({} conf.)", block.confirmations.max(0))
            } else {
                String::new()
            },
            reward = sats(i128::from(block.reward_sat)),
            effort = block
                .effort_percent
                .map_or("–".to_string(), |effort| format!("{effort:.0} %")),
            finder = escape(&block.finder),
            finder_short = escape(&short(&block.finder)),
            worker = if block.worker.is_empty() {
                String::new()
            } else {
                format!(".{}", escape(&block.worker))
            },
            when = ago(block.time_ms, now),
        );
    }
    html.push_str("</table>");
    html
}

/// The first 8 and last 6 characters of a long address. By characters,
/// not bytes: a name read back from the database need not be ASCII.
fn short(address: &str) -> String {
    let characters = address.chars().count();
    if characters > 16 {
        let head: String = address.chars().take(8).collect();
        let tail: String = address.chars().skip(characters - 6).collect();
        format!("{head}…{tail}")
    } else {
        address.to_string()
    }
}

/// `/miner?address=...`: the search box's target.
pub(super) async fn search(
    State(state): State<Arc<WebState>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let address = query
        .get("address")
        .map(|text| text.trim())
        .unwrap_or_default();
    match super::valid_address(&state, address) {
        Some(address) => Redirect::to(&format!("/miner/{address}")).into_response(),
        None => not_an_address(&state, address),
    }
}

fn not_an_address(state: &WebState, address: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        page(
            "pool: not an address",
            &format!(
                "<h1>Not an address</h1><p><code>{}</code> is not a {} address.</p>{}",
                escape(address),
                escape(&state.network.to_string()),
                search_form()
            ),
        ),
    )
        .into_response()
}

pub(super) async fn miner(
    State(state): State<Arc<WebState>>,
    Path(address): Path<String>,
) -> Response {
    let Some(address) = super::valid_address(&state, &address) else {
        return not_an_address(&state, &address);
    };
    let alerts = if state.alerts.miner_webhooks {
        match state.ledger.miner_webhook(&address).await {
            Ok(webhook) => alerts_form(&address, webhook.map(|(_, since)| since)),
            Err(error) => return unavailable(error),
        }
    } else {
        String::new()
    };
    match view::miner_view(&state, &address).await {
        Ok(miner) => {
            let body = render_miner(&miner) + &alerts;
            page(&format!("pool: {address}"), &body).into_response()
        }
        Err(error) => unavailable(error),
    }
}

/// The alert settings: whether a webhook is set (never which), and the
/// form to set one with a signed message.
fn alerts_form(address: &str, set_since_ms: Option<i64>) -> String {
    let now = unix_millis();
    let timestamp = now / 1000;
    let status = match set_since_ms {
        Some(since) => format!("A webhook is set ({}).", ago(since, now)),
        None => "No webhook is set.".to_string(),
    };
    format!(
        "<h2>Alerts</h2><p>{status} The pool POSTs JSON to it when a worker goes offline or \
         comes back, and when the pool finds a block.</p><p class=\"note\">To set it (or, with \
         an empty URL, remove it), sign this exact message with your payout address in your \
         wallet (BIP 322; Bitcoin Core's signmessage for 1… addresses), within ten minutes:\
         <br><code>{message}</code></p><form method=\"post\" action=\"/miner/{address}/alerts\">\
         <input type=\"text\" name=\"webhook\" placeholder=\"https://…\" aria-label=\"webhook URL\"> \
         <input type=\"hidden\" name=\"timestamp\" value=\"{timestamp}\">\
         <input type=\"text\" name=\"signature\" placeholder=\"signature\" aria-label=\"signature\"> \
         <button type=\"submit\">Save</button></form>",
        message = escape(&super::miner_alerts::message(address, "<your URL>", timestamp)),
        address = escape(address),
    )
}

fn render_miner(miner: &MinerView) -> String {
    let now = unix_millis();
    let mut html = String::new();
    let _ = write!(
        html,
        "<p><a href=\"/\">← pool</a></p><h1>Miner <code>{}</code></h1><div class=\"grid\">",
        escape(&miner.address)
    );
    card(
        &mut html,
        "hashrate 5 min",
        &hashrate(miner.hashrate.five_minutes),
    );
    card(&mut html, "hashrate 1 h", &hashrate(miner.hashrate.hour));
    card(&mut html, "hashrate 24 h", &hashrate(miner.hashrate.day));
    card(&mut html, "balance", &sats(i128::from(miner.balance_sat)));
    card(&mut html, "immature", &sats(i128::from(miner.immature_sat)));
    card(
        &mut html,
        "not yet settled",
        &sats(i128::from(miner.unsettled_sat)),
    );
    let _ = write!(
        html,
        "</div><p class=\"note\">Balance is what the next payout run pays once it reaches the \
         threshold; immature credits wait for their block's 100 confirmations; PPS credits \
         join the balance at the next payout run.</p><h2>Hashrate, last 24 hours</h2>{chart}\
         <h2>Workers</h2><table><tr><th>worker</th><th>hashrate 5 min / 1 h</th><th>difficulty</th>\
         <th>last share</th><th>accepted</th><th>stale / dup. / low / other</th><th>best share</th>\
         <th>jobs</th></tr>",
        chart = chart::svg(&miner.chart),
    );
    for worker in &miner.workers {
        let _ = write!(
            html,
            "<tr><td>{name}{online}</td><td>{five} / {hour}</td><td>{difficulty}</td><td>{last}</td>\
             <td>{accepted}</td><td>{stale} / {duplicate} / {low} / {rejected}</td><td>{best}</td>\
             <td>{jobs}</td></tr>",
            name = if worker.name.is_empty() { "(default)".to_string() } else { escape(&worker.name) },
            online = if worker.online { " ●" } else { " (offline)" },
            five = hashrate(worker.hashrate.five_minutes),
            hour = hashrate(worker.hashrate.hour),
            difficulty = difficulty(worker.difficulty),
            last = worker.last_share_ms.map_or("never".to_string(), |last| ago(last, now)),
            accepted = worker.accepted,
            stale = worker.stale,
            duplicate = worker.duplicate,
            low = worker.low_difficulty,
            rejected = worker.rejected,
            best = difficulty(worker.best_share_difficulty),
            jobs = worker.jobs_sent,
        );
    }
    html.push_str(
        "</table><p class=\"note\">Counts since the pool started; hashrate from the shares in the \
         ledger.</p><h2>Credits from blocks</h2><table><tr><th>block</th><th>state</th>\
         <th>amount</th><th>how</th></tr>",
    );
    for credit in &miner.credits {
        let _ = write!(
            html,
            "<tr><td title=\"{hash}\">{height}</td><td>{state}</td><td>{amount}</td><td class=\"note\">{how}</td></tr>",
            hash = escape(&credit.block_hash),
            height = credit.block_height,
            state = credit.state,
            amount = sats(i128::from(credit.amount_sat)),
            how = escape(&credit.explanation),
        );
    }
    html.push_str("</table><h2>Payouts</h2><table><tr><th>when</th><th>amount</th><th>state</th><th>transaction</th></tr>");
    for payment in &miner.payments {
        let _ = write!(
            html,
            "<tr><td>{when}</td><td>{amount}</td><td>{state}</td><td><code>{txid}</code></td></tr>",
            when = ago(payment.time_ms, now),
            amount = sats(i128::from(payment.amount_sat)),
            state = payment.state,
            txid = payment.txid.as_deref().map(escape).unwrap_or_default(),
        );
    }
    html.push_str("</table>");
    html
}

#[cfg(test)]
mod tests {
    use super::short;

    #[test]
    fn short_addresses_cut_on_characters() {
        assert_eq!(
            short("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"),
            "bc1qar0s…wf5mdq"
        );
        assert_eq!(short("bc1qshort"), "bc1qshort");
        // Byte slicing at 8 would cut the 'é' (bytes 7 and 8) and panic.
        let odd = "abcdefgéhijklmnopqrstuvwxyzé€";
        assert_eq!(short(odd), "abcdefgé…wxyzé€");
    }
}
