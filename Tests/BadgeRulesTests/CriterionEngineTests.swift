import BadgeModel
import BadgeRules
import BadgeTestSupport
import Testing

/// Feeds events through `BadgeEvaluator` the way the service does (states persisted between
/// events, repeatable badges starting a new round after each award), counting awards.
struct Simulator {
    var criteria: Criteria
    var repeatable: Bool
    var states: [String: CriterionState] = [:]
    var awards: [String] = []

    mutating func feed(_ event: ActivityEvent) throws {
        guard repeatable || awards.isEmpty else {
            // A held non-repeatable badge keeps counting but is not awarded again.
            states = try BadgeEvaluator.evaluate(
                criteria, states: states, event: event, timeZone: criteria.timeZone, prerequisitesHeld: true
            ).statesByKey(criteria)
            return
        }
        var outcome = try BadgeEvaluator.evaluate(
            criteria, states: states, event: event, timeZone: criteria.timeZone, prerequisitesHeld: true)
        if outcome.complete {
            awards.append(event.eventId)
            if repeatable { BadgeEvaluator.startNewRound(&outcome) }
        }
        states = outcome.statesByKey(criteria)
    }
}

@Suite("Criterion engine")
struct CriterionEngineTests {
    static let day: Int64 = 86_400_000
    static let base: Int64 = 1_780_315_200_000  // 2026-06-01T12:00:00Z

    func event(
        _ id: String, _ type: String = "purchase", day: Int64 = 0, amount: Double = 0,
        attributes: [String: String] = [:]
    )
        -> ActivityEvent
    {
        ActivityEvent(
            eventId: id, customerId: "c", type: type, occurredAtMs: Self.base + day * Self.day, amount: amount,
            attributes: attributes)
    }

