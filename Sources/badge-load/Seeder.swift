import BadgeClient
import BadgeCodec
import BadgeModel
import BadgeWire
import NIOCore

/// Writes the data set: `badges` repeatable badges (bench-0 ...) with no per-customer maximum, and
/// `awards` awards to each of `customers` customers (cust-0 ...). Request ids are derived from the
/// seed, customer and slot, so seeding the same shape again creates nothing new.
enum Seeder {
    struct Summary: Sendable {
        var badgesCreated = 0
        var awardsSent = 0
        var awardsFailed: [String: Int] = [:]
        var seconds = 0.0
    }

    static func seed(clients: [BadgeClient], data: DataSetOptions, window: Int = 256) async throws -> Summary {
        let started = nowNanos()
        var summary = Summary()
        let client = clients[0]
        for index in 0..<data.badges {
            let badge = BadgeDefinition(
                id: DataSet.badge(index), name: "Bench \(index)", description: "badge-load data set",
                rank: Int32(index), group: "bench", repeatable: true, maxPerCustomer: 0)
            do {
                if try await client.putBadge(badge).created { summary.badgesCreated += 1 }
            } catch {
                // Seeding again: the badge is there already. (A `catch where` clause here sends
                // Swift 6.3.1's SIL optimizer into an endless loop, hence the rethrow.)
                if error.code != .alreadyExists { throw error }
            }
        }

        let total = data.customers * data.awards
        let plan = SeedPlan(customers: data.customers, badges: data.badges, awards: data.awards, seed: data.seed)
        var drivers: [BatchDriver] = []
        for (index, client) in clients.enumerated() {
            // Each connection takes every clients.count-th award, so the split needs no coordination.
            let indices = stride(from: index, to: total, by: clients.count)
            let eventLoop = try await client.eventLoop()
            let driver = BatchDriver(
                client: client, eventLoop: eventLoop, indices: Array(indices), window: window,
                method: Method.issue.rawValue, payload: plan.issuePayload)
            drivers.append(driver)
            driver.eventLoop.execute { driver.start() }
        }
        for driver in drivers {
            try await driver.done.get()
            let failed = try await driver.eventLoop.submit { driver.failures }.get()
            for (name, count) in failed { summary.awardsFailed[name, default: 0] += count }
        }
        summary.awardsSent = total
        summary.seconds = Double(nowNanos() - started) / 1e9
        return summary
    }
}

/// Which badges each customer gets: deterministic for a seed.
struct SeedPlan: Sendable {
    var customers: Int
    var badges: Int
    var awards: Int
    var seed: UInt64

    /// The award in slot `slot` of customer `customer`: distinct badges while there are enough,
    /// starting at a seeded offset so customers do not all hold the same first badges.
    func badgeIndex(customer: Int, slot: Int) -> Int {
        var random = SplitMix64(seed: seed ^ (UInt64(customer) &* 0x9E37_79B9))
        return (Int(random.next() % UInt64(badges)) + slot) % badges
    }

    func issuePayload(_ index: Int) -> [UInt8] {
        let customer = index / awards
        let slot = index % awards
        return IssueRequest(
            customerId: DataSet.customer(customer), badgeId: DataSet.badge(badgeIndex(customer: customer, slot: slot)),
            requestId: "seed-\(seed)-\(customer)-\(slot)", source: .import, evidence: "badge-load seed"
        ).encoded()
    }
}

extension BadgeClient {
    /// The event loop this connection's replies complete on (startCall's futures live there).
    func eventLoop() async throws -> any EventLoop {
        let call = startCall(method: Method.health.rawValue, payload: [])
        _ = try await call.get()
        return call.eventLoop
    }
}

/// Sends a fixed list of calls over one connection with at most `window` in flight; used by the
/// seeder. Confined to `eventLoop`.
final class BatchDriver: @unchecked Sendable {
    let client: BadgeClient
    let eventLoop: any EventLoop
    let indices: [Int]
    let window: Int
    let method: String
    let payload: @Sendable (Int) -> [UInt8]
    private var next = 0
    private var inFlight = 0
    private var ended = false
    private(set) var failures: [String: Int] = [:]
    private let promise: EventLoopPromise<Void>

    var done: EventLoopFuture<Void> { promise.futureResult }

    init(
        client: BadgeClient, eventLoop: any EventLoop, indices: [Int], window: Int, method: String,
        payload: @escaping @Sendable (Int) -> [UInt8]
    ) {
        self.client = client
        self.eventLoop = eventLoop
        self.indices = indices
        self.window = window
        self.method = method
        self.payload = payload
        self.promise = eventLoop.makePromise()
    }

    func start() {
        fill()
        endIfIdle()
    }

    private func endIfIdle() {
        guard !ended, inFlight == 0, next == indices.count else { return }
        ended = true
        promise.succeed()
    }

    private func fill() {
        while inFlight < window, next < indices.count {
            let index = indices[next]
            next += 1
            inFlight += 1
            client.startCall(method: method, payload: payload(index)).whenComplete { result in
                self.inFlight -= 1
                if let status = Recorder.status(of: result) { self.failures[status, default: 0] += 1 }
                if case .failure(let error) = result, !self.ended {
                    // The connection is gone: give up on the rest rather than fail each one.
                    self.ended = true
                    self.next = self.indices.count
                    self.promise.fail(error)
                    return
                }
                self.fill()
                self.endIfIdle()
            }
        }
    }
}
