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
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <simdjson.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <system_error>
#include <thread>

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

std::string origin(const Url& u) { return u.scheme + "://" + u.host + ":" + std::to_string(u.port); }

// A client session whose socket timeouts can be set before every read, so one slow server cannot
// take more than the call's remaining budget (Poco applies a session's timeouts at connect only).
template <class Base>
class Limited final : public Base {
public:
    using Base::Base;
    void limit(Poco::Timespan t) {
        this->setTimeout(t, t, t);
        if (this->connected()) {
            this->socket().setReceiveTimeout(t);
            this->socket().setSendTimeout(t);
        }
    }
    // An idle kept-alive connection with something to read (no request is out on it): the server
    // closed it, or sent what nobody asked for. Either way it is not used again.
    bool closedByPeer() {
        if (!this->connected()) return true;
        try {
            return this->socket().poll(Poco::Timespan(0),
                                       Poco::Net::Socket::SELECT_READ | Poco::Net::Socket::SELECT_ERROR);
        } catch (const Poco::Exception&) {
            return true;
        }
    }
};

// One connection to one origin, plain or TLS.
struct Conn {
    std::unique_ptr<Limited<Poco::Net::HTTPClientSession>> plain;
    std::unique_ptr<Limited<Poco::Net::HTTPSClientSession>> secure;
    Clock::time_point idleSince;

    Poco::Net::HTTPClientSession& http() {
        return plain ? static_cast<Poco::Net::HTTPClientSession&>(*plain) : *secure;
    }
    void limit(Poco::Timespan t) {
        if (plain)
            plain->limit(t);
        else
            secure->limit(t);
    }
    bool closedByPeer() { return plain ? plain->closedByPeer() : secure->closedByPeer(); }
};

// Kept-alive connections per origin (scheme, host, port; the fetcher's one TLS context holds the
// CA settings, so a pool never mixes them), shared by every worker thread. A connection serves one
// request at a time: it is taken, used, and given back only after its answer was read to the end
// with keep-alive; one that failed in any way is closed, never given back. Nothing of a call is
// kept on a connection (the bearer token goes on each request), and a connection is only ever
// used for its own origin. At most `maxBusy` connections per origin are in use at once (a request
// beyond waits for one, within its call's deadline), and at most `maxIdle` are kept idle.
class Pool {
public:
    Pool(Poco::Net::Context::Ptr tls, size_t maxBusy, size_t maxIdle, std::chrono::milliseconds maxIdleTime)
        : tls_(std::move(tls)), maxBusy_(maxBusy), maxIdle_(maxIdle), maxIdleTime_(maxIdleTime) {}

    // A connection taken from the pool; closed and its place freed unless kept (keep()).
    class Lease {
    public:
        Lease(Pool& pool, std::string key, std::unique_ptr<Conn> c)
            : pool_(pool), key_(std::move(key)), c_(std::move(c)) {}
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;
        ~Lease() {
            if (c_) pool_.release(key_, std::move(c_), false);
        }
        Conn* operator->() { return c_.get(); }
        // Its answer was read to the end and the server keeps it open: back to the pool.
        void keep() { pool_.release(key_, std::move(c_), true); }

    private:
        Pool& pool_;
        std::string key_;
        std::unique_ptr<Conn> c_;
    };

