import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// A property's qualified name.
struct DAVPropertyName: Hashable, Sendable {
    var namespace: String
    var name: String
    static func dav(_ name: String) -> DAVPropertyName { .init(namespace: "DAV:", name: name) }
}

/// THE writer of every XML reply of `/dav/`: text built with one escaping
/// rule, namespaces declared where an element needs one.
struct DAVXMLWriter {
    private(set) var text = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"

    static func escape(_ value: String) -> String {
        var out = ""
        out.reserveCapacity(value.utf8.count)
        for scalar in value.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default:
                // XML 1.0 cannot carry most control characters even escaped.
                if scalar.value < 0x20, scalar != "\t", scalar != "\n", scalar != "\r" { continue }
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    mutating func raw(_ s: String) { text += s }

    /// What was written since the last take (the whole document for a streamed reply, piece by piece).
    mutating func take() -> String {
        defer { text = "" }
        return text
    }

    /// `<D:name>` with the root's `xmlns:D="DAV:"` on the first one.
    mutating func open(_ name: String, root: Bool = false) {
        text += root ? "<D:\(name) xmlns:D=\"DAV:\">" : "<D:\(name)>"
    }

    mutating func close(_ name: String) { text += "</D:\(name)>" }

    mutating func element(_ name: String, _ value: String) {
        text += "<D:\(name)>\(Self.escape(value))</D:\(name)>"
    }

    /// An element of any namespace: DAV: ones with the `D:` prefix, others with their own default namespace.
    mutating func property(_ property: DAVPropertyName, content: String? = nil) {
        let tag: String
        if property.namespace == "DAV:" {
            tag = "D:" + property.name
            text += "<\(tag)"
        } else {
            tag = property.name
            text += "<\(tag) xmlns=\"\(Self.escape(property.namespace))\""
        }
        if let content, !content.isEmpty { text += ">\(content)</\(tag)>" } else { text += "/>" }
    }
}

/// What a PROPFIND body asks for.
enum PropfindRequest: Equatable, Sendable {
    case allprop
    case propname
    case prop([DAVPropertyName])
}

/// What a PROPPATCH body sets or removes, in order.
struct ProppatchRequest {
    var operations: [(set: Bool, name: DAVPropertyName)] = []
}

/// Request bodies of `/dav/`, read with Foundation's XMLParser (namespaces
/// resolved; external entities never resolved).
enum DAVXMLReader {
    struct Invalid: Error {}

    private final class Collector: NSObject, XMLParserDelegate {
        /// (namespace, name) of each element, in document order, with its depth.
        var elements: [(depth: Int, name: DAVPropertyName)] = []
        var depth = 0
        var invalid = false
        func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
            // A prefix bound to no namespace (`xmlns:bar=""`, or never declared) is not
            // namespace-well-formed (Namespaces in XML 1.0 §5); libxml2 lets it through.
            if let qualifiedName, qualifiedName.contains(":"), (namespaceURI ?? "").isEmpty {
                invalid = true
                parser.abortParsing()
            }
            let local = elementName.split(separator: ":").last.map(String.init) ?? elementName
            elements.append((depth, DAVPropertyName(namespace: namespaceURI ?? "", name: local)))
            depth += 1
        }
        func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?) { depth -= 1 }
    }

    private static func parse(_ data: Data) throws -> [(depth: Int, name: DAVPropertyName)] {
        let parser = XMLParser(data: data)
        parser.shouldProcessNamespaces = true
        parser.shouldResolveExternalEntities = false
        let collector = Collector()
        parser.delegate = collector
        guard parser.parse(), !collector.invalid else { throw Invalid() }
        return collector.elements
    }

    static func propfind(_ data: Data) throws -> PropfindRequest {
        if data.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { return .allprop }
        let elements = try parse(data)
        guard let root = elements.first, root.name == .dav("propfind") else { throw Invalid() }
        var names: [DAVPropertyName] = []
        var mode: PropfindRequest?
        var inProp = false
        for element in elements.dropFirst() {
            if element.depth == 1 {
                inProp = false
                switch element.name {
                case .dav("allprop"): mode = .allprop
                case .dav("propname"): mode = .propname
                case .dav("prop"): inProp = true; mode = mode ?? .prop([])
                default: continue
                }
            } else if element.depth == 2, inProp {
                names.append(element.name)
            }
        }
        switch mode {
        case .prop?: return .prop(names)
        case let other?: return other
        case nil: throw Invalid()
        }
    }

    static func proppatch(_ data: Data) throws -> ProppatchRequest {
        let elements = try parse(data)
        guard let root = elements.first, root.name == .dav("propertyupdate") else { throw Invalid() }
        var request = ProppatchRequest()
        var setting: Bool?
        for element in elements.dropFirst() {
            switch element.depth {
            case 1: setting = element.name == .dav("set") ? true : element.name == .dav("remove") ? false : nil
            case 3: if let setting { request.operations.append((setting, element.name)) }
            default: continue
            }
        }
        return request
    }
}
