// Unit tests of the parts of `ppmg serve` that make it scale out: the store (SQLite here; the
// PostgreSQL store in test_scale_services.cpp), audit events, feedback checks, view tokens, the
// in-memory replay cache, the fetch's URL allow list and prefetch handling, the content it reads.
#include <catch2/catch.hpp>

#include <Poco/Data/Session.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/StreamSocket.h>
#include <simdjson.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "cds_audit.hpp"
#include "cds_fetch.hpp"
#include "cds_json_parser.hpp"
#include "cds_random.hpp"
#include "cds_replay.hpp"
#include "cds_service_content.hpp"
#include "cds_store.hpp"
#include "cds_view.hpp"
#include "server_harness.hpp"

using namespace ppmg::cds;
using Catch::Matchers::Contains;

namespace {

std::string field(const std::string& json, const char* key) {
    simdjson::dom::parser p;
    simdjson::dom::element e;
    REQUIRE(p.parse(json).get(e) == simdjson::SUCCESS);
    std::string_view v;
    if (e[key].get_string().get(v) != simdjson::SUCCESS) return {};
    return std::string(v);
}

AuditRow audit(const std::string& id, int64_t ms, const std::string& patient) {
    AuditRow a;
    a.id = id;
    a.recordedMs = ms;
    a.patientId = patient;
    a.issuer = "https://ehr.example.org/";
    a.subject = "client-7";
    a.hook = "patient-view";
    a.status = 200;
    a.json = R"({"resourceType":"AuditEvent","id":")" + id + "\"}";
    return a;
}

FeedbackRow feedbackRow(const std::string& id, const std::string& card, int64_t ms, const std::string& patient) {
    FeedbackRow f;
    f.id = id;
    f.cardUuid = card;
    f.outcome = "overridden";
    f.reasonSystem = "urn:x";
    f.reasonCode = "override-patient-declined";
    f.outcomeTimestamp = "2026-11-25T10:00:00Z";
    f.issuer = "https://ehr.example.org/";
    f.subject = "client-7";
    f.patientId = patient;
    f.receivedMs = ms;
    return f;
}

}  // namespace

TEST_CASE("store (SQLite): migrations are versioned and applied once", "[store]") {
    const std::string path = ppmg::test::scratchDir() + "/migrate.db";
    {
        auto store = Store::open("sqlite:" + path);
        CHECK(store->kind() == "sqlite");
        CHECK(store->schemaVersion() == Store::latestSchemaVersion());
        CHECK(Store::latestSchemaVersion() >= 2);
    }
    // Opening again changes nothing, and keeps the data.
    auto store = Store::open("sqlite:" + path);
    store->recordCall(audit("a1", 1000, "p1"), {}, nullptr);
    auto again = Store::open("sqlite:" + path);
    CHECK(again->schemaVersion() == Store::latestSchemaVersion());
    CHECK(again->audits(0, "").size() == 1);
}

TEST_CASE("store (SQLite): refuses a schema newer than this program", "[store]") {
    const std::string path = ppmg::test::scratchDir() + "/newer.db";
    Store::open("sqlite:" + path);
    {
        // A later ppmg's migration, recorded behind this one's back.
        Poco::Data::Session s("SQLite", path);
        s << "INSERT INTO schema_version VALUES (99, 'future', 0)", Poco::Data::Keywords::now;
    }
    CHECK_THROWS_WITH(Store::open("sqlite:" + path), Contains("newer than this ppmg"));
}

TEST_CASE("store (SQLite): a call, its cards, its view link and feedback", "[store]") {
    auto store = Store::open("sqlite:" + ppmg::test::scratchDir() + "/calls.db");
    CardRow c1{"11111111-1111-4111-8111-111111111111", "a1", "p1", 1000, "override-a override-b"};
    CardRow c2{"22222222-2222-4222-8222-222222222222", "a1", "p1", 1000, "override-a override-b"};
    ViewRow v{viewTokenHash("tok"), "a1", 1000, 5000, "p1", "2026-11-25", "sha", packRecord("{\"record\":1}")};
    store->recordCall(audit("a1", 1000, "p1"), {c1, c2}, &v);
    store->recordCall(audit("a2", 2000, "p2"), {}, nullptr);

    auto card = store->findCard(c2.uuid);
    REQUIRE(card);
    CHECK(card->auditId == "a1");
    CHECK(card->patientId == "p1");
    CHECK(card->overrideReasons == "override-a override-b");
    CHECK_FALSE(store->findCard("33333333-3333-4333-8333-333333333333"));

    auto view = store->findView(viewTokenHash("tok"), 4999);
    REQUIRE(view);
    CHECK(unpackRecord(view->record, 1000) == "{\"record\":1}");
    CHECK_FALSE(store->findView(viewTokenHash("tok"), 5000));  // expired
    CHECK_FALSE(store->findView(viewTokenHash("other"), 1000));
    CHECK(store->purgeExpiredViews(6000) == 1);
    CHECK_FALSE(store->findView(viewTokenHash("tok"), 1000));

    CHECK(store->addFeedback({feedbackRow("f1", c1.uuid, 3000, "p1"), feedbackRow("f2", c2.uuid, 3001, "p1")}) == 2);
    CHECK(store->addFeedback({feedbackRow("f1", c1.uuid, 3002, "p1")}) == 0);  // a retry: stored once
    CHECK(store->feedback(0, "").size() == 2);
    CHECK(store->feedback(3001, "").size() == 1);
    CHECK(store->feedback(0, "p2").empty());

    auto all = store->audits(0, "");
    REQUIRE(all.size() == 2);
    CHECK(all[0].id == "a1");
    CHECK(store->audits(0, "p2").size() == 1);
    CHECK(store->audits(1500, "").size() == 1);
}

