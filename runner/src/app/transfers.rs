//! What each tenant's document uploads and downloads carried today (UTC),
//! on this replica, against `--tenant-max-transfer-mb-per-day`; and the
//! largest body one transfer may carry (`--max-transfer-mb`).

use std::collections::HashMap;
use std::sync::Mutex;

/// Bytes per tenant per UTC day, and the limits.
pub struct Transfers {
    per_request: u64,
    per_day: u64,
    /// Tenant name → (day number since the epoch, bytes that day).
    today: Mutex<HashMap<String, (u64, u64)>>,
}

const DAY_MS: u64 = 24 * 60 * 60 * 1000;

impl Transfers {
    /// Limits of `per_request` bytes per transfer and `per_day` per tenant.
    pub fn new(per_request: u64, per_day: u64) -> Self {
        Self {
            per_request,
            per_day,
            today: Mutex::new(HashMap::new()),
        }
    }

    /// The bytes one transfer of `tenant` may carry now: the smaller of the
    /// per-transfer limit and what is left of today's; `Err` with the daily
    /// limit in MiB when nothing is left.
    pub fn allowance(&self, tenant: &str) -> Result<u64, u64> {
        let day = today();
        let used = match self.today.lock().expect("transfers").get(tenant) {
            Some((counted_day, bytes)) if *counted_day == day => *bytes,
            _ => 0,
        };
        let left = self.per_day.saturating_sub(used);
        if left == 0 {
            return Err(self.per_day / (1024 * 1024));
        }
        Ok(left.min(self.per_request))
    }

    /// Counts `bytes` a transfer of `tenant` carried.
    pub fn count(&self, tenant: &str, bytes: u64) {
        let day = today();
        let mut today = self.today.lock().expect("transfers");
        let entry = today.entry(tenant.to_owned()).or_insert((day, 0));
        if entry.0 != day {
            *entry = (day, 0);
        }
        entry.1 = entry.1.saturating_add(bytes);
    }
}

fn today() -> u64 {
    crate::registry::store::now_ms().max(0) as u64 / DAY_MS
}

#[cfg(test)]
mod tests {
    use super::Transfers;

    #[test]
    fn a_transfer_gets_what_is_left_of_the_day_up_to_the_request_limit() {
        let transfers = Transfers::new(100, 250 * 1024 * 1024);
        assert_eq!(transfers.allowance("acme"), Ok(100));
        transfers.count("acme", 250 * 1024 * 1024 - 40);
        assert_eq!(transfers.allowance("acme"), Ok(40));
        assert_eq!(transfers.allowance("globex"), Ok(100), "per tenant");
        transfers.count("acme", 40);
        assert_eq!(transfers.allowance("acme"), Err(250));
    }
}
