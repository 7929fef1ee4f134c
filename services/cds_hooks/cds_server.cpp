#include "cds_server.hpp"

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/ThreadPool.h>
#include <Poco/URI.h>

#include <pthread.h>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <mutex>
#include <thread>
#include <vector>

#include "cds_text.hpp"
#include "cds_view.hpp"
#include "json_writer.hpp"
#include "ppmg/ppmg.hpp"

namespace ppmg::cds {

using Poco::Net::HTTPRequest;
using Poco::Net::HTTPResponse;
using Poco::Net::HTTPServerRequest;
using Poco::Net::HTTPServerResponse;
using Clock = std::chrono::steady_clock;
using tools::appendJsonString;
using tools::JsonWriter;

void blockShutdownSignals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
}

namespace {

const std::string kServicePath = std::string("/cds-services/") + kServiceId;
const std::string kFeedbackPath = kServicePath + "/feedback";
constexpr const char* kWarnInsecure =
    "ppmg serve: WARNING: --insecure-no-auth: requests are NOT authenticated; for local demos only, never with "
    "real patient data";

std::string isoNow() {
    auto now = std::chrono::system_clock::now();
    std::time_t t = std::chrono::system_clock::to_time_t(now);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                  tm.tm_hour, tm.tm_min, tm.tm_sec, int(ms));
    return buf;
}

// One JSON line per request: what happened, never who the patient is.
class AccessLog {
public:
    explicit AccessLog(const std::string& target) {
        if (target == "off") return;
        if (target == "-" || target.empty()) {
            file_ = stderr;
        } else {
            file_ = std::fopen(target.c_str(), "a");
            if (!file_) throw std::runtime_error("cannot open the access log " + target);
            owned_ = true;
        }
    }
    ~AccessLog() {
        if (owned_) std::fclose(file_);
    }
    bool enabled() const { return file_ != nullptr; }
    void write(const std::string& line) {
        if (!file_) return;
        std::lock_guard<std::mutex> lock(mutex_);
        std::fwrite(line.data(), 1, line.size(), file_);
        std::fputc('\n', file_);
        std::fflush(file_);
    }

private:
    std::FILE* file_ = nullptr;
    bool owned_ = false;
    std::mutex mutex_;
};

// What the server shares between its worker threads; immutable but for the verifier's replay
// cache, the counters and the log (each thread-safe).
struct Service {
    ServerConfig config;
    const ppmg::Engine* engine = nullptr;
    ContentFacts facts;
    std::string discovery;
    std::string publicBase;  // publicUrl without a trailing slash
    std::string publicPath;  // its path ("" or "/prefix")
    bool tls = false;
    std::string listenAuthority;
    std::vector<std::string> authorities;  // host:port names of this server, for aud
    std::unique_ptr<JwtVerifier> verifier;
    std::unique_ptr<AccessLog> log;
    std::unique_ptr<ScaleServices> scale;
    std::atomic<uint64_t> requestCounter{0};
    Clock::time_point started = Clock::now();
};

struct Exchange {
    uint64_t id = 0;
    std::string method, path;
    int status = 0;
    size_t bytesIn = 0, bytesOut = 0;
    std::string auth = "none", issuer, kid, jti, authDetail, subject;
    std::string hook, hookInstance, indicator, error;
    long cards = -1;
};

enum class Body { Ok, TooLarge, Timeout, Broken };

// Puts the socket's receive timeout back to the configured one when the body has been read, so
// the next request on a kept-alive connection gets the whole of it.
class ReceiveTimeoutGuard {
public:
    ReceiveTimeoutGuard(Poco::Net::HTTPServerRequestImpl* impl, int seconds) : impl_(impl), seconds_(seconds) {}
    ~ReceiveTimeoutGuard() {
        if (!impl_) return;
        try {
            impl_->socket().setReceiveTimeout(Poco::Timespan(seconds_, 0));
        } catch (...) {}
    }
    ReceiveTimeoutGuard(const ReceiveTimeoutGuard&) = delete;
    ReceiveTimeoutGuard& operator=(const ReceiveTimeoutGuard&) = delete;

private:
    Poco::Net::HTTPServerRequestImpl* impl_;
    int seconds_;
};

