// End-to-end tests of `ppmg serve`: the real server on a loopback port, spoken to over HTTP(S)
// with Poco's client, with JWTs signed here (ES384 on P-384, RS384).
#include <catch2/catch.hpp>

#include <simdjson.h>

#include <signal.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <thread>

#include "server_harness.hpp"
#include "service_fixtures.hpp"
#include "test_keys.hpp"

using namespace ppmg::test;
using Catch::Matchers::Contains;

// ---- 1. the server ------------------------------------------------------------------------

TEST_CASE("serve: GET /healthz answers without a token and names the content", "[server]") {
    Client c("127.0.0.1", env().main().port());
    Reply r = c.get("/healthz");
    REQUIRE(r.status == 200);
    CHECK(r.header("ppmg-content-version") == "1.1.0");
    auto d = parse(r.body);
    CHECK(s(d->root, "status") == "ok");
    CHECK(!s(d->root["content"], "version").empty());
}

TEST_CASE("serve: unknown paths answer 404 and wrong methods 405", "[server]") {
    Client c("127.0.0.1", env().main().port());
    CHECK(c.get("/nothing-here").status == 404);
    Reply r = c.get(kService);
    CHECK(r.status == 405);
    CHECK_THAT(r.header("allow"), Contains("POST"));
    CHECK(c.request("DELETE", "/cds-services").status == 405);
    Reply o = c.request("OPTIONS", kService);  // CORS preflight
    CHECK(o.status == 204);
    CHECK_THAT(o.header("access-control-allow-headers"), Contains("Authorization"));
}

