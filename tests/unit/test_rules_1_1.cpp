// Clinical rules 1.1 (../shared/docs/clinical-rules.md, "Version 1.1"): one test per decision,
// named after it. Rules 11, 12 and 16 (wording) are tested with the writers
// (test_assessment_json.cpp, test_cda_writer.cpp, test_html_view.cpp); rule 21's service part
// with the CDS Hooks service (tests/server), its reading part here and in test_record_mapping.cpp.
#include "base/errors.hpp"
#include "support/fhir_builder.hpp"
#include "support/test_env.hpp"

using namespace ppmg::core;
using namespace ppmg::test;

namespace {

const std::string kAsOf = "2025-11-15";
const char* kHl7Clinical = "http://terminology.hl7.org/CodeSystem/condition-clinical";
const char* kHl7Verification = "http://terminology.hl7.org/CodeSystem/condition-ver-status";

std::string daysBefore(int n) { return formatIsoDate(parseIsoDate(kAsOf)->plusDays(-n)); }
std::string daysAfter(int n) { return formatIsoDate(parseIsoDate(kAsOf)->plusDays(n)); }
std::string at(int daysBeforeAsOf) { return daysBefore(daysBeforeAsOf) + "T08:00:00Z"; }

using Outcomes = std::map<std::string, std::string>;
Outcomes all(const std::string& o) { return {{"abdominal", o}, {"low-back", o}, {"breast", o}, {"shoulder-neck", o}}; }
Outcomes with(Outcomes base, std::initializer_list<std::pair<const std::string, std::string>> changes) {
    for (const auto& c : changes) base[c.first] = c.second;
    return base;
}

Bundle vaginal(int day) {
    Bundle b = Bundle::withBackground();
    b.procedure(kSct, "177184002", at(day));
    return b;
}
Bundle caesarean(int day) {
    Bundle b = Bundle::withBackground();
    b.procedure(kSct, "11466000", at(day));
    return b;
}

std::string coding(const std::string& system, const std::string& code) {
    return R"({"system":")" + system + R"(","code":")" + code + R"("})";
}

// A Condition with the given JSON members (besides resourceType, id and subject).
std::string conditionWith(const std::string& id, const std::string& members) {
    return R"({"resourceType":"Condition","id":")" + id + R"(","subject":{"reference":"Patient/pat-1"},)" + members +
           "}";
}

const Finding* finding(const Assessment& a, const std::string& rule) {
    for (const auto& f : a.findings)
        if (f.rule->id == rule) return &f;
    return nullptr;
}

bool gapMentions(const Assessment& a, const std::string& text) {
    for (const auto& g : a.dataGaps)
        if (g.text.find(text) != std::string::npos) return true;
    return false;
}

}  // namespace

