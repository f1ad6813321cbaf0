#pragma once
// Errors are values (STYLE.md, convention 1): every fallible call returns a
// Status or a Result<T>. No exception crosses a module boundary.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "common/assert.h"

namespace cleave {

// One code space for the whole product. The S3 layer maps these to S3 error
// codes (src/s3/errors.h); the RPC layer carries them on the wire.
enum class Errc : uint8_t {
    ok = 0,
    not_found,
    already_exists,
    invalid_argument,
    corruption,  // a checksum or hash did not match: never serve the data
    io_error,    // the OS or engine failed
    precondition_failed,
    not_leader,
    stale_epoch,
    unavailable,  // try again later (e.g. backend down)
    aborted,      // shutting down / cancelled
    too_large,
    not_empty,
    internal,
    // Object-store conditions the S3 layer reports with their own codes.
    no_such_bucket,
    no_such_key,
    no_such_upload,
    invalid_part,
    invalid_part_order,
    entity_too_small,
    invalid_range,
};

std::string_view errc_name(Errc code);

class [[nodiscard]] Status {
  public:
    Status() = default;
    Status(Errc code, std::string message) : code_(code), message_(std::move(message)) {}

    static Status ok() { return {}; }
    static Status not_found(std::string m) { return {Errc::not_found, std::move(m)}; }
    static Status already_exists(std::string m) { return {Errc::already_exists, std::move(m)}; }
    static Status invalid_argument(std::string m) { return {Errc::invalid_argument, std::move(m)}; }
    static Status corruption(std::string m) { return {Errc::corruption, std::move(m)}; }
    static Status io_error(std::string m) { return {Errc::io_error, std::move(m)}; }
    static Status precondition_failed(std::string m) {
        return {Errc::precondition_failed, std::move(m)};
    }
    static Status unavailable(std::string m) { return {Errc::unavailable, std::move(m)}; }
    static Status internal(std::string m) { return {Errc::internal, std::move(m)}; }

    bool is_ok() const { return code_ == Errc::ok; }
    explicit operator bool() const { return is_ok(); }
    Errc code() const { return code_; }
    const std::string& message() const { return message_; }
    std::string to_string() const;

    // Marks a status as deliberately discarded; greppable.
    void ignore() const {}

  private:
    Errc code_ = Errc::ok;
    std::string message_;
};

// A value or an error. Holds exactly one of them.
template <typename T>
class [[nodiscard]] Result {
  public:
    Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
    Result(Status status) : v_(std::move(status)) {  // NOLINT
        CLEAVE_ASSERT(!std::get<Status>(v_).is_ok(), "Result built from an OK status");
    }

    bool is_ok() const { return std::holds_alternative<T>(v_); }
    explicit operator bool() const { return is_ok(); }

    const Status& status() const {
        static const Status ok_status;
        return is_ok() ? ok_status : std::get<Status>(v_);
    }
    T& value() & {
        CLEAVE_ASSERT(is_ok(), "value() of failed Result: {}", std::get<Status>(v_).to_string());
        return std::get<T>(v_);
    }
    const T& value() const& {
        CLEAVE_ASSERT(is_ok(), "value() of failed Result: {}", std::get<Status>(v_).to_string());
        return std::get<T>(v_);
    }
    T&& value() && {
        CLEAVE_ASSERT(is_ok(), "value() of failed Result: {}", std::get<Status>(v_).to_string());
        return std::get<T>(std::move(v_));
    }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

  private:
    std::variant<T, Status> v_;
};

}  // namespace cleave

// Returns early with the status of a failed expression.
#define CLEAVE_RETURN_IF_ERROR(expr)                        \
    do {                                                    \
        ::cleave::Status cleave_status_ = (expr);           \
        if (!cleave_status_.is_ok()) return cleave_status_; \
    } while (0)

#define CLEAVE_CONCAT_INNER(a, b) a##b
#define CLEAVE_CONCAT(a, b) CLEAVE_CONCAT_INNER(a, b)
// CLEAVE_ASSIGN_OR_RETURN(auto x, f()) — binds the value or returns the error.
#define CLEAVE_ASSIGN_OR_RETURN(lhs, expr)                       \
    auto CLEAVE_CONCAT(cleave_result_, __LINE__) = (expr);       \
    if (!CLEAVE_CONCAT(cleave_result_, __LINE__).is_ok())        \
        return CLEAVE_CONCAT(cleave_result_, __LINE__).status(); \
    lhs = std::move(CLEAVE_CONCAT(cleave_result_, __LINE__)).value()
