import ServiceLifecycle

/// A service under a plain name. ServiceLifecycle logs every service as
/// `"\(service)"` (debug level), and a struct's default description dumps its
/// fields — for the session sweeper that includes the WCS secret key.
struct NamedService: Service, CustomStringConvertible {
    let description: String
    let base: any Service

    init(_ description: String, _ base: any Service) {
        self.description = description
        self.base = base
    }

    // Graceful shutdown reaches `base` through the task-local it already reads.
    func run() async throws { try await base.run() }
}
