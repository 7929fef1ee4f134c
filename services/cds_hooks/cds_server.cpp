#include "cds_server.hpp"

#include <Poco/URI.h>

#include <malloc.h>
#include <pthread.h>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "cds_text.hpp"
#include "cds_view.hpp"
#include "json_writer.hpp"
#include "ppmg/ppmg.hpp"

namespace ppmg::cds {

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
// A request whose body is larger is worked on a thread of its own, which ends with it: the
// per-thread parsers (the plugin's and the service's) grow to the largest input a thread has
// read, and a worker would keep that memory for good.
constexpr size_t kOwnThreadBytes = 1u << 20;

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

// Runs fn on a thread of its own when `own`, else here; its exceptions pass through.
template <class Fn>
auto runOn(bool own, Fn&& fn) -> decltype(fn()) {
    if (!own) return fn();
    decltype(fn()) result{};
    std::exception_ptr error;
    std::thread t([&] {
        try {
            result = fn();
        } catch (...) {
            error = std::current_exception();
        }
    });
    t.join();
    if (error) std::rethrow_exception(error);
    return result;
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

// What is logged of one request.
struct Exchange {
    uint64_t id = 0;
    std::string remote, method, path;
    int status = 0;
    size_t bytesIn = 0, bytesOut = 0;
    std::string auth = "none", issuer, kid, jti, authDetail, subject;
    std::string hook, hookInstance, indicator, error;
    long cards = -1;
};

}  // namespace

// What the service shares between its threads; immutable once serving, but for the verifier's
// replay cache, the counter and the log (each thread-safe).
struct CdsService::State {
    ServerConfig config;
    const ppmg::Engine* engine = nullptr;
    ContentFacts facts;
    ContentTexts texts;  // the content's words (from a start-up assessment)
    std::string discovery;
    std::string publicBase;  // --public-url without a trailing slash
    std::string publicPath;  // its path ("" or "/prefix")
    std::string base;        // publicBase, else the URL the server listens on
    std::unique_ptr<JwtVerifier> verifier;
    std::unique_ptr<AccessLog> log;
    std::unique_ptr<ScaleServices> scale;  // the store and audit, fetching, the replay cache, view links
    std::atomic<uint64_t> requestCounter{0};
    Clock::time_point started = Clock::now();
};

namespace {

using State = CdsService::State;

// One request: routing, authentication, the endpoints, the log line.
class Handler {
public:
    Handler(State& s, const HttpRequest& request, HttpResponse& response, HttpExchange* exchange)
        : s_(s), request_(request), response_(response), exchange_(exchange) {
        t0_ = Clock::now();
        x_.id = ++s_.requestCounter;
        x_.method = request.method;
        x_.path = request.path;
        x_.remote = request.remote;
        if (s_.config.insecureNoAuth && s_.config.warnEveryRequest) {
            const std::string line =
                std::string(kWarnInsecure) + " (" + x_.method + " " + x_.path.substr(0, 200) + ")\n";
            std::fwrite(line.data(), 1, line.size(), stderr);  // one write: lines from threads never mix
        }
    }

    void run() {
        try {
            route();
        } catch (const std::exception& e) {
            x_.error = std::string("internal: ") + e.what();
            response_ = HttpResponse{};
            send(500, "application/fhir+json",
                 operationOutcome("fatal", "exception", "The service failed; the error is logged."));
        }
        finish();
    }

    // GET /healthz on the I/O thread; false for any other request.
    bool answerHealth() {
        if (routePath() != "/healthz" || (x_.method != "GET" && x_.method != "HEAD")) return false;
        health();
        finish();
        return true;
    }

