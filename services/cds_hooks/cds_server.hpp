// The HTTP side of `ppmg serve`: the CDS Hooks service, discovery, /render and /healthz over one
// shared plugin engine, served by http_server (HTTP/1.1, HTTPS with a certificate).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "cds_cards.hpp"
#include "cds_jwt.hpp"
#include "cds_scale.hpp"
#include "http_server.hpp"

namespace ppmg {
class Engine;
}

namespace ppmg::cds {

struct ServerConfig {
    std::string listen = "127.0.0.1:8080";  // HOST:PORT; port 0 picks a free port
    std::string publicUrl;                  // the base URL clients call: the JWT audience, and links
    std::string tlsCert, tlsKey;            // PEM files; both or neither
    bool insecureNoAuth = false;            // no JWT checks at all (local demos only)
    bool warnEveryRequest = true;           // with insecureNoAuth: a warning on stderr per request
    int threads = 32;                       // worker threads (each serves one request at a time)
    int maxQueued = 64;                     // complete requests waiting for a worker
    int maxConnections = 1024;              // open connections in all
    int maxConnectionsPerClient = 64;       // open connections from one client address
    size_t maxBodyBytes = 8u << 20;
    int headerTimeoutSeconds = 10;    // to receive a request's line and header fields
    int requestTimeoutSeconds = 30;   // to receive a whole request, from its first byte
    int keepAliveSeconds = 5;         // idle time before a kept-alive connection is closed
    int maxKeepAliveRequests = 1000;  // requests per connection
    int shutdownTimeoutSeconds = 30;  // to finish the requests in progress on SIGTERM/SIGINT
    std::string asOf;                 // fixed evaluation date, "" = today (UTC)
    std::string sourceUrl;            // card source.url; "" = {base}/about
    std::string guidanceUrl;          // card links; "" = none
    std::string accessLog = "-";      // "-" stderr, "off", or a file (appended)
    AuthOptions auth;
    ScaleOptions scale;  // store, replay cache, fetching, view links
};

// The service's endpoints, apart from the sockets: what runServer serves, and what the HTTP fuzz
// target (tests/fuzz/fuzz_http.cpp) drives with requests from memory.
class CdsService {
public:
    // Throws std::runtime_error for a configuration it cannot serve (a --public-url that is not an
    // absolute http(s) URL; no --public-url while JWTs are checked).
    CdsService(const ServerConfig& config, const ppmg::Engine& engine, std::shared_ptr<const KeyStore> keys,
               const ContentFacts& facts);
    ~CdsService();
    CdsService(const CdsService&) = delete;
    CdsService& operator=(const CdsService&) = delete;

    // Where it listens (the base URL without --public-url); before serving.
    void setListening(const std::string& authority, bool tls);

    // On a worker: one request, its body read here.
    void handle(HttpExchange& exchange);
    // On the I/O thread: GET /healthz, answered whatever the workers are doing.
    bool answerInline(const HttpRequest& request, HttpResponse& response);
    // On the I/O thread: a refusal of the HTTP layer (400, 408, 431, 503, ...), as an
    // OperationOutcome, logged.
    void refused(const std::string& remote, const HttpRequest* request, HttpResponse& response,
                 const std::string& reason);

    uint64_t requests() const;
    const std::string& baseUrl() const;  // --public-url, else the listening URL
    const std::string& servicePath() const;

    struct State;

private:
    std::unique_ptr<State> s_;
};

// Runs the server until SIGTERM or SIGINT, then finishes the requests in progress and returns
// the process exit status. The caller must have blocked SIGTERM and SIGINT in every thread
// (see blockShutdownSignals) before any thread was started. Throws std::runtime_error when the
// server cannot start (bad address, port in use, unreadable certificate).
int runServer(const ServerConfig& config, const ppmg::Engine& engine, std::shared_ptr<const KeyStore> keys,
              const ContentFacts& facts);

// Blocks SIGTERM and SIGINT in the calling thread (inherited by threads it starts), so that
// runServer can wait for them; ignores SIGPIPE.
void blockShutdownSignals();

}  // namespace ppmg::cds
