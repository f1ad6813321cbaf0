#include "common/status.h"

namespace cleave {

std::string_view errc_name(Errc code) {
    switch (code) {
        case Errc::ok:
            return "ok";
        case Errc::not_found:
            return "not_found";
        case Errc::already_exists:
            return "already_exists";
        case Errc::invalid_argument:
            return "invalid_argument";
        case Errc::corruption:
            return "corruption";
        case Errc::io_error:
            return "io_error";
        case Errc::precondition_failed:
            return "precondition_failed";
        case Errc::not_leader:
            return "not_leader";
        case Errc::stale_epoch:
            return "stale_epoch";
        case Errc::unavailable:
            return "unavailable";
        case Errc::aborted:
            return "aborted";
        case Errc::too_large:
            return "too_large";
        case Errc::not_empty:
            return "not_empty";
        case Errc::internal:
            return "internal";
        case Errc::no_such_bucket:
            return "no_such_bucket";
        case Errc::no_such_key:
            return "no_such_key";
        case Errc::no_such_upload:
            return "no_such_upload";
        case Errc::invalid_part:
            return "invalid_part";
        case Errc::invalid_part_order:
            return "invalid_part_order";
        case Errc::entity_too_small:
            return "entity_too_small";
        case Errc::invalid_range:
            return "invalid_range";
    }
    return "unknown";
}

std::string Status::to_string() const {
    if (is_ok()) return "ok";
    std::string s(errc_name(code_));
    if (!message_.empty()) {
        s += ": ";
        s += message_;
    }
    return s;
}

}  // namespace cleave
