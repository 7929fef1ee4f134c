// Unit tests of the server's parts that need no network: JWT verification (against the CDS Hooks
// specification's own ES384 example), prefetch merging and the card text helpers.
#include <catch2/catch.hpp>

#include <simdjson.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "cds_cards.hpp"
#include "cds_jwt.hpp"
#include "cds_text.hpp"
#include "http_message.hpp"
#include "json_writer.hpp"
#include "test_keys.hpp"

using namespace ppmg::cds;
using namespace ppmg::tools;
using Catch::Matchers::Contains;

namespace {

// From the CDS Hooks 2.0 specification, section "Trusting CDS Clients" (the P-384 example).
const char* kSpecJwks = R"({"keys":[{"kty":"EC","use":"sig","crv":"P-384","kid":"example-kid",
  "x":"46SDH7Znh821wblCBglA61sNE9ZrHYKKt3qRtRTmSXyOI_FIGBLWrWa0GPUkDCEk",
  "y":"XMcRuuoGW7CXjQdy-F5i3FeBE0x9hPLdeFdSoDd3ELmx404tLX0VRRcqzAsPhXcI","alg":"ES384"}]})";
const char* kSpecToken =
    "eyJhbGciOiJFUzM4NCIsInR5cCI6IkpXVCIsImtpZCI6ImV4YW1wbGUta2lkIiwiamt1IjoiaHR0cHM6Ly9maGlyLWVoci5leGFtcGxlLmNvbS9qd2"
    "tfdXJpIn0."
    "eyJpc3MiOiJodHRwczovL2ZoaXItZWhyLmV4YW1wbGUuY29tLyIsImF1ZCI6Imh0dHBzOi8vY2RzLmV4YW1wbGUub3JnL2Nkcy1zZXJ2aWNlcy9zb2"
    "1lLXNlcnZpY2UiLCJleHAiOjE0MjI1Njg4NjAsImlhdCI6MTMxMTI4MDk3MCwianRpIjoiZWUyMmIwMjEtZTFiNy00NjExLWJhNWItOGVlYzZhMzNh"
    "YzFlIiwidGVuYW50IjoiMmRkZDZjM2EtOGU5YS00NGM2LWEzMDUtNTIxMTFhZDMwMmEyIn0."
    "d1WfLjGRKlcWB94l9do4cM8REXeYJLL6SGUBO8VHZhfM8mwKYP70EMxJ67War4TQblEpaQrp11wx5p7oPFm2ETYgCicS84vXWEIYTdjooZdooCSDf2"
    "L8-i4awdoUwiEb";
const char* kSpecIssuer = "https://fhir-ehr.example.com/";
const char* kSpecAud = "https://cds.example.org/cds-services/some-service";
constexpr int64_t kSpecExp = 1422568860;

std::shared_ptr<KeyStore> specKeys() {
    auto k = std::make_shared<KeyStore>();
    std::vector<std::string> skipped;
    k->addIssuer(kSpecIssuer, kSpecJwks, skipped);
    REQUIRE(skipped.empty());
    return k;
}

}  // namespace

TEST_CASE("jwt: the CDS Hooks specification's ES384 example verifies", "[unit][jwt]") {
    JwtVerifier v(specKeys(), AuthOptions{});
    AuthResult r = v.verify(std::string("Bearer ") + kSpecToken, kSpecAud, kSpecExp - 60);
    INFO(r.detail);
    CHECK(r.ok());
    CHECK(r.issuer == kSpecIssuer);
    CHECK(r.kid == "example-kid");
    CHECK(r.tenant == "2ddd6c3a-8e9a-44c6-a305-52111ad302a2");
    // Replayed.
    CHECK(v.verify(std::string("Bearer ") + kSpecToken, kSpecAud, kSpecExp - 50).failure == AuthFailure::Replayed);
}

TEST_CASE("jwt: the specification's example is refused when expired, for another aud or altered", "[unit][jwt]") {
    JwtVerifier v(specKeys(), AuthOptions{});
    const std::string bearer = std::string("Bearer ") + kSpecToken;
    CHECK(v.verify(bearer, kSpecAud, kSpecExp + 61).failure == AuthFailure::Expired);
    CHECK(v.verify(bearer, kSpecAud, kSpecExp + 59).failure == AuthFailure::Ok);  // within the skew
    JwtVerifier v2(specKeys(), AuthOptions{});
    CHECK(v2.verify(bearer, "https://cds.example.org/cds-services/other", kSpecExp - 60).failure ==
          AuthFailure::Audience);
    CHECK(v2.verify(bearer, kSpecAud, kSpecExp - 100000).failure == AuthFailure::TooLong);
    std::string altered = kSpecToken;
    altered[altered.size() - 5] = altered[altered.size() - 5] == 'A' ? 'B' : 'A';
    CHECK(v2.verify("Bearer " + altered, kSpecAud, kSpecExp - 60).failure == AuthFailure::Signature);
    CHECK(v2.verify("bearer  " + std::string(kSpecToken), kSpecAud, kSpecExp - 60).failure == AuthFailure::Ok);
}

