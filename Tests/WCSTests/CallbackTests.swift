import Foundation
import Testing
@testable import WCS

/// A small deterministic generator, so a fuzz failure can be reproduced.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Percent-encodes every byte outside RFC 3986's unreserved set, as a strict form encoder does.
func strictPercentEncode(_ text: String, lowercase: Bool = false) -> String {
    var out = ""
    for byte in text.utf8 {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            out.unicodeScalars.append(Unicode.Scalar(byte))
        default:
            out += String(format: lowercase ? "%%%02x" : "%%%02X", byte)
        }
    }
    return out
}

@Suite("Callback body parsing (wcs.md §2–3)")
struct CallbackBodyTests {
    static let plainBody = "size=5458017&hash=lgYD1AjrK5Daxq-Dt0qemSPKdNbh&key=user-upload/20180130/1.tmp&mimeType=application/pdf&ip=10.1.2.3&avinfo=&bucket=other-storage&url=@qzyurlstarthttp://a.example.com/x?a=1&b=2@qzyurlend&userId=5&fileName=@qzyfilestartR&D=report&v2.pdf@qzyfileend"
    static let wireBody = "callbackBody=size%3D5458017%26hash%3DlgYD1AjrK5Daxq-Dt0qemSPKdNbh%26key%3Duser-upload%2F20180130%2F1.tmp%26mimeType%3Dapplication%2Fpdf%26ip%3D10.1.2.3%26avinfo%3D%26bucket%3Dother-storage%26url%3D%40qzyurlstartaHR0cDovL2EuZXhhbXBsZS5jb20veD9hPTEmYj0y%40qzyurlend%26userId%3D5%26fileName%3D%40qzyfilestartR%26D%3Dreport%26v2.pdf%40qzyfileend%0A"

    static let expected: [String: String] = [
        "size": "5458017", "hash": "lgYD1AjrK5Daxq-Dt0qemSPKdNbh", "key": "user-upload/20180130/1.tmp",
        "mimeType": "application/pdf", "ip": "10.1.2.3", "avinfo": "", "bucket": "other-storage",
        "url": "http://a.example.com/x?a=1&b=2", "userId": "5", "fileName": "R&D=report&v2.pdf",
    ]

    static func checkVector(_ body: CallbackBody) {
        #expect(body.size == 5_458_017)
        #expect(body.hash == "lgYD1AjrK5Daxq-Dt0qemSPKdNbh")
        #expect(body.key == "user-upload/20180130/1.tmp")
        #expect(body.mimeType == "application/pdf")
        #expect(body.ip == "10.1.2.3")
        #expect(body.avinfo == "")
        #expect(body.bucket == "other-storage")
        #expect(body.url == "http://a.example.com/x?a=1&b=2")
        #expect(body.userId == 5)
        #expect(body.fileName == "R&D=report&v2.pdf")
        #expect(body["bucket"] == "other-storage")
        #expect(body["nope"] == nil)
        // Exactly these fields: the pieces of the marked values did not leak in as fields.
        #expect(body.fields == expected)
    }

    @Test("The plain template body parses to the listed values")
    func plainVector() throws {
        Self.checkVector(try CallbackBody.parse(template: Self.plainBody))
        // Tolerated on the wire as well: the bare template without the form wrapper.
        Self.checkVector(try CallbackBody.parse(wire: Data(Self.plainBody.utf8)))
        Self.checkVector(try CallbackBody.parse(wire: Data((Self.plainBody + "\r\n").utf8)))
    }

    @Test("The percent-encoded `callbackBody=` wire form parses to the same values")
    func wireVector() throws {
        Self.checkVector(try CallbackBody.parse(wire: Data(Self.wireBody.utf8)))
        // Lowercase hex escapes (Wangsu's documentation example uses %3d).
        Self.checkVector(try CallbackBody.parse(wire: Data(Self.wireBody.replacingOccurrences(of: "%3D", with: "%3d").replacingOccurrences(of: "%2F", with: "%2f").utf8)))
        // CRLF instead of LF, and other form fields after it.
        let crlf = Self.wireBody.replacingOccurrences(of: "%0A", with: "%0D%0A")
        Self.checkVector(try CallbackBody.parse(wire: Data(crlf.utf8)))
        Self.checkVector(try CallbackBody.parse(wire: Data((Self.wireBody + "&other=field").utf8)))
        // The field after others in the form is still the field.
        Self.checkVector(try CallbackBody.parse(wire: Data(("other=field&" + Self.wireBody).utf8)))
        // The whole body percent-encoded without the wrapper.
        let bare = String(Self.wireBody.dropFirst("callbackBody=".count))
        Self.checkVector(try CallbackBody.parse(wire: Data(bare.utf8)))
    }

