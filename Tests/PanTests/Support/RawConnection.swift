import Foundation
import HTTPTypes
import Testing
@testable import PanCore
@testable import PanSQLite
import WCS

/// A bare TCP client: sends bytes, then waits for the server to close.
enum RawConnection {
    /// A blocking TCP socket to 127.0.0.1:`port`, reads timing out after `seconds`.
    static func connected(port: Int, readTimeout seconds: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket: \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else { close(fd); throw TestFailure("connect: \(errno)") }
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    /// Sends bytes, then waits for the server to close: true when it did within `seconds`.
    static func closesAfterSending(port: Int, _ bytes: Data, within seconds: Int) async throws -> Bool {
        try await offCooperativePool {
            let fd = try connected(port: port, readTimeout: seconds)
            defer { close(fd) }
            if !bytes.isEmpty {
                _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
            }
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = recv(fd, &buffer, buffer.count, 0)
                if n == 0 { return true }  // orderly close
                if n < 0 { return errno == ECONNRESET }  // timeout: still open
            }
        }
    }

    /// Sends `text` and reads until the server closes, a response head with some body arrived, or 60 s pass.
    static func exchange(port: Int, _ text: String) async throws -> String {
        try await offCooperativePool {
            let fd = try connected(port: port, readTimeout: 60)
            defer { close(fd) }
            let bytes = Array(text.utf8)
            _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
            var received = [UInt8]()
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n <= 0 { break }
                received.append(contentsOf: buffer[0..<n])
                if String(decoding: received, as: UTF8.self).contains("\r\n\r\n"), received.count > 200 { break }
            }
            return String(decoding: received, as: UTF8.self)
        }
    }
}
