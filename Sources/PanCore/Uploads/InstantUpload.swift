import Crypto
import Foundation
import SQLCommon
import WCS

/// Who may get stored content by naming its hash (issue #24, `PAN_INSTANT_UPLOAD`).
///
/// A hash is not a secret: it travels in every file object (`storeId`), in
/// download links, logs and clients' caches. If naming it were enough to get
/// the content, a hash would be a key to other people's files (Dropbox's
/// "Dropship", 2011). So by default only content the user already holds is
/// instant on the hash alone; anyone else's needs a proof of possession.
public enum InstantUploadPolicy: String, Sendable, CaseIterable {
    /// Own content on the hash; someone else's on a proof of possession (the default).
    case proof
    /// Own content only: no cross-user instant upload at all.
    case owner
    /// The original server's behaviour: any stored hash is instant for anyone.
    case global
}

/// Why an instant upload was granted: the `kind` label of `pan_instant_uploads_total`.
public enum InstantKind: String, Sendable, CaseIterable {
    /// One of the user's own nodes (live or binned) holds the content.
    case own
    /// The user answered a possession challenge.
    case proof
    /// `PAN_INSTANT_UPLOAD=global`: the hash alone.
    case global
}

/// A span of a stored object's bytes.
public struct ByteRange: Sendable, Equatable {
    public var offset: Int64
    public var length: Int64

    public init(offset: Int64, length: Int64) {
        self.offset = offset
        self.length = length
    }
}

/// "Prove you hold these bytes": a fresh nonce and byte ranges of the stored
/// object, chosen by the server. The answer is
/// `hex(SHA-256(UTF-8(nonce) ‖ range₁ ‖ range₂ ‖ …))`, which only someone
/// holding those bytes can compute (the ranges are unknown until asked, and
/// the nonce makes every answer new). `docs/api.md` has the contract.
public struct PossessionChallenge: Sendable, Equatable {
    public var nonce: String
    public var ranges: [ByteRange]
    /// Unix ms after which the nonce is refused.
    public var expires: Int64

    /// How many bytes each range asks for, and how many ranges.
    public static let rangeLength: Int64 = 64 * 1024
    public static let rangeCount = 3
    /// How long a nonce may be answered (ms): enough to hash three ranges of
    /// a local file, short enough that a leaked nonce is soon worthless.
    public static let lifetime: Int64 = 10 * 60 * 1000

    /// The ranges for an object of `size` bytes: the whole object when it is
    /// no larger than the ranges would be (the empty object included: then the
    /// answer is SHA-256 of the nonce alone — nothing to prove about no bytes),
    /// else `rangeCount` ranges of `rangeLength` at random offsets.
    public static func ranges<R: RandomNumberGenerator>(forSize size: Int64, using random: inout R) -> [ByteRange] {
        guard size > rangeLength * Int64(rangeCount) else { return [ByteRange(offset: 0, length: max(0, size))] }
        let offsets = (0..<rangeCount).map { _ in Int64.random(in: 0...(size - rangeLength), using: &random) }
        return offsets.sorted().map { ByteRange(offset: $0, length: rangeLength) }
    }

    /// The expected answer, from the ranges' bytes in order.
    public static func answer(nonce: String, rangeBytes: [Data]) -> String {
        var hasher = SHA256()
        hasher.update(data: Data(nonce.utf8))
        for bytes in rangeBytes { hasher.update(data: bytes) }
        return Hex.encode(hasher.finalize())
    }

    /// Whether `answer` is the expected one (hex, any case), in constant time.
    public static func verify(answer: String, nonce: String, rangeBytes: [Data]) -> Bool {
        constantTimeEquals(Self.answer(nonce: nonce, rangeBytes: rangeBytes), answer.lowercased())
    }

    // MARK: The nonce: `<session id>.<secret>`

    /// The session the challenge rides on, and the random half only its reply carried.
    static func parse(nonce: String) -> (sessionId: String, secret: String)? {
        let parts = nonce.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 32, parts[1].count == 32,
              parts.allSatisfy({ $0.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) } })
        else { return nil }
        return (String(parts[0]), String(parts[1]))
    }

    // MARK: Stored form of the ranges: `offset+length,…`

    static func encode(_ ranges: [ByteRange]) -> String {
        ranges.map { "\($0.offset)+\($0.length)" }.joined(separator: ",")
    }

    static func decode(_ text: String) -> [ByteRange]? {
        var ranges: [ByteRange] = []
        for part in text.split(separator: ",") {
            let fields = part.split(separator: "+")
            guard fields.count == 2, let offset = Int64(fields[0]), let length = Int64(fields[1]), offset >= 0, length >= 0 else {
                return nil
            }
            ranges.append(ByteRange(offset: offset, length: length))
        }
        return ranges.isEmpty ? nil : ranges
    }
}

extension PossessionChallenge: JSONWritable {
    /// `{nonce, algorithm, ranges: [{offset, length}], expiresAt}`, inside the token reply.
    public func write(to json: inout JSONWriter) {
        json.object { json in
            json.field("nonce", nonce)
            json.field("algorithm", "sha256")
            json.key("ranges")
            json.array { json in
                for range in ranges {
                    json.object { json in
                        json.field("offset", range.offset)
                        json.field("length", range.length)
                    }
                }
            }
            json.field("expiresAt", expires)
        }
    }

