#include "s3/errors.h"

#include "s3/http_util.h"

#include <array>

#include <fmt/format.h>

namespace cleave::s3 {
namespace {

using C = S3ErrorCode;

// Indexed by S3ErrorCode; errors_test.cc checks that entry i has code i.
constexpr std::array<S3ErrorInfo, kS3ErrorCodeCount> kTable{{
    {C::access_denied, "AccessDenied", 403, "Access Denied"},
    {C::authorization_header_malformed, "AuthorizationHeaderMalformed", 400,
     "The authorization header is malformed."},
    {C::authorization_query_parameters_error, "AuthorizationQueryParametersError", 400,
     "Error parsing the X-Amz-Credential parameter or another presigned URL parameter."},
    {C::bad_digest, "BadDigest", 400,
     "The Content-MD5 you specified did not match what we received."},
    {C::bucket_already_exists, "BucketAlreadyExists", 409,
     "The requested bucket name is not available."},
    {C::bucket_already_owned_by_you, "BucketAlreadyOwnedByYou", 409,
     "Your previous request to create the named bucket succeeded and you already own it."},
    {C::bucket_not_empty, "BucketNotEmpty", 409, "The bucket you tried to delete is not empty."},
    {C::entity_too_large, "EntityTooLarge", 400,
     "Your proposed upload exceeds the maximum allowed object size."},
    {C::entity_too_small, "EntityTooSmall", 400,
     "Your proposed upload is smaller than the minimum allowed object size."},
    {C::incomplete_body, "IncompleteBody", 400,
     "You did not provide the number of bytes specified by the Content-Length HTTP header."},
    {C::internal_error, "InternalError", 500,
     "We encountered an internal error. Please try again."},
    {C::invalid_access_key_id, "InvalidAccessKeyId", 403,
     "The AWS access key Id you provided does not exist in our records."},
    {C::invalid_argument, "InvalidArgument", 400, "Invalid Argument"},
    {C::invalid_bucket_name, "InvalidBucketName", 400, "The specified bucket is not valid."},
    {C::invalid_digest, "InvalidDigest", 400, "The Content-MD5 you specified is not valid."},
    {C::invalid_part, "InvalidPart", 400,
     "One or more of the specified parts could not be found. The part may not have been "
     "uploaded, or the specified entity tag may not match the part's entity tag."},
    {C::invalid_part_order, "InvalidPartOrder", 400,
     "The list of parts was not in ascending order. The parts list must be specified in order "
     "by part number."},
    {C::invalid_range, "InvalidRange", 416, "The requested range is not satisfiable"},
    {C::invalid_request, "InvalidRequest", 400, "Invalid Request"},
    {C::key_too_long, "KeyTooLongError", 400, "Your key is too long"},
    {C::malformed_xml, "MalformedXML", 400,
     "The XML you provided was not well-formed or did not validate against our published "
     "schema."},
    {C::max_message_length_exceeded, "MaxMessageLengthExceeded", 400, "Your request was too big."},
    {C::metadata_too_large, "MetadataTooLarge", 400,
     "Your metadata headers exceed the maximum allowed metadata size."},
    {C::method_not_allowed, "MethodNotAllowed", 405,
     "The specified method is not allowed against this resource."},
    {C::missing_content_length, "MissingContentLength", 411,
     "You must provide the Content-Length HTTP header."},
    {C::missing_request_body, "MissingRequestBodyError", 400, "Request Body is empty."},
    {C::no_such_bucket, "NoSuchBucket", 404, "The specified bucket does not exist."},
    {C::no_such_key, "NoSuchKey", 404, "The specified key does not exist."},
    {C::no_such_upload, "NoSuchUpload", 404,
     "The specified multipart upload does not exist. The upload ID might be invalid, or the "
     "multipart upload might have been aborted or completed."},
    {C::not_implemented, "NotImplemented", 501,
     "A header or query you provided implies functionality that is not implemented."},
    {C::not_modified, "NotModified", 304, "Not Modified"},
    {C::precondition_failed, "PreconditionFailed", 412,
     "At least one of the preconditions you specified did not hold."},
    {C::request_header_section_too_large, "RequestHeaderSectionTooLarge", 400,
     "Your request header section exceeds the maximum allowed size."},
    {C::request_time_too_skewed, "RequestTimeTooSkewed", 403,
     "The difference between the request time and the server's time is too large."},
    {C::request_timeout, "RequestTimeout", 400,
     "Your socket connection to the server was not read from or written to within the "
     "timeout period."},
    {C::service_unavailable, "ServiceUnavailable", 503,
     "Service is unable to handle request. Please try again."},
    {C::signature_does_not_match, "SignatureDoesNotMatch", 403,
     "The request signature we calculated does not match the signature you provided. Check "
     "your key and signing method."},
    {C::slow_down, "SlowDown", 503, "Please reduce your request rate."},
    {C::x_amz_content_sha256_mismatch, "XAmzContentSHA256Mismatch", 400,
     "The provided 'x-amz-content-sha256' header does not match what was computed."},
}};

}  // namespace

std::span<const S3ErrorInfo> s3_error_table() { return kTable; }

const S3ErrorInfo& s3_error_info(S3ErrorCode code) {
    auto i = static_cast<size_t>(code);
    CLEAVE_ASSERT(i < kTable.size(), "S3ErrorCode {} out of range", i);
    return kTable[i];
}

S3ErrorCode s3_code_for_errc(Errc errc) {
    switch (errc) {
        // An OK status is not an error: reaching here is a bug in the caller,
        // but a client must still get a well-formed answer.
        case Errc::ok:
            return C::internal_error;
        case Errc::not_found:
            return C::no_such_key;
        case Errc::already_exists:
            return C::bucket_already_owned_by_you;
        case Errc::invalid_argument:
            return C::invalid_argument;
        case Errc::corruption:
            return C::internal_error;
        case Errc::io_error:
            return C::internal_error;
        case Errc::precondition_failed:
            return C::precondition_failed;
        case Errc::not_leader:
            return C::service_unavailable;
        case Errc::stale_epoch:
            return C::service_unavailable;
        case Errc::unavailable:
            return C::service_unavailable;
        case Errc::aborted:
            return C::service_unavailable;
        case Errc::too_large:
            return C::entity_too_large;
        case Errc::not_empty:
            return C::bucket_not_empty;
        case Errc::internal:
            return C::internal_error;
        case Errc::no_such_bucket:
            return C::no_such_bucket;
        case Errc::no_such_key:
            return C::no_such_key;
        case Errc::no_such_upload:
            return C::no_such_upload;
        case Errc::invalid_part:
            return C::invalid_part;
        case Errc::invalid_part_order:
            return C::invalid_part_order;
        case Errc::entity_too_small:
            return C::entity_too_small;
        case Errc::invalid_range:
            return C::invalid_range;
    }
    return C::internal_error;
}

S3Error s3_error_from_status(const Status& status) {
    S3ErrorCode code = s3_code_for_errc(status.code());
    switch (status.code()) {
        case Errc::corruption:
            // Never serve data that failed verification; say so plainly, the
            // server log names the chunk.
            return s3_error(code,
                            "Stored data failed integrity verification and was not served; the "
                            "server log names the damaged chunk.");
        case Errc::io_error:
        case Errc::internal:
        case Errc::ok:
            // Internal details stay in the server log.
            return s3_error(code);
        case Errc::precondition_failed:
        case Errc::no_such_bucket:
        case Errc::no_such_key:
        case Errc::no_such_upload:
        case Errc::not_found:
        case Errc::already_exists:
        case Errc::not_empty:
            // S3 clients match these on the standard messages.
            return s3_error(code);
        default:
            return s3_error(code, status.message());
    }
}

std::string xml_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size(); ++i) {
        const char ch = text[i];
        auto c = static_cast<unsigned char>(ch);
        if (c >= 0x80) {
            // Keep well-formed UTF-8; anything else can't be in an XML text.
            size_t n = utf8_sequence_length(text, i);
            if (n == 0) {
                out += "&#xFFFD;";
            } else {
                out.append(text.substr(i, n));
                i += n - 1;
            }
            continue;
        }
        switch (ch) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&apos;";
                break;
            default:
                if (c < 0x20 && ch != '\t' && ch != '\n' && ch != '\r') {
                    // XML 1.0 cannot carry these even as references. Keys
                    // containing them are listed with encoding-type=url.
                    out += fmt::format("&#x{:X};", 0xFFFD);
                } else if (ch == '\r' || ch == '\n' || ch == '\t') {
                    // As references so XML parsers do not normalise them.
                    out += fmt::format("&#x{:X};", c);
                } else {
                    out += ch;
                }
        }
    }
    return out;
}

std::string render_error_xml(const S3Error& error, std::string_view resource,
                             std::string_view request_id) {
    std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>";
    out += error.name();
    out += "</Code><Message>";
    out += xml_escape(error.effective_message());
    out += "</Message><Resource>";
    out += xml_escape(resource);
    out += "</Resource><RequestId>";
    out += xml_escape(request_id);
    out += "</RequestId></Error>";
    return out;
}

}  // namespace cleave::s3
