#include "listener.hpp"

#include <Poco/Net/Context.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Net/TCPServer.h>
#include <Poco/Net/TCPServerConnection.h>
#include <Poco/Net/TCPServerConnectionFactory.h>
#include <Poco/Net/TCPServerParams.h>
#include <Poco/ThreadPool.h>
#include <simdjson.h>

#include <signal.h>
#include <sys/stat.h>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <fstream>
#include <thread>

#include "er7_header.hpp"
#include "json_writer.hpp"
#include "mllp_frame.hpp"
#include "outbox.hpp"

namespace ppmg::mllp {
namespace {

using Clock = std::chrono::steady_clock;

std::atomic<bool> gStopping{false};

std::string utcTimestamp() {  // HL7 DTM, UTC
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y%m%d%H%M%S+0000", &tm);
    return buf;
}

std::string isoNow() {
    const auto now = std::chrono::system_clock::now();
    const std::time_t t = std::chrono::system_clock::to_time_t(now);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[40];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    char out[48];
    std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms));
    return out;
}

std::string jsonString(const std::string& s) {
    std::string out;
    tools::appendJsonString(out, s);
    return out;
}

// Message types whose segments carry a patient's record (ADT, results, orders, pharmacy, problems,
// immunisations, billing); anything else is answered AR (table 0357 code 200).
bool supportedMessageCode(const std::string& code) {
    static const char* kCodes[] = {"ADT", "ORU", "OUL", "ORM", "OML", "OMP", "OMG", "RDE", "RDS",
                                   "RAS", "RGV", "PPR", "PPP", "PPG", "PGL", "VXU", "BAR"};
    for (const char* c : kCodes)
        if (code == c) return true;
    return false;
}

bool supportedVersion(const std::string& v) {
    static const char* kVersions[] = {"2.3", "2.3.1", "2.4", "2.5",   "2.5.1", "2.6",
                                      "2.7", "2.7.1", "2.8", "2.8.1", "2.8.2"};
    for (const char* k : kVersions)
        if (v == k) return true;
    return false;
}

// The outcome per massage type from the JSON assessment, as a JSON object.
std::string outcomesOf(const std::string& assessment) {
    simdjson::dom::parser parser;
    simdjson::dom::object root, massages;
    if (parser.parse(assessment).get(root) || root["massages"].get(massages)) return "null";
    std::string out = "{";
    for (auto field : massages) {
        std::string_view outcome;
        if (field.value["outcome"].get(outcome)) continue;
        if (out.size() > 1) out += ",";
        out += jsonString(std::string(field.key)) + ":" + jsonString(std::string(outcome));
    }
    return out + "}";
}

// The MSA of an ACK: its code and the id it acknowledges.
void readMsa(const std::string& ack, std::string& code, std::string& id) {
    const Header h = readHeader(ack);
    for (size_t pos = 0; pos < ack.size();) {
        size_t end = ack.find_first_of("\r\n", pos);
        if (end == std::string::npos) end = ack.size();
        const std::string seg = ack.substr(pos, end - pos);
        pos = end + 1;
        if (seg.rfind("MSA", 0) != 0 || seg.size() < 4) continue;
        const char f = seg[3];
        const char comp = h.encoding.empty() ? '^' : h.encoding[0];
        std::vector<std::string> fields;
        size_t start = 4;
        while (true) {
            const size_t next = seg.find(f, start);
            fields.push_back(seg.substr(start, next == std::string::npos ? std::string::npos : next - start));
            if (next == std::string::npos) break;
            start = next + 1;
        }
        code = fields.size() > 0 ? fields[0].substr(0, fields[0].find(comp)) : "";
        id = fields.size() > 1 ? fields[1].substr(0, fields[1].find(comp)) : "";
        return;
    }
}

// HL7 table 0357 codes for the plugin's refusals.
int errorCodeFor(ppmg_status s, const std::string& place) {
    switch (s) {
        case PPMG_E_PARSE: return place.find("]-") != std::string::npos ? 102 : 100;
        case PPMG_E_NOT_FHIR: return 102;  // a value of the wrong type
        case PPMG_E_ENCODING: return 102;
        case PPMG_E_NO_PATIENT: return 101;  // no PID: a required segment missing
        case PPMG_E_UNSUPPORTED: return 203;
        default: return 207;  // application internal error (several patients, limits, ...)
    }
}

}  // namespace

void Log::line(const std::string& json) {
    if (!out_) return;
    std::lock_guard<std::mutex> lock(mu_);
    std::fwrite(json.data(), 1, json.size(), out_);
    std::fputc('\n', out_);
    std::fflush(out_);
}

FrameHandler::FrameHandler(const ppmg::Engine& engine, const ListenConfig& config, Outbox* outbox, Log& log)
    : engine_(engine), config_(config), outbox_(outbox), log_(log) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%lx", static_cast<unsigned long>(std::time(nullptr)) & 0xFFFFFFul);
    idPrefix_ = std::string("P") + buf + "-";
}

