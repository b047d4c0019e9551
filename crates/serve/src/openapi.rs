//! The OpenAPI 3.1 document served at `/openapi.json`. Written out by hand from `api`'s
//! routes; `tests` checks that every route the router serves is in it and the other way round.

use serde_json::{json, Value};

/// Every path the document describes, with its methods (for the route test).
pub const PATHS: &[(&str, &[&str])] = &[
    ("/", &["get"]),
    ("/health", &["get"]),
    ("/metrics", &["get"]),
    ("/openapi.json", &["get"]),
    ("/v1/models", &["get", "post"]),
    ("/v1/models/{id}", &["get", "delete"]),
    ("/v1/jobs", &["get", "post"]),
    ("/v1/jobs/{id}", &["get"]),
    ("/v1/jobs/{id}/cancel", &["post"]),
    ("/v1/jobs/{id}/proof", &["get"]),
    ("/v1/jobs/{id}/result", &["get"]),
    ("/v1/jobs/{id}/events", &["get"]),
];

fn error_responses(codes: &[&str]) -> Value {
    let mut m = serde_json::Map::new();
    for c in codes {
        let what = match *c {
            "400" => "The request is malformed or names something unusable (one line says what)",
            "401" => "Missing or unknown API key",
            "403" => "Not allowed on this server",
            "404" => "No such model or job (or not this key's)",
            "409" => "Not possible in the job's or model's present state",
            "413" => "The body is larger than the server's limit",
            "415" => "The body's Content-Type is not the one the route takes",
            "429" => "The queue, or this key's share of it, is full",
            _ => "Error",
        };
        m.insert(
            (*c).to_string(),
            json!({"description": what, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}),
        );
    }
    Value::Object(m)
}

fn with(mut ok: Value, errors: &[&str]) -> Value {
    if let (Some(o), Value::Object(e)) = (ok.as_object_mut(), error_responses(errors)) {
        o.extend(e);
    }
    ok
}