TEST_CASE("store (SQLite): many threads write at once", "[store]") {
    auto store = Store::open("sqlite:" + ppmg::test::scratchDir() + "/threads.db", 8);
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t)
        threads.emplace_back([&, t] {
            for (int i = 0; i < 50; ++i)
                store->recordCall(audit("t" + std::to_string(t) + "-" + std::to_string(i), 1000 + i, "p"), {}, nullptr);
        });
    for (auto& t : threads) t.join();
    CHECK(store->audits(0, "").size() == 400);
}

TEST_CASE("store (SQLite): calls written together, and one the store refuses fails alone", "[store]") {
    const std::string path = ppmg::test::scratchDir() + "/group.db";
    auto store = Store::open("sqlite:" + path, 8);
    {
        // The store refuses one patient's calls (as a database refuses a row it cannot take).
        Poco::Data::Session s("SQLite", path);
        s << "CREATE TRIGGER refuse BEFORE INSERT ON audit_events WHEN NEW.patient_id = 'refused' "
             "BEGIN SELECT RAISE(ABORT, 'refused'); END",
            Poco::Data::Keywords::now;
    }
    constexpr int kThreads = 16, kCalls = 40;
    std::atomic<int> failed{0}, failedOther{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
        threads.emplace_back([&, t] {
            for (int i = 0; i < kCalls; ++i) {
                const bool refused = i % 10 == 3 && t % 4 == 0;
                CardRow card{"card-" + std::to_string(t) + "-" + std::to_string(i), "", "p", 1000, "r1"};
                card.auditId = "g" + std::to_string(t) + "-" + std::to_string(i);
                try {
                    store->recordCall(audit(card.auditId, 1000 + i, refused ? "refused" : "p"), {card}, nullptr);
                } catch (const StoreError&) {
                    ++(refused ? failed : failedOther);
                }
            }
        });
    for (auto& t : threads) t.join();
    const int refusedCalls = (kThreads / 4) * (kCalls / 10);
    CHECK(failed == refusedCalls);
    CHECK(failedOther == 0);
    CHECK(store->audits(0, "").size() == size_t(kThreads * kCalls - refusedCalls));
    // Each stored call has its card; a refused call left none.
    CHECK(store->findCard("card-1-3"));
    CHECK_FALSE(store->findCard("card-0-3"));
}

TEST_CASE("store (SQLite): the log is copied into the database by the store's own thread", "[store]") {
    const std::string path = ppmg::test::scratchDir() + "/checkpoint.db";
    auto store = Store::open("sqlite:" + path);
    auto fileSize = [](const std::string& f) {
        std::ifstream in(f, std::ios::binary | std::ios::ate);
        return in ? int64_t(in.tellg()) : int64_t(-1);
    };
    const int64_t before = fileSize(path);
    // About 100 pages: far below SQLite's own threshold (1000 pages), so no commit would copy them.
    for (int i = 0; i < 50; ++i) {
        AuditRow a = audit("c" + std::to_string(i), 1000 + i, "p");
        a.json = std::string(6000, char('a' + i % 26));
        store->recordCall(a, {}, nullptr);
    }
    CHECK(fileSize(path + "-wal") > 0);
    bool copied = false;
    for (int waited = 0; waited < 50 && !copied; ++waited) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        copied = fileSize(path) > before + 200000;
    }
    CHECK(copied);
    CHECK(store->audits(0, "").size() == 50);
}

TEST_CASE("store: bad specs are refused and passwords never shown", "[store]") {
    CHECK_THROWS_WITH(Store::open("mysql://x"), Contains("sqlite:PATH or postgresql://"));
    CHECK_THROWS_AS(Store::open("sqlite:"), StoreError);
    CHECK(redactStoreSpec("postgresql://ppmg:s3cret@db:5432/ppmg") == "postgresql://ppmg:***@db:5432/ppmg");
    CHECK(redactStoreSpec("postgresql://db/ppmg") == "postgresql://db/ppmg");
}