    // A refusal of the HTTP layer, as an OperationOutcome.
    void refusal(const std::string& reason) {
        const int status = response_.status;
        const char* code = "invalid";
        switch (status) {
            case 408: code = "timeout"; break;
            case 413:
            case 414:
            case 431: code = "too-costly"; break;
            case 501:
            case 505: code = "not-supported"; break;
            case 503: code = "transient"; break;
            default: break;
        }
        x_.error = "http: " + reason;
        send(status, "application/fhir+json",
             operationOutcome("error", code, std::string(reasonPhrase(status)) + ": " + reason + "."));
        finish();
    }

private:
    // ---- routing -----------------------------------------------------------------------

    std::string routePath() const {
        std::string path = x_.path;
        if (!s_.publicPath.empty() && path.compare(0, s_.publicPath.size(), s_.publicPath) == 0 &&
            (path.size() == s_.publicPath.size() || path[s_.publicPath.size()] == '/'))
            path.erase(0, s_.publicPath.size());
        while (path.size() > 1 && path.back() == '/') path.pop_back();
        return path;
    }

    void route() {
        const std::string path = routePath();
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
        if (!found)
            return send(404, "application/fhir+json", operationOutcome("error", "not-found", "No such endpoint."));
        if (m == "OPTIONS") {  // CORS preflight
            response_.set("Access-Control-Allow-Methods", std::string(found->method) + ", OPTIONS");
            response_.set("Access-Control-Allow-Headers", "Authorization, Content-Type");
            response_.set("Access-Control-Max-Age", "600");
            return send(204, "", "");
        }
        const bool head = m == "HEAD" && std::string(found->method) == "GET";
        if (m != found->method && !head) {
            response_.set("Allow", std::string(found->method) + ", OPTIONS");
            return send(405, "application/fhir+json",
                        operationOutcome("error", "not-supported",
                                         "Method not allowed; use " + std::string(found->method) + "."));
        }
        if (path == "/healthz") return health();
        if (path == "/cds-services") return send(200, "application/json", s_.discovery);
        if (path == "/about") return about();
        if (found == &viewRoute) return view(path.substr(6));
        // The rest needs the caller's JWT, checked before the body is read (an unread body is
        // read and dropped by the HTTP layer, off the worker).
        if (!authenticate(path)) return;
        if (path == kServicePath) return service();
        if (path == kFeedbackPath) return feedback();
        return render();
    }

    // ---- authentication ----------------------------------------------------------------

    bool authenticate(const std::string& routePath) {
        if (s_.config.insecureNoAuth) {
            x_.auth = "insecure-no-auth";
            return true;
        }
        const std::string header = request_.get("authorization");
        const int64_t now =
            std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
                .count();
        // The one audience: the configured public URL of the endpoint (never the client's Host).
        std::vector<std::string> audiences;
        if (!s_.publicBase.empty()) audiences.push_back(s_.publicBase + routePath);
        AuthResult r = s_.verifier->verify(header, audiences, now);
        x_.auth = authFailureCode(r.failure);
        x_.issuer = r.issuer.substr(0, 200);
        x_.kid = r.kid.substr(0, 100);
        x_.jti = r.jti.substr(0, 100);
        x_.authDetail = r.detail;
        x_.subject = r.subject;
        if (r.ok()) return true;
        // Refused: the answer says nothing about the request's content.
        const bool busy = r.failure == AuthFailure::Busy;
        std::string description = busy ? "try again later" : authFailureCode(r.failure);
        if (!busy)
            response_.set("WWW-Authenticate",
                          "Bearer error=\"invalid_token\", error_description=\"" + description + "\"");
        send(busy ? 503 : 401, "application/fhir+json",
             operationOutcome("error", busy ? "transient" : "security",
                              busy ? "The service is busy; try again later."
                                   : "Authentication failed (" + description +
                                         "): every call needs a current JWT (ES384 or RS384) from a configured "
                                         "issuer, with aud set to the URL called."));
        return false;
    }

