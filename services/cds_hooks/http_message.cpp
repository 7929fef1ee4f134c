#include "http_message.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace ppmg::cds {

namespace {

bool isTchar(unsigned char c) {
    if (c >= '0' && c <= '9') return true;
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
    return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != 0;
}

bool isToken(std::string_view s) {
    if (s.empty()) return false;
    for (unsigned char c : s)
        if (!isTchar(c)) return false;
    return true;
}

char lowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? char(c + 32) : c; }

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = lowerAscii(c);
    return out;
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (lowerAscii(a[i]) != lowerAscii(b[i])) return false;
    return true;
}

std::string_view trimOws(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// The elements of a comma-separated field value, trimmed, empty ones dropped (RFC 9110 5.6.1).
std::vector<std::string_view> listElements(std::string_view v) {
    std::vector<std::string_view> out;
    for (;;) {
        const size_t comma = v.find(',');
        std::string_view e = trimOws(v.substr(0, comma));
        if (!e.empty()) out.push_back(e);
        if (comma == std::string_view::npos) break;
        v.remove_prefix(comma + 1);
    }
    return out;
}

int hexValue(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    c = lowerAscii(c);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

// %XX-decodes; false on a malformed escape or a decoded NUL.
bool percentDecode(std::string_view in, std::string& out) {
    out.clear();
    out.reserve(in.size());
    for (size_t i = 0; i < in.size(); ++i) {
        if (in[i] != '%') {
            out.push_back(in[i]);
            continue;
        }
        if (i + 2 >= in.size()) return false;
        const int hi = hexValue(in[i + 1]), lo = hexValue(in[i + 2]);
        if (hi < 0 || lo < 0) return false;
        const char c = char(hi * 16 + lo);
        if (c == '\0') return false;
        out.push_back(c);
        i += 2;
    }
    return true;
}

bool fail(HeadError& err, int status, std::string reason) {
    err.status = status;
    err.reason = std::move(reason);
    return false;
}

}  // namespace

const std::string* HttpRequest::find(std::string_view lowerName) const {
    for (const auto& h : headers)
        if (h.first == lowerName) return &h.second;
    return nullptr;
}

std::string HttpRequest::get(std::string_view lowerName, std::string_view fallback) const {
    const std::string* v = find(lowerName);
    return v ? *v : std::string(fallback);
}

void skipLeadingEmptyLines(std::string& buffer) {
    size_t i = 0;
    while (i < buffer.size() &&
           (buffer[i] == '\n' || (buffer[i] == '\r' && i + 1 < buffer.size() && buffer[i + 1] == '\n')))
        i += buffer[i] == '\r' ? 2 : 1;
    if (i) buffer.erase(0, i);
}

size_t findHeadEnd(std::string_view b) {
    for (size_t i = 0; i < b.size(); ++i) {
        const void* nl = std::memchr(b.data() + i, '\n', b.size() - i);
        if (!nl) return 0;
        i = size_t(static_cast<const char*>(nl) - b.data());
        if (i + 1 < b.size() && b[i + 1] == '\n') return i + 2;
        if (i + 2 < b.size() && b[i + 1] == '\r' && b[i + 2] == '\n') return i + 3;
    }
    return 0;
}

bool parseRequestHead(std::string_view head, HttpRequest& out, HeadError& err) {
    // The lines, without their ends; a CR anywhere but before the LF is refused.
    std::vector<std::string_view> lines;
    while (!head.empty()) {
        const size_t nl = head.find('\n');
        if (nl == std::string_view::npos) return fail(err, 400, "incomplete head");
        std::string_view line = head.substr(0, nl);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.find('\r') != std::string_view::npos) return fail(err, 400, "bare CR in the head");
        head.remove_prefix(nl + 1);
        if (line.empty()) break;  // the end of the head
        lines.push_back(line);
    }
    if (lines.empty()) return fail(err, 400, "no request line");

    // request-line = method SP request-target SP HTTP-version
    const std::string_view requestLine = lines[0];
    const size_t sp1 = requestLine.find(' ');
    const size_t sp2 = sp1 == std::string_view::npos ? sp1 : requestLine.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos || requestLine.find(' ', sp2 + 1) != std::string_view::npos)
        return fail(err, 400, "malformed request line");
    const std::string_view method = requestLine.substr(0, sp1);
    const std::string_view target = requestLine.substr(sp1 + 1, sp2 - sp1 - 1);
    const std::string_view version = requestLine.substr(sp2 + 1);
    if (!isToken(method) || method.size() > 32) return fail(err, 400, "bad method");
    if (target.empty()) return fail(err, 400, "empty request target");
    if (target.size() > kMaxRequestTargetBytes) return fail(err, 414, "request target too long");
    for (unsigned char c : target)
        if (c <= 0x20 || c >= 0x7F || c == '#') return fail(err, 400, "bad character in the request target");
    if (version.size() != 8 || version.compare(0, 5, "HTTP/") != 0 || version[6] != '.' || version[5] < '0' ||
        version[5] > '9' || version[7] < '0' || version[7] > '9')
        return fail(err, 400, "malformed HTTP version");
    if (version[5] != '1') return fail(err, 505, "HTTP version not supported");
    out.method = std::string(method);
    out.target = std::string(target);
    out.minorVersion = version[7] == '0' ? 0 : 1;

    std::string_view pathPart = target;
    if (target == "*") {
        if (method != "OPTIONS") return fail(err, 400, "* is only for OPTIONS");
        out.path = "*";
        pathPart = {};
    } else if (target.front() != '/') {
        // absolute-form: scheme "://" authority [path]
        const size_t scheme = target.find("://");
        if (scheme == std::string_view::npos ||
            !(iequals(target.substr(0, scheme), "http") || iequals(target.substr(0, scheme), "https")))
            return fail(err, 400, "unsupported request target form");
        const size_t slash = target.find_first_of("/?", scheme + 3);
        pathPart = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
        if (!pathPart.empty() && pathPart.front() == '?') {
            out.query = std::string(pathPart.substr(1));
            pathPart = "/";
        }
    }
    if (!pathPart.empty()) {
        const size_t q = pathPart.find('?');
        if (q != std::string_view::npos) {
            out.query = std::string(pathPart.substr(q + 1));
            pathPart = pathPart.substr(0, q);
        }
        if (!percentDecode(pathPart, out.path)) return fail(err, 400, "bad percent-encoding in the path");
    }

    // field-line = field-name ":" OWS field-value OWS
    if (lines.size() - 1 > kMaxHeaderFields) return fail(err, 431, "too many header fields");
    out.headers.clear();
    out.headers.reserve(lines.size() - 1);
    for (size_t i = 1; i < lines.size(); ++i) {
        const std::string_view line = lines[i];
        if (line.front() == ' ' || line.front() == '\t') return fail(err, 400, "obsolete line folding");
        const size_t colon = line.find(':');
        if (colon == std::string_view::npos) return fail(err, 400, "header line without a colon");
        const std::string_view name = line.substr(0, colon);
        if (!isToken(name)) return fail(err, 400, "bad header field name");
        const std::string_view value = trimOws(line.substr(colon + 1));
        for (unsigned char c : value)
            if ((c < 0x20 && c != '\t') || c == 0x7F) return fail(err, 400, "control character in a header field");
        out.headers.emplace_back(lower(name), std::string(value));
    }

    // Host: exactly one in HTTP/1.1, at most one in 1.0 (RFC 9112 section 3.2).
    size_t hosts = 0, lengths = 0;
    std::vector<std::string_view> codings;
    bool hasTransferEncoding = false;
    out.keepAlive = out.minorVersion == 1;
    out.expectContinue = false;
    out.framing = HttpRequest::Framing::None;
    out.contentLength = 0;
    for (const auto& [name, value] : out.headers) {
        if (name == "host") {
            ++hosts;
        } else if (name == "content-length") {
            if (++lengths > 1) return fail(err, 400, "duplicate Content-Length");
            if (value.empty()) return fail(err, 400, "empty Content-Length");
            uint64_t n = 0;
            for (char c : value) {
                if (c < '0' || c > '9') return fail(err, 400, "Content-Length is not a number");
                n = n > 100000000000000000ull ? UINT64_MAX : n * 10 + uint64_t(c - '0');
            }
            out.contentLength = n;
        } else if (name == "transfer-encoding") {
            hasTransferEncoding = true;
            for (std::string_view e : listElements(value)) codings.push_back(e);
        } else if (name == "connection") {
            for (std::string_view e : listElements(value)) {
                if (iequals(e, "close")) out.keepAlive = false;
                if (iequals(e, "keep-alive") && out.minorVersion == 0) out.keepAlive = true;
            }
        } else if (name == "expect" && out.minorVersion == 1) {
            if (!iequals(value, "100-continue")) return fail(err, 417, "unsupported expectation");
            out.expectContinue = true;
        }
    }
    if (hosts > 1) return fail(err, 400, "several Host fields");
    if (hosts == 0 && out.minorVersion == 1) return fail(err, 400, "no Host field");
    // Message framing (RFC 9112 section 6): one way only.
    if (hasTransferEncoding) {
        if (lengths) return fail(err, 400, "Content-Length together with Transfer-Encoding");
        if (out.minorVersion == 0) return fail(err, 400, "Transfer-Encoding in an HTTP/1.0 request");
        if (codings.empty() || !iequals(codings.back(), "chunked"))
            return fail(err, 400, "Transfer-Encoding does not end with chunked");
        if (codings.size() > 1) {
            for (size_t i = 0; i + 1 < codings.size(); ++i)
                if (iequals(codings[i], "chunked")) return fail(err, 400, "chunked applied twice");
            return fail(err, 501, "transfer coding not implemented");
        }
        out.framing = HttpRequest::Framing::Chunked;
    } else if (lengths) {
        out.framing = HttpRequest::Framing::Length;
    }
    return true;
}

