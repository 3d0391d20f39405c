import Foundation
import PanCore

/// What a sign-in session is called in the list of sessions: the login's
/// `device` field when a client sends one, otherwise a short label made from
/// its User-Agent ("Chrome on Linux", "Android app", "Qt desktop"). Either
/// way plain text of bounded length: control and formatting characters
/// (bidi overrides) are dropped, runs of spaces collapsed.
package enum DeviceLabel {
    package static func label(device: String?, userAgent: String?) -> String {
        if let device, let given = sanitized(device) { return given }
        return fromUserAgent(userAgent ?? "")
    }

    /// Known clients and browsers by what their User-Agent contains (first match wins).
    private static let clients: [(needle: String, label: String)] = [
        ("QZCloud", "Android app"),  // the Android app's own User-Agent (api.md §4)
        ("okhttp/", "Android app (okhttp)"),
        ("Dalvik/", "Android app"),
        ("Qt", "Qt desktop"),
        ("libcurl", "Desktop app (libcurl)"),
        ("curl/", "curl"),
        ("python-requests/", "Python requests"),
        ("Python-urllib/", "Python urllib"),
        ("aiohttp/", "Python aiohttp"),
        ("Go-http-client/", "Go client"),
        ("Java/", "Java client"),
        ("Apache-HttpClient/", "Java client"),
        ("Wget/", "Wget"),
    ]

    private static let browsers: [(needle: String, name: String)] = [
        ("Edg/", "Edge"), ("EdgA/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("FxiOS/", "Firefox"),
        ("HeadlessChrome/", "Headless Chrome"), ("Chrome/", "Chrome"), ("CriOS/", "Chrome"), ("Safari/", "Safari"),
    ]

    private static let systems: [(needle: String, name: String)] = [
        ("Android", "Android"), ("iPhone", "iOS"), ("iPad", "iPadOS"), ("CrOS", "ChromeOS"), ("Windows", "Windows"),
        ("Macintosh", "macOS"), ("Mac OS X", "macOS"), ("Linux", "Linux"),
    ]

    package static func fromUserAgent(_ userAgent: String) -> String {
        let agent = userAgent.trimmingCharacters(in: .whitespaces)
        guard !agent.isEmpty else { return "Unknown device" }
        if agent.hasPrefix("Mozilla/"), let browser = browsers.first(where: { agent.contains($0.needle) }) {
            let system = systems.first(where: { agent.contains($0.needle) })?.name
            return system.map { "\(browser.name) on \($0)" } ?? browser.name
        }
        if let client = clients.first(where: { agent.contains($0.needle) }) { return client.label }
        // Anything else: its first product name ("Foo/1.2 (bar)" → "Foo").
        let product = agent.split(whereSeparator: { $0 == "/" || $0 == " " || $0 == "(" }).first.map(String.init) ?? agent
        return sanitized(product) ?? "Unknown device"
    }

    /// Printable text, spaces collapsed, at most `UserSession.maxDeviceLength` characters; nil when nothing is left.
    package static func sanitized(_ text: String, limit: Int = UserSession.maxDeviceLength) -> String? {
        var kept = String.UnicodeScalarView()
        var lastWasSpace = true
        for scalar in text.unicodeScalars {
            // Tabs and line breaks separate words like spaces; other controls go.
            let category: Unicode.GeneralCategory = scalar == "\t" || scalar == "\n" || scalar == "\r" ? .spaceSeparator : scalar.properties.generalCategory
            switch category {
            case .control, .format, .lineSeparator, .paragraphSeparator, .surrogate, .privateUse, .unassigned:
                continue
            case .spaceSeparator:
                if !lastWasSpace { kept.append(" ") }
                lastWasSpace = true
            default:
                kept.append(scalar)
                lastWasSpace = false
            }
        }
        let text = String(kept).trimmingCharacters(in: .whitespaces)
        guard !text.isEmpty else { return nil }
        return text.count > limit ? String(text.prefix(limit)).trimmingCharacters(in: .whitespaces) : text
    }
}