TEST_CASE("serve: the access log has one JSON line per request and no patient data", "[server]") {
    ServerProcess& srv = env().main();
    {
        Client c("127.0.0.1", srv.port());
        REQUIRE(c.post(kService, dvtCall(kSecretPatient), env().token(srv.serviceUrl())).status == 200);
        REQUIRE(c.post(kService, dvtCall(kSecretPatient), "").status == 401);
        REQUIRE(c.get("/healthz").status == 200);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const std::string log = readTextFile(env().accessLog);
    CHECK(log.find(kSecretPatient) == std::string::npos);
    CHECK(log.find("Testperson") == std::string::npos);
    size_t lines = 0, ok = 0, refused = 0;
    std::istringstream in(log);
    for (std::string line; std::getline(in, line);) {
        ++lines;
        auto d = parse(line);
        CHECK(!s(d->root, "time").empty());
        CHECK(!s(d->root, "method").empty());
        int64_t status = 0;
        CHECK(d->root["status"].get_int64().get(status) == simdjson::SUCCESS);
        CHECK(d->root["ms"].is_number());
        if (s(d->root, "path") == kService && status == 200) {
            ++ok;
            CHECK(s(d->root, "auth") == "ok");
            CHECK(s(d->root, "iss") == kIssuerEc);
            CHECK(s(d->root, "indicator") == "critical");
        }
        if (s(d->root, "path") == kService && status == 401) {
            ++refused;
            CHECK(s(d->root, "auth") == "missing-token");
        }
    }
    CHECK(lines >= 3);
    CHECK(ok >= 1);
    CHECK(refused >= 1);
}

TEST_CASE("serve: concurrent calls from 16 connections all succeed", "[server][load]") {
    ServerProcess& srv = env().main();
    const std::string body = flaggedCall();
    std::atomic<int> good{0}, bad{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 16; ++t)
        threads.emplace_back([&] {
            Client c("127.0.0.1", srv.port());  // one kept-alive connection per thread
            for (int i = 0; i < 25; ++i) {
                try {
                    Reply r = c.post(kService, body, env().token(srv.serviceUrl()));
                    (r.status == 200 ? good : bad)++;
                } catch (...) {
                    bad++;
                }
            }
        });
    for (auto& t : threads) t.join();
    CHECK(bad == 0);
    CHECK(good == 16 * 25);
}

TEST_CASE("serve: a body over --max-body-bytes gets 413", "[server][limits]") {
    auto args = env().authArgs();
    for (const char* a : {"--max-body-bytes", "4096", "--access-log", "off"}) args.push_back(a);
    ServerProcess srv(args);
    Client c("127.0.0.1", srv.port());
    std::string big = dvtCall();
    big.insert(big.size() - 1, ",\"padding\":\"" + std::string(8000, 'x') + "\"");
    Reply r = c.post(kService, big, env().token(srv.serviceUrl()));
    CHECK(r.status == 413);
    CHECK_THAT(r.body, Contains("OperationOutcome"));
    // A much larger body: the answer still arrives (the rest of the body is read and dropped).
    std::string huge = dvtCall();
    huge.insert(huge.size() - 1, ",\"padding\":\"" + std::string(2u << 20, 'x') + "\"");
    Client c1("127.0.0.1", srv.port());
    CHECK(c1.post(kService, huge, env().token(srv.serviceUrl())).status == 413);
    Client c2("127.0.0.1", srv.port());
    CHECK(c2.post(kService, dvtCall(), env().token(srv.serviceUrl())).status == 200);
}

TEST_CASE("serve: a request body slower than --request-timeout gets 408", "[server][limits]") {
    auto args = env().authArgs();
    for (const char* a : {"--request-timeout", "1", "--access-log", "off"}) args.push_back(a);
    ServerProcess srv(args);
    RawConnection conn(srv.port());
    const std::string body = dvtCall();
    conn.send("POST " + kService + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(srv.port()) +
              "\r\nAuthorization: Bearer " + env().token(srv.serviceUrl()) +
              "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
              body.substr(0, 10));
    const std::string reply = conn.receive(5);
    CHECK_THAT(reply, Contains("408"));
}

TEST_CASE("serve: a slow body does not shorten the next request's time on the connection", "[server][limits]") {
    auto args = env().authArgs();
    for (const char* a : {"--request-timeout", "3", "--access-log", "off"}) args.push_back(a);
    ServerProcess srv(args);
    RawConnection conn(srv.port());
    const std::string body = dvtCall();
    auto head = [&](const std::string& b) {
        return "POST " + kService + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(srv.port()) +
               "\r\nAuthorization: Bearer " + env().token(srv.serviceUrl()) +
               "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(b.size()) + "\r\n\r\n";
    };
    // First request: the body's second half arrives 2.5 s into the 3 s allowed.
    conn.send(head(body) + body.substr(0, 20));
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
    conn.send(body.substr(20));
    std::string first = conn.receive(2);
    REQUIRE_THAT(first, Contains("HTTP/1.1 200"));
    // Second request on the same connection, its headers in two parts 1.5 s apart: it still has 3 s.
    const std::string second = head(body) + body;
    conn.send(second.substr(0, 30));
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    conn.send(second.substr(30));
    CHECK_THAT(conn.receive(3), Contains("HTTP/1.1 200"));
}

TEST_CASE("serve: SIGTERM finishes the request in progress, then exits 0", "[server][shutdown]") {
    auto args = env().authArgs();
    args.push_back("--access-log");
    args.push_back("off");
    ServerProcess srv(args);
    RawConnection conn(srv.port());
    const std::string body = dvtCall();
    conn.send("POST " + kService + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(srv.port()) +
              "\r\nAuthorization: Bearer " + env().token(srv.serviceUrl()) +
              "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
              body.substr(0, body.size() / 2));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the request is now in progress
    kill(srv.pid(), SIGTERM);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    conn.send(body.substr(body.size() / 2));
    const std::string reply = conn.receive(10);
    CHECK_THAT(reply, Contains("HTTP/1.1 200"));
    CHECK_THAT(reply, Contains("critical"));
    CHECK(srv.stop(0, 15) == 0);  // signal 0: only wait
    CHECK_THAT(srv.log(), Contains("stopped after"));
    CHECK_THROWS(RawConnection(srv.port()));
}

TEST_CASE("serve: a request still unfinished after --shutdown-timeout is cut off, exit 1", "[server][shutdown]") {
    auto args = env().authArgs();
    for (const char* a : {"--shutdown-timeout", "1", "--access-log", "off"}) args.push_back(a);
    ServerProcess srv(args);
    RawConnection conn(srv.port());
    // An authenticated call whose body stops halfway: it holds a worker.
    conn.send("POST " + kService + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " +
              env().token(srv.serviceUrl()) + "\r\nContent-Length: 1000\r\n\r\n{");
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const auto t0 = std::chrono::steady_clock::now();
    CHECK(srv.stop(SIGTERM, 15) == 1);
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
    CHECK_THAT(srv.log(), Contains("still busy after --shutdown-timeout"));
}

TEST_CASE("serve: SIGINT stops it cleanly too", "[server][shutdown]") {
    ServerProcess srv(env().authArgs());
    Client c("127.0.0.1", srv.port());
    REQUIRE(c.get("/healthz").status == 200);
    CHECK(srv.stop(SIGINT, 15) == 0);
}

TEST_CASE("serve: HTTPS with --tls-cert and --tls-key", "[server][tls]") {
    const std::string dir = scratchDir();
    const std::string cert = dir + "/tls-cert.pem", key = dir + "/tls-key.pem";
    std::string err;
    const std::string cmd =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "
        "/CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout '" +
        key + "' -out '" + cert + "' >/dev/null 2>&1";
    REQUIRE(std::system(cmd.c_str()) == 0);
    auto args = env().authArgs();
    for (const std::string& a : {std::string("--tls-cert"), cert, std::string("--tls-key"), key}) args.push_back(a);
    ServerProcess srv(args, true);
    CHECK_THAT(srv.log(), Contains("listening on https://"));
    Client c("127.0.0.1", srv.port(), true, cert);  // verifies the server's certificate
    CHECK(c.get("/healthz").status == 200);
    Reply r = c.post(kService, dvtCall(), env().token(srv.serviceUrl()));  // aud is https://...
    CHECK(r.status == 200);
    CHECK_THAT(r.body, Contains("critical"));
    // Plain HTTP to the TLS port gets no HTTP answer.
    RawConnection plain(srv.port());
    plain.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(plain.receive(3).find("200 OK") == std::string::npos);
}

TEST_CASE("serve: start-up refuses bad configuration", "[server]") {
    std::string err;
    const std::string pub = "--public-url=" + kPublicUrl;
    CHECK(runPpmg({"serve", "--listen", "127.0.0.1:0", pub}, err) == 2);
    CHECK_THAT(err, Contains("--jwks"));
    CHECK(runPpmg({"serve", "--listen", "127.0.0.1:0", pub, "--jwks", "https://x/=/nonexistent.json"}, err) == 2);
    CHECK(runPpmg({"serve", "--listen", "127.0.0.1:99999", pub, "--jwks", "https://x/=" + env().ecJwks}, err) == 2);
    CHECK(runPpmg({"serve", "--listen", "127.0.0.1:0", pub, "--jwks", "https://x/=" + env().ecJwks, "--threads", "0"},
                  err) == 2);
    const std::string bad = scratchDir() + "/bad.jwks.json";
    writeText(bad, R"({"keys":[{"kty":"oct","k":"c2VjcmV0"}]})");
    CHECK(runPpmg({"serve", "--listen", "127.0.0.1:0", pub, "--jwks", "https://x/=" + bad}, err) == 2);
    CHECK_THAT(err, Contains("no usable key"));
    CHECK(runPpmg(
              {"serve", "--listen", "127.0.0.1:0", pub, "--jwks", "https://x/=" + env().ecJwks, "--tls-cert", "c.pem"},
              err) == 2);
    CHECK(runPpmg(
              {"serve", "--listen", "127.0.0.1:0", "--public-url", "ftp://x/", "--jwks", "https://x/=" + env().ecJwks},
              err) == 2);
    CHECK_THAT(err, Contains("--public-url"));
    // A port in use.
    ServerProcess& srv = env().main();
    CHECK(runPpmg({"serve", "--listen", "127.0.0.1:" + std::to_string(srv.port()), pub, "--jwks",
                   "https://x/=" + env().ecJwks},
                  err) == 1);
    CHECK_THAT(err, Contains("cannot listen"));
}

// ---- 2. discovery -------------------------------------------------------------------------

TEST_CASE("discovery: the service for patient-view and encounter-discharge, with prefetch", "[discovery]") {
    Client c("127.0.0.1", env().main().port());
    Reply r = c.get("/cds-services");
    REQUIRE(r.status == 200);
    CHECK_THAT(r.header("content-type"), Contains("application/json"));
    CHECK(r.header("ppmg-content-version") == "1.1.0");
    auto d = parse(r.body);
    simdjson::dom::array services;
    REQUIRE(d->root["services"].get(services) == simdjson::SUCCESS);
    std::set<std::string> hooks;
    for (auto sv : services) {
        CHECK(s(sv, "id") == "postpartum-massage-guidance");
        CHECK(!s(sv, "title").empty());
        CHECK(!s(sv, "description").empty());
        hooks.insert(s(sv, "hook"));
        simdjson::dom::object prefetch;
        REQUIRE(sv["prefetch"].get(prefetch) == simdjson::SUCCESS);
        std::string all;
        for (auto kv : prefetch) all += std::string(kv.value.get_string().value()) + " ";
        CHECK_THAT(all, Contains("Patient/{{context.patientId}}"));
        for (const char* type : {"Condition?", "Procedure?", "Observation?", "MedicationRequest?",
                                 "MedicationStatement?", "AllergyIntolerance?", "Encounter?"})
            CHECK_THAT(all, Contains(type));
        CHECK(!s(sv["extension"]["ppmg.content"], "version").empty());
    }
    CHECK(hooks == std::set<std::string>{"patient-view", "encounter-discharge"});
}

// ---- 3. the service -----------------------------------------------------------------------

TEST_CASE("service: a DVT gives one critical card with the triggering data", "[service]") {
    ServerProcess& srv = env().main();
    Reply r = callService(dvtCall(), env().token(srv.serviceUrl()));
    INFO(r.body);
    REQUIRE(r.status == 200);
    CHECK(r.header("ppmg-content-version") == "1.1.0");
    auto d = parse(r.body);
    simdjson::dom::array cards;
    REQUIRE(d->root["cards"].get(cards) == simdjson::SUCCESS);
    REQUIRE(cards.size() == 1);
    auto card = cards.at(0).value();
    checkCard(card, true);
    CHECK(s(card, "indicator") == "critical");
    CHECK_THAT(lower(s(card, "summary")), Contains("urgent clinical assessment"));
    const std::string detail = s(card, "detail");
    CHECK_THAT(detail, Contains("Deep venous thrombosis"));
    CHECK_THAT(detail, Contains("Condition/dvt-1"));
    CHECK_THAT(detail, Contains(daysAgo(2)));    // the data's date
    CHECK_THAT(detail, Contains("PPM-ESC-01"));  // the rule
    CHECK(s(card["source"]["topic"], "code") == "PPM-ESC-01");
    CHECK(s(d->root["extension"]["ppmg.content"], "version") == "1.1.0");
}

TEST_CASE("service: rule 21, one record one reading: a prefetch that repeats a resource reads as one Bundle does",
          "[service][rule-21]") {
    // The same Condition twice under its id: an entered-in-error copy first, a confirmed DVT second.
    const std::string id = "pat-21";
    auto dvt = [&](const std::string& verification) {
        std::string c =
            condition("dvt-1", id, "http://snomed.info/sct", "128053003", "Deep venous thrombosis", daysAgo(2));
        c.insert(
            c.size() - 1,
            R"(,"verificationStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-ver-status","code":")" +
                verification + R"("}]})");
        return c;
    };
    const std::string erroneous = dvt("entered-in-error"), confirmed = dvt("confirmed");
    ServerProcess& srv = env().main();
    Reply r = callService(
        hookCall(id, "\"patient\":" + patientJson(id) + ",\"conditions\":" + searchset({erroneous, confirmed}) +
                         ",\"procedures\":" + searchset({vaginalBirth(id, daysAgo(10))})),
        env().token(srv.serviceUrl()));
    INFO(r.body);
    REQUIRE(r.status == 200);
    auto d = parse(r.body);
    simdjson::dom::array cards;
    REQUIRE(d->root["cards"].get(cards) == simdjson::SUCCESS);
    REQUIRE(cards.size() == 1);
    CHECK(s(cards.at(0).value(), "indicator") == "critical");
    // The command line, given the same resources in one Bundle, reads the same: escalate.
    const std::string file = scratchDir() + "/rule-21.json";
    writeText(file, R"({"resourceType":"Bundle","type":"collection","entry":[{"resource":)" + patientJson(id) +
                        R"(},{"resource":)" + erroneous + R"(},{"resource":)" + confirmed + R"(},{"resource":)" +
                        vaginalBirth(id, daysAgo(10)) + "}]}");
    std::string err, out;
    REQUIRE(runPpmg({"assess", "--as-of", daysAgo(0), "--patient", id, file}, err, &out) == 0);
    auto cli = parse(out);
    bool escalate = false;
    CHECK(cli->root["escalate"].get_bool().get(escalate) == simdjson::SUCCESS);
    CHECK(escalate);
}