std::vector<std::pair<std::string, std::string>> parseQuery(std::string_view query) {
    std::vector<std::pair<std::string, std::string>> out;
    auto decode = [](std::string_view s) {
        std::string plus(s);
        for (char& c : plus)
            if (c == '+') c = ' ';
        std::string d;
        return percentDecode(plus, d) ? d : plus;
    };
    while (!query.empty()) {
        const size_t amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        if (!pair.empty()) {
            const size_t eq = pair.find('=');
            out.emplace_back(decode(pair.substr(0, eq)),
                             eq == std::string_view::npos ? std::string() : decode(pair.substr(eq + 1)));
        }
        if (amp == std::string_view::npos) break;
        query.remove_prefix(amp + 1);
    }
    return out;
}

// ---- the body ------------------------------------------------------------------------------

namespace {
constexpr size_t kMaxChunkLine = 4096;     // a chunk-size line with its extensions
constexpr size_t kMaxTrailerBytes = 8192;  // the trailer section, dropped
}  // namespace

BodyDecoder::BodyDecoder(const HttpRequest& r) {
    switch (r.framing) {
        case HttpRequest::Framing::None: state_ = State::Done; break;
        case HttpRequest::Framing::Length:
            remaining_ = r.contentLength;
            state_ = remaining_ ? State::Length : State::Done;
            break;
        case HttpRequest::Framing::Chunked: state_ = State::Size; break;
    }
}

