import Foundation

/// The WCS put-policy (`wcs.md` §2). Encoded with keys in a fixed order so the
/// same policy always yields the same token bytes.
public struct PutPolicy: Sendable, Equatable {
    public var scope: String
    /// Expiry, Unix milliseconds.
    public var deadline: Int64
    public var overwrite: Int
    /// Max bytes, 0 = no limit.
    public var fsizeLimit: Int64
    public var saveKey: String?
    public var callbackUrl: String?
    public var callbackBody: String?
    public var returnUrl: String?
    public var returnBody: String?

    public init(
        scope: String, deadline: Int64, overwrite: Int = 0, fsizeLimit: Int64 = 0,
        saveKey: String? = nil, callbackUrl: String? = nil, callbackBody: String? = nil,
        returnUrl: String? = nil, returnBody: String? = nil
    ) {
        self.scope = scope
        self.deadline = deadline
        self.overwrite = overwrite
        self.fsizeLimit = fsizeLimit
        self.saveKey = saveKey
        self.callbackUrl = callbackUrl
        self.callbackBody = callbackBody
        self.returnUrl = returnUrl
        self.returnBody = returnBody
    }

    /// The bucket part of `scope`.
    public var bucket: String { String(scope.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)[0]) }

    /// The fixed key of `scope` ("bucket:key"), if any.
    public var scopeKey: String? {
        let parts = scope.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        return parts.count == 2 ? String(parts[1]) : nil
    }

    /// The JSON, in the key order of the original system's tokens
    /// (and of `vectors.md`): deadline as a string, as the original sent it.
    public func json() -> String {
        var pairs: [(String, OrderedJSON.Value)] = [
            ("scope", .string(scope)),
            ("deadline", .string(String(deadline))),
            ("overwrite", .int(Int64(overwrite))),
            ("fsizeLimit", .int(fsizeLimit)),
        ]
        if let callbackUrl { pairs.append(("callbackUrl", .string(callbackUrl))) }
        if let callbackBody { pairs.append(("callbackBody", .string(callbackBody))) }
        if let returnUrl { pairs.append(("returnUrl", .string(returnUrl))) }
        if let returnBody { pairs.append(("returnBody", .string(returnBody))) }
        if let saveKey { pairs.append(("saveKey", .string(saveKey))) }
        return OrderedJSON.object(pairs)
    }

    /// Decodes a policy leniently: `deadline`, `overwrite` and `fsizeLimit`
    /// may be numbers or strings, as SDKs disagree.
    public static func decode(json data: Data) -> PutPolicy? {
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let scope = object["scope"] as? String,
              let deadline = integer(object["deadline"])
        else { return nil }
        return PutPolicy(
            scope: scope,
            deadline: deadline,
            overwrite: Int(integer(object["overwrite"]) ?? 0),
            fsizeLimit: integer(object["fsizeLimit"]) ?? 0,
            saveKey: object["saveKey"] as? String,
            callbackUrl: object["callbackUrl"] as? String,
            callbackBody: object["callbackBody"] as? String,
            returnUrl: object["returnUrl"] as? String,
            returnBody: object["returnBody"] as? String
        )
    }

    private static func integer(_ value: Any?) -> Int64? {
        switch value {
        case let n as NSNumber: n.int64Value
        case let s as String: Int64(s)
        default: nil
        }
    }
}
