#include "cds_fetch.hpp"

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SSLException.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/URI.h>
#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <ctime>
#include <map>

#include "json_writer.hpp"

namespace ppmg::cds {

using Clock = std::chrono::steady_clock;
using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

const std::vector<PrefetchKey>& prefetchKeys() {
    static const std::vector<PrefetchKey> keys = {
        {"patient", "Patient"},
        {"conditions", "Condition"},
        {"procedures", "Procedure"},
        {"observations", "Observation"},
        {"medicationRequests", "MedicationRequest"},
        {"medicationStatements", "MedicationStatement"},
        {"allergies", "AllergyIntolerance"},
        {"encounters", "Encounter"},
    };
    return keys;
}

namespace {

std::string_view str(object o, const char* name) {
    std::string_view v;
    if (o[name].get_string().get(v) != simdjson::SUCCESS) return {};
    return v;
}

std::string lower(std::string s) {
    for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

struct Url {
    bool ok = false;
    std::string scheme, host, path, query;
    unsigned short port = 0;
    std::string pathEtc;  // what goes on the request line
};

Url parseUrl(std::string_view text) {
    Url u;
    try {
        Poco::URI uri{std::string(text)};
        u.scheme = lower(uri.getScheme());
        if (u.scheme != "http" && u.scheme != "https") return u;
        if (!uri.getUserInfo().empty() || uri.getHost().empty() || !uri.getFragment().empty()) return u;
        uri.normalize();  // dot segments (also percent-encoded ones) are resolved before any comparison
        u.host = lower(uri.getHost());
        u.port = uri.getPort();
        u.path = uri.getPath();
        u.query = uri.getRawQuery();
        u.pathEtc = uri.getPathEtc();
        if (u.pathEtc.empty()) u.pathEtc = "/";
        u.ok = true;
    } catch (const Poco::Exception&) {}
    return u;
}

// Whether url lies under prefix: same scheme, host and port, and the prefix's path is the URL's
// path or a whole-segment start of it.
bool under(const Url& url, const Url& prefix) {
    if (!url.ok || !prefix.ok) return false;
    if (url.scheme != prefix.scheme || url.host != prefix.host || url.port != prefix.port) return false;
    std::string p = prefix.path;
    while (!p.empty() && p.back() == '/') p.pop_back();
    if (p.empty()) return true;
    return url.path == p || url.path.compare(0, p.size() + 1, p + "/") == 0;
}

bool fhirId(std::string_view id) {
    if (id.empty() || id.size() > 64) return false;
    for (char c : id)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.')) return false;
    return true;
}

std::string dateMinusDays(const std::string& ymd, int days) {
    std::tm tm{};
    tm.tm_year = std::stoi(ymd.substr(0, 4)) - 1900;
    tm.tm_mon = std::stoi(ymd.substr(5, 2)) - 1;
    tm.tm_mday = std::stoi(ymd.substr(8, 2));
    std::time_t t = timegm(&tm) - std::time_t(days) * 86400;
    std::tm out{};
    gmtime_r(&t, &out);
    char buf[48];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", out.tm_year + 1900, out.tm_mon + 1, out.tm_mday);
    return buf;
}

std::string codeList(const std::vector<SystemCode>& codes) {
    std::string out;
    for (const auto& [system, code] : codes) {
        if (!out.empty()) out.push_back(',');
        out += system + "|" + code;
    }
    // Only characters that would break the query are escaped; ',' and '|' keep their FHIR meaning.
    std::string enc;
    Poco::URI::encode(out, "&#+%? ", enc);
    return enc;
}

// Sessions whose socket timeouts can be set before every read, so one slow server cannot take
// more than the call's remaining budget (Poco applies a session's timeouts at connect only).
class PlainSession : public Poco::Net::HTTPClientSession {
public:
    using Poco::Net::HTTPClientSession::HTTPClientSession;
    void limit(Poco::Timespan t) {
        setTimeout(t, t, t);
        if (connected()) {
            socket().setReceiveTimeout(t);
            socket().setSendTimeout(t);
        }
    }
};
class SecureSession : public Poco::Net::HTTPSClientSession {
public:
    using Poco::Net::HTTPSClientSession::HTTPSClientSession;
    void limit(Poco::Timespan t) {
        setTimeout(t, t, t);
        if (connected()) {
            socket().setReceiveTimeout(t);
            socket().setSendTimeout(t);
        }
    }
};

struct Failure {
    std::string what;
};

}  // namespace

struct FhirFetcher::Impl {
    std::vector<Url> allow;
    Poco::Net::Context::Ptr tls;
};

FhirFetcher::FhirFetcher(FetchConfig config, FetchPlan plan)
    : config_(std::move(config)), plan_(std::move(plan)), impl_(std::make_unique<Impl>()) {
    for (const std::string& a : config_.allow) impl_->allow.push_back(parseUrl(a));
    bool https = false;
    for (const Url& u : impl_->allow) https = https || u.scheme == "https";
    if (https) {
        Poco::Net::initializeSSL();
        Poco::Net::Context::Params p;
        p.verificationMode = Poco::Net::Context::VERIFY_RELAXED;  // the server's chain must verify
        p.verificationDepth = 9;
        if (config_.caFile.empty()) {
            p.loadDefaultCAs = true;
        } else {
            p.loadDefaultCAs = false;
            p.caLocation = config_.caFile;
        }
        p.cipherList = "HIGH:!aNULL:!eNULL:!MD5:!RC4:!3DES";
        impl_->tls = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, p);
        impl_->tls->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
        // The host name must match the certificate (Poco checks it after the handshake).
        impl_->tls->enableExtendedCertificateVerification(true);
    }
}

FhirFetcher::~FhirFetcher() = default;

bool FhirFetcher::allowed(std::string_view url) const {
    const Url u = parseUrl(url);
    if (!u.ok) return false;
    for (const Url& a : impl_->allow)
        if (under(u, a)) return true;
    return false;
}

bool validAllowPrefix(const std::string& prefix, std::string& why) {
    const Url u = parseUrl(prefix);
    if (!u.ok) {
        why = "--fhir-allow must be an absolute http(s) URL without user info, got \"" + prefix + "\"";
        return false;
    }
    if (!u.query.empty()) {
        why = "--fhir-allow must not hold a query, got \"" + prefix + "\"";
        return false;
    }
    return true;
}

namespace {

// One hook call's fetch: its deadline, its byte count, its sessions (kept alive per server).
class Fetch {
public:
    Fetch(const FetchConfig& config, Poco::Net::Context::Ptr tls, std::string token)
        : config_(config),
          tls_(std::move(tls)),
          token_(std::move(token)),
          deadline_(Clock::now() + std::chrono::milliseconds(config.budgetMs)) {}