// Reads the request body (keep = false discards it), bounded in size and time: the socket's
// receive timeout is set to what is left until the deadline before each read.
Body readBody(HTTPServerRequest& request, size_t maxBytes, Clock::time_point deadline, std::string& out, bool keep,
              size_t& received, int restoreTimeoutSeconds) {
    received = 0;
    const bool hasLength = request.hasContentLength();
    const Poco::Int64 length = hasLength ? request.getContentLength64() : -1;
    if (hasLength && length > Poco::Int64(maxBytes)) return Body::TooLarge;
    auto* impl = dynamic_cast<Poco::Net::HTTPServerRequestImpl*>(&request);
    ReceiveTimeoutGuard restore(impl, restoreTimeoutSeconds);
    std::istream& in = request.stream();
    char buf[65536];
    for (;;) {
        auto remaining = std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now()).count();
        if (remaining <= 0) return Body::Timeout;
        if (impl) {
            try {
                impl->socket().setReceiveTimeout(Poco::Timespan(Poco::Timespan::TimeDiff(remaining)));
            } catch (const Poco::Exception&) {}
        }
        in.read(buf, sizeof buf);
        const size_t n = size_t(in.gcount());
        received += n;
        if (received > maxBytes) return Body::TooLarge;
        if (keep) out.append(buf, n);
        if (in.eof()) break;
        if (!in) return Clock::now() + std::chrono::milliseconds(20) >= deadline ? Body::Timeout : Body::Broken;
    }
    if (hasLength && Poco::Int64(received) != length) return Body::Broken;
    return Body::Ok;
}

class Handler : public Poco::Net::HTTPRequestHandler {
public:
    explicit Handler(Service& s) : s_(s) {}

    void handleRequest(HTTPServerRequest& request, HTTPServerResponse& response) override {
        const auto t0 = Clock::now();
        deadline_ = t0 + std::chrono::seconds(s_.config.requestTimeoutSeconds);
        x_.id = ++s_.requestCounter;
        x_.method = request.getMethod();
        try {
            Poco::URI uri(request.getURI());
            x_.path = uri.getPath();
            query_ = uri.getQueryParameters();
        } catch (const Poco::Exception&) {
            x_.path = "?";
            send(response, 400, "application/fhir+json",
                 operationOutcome("error", "invalid", "The request URI is not valid."));
            finish(request, t0);
            return;
        }
        if (s_.config.insecureNoAuth) {
            const std::string line =
                std::string(kWarnInsecure) + " (" + x_.method + " " + x_.path.substr(0, 200) + ")\n";
            std::fwrite(line.data(), 1, line.size(), stderr);  // one write: lines from threads never mix
        }
        try {
            route(request, response);
        } catch (const std::exception& e) {
            x_.error = std::string("internal: ") + e.what();
            if (!response.sent())
                send(response, 500, "application/fhir+json",
                     operationOutcome("fatal", "exception", "The service failed; the error is logged."));
        }
        finish(request, t0);
    }

private:
    // ---- routing -----------------------------------------------------------------------

    void route(HTTPServerRequest& request, HTTPServerResponse& response) {
        std::string path = x_.path;
        if (!s_.publicPath.empty() && path.compare(0, s_.publicPath.size(), s_.publicPath) == 0 &&
            (path.size() == s_.publicPath.size() || path[s_.publicPath.size()] == '/'))
            path.erase(0, s_.publicPath.size());
        while (path.size() > 1 && path.back() == '/') path.pop_back();
        const std::string& m = x_.method;

        struct Route {
            const std::string path;
            const char* method;
        };
        static const Route routes[] = {{"/healthz", "GET"},     {"/cds-services", "GET"}, {kServicePath, "POST"},
                                       {kFeedbackPath, "POST"}, {"/render", "POST"},      {"/about", "GET"}};
        const Route* found = nullptr;
        for (const Route& r : routes)
            if (r.path == path) found = &r;
        static const Route viewRoute{"/view", "GET"};
        if (!found && path.compare(0, 6, "/view/") == 0) found = &viewRoute;
        if (!found) {
            drainAfterRefusal(request, response);
            send(response, 404, "application/fhir+json", operationOutcome("error", "not-found", "No such endpoint."));
            return;
        }
        if (m == "OPTIONS") {  // CORS preflight
            response.set("Access-Control-Allow-Methods", std::string(found->method) + ", OPTIONS");
            response.set("Access-Control-Allow-Headers", "Authorization, Content-Type");
            response.set("Access-Control-Max-Age", "600");
            send(response, 204, "", "");
            return;
        }
        const bool head = m == "HEAD" && std::string(found->method) == "GET";
        if (m != found->method && !head) {
            drainAfterRefusal(request, response);
            response.set("Allow", std::string(found->method) + ", OPTIONS");
            send(response, 405, "application/fhir+json",
                 operationOutcome("error", "not-supported",
                                  "Method not allowed; use " + std::string(found->method) + "."));
            return;
        }
        if (path == "/healthz") return health(response);
        if (path == "/cds-services") return send(response, 200, "application/json", s_.discovery);
        if (path == "/about") return about(response);
        if (found == &viewRoute) return view(response, path.substr(6));
        // The rest needs the caller's JWT, checked before the body is read.
        if (!authenticate(request, response, path)) return;
        if (path == kServicePath) return service(request, response);
        if (path == kFeedbackPath) return feedback(request, response);
        return render(request, response);
    }

