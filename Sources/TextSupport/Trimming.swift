/// Whitespace trimming without Foundation: on Linux `trimmingCharacters(in:)`
/// bridges every string through NSString and UTF-16, which the profile showed
/// costing more per request than the SQLite work. Same sets as Foundation's
/// `.whitespaces` (Zs + tab) and `.whitespacesAndNewlines` (Z* + U+000A–U+000D + U+0085).
extension StringProtocol {
    /// `trimmingCharacters(in: .whitespacesAndNewlines)`.
    public func trimmed() -> String { trim(includingNewlines: true) }

    /// `trimmingCharacters(in: .whitespaces)`.
    public func trimmedSpaces() -> String { trim(includingNewlines: false) }

    private func trim(includingNewlines: Bool) -> String {
        let scalars = String(self).unicodeScalars
        var start = scalars.startIndex
        var end = scalars.endIndex
        while start < end, Self.isTrimmed(scalars[start], includingNewlines) { start = scalars.index(after: start) }
        while end > start {
            let before = scalars.index(before: end)
            guard Self.isTrimmed(scalars[before], includingNewlines) else { break }
            end = before
        }
        return String(scalars[start..<end])
    }

    private static func isTrimmed(_ scalar: Unicode.Scalar, _ includingNewlines: Bool) -> Bool {
        switch scalar.value {
        case 0x20, 0x09: return true
        case 0x21...0x7E: return false
        case 0x0A...0x0D, 0x85: return includingNewlines
        default:
            switch scalar.properties.generalCategory {
            case .spaceSeparator: return true
            case .lineSeparator, .paragraphSeparator: return includingNewlines
            default: return false
            }
        }
    }
}