TEST_CASE("service: rule 16, while the content is not signed off every card's detail says so", "[service][rule-16]") {
    ServerProcess& srv = env().main();
    for (const std::string& body : {dvtCall(), flaggedCall(), quietCall()}) {
        Reply r = callService(body, env().token(srv.serviceUrl()));
        REQUIRE(r.status == 200);
        auto d = parse(r.body);
        simdjson::dom::array cards;
        REQUIRE(d->root["cards"].get(cards) == simdjson::SUCCESS);
        REQUIRE(cards.size() >= 1);
        for (auto card : cards) CHECK_THAT(s(card, "detail"), Contains("Draft content: not yet clinically signed off"));
    }
}

TEST_CASE("service: rule 11, the critical card gives the urgent message, the data and the gaps by name only",
          "[service][rule-11]") {
    ServerProcess& srv = env().main();
    Reply r = callService(dvtCall(), env().token(srv.serviceUrl()));  // no allergy list, no perineal record
    REQUIRE(r.status == 200);
    auto d = parse(r.body);
    auto card = d->root["cards"].at(0).value();
    REQUIRE(s(card, "indicator") == "critical");
    const std::string detail = s(card, "detail");
    CHECK_THAT(detail, Contains("Seek urgent clinical assessment"));
    CHECK_THAT(detail, Contains("Condition/dvt-1"));
    CHECK_THAT(detail, Contains("No allergy list"));  // the gap, by name
    for (const char* advice :
         {"fragrance", "nut-free", "patch-test", "side-lying", "positions", "avoid pressure", "puncture site"}) {
        INFO(advice);
        CHECK(detail.find(advice) == std::string::npos);
    }
}