    @Test("A strictly percent-encoded body (every non-unreserved byte escaped) parses")
    func strictlyEncoded() throws {
        for lowercase in [false, true] {
            let encoded = "callbackBody=" + strictPercentEncode(Self.plainBody + "\n", lowercase: lowercase)
            Self.checkVector(try CallbackBody.parse(wire: Data(encoded.utf8)))
        }
    }

    @Test("Wangsu's documentation example (url in base64, no markers) parses")
    func documentationExample() throws {
        let body = try CallbackBody.parse(wire: Data("callbackBody=url%3daHR0cDovL2FiYy5jb20vMS5qcGc%3d%26fsize%3d1231341%26bucket%3dtest%0a".utf8))
        #expect(body["fsize"] == "1231341")
        #expect(body.bucket == "test")
        #expect(body.fields.count == 3)
        // wcs.md §2: "accept both a plain and a base64 URL" — but only a url
        // between @qzyurlstart/@qzyurlend markers is base64-decoded.
        let url = body.url
        do {
            #expect(url == "http://abc.com/1.jpg")
        }
    }

    @Test("The fileName is taken up to the last end marker; a plain and a base64 url are both accepted")
    func markers() throws {
        let tricky = try CallbackBody.parse(template: "fileName=@qzyfilestarta@qzyfileend b@qzyfileend&size=1")
        #expect(tricky.fileName == "a@qzyfileend b")
        #expect(tricky.size == 1)
        let plainURL = try CallbackBody.parse(template: "url=@qzyurlstarthttps://x.example/p?q=1&r=%20@qzyurlend&userId=7")
        #expect(plainURL.url == "https://x.example/p?q=1&r=%20")
        #expect(plainURL.userId == 7)
        let base64URL = try CallbackBody.parse(template: "url=@qzyurlstart\(Base64URL.encode("https://x.example/p?q=1&r=2"))@qzyurlend")
        #expect(base64URL.url == "https://x.example/p?q=1&r=2")
        let emptyName = try CallbackBody.parse(template: "size=0&fileName=@qzyfilestart@qzyfileend")
        #expect(emptyName.fileName == "")
        #expect(emptyName.size == 0)
        // No markers at all: fine, the fields are simply absent.
        let none = try CallbackBody.parse(template: "size=12&flag&=novalue&hash=a=b")
        #expect(none.size == 12)
        #expect(none["flag"] == "")
        #expect(none.hash == "a=b")
        #expect(none.fileName == nil && none.url == nil)
    }

    @Test("Unterminated or stray markers throw")
    func unterminatedMarkers() {
        let cases: [(String, CallbackBody.ParseError)] = [
            ("size=1&fileName=@qzyfilestartR&D.pdf", .unterminatedMarker("@qzyfilestart")),
            ("size=1&fileName=R&D.pdf@qzyfileend", .unterminatedMarker("@qzyfileend")),
            ("url=@qzyurlstarthttp://a&size=1", .unterminatedMarker("@qzyurlstart")),
            ("url=http://a@qzyurlend&size=1", .unterminatedMarker("@qzyurlend")),
            ("fileName=@qzyfileend@qzyfilestart", .unterminatedMarker("@qzyfilestart")),
        ]
        for (template, error) in cases {
            #expect(throws: error, "\(template)") { try CallbackBody.parse(template: template) }
            #expect(throws: error, "\(template)") { try CallbackBody.parse(wire: Data(template.utf8)) }
            let wire = Data(("callbackBody=" + strictPercentEncode(template + "\n")).utf8)
            #expect(throws: error, "\(template)") { try CallbackBody.parse(wire: wire) }
        }
    }

    @Test("Empty bodies and non-UTF-8 bodies throw")
    func emptyAndInvalid() {
        #expect(throws: CallbackBody.ParseError.empty) { try CallbackBody.parse(template: "") }
        for body in ["", "callbackBody=", "callbackBody=%0A", "callbackBody=%0D%0A", "\n", "\r\n", "%0A"] {
            #expect(throws: CallbackBody.ParseError.empty, "\(body.debugDescription)") { try CallbackBody.parse(wire: Data(body.utf8)) }
        }
        #expect(throws: CallbackBody.ParseError.notUTF8) { try CallbackBody.parse(wire: Data([0x73, 0x3D, 0xFF, 0xFE])) }
    }

    @Test("2000 random inputs never crash the parser")
    func fuzz() {
        var rng = SplitMix64(state: 0x5EED_CA11_BAC4)
        let pieces = [
            "&", "=", "%", "%2", "%41", "%0A", "%0a", "%25", "%26", "%3D", "%FF", "%C3%A9", "%E4%B8", "\n", "\r", "+", " ",
            "@qzyfilestart", "@qzyfileend", "@qzyurlstart", "@qzyurlend", "@qzy", "callbackBody=", "url=", "fileName=",
            "size=", "userId=", "a", "Z9", "中", "🙂", "e\u{301}", "\u{301}", "\u{0}", "$(", ")", "://", "aHR0cDovL2E=",
        ]
        var parsed = 0, rejected = 0
        for round in 0..<2000 {
            let data: Data
            if round.isMultiple(of: 3) {
                data = Data((0..<Int.random(in: 0...64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) })
            } else {
                var text = round.isMultiple(of: 2) ? "callbackBody=" : ""
                for _ in 0..<Int.random(in: 0...24, using: &rng) { text += pieces.randomElement(using: &rng)! }
                data = Data(text.utf8)
            }
            for attempt in 0..<2 {
                do {
                    let body = attempt == 0
                        ? try CallbackBody.parse(wire: data)
                        : try CallbackBody.parse(template: String(decoding: data, as: UTF8.self))
                    parsed += 1
                    // Every accessor works on whatever came out.
                    _ = (body.size, body.hash, body.key, body.mimeType, body.ip, body.avinfo, body.bucket, body.url, body.userId, body.fileName)
                    #expect(!body.fields.keys.contains(""))
                } catch {
                    rejected += 1
                }
            }
        }
        #expect(parsed + rejected == 4000)
        #expect(parsed > 0 && rejected > 0)
    }
}

@Suite("Magic variables → wire body → parser round trip")
struct MagicVariablesTests {
    static let template = "size=$(fsize)&hash=$(hash)&key=$(key)&mimeType=$(mimeType)&ip=$(ip)&avinfo=$(avinfo)&bucket=$(bucket)&url=@qzyurlstart$(url)@qzyurlend&userId=5&fileName=@qzyfilestart$(fname)@qzyfileend"

