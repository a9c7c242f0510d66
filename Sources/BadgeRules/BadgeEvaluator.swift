import BadgeModel

/// Evaluates one event against one badge's criteria: updates the criteria states, and says whether
/// the badge is now earned and why. Pure.
public enum BadgeEvaluator {
    public struct Outcome: Sendable {
        /// Every criterion's state after the event, by key (including unchanged ones).
        public var states: [String: CriterionState]
        /// Keys whose state changed, sorted, each once (see `markChanged`).
        private var changedKeys = SmallList<String>()

        /// Keys whose state changed (to be stored), sorted (String order), each once.
        public var changed: [String] { changedKeys.array }

        /// Calls `body` with each key of `changed`, in order, without building the array.
        public func forEachChanged(_ body: (String) -> Void) { changedKeys.forEach(body) }

        init(states: [String: CriterionState]) {
            self.states = states
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

        /// Adds `key` to `changed` unless it is there, keeping the order: a criterion's state can
        /// be replaced (a new definition) and then count the event, and is stored once; sorted so
        /// that the same event always writes its states in the same order.
        mutating func markChanged(_ key: String) {
            var index = 0
            while index < changedKeys.count, changedKeys[index] < key { index += 1 }
            if index == changedKeys.count || changedKeys[index] != key { changedKeys.insert(key, at: index) }
        }

        /// Why the badge is earned ("3 referral: r-11, r-12, r-19; holding new-member"), from the
        /// states after the event. Call it before `startNewRound`, which clears them.
        public func evidence(for criteria: Criteria) -> String {
            var text = metValues.map { index, value in
                let criterion = criteria.criteria[index]
                return CriterionEngine.evidence(
                    criterion, states[criterion.key] ?? CriterionState(), value: value)
            }.joined(separator: "; ")
            if !criteria.prerequisites.isEmpty {
                text += "; holding \(criteria.prerequisites.joined(separator: ", "))"
            }
            return text
        }
    }

    /// - Parameters:
    ///   - states: the customer's stored states by criterion key (missing = none yet).
    ///   - timeZone: the zone local times are read in (event's, else customer's, else the badge's).
    ///   - prerequisitesHeld: the customer currently holds every prerequisite badge.
    ///   - fingerprints: `fingerprints(of: criteria)`, computed once per catalogue version by callers
    ///     that evaluate many events (nil: computed here).
    public static func evaluate(
        _ criteria: Criteria, fingerprints: [UInt64]? = nil, states: consuming [String: CriterionState],
        event: ActivityEvent,
        timeZone: String, prerequisitesHeld: Bool, local givenLocal: LocalTime? = nil
    ) throws(BadgeError) -> Outcome {
        let local: LocalTime
        if let givenLocal { local = givenLocal } else { local = try Self.localTime(event, timeZone) }
        let fingerprints = fingerprints ?? Self.fingerprints(of: criteria)
        // The caller's states are taken over and changed in place: copying each state's arrays on
        // every event was a sixth of the engine's time.
        var result = Outcome(states: states)
        for (index, criterion) in criteria.criteria.enumerated() {
            let fingerprint = fingerprints[index]
            var current: CriterionState
            if let stored = result.states.removeValue(forKey: criterion.key) {
                // A state measured against another definition of the criterion is not carried over.
                if stored.fingerprint == fingerprint {
                    current = stored
                } else if CriterionEngine.isLegacyStamp(stored.fingerprint, of: criterion, timeZone: criteria.timeZone)
                {
                    // Stored by an older build: the same rule, stamped the old way.
                    current = stored
                    current.fingerprint = fingerprint
                    result.markChanged(criterion.key)
                } else {
                    current = CriterionState(fingerprint: fingerprint)
                    result.markChanged(criterion.key)
                }
            } else {
                current = CriterionState(fingerprint: fingerprint)
            }
            let matched = CriterionEngine.matches(criterion, event, at: local)
            if matched {
                CriterionEngine.record(criterion, into: &current, event, at: local)
                result.markChanged(criterion.key)
            }
            let value = CriterionEngine.current(criterion, current, at: local, atEvent: matched)
            let complete = value >= CriterionEngine.target(criterion)
            if matched { result.progressList.append(CriterionEngine.progress(criterion, current, value: value)) }
            if complete { result.metValues.append((index, value)) }
            result.states[criterion.key] = current
        }
        if result.states.count != criteria.criteria.count {
            // States of criteria the badge no longer has stay where they are, untouched.
            let keys = Set(criteria.criteria.map(\.key))
            result.states = result.states.filter { keys.contains($0.key) }
        }
        let met = result.metValues.count
        let criteriaMet = criteria.combine == .all ? met == criteria.criteria.count : met > 0
        result.complete = criteriaMet && prerequisitesHeld && !result.progressList.isEmpty
        return result
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
        for (key, state) in outcome.states {
            // Everything restarts, a state criterion's value included: otherwise every later event
            // would find the customer still GOLD and award the badge again. Its time is kept so
            // that an older, late event cannot bring the old value back.
            var fresh = CriterionState(fingerprint: state.fingerprint)
            fresh.rounds = state.rounds + 1
            fresh.stateTimeMs = state.stateTimeMs
            outcome.states[key] = fresh
            outcome.markChanged(key)
        }
    }

    /// When the states of a non-repeatable badge say the customer holds it (the latest mark, if
    /// still after `now`), or nil when they do not know: the caller must then read the awards.
    public static func heldUntil(_ outcome: Outcome, now: Int64) -> Int64? {
        var latest: Int64 = 0
        for state in outcome.states.values { latest = max(latest, state.heldUntilMs) }
        return latest > now ? latest : nil
    }

    /// After a non-repeatable badge is awarded by its criteria: every state of the badge says it is
    /// held until `until` (`Int64.max`: no expiry), so that later completions need not read the
    /// customer's awards to refuse it. Whoever revokes the award must clear the mark.
    public static func markHeld(_ outcome: inout Outcome, until: Int64) {
        for key in Array(outcome.states.keys) {
            outcome.states[key]?.heldUntilMs = until
            outcome.markChanged(key)
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
                    || CriterionEngine.isLegacyStamp(state.fingerprint, of: criterion, timeZone: criteria.timeZone)
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

/// A list that keeps its first element inline and only the others in an array: an outcome's
/// changed keys and progress hold one element for most badges (one criterion), and an array per
/// badge was a tenth of an event's allocations.
struct SmallList<Element: Sendable>: Sendable {
    private var first: Element?
    private var rest: [Element] = []

    var isEmpty: Bool { first == nil }
    var count: Int { first == nil ? 0 : 1 + rest.count }

    subscript(index: Int) -> Element {
        guard let first else { preconditionFailure("index \(index) of an empty list") }
        return index == 0 ? first : rest[index - 1]
    }

    mutating func append(_ element: Element) {
        if first == nil { first = element } else { rest.append(element) }
    }

    /// Inserts `element` before the one at `index` (`count`: at the end).
    mutating func insert(_ element: Element, at index: Int) {
        guard let current = first, index < count else { return append(element) }
        if index == 0 {
            rest.insert(current, at: 0)
            first = element
        } else {
            rest.insert(element, at: index - 1)
        }
    }

    func forEach(_ body: (Element) -> Void) {
        guard let first else { return }
        body(first)
        for element in rest { body(element) }
    }

    var array: [Element] {
        guard let first else { return [] }
        return [first] + rest
    }
}
