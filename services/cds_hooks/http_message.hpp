// HTTP/1.1 messages for `ppmg serve` (RFC 9112), with no I/O: finding and parsing a request head
// (strictly: conflicting framing, obs-fold, bad field names and control characters are refused),
// decoding a body (Content-Length or chunked) as its bytes arrive, and writing a response head.
// The server (http_server.cpp) and the fuzz target (tests/fuzz/fuzz_http.cpp) share it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ppmg::cds {

// One request head, parsed and checked. The body is read separately (BodyDecoder).
struct HttpRequest {
    std::string method;
    std::string target;                                        // as sent
    std::string path;                                          // the target's path, percent-decoded ("*" for OPTIONS *)
    std::string query;                                         // the target's query, raw (without '?')
    int minorVersion = 1;                                      // HTTP/1.0 or HTTP/1.1
    std::vector<std::pair<std::string, std::string>> headers;  // names lower-case, values trimmed
    std::string remote;                                        // the client's address:port (set by the server)
    std::string client;                                        // the client's address (set by the server)

    enum class Framing { None, Length, Chunked };
    Framing framing = Framing::None;
    uint64_t contentLength = 0;  // with Framing::Length
    bool keepAlive = true;       // what the version and Connection ask for
    bool expectContinue = false;

    // The first field of that (lower-case) name, or null.
    const std::string* find(std::string_view lowerName) const;
    std::string get(std::string_view lowerName, std::string_view fallback = {}) const;
    bool has(std::string_view lowerName) const { return find(lowerName) != nullptr; }
    bool hasBody() const { return framing == Framing::Chunked || (framing == Framing::Length && contentLength > 0); }
};

// Why a head was refused: the status to answer before closing the connection, and a short reason
// for the log (never request data).
struct HeadError {
    int status = 0;
    std::string reason;
};

// Fixed caps on a head, whatever the configuration.
inline constexpr size_t kMaxRequestTargetBytes = 8192;
inline constexpr size_t kMaxHeaderFields = 100;

// Removes the empty lines a client may send before a request line (RFC 9112 section 2.2).
void skipLeadingEmptyLines(std::string& buffer);

// The length of the head (through the empty line that ends it) when `buffer` holds all of it;
// 0 while more is needed. Lines end with CRLF or a bare LF.
size_t findHeadEnd(std::string_view buffer);

// Parses and checks a complete head (as findHeadEnd delimits it). False with err set when it
// must be refused: 400 (bad syntax, obs-fold, no or several Host fields in HTTP/1.1, duplicate or
// conflicting Content-Length, Content-Length with Transfer-Encoding, chunked not last), 414, 417,
// 431, 501 (a transfer coding other than chunked), 505.
bool parseRequestHead(std::string_view head, HttpRequest& out, HeadError& err);

// The query's parameters, '+' and %XX decoded; a malformed escape is kept as it is.
std::vector<std::pair<std::string, std::string>> parseQuery(std::string_view query);

// A request body as its bytes arrive, with the request's framing: never consumes a byte past
// the body (a pipelined request may follow).
class BodyDecoder {
public:
    enum class Step { NeedMore, Done, TooLarge, Broken };
    BodyDecoder() = default;
    explicit BodyDecoder(const HttpRequest& request);

    // Consumes body bytes from the front of `pending`, appending the data to *out unless out is
    // null. TooLarge as soon as the data would exceed maxBytes (a Content-Length above it at once).
    Step consume(std::string& pending, std::string* out, uint64_t maxBytes);
    bool done() const { return state_ == State::Done; }
    uint64_t received() const { return received_; }  // data bytes so far

private:
    enum class State { Length, Size, Data, DataEnd, Trailer, Done, Failed };
    // Takes one line (without its end) from pending into line_; false while it is incomplete.
    bool takeLine(std::string& pending, size_t& used, bool& bad);

    State state_ = State::Done;
    uint64_t remaining_ = 0;  // Length: body bytes left; Data: chunk bytes left
    uint64_t received_ = 0;
    std::string line_;
    size_t trailerBytes_ = 0;
};

// What the handler answers.
struct HttpResponse {
    int status = 200;
    std::string contentType;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;  // extra fields, in order
    bool close = false;                                        // close the connection after it

    // Sets a field, replacing one of the same name (case-insensitive).
    void set(const std::string& name, const std::string& value);
};

// The standard reason phrase ("Not Found"), or "Unknown".
const char* reasonPhrase(int status);

// The status line and fields of a response with a Content-Length of the body's size (sent or,
// for HEAD, not), and Connection: close / keep-alive as `keepAlive` says. Control characters in
// field values are replaced by spaces, so no value can split the head.
std::string responseHead(const HttpResponse& response, int minorVersion, bool keepAlive, std::string_view serverName);

// "Sun, 06 Nov 1994 08:49:37 GMT", now.
std::string httpDate();

}  // namespace ppmg::cds