TEST_CASE("audit: an AuditEvent names who, the patient, the outcomes and the content", "[audit]") {
    AuditFacts f;
    f.id = "6f1c2b1e-0000-4000-8000-000000000001";
    f.recordedMs = 1764064800123;
    f.hook = "patient-view";
    f.hookInstance = "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea";
    f.issuer = "https://ehr.example.org/";
    f.subject = "client-7";
    f.clientAddress = "127.0.0.1";
    f.patientId = "p1";
    f.status = 200;
    f.dataSource = "prefetch";
    f.contentVersion = "1.0.0";
    f.contentSha256 = "abc123";
    f.pluginVersion = "1.1.0";
    f.outcomes = {{"abdominal", "defer"}, {"breast", "no-flag"}};
    f.cardUuids = {"u1", "u2"};
    f.serviceId = "ppmg serve";
    const std::string json = auditEventJson(f);
    CHECK(field(json, "resourceType") == "AuditEvent");
    CHECK(field(json, "recorded") == "2025-11-25T10:00:00.123Z");
    CHECK(field(json, "outcome") == "0");
    CHECK_THAT(json, Contains(R"("who":{"identifier":{"system":"https://ehr.example.org/","value":"client-7"}})"));
    CHECK_THAT(json, Contains(R"("reference":"Patient/p1")"));
    CHECK_THAT(json, Contains(R"({"type":"outcome.abdominal","valueString":"defer"})"));
    CHECK_THAT(json, Contains(R"({"type":"contentVersion","valueString":"1.0.0"})"));
    CHECK_THAT(json, Contains(R"({"type":"contentSha256","valueString":"abc123"})"));
    CHECK_THAT(json, Contains("urn:uuid:d1577c69-dfbe-44ad-ba6d-3e05e953b2ea"));
    f.status = 412;
    f.statusText = "prefetch incomplete";
    CHECK(field(auditEventJson(f), "outcome") == "4");
    f.status = 503;
    CHECK(field(auditEventJson(f), "outcome") == "8");
}

TEST_CASE("audit: outcomes are read from an assessment", "[audit]") {
    bool escalate = false;
    auto o = assessmentOutcomes(
        R"({"escalate":true,"massages":{"abdominal":{"outcome":"escalate"},"breast":{"outcome":"escalate"}}})",
        escalate);
    CHECK(escalate);
    REQUIRE(o.size() == 2);
    CHECK(o[0] == std::make_pair(std::string("abdominal"), std::string("escalate")));
    CHECK(assessmentOutcomes("not json", escalate).empty());
}

TEST_CASE("audit: instants and --since", "[audit]") {
    CHECK(isInstant("2026-11-25T10:00:00Z"));
    CHECK(isInstant("2026-11-25T10:00:00.123+01:00"));
    CHECK(isInstant("2026-11-25T10:00:00-05:00"));
    CHECK_FALSE(isInstant("2026-11-25"));
    CHECK_FALSE(isInstant("2026-11-25T10:00:00"));
    CHECK_FALSE(isInstant("2026-13-25T10:00:00Z"));
    CHECK_FALSE(isInstant("2026-11-25T25:00:00Z"));
    CHECK_FALSE(isInstant("yesterday"));
    int64_t ms = 0;
    REQUIRE(parseSince("2025-11-25", ms));
    CHECK(ms == 1764028800000);
    REQUIRE(parseSince("2025-11-25T10:00:00.5+01:00", ms));
    CHECK(ms == 1764028800000 + 9 * 3600000 + 500);
    CHECK_FALSE(parseSince("25/11/2025", ms));
}

TEST_CASE("feedback: valid bodies are read", "[feedback]") {
    auto r = parseFeedback(
        R"({"feedback":[{"card":"11111111-1111-4111-8111-111111111111","outcome":"accepted","outcomeTimestamp":"2026-11-25T10:00:00Z"},
            {"card":"22222222-2222-4222-8222-222222222222","outcome":"overridden","outcomeTimestamp":"2026-11-25T10:00:01Z",
             "overrideReason":{"reason":{"system":"urn:oid:1","code":"override-patient-declined","display":"Declined"},"userComment":"she prefers not"}}]})");
    REQUIRE(r.ok());
    REQUIRE(r.items.size() == 2);
    CHECK_FALSE(r.items[0].hasReason);
    CHECK(r.items[1].hasReason);
    CHECK(r.items[1].reasonCode == "override-patient-declined");
    CHECK(r.items[1].userComment == "she prefers not");
    CHECK(feedbackId(r.items[0]) != feedbackId(r.items[1]));
    CHECK(feedbackId(r.items[0]) == feedbackId(r.items[0]));
    // An override without a reason is allowed by CDS Hooks 2.0.
    CHECK(
        parseFeedback(
            R"({"feedback":[{"card":"11111111-1111-4111-8111-111111111111","outcome":"overridden","outcomeTimestamp":"2026-11-25T10:00:00Z"}]})")
            .ok());
}

