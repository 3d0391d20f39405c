import Foundation
import PanCore

/// The live properties of a node, written into a multistatus.
struct DAVProperties {
    let user: User
    private let httpFormatter: DateFormatter
    private let isoFormatter: ISO8601DateFormatter

    static let live: [DAVPropertyName] = [
        "creationdate", "displayname", "getcontentlength", "getcontenttype", "getetag", "getlastmodified", "resourcetype",
        "quota-available-bytes", "quota-used-bytes",
    ].map(DAVPropertyName.dav)

    init(user: User) {
        self.user = user
        httpFormatter = Self.makeHTTPFormatter()
        isoFormatter = ISO8601DateFormatter()
    }

    static func makeHTTPFormatter() -> DateFormatter {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return formatter
    }

    static func httpDate(_ millis: Int64) -> String {
        makeHTTPFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(millis) / 1000))
    }

    /// A file's entity tag: its content hash (strong: same bytes, same tag).
    static func etag(of node: FileNode) -> String { node.davETag }

    /// The value of a live property (already escaped XML content), nil when the node has none of it.
    func value(_ name: DAVPropertyName, of node: FileNode) -> String? {
        guard name.namespace == "DAV:" else { return nil }
        switch name.name {
        case "creationdate": return isoFormatter.string(from: Date(timeIntervalSince1970: TimeInterval(node.ctime) / 1000))
        case "displayname": return DAVXMLWriter.escape(node.path == PanPath.root ? "" : node.name)
        case "getcontentlength": return node.isFile ? String(node.size) : nil
        case "getcontenttype": return node.isFile ? DAVXMLWriter.escape(node.mime.isEmpty ? MimeType.fallback : node.mime) : nil
        case "getetag": return node.isFile ? DAVXMLWriter.escape(Self.etag(of: node)) : nil
        case "getlastmodified": return httpFormatter.string(from: Date(timeIntervalSince1970: TimeInterval(node.mtime) / 1000))
        case "resourcetype": return node.isDirectory ? "<D:collection/>" : ""
        case "quota-available-bytes": return node.isDirectory ? String(user.remainingSpace) : nil
        case "quota-used-bytes": return node.isDirectory ? String(user.spaceUsed) : nil
        default: return nil
        }
    }

    mutating func response(for node: FileNode, asked: PropfindRequest, into writer: inout DAVXMLWriter) {
        writer.open("response")
        writer.element("href", DAVPath.href(node.path, collection: node.isDirectory))
        var found: [(DAVPropertyName, String)] = []
        var missing: [DAVPropertyName] = []
        switch asked {
        case .allprop, .propname:
            for name in Self.live {
                if let value = value(name, of: node) { found.append((name, asked == .propname ? "" : value)) }
            }
        case .prop(let names):
            for name in names {
                if let value = value(name, of: node) { found.append((name, value)) } else { missing.append(name) }
            }
        }
        if !found.isEmpty || missing.isEmpty {
            writer.open("propstat")
            writer.open("prop")
            for (name, value) in found {
                // resourcetype of a file is present and empty.
                writer.property(name, content: value)
            }
            writer.close("prop")
            writer.element("status", "HTTP/1.1 200 OK")
            writer.close("propstat")
        }
        if !missing.isEmpty {
            writer.open("propstat")
            writer.open("prop")
            for name in missing { writer.property(name) }
            writer.close("prop")
            writer.element("status", "HTTP/1.1 404 Not Found")
            writer.close("propstat")
        }
        writer.close("response")
    }
}
