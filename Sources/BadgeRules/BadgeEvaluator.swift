import BadgeModel

/// Evaluates one event against one badge's criteria: updates the criteria states, and says whether
/// the badge is now earned and why. Pure.
public enum BadgeEvaluator {
    public struct Outcome: Sendable {
        /// Every criterion's state after the event, by key (including unchanged ones).
        public var states: [String: CriterionState]
        /// Keys whose state changed (to be stored).
        public var changed: Set<String>
        /// The criteria are met (and the prerequisites held).
        public var complete: Bool
        /// Why, when complete.
        public var evidence: String
        /// Progress of the criteria the event counted toward.
        public var progress: [Progress]
    }

    /// - Parameters:
    ///   - states: the customer's stored states by criterion key (missing = none yet).
    ///   - timeZone: the zone local times are read in (event's, else customer's, else the badge's).
    ///   - prerequisitesHeld: the customer currently holds every prerequisite badge.
    public static func evaluate(
        _ criteria: Criteria, states: [String: CriterionState], event: ActivityEvent, timeZone: String,
        prerequisitesHeld: Bool
    ) throws(BadgeError) -> Outcome {
        let local = try LocalTime(utcMs: event.occurredAtMs, timeZone: timeZone)
        var result = Outcome(states: [:], changed: [], complete: false, evidence: "", progress: [])
        var met: [Bool] = []
        var reasons: [String] = []
        for criterion in criteria.criteria {
            let fingerprint = CriterionEngine.fingerprint(criterion, timeZone: criteria.timeZone)
            var state = states[criterion.key].flatMap { $0.fingerprint == fingerprint ? $0 : nil }
            if state == nil && states[criterion.key] != nil { result.changed.insert(criterion.key) }
            var current = state ?? CriterionState(fingerprint: fingerprint)
            let matched = CriterionEngine.matches(criterion, event, at: local)
            if matched {
                current = CriterionEngine.record(criterion, current, event, at: local)
                result.changed.insert(criterion.key)
            }
            state = current
            let progress = CriterionEngine.progress(criterion, current, at: local, atEvent: matched)
            if matched { result.progress.append(progress) }
            met.append(progress.complete)
            if progress.complete { reasons.append(CriterionEngine.evidence(criterion, current, value: progress.current)) }
            result.states[criterion.key] = state
        }
        let criteriaMet =
            met.isEmpty ? false : (criteria.combine == .all ? met.allSatisfy { $0 } : met.contains(true))
        result.complete = criteriaMet && prerequisitesHeld && !result.progress.isEmpty
        if result.complete {
            result.evidence = reasons.joined(separator: "; ")
            if !criteria.prerequisites.isEmpty {
                result.evidence += "; holding \(criteria.prerequisites.joined(separator: ", "))"
            }
        }
        return result
    }

    /// After a repeatable badge is awarded by its criteria, its progress starts a new round.
    public static func startNewRound(_ outcome: inout Outcome) {
        for (key, state) in outcome.states {
            var fresh = CriterionState(fingerprint: state.fingerprint)
            fresh.rounds = state.rounds + 1
            // A state criterion keeps the current value: the customer is still GOLD.
            fresh.stateValue = state.stateValue
            fresh.stateTimeMs = state.stateTimeMs
            outcome.states[key] = fresh
            outcome.changed.insert(key)
        }
    }

    /// Progress toward `criteria` now, for the trophy case.
    public static func progress(
        _ criteria: Criteria, states: [String: CriterionState], nowMs: Int64, timeZone: String
    ) -> [Progress] {
        guard let local = try? LocalTime(utcMs: nowMs, timeZone: timeZone) else { return [] }
        return criteria.criteria.map { criterion in
            let fingerprint = CriterionEngine.fingerprint(criterion, timeZone: criteria.timeZone)
            let state = states[criterion.key].flatMap { $0.fingerprint == fingerprint ? $0 : nil }
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