TEST_CASE("feedback: invalid bodies are refused with the reason", "[feedback]") {
    const std::string card = R"("card":"11111111-1111-4111-8111-111111111111")";
    const std::string ts = R"("outcomeTimestamp":"2026-11-25T10:00:00Z")";
    auto problem = [](const std::string& body) { return parseFeedback(body).problem; };
    CHECK_THAT(problem("nope"), Contains("not a JSON object"));
    CHECK_THAT(problem("{}"), Contains("feedback"));
    CHECK_THAT(problem(R"({"feedback":[]})"), Contains("non-empty"));
    CHECK_THAT(problem(R"({"feedback":[{"card":"x","outcome":"accepted",)" + ts + "}]}"), Contains(".card"));
    CHECK_THAT(problem(R"({"feedback":[{)" + card + R"(,"outcome":"ignored",)" + ts + "}]}"), Contains(".outcome"));
    CHECK_THAT(problem(R"({"feedback":[{)" + card + R"(,"outcome":"accepted"}]})"), Contains("outcomeTimestamp"));
    CHECK_THAT(problem(R"({"feedback":[{)" + card + R"(,"outcome":"accepted","outcomeTimestamp":"2026-11-25"}]})"),
               Contains("outcomeTimestamp"));
    CHECK_THAT(problem(R"({"feedback":[{)" + card + R"(,"outcome":"accepted",)" + ts +
                       R"(,"overrideReason":{"reason":{"system":"s","code":"c"}}}]})"),
               Contains("only for an overridden"));
    CHECK_THAT(problem(R"({"feedback":[{)" + card + R"(,"outcome":"overridden",)" + ts +
                       R"(,"overrideReason":{"userComment":"x"}}]})"),
               Contains("needs a reason"));
    CHECK_THAT(problem(R"({"feedback":[{)" + card + R"(,"outcome":"overridden",)" + ts +
                       R"(,"overrideReason":{"reason":{"code":"c"}}}]})"),
               Contains("system and code"));
    CHECK_THAT(problem(R"({"feedback":[{)" + card + R"(,"outcome":"accepted",)" + ts +
                       R"(,"acceptedSuggestions":[{"id":"x"}]}]})"),
               Contains("no suggestions"));
}

TEST_CASE("view tokens: random, well-formed, stored as a digest, records round-trip", "[view]") {
    std::set<std::string> seen;
    for (int i = 0; i < 100; ++i) {
        std::string t = newViewToken();
        CHECK(looksLikeViewToken(t));
        seen.insert(t);
    }
    CHECK(seen.size() == 100);
    CHECK_FALSE(looksLikeViewToken("short"));
    CHECK_FALSE(looksLikeViewToken(std::string(42, 'a') + "/"));
    CHECK(viewTokenHash("a").size() == 64);
    const std::string record(100000, 'x');
    const std::string packed = packRecord(record);
    CHECK(packed.size() < 2000);
    CHECK(unpackRecord(packed, record.size()) == record);
    CHECK_THROWS(unpackRecord(packed, 1000));  // bigger than allowed
    CHECK_THROWS(unpackRecord("!!!", 1000));
    // The thread's compressor is reused: each record comes back whole, none carries the last one.
    for (const std::string& r :
         {std::string("{}"), std::string(70000, 'y') + "z", std::string(), std::string("{\"a\":1}")})
        CHECK(unpackRecord(packRecord(r), 100000) == r);
}

TEST_CASE("random UUIDs: version 4, lower-case, unique", "[view]") {
    std::set<std::string> seen;
    for (int i = 0; i < 1000; ++i) {
        const std::string u = randomUuid();
        REQUIRE(u.size() == 36);
        for (size_t k = 0; k < u.size(); ++k) {
            if (k == 8 || k == 13 || k == 18 || k == 23)
                CHECK(u[k] == '-');
            else
                CHECK(((u[k] >= '0' && u[k] <= '9') || (u[k] >= 'a' && u[k] <= 'f')));
        }
        CHECK(u[14] == '4');
        CHECK(std::string("89ab").find(u[19]) != std::string::npos);
        seen.insert(u);
    }
    CHECK(seen.size() == 1000);
}

