import Foundation
import NIOCore

/// The live progress line on stderr: once a second, the rate over the last second, totals and calls
/// in flight, from `sample` (which the engine answers without slowing its hot path).
enum Progress {
    static func run(start: UInt64, window: Window, sample: @Sendable () async -> ProgressSample) async {
        let interactive = isatty(2) == 1
        var previous = ProgressSample()
        var previousAt = nowNanos()
        // Bounded by the run's own time line (plus slack), whatever happens to cancellation.
        let ticks = Int((window.giveUpAt - start) / 1_000_000_000) + 5
        for _ in 0..<ticks {
            do {
                try await Task.sleep(for: .seconds(1))
            } catch {
                break
            }
            let sample = await sample()
            let now = nowNanos()
            let rate = Double(sample.completed - previous.completed) / (Double(now - previousAt) / 1e9)
            let elapsed = Double(now &- start) / 1e9
            let phase = now < window.measureFrom ? "warm-up" : now < window.stopAt ? "measuring" : "draining"
            let line =
                String(format: "[%6.1fs] ", elapsed) + "\(phase) \(grouped(rate)) calls/s, "
                + "\(grouped(Double(sample.completed))) done, \(grouped(Double(sample.errors))) errors, "
                + "\(sample.inFlight) in flight"
            FileHandle.standardError.write(Data((interactive ? "\r\u{1B}[K" + line : line + "\n").utf8))
            previous = sample
            previousAt = now
        }
        if interactive { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}