bool BodyDecoder::takeLine(std::string& pending, size_t& used, bool& bad) {
    const size_t nl = pending.find('\n', used);
    const size_t end = nl == std::string::npos ? pending.size() : nl;
    line_.append(pending, used, end - used);
    used = nl == std::string::npos ? pending.size() : nl + 1;
    if (line_.size() > kMaxChunkLine) {
        bad = true;
        return false;
    }
    if (nl == std::string::npos) return false;
    if (!line_.empty() && line_.back() == '\r') line_.pop_back();
    if (line_.find('\r') != std::string::npos) {
        bad = true;
        return false;
    }
    return true;
}

BodyDecoder::Step BodyDecoder::consume(std::string& pending, std::string* out, uint64_t maxBytes) {
    size_t used = 0;
    Step step = Step::NeedMore;
    auto take = [&](uint64_t n) {
        if (out) out->append(pending, used, size_t(n));
        used += size_t(n);
        remaining_ -= n;
        received_ += n;
    };
    for (;;) {
        bool bad = false;
        if (state_ == State::Done) {
            step = Step::Done;
            break;
        }
        if (state_ == State::Failed) {
            step = Step::Broken;
            break;
        }
        if (state_ == State::Length || state_ == State::Data) {
            if (remaining_ > maxBytes || received_ > maxBytes - remaining_) {
                state_ = State::Failed;
                step = Step::TooLarge;
                break;
            }
            const uint64_t n = std::min<uint64_t>(remaining_, pending.size() - used);
            take(n);
            if (remaining_ != 0) break;  // more to come
            state_ = state_ == State::Length ? State::Done : State::DataEnd;
            continue;
        }
        if (!takeLine(pending, used, bad)) {
            if (bad) state_ = State::Failed;
            if (bad) continue;
            break;
        }
        if (state_ == State::Size) {
            // chunk-size [ BWS ";" chunk-ext ]
            size_t i = 0;
            uint64_t size = 0;
            while (i < line_.size() && hexValue(line_[i]) >= 0) {
                if (size > (UINT64_MAX >> 8)) {
                    bad = true;
                    break;
                }
                size = size * 16 + uint64_t(hexValue(line_[i]));
                ++i;
            }
            size_t j = i;
            while (j < line_.size() && (line_[j] == ' ' || line_[j] == '\t')) ++j;
            if (bad || i == 0 || (j < line_.size() && line_[j] != ';')) {
                state_ = State::Failed;
                continue;
            }
            line_.clear();
            if (size == 0) {
                state_ = State::Trailer;
            } else {
                remaining_ = size;
                state_ = State::Data;
            }
        } else if (state_ == State::DataEnd) {
            const bool empty = line_.empty();
            line_.clear();
            state_ = empty ? State::Size : State::Failed;
        } else {  // Trailer: field lines, dropped, until an empty line
            const bool empty = line_.empty();
            trailerBytes_ += line_.size() + 2;
            line_.clear();
            if (empty)
                state_ = State::Done;
            else if (trailerBytes_ > kMaxTrailerBytes)
                state_ = State::Failed;
        }
    }
    pending.erase(0, used);
    return step;
}

