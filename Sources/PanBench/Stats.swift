import Foundation

/// Latency samples and the figures a benchmark table prints.
struct Samples {
    private(set) var nanoseconds: [UInt64] = []

    mutating func add(_ value: UInt64) { nanoseconds.append(value) }
    mutating func append(contentsOf other: Samples) { nanoseconds.append(contentsOf: other.nanoseconds) }

    var count: Int { nanoseconds.count }

    func percentile(_ p: Double) -> Double {
        guard !nanoseconds.isEmpty else { return .nan }
        let sorted = nanoseconds.sorted()
        let index = min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))
        return Double(sorted[index])
    }

    var medianMicros: Double { percentile(0.5) / 1000 }
    var p99Micros: Double { percentile(0.99) / 1000 }
    var medianMillis: Double { percentile(0.5) / 1_000_000 }
    var p99Millis: Double { percentile(0.99) / 1_000_000 }
}

/// Times one call in nanoseconds.
func measure(_ body: () async throws -> Void) async rethrows -> UInt64 {
    let start = DispatchTime.now().uptimeNanoseconds
    try await body()
    return DispatchTime.now().uptimeNanoseconds - start
}

func format(_ value: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", value) }

func table(_ header: [String], _ rows: [[String]]) -> String {
    var widths = header.map(\.count)
    for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
    func line(_ cells: [String]) -> String {
        "| " + cells.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: " | ") + " |"
    }
    let rule = "|" + widths.map { String(repeating: "-", count: $0 + 2) }.joined(separator: "|") + "|"
    return ([line(header), rule] + rows.map(line)).joined(separator: "\n")
}

extension Array where Element == Double {
    /// The middle value (the mean of the two middle ones for an even count); nil when empty.
    var median: Double? {
        guard !isEmpty else { return nil }
        let sorted = sorted()
        return count % 2 == 1 ? sorted[count / 2] : (sorted[count / 2 - 1] + sorted[count / 2]) / 2
    }
}
