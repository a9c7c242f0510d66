import Foundation
import Histogram

/// The outcome of a run, printed as a table or as JSON (`--json`). Latencies are in microseconds.
struct LoadResult: Codable, Sendable {
    struct Config: Codable, Sendable {
        var workload: String
        var mix: String
        /// "closed" (depth in flight per connection) or "open" (fixed rate).
        var mode: String
        /// "direct" (plain sockets) or "nio" (the BadgeClient library).
        var engine: String
        var target: String
        var connections: Int
        var depth: Int?
        var rate: Double?
        var threads: Int
        var durationSeconds: Double
        var warmupSeconds: Double
        var requests: Int?
        var timeoutMs: Int
        var seed: UInt64
        var customers: Int
        var badges: Int
    }

    struct Latency: Codable, Sendable {
        var count: UInt64
        var p50: Double
        var p90: Double
        var p99: Double
        var p999: Double
        var max: Double
        var mean: Double

        init(_ histogram: Histogram<UInt64>) {
            func micros(_ nanos: UInt64) -> Double { (Double(nanos) / 1_000 * 10).rounded() / 10 }
            count = histogram.totalCount
            p50 = micros(histogram.valueAtPercentile(50))
            p90 = micros(histogram.valueAtPercentile(90))
            p99 = micros(histogram.valueAtPercentile(99))
            p999 = micros(histogram.valueAtPercentile(99.9))
            max = micros(histogram.max)
            mean = (histogram.mean / 100).rounded() / 10
        }
    }

    var config: Config
    /// From the end of the warm-up to the last measured reply.
    var measuredSeconds: Double
    /// Measured calls, whatever their status.
    var requests: UInt64
    var ok: UInt64
    /// Measured calls per second, whatever their status.
    var throughput: Double
    var okThroughput: Double
    var errors: [String: UInt64]
    var latency: Latency?
    var byOperation: [String: Latency]
    /// Open loop only: how late calls left the client against their planned time. A high tail here
    /// means the load generator, not the server, is behind.
    var sendLag: Latency?

    init(config: Config, recorder: Recorder, measureFrom: UInt64) {
        self.config = config
        let end = max(recorder.lastCompletion, measureFrom + 1)
        measuredSeconds = Double(end - measureFrom) / 1e9
        requests = recorder.measured
        ok = recorder.ok
        throughput = (Double(recorder.measured) / measuredSeconds).rounded()
        okThroughput = (Double(recorder.ok) / measuredSeconds).rounded()
        errors = recorder.errors
        var all: Histogram<UInt64>?
        var byOperation: [String: Latency] = [:]
        for operation in Operation.allCases {
            guard let histogram = recorder.latency[operation.rawValue] else { continue }
            byOperation[operation.name] = Latency(histogram)
            if all == nil { all = Recorder.makeHistogram() }
            all!.add(histogram)
        }
        latency = all.map(Latency.init)
        self.byOperation = byOperation
        sendLag = recorder.sendLag.map(Latency.init)
    }

    func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(self)).flatMap { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    func table() -> String {
        var lines: [String] = []
        let shape =
            config.mode == "open"
            ? "open loop at \(grouped(config.rate ?? 0)) calls/s over \(config.connections) connection(s)"
            : "closed loop, \(config.connections) connection(s) x \(config.depth ?? 1) in flight"
        lines.append("badge-load: \(config.workload) (\(config.mix)), \(shape), \(config.target)")
        lines.append(
            "  \(config.threads) client thread(s); measured \(String(format: "%.2f", measuredSeconds)) s after "
                + "\(String(format: "%.1f", config.warmupSeconds)) s of warm-up")
        lines.append(
            "  calls \(grouped(Double(requests)))  ok \(grouped(Double(ok)))  errors \(grouped(Double(requests - ok)))")
        lines.append("  throughput \(grouped(throughput)) calls/s (ok: \(grouped(okThroughput))/s)")
        lines.append("")
        let header = ["latency (us)", "count", "p50", "p90", "p99", "p99.9", "max"]
        var rows: [[String]] = [header]
        func row(_ name: String, _ latency: Latency) -> [String] {
            [
                name, grouped(Double(latency.count)), number(latency.p50), number(latency.p90), number(latency.p99),
                number(latency.p999), number(latency.max),
            ]
        }
        if byOperation.count > 1 {
            for name in byOperation.keys.sorted() { rows.append(row(name, byOperation[name]!)) }
        }
        if let latency { rows.append(row("all", latency)) }
        if let sendLag { rows.append(row("client send lag", sendLag)) }
        let widths = header.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        for cells in rows {
            let padded = cells.enumerated().map { column, cell in
                let pad = String(repeating: " ", count: widths[column] - cell.count)
                return column == 0 ? cell + pad : pad + cell
            }
            lines.append("  " + padded.joined(separator: "  "))
        }
        if !errors.isEmpty {
            lines.append("")
            lines.append("  errors by status:")
            for (name, count) in errors.sorted(by: { $0.value > $1.value }) {
                lines.append("    \(name): \(grouped(Double(count)))")
            }
        }
        return lines.joined(separator: "\n")
    }
}

/// 1234567 -> "1,234,567".
func grouped(_ value: Double) -> String {
    let digits = String(Int(value.rounded()))
    var out = ""
    for (index, character) in digits.reversed().enumerated() {
        if index > 0 && index % 3 == 0 && character != "-" { out.append(",") }
        out.append(character)
    }
    return String(out.reversed())
}

private func number(_ micros: Double) -> String {
    micros >= 100 ? grouped(micros) : String(format: "%.1f", micros)
}
