//! `/health`: named checks (broker ready, log directories online, Connect worker ready) that each
//! part of the process registers; healthy only when every check passes.

use serde_json::{json, Value};

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub ok: bool,
    /// What was seen, for a human reading the answer (`"2 of 2 log directories online"`).
    pub detail: String,
}

impl Check {
    pub fn ok(detail: impl Into<String>) -> Check {
        Check {
            ok: true,
            detail: detail.into(),
        }
    }

    pub fn failing(detail: impl Into<String>) -> Check {
        Check {
            ok: false,
            detail: detail.into(),
        }
    }
}

/// Every check's outcome, by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthReport {
    pub checks: Vec<(String, Check)>,
}

impl HealthReport {
    pub fn healthy(&self) -> bool {
        self.checks.iter().all(|(_, c)| c.ok)
    }

    /// Every check as `{name: {"status": "healthy"|"unhealthy", "detail"}}` (Connect's words).
    pub fn checks_json(&self) -> Value {
        let checks: serde_json::Map<String, Value> = self
            .checks
            .iter()
            .map(|(n, c)| {
                (
                    n.clone(),
                    json!({"status": status(c.ok), "detail": c.detail}),
                )
            })
            .collect();
        Value::Object(checks)
    }

    /// What fails, for a message (`"log_dirs: offline: /data"`); empty when healthy.
    pub fn failures(&self) -> String {
        self.checks
            .iter()
            .filter(|(_, c)| !c.ok)
            .map(|(n, c)| format!("{n}: {}", c.detail))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// `{"status": "healthy"|"unhealthy", "message", "checks": {...}}`, the shape of Kafka
    /// Connect's `/health` with the checks added.
    pub fn to_json(&self) -> Value {
        let message = if self.healthy() {
            "Weft is ready to handle requests.".to_string()
        } else {
            self.failures()
        };
        json!({"status": status(self.healthy()), "message": message, "checks": self.checks_json()})
    }
}

fn status(ok: bool) -> &'static str {
    if ok {
        "healthy"
    } else {
        "unhealthy"
    }
}
