import PanCore

/// The user object of `api.md` §3: every key present, null allowed.
struct UserDTO: Encodable {
    let user: User

    enum CodingKeys: String, CodingKey {
        case uuid, name, phone, email, countryCode, spaceUsed, spaceCapacity, createTime, type, status, icon, displayName
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(user.id, forKey: .uuid)
        try c.encode(user.name, forKey: .name)
        if let phone = user.phone { try c.encode(phone, forKey: .phone) } else { try c.encodeNil(forKey: .phone) }
        if let email = user.email { try c.encode(email, forKey: .email) } else { try c.encodeNil(forKey: .email) }
        try c.encode(user.countryCode, forKey: .countryCode)
        try c.encode(user.spaceUsed, forKey: .spaceUsed)
        try c.encode(user.spaceCapacity, forKey: .spaceCapacity)
        try c.encode(user.createTime, forKey: .createTime)
        try c.encode(user.type, forKey: .type)
        try c.encode(user.status, forKey: .status)
        try c.encode(user.icon, forKey: .icon)
        // Pan's own (issue #27): the name on the user's share pages.
        try c.encode(user.displayName, forKey: .displayName)
    }
}

/// `POST /v1/user/sessions`' result: `{list: [{id, device, address, createdAt, lastSeenAt, current}]}`, times in Unix ms.
struct UserSessionListDTO: Encodable {
    let sessions: [UserSession]
    /// The caller's session id, marked `current`.
    let current: String?

    private struct Item: Encodable {
        let id: String
        let device: String
        let address: String
        let createdAt: Int64
        let lastSeenAt: Int64
        let current: Bool
    }

    enum CodingKeys: String, CodingKey { case list }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(sessions.map {
            Item(id: $0.id, device: $0.device, address: $0.address, createdAt: $0.createdAt, lastSeenAt: $0.lastSeenAt, current: $0.id == current)
        }, forKey: .list)
    }
}
