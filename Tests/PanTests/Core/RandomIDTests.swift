import Testing
@testable import PanCore
@testable import PanSQLite

@Suite("RandomID")
struct RandomIDTests {
    @Test("ordered ids are 32 lowercase hex, sort by time, and differ within one millisecond")
    func ordered() {
        let ids = (0..<1000).map { RandomID.ordered32(now: 1_700_000_000_000 + Int64($0 / 10)) }
        #expect(ids.allSatisfy { $0.count == 32 && $0.allSatisfy { "0123456789abcdef".contains($0) } })
        #expect(Set(ids).count == 1000)
        // Strictly ordered across milliseconds (the random tail only orders ids of the same millisecond).
        for i in stride(from: 10, to: 1000, by: 10) { #expect(ids[i - 10].prefix(12) < ids[i].prefix(12)) }
        #expect(ids[0].hasPrefix("018bcfe56800"))
    }
}