TEST_CASE("JSON parser lease: the thread's parser, unless in use or the document is large", "[view]") {
    simdjson::dom::parser* first = nullptr;
    {
        ParserLease a(100);
        first = &*a;
        simdjson::dom::element outer;
        REQUIRE(a->parse(std::string(R"({"outer":1})")).get(outer) == simdjson::SUCCESS);
        {
            // A nested parse gets a parser of its own: the outer document stays readable.
            ParserLease b(100);
            CHECK(&*b != first);
            simdjson::dom::element inner;
            REQUIRE(b->parse(std::string(R"({"inner":2})")).get(inner) == simdjson::SUCCESS);
        }
        int64_t v = 0;
        REQUIRE(outer["outer"].get_int64().get(v) == simdjson::SUCCESS);
        CHECK(v == 1);
    }
    {
        ParserLease again(100);
        CHECK(&*again == first);  // kept between calls
    }
    ParserLease large(ParserLease::kMaxKeptBytes + 1);
    CHECK(&*large != first);
}

TEST_CASE("replay cache (memory): a jti is fresh once per issuer, until it expires", "[replay]") {
    auto g = makeReplayGuard("memory");
    CHECK(g->describe() == "memory");
    CHECK(g->use("iss", "j1", 2000, 1000) == ReplayGuard::Result::Fresh);
    CHECK(g->use("iss", "j1", 2000, 1001) == ReplayGuard::Result::Replayed);
    CHECK(g->use("other", "j1", 2000, 1001) == ReplayGuard::Result::Fresh);
    auto small = makeReplayGuard("memory", 1);
    CHECK(small->use("iss", "a", 2000, 1000) == ReplayGuard::Result::Fresh);
    CHECK(small->use("iss", "b", 2000, 1000) == ReplayGuard::Result::Unavailable);  // full: never unchecked
    CHECK_THROWS_AS(makeReplayGuard("memcached://x"), std::invalid_argument);
    CHECK_THROWS_AS(makeReplayGuard("redis://"), std::invalid_argument);
    CHECK(makeReplayGuard("redis://:pw@127.0.0.1:6379/2")->describe() == "redis://:***@127.0.0.1:6379/2");
}

TEST_CASE("replay cache (Redis): unreachable means Unavailable, never Fresh", "[replay]") {
    // Port 1 on loopback: nothing listens there.
    auto g = makeReplayGuard("redis://127.0.0.1:1");
    CHECK(g->use("iss", "j1", 2000, 1000) == ReplayGuard::Result::Unavailable);
}

TEST_CASE("fetch: only URLs under an allowed prefix, whole path segments, no user info", "[fetch]") {
    FetchConfig c;
    c.allow = {"https://fhir.example.org/r4", "http://127.0.0.1:8080/fhir/"};
    FhirFetcher f(c, FetchPlan{});
    CHECK(f.allowed("https://fhir.example.org/r4"));
    CHECK(f.allowed("https://fhir.example.org/r4/"));
    CHECK(f.allowed("https://FHIR.example.org:443/r4/Patient/1"));
    CHECK(f.allowed("http://127.0.0.1:8080/fhir/Observation?patient=1"));
    CHECK_FALSE(f.allowed("https://fhir.example.org/r4evil"));
    CHECK_FALSE(f.allowed("https://fhir.example.org/r4/../admin"));
    CHECK_FALSE(f.allowed("https://fhir.example.org/r4/%2e%2e/admin"));
    CHECK_FALSE(f.allowed("https://fhir.example.org.evil.net/r4"));
    CHECK_FALSE(f.allowed("https://user@fhir.example.org/r4"));
    CHECK_FALSE(f.allowed("http://fhir.example.org/r4"));  // another scheme
    CHECK_FALSE(f.allowed("https://fhir.example.org:8443/r4"));
    CHECK_FALSE(f.allowed("http://127.0.0.1:8081/fhir"));
    CHECK_FALSE(f.allowed("file:///etc/passwd"));
    CHECK_FALSE(f.allowed("not a url"));
    std::string why;
    CHECK(validAllowPrefix("https://fhir.example.org/r4", why));
    CHECK_FALSE(validAllowPrefix("fhir.example.org", why));
    CHECK_FALSE(validAllowPrefix("https://fhir.example.org/r4?x=1", why));
}

TEST_CASE("fetch: nothing is requested from a server outside the allow list", "[fetch]") {
    FetchConfig c;
    c.allow = {"https://fhir.example.org/r4"};
    FhirFetcher f(c, FetchPlan{});
    PrefetchNeeds n;
    n.fhirServer = "http://127.0.0.1:1/fhir";  // would refuse the connection if it were tried
    n.patientId = "p1";
    n.missing = {"patient"};
    FetchResult r = f.fetch(n, "2026-11-25");
    CHECK(r.status == 412);
    CHECK(r.requests == 0);
    CHECK_THAT(r.problem, Contains("--fhir-allow"));
    n.fhirServer.clear();
    CHECK_THAT(f.fetch(n, "2026-11-25").problem, Contains("names no fhirServer"));
    FhirFetcher off(FetchConfig{}, FetchPlan{});
    n.fhirServer = "https://fhir.example.org/r4";
    CHECK(off.fetch(n, "2026-11-25").status == 412);
    n.patientId = "../x";
    CHECK_THAT(f.fetch(n, "2026-11-25").problem, Contains("not a FHIR id"));
}