    // An idle connection to url's origin (reused = true), or (always when fresh) a new, not yet
    // connected one; null when none was free before the deadline.
    std::unique_ptr<Lease> take(const Url& url, bool fresh, Clock::time_point deadline, bool& reused) {
        const std::string key = origin(url);
        std::vector<std::unique_ptr<Conn>> closing;  // closed outside the lock
        std::unique_ptr<Conn> c;
        {
            // When all are in use, the waiting request of the call with the earliest deadline (the
            // call that started first) goes next: calls finish in the order they came, rather than
            // each taking turns with every other. Each waiter has its own condition, and only the
            // first in line is woken when a place frees (not every waiting thread, to find that
            // one of them may go).
            std::unique_lock<std::mutex> lock(mutex_);
            size_t& busy = busy_[key];
            auto& waiting = waiting_[key];
            if (busy >= maxBusy_ || !waiting.empty()) {
                std::condition_variable myTurn;
                const auto me = waiting.emplace(std::make_pair(deadline, ++waitSeq_), &myTurn).first;
                while (busy >= maxBusy_ || waiting.begin() != me)
                    if (myTurn.wait_until(lock, deadline) == std::cv_status::timeout &&
                        (busy >= maxBusy_ || waiting.begin() != me)) {
                        waiting.erase(me);
                        ++waitedOut;
                        wakeNext(key);  // the next in line may go now
                        return nullptr;
                    } else if (waiting.begin() != me) {
                        wakeNext(key);  // woken, but another is first in line now: its turn
                    }
                waiting.erase(me);
                if (busy + 1 < maxBusy_) wakeNext(key);
            }
            ++busy;  // from here, the lease frees it
        }
        // The place is freed if anything below throws.
        struct Reserved {
            Pool& pool;
            const std::string& key;
            bool done = false;
            ~Reserved() {
                if (!done) pool.release(key, nullptr, false);
            }
        } reserved{*this, key};
        while (!fresh) {
            {
                std::lock_guard<std::mutex> lock(mutex_);
                auto it = idle_.find(key);
                if (it == idle_.end() || it->second.empty()) break;
                c = std::move(it->second.back());  // the most recently used: the least likely closed
                it->second.pop_back();
            }
            if (Clock::now() - c->idleSince <= maxIdleTime_ && !c->closedByPeer()) break;
            ++stale;
            closing.push_back(std::move(c));
        }
        closing.clear();
        if (c) {
            reused = true;
            ++reusedCount;
        } else {
            reused = false;
            c = std::make_unique<Conn>();
            if (url.scheme == "https") {
                if (!tls_) throw std::runtime_error("no TLS context");
                c->secure = std::make_unique<Limited<Poco::Net::HTTPSClientSession>>(url.host, url.port, tls_);
            } else {
                c->plain = std::make_unique<Limited<Poco::Net::HTTPClientSession>>(url.host, url.port);
            }
            c->http().setKeepAlive(true);
            // The pool decides when an idle connection is too old; Poco must not reconnect behind it.
            c->http().setKeepAliveTimeout(
                Poco::Timespan(Poco::Timespan::TimeDiff(maxIdleTime_.count()) * 1000 + Poco::Timespan::MINUTES));
            ++opened;
        }
        auto lease = std::make_unique<Lease>(*this, key, std::move(c));
        reserved.done = true;
        return lease;
    }

    PoolStats stats() const {
        return {opened.load(), reusedCount.load(), stale.load(), retried.load(), waitedOut.load()};
    }

    std::atomic<long> opened{0}, reusedCount{0}, stale{0}, retried{0}, waitedOut{0};

private:
    // A lease ends: its place is freed; a kept connection goes back to the idle ones.
    void release(const std::string& key, std::unique_ptr<Conn> c, bool keep) {
        std::vector<std::unique_ptr<Conn>> closing;
        const auto now = Clock::now();
        {
            std::lock_guard<std::mutex> lock(mutex_);
            --busy_[key];
            if (c && keep) {
                c->idleSince = now;
                auto& q = idle_[key];
                while (!q.empty() && now - q.front()->idleSince > maxIdleTime_) {
                    closing.push_back(std::move(q.front()));
                    q.pop_front();
                }
                if (q.size() < maxIdle_)
                    q.push_back(std::move(c));
                else
                    closing.push_back(std::move(c));
            }
            wakeNext(key);
        }
        // c (when not kept) and closing close here, outside the lock.
    }

    // With mutex_ held: wakes the first in line for key's origin, if a place is free for it.
    void wakeNext(const std::string& key) {
        auto it = waiting_.find(key);
        if (it != waiting_.end() && !it->second.empty() && busy_[key] < maxBusy_)
            it->second.begin()->second->notify_one();
    }

    Poco::Net::Context::Ptr tls_;
    const size_t maxBusy_, maxIdle_;
    const std::chrono::milliseconds maxIdleTime_;
    std::mutex mutex_;
    std::map<std::string, size_t> busy_;
    // The requests waiting for a place, per origin, by deadline (then arrival), each with its condition.
    std::map<std::string, std::map<std::pair<Clock::time_point, unsigned long>, std::condition_variable*>> waiting_;
    unsigned long waitSeq_ = 0;
    std::map<std::string, std::deque<std::unique_ptr<Conn>>> idle_;
};

struct Failure {
    std::string what;
};

