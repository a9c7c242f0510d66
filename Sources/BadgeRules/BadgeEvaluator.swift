import BadgeModel

/// Evaluates one event against one badge's criteria: updates the criteria states, and says whether
/// the badge is now earned and why. Pure.
public enum BadgeEvaluator {
    public struct Outcome: Sendable {
        /// Every criterion's state after the event, in the criteria's order (including unchanged
        /// ones).
        public internal(set) var states: SmallList<CriterionState>
        /// Indices of the criteria whose state changed (to be stored), ascending, each once (see
        /// `markChanged`).
        private var changedIndices = SmallList<Int>()

        /// Indices of the criteria whose state changed (to be stored), ascending.
        public var changed: [Int] { changedIndices.array }

        /// Calls `body` with each index of `changed` and its state, in order, without building
        /// the array.
        public func forEachChanged(_ body: (_ index: Int, _ state: CriterionState) -> Void) {
            changedIndices.forEach { body($0, states[$0]) }
        }

        /// `states` by criterion key.
        public func statesByKey(_ criteria: Criteria) -> [String: CriterionState] {
            var byKey: [String: CriterionState] = [:]
            for (index, criterion) in criteria.criteria.enumerated() where index < states.count {
                byKey[criterion.key] = states[index]
            }
            return byKey
        }

        init() {
            states = SmallList()
            complete = false
            metValues = []
        }

        /// The criteria are met (and the prerequisites held).
        public var complete: Bool
        /// The value of each criterion that is met, by index in the criteria: the evidence is
        /// written from them only when an award is made (most completions of a badge already held
        /// earn nothing, and writing the evidence was an eighth of the engine's time).
        var metValues: [(index: Int, value: Double)]
        fileprivate var progressList = SmallList<Progress>()

        /// Progress of the criteria the event counted toward, in the criteria's order.
        public var progress: [Progress] { progressList.array }

        /// Calls `body` with each element of `progress`, without building the array.
        public func forEachProgress(_ body: (Progress) -> Void) { progressList.forEach(body) }

        /// Adds `index` to `changed` unless it is there, keeping the order: a criterion's state can
        /// be replaced (a new definition) and then count the event, and is stored once; in order
        /// so that the same event always writes its states in the same order.
        mutating func markChanged(_ index: Int) {
            var position = 0
            while position < changedIndices.count, changedIndices[position] < index { position += 1 }
            if position == changedIndices.count || changedIndices[position] != index {
                changedIndices.insert(index, at: position)
            }
        }

        /// Why the badge is earned ("3 referral: r-11, r-12, r-19; holding new-member"), from the
        /// states after the event. Call it before `startNewRound`, which clears them.
        public func evidence(for criteria: Criteria) -> String {
            var text = metValues.map { index, value in
                CriterionEngine.evidence(criteria.criteria[index], states[index], value: value)
            }.joined(separator: "; ")
            if !criteria.prerequisites.isEmpty {
                text += "; holding \(criteria.prerequisites.joined(separator: ", "))"
            }
            return text
        }
    }

    /// - Parameters:
    ///   - states: the customer's stored state of each criterion, in the criteria's order (nil, or
    ///     missing at the end: none yet). Taken over and changed in place.
    ///   - timeZone: the zone local times are read in (event's, else customer's, else the badge's).
    ///   - prerequisitesHeld: the customer currently holds every prerequisite badge.
    ///   - fingerprints: `fingerprints(of: criteria)`, computed once per catalogue version by callers
    ///     that evaluate many events (nil: computed here).
    public static func evaluate(
        _ criteria: Criteria, fingerprints: [UInt64]? = nil, states: consuming SmallList<CriterionState?>,
        event: ActivityEvent,
        timeZone: String, prerequisitesHeld: Bool, local givenLocal: LocalTime? = nil
    ) throws(BadgeError) -> Outcome {
        let local: LocalTime
        if let givenLocal { local = givenLocal } else { local = try Self.localTime(event, timeZone) }
        let fingerprints = fingerprints ?? Self.fingerprints(of: criteria)
        // Positions, not a dictionary by key: hashing the keys four times per state, and a
        // dictionary per badge, were ~5% of planning an event.
        var result = Outcome()
        for (index, criterion) in criteria.criteria.enumerated() {
            let fingerprint = fingerprints[index]
            var current: CriterionState
            // Handed over, not shared, so that the state's arrays are changed in place (copying
            // them on every event was a sixth of the engine's time).
            // (`consume`: a binding left alive would share the state's buffers, and the event's
            // changes would copy them.)
            if index < states.count, let stored = states.take(at: index) {
                // A state measured against another definition of the criterion is not carried over.
                if stored.fingerprint == fingerprint {
                    current = consume stored
                } else if CriterionEngine.isEarlierStamp(stored.fingerprint, of: criterion, timeZone: criteria.timeZone)
                {
                    // Stored by an older build: the same rule, stamped the old way.
                    current = consume stored
                    current.fingerprint = fingerprint
                    result.markChanged(index)
                } else {
                    current = CriterionState(fingerprint: fingerprint)
                    result.markChanged(index)
                }
            } else {
                current = CriterionState(fingerprint: fingerprint)
            }
            let matched = CriterionEngine.matches(criterion, event, at: local)
            if matched {
                CriterionEngine.record(criterion, into: &current, event, at: local)
                result.markChanged(index)
            }
            let value = CriterionEngine.current(criterion, current, at: local, atEvent: matched)
            let complete = value >= CriterionEngine.target(criterion)
            if matched { result.progressList.append(CriterionEngine.progress(criterion, current, value: value)) }
            if complete { result.metValues.append((index, value)) }
            result.states.append(consume current)
        }
        let met = result.metValues.count
        let criteriaMet = criteria.combine == .all ? met == criteria.criteria.count : met > 0
        result.complete = criteriaMet && prerequisitesHeld && !result.progressList.isEmpty
        return result
    }