// A loopback HTTP/1.1 peer for the fetcher's connection handling: it answers reads with a FHIR
// Patient or an empty searchset, and closes a kept-alive connection at a chosen moment, which no
// real FHIR server does on demand (the FHIR answers themselves are tested against a real server in
// fhir_fetch_test.sh). One thread per connection; it counts connections and requests and keeps
// each request's Authorization header.
class ConnectionPeer {
public:
    enum class Mode {
        KeepAlive,          // every request answered, the connection kept open
        CloseAfterAnswer,   // one answer per connection (saying keep-alive), then closed
        DropSecondRequest,  // the second request on a connection is read, then the connection closed
        NeverAnswer,        // every request read, then the connection closed
    };
    explicit ConnectionPeer(Mode mode) : mode_(mode), server_(Poco::Net::SocketAddress("127.0.0.1", 0)) {
        acceptor_ = std::thread([this] { acceptLoop(); });
    }
    ~ConnectionPeer() {
        stop_ = true;
        acceptor_.join();
        for (std::thread& t : served_) t.join();
    }
    std::string base() const { return "http://127.0.0.1:" + std::to_string(server_.address().port()) + "/fhir"; }
    int connections() const { return connections_.load(); }
    int requests() const { return requests_.load(); }
    std::vector<std::string> authorizations() {
        std::lock_guard<std::mutex> lock(mutex_);
        return auth_;
    }

private:
    void acceptLoop() {
        while (!stop_) {
            if (!server_.poll(Poco::Timespan(0, 20000), Poco::Net::Socket::SELECT_READ)) continue;
            // Only the connection's thread holds the socket (Poco's reference count is not seen by
            // ThreadSanitizer, so a copy kept here would look like a race).
            std::unique_ptr<Poco::Net::StreamSocket> s;
            try {
                s = std::make_unique<Poco::Net::StreamSocket>(server_.acceptConnection());
            } catch (const Poco::Exception&) {
                continue;
            }
            ++connections_;
            served_.emplace_back([this, sock = std::move(s)]() mutable {
                serve(*sock);
                sock->close();
                sock.reset();
            });
        }
    }
    void serve(Poco::Net::StreamSocket& s) {
        std::string buf;
        int onThis = 0;
        while (!stop_) {
            size_t end;
            while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
                if (stop_) return;
                try {
                    if (!s.poll(Poco::Timespan(0, 20000), Poco::Net::Socket::SELECT_READ)) continue;
                    char tmp[4096];
                    const int n = s.receiveBytes(tmp, sizeof tmp);
                    if (n <= 0) return;
                    buf.append(tmp, size_t(n));
                } catch (const Poco::Exception&) {
                    return;
                }
            }
            const std::string head = buf.substr(0, end);
            buf.erase(0, end + 4);
            ++requests_;
            ++onThis;
            {
                std::lock_guard<std::mutex> lock(mutex_);
                const size_t a = head.find("\r\nAuthorization: ");
                auth_.push_back(a == std::string::npos ? "" : head.substr(a + 17, head.find("\r\n", a + 2) - a - 17));
            }
            if (mode_ == Mode::NeverAnswer || (mode_ == Mode::DropSecondRequest && onThis == 2)) return;
            const bool patient = head.compare(0, 18, "GET /fhir/Patient/") == 0;
            const std::string body =
                patient ? R"({"resourceType":"Patient","id":"p1"})" : R"({"resourceType":"Bundle","type":"searchset"})";
            const std::string res = "HTTP/1.1 200 OK\r\nContent-Type: application/fhir+json\r\nContent-Length: " +
                                    std::to_string(body.size()) + "\r\nConnection: keep-alive\r\n\r\n" + body;
            try {
                s.sendBytes(res.data(), int(res.size()));
            } catch (const Poco::Exception&) {
                return;
            }
            if (mode_ == Mode::CloseAfterAnswer) return;
        }
    }

    const Mode mode_;
    Poco::Net::ServerSocket server_;
    std::atomic<bool> stop_{false};
    std::atomic<int> connections_{0}, requests_{0};
    std::mutex mutex_;
    std::vector<std::string> auth_;
    std::thread acceptor_;
    std::vector<std::thread> served_;  // touched by the acceptor thread only, joined after it
};

PrefetchNeeds needsFrom(const std::string& server, const std::string& token, std::vector<std::string> missing) {
    PrefetchNeeds n;
    n.json = true;
    n.fhirServer = server;
    n.accessToken = token;
    n.patientId = "p1";
    n.missing = std::move(missing);
    return n;
}

