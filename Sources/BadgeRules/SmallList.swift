/// A list that keeps its first element inline and only the others in an array: most badges have
/// one criterion, so an outcome's states, changed indices and progress hold one element, and an
/// array per badge was a tenth of an event's allocations.
///
/// Inlinable, so that other modules (the service's plan) specialize it: called through its generic
/// entry points, every call looked its type's metadata up at run time (~6% of the engine's time).
@frozen
public struct SmallList<Element: Sendable>: Sendable {
    @usableFromInline var first: Element?
    @usableFromInline var rest: [Element] = []

    @inlinable public init() {}

    @inlinable public init(_ elements: some Sequence<Element>) {
        for element in elements { append(element) }
    }

    @inlinable public var isEmpty: Bool { first == nil }
    @inlinable public var count: Int { first == nil ? 0 : 1 + rest.count }

    @inlinable public subscript(index: Int) -> Element {
        guard let first else { preconditionFailure("index \(index) of an empty list") }
        return index == 0 ? first : rest[index - 1]
    }

    @inlinable public mutating func append(_ element: Element) {
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

    @inlinable public func forEach(_ body: (Element) -> Void) {
        guard let first else { return }
        body(first)
        for element in rest { body(element) }
    }

    /// A list of `transform` of each element (no array for one element).
    @inlinable public func map<T: Sendable>(_ transform: (Element) -> T) -> SmallList<T> {
        var result = SmallList<T>()
        forEach { result.append(transform($0)) }
        return result
    }

    @inlinable public var array: [Element] {
        guard let first else { return [] }
        return [first] + rest
    }
}

extension SmallList {
    /// The element at `index`, leaving nil in its place: moved out, not copied (a copy of a state
    /// retains each of its arrays and strings, and the caller is about to change it).
    mutating func take<Wrapped>(at index: Int) -> Wrapped? where Element == Wrapped? {
        var element: Wrapped? = nil
        if index == 0 {
            swap(&element, &first!)
        } else {
            swap(&element, &rest[index - 1])
        }
        return element
    }

    /// Changes the element at `index` in place. (No settable subscript: a `_modify` accessor
    /// mallocked a coroutine frame for an element as large as a state on every access, and a
    /// setter replaces a copy.)
    mutating func update(at index: Int, _ change: (inout Element) -> Void) {
        if index == 0 { change(&first!) } else { change(&rest[index - 1]) }
    }
}