std::string FrameHandler::handle(const std::string& frame, bool oversized, const std::string& peer) {
    const auto t0 = Clock::now();
    const Header h = readHeader(frame);
    Ack ack{"AA", "", 0, {}};
    std::string outcomes = "null", error;
    uint64_t queued = 0;
    auto reject = [&](const char* code, int err, const std::string& text, const std::string& place = "") {
        ack = Ack{code, text, err, parsePlace(place)};
        error = text;
    };
    if (oversized)
        reject("AE", 207, "the frame is over the limit of " + std::to_string(config_.maxFrameBytes) + " bytes");
    else if (!h.found)
        reject("AR", 100, "no MSH segment: the frame is not an HL7 v2 message");
    else if (!supportedVersion(h.version))
        reject("AR", 203, "HL7 version \"" + h.version.substr(0, 20) + "\" is not supported (2.3 to 2.8)", "MSH[1]-12");
    else if (!supportedMessageCode(h.messageCode))
        reject("AR", 200, "message type \"" + h.messageCode.substr(0, 10) + "\" carries no record ppmg reads",
               "MSH[1]-9");
    else if (h.processingId != "P" && h.processingId != "T" && h.processingId != "D")
        reject("AR", 202, "processing id \"" + h.processingId.substr(0, 10) + "\" is not P, T or D", "MSH[1]-11");
    else {
        ppmg::Request req;
        req.data = frame;
        req.inputFormat = PPMG_INPUT_HL7V2;
        req.asOf = config_.asOf;
        req.sourceName = "mllp " + peer + " " + h.acknowledgedId();
        try {
            std::string assessment;
            if (outbox_) {
                req.outputFormat = PPMG_OUTPUT_MDM;
                auto both = engine_.assessAndRender(req);
                assessment = std::move(both.assessment);
                queued = outbox_->put(both.document);
            } else {
                req.outputFormat = PPMG_OUTPUT_JSON;
                assessment = engine_.assess(req);
            }
            outcomes = outcomesOf(assessment);
        } catch (const ppmg::Exception& e) {
            const bool unsupported = e.status() == PPMG_E_UNSUPPORTED;
            reject(unsupported ? "AR" : "AE", errorCodeFor(e.status(), e.fhirPath()), e.what(), e.fhirPath());
        } catch (const std::exception& e) {
            reject("AE", 207, std::string("cannot keep the document for forwarding: ") + e.what());
        }
    }
    const std::string id = idPrefix_ + std::to_string(acks_.fetch_add(1) + 1);
    std::string out = buildAck(h, ack, config_.application, config_.facility, id, utcTimestamp());
    const double us = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
    std::string line = "{\"time\":" + jsonString(isoNow()) + ",\"event\":\"message\",\"peer\":" + jsonString(peer) +
                       ",\"control_id\":" + jsonString(h.acknowledgedId()) +
                       ",\"type\":" + jsonString(h.messageCode + (h.triggerEvent.empty() ? "" : "^" + h.triggerEvent)) +
                       ",\"version\":" + jsonString(h.version) + ",\"messages\":" + std::to_string(h.messages) +
                       ",\"batch\":" + (h.batch ? "true" : "false") + ",\"bytes\":" + std::to_string(frame.size()) +
                       ",\"ack\":" + jsonString(ack.code) + ",\"outcomes\":" + outcomes;
    if (!error.empty()) line += ",\"error\":" + jsonString(error) + ",\"error_code\":" + std::to_string(ack.errorCode);
    if (queued) line += ",\"outbox_seq\":" + std::to_string(queued);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f", us);
    line += std::string(",\"us\":") + buf + "}";
    log_.line(line);
    return out;
}

namespace {

// One connection: frames in, ACKs out, until the peer closes, it idles too long, or the
// listener stops (the frame in progress is answered first).
class Connection : public Poco::Net::TCPServerConnection {
public:
    Connection(const Poco::Net::StreamSocket& s, FrameHandler& handler, const ListenConfig& config, Log& log)
        : TCPServerConnection(s), handler_(handler), config_(config), log_(log) {}