TEST_CASE("jwt: an ES384 signature in DER instead of r || s is still checked against the key", "[unit][jwt]") {
    auto key = ppmg::test::TestKey::generate("ES384", "k");
    auto keys = std::make_shared<KeyStore>();
    std::vector<std::string> skipped;
    keys->addIssuer("iss", key.jwks(), skipped);
    JwtVerifier v(keys, AuthOptions{});
    ppmg::test::Claims c;
    c.iss = "iss";
    c.aud = "http://h/x";
    const std::string token = ppmg::test::makeToken(key, c);
    std::string raw;
    REQUIRE(base64UrlDecode(token.substr(token.rfind('.') + 1), raw));
    REQUIRE(raw.size() == 96);
    // r || s -> DER
    auto derOf = [](const std::string& rs) {
        auto integer = [](std::string b) {
            while (b.size() > 1 && b[0] == 0 && !(static_cast<unsigned char>(b[1]) & 0x80)) b.erase(0, 1);
            if (static_cast<unsigned char>(b[0]) & 0x80) b.insert(0, 1, '\0');
            return std::string("\x02") + char(b.size()) + b;
        };
        std::string body = integer(rs.substr(0, 48)) + integer(rs.substr(48));
        return std::string("\x30") + char(body.size()) + body;
    };
    const std::string der = derOf(raw);
    const std::string input = token.substr(0, token.rfind('.'));
    CHECK(v.verify("Bearer " + input + "." + base64UrlEncode(der), "http://h/x", ppmg::test::unixNow()).ok());
    std::string bad = der;
    bad[bad.size() - 1] ^= 1;
    CHECK(v.verify("Bearer " + input + "." + base64UrlEncode(bad), "http://h/x", ppmg::test::unixNow()).failure ==
          AuthFailure::Signature);
    CHECK(v.verify("Bearer " + input + "." + base64UrlEncode(der + "x"), "http://h/x", ppmg::test::unixNow()).failure ==
          AuthFailure::Signature);
}

TEST_CASE("jwt: a kid the JWK Set lacks falls back to the issuer's keys, never another issuer's", "[unit][jwt]") {
    auto mine = ppmg::test::TestKey::generate("ES384", "mine");
    auto other = ppmg::test::TestKey::generate("ES384", "other");
    auto keys = std::make_shared<KeyStore>();
    std::vector<std::string> skipped;
    keys->addIssuer("iss-a", mine.jwks(), skipped);
    keys->addIssuer("iss-b", other.jwks(), skipped);
    JwtVerifier v(keys, AuthOptions{});
    ppmg::test::Claims c;
    c.iss = "iss-a";
    c.aud = "http://h/x";
    const std::string payload =
        "{\"iss\":\"iss-a\",\"aud\":\"http://h/x\",\"exp\":" + std::to_string(ppmg::test::unixNow() + 60) +
        ",\"iat\":" + std::to_string(ppmg::test::unixNow()) + ",\"jti\":\"";
    const int64_t now = ppmg::test::unixNow();
    CHECK(v.verify("Bearer " + mine.sign(R"({"alg":"ES384","kid":"thumbprint-xyz"})", payload + "1\"}"), "http://h/x",
                   now)
              .ok());
    CHECK(v.verify("Bearer " + mine.sign(R"({"alg":"ES384"})", payload + "2\"}"), "http://h/x", now).ok());
    // Signed by iss-b's key, claiming iss-a (with iss-b's kid): refused.
    CHECK(v.verify("Bearer " + other.sign(R"({"alg":"ES384","kid":"other"})", payload + "3\"}"), "http://h/x", now)
              .failure == AuthFailure::Signature);
    CHECK(v.verify("Bearer " + ppmg::test::makeToken(mine, c), "http://h/x", now).ok());
}

TEST_CASE("jwt: refused algorithms and malformed tokens", "[unit][jwt]") {
    JwtVerifier v(specKeys(), AuthOptions{});
    auto code = [&](const std::string& header) { return v.verify(header, kSpecAud, kSpecExp - 60).failure; };
    CHECK(code("") == AuthFailure::Missing);
    CHECK(code("Basic abc") == AuthFailure::Missing);
    CHECK(code("Bearer a.b") == AuthFailure::Malformed);
    CHECK(code("Bearer a.b.c.d") == AuthFailure::Malformed);
    CHECK(code("Bearer !!.b.c") == AuthFailure::Malformed);
    const std::string payload =
        ppmg::test::base64Url(std::string("{\"iss\":\"") + kSpecIssuer + "\",\"aud\":\"" + kSpecAud +
                              "\",\"exp\":" + std::to_string(kSpecExp) + ",\"iat\":1,\"jti\":\"j\"}");
    for (const char* alg : {"none", "HS256", "HS384", "RS256", "ES256", "PS384", "ES512"})
        CHECK(code("Bearer " + ppmg::test::base64Url(std::string("{\"alg\":\"") + alg + "\",\"kid\":\"example-kid\"}") +
                   "." + payload + ".c2ln") == AuthFailure::Algorithm);
    CHECK(code("Bearer " + ppmg::test::base64Url("{\"alg\":\"ES384\",\"crit\":[\"x\"]}") + "." + payload + ".c2ln") ==
          AuthFailure::Algorithm);
}

