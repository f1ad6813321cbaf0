#include "s3/xml.h"

#include <charconv>

#include <fmt/format.h>
#include <pugixml.hpp>

#include "s3/http_util.h"

namespace cleave::s3 {
namespace {

using C = S3ErrorCode;

constexpr std::string_view kXmlHeader = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
constexpr std::string_view kNs = " xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"";

S3Error malformed(std::string_view why = {}) {
    return why.empty()
               ? s3_error(C::malformed_xml)
               : s3_error(
                     C::malformed_xml,
                     fmt::format("The XML you provided was not well-formed or did not validate "
                                 "against our published schema: {}.",
                                 why));
}

S3Result<pugi::xml_node> parse_root(pugi::xml_document& doc, std::string_view body,
                                    std::string_view root_name) {
    pugi::xml_parse_result r =
        doc.load_buffer(body.data(), body.size(),
                        pugi::parse_default | pugi::parse_ws_pcdata_single, pugi::encoding_utf8);
    if (!r) return malformed(r.description());
    pugi::xml_node root = doc.document_element();
    // Names are compared without a namespace prefix.
    std::string_view name = root.name();
    if (size_t colon = name.find(':'); colon != std::string_view::npos)
        name.remove_prefix(colon + 1);
    if (name != root_name) return malformed(fmt::format("expected <{}>", root_name));
    return root;
}

std::string_view local_name(const pugi::xml_node& n) {
    std::string_view name = n.name();
    if (size_t colon = name.find(':'); colon != std::string_view::npos)
        name.remove_prefix(colon + 1);
    return name;
}

pugi::xml_node child(const pugi::xml_node& parent, std::string_view name) {
    for (pugi::xml_node c : parent.children()) {
        if (c.type() == pugi::node_element && local_name(c) == name) return c;
    }
    return {};
}

// A small, allocation-light writer: every text goes through xml_escape.
class Writer {
  public:
    explicit Writer(std::string_view root) : root_(root) {
        out_ += kXmlHeader;
        out_ += '<';
        out_ += root;
        out_ += kNs;
        out_ += '>';
    }
    Writer& open(std::string_view tag) {
        out_ += '<';
        out_ += tag;
        out_ += '>';
        return *this;
    }
    Writer& close(std::string_view tag) {
        out_ += "</";
        out_ += tag;
        out_ += '>';
        return *this;
    }
    Writer& elem(std::string_view tag, std::string_view text) {
        open(tag);
        out_ += xml_escape(text);
        return close(tag);
    }
    Writer& elem(std::string_view tag, uint64_t v) { return elem(tag, std::to_string(v)); }
    Writer& elem_bool(std::string_view tag, bool v) { return elem(tag, v ? "true" : "false"); }
    std::string finish() {
        close(root_);
        return std::move(out_);
    }

