// `ppmg listen`: HL7 v2 over MLLP in, acknowledgements back, and (with --forward) one MDM^T02 per
// accepted record to a forward peer, through a durable outbox. docs/hl7v2.md describes it.
#pragma once

#include <atomic>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>

#include "ppmg/ppmg.hpp"

namespace ppmg::mllp {

class Outbox;

struct ListenConfig {
    std::string listen;   // HOST:PORT (port 0: any free port)
    std::string forward;  // HOST:PORT, or "" for none
    std::string outboxDir = "ppmg-outbox";
    std::string tlsCert, tlsKey;                          // PEM: serve MLLP over TLS
    std::string asOf;                                     // "" = the day each message arrives (UTC)
    std::string application = "PPMG", facility = "ppmg";  // MSH-3/4 of the ACKs
    int maxConnections = 64;
    size_t maxFrameBytes = 16u << 20;
    int idleTimeoutSeconds = 300;
    int ackTimeoutSeconds = 30;  // waiting for the forward peer's ACK
    int shutdownTimeoutSeconds = 30;
};

// One structured line per event, to a FILE (stderr by default; nullptr: off).
class Log {
public:
    explicit Log(FILE* out) : out_(out) {}
    void line(const std::string& json);

private:
    FILE* out_;
    std::mutex mu_;
};

// What a frame gets: the ACK to send back. Thread-safe (the engine serves many threads).
class FrameHandler {
public:
    FrameHandler(const ppmg::Engine& engine, const ListenConfig& config, Outbox* outbox, Log& log);
    std::string handle(const std::string& frame, bool oversized, const std::string& peer);

private:
    const ppmg::Engine& engine_;
    const ListenConfig& config_;
    Outbox* outbox_;
    Log& log_;
    std::atomic<uint64_t> acks_{0};
    std::string idPrefix_;
};

// Runs the listener until SIGTERM or SIGINT (blocked by the caller in every thread), then stops
// gracefully: no new connections, the frames in progress answered, the forwarder's attempt
// finished, the outbox left on disk. Returns the exit status.
int runListener(const ppmg::Engine& engine, const ListenConfig& config, Log& log);

}  // namespace ppmg::mllp
