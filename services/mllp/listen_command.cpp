// `ppmg listen`: HL7 v2 over MLLP (see docs/hl7v2.md).
#include "listen_command.hpp"

#include <Poco/Net/SocketAddress.h>
#include <signal.h>

#include <cstdio>
#include <iostream>

#include "cli_common.hpp"
#include "listener.hpp"

namespace ppmg::cli {
namespace {

const char* kListenUsage =
    "usage: ppmg listen --mllp HOST:PORT [--forward HOST:PORT [--outbox DIR]]\n"
    "                   [--tls-cert CERT.pem --tls-key KEY.pem] [options]\n"
    "\n"
    "Receives HL7 v2.3-2.8 messages over MLLP: each frame is one patient's record (a message, or\n"
    "an FHS/BHS batch). Answers each frame with an ACK naming its MSH-10 (a batch: its BHS-11,\n"
    "else its first MSH-10): AA accepted; AE with ERR naming the segment and field for bad\n"
    "content; AR for a message type, version or processing id it does not take. With --forward,\n"
    "sends one MDM^T02 per accepted record (the guidance as a CDA, as of the day it arrived) to\n"
    "the forward peer over MLLP, waits for its ACK and retries with backoff; what the peer has not\n"
    "acknowledged stays in the outbox on disk and is sent again after a restart.\n"
    "\n"
    "  --mllp HOST:PORT          address to listen on (port 0: any free port)\n"
    "  --forward HOST:PORT       the MLLP peer that receives the MDM^T02 messages\n"
    "  --outbox DIR              the durable outbox (default: ./ppmg-outbox)\n"
    "  --tls-cert F --tls-key F  serve MLLP over TLS with this PEM certificate (chain) and key\n"
    "  --as-of YYYY-MM-DD        evaluate as of this date (default: the day each message arrives)\n"
    "  --log FILE|-|off          one JSON line per message (default: - = stderr)\n"
    "  --max-connections N (64)  --max-frame-bytes N (16777216)  --idle-timeout S (300)\n"
    "  --ack-timeout S (30)      --shutdown-timeout S (30)\n"
    "  --application NAME (PPMG) --facility NAME (ppmg): MSH-3 and MSH-4 of the ACKs\n"
    "  --plugin PATH  --content DIR  --custodian NAME  --custodian-oid OID\n"
    "\n"
    "SIGTERM or SIGINT stops it after the frames in progress. Exit status: 0 stopped cleanly,\n"
    "1 failure, 2 bad usage.\n";

void checkAddress(const std::string& flag, const std::string& value) {
    try {
        Poco::Net::SocketAddress check(value);
    } catch (const Poco::Exception& e) {
        throw std::invalid_argument(flag + " must be HOST:PORT, got \"" + value + "\" (" + e.displayText() + ")");
    }
}

}  // namespace

int runListen(int argc, char** argv) {
    std::vector<std::string> valued = engineOptions();
    for (const char* o :
         {"--mllp", "--forward", "--outbox", "--tls-cert", "--tls-key", "--as-of", "--log", "--max-connections",
          "--max-frame-bytes", "--idle-timeout", "--ack-timeout", "--shutdown-timeout", "--application", "--facility"})
        valued.push_back(o);
    Args args;
    mllp::ListenConfig config;
    std::string logTarget;
    try {
        args = parseArgs(argc, argv, 2, valued, {"--help", "-h"});
        if (args.has("--help") || args.has("-h")) {
            std::cout << kListenUsage;
            return kOk;
        }
        if (!args.positional.empty()) throw std::invalid_argument("unexpected argument \"" + args.positional[0] + "\"");
        config.listen = args.get("--mllp");
        if (config.listen.empty()) throw std::invalid_argument("--mllp HOST:PORT is required");
        checkAddress("--mllp", config.listen);
        config.forward = args.get("--forward");
        if (!config.forward.empty()) checkAddress("--forward", config.forward);
        config.outboxDir = args.get("--outbox", config.outboxDir);
        config.tlsCert = args.get("--tls-cert");
        config.tlsKey = args.get("--tls-key");
        if (config.tlsCert.empty() != config.tlsKey.empty())
            throw std::invalid_argument("--tls-cert and --tls-key go together");
        config.asOf = args.get("--as-of");
        if (!config.asOf.empty() && (config.asOf.size() != 10 || config.asOf[4] != '-' || config.asOf[7] != '-'))
            throw std::invalid_argument("--as-of must be YYYY-MM-DD, got \"" + config.asOf + "\"");
        config.application = args.get("--application", config.application);
        config.facility = args.get("--facility", config.facility);
        config.maxConnections = int(args.number("--max-connections", 64, 1, 10000));
        config.maxFrameBytes = size_t(args.number("--max-frame-bytes", 16L << 20, 1024, 1L << 30));
        config.idleTimeoutSeconds = int(args.number("--idle-timeout", 300, 1, 86400));
        config.ackTimeoutSeconds = int(args.number("--ack-timeout", 30, 1, 3600));
        config.shutdownTimeoutSeconds = int(args.number("--shutdown-timeout", 30, 1, 3600));
        logTarget = args.get("--log", "-");
    } catch (const std::invalid_argument& e) {
        printError("", std::string(e.what()) + " (see ppmg listen --help)");
        return kBadInput;
    }
    // SIGTERM/SIGINT are taken by sigwait in runListener: blocked here, before any thread starts,
    // so every thread inherits the mask. A peer that goes away is a failed send, not a signal.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    signal(SIGPIPE, SIG_IGN);

    FILE* logFile = stderr;
    if (logTarget == "off")
        logFile = nullptr;
    else if (logTarget != "-" && !(logFile = std::fopen(logTarget.c_str(), "a"))) {
        printError(logTarget, "cannot open the log file");
        return kFailure;
    }
    mllp::Log log(logFile);
    Session session;
    if (!openSessionOrReport(args, session)) return kFailure;
    try {
        return mllp::runListener(*session.engine, config, log);
    } catch (const std::exception& e) {
        printError("", std::string("listen: ") + e.what());
        return kFailure;
    }
}

}  // namespace ppmg::cli