    void run() override {
        Poco::Net::StreamSocket& s = socket();
        std::string peer;
        try {
            peer = s.peerAddress().toString();
            s.setNoDelay(true);
            s.setReceiveTimeout(Poco::Timespan(0, 200000));
            s.setSendTimeout(Poco::Timespan(config_.idleTimeoutSeconds, 0));
        } catch (const Poco::Exception&) {
            return;
        }
        FrameReader reader(config_.maxFrameBytes);
        std::vector<char> buf(1 << 16);
        auto last = Clock::now();
        std::string frame, why = "closed by the peer";
        while (!gStopping.load()) {
            int n = 0;
            try {
                n = s.receiveBytes(buf.data(), static_cast<int>(buf.size()));
            } catch (const Poco::TimeoutException&) {
                if (Clock::now() - last > std::chrono::seconds(config_.idleTimeoutSeconds)) {
                    why = "idle timeout";
                    break;
                }
                continue;
            } catch (const Poco::Exception& e) {
                why = e.displayText();
                break;
            }
            if (n <= 0) break;
            last = Clock::now();
            reader.feed(buf.data(), static_cast<size_t>(n));
            try {
                for (FrameReader::Result r; (r = reader.next(frame)) != FrameReader::Result::NeedMore;) {
                    const std::string ack = frame_(handler_.handle(frame, r == FrameReader::Result::Oversized, peer));
                    s.sendBytes(ack.data(), static_cast<int>(ack.size()));
                }
            } catch (const Poco::Exception& e) {
                why = e.displayText();
                break;
            }
        }
        if (gStopping.load()) why = "the listener is stopping";
        log_.line("{\"time\":" + jsonString(isoNow()) + ",\"event\":\"disconnect\",\"peer\":" + jsonString(peer) +
                  ",\"reason\":" + jsonString(why) + ",\"skipped_bytes\":" + std::to_string(reader.skipped()) + "}");
    }

private:
    static std::string frame_(const std::string& m) { return frame(m); }
    FrameHandler& handler_;
    const ListenConfig& config_;
    Log& log_;
};

class ConnectionFactory : public Poco::Net::TCPServerConnectionFactory {
public:
    ConnectionFactory(FrameHandler& h, const ListenConfig& c, Log& l) : handler_(h), config_(c), log_(l) {}
    Poco::Net::TCPServerConnection* createConnection(const Poco::Net::StreamSocket& s) override {
        return new Connection(s, handler_, config_, log_);
    }

private:
    FrameHandler& handler_;
    const ListenConfig& config_;
    Log& log_;
};

// Sends the outbox to the forward peer, one message at a time, in order: each waits for the
// peer's ACK naming its MSH-10. AA/CA: delivered. AR/CR: rejected for good (kept in
// DIR/rejected/, logged). AE/CE, no answer or no connection: tried again, with backoff.
class Forwarder {
public:
    Forwarder(Outbox& outbox, const ListenConfig& config, Log& log) : outbox_(outbox), config_(config), log_(log) {
        thread_ = std::thread([this] { run(); });
    }
    ~Forwarder() {
        stop_ = true;
        outbox_.stop();
        wake_.notify_all();
        if (thread_.joinable()) thread_.join();
    }

private:
    void sleepFor(std::chrono::milliseconds d) {
        std::unique_lock<std::mutex> lock(mu_);
        wake_.wait_for(lock, d, [this] { return stop_.load(); });
    }

    void log(const std::string& event, uint64_t seq, const std::string& id, const std::string& extra) {
        log_.line("{\"time\":" + jsonString(isoNow()) + ",\"event\":\"" + event +
                  "\",\"outbox_seq\":" + std::to_string(seq) + ",\"control_id\":" + jsonString(id) + extra + "}");
    }

    // One attempt: the peer's ACK code for the message, or throws.
    std::string attempt(const std::string& message, const std::string& id) {
        if (!socket_) {
            socket_ = std::make_unique<Poco::Net::StreamSocket>();
            socket_->connect(Poco::Net::SocketAddress(config_.forward), Poco::Timespan(5, 0));
            socket_->setNoDelay(true);
            socket_->setReceiveTimeout(Poco::Timespan(0, 200000));
            reader_ = std::make_unique<FrameReader>(1u << 20);
        }
        const std::string out = frame(message);
        socket_->sendBytes(out.data(), static_cast<int>(out.size()));
        const auto deadline = Clock::now() + std::chrono::seconds(config_.ackTimeoutSeconds);
        char buf[8192];
        std::string ack;
        while (Clock::now() < deadline && !stop_) {
            if (reader_->next(ack) != FrameReader::Result::NeedMore) {
                std::string code, acked;
                readMsa(ack, code, acked);
                if (acked == id) return code;
                continue;  // an ACK for an earlier attempt
            }
            int n = 0;
            try {
                n = socket_->receiveBytes(buf, sizeof buf);
            } catch (const Poco::TimeoutException&) {
                continue;
            }
            if (n <= 0) throw Poco::Net::NetException("the forward peer closed the connection");
            reader_->feed(buf, static_cast<size_t>(n));
        }
        throw Poco::TimeoutException("no ACK from the forward peer");
    }

