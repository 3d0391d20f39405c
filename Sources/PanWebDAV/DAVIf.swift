import Foundation
import PanCore

/// The `If` request header (RFC 4918 §10.4): lists of conditions on lock
/// tokens and entity tags, untagged (about the request's resource) or tagged
/// with the resource they are about.
struct DAVIfHeader: Equatable {
    struct Condition: Equatable {
        enum Kind: Equatable {
            /// A state token: `<urn:uuid:…>`, `<DAV:no-lock>`.
            case token(String)
            /// An entity tag, quotes included: `["…"]`.
            case etag(String)
        }
        var negated: Bool
        var kind: Kind
    }

    struct List: Equatable {
        /// The tree path of the tagged resource; nil: the request's resource.
        var resource: String?
        var conditions: [Condition]
    }

    var lists: [List]

    /// The most lists one header may carry: each is evaluated, some with a lookup.
    static let maxLists = 50

    /// The lock tokens the header submits (RFC 4918 §10.4.1: any state token in it, not negated).
    var tokens: Set<String> {
        var tokens: Set<String> = []
        for list in lists {
            for condition in list.conditions where !condition.negated {
                if case .token(let token) = condition.kind { tokens.insert(token) }
            }
        }
        return tokens
    }

    /// The tree paths of the tagged resources (nil for a tag outside `/dav/`).
    var taggedResources: Set<String> { Set(lists.compactMap(\.resource)) }

    struct Malformed: Error {}

    /// Parses the header; `Malformed` for what is not `If` syntax. A tag
    /// outside `/dav/` (another host, another prefix) names no resource of
    /// this tree: its lists are kept with an empty path, which matches nothing.
    static func parse(_ header: String) throws -> DAVIfHeader {
        var lists: [List] = []
        var scalars = Substring(header).unicodeScalars[...]
        var tag: String?

        func skipSpace() { while let first = scalars.first, first == " " || first == "\t" { scalars.removeFirst() } }
        func take(until end: Unicode.Scalar) throws -> String {
            guard let index = scalars.firstIndex(of: end) else { throw Malformed() }
            let value = String(String.UnicodeScalarView(scalars[..<index]))
            scalars = scalars[scalars.index(after: index)...]
            return value
        }

        while true {
            skipSpace()
            guard let first = scalars.first else { break }
            if first == "<" {
                scalars.removeFirst()
                tag = try resourcePath(take(until: ">"))
            } else if first == "(" {
                scalars.removeFirst()
                var conditions: [Condition] = []
                while true {
                    skipSpace()
                    guard let next = scalars.first else { throw Malformed() }
                    if next == ")" { scalars.removeFirst(); break }
                    var negated = false
                    if String(String.UnicodeScalarView(scalars.prefix(3))).lowercased() == "not" {
                        negated = true
                        scalars.removeFirst(3)
                        skipSpace()
                    }
                    switch scalars.first {
                    case "<"?:
                        scalars.removeFirst()
                        conditions.append(Condition(negated: negated, kind: .token(try take(until: ">"))))
                    case "["?:
                        scalars.removeFirst()
                        conditions.append(Condition(negated: negated, kind: .etag(try take(until: "]"))))
                    default: throw Malformed()
                    }
                }
                guard !conditions.isEmpty else { throw Malformed() }
                lists.append(List(resource: tag, conditions: conditions))
                guard lists.count <= maxLists else { throw Malformed() }
            } else {
                throw Malformed()
            }
        }
        guard !lists.isEmpty else { throw Malformed() }
        return DAVIfHeader(lists: lists)
    }

    /// A tag (absolute URI or path) as a tree path; "" when it is not one of `/dav/`.
    private static func resourcePath(_ tag: String) throws -> String {
        var path = tag
        if !tag.hasPrefix("/") {
            guard let url = URLComponents(string: tag), url.host != nil else { return "" }
            path = url.percentEncodedPath
        }
        return (try? DAVPath.treePath(fromRequestPath: path)) ?? ""
    }

    /// What a condition is checked against: the resource's entity tag (nil
    /// when nothing is there) and the locks that cover it.
    struct State {
        var etag: String?
        var locks: [DAVLock]
    }

    /// Whether the header holds (RFC 4918 §10.4.2): some list whose
    /// conditions all hold. `state` gives the state of a tree path.
    func holds(requestPath: String, state: (String) -> State) -> Bool {
        lists.contains { list in
            let resource = state(list.resource ?? requestPath)
            return list.conditions.allSatisfy { condition in
                let matched = switch condition.kind {
                case .token(let token): resource.locks.contains { $0.token == token }
                case .etag(let etag): resource.etag.map { Self.sameTag($0, etag) } ?? false
                }
                return matched != condition.negated
            }
        }
    }

    /// Entity tags compare strongly, a weak marker on the client's side forgiven.
    static func sameTag(_ current: String, _ given: String) -> Bool {
        let given = given.trimmingCharacters(in: .whitespaces)
        return given == current || given == "W/" + current
    }
}
