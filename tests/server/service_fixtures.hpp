// Fixtures shared by the end-to-end tests of `ppmg serve` (test_server.cpp, test_hardening.cpp):
// JSON helpers, records and hook calls, and the shared environment (keys, the main server).
#pragma once

#include <catch2/catch.hpp>

#include <simdjson.h>

#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "server_harness.hpp"
#include "test_keys.hpp"

namespace ppmg::test {

using Catch::Matchers::Contains;

inline const std::string kService = "/cds-services/postpartum-massage-guidance";
inline const std::string kIssuerEc = "https://ehr.example.org/";
inline const std::string kIssuerRsa = "https://ehr-rsa.example.org/";
inline const std::string kGuidanceUrl = "https://guidance.example.org/ppmg";
// The URL clients are told to call (--public-url): every token's aud names it.
inline const std::string kPublicUrl = "https://cds.example.test";
// A patient id that must never show in a refusal or in the access log.
inline const std::string kSecretPatient = "pt-SECRET-4711";

// ---- JSON ---------------------------------------------------------------------------------

struct Doc {
    simdjson::dom::parser parser;
    simdjson::dom::element root;
};

inline std::unique_ptr<Doc> parse(const std::string& json) {
    auto d = std::make_unique<Doc>();
    auto err = d->parser.parse(json).get(d->root);
    INFO(json.substr(0, 2000));
    REQUIRE(err == simdjson::SUCCESS);
    return d;
}

inline std::string s(simdjson::dom::element e, const char* key) {
    std::string_view v;
    if (e[key].get_string().get(v) != simdjson::SUCCESS) return {};
    return std::string(v);
}

inline size_t codePoints(const std::string& t) {
    size_t n = 0;
    for (unsigned char c : t)
        if ((c & 0xC0) != 0x80) ++n;
    return n;
}

inline std::string lower(std::string t) {
    for (char& c : t) c = char(std::tolower(static_cast<unsigned char>(c)));
    return t;
}

// Every card: the fields CDS Hooks 2.0 requires, and the ones this service promises.
inline void checkCard(simdjson::dom::element card, bool expectLinks) {
    const std::string summary = s(card, "summary");
    CHECK(!summary.empty());
    CHECK(codePoints(summary) <= 140);
    const std::string indicator = s(card, "indicator");
    CHECK((indicator == "info" || indicator == "warning" || indicator == "critical"));
    CHECK(!s(card, "uuid").empty());
    CHECK(!s(card, "detail").empty());
    simdjson::dom::element source;
    REQUIRE(card["source"].get(source) == simdjson::SUCCESS);
    CHECK(!s(source, "label").empty());
    CHECK(s(source, "url").rfind("http", 0) == 0);
    simdjson::dom::element topic;
    REQUIRE(source["topic"].get(topic) == simdjson::SUCCESS);
    CHECK(!s(topic, "code").empty());
    CHECK(!s(topic, "system").empty());
    // Links: the page of this decision (always), and --guidance-url when given.
    simdjson::dom::array links;
    REQUIRE(card["links"].get(links) == simdjson::SUCCESS);
    // And the mother's handout of the same decision, once per language of the content (en, zh-CN).
    size_t guidance = 0, view = 0, handout = 0;
    for (auto l : links) {
        CHECK(!s(l, "label").empty());
        CHECK(s(l, "type") == "absolute");
        if (s(l, "url") == kGuidanceUrl)
            ++guidance;
        else if (s(l, "url").find("/view/") != std::string::npos &&
                 s(l, "url").find("?audience=patient&lang=") != std::string::npos)
            ++handout;
        else if (s(l, "url").find("/view/") != std::string::npos)
            ++view;
    }
    CHECK(view == 1);
    CHECK(handout == 2);
    CHECK(guidance == (expectLinks ? 1u : 0u));
    CHECK(links.size() == view + handout + guidance);
}

// ---- records ------------------------------------------------------------------------------

inline std::string daysAgo(int days) {
    std::time_t t = std::time(nullptr) - std::time_t(days) * 86400;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[16];
    std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
    return buf;
}

inline std::string patientJson(const std::string& id, const std::string& gender = "female") {
    return R"({"resourceType":"Patient","id":")" + id + R"(","gender":")" + gender +
           R"(","birthDate":"1991-03-04","name":[{"family":"Testperson","given":["Ada"]}]})";
}

inline std::string searchset(const std::vector<std::string>& resources) {
    std::string b =
        R"({"resourceType":"Bundle","type":"searchset","total":)" + std::to_string(resources.size()) + R"(,"entry":[)";
    for (size_t i = 0; i < resources.size(); ++i)
        b += (i ? "," : "") + std::string(R"({"resource":)") + resources[i] + "}";
    return b + "]}";
}

inline std::string condition(const std::string& id, const std::string& patient, const std::string& system,
                             const std::string& code, const std::string& display, const std::string& onset,
                             const std::string& status = "active") {
    return R"({"resourceType":"Condition","id":")" + id +
           R"(","clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":")" +
           status + R"("}]},"code":{"coding":[{"system":")" + system + R"(","code":")" + code + R"(","display":")" +
           display + R"("}]},"subject":{"reference":"Patient/)" + patient + R"("},"onsetDateTime":")" + onset + R"("})";
}