TEST_CASE("rule 1: data dated after the as-of date does not count, for every resource", "[rules][rule-1]") {
    SECTION("a warfarin order written after the as-of date") {
        Bundle b = vaginal(20);
        b.add(R"({"resourceType":"MedicationRequest","id":"w","status":"active","intent":"order",
                  "medicationCodeableConcept":{"coding":[)" +
              coding(kRxNorm, "855332") + R"(]},
                  "subject":{"reference":"Patient/pat-1"},"authoredOn":")" +
              daysAfter(30) + R"("})");
        CHECK(outcomes(assessRecord(b.json(), kAsOf)) == all("no-flag"));
        // The same order written before the as-of date puts every type into review (no INR).
        Bundle before = vaginal(20);
        before.add(R"({"resourceType":"MedicationRequest","id":"w","status":"active","intent":"order",
                  "medicationCodeableConcept":{"coding":[)" +
                   coding(kRxNorm, "855332") + R"(]},
                  "subject":{"reference":"Patient/pat-1"},"authoredOn":")" +
                   daysBefore(30) + R"("})");
        CHECK(outcomes(assessRecord(before.json(), kAsOf)) == all("review"));
    }
    SECTION("a condition whose onset is after the as-of date") {
        Bundle b = caesarean(45);
        b.woundStatus("healed", at(2));
        b.add(conditionWith("c", R"("code":{"coding":[)" + coding(kIcd10cm, "O86.00") + R"(]},"onsetDateTime":")" +
                                     daysAfter(900) + R"(")"));
        CHECK(outcomes(assessRecord(b.json(), kAsOf)).at("abdominal") == "modify");
    }
    SECTION("recordedDate dates a condition without onset") {
        Bundle b = vaginal(20);
        b.add(conditionWith("dvt", R"("code":{"coding":[)" + coding(kSct, "128053003") + R"(]},"recordedDate":")" +
                                       daysAfter(3) + R"(")"));
        CHECK(outcomes(assessRecord(b.json(), kAsOf)) == all("no-flag"));
    }
    SECTION("a record whose only medications are dated after the as-of date has no medication") {
        Bundle b(std::string("female"));
        b.condition(kSct, "72892002", "resolved");
        b.procedure(kSct, "177184002", at(20));
        b.add(R"({"resourceType":"MedicationStatement","id":"m","status":"active",
                  "medicationCodeableConcept":{"coding":[)" +
              coding(kRxNorm, "161") + R"(]},
                  "subject":{"reference":"Patient/pat-1"},"effectiveDateTime":")" +
              daysAfter(10) + R"("})");
        auto a = assessRecord(b.json(), kAsOf);
        CHECK(hasFinding(a, "PPM-PREC-02"));
        CHECK(outcomes(a) == all("modify"));
    }
    SECTION("an undated condition counts") {
        Bundle b = vaginal(20);
        b.condition(kSct, "128053003");
        CHECK(outcomes(assessRecord(b.json(), kAsOf)) == all("escalate"));
    }
}

TEST_CASE("rule 2: a Condition that abated on or before the as-of date does not count", "[rules][rule-2]") {
    auto dvt = [](const std::string& abatement) {
        Bundle b = vaginal(20);
        b.add(conditionWith("dvt", R"("clinicalStatus":{"coding":[)" + coding(kHl7Clinical, "active") +
                                       R"(]},"code":{"coding":[)" + coding(kSct, "128053003") +
                                       R"(]},"onsetDateTime":")" + daysBefore(60) + R"(","abatementDateTime":")" +
                                       abatement + R"(")"));
        return outcomes(assessRecord(b.json(), kAsOf));
    };
    CHECK(dvt(daysBefore(5)) == all("no-flag"));  // abated before: whatever its clinicalStatus
    CHECK(dvt(kAsOf) == all("no-flag"));          // on the as-of date
    CHECK(dvt(daysAfter(5)) == all("escalate"));  // abates later: counts
    CHECK(dvt("2025-11") == all("escalate"));     // a month that runs past the as-of date: not surely abated
}