std::vector<std::string> allKeys() {
    std::vector<std::string> keys;
    for (const PrefetchKey& k : prefetchKeys()) keys.emplace_back(k.key);
    return keys;
}

TEST_CASE("fetch: connections are kept across calls, each request carries its own call's token", "[fetch]") {
    ConnectionPeer peer(ConnectionPeer::Mode::KeepAlive);
    FetchConfig c;
    c.allow = {peer.base()};
    c.parallel = 4;
    FhirFetcher f(c, FetchPlan{});
    FetchResult a = f.fetch(needsFrom(peer.base(), "token-a", allKeys()), "2026-11-25");
    REQUIRE(a.status == 0);
    CHECK(a.values.size() == prefetchKeys().size());
    CHECK(a.requests == int(prefetchKeys().size()));
    CHECK(a.connections >= 1);
    CHECK(a.connections <= 4);  // never more than --fhir-parallel at once
    const int opened = peer.connections();
    CHECK(opened == a.connections);
    FetchResult b = f.fetch(needsFrom(peer.base(), "token-b", allKeys()), "2026-11-25");
    REQUIRE(b.status == 0);
    // Every connection the first call left is used again; a new one only when the second call
    // had more requests at once than the first left open (never more than --fhir-parallel in all).
    CHECK(b.connections <= 4 - opened);
    CHECK(peer.connections() == opened + b.connections);
    CHECK(f.poolStats().reused >= long(prefetchKeys().size()) - b.connections);
    const std::vector<std::string> auth = peer.authorizations();
    REQUIRE(auth.size() == 2 * prefetchKeys().size());
    int withA = 0, withB = 0;
    for (const std::string& h : auth) {
        withA += h == "Bearer token-a";
        withB += h == "Bearer token-b";
    }
    CHECK(withA == int(prefetchKeys().size()));
    CHECK(withB == int(prefetchKeys().size()));
    // Without a token, no Authorization header at all (none left over from an earlier call).
    FetchResult none = f.fetch(needsFrom(peer.base(), "", {"patient"}), "2026-11-25");
    REQUIRE(none.status == 0);
    CHECK(peer.authorizations().back().empty());
}

TEST_CASE("fetch: a kept-alive connection the server closed is not used again", "[fetch]") {
    ConnectionPeer peer(ConnectionPeer::Mode::CloseAfterAnswer);
    FetchConfig c;
    c.allow = {peer.base()};
    FhirFetcher f(c, FetchPlan{});
    REQUIRE(f.fetch(needsFrom(peer.base(), "t", {"patient"}), "2026-11-25").status == 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the server's close arrives
    FetchResult r = f.fetch(needsFrom(peer.base(), "t", {"patient"}), "2026-11-25");
    CHECK(r.status == 0);
    CHECK(r.connections == 1);
    CHECK(f.poolStats().stale == 1);
    CHECK(f.poolStats().retried == 0);
    CHECK(peer.requests() == 2);
}

TEST_CASE("fetch: a GET unanswered on a reused connection is sent once more, on a new one only", "[fetch]") {
    {
        ConnectionPeer peer(ConnectionPeer::Mode::DropSecondRequest);
        FetchConfig c;
        c.allow = {peer.base()};
        FhirFetcher f(c, FetchPlan{});
        REQUIRE(f.fetch(needsFrom(peer.base(), "t", {"patient"}), "2026-11-25").status == 0);
        FetchResult r = f.fetch(needsFrom(peer.base(), "t", {"patient"}), "2026-11-25");
        CHECK(r.status == 0);
        CHECK(f.poolStats().retried == 1);
        CHECK(peer.requests() == 3);
        CHECK(peer.connections() == 2);
    }
    {
        // On a new connection, no answer is final: 412, and the request was sent once.
        ConnectionPeer peer(ConnectionPeer::Mode::NeverAnswer);
        FetchConfig c;
        c.allow = {peer.base()};
        FhirFetcher f(c, FetchPlan{});
        FetchResult r = f.fetch(needsFrom(peer.base(), "t", {"patient"}), "2026-11-25");
        CHECK(r.status == 412);
        CHECK(r.values.empty());
        CHECK_THAT(r.problem, Contains("Patient/p1"));
        CHECK(f.poolStats().retried == 0);
        CHECK(peer.requests() == 1);
    }
}

TEST_CASE("fetch: at most --fhir-max-connections connections per origin in use, all calls together", "[fetch]") {
    ConnectionPeer peer(ConnectionPeer::Mode::KeepAlive);
    FetchConfig c;
    c.allow = {peer.base()};
    c.parallel = 4;
    c.maxConnections = 2;
    FhirFetcher f(c, FetchPlan{});
    std::vector<std::thread> calls;
    std::atomic<int> ok{0};
    for (int i = 0; i < 4; ++i)
        calls.emplace_back([&] { ok += f.fetch(needsFrom(peer.base(), "t", allKeys()), "2026-11-25").status == 0; });
    for (std::thread& t : calls) t.join();
    CHECK(ok == 4);
    CHECK(peer.connections() <= 2);
    CHECK(peer.requests() == 4 * int(prefetchKeys().size()));
}

TEST_CASE("fetch: a connection serves only its own origin", "[fetch]") {
    ConnectionPeer one(ConnectionPeer::Mode::KeepAlive), two(ConnectionPeer::Mode::KeepAlive);
    FetchConfig c;
    c.allow = {one.base(), two.base()};
    FhirFetcher f(c, FetchPlan{});
    for (int i = 0; i < 3; ++i) {
        REQUIRE(f.fetch(needsFrom(one.base(), "t1", {"patient"}), "2026-11-25").status == 0);
        REQUIRE(f.fetch(needsFrom(two.base(), "t2", {"patient"}), "2026-11-25").status == 0);
    }
    CHECK(one.connections() == 1);
    CHECK(two.connections() == 1);
    for (const std::string& h : one.authorizations()) CHECK(h == "Bearer t1");
    for (const std::string& h : two.authorizations()) CHECK(h == "Bearer t2");
}

TEST_CASE("fetch: which prefetch keys are missing", "[fetch]") {
    auto n = prefetchNeeds(
        R"({"hook":"patient-view","fhirServer":"https://f/r4","fhirAuthorization":{"access_token":"tok","token_type":"Bearer"},
            "context":{"patientId":"p1"},"prefetch":{"patient":{"resourceType":"Patient","id":"p1"},"conditions":null,
            "procedures":{"resourceType":"OperationOutcome"}}})");
    CHECK(n.json);
    CHECK(n.fhirServer == "https://f/r4");
    CHECK(n.accessToken == "tok");
    CHECK(n.patientId == "p1");
    // null = fetched, nothing there; an OperationOutcome = the client failed: fetch it.
    CHECK(n.missing == std::vector<std::string>{"procedures", "observations", "medicationRequests",
                                                "medicationStatements", "allergies", "encounters"});
    auto none = prefetchNeeds(R"({"hook":"patient-view","context":{"patientId":"p1"}})");
    CHECK(none.missing.size() == prefetchKeys().size());
    CHECK_FALSE(prefetchNeeds("[]").json);
}