    static let fileNames = [
        "R&D=report&v2.pdf",
        "100% sure + more = less & then some.txt",
        "a+b c%20d%2Be%.pdf",
        "  leading and trailing spaces  ",
        "5系标轴2.0.pdf.asset.1518484456597.pdf",
        "résumé ñ é (1).docx",
        "🙂 emoji 👩‍👩‍👧‍👦 family.png",
        "e\u{301}\u{301} combining.txt",
        "literal $(hash) and $(fsize).txt",
        "semi;colon,comma/slash\\back?query#hash'quote\"dq.txt",
        "tab\there",
        "ends with newline\n",
        "%0A%0D%",
        "=&=&=",
        "",
    ]

    static func values(fileName: String, url: String) -> [String: String] {
        [
            "fsize": "5458017", "hash": "lgYD1AjrK5Daxq-Dt0qemSPKdNbh", "key": "u/5/\(UUID().uuidString)",
            "mimeType": "application/pdf", "ip": "10.1.2.3", "avinfo": "", "bucket": "pan-bucket",
            "url": url, "fname": fileName,
        ]
    }

    @Test("substitute → wireBody → parse(wire:) keeps every value", arguments: fileNames)
    func roundTrip(_ fileName: String) throws {
        let url = "http://a.example.com/x?a=1&b=2&name=\(fileName.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")"
        for urlOnWire in [Base64URL.encode(url), url] {
            let values = Self.values(fileName: fileName, url: urlOnWire)
            let substituted = MagicVariables.substitute(Self.template, values: values)
            #expect(fileName.isEmpty || substituted.contains(fileName))
            let wire = MagicVariables.wireBody(for: substituted)
            let text = String(decoding: wire, as: UTF8.self)
            #expect(text.hasPrefix("callbackBody="))
            #expect(text.hasSuffix("%0A"))
            // One form field: no raw separators or spaces left in the value.
            let value = text.dropFirst("callbackBody=".count)
            #expect(!value.contains("&") && !value.contains("=") && !value.contains("+") && !value.contains(" ") && !value.contains("\n"))
            // Percent-encoded all the way: only unreserved ASCII and escapes.
            #expect(value.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "-._~%".unicodeScalars.contains($0)) })

            let body = try CallbackBody.parse(wire: wire)
            #expect(body.fileName == fileName)
            #expect(body.url == url)
            #expect(body.size == 5_458_017)
            #expect(body.hash == "lgYD1AjrK5Daxq-Dt0qemSPKdNbh")
            #expect(body.key == values["key"])
            #expect(body.mimeType == "application/pdf")
            #expect(body.ip == "10.1.2.3")
            #expect(body.avinfo == "")
            #expect(body.bucket == "pan-bucket")
            #expect(body.userId == 5)
            #expect(body.fields.count == 10)
        }
    }