TEST_CASE("service: encounter-discharge is served the same way", "[service]") {
    ServerProcess& srv = env().main();
    Reply r = callService(dvtCall("pat-discharge", "encounter-discharge"), env().token(srv.serviceUrl()));
    INFO(r.body);
    REQUIRE(r.status == 200);
    CHECK_THAT(r.body, Contains("\"critical\""));
}

TEST_CASE("service: one card per flagged massage type, warning for block and info for defer", "[service]") {
    ServerProcess& srv = env().main();
    Reply r = callService(flaggedCall(), env().token(srv.serviceUrl()));
    INFO(r.body);
    REQUIRE(r.status == 200);
    auto d = parse(r.body);
    simdjson::dom::array cards;
    REQUIRE(d->root["cards"].get(cards) == simdjson::SUCCESS);
    std::map<std::string, std::string> byTopic;
    for (auto card : cards) {
        checkCard(card, true);
        byTopic[s(card["source"]["topic"], "code")] = s(card, "indicator");
        CHECK_THAT(s(card, "detail"), Contains("postpartum day 6"));
    }
    CHECK(byTopic["PPM-BLK-04"] == "warning");  // breast: block
    CHECK(byTopic["PPM-TIME-01"] == "info");    // abdominal: defer
    CHECK(cards.size() == 2);
}