inline std::string vaginalBirth(const std::string& patient, const std::string& date) {
    return R"({"resourceType":"Procedure","id":"birth-1","status":"completed","code":{"coding":[{"system":"http://snomed.info/sct","code":"700000006","display":"Vaginal delivery of fetus"}]},"subject":{"reference":"Patient/)" +
           patient + R"("},"performedDateTime":")" + date + R"("})";
}

inline std::string medication(const std::string& patient) {
    return R"({"resourceType":"MedicationStatement","id":"med-1","status":"active","medicationCodeableConcept":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"161","display":"acetaminophen"}]},"subject":{"reference":"Patient/)" +
           patient + R"("}})";
}

inline std::string hookCall(const std::string& patientId, const std::string& prefetch,
                            const std::string& hook = "patient-view") {
    return R"({"hook":")" + hook + R"(","hookInstance":")" + randomId() +
           R"(","context":{"userId":"Practitioner/example","patientId":")" + patientId + R"("},"prefetch":{)" +
           prefetch + "}}";
}

// A DVT on record, ten days after a vaginal birth.
inline std::string dvtCall(const std::string& patientId = "pat-dvt", const std::string& hook = "patient-view") {
    return hookCall(patientId,
                    "\"patient\":" + patientJson(patientId) + ",\"conditions\":" +
                        searchset({condition("dvt-1", patientId, "http://snomed.info/sct", "128053003",
                                             "Deep venous thrombosis", daysAgo(2))}) +
                        ",\"procedures\":" + searchset({vaginalBirth(patientId, daysAgo(10))}) +
                        ",\"medicationRequests\":null",
                    hook);
}

// Six days after a vaginal birth, with a breast abscess: abdominal defer, breast block.
inline std::string flaggedCall(const std::string& patientId = "pat-flag") {
    return hookCall(patientId, "\"patient\":" + patientJson(patientId) + ",\"conditions\":" +
                                   searchset({condition("abscess-1", patientId, "http://hl7.org/fhir/sid/icd-10-cm",
                                                        "O91.1", "Breast abscess", daysAgo(1))}) +
                                   ",\"procedures\":" + searchset({vaginalBirth(patientId, daysAgo(6))}) +
                                   ",\"medicationStatements\":" + searchset({medication(patientId)}));
}

// Sixty days after a vaginal birth, nothing of concern.
inline std::string quietCall(const std::string& patientId = "pat-quiet") {
    return hookCall(
        patientId,
        "\"patient\":" + patientJson(patientId) +
            ",\"procedures\":" + searchset({vaginalBirth(patientId, daysAgo(60))}) + ",\"conditions\":" +
            searchset({condition("c-old", patientId, "http://snomed.info/sct", "72892002", "Normal pregnancy",
                                 daysAgo(300), "resolved")}) +
            ",\"medicationStatements\":" + searchset({medication(patientId)}) +
            R"(,"allergies":{"resourceType":"OperationOutcome","issue":[{"severity":"information","code":"not-found"}]})");
}

// ---- the shared environment ---------------------------------------------------------------

struct Env {
    TestKey ec = TestKey::generate("ES384", "ec-key-1");
    TestKey ec2 = TestKey::generate("ES384", "ec-key-2");  // trusted for no issuer
    TestKey rsa = TestKey::generate("RS384", "rsa-key-1");
    std::string ecJwks, rsaJwks, accessLog;
    std::unique_ptr<ServerProcess> server;

    Env() {
        const std::string dir = scratchDir();
        ecJwks = dir + "/ec.jwks.json";
        rsaJwks = dir + "/rsa.jwks.json";
        accessLog = dir + "/access.log";
        writeText(ecJwks, ec.jwks());
        writeText(rsaJwks, rsa.jwks());
    }
    std::vector<std::string> jwksArgs() const {
        return {"--jwks", kIssuerEc + "=" + ecJwks, "--jwks", kIssuerRsa + "=" + rsaJwks};
    }
    std::vector<std::string> authArgs() const {
        auto args = jwksArgs();
        args.push_back("--public-url");
        args.push_back(kPublicUrl);
        return args;
    }
    ServerProcess& main() {
        if (!server) {
            auto args = authArgs();
            for (const char* a : {"--guidance-url", kGuidanceUrl.c_str(), "--access-log", accessLog.c_str()})
                args.push_back(a);
            server = std::make_unique<ServerProcess>(args);
        }
        return *server;
    }
    std::string token(const std::string& url, const TestKey* key = nullptr) {
        Claims c;
        c.iss = (key == &rsa) ? kIssuerRsa : kIssuerEc;
        c.aud = url;
        return makeToken(key ? *key : ec, c);
    }
};

inline Env& env() {
    static Env e;
    return e;
}

inline Claims claimsOf(const std::string& iss, const std::string& aud) {
    Claims c;
    c.iss = iss;
    c.aud = aud;
    return c;
}

inline Reply callService(const std::string& body, const std::string& token) {
    Client c("127.0.0.1", env().main().port());
    return c.post(kService, body, token);
}

inline void checkRefused(const Reply& r) {
    INFO(r.body);
    CHECK(r.status == 401);
    CHECK_THAT(r.header("www-authenticate"), Contains("Bearer"));
    CHECK_THAT(r.body, Contains("OperationOutcome"));
    CHECK(r.body.find(kSecretPatient) == std::string::npos);
    CHECK(r.body.find("Testperson") == std::string::npos);
    CHECK(r.body.find("cards") == std::string::npos);
}

}  // namespace ppmg::test
