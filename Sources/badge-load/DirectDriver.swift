import BadgeCodec
import BadgeModel
import BadgeWire
import CEventPoll
import NIOCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// How a direct-engine connection sends: closed loop (`depth` in flight) or open loop (a schedule).
struct DirectPacing: Sendable {
    enum Mode: Sendable {
        case closed(depth: Int)
        case open(intervalNanos: Double, maxOutstanding: Int)
    }
    var mode: Mode
    var window: Window
    var timeoutMicros: UInt64
    var metadata: [String: String]
}

/// One connection of the direct engine: its socket, buffers, calls in flight and measurements.
/// Owned by one `DirectWorker` thread.
final class DirectConnection {
    let fd: Int32
    private var source: RequestSource
    private(set) var recorder = Recorder()
    /// Encoded calls not yet written; flushed once per loop turn, so a burst of replies is answered
    /// with one `send`.
    private var outbound: ByteBuffer
    private var inbound: ByteBuffer
    private(set) var wantsWritable = false

    // Calls in flight, in a ring indexed by call id (ids go up by one; a slot is free at id 0).
    private var slotCallId: [UInt64]
    private var slotStart: [UInt64]
    private var slotOperation: [Operation]
    private var slotMeasured: [Bool]
    private let mask: Int
    private var nextCallId: UInt64 = 1
    private(set) var inFlight = 0

    private(set) var sending = true
    private(set) var isOpen = true
    private var startedMeasured: UInt64 = 0
    private let quota: UInt64
    /// Open loop: the next call's index in the schedule and the schedule's origin.
    private var nextIndex: UInt64 = 0
    private let firstPlanned: UInt64

    init(fd: Int32, source: RequestSource, quota: UInt64, firstPlanned: UInt64, slots: Int) {
        self.fd = fd
        self.source = source
        self.quota = quota
        self.firstPlanned = firstPlanned
        let capacity = max(64, 1 << (Int.bitWidth - (2 * slots - 1).leadingZeroBitCount))
        mask = capacity - 1
        slotCallId = Array(repeating: 0, count: capacity)
        slotStart = Array(repeating: 0, count: capacity)
        slotOperation = Array(repeating: .list, count: capacity)
        slotMeasured = Array(repeating: false, count: capacity)
        outbound = ByteBufferAllocator().buffer(capacity: 64 * 1024)
        inbound = ByteBufferAllocator().buffer(capacity: 64 * 1024)
    }

    deinit { close(fd) }

    var isFinished: Bool { !isOpen || (!sending && inFlight == 0) }
    var hasOutbound: Bool { outbound.readableBytes > 0 }

    /// Queues one call, timed from `from` (now, or its planned send time).
    private func queueCall(from: UInt64, measured: Bool, pacing: DirectPacing) {
        let (operation, payload) = source.next()
        while slotCallId[Int(truncatingIfNeeded: nextCallId) & mask] != 0 { nextCallId &+= 1 }
        let callId = nextCallId
        nextCallId &+= 1
        let slot = Int(truncatingIfNeeded: callId) & mask
        slotCallId[slot] = callId
        slotStart[slot] = from
        slotOperation[slot] = operation
        slotMeasured[slot] = measured
        inFlight += 1
        let header = RequestHeader(
            callId: callId, method: operation.method, timeoutMicros: pacing.timeoutMicros, metadata: pacing.metadata)
        payload.withUnsafeBytes { outbound.writeRequestFrame(header, payload: $0) }
    }

    /// Closed loop: starts calls until `depth` are in flight or the run's bounds say stop.
    func fillClosedLoop(depth: Int, now: UInt64, pacing: DirectPacing) {
        while sending && inFlight < depth {
            let measured = now >= pacing.window.measureFrom
            guard now < pacing.window.stopAt, !measured || startedMeasured < quota else {
                sending = false
                return
            }
            if measured { startedMeasured += 1 }
            queueCall(from: now, measured: measured, pacing: pacing)
        }
    }

    /// Open loop: queues every call whose planned time has come (up to `maxOutstanding` in flight)
    /// and returns the planned time of the next one, or nil if none is due later (done, or waiting
    /// for a reply to make room).
    func pumpOpenLoop(intervalNanos: Double, maxOutstanding: Int, now: UInt64, pacing: DirectPacing) -> UInt64? {
        while sending {
            let at = firstPlanned &+ UInt64(Double(nextIndex) * intervalNanos)
            let measured = at >= pacing.window.measureFrom
            if at >= pacing.window.stopAt || (measured && startedMeasured >= quota) {
                sending = false
                return nil
            }
            if at > now { return at }
            if inFlight >= maxOutstanding { return nil }
            nextIndex += 1
            if measured {
                startedMeasured += 1
                recorder.recordSendLag(now &- at)
            }
            queueCall(from: at, measured: measured, pacing: pacing)
        }
        return nil
    }

