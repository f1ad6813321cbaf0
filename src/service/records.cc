#include "service/records.h"

namespace cleave::service {

shard::Headers to_record(const ObjectHeaders& h) {
    shard::Headers r;
    r.set_content_type(h.content_type);
    r.set_content_encoding(h.content_encoding);
    r.set_content_disposition(h.content_disposition);
    r.set_content_language(h.content_language);
    r.set_cache_control(h.cache_control);
    r.set_expires(h.expires);
    for (const auto& [name, value] : h.user_metadata) {
        auto* m = r.add_user_metadata();
        m->set_name(name);
        m->set_value(value);
    }
    return r;
}

ObjectHeaders from_record(const shard::Headers& r) {
    ObjectHeaders h;
    h.content_type = r.content_type();
    h.content_encoding = r.content_encoding();
    h.content_disposition = r.content_disposition();
    h.content_language = r.content_language();
    h.cache_control = r.cache_control();
    h.expires = r.expires();
    for (const auto& m : r.user_metadata()) h.user_metadata.emplace_back(m.name(), m.value());
    return h;
}

ObjectInfo object_info(std::string_view key, const shard::ObjectRecord& r) {
    ObjectInfo info;
    info.key = std::string(key);
    info.size = r.body().size();
    info.etag = r.etag();
    info.last_modified_ms = r.last_modified_ms();
    info.parts_count = r.parts_count();
    info.headers = from_record(r.headers());
    return info;
}

}  // namespace cleave::service
