// The HTTP/1.1 server under `ppmg serve`.
//
// One I/O thread owns every connection while it is not busy: it accepts, completes TLS
// handshakes, reads request heads against their deadlines and the connection limits, answers
// what costs nothing (the inline handler: /healthz) and every refusal itself (400, 408, 431, 503),
// drops the unread bodies of refused requests, and closes connections gracefully. A complete
// head goes to one of a fixed pool of workers, which reads the body (within the whole-request
// deadline) and calls the handler. So slow or idle clients never hold a worker, and /healthz is
// answered whatever the workers are doing.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "http_message.hpp"

namespace ppmg::cds {

using Clock = std::chrono::steady_clock;

struct HttpServerOptions {
    std::string listen = "127.0.0.1:8080";  // HOST:PORT; port 0 picks a free port
    std::string tlsCert, tlsKey;            // PEM files; both or neither
    std::string serverName;                 // the Server field
    int workers = 32;                       // threads that run the handler
    int maxQueued = 64;                     // complete requests waiting for a worker; beyond, 503
    int maxConnections = 1024;              // open connections in all (capped by RLIMIT_NOFILE)
    int maxConnectionsPerClient = 64;       // open connections from one client address
    size_t maxHeadBytes = 64u << 10;        // request line and header fields
    uint64_t maxBodyBytes = 8u << 20;       // also bounds what is read and dropped after a refusal
    int headTimeoutSeconds = 10;            // from the request's first byte (or the accept) to its end of head
    int requestTimeoutSeconds = 30;         // from the request's first byte to the end of its body
    int keepAliveSeconds = 5;               // idle time before a kept-alive connection is closed
    int maxKeepAliveRequests = 1000;        // requests per connection
};

enum class BodyStatus { Ok, TooLarge, Timeout, Broken };

// One request on a worker: its head, its body (read on demand), its response.
class HttpExchange {
public:
    // Receives more bytes onto `pending` before the deadline: the count (> 0), 0 at the end of the
    // stream, -1 when the deadline passed, -2 on an error.
    using Fill = std::function<long(std::string& pending, Clock::time_point deadline)>;

    HttpExchange(HttpRequest request, std::string& pending, Clock::time_point deadline, Fill fill,
                 std::function<void()> sendContinue);

    const HttpRequest& request() const { return request_; }
    // The whole request (head and body) must have arrived by then.
    Clock::time_point deadline() const { return deadline_; }
    // Reads the whole body into out: at most maxBytes of data, before the deadline.
    BodyStatus readBody(std::string& out, uint64_t maxBytes);
    bool bodyDone() const { return decoder_.done(); }
    bool continueSent() const { return continueSent_; }
    bool bodyFailed() const { return bodyFailed_; }  // too large, too slow or broken: the connection ends
    uint64_t bodyBytes() const { return decoder_.received(); }
    BodyDecoder& decoder() { return decoder_; }

    HttpResponse response;

private:
    HttpRequest request_;
    std::string& pending_;
    Clock::time_point deadline_;
    Fill fill_;
    std::function<void()> sendContinue_;
    BodyDecoder decoder_;
    bool continueSent_ = false;
    bool bodyFailed_ = false;
};

struct HttpHandlers {
    // On a worker: answers the request (reading its body with exchange.readBody if it wants it).
    std::function<void(HttpExchange&)> handle;
    // On the I/O thread, for a request without a body: true when it answered (it must be cheap and
    // never block). Tried before any limit, so it is answered even under overload.
    std::function<bool(const HttpRequest&, HttpResponse&)> answerInline;
    // On the I/O thread: a refusal the server makes itself (status 400, 408, 414, 417, 431, 501, 503,
    // 505; response.status is set), with the request when its head was read, and a short reason
    // (never request data). It may fill in the body and fields, and log it.
    std::function<void(const std::string& remote, const HttpRequest* request, HttpResponse& response,
                       const std::string& reason)>
        refused;
};

class HttpServer {
public:
    // Binds and listens (throws std::runtime_error naming the problem); serves after start().
    HttpServer(HttpServerOptions options, HttpHandlers handlers);
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    void start();
    // Stops accepting, closes idle connections and unfinished heads, and lets the requests in
    // progress finish; true when they all did before the deadline. After false, the caller may
    // only exit the process.
    bool stop(Clock::time_point deadline);

    const std::string& boundAuthority() const;  // "127.0.0.1:8080", "[::1]:8080"
    bool loopback() const;
    bool tls() const;
    size_t requestsInProgress() const;

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace ppmg::cds
