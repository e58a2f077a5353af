package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// The Grafana dashboard is generated from the definitions below
// (go run . -write-dashboard ../grafana/chassis.json) so that its layout
// stays regular; the check reads the JSON file, so hand edits are checked
// too. Every query filters on the $job and $instance variables and uses
// $__rate_interval, which the check substitutes.

// sel is the label filter every query carries.
const sel = `job=~"$job", instance=~"$instance"`

type target struct{ expr, legend string }

type panel struct {
	title, desc, unit string
	kind              string // timeseries (default) or stat
	targets           []target
}

type row struct {
	title  string
	panels []panel
}

// q returns a target whose expr has {S} replaced by the common selector.
func q(expr, legend string) target {
	return target{strings.ReplaceAll(expr, "{S}", "{"+sel+"}"), legend}
}

// qs is q for a selector that already has other matchers: {S, ...}.
func qs(expr, legend string) target {
	return target{strings.ReplaceAll(expr, "{S,", "{"+sel+","), legend}
}

func rate(m string) string { return "rate(" + m + "[$__rate_interval])" }

func p99(metric, by string) string {
	return fmt.Sprintf("histogram_quantile(0.99, sum by (le%s) (%s))", by, rate(metric+"_bucket{S}"))
}

func burn(proto, ratio, obj, name string) panel {
	var ts []target
	for _, w := range []string{"5m", "30m", "1h", "6h"} {
		ts = append(ts, target{fmt.Sprintf(`job:chassis_%s_%s:rate%s{job=~"$job"} / on () group_left () (1 - %s)`, proto, ratio, w, obj), "{{job}} " + w})
	}
	return panel{title: name, unit: "x", targets: ts,
		desc: "Error budget burn rate per window (1 = spending the budget exactly over 30 days). The fast-burn alert fires above 14.4 on 1h and 5m, the slow-burn alert above 6 on 6h and 30m. See docs/monitoring.md."}
}

