#include "s3/http_util.h"

#include <array>
#include <cctype>

#include <fmt/format.h>

namespace cleave::s3 {
namespace {

bool is_unreserved(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
// days_from_civil), so no time zone database or timegm() is involved.
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

struct Civil {
    int64_t year;
    unsigned month, day, hour, minute, second, millis, weekday;  // weekday 0 = Sunday
};

Civil civil_from_ms(int64_t unix_ms) {
    int64_t secs = unix_ms >= 0 ? unix_ms / 1000 : (unix_ms - 999) / 1000;
    auto millis = static_cast<unsigned>(unix_ms - secs * 1000);
    int64_t z = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
    auto sod = static_cast<unsigned>(secs - z * 86400);
    Civil c{};
    c.weekday = static_cast<unsigned>(((z % 7) + 11) % 7);  // 1970-01-01 was a Thursday
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const auto doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    c.day = doy - (153 * mp + 2) / 5 + 1;
    c.month = mp < 10 ? mp + 3 : mp - 9;
    c.year = static_cast<int64_t>(yoe) + era * 400 + (c.month <= 2);
    c.hour = sod / 3600;
    c.minute = sod / 60 % 60;
    c.second = sod % 60;
    c.millis = millis;
    return c;
}

constexpr std::array<std::string_view, 7> kDays{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::array<std::string_view, 12> kMonths{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

std::optional<unsigned> parse_digits(std::string_view s) {
    if (s.empty() || s.size() > 9) return std::nullopt;
    unsigned v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + static_cast<unsigned>(c - '0');
    }
    return v;
}

std::optional<unsigned> parse_month(std::string_view s) {
    for (size_t i = 0; i < kMonths.size(); ++i) {
        if (iequals(s, kMonths[i])) return static_cast<unsigned>(i + 1);
    }
    return std::nullopt;
}

std::optional<int64_t> make_time(int64_t y, unsigned mo, unsigned d, unsigned h, unsigned mi,
                                 unsigned s) {
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return std::nullopt;
    return (days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s) * 1000;
}

// "HH:MM:SS"
bool parse_hms(std::string_view s, unsigned* h, unsigned* m, unsigned* sec) {
    if (s.size() != 8 || s[2] != ':' || s[5] != ':') return false;
    auto a = parse_digits(s.substr(0, 2)), b = parse_digits(s.substr(3, 2)),
         c = parse_digits(s.substr(6, 2));
    if (!a || !b || !c) return false;
    *h = *a;
    *m = *b;
    *sec = *c;
    return true;
}

std::vector<std::string_view> split_ws(std::string_view s) {
    std::vector<std::string_view> out;
    size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && s[i] == ' ') ++i;
        size_t j = i;
        while (j < s.size() && s[j] != ' ') ++j;
        if (j > i) out.push_back(s.substr(i, j - i));
        i = j;
    }
    return out;
}

}  // namespace

std::string uri_encode(std::string_view in, bool encode_slash) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(in.size() * 3 / 2);
    for (char ch : in) {
        auto c = static_cast<unsigned char>(ch);
        if (is_unreserved(c) || (c == '/' && !encode_slash)) {
            out += ch;
        } else {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 0xF];
        }
    }
    return out;
}

std::optional<std::string> percent_decode(std::string_view in) {
    std::string out;
    out.reserve(in.size());
    for (size_t i = 0; i < in.size(); ++i) {
        if (in[i] != '%') {
            out += in[i];
            continue;
        }
        if (i + 2 >= in.size()) return std::nullopt;
        int hi = hex_value(in[i + 1]), lo = hex_value(in[i + 2]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
    }
    return out;
}

std::optional<QueryParams> parse_query(std::string_view raw) {
    QueryParams params;
    size_t pos = 0;
    while (pos <= raw.size() && !raw.empty()) {
        size_t amp = raw.find('&', pos);
        if (amp == std::string_view::npos) amp = raw.size();
        std::string_view part = raw.substr(pos, amp - pos);
        if (!part.empty()) {
            size_t eq = part.find('=');
            auto name = percent_decode(part.substr(0, eq));
            auto value = percent_decode(eq == std::string_view::npos ? std::string_view{}
                                                                     : part.substr(eq + 1));
            if (!name || !value) return std::nullopt;
            params.emplace_back(std::move(*name), std::move(*value));
        }
        pos = amp + 1;
        if (amp == raw.size()) break;
    }
    return params;
}

const std::string* find_param(const QueryParams& params, std::string_view name) {
    for (const auto& [n, v] : params) {
        if (n == name) return &v;
    }
    return nullptr;
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(a[i])) !=
            std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    }
    return true;
}