    private enum CodingKeys: String, CodingKey { case nonce, algorithm, ranges, expiresAt }

    /// `JSONWritable` asks for `Encodable`; the same shape as `write(to:)`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(nonce, forKey: .nonce)
        try container.encode("sha256", forKey: .algorithm)
        try container.encode(ranges.map { ["offset": $0.offset, "length": $0.length] }, forKey: .ranges)
        try container.encode(expires, forKey: .expiresAt)
    }
}

/// A nonce answered (and so used up): what must now be checked against the stored bytes.
public struct ClaimedChallenge: Sendable {
    public var nonce: String
    public var ranges: [ByteRange]
    /// The object the proof is about, as stored (its key tells where to read).
    public var object: StoreObject
    /// The upload session the challenge rode on; a good proof completes it.
    public var sessionId: String
}

/// The answer half of a token request: `proof: {nonce, answer}`.
public struct PossessionProof: Sendable, Equatable {
    public var nonce: String
    public var answer: String

    public init(nonce: String, answer: String) {
        self.nonce = nonce
        self.answer = answer
    }
}

/// Reads byte ranges of stored objects: from the local endpoint's files, or
/// from WCS by signed Range GETs. Proofs are checked against these bytes,
/// never against anything the client says about the content.
public protocol ObjectRangeReader: Sendable {
    /// The bytes of each range, in order; throws when the object cannot be read.
    func read(_ object: StoreObject, ranges: [ByteRange]) async throws -> [Data]
}

/// The local endpoint's objects (`LocalObjectStore`), read with `pread` on the blocking pool.
public struct LocalObjectRangeReader: ObjectRangeReader {
    let store: LocalObjectStore

    public init(store: LocalObjectStore) { self.store = store }

    public func read(_ object: StoreObject, ranges: [ByteRange]) async throws -> [Data] {
        let path = store.objectPath(forKey: object.objectKey)
        return try await BlockingIO.run {
            let fd = open(path, O_RDONLY)
            guard fd >= 0 else { throw IOError("open", path: path) }
            defer { close(fd) }
            return try ranges.map { range in
                var data = Data(count: Int(range.length))
                var done = 0
                while done < data.count {
                    let n = data.withUnsafeMutableBytes { raw in
                        pread(fd, raw.baseAddress! + done, raw.count - done, off_t(range.offset) + off_t(done))
                    }
                    if n < 0 { throw IOError("read", path: path) }
                    // Shorter than recorded: the proof cannot be checked, so it is not granted.
                    if n == 0 { throw IOError("short read", path: path, errno: EIO) }
                    done += n
                }
                return data
            }
        }
    }
}

/// Possession challenges, kept on the upload session they were issued with
/// (migration 0010): the session bounds how many a user holds and ends them.
enum PossessionChallengeRepository {
    /// Attaches a fresh challenge about `object` to the just-opened session.
    static func issue(
        for object: StoreObject, sessionId: String, userId: Int64, on db: any DatabaseConnection, now: Int64
    ) async throws -> PossessionChallenge {
        var random = SystemRandomNumberGenerator()
        let secret = RandomID.hex32()
        let challenge = PossessionChallenge(
            nonce: sessionId + "." + secret,
            ranges: PossessionChallenge.ranges(forSize: object.size, using: &random),
            expires: now + PossessionChallenge.lifetime
        )
        try await db.run(
            "UPDATE upload_sessions SET proof_secret = ?, proof_ranges = ?, proof_expires = ? WHERE user_id = ? AND id = ?",
            secret, PossessionChallenge.encode(challenge.ranges), challenge.expires, userId, sessionId
        )
        return challenge
    }

    /// Uses the nonce up — one UPDATE that checks it and clears it, so two
    /// requests carrying it cannot both get past here — and returns what to read.
    static func claim(
        _ proof: PossessionProof, hash: String, userId: Int64, on db: any DatabaseConnection, now: Int64
    ) async throws -> ClaimedChallenge {
        guard let (sessionId, secret) = PossessionChallenge.parse(nonce: proof.nonce) else { throw PanError.proofInvalid }
        let claimed = try await db.run(
            """
            UPDATE upload_sessions SET proof_secret = NULL
            WHERE user_id = ? AND id = ? AND state = 'pending' AND proof_secret = ? AND declared_hash = ? AND proof_expires >= ?
            """,
            userId, sessionId, secret, hash, now
        )
        guard claimed == 1,
              let text = try await db.queryRow("SELECT proof_ranges FROM upload_sessions WHERE user_id = ? AND id = ?", userId, sessionId)?
                .optionalString("proof_ranges"),
              let ranges = PossessionChallenge.decode(text),
              let object = try await StoreObjectRepository.find(hash: hash, on: db)
        else { throw PanError.proofInvalid }
        return ClaimedChallenge(nonce: proof.nonce, ranges: ranges, object: object, sessionId: sessionId)
    }
}
