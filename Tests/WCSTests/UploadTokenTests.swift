import Foundation
import Testing
@testable import WCS

@Suite("Upload token and put-policy (wcs.md §1–2)")
struct UploadTokenTests {
    static let credentials = Credentials(accessKey: "test-ak", secretKey: "test-sk")
    static let policy = PutPolicy(
        scope: "pan-bucket", deadline: 1_795_737_690_000, overwrite: 0, fsizeLimit: 0,
        saveKey: "u/1/abc", callbackUrl: "http://127.0.0.1:8080/v1/callback/ws/post",
        callbackBody: "size=$(fsize)&hash=$(hash)"
    )
    static let vectorJSON = #"{"scope":"pan-bucket","deadline":"1795737690000","overwrite":0,"fsizeLimit":0,"callbackUrl":"http://127.0.0.1:8080/v1/callback/ws/post","callbackBody":"size=$(fsize)&hash=$(hash)","saveKey":"u/1/abc"}"#
    static let vectorToken = "test-ak:ZGU4ZGJjZWFjNDczODI1ZTQ2ZTU5ZGRhMzAwMWQ1MWRlNzk3N2MxMQ==:eyJzY29wZSI6InBhbi1idWNrZXQiLCJkZWFkbGluZSI6IjE3OTU3Mzc2OTAwMDAiLCJvdmVyd3JpdGUiOjAsImZzaXplTGltaXQiOjAsImNhbGxiYWNrVXJsIjoiaHR0cDovLzEyNy4wLjAuMTo4MDgwL3YxL2NhbGxiYWNrL3dzL3Bvc3QiLCJjYWxsYmFja0JvZHkiOiJzaXplPSQoZnNpemUpJmhhc2g9JChoYXNoKSIsInNhdmVLZXkiOiJ1LzEvYWJjIn0="

    static func parts(_ token: String) -> [String] {
        token.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
    }