  private:
    std::string root_;
    std::string out_;
};

std::string maybe_encode(std::string_view s, bool url_encode) {
    return url_encode ? uri_encode(s, /*encode_slash=*/false) : std::string(s);
}

void write_owner(Writer& w, const Owner& owner) {
    w.open("Owner").elem("ID", owner.id).elem("DisplayName", owner.display_name).close("Owner");
}

void write_contents(Writer& w, const service::ObjectInfo& o, bool url_encode, bool with_owner,
                    const Owner& owner) {
    w.open("Contents");
    w.elem("Key", maybe_encode(o.key, url_encode));
    w.elem("LastModified", format_iso8601(o.last_modified_ms));
    w.elem("ETag", quote_etag(o.etag));
    w.elem("Size", o.size);
    w.elem("StorageClass", "STANDARD");
    if (with_owner) write_owner(w, owner);
    w.close("Contents");
}

}  // namespace

std::string quote_etag(std::string_view etag) { return fmt::format("\"{}\"", etag); }

std::string unquote_etag(std::string_view etag) {
    etag = trim(etag);
    if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"')
        etag = etag.substr(1, etag.size() - 2);
    else if (etag.size() >= 12 && etag.starts_with("&quot;") && etag.ends_with("&quot;"))
        etag = etag.substr(6, etag.size() - 12);
    return std::string(etag);
}

S3Result<std::vector<service::CompletedPart>> parse_complete_multipart(std::string_view body) {
    if (trim(body).empty()) return malformed("empty body");
    pugi::xml_document doc;
    auto root = parse_root(doc, body, "CompleteMultipartUpload");
    if (!root) return root.error();
    std::vector<service::CompletedPart> parts;
    for (pugi::xml_node n : root->children()) {
        if (n.type() != pugi::node_element) continue;
        if (local_name(n) != "Part") continue;  // checksums etc. of later APIs are ignored
        pugi::xml_node num = child(n, "PartNumber");
        pugi::xml_node etag = child(n, "ETag");
        if (!num || !etag) return malformed("a Part needs PartNumber and ETag");
        std::string_view text = trim(num.text().get());
        uint32_t v = 0;
        auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
        if (ec != std::errc() || p != text.data() + text.size() || text.empty())
            return malformed("PartNumber is not a number");
        parts.push_back({v, unquote_etag(etag.text().get())});
        if (parts.size() > service::kMaxPartNumber) return malformed("too many parts");
    }
    if (parts.empty()) return malformed("no parts");
    return parts;
}

S3Result<DeleteObjectsRequest> parse_delete_objects(std::string_view body) {
    if (trim(body).empty()) return malformed("empty body");
    pugi::xml_document doc;
    auto root = parse_root(doc, body, "Delete");
    if (!root) return root.error();
    DeleteObjectsRequest req;
    for (pugi::xml_node n : root->children()) {
        if (n.type() != pugi::node_element) continue;
        std::string_view name = local_name(n);
        if (name == "Quiet") {
            std::string_view t = trim(n.text().get());
            if (t == "true" || t == "True" || t == "TRUE")
                req.quiet = true;
            else if (t == "false" || t == "False" || t == "FALSE")
                req.quiet = false;
            else
                return malformed("Quiet is not a boolean");
        } else if (name == "Object") {
            pugi::xml_node key = child(n, "Key");
            if (!key) return malformed("an Object needs a Key");
            // Keys are taken verbatim (no trimming: spaces are legal in keys).
            req.keys.emplace_back(key.text().get());
            if (req.keys.size() > kMaxDeleteObjects)
                return malformed("at most 1000 objects per request");
        }
    }
    if (req.keys.empty()) return malformed("no objects");
    return req;
}

S3Result<std::string> parse_create_bucket_configuration(std::string_view body) {
    if (trim(body).empty()) return std::string();
    pugi::xml_document doc;
    auto root = parse_root(doc, body, "CreateBucketConfiguration");
    if (!root) return root.error();
    pugi::xml_node loc = child(*root, "LocationConstraint");
    return std::string(loc ? trim(loc.text().get()) : "");
}

std::string render_list_buckets(const std::vector<service::BucketInfo>& buckets,
                                const Owner& owner) {
    Writer w("ListAllMyBucketsResult");
    write_owner(w, owner);
    w.open("Buckets");
    for (const auto& b : buckets) {
        w.open("Bucket")
            .elem("Name", b.name)
            .elem("CreationDate", format_iso8601(b.created_ms))
            .close("Bucket");
    }
    w.close("Buckets");
    return w.finish();
}

std::string render_list_objects_v1(const ListObjectsParams& p, const service::ListResult& r,
                                   std::string_view next_marker, const Owner& owner) {
    Writer w("ListBucketResult");
    bool enc = p.url_encode;
    w.elem("Name", p.bucket);
    w.elem("Prefix", maybe_encode(p.prefix, enc));
    w.elem("Marker", maybe_encode(p.marker, enc));
    w.elem("MaxKeys", p.max_keys);
    if (!p.delimiter.empty()) w.elem("Delimiter", maybe_encode(p.delimiter, enc));
    w.elem_bool("IsTruncated", r.is_truncated);
    if (r.is_truncated && !next_marker.empty())
        w.elem("NextMarker", maybe_encode(next_marker, enc));
    if (enc) w.elem("EncodingType", "url");
    for (const auto& o : r.objects) write_contents(w, o, enc, true, owner);
    for (const auto& cp : r.common_prefixes)
        w.open("CommonPrefixes").elem("Prefix", maybe_encode(cp, enc)).close("CommonPrefixes");
    return w.finish();
}

std::string render_list_objects_v2(const ListObjectsParams& p, const service::ListResult& r,
                                   std::string_view next_token, const Owner& owner) {
    Writer w("ListBucketResult");
    bool enc = p.url_encode;
    w.elem("Name", p.bucket);
    w.elem("Prefix", maybe_encode(p.prefix, enc));
    w.elem("MaxKeys", p.max_keys);
    w.elem("KeyCount", r.objects.size() + r.common_prefixes.size());
    if (!p.delimiter.empty()) w.elem("Delimiter", maybe_encode(p.delimiter, enc));
    w.elem_bool("IsTruncated", r.is_truncated);
    if (!p.continuation_token.empty()) w.elem("ContinuationToken", p.continuation_token);
    if (r.is_truncated) w.elem("NextContinuationToken", next_token);
    if (!p.start_after.empty()) w.elem("StartAfter", maybe_encode(p.start_after, enc));
    if (enc) w.elem("EncodingType", "url");
    for (const auto& o : r.objects) write_contents(w, o, enc, p.fetch_owner, owner);
    for (const auto& cp : r.common_prefixes)
        w.open("CommonPrefixes").elem("Prefix", maybe_encode(cp, enc)).close("CommonPrefixes");
    return w.finish();
}

std::string render_initiate_multipart(std::string_view bucket, std::string_view key,
                                      std::string_view upload_id) {
    Writer w("InitiateMultipartUploadResult");
    w.elem("Bucket", bucket).elem("Key", key).elem("UploadId", upload_id);
    return w.finish();
}

std::string render_complete_multipart(std::string_view location, std::string_view bucket,
                                      std::string_view key, std::string_view etag) {
    Writer w("CompleteMultipartUploadResult");
    w.elem("Location", location).elem("Bucket", bucket).elem("Key", key);
    w.elem("ETag", quote_etag(etag));
    return w.finish();
}

std::string render_list_parts(const ListPartsParams& p, const service::ListPartsResult& r,
                              const Owner& owner) {
    Writer w("ListPartsResult");
    w.elem("Bucket", p.bucket).elem("Key", p.key).elem("UploadId", p.upload_id);
    w.open("Initiator").elem("ID", owner.id).elem("DisplayName", owner.display_name);
    w.close("Initiator");
    write_owner(w, owner);
    w.elem("StorageClass", "STANDARD");
    w.elem("PartNumberMarker", p.part_number_marker);
    uint32_t next = r.next_part_number_marker;
    if (next == 0 && !r.parts.empty()) next = r.parts.back().part_number;
    w.elem("NextPartNumberMarker", next);
    w.elem("MaxParts", p.max_parts);
    w.elem_bool("IsTruncated", r.is_truncated);
    for (const auto& part : r.parts) {
        w.open("Part")
            .elem("PartNumber", part.part_number)
            .elem("LastModified", format_iso8601(part.last_modified_ms))
            .elem("ETag", quote_etag(part.etag))
            .elem("Size", part.size)
            .close("Part");
    }
    return w.finish();
}

std::string render_list_uploads(const ListUploadsParams& p, const service::ListUploadsResult& r,
                                const Owner& owner) {
    Writer w("ListMultipartUploadsResult");
    bool enc = p.url_encode;
    w.elem("Bucket", p.bucket);
    w.elem("KeyMarker", maybe_encode(p.key_marker, enc));
    w.elem("UploadIdMarker", p.upload_id_marker);
    w.elem("NextKeyMarker", maybe_encode(r.next_key_marker, enc));
    w.elem("NextUploadIdMarker", r.next_upload_id_marker);
    if (!p.prefix.empty()) w.elem("Prefix", maybe_encode(p.prefix, enc));
    if (!p.delimiter.empty()) w.elem("Delimiter", maybe_encode(p.delimiter, enc));
    w.elem("MaxUploads", p.max_uploads);
    if (enc) w.elem("EncodingType", "url");
    w.elem_bool("IsTruncated", r.is_truncated);
    for (const auto& u : r.uploads) {
        w.open("Upload");
        w.elem("Key", maybe_encode(u.key, enc)).elem("UploadId", u.upload_id);
        w.open("Initiator").elem("ID", owner.id).elem("DisplayName", owner.display_name);
        w.close("Initiator");
        write_owner(w, owner);
        w.elem("StorageClass", "STANDARD").elem("Initiated", format_iso8601(u.initiated_ms));
        w.close("Upload");
    }
    for (const auto& cp : r.common_prefixes)
        w.open("CommonPrefixes").elem("Prefix", maybe_encode(cp, enc)).close("CommonPrefixes");
    return w.finish();
}

std::string render_copy_object_result(std::string_view etag, int64_t last_modified_ms) {
    Writer w("CopyObjectResult");
    w.elem("LastModified", format_iso8601(last_modified_ms)).elem("ETag", quote_etag(etag));
    return w.finish();
}

std::string render_delete_result(const std::vector<std::string>& deleted,
                                 const std::vector<DeleteError>& errors) {
    Writer w("DeleteResult");
    for (const auto& k : deleted) w.open("Deleted").elem("Key", k).close("Deleted");
    for (const auto& e : errors) {
        w.open("Error")
            .elem("Key", e.key)
            .elem("Code", e.error.name())
            .elem("Message", e.error.effective_message())
            .close("Error");
    }
    return w.finish();
}

std::string render_location_constraint(std::string_view region) {
    std::string out(kXmlHeader);
    out += "<LocationConstraint";
    out += kNs;
    out += '>';
    if (region != "us-east-1") out += xml_escape(region);
    out += "</LocationConstraint>";
    return out;
}

}  // namespace cleave::s3
