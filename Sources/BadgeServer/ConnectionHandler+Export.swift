import BadgeCodec
import BadgeModel
import NIOCore

// Server streaming (ExportAwards): chunks sent while the channel is writable, parked while it is
// not, and taking turns with the loop's other work (`StreamTurns`).
extension ConnectionHandler {
    func startExport(_ callId: UInt64, _ request: ExportAwardsRequest) {
        let chunk = request.chunkSize == 0 ? 256 : Int(min(request.chunkSize, 4096))
        let stream = ExportStream(nextAfter: request.afterAwardId, chunkSize: chunk)
        calls[callId]?.export = stream
        pump(callId)
    }

    func resumeStreams() {
        for (callId, call) in calls where call.export?.parked == true { pump(callId) }
    }

    /// Sends chunks while the channel is writable, in bursts of 16 between which the loop reads its
    /// sockets (`StreamTurns`); parks until writability returns otherwise. Each chunk is its own
    /// short read transaction, so a long export never pins old pages.
    private func pump(_ callId: UInt64) {
        guard let context, let sequence = calls[callId]?.sequence, let stream = calls[callId]?.export else { return }
        stream.parked = false
        var sent = 0
        while !stream.cancelled {
            guard context.channel.isWritable else {
                stream.parked = true
                flushIfNeeded(force: true)
                return
            }
            let awards: [Award]
            do {
                awards = try service.exportAwards(after: stream.nextAfter, limit: stream.chunkSize)
            } catch {
                respondError(callId, sequence: sequence, error)
                return
            }
            if awards.isEmpty {
                guard finish(callId, sequence: sequence, .ok) != nil else { return }
                appendOutbound(capacity: 32) {
                    $0.writeResponseFrame(
                        ResponseHeader(callId: callId), payload: UnsafeRawBufferPointer(start: nil, count: 0))
                }
                flushIfNeeded(force: true)
                closeIfDrained()
                return
            }
            guard writeStreamMessage(callId, ExportAwardsChunk(awards: awards)) else { return }
            stream.nextAfter = awards.last!.awardId
            sent += 1
            if sent % 16 == 0 {
                // Let the loop read its sockets (other connections, a CANCEL) before going on.
                flushIfNeeded(force: true)
                streamTurns.afterIO(on: context.eventLoop) { [self] in
                    // Unless the call ended meanwhile and its id now names another stream, which
                    // is pumped by its own turns.
                    if calls[callId]?.export === stream { pump(callId) }
                }
                return
            }
        }
    }
}

/// Progress of one ExportAwards stream (kept in its call's entry, under the call id).
final class ExportStream {
    var nextAfter: UInt64
    let chunkSize: Int
    var cancelled = false
    var parked = false

    init(nextAfter: UInt64, chunkSize: Int) {
        self.nextAfter = nextAfter
        self.chunkSize = chunkSize
    }
}