TEST_CASE("service: review outcomes give warning cards, no delivery on record", "[service]") {
    ServerProcess& srv = env().main();
    Reply r = callService(hookCall("pat-nodelivery", "\"patient\":" + patientJson("pat-nodelivery")),
                          env().token(srv.serviceUrl()));
    REQUIRE(r.status == 200);
    auto d = parse(r.body);
    simdjson::dom::array cards;
    REQUIRE(d->root["cards"].get(cards) == simdjson::SUCCESS);
    CHECK(cards.size() == 4);  // every massage type: clinician review
    for (auto card : cards) {
        checkCard(card, true);
        CHECK(s(card, "indicator") == "warning");
        CHECK(s(card["source"]["topic"], "code") == "PPM-APP-02");
    }
}

TEST_CASE("service: nothing flagged gives one info card", "[service]") {
    ServerProcess& srv = env().main();
    Reply r = callService(quietCall(), env().token(srv.serviceUrl()));
    INFO(r.body);
    REQUIRE(r.status == 200);
    auto d = parse(r.body);
    simdjson::dom::array cards;
    REQUIRE(d->root["cards"].get(cards) == simdjson::SUCCESS);
    REQUIRE(cards.size() == 1);
    checkCard(cards.at(0).value(), true);
    CHECK(s(cards.at(0).value(), "indicator") == "info");
    CHECK_THAT(s(cards.at(0).value(), "summary"), Contains("No contraindication"));

    // Out of scope (a man, no delivery): also one info card.
    Reply m =
        callService(hookCall("pat-m", "\"patient\":" + patientJson("pat-m", "male")), env().token(srv.serviceUrl()));
    auto dm = parse(m.body);
    REQUIRE(dm->root["cards"].get(cards) == simdjson::SUCCESS);
    REQUIRE(cards.size() == 1);
    CHECK(s(cards.at(0).value(), "indicator") == "info");
    CHECK_THAT(s(cards.at(0).value(), "summary"), Contains("Not applicable"));
}

TEST_CASE("service: missing required prefetch gives 412 with an OperationOutcome", "[service]") {
    ServerProcess& srv = env().main();
    auto check412 = [&](const std::string& body) {
        Reply r = callService(body, env().token(srv.serviceUrl()));
        INFO(body.substr(0, 300) << "\n" << r.body);
        CHECK(r.status == 412);
        auto d = parse(r.body);
        CHECK(s(d->root, "resourceType") == "OperationOutcome");
    };
    check412(R"({"hook":"patient-view","hookInstance":"a","context":{"patientId":"p"}})");
    check412(hookCall("p", "\"conditions\":" + searchset({})));
    check412(hookCall("p", "\"patient\":null"));
    check412(hookCall("p", R"("patient":{"resourceType":"OperationOutcome","issue":[]})"));
    check412(hookCall("someone-else", "\"patient\":" + patientJson("p")));
}

TEST_CASE("service: bad requests get 400", "[service]") {
    ServerProcess& srv = env().main();
    CHECK(callService("not json", env().token(srv.serviceUrl())).status == 400);
    CHECK(callService(R"({"hook":"order-sign","context":{}})", env().token(srv.serviceUrl())).status == 400);
    CHECK(callService(hookCall("p", "\"patient\":" + patientJson("p") + ",\"conditions\":42"),
                      env().token(srv.serviceUrl()))
              .status == 400);
}