TEST_CASE("rule 3: a later pregnancy is ignored, a delivery 1 to 180 days after the as-of date is a data error",
          "[rules][rule-3]") {
    SECTION("two pregnancies: a look back at the first") {
        Bundle b = Bundle::withBackground();
        b.procedure(kSct, "177184002", at(20));
        b.procedure(kSct, "11466000", daysAfter(400) + "T08:00:00Z");
        auto a = assessRecord(b.json(), kAsOf);
        CHECK(outcomes(a) == with(all("no-flag"), {{"abdominal", "no-flag"}}));
        CHECK_FALSE(hasFinding(a, "PPM-APP-03"));
    }
    SECTION("within 180 days after: review, naming the record and its date") {
        Bundle b = vaginal(20);
        b.procedure(kSct, "11466000", daysAfter(100) + "T08:00:00Z");
        auto a = assessRecord(b.json(), kAsOf);
        CHECK(outcomes(a).at("breast") == "review");
        const Finding* f = finding(a, "PPM-APP-03");
        REQUIRE(f);
        REQUIRE_FALSE(f->evidence.empty());
        CHECK(std::string(f->evidence[0].date).substr(0, 10) == daysAfter(100));
    }
    SECTION("the only delivery after the as-of date, within 180 days: the same finding, not 'not found'") {
        Bundle b = Bundle::withBackground();
        b.procedure(kSct, "177184002", daysAfter(10) + "T08:00:00Z");
        auto a = assessRecord(b.json(), kAsOf);
        CHECK(hasFinding(a, "PPM-APP-03"));
        CHECK(outcomes(a) == all("review"));
        for (const auto& f : a.findings) CHECK(f.rule->title != "Delivery not found");
    }
    SECTION("only a later pregnancy's records: no delivery on or before the as-of date, the later one named") {
        Bundle b = Bundle::withBackground();
        b.procedure(kSct, "177184002", daysAfter(300) + "T08:00:00Z");
        auto a = assessRecord(b.json(), kAsOf);
        CHECK(outcomes(a) == all("review"));
        const Finding* f = finding(a, "PPM-APP-02");
        REQUIRE(f);
        CHECK(f->rule->title == "No delivery on or before the as-of date");
        CHECK_FALSE(f->evidence.empty());
        for (const auto& g : a.dataGaps) CHECK(g.text.find("none found") == std::string::npos);
        CHECK_FALSE(gapMentions(a, "Delivery not found"));
    }
}

TEST_CASE("rule 4: an episode on different days is dated by its latest record", "[rules][rule-4]") {
    Bundle b = Bundle::withBackground();
    b.procedure(kSct, "177184002", at(14));
    b.deliveryDate(at(13));
    auto a = assessRecord(b.json(), kAsOf);
    REQUIRE(a.episode);
    CHECK(formatIsoDate(a.episode->date) == daysBefore(13));
    CHECK(*a.postpartumDay == 13);
    CHECK(outcomes(a).at("abdominal") == "defer");  // day 13 (not 14): still deferred
    CHECK(earliest(a, "abdominal") == daysAfter(1));
}

TEST_CASE("rule 5: delivery-coded Conditions and Observations are delivery records, undated, a gap",
          "[rules][rule-5]") {
    SECTION("the finding 'Deliveries by cesarean' as a Condition") {
        Bundle b = Bundle::withBackground();
        b.add(conditionWith("cs", R"("code":{"coding":[)" + coding(kSct, "200144004") + R"(]},"onsetDateTime":")" +
                                      daysBefore(10) + R"(")"));
        auto a = assessRecord(b.json(), kAsOf);
        REQUIRE(a.episode);
        CHECK(a.episode->mode == DeliveryMode::Caesarean);
        CHECK(outcomes(a).at("abdominal") == "defer");
    }
    SECTION("a delivery-method Observation (LOINC 73771-8) valued by mode") {
        Bundle b = Bundle::withBackground();
        b.add(R"({"resourceType":"Observation","id":"dm","status":"final","code":{"coding":[)" +
              coding(kLoinc, "73771-8") + R"(]},"subject":{"reference":"Patient/pat-1"},"effectiveDateTime":")" +
              daysBefore(30) + R"(","valueCodeableConcept":{"coding":[)" + coding(kSct, "84457005") + R"(]}})");
        auto a = assessRecord(b.json(), kAsOf);
        REQUIRE(a.episode);
        CHECK(a.episode->mode == DeliveryMode::Vaginal);  // 84457005 joins the vaginal value set
    }
    SECTION("undated: listed as a data gap, not a delivery") {
        Bundle b = Bundle::withBackground();
        b.add(conditionWith("cs", R"("code":{"coding":[)" + coding(kSct, "200144004") + R"(]})"));
        auto a = assessRecord(b.json(), kAsOf);
        CHECK_FALSE(a.episode);
        CHECK(gapMentions(a, "A delivery record without a date was not used"));
    }
}