std::string to_lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

std::string format_amz_date(int64_t unix_ms) {
    Civil c = civil_from_ms(unix_ms);
    return fmt::format("{:04}{:02}{:02}T{:02}{:02}{:02}Z", c.year, c.month, c.day, c.hour, c.minute,
                       c.second);
}

std::optional<int64_t> parse_amz_date(std::string_view s) {
    if (s.size() != 16 || s[8] != 'T' || s[15] != 'Z') return std::nullopt;
    auto y = parse_digits(s.substr(0, 4)), mo = parse_digits(s.substr(4, 2)),
         d = parse_digits(s.substr(6, 2)), h = parse_digits(s.substr(9, 2)),
         mi = parse_digits(s.substr(11, 2)), sec = parse_digits(s.substr(13, 2));
    if (!y || !mo || !d || !h || !mi || !sec) return std::nullopt;
    return make_time(*y, *mo, *d, *h, *mi, *sec);
}

std::string format_http_date(int64_t unix_ms) {
    Civil c = civil_from_ms(unix_ms);
    return fmt::format("{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT", kDays[c.weekday], c.day,
                       kMonths[c.month - 1], c.year, c.hour, c.minute, c.second);
}

std::optional<int64_t> parse_http_date(std::string_view s) {
    auto f = split_ws(trim(s));
    unsigned h = 0, mi = 0, sec = 0;
    // RFC 1123: "Sun, 06 Nov 1994 08:49:37 GMT"
    if (f.size() == 6 && f[0].size() == 4 && f[0][3] == ',') {
        auto d = parse_digits(f[1]);
        auto mo = parse_month(f[2]);
        auto y = parse_digits(f[3]);
        if (!d || !mo || !y || !parse_hms(f[4], &h, &mi, &sec) || !iequals(f[5], "GMT"))
            return std::nullopt;
        return make_time(*y, *mo, *d, h, mi, sec);
    }
    // RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT"
    if (f.size() == 4 && !f[0].empty() && f[0].back() == ',' && f[1].size() == 9) {
        auto d = parse_digits(f[1].substr(0, 2));
        auto mo = parse_month(f[1].substr(3, 3));
        auto yy = parse_digits(f[1].substr(7, 2));
        if (!d || !mo || !yy || !parse_hms(f[2], &h, &mi, &sec) || !iequals(f[3], "GMT"))
            return std::nullopt;
        unsigned y = *yy < 70 ? 2000 + *yy : 1900 + *yy;
        return make_time(y, *mo, *d, h, mi, sec);
    }
    // asctime: "Sun Nov  6 08:49:37 1994"
    if (f.size() == 5) {
        auto mo = parse_month(f[1]);
        auto d = parse_digits(f[2]);
        auto y = parse_digits(f[4]);
        if (!mo || !d || !y || !parse_hms(f[3], &h, &mi, &sec)) return std::nullopt;
        return make_time(*y, *mo, *d, h, mi, sec);
    }
    return std::nullopt;
}

std::string format_iso8601(int64_t unix_ms) {
    Civil c = civil_from_ms(unix_ms);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", c.year, c.month, c.day, c.hour,
                       c.minute, c.second, c.millis);
}

size_t utf8_sequence_length(std::string_view s, size_t i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (n == 0 || i + n > s.size()) return 0;
    uint32_t cp = n == 1 ? c : c & (0x7f >> n);
    for (size_t j = 1; j < n; ++j) {
        unsigned char cc = static_cast<unsigned char>(s[i + j]);
        if ((cc >> 6) != 0x2) return 0;
        cp = (cp << 6) | (cc & 0x3f);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return n;
}

bool is_valid_utf8(std::string_view s) {
    for (size_t i = 0; i < s.size();) {
        size_t n = utf8_sequence_length(s, i);
        if (n == 0) return false;
        i += n;
    }
    return true;
}

}  // namespace cleave::s3
