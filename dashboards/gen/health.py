# Collector and aggregator health: throughput, rejects by reason, batch latency, queue and
# spool, replays, API and job health (Prometheus), plus what actually arrived in ClickHouse.
#
# Every metric name here must be in a binary's catalogue (`telemetry.rs` METRIC_NAMES); the
# dashboard test checks that.

from panels import (BUCKET, Layout, dashboard, prom_stat, prom_timeseries, table,
                    timeseries)

R = "[$__rate_interval]"


def build():
    lay = Layout()
    panels = [
        prom_stat(lay, "Hits accepted /s", f"sum(rate(collector_hits_accepted_total{R}))"),
        prom_stat(lay, "Hits dropped (spool full) /s",
                  f"sum(rate(collector_hits_dropped_total{R}))",
                  description="Non-zero means beacons got 503: the spool is full."),
        prom_stat(lay, "Queue", "sum(collector_queue_hits)", description="Hits in memory."),
        prom_stat(lay, "Spool", "sum(collector_spool_bytes)", unit="bytes",
                  description="Batches waiting on disk for ClickHouse."),
        prom_timeseries(lay, "Collector throughput", [
            (f"sum(rate(collector_hits_received_total{R}))", "received"),
            (f"sum(rate(collector_hits_accepted_total{R}))", "accepted"),
            (f"sum(rate(collector_hits_written_total{R}))", "written to ClickHouse"),
            (f"sum(rate(collector_replayed_hits_total{R}))", "replayed from spool"),
        ], unit="reqps"),
        prom_timeseries(lay, "Rejects by reason", [
            (f"sum by (reason) (rate(collector_hits_rejected_total{R}))", "{{reason}}"),
            (f"sum(rate(collector_hits_dropped_total{R}))", "dropped (spool full)"),
        ], unit="reqps"),
        prom_timeseries(lay, "Batch insert latency", [
            ("histogram_quantile(0.5, sum by (le) "
             f"(rate(collector_insert_duration_seconds_bucket{R})))", "p50"),
            ("histogram_quantile(0.99, sum by (le) "
             f"(rate(collector_insert_duration_seconds_bucket{R})))", "p99"),
            (f"sum(rate(collector_insert_duration_seconds_sum{R})) / "
             f"sum(rate(collector_insert_duration_seconds_count{R}))", "mean"),
        ], unit="s"),
        prom_timeseries(lay, "Batch size and insert errors", [
            (f"sum(rate(collector_batch_rows_sum{R})) / sum(rate(collector_batch_rows_count{R}))",
             "rows per batch"),
            (f"sum by (class) (rate(collector_insert_errors_total{R}))", "errors: {{class}}"),
        ]),
        prom_timeseries(lay, "Queue and spool", [
            ("sum(collector_queue_hits)", "queue (hits)"),
            ("sum(collector_spool_segments)", "spool segments"),
        ]),
        prom_timeseries(lay, "Spool and replays", [
            (f"sum(rate(collector_spooled_hits_total{R}))", "spooled"),
            (f"sum(rate(collector_replayed_hits_total{R}))", "replayed"),
            (f"sum(rate(collector_quarantined_hits_total{R}))", "quarantined (bad data)"),
            (f"sum(increase(collector_spool_corrupt_segments_total{R}))", "corrupt segments"),
        ]),
        prom_timeseries(lay, "Collector HTTP by route and status", [
            (f"sum by (route, status) (rate(collector_http_requests_total{R}))",
             "{{route}} {{status}}"),
            ("sum(collector_connections)", "open connections"),
        ]),
        prom_timeseries(lay, "Collector identity directory", [
            ("sum(collector_directory_persons)", "persons with standing consent"),
            (f"sum(rate(collector_directory_reloads_total{R}))", "directory reloads /s"),
            (f"sum(rate(collector_identity_links_total{R}))", "visitor-person links /s"),
        ], description="Who may be linked to a person (consent) as the collector sees it."),
        prom_timeseries(lay, "Aggregator API", [
            (f"sum by (route, status) (rate(aggregator_http_requests_total{R}))",
             "{{route}} {{status}}"),
            ("histogram_quantile(0.99, sum by (le) "
             f"(rate(aggregator_http_request_duration_seconds_bucket{R})))", "p99 latency (s)"),
            (f"sum(rate(aggregator_auth_failures_total{R}))", "auth failures"),
        ]),
        prom_timeseries(lay, "Aggregator intake and ClickHouse errors", [
            (f"sum by (table) (rate(aggregator_intake_rows_total{R}))", "rows: {{table}}"),
            (f"sum by (table) (rate(aggregator_intake_rejected_requests_total{R}))",
             "rejected: {{table}}"),
            (f"sum by (op) (rate(aggregator_clickhouse_errors_total{R}))", "ch errors: {{op}}"),
        ]),
        prom_timeseries(lay, "Metric jobs", [
            ("time() - max by (job) (aggregator_job_last_success_timestamp_seconds)",
             "lag since last success (s): {{job}}"),
            (f"sum by (job) (increase(aggregator_job_failures_total{R}))", "failures: {{job}}"),
            ("histogram_quantile(0.99, sum by (le, job) "
             f"(rate(aggregator_job_duration_seconds_bucket{R})))", "p99 run time (s): {{job}}"),
            (f"sum by (job) (increase(aggregator_job_buckets_total{R}))",
             "buckets recomputed: {{job}}"),
        ], description="Lag should stay near AGGREGATOR_REFRESH_S; failures mean stale figures."),
        table(lay, "Committed metric generations", """
SELECT job, count() AS buckets, max(version) AS newest_generation,
       max(committed_at) AS last_commit,
       toInt64(now()) - toInt64(max(committed_at)) AS lag_s
FROM r_generations GROUP BY job ORDER BY job""", description="What the dashboards' result "
                                                             "tables are computed up to."),
        timeseries(lay, "Hits stored in ClickHouse (all sites)", f"""
SELECT {BUCKET}, uniqExact(event_id) AS hits, count() AS rows_before_merge
FROM hits WHERE $__timeFilter(received_at)
GROUP BY time ORDER BY time""", description="rows_before_merge above hits = replayed "
                                            "duplicates not yet folded by a merge."),
    ]
    return dashboard("tracking-health", "Tracking: collector and aggregator health",
                     "Throughput, rejects, batch latency, queue, spool, replays, API, jobs.",
                     panels, [], tags=["ops"], prometheus=True, time_from="now-6h")