TEST_CASE("rule 6: age in completed years, and only male is out of scope", "[rules][rule-6]") {
    // 60 years and 5 months is 60: in scope (no delivery: review).
    CHECK(outcomes(assessRecord(Bundle::withBackground("female", daysBefore(60 * 365 + 15 + 150)).json(), kAsOf)) ==
          all("review"));
    CHECK(outcomes(assessRecord(Bundle::withBackground("female", "1964-11-14").json(), kAsOf)) ==
          all("not-applicable"));  // 61 completed years
    for (const char* g : {"other", "unknown", ""})
        CHECK(outcomes(assessRecord(Bundle::withBackground(g, "1990-01-01").json(), kAsOf)) == all("review"));
}

TEST_CASE("rule 7: a reading without a value does not mask, a lone systolic is a blood-pressure measurement",
          "[rules][rule-7]") {
    SECTION("an observation without a value does not mask an earlier value") {
        Bundle b = vaginal(20);
        b.quantity("8310-5", 38.6, "Cel", at(2));
        b.add(R"({"resourceType":"Observation","id":"t2","status":"final","code":{"coding":[)" +
              coding(kLoinc, "8310-5") + R"(]},"subject":{"reference":"Patient/pat-1"},"effectiveDateTime":")" + at(1) +
              R"("})");
        CHECK(outcomes(assessRecord(b.json(), kAsOf)) == all("block"));
    }
    SECTION("a lone systolic meets its bound and satisfies 'a blood pressure within 7 days'") {
        Bundle b = vaginal(20);
        b.condition(kSct, "48194001");
        b.quantity("8480-6", 162, "mm[Hg]", at(1));
        auto a = assessRecord(b.json(), kAsOf);
        CHECK(outcomes(a) == all("escalate"));
        CHECK_FALSE(hasFinding(a, "PPM-REV-04"));
        CHECK_FALSE(gapMentions(a, "No blood pressure"));
        Bundle normal = vaginal(20);
        normal.quantity("8462-4", 70, "mm[Hg]", at(1));
        CHECK_FALSE(gapMentions(assessRecord(normal.json(), kAsOf), "No blood pressure"));
    }
}

TEST_CASE("rule 8: units as records write them", "[rules][rule-8]") {
    for (const char* unit : {"°C", "C", "degC"}) {
        Bundle b = vaginal(20);
        b.quantity("8310-5", 38.4, unit, at(1));
        INFO(unit);
        CHECK(outcomes(assessRecord(b.json(), kAsOf)) == all("block"));
    }
    for (const char* unit : {"°F", "F", "degF"}) {
        Bundle b = vaginal(20);
        b.quantity("8310-5", 101.5, unit, at(1));
        INFO(unit);
        CHECK(outcomes(assessRecord(b.json(), kAsOf)) == all("block"));
    }
    for (const char* unit : {"mmHg", "mm Hg"}) {
        Bundle b = vaginal(20);
        b.quantity("8480-6", 165, unit, at(1));
        INFO(unit);
        CHECK(outcomes(assessRecord(b.json(), kAsOf)) == all("escalate"));
    }
    for (auto u : {std::make_pair("10*3/uL", 40.0), std::make_pair("10^9/L", 40.0), std::make_pair("x10E3/uL", 40.0),
                   std::make_pair("K/uL", 40.0), std::make_pair("10*3/mm3", 40.0), std::make_pair("/uL", 40000.0),
                   std::make_pair("/mm3", 40000.0)}) {
        Bundle b = vaginal(20);
        b.quantity("777-3", u.second, u.first, at(1));
        INFO(u.first);
        CHECK(outcomes(assessRecord(b.json(), kAsOf)) == all("block"));
    }
    // A unit that is not convertible: review, naming the datum (test_rules.cpp has the detail).
    Bundle bad = vaginal(20);
    bad.quantity("777-3", 40, "mg", at(1));
    CHECK(outcomes(assessRecord(bad.json(), kAsOf)) == all("review"));
}