var rows = []row{
	{"SLOs (recording rules of monitoring/prometheus/slo.yml)", []panel{
		burn("http", "error_ratio", "chassis:slo_availability_objective", "HTTP availability: budget burn rate"),
		burn("http", "slow_ratio", "chassis:slo_latency_objective", "HTTP latency: budget burn rate"),
		burn("grpc", "error_ratio", "chassis:slo_availability_objective", "gRPC availability: budget burn rate"),
		burn("grpc", "slow_ratio", "chassis:slo_latency_objective", "gRPC latency: budget burn rate"),
		{title: "HTTP availability (1h)", kind: "stat", unit: "percentunit", targets: []target{{`1 - job:chassis_http_error_ratio:rate1h{job=~"$job"}`, "{{job}}"}}},
		{title: "HTTP requests within the latency threshold (1h)", kind: "stat", unit: "percentunit", targets: []target{{`1 - job:chassis_http_slow_ratio:rate1h{job=~"$job"}`, "{{job}}"}}},
		{title: "gRPC availability (1h)", kind: "stat", unit: "percentunit", targets: []target{{`1 - job:chassis_grpc_error_ratio:rate1h{job=~"$job"}`, "{{job}}"}}},
		{title: "gRPC calls within the latency threshold (1h)", kind: "stat", unit: "percentunit", targets: []target{{`1 - job:chassis_grpc_slow_ratio:rate1h{job=~"$job"}`, "{{job}}"}}},
	}},
	{"httpkit: HTTP server (otelhttp)", []panel{
		{title: "Requests by status", unit: "reqps", targets: []target{q(`sum by (http_response_status_code) (`+rate("http_server_request_duration_seconds_count{S}")+`)`, "{{http_response_status_code}}")}},
		{title: "Requests by route", unit: "reqps", targets: []target{q(`sum by (http_request_method, http_route) (`+rate("http_server_request_duration_seconds_count{S}")+`)`, "{{http_request_method}} {{http_route}}")}},
		{title: "Server error ratio (5xx)", unit: "percentunit", targets: []target{qs(`sum(`+rate(`http_server_request_duration_seconds_count{S, http_response_status_code=~"5.."}`)+`) / sum(`+strings.ReplaceAll(rate("http_server_request_duration_seconds_count{S}"), "{S}", "{"+sel+"}")+`)`, "5xx ratio")}},
		{title: "Latency p50 / p99", unit: "s", targets: []target{
			q(`histogram_quantile(0.5, sum by (le) (`+rate("http_server_request_duration_seconds_bucket{S}")+`))`, "p50"),
			q(p99("http_server_request_duration_seconds", ""), "p99")}},
		{title: "Latency p99 by route", unit: "s", targets: []target{q(p99("http_server_request_duration_seconds", ", http_route"), "{{http_route}}")}},
		{title: "Body sizes p99", unit: "bytes", targets: []target{
			q(p99("http_server_request_body_size_bytes", ""), "request p99"),
			q(p99("http_server_response_body_size_bytes", ""), "response p99")}},
	}},
	{"grpckit: gRPC server and client", []panel{
		{title: "Server calls by method and code", unit: "reqps", targets: []target{q(`sum by (rpc_method, rpc_response_status_code) (`+rate("rpc_server_call_duration_seconds_count{S}")+`)`, "{{rpc_method}} {{rpc_response_status_code}}")}},
		{title: "Server latency p99 by method", unit: "s", targets: []target{q(p99("rpc_server_call_duration_seconds", ", rpc_method"), "{{rpc_method}}")}},
		{title: "Client calls by method and code", unit: "reqps", targets: []target{q(`sum by (rpc_method, rpc_response_status_code) (`+rate("rpc_client_call_duration_seconds_count{S}")+`)`, "{{rpc_method}} {{rpc_response_status_code}}")}},
		{title: "Client latency p99 by method", unit: "s", targets: []target{q(p99("rpc_client_call_duration_seconds", ", rpc_method"), "{{rpc_method}}")}},
		{title: "Client retries, hedges, budget exhausted", unit: "ops", targets: []target{
			q(`sum by (rpc_method) (`+rate("chassis_grpc_client_retries_total{S}")+`)`, "retries {{rpc_method}}"),
			q(`sum by (rpc_method) (`+rate("chassis_grpc_client_hedges_total{S}")+`)`, "hedges {{rpc_method}}"),
			q(`sum by (rpc_method) (`+rate("chassis_grpc_client_retry_budget_exhausted_total{S}")+`)`, "refused by the budget {{rpc_method}}")}},
		{title: "Client breakers: transitions and rejections by target", unit: "short", targets: []target{
			q(`sum by (chassis_grpc_target, chassis_breaker_state) (increase(chassis_grpc_client_breaker_transitions_total{S}[$__rate_interval]))`, "{{chassis_grpc_target}} to {{chassis_breaker_state}}"),
			q(`sum by (chassis_grpc_target) (`+rate("chassis_grpc_client_breaker_rejections_total{S}")+`)`, "{{chassis_grpc_target}} rejections/s")}},
	}},
	{"guard: rate limits, timeouts, body and IP limits", []panel{
		{title: "Rate-limit decisions", unit: "ops", desc: "error: the limiter failed and the middleware applied its failure policy.", targets: []target{q(`sum by (otel_scope_name, chassis_limiter, chassis_decision) (`+rate("chassis_ratelimit_decisions_total{S}")+`)`, "{{otel_scope_name}} {{chassis_limiter}} {{chassis_decision}}")}},
		{title: "Rate-limit denied ratio", unit: "percentunit", targets: []target{qs(`sum by (chassis_limiter) (`+rate(`chassis_ratelimit_decisions_total{S, chassis_decision="denied"}`)+`) / sum by (chassis_limiter) (`+strings.ReplaceAll(rate("chassis_ratelimit_decisions_total{S}"), "{S}", "{"+sel+"}")+`)`, "{{chassis_limiter}}")}},
		{title: "Keys tracked by the memory limiter", unit: "short", targets: []target{q(`sum by (instance) (chassis_ratelimit_keys{S})`, "{{instance}}")}},
		{title: "Timeouts", unit: "reqps", desc: "before_response: a 504 was sent; after_response: the response had started and was aborted. Overruns: handlers that ignored cancellation.", targets: []target{
			q(`sum by (chassis_phase) (`+rate("chassis_timeout_expired_total{S}")+`)`, "expired {{chassis_phase}}"),
			q(`sum(`+rate("chassis_timeout_overruns_total{S}")+`)`, "overruns")}},
		{title: "Guard rejections (IP filter 403, body limit 413)", unit: "reqps", targets: []target{q(`sum by (chassis_guard) (`+rate("chassis_guard_rejections_total{S}")+`)`, "{{chassis_guard}}")}},
	}},
	{"guard/redislimit: shared rate limits on Redis", []panel{
		{title: "Redis errors by class", unit: "ops", targets: []target{q(`sum by (error_type) (`+rate("chassis_redislimit_errors_total{S}")+`)`, "{{error_type}}")}},
		{title: "Decisions made without Redis (degraded)", unit: "ops", targets: []target{q(`sum by (chassis_degraded_mode) (`+rate("chassis_redislimit_degraded_total{S}")+`)`, "{{chassis_degraded_mode}}")}},
		{title: "Denials from the local deny cache", unit: "ops", targets: []target{q(`sum(`+rate("chassis_redislimit_deny_cache_hits_total{S}")+`)`, "deny cache hits")}},
	}},
	{"call: outbound HTTP (retries, budget, breaker)", []panel{
		{title: "Client attempts by host and outcome", unit: "reqps", targets: []target{q(`sum by (server_address, http_response_status_code, error_type) (`+rate("http_client_request_duration_seconds_count{S}")+`)`, "{{server_address}} {{http_response_status_code}} {{error_type}}")}},
		{title: "Client latency p99 by host", unit: "s", targets: []target{q(p99("http_client_request_duration_seconds", ", server_address"), "{{server_address}}")}},
		{title: "Retries, hedges, budget exhausted", unit: "ops", targets: []target{
			q(`sum by (http_request_method) (`+rate("chassis_call_retries_total{S}")+`)`, "retries {{http_request_method}}"),
			q(`sum(`+rate("chassis_call_hedges_total{S}")+`)`, "hedges"),
			q(`sum(`+rate("chassis_call_retry_budget_exhausted_total{S}")+`)`, "retries refused by the budget")}},
		{title: "Breaker transitions (by new state)", unit: "short", targets: []target{q(`sum by (chassis_breaker_state) (increase(chassis_call_breaker_transitions_total{S}[$__rate_interval]))`, "{{chassis_breaker_state}}")}},
		{title: "Attempts refused by an open breaker", unit: "ops", targets: []target{q(`sum(`+rate("chassis_call_breaker_rejections_total{S}")+`)`, "rejections")}},
	}},
	{"work: structured concurrency", []panel{
		{title: "Tasks in flight", unit: "short", targets: []target{q(`sum by (chassis_work_op) (chassis_work_inflight{S})`, "{{chassis_work_op}}")}},
	}},
	{"health: checks behind /readyz and gRPC health", []panel{
		{title: "Check runs by status", unit: "ops", targets: []target{q(`sum by (chassis_check, chassis_check_status) (`+rate("chassis_health_check_duration_seconds_count{S}")+`)`, "{{chassis_check}} {{chassis_check_status}}")}},
		{title: "Check duration p99", unit: "s", targets: []target{q(p99("chassis_health_check_duration_seconds", ", chassis_check"), "{{chassis_check}}")}},
	}},
	{"flags: OpenFeature provider", []panel{
		{title: "Flag file reloads", unit: "short", targets: []target{q(`sum by (chassis_outcome) (increase(chassis_flags_reloads_total{S}[$__rate_interval]))`, "{{chassis_outcome}}")}},
		{title: "Evaluations by flag and reason", unit: "ops", targets: []target{q(`sum by (feature_flag_key, feature_flag_result_reason) (`+rate("chassis_flags_evaluations_total{S}")+`)`, "{{feature_flag_key}} {{feature_flag_result_reason}}")}},
	}},
	{"cache: in-process cache", []panel{
		{title: "Hit ratio by cache", unit: "percentunit", targets: []target{q(`sum by (chassis_cache_name) (`+rate("chassis_cache_hits_total{S}")+`) / (sum by (chassis_cache_name) (`+rate("chassis_cache_hits_total{S}")+`) + sum by (chassis_cache_name) (`+rate("chassis_cache_misses_total{S}")+`))`, "{{chassis_cache_name}}")}},
		{title: "Loads and load errors", unit: "ops", targets: []target{
			q(`sum by (chassis_cache_name) (`+rate("chassis_cache_loads_total{S}")+`)`, "loads {{chassis_cache_name}}"),
			q(`sum by (chassis_cache_name, error_type) (`+rate("chassis_cache_load_errors_total{S}")+`)`, "errors {{chassis_cache_name}} {{error_type}}")}},
		{title: "Evictions by reason", unit: "ops", targets: []target{q(`sum by (chassis_cache_name, chassis_cache_reason) (`+rate("chassis_cache_evictions_total{S}")+`)`, "{{chassis_cache_name}} {{chassis_cache_reason}}")}},
		{title: "Entries", unit: "short", targets: []target{q(`sum by (chassis_cache_name) (chassis_cache_entries{S})`, "{{chassis_cache_name}}")}},
	}},
	{"cache/rediscache: shared tier on Redis", []panel{
		{title: "Redis lookups by result", unit: "ops", targets: []target{q(`sum by (chassis_cache_name, chassis_cache_result) (`+rate("chassis_rediscache_lookups_total{S}")+`)`, "{{chassis_cache_name}} {{chassis_cache_result}}")}},
		{title: "Redis errors by operation and class", unit: "ops", targets: []target{q(`sum by (chassis_rediscache_op, error_type) (`+rate("chassis_rediscache_errors_total{S}")+`)`, "{{chassis_rediscache_op}} {{error_type}}")}},
		{title: "Invalidations and resyncs", unit: "ops", targets: []target{
			q(`sum(`+rate("chassis_rediscache_invalidations_sent_total{S}")+`)`, "sent"),
			q(`sum(`+rate("chassis_rediscache_invalidations_received_total{S}")+`)`, "received"),
			q(`sum(`+rate("chassis_rediscache_resyncs_total{S}")+`)`, "resyncs")}},
	}},
	{"tick: scheduled jobs", []panel{
		{title: "Time since last success", unit: "s", desc: "ChassisJobStale fires when this exceeds twice the job's usual interval (and 15m).", targets: []target{q(`max by (chassis_job) (chassis_tick_last_success_age_seconds{S})`, "{{chassis_job}}")}},
		{title: "Runs and failures", unit: "ops", targets: []target{
			q(`sum by (chassis_job) (`+rate("chassis_tick_runs_total{S}")+`)`, "runs {{chassis_job}}"),
			q(`sum by (chassis_job, error_type) (`+rate("chassis_tick_failures_total{S}")+`)`, "failures {{chassis_job}} {{error_type}}")}},
		{title: "Skipped ticks by reason", unit: "ops", targets: []target{q(`sum by (chassis_job, chassis_tick_reason) (`+rate("chassis_tick_skipped_total{S}")+`)`, "{{chassis_job}} {{chassis_tick_reason}}")}},
		{title: "Run duration p99", unit: "s", targets: []target{q(p99("chassis_tick_duration_seconds", ", chassis_job"), "{{chassis_job}}")}},
	}},
	{"runtime: Go and process (telemetry)", []panel{
		{title: "Goroutines", unit: "short", targets: []target{q(`sum by (instance) (go_goroutines{S})`, "{{instance}}")}},
		{title: "Memory: resident and heap in use", unit: "bytes", targets: []target{
			q(`sum by (instance) (process_resident_memory_bytes{S})`, "resident {{instance}}"),
			q(`sum by (instance) (go_memstats_heap_inuse_bytes{S})`, "heap {{instance}}")}},
		{title: "CPU", unit: "percentunit", desc: "CPU seconds per second: 1 is one core.", targets: []target{q(`sum by (instance) (`+rate("process_cpu_seconds_total{S}")+`)`, "{{instance}}")}},
		{title: "GC pause time per second", unit: "s", targets: []target{q(`sum by (instance) (`+rate("go_gc_duration_seconds_sum{S}")+`)`, "{{instance}}")}},
		{title: "Open file descriptors (share of the limit)", unit: "percentunit", targets: []target{q(`sum by (instance) (process_open_fds{S}) / sum by (instance) (process_max_fds{S})`, "{{instance}}")}},
	}},
	{"overload: adaptive concurrency limit and shedding", []panel{
		{title: "Limit, in flight, queued", unit: "short", targets: []target{
			q(`sum by (chassis_overload_name) (chassis_overload_limit{S})`, "limit {{chassis_overload_name}}"),
			q(`sum by (chassis_overload_name) (chassis_overload_inflight{S})`, "in flight {{chassis_overload_name}}"),
			q(`sum by (chassis_overload_name) (chassis_overload_queued{S})`, "queued {{chassis_overload_name}}")}},
		{title: "Rejections by priority and reason", unit: "reqps", targets: []target{q(`sum by (chassis_overload_name, chassis_priority, chassis_overload_reason) (`+rate("chassis_overload_rejections_total{S}")+`)`, "{{chassis_overload_name}} {{chassis_priority}} {{chassis_overload_reason}}")}},
	}},
}