TEST_CASE("jwt: JWK Sets: usable keys are kept, the rest named", "[unit][jwt]") {
    KeyStore k;
    std::vector<std::string> skipped;
    auto rsa = ppmg::test::TestKey::generate("RS384", "r1");
    k.addIssuer("a",
                "{\"keys\":[" + rsa.publicJwk() +
                    R"(,{"kty":"EC","crv":"P-256","x":"AA","y":"AA"},{"kty":"oct","k":"c2VjcmV0"}]})",
                skipped);
    CHECK(k.keyCount() == 1);
    CHECK(skipped.size() == 2);
    k.addIssuer("b", rsa.publicJwk(), skipped);  // a single JWK
    CHECK(k.issuerCount() == 2);
    // A point not on the curve.
    CHECK_THROWS_WITH(
        k.addIssuer(
            "c",
            R"({"kty":"EC","crv":"P-384","x":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","y":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB"})",
            skipped),
        Contains("no usable key"));
    CHECK_THROWS(k.addIssuer("d", "not json", skipped));
}

TEST_CASE("jwt: URLs compare after normalising case, default ports and a trailing slash", "[unit][jwt]") {
    CHECK(normalizeUrl("HTTP://Example.ORG:80/cds-services/x/") == "http://example.org/cds-services/x");
    CHECK(normalizeUrl("https://example.org:443/a") == "https://example.org/a");
    CHECK(normalizeUrl("https://example.org:8443/a") == "https://example.org:8443/a");
    CHECK(normalizeUrl("http://h/A") != normalizeUrl("http://h/a"));  // the path is case-sensitive
}

TEST_CASE("jwt: base64url round trip", "[unit][jwt]") {
    for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar", "\xff\xfe\x00\x01"}) {
        std::string back;
        REQUIRE(base64UrlDecode(base64UrlEncode(s), back));
        CHECK(back == s);
    }
    std::string out;
    CHECK_FALSE(base64UrlDecode("a+b/", out));
    CHECK_FALSE(base64UrlDecode("abcde", out));
}

TEST_CASE("prefetch: every resource passed through in order, none merged, failed keys skipped", "[unit][prefetch]") {
    const std::string body = R"({"hook":"patient-view","hookInstance":"h","context":{"patientId":"p"},"prefetch":{
      "patient":{"resourceType":"Patient","id":"p"},
      "conditions":{"resourceType":"Bundle","type":"searchset","entry":[
        {"fullUrl":"https://fhir.example.org/Condition/c1","resource":{"resourceType":"Condition","id":"c1"}},
        {"resource":{"resourceType":"Patient","id":"p"}},
        {"resource":{"resourceType":"Condition","id":"c1","note":[{"text":"the second copy"}]}}]},
      "observations":{"resourceType":"OperationOutcome","issue":[]},
      "allergies":null,
      "one":{"resourceType":"Observation","id":"o1","valueQuantity":{"value":1.5}}}})";
    HookRequest r = readHookRequest(body);
    INFO(r.problem);
    REQUIRE(r.status == 0);
    CHECK(r.patientId == "p");
    CHECK(r.resources == 5);
    CHECK(r.skippedKeys == std::vector<std::string>{"observations", "allergies"});
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    REQUIRE(parser.parse(r.bundle).get(doc) == simdjson::SUCCESS);
    simdjson::dom::array entries = doc["entry"].get_array().value();
    REQUIRE(entries.size() == 5);
    std::vector<std::string> seen;
    for (auto e : entries)
        seen.push_back(std::string(e["resource"]["resourceType"].get_string().value()) + "/" +
                       std::string(e["resource"]["id"].get_string().value()));
    CHECK(seen == std::vector<std::string>{"Patient/p", "Condition/c1", "Patient/p", "Condition/c1", "Observation/o1"});
    CHECK(entries.at(1)["fullUrl"].get_string().value() == "https://fhir.example.org/Condition/c1");
    CHECK_THAT(r.bundle, Contains("the second copy"));
}

