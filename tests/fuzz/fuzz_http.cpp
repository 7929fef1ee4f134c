// libFuzzer target: the HTTP request path of `ppmg serve`, through to the hook handler. The input
// is what a client sends on a connection: the head is found and parsed as the server's I/O thread
// does (http_message), then the request goes to the service as a worker hands it over: /healthz
// inline, the rest to CdsService::handle, which reads the body (Content-Length or chunked), the
// hook call and its prefetch, assesses on the plugin (through the C ABI, as `ppmg serve` does) and
// builds the cards. JWT checks are off (--insecure-no-auth), so that every input reaches the hook.
//
// Invariants: a refused head gets one of the statuses the parser may give; a response has a
// status of 2xx or 4xx (a 5xx is a failure of the service) and a head no field value can split;
// a JSON answer is well-formed JSON; the cards of a 200 answer each have a summary of at most 140
// characters and a known indicator.
#include <simdjson.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "cds_server.hpp"
#include "fuzz_common.hpp"
#include "http_message.hpp"
#include "http_server.hpp"

extern "C" const ppmg_plugin_entry ppmg_entry;

namespace {

using namespace ppmg::cds;

const ppmg::Engine& engine() {
    static const ppmg::Engine e = [] {
        const auto* api = static_cast<const ppmg_core_api_v1*>(ppmg_entry.get_api(PPMG_CORE_API_ID));
        if (!api) ppmg::fuzz::bug("the plugin has no core API");
        ppmg_engine_options o{};
        o.struct_size = sizeof o;
        o.content_dir = PPMG_SOURCE_CONTENT_DIR;
        o.limits.max_string_bytes = 4096;
        o.limits.max_resources = 64;
        return ppmg::Engine(*api, &o);
    }();
    return e;
}

CdsService& service() {
    static CdsService s = [] {
        ServerConfig c;
        c.insecureNoAuth = true;
        c.warnEveryRequest = false;
        c.asOf = "2025-11-15";
        c.accessLog = "off";
        c.maxBodyBytes = 256u << 10;
        c.guidanceUrl = "https://guidance.example.org/ppmg";
        // The store of calls and feedback: a SQLite file of this process, removed at exit.
        static const std::string db = "/tmp/ppmg-fuzz-http-" + std::to_string(::getpid()) + ".db";
        std::atexit([] { std::remove(db.c_str()); });
        c.scale.store = "sqlite:" + db;
        c.scale.contentDir = PPMG_SOURCE_CONTENT_DIR;
        const ppmg_content_info info = engine().info();
        const ContentFacts facts{info.content_version ? info.content_version : "",
                                 info.content_sha256 ? info.content_sha256 : "",
                                 info.plugin_version ? info.plugin_version : ""};
        return CdsService(c, engine(), std::make_shared<KeyStore>(), facts);
    }();
    static const bool listening = (s.setListening("127.0.0.1:8080", false), true);
    (void)listening;
    return s;
}

size_t codePoints(std::string_view t) {
    size_t n = 0;
    for (unsigned char c : t)
        if ((c & 0xC0) != 0x80) ++n;
    return n;
}

void checkResponse(const HttpRequest& request, const HttpResponse& r) {
    static const bool verbose = std::getenv("PPMG_FUZZ_HTTP_VERBOSE") != nullptr;
    if (verbose)
        std::fprintf(stderr, "fuzz_http: %s %s -> %d %s\n", request.method.c_str(), request.target.c_str(), r.status,
                     r.body.substr(0, 160).c_str());
    if (r.status < 200 || r.status > 599) ppmg::fuzz::bug("status " + std::to_string(r.status));
    if (r.status >= 500) ppmg::fuzz::bug("the service failed (status " + std::to_string(r.status) + "): " + r.body);
    // Every line of the head is the status line or one "Name: value" field.
    const std::string head = responseHead(r, request.minorVersion, true, "ppmg/fuzz");
    size_t lines = 0;
    for (size_t pos = 0; pos < head.size();) {
        const size_t end = head.find("\r\n", pos);
        if (end == std::string::npos) ppmg::fuzz::bug("a response head without CRLF");
        const std::string_view line(head.data() + pos, end - pos);
        if (line.find('\n') != std::string_view::npos || line.find('\r') != std::string_view::npos)
            ppmg::fuzz::bug("a bare CR or LF in the response head");
        if (lines++ > 0 && !line.empty() && line.find(": ") == std::string_view::npos)
            ppmg::fuzz::bug("a response header line without a field name");
        pos = end + 2;
    }
    if (r.contentType.find("json") == std::string::npos || request.method == "HEAD") return;
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (parser.parse(r.body).get(doc) != simdjson::SUCCESS) ppmg::fuzz::bug("a JSON answer is not JSON");
    simdjson::dom::array cards;
    if (r.status != 200 || doc["cards"].get_array().get(cards) != simdjson::SUCCESS) return;
    if (cards.size() == 0) ppmg::fuzz::bug("no card at all");
    for (simdjson::dom::element card : cards) {
        std::string_view summary, indicator;
        if (card["summary"].get_string().get(summary) != simdjson::SUCCESS || summary.empty() ||
            codePoints(summary) > 140)
            ppmg::fuzz::bug("a card's summary is missing or longer than 140 characters");
        if (card["indicator"].get_string().get(indicator) != simdjson::SUCCESS ||
            (indicator != "info" && indicator != "warning" && indicator != "critical"))
            ppmg::fuzz::bug("a card's indicator is not info, warning or critical");
    }
}

}  // namespace

int ppmgFuzzHttp(const uint8_t* data, size_t size) {
    std::string pending(reinterpret_cast<const char*>(data), size);
    // Requests on one connection, as the I/O thread reads them (at most a few per input).
    for (int n = 0; n < 4; ++n) {
        skipLeadingEmptyLines(pending);
        const size_t end = findHeadEnd(pending);
        if (end == 0) return 0;
        HttpRequest request;
        HeadError err;
        const bool ok = parseRequestHead(std::string_view(pending).substr(0, end), request, err);
        pending.erase(0, end);
        if (!ok) {
            switch (err.status) {
                case 400:
                case 414:
                case 417:
                case 431:
                case 501:
                case 505: break;
                default: ppmg::fuzz::bug("a head refused with status " + std::to_string(err.status));
            }
            if (err.reason.empty()) ppmg::fuzz::bug("a refusal without a reason");
            return 0;  // the connection is closed
        }
        request.remote = "127.0.0.1:40000";
        HttpResponse inlineAnswer;
        if (!request.hasBody() && service().answerInline(request, inlineAnswer)) {
            checkResponse(request, inlineAnswer);
            continue;
        }
        // The whole input has arrived: the body reader sees its end instead of waiting.
        HttpExchange x(
            request, pending, Clock::now() + std::chrono::seconds(60),
            [](std::string&, Clock::time_point) { return 0L; }, nullptr);
        service().handle(x);
        checkResponse(x.request(), x.response);
        if (x.response.close || x.bodyFailed()) return 0;
        if (!x.bodyDone()) {
            // The server drops an unread body before the next request.
            BodyDecoder rest = x.decoder();
            if (rest.consume(pending, nullptr, 256u << 10) != BodyDecoder::Step::Done) return 0;
        }
    }
    return 0;
}

PPMG_FUZZ_TARGET(ppmgFuzzHttp)