// Threads that run a call's requests beside the call's own thread, kept between calls (starting
// three threads per call cost more than the call's own work). A call hands over up to n copies
// of its work; copies that have not started by the time the call's own copy returns are taken
// back, and the call returns once the started ones have returned: nothing of the call is used
// after that.
class Helpers {
public:
    explicit Helpers(size_t maxThreads) : max_(maxThreads) {}
    ~Helpers() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stop_ = true;
        }
        work_.notify_all();
        for (std::thread& t : threads_) t.join();
    }
    Helpers(const Helpers&) = delete;
    Helpers& operator=(const Helpers&) = delete;

    void runAlongside(size_t n, const std::function<void()>& fn) {
        Batch batch;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            for (size_t i = 0; i < n; ++i) queue_.push_back(Job{&fn, &batch});
            while (idle_ < queue_.size() && threads_.size() < max_) {
                try {
                    threads_.emplace_back([this] { serve(); });
                } catch (const std::system_error&) {
                    break;  // no thread to be had: fewer at once
                }
                ++idle_;  // counted as waiting from the start, so none is started twice for one job
            }
        }
        work_.notify_all();
        fn();
        std::unique_lock<std::mutex> lock(mutex_);
        queue_.erase(std::remove_if(queue_.begin(), queue_.end(), [&](const Job& j) { return j.batch == &batch; }),
                     queue_.end());
        batch.done.wait(lock, [&] { return batch.running == 0; });
    }

private:
    struct Batch {
        size_t running = 0;
        std::condition_variable done;
    };
    struct Job {
        const std::function<void()>* fn;
        Batch* batch;
    };

    void serve() {
        std::unique_lock<std::mutex> lock(mutex_);
        for (;;) {
            work_.wait(lock, [&] { return stop_ || !queue_.empty(); });
            if (queue_.empty()) return;  // stopping
            const Job job = queue_.front();
            queue_.pop_front();
            --idle_;
            ++job.batch->running;
            lock.unlock();
            (*job.fn)();  // the call's runner catches everything
            lock.lock();
            ++idle_;
            if (--job.batch->running == 0) job.batch->done.notify_all();
        }
    }

    const size_t max_;
    std::mutex mutex_;
    std::condition_variable work_;
    std::deque<Job> queue_;
    std::vector<std::thread> threads_;
    size_t idle_ = 0;
    bool stop_ = false;
};

// The trusted certificates loaded with the context are shared by every connection's handshake.
// OpenSSL fills each one's cached extension data (key identifiers, flags) on first use, under the
// certificate's lock, and later readers skip the lock after an atomic load. That is correct, but
// the load is invisible to ThreadSanitizer (Debian's libcrypto is not instrumented), which then
// reports two first handshakes at once as a race. Filling the caches here, before any request
// thread exists, makes the data read-only from then on. (Certificates found later in a CA
// directory are loaded, and filled, by the handshake that needs them.)
void cacheTrustedCertificates(SSL_CTX* ctx) {
    X509_STORE* store = ctx ? SSL_CTX_get_cert_store(ctx) : nullptr;
    if (!store) return;
    STACK_OF(X509_OBJECT)* objects = X509_STORE_get0_objects(store);
    for (int i = 0; i < sk_X509_OBJECT_num(objects); ++i) {
        X509* cert = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objects, i));
        if (cert) (void)X509_check_purpose(cert, -1, 0);  // purpose -1: only fills the cache
    }
}

}  // namespace

struct FhirFetcher::Impl {
    std::vector<Url> allow;
    Poco::Net::Context::Ptr tls;
    std::unique_ptr<Pool> pool;
    std::unique_ptr<Helpers> helpers;
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
        cacheTrustedCertificates(impl_->tls->sslContext());
    }
    impl_->pool = std::make_unique<Pool>(impl_->tls, size_t(std::max(1, config_.maxConnections)),
                                         size_t(std::max(0, config_.poolIdle)),
                                         std::chrono::milliseconds(std::max(0, config_.poolIdleMs)));
    // Enough for every connection of the pool to be in use by helpers at once.
    impl_->helpers = std::make_unique<Helpers>(size_t(std::max(1, config_.maxConnections)) * 4);
}

FhirFetcher::~FhirFetcher() = default;

PoolStats FhirFetcher::poolStats() const { return impl_->pool->stats(); }

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

// One hook call's fetch: its deadline and its counters, shared by the threads of the call; its
// connections come from the fetcher's pool.
class Fetch {
public:
    Fetch(const FetchConfig& config, Pool& pool, std::string token)
        : config_(config),
          pool_(pool),
          token_(std::move(token)),
          deadline_(Clock::now() + std::chrono::milliseconds(config.budgetMs)) {}

    std::atomic<int> requests{0};
    std::atomic<int> connections{0};
    std::atomic<size_t> bytes{0};