TEST_CASE("prefetch: the Patient must be context.patientId's", "[unit][prefetch]") {
    auto call = [](const std::string& context, const std::string& patient) {
        return readHookRequest(R"({"hook":"patient-view","hookInstance":"h","context":{)" + context +
                               R"(},"prefetch":{"patient":)" + patient + "}}");
    };
    CHECK(call(R"("patientId":"p")", R"({"resourceType":"Patient","id":"p"})").status == 0);
    CHECK(call(R"("userId":"u")", R"({"resourceType":"Patient","id":"p"})").status == 400);
    CHECK(call(R"("patientId":"p")", R"({"resourceType":"Patient"})").status == 412);
    CHECK(call(R"("patientId":"p")", R"({"resourceType":"Patient","id":"q"})").status == 412);
    CHECK(call(R"("patientId":"p")",
               R"({"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Patient","id":"q"}}]})")
              .status == 412);
    CHECK(call(R"("patientId":"p")",
               R"({"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Patient","id":"q"}},)"
               R"({"resource":{"resourceType":"Patient","id":"p"}}]})")
              .status == 0);
}

TEST_CASE("cards: summaries are cut to 140 characters on a character boundary", "[unit][cards]") {
    std::string longText;
    for (int i = 0; i < 100; ++i) longText += "\xC3\xA9";  // é
    longText += std::string(100, 'a');
    std::string cut = truncateUtf8(longText, 140);
    CHECK(utf8Length(cut) == 140);
    CHECK(cut.substr(cut.size() - 3) == "\xE2\x80\xA6");
    CHECK(truncateUtf8("short", 140) == "short");
    CHECK(markdownEscape("[x](y) *b* <i> |") == "\\[x\\](y) \\*b\\* \\<i\\> \\|");
}

namespace {

// The "content" object of an assessment: the content's words, here with markers that show where
// each sentence on a card comes from.
std::string contentBlock(const std::string& signOff = "draft",
                         const std::string& order = R"("escalate","block","defer","review","modify")") {
    std::string outcomes;
    std::string list = order + R"(,"no-flag","not-applicable")";
    for (size_t pos = 0; (pos = list.find('"', pos)) != std::string::npos;) {
        const size_t end = list.find('"', pos + 1);
        const std::string code = list.substr(pos + 1, end - pos - 1);
        outcomes += std::string(outcomes.empty() ? "" : ",") + R"({"code":")" + code + R"(","label":"LABEL-)" + code +
                    R"(","text":"SENTENCE-)" + code + R"(.")" + "}";
        pos = end + 1;
    }
    return R"("content":{"version":"9.9.9","sha256":"abc","signOff":")" + signOff + R"(","outcomes":[)" + outcomes +
           R"(],"codeSystems":{"http://snomed.info/sct":"SYSTEM-SCT"},"texts":{"document-title":"TITLE",)"
           R"("draft-notice":"DRAFT-NOTICE","data-gaps-heading":"GAPS-HEADING","card-action":"ACTION-TEXT {action}",)"
           R"("card-earliest":"EARLIEST {date}","card-earliest-date":"EARLIEST-DATE {date}",)"
           R"("card-delivery":"DELIVERY {date} MODE {mode} DAY {day}.","card-delivery-date":"DELIVERY-DATE {date}.",)"
           R"("card-no-delivery":"NO-DELIVERY.","card-guidance-link":"GUIDANCE-LINK"}})";
}

std::string findingJson(const std::string& rule, const std::string& outcome, const std::string& title) {
    return R"({"rule":")" + rule + R"(","outcome":")" + outcome + R"(","title":")" + title +
           R"(","types":["abdominal"],"reason":"REASON-)" + rule + R"(","action":"DO-)" + rule +
           R"(","evidence":[{"resourceType":"Condition","id":"c1","path":"x",
        "code":{"system":"http://snomed.info/sct","code":"128053003","display":"Deep venous thrombosis"},"value":"active","date":"2026-01-02"}],
        "references":["A"]})";
}

std::string assessmentJson(bool escalate, const std::string& massages, const std::string& content,
                           const std::string& gaps = "[]") {
    return R"({"applicable":true,"asOf":"2026-01-05","postpartumDay":10,"deliveryMode":"vaginal","deliveryDate":"2025-12-26","escalate":)" +
           std::string(escalate ? "true" : "false") + R"(,"patient":{"id":"p"},"massages":{)" + massages +
           R"(},"dataGaps":)" + gaps + "," + content + "}";
}

CardOptions cardOptions() {
    CardOptions o;
    o.facts = {"9.9.9", "abc", "1.0.0"};
    o.sourceUrl = "https://x/about";
    return o;
}

}  // namespace

