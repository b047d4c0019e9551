//! The benchmark's report: a markdown table of the workloads' rows, with the top-1 agreement of
//! the real models and, for the training suites, how many updates each step kept.

use serde_json::Value;

/// The bracketed magnitude of a row: two decimals, or two significant digits when small.
fn scale_figure(v: f64) -> String {
    if v.abs() >= 0.01 || v == 0.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.1e}")
    }
}

/// The markdown table of `rows` (one JSON object per workload) for the suite `suite`.
pub fn table(rows: &[Value], suite: &str) -> String {
    let mut table = String::from(
        "| workload | params | prove | verify | proof | peak RSS | weight commit (once) | max abs error (output scale) | precision |\n|---|---|---|---|---|---|---|---|---|\n",
    );
    for v in rows {
        table += &format!(
            "| {} | {} | {:.1} ms | {:.2} ms | {:.1} KiB | {:.0} MB | {:.1} ms | {:.1e} ({}) | act 2^-{}, w 2^-{}, tables 2^{}, {} |\n",
            v["workload"].as_str().unwrap_or("?"),
            v["params"],
            v["prove_ms"].as_f64().unwrap_or(f64::NAN),
            v["verify_ms"].as_f64().unwrap_or(f64::NAN),
            v["proof_bytes"].as_f64().unwrap_or(f64::NAN) / 1024.0,
            v["peak_rss_mb"].as_f64().unwrap_or(f64::NAN),
            v["commit_ms"].as_f64().unwrap_or(f64::NAN),
            v["max_abs_error"].as_f64().unwrap_or(f64::NAN),
            scale_figure(v["max_abs_output"].as_f64().unwrap_or(f64::NAN)),
            v["act_frac"], v["weight_frac"], v["table_bits"],
            v["pcs"].as_str().unwrap_or("ligero"),
        );
    }
    let real: Vec<String> = rows
        .iter()
        .filter(|v| v["top1_inputs"].as_u64().unwrap_or(0) > 0)
        .map(|v| {
            format!(
                "{} {}/{} (max logit error {:.1e})",
                v["workload"].as_str().unwrap_or("?"),
                v["top1_agree"],
                v["top1_inputs"],
                v["top1_max_logit_error"].as_f64().unwrap_or(f64::NAN)
            )
        })
        .collect();
    if !real.is_empty() {
        table += &format!(
            "\ntop-1 class of the proven output equal to the float model's: {}\n",
            real.join(", ")
        );
    }
    if suite == "training" || suite == "lora" {
        table += "\nupdates kept (parameters whose f64 update exceeds one quantum and whose proven update has its sign): ";
        let parts: Vec<String> = rows
            .iter()
            .map(|v| {
                format!(
                    "{} {}/{}",
                    v["workload"].as_str().unwrap_or("?"),
                    v["updates_kept"],
                    v["updates_moved"]
                )
            })
            .collect();
        table += &parts.join(", ");
        table += "\n";
    }
    table
}