    // Reads the body or answers the failure (413, 408, 400); false when it answered.
    bool body(std::string& out) {
        const BodyStatus b = exchange_->readBody(out, s_.config.maxBodyBytes);
        x_.bytesIn = size_t(exchange_->bodyBytes());
        if (b == BodyStatus::Ok) return true;
        response_.close = true;
        if (b == BodyStatus::TooLarge) {
            x_.error = "body-too-large";
            send(413, "application/fhir+json",
                 operationOutcome("error", "too-costly",
                                  "The request body exceeds " + std::to_string(s_.config.maxBodyBytes) + " bytes."));
        } else if (b == BodyStatus::Timeout) {
            x_.error = "body-timeout";
            send(408, "application/fhir+json",
                 operationOutcome("error", "timeout", "The request did not arrive in time."));
        } else {
            x_.error = "body-unreadable";
            send(400, "application/fhir+json",
                 operationOutcome("error", "incomplete", "The request body is incomplete."));
        }
        return false;
    }

    // ---- endpoints ---------------------------------------------------------------------

    void health() {
        JsonWriter j;
        j.open('{');
        j.field("status", "ok");
        j.key("uptimeSeconds").num(std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - s_.started).count());
        j.field("pluginVersion", s_.facts.pluginVersion);
        j.key("content").raw(contentExtensionJson(s_.facts));
        j.key("authentication").str(s_.config.insecureNoAuth ? "disabled (--insecure-no-auth)" : "jwt");
        if (s_.scale) {
            j.field("store", s_.scale->store().kind());
            j.field("replayCache", s_.scale->replayGuard()->describe());
            j.key("fhirFetch").boolean(s_.scale->fetcher().enabled());
        }
        j.close('}');
        send(200, "application/json", j.out);
    }

    void about() {
        auto html = [](std::string s) {
            std::string out;
            for (char c : s) {
                if (c == '<')
                    out += "&lt;";
                else if (c == '>')
                    out += "&gt;";
                else if (c == '&')
                    out += "&amp;";
                else if (c == '"')
                    out += "&quot;";
                else
                    out.push_back(c);
            }
            return out;
        };
        const std::string title = html("ppmg: " + s_.texts.text("document-title"));
        std::string page = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>" + title +
                           "</title></head><body><h1>" + title + "</h1>";
        if (s_.texts.draft) page += "<p><strong>" + html(s_.texts.text("draft-notice")) + "</strong></p>";
        page += "<p>A CDS Hooks 2.0 service. " + html(s_.texts.text("service-description")) +
                " Every card names the rule that produced it and the patient data that triggered it.</p><ul><li>ppmg " +
                html(s_.facts.pluginVersion) + "</li><li>Content " + html(s_.facts.contentVersion) +
                "</li><li>Content SHA-256 " + html(s_.facts.contentSha256) +
                "</li></ul><p>Discovery: <a href=\"cds-services\">cds-services</a>.</p></body></html>";
        send(200, "text/html; charset=utf-8", page);
    }

    CardOptions cardOptions() const {
        CardOptions o;
        o.facts = s_.facts;
        o.sourceUrl = s_.config.sourceUrl.empty() ? s_.base + "/about" : s_.config.sourceUrl;
        o.guidanceUrl = s_.config.guidanceUrl;
        return o;
    }

