import ArgumentParser
import BadgeClient
import BadgeModel
import BadgeRules
import BadgeService
import BadgeStore
import Foundation
import LMDB

/// `badge-bench`: in-process benchmarks of the achievement engine, and a helper that loads the
/// benchmark's rule catalogue into a running server for `badge-load --workload evaluate`.
@main
struct BadgeBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "badge-bench",
        abstract: "In-process Evaluate benchmarks (pure engine; durable service) and rule seeding.",
        subcommands: [Engine.self, Service.self, SeedRules.self])

    /// Median of the runs' rates.
    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted[sorted.count / 2]
    }

    struct Engine: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Pure evaluation: 50 badges of mixed criteria, states kept in memory.")
        @Option(help: "Events per run.") var events = 200_000
        @Option(help: "Customers.") var customers = 1000
        @Option(help: "Runs (the median is reported).") var runs = 5
        @Flag(help: "JSON output.") var json = false

        func run() throws {
            let badges = RuleCatalogue.badges()
            // Badge positions per event type, and fingerprints, worked out once as the service does.
            let positionsByType = Dictionary(grouping: badges.indices) { badges[$0].criteria!.criteria[0].eventType }
            let fingerprints = badges.map { BadgeEvaluator.fingerprints(of: $0.criteria!) }
            var rates: [Double] = []
            var awards = 0
            var evidenceBytes = 0
            for run in 0..<runs {
                // States by customer, then by badge position: the harness's own look-ups are array
                // indexing, so the figure is the evaluator's (a String-keyed dictionary of
                // customer/badge pairs was more than half of the measured time up to session 7).
                var states = Array(
                    repeating: Array(repeating: SmallList<CriterionState?>(), count: badges.count), count: customers)
                awards = 0
                let stream = (0..<events).map { index in
                    let event = RuleCatalogue.event(index, customers: customers, prefix: "r\(run)")
                    return (event: event, customer: Int(event.customerId.dropFirst("cust-".count))!)
                }
                let start = ContinuousClock.now
                for (event, customer) in stream {
                    for position in positionsByType[event.type] ?? [] {
                        let badge = badges[position]
                        // Moved out, not copied: the evaluator changes the states in place.
                        var current = SmallList<CriterionState?>()
                        swap(&current, &states[customer][position])
                        var outcome = try BadgeEvaluator.evaluate(
                            badge.criteria!, fingerprints: fingerprints[position], states: consume current,
                            event: event,
                            timeZone: badge.criteria!.timeZone, prerequisitesHeld: true)
                        if outcome.complete {
                            // Evidence for every completion, as the engine wrote it before it
                            // became lazy, so the figure compares with earlier runs.
                            evidenceBytes += outcome.evidence(for: badge.criteria!).utf8.count
                            awards += 1
                            if badge.repeatable { BadgeEvaluator.startNewRound(&outcome) }
                        }
                        states[customer][position] = outcome.states.map { $0 }
                    }
                }
                let seconds = (ContinuousClock.now - start).seconds
                rates.append(Double(events) / seconds)
            }
            let rate = BadgeBench.median(rates)
            if json {
                print(
                    "{\"benchmark\":\"engine\",\"events_per_second\":\(Int(rate)),\"events\":\(events),\"runs\":\(runs)}"
                )
            } else {
                print(
                    "engine: \(Int(rate)) events/s (median of \(runs) runs of \(events) events, 50 badges, \(awards) awards in the last run, \(evidenceBytes) bytes of evidence in all)"
                )
            }
        }
    }

    struct Service: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Durable Evaluate through BadgeService (LMDB, journal, group commit), N concurrent callers.")
        @Option(help: "Events per run.") var events = 50_000
        @Option(help: "Concurrent callers.") var concurrency = 32
        @Option(help: "Customers.") var customers = 1000
        @Option(help: "Runs (the median is reported).") var runs = 3
        @Option(help: "journal (default), sync (LMDB fsyncs each commit: the old baseline) or none (CPU path only).")
        var durability: Environment.Durability = .journal
        @Flag(help: "Evaluate entirely on the writer thread (no plans made by the callers), as before session 6.")
        var evaluateOnWriter = false
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            var rates: [Double] = []
            for run in 0..<runs {
                let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                    "badge-bench-\(UUID().uuidString)"
                ).path
                defer { try? FileManager.default.removeItem(atPath: directory) }
                let store = try BadgeStore(
                    path: directory,
                    options: Environment.Options(
                        mapSize: 4 << 30, durability: durability))
                let service = BadgeService(store: store, writerPlanPercent: evaluateOnWriter ? 100 : 0)
                for badge in RuleCatalogue.badges() { _ = try await service.putBadge(PutBadgeRequest(badge: badge)) }
                let total = events
                let start = ContinuousClock.now
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for worker in 0..<concurrency {
                        group.addTask {
                            var index = worker
                            while index < total {
                                _ = try await service.evaluate(
                                    RuleCatalogue.event(index, customers: customers, prefix: "s\(run)"))
                                index += concurrency
                            }
                        }
                    }
                    try await group.waitForAll()
                }
                let seconds = (ContinuousClock.now - start).seconds
                rates.append(Double(events) / seconds)
                let stats = service.writerStatistics
                let plans = service.evaluatePlanStatistics
                if !json {
                    print(
                        "  run \(run + 1): \(Int(Double(events) / seconds)) events/s, \(stats.commits) commits, largest batch \(stats.largestBatch), plans used \(plans.used), redone \(plans.redone)"
                    )
                }
                service.shutdown()
                store.close()
            }
            let rate = BadgeBench.median(rates)
            if json {
                print(
                    "{\"benchmark\":\"service\",\"durability\":\"\(durability.rawValue)\",\"events_per_second\":\(Int(rate)),\"concurrency\":\(concurrency),\"events\":\(events)}"
                )
            } else {
                print(
                    "service (\(durability.rawValue)\(evaluateOnWriter ? ", on the writer" : "")): \(Int(rate)) events/s (median of \(runs), \(concurrency) concurrent callers)"
                )
            }
        }
    }

    struct SeedRules: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "seed-rules", abstract: "Put the 50 benchmark badges (with criteria) on a running server.")
        @Option(help: "Unix socket of the server.") var socket = "badged.sock"

        func run() async throws {
            let client = try await BadgeClient.connect(to: .unix(path: socket))
            for badge in RuleCatalogue.badges() { _ = try await client.putBadge(badge, replace: true) }
            await client.close()
            print("seed-rules: 50 rule badges on \(socket)")
        }
    }
}

extension Duration {
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}

extension Environment.Durability: ExpressibleByArgument {}
