import Crypto
import CryptoExtras
import Foundation
import WCS

/// Salted PBKDF2-SHA256 over the MD5 hex of the password.
///
/// Clients send MD5 hex (most) or the plain password (one client); hashing the
/// MD5 form lets both verify against one stored value, while what is stored is
/// never a bare MD5.
public struct PasswordHasher: Sendable {
    public var rounds: Int

    public init(rounds: Int = 210_000) { self.rounds = rounds }

    public static func md5Hex(_ text: String) -> String {
        Hex.encode(Insecure.MD5.hash(data: Data(text.utf8)))
    }

    static func isMD5Hex(_ text: String) -> Bool {
        text.utf8.count == 32 && text.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }
    }

    /// Hashes a plain password for storage.
    public func hash(plainPassword: String) throws -> String {
        try hash(md5Hex: Self.md5Hex(plainPassword))
    }

    func hash(md5Hex: String) throws -> String {
        var salt = [UInt8](repeating: 0, count: 16)
        var generator = SystemRandomNumberGenerator()
        for i in salt.indices { salt[i] = UInt8.random(in: 0...255, using: &generator) }
        let key = try derive(md5Hex, salt: salt, rounds: rounds)
        return "pbkdf2-sha256$\(rounds)$\(Data(salt).base64EncodedString())$\(key.base64EncodedString())"
    }

    /// Checks what a client sent — MD5 hex or plain — against the stored hash.
    public func verify(clientPassword: String, stored: String) -> Bool {
        let parts = stored.split(separator: "$")
        guard parts.count == 4, parts[0] == "pbkdf2-sha256", let rounds = Int(parts[1]),
              let salt = Data(base64Encoded: String(parts[2])), let expected = Data(base64Encoded: String(parts[3]))
        else { return false }
        var candidates = [Self.md5Hex(clientPassword)]
        let lowered = clientPassword.lowercased()
        if Self.isMD5Hex(lowered) { candidates.insert(lowered, at: 0) }
        for candidate in candidates {
            guard let key = try? derive(candidate, salt: Array(salt), rounds: rounds) else { continue }
            if constantTime(key, expected) { return true }
        }
        return false
    }

    private func derive(_ md5Hex: String, salt: [UInt8], rounds: Int) throws -> Data {
        let key = try KDF.Insecure.PBKDF2.deriveKey(
            from: Array(md5Hex.utf8), salt: salt, using: .sha256, outputByteCount: 32, unsafeUncheckedRounds: rounds
        )
        return key.withUnsafeBytes { Data($0) }
    }

    private func constantTime(_ a: Data, _ b: Data) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }
}