    int requests = 0;
    size_t bytes = 0;

    // GET url; returns the body of a 200 answer, or throws Failure naming the problem.
    std::string get(const Url& url, const std::string& what) {
        for (int attempt = 0; attempt < 2; ++attempt) {
            const auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline_ - Clock::now());
            if (left.count() <= 0)
                throw Failure{what + ": the time budget (" + std::to_string(config_.budgetMs) + " ms) ran out"};
            const Poco::Timespan timeout(Poco::Timespan::TimeDiff(left.count()));
            Poco::Net::HTTPClientSession& s = session(url, timeout);
            Poco::Net::HTTPRequest req(Poco::Net::HTTPRequest::HTTP_GET, url.pathEtc, Poco::Net::HTTPMessage::HTTP_1_1);
            req.set("Accept", "application/fhir+json");
            if (!token_.empty()) req.set("Authorization", "Bearer " + token_);
            req.setKeepAlive(true);
            ++requests;
            try {
                s.sendRequest(req);
                Poco::Net::HTTPResponse res;
                std::istream& in = s.receiveResponse(res);
                std::string body;
                char buf[65536];
                for (;;) {
                    setLimit(url);
                    in.read(buf, sizeof buf);
                    const size_t n = size_t(in.gcount());
                    bytes += n;
                    if (bytes > config_.maxBytes)
                        throw Failure{what + ": the responses exceed " + std::to_string(config_.maxBytes) + " bytes"};
                    if (Clock::now() > deadline_)
                        throw Failure{what + ": the time budget (" + std::to_string(config_.budgetMs) + " ms) ran out"};
                    body.append(buf, n);
                    if (in.eof()) break;
                    if (!in) throw Failure{what + ": the answer broke off"};
                }
                if (res.getStatus() != Poco::Net::HTTPResponse::HTTP_OK)
                    throw Failure{what + ": the FHIR server answered HTTP " + std::to_string(int(res.getStatus()))};
                return body;
            } catch (const Poco::TimeoutException&) {
                throw Failure{what + ": the time budget (" + std::to_string(config_.budgetMs) + " ms) ran out"};
            } catch (const Poco::Net::SSLException& e) {
                throw Failure{what + ": TLS failed (" + e.displayText() + ")"};
            } catch (const Poco::Net::NoMessageException&) {
                // A kept-alive connection the server had closed: once more on a new one.
                drop(url);
                if (attempt == 1) throw Failure{what + ": the FHIR server closed the connection"};
            } catch (const Poco::Exception& e) {
                drop(url);
                throw Failure{what + ": " + e.displayText()};
            }
        }
        throw Failure{what + ": no answer"};
    }

private:
    struct Held {
        std::unique_ptr<PlainSession> plain;
        std::unique_ptr<SecureSession> secure;
        Poco::Net::HTTPClientSession& get() {
            return plain ? static_cast<Poco::Net::HTTPClientSession&>(*plain) : *secure;
        }
        void limit(Poco::Timespan t) {
            if (plain)
                plain->limit(t);
            else
                secure->limit(t);
        }
    };

