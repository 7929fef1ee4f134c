// The HTTP side of `ppmg serve`: a Poco::Net HTTP/1.1 server (HTTPS with a certificate) exposing
// the CDS Hooks service, discovery, /render and /healthz over one shared plugin engine.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "cds_cards.hpp"
#include "cds_jwt.hpp"
#include "cds_scale.hpp"

namespace ppmg {
class Engine;
}

namespace ppmg::cds {

struct ServerConfig {
    std::string listen = "127.0.0.1:8080";  // HOST:PORT; port 0 picks a free port
    std::string publicUrl;                  // base URL clients call (for aud and links); "" = as invoked
    std::string tlsCert, tlsKey;            // PEM files; both or neither
    bool insecureNoAuth = false;            // no JWT checks at all (local demos only)
    int threads = 32;                       // worker threads (each serves one connection at a time)
    int maxQueued = 64;                     // accepted connections waiting for a worker
    size_t maxBodyBytes = 8u << 20;
    int requestTimeoutSeconds = 30;   // to receive one request
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