TEST_CASE("cards: an escalation with several findings is one critical card", "[unit][cards]") {
    const std::string finding = findingJson("PPM-ESC-01", "escalate", "Venous thromboembolism");
    std::string massages;
    for (const char* t : {"abdominal", "low-back", "breast", "shoulder-neck"})
        massages += std::string(massages.empty() ? "" : ",") + "\"" + t +
                    "\":{\"outcome\":\"escalate\",\"label\":\"Urgent clinical assessment\",\"findings\":[" + finding +
                    "]}";
    Cards c = cardsFromAssessment(assessmentJson(true, massages, contentBlock()), cardOptions());
    CHECK(c.count == 1);
    CHECK(c.indicator == "critical");
    CHECK_THAT(c.json, Contains("Deep venous thrombosis"));
    CHECK_THAT(c.json, Contains("2026-01-02"));
    CHECK_THAT(c.json, Contains("\"version\":\"9.9.9\""));
    CHECK_THAT(c.json, Contains("\"summary\":\"SENTENCE-escalate: Venous thromboembolism\""));
    CHECK(c.json.find("links") == std::string::npos);
    CHECK_THROWS(cardsFromAssessment("{}", cardOptions()));
    CardOptions other = cardOptions();
    other.patientId = "someone-else";
    CHECK_THROWS(cardsFromAssessment(assessmentJson(true, massages, contentBlock()), other));
}

TEST_CASE("cards: every sentence comes from the content the assessment carries", "[unit][cards]") {
    // Abdominal deferred (a defer and a modify finding), breast blocked, with a gap.
    const std::string massages =
        R"("abdominal":{"outcome":"defer","label":"LABEL-defer","display":"DISPLAY-abdominal","earliestDate":"2026-01-20","findings":[)" +
        findingJson("M-1", "modify", "Modify title") + "," + findingJson("D-1", "defer", "Defer title") +
        R"(]},"breast":{"outcome":"block","label":"LABEL-block","display":"DISPLAY-breast","findings":[)" +
        findingJson("B-1", "block", "Block title") + "]}";
    CardOptions o = cardOptions();
    o.guidanceUrl = "https://guidance.example.org/";
    const std::string gaps = R"([{"id":"allergies","text":"No allergy list: use a fragrance-free product."}])";
    Cards c = cardsFromAssessment(assessmentJson(false, massages, contentBlock(), gaps), o);
    REQUIRE(c.count == 2);
    for (const char* marker :
         {"DRAFT-NOTICE", "GAPS-HEADING", "No allergy list: use a fragrance-free product.", "ACTION-TEXT DO-D-1",
          "EARLIEST 2026-01-20", "DELIVERY 2025-12-26 MODE vaginal DAY 10.", "SYSTEM-SCT 128053003", "GUIDANCE-LINK",
          "TITLE (ppmg, content 9.9.9)", "DISPLAY-abdominal: LABEL-defer", "DISPLAY-breast: LABEL-block"}) {
        INFO(marker);
        CHECK_THAT(c.json, Contains(marker));
    }
    // The outcome order is the content's: the defer finding before the modify one ...
    CHECK(c.json.find("Defer title") < c.json.find("Modify title"));
    // ... and, with the content's order turned round, after it.
    Cards r = cardsFromAssessment(
        assessmentJson(false, massages, contentBlock("draft", R"("modify","review","defer","block","escalate")"), gaps),
        o);
    CHECK(r.json.find("Modify title") < r.json.find("Defer title"));
    // Nothing flagged and out of scope: the outcome's sentence and label.
    const std::string quiet = R"("abdominal":{"outcome":"no-flag","label":"LABEL-no-flag","findings":[]})";
    CHECK_THAT(cardsFromAssessment(assessmentJson(false, quiet, contentBlock()), o).json,
               Contains("\"summary\":\"SENTENCE-no-flag\""));
}

TEST_CASE("cards: rule 16, a draft content's cards each say so in their detail", "[unit][cards][rule-16]") {
    const std::string massages =
        R"("abdominal":{"outcome":"block","label":"L","findings":[)" + findingJson("B-1", "block", "T") +
        R"(]},"breast":{"outcome":"review","label":"L","findings":[)" + findingJson("R-1", "review", "T") + "]}";
    auto details = [&](const std::string& signOff) {
        Cards c = cardsFromAssessment(assessmentJson(false, massages, contentBlock(signOff)), cardOptions());
        simdjson::dom::parser parser;
        simdjson::dom::element doc;
        simdjson::dom::array cards;
        std::vector<std::string> out;
        if (parser.parse(c.json).get(doc) != simdjson::SUCCESS || doc["cards"].get(cards) != simdjson::SUCCESS)
            return out;
        for (simdjson::dom::element card : cards) {
            std::string_view detail;
            if (card["detail"].get(detail) == simdjson::SUCCESS) out.emplace_back(detail);
        }
        return out;
    };
    const auto draft = details("draft");
    REQUIRE(draft.size() == 2);
    for (const auto& d : draft) CHECK(d.rfind("> **DRAFT-NOTICE**", 0) == 0);  // first, visibly
    for (const auto& d : details("signed")) CHECK(d.find("DRAFT-NOTICE") == std::string::npos);
    // A draft without its notice text is refused, not shown silently.
    std::string noNotice = contentBlock("draft");
    noNotice.replace(noNotice.find(R"("draft-notice":"DRAFT-NOTICE",)"),
                     std::string(R"("draft-notice":"DRAFT-NOTICE",)").size(), "");
    CHECK_THROWS(cardsFromAssessment(assessmentJson(false, massages, noNotice), cardOptions()));
}