TEST_CASE("rule 9: an active problem without a code makes every type review, quoting its text", "[rules][rule-9]") {
    Bundle b = vaginal(20);
    b.add(conditionWith("u", R"("code":{"text":"clot in left leg?"})"));
    auto a = assessRecord(b.json(), kAsOf);
    CHECK(outcomes(a) == all("review"));
    const Finding* f = finding(a, "PPM-REV-06");
    REQUIRE(f);
    REQUIRE(f->evidence.size() == 1);
    CHECK(f->evidence[0].value.find("clot in left leg?") != std::string::npos);
    // Resolved, it does not count.
    Bundle resolved = vaginal(20);
    resolved.add(conditionWith("u", R"("clinicalStatus":{"coding":[)" + coding(kHl7Clinical, "resolved") +
                                        R"(]},"code":{"text":"clot in left leg?"})"));
    CHECK(outcomes(assessRecord(resolved.json(), kAsOf)) == all("no-flag"));
}

TEST_CASE("rule 10: an active perineal tear gives the low-back positioning change whatever the day",
          "[rules][rule-10]") {
    Bundle b = vaginal(100);
    b.condition(kSct, "398019008");
    CHECK(outcomes(assessRecord(b.json(), kAsOf)).at("low-back") == "modify");
    // An episiotomy only while day < 42.
    Bundle e = vaginal(100);
    e.procedure(kSct, "85548006", at(100));
    CHECK(outcomes(assessRecord(e.json(), kAsOf)).at("low-back") == "no-flag");
}

TEST_CASE("rule 13: the not-applicable finding names the one reason that applied", "[rules][rule-13]") {
    // A man aged 70 with no delivery: male comes before age.
    auto man = assessRecord(Bundle::withBackground("male", "1950-01-01").json(), kAsOf);
    REQUIRE(man.findings.size() == 1);
    CHECK(man.findings[0].rule->title == "Out of scope: male, no delivery on record");
    // A woman of 70 with no delivery: age.
    auto old = assessRecord(Bundle::withBackground("female", "1950-01-01").json(), kAsOf);
    REQUIRE(old.findings.size() == 1);
    CHECK(old.findings[0].rule->title == "Out of scope: age");
    // Her last birth over a year ago: that reason only.
    auto late = assessRecord(vaginal(400).json(), kAsOf);
    REQUIRE(late.findings.size() == 1);
    CHECK(late.findings[0].rule->title == "Out of scope: last birth over a year ago");
}

TEST_CASE("rule 14: the finding that states the mode cites the records that decided it", "[rules][rule-14]") {
    Bundle b = Bundle::withBackground();
    b.procedure(kSct, "11466000", at(10));
    b.procedure(kSct, "85548006", at(9));  // an episiotomy a day later dates the episode
    auto a = assessRecord(b.json(), kAsOf);
    const Finding* f = finding(a, "PPM-TIME-02");
    REQUIRE(f);
    REQUIRE_FALSE(f->evidence.empty());
    CHECK(f->evidence[0].code == "11466000");
}

TEST_CASE("rule 15: every rule names the research report's rule it derives from, or is the product's own",
          "[rules][rule-15]") {
    for (const auto& r : content().rules) {
        INFO(r.id);
        const bool own = r.id.rfind("PPM-APP-", 0) == 0 || r.id == "PPM-REV-05" || r.id == "PPM-REV-06" ||
                         r.id == "PPM-REV-07" || r.id == "PPM-REV-08";
        CHECK(own == r.derivedFrom.empty());
    }
    auto a = assessRecord(vaginal(5).json(), kAsOf);
    const Finding* f = finding(a, "PPM-TIME-01");
    REQUIRE(f);
    CHECK(f->rule->derivedFrom == "PPM-TIME-01");
}