    void service() {
        std::string data;
        if (!body(data)) return;
        ScaleServices& scale = *s_.scale;
        CallFacts call;
        call.issuer = x_.issuer;
        call.subject = x_.subject;
        call.clientAddress = request_.client;
        call.asOf = s_.config.asOf.empty() ? todayUtc() : s_.config.asOf;
        // A call over 1 MiB is worked on a thread of its own (see kOwnThreadBytes).
        const bool own = data.size() > kOwnThreadBytes;
        HookRequest hook = runOn(own, [&] { return readHookRequest(data); });
        x_.hook = hook.hook.substr(0, 64);
        x_.hookInstance = hook.hookInstance;
        call.hook = x_.hook;
        call.hookInstance = hook.hookInstance;
        if (hook.status == 400) {  // not a hook call of this service: nothing is fetched for it
            x_.error = "hook-request";
            return refuseCall(call, 400, "invalid", hook.problem);
        }
        // What the prefetch lacks, fetched from the call's fhirServer (only one under --fhir-allow).
        ScaleServices::Prepared prepared = scale.prepare(data, call.asOf);
        call.dataSource = prepared.dataSource;
        call.patientId = hook.patientId.empty() ? prepared.patientId : hook.patientId;
        if (prepared.status != 0) {
            x_.error = "fetch";
            return refuseCall(call, prepared.status, "required", prepared.problem);
        }
        if (prepared.fetched) {
            hook = runOn(own || prepared.body.size() > kOwnThreadBytes, [&] { return readHookRequest(prepared.body); });
            call.patientId = hook.patientId;
        }
        if (hook.status != 0) {
            x_.error = "hook-request";
            return refuseCall(call, hook.status, hook.status == 412 ? "required" : "invalid", hook.problem);
        }
        std::string assessment;
        Cards cards;
        try {
            // The assessment and the cards, for context.patientId only.
            std::tie(assessment, cards) = runOn(own || hook.bundle.size() > kOwnThreadBytes, [&] {
                ppmg::Request req;
                req.data = hook.bundle;
                req.inputFormat = PPMG_INPUT_FHIR_JSON;
                req.outputFormat = PPMG_OUTPUT_JSON;
                req.asOf = call.asOf;
                req.patientId = hook.patientId;
                req.sourceName = call.dataSource;
                std::string a = s_.engine->assess(req);
                CardOptions options = cardOptions();
                options.patientId = hook.patientId;
                Cards c = cardsFromAssessment(a, options);
                return std::make_pair(std::move(a), std::move(c));
            });
        } catch (const ppmg::Exception& e) {
            pluginFailure(e);
            auditQuietly(call, x_.status, "the plugin refused the record");
            return;
        }
        x_.cards = long(cards.count);
        x_.indicator = cards.indicator;
        std::string out;
        try {
            // Recorded (AuditEvent, cards, view link) before anything is answered.
            out = scale.issue(cards.json, assessment, hook.bundle, call, s_.base);
        } catch (const StoreError& e) {
            return storeUnavailable(e);
        }
        send(200, "application/json", out);
    }

    // A refused hook call: audited, then answered with an OperationOutcome.
    void refuseCall(const CallFacts& call, int status, const char* code, const std::string& problem) {
        auditQuietly(call, status, problem.substr(0, 300));
        send(status, "application/fhir+json", operationOutcome("error", code, problem));
    }

    void auditQuietly(const CallFacts& call, int status, const std::string& why) {
        try {
            s_.scale->auditRefusal(call, status, why);
        } catch (const StoreError& e) {
            x_.error += std::string(x_.error.empty() ? "" : "; ") + "audit not stored: " + e.what();
        }
    }

    void storeUnavailable(const StoreError& e) {
        x_.error = std::string("store: ") + e.what();
        response_.set("Retry-After", "1");
        send(503, "application/fhir+json",
             operationOutcome("error", "transient", "The service cannot record the call now; try again later."));
    }

    void feedback() {
        std::string data;
        if (!body(data)) return;
        std::pair<int, std::string> r;
        try {
            r = s_.scale->feedback(data, x_.issuer, x_.subject);
        } catch (const StoreError& e) {
            return storeUnavailable(e);
        }
        if (r.first != 200) {
            x_.error = "feedback";
            return send(r.first, "application/fhir+json", operationOutcome("error", "invalid", r.second));
        }
        size_t items = 0;
        for (size_t pos = 0; (pos = data.find("\"outcome\"", pos)) != std::string::npos; ++pos) ++items;
        x_.cards = long(items);
        send(200, "application/json", "{}");
    }

