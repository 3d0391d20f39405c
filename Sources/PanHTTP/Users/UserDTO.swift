import PanCore

/// The user object of `api.md` §3: every key present, null allowed.
struct UserDTO: Encodable {
    let user: User

    enum CodingKeys: String, CodingKey {
        case uuid, name, phone, email, countryCode, spaceUsed, spaceCapacity, createTime, type, status, icon
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
    }
}
