import Testing

@testable import BadgeRules

@Suite("SmallList: the first element inline, the rest in an array")
struct SmallListTests {
    @Test("appends and inserts anywhere keep the order an array would")
    func matchesArray() {
        var list = SmallList<Int>()
        var array: [Int] = []
        #expect(list.isEmpty && list.array.isEmpty)
        let steps: [(value: Int, index: Int?)] = [(5, nil), (3, 0), (9, 2), (7, 2), (1, 0), (4, 5), (6, nil)]
        for (value, index) in steps {
            if let index {
                list.insert(value, at: index)
                array.insert(value, at: index)
            } else {
                list.append(value)
                array.append(value)
            }
            #expect(list.array == array)
            #expect(list.count == array.count)
            #expect((0..<list.count).map { list[$0] } == array)
            var walked: [Int] = []
            list.forEach { walked.append($0) }
            #expect(walked == array)
        }
    }

    @Test("take leaves nil in place, update changes in place, map and init keep the order")
    func takeUpdateMap() {
        for count in 0...4 {
            let values = (0..<count).map { "v\($0)" }
            var list = SmallList<String?>(values)
            #expect(list.count == count && list.array == values)
            for index in 0..<count {
                list.update(at: index) { $0 = $0.map { $0 + "!" } }
            }
            #expect(list.array == values.map { $0 + "!" })
            var taken: [String?] = []
            for index in stride(from: count - 1, through: 0, by: -1) { taken.append(list.take(at: index)) }
            #expect(taken == values.reversed().map { $0 + "!" })
            #expect(list.count == count && list.array.allSatisfy { $0 == nil })
            #expect(SmallList(values).map(\.count).array == values.map(\.count))
        }
    }
}
