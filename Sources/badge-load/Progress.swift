import Foundation
import NIOCore

/// The live progress line on stderr: once a second, the rate over the last second, totals and calls
/// in flight. Sampling asks each connection's event loop, so the hot path shares no counters.
enum Progress {
    static func run(drivers: [any LoadDriver], start: UInt64, window: Window) async {
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
            var sample = ProgressSample()
            for driver in drivers {
                guard let one = try? await driver.eventLoop.submit({ driver.sample() }).get() else { continue }
                sample.completed += one.completed
                sample.errors += one.errors
                sample.inFlight += one.inFlight
            }
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
