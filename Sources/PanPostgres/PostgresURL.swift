import Foundation
import NIOSSL
import PostgresNIO

/// `postgres://user:password@host:port/database?sslmode=…` → the client's configuration.
public enum PostgresURL {
    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    public static func configuration(from text: String) throws -> PostgresClient.Configuration {
        guard let url = URLComponents(string: text), let scheme = url.scheme, ["postgres", "postgresql"].contains(scheme) else {
            throw Invalid(description: "PAN_DATABASE_URL must look like postgres://user:password@host:5432/database")
        }
        guard let user = url.user, !user.isEmpty else { throw Invalid(description: "PAN_DATABASE_URL names no user") }
        let host = url.host.flatMap { $0.isEmpty ? nil : $0 } ?? "127.0.0.1"
        let database = String(url.path.drop { $0 == "/" })
        let mode = url.queryItems?.first { $0.name == "sslmode" }?.value
        let loopback = host == "127.0.0.1" || host == "localhost" || host == "::1"
        // TLS off on loopback unless asked for; elsewhere preferred, or required when asked.
        let tls: PostgresClient.Configuration.TLS
        switch mode ?? (loopback ? "disable" : "prefer") {
        case "disable": tls = .disable
        case "prefer", "allow": tls = .prefer(.makeClientConfiguration())
        case "require", "verify-ca", "verify-full": tls = .require(.makeClientConfiguration())
        case let other: throw Invalid(description: "unknown sslmode \(other) (disable, prefer, require)")
        }
        return PostgresClient.Configuration(
            host: host, port: url.port ?? 5432, username: user, password: url.password,  // URLComponents has already percent-decoded it
            database: database.isEmpty ? user : database, tls: tls
        )
    }
}