    void run() {
        uint64_t seq = 0;
        std::string message;
        while (!stop_) {
            if (!outbox_.next(seq, message, 500)) continue;
            const std::string id = readHeader(message).controlId;
            auto delay = std::chrono::milliseconds(250);
            int attempts = 0;
            while (!stop_) {
                ++attempts;
                std::string why;
                try {
                    const std::string code = attempt(message, id);
                    if (code == "AA" || code == "CA") {
                        outbox_.done(seq);
                        log("forwarded", seq, id,
                            ",\"ack\":" + jsonString(code) + ",\"attempts\":" + std::to_string(attempts));
                        break;
                    }
                    if (code == "AR" || code == "CR") {
                        keepRejected(seq, message);
                        outbox_.done(seq);
                        log("forward-rejected", seq, id, ",\"ack\":" + jsonString(code));
                        break;
                    }
                    why = "the forward peer answered " + code;
                } catch (const Poco::Exception& e) {
                    why = e.displayText();
                    socket_.reset();
                } catch (const std::exception& e) {
                    why = e.what();
                    socket_.reset();
                }
                log("forward-retry", seq, id,
                    ",\"reason\":" + jsonString(why) + ",\"retry_in_ms\":" + std::to_string(delay.count()));
                sleepFor(delay);
                delay = std::min(delay * 2, std::chrono::milliseconds(30000));
            }
        }
    }

    void keepRejected(uint64_t seq, const std::string& message) {
        const std::string dir = config_.outboxDir + "/rejected";
        ::mkdir(dir.c_str(), 0700);
        std::ofstream(dir + "/" + std::to_string(seq) + ".hl7", std::ios::binary) << message;
    }

    Outbox& outbox_;
    const ListenConfig& config_;
    Log& log_;
    std::atomic<bool> stop_{false};
    std::mutex mu_;
    std::condition_variable wake_;
    std::unique_ptr<Poco::Net::StreamSocket> socket_;
    std::unique_ptr<FrameReader> reader_;
    std::thread thread_;
};

}  // namespace

int runListener(const ppmg::Engine& engine, const ListenConfig& config, Log& log) {
    std::unique_ptr<Outbox> outbox;
    if (!config.forward.empty()) outbox = std::make_unique<Outbox>(config.outboxDir);
    FrameHandler handler(engine, config, outbox.get(), log);
    Poco::Net::SocketAddress address(config.listen);
    std::unique_ptr<Poco::Net::ServerSocket> server;
    if (!config.tlsCert.empty()) {
        Poco::Net::Context::Ptr ctx = new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE, config.tlsKey,
                                                             config.tlsCert, "", Poco::Net::Context::VERIFY_NONE);
        ctx->disableProtocols(Poco::Net::Context::PROTO_SSLV2 | Poco::Net::Context::PROTO_SSLV3 |
                              Poco::Net::Context::PROTO_TLSV1 | Poco::Net::Context::PROTO_TLSV1_1);
        server = std::make_unique<Poco::Net::SecureServerSocket>(address, 64, ctx);
    } else {
        server = std::make_unique<Poco::Net::ServerSocket>(address, 64);
    }
    const std::string bound = server->address().toString();
    Poco::ThreadPool pool(2, config.maxConnections + 1);
    auto* params = new Poco::Net::TCPServerParams;
    params->setMaxThreads(config.maxConnections);
    params->setMaxQueued(config.maxConnections);
    params->setThreadIdleTime(Poco::Timespan(10, 0));
    Poco::Net::TCPServer tcp(new ConnectionFactory(handler, config, log), pool, *server, params);
    std::unique_ptr<Forwarder> forwarder;
    if (outbox) forwarder = std::make_unique<Forwarder>(*outbox, config, log);
    tcp.start();
    log.line("{\"time\":" + jsonString(isoNow()) + ",\"event\":\"listening\",\"address\":" + jsonString(bound) +
             ",\"tls\":" + (config.tlsCert.empty() ? "false" : "true") +
             ",\"forward\":" + (config.forward.empty() ? "null" : jsonString(config.forward)) +
             ",\"outbox_recovered\":" + std::to_string(outbox ? outbox->recovered() : 0) + "}");
    std::fprintf(stderr, "ppmg listen: listening on %s%s\n", bound.c_str(), config.tlsCert.empty() ? "" : " (TLS)");
    std::fflush(stderr);

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    int sig = 0;
    sigwait(&set, &sig);

    // Graceful shutdown: stop accepting, let the connections answer what they are reading.
    gStopping = true;
    tcp.stop();
    const auto until = Clock::now() + std::chrono::seconds(config.shutdownTimeoutSeconds);
    while (tcp.currentConnections() > 0 && Clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    forwarder.reset();
    log.line("{\"time\":" + jsonString(isoNow()) + ",\"event\":\"stopped\",\"signal\":" + std::to_string(sig) +
             ",\"outbox_pending\":" + std::to_string(outbox ? outbox->pending() : 0) + "}");
    pool.joinAll();
    return 0;
}

}  // namespace ppmg::mllp