TEST_CASE("cards: rule 11, an escalation gives the urgent message, the data and the gaps by name only",
          "[unit][cards][rule-11]") {
    const std::string massages = R"("abdominal":{"outcome":"escalate","label":"L","findings":[)" +
                                 findingJson("PPM-ESC-01", "escalate", "Venous thromboembolism") + "," +
                                 findingJson("PPM-MOD-01", "modify", "Light pressure") +
                                 R"(]},"low-back":{"outcome":"escalate","label":"L","findings":[)" +
                                 findingJson("PPM-ESC-01", "escalate", "Venous thromboembolism") + "]}";
    const std::string gaps =
        R"([{"id":"allergies","text":"No allergy list: use a fragrance-free, nut-free product and patch-test it first."},)"
        R"({"id":"perineal-trauma","text":"No perineal tear or episiotomy recorded: if she has perineal trauma, use side-lying or supported positions."},)"
        R"({"id":"x","name":"Named gap","text":"Named gap: with advice."}])";
    Cards c = cardsFromAssessment(assessmentJson(true, massages, contentBlock(), gaps), cardOptions());
    REQUIRE(c.count == 1);
    for (const char* present : {"DO-PPM-ESC-01", "Deep venous thrombosis", "No allergy list",
                                "No perineal tear or episiotomy recorded", "Named gap"}) {
        INFO(present);
        CHECK_THAT(c.json, Contains(present));
    }
    for (const char* absent :
         {"fragrance", "patch-test", "side-lying", "positions", "with advice", "Light pressure", "DO-PPM-MOD-01"}) {
        INFO(absent);
        CHECK(c.json.find(absent) == std::string::npos);
    }
}

// ---- HTTP/1.1 messages (http_message) ----------------------------------------------------

namespace {

HeadError refusal(const std::string& head) {
    HttpRequest r;
    HeadError e;
    if (parseRequestHead(head, r, e)) e.status = 0;
    return e;
}

}  // namespace

TEST_CASE("http: the end of a head, with CRLF or bare LF", "[unit][http]") {
    CHECK(findHeadEnd("GET / HTTP/1.1\r\nHost: x\r\n\r\nBODY") == 27);
    CHECK(findHeadEnd("GET / HTTP/1.1\nHost: x\n\nBODY") == 24);
    CHECK(findHeadEnd("GET / HTTP/1.1\r\nHost: x\r\n") == 0);
    CHECK(findHeadEnd("GET / HTTP/1.1\r\nHost: x\r\n\r") == 0);
    std::string lead = "\r\n\r\nGET / HTTP/1.1\r\n";
    skipLeadingEmptyLines(lead);
    CHECK(lead == "GET / HTTP/1.1\r\n");
}

TEST_CASE("http: a request head is parsed and its framing read", "[unit][http]") {
    HttpRequest r;
    HeadError e;
    REQUIRE(
        parseRequestHead("POST /a%20b/c?x=1&y=%41+B HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\n"
                         "Connection: close\r\nX-Empty:\r\nAuthorization:  Bearer t \r\n\r\n",
                         r, e));
    CHECK(r.method == "POST");
    CHECK(r.path == "/a b/c");
    CHECK(r.query == "x=1&y=%41+B");
    CHECK(r.framing == HttpRequest::Framing::Length);
    CHECK(r.contentLength == 12);
    CHECK_FALSE(r.keepAlive);
    CHECK(r.get("authorization") == "Bearer t");
    CHECK(r.has("x-empty"));
    CHECK(parseQuery(r.query) == std::vector<std::pair<std::string, std::string>>{{"x", "1"}, {"y", "A B"}});
    REQUIRE(parseRequestHead("GET http://h:8/p?q HTTP/1.0\r\n\r\n", r, e));
    CHECK(r.path == "/p");
    CHECK(r.query == "q");
    CHECK_FALSE(r.keepAlive);
    REQUIRE(parseRequestHead("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\nExpect: 100-continue\r\n\r\n",
                             r, e));
    CHECK(r.framing == HttpRequest::Framing::Chunked);
    CHECK(r.expectContinue);
    REQUIRE(parseRequestHead("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", r, e));
    CHECK(r.keepAlive);
    CHECK(r.framing == HttpRequest::Framing::None);
}

