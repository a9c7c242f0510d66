import BadgeClient
import BadgeCodec
import BadgeModel
import Histogram
import NIOCore

/// Nanoseconds on the clock NIO schedules by, so timer deadlines and measurements agree.
@inline(__always)
func nowNanos() -> UInt64 { NIODeadline.now().uptimeNanoseconds }

/// One connection's measurements. Owned by that connection's event loop; merged at the end.
struct Recorder: Sendable {
    /// Latencies above this (60 s) are clamped; anything that slow is a failed run anyway.
    static let highestNanos: UInt64 = 60_000_000_000

    static func makeHistogram() -> Histogram<UInt64> {
        Histogram<UInt64>(
            lowestDiscernibleValue: 1, highestTrackableValue: highestNanos, numberOfSignificantValueDigits: .three)
    }

    /// Per operation, allocated on first use (each is ~200 KB and most runs use one operation).
    var latency: [Histogram<UInt64>?] = Array(repeating: nil, count: Operation.allCases.count)
    /// Measured calls that ended with a status other than OK, by status name.
    var errors: [String: UInt64] = [:]
    var measured: UInt64 = 0
    var ok: UInt64 = 0
    /// When the last measured call ended (ns).
    var lastCompletion: UInt64 = 0
    /// Every completed call, warm-up included, for the progress line.
    var completedAll: UInt64 = 0
    var errorsAll: UInt64 = 0
    /// Open loop: how late measured calls left the client against their plan (ns), so a tail that
    /// comes from the load generator itself can be told apart from the server's.
    var sendLag: Histogram<UInt64>?

    mutating func recordSendLag(_ nanos: UInt64) {
        if sendLag == nil { sendLag = Self.makeHistogram() }
        _ = sendLag!.record(min(nanos, Self.highestNanos))
    }

    mutating func record(_ operation: Operation, nanos: UInt64, end: UInt64, status: String?, measured isMeasured: Bool)
    {
        completedAll &+= 1
        if status != nil { errorsAll &+= 1 }
        guard isMeasured else { return }
        measured &+= 1
        lastCompletion = max(lastCompletion, end)
        if let status {
            errors[status, default: 0] &+= 1
        } else {
            ok &+= 1
        }
        if latency[operation.rawValue] == nil { latency[operation.rawValue] = Self.makeHistogram() }
        _ = latency[operation.rawValue]!.record(min(nanos, Self.highestNanos))
    }

    /// Folds another connection's measurements into this one.
    mutating func merge(_ other: Recorder) {
        for index in latency.indices {
            guard let theirs = other.latency[index] else { continue }
            if latency[index] == nil { latency[index] = Self.makeHistogram() }
            latency[index]!.add(theirs)
        }
        for (name, count) in other.errors { errors[name, default: 0] += count }
        measured += other.measured
        ok += other.ok
        lastCompletion = max(lastCompletion, other.lastCompletion)
        completedAll += other.completedAll
        errorsAll += other.errorsAll
        if let theirs = other.sendLag {
            if sendLag == nil { sendLag = Self.makeHistogram() }
            sendLag!.add(theirs)
        }
    }

    /// The status name of a finished call, nil for OK. Local failures (the connection broke) carry the
    /// client's own status, usually UNAVAILABLE.
    static func status(of result: Result<ReplyFrame, any Error>) -> String? {
        switch result {
        case .success(let frame): frame.header.status == .ok ? nil : frame.header.status.description
        case .failure(let error): (error as? BadgeError)?.code.description ?? "CLIENT_ERROR"
        }
    }

    static func status(of result: Result<ResponseHeader, BadgeError>) -> String? {
        switch result {
        case .success(let header): header.status == .ok ? nil : header.status.description
        case .failure(let error): error.code.description
        }
    }
}

/// Progress counters sampled once a second.
struct ProgressSample: Sendable {
    var completed: UInt64 = 0
    var errors: UInt64 = 0
    var inFlight: Int = 0
}