    // ---- authentication ----------------------------------------------------------------

    std::string baseUrl(const HTTPServerRequest& request) const {
        if (!s_.publicBase.empty()) return s_.publicBase;
        std::string host = request.has("Host") ? request.get("Host") : s_.listenAuthority;
        return std::string(s_.tls ? "https" : "http") + "://" + host;
    }

    // The URLs the client may have invoked, one of which its JWT's aud must name: with
    // --public-url that one only; otherwise the URL by the Host header, and by the address the
    // server listens on (with localhost, 127.0.0.1 and [::1] alike when that is a loopback one).
    std::vector<std::string> invokedUrls(const HTTPServerRequest& request, const std::string& routePath) const {
        if (!s_.publicBase.empty()) return {s_.publicBase + routePath};
        std::vector<std::string> out;
        const std::string scheme = s_.tls ? "https://" : "http://";
        if (request.has("Host")) out.push_back(scheme + request.get("Host") + x_.path);
        for (const std::string& authority : s_.authorities) out.push_back(scheme + authority + x_.path);
        return out;
    }

    bool authenticate(HTTPServerRequest& request, HTTPServerResponse& response, const std::string& routePath) {
        if (s_.config.insecureNoAuth) {
            x_.auth = "insecure-no-auth";
            return true;
        }
        const std::string header = request.get("Authorization", "");
        const int64_t now =
            std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
                .count();
        AuthResult r = s_.verifier->verify(header, invokedUrls(request, routePath), now);
        x_.auth = authFailureCode(r.failure);
        x_.issuer = r.issuer.substr(0, 200);
        x_.kid = r.kid.substr(0, 100);
        x_.jti = r.jti.substr(0, 100);
        x_.authDetail = r.detail;
        x_.subject = r.subject;
        if (r.ok()) return true;
        // Refused: the body is read and thrown away unread (so the connection stays usable) and
        // the answer says nothing about the request's content.
        drainAfterRefusal(request, response);
        const bool busy = r.failure == AuthFailure::Busy;
        std::string description = busy ? "try again later" : authFailureCode(r.failure);
        if (!busy)
            response.set("WWW-Authenticate",
                         "Bearer error=\"invalid_token\", error_description=\"" + description + "\"");
        send(response, busy ? 503 : 401, "application/fhir+json",
             operationOutcome("error", busy ? "transient" : "security",
                              busy ? "The service is busy; try again later."
                                   : "Authentication failed (" + description +
                                         "): every call needs a current JWT (ES384 or RS384) from a configured "
                                         "issuer, with aud set to the URL called."));
        return false;
    }

    void drainAfterRefusal(HTTPServerRequest& request, HTTPServerResponse& response) {
        if (x_.method == "GET" || x_.method == "HEAD" || x_.method == "OPTIONS") return;
        std::string none;
        size_t n = 0;
        // Bounded: a body over the limit, or too slow, closes the connection instead.
        const auto deadline = std::min(deadline_, Clock::now() + std::chrono::seconds(5));
        if (readBody(request, s_.config.maxBodyBytes, deadline, none, false, n, s_.config.requestTimeoutSeconds) !=
            Body::Ok)
            response.setKeepAlive(false);
        x_.bytesIn = n;
    }

