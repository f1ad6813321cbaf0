#pragma once
// Conversions between the service's types and the shard's stored records.

#include "service/object_service.h"
#include "shard/records.pb.h"

namespace cleave::service {

shard::Headers to_record(const ObjectHeaders& h);
ObjectHeaders from_record(const shard::Headers& h);
ObjectInfo object_info(std::string_view key, const shard::ObjectRecord& r);

}  // namespace cleave::service
