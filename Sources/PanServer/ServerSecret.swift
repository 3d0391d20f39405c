import PanCore

extension PanConfiguration {
    /// The server's secret, which session tokens, download links and app
    /// passwords derive their keys from: `PAN_JWT_SECRET`, else the data
    /// directory's `jwt-secret` (made on first use).
    func serverSecret() throws -> String {
        try jwtSecret ?? Secrets.jwtSecret(dataDirectory: dataDirectory)
    }

    /// The key app passwords are hashed with, for a process that makes them
    /// beside the servers (`pan user app-password create`): the servers' key,
    /// or the password would never match.
    public func appPasswordKey() throws -> AppPasswordKey {
        if databaseURL != nil, jwtSecret == nil {
            throw ConfigurationError(
                "PAN_JWT_SECRET is required with PAN_DATABASE_URL: app passwords are hashed with the secret the servers share"
            )
        }
        return AppPasswordKey(serverSecret: try serverSecret())
    }
}
