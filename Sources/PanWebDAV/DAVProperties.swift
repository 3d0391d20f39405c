import Foundation
import PanCore

/// The properties of a node, written into a multistatus: the live ones
/// (computed here) and the dead ones a client set (`DAVDeadProperty`).
struct DAVProperties {
    let user: User
    /// The user's live locks, for `lockdiscovery` (empty when not asked for).
    var locks: [DAVLock] = []
    /// Dead properties by node id (only those of the nodes being written).
    var dead: [Int64: [DAVDeadProperty]] = [:]
    let now = Millis.now()
    private let httpFormatter: DateFormatter
    private let isoFormatter: ISO8601DateFormatter

    static let live: [DAVPropertyName] = [
        "creationdate", "displayname", "getcontentlength", "getcontenttype", "getetag", "getlastmodified", "resourcetype",
        "quota-available-bytes", "quota-used-bytes", "lockdiscovery", "supportedlock",
    ].map(DAVPropertyName.dav)

    /// What PROPPATCH may not set or remove (RFC 4918 §9.2: 403 cannot-modify-protected-property).
    static func isProtected(_ name: DAVPropertyName) -> Bool { live.contains(name) }

    /// Whether answering `asked` needs the dead properties, and the locks.
    static func needsDead(_ asked: PropfindRequest) -> Bool {
        if case .prop(let names) = asked { return names.contains { !live.contains($0) } }
        return true
    }

    static func needsLocks(_ asked: PropfindRequest) -> Bool {
        switch asked {
        case .allprop: true
        case .propname: false
        case .prop(let names): names.contains(.dav("lockdiscovery"))
        }
    }

    static let supportedLock = ["exclusive", "shared"].map {
        "<D:lockentry><D:lockscope><D:\($0)/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>"
    }.joined()

    /// One `<D:activelock>` (RFC 4918 §14.1), for lockdiscovery and LOCK's reply.
    static func activeLock(_ lock: DAVLock, now: Int64) -> String {
        var out = "<D:activelock><D:locktype><D:write/></D:locktype>"
        out += "<D:lockscope><D:\(lock.exclusive ? "exclusive" : "shared")/></D:lockscope>"
        out += "<D:depth>\(lock.infinite ? "infinity" : "0")</D:depth>"
        out += lock.owner
        out += "<D:timeout>Second-\(lock.secondsLeft(now: now))</D:timeout>"
        out += "<D:locktoken><D:href>\(DAVXMLWriter.escape(lock.token))</D:href></D:locktoken>"
        out += "<D:lockroot><D:href>\(DAVXMLWriter.escape(DAVPath.href(lock.rootPath, collection: false)))</D:href></D:lockroot>"
        return out + "</D:activelock>"
    }

    init(user: User, locks: [DAVLock] = []) {
        self.user = user
        self.locks = locks
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
        case "supportedlock": return Self.supportedLock
        case "lockdiscovery": return locks.filter { $0.covers(node.path) }.map { Self.activeLock($0, now: now) }.joined()
        default: return nil
        }
    }

    mutating func response(for node: FileNode, asked: PropfindRequest, into writer: inout DAVXMLWriter) {
        writer.open("response")
        writer.element("href", DAVPath.href(node.path, collection: node.isDirectory))
        var found: [(DAVPropertyName, String)] = []
        var missing: [DAVPropertyName] = []
        let dead = self.dead[node.id] ?? []
        var deadXML: [String] = []
        switch asked {
        case .allprop, .propname:
            for name in Self.live {
                if let value = value(name, of: node) { found.append((name, asked == .propname ? "" : value)) }
            }
            for property in dead {
                if asked == .propname { found.append((DAVPropertyName(namespace: property.namespace, name: property.name), "")) } else { deadXML.append(property.xml) }
            }
        case .prop(let names):
            for name in names {
                if let value = value(name, of: node) {
                    found.append((name, value))
                } else if let property = dead.first(where: { $0.namespace == name.namespace && $0.name == name.name }) {
                    deadXML.append(property.xml)
                } else {
                    missing.append(name)
                }
            }
        }
        if !found.isEmpty || !deadXML.isEmpty || missing.isEmpty {
            writer.open("propstat")
            writer.open("prop")
            for (name, value) in found {
                // resourcetype of a file is present and empty.
                writer.property(name, content: value)
            }
            // Dead properties are stored as whole elements, namespaces declared on them.
            for xml in deadXML { writer.raw(xml) }
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