TEST_CASE("service: summaries stay within 140 characters and data cannot inject Markdown", "[service]") {
    ServerProcess& srv = env().main();
    const std::string id = "pat-long";
    const std::string hostile = "DVT [click](http://evil.example) <b>x</b> | *y*";
    Reply r = callService(
        hookCall(
            id, "\"patient\":" + patientJson(id) + ",\"conditions\":" +
                    searchset({condition("c1", id, "http://snomed.info/sct", "128053003", hostile, daysAgo(1)),
                               condition("c2", id, "http://hl7.org/fhir/sid/icd-10-cm", "O72.1", "PPH", daysAgo(1)),
                               condition("c3", id, "http://hl7.org/fhir/sid/icd-10-cm", "O85", "Sepsis", daysAgo(1))}) +
                    ",\"procedures\":" + searchset({vaginalBirth(id, daysAgo(3))})),
        env().token(srv.serviceUrl()));
    INFO(r.body);
    REQUIRE(r.status == 200);
    auto d = parse(r.body);
    auto card = d->root["cards"].at(0).value();
    checkCard(card, true);
    const std::string detail = s(card, "detail");
    CHECK(detail.find("[click](") == std::string::npos);
    CHECK(detail.find("<b>") == std::string::npos);
}

// ---- 4. security --------------------------------------------------------------------------

TEST_CASE("auth: valid ES384 and RS384 tokens are accepted", "[auth]") {
    ServerProcess& srv = env().main();
    CHECK(callService(dvtCall(), env().token(srv.serviceUrl())).status == 200);
    CHECK(callService(dvtCall(), env().token(srv.serviceUrl(), &env().rsa)).status == 200);
    // aud as an array holding the URL.
    Claims c = claimsOf(kIssuerEc, srv.serviceUrl());
    std::string t = env().ec.sign(R"({"alg":"ES384","typ":"JWT","kid":"ec-key-1"})",
                                  "{\"iss\":\"" + kIssuerEc + "\",\"aud\":[\"" + srv.serviceUrl() +
                                      "\"],\"exp\":" + std::to_string(unixNow() + 300) +
                                      ",\"iat\":" + std::to_string(unixNow()) + ",\"jti\":\"" + randomId() + "\"}");
    CHECK(callService(dvtCall(), t).status == 200);
}

TEST_CASE("auth: every failure is a 401 that says nothing about the patient", "[auth]") {
    ServerProcess& srv = env().main();
    const std::string url = srv.serviceUrl();
    const std::string body = dvtCall(kSecretPatient);
    const int64_t now = unixNow();
    auto claims = [&] { return claimsOf(kIssuerEc, url); };

    SECTION("missing") { checkRefused(callService(body, "")); }
    SECTION("not Bearer") {
        Client c("127.0.0.1", srv.port());
        checkRefused(c.request("POST", kService, body, {{"Authorization", "Basic dXNlcjpwYXNz"}}));
    }
    SECTION("garbage") { checkRefused(callService(body, "not-a-jwt")); }
    SECTION("expired") {
        Claims c = claims();
        c.iat = now - 600;
        c.exp = now - 120;
        checkRefused(callService(body, makeToken(env().ec, c)));
    }
    SECTION("issued in the future") {
        Claims c = claims();
        c.iat = now + 300;
        c.exp = now + 600;
        checkRefused(callService(body, makeToken(env().ec, c)));
    }
    SECTION("replayed") {
        const std::string t = makeToken(env().ec, claims());
        REQUIRE(callService(body, t).status == 200);
        checkRefused(callService(body, t));
    }
    SECTION("unsigned (alg none)") { checkRefused(callService(body, makeUnsignedToken(claims()))); }
    SECTION("HS384 with the public key as the secret") {
        checkRefused(callService(body, makeHmacToken(env().ec.publicJwk(), claims(), "ec-key-1")));
        checkRefused(callService(body, makeHmacToken(readTextFile(env().ecJwks), claims(), "ec-key-1")));
    }
    SECTION("unknown issuer") {
        Claims c = claims();
        c.iss = "https://stranger.example.org/";
        checkRefused(callService(body, makeToken(env().ec, c)));
    }
    SECTION("a key no issuer trusts") { checkRefused(callService(body, makeToken(env().ec2, claims()))); }
    SECTION("another issuer's key") {
        Claims c = claims();
        c.iss = kIssuerRsa;  // signed with the EC key of the first issuer
        checkRefused(callService(body, makeToken(env().ec, c)));
    }
    SECTION("wrong audience") {
        Claims c = claims();
        c.aud = srv.publicBase() + "/cds-services/some-other-service";
        checkRefused(callService(body, makeToken(env().ec, c)));
        c.aud = srv.publicBase() + "/render";
        checkRefused(callService(body, makeToken(env().ec, c)));
    }
    SECTION("tampered payload") {
        std::string t = makeToken(env().ec, claims());
        Claims other = claims();
        other.iss = kIssuerEc;
        other.aud = url;
        std::string t2 = makeToken(env().ec, other);
        // The header and signature of one token with the payload of another.
        const std::string spliced =
            t.substr(0, t.find('.')) + t2.substr(t2.find('.'), t2.rfind('.') - t2.find('.')) + t.substr(t.rfind('.'));
        checkRefused(callService(body, spliced));
    }
    SECTION("missing claims") {
        Claims c = claims();
        c.omitJti = true;
        checkRefused(callService(body, makeToken(env().ec, c)));
        c = claims();
        c.omitExp = true;
        checkRefused(callService(body, makeToken(env().ec, c)));
    }
    SECTION("a lifetime beyond --max-token-lifetime") {
        Claims c = claims();
        c.exp = now + 7 * 86400;
        checkRefused(callService(body, makeToken(env().ec, c)));
    }
}