    static func isLowercaseHex40(_ data: Data?) -> Bool {
        guard let data, data.count == 40 else { return false }
        return data.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    @Test("policy.json() is the vector's JSON byte for byte")
    func policyJSON() {
        #expect(Array(Self.policy.json().utf8) == Array(Self.vectorJSON.utf8))
    }

    @Test("make() reproduces the vector token exactly")
    func makeToken() {
        let token = UploadToken.make(policy: Self.policy, credentials: Self.credentials)
        #expect(token == Self.vectorToken)
        let parts = Self.parts(token)
        #expect(parts.count == 3)
        #expect(Base64URL.decode(parts[2]) == Data(Self.vectorJSON.utf8))
        // The middle part is base64 of 40 lowercase hex characters, not the raw digest.
        #expect(Self.isLowercaseHex40(Base64URL.decode(parts[1])))
        #expect(parts[1] == Self.credentials.sign(parts[2]))
    }

    @Test("The seed's example middle part decodes to 40 hex characters")
    func seedExampleMiddlePart() throws {
        let decoded = try #require(Base64URL.decode("Zjk2YWUzYTc4NWM1MWM1ZjllYjVmYmNiM2Q4MWYwMTAyZGIzYjk0ZA=="))
        #expect(String(decoding: decoded, as: UTF8.self) == "f96ae3a785c51c5f9eb5fbcb3d81f0102db3b94d")
        #expect(Self.isLowercaseHex40(decoded))
    }

    @Test("verify() accepts the vector token, bare and as `UpToken <token>`")
    func verifyAccepts() throws {
        for raw in [Self.vectorToken, "UpToken " + Self.vectorToken, "  \(Self.vectorToken)  ", "UpToken   \(Self.vectorToken)"] {
            let result = UploadToken.verify(raw, credentials: [Self.credentials])
            let policy = try result.get()
            #expect(policy == Self.policy)
            #expect(policy.bucket == "pan-bucket")
            #expect(policy.scopeKey == nil)
        }
        // With several configured pairs, the one named by the AK is used.
        let many = [Credentials(accessKey: "other", secretKey: "x"), Self.credentials, Credentials(accessKey: "third", secretKey: "y")]
        #expect(try UploadToken.verify(Self.vectorToken, credentials: many).get() == Self.policy)
    }

    @Test("An unpadded policy is accepted only with the signature over the unpadded form")
    func unpaddedPolicy() throws {
        let parts = Self.parts(Self.vectorToken)
        let padded = parts[2]
        #expect(padded.hasSuffix("="))
        var unpadded = padded
        while unpadded.hasSuffix("=") { unpadded.removeLast() }
        #expect(!unpadded.hasSuffix("=") && unpadded.count < padded.count)

        let good = "test-ak:" + Self.credentials.sign(unpadded) + ":" + unpadded
        #expect(try UploadToken.verify(good, credentials: [Self.credentials]).get() == Self.policy)
        // The padded policy's signature does not cover the unpadded string, and vice versa.
        let mixed1 = "test-ak:" + parts[1] + ":" + unpadded
        #expect(UploadToken.verify(mixed1, credentials: [Self.credentials]) == .failure(.badSignature))
        let mixed2 = "test-ak:" + Self.credentials.sign(unpadded) + ":" + padded
        #expect(UploadToken.verify(mixed2, credentials: [Self.credentials]) == .failure(.badSignature))
    }

    @Test("verify() rejects tampering, unknown keys and malformed tokens")
    func verifyRejects() {
        let parts = Self.parts(Self.vectorToken)
        let creds = [Self.credentials]
        // A tampered policy (a longer deadline), re-encoded but signed with the old signature.
        var extended = Self.policy
        extended.deadline = 9_999_999_999_999
        let tamperedPolicy = "test-ak:" + parts[1] + ":" + Base64URL.encode(extended.json())
        #expect(UploadToken.verify(tamperedPolicy, credentials: creds) == .failure(.badSignature))
        // One character changed in the encoded policy.
        var policyChars = Array(parts[2])
        policyChars[10] = policyChars[10] == "A" ? "B" : "A"
        #expect(UploadToken.verify("test-ak:\(parts[1]):\(String(policyChars))", credentials: creds) == .failure(.badSignature))
        // One character changed in the signature.
        var signatureChars = Array(parts[1])
        signatureChars[5] = signatureChars[5] == "A" ? "B" : "A"
        #expect(UploadToken.verify("test-ak:\(String(signatureChars)):\(parts[2])", credentials: creds) == .failure(.badSignature))
        // A raw-digest (Qiniu-style) signature is not accepted.
        #expect(UploadToken.verify("test-ak:\(parts[1].dropLast(8)):\(parts[2])", credentials: creds) == .failure(.badSignature))
        // Signed with a different secret under the same AK.
        let wrongSecret = UploadToken.make(policy: Self.policy, credentials: Credentials(accessKey: "test-ak", secretKey: "wrong"))
        #expect(UploadToken.verify(wrongSecret, credentials: creds) == .failure(.badSignature))
        // Unknown access key.
        #expect(UploadToken.verify("other-ak:\(parts[1]):\(parts[2])", credentials: creds) == .failure(.unknownAccessKey))
        #expect(UploadToken.verify(Self.vectorToken, credentials: []) == .failure(.unknownAccessKey))
        #expect(UploadToken.verify(Self.vectorToken, credentials: [Credentials(accessKey: "TEST-AK", secretKey: "test-sk")]) == .failure(.unknownAccessKey))
        // Malformed.
        for raw in ["", "UpToken ", "test-ak", "test-ak:abc", ":\(parts[1]):\(parts[2])", "test-ak:\(parts[1]):", "Bearer \(Self.vectorToken)"] {
            let result = UploadToken.verify(raw, credentials: creds)
            #expect(result == .failure(.malformed) || result == .failure(.unknownAccessKey), "\(raw)")
            #expect((try? result.get()) == nil)
        }
    }

    @Test("A correctly signed policy that is not a policy is badPolicy")
    func badPolicy() {
        for json in ["not json", "[]", #"{"deadline":"1"}"#, #"{"scope":"b"}"#, #"{"scope":"b","deadline":"soon"}"#] {
            let encoded = Base64URL.encode(json)
            let token = "test-ak:" + Self.credentials.sign(encoded) + ":" + encoded
            #expect(UploadToken.verify(token, credentials: [Self.credentials]) == .failure(.badPolicy), "\(json)")
        }
        let notBase64 = "!!!"
        #expect(UploadToken.verify("test-ak:" + Self.credentials.sign(notBase64) + ":" + notBase64, credentials: [Self.credentials]) == .failure(.badPolicy))
    }

    @Test("Policies decode leniently: numbers or strings, scope with a key")
    func policyDecode() throws {
        let json = #"{"scope":"bucket:dir/file.txt","deadline":1517373343891,"overwrite":"1","fsizeLimit":"1024","returnBody":"a=$(key)","persistentOps":"ignored"}"#
        let policy = try #require(PutPolicy.decode(json: Data(json.utf8)))
        #expect(policy.bucket == "bucket")
        #expect(policy.scopeKey == "dir/file.txt")
        #expect(policy.deadline == 1_517_373_343_891)
        #expect(policy.overwrite == 1)
        #expect(policy.fsizeLimit == 1024)
        #expect(policy.returnBody == "a=$(key)")
        #expect(policy.callbackUrl == nil && policy.saveKey == nil)
        // json() then decode() is the identity, also for awkward strings.
        let awkward = PutPolicy(scope: "b:k:with:colons", deadline: 1, overwrite: 1, fsizeLimit: 5,
                                saveKey: "中文/\"quoted\"/back\\slash\n\t\u{1}", callbackUrl: "http://h/p?q=1&r=2",
                                callbackBody: "x=$(x:name)&f=@qzyfilestart$(fname)@qzyfileend", returnUrl: "http://r", returnBody: "🙂")
        #expect(PutPolicy.decode(json: Data(awkward.json().utf8)) == awkward)
        #expect(awkward.scopeKey == "k:with:colons")
        let token = UploadToken.make(policy: awkward, credentials: Self.credentials)
        #expect(try UploadToken.verify(token, credentials: [Self.credentials]).get() == awkward)
    }

    @Test("OrderedJSON escapes like JSON but keeps order and does not escape /")
    func orderedJSON() {
        #expect(OrderedJSON.object([("b", .int(-1)), ("a", .string("x/y"))]) == #"{"b":-1,"a":"x/y"}"#)
        #expect(OrderedJSON.quote("q\"b\\n\nr\rt\t\u{1}\u{1F}é") == #""q\"b\\n\nr\rt\t\u0001\u001fé""#)
        #expect(OrderedJSON.object([]) == "{}")
    }

    @Test("Base64URL: URL-safe alphabet with padding; decodes padded, unpadded and standard")
    func base64URL() {
        let bytes = Data([0xFB, 0xFF, 0xBF, 0x00, 0x01])
        #expect(Base64URL.encode(bytes) == "-_-_AAE=")
        #expect(Base64URL.decode("-_-_AAE=") == bytes)
        #expect(Base64URL.decode("-_-_AAE") == bytes)
        #expect(Base64URL.decode("+/+/AAE=") == bytes)
        #expect(Base64URL.encode("") == "")
        #expect(Base64URL.decode("") == Data())
        #expect(Base64URL.decode("A") == nil)
        #expect(Base64URL.decode("A*B=") == nil)
        for n in 0..<40 {
            let data = Data((0..<n).map { UInt8(truncatingIfNeeded: $0 &* 97 &+ 251) })
            let encoded = Base64URL.encode(data)
            #expect(!encoded.contains("+") && !encoded.contains("/"))
            #expect(encoded.count % 4 == 0)
            #expect(Base64URL.decode(encoded) == data)
            #expect(Base64URL.decode(encoded.replacingOccurrences(of: "=", with: "")) == data)
        }
    }
}