    // GET url; returns the body of a 200 answer, or throws Failure naming the problem.
    std::string get(const Url& url, const std::string& what) {
        for (int attempt = 0;; ++attempt) {
            if (remainingUs() <= 0) throw Failure{ranOut(what)};
            bool reused = false;
            const std::unique_ptr<Pool::Lease> lease = pool_.take(url, attempt > 0, deadline_, reused);
            if (!lease) throw Failure{ranOut(what) + " (waiting for a connection)"};
            Pool::Lease& c = *lease;
            const long long left = remainingUs();  // after any wait for the connection
            if (left <= 0) throw Failure{ranOut(what)};
            if (!reused) ++connections;
            c->limit(Poco::Timespan(Poco::Timespan::TimeDiff(left)));
            Poco::Net::HTTPRequest req(Poco::Net::HTTPRequest::HTTP_GET, url.pathEtc, Poco::Net::HTTPMessage::HTTP_1_1);
            req.set("Accept", "application/fhir+json");
            // The call's token, on this request only: a pooled connection never keeps it.
            if (!token_.empty()) req.set("Authorization", "Bearer " + token_);
            req.setKeepAlive(true);
            ++requests;
            bool answered = false;  // a status line came back: the request is never sent again
            try {
                Poco::Net::HTTPClientSession& s = c->http();
                s.sendRequest(req);
                Poco::Net::HTTPResponse res;
                std::istream& in = s.receiveResponse(res);
                answered = true;
                std::string body;
                char buf[16384];
                for (;;) {
                    c->limit(Poco::Timespan(Poco::Timespan::TimeDiff(std::max(1000LL, remainingUs()))));
                    in.read(buf, sizeof buf);
                    const size_t n = size_t(in.gcount());
                    if ((bytes += n) > config_.maxBytes)
                        throw Failure{what + ": the responses exceed " + std::to_string(config_.maxBytes) + " bytes"};
                    if (Clock::now() > deadline_) throw Failure{ranOut(what)};
                    body.append(buf, n);
                    if (in.eof()) break;
                    if (!in) throw Failure{what + ": the answer broke off"};
                }
                // Read to its end: the connection can serve another request, unless the server
                // closes it.
                if (res.getKeepAlive()) c.keep();
                if (res.getStatus() != Poco::Net::HTTPResponse::HTTP_OK)
                    throw Failure{what + ": the FHIR server answered HTTP " + std::to_string(int(res.getStatus()))};
                return body;
            } catch (const Failure&) {
                throw;
            } catch (const Poco::TimeoutException&) {
                throw Failure{ranOut(what)};
            } catch (const Poco::Exception& e) {
                // A kept-alive connection the server closed meanwhile fails before any answer. The
                // request is a GET (idempotent) that got no answer: sent once more, on a new
                // connection. A new connection's failure is final.
                if (reused && !answered && attempt == 0) {
                    ++pool_.retried;
                    continue;
                }
                if (dynamic_cast<const Poco::Net::SSLException*>(&e))
                    throw Failure{what + ": TLS failed (" + e.displayText() + ")"};
                if (dynamic_cast<const Poco::Net::NoMessageException*>(&e))
                    throw Failure{what + ": the FHIR server closed the connection"};
                throw Failure{what + ": " + e.displayText()};
            }
        }
    }

private:
    long long remainingUs() const {
        return std::chrono::duration_cast<std::chrono::microseconds>(deadline_ - Clock::now()).count();
    }
    std::string ranOut(const std::string& what) const {
        return what + ": the time budget (" + std::to_string(config_.budgetMs) + " ms) ran out";
    }

    const FetchConfig& config_;
    Pool& pool_;
    std::string token_;
    Clock::time_point deadline_;
};

// One request chain of a call: the Patient read, or one search with its next pages.
struct Unit {
    Unit(size_t v, std::string w, std::string u, bool p = false)
        : value(v), what(std::move(w)), url(std::move(u)), patient(p) {}
    size_t value;  // index of the prefetch key it fills
    std::string what, url;
    bool patient;
    // Filled by the thread that runs it.
    bool ran = false;
    std::string json;  // the Patient, or the search's entries (comma-separated)
    size_t n = 0;      // entries
    std::string error;
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

    Fetch f(config_, *impl_->pool, needs.accessToken);
    const std::string patient = needs.patientId;
    const std::string count = "&_count=" + std::to_string(config_.pageSize);