TEST_CASE("auth: 60 s of clock skew is allowed on exp and iat", "[auth]") {
    ServerProcess& srv = env().main();
    const int64_t now = unixNow();
    Claims c = claimsOf(kIssuerEc, srv.serviceUrl());
    c.iat = now - 300;
    c.exp = now - 30;  // expired 30 s ago: within the skew
    CHECK(callService(dvtCall(), makeToken(env().ec, c)).status == 200);
    c.jti.clear();
    c.iat = now + 30;  // issued 30 s "in the future": within the skew
    c.exp = now + 300;
    CHECK(callService(dvtCall(), makeToken(env().ec, c)).status == 200);
}

TEST_CASE("auth: a refused call leaves the kept-alive connection usable", "[auth]") {
    ServerProcess& srv = env().main();
    Client c("127.0.0.1", srv.port());
    CHECK(c.post(kService, dvtCall(), "").status == 401);
    CHECK(c.post(kService, dvtCall(), env().token(srv.serviceUrl())).status == 200);
}

TEST_CASE("auth: aud is checked against --public-url when given", "[auth]") {
    auto args = env().jwksArgs();
    for (const char* a : {"--public-url", "https://cds.example.org/ppmg/", "--access-log", "off"}) args.push_back(a);
    ServerProcess srv(args);
    Client c("127.0.0.1", srv.port());
    const std::string pub = "https://cds.example.org/ppmg" + kService;
    CHECK(c.post(kService, dvtCall(), env().token(pub)).status == 200);
    CHECK(c.post("/ppmg" + kService, dvtCall(), env().token(pub)).status == 200);  // a proxy that keeps the prefix
    CHECK(c.post(kService, dvtCall(), env().token(srv.base() + kService)).status == 401);  // the listening URL
    // Cards point at the public URL.
    Reply r = c.post(kService, dvtCall(), env().token(pub));
    CHECK_THAT(r.body, Contains("https://cds.example.org/ppmg/about"));
}

TEST_CASE("auth: --insecure-no-auth warns at start-up and on every request", "[auth]") {
    ServerProcess srv({"--insecure-no-auth", "--access-log", "off"});
    CHECK_THAT(srv.log(), Contains("WARNING: --insecure-no-auth"));
    Client c("127.0.0.1", srv.port());
    for (int i = 0; i < 3; ++i) CHECK(c.post(kService, dvtCall(), "").status == 200);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const std::string log = srv.log();
    size_t warnings = 0;
    for (size_t p = 0; (p = log.find("WARNING: --insecure-no-auth", p)) != std::string::npos; ++p) ++warnings;
    CHECK(warnings >= 4);  // start-up + three requests
}

// ---- 5. /render ---------------------------------------------------------------------------

TEST_CASE("render: a FHIR Bundle in, the CDA document out, with the same authentication", "[render]") {
    ServerProcess& srv = env().main();
    const std::string bundle = readTextFile(std::string(PPMG_SAMPLES_DIR) + "/sample-patient.json");
    Client c("127.0.0.1", srv.port());
    checkRefused(c.post("/render", bundle, ""));
    checkRefused(c.post("/render", bundle, env().token(srv.serviceUrl())));  // aud of another endpoint
    Reply r = c.post("/render", bundle, env().token(srv.publicBase() + "/render"));
    REQUIRE(r.status == 200);
    CHECK_THAT(r.header("content-type"), Contains("xml"));
    CHECK(r.header("ppmg-content-version") == "1.1.0");
    CHECK_THAT(r.body, Contains("<ClinicalDocument"));
    Reply h = c.post("/render?format=html", bundle, env().token(srv.publicBase() + "/render"));
    REQUIRE(h.status == 200);
    CHECK_THAT(h.header("content-type"), Contains("text/html"));
    Reply bad = c.post("/render", "{\"resourceType\":\"Bundle\"", env().token(srv.publicBase() + "/render"));
    CHECK(bad.status == 400);
    CHECK_THAT(bad.body, Contains("OperationOutcome"));
}