    /// `evaluate` with the stored states by criterion key (states under keys the criteria do not
    /// have are left out).
    public static func evaluate(
        _ criteria: Criteria, fingerprints: [UInt64]? = nil, states: [String: CriterionState],
        event: ActivityEvent,
        timeZone: String, prerequisitesHeld: Bool, local: LocalTime? = nil
    ) throws(BadgeError) -> Outcome {
        var byKey = states
        var ordered = SmallList<CriterionState?>()
        for criterion in criteria.criteria { ordered.append(byKey.removeValue(forKey: criterion.key)) }
        return try evaluate(
            criteria, fingerprints: fingerprints, states: ordered, event: event, timeZone: timeZone,
            prerequisitesHeld: prerequisitesHeld, local: local)
    }

    static func localTime(_ event: ActivityEvent, _ timeZone: String) throws(BadgeError) -> LocalTime {
        try LocalTime(utcMs: event.occurredAtMs, timeZone: timeZone)
    }

    /// One fingerprint per criterion, in order.
    public static func fingerprints(of criteria: Criteria) -> [UInt64] {
        criteria.criteria.map { CriterionEngine.fingerprint($0, timeZone: criteria.timeZone) }
    }

    /// After a repeatable badge is awarded by its criteria, its progress starts a new round.
    public static func startNewRound(_ outcome: inout Outcome) {
        for index in 0..<outcome.states.count {
            outcome.states.update(at: index) { state in
                // Everything restarts, a state criterion's value included: otherwise every later
                // event would find the customer still GOLD and award the badge again. Its time is
                // kept so that an older, late event cannot bring the old value back.
                var fresh = CriterionState(fingerprint: state.fingerprint)
                fresh.rounds = state.rounds + 1
                fresh.stateTimeMs = state.stateTimeMs
                state = fresh
            }
            outcome.markChanged(index)
        }
    }

    /// When the states of a non-repeatable badge say the customer holds it (the latest mark, if
    /// still after `now`), or nil when they do not know: the caller must then read the awards.
    public static func heldUntil(_ outcome: Outcome, now: Int64) -> Int64? {
        var latest: Int64 = 0
        outcome.states.forEach { latest = max(latest, $0.heldUntilMs) }
        return latest > now ? latest : nil
    }

    /// After a non-repeatable badge is awarded by its criteria: every state of the badge says it is
    /// held until `until` (`Int64.max`: no expiry), so that later completions need not read the
    /// customer's awards to refuse it. Whoever revokes the award must clear the mark.
    public static func markHeld(_ outcome: inout Outcome, until: Int64) {
        for index in 0..<outcome.states.count {
            outcome.states.update(at: index) { $0.heldUntilMs = until }
            outcome.markChanged(index)
        }
    }

    /// Progress toward `criteria` now, for the trophy case.
    public static func progress(
        _ criteria: Criteria, states: [String: CriterionState], nowMs: Int64, timeZone: String
    ) -> [Progress] {
        guard let local = try? LocalTime(utcMs: nowMs, timeZone: timeZone) else { return [] }
        return progress(criteria, fingerprints: fingerprints(of: criteria), states: states, at: local)
    }

    /// `progress(_:states:nowMs:timeZone:)` with the criteria's `fingerprints(of:)` and the local
    /// time worked out by the caller (a trophy case keeps the fingerprints with its catalogue and
    /// the local time for its badges sharing a zone).
    public static func progress(
        _ criteria: Criteria, fingerprints: [UInt64], states: [String: CriterionState], at local: LocalTime
    ) -> [Progress] {
        precondition(fingerprints.count == criteria.criteria.count, "one fingerprint per criterion")
        return zip(criteria.criteria, fingerprints).map { criterion, fingerprint in
            let state = states[criterion.key].flatMap { state in
                state.fingerprint == fingerprint
                    || CriterionEngine.isEarlierStamp(state.fingerprint, of: criterion, timeZone: criteria.timeZone)
                    ? state : nil
            }
            return CriterionEngine.progress(
                criterion, state ?? CriterionState(fingerprint: fingerprint), at: local, atEvent: false)
        }
    }

    /// The criteria in words ("3 referral events; holding new-member").
    public static func describe(_ criteria: Criteria) -> String {
        var parts = criteria.criteria.map(CriterionEngine.describe)
        var text = parts.joined(separator: criteria.combine == .all ? " and " : " or ")
        if !criteria.prerequisites.isEmpty {
            parts = ["holding " + criteria.prerequisites.joined(separator: ", ")]
            text += (text.isEmpty ? "" : "; ") + parts[0]
        }
        return text
    }
}