    // GET /view/{token}: the guidance for one decision, as a page. No token is needed beyond the
    // link's own (unguessable, short-lived, only its digest stored); unknown or expired: 404.
    void view(const std::string& rest) {
        std::optional<ViewRow> row;
        try {
            row = s_.scale->view(rest);
        } catch (const StoreError& e) {
            return storeUnavailable(e);
        }
        // A decision made with other content (a replica not yet upgraded, or since) is not shown
        // with this one: the page could then differ from the card.
        if (row && row->contentSha != s_.facts.contentSha256) {
            x_.error = "view: made with other content";
            row.reset();
        }
        if (!row)
            return send(404, "application/fhir+json",
                        operationOutcome("error", "not-found", "No such page, or its link has expired."));
        std::string record;
        try {
            record = unpackRecord(row->record, s_.config.maxBodyBytes * 4);
        } catch (const std::exception& e) {
            x_.error = std::string("view: ") + e.what();
            return send(500, "application/fhir+json",
                        operationOutcome("fatal", "exception", "The service failed; the error is logged."));
        }
        ppmg::Request req;
        req.data = record;
        req.inputFormat = PPMG_INPUT_FHIR_JSON;
        req.outputFormat = PPMG_OUTPUT_HTML;
        req.asOf = row->asOf;
        req.patientId = row->patientId;
        req.sourceName = "view";
        // The card's handout links add audience=patient&lang=...; the page is the clinician's by default.
        for (const auto& kv : parseQuery(request_.query))
            if (!readAudience(kv.first, kv.second, req)) return;
        std::string html;
        try {
            html = runOn(record.size() > kOwnThreadBytes, [&] { return s_.engine->render(req); });
        } catch (const ppmg::Exception& e) {
            return pluginFailure(e);
        }
        response_.set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'");
        response_.set("Referrer-Policy", "no-referrer");
        send(200, "text/html; charset=utf-8", html);
    }

    // `audience=clinician|patient` and `lang=en|zh-CN` (the engine refuses a language the content
    // lacks). False when the answer (400) has been sent.
    bool readAudience(const std::string& key, const std::string& value, ppmg::Request& req) {
        if (key == "audience") {
            if (value == "patient")
                req.audience = PPMG_AUDIENCE_PATIENT;
            else if (value == "clinician")
                req.audience = PPMG_AUDIENCE_CLINICIAN;
            else {
                send(400, "application/fhir+json",
                     operationOutcome("error", "invalid",
                                      "audience: not a value this service knows (docs/patient-handout.md)."));
                return false;
            }
        } else if (key == "lang") {
            req.language = value;
        }
        return true;
    }

    void render() {
        std::string data;
        if (!body(data)) return;
        ppmg::Request req;
        req.data = data;
        req.sourceName = "request";
        req.asOf = s_.config.asOf;
        std::string format = "cda";
        for (const auto& kv : parseQuery(request_.query)) {
            if (kv.first == "format")
                format = kv.second;
            else if (kv.first == "patient")
                req.patientId = kv.second;
            else if (kv.first == "asOf" || kv.first == "as-of")
                req.asOf = kv.second;
            else if (!readAudience(kv.first, kv.second, req))
                return;
        }
        if (format != "cda" && format != "html")
            return send(400, "application/fhir+json",
                        operationOutcome("error", "invalid", "format must be cda or html."));
        req.outputFormat = format == "html" ? PPMG_OUTPUT_HTML : PPMG_OUTPUT_CDA;
        // A FHIR media type names the format; any other (application/xml, a C-CDA document, ...) is
        // recognised by its content.
        const std::string type = request_.get("content-type");
        if (type.find("fhir+xml") != std::string::npos)
            req.inputFormat = PPMG_INPUT_FHIR_XML;
        else if (type.find("fhir+json") != std::string::npos)
            req.inputFormat = PPMG_INPUT_FHIR_JSON;
        std::string out;
        try {
            out = runOn(data.size() > kOwnThreadBytes, [&] { return s_.engine->render(req); });
        } catch (const ppmg::Exception& e) {
            return pluginFailure(e);
        }
        send(200, format == "html" ? "text/html; charset=utf-8" : "application/xml; charset=utf-8", out);
    }

