import WCS
import Foundation
import PanCore
import TextSupport

/// Secrets Pan makes for itself on first start and keeps in the data
/// directory (mode 0600), so a restart keeps sessions and tokens valid.
enum Secrets {
    static func jwtSecret(dataDirectory: String) throws -> String {
        try loadOrCreate(file: "jwt-secret", in: dataDirectory) { RandomID.hex32() + RandomID.hex32() }
    }

    /// The local endpoint's own key pair, used when no WCS keys are configured.
    static func localWCSKeys(dataDirectory: String) throws -> Credentials {
        let text = try loadOrCreate(file: "wcs-local-keys", in: dataDirectory) {
            "pan-local-\(RandomID.hex32().prefix(12)):\(RandomID.hex32())"
        }
        let parts = text.split(separator: ":", maxSplits: 1)
        guard parts.count == 2 else { throw ConfigurationError("\(dataDirectory)/wcs-local-keys is damaged: expected AK:SK") }
        return Credentials(accessKey: String(parts[0]), secretKey: String(parts[1]))
    }

    private static func loadOrCreate(file: String, in directory: String, make: () -> String) throws -> String {
        let path = (directory as NSString).appendingPathComponent(file)
        if let existing = try? String(contentsOfFile: path, encoding: .utf8) {
            let trimmed = existing.trimmed()
            if !trimmed.isEmpty { return trimmed }
        }
        try DataDirectory.create(directory)
        let value = make()
        // Create-exclusive so two processes starting at once agree on one secret.
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        if fd < 0 {
            if errno == EEXIST, let existing = try? String(contentsOfFile: path, encoding: .utf8) {
                return existing.trimmed()
            }
            throw ConfigurationError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        let bytes = Array((value + "\n").utf8)
        guard write(fd, bytes, bytes.count) == bytes.count else { throw ConfigurationError("cannot write \(path)") }
        fsync(fd)
        return value
    }
}
