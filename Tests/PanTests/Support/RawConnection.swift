import Foundation
import HTTPTypes
import Testing
@testable import PanCore
@testable import PanHTTP
import WCS

/// A bare TCP client: sends bytes, then waits for the server to close.
enum RawConnection {
    static func closesAfterSending(port: Int, _ bytes: Data, within seconds: Int) async throws -> Bool {
        try await Task.detached {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw TestFailure("socket: \(errno)") }
            defer { close(fd) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard connected == 0 else { throw TestFailure("connect: \(errno)") }
            if !bytes.isEmpty {
                _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
            }
            var timeout = timeval(tv_sec: seconds, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = recv(fd, &buffer, buffer.count, 0)
                if n == 0 { return true }  // orderly close
                if n < 0 { return errno == ECONNRESET }  // timeout: still open
            }
        }.value
    }
}