    void pluginFailure(const ppmg::Exception& e) {
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
        send(status, "application/fhir+json", operationOutcome(status == 500 ? "fatal" : "error", code, text));
    }

    // ---- responses and the log ---------------------------------------------------------

    void send(int status, const std::string& type, const std::string& content) {
        response_.status = status;
        response_.set("PPMG-Content-Version", s_.facts.contentVersion);
        response_.set("X-Request-Id", std::to_string(x_.id));
        response_.set("Cache-Control", "no-store");
        response_.set("X-Content-Type-Options", "nosniff");
        response_.set("Access-Control-Allow-Origin", "*");
        response_.set("Access-Control-Expose-Headers", "PPMG-Content-Version, X-Request-Id, WWW-Authenticate");
        response_.contentType = type;
        response_.body = content;
        x_.status = status;
        x_.bytesOut = content.size();
    }

    void finish() {
        if (!s_.log->enabled()) return;
        const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0_).count();
        JsonWriter j;
        j.open('{');
        j.field("time", isoNow());
        j.key("id").num(static_cast<long long>(x_.id));
        j.field("remote", x_.remote);
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

    State& s_;
    const HttpRequest& request_;
    HttpResponse& response_;
    HttpExchange* exchange_;
    Exchange x_;
    Clock::time_point t0_;
};

}  // namespace

CdsService::CdsService(const ServerConfig& config, const ppmg::Engine& engine, std::shared_ptr<const KeyStore> keys,
                       const ContentFacts& facts)
    : s_(std::make_unique<State>()) {
    State& s = *s_;
    s.config = config;
    s.engine = &engine;
    s.facts = facts;
    // The content's words for the discovery document and the cards, from an assessment of a bare
    // Patient (which also proves the engine answers before the server listens).
    ppmg::Request probe;
    probe.data = R"({"resourceType":"Patient","id":"ppmg-start-up"})";
    probe.inputFormat = PPMG_INPUT_FHIR_JSON;
    probe.outputFormat = PPMG_OUTPUT_JSON;
    probe.asOf = config.asOf;
    probe.sourceName = "start-up";
    try {
        s.texts = readContentTexts(engine.assess(probe));
    } catch (const std::exception& e) {
        throw std::runtime_error(std::string("the content cannot be presented: ") + e.what());
    }
    s.discovery = discoveryJson(facts, s.texts);
    s.log = std::make_unique<AccessLog>(config.accessLog);
    s.verifier = std::make_unique<JwtVerifier>(std::move(keys), config.auth);
    s.scale = std::make_unique<ScaleServices>(config.scale, facts, "ppmg serve " + config.listen);
    if (config.scale.replayCache != "memory") s.verifier->setReplayGuard(s.scale->replayGuard());
    if (!config.publicUrl.empty()) {
        s.publicBase = config.publicUrl;
        while (!s.publicBase.empty() && s.publicBase.back() == '/') s.publicBase.pop_back();
        try {
            Poco::URI u(s.publicBase);
            if ((u.getScheme() != "http" && u.getScheme() != "https") || u.getHost().empty() || !u.getQuery().empty() ||
                !u.getFragment().empty())
                throw std::runtime_error("");
            s.publicPath = u.getPath();
            while (!s.publicPath.empty() && s.publicPath.back() == '/') s.publicPath.pop_back();
        } catch (...) {
            throw std::runtime_error("--public-url must be an absolute http(s) URL, got \"" + config.publicUrl + "\"");
        }
    } else if (!config.insecureNoAuth) {
        // The JWT audience is the URL the client calls, which only the configuration may say:
        // a Host field is the client's to choose.
        throw std::runtime_error("--public-url is required (the URL clients call, which each JWT's aud must name)");
    }
    s.base = s.publicBase;
}