    @Test("substitute: known, unknown, custom and unterminated variables")
    func substitute() {
        #expect(MagicVariables.substitute("a=$(a)&b=$(b)", values: ["a": "1"]) == "a=1&b=")
        #expect(MagicVariables.substitute("$(x:name)/$(fname)", values: ["x:name": "v", "fname": "f"]) == "v/f")
        #expect(MagicVariables.substitute("no variables", values: ["a": "1"]) == "no variables")
        #expect(MagicVariables.substitute("", values: [:]) == "")
        #expect(MagicVariables.substitute("end $(open", values: ["open": "x"]) == "end $(open")
        #expect(MagicVariables.substitute("$$(a)$", values: ["a": "1"]) == "$1$")
        // Values are inserted verbatim, never substituted again.
        #expect(MagicVariables.substitute("$(a)$(b)", values: ["a": "$(b)", "b": "B"]) == "$(b)B")
        #expect(MagicVariables.substitute("u/$(year)/$(mon)/中$(day)", values: ["year": "2026", "mon": "11", "day": "27"]) == "u/2026/11/中27")
    }
}

@Suite("Callback signature (wcs.md §3)")
struct CallbackSignatureTests {
    static let pairs = [
        Credentials(accessKey: "ak-one", secretKey: "sk-one"),
        Credentials(accessKey: "ak-two", secretKey: "sk-two"),
        Credentials(accessKey: "ak-three", secretKey: "sk-three"),
    ]
    static let url = "https://pan.example.com/v1/callback/ws/post?x=1"
    static let body = Data("callbackBody=size%3D1%26fileName%3D%40qzyfilestartR%26D%40qzyfileend%0A".utf8)

    @Test("authorization() then verify() with the right pair among several")
    func roundTrip() throws {
        for signer in Self.pairs {
            let header = CallbackSignature.authorization(url: Self.url, body: Self.body, credentials: signer)
            #expect(header.hasPrefix(signer.accessKey + ":"))
            let signature = try #require(header.split(separator: ":").last)
            let hex = try #require(Base64URL.decode(signature))
            #expect(hex.count == 40)
            #expect(CallbackSignature.verify(header: header, url: Self.url, body: Self.body, credentials: Self.pairs))
            #expect(CallbackSignature.verify(header: header, url: Self.url, body: Self.body, credentials: [signer]))
            #expect(CallbackSignature.verify(header: "  " + header + " ", url: Self.url, body: Self.body, credentials: Self.pairs))
            #expect(CallbackSignature.verify(header: "WCS " + header, url: Self.url, body: Self.body, credentials: Self.pairs))
        }
        #expect(CallbackSignature.signingString(url: "http://h/p", body: Data("ab?".utf8)) == "http://h/p\nYWI_")
    }

