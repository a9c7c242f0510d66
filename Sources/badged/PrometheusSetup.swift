import BadgeServer
import Metrics
import Prometheus

/// The metrics backend: Prometheus, set up once per process (`MetricsSystem.bootstrap` may run only
/// once). Libraries only see swift-metrics; this is the one place that knows the backend.
enum PrometheusSetup {
    /// Latency buckets from 10 µs (a List served from memory) to 10 s (a commit behind a stalled disk).
    static let durationBuckets: [Duration] = [
        .microseconds(10), .microseconds(25), .microseconds(50), .microseconds(100), .microseconds(250),
        .microseconds(500), .milliseconds(1), .microseconds(2500), .milliseconds(5), .milliseconds(10),
        .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
    ]

    /// Writes per group commit: powers of two up to the writer's largest batch (4096).
    static let batchSizeBuckets: [Double] = (0...12).map { Double(1 << $0) }

    /// Bootstraps the global metrics system with a Prometheus registry and returns the endpoint that
    /// serves it at `host:port`.
    static func bootstrap(host: String, port: Int) -> MetricsEndpoint {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = durationBuckets
        factory.valueHistogramBuckets["badges_writer_batch_size"] = batchSizeBuckets
        MetricsSystem.bootstrap(factory)
        return MetricsEndpoint(host: host, port: port) { registry.emitToBuffer() }
    }
}
