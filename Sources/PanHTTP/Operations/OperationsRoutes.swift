import Hummingbird

/// Readiness and metrics endpoints (issue: operations). Filled in by the operations work.
func addOperationsRoutes(to router: Router<AppRequestContext>, services: PanServices) {}