    /// Writes what is queued; a broken connection fails its calls.
    func flush() {
        while outbound.readableBytes > 0 {
            let written = outbound.withUnsafeReadableBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written > 0 {
                outbound.moveReaderIndex(forwardBy: written)
                continue
            }
            if written < 0 && errno == EINTR { continue }
            if written < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                wantsWritable = true
                return
            }
            // The server may have said why it closed (on call 0) before it did: that status wins.
            readReplies(maxFrameSize: WireProtocol.defaultMaxFrameSize)
            fail("UNAVAILABLE")
            return
        }
        outbound.clear()
        wantsWritable = false
    }

    /// Reads everything available and completes the calls it answers.
    func readReplies(maxFrameSize: Int) {
        while isOpen {
            var got = 0
            var room = 0
            inbound.writeWithUnsafeMutableBytes(minimumWritableBytes: 64 * 1024) { buffer in
                room = buffer.count
                got = recv(fd, buffer.baseAddress, buffer.count, 0)
                return max(got, 0)
            }
            if got < 0 {
                if errno == EINTR { continue }
                if errno != EAGAIN && errno != EWOULDBLOCK { fail("UNAVAILABLE") }
                break
            }
            if got == 0 {
                fail("UNAVAILABLE")
                break
            }
            parseFrames(end: nowNanos(), maxFrameSize: maxFrameSize)
            // A short read took everything there was: epoll (level-triggered) says when more comes,
            // so the recv that would only return EAGAIN is skipped (half of all recvs at high rates).
            if got < room { break }
        }
    }

    private func parseFrames(end: UInt64, maxFrameSize: Int) {
        while let length = inbound.getInteger(at: inbound.readerIndex, as: UInt32.self) {
            guard Int(length) <= maxFrameSize else {
                fail("CLIENT_ERROR")
                return
            }
            guard inbound.readableBytes >= 4 + Int(length) else { break }
            let decoded = inbound.withUnsafeReadableBytes { bytes in
                try? Envelope.decodeResponse(UnsafeRawBufferPointer(rebasing: bytes[4..<4 + Int(length)])) {
                    header, _ in header
                }
            }
            inbound.moveReaderIndex(forwardBy: 4 + Int(length))
            guard let header = decoded else {
                fail("CLIENT_ERROR")
                return
            }
            if header.callId == 0 {
                // The server refused the connection as a whole (bad frame, auth): every call fails.
                fail(header.status.description)
                return
            }
            guard header.endOfCall else { continue }  // a streamed item; the call ends later
            let slot = Int(truncatingIfNeeded: header.callId) & mask
            guard slotCallId[slot] == header.callId else { continue }  // not ours (already failed)
            slotCallId[slot] = 0
            inFlight -= 1
            recorder.record(
                slotOperation[slot], nanos: end &- slotStart[slot], end: end,
                status: header.status == .ok ? nil : header.status.description, measured: slotMeasured[slot])
        }
        if inbound.readableBytes == 0 {
            inbound.clear()
        } else if inbound.readerIndex > 1 << 20 {
            inbound.discardReadBytes()
        }
    }

    /// The connection is gone (or unreadable): its calls in flight fail with `status`, and it sends
    /// nothing more (no reconnect: a broken connection should show, not be papered over).
    private func fail(_ status: String) {
        guard isOpen else { return }
        isOpen = false
        sending = false
        // Calls queued but not sent are already counted as failed: they must not reach the server.
        outbound.clear()
        wantsWritable = false
        shutdown(fd, Int32(SHUT_RDWR))
        failInFlight(status)
    }

    /// Ends the run for this connection: calls still in flight count as NO_REPLY.
    func giveUp() {
        sending = false
        failInFlight("NO_REPLY")
    }

    private func failInFlight(_ status: String) {
        let end = nowNanos()
        for slot in slotCallId.indices where slotCallId[slot] != 0 {
            slotCallId[slot] = 0
            recorder.record(
                slotOperation[slot], nanos: end &- slotStart[slot], end: end, status: status,
                measured: slotMeasured[slot])
        }
        inFlight = 0
    }
}