// ---- the response --------------------------------------------------------------------------

void HttpResponse::set(const std::string& name, const std::string& value) {
    for (auto& h : headers)
        if (iequals(h.first, name)) {
            h.second = value;
            return;
        }
    headers.emplace_back(name, value);
}

const char* reasonPhrase(int status) {
    switch (status) {
        case 100: return "Continue";
        case 200: return "OK";
        case 204: return "No Content";
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 408: return "Request Timeout";
        case 411: return "Length Required";
        case 412: return "Precondition Failed";
        case 413: return "Content Too Large";
        case 414: return "URI Too Long";
        case 415: return "Unsupported Media Type";
        case 417: return "Expectation Failed";
        case 422: return "Unprocessable Content";
        case 429: return "Too Many Requests";
        case 431: return "Request Header Fields Too Large";
        case 500: return "Internal Server Error";
        case 501: return "Not Implemented";
        case 503: return "Service Unavailable";
        case 505: return "HTTP Version Not Supported";
        default: return "Unknown";
    }
}

namespace {
void appendField(std::string& out, std::string_view name, std::string_view value) {
    out.append(name).append(": ");
    for (char c : value) out.push_back((static_cast<unsigned char>(c) < 0x20 || c == 0x7F) ? ' ' : c);
    out.append("\r\n");
}
}  // namespace

std::string responseHead(const HttpResponse& r, int minorVersion, bool keepAlive, std::string_view serverName) {
    std::string out;
    out.reserve(512);
    out.append("HTTP/1.1 ").append(std::to_string(r.status)).append(" ").append(reasonPhrase(r.status)).append("\r\n");
    appendField(out, "Date", httpDate());
    if (!serverName.empty()) appendField(out, "Server", serverName);
    if (!r.contentType.empty()) appendField(out, "Content-Type", r.contentType);
    for (const auto& h : r.headers) appendField(out, h.first, h.second);
    if (r.status != 204 && r.status != 304 && r.status >= 200)
        appendField(out, "Content-Length", std::to_string(r.body.size()));
    if (!keepAlive)
        appendField(out, "Connection", "close");
    else if (minorVersion == 0)
        appendField(out, "Connection", "keep-alive");
    out.append("\r\n");
    return out;
}

std::string httpDate() {
    static const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[40];
    std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday % 7], tm.tm_mday,
                  kMonths[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return buf;
}

}  // namespace ppmg::cds
