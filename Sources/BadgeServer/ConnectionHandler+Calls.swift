import BadgeCodec
import BadgeModel
import BadgeService
import BadgeWire
import NIOCore

// Calls: a frame becomes a registered call (or a refusal), and the call is handed to the service.
extension ConnectionHandler {
    func handleFrame(_ frame: UnsafeRawBufferPointer) {
        do throws(BadgeError) {
            try Envelope.decodeRequest(frame) { header, payload throws(BadgeError) in
                try self.handleCall(header, payload: payload)
            }
        } catch {
            if error.reason == "malformed_message" {
                closeWithError(WireError.malformedEnvelope(error.message).badgeError)
            } else {
                closeWithError(error)
            }
        }
    }

    /// Connection-level protocol violations throw (and close the connection); everything about one
    /// call is answered on that call. Calls refused before they are registered are answered directly.
    private func handleCall(_ header: RequestHeader, payload: UnsafeRawBufferPointer) throws(BadgeError) {
        let callId = header.callId
        if callId == 0 { throw BadgeError.invalidArgument("call_id 0 is reserved", reason: "invalid_call_id") }
        if header.kind == .cancel {
            cancel(callId)
            return
        }
        if calls[callId] != nil {
            throw BadgeError.invalidArgument("call_id \(callId) is already in flight", reason: "duplicate_call_id")
        }
        // Recognised first only so that refusals are counted under their method.
        let method = Method(rawValue: header.method)
        if draining {
            return refuse(
                callId, method, BadgeError(.unavailable, "the server is shutting down", reason: "shutting_down"))
        }
        if calls.count >= configuration.maxInFlightPerConnection {
            return refuse(
                callId, method,
                BadgeError(
                    .resourceExhausted,
                    "\(calls.count) calls already in flight on this connection; the limit is \(configuration.maxInFlightPerConnection)",
                    reason: "too_many_calls"))
        }
        if let expectedAuthorization, header.metadata["authorization"] != expectedAuthorization {
            return refuse(
                callId, method,
                BadgeError(
                    .unauthenticated, "metadata \"authorization: Bearer <token>\" is missing or wrong",
                    reason: "unauthenticated"))
        }
        guard let method else {
            return refuse(
                callId, nil,
                BadgeError(.unimplemented, "unknown method \"\(header.method)\"", reason: "unknown_method"))
        }
        var deadline: ContinuousClock.Instant?
        nextSequence += 1
        let sequence = nextSequence
        var startedNanos: UInt64 = 0
        callsUntilSample -= 1
        if callsUntilSample == 0 {
            callsUntilSample = configuration.callDurationSampling
            startedNanos = NIODeadline.now().uptimeNanoseconds
        }
        var call = Call(sequence: sequence, method: method, startedNanos: startedNanos)
        if header.timeoutMicros > 0 {
            let timeout = min(header.timeoutMicros, UInt64(Int64.max / 1000))
            deadline = .now + .microseconds(Int64(timeout))
            let bound = NIOLoopBound(self, eventLoop: context!.eventLoop)
            call.deadlineTimer = context!.eventLoop.scheduleTask(in: .microseconds(Int64(timeout))) {
                bound.value.respondError(
                    callId, sequence: sequence,
                    BadgeError(
                        .deadlineExceeded, "the call's deadline of \(timeout) µs passed", reason: "deadline_exceeded"))
            }
        }
        calls[callId] = call
        do {
            try dispatch(method, callId: callId, sequence: sequence, payload: payload, deadline: deadline)
        } catch {
            respondError(callId, sequence: sequence, error)
        }
    }

    private func dispatch(
        _ method: Method, callId: UInt64, sequence: UInt64, payload: UnsafeRawBufferPointer,
        deadline: ContinuousClock.Instant?
    ) throws(BadgeError) {
        switch method {
        case .getBadge:
            let request = try GetBadgeRequest(decoding: payload)
            respond(callId, sequence: sequence, BadgeReply(badge: try service.badge(id: request.badgeId)))
        case .listBadges:
            let request = try ListBadgesRequest(decoding: payload)
            respond(
                callId, sequence: sequence,
                ListBadgesReply(badges: try service.badges(includeInactive: request.includeInactive)))
        case .list:
            let request = try ListRequest(decoding: payload)
            respond(
                callId, sequence: sequence,
                encoded: try service.encodedTrophyCase(
                    customerId: request.customerId, awardsPerBadge: request.awardsPerBadge))
        case .health:
            _ = try HealthRequest(decoding: payload)
            respond(
                callId, sequence: sequence,
                try service.health(version: BadgeServer.version, protocolVersion: UInt32(WireProtocol.version)))
        case .putBadge:
            let request = try PutBadgeRequest(decoding: payload)
            service.putBadge(request, deadline: deadline, completion: completer(callId, sequence) { $0 })
        case .deactivateBadge:
            let request = try DeactivateBadgeRequest(decoding: payload)
            service.deactivateBadge(
                id: request.badgeId, deadline: deadline,
                completion: completer(callId, sequence) { DeactivateBadgeReply(badge: $0) })
        case .issue:
            let request = try IssueRequest(decoding: payload)
            service.issueEncoded(request, deadline: deadline, completion: encodedCompleter(callId, sequence) { $0 })
        case .revoke:
            let request = try RevokeRequest(decoding: payload)
            service.revoke(
                request, deadline: deadline, completion: completer(callId, sequence) { RevokeReply(revoked: $0) })
        case .exportAwards:
            let request = try ExportAwardsRequest(decoding: payload)
            startExport(callId, request)
        case .evaluate:
            let event = try ActivityEvent(decoding: payload)
            service.evaluateEncoded(event, deadline: deadline, completion: encodedCompleter(callId, sequence) { $0 })
        }
    }

    /// A completion for the writer thread that hops back to this event loop to answer `callId`.
    private func completer<Value: Sendable, Reply: WireMessage>(
        _ callId: UInt64, _ sequence: UInt64, _ makeReply: @escaping @Sendable (Value) -> Reply
    ) -> @Sendable (Result<Value, BadgeError>) -> Void {
        encodedCompleter(callId, sequence) { makeReply($0).encoded() }
    }

    /// `completer` for a reply given (or made) already encoded.
    private func encodedCompleter<Value: Sendable>(
        _ callId: UInt64, _ sequence: UInt64, _ encode: @escaping @Sendable (Value) -> [UInt8]
    ) -> @Sendable (Result<Value, BadgeError>) -> Void {
        let eventLoop = context!.eventLoop
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        return { [replyHops] result in
            replyHops.send(on: eventLoop) {
                switch result {
                case .success(let value): bound.value.respond(callId, sequence: sequence, encoded: encode(value))
                case .failure(let error): bound.value.respondError(callId, sequence: sequence, error)
                }
            }
        }
    }

    private func cancel(_ callId: UInt64) {
        guard let sequence = calls[callId]?.sequence else { return }
        respondError(callId, sequence: sequence, BadgeError(.cancelled, "cancelled by the client", reason: "cancelled"))
    }
}
