import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import TextSupport

/// The client's IP: the peer's, unless the peer is a trusted proxy, in which
/// case the last untrusted hop of `X-Forwarded-For` (or `X-Real-IP`).
struct ClientAddress: Sendable {
    let trustedProxies: IPMatcher

    func ip(of request: Request, peer: SocketAddress?) -> String? {
        let peerIP = peer?.ipAddress
        guard let peerIP, trustedProxies.matches(peerIP) else { return peerIP }
        if let forwarded = request.headers[.forwardedFor] {
            // Walk from the nearest hop; the first address we don't trust is the client.
            let hops = forwarded.split(separator: ",").map { $0.trimmedSpaces() }.filter { !$0.isEmpty }
            for hop in hops.reversed() where !trustedProxies.matches(hop) { return hop }
            if let first = hops.first { return first }
        }
        if let real = request.headers[.realIP]?.trimmedSpaces(), !real.isEmpty { return real }
        return peerIP
    }
}

/// Matches IPs against a list of addresses and IPv4 CIDR ranges.
struct IPMatcher: Sendable {
    private let exact: Set<String>
    private let ranges: [(UInt32, UInt32)]

    init(_ entries: [String]) {
        var exact = Set<String>()
        var ranges: [(UInt32, UInt32)] = []
        for entry in entries {
            let parts = entry.split(separator: "/", maxSplits: 1)
            if parts.count == 2, let base = Self.ipv4(String(parts[0])), let bits = UInt32(parts[1]), bits <= 32 {
                let mask: UInt32 = bits == 0 ? 0 : ~UInt32(0) << (32 - bits)
                ranges.append((base & mask, mask))
            } else {
                exact.insert(entry)
            }
        }
        self.exact = exact
        self.ranges = ranges
    }

    var isEmpty: Bool { exact.isEmpty && ranges.isEmpty }

    func matches(_ ip: String) -> Bool {
        let ip = ip.hasPrefix("::ffff:") ? String(ip.dropFirst(7)) : ip
        if exact.contains(ip) { return true }
        guard let value = Self.ipv4(ip) else { return false }
        return ranges.contains { value & $0.1 == $0.0 }
    }

    static func ipv4(_ text: String) -> UInt32? {
        let octets = text.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4 else { return nil }
        var value: UInt32 = 0
        for octet in octets {
            guard let byte = UInt8(octet) else { return nil }
            value = value << 8 | UInt32(byte)
        }
        return value
    }
}