pub fn document() -> Value {
    let id_param = json!([{"name": "id", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[0-9a-f]{1,64}$"}}]);
    let job_ok = json!({"200": {"description": "The job", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Job"}}}}});
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "zkgrad proving service",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Upload ONNX models, post prove, verify and training jobs, follow their progress, fetch proofs. Every error is {\"error\": \"one line\"}. Authenticate with Authorization: Bearer KEY when the server has keys."
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
                "Model": {"type": "object", "properties": {
                    "model_id": {"type": "string", "description": "The model commitment under the default options (64 hex digits)"},
                    "commitment": {"type": "string"},
                    "parameters": {"type": "integer"},
                    "inputs": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}, "shape": {"type": "array", "items": {"type": "integer"}}}}, "description": "The graph's inputs, in the order their values are concatenated in a prove job's input"},
                    "input_values": {"type": "integer"},
                    "dynamic_input": {"type": "boolean"},
                    "outputs": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}, "shape": {"type": "array", "items": {"type": "integer"}}}}},
                    "pcs": {"type": "string"}, "act_frac": {"type": "integer"}, "weight_frac": {"type": "integer"}, "table_bits": {"type": "integer"},
                    "size_bytes": {"type": "integer"}, "created_at": {"type": "number"}
                }},
                "ProveOptions": {"type": "object", "additionalProperties": false, "properties": {
                    "pcs": {"enum": ["auto", "ligero", "whir", "whir-unique"]},
                    "table_bits": {"type": "integer", "minimum": 4, "maximum": 20},
                    "act_frac": {"type": "integer"}, "weight_frac": {"type": "integer"},
                    "per_tensor_scales": {"type": "boolean"}, "global_scale": {"type": "boolean"}
                }},
                "TrainOptions": {"type": "object", "additionalProperties": false, "required": ["lr", "loss"], "properties": {
                    "steps": {"type": "integer", "minimum": 1}, "loss": {"enum": ["mse", "xent"]},
                    "lr": {"type": "number", "exclusiveMinimum": 0}, "batch": {"type": "integer", "minimum": 1},
                    "prove": {"type": "boolean", "default": true}, "shuffle": {"type": "integer"},
                    "lora_rank": {"type": "integer"}, "lora_alpha": {"type": "number"}, "lora_targets": {"type": "string"},
                    "table_bits": {"type": "integer"}, "act_frac": {"type": "integer"}, "weight_frac": {"type": "integer"}
                }},
                "JobRequest": {"oneOf": [
                    {"type": "object", "additionalProperties": false, "required": ["kind", "model_id", "input"], "properties": {
                        "kind": {"const": "prove"}, "model_id": {"type": "string"},
                        "input": {"description": "{\"input_data\": [[...]]} or a nested array of numbers"},
                        "options": {"$ref": "#/components/schemas/ProveOptions"},
                        "time_limit_s": {"type": "number", "exclusiveMinimum": 0}}},
                    {"type": "object", "additionalProperties": false, "required": ["kind"], "properties": {
                        "kind": {"const": "verify"},
                        "model_id": {"type": "string"}, "commitment": {"type": "string", "description": "Instead of model_id"},
                        "proof_base64": {"type": "string"}, "proof_job_id": {"type": "string", "description": "Instead of proof_base64: a succeeded prove job's proof"},
                        "options": {"$ref": "#/components/schemas/ProveOptions"},
                        "time_limit_s": {"type": "number", "exclusiveMinimum": 0}}},
                    {"type": "object", "additionalProperties": false, "required": ["kind", "model_id", "data", "options"], "properties": {
                        "kind": {"const": "train"}, "model_id": {"type": "string"},
                        "data": {"type": "object", "required": ["x", "y"], "properties": {"x": {"type": "array"}, "y": {"type": "array"}}},
                        "options": {"$ref": "#/components/schemas/TrainOptions"},
                        "time_limit_s": {"type": "number", "exclusiveMinimum": 0}}}
                ]},
                "Progress": {"type": "object", "properties": {
                    "stage": {"type": "string", "description": "prove: load, weights, forward, commitments, lookups, layers, openings, write; train: step"},
                    "done": {"type": "integer"}, "of": {"type": "integer"}, "fraction": {"type": "number"}
                }},
                "Job": {"type": "object", "properties": {
                    "job_id": {"type": "string"}, "kind": {"enum": ["prove", "verify", "train"]},
                    "state": {"enum": ["queued", "running", "succeeded", "failed", "cancelled", "timed_out"]},
                    "model_id": {"type": ["string", "null"]},
                    "created_at": {"type": "number"}, "started_at": {"type": ["number", "null"]}, "finished_at": {"type": ["number", "null"]},
                    "timings": {"type": "object", "properties": {"queued_s": {"type": ["number", "null"]}, "running_s": {"type": ["number", "null"]}}},
                    "progress": {"$ref": "#/components/schemas/Progress"},
                    "attempts": {"type": "integer"}, "worker": {"type": ["string", "null"], "description": "The worker holding the running job's lease"}, "cancel_requested": {"type": "boolean"}, "time_limit_s": {"type": "number"},
                    "error": {"type": ["string", "null"]},
                    "links": {"type": "object"}
                }}
            }
        },
        "security": [{"bearer": []}],
        "paths": {
            "/": {"get": {"summary": "The status page (HTML)", "security": [], "responses": {"200": {"description": "HTML"}}}},
            "/health": {"get": {"summary": "Liveness, the database engine and the queue depth", "security": [], "responses": {"200": {"description": "OK"}}}},
            "/metrics": {"get": {"summary": "Prometheus metrics: zkgrad_queue_depth, zkgrad_jobs{state}, zkgrad_prove_seconds histogram", "security": [], "responses": {"200": {"description": "text/plain; version=0.0.4"}}}},
            "/openapi.json": {"get": {"summary": "This document", "security": [], "responses": {"200": {"description": "OpenAPI 3.1"}}}},
            "/v1/models": {
                "post": {"summary": "Upload a model (the ONNX file as the raw body), or name one on the server ({\"path\": …} as JSON, with --model-dir). Validated (imported and committed) before anything is stored; idempotent: the id is the commitment.",
                    "requestBody": {"required": true, "content": {
                        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                        "application/json": {"schema": {"type": "object", "properties": {"path": {"type": "string"}}}}}},
                    "responses": with(json!({
                        "201": {"description": "Stored", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Model"}}}},
                        "200": {"description": "Already stored", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Model"}}}}}),
                        &["400", "401", "403", "413", "415"])},
                "get": {"summary": "The models this key uploaded or registered", "responses": with(json!({"200": {"description": "{\"models\": [Model]}"}}), &["401"])}
            },
            "/v1/models/{id}": {
                "parameters": id_param,
                "get": {"summary": "One model", "responses": with(json!({"200": {"description": "The model", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Model"}}}}}), &["401", "404"])},
                "delete": {"summary": "Give up this key's hold on a model without queued or running jobs (the model goes with its last holder)", "responses": with(json!({"204": {"description": "Deleted"}}), &["401", "404", "409"])}
            },
            "/v1/jobs": {
                "post": {"summary": "Queue a job", "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/JobRequest"}}}},
                    "responses": with(json!({"202": {"description": "{\"job_id\", \"state\": \"queued\", \"links\"}"}}), &["400", "401", "413", "415", "429"])},
                "get": {"summary": "This key's newest jobs", "parameters": [
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}},
                        {"name": "state", "in": "query", "schema": {"type": "string"}}],
                    "responses": with(json!({"200": {"description": "{\"jobs\": [Job]}"}}), &["400", "401"])}
            },
            "/v1/jobs/{id}": {"parameters": id_param, "get": {"summary": "A job: state, progress, timings, error", "responses": with(job_ok.clone(), &["401", "404"])}},
            "/v1/jobs/{id}/cancel": {"parameters": id_param, "post": {"summary": "Cancel: a queued job at once (200), a running one within a second (202)",
                "responses": with(json!({"200": {"description": "Cancelled"}, "202": {"description": "Cancel requested"}}), &["401", "404", "409"])}},
            "/v1/jobs/{id}/proof": {"parameters": id_param, "get": {"summary": "A succeeded prove job's proof file, or a training job's run directory as a tar archive",
                "responses": with(json!({"200": {"description": "application/octet-stream or application/x-tar"}}), &["401", "404", "409"])}},
            "/v1/jobs/{id}/result": {"parameters": id_param, "get": {"summary": "A succeeded job's summary: as the CLI's --json (prove: output_data, model_commitment, prove_ms, …; verify: verified; train: steps, final_weight_root, …)",
                "responses": with(json!({"200": {"description": "The summary"}}), &["401", "404", "409"])}},
            "/v1/jobs/{id}/events": {"parameters": id_param, "get": {"summary": "Server-sent events: event `job` with the Job whenever its state or progress changes, until it ends",
                "responses": with(json!({"200": {"description": "text/event-stream"}}), &["401", "404"])}}
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_path_and_method_is_documented() {
        let doc = document();
        let paths = doc["paths"].as_object().unwrap();
        assert_eq!(paths.len(), PATHS.len());
        for (p, methods) in PATHS {
            for m in *methods {
                assert!(paths[*p][*m].is_object(), "{m} {p} undocumented");
            }
        }
    }
}