/// Totals a worker publishes for the progress line (relaxed atomics, written once per loop turn).
final class DirectProgress: Sendable {
    let completed = Atomic<UInt64>(0)
    let errors = Atomic<UInt64>(0)
    let inFlight = Atomic<Int>(0)
}

/// One thread driving its share of the connections with epoll: no NIO pipeline, no futures, one
/// `send` per connection per loop turn, one `recv` per readable connection (what `redis-benchmark`
/// does). The load generator's own cost per call is then a small part of what it measures.
final class DirectWorker: @unchecked Sendable {
    // @unchecked: handed to its thread once before `run`, and touched only there afterwards; the
    // progress totals are atomics.
    private let connections: [DirectConnection]
    private let pacing: DirectPacing
    private let poller: DirectPoller
    private let maxFrameSize: Int
    let progress = DirectProgress()

    init(connections: [DirectConnection], pacing: DirectPacing, maxFrameSize: Int) throws(LoadError) {
        self.connections = connections
        self.pacing = pacing
        self.maxFrameSize = maxFrameSize
        poller = try DirectPoller()
        for (index, connection) in connections.enumerated() {
            poller.watch(connection.fd, tag: UInt64(index), writable: false, add: true)
        }
    }

    /// Runs until every connection is done or the run's give-up time; returns the merged measurements.
    func run() -> Recorder {
        var events = [epoll_event](repeating: epoll_event(), count: 64)
        var startAt = timespec(
            tv_sec: Int(pacing.window.startAt / 1_000_000_000), tv_nsec: Int(pacing.window.startAt % 1_000_000_000))
        while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &startAt, nil) == EINTR {}
        while true {
            let now = nowNanos()
            if now >= pacing.window.giveUpAt { break }
            let nextPlanned = queueDueCalls(now: now)
            for (index, connection) in connections.enumerated() where connection.isOpen && connection.hasOutbound {
                let wanted = connection.wantsWritable
                connection.flush()
                if connection.wantsWritable != wanted {
                    poller.watch(connection.fd, tag: UInt64(index), writable: connection.wantsWritable, add: false)
                }
            }
            publish()
            if connections.allSatisfy(\.isFinished) { break }
            poller.arm(at: nextPlanned ?? 0)
            // Bounded, so the give-up time is noticed even if nothing else happens.
            let waitMs = Int32(min(1_000, (pacing.window.giveUpAt - now) / 1_000_000 + 1))
            let ready = events.withUnsafeMutableBufferPointer {
                epoll_wait(poller.epoll, $0.baseAddress, Int32($0.count), waitMs)
            }
            guard ready > 0 else { continue }
            for event in events[0..<Int(ready)] {
                let tag = event.data.u64
                if tag == DirectPoller.timerTag {
                    poller.drainTimer()
                    continue
                }
                let connection = connections[Int(tag)]
                if event.events & (EPOLLIN.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0 {
                    connection.readReplies(maxFrameSize: maxFrameSize)
                }
                // A dead socket stays readable (EOF) and would wake every turn: stop watching it.
                if !connection.isOpen { poller.unwatch(connection.fd) }
            }
        }
        var total = Recorder()
        for connection in connections {
            connection.giveUp()
            total.merge(connection.recorder)
        }
        publish()
        return total
    }

    /// Tops up the closed loop, or sends what the open loop's schedule says is due. Returns the
    /// earliest planned time still ahead (open loop), for the timer.
    private func queueDueCalls(now: UInt64) -> UInt64? {
        var earliest: UInt64?
        for connection in connections where connection.sending {
            switch pacing.mode {
            case .closed(let depth):
                connection.fillClosedLoop(depth: depth, now: now, pacing: pacing)
            case .open(let interval, let maxOutstanding):
                if let next = connection.pumpOpenLoop(
                    intervalNanos: interval, maxOutstanding: maxOutstanding, now: now, pacing: pacing)
                {
                    earliest = min(earliest ?? next, next)
                }
            }
        }
        return earliest
    }

    private func publish() {
        var completed: UInt64 = 0
        var errors: UInt64 = 0
        var inFlight = 0
        for connection in connections {
            completed += connection.recorder.completedAll
            errors += connection.recorder.errorsAll
            inFlight += connection.inFlight
        }
        progress.completed.store(completed, ordering: .relaxed)
        progress.errors.store(errors, ordering: .relaxed)
        progress.inFlight.store(inFlight, ordering: .relaxed)
    }
}