TEST_CASE("rule 17: any recent caesarean keeps abdominal massage deferred, caesarean statuses", "[rules][rule-17]") {
    SECTION("a caesarean 21 days ago beside a later vaginal record") {
        Bundle b = Bundle::withBackground();
        b.procedure(kSct, "11466000", at(21));
        b.procedure(kSct, "177184002", at(18));
        auto a = assessRecord(b.json(), kAsOf);
        CHECK(outcomes(a).at("abdominal") == "defer");
        CHECK(earliest(a, "abdominal") == daysAfter(7));  // 28 days after the caesarean
        CHECK(outcomes(a).at("low-back") == "modify");
    }
    SECTION("a caesarean whose status is unknown counts as a caesarean") {
        for (const char* status : {"unknown", "in-progress", "preparation", "on-hold", "stopped"}) {
            Bundle b = Bundle::withBackground();
            b.procedure(kSct, "11466000", at(10), status);
            auto a = assessRecord(b.json(), kAsOf);
            INFO(status);
            REQUIRE(a.episode);
            CHECK(a.episode->mode == DeliveryMode::Caesarean);
            CHECK(outcomes(a) == with(all("no-flag"), {{"abdominal", "defer"}, {"low-back", "modify"}}));
        }
        for (const char* status : {"not-done", "entered-in-error"}) {
            Bundle b = Bundle::withBackground();
            b.procedure(kSct, "11466000", at(10), status);
            INFO(status);
            CHECK_FALSE(assessRecord(b.json(), kAsOf).episode);
        }
    }
}

TEST_CASE("rule 18: partial dates", "[rules][rule-18]") {
    SECTION("a delivery dated to the month is dated at its last day, or the as-of date within it") {
        Bundle b = Bundle::withBackground();
        b.procedure(kSct, "177184002", "2025-10");
        auto a = assessRecord(b.json(), "2025-10-30");
        REQUIRE(a.episode);
        CHECK(*a.postpartumDay == 0);
        auto later = assessRecord(b.json(), kAsOf);
        CHECK(formatIsoDate(later.episode->date) == "2025-10-31");
        CHECK(outcomes(later).at("abdominal") == "no-flag");  // day 15
        Bundle cs = Bundle::withBackground();
        cs.procedure(kSct, "11466000", "2025-10");
        CHECK(outcomes(assessRecord(cs.json(), kAsOf)).at("abdominal") == "defer");  // not day 45: day 15
    }
    SECTION("a datum that raises a flag counts when any day it allows is in the window") {
        Bundle b = vaginal(20);
        b.quantity("777-3", 40, "10*3/uL", "2025-11");  // November: some of it within 7 days
        CHECK(outcomes(assessRecord(b.json(), kAsOf)) == all("block"));
    }
    SECTION("a datum that clears one counts only when every day it allows is in the window") {
        Bundle b = vaginal(20);
        b.medicationRequest(kRxNorm, "855332");
        b.quantity("6301-6", 2.0, "{INR}", "2025-11");  // November: not all of it within 14 days
        CHECK(hasFinding(assessRecord(b.json(), kAsOf), "PPM-REV-03"));
        Bundle wound = caesarean(45);
        wound.woundStatus("healed", "2025-11");
        CHECK(outcomes(assessRecord(wound.json(), kAsOf)).at("abdominal") == "review");
    }
}