CdsService::~CdsService() = default;

void CdsService::setListening(const std::string& authority, bool tls) {
    if (s_->publicBase.empty()) s_->base = std::string(tls ? "https" : "http") + "://" + authority;
}

void CdsService::handle(HttpExchange& exchange) {
    Handler(*s_, exchange.request(), exchange.response, &exchange).run();
}

bool CdsService::answerInline(const HttpRequest& request, HttpResponse& response) {
    return Handler(*s_, request, response, nullptr).answerHealth();
}

void CdsService::refused(const std::string& remote, const HttpRequest* request, HttpResponse& response,
                         const std::string& reason) {
    HttpRequest unread;
    unread.remote = remote;
    unread.method = "-";
    unread.path = "-";
    Handler(*s_, request ? *request : unread, response, nullptr).refusal(reason);
}

uint64_t CdsService::requests() const { return s_->requestCounter.load(); }
const std::string& CdsService::baseUrl() const { return s_->base; }
const std::string& CdsService::servicePath() const { return kServicePath; }

int runServer(const ServerConfig& config, const ppmg::Engine& engine, std::shared_ptr<const KeyStore> keys,
              const ContentFacts& facts) {
    // Blocks of 256 KiB and more come from mmap and go back to the system when freed. (glibc
    // otherwise raises this threshold to the largest block freed, up to 32 MiB, and keeps the
    // memory of large request bodies in its heaps after the requests.)
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);

    CdsService service(config, engine, std::move(keys), facts);
    HttpServerOptions o;
    o.listen = config.listen;
    o.tlsCert = config.tlsCert;
    o.tlsKey = config.tlsKey;
    o.serverName = "ppmg/" + facts.pluginVersion;
    o.workers = config.threads;
    o.maxQueued = config.maxQueued;
    o.maxConnections = config.maxConnections;
    o.maxConnectionsPerClient = config.maxConnectionsPerClient;
    o.maxBodyBytes = config.maxBodyBytes;
    o.headTimeoutSeconds = std::min(config.headerTimeoutSeconds, config.requestTimeoutSeconds);
    o.requestTimeoutSeconds = config.requestTimeoutSeconds;
    o.keepAliveSeconds = config.keepAliveSeconds;
    o.maxKeepAliveRequests = config.maxKeepAliveRequests;
    HttpHandlers h;
    h.handle = [&service](HttpExchange& x) { service.handle(x); };
    h.answerInline = [&service](const HttpRequest& r, HttpResponse& out) { return service.answerInline(r, out); };
    h.refused = [&service](const std::string& remote, const HttpRequest* r, HttpResponse& out,
                           const std::string& reason) { service.refused(remote, r, out, reason); };
    HttpServer server(o, h);
    service.setListening(server.boundAuthority(), server.tls());
    server.start();

    const std::string scheme = server.tls() ? "https" : "http";
    std::cerr << "ppmg serve: listening on " << scheme << "://" << server.boundAuthority() << " (" << config.threads
              << " workers, queue " << config.maxQueued << "; content " << facts.contentVersion << ", ppmg "
              << facts.pluginVersion << ")" << std::endl;
    std::cerr << "ppmg serve: service " << service.baseUrl() << kServicePath << std::endl;
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
    if (!server.stop(deadline)) {
        // Still busy after --shutdown-timeout: leave now (the access log is written line by line,
        // so nothing logged is lost); the cut-off clients see their connection close.
        std::cerr << "ppmg serve: " << server.requestsInProgress()
                  << " request(s) still busy after --shutdown-timeout; exiting" << std::endl;
        std::fflush(nullptr);
        std::_Exit(1);
    }
    std::cerr << "ppmg serve: stopped after " << service.requests() << " request(s)" << std::endl;
    return 0;
}

}  // namespace ppmg::cds