    // Reads the body or answers the failure (413, 408, 400); false when it answered.
    bool body(HTTPServerRequest& request, HTTPServerResponse& response, std::string& out) {
        size_t n = 0;
        Body b = readBody(request, s_.config.maxBodyBytes, deadline_, out, true, n, s_.config.requestTimeoutSeconds);
        x_.bytesIn = n;
        if (b == Body::Ok) return true;
        response.setKeepAlive(false);
        if (b == Body::TooLarge) {
            x_.error = "body-too-large";
            send(response, 413, "application/fhir+json",
                 operationOutcome("error", "too-costly",
                                  "The request body exceeds " + std::to_string(s_.config.maxBodyBytes) + " bytes."));
            // Read (a bounded amount of) what is still coming, so that closing the connection does
            // not reset it before the client has read the answer.
            std::string none;
            size_t more = 0;
            readBody(request, std::max<size_t>(64u << 20, 4 * s_.config.maxBodyBytes),
                     Clock::now() + std::chrono::seconds(2), none, false, more, s_.config.requestTimeoutSeconds);
        } else if (b == Body::Timeout) {
            x_.error = "body-timeout";
            send(response, 408, "application/fhir+json",
                 operationOutcome("error", "timeout", "The request body did not arrive in time."));
        } else {
            x_.error = "body-unreadable";
            send(response, 400, "application/fhir+json",
                 operationOutcome("error", "incomplete", "The request body is incomplete."));
        }
        return false;
    }

    // ---- endpoints ---------------------------------------------------------------------