    @Test("verify() is false for a wrong body, url, key or header")
    func rejects() {
        let signer = Self.pairs[1]
        let header = CallbackSignature.authorization(url: Self.url, body: Self.body, credentials: signer)
        var otherBody = Self.body
        otherBody[otherBody.startIndex] ^= 0x01
        #expect(!CallbackSignature.verify(header: header, url: Self.url, body: otherBody, credentials: Self.pairs))
        #expect(!CallbackSignature.verify(header: header, url: Self.url, body: Self.body + Data("\n".utf8), credentials: Self.pairs))
        #expect(!CallbackSignature.verify(header: header, url: Self.url, body: Data(), credentials: Self.pairs))
        for url in ["https://pan.example.com/v1/callback/ws/post", "https://pan.example.com/v1/callback/ws/post?x=2", "http://pan.example.com/v1/callback/ws/post?x=1", "https://evil.example.com/v1/callback/ws/post?x=1"] {
            #expect(!CallbackSignature.verify(header: header, url: url, body: Self.body, credentials: Self.pairs), "\(url)")
        }
        // Signed by a pair that is not configured, or the right AK with the wrong SK.
        let stranger = CallbackSignature.authorization(url: Self.url, body: Self.body, credentials: Credentials(accessKey: "ak-x", secretKey: "sk-x"))
        #expect(!CallbackSignature.verify(header: stranger, url: Self.url, body: Self.body, credentials: Self.pairs))
        let wrongSecret = CallbackSignature.authorization(url: Self.url, body: Self.body, credentials: Credentials(accessKey: "ak-two", secretKey: "sk-one"))
        #expect(!CallbackSignature.verify(header: wrongSecret, url: Self.url, body: Self.body, credentials: Self.pairs))
        // The right signature under another configured AK.
        let signature = header.dropFirst("ak-two:".count)
        #expect(!CallbackSignature.verify(header: "ak-one:" + signature, url: Self.url, body: Self.body, credentials: Self.pairs))
        #expect(!CallbackSignature.verify(header: header, url: Self.url, body: Self.body, credentials: [Self.pairs[0], Self.pairs[2]]))
        #expect(!CallbackSignature.verify(header: header, url: Self.url, body: Self.body, credentials: []))
        for bad in ["", "ak-two", "ak-two:", String(header.dropLast()), header + "=", String(signature)] {
            #expect(!CallbackSignature.verify(header: bad, url: Self.url, body: Self.body, credentials: Self.pairs), "\(bad)")
        }
    }

    @Test("constantTimeEquals compares whole strings")
    func constantTime() {
        #expect(constantTimeEquals("", ""))
        #expect(constantTimeEquals("abc", "abc"))
        #expect(!constantTimeEquals("abc", "abd"))
        #expect(!constantTimeEquals("abc", "ab"))
        #expect(!constantTimeEquals("ab", "abc"))
        #expect(!constantTimeEquals("", "a"))
        // Length differing by a multiple of 256 must still differ.
        #expect(!constantTimeEquals(String(repeating: "a", count: 256), ""))
        #expect(!constantTimeEquals("x" + String(repeating: "\u{0}", count: 255), "x"))
        #expect(!constantTimeEquals("x", "x" + String(repeating: "\u{0}", count: 257)))
        let padded = "x" + String(repeating: "\u{0}", count: 256)
        let paddedEqual = constantTimeEquals(padded, "x"), paddedEqualReversed = constantTimeEquals("x", padded)
        do {
            #expect(!paddedEqual)
            #expect(!paddedEqualReversed)
        }
    }

    @Test("Credentials.sign is base64url(hex(HMAC-SHA1))")
    func sign() throws {
        // RFC 2202 test case 2: HMAC-SHA1("Jefe", "what do ya want for nothing?").
        let signature = Credentials(accessKey: "a", secretKey: "Jefe").sign("what do ya want for nothing?")
        let hex = try #require(Base64URL.decode(signature))
        #expect(String(decoding: hex, as: UTF8.self) == "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")
        #expect(signature == Base64URL.encode("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"))
        #expect(Credentials(accessKey: "a", secretKey: "Jefe").sign(Data("what do ya want for nothing?".utf8)) == signature)
    }
}

@Suite("CRC-32/IEEE")
struct CRC32Tests {
    @Test("The check value and incremental updates")
    func checkValue() {
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(CRC32.checksum([]) == 0)
        #expect(CRC32.checksum(Array("The quick brown fox jumps over the lazy dog".utf8)) == 0x414F_A339)
        #expect(CRC32.checksum([0x00]) == 0xD202_EF8D)
        var crc = CRC32()
        let bytes = Array(VectorBytes.prefix(1_000_003))
        bytes.withUnsafeBytes { raw in
            crc.update(UnsafeRawBufferPointer(rebasing: raw[0..<1]))
            crc.update(UnsafeRawBufferPointer(rebasing: raw[1..<1]))
            crc.update(UnsafeRawBufferPointer(rebasing: raw[1..<524_288]))
            crc.update(UnsafeRawBufferPointer(rebasing: raw[524_288...]))
        }
        #expect(crc.value == CRC32.checksum(bytes))
    }
}