    static std::string origin(const Url& u) { return u.scheme + "://" + u.host + ":" + std::to_string(u.port); }

    Poco::Net::HTTPClientSession& session(const Url& url, Poco::Timespan timeout) {
        Held& h = sessions_[origin(url)];
        if (!h.plain && !h.secure) {
            if (url.scheme == "https") {
                if (!tls_) throw Failure{"no TLS context"};
                h.secure = std::make_unique<SecureSession>(url.host, url.port, tls_);
            } else {
                h.plain = std::make_unique<PlainSession>(url.host, url.port);
            }
            h.get().setKeepAlive(true);
        }
        h.limit(timeout);
        return h.get();
    }
    void setLimit(const Url& url) {
        auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline_ - Clock::now()).count();
        if (left < 1000) left = 1000;
        sessions_[origin(url)].limit(Poco::Timespan(Poco::Timespan::TimeDiff(left)));
    }
    void drop(const Url& url) { sessions_.erase(origin(url)); }

    const FetchConfig& config_;
    Poco::Net::Context::Ptr tls_;
    std::string token_;
    Clock::time_point deadline_;
    std::map<std::string, Held> sessions_;
};

}  // namespace

FetchResult FhirFetcher::fetch(const PrefetchNeeds& needs, const std::string& asOf) const {
    FetchResult r;
    auto refuse = [&](std::string problem) {
        r.status = 412;
        r.problem = std::move(problem);
        r.values.clear();
        return r;
    };
    std::string missingList;
    for (const std::string& k : needs.missing) missingList += (missingList.empty() ? "" : ", ") + k;
    if (needs.fhirServer.empty())
        return refuse("Prefetch lacks " + missingList + " and the request names no fhirServer to fetch it from.");
    if (!enabled() || !allowed(needs.fhirServer))
        return refuse("Prefetch lacks " + missingList +
                      "; this service does not fetch from that fhirServer (it is not under a --fhir-allow prefix).");
    if (!fhirId(needs.patientId))
        return refuse("context.patientId is missing or is not a FHIR id; nothing was fetched.");
    const Url server = parseUrl(needs.fhirServer);
    std::string base = needs.fhirServer;
    while (!base.empty() && base.back() == '/') base.pop_back();

    Fetch f(config_, impl_->tls, needs.accessToken);
    const std::string patient = needs.patientId;
    const std::string count = "&_count=" + std::to_string(config_.pageSize);

    simdjson::dom::parser parser;
    // A search and every next page, into one searchset Bundle of the entries' resources.
    auto search = [&](const std::string& what, const std::string& url, std::string& entries, size_t& n) {
        std::string next = url;
        for (int page = 1; !next.empty(); ++page) {
            if (page > config_.maxPages)
                throw Failure{what + ": more than " + std::to_string(config_.maxPages) + " pages"};
            const Url u = parseUrl(next);
            // A next link must stay on the server of this call, under an allowed prefix.
            if (!under(u, server) || !allowed(next))
                throw Failure{what + ": a next link leads off the fhirServer; it was not followed"};
            const std::string body = f.get(u, what);
            element doc;
            object bundle;
            if (parser.parse(body).get(doc) != simdjson::SUCCESS || doc.get_object().get(bundle) != simdjson::SUCCESS ||
                str(bundle, "resourceType") != "Bundle")
                throw Failure{what + ": the FHIR server's answer is not a Bundle"};
            array list;
            if (bundle["entry"].get_array().get(list) == simdjson::SUCCESS)
                for (element e : list) {
                    object entry, resource;
                    if (e.get_object().get(entry) != simdjson::SUCCESS ||
                        entry["resource"].get_object().get(resource) != simdjson::SUCCESS)
                        continue;
                    if (n++) entries.push_back(',');
                    entries += "{\"resource\":";
                    entries += simdjson::minify(resource);
                    entries.push_back('}');
                }
            next.clear();
            array links;
            if (bundle["link"].get_array().get(links) == simdjson::SUCCESS)
                for (element l : links) {
                    object link;
                    if (l.get_object().get(link) == simdjson::SUCCESS && str(link, "relation") == "next")
                        next = std::string(str(link, "url"));
                }
        }
    };
    auto bundleOf = [](const std::string& entries) {
        return "{\"resourceType\":\"Bundle\",\"type\":\"searchset\",\"entry\":[" + entries + "]}";
    };

    try {
        for (const std::string& key : needs.missing) {
            const PrefetchKey* pk = nullptr;
            for (const PrefetchKey& k : prefetchKeys())
                if (key == k.key) pk = &k;
            if (!pk) continue;
            const std::string type = pk->resourceType;
            if (type == "Patient") {
                const std::string what = "Patient/" + patient;
                const std::string body = f.get(parseUrl(base + "/Patient/" + patient), what);
                element doc;
                object res;
                if (parser.parse(body).get(doc) != simdjson::SUCCESS ||
                    doc.get_object().get(res) != simdjson::SUCCESS || str(res, "resourceType") != "Patient" ||
                    str(res, "id") != patient)
                    throw Failure{what + ": the FHIR server's answer is not that Patient"};
                r.values.emplace_back(key, std::string(body));
                continue;
            }
            std::string entries;
            size_t n = 0;
            // The reference as Patient/{id}: unambiguous, and every server takes it.
            const std::string byPatient = base + "/" + type + "?patient=Patient/" + patient;
            if (type == "Observation") {
                // The Observations the rules read (measures, wound status) within the rules' widest
                // window; combo-code also finds a panel whose component has the code. And the
                // delivery date Observation at any date.
                std::string url = byPatient;
                if (!plan_.prefixCodes && !plan_.observationCodes.empty())
                    url += "&combo-code=" + codeList(plan_.observationCodes);
                if (plan_.observationWindowDays >= 0 && asOf.size() == 10)
                    url += "&date=ge" + dateMinusDays(asOf, plan_.observationWindowDays);
                search("Observation search", url + count, entries, n);
                if (!plan_.deliveryDateCodes.empty() && !plan_.prefixCodes)
                    search("Observation search (delivery date)",
                           byPatient + "&code=" + codeList(plan_.deliveryDateCodes) + count, entries, n);
            } else {
                search(type + " search", byPatient + count, entries, n);
            }
            r.values.emplace_back(key, bundleOf(entries));
        }
    } catch (const Failure& failure) {
        r.requests = f.requests;
        r.bytes = f.bytes;
        return refuse("Could not fetch " + missingList + " from the fhirServer (" + failure.what +
                      "); no decision is made on part of the record.");
    }
    r.requests = f.requests;
    r.bytes = f.bytes;
    return r;
}

