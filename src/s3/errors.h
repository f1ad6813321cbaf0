#pragma once
// THE table of S3 errors (DESIGN.md section 10: "every error code has an entry
// in one table"). Every error the S3 layer sends is an S3ErrorCode; the table
// gives its S3 code string, HTTP status and default message. errors_test.cc
// checks the table is complete and consistent.
//
// Service errors (cleave::Errc from common/status.h) are mapped here too, in
// one switch that the compiler checks for completeness (-Wswitch).

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "common/assert.h"
#include "common/status.h"

namespace cleave::s3 {

enum class S3ErrorCode : uint8_t {
    access_denied = 0,
    authorization_header_malformed,
    authorization_query_parameters_error,
    bad_digest,
    bucket_already_exists,
    bucket_already_owned_by_you,
    bucket_not_empty,
    entity_too_large,
    entity_too_small,
    incomplete_body,
    internal_error,
    invalid_access_key_id,
    invalid_argument,
    invalid_bucket_name,
    invalid_digest,
    invalid_part,
    invalid_part_order,
    invalid_range,
    invalid_request,
    key_too_long,
    malformed_xml,
    max_message_length_exceeded,
    metadata_too_large,
    method_not_allowed,
    missing_content_length,
    missing_request_body,
    no_such_bucket,
    no_such_key,
    no_such_upload,
    not_implemented,
    not_modified,
    precondition_failed,
    request_header_section_too_large,
    request_time_too_skewed,
    request_timeout,
    service_unavailable,
    signature_does_not_match,
    slow_down,
    x_amz_content_sha256_mismatch,
    // Keep last: the number of codes (not a code).
    count_,
};

inline constexpr size_t kS3ErrorCodeCount = static_cast<size_t>(S3ErrorCode::count_);

struct S3ErrorInfo {
    S3ErrorCode code;
    std::string_view name;  // S3's code string, e.g. "NoSuchKey"
    int http_status;
    std::string_view default_message;
};

// The table, indexed by S3ErrorCode.
std::span<const S3ErrorInfo> s3_error_table();
const S3ErrorInfo& s3_error_info(S3ErrorCode code);

// An S3 error as sent to a client. An empty message means the default one.
struct S3Error {
    S3ErrorCode code = S3ErrorCode::internal_error;
    std::string message;

    std::string_view name() const { return s3_error_info(code).name; }
    int http_status() const { return s3_error_info(code).http_status; }
    std::string_view effective_message() const {
        return message.empty() ? s3_error_info(code).default_message : std::string_view(message);
    }
};

inline S3Error s3_error(S3ErrorCode code, std::string message = {}) {
    return S3Error{code, std::move(message)};
}

// Maps a service Status (not OK) to the S3 error to send. The service's message
// is kept (it names what failed), except where it could leak internals.
S3Error s3_error_from_status(const Status& status);
S3ErrorCode s3_code_for_errc(Errc errc);

// Renders the S3 XML error document:
// <Error><Code/><Message/><Resource/><RequestId/></Error>
std::string render_error_xml(const S3Error& error, std::string_view resource,
                             std::string_view request_id);

// Escapes &, <, >, ", ' and characters XML 1.0 cannot carry (control
// characters other than tab, LF, CR become "&#xN;"-free replacements: they
// are written as numeric references where legal and otherwise dropped).
std::string xml_escape(std::string_view text);

// A status in the S3 error space: OK or one S3Error.
class [[nodiscard]] S3Status {
  public:
    S3Status() = default;
    S3Status(S3Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT: implicit
    static S3Status ok() { return {}; }
    bool is_ok() const { return ok_; }
    explicit operator bool() const { return ok_; }
    const S3Error& error() const {
        CLEAVE_ASSERT(!ok_, "error() of an OK S3Status");
        return error_;
    }

  private:
    S3Error error_;
    bool ok_ = true;
};

// A value or an S3 error.
template <typename T>
class [[nodiscard]] S3Result {
  public:
    S3Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
    S3Result(S3Error error) : v_(std::move(error)) {}  // NOLINT
    S3Result(S3Status status) : v_(status.error()) {}  // NOLINT: status must be an error

    bool is_ok() const { return std::holds_alternative<T>(v_); }
    explicit operator bool() const { return is_ok(); }
    const S3Error& error() const {
        CLEAVE_ASSERT(!is_ok(), "error() of an OK S3Result");
        return std::get<S3Error>(v_);
    }
    S3Status status() const { return is_ok() ? S3Status::ok() : S3Status(error()); }
    T& value() & {
        CLEAVE_ASSERT(is_ok(), "value() of failed S3Result: {}", std::get<S3Error>(v_).name());
        return std::get<T>(v_);
    }
    const T& value() const& {
        CLEAVE_ASSERT(is_ok(), "value() of failed S3Result: {}", std::get<S3Error>(v_).name());
        return std::get<T>(v_);
    }
    T&& value() && {
        CLEAVE_ASSERT(is_ok(), "value() of failed S3Result: {}", std::get<S3Error>(v_).name());
        return std::get<T>(std::move(v_));
    }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

  private:
    std::variant<T, S3Error> v_;
};

}  // namespace cleave::s3