    void health(HTTPServerResponse& response) {
        JsonWriter j;
        j.open('{');
        j.field("status", "ok");
        j.key("uptimeSeconds").num(std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - s_.started).count());
        j.field("pluginVersion", s_.facts.pluginVersion);
        j.key("content").raw(contentExtensionJson(s_.facts));
        j.key("authentication").str(s_.config.insecureNoAuth ? "disabled (--insecure-no-auth)" : "jwt");
        j.field("store", s_.scale->store().kind());
        j.field("replayCache", s_.scale->replayGuard()->describe());
        j.key("fhirFetch").boolean(s_.scale->fetcher().enabled());
        j.close('}');
        send(response, 200, "application/json", j.out);
    }

    void about(HTTPServerResponse& response) {
        std::string v = s_.facts.contentVersion, sha = s_.facts.contentSha256, pv = s_.facts.pluginVersion;
        for (std::string* s : {&v, &sha, &pv})
            for (char& c : *s)
                if (c == '<' || c == '>' || c == '&' || c == '"') c = '?';
        std::string html =
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>ppmg: postpartum massage "
            "guidance</title></head><body><h1>ppmg: postpartum massage guidance</h1>"
            "<p>A CDS Hooks 2.0 service that says whether abdominal, low-back, breast, and shoulder and neck massage "
            "may be done after a birth, and why. Every card names the rule that produced it and the patient data "
            "that triggered it.</p><ul><li>ppmg " +
            pv + "</li><li>Content " + v + "</li><li>Content SHA-256 " + sha +
            "</li></ul><p>Discovery: <a href=\"cds-services\">cds-services</a>.</p></body></html>";
        send(response, 200, "text/html; charset=utf-8", html);
    }

    CardOptions cardOptions(const HTTPServerRequest& request) const {
        CardOptions o;
        o.facts = s_.facts;
        o.sourceUrl = s_.config.sourceUrl.empty() ? baseUrl(request) + "/about" : s_.config.sourceUrl;
        o.guidanceUrl = s_.config.guidanceUrl;
        return o;
    }

    void service(HTTPServerRequest& request, HTTPServerResponse& response) {
        std::string data;
        if (!body(request, response, data)) return;
        ScaleServices& scale = *s_.scale;
        CallFacts call;
        call.issuer = x_.issuer;
        call.subject = x_.subject;
        call.clientAddress = request.clientAddress().host().toString();
        call.asOf = s_.config.asOf.empty() ? todayUtc() : s_.config.asOf;
        HookRequest hook = readHookRequest(data);
        x_.hook = hook.hook.substr(0, 64);
        x_.hookInstance = hook.hookInstance;
        call.hook = x_.hook;
        call.hookInstance = hook.hookInstance;
        if (hook.status == 400) {  // not a hook call of this service: nothing is fetched for it
            x_.error = "hook-request";
            return refuseCall(response, call, 400, "invalid", hook.problem);
        }
        // What the prefetch lacks, fetched from the call's fhirServer (only one under --fhir-allow).
        ScaleServices::Prepared prepared = scale.prepare(data, call.asOf);
        call.dataSource = prepared.dataSource;
        call.patientId = hook.patientId.empty() ? prepared.patientId : hook.patientId;
        if (prepared.status != 0) {
            x_.error = "fetch";
            return refuseCall(response, call, prepared.status, "required", prepared.problem);
        }
        if (prepared.fetched) {
            hook = readHookRequest(prepared.body);
            call.patientId = hook.patientId;
        }
        if (hook.status != 0) {
            x_.error = "hook-request";
            return refuseCall(response, call, hook.status, hook.status == 412 ? "required" : "invalid", hook.problem);
        }
        ppmg::Request req;
        req.data = hook.bundle;
        req.inputFormat = PPMG_INPUT_FHIR_JSON;
        req.outputFormat = PPMG_OUTPUT_JSON;
        req.asOf = call.asOf;
        req.patientId = hook.patientId;
        req.sourceName = call.dataSource;
        std::string assessment;
        try {
            assessment = s_.engine->assess(req);
        } catch (const ppmg::Exception& e) {
            pluginFailure(response, e);
            auditQuietly(call, x_.status, "the plugin refused the record");
            return;
        }
        Cards cards = cardsFromAssessment(assessment, cardOptions(request));
        x_.cards = long(cards.count);
        x_.indicator = cards.indicator;
        std::string out;
        try {
            // Recorded (AuditEvent, cards, view link) before anything is answered.
            out = scale.issue(cards.json, assessment, hook.bundle, call, baseUrl(request));
        } catch (const StoreError& e) {
            return storeUnavailable(response, e);
        }
        send(response, 200, "application/json", out);
    }

    // A refused hook call: audited, then answered with an OperationOutcome.
    void refuseCall(HTTPServerResponse& response, const CallFacts& call, int status, const char* code,
                    const std::string& problem) {
        auditQuietly(call, status, problem.substr(0, 300));
        send(response, status, "application/fhir+json", operationOutcome("error", code, problem));
    }

    void auditQuietly(const CallFacts& call, int status, const std::string& why) {
        try {
            s_.scale->auditRefusal(call, status, why);
        } catch (const StoreError& e) {
            x_.error += std::string(x_.error.empty() ? "" : "; ") + "audit not stored: " + e.what();
        }
    }

    void storeUnavailable(HTTPServerResponse& response, const StoreError& e) {
        x_.error = std::string("store: ") + e.what();
        response.set("Retry-After", "1");
        send(response, 503, "application/fhir+json",
             operationOutcome("error", "transient", "The service cannot record the call now; try again later."));
    }

    void feedback(HTTPServerRequest& request, HTTPServerResponse& response) {
        std::string data;
        if (!body(request, response, data)) return;
        std::pair<int, std::string> r;
        try {
            r = s_.scale->feedback(data, x_.issuer, x_.subject);
        } catch (const StoreError& e) {
            return storeUnavailable(response, e);
        }
        if (r.first != 200) {
            x_.error = "feedback";
            send(response, r.first, "application/fhir+json", operationOutcome("error", "invalid", r.second));
            return;
        }
        size_t items = 0;
        for (size_t pos = 0; (pos = data.find("\"outcome\"", pos)) != std::string::npos; ++pos) ++items;
        x_.cards = long(items);
        send(response, 200, "application/json", "{}");
    }

    // GET /view/{token}: the guidance for one decision, as a page. No token is needed beyond the
    // link's own (unguessable, short-lived, only its digest stored); unknown or expired: 404.
    void view(HTTPServerResponse& response, const std::string& rest) {
        std::optional<ViewRow> row;
        try {
            row = s_.scale->view(rest);
        } catch (const StoreError& e) {
            return storeUnavailable(response, e);
        }
        // A decision made with other content (a replica not yet upgraded, or since) is not shown
        // with this one: the page could then differ from the card.
        if (row && row->contentSha != s_.facts.contentSha256) {
            x_.error = "view: made with other content";
            row.reset();
        }
        if (!row) {
            send(response, 404, "application/fhir+json",
                 operationOutcome("error", "not-found", "No such page, or its link has expired."));
            return;
        }
        std::string record;
        try {
            record = unpackRecord(row->record, s_.config.maxBodyBytes * 4);
        } catch (const std::exception& e) {
            x_.error = std::string("view: ") + e.what();
            send(response, 500, "application/fhir+json",
                 operationOutcome("fatal", "exception", "The service failed; the error is logged."));
            return;
        }
        ppmg::Request req;
        req.data = record;
        req.inputFormat = PPMG_INPUT_FHIR_JSON;
        req.outputFormat = PPMG_OUTPUT_HTML;
        req.asOf = row->asOf;
        req.patientId = row->patientId;
        req.sourceName = "view";
        std::string html;
        try {
            html = s_.engine->render(req);
        } catch (const ppmg::Exception& e) {
            return pluginFailure(response, e);
        }
        response.set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'");
        response.set("Referrer-Policy", "no-referrer");
        send(response, 200, "text/html; charset=utf-8", html);
    }

    void render(HTTPServerRequest& request, HTTPServerResponse& response) {
        std::string data;
        if (!body(request, response, data)) return;
        ppmg::Request req;
        req.data = data;
        req.sourceName = "request";
        req.asOf = s_.config.asOf;
        std::string format = "cda";
        for (const auto& kv : query_) {
            if (kv.first == "format")
                format = kv.second;
            else if (kv.first == "patient")
                req.patientId = kv.second;
            else if (kv.first == "asOf" || kv.first == "as-of")
                req.asOf = kv.second;
        }
        if (format != "cda" && format != "html") {
            send(response, 400, "application/fhir+json",
                 operationOutcome("error", "invalid", "format must be cda or html."));
            return;
        }
        req.outputFormat = format == "html" ? PPMG_OUTPUT_HTML : PPMG_OUTPUT_CDA;
        // A FHIR media type names the format; any other (application/xml, a C-CDA document, ...) is
        // recognised by its content.
        const std::string type = request.getContentType();
        if (type.find("fhir+xml") != std::string::npos)
            req.inputFormat = PPMG_INPUT_FHIR_XML;
        else if (type.find("fhir+json") != std::string::npos)
            req.inputFormat = PPMG_INPUT_FHIR_JSON;
        std::string out;
        try {
            out = s_.engine->render(req);
        } catch (const ppmg::Exception& e) {
            return pluginFailure(response, e);
        }
        send(response, 200, format == "html" ? "text/html; charset=utf-8" : "application/xml; charset=utf-8", out);
    }

    void pluginFailure(HTTPServerResponse& response, const ppmg::Exception& e) {
        int status = 500;
        const char* code = "exception";
        switch (e.status()) {
            case PPMG_E_NO_PATIENT:
            case PPMG_E_AMBIGUOUS_PATIENT:
                status = 412;
                code = "required";
                break;
            case PPMG_E_LIMIT:
                status = 413;
                code = "too-costly";
                break;
            case PPMG_E_INVALID_ARGUMENT:
            case PPMG_E_PARSE:
            case PPMG_E_NOT_FHIR:
            case PPMG_E_ENCODING:
            case PPMG_E_UNSUPPORTED:
                status = 400;
                code = "invalid";
                break;
            default: break;
        }
        x_.error = std::string("plugin: ") + (status == 500 ? e.what() : "input refused");
        std::string text = status == 500 ? "The service failed; the error is logged." : std::string(e.what());
        if (status != 500 && !e.fhirPath().empty()) text += " (at " + e.fhirPath() + ")";
        send(response, status, "application/fhir+json",
             operationOutcome(status == 500 ? "fatal" : "error", code, text));
    }

    // ---- responses and the log ---------------------------------------------------------

    void send(HTTPServerResponse& response, int status, const std::string& type, const std::string& content) {
        response.setStatusAndReason(HTTPResponse::HTTPStatus(status));
        response.set("PPMG-Content-Version", s_.facts.contentVersion);
        response.set("X-Request-Id", std::to_string(x_.id));
        response.set("Cache-Control", "no-store");
        response.set("X-Content-Type-Options", "nosniff");
        response.set("Access-Control-Allow-Origin", "*");
        response.set("Access-Control-Expose-Headers", "PPMG-Content-Version, X-Request-Id, WWW-Authenticate");
        if (!type.empty()) response.setContentType(type);
        x_.status = status;
        x_.bytesOut = content.size();
        if (x_.method == "HEAD") {
            response.setContentLength64(Poco::Int64(content.size()));
            response.send();
            return;
        }
        response.sendBuffer(content.data(), content.size());
    }

    void finish(const HTTPServerRequest& request, Clock::time_point t0) {
        if (!s_.log->enabled()) return;
        const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        JsonWriter j;
        j.open('{');
        j.field("time", isoNow());
        j.key("id").num(static_cast<long long>(x_.id));
        j.field("remote", request.clientAddress().toString());
        j.field("method", x_.method.substr(0, 16));
        j.field("path", x_.path.substr(0, 200));
        j.key("status").num(x_.status);
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.3f", ms);
        j.key("ms").raw(buf);
        j.key("bytesIn").num(static_cast<long long>(x_.bytesIn));
        j.key("bytesOut").num(static_cast<long long>(x_.bytesOut));
        j.field("auth", x_.auth);
        if (!x_.authDetail.empty()) j.field("authDetail", x_.authDetail);
        if (!x_.issuer.empty()) j.field("iss", x_.issuer);
        if (!x_.kid.empty()) j.field("kid", x_.kid);
        if (!x_.jti.empty()) j.field("jti", x_.jti);
        if (!x_.hook.empty()) j.field("hook", x_.hook);
        if (!x_.hookInstance.empty()) j.field("hookInstance", x_.hookInstance);
        if (x_.cards >= 0) j.key(x_.path == kFeedbackPath ? "feedback" : "cards").num(x_.cards);
        if (!x_.indicator.empty()) j.field("indicator", x_.indicator);
        if (!x_.error.empty()) j.field("error", x_.error.substr(0, 300));
        j.close('}');
        s_.log->write(j.out);
    }

    Service& s_;
    Exchange x_;
    Poco::URI::QueryParameters query_;
    Clock::time_point deadline_;
};