TEST_CASE("fetch: fetched values replace the prefetch keys, the rest is kept", "[fetch]") {
    const std::string out = withPrefetch(
        R"({"hook":"patient-view","context":{"patientId":"p1"},"prefetch":{"patient":{"resourceType":"Patient","id":"p1"},"procedures":{"resourceType":"OperationOutcome"}}})",
        {{"procedures", R"({"resourceType":"Bundle","type":"searchset","entry":[]})"}});
    CHECK_THAT(out, Contains(R"("hook":"patient-view")"));
    CHECK_THAT(out, Contains(R"("patient":{"resourceType":"Patient","id":"p1"})"));
    CHECK_THAT(out, Contains(R"("procedures":{"resourceType":"Bundle")"));
    CHECK_THAT(out, !Contains("OperationOutcome"));
    const std::string noPrefetch = withPrefetch(R"({"hook":"patient-view"})", {{"patient", "{}"}});
    CHECK(noPrefetch == R"({"hook":"patient-view","prefetch":{"patient":{}}})");
}

TEST_CASE("service content: override reasons and the fetch plan come from the content", "[content]") {
    const ServiceContent c = loadServiceContent(PPMG_CONTENT_DIR);
    CHECK(c.sha256.size() == 64);
    CHECK(c.version == "1.1.0");
    CHECK(c.localSystem == "urn:oid:2.25.318214975805081609918790724903688664766.1");
    REQUIRE(c.overrideReasons.size() >= 3);
    for (const auto& r : c.overrideReasons) {
        CHECK_FALSE(r.code.empty());
        CHECK_FALSE(r.display.empty());
    }
    // Every measure's codes, and the wound status, within the widest Observation window (365
    // days: the breastfeeding status gap); the delivery date Observation apart, at any date.
    auto has = [](const std::vector<SystemCode>& v, const char* system, const char* code) {
        return std::find(v.begin(), v.end(), SystemCode{system, code}) != v.end();
    };
    CHECK(has(c.fetch.observationCodes, "http://loinc.org", "8480-6"));
    CHECK(has(c.fetch.observationCodes, "http://loinc.org", "777-3"));
    CHECK(has(c.fetch.observationCodes, c.localSystem.c_str(), "cs-wound-status"));
    CHECK(has(c.fetch.deliveryDateCodes, "http://loinc.org", "93857-1"));
    CHECK(c.fetch.observationWindowDays == 365);
    CHECK_FALSE(c.fetch.prefixCodes);
    CHECK_THROWS(loadServiceContent("/nonexistent"));
}
