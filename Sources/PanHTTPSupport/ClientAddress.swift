import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import TextSupport

/// The client's address: the peer's, unless the peer is a trusted proxy, in
/// which case what the trusted proxies in front of Pan vouch for.
///
/// Each proxy appends the address it was reached from to `X-Forwarded-For`,
/// so the list is read from the right: the last entry was written by our peer
/// (trusted), and an entry further left is believed only while the entry to
/// its right is a trusted proxy too — it was that proxy who wrote it. The
/// first hop we do not trust is the client; everything left of it is the
/// client's own text. A client that itself sits on a trusted address (on the
/// proxy's machine) is indistinguishable from a proxy this way, which is why
/// `deploy/nginx-pan.conf` *sets* the header to `$remote_addr` rather than
/// appending to what the client sent (issue #24 §2.9).
package struct ClientAddress: Sendable {
    package let trustedProxies: IPMatcher

    package init(trustedProxies: IPMatcher) {
        self.trustedProxies = trustedProxies
    }

    /// The client's address as text (logs, `$(ip)` of uploads, callback allowlists).
    package func ip(of request: Request, peer: SocketAddress?) -> String? {
        if let address = address(of: request, peer: peer) { return address.text }
        return peer?.ipAddress
    }

    package func address(of request: Request, peer: SocketAddress?) -> IPAddress? {
        guard let peer = peer?.ipAddress.flatMap(IPAddress.init) else { return nil }
        return Self.client(
            peer: peer, forwardedFor: request.headers[values: .forwardedFor], realIP: request.headers[.realIP],
            trusted: trustedProxies
        )
    }

    /// The walk itself. `forwardedFor` is every `X-Forwarded-For` field in
    /// order (a proxy may add a field rather than extend the last one).
    package static func client(peer: IPAddress, forwardedFor: [String], realIP: String?, trusted: IPMatcher) -> IPAddress {
        guard trusted.matches(peer) else { return peer }
        let hops = forwardedFor.flatMap { $0.split(separator: ",") }
        if !hops.isEmpty {
            var client = peer
            for hop in hops.reversed() {
                // Not an address ("unknown", garbage): nothing further left can be
                // vouched for; the last address a trusted hop gave us stands.
                guard let address = IPAddress(hop) else { break }
                client = address
                if !trusted.matches(address) { break }
            }
            return client
        }
        if let realIP, let address = IPAddress(realIP) { return address }
        return peer
    }
}

/// An IPv4 or IPv6 address, parsed: compared and keyed by value, never by
/// spelling (`2001:db8::1`, `2001:0DB8:0:0::1` and `::ffff:10.0.0.1` vs
/// `10.0.0.1` are one address each), so a client cannot get fresh limits by
/// writing its address differently.
package struct IPAddress: Hashable, Sendable, CustomStringConvertible {
    /// The 128 bits; IPv4 is held as IPv4-mapped IPv6 (`::ffff:a.b.c.d`).
    package let high: UInt64
    package let low: UInt64

    package init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    package init(ipv4 value: UInt32) {
        self.init(high: 0, low: 0xffff << 32 | UInt64(value))
    }

    /// Lenient about what proxies write: surrounding spaces, `[v6]`, and a
    /// `:port` after IPv4 or `[v6]` are accepted; anything else that is not an
    /// address (zone ids, host names, `unknown`) is nil.
    package init?(_ spelled: some StringProtocol) {
        var text = Substring(String(spelled).trimmedSpaces())
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            text = text[text.index(after: text.startIndex)..<close]
        } else if text.count(where: { $0 == ":" }) == 1, let colon = text.firstIndex(of: ":") {
            text = text[..<colon]
        }
        let string = String(text)
        var v4 = in_addr()
        if inet_pton(AF_INET, string, &v4) == 1 {
            self.init(ipv4: UInt32(bigEndian: v4.s_addr))
            return
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, string, &v6) == 1 else { return nil }
        let bytes = withUnsafeBytes(of: &v6) { Array($0) }
        let high = bytes[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let low = bytes[8..<16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        self.init(high: high, low: low)
    }

    package var isIPv4: Bool { high == 0 && low >> 32 == 0xffff }

    /// Dotted quad for IPv4 (mapped or not), RFC 5952 text for IPv6.
    package var text: String {
        if isIPv4 {
            let v = UInt32(truncatingIfNeeded: low)
            return "\(v >> 24).\(v >> 16 & 0xff).\(v >> 8 & 0xff).\(v & 0xff)"
        }
        var v6 = in6_addr()
        withUnsafeMutableBytes(of: &v6) { raw in
            for i in 0..<8 {
                raw[i] = UInt8(truncatingIfNeeded: high >> (56 - 8 * UInt64(i)))
                raw[8 + i] = UInt8(truncatingIfNeeded: low >> (56 - 8 * UInt64(i)))
            }
        }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        guard inet_ntop(AF_INET6, &v6, &buffer, socklen_t(buffer.count)) != nil else { return "::" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    package var description: String { text }

    /// What per-address limits count under: the address for IPv4, its /64 for
    /// IPv6 — one subscriber gets a whole /64 (RFC 6177), so per-address
    /// limits keyed by the full address would give an attacker 2^64 budgets.
    package var limitKey: String {
        isIPv4 ? text : IPAddress(high: high, low: 0).text + "/64"
    }

    /// The first `bits` of the 128, the rest zero.
    package func masked(to bits: Int) -> IPAddress {
        func mask(_ bits: Int) -> UInt64 { bits <= 0 ? 0 : bits >= 64 ? ~0 : ~UInt64(0) << (64 - UInt64(bits)) }
        return IPAddress(high: high & mask(bits), low: low & mask(bits - 64))
    }
}

/// Matches addresses against a list of addresses and CIDR ranges, IPv4
/// (`10.0.0.0/8`) or IPv6 (`fd00::/8`).
package struct IPMatcher: Sendable {
    /// (network, prefix length over the 128 bits).
    private let ranges: [(IPAddress, Int)]
    /// Entries that are not addresses, matched as text (as before ranges were parsed).
    private let literal: Set<String>

    package init(_ entries: [String]) {
        var ranges: [(IPAddress, Int)] = []
        var literal = Set<String>()
        for entry in entries {
            let parts = entry.split(separator: "/", maxSplits: 1)
            if let base = IPAddress(parts[0]) {
                let width = base.isIPv4 ? 32 : 128
                guard parts.count == 2 else {
                    ranges.append((base, 128))
                    continue
                }
                if let bits = Int(parts[1]), (0...width).contains(bits) {
                    let prefix = bits + (128 - width)
                    ranges.append((base.masked(to: prefix), prefix))
                    continue
                }
            }
            literal.insert(entry)
        }
        self.ranges = ranges
        self.literal = literal
    }

    package var isEmpty: Bool { ranges.isEmpty && literal.isEmpty }

    package func matches(_ address: IPAddress) -> Bool {
        ranges.contains { address.masked(to: $0.1) == $0.0 }
    }

    package func matches(_ ip: String) -> Bool {
        if let address = IPAddress(ip) { return matches(address) }
        return literal.contains(ip)
    }
}