class Factory : public Poco::Net::HTTPRequestHandlerFactory {
public:
    explicit Factory(Service& s) : s_(s) {}
    Poco::Net::HTTPRequestHandler* createRequestHandler(const HTTPServerRequest&) override { return new Handler(s_); }

private:
    Service& s_;
};

}  // namespace

int runServer(const ServerConfig& config, const ppmg::Engine& engine, std::shared_ptr<const KeyStore> keys,
              const ContentFacts& facts) {
    Service s;
    s.config = config;
    s.engine = &engine;
    s.facts = facts;
    s.discovery = discoveryJson(facts);
    s.log = std::make_unique<AccessLog>(config.accessLog);
    s.verifier = std::make_unique<JwtVerifier>(std::move(keys), config.auth);
    s.scale = std::make_unique<ScaleServices>(config.scale, facts, "ppmg serve " + config.listen);
    if (config.scale.replayCache != "memory") s.verifier->setReplayGuard(s.scale->replayGuard());
    if (!config.publicUrl.empty()) {
        s.publicBase = config.publicUrl;
        while (!s.publicBase.empty() && s.publicBase.back() == '/') s.publicBase.pop_back();
        try {
            Poco::URI u(s.publicBase);
            if (u.getScheme() != "http" && u.getScheme() != "https") throw std::runtime_error("");
            s.publicPath = u.getPath();
            while (!s.publicPath.empty() && s.publicPath.back() == '/') s.publicPath.pop_back();
        } catch (...) {
            throw std::runtime_error("--public-url must be an absolute http(s) URL, got \"" + config.publicUrl + "\"");
        }
    }

    Poco::Net::SocketAddress address;
    try {
        address = Poco::Net::SocketAddress(config.listen);
    } catch (const Poco::Exception& e) {
        throw std::runtime_error("--listen must be HOST:PORT, got \"" + config.listen + "\" (" + e.displayText() + ")");
    }
    Poco::Net::ServerSocket socket;
    s.tls = !config.tlsCert.empty();
    try {
        if (s.tls) {
            Poco::Net::initializeSSL();
            Poco::Net::Context::Params p;
            p.privateKeyFile = config.tlsKey;
            p.certificateFile = config.tlsCert;
            p.verificationMode = Poco::Net::Context::VERIFY_NONE;
            p.loadDefaultCAs = false;
            p.cipherList = "HIGH:!aNULL:!eNULL:!MD5:!RC4:!3DES";
            Poco::Net::Context::Ptr ctx = new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE, p);
            ctx->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
            ctx->preferServerCiphers();
            Poco::Net::SecureServerSocket secure(ctx);
            secure.bind(address, true, false);
            secure.listen(128);
            socket = secure;
        } else {
            // SO_REUSEADDR but not SO_REUSEPORT (Poco's one-step constructor sets both, which would
            // let a second server share the port silently).
            socket.bind(address, true, false);
            socket.listen(128);
        }
    } catch (const Poco::Exception& e) {
        throw std::runtime_error("cannot listen on " + config.listen + ": " + e.displayText());
    }
    const Poco::Net::SocketAddress bound = socket.address();
    s.listenAuthority = bound.toString();
    s.authorities.push_back(s.listenAuthority);
    if (bound.host().isLoopback()) {
        const std::string port = std::to_string(bound.port());
        for (const char* h : {"localhost:", "127.0.0.1:", "[::1]:"}) s.authorities.push_back(h + port);
    }

    Poco::Net::HTTPServerParams::Ptr params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(config.threads);
    params->setMaxQueued(config.maxQueued);
    params->setThreadIdleTime(Poco::Timespan(60, 0));
    params->setTimeout(Poco::Timespan(config.requestTimeoutSeconds, 0));
    params->setKeepAlive(true);
    params->setKeepAliveTimeout(Poco::Timespan(config.keepAliveSeconds, 0));
    params->setMaxKeepAliveRequests(config.maxKeepAliveRequests);
    params->setSoftwareVersion("ppmg/" + facts.pluginVersion);
    Poco::ThreadPool pool("ppmg-serve", 2, config.threads + 1, 60);
    Poco::Net::HTTPServer server(new Factory(s), pool, socket, params);
    server.start();

    const std::string scheme = s.tls ? "https" : "http";
    std::cerr << "ppmg serve: listening on " << scheme << "://" << s.listenAuthority << " (" << config.threads
              << " workers, queue " << config.maxQueued << "; content " << facts.contentVersion << ", ppmg "
              << facts.pluginVersion << ")" << std::endl;
    std::cerr << "ppmg serve: service " << (s.publicBase.empty() ? scheme + "://" + s.listenAuthority : s.publicBase)
              << kServicePath << std::endl;
    if (config.insecureNoAuth) std::cerr << kWarnInsecure << std::endl;

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    int sig = 0;
    sigwait(&set, &sig);

    std::cerr << "ppmg serve: " << (sig == SIGINT ? "SIGINT" : "SIGTERM")
              << ": stopping; finishing the requests in progress" << std::endl;
    const auto deadline = Clock::now() + std::chrono::seconds(config.shutdownTimeoutSeconds);
    // stopAll(false) closes idle connections and waits, per connection, for a request in progress.
    std::thread stopper([&server] { server.stopAll(false); });
    while (server.currentThreads() > 0 && Clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (server.currentThreads() > 0) {
        // Still busy after --shutdown-timeout: leave now (the access log is written line by line,
        // so nothing logged is lost); the cut-off clients see their connection close.
        std::cerr << "ppmg serve: " << server.currentThreads()
                  << " connection(s) still busy after --shutdown-timeout; exiting" << std::endl;
        std::fflush(nullptr);
        std::_Exit(1);
    }
    stopper.join();
    pool.joinAll();
    std::cerr << "ppmg serve: stopped after " << s.requestCounter.load() << " request(s)" << std::endl;
    return 0;
}

}  // namespace ppmg::cds