TEST_CASE("rule 19: statuses read by system, an unreadable one counts and is listed, the worse of two",
          "[rules][rule-19]") {
    SECTION("a status read only from its first coding") {
        Bundle b = vaginal(20);
        b.add(conditionWith("dvt", R"("verificationStatus":{"coding":[)" + coding("urn:local", "refuted") + "," +
                                       coding(kHl7Verification, "confirmed") + R"(]},"code":{"coding":[)" +
                                       coding(kSct, "128053003") + "]}"));
        CHECK(outcomes(assessRecord(b.json(), kAsOf)) == all("escalate"));
    }
    SECTION("a local coding placed before the HL7 one") {
        Bundle b = vaginal(20);
        b.add(conditionWith("dvt", R"("clinicalStatus":{"coding":[)" + coding("urn:local", "inactive") + "," +
                                       coding(kHl7Clinical, "active") + R"(]},"code":{"coding":[)" +
                                       coding(kSct, "128053003") + "]}"));
        CHECK(outcomes(assessRecord(b.json(), kAsOf)) == all("escalate"));
    }
    SECTION("an unknown code counts as active and is listed as a data gap") {
        Bundle b = vaginal(20);
        b.add(conditionWith("dvt", R"("clinicalStatus":{"coding":[)" + coding(kHl7Clinical, "Resolved") +
                                       R"(]},"code":{"coding":[)" + coding(kSct, "128053003") + "]}"));
        auto a = assessRecord(b.json(), kAsOf);
        CHECK(outcomes(a) == all("escalate"));
        CHECK(gapMentions(a, "could not be read"));
        CHECK(gapMentions(a, "Condition/dvt"));
    }
    SECTION("two wound statuses at the same instant: the worse one") {
        Bundle b = caesarean(45);
        b.woundStatus("healed", at(1));
        b.woundStatus("infected", at(1));
        CHECK(outcomes(assessRecord(b.json(), kAsOf)).at("abdominal") == "block");
        Bundle c = caesarean(45);
        c.woundStatus("infected", at(1));
        c.woundStatus("healed", at(1));
        CHECK(outcomes(assessRecord(c.json(), kAsOf)).at("abdominal") == "block");
    }
}

TEST_CASE("rule 20: whose data, an unknown medication", "[rules][rule-20]") {
    SECTION("one patient: a fact naming no patient of the record counts for her, listed") {
        Bundle b = vaginal(20);
        b.add(R"({"resourceType":"Condition","id":"dvt","subject":{"reference":"Patient/someone-else"},
                  "code":{"coding":[)" +
              coding(kSct, "128053003") + "]}}");
        auto a = assessRecord(b.json(), kAsOf);
        CHECK(outcomes(a) == all("escalate"));
        CHECK(gapMentions(a, "names no patient"));
    }
    SECTION("several patients: such a fact makes every type review, naming it") {
        Bundle b = vaginal(20);
        b.add(R"({"resourceType":"Patient","id":"baby","gender":"male","birthDate":")" + daysBefore(20) + R"("})");
        b.add(R"({"resourceType":"Condition","id":"rash","code":{"coding":[)" + coding(kSct, "271807003") + "]}}");
        auto a = assessRecord(b.json(), kAsOf);  // the delivery's subject is chosen
        CHECK(outcomes(a) == all("review"));
        const Finding* f = finding(a, "PPM-REV-08");
        REQUIRE(f);
        CHECK(f->evidence.at(0).id == "rash");
    }
    SECTION("a medicationReference to nothing: anticoagulant status unknown, even beside known medications") {
        Bundle b = vaginal(20);
        b.add(R"({"resourceType":"MedicationRequest","id":"x","status":"active","intent":"order",
                  "medicationReference":{"reference":"Medication/not-in-record"},"subject":{"reference":"Patient/pat-1"}})");
        auto a = assessRecord(b.json(), kAsOf);
        CHECK(hasFinding(a, "PPM-PREC-02"));
        CHECK(outcomes(a) == all("modify"));
    }
}

TEST_CASE("rule 21: one record, one reading: repeated copies and repeated JSON members", "[rules][rule-21]") {
    // An entered-in-error copy first and a confirmed DVT second: the confirmed one counts.
    Bundle b = vaginal(20);
    const std::string code = R"("code":{"coding":[)" + coding(kSct, "128053003") + "]}";
    b.add(conditionWith(
        "dvt", R"("verificationStatus":{"coding":[)" + coding(kHl7Verification, "entered-in-error") + "]}," + code));
    b.add(conditionWith("dvt",
                        R"("verificationStatus":{"coding":[)" + coding(kHl7Verification, "confirmed") + "]}," + code));
    CHECK(outcomes(assessRecord(b.json(), kAsOf)) == all("escalate"));
    // A repeated member name is refused as bad input.
    std::string json = vaginal(20).json();
    json.replace(json.find(R"("gender":"female")"), 17, R"("gender":"female","gender":"male")");
    CHECK_THROWS_AS(assessRecord(json, kAsOf), Error);
}
