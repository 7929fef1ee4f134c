// The clinical content: it loads, it carries every rule of the specification, the loader refuses
// broken content with the file and line named, and value sets match codes as FHIR writes them.
#include <catch2/catch.hpp>

#include <Poco/DigestEngine.h>
#include <Poco/SHA2Engine.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "base/errors.hpp"
#include "content/content.hpp"

namespace fs = std::filesystem;
using namespace ppmg::core;

namespace {

const std::string kSourceDir = PPMG_SOURCE_CONTENT_DIR;

std::string readAll(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void writeAll(const fs::path& p, const std::string& s) {
    std::ofstream out(p, std::ios::binary);
    out << s;
}

std::shared_ptr<const Content> sourceContent() {
    static std::shared_ptr<const Content> content = loadContent(kSourceDir);
    return content;
}

// A copy of the content directory whose XML the test edits; removed at the end of the test.
class ContentCopy {
public:
    ContentCopy() {
        std::string pattern = (fs::temp_directory_path() / "ppmg-content-XXXXXX").string();
        std::vector<char> buf(pattern.begin(), pattern.end());
        buf.push_back('\0');
        REQUIRE(mkdtemp(buf.data()) != nullptr);
        dir_ = buf.data();
        fs::create_directories(dir_ / "schema");
        fs::copy_file(fs::path(kSourceDir) / "schema" / "ppmg-content.xsd", dir_ / "schema" / "ppmg-content.xsd");
        xml_ = readAll(fs::path(kSourceDir) / "ppmg-content.xml");
        REQUIRE(!xml_.empty());
    }
    ~ContentCopy() {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
    // Replaces the first occurrence of `from`, which must exist.
    void replace(const std::string& from, const std::string& to) {
        auto at = xml_.find(from);
        REQUIRE(at != std::string::npos);
        xml_.replace(at, from.size(), to);
    }
    std::string dir() {
        writeAll(dir_ / "ppmg-content.xml", xml_);
        return dir_.string();
    }

private:
    fs::path dir_;
    std::string xml_;
};

// Loading must fail with PPMG_E_CONTENT, "<path>:<line>: ..." naming the content file.
Error refusal(const std::string& dir) {
    try {
        loadContent(dir);
    } catch (const Error& e) {
        return e;
    }
    FAIL("the content was accepted");
    throw std::logic_error("unreachable");
}

struct TestCoding {
    std::string system;
    std::string code;
};

bool matches(const ValueSet& vs, const std::string& system, const std::string& code) {
    std::vector<TestCoding> codings{{system, code}};
    return inValueSet(vs, codings);
}

const ValueSet& valueSet(const std::string& id) {
    auto content = sourceContent();
    auto it = content->valueSets.find(id);
    REQUIRE(it != content->valueSets.end());
    return it->second;
}

const std::string kSct = "http://snomed.info/sct";
const std::string kLoinc = "http://loinc.org";
const std::string kIcd10cm = "http://hl7.org/fhir/sid/icd-10-cm";
const std::string kIcd10 = "http://hl7.org/fhir/sid/icd-10";
const std::string kRxnorm = "http://www.nlm.nih.gov/research/umls/rxnorm";
const std::string kAtc = "http://www.whocc.no/atc";

std::vector<const Rule*> rulesWithId(const Content& c, const std::string& id) {
    std::vector<const Rule*> out;
    for (const auto& r : c.rules)
        if (r.id == id) out.push_back(&r);
    return out;
}

size_t typeIndex(const Content& c, const std::string& code) {
    for (size_t i = 0; i < c.massageTypes.size(); ++i)
        if (c.massageTypes[i].code == code) return i;
    FAIL("no massage type " << code);
    return 0;
}

// Visits every clause of a tree.
template <class F>
void eachClause(const Clause& c, F&& f) {
    f(c);
    for (const auto& child : c.children) eachClause(child, f);
}

}  // namespace

TEST_CASE("content: the source content loads, with its version and hash", "[content]") {
    auto c = sourceContent();
    REQUIRE(c);
    CHECK(c->version == "1.1.0");
    CHECK(c->directory == kSourceDir);
    CHECK(!c->title.empty());
    CHECK(c->signOff.find("not clinically signed off") != std::string::npos);

    REQUIRE(c->sha256.size() == 64);
    CHECK(c->sha256.find_first_not_of("0123456789abcdef") == std::string::npos);

    // The hash is over the exact bytes of the file.
    Poco::SHA2Engine engine(Poco::SHA2Engine::SHA_256);
    std::string bytes = readAll(fs::path(kSourceDir) / "ppmg-content.xml");
    engine.update(bytes);
    CHECK(c->sha256 == Poco::DigestEngine::digestToHex(engine.digest()));
}

TEST_CASE("content: a one-byte change changes the hash", "[content]") {
    ContentCopy copy;
    copy.replace("<title>Postpartum massage guidance</title>", "<title>Postpartum massage guidance.</title>");
    auto changed = loadContent(copy.dir());
    CHECK(changed->sha256 != sourceContent()->sha256);
    CHECK(changed->sha256.size() == 64);
}

TEST_CASE("content: the four massage types, in order, with evidence-graded benefits", "[content]") {
    auto c = sourceContent();
    REQUIRE(c->massageTypes.size() == 4);
    CHECK(c->massageTypes[0].code == "abdominal");
    CHECK(c->massageTypes[1].code == "low-back");
    CHECK(c->massageTypes[2].code == "breast");
    CHECK(c->massageTypes[3].code == "shoulder-neck");
    CHECK(c->massageTypes[0].bodySiteCode == "818981001");
    CHECK(c->massageTypes[1].bodySiteCode == "52612000");
    CHECK(c->massageTypes[2].bodySiteCode == "76752008");
    CHECK(c->massageTypes[3].bodySiteCode == "45048000");

    const std::set<std::string> benefitGrades{"Moderate", "Low", "Low to very low", "Very low"};
    for (const auto& t : c->massageTypes) {
        INFO(t.code);
        CHECK(!t.display.empty());
        CHECK(!t.timing.empty());
        CHECK(!t.technique.empty());
        CHECK(!t.precautions.empty());
        CHECK(!t.references.empty());
        for (const auto& b : t.benefits) {
            CHECK(benefitGrades.count(b.grade) == 1);
            CHECK(!b.references.empty());
        }
        for (const auto& id : t.references) CHECK(c->findReference(id) != nullptr);
    }
    // Abdominal massage from day 14 claims nothing about haemorrhage as a benefit.
    for (const auto& b : c->massageTypes[0].benefits) CHECK(b.text.find("haemorrhage") == std::string::npos);
    bool pphListedAsUnsupported = false;
    for (const auto& claim : c->massageTypes[0].notSupported)
        if (claim.text.find("haemorrhage") != std::string::npos && claim.grade == "Contradicted")
            pphListedAsUnsupported = true;
    CHECK(pphListedAsUnsupported);
    // Headache and dizziness are warning signs, never a benefit of neck massage.
    for (const auto& b : c->massageTypes[3].benefits) {
        CHECK(b.text.find("headache") == std::string::npos);
        CHECK(b.text.find("dizziness") == std::string::npos);
    }
}

TEST_CASE("content: outcome texts, warning signs and the no-flag wording", "[content]") {
    auto c = sourceContent();
    for (size_t i = 0; i < c->outcomeTexts.size(); ++i) {
        INFO(outcomeCode(static_cast<Outcome>(i)));
        CHECK(!c->outcomeTexts[i].label.empty());
        CHECK(!c->outcomeTexts[i].text.empty());
        CHECK(c->outcomeTexts[i].text.find("safe") == std::string::npos);
    }
    CHECK(c->outcomeTexts[static_cast<size_t>(Outcome::NoFlag)].text ==
          "No contraindication found in the available record (data as of {asOf}).");
    CHECK(c->outcomeTexts[static_cast<size_t>(Outcome::Defer)].label == "Not yet");
    CHECK(c->outcomeTexts[static_cast<size_t>(Outcome::Escalate)].text ==
          "Seek urgent clinical assessment before any massage.");

    std::set<std::string> signs;
    for (const auto& w : c->warningSigns) signs.insert(w.id);
    for (const char* id :
         {"heavy-bleeding", "fever", "calf-pain-swelling", "breathlessness", "severe-headache", "wound-infection"})
        CHECK(signs.count(id) == 1);
    CHECK(!c->warningSignsIntro.empty());
    CHECK(c->urgentText == "Seek urgent clinical assessment");
}

TEST_CASE("content: every rule of clinical-rules.md is present and well formed", "[content]") {
    auto c = sourceContent();
    const char* ids[] = {"PPM-APP-01",  "PPM-APP-02",  "PPM-APP-03",  "PPM-TIME-01", "PPM-TIME-02", "PPM-TIME-05",
                         "PPM-POS-01",  "PPM-ESC-01",  "PPM-ESC-02",  "PPM-ESC-03",  "PPM-ESC-04",  "PPM-ESC-05",
                         "PPM-ESC-06",  "PPM-BLK-01",  "PPM-BLK-02",  "PPM-BLK-03",  "PPM-BLK-04",  "PPM-REV-01",
                         "PPM-REV-02",  "PPM-REV-03",  "PPM-REV-04",  "PPM-REV-05",  "PPM-PREC-01", "PPM-PREC-02",
                         "PPM-PREC-03", "PPM-PREC-04", "PPM-PREC-05", "PPM-PREC-06", "PPM-PREC-07"};
    for (const char* id : ids) {
        INFO(id);
        CHECK(!rulesWithId(*c, id).empty());
    }
    for (const auto& r : c->rules) {
        INFO(r.id);
        CHECK(!r.title.empty());
        CHECK(!r.reason.empty());
        CHECK(!r.action.empty());
        CHECK(!r.types.empty());
        CHECK(!r.references.empty());
        for (const auto& id : r.references) CHECK(c->findReference(id) != nullptr);
        CHECK((r.outcome == Outcome::Defer) == (r.earliestDay >= 0));
        CHECK(r.when.kind == Clause::Kind::AllOf);
        CHECK(!r.when.children.empty());
        eachClause(r.when, [&](const Clause& cl) {
            if (!cl.valueSet.empty()) CHECK(c->valueSets.count(cl.valueSet) == 1);
            if (!cl.measure.empty()) CHECK(c->measures.count(cl.measure) == 1);
        });
    }
}

TEST_CASE("content: the timing rules match the specification's table", "[content]") {
    auto c = sourceContent();
    const size_t abdominal = typeIndex(*c, "abdominal");

    auto time01 = rulesWithId(*c, "PPM-TIME-01");
    REQUIRE(time01.size() == 1);
    CHECK(time01[0]->outcome == Outcome::Defer);
    CHECK(time01[0]->earliestDay == 14);
    CHECK(time01[0]->types == std::vector<size_t>{abdominal});

    std::set<Outcome> time02;
    for (const Rule* r : rulesWithId(*c, "PPM-TIME-02")) {
        time02.insert(r->outcome);
        CHECK(r->types == std::vector<size_t>{abdominal});
        if (r->outcome == Outcome::Defer) CHECK(r->earliestDay == 28);
    }
    CHECK(time02 == std::set<Outcome>{Outcome::Defer, Outcome::Modify, Outcome::Block, Outcome::Review});

    for (const Rule* r : rulesWithId(*c, "PPM-TIME-05")) {
        CHECK(!r->gap.empty());
        if (r->outcome == Outcome::Defer) CHECK(r->earliestDay == 28);
    }

    auto pos01 = rulesWithId(*c, "PPM-POS-01");
    REQUIRE(pos01.size() == 1);
    CHECK(pos01[0]->outcome == Outcome::Modify);
    CHECK(pos01[0]->types == std::vector<size_t>{typeIndex(*c, "low-back")});
}

TEST_CASE("content: the type list all expands to every massage type, and missing-data rules name their gap",
          "[content]") {
    auto c = sourceContent();
    auto esc01 = rulesWithId(*c, "PPM-ESC-01");
    REQUIRE(esc01.size() == 1);
    CHECK(esc01[0]->types == std::vector<size_t>{0, 1, 2, 3});

    auto rev05 = rulesWithId(*c, "PPM-REV-05");
    REQUIRE(rev05.size() == 1);
    CHECK(rev05[0]->outcome == Outcome::Review);
    CHECK(rev05[0]->gap == "Problem list not provided");
    REQUIRE(rev05[0]->when.children.size() == 1);
    CHECK(rev05[0]->when.children[0].kind == Clause::Kind::NoResource);
    CHECK(rev05[0]->when.children[0].resourceTypes == std::vector<std::string>{"Condition"});

    auto esc06 = rulesWithId(*c, "PPM-ESC-06");
    REQUIRE(esc06.size() == 1);
    const Clause& bp = esc06[0]->when.children.at(0);
    REQUIRE(bp.kind == Clause::Kind::AnyOf);
    REQUIRE(bp.children.size() == 2);
    CHECK(bp.children[0].measure == "systolic");
    CHECK(bp.children[0].atLeast == 160);
    CHECK(bp.children[0].withinDays == 7);
    CHECK(std::isnan(bp.children[0].below));
    CHECK(bp.children[1].measure == "diastolic");
    CHECK(bp.children[1].atLeast == 110);

    for (const auto& g : c->dataGaps) {
        INFO(g.id);
        CHECK(!g.text.empty());
        CHECK(!g.when.children.empty());
    }
}

TEST_CASE("content: measures convert units to the canonical unit", "[content]") {
    auto c = sourceContent();
    auto convert = [&](const std::string& measure, const std::string& unit, double value) {
        const Measure& m = c->measures.at(measure);
        for (const auto& u : m.units)
            if (u.code == unit) return (value + u.offset) * u.scale;
        FAIL("measure " << measure << " has no unit " << unit);
        return 0.0;
    };
    CHECK(c->measures.at("temperature").unit == "Cel");
    CHECK(convert("temperature", "[degF]", 100.4) == Approx(38.0));
    CHECK(convert("temperature", "Cel", 38.2) == Approx(38.2));
    CHECK(convert("platelets", "10*3/uL", 45) == Approx(45));
    CHECK(convert("platelets", "/uL", 150000) == Approx(150));
    CHECK(convert("systolic", "mmHg", 162) == Approx(162));
    CHECK(convert("inr", "", 3.4) == Approx(3.4));
    CHECK(c->delivery.postnatalWindowDays == 84);
    CHECK(c->delivery.episodeWindowDays == 1);
    CHECK(c->valueSets.count(c->delivery.woundStatusValueSet) == 1);
}

TEST_CASE("content: value sets match FHIR codings", "[content]") {
    SECTION("ICD-10-CM and WHO ICD-10 match by prefix with the dot removed") {
        const ValueSet& wound = valueSet("cs-wound-complication");
        CHECK(matches(wound, kIcd10cm, "O86.00"));
        CHECK(matches(wound, kIcd10cm, "O86.09"));
        CHECK(matches(wound, kIcd10cm, "O8600"));
        CHECK(matches(wound, kIcd10cm, "O90.0"));
        CHECK_FALSE(matches(wound, kIcd10cm, "O86"));
        CHECK_FALSE(matches(wound, kIcd10cm, "O86.1"));
        CHECK(matches(wound, kIcd10, "O86.0"));
        CHECK_FALSE(matches(wound, kIcd10, "O86.1"));
        // The system decides: an ICD code under another system does not match.
        CHECK_FALSE(matches(wound, kSct, "O86.0"));
        CHECK(matches(valueSet("vte"), kIcd10cm, "I82.401"));
        CHECK_FALSE(matches(valueSet("vte"), kIcd10, "I82.4"));
    }
    SECTION("SNOMED CT, LOINC and RxNorm match exactly") {
        const ValueSet& wound = valueSet("cs-wound-complication");
        CHECK(matches(wound, kSct, "200125006"));
        CHECK_FALSE(matches(wound, kSct, "2001250"));
        CHECK_FALSE(matches(wound, kSct, "2001250061"));
        CHECK(matches(valueSet("temperature-codes"), kLoinc, "8310-5"));
        CHECK(matches(valueSet("warfarin"), kRxnorm, "855332"));
        CHECK(matches(valueSet("anticoagulant"), kRxnorm, "855332"));
        CHECK_FALSE(matches(valueSet("anticoagulant"), kRxnorm, "161"));  // acetaminophen
    }
    SECTION("ATC matches by class prefix") {
        const ValueSet& anticoagulant = valueSet("anticoagulant");
        CHECK(matches(anticoagulant, kAtc, "B01AF02"));  // apixaban
        CHECK(matches(anticoagulant, kAtc, "B01AB05"));  // enoxaparin
        CHECK(matches(anticoagulant, kAtc, "B01AE07"));  // dabigatran
        CHECK_FALSE(matches(anticoagulant, kAtc, "B01AE02"));
        CHECK_FALSE(matches(anticoagulant, kAtc, "B01AC06"));  // aspirin
        CHECK(matches(valueSet("warfarin"), kAtc, "B01AA03"));
        CHECK_FALSE(matches(valueSet("warfarin"), kAtc, "B01AA07"));
    }
    SECTION("any coding of a concept may match") {
        std::vector<TestCoding> concept {{kSct, "72892002"}, {kIcd10cm, "O72.1"}};
        CHECK(inValueSet(valueSet("pph"), concept));
    }
}

TEST_CASE("content: look-ups by id, uri and text id", "[content]") {
    auto c = sourceContent();
    REQUIRE(c->systemByUri(kIcd10cm) != nullptr);
    CHECK(c->systemByUri(kIcd10cm)->prefixMatch);
    CHECK(c->systemByUri(kIcd10cm)->oid == "2.16.840.1.113883.6.90");
    REQUIRE(c->systemById("sct") != nullptr);
    CHECK(c->systemById("sct")->uri == kSct);
    CHECK_FALSE(c->systemById("sct")->prefixMatch);
    CHECK(c->systemById("no-such-system") == nullptr);
    CHECK(c->systemByUri("http://example.org") == nullptr);
    REQUIRE(c->findReference("NICE-NG194") != nullptr);
    CHECK(c->findReference("NICE-NG194")->url == "https://www.nice.org.uk/guidance/ng194");
    CHECK(c->findReference("NO-SUCH-REF") == nullptr);
    CHECK(!c->text("disclaimer").empty());
    CHECK(c->text("no-such-text").empty());
}

TEST_CASE("content: outcome codes round-trip, and clause bounds default to NaN", "[content]") {
    for (int i = 0; i <= static_cast<int>(Outcome::NotApplicable); ++i) {
        Outcome o = static_cast<Outcome>(i);
        Outcome back = Outcome::Escalate;
        REQUIRE(parseOutcome(outcomeCode(o), back));
        CHECK(back == o);
    }
    Outcome unused;
    CHECK_FALSE(parseOutcome("safe", unused));
    CHECK(std::string(outcomeCode(Outcome::NoFlag)) == "no-flag");
    CHECK(outcomeRank(Outcome::Escalate) < outcomeRank(Outcome::Block));

    Clause c;
    CHECK(std::isnan(c.atLeast));
    CHECK(std::isnan(c.above));
    CHECK(std::isnan(c.below));
    CHECK(std::isnan(c.atMost));
}

TEST_CASE("content: the schema refuses a broken copy, naming file and line", "[content]") {
    SECTION("an outcome outside the enumeration") {
        ContentCopy copy;
        copy.replace("outcome=\"escalate\" types=\"all\"", "outcome=\"urgent\" types=\"all\"");
        Error e = refusal(copy.dir());
        CHECK(e.status() == PPMG_E_CONTENT);
        CHECK(std::string(e.what()).find("ppmg-content.xml:") != std::string::npos);
        CHECK(std::string(e.what()).find("urgent") != std::string::npos);
        CHECK(e.where().line > 0);
        CHECK(e.where().file.find("ppmg-content.xml") != std::string::npos);
    }
    SECTION("an unknown clause element") {
        ContentCopy copy;
        copy.replace("<noDelivery/>", "<noBirth/>");
        Error e = refusal(copy.dir());
        CHECK(std::string(e.what()).find("noBirth") != std::string::npos);
    }
    SECTION("an unknown massage type") {
        ContentCopy copy;
        copy.replace("types=\"abdominal\" earliestDay=\"14\"", "types=\"foot\" earliestDay=\"14\"");
        refusal(copy.dir());
    }
    SECTION("a duplicate value set id") {
        ContentCopy copy;
        copy.replace("<valueSet id=\"pph\"", "<valueSet id=\"vte\"");
        Error e = refusal(copy.dir());
        CHECK(std::string(e.what()).find("ppmg-content.xml:") != std::string::npos);
    }
    SECTION("XML that is not well formed") {
        ContentCopy copy;
        copy.replace("</title>", "</titel>");
        Error e = refusal(copy.dir());
        CHECK(std::string(e.what()).find("ppmg-content.xml:") != std::string::npos);
        CHECK(e.where().line > 0);
    }
    SECTION("a DOCTYPE with an entity") {
        ContentCopy copy;
        copy.replace("<content ", "<!DOCTYPE content [<!ENTITY x \"y\">]>\n<content ");
        Error e = refusal(copy.dir());
        CHECK(std::string(e.what()).find("DOCTYPE") != std::string::npos);
    }
}

TEST_CASE("content: references to unknown ids are refused with the file named", "[content]") {
    SECTION("value set") {
        ContentCopy copy;
        copy.replace("<condition valueSet=\"vte\"/>", "<condition valueSet=\"no-such-set\"/>");
        Error e = refusal(copy.dir());
        std::string what = e.what();
        CHECK(e.status() == PPMG_E_CONTENT);
        CHECK(what.find("ppmg-content.xml:") != std::string::npos);
        CHECK(what.find("PPM-ESC-01") != std::string::npos);
        CHECK(what.find("no-such-set") != std::string::npos);
        CHECK(e.where().line > 0);
    }
    SECTION("measure") {
        ContentCopy copy;
        copy.replace("measure=\"platelets\" withinDays=\"7\" below=\"50\"",
                     "measure=\"thrombocytes\" withinDays=\"7\" below=\"50\"");
        Error e = refusal(copy.dir());
        CHECK(std::string(e.what()).find("thrombocytes") != std::string::npos);
        CHECK(std::string(e.what()).find("ppmg-content.xml:") != std::string::npos);
    }
    SECTION("reference") {
        ContentCopy copy;
        copy.replace("refs=\"SEED-ARTICLE MSF-11.1\"", "refs=\"SEED-ARTICLE NO-SUCH-PAPER\"");
        Error e = refusal(copy.dir());
        CHECK(std::string(e.what()).find("NO-SUCH-PAPER") != std::string::npos);
        CHECK(std::string(e.what()).find("ppmg-content.xml:") != std::string::npos);
    }
    SECTION("code system") {
        ContentCopy copy;
        copy.replace("<code system=\"sct\" code=\"47821001\"", "<code system=\"snomed\" code=\"47821001\"");
        Error e = refusal(copy.dir());
        CHECK(std::string(e.what()).find("snomed") != std::string::npos);
    }
    SECTION("a defer rule without earliestDay") {
        ContentCopy copy;
        copy.replace(" earliestDay=\"14\"", "");
        Error e = refusal(copy.dir());
        CHECK(std::string(e.what()).find("earliestDay") != std::string::npos);
    }
    SECTION("\"all\" mixed with massage type codes") {
        ContentCopy copy;
        copy.replace("outcome=\"escalate\" types=\"all\"", "outcome=\"escalate\" types=\"all breast\"");
        Error e = refusal(copy.dir());
        CHECK(std::string(e.what()).find("all") != std::string::npos);
    }
    SECTION("an observation without a bound") {
        ContentCopy copy;
        copy.replace("measure=\"platelets\" withinDays=\"7\" below=\"50\"", "measure=\"platelets\" withinDays=\"7\"");
        Error e = refusal(copy.dir());
        CHECK(std::string(e.what()).find("bound") != std::string::npos);
    }
}

TEST_CASE("content: a missing file or schema is refused", "[content]") {
    Error e = refusal("/nonexistent/ppmg/content");
    CHECK(e.status() == PPMG_E_CONTENT);
    CHECK(std::string(e.what()).find("ppmg-content.xml") != std::string::npos);

    ContentCopy copy;
    std::string dir = copy.dir();
    fs::remove(fs::path(dir) / "schema" / "ppmg-content.xsd");
    Error noSchema = refusal(dir);
    CHECK(std::string(noSchema.what()).find("ppmg-content.xsd") != std::string::npos);
}