PrefetchNeeds prefetchNeeds(std::string_view body) {
    PrefetchNeeds n;
    simdjson::dom::parser parser;
    element doc;
    object root;
    if (parser.parse(body.data(), body.size()).get(doc) != simdjson::SUCCESS ||
        doc.get_object().get(root) != simdjson::SUCCESS)
        return n;
    n.json = true;
    n.fhirServer = std::string(str(root, "fhirServer"));
    object auth, context, prefetch;
    if (root["fhirAuthorization"].get_object().get(auth) == simdjson::SUCCESS)
        n.accessToken = std::string(str(auth, "access_token"));
    if (root["context"].get_object().get(context) == simdjson::SUCCESS)
        n.patientId = std::string(str(context, "patientId"));
    const bool hasPrefetch = root["prefetch"].get_object().get(prefetch) == simdjson::SUCCESS;
    for (const PrefetchKey& k : prefetchKeys()) {
        element v;
        if (!hasPrefetch || prefetch[k.key].get(v) != simdjson::SUCCESS) {
            n.missing.emplace_back(k.key);
            continue;
        }
        object o;
        if (v.get_object().get(o) == simdjson::SUCCESS && str(o, "resourceType") == "OperationOutcome")
            n.missing.emplace_back(k.key);
    }
    return n;
}

std::string withPrefetch(std::string_view body, const std::vector<std::pair<std::string, std::string>>& values) {
    simdjson::dom::parser parser;
    element doc;
    object root;
    if (parser.parse(body.data(), body.size()).get(doc) != simdjson::SUCCESS ||
        doc.get_object().get(root) != simdjson::SUCCESS)
        return std::string(body);
    std::string out = "{";
    bool first = true;
    auto member = [&](std::string_view key) {
        if (!first) out.push_back(',');
        first = false;
        tools::appendJsonString(out, key);
        out.push_back(':');
    };
    for (auto field : root) {
        if (field.key == "prefetch") continue;
        member(field.key);
        out += simdjson::minify(field.value);
    }
    member("prefetch");
    out.push_back('{');
    bool firstKey = true;
    object prefetch;
    if (root["prefetch"].get_object().get(prefetch) == simdjson::SUCCESS)
        for (auto field : prefetch) {
            bool replaced = false;
            for (const auto& v : values) replaced = replaced || v.first == field.key;
            if (replaced) continue;
            if (!firstKey) out.push_back(',');
            firstKey = false;
            tools::appendJsonString(out, field.key);
            out.push_back(':');
            out += simdjson::minify(field.value);
        }
    for (const auto& [key, json] : values) {
        if (!firstKey) out.push_back(',');
        firstKey = false;
        tools::appendJsonString(out, key);
        out.push_back(':');
        out += json;
    }
    out += "}}";
    return out;
}

}  // namespace ppmg::cds
