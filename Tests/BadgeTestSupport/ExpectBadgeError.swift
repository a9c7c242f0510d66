import BadgeModel
import Testing

/// Runs `body`, which must throw a `BadgeError` with `code` (and `reason`, if given); returns the error.
@discardableResult
public func expectBadgeError(
    _ code: BadgeError.Code, reason: String? = nil, sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> Void
) -> BadgeError? {
    do {
        try body()
        Issue.record("expected a \(code) error, but nothing was thrown", sourceLocation: sourceLocation)
        return nil
    } catch let error as BadgeError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        if let reason {
            #expect(error.reason == reason, "\(error)", sourceLocation: sourceLocation)
        }
        return error
    } catch {
        Issue.record("expected a BadgeError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// Awaits `body`, which must throw a `BadgeError` with `code` (and `reason`, if given); returns the error.
@discardableResult
public func expectAsyncBadgeError<T>(
    _ code: BadgeError.Code, reason: String? = nil, sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () async throws -> T
) async -> BadgeError? {
    do {
        let value = try await body()
        Issue.record("expected a \(code) error, got \(value)", sourceLocation: sourceLocation)
        return nil
    } catch let error as BadgeError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        if let reason {
            #expect(error.reason == reason, "\(error)", sourceLocation: sourceLocation)
        }
        return error
    } catch {
        Issue.record("expected a BadgeError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}