    @Test("conditions: equality, sets and numbers, with amount as a number")
    func conditions() throws {
        let local = try LocalTime(utcMs: Self.base, timeZone: "")
        var criterion = Criterion(
            key: "k", eventType: "purchase",
            conditions: [
                Condition(attribute: "channel", op: .in, values: ["store", "app"]),
                Condition(attribute: "amount", op: .gte, number: 100),
                Condition(attribute: "coupon", op: .ne, values: ["yes"]),
            ])
        #expect(CriterionEngine.matches(criterion, event("1", amount: 150, attributes: ["channel": "app"]), at: local))
        #expect(!CriterionEngine.matches(criterion, event("2", amount: 50, attributes: ["channel": "app"]), at: local))
        #expect(!CriterionEngine.matches(criterion, event("3", amount: 150, attributes: ["channel": "web"]), at: local))
        #expect(
            !CriterionEngine.matches(
                criterion, event("4", amount: 150, attributes: ["channel": "app", "coupon": "yes"]), at: local))
        #expect(
            !CriterionEngine.matches(
                criterion, event("5", "refund", amount: 150, attributes: ["channel": "app"]), at: local))
        criterion.conditions = [Condition(attribute: "items", op: .lt, number: 3)]
        #expect(CriterionEngine.matches(criterion, event("6", attributes: ["items": "2"]), at: local))
        #expect(!CriterionEngine.matches(criterion, event("7", attributes: ["items": "many"]), at: local))
    }

    @Test("types, attribute names, condition values and state values match byte for byte")
    func exactText() throws {
        let local = try LocalTime(utcMs: Self.base, timeZone: "")
        // One `String` to Swift, two texts to the protocol.
        let (nfc, nfd) = ("\u{E9}t\u{E9}", "e\u{301}te\u{301}")
        #expect(nfc == nfd && !nfc.isSameId(nfd))
        let typed = Criterion(key: "k", eventType: nfc)
        #expect(CriterionEngine.matches(typed, event("1", nfc), at: local))
        #expect(!CriterionEngine.matches(typed, event("2", nfd), at: local))
        for (op, matchesSame) in [(Condition.Op.eq, true), (.ne, false), (.in, true), (.notIn, false)] {
            let criterion = Criterion(
                key: "k", eventType: "purchase", conditions: [Condition(attribute: "a", op: op, values: [nfc])])
            #expect(CriterionEngine.matches(criterion, event("3", attributes: ["a": nfc]), at: local) == matchesSame)
            #expect(CriterionEngine.matches(criterion, event("4", attributes: ["a": nfd]), at: local) == !matchesSame)
        }
        // An attribute of another name in other bytes is absent: `ne` holds, `eq` does not.
        let named = Criterion(
            key: "k", eventType: "purchase", conditions: [Condition(attribute: nfc, op: .eq, values: ["x"])])
        #expect(CriterionEngine.matches(named, event("5", attributes: [nfc: "x"]), at: local))
        #expect(!CriterionEngine.matches(named, event("6", attributes: [nfd: "x"]), at: local))
        let summed = Criterion(key: "s", eventType: "purchase", aggregate: .sum, attribute: nfc, target: 9)
        let sum = CriterionEngine.record(summed, CriterionState(), event("7", attributes: [nfd: "2"]), at: local)
        #expect(CriterionEngine.current(summed, sum, at: local, atEvent: true) == 0)
        // DISTINCT keeps both values; STATE compares its value by bytes.
        let distinct = Criterion(key: "d", eventType: "purchase", aggregate: .distinct, attribute: "a", target: 2)
        var state = CriterionEngine.record(distinct, CriterionState(), event("8", attributes: ["a": nfc]), at: local)
        state = CriterionEngine.record(distinct, state, event("9", attributes: ["a": nfd]), at: local)
        #expect(state.distinct.count == 2)
        let tier = Criterion(key: "t", eventType: "purchase", aggregate: .state, attribute: "a", stateValue: nfc)
        let other = CriterionEngine.record(tier, CriterionState(), event("10", attributes: ["a": nfd]), at: local)
        let same = CriterionEngine.record(tier, CriterionState(), event("11", attributes: ["a": nfc]), at: local)
        #expect(CriterionEngine.current(tier, other, at: local, atEvent: true) == 0)
        #expect(CriterionEngine.current(tier, same, at: local, atEvent: true) == 1)
    }

    @Test("time-of-day windows wrap midnight; days of week are ISO")
    func timeWindows() throws {
        let night = TimeOfDayWindow(startMinute: 22 * 60, endMinute: 5 * 60)
        #expect(CriterionEngineProbe.contains(night, 23 * 60 + 30))
        #expect(CriterionEngineProbe.contains(night, 0))
        #expect(CriterionEngineProbe.contains(night, 4 * 60 + 59))
        #expect(!CriterionEngineProbe.contains(night, 5 * 60))
        #expect(!CriterionEngineProbe.contains(night, 21 * 60 + 59))
        // 2026-06-01 is a Monday.
        let monday = try LocalTime(utcMs: Self.base, timeZone: "")
        #expect(monday.weekday == 1)
        // 23:00Z on Monday is 08:00 on Tuesday in Tokyo.
        let tuesdayInTokyo = try LocalTime(utcMs: Self.base + 11 * 3_600_000, timeZone: "Asia/Tokyo")
        #expect(tuesdayInTokyo.weekday == 2)
        let weekend = Criterion(key: "k", eventType: "purchase", daysOfWeek: [6, 7])
        #expect(!CriterionEngine.matches(weekend, event("1"), at: monday))
        #expect(
            CriterionEngine.matches(weekend, event("1"), at: try LocalTime(utcMs: Self.base - Self.day, timeZone: "")))
    }

    @Test("a late event fills a streak's gap and completes it")
    func lateEventCompletesStreak() throws {
        var simulator = Simulator(
            criteria: Criteria(criteria: [Criterion(key: "s", eventType: "visit", aggregate: .streak, target: 5)]),
            repeatable: false)
        for day: Int64 in [0, 1, 3, 4] { try simulator.feed(event("v\(day)", "visit", day: day)) }
        #expect(simulator.awards.isEmpty)
        try simulator.feed(event("late", "visit", day: 2))
        #expect(simulator.awards == ["late"])
    }

    @Test("a late event counts in a rolling window it belongs to")
    func lateEventRollingWindow() throws {
        var simulator = Simulator(
            criteria: Criteria(criteria: [
                Criterion(key: "w", eventType: "purchase", target: 2, window: .rollingDays, windowDays: 3)
            ]), repeatable: false)
        try simulator.feed(event("a", day: 5))
        try simulator.feed(event("b", day: 1))  // too far before day 5 for one 3-day window
        #expect(simulator.awards.isEmpty)
        try simulator.feed(event("c", day: 4))  // late, and inside [3, 5] with day 5
        #expect(simulator.awards == ["c"])
    }

    @Test("a rolling sum reports its best window even when every window is negative (refunds)")
    func rollingSumOfRefunds() throws {
        let criterion = Criterion(
            key: "s", eventType: "purchase", aggregate: .sum, target: 100, window: .rollingDays, windowDays: 2)
        let criteria = Criteria(criteria: [criterion])
        var states: [String: CriterionState] = [:]
        var last: BadgeEvaluator.Outcome?
        for (id, day, amount) in [("a", Int64(0), -50.0), ("b", 1, -20.0), ("c", 3, -30.0)] {
            let outcome = try BadgeEvaluator.evaluate(
                criteria, states: states, event: event(id, day: day, amount: amount), timeZone: "UTC",
                prerequisitesHeld: true)
            states = outcome.statesByKey(criteria)
            last = outcome
        }
        // Windows holding day 3: [2, 3] = -30 and [3, 4] = -30; day 1's -20 is outside both.
        #expect(last?.progress.first?.current == -30)
        let now = try LocalTime(utcMs: Self.base + 1 * Self.day, timeZone: "UTC")
        // Now (day 1): the window [0, 1] holds -50 and -20.
        #expect(CriterionEngine.current(criterion, states["s"]!, at: now, atEvent: false) == -70)
    }

    @Test("states of criteria a badge no longer has are not returned, changed or restarted")
    func orphanStatesAreLeftAlone() throws {
        let criteria = Criteria(criteria: [Criterion(key: "now", eventType: "purchase", target: 1)])
        var orphan = CriterionState(fingerprint: 7)
        orphan.count = 4
        var outcome = try BadgeEvaluator.evaluate(
            criteria, states: ["removed": orphan], event: event("a"), timeZone: "UTC", prerequisitesHeld: true)
        #expect(outcome.complete)
        BadgeEvaluator.startNewRound(&outcome)
        #expect(Set(outcome.statesByKey(criteria).keys) == ["now"])
        #expect(outcome.changed == [0])
    }

    @Test(
        "a state measured against an old definition restarts and counts the event: changed once, in the criteria's order"
    )
    func replacedStateIsChangedOnce() throws {
        let criteria = Criteria(
            combine: .all,
            criteria: [
                Criterion(key: "b", eventType: "purchase", target: 5),
                Criterion(key: "a", eventType: "purchase", target: 5),
            ])
        var stale = CriterionState(fingerprint: 7)
        stale.count = 4
        let outcome = try BadgeEvaluator.evaluate(
            criteria, states: ["b": stale, "a": stale], event: event("e"), timeZone: "UTC", prerequisitesHeld: true)
        #expect(outcome.changed == [0, 1])
        #expect(outcome.states[0].count == 1 && outcome.states[1].count == 1)
        #expect(outcome.statesByKey(criteria).keys.sorted() == ["a", "b"])
    }

    @Test("calendar windows count within the event's own period")
    func calendarMonth() throws {
        var simulator = Simulator(
            criteria: Criteria(criteria: [
                Criterion(key: "m", eventType: "purchase", aggregate: .sum, target: 100, window: .calendarMonth)
            ]), repeatable: false)
        try simulator.feed(event("may", day: -1, amount: 60))  // 2026-05-31
        try simulator.feed(event("june", day: 0, amount: 60))  // 2026-06-01: another month
        #expect(simulator.awards.isEmpty)
        try simulator.feed(event("june2", day: 10, amount: 40))
        #expect(simulator.awards == ["june2"])
    }

    @Test("state criteria keep the latest value by event time, whatever the arrival order")
    func stateLatestWins() throws {
        let criterion = Criterion(
            key: "t", eventType: "tier_changed", aggregate: .state, attribute: "tier", stateValue: "GOLD")
        var state = CriterionState()
        let local = try LocalTime(utcMs: Self.base, timeZone: "")
        state = CriterionEngine.record(
            criterion, state, event("new", "tier_changed", day: 2, attributes: ["tier": "SILVER"]), at: local)
        state = CriterionEngine.record(
            criterion, state, event("old", "tier_changed", day: 1, attributes: ["tier": "GOLD"]), at: local)
        #expect(state.stateValue == "SILVER")
    }

    @Test("distinct counts values, not events")
    func distinct() throws {
        var simulator = Simulator(
            criteria: Criteria(criteria: [
                Criterion(key: "d", eventType: "purchase", aggregate: .distinct, attribute: "store", target: 3)
            ]), repeatable: false)
        for (index, store) in ["a", "b", "a", "b"].enumerated() {
            try simulator.feed(event("e\(index)", attributes: ["store": store]))
        }
        #expect(simulator.awards.isEmpty)
        try simulator.feed(event("e9", attributes: ["store": "c"]))
        #expect(simulator.awards == ["e9"])
    }

    @Test("a state keeps event ids only where evidence lists them: a count's last ten, nothing for the rest")
    func recentIdsKept() throws {
        let local = try LocalTime(utcMs: Self.base, timeZone: "")
        let count = Criterion(key: "c", eventType: "purchase", aggregate: .count, target: 3)
        let many = Criterion(key: "m", eventType: "purchase", aggregate: .count, target: 500)
        let sum = Criterion(key: "s", eventType: "purchase", aggregate: .sum, target: 1000)
        let streak = Criterion(key: "k", eventType: "purchase", aggregate: .streak, target: 7)
        var states = [CriterionState](repeating: CriterionState(), count: 4)
        // A state stored before: ten ids, which only a COUNT's evidence ever shows.
        states[2].recent = RecentIds((0..<10).map { "old-\($0)" })
        for index in 0..<12 {
            let purchase = event("e\(index)", amount: 100)
            for (position, criterion) in [count, many, sum, streak].enumerated() {
                states[position] = CriterionEngine.record(criterion, states[position], purchase, at: local)
            }
        }
        // Ten, not `target`: a raised target keeps the state and lists more of them.
        #expect(states[0].recent.ids == (2..<12).map { "e\($0)" })
        #expect(states[1].recent.ids == (2..<12).map { "e\($0)" })
        #expect(states[2].recent.isEmpty)
        #expect(states[3].recent.isEmpty)
        #expect(CriterionEngine.evidence(count, states[0], value: 12) == "12 purchase: e9, e10, e11")
        #expect(
            CriterionEngine.evidence(many, states[1], value: 12).hasSuffix(": e2, e3, e4, e5, e6, e7, e8, e9, e10, e11")
        )
        #expect(CriterionEngine.evidence(sum, states[2], value: 1200) == "amount 1,200.00 >= 1,000.00")
    }

    @Test("a count whose target is raised in place (progress kept) still lists its last `target` ids")
    func recentIdsAfterTargetRaised() throws {
        let three = Criteria(criteria: [Criterion(key: "c", eventType: "purchase", target: 3)])
        var states: [String: CriterionState] = [:]
        for index in 0..<5 {
            states = try BadgeEvaluator.evaluate(
                three, states: states, event: event("e\(index)"), timeZone: "", prerequisitesHeld: true
            ).statesByKey(three)
        }
        // PutBadge replace raising the target: same fingerprint, so the customer's progress stays.
        let five = Criteria(criteria: [Criterion(key: "c", eventType: "purchase", target: 5)])
        let outcome = try BadgeEvaluator.evaluate(
            five, states: states, event: event("e5"), timeZone: "", prerequisitesHeld: true)
        #expect(outcome.complete)
        #expect(outcome.evidence(for: five) == "6 purchase: e1, e2, e3, e4, e5")
    }

    @Test("fingerprints change with the rule and the badge's zone, not with the key or unit")
    func fingerprints() {
        let base = Criterion(key: "a", eventType: "purchase", target: 3, unit: "buys")
        var renamed = base
        renamed.key = "b"
        renamed.unit = "purchases"
        var retargeted = base
        retargeted.target = 4
        var filtered = base
        filtered.conditions = [Condition(attribute: "x", op: .eq, values: ["1"])]
        let print = CriterionEngine.fingerprint(base, timeZone: "")
        #expect(CriterionEngine.fingerprint(renamed, timeZone: "") == print)
        #expect(CriterionEngine.fingerprint(filtered, timeZone: "") != print)
        #expect(CriterionEngine.fingerprint(base, timeZone: "Europe/Paris") != print)
        // The target is compared at evaluation time; changing it keeps the count.
        #expect(CriterionEngine.fingerprint(retargeted, timeZone: "") == print)
    }

    @Test("sets count as sets in a fingerprint, and no field's text can pass for another's")
    func fingerprintsOfSets() {
        var base = Criterion(key: "a", eventType: "purchase", target: 3, daysOfWeek: [6, 7])
        base.conditions = [
            Condition(attribute: "channel", op: .in, values: ["store", "app"]),
            Condition(attribute: "amount", op: .gte, number: 100),
            Condition(attribute: "coupon", op: .eq, values: ["no"]),
        ]
        let print = CriterionEngine.fingerprint(base, timeZone: "")
        var reordered = base
        reordered.daysOfWeek = [7, 6, 7]
        reordered.conditions = [
            Condition(attribute: "coupon", op: .eq, values: ["no", "ignored: eq compares with the first"]),
            Condition(attribute: "channel", op: .in, values: ["app", "store"]),
            Condition(attribute: "amount", op: .gte, number: 100),
        ]
        #expect(CriterionEngine.fingerprint(reordered, timeZone: "") == print)
        // The old fingerprint told them apart, so reordering a definition restarted its progress.
        #expect(
            CriterionEngine.legacyFingerprint(reordered, timeZone: "")
                != CriterionEngine.legacyFingerprint(base, timeZone: ""))
        var changed = base
        changed.conditions[0].values = ["store", "web"]
        #expect(CriterionEngine.fingerprint(changed, timeZone: "") != print)
        changed = base
        changed.daysOfWeek = [6]
        #expect(CriterionEngine.fingerprint(changed, timeZone: "") != print)
        // Filters that let every event through are no filter.
        var unfiltered = Criterion(key: "a", eventType: "purchase", target: 3)
        let plain = CriterionEngine.fingerprint(unfiltered, timeZone: "")
        unfiltered.timeOfDay = TimeOfDayWindow(startMinute: 600, endMinute: 600)
        unfiltered.daysOfWeek = [1, 2, 3, 4, 5, 6, 7]
        #expect(CriterionEngine.fingerprint(unfiltered, timeZone: "") == plain)
        unfiltered.conditions = [Condition(attribute: "amount", op: .gt, number: -0.0)]
        let negativeZero = CriterionEngine.fingerprint(unfiltered, timeZone: "")
        unfiltered.conditions = [Condition(attribute: "amount", op: .gt, number: 0)]
        #expect(CriterionEngine.fingerprint(unfiltered, timeZone: "") == negativeZero)
        // Two different rules that the old `|`-joined text could not tell apart.
        let pipeInAttribute = Criterion(
            key: "t", eventType: "tier_changed", aggregate: .state, attribute: "x|y", stateValue: "z")
        let pipeInValue = Criterion(
            key: "t", eventType: "tier_changed", aggregate: .state, attribute: "x", stateValue: "y|z")
        #expect(
            CriterionEngine.legacyFingerprint(pipeInAttribute, timeZone: "")
                == CriterionEngine.legacyFingerprint(pipeInValue, timeZone: ""))
        #expect(
            CriterionEngine.fingerprint(pipeInAttribute, timeZone: "")
                != CriterionEngine.fingerprint(pipeInValue, timeZone: ""))
    }

    @Test("conditions are a set in a fingerprint: one given twice is the same rule")
    func fingerprintOfRepeatedCondition() {
        let coupon = Condition(attribute: "coupon", op: .eq, values: ["no"])
        let channel = Condition(attribute: "channel", op: .in, values: ["store", "app"])
        var once = Criterion(key: "a", eventType: "purchase", target: 3)
        once.conditions = [coupon, channel]
        var twice = once
        twice.conditions = [coupon, channel, coupon]
        #expect(CriterionEngine.fingerprint(twice, timeZone: "") == CriterionEngine.fingerprint(once, timeZone: ""))
        var other = once
        other.conditions = [coupon]
        #expect(CriterionEngine.fingerprint(other, timeZone: "") != CriterionEngine.fingerprint(once, timeZone: ""))
    }

    @Test("a state stamped with the old fingerprint keeps its progress and takes the new stamp")
    func legacyStampedStateCarriesOver() throws {
        let criterion = Criterion(key: "c", eventType: "purchase", target: 3)
        let criteria = Criteria(criteria: [criterion])
        var stored = CriterionState(fingerprint: CriterionEngine.legacyFingerprint(criterion, timeZone: ""))
        stored.count = 2
        let local = try LocalTime(utcMs: Self.base, timeZone: "")
        let shown = BadgeEvaluator.progress(
            criteria, fingerprints: BadgeEvaluator.fingerprints(of: criteria), states: ["c": stored], at: local)
        #expect(shown.map(\.current) == [2])
        let outcome = try BadgeEvaluator.evaluate(
            criteria, states: ["c": stored], event: event("e3"), timeZone: "", prerequisitesHeld: true)
        #expect(outcome.complete)
        #expect(outcome.statesByKey(criteria)["c"]?.count == 3)
        #expect(outcome.statesByKey(criteria)["c"]?.fingerprint == CriterionEngine.fingerprint(criterion, timeZone: ""))
        // A state of another rule still starts again.
        stored.fingerprint = CriterionEngine.legacyFingerprint(
            Criterion(key: "c", eventType: "refund", target: 3), timeZone: "")
        let restarted = try BadgeEvaluator.evaluate(
            criteria, states: ["c": stored], event: event("e4"), timeZone: "", prerequisitesHeld: true)
        #expect(restarted.statesByKey(criteria)["c"]?.count == 1)
    }

    @Test("an old stamp the old fingerprint gave another rule too is not carried over")
    func legacyStampSharedWithAnotherRule() throws {
        // The old `|`-joined text made these one fingerprint, though they sum different attributes.
        let before = Criterion(
            key: "s", eventType: "purchase", aggregate: .sum, attribute: "x|y", target: 100, stateValue: "z")
        let after = Criterion(
            key: "s", eventType: "purchase", aggregate: .sum, attribute: "x", target: 100, stateValue: "y|z")
        var stored = CriterionState(fingerprint: CriterionEngine.legacyFingerprint(before, timeZone: ""))
        stored.count = 1
        stored.sum = 500
        let criteria = Criteria(criteria: [after])
        let local = try LocalTime(utcMs: Self.base, timeZone: "")
        let shown = BadgeEvaluator.progress(
            criteria, fingerprints: BadgeEvaluator.fingerprints(of: criteria), states: ["s": stored], at: local)
        #expect(shown.map(\.current) == [0])
        let outcome = try BadgeEvaluator.evaluate(
            criteria, states: ["s": stored], event: event("e1", attributes: ["x": "10"]), timeZone: "",
            prerequisitesHeld: true)
        #expect(outcome.statesByKey(criteria)["s"]?.sum == 10)
        #expect(!outcome.complete)
    }

    @Test("an in set's values are told apart byte for byte, as matching tells them apart")
    func fingerprintOfSetSpellings() throws {
        let precomposed = "caf\u{E9}"
        let decomposed = "cafe\u{301}"
        #expect(precomposed == decomposed && Array(precomposed.utf8) != Array(decomposed.utf8))
        var one = Criterion(key: "c", eventType: "purchase", target: 2)
        one.conditions = [Condition(attribute: "shop", op: .in, values: [precomposed])]
        var both = one
        both.conditions[0].values = [precomposed, decomposed]
        // They count different events...
        let local = try LocalTime(utcMs: Self.base, timeZone: "")
        let spelledApart = event("e1", attributes: ["shop": decomposed])
        #expect(!CriterionEngine.matches(one, spelledApart, at: local))
        #expect(CriterionEngine.matches(both, spelledApart, at: local))
        // ...so they are different rules; the `String` set made them one.
        #expect(CriterionEngine.fingerprint(both, timeZone: "") != CriterionEngine.fingerprint(one, timeZone: ""))
        #expect(
            CriterionEngine.textSetFingerprint(both, timeZone: "")
                == CriterionEngine.textSetFingerprint(one, timeZone: ""))
        var notIn = one
        notIn.conditions[0].op = .notIn
        var notInBoth = both
        notInBoth.conditions[0].op = .notIn
        #expect(
            CriterionEngine.fingerprint(notInBoth, timeZone: "") != CriterionEngine.fingerprint(notIn, timeZone: ""))
    }

    @Test("a state stamped before sets were taken byte for byte keeps its progress unless values merged")
    func textSetStampedStateCarriesOver() throws {
        // String order puts "é" (decomposed) after "f"; byte order puts it before, so the stamp changed.
        var reordered = Criterion(key: "c", eventType: "purchase", target: 3)
        reordered.conditions = [Condition(attribute: "shop", op: .in, values: ["f", "e\u{301}"])]
        let earlier = CriterionEngine.textSetFingerprint(reordered, timeZone: "")
        #expect(earlier != CriterionEngine.fingerprint(reordered, timeZone: ""))
        var stored = CriterionState(fingerprint: earlier)
        stored.count = 2
        let criteria = Criteria(criteria: [reordered])
        let outcome = try BadgeEvaluator.evaluate(
            criteria, states: ["c": stored], event: event("e3", attributes: ["shop": "f"]), timeZone: "",
            prerequisitesHeld: true)
        #expect(outcome.complete)
        #expect(outcome.statesByKey(criteria)["c"]?.fingerprint == CriterionEngine.fingerprint(reordered, timeZone: ""))
        // Where the old set merged two spellings, its stamp is also the one-spelling rule's: restart.
        var merged = reordered
        merged.conditions[0].values = ["\u{E9}", "e\u{301}"]
        stored.fingerprint = CriterionEngine.textSetFingerprint(merged, timeZone: "")
        let restarted = try BadgeEvaluator.evaluate(
            Criteria(criteria: [merged]), states: ["c": stored], event: event("e4", attributes: ["shop": "\u{E9}"]),
            timeZone: "", prerequisitesHeld: true)
        #expect(restarted.statesByKey(Criteria(criteria: [merged]))["c"]?.count == 1)
        let local = try LocalTime(utcMs: Self.base, timeZone: "")
        let shown = BadgeEvaluator.progress(
            Criteria(criteria: [merged]), fingerprints: BadgeEvaluator.fingerprints(of: Criteria(criteria: [merged])),
            states: ["c": stored], at: local)
        #expect(shown.map(\.current) == [0])
    }

    @Test("progress text and number formatting")
    func texts() {
        #expect(Format.decimal(1240) == "1,240.00")
        #expect(Format.decimal(1_234_567.891) == "1,234,567.89")
        #expect(Format.decimal(-5.5) == "-5.50")
        #expect(Format.count(3) == "3")
        #expect(Format.count(2.5) == "2.50")
        #expect(Format.decimal(0) == "0.00")
        #expect(Format.decimal(0.05) == "0.05")
        #expect(Format.decimal(999.999) == "1,000.00")
        #expect(Format.decimal(100_000) == "100,000.00")
        #expect(Format.decimal(-1_234_567) == "-1,234,567.00")
        // Any finite amount is accepted, so any must format (these trapped converting to Int64).
        #expect(Format.decimal(1e300) == "1e+300")
        #expect(Format.decimal(-1e20) == "-1e+20")
        #expect(Format.count(1e300) == "1e+300")
    }

    // MARK: - Properties

    /// Random streams of purchases and visits over a few weeks.
    func randomStream(_ generator: inout SplitMix64, count: Int) -> [ActivityEvent] {
        (0..<count).map { index in
            event(
                "e\(index)", Bool.random(using: &generator) ? "purchase" : "visit",
                day: Int64.random(in: 0..<20, using: &generator),
                amount: Double(Int.random(in: 1...300, using: &generator)),
                attributes: ["store": "s\(Int.random(in: 0..<6, using: &generator))"])
        }
    }

    static let mixed = Criteria(criteria: [
        Criterion(key: "count", eventType: "purchase", target: 4),
        Criterion(key: "sum", eventType: "purchase", aggregate: .sum, target: 700),
        Criterion(key: "stores", eventType: "purchase", aggregate: .distinct, attribute: "store", target: 4),
        Criterion(key: "streak", eventType: "visit", aggregate: .streak, target: 3),
    ])

    @Test("splitting a stream into any batches (state stored between them) gives the same awards", arguments: 0..<40)
    func batchingDoesNotChangeAwards(seed: UInt64) throws {
        var generator = SplitMix64(state: seed)
        let events = randomStream(&generator, count: Int.random(in: 5...60, using: &generator))
        for repeatable in [false, true] {
            var whole = Simulator(criteria: Self.mixed, repeatable: repeatable)
            for event in events { try whole.feed(event) }
            // Batches: each starts from the states the previous one left (as the store would hand
            // them back), processed by a fresh simulator.
            var states: [String: CriterionState] = [:]
            var awards: [String] = []
            var index = 0
            while index < events.count {
                let size = Int.random(in: 1...8, using: &generator)
                var batch = Simulator(criteria: Self.mixed, repeatable: repeatable, states: states, awards: awards)
                for event in events[index..<min(index + size, events.count)] { try batch.feed(event) }
                states = batch.states
                awards = batch.awards
                index += size
            }
            #expect(awards == whole.awards, "seed \(seed), repeatable \(repeatable)")
            #expect(states == whole.states, "seed \(seed)")
        }
    }

    @Test("lifetime aggregates and streak runs do not depend on arrival order", arguments: 0..<40)
    func orderDoesNotChangeAggregates(seed: UInt64) throws {
        var generator = SplitMix64(state: seed &+ 1000)
        let events = randomStream(&generator, count: Int.random(in: 1...50, using: &generator))
        var inOrder = Simulator(criteria: Self.mixed, repeatable: false)
        var shuffled = Simulator(criteria: Self.mixed, repeatable: false)
        for event in events { try inOrder.feed(event) }
        for event in events.shuffled(using: &generator) { try shuffled.feed(event) }
        for key in ["count", "sum", "stores", "streak"] {
            let a = inOrder.states[key] ?? CriterionState()
            let b = shuffled.states[key] ?? CriterionState()
            #expect(a.count == b.count && a.sum == b.sum, "seed \(seed) \(key)")
            #expect(a.distinct.keys.sorted() == b.distinct.keys.sorted(), "seed \(seed) \(key)")
            #expect(a.runs == b.runs, "seed \(seed) \(key)")
        }
        // Whether the (non-repeatable) badge was earned at all is order-independent too.
        #expect(inOrder.awards.isEmpty == shuffled.awards.isEmpty, "seed \(seed)")
    }
}

/// Internal helpers reached through their public effect.
enum CriterionEngineProbe {
    static func contains(_ window: TimeOfDayWindow, _ minute: Int) -> Bool {
        let criterion = Criterion(key: "k", eventType: "x", timeOfDay: window)
        let event = ActivityEvent(eventId: "e", customerId: "c", type: "x", occurredAtMs: Int64(minute) * 60_000)
        return (try? CriterionEngine.matches(criterion, event, at: LocalTime(utcMs: event.occurredAtMs, timeZone: "")))
            ?? false
    }
}