TEST_CASE("http: heads RFC 9112 refuses are refused", "[unit][http]") {
    const std::string ok = "POST / HTTP/1.1\r\nHost: h\r\n";
    CHECK(refusal(ok + "Content-Length: 3\r\nContent-Length: 3\r\n\r\n").status == 400);
    CHECK(refusal(ok + "Content-Length: 3\r\nContent-Length: 4\r\n\r\n").status == 400);
    CHECK(refusal(ok + "Content-Length: 3, 3\r\n\r\n").status == 400);
    CHECK(refusal(ok + "Content-Length: +3\r\n\r\n").status == 400);
    CHECK(refusal(ok + "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n").status == 400);
    CHECK(refusal(ok + "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n").status == 400);
    CHECK(refusal(ok + "Transfer-Encoding: chunked, identity\r\n\r\n").status == 400);
    CHECK(refusal(ok + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n").status == 400);
    CHECK(refusal(ok + "Transfer-Encoding: gzip, chunked\r\n\r\n").status == 501);
    CHECK(refusal("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n").status == 400);
    CHECK(refusal(ok + "X-A: 1\r\n folded\r\n\r\n").status == 400);
    CHECK(refusal(ok + "X-A : 1\r\n\r\n").status == 400);
    CHECK(refusal(ok + "X-A: 1\r2\r\n\r\n").status == 400);
    CHECK(refusal(ok + std::string("X-A: 1\x01") + "\r\n\r\n").status == 400);
    CHECK(refusal(ok + "Expect: something\r\n\r\n").status == 417);
    CHECK(refusal("POST / HTTP/1.1\r\n\r\n").status == 400);             // no Host
    CHECK(refusal(ok + "Host: other\r\n\r\n").status == 400);            // two Hosts
    CHECK(refusal("GET /  HTTP/1.1\r\nHost: h\r\n\r\n").status == 400);  // two spaces
    CHECK(refusal("GET / HTTP/2.0\r\nHost: h\r\n\r\n").status == 505);
    CHECK(refusal("GET / HTTP/1\r\nHost: h\r\n\r\n").status == 400);
    CHECK(refusal("GET /%zz HTTP/1.1\r\nHost: h\r\n\r\n").status == 400);
    CHECK(refusal("GET /%00 HTTP/1.1\r\nHost: h\r\n\r\n").status == 400);
    CHECK(refusal("GET /a#b HTTP/1.1\r\nHost: h\r\n\r\n").status == 400);
    CHECK(refusal("GET * HTTP/1.1\r\nHost: h\r\n\r\n").status == 400);
    CHECK(refusal("GET /" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: h\r\n\r\n").status == 414);
    std::string many = ok;
    for (int i = 0; i < 101; ++i) many += "X-" + std::to_string(i) + ": 1\r\n";
    CHECK(refusal(many + "\r\n").status == 431);
}

TEST_CASE("http: bodies are decoded as they arrive, never past their end", "[unit][http]") {
    HttpRequest r;
    HeadError e;
    REQUIRE(parseRequestHead("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", r, e));
    const std::string wire = "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\nGET /next";
    // Byte by byte.
    BodyDecoder d(r);
    std::string pending, out;
    BodyDecoder::Step step = BodyDecoder::Step::NeedMore;
    size_t i = 0;
    for (; i < wire.size() && step == BodyDecoder::Step::NeedMore; ++i) {
        pending.push_back(wire[i]);
        step = d.consume(pending, &out, 100);
    }
    CHECK(step == BodyDecoder::Step::Done);
    CHECK(out == "hello world");
    CHECK(wire.substr(i) == "GET /next");
    // All at once: the next request stays.
    BodyDecoder d2(r);
    pending = wire;
    out.clear();
    CHECK(d2.consume(pending, &out, 100) == BodyDecoder::Step::Done);
    CHECK(pending == "GET /next");
    // Too large, broken.
    BodyDecoder d3(r);
    pending = wire;
    CHECK(d3.consume(pending, nullptr, 8) == BodyDecoder::Step::TooLarge);
    for (const char* bad : {"x\r\n", "5\r\nhelloX\r\n", "-1\r\n", "5 x\r\n", "fffffffffffffffff\r\n", "5\rhello\r\n"}) {
        BodyDecoder b(r);
        std::string p = bad;
        INFO(bad);
        CHECK(b.consume(p, nullptr, 1000) == BodyDecoder::Step::Broken);
    }
    REQUIRE(parseRequestHead("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\n", r, e));
    BodyDecoder d4(r);
    pending = "ab";
    out.clear();
    CHECK(d4.consume(pending, &out, 4) == BodyDecoder::Step::NeedMore);
    pending = "cdGET";
    CHECK(d4.consume(pending, &out, 4) == BodyDecoder::Step::Done);
    CHECK(out == "abcd");
    CHECK(pending == "GET");
    BodyDecoder d5(r);
    pending = "abcd";
    CHECK(d5.consume(pending, nullptr, 3) == BodyDecoder::Step::TooLarge);
}

TEST_CASE("http: a response head cannot be split by a field value", "[unit][http]") {
    HttpResponse r;
    r.status = 404;
    r.contentType = "text/plain";
    r.body = "abc";
    r.set("X-Evil", "a\r\nSet-Cookie: x=1");
    const std::string head = responseHead(r, 1, false, "ppmg/test");
    CHECK_THAT(head, Contains("HTTP/1.1 404 Not Found\r\n"));
    CHECK_THAT(head, Contains("Content-Length: 3\r\n"));
    CHECK_THAT(head, Contains("Connection: close\r\n"));
    CHECK(head.find("\r\nSet-Cookie") == std::string::npos);
    r.status = 204;
    r.body.clear();
    CHECK(responseHead(r, 1, true, "").find("Content-Length") == std::string::npos);
}

// ---- the service's sources ----------------------------------------------------------------

namespace {

// The string literals of a C++ source (raw strings included), comments skipped.
std::vector<std::string> stringLiterals(const std::string& src) {
    std::vector<std::string> out;
    for (size_t i = 0; i < src.size(); ++i) {
        if (src.compare(i, 2, "//") == 0) {
            i = src.find('\n', i);
            if (i == std::string::npos) break;
        } else if (src.compare(i, 2, "/*") == 0) {
            i = src.find("*/", i + 2);
            if (i == std::string::npos) break;
            ++i;
        } else if (src[i] == '\'') {
            for (++i; i < src.size() && src[i] != '\''; ++i)
                if (src[i] == '\\') ++i;
        } else if (src.compare(i, 2, "R\"") == 0) {
            const size_t open = src.find('(', i + 2);
            const std::string close = ")" + src.substr(i + 2, open - i - 2) + "\"";
            const size_t end = src.find(close, open);
            out.push_back(src.substr(open + 1, end - open - 1));
            i = end + close.size() - 1;
        } else if (src[i] == '"') {
            std::string lit;
            for (++i; i < src.size() && src[i] != '"'; ++i) {
                if (src[i] == '\\') lit.push_back(src[i++]);
                lit.push_back(src[i]);
            }
            out.push_back(lit);
        }
    }
    return out;
}

}  // namespace

TEST_CASE("services: no clinical wording as C++ literals (the cards' sentences come from content/)", "[unit][cards]") {
    static const char* kClinical[] = {"massage",   "postpartum",  "deliver",  "birth",     "caesar",    "cesar",
                                      "urgent",    "contraindic", "thromb",   "clinician", "abdominal", "low-back",
                                      "breast",    "shoulder",    "wound",    "fever",     "bleed",     "pregnan",
                                      "obstetric", "lactat",      "epidural", "perine",    "anticoag",  "platelet",
                                      "blood",     "allerg",      "pressure", "injection"};
    size_t files = 0;
    for (const auto& entry : std::filesystem::directory_iterator(PPMG_CDS_SOURCE_DIR)) {
        const std::string path = entry.path().string();
        if (!(path.size() > 4 && (path.substr(path.size() - 4) == ".cpp" || path.substr(path.size() - 4) == ".hpp")))
            continue;
        ++files;
        std::ifstream in(path);
        const std::string src((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        for (std::string lit : stringLiterals(src)) {
            // The service's id is a name, not wording.
            for (size_t p; (p = lit.find("postpartum-massage-guidance")) != std::string::npos;) lit.erase(p, 27);
            if (lit.find(' ') == std::string::npos) continue;  // a name or a key, not a sentence
            // Names of what the service does, for its log (not said to anyone about a patient).
            if (lit == "Observation search (delivery date)") continue;
            std::string lower = lit;
            for (char& c : lower) c = char(std::tolower(static_cast<unsigned char>(c)));
            for (const char* word : kClinical) {
                INFO(path << ": \"" << lit << "\"");
                CHECK(lower.find(word) == std::string::npos);
            }
        }
    }
    CHECK(files >= 8);
}

TEST_CASE("json: strings are always JSON: malformed UTF-8 becomes U+FFFD, good UTF-8 is kept", "[unit][json]") {
    using ppmg::tools::appendJsonString;
    auto json = [](std::string_view s) {
        std::string out;
        appendJsonString(out, s);
        return out;
    };
    // A percent-decoded query byte echoed in a message (fuzz_http found it in an OperationOutcome).
    CHECK(json("asOf 2025-\xEA"
               "8") == "\"asOf 2025-\\ufffd8\"");
    CHECK(json("\xC3\xA9 \xE4\xB8\xAD \xF0\x9F\x98\x80") == "\"\xC3\xA9 \xE4\xB8\xAD \xF0\x9F\x98\x80\"");  // é 中 😀
    CHECK(json("\xC0\xAF") == "\"\\ufffd\\ufffd\"");                        // overlong '/'
    CHECK(json("\xED\xA0\x80") == "\"\\ufffd\\ufffd\\ufffd\"");             // a surrogate
    CHECK(json("\xF4\x90\x80\x80") == "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");  // past U+10FFFF
    CHECK(json("\xE4\xB8") == "\"\\ufffd\\ufffd\"");                        // cut short
    for (const std::string& s : {json("\xEA"),
                                 json("a\xFF"
                                      "b"),
                                 json("\x80")}) {
        simdjson::dom::parser p;
        simdjson::dom::element e;
        CHECK(p.parse(s).get(e) == simdjson::SUCCESS);
    }
}
