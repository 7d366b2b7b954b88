//! The connection limit follows the file-descriptor limit: the soft limit
//! is raised to the hard one at start, and 90 % of it (less a reserve for
//! the database, nodes and logs) goes to miners.

/// Descriptors kept for everything that is not a miner.
const RESERVE: u64 = 64;

/// Raises the soft limit to the hard one and returns how many miners fit.
pub(super) fn connection_limit() -> usize {
    let limit = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(error) => {
            tracing::warn!(%error, "cannot raise the file-descriptor limit");
            rlimit::getrlimit(rlimit::Resource::NOFILE)
                .map(|(soft, _)| soft)
                .unwrap_or(1024)
        }
    };
    let miners = (limit.saturating_mul(9) / 10)
        .saturating_sub(RESERVE)
        .max(1);
    usize::try_from(miners).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    #[test]
    fn leaves_room_for_the_rest() {
        let limit = super::connection_limit() as u64;
        let (soft, _) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
        assert!(limit >= 1 && limit < soft, "{limit} of {soft}");
    }
}