    // What to fetch: one unit per request chain, in the order of the keys.
    std::vector<std::string> keys;
    std::vector<Unit> units;
    for (const std::string& key : needs.missing) {
        const PrefetchKey* pk = nullptr;
        for (const PrefetchKey& k : prefetchKeys())
            if (key == k.key) pk = &k;
        if (!pk) continue;
        const size_t v = keys.size();
        keys.push_back(key);
        const std::string type = pk->resourceType;
        if (type == "Patient") {
            units.emplace_back(v, "Patient/" + patient, base + "/Patient/" + patient, true);
            continue;
        }
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
            units.emplace_back(v, "Observation search", url + count);
            if (!plan_.deliveryDateCodes.empty() && !plan_.prefixCodes)
                units.emplace_back(v, "Observation search (delivery date)",
                                   byPatient + "&code=" + codeList(plan_.deliveryDateCodes) + count);
        } else {
            units.emplace_back(v, type + " search", byPatient + count);
        }
    }

    // The Patient, or a search and every next page into the unit's entries.
    auto run = [&](Unit& unit, simdjson::dom::parser& parser) {
        if (unit.patient) {
            const std::string body = f.get(parseUrl(unit.url), unit.what);
            element doc;
            object res;
            if (parser.parse(body).get(doc) != simdjson::SUCCESS || doc.get_object().get(res) != simdjson::SUCCESS ||
                str(res, "resourceType") != "Patient" || str(res, "id") != patient)
                throw Failure{unit.what + ": the FHIR server's answer is not that Patient"};
            unit.json = body;
            return;
        }
        std::string next = unit.url;
        for (int page = 1; !next.empty(); ++page) {
            if (page > config_.maxPages)
                throw Failure{unit.what + ": more than " + std::to_string(config_.maxPages) + " pages"};
            const Url u = parseUrl(next);
            // A next link must stay on the server of this call, under an allowed prefix.
            if (!under(u, server) || !allowed(next))
                throw Failure{unit.what + ": a next link leads off the fhirServer; it was not followed"};
            const std::string body = f.get(u, unit.what);
            element doc;
            object bundle;
            if (parser.parse(body).get(doc) != simdjson::SUCCESS || doc.get_object().get(bundle) != simdjson::SUCCESS ||
                str(bundle, "resourceType") != "Bundle")
                throw Failure{unit.what + ": the FHIR server's answer is not a Bundle"};
            array list;
            if (bundle["entry"].get_array().get(list) == simdjson::SUCCESS)
                for (element e : list) {
                    object entry, resource;
                    if (e.get_object().get(entry) != simdjson::SUCCESS ||
                        entry["resource"].get_object().get(resource) != simdjson::SUCCESS)
                        continue;
                    if (unit.n++) unit.json.push_back(',');
                    unit.json += "{\"resource\":";
                    unit.json += simdjson::minify(resource);
                    unit.json.push_back('}');
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

    // The units run in parallel, up to --fhir-parallel at once (this thread and helpers), each
    // request on its own pooled connection, all within the call's one deadline; the pages of one
    // search follow each other. Units are started in order; once one has failed no further unit is
    // started, and the failure reported is that of the first unit (in order) that failed, which is
    // therefore the same whatever the timing.
    std::atomic<size_t> nextUnit{0};
    std::atomic<bool> failed{false};
    auto runner = [&] {
        simdjson::dom::parser parser;
        for (;;) {
            const size_t i = nextUnit.fetch_add(1);
            if (i >= units.size()) return;
            if (failed.load()) continue;
            Unit& unit = units[i];
            unit.ran = true;
            try {
                run(unit, parser);
            } catch (const Failure& e) {
                unit.error = e.what;
            } catch (const std::exception& e) {
                unit.error = unit.what + ": " + e.what();
            } catch (...) {
                unit.error = unit.what + ": failed";
            }
            if (!unit.error.empty()) failed = true;
        }
    };
    const size_t inFlight = std::min(units.size(), size_t(std::max(1, config_.parallel)));
    impl_->helpers->runAlongside(inFlight - 1, runner);

    r.requests = f.requests.load();
    r.bytes = f.bytes.load();
    r.connections = f.connections.load();
    for (const Unit& unit : units)
        if (!unit.error.empty())
            return refuse("Could not fetch " + missingList + " from the fhirServer (" + unit.error +
                          "); no decision is made on part of the record.");
    for (size_t v = 0; v < keys.size(); ++v) {
        std::string json, entries;
        bool patientValue = false;
        for (const Unit& unit : units) {
            if (unit.value != v) continue;
            if (!unit.ran)
                return refuse("Could not fetch " + missingList + " from the fhirServer (" + unit.what +
                              " was not run); no decision is made on part of the record.");
            if (unit.patient) {
                patientValue = true;
                json = unit.json;
            } else if (unit.n) {
                if (!entries.empty()) entries.push_back(',');
                entries += unit.json;
            }
        }
        if (!patientValue) json = "{\"resourceType\":\"Bundle\",\"type\":\"searchset\",\"entry\":[" + entries + "]}";
        r.values.emplace_back(keys[v], std::move(json));
    }
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