TEST_CASE("render: audience=patient and lang give the mother's handout, a bad audience is refused",
          "[render][handout]") {
    ServerProcess& srv = env().main();
    const std::string bundle = readTextFile(std::string(PPMG_SAMPLES_DIR) + "/sample-patient.json");
    Client c("127.0.0.1", srv.port());
    const std::string token = env().token(srv.publicBase() + "/render");
    Reply zh = c.post("/render?format=html&audience=patient&lang=zh-CN", bundle, token);
    REQUIRE(zh.status == 200);
    CHECK_THAT(zh.body, Contains("产后按摩指导"));  // the handout's title, from the content
    Reply cda = c.post("/render?audience=patient&lang=zh-CN", bundle, env().token(srv.publicBase() + "/render"));
    REQUIRE(cda.status == 200);
    CHECK_THAT(cda.body, Contains("languageCode code=\"zh-CN\""));
    Reply en = c.post("/render?format=html&audience=patient", bundle, env().token(srv.publicBase() + "/render"));
    REQUIRE(en.status == 200);
    CHECK_THAT(en.body, Contains("Massage after your baby"));
    CHECK(c.post("/render?audience=mother", bundle, env().token(srv.publicBase() + "/render")).status == 400);
    CHECK(c.post("/render?audience=patient&lang=fr", bundle, env().token(srv.publicBase() + "/render")).status == 400);
}

TEST_CASE("service: each card links the handout in every content language, and the link serves it",
          "[service][handout]") {
    ServerProcess& srv = env().main();
    Reply call = callService(dvtCall("pat-handout"), env().token(srv.serviceUrl()));
    REQUIRE(call.status == 200);
    auto doc = parse(call.body);
    simdjson::dom::array links;
    REQUIRE(doc->root["cards"].at(0)["links"].get(links) == simdjson::SUCCESS);
    std::string zhUrl, zhLabel;
    bool en = false;
    for (auto l : links) {
        const std::string url = s(l, "url");
        if (url.find("?audience=patient&lang=zh-CN") != std::string::npos) zhUrl = url, zhLabel = s(l, "label");
        if (url.find("?audience=patient&lang=en") != std::string::npos) en = true;
    }
    CHECK(en);
    REQUIRE(!zhUrl.empty());
    CHECK(zhLabel == "产后按摩指导 (简体中文)");  // title and language name from the content
    const std::string path = zhUrl.substr(zhUrl.find("/view/"));
    Client c("127.0.0.1", srv.port());
    Reply page = c.get(path);
    REQUIRE(page.status == 200);
    CHECK_THAT(page.body, Contains("产后按摩指导"));
    Reply clinician = c.get(path.substr(0, path.find('?')));
    REQUIRE(clinician.status == 200);
    CHECK_THAT(clinician.body, !Contains("产后按摩指导"));
    CHECK(c.get(path.substr(0, path.find('?')) + "?audience=x").status == 400);
}

TEST_CASE("render: a C-CDA document in (any XML media type), the guidance out", "[render][ccda]") {
    ServerProcess& srv = env().main();
    const std::string ccda = readTextFile(std::string(PPMG_CCDA_DIR) + "/esc-01-dvt.xml");
    Client c("127.0.0.1", srv.port());
    for (const char* type : {"application/xml", "text/xml", "application/cda+xml"}) {
        INFO(type);
        Reply r = c.request(
            "POST", "/render?asOf=2025-11-15", ccda,
            {{"Content-Type", type}, {"Authorization", "Bearer " + env().token(srv.publicBase() + "/render")}});
        REQUIRE(r.status == 200);
        CHECK_THAT(r.body, Contains("PPM-ESC-01"));  // the DVT read from the Problems section
        CHECK_THAT(r.body, Contains("C-CDA entry id"));
    }
    // A FHIR media type still names FHIR: the document is not a FHIR resource.
    Reply fhir = c.request("POST", "/render", ccda,
                           {{"Content-Type", "application/fhir+xml"},
                            {"Authorization", "Bearer " + env().token(srv.publicBase() + "/render")}});
    CHECK(fhir.status == 400);
}

TEST_CASE("feedback: accepted with authentication", "[service]") {
    ServerProcess& srv = env().main();
    Client c("127.0.0.1", srv.port());
    // Feedback names a card this service issued (test_scale_services.cpp has the rest of it).
    Reply call = callService(dvtCall("pat-feedback"), env().token(srv.serviceUrl()));
    REQUIRE(call.status == 200);
    auto doc = parse(call.body);
    const std::string card = s(doc->root["cards"].at(0), "uuid");
    const std::string fb =
        R"({"feedback":[{"card":")" + card + R"(","outcome":"overridden","outcomeTimestamp":"2026-01-01T00:00:00Z"}]})";
    CHECK(c.post(kService + "/feedback", fb, "").status == 401);
    CHECK(c.post(kService + "/feedback", fb, env().token(srv.serviceUrl() + "/feedback")).status == 200);
    const std::string unknown =
        R"({"feedback":[{"card":"00000000-0000-4000-8000-000000000000","outcome":"accepted","outcomeTimestamp":"2026-01-01T00:00:00Z"}]})";
    CHECK(c.post(kService + "/feedback", unknown, env().token(srv.serviceUrl() + "/feedback")).status == 400);
}