// dashboard returns the Grafana dashboard model (schemaVersion 39).
func dashboard() map[string]any {
	ds := map[string]any{"type": "prometheus", "uid": "${datasource}"}
	var panels []any
	id, y := 1, 0
	for _, r := range rows {
		panels = append(panels, map[string]any{"type": "row", "id": id, "title": r.title, "collapsed": false,
			"gridPos": map[string]int{"h": 1, "w": 24, "x": 0, "y": y}, "panels": []any{}})
		id++
		y++
		w := 8
		if len(r.panels)%4 == 0 {
			w = 6
		}
		x, lineH := 0, 0
		for _, p := range r.panels {
			h := 8
			if p.kind == "stat" {
				h = 4
			}
			if x+w > 24 {
				x = 0
				y += lineH
				lineH = 0
			}
			lineH = max(lineH, h)
			var targets []any
			for i, t := range p.targets {
				targets = append(targets, map[string]any{"datasource": ds, "expr": t.expr, "legendFormat": t.legend,
					"refId": string(rune('A' + i)), "range": true})
			}
			kind := p.kind
			if kind == "" {
				kind = "timeseries"
			}
			m := map[string]any{"type": kind, "id": id, "title": p.title, "description": p.desc, "datasource": ds,
				"gridPos": map[string]int{"h": h, "w": w, "x": x, "y": y}, "targets": targets,
				"fieldConfig": map[string]any{"defaults": map[string]any{"unit": p.unit}, "overrides": []any{}}}
			if kind == "timeseries" {
				m["options"] = map[string]any{"legend": map[string]any{"displayMode": "list", "placement": "bottom", "showLegend": true},
					"tooltip": map[string]any{"mode": "multi", "sort": "desc"}}
			} else {
				m["options"] = map[string]any{"reduceOptions": map[string]any{"calcs": []string{"lastNotNull"}, "fields": "", "values": false},
					"colorMode": "value", "graphMode": "area", "textMode": "auto"}
			}
			panels = append(panels, m)
			id++
			x += w
		}
		y += lineH
	}
	variable := func(name, query string) map[string]any {
		return map[string]any{"type": "query", "name": name, "label": name, "datasource": ds,
			"definition": query, "query": map[string]any{"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
			"refresh": 2, "includeAll": true, "multi": true, "allValue": ".*", "sort": 1,
			"current": map[string]any{"selected": true, "text": []string{"All"}, "value": []string{"$__all"}}}
	}
	return map[string]any{
		"title":       "chassis",
		"uid":         "chassis",
		"description": "Every metric of the chassis metric inventory (docs/metrics.md), one row per package. Alerts and SLOs: docs/monitoring.md.",
		"tags":        []string{"chassis", "go"},
		"editable":    true, "graphTooltip": 1, "refresh": "30s", "schemaVersion": 39, "version": 1,
		"time":       map[string]string{"from": "now-3h", "to": "now"},
		"timepicker": map[string]any{},
		"annotations": map[string]any{"list": []any{map[string]any{"builtIn": 1, "datasource": map[string]string{"type": "grafana", "uid": "-- Grafana --"},
			"enable": true, "hide": true, "iconColor": "rgba(0, 211, 255, 1)", "name": "Annotations & Alerts", "type": "dashboard"}}},
		"templating": map[string]any{"list": []any{
			map[string]any{"type": "datasource", "name": "datasource", "label": "Data source", "query": "prometheus", "refresh": 1, "regex": "", "current": map[string]any{}},
			variable("job", "label_values(target_info, job)"),
			variable("instance", `label_values(target_info{job=~"$job"}, instance)`),
		}},
		"panels": panels,
	}
}

func writeDashboard(path string) error {
	b, err := json.MarshalIndent(dashboard(), "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
