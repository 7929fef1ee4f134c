// Vignettes for every rule of clinical-rules.md: each builds the smallest record that should
// (or should not) fire a rule and checks the four outcomes the rules imply, as of 2025-11-15.
#include "base/errors.hpp"
#include "support/fhir_builder.hpp"
#include "support/test_env.hpp"

using namespace ppmg::core;
using namespace ppmg::test;

namespace {

const std::string kAsOf = "2025-11-15";

// The ISO date n days before the as-of date.
std::string daysBefore(int n) { return formatIsoDate(parseIsoDate(kAsOf)->plusDays(-n)); }
std::string at(int daysBeforeAsOf, const char* time = "T08:00:00Z") { return daysBefore(daysBeforeAsOf) + time; }

using Outcomes = std::map<std::string, std::string>;
Outcomes all(const std::string& o) { return {{"abdominal", o}, {"low-back", o}, {"breast", o}, {"shoulder-neck", o}}; }
Outcomes with(Outcomes base, std::initializer_list<std::pair<const std::string, std::string>> changes) {
    for (const auto& c : changes) base[c.first] = c.second;
    return base;
}

// A vaginal birth n days ago, with the background lists.
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

}  // namespace

// ---- Applicability ---------------------------------------------------------------------

TEST_CASE("PPM-APP-01: a man with no delivery is out of scope", "[rules][applicability]") {
    auto a = assessRecord(Bundle::withBackground("male", "1980-01-01").json(), kAsOf);
    CHECK_FALSE(a.applicable);
    CHECK(outcomes(a) == all("not-applicable"));
    CHECK(hasFinding(a, "PPM-APP-01"));
}

TEST_CASE("PPM-APP-01: children under 10 and women over 60 with no delivery are out of scope",
          "[rules][applicability]") {
    CHECK(outcomes(assessRecord(Bundle::withBackground("female", "2018-01-01").json(), kAsOf)) ==
          all("not-applicable"));
    CHECK(outcomes(assessRecord(Bundle::withBackground("female", "1960-01-01").json(), kAsOf)) ==
          all("not-applicable"));
    // Exactly 60 years old is not "older than 60".
    CHECK(outcomes(assessRecord(Bundle::withBackground("female", "1965-11-15").json(), kAsOf)) == all("review"));
}

TEST_CASE("PPM-APP-01: a delivery over 365 days ago is out of scope", "[rules][applicability]") {
    CHECK(outcomes(assessRecord(vaginal(366).json(), kAsOf)) == all("not-applicable"));
    auto within = assessRecord(vaginal(365).json(), kAsOf);
    CHECK(within.applicable);
    CHECK(*within.postpartumDay == 365);
}

TEST_CASE("A delivery on record puts a patient in scope whatever the recorded gender or age",
          "[rules][applicability]") {
    Bundle b = Bundle::withBackground("male", "1950-01-01");
    b.procedure(kSct, "177184002", at(20));
    auto a = assessRecord(b.json(), kAsOf);
    CHECK(a.applicable);
    CHECK(outcomes(a) == all("no-flag"));
}

TEST_CASE("PPM-APP-02: no delivery on record makes every type review", "[rules][applicability]") {
    auto a = assessRecord(Bundle::withBackground("female", "1992-01-01").json(), kAsOf);
    CHECK(a.applicable);
    CHECK(outcomes(a) == all("review"));
    CHECK(hasFinding(a, "PPM-APP-02"));
    CHECK_FALSE(a.postpartumDay.has_value());
}

TEST_CASE("An unknown gender with no delivery is reviewed, never out of scope", "[rules][applicability]") {
    CHECK(outcomes(assessRecord(Bundle::withBackground("unknown", "").json(), kAsOf)) == all("review"));
}

TEST_CASE("PPM-APP-03: a delivery dated after the as-of date makes every type review", "[rules][applicability]") {
    Bundle b = Bundle::withBackground();
    b.procedure(kSct, "177184002", formatIsoDate(parseIsoDate(kAsOf)->plusDays(3)));
    auto a = assessRecord(b.json(), kAsOf);
    CHECK(outcomes(a) == all("review"));
    CHECK(hasFinding(a, "PPM-APP-03"));
}

// ---- Timing ----------------------------------------------------------------------------

TEST_CASE("PPM-TIME-01: abdominal massage waits 14 days after a vaginal birth", "[rules][timing]") {
    auto a = assessRecord(vaginal(6).json(), kAsOf);
    CHECK(*a.postpartumDay == 6);
    CHECK(outcomes(a) == with(all("no-flag"), {{"abdominal", "defer"}}));
    CHECK(earliest(a, "abdominal") == daysBefore(6 - 14));
    CHECK(outcomes(assessRecord(vaginal(13).json(), kAsOf))["abdominal"] == "defer");
    CHECK(outcomes(assessRecord(vaginal(14).json(), kAsOf)) == all("no-flag"));
}

TEST_CASE("Postpartum day counts calendar dates in each timestamp's own offset", "[rules][timing][dates]") {
    Bundle b = Bundle::withBackground();
    // 23:30 at -05:00 on the 1st is the 2nd in UTC; the clinical date is still the 1st.
    b.procedure(kSct, "177184002", "2025-11-01T23:30:00-05:00");
    auto a = assessRecord(b.json(), kAsOf);
    CHECK(*a.postpartumDay == 14);
    CHECK(outcomes(a)["abdominal"] == "no-flag");
}

TEST_CASE("PPM-TIME-02: abdominal massage waits 28 days after a caesarean", "[rules][timing]") {
    auto a = assessRecord(caesarean(20).json(), kAsOf);
    CHECK(outcomes(a) == with(all("no-flag"), {{"abdominal", "defer"}, {"low-back", "modify"}}));
    CHECK(earliest(a, "abdominal") == daysBefore(20 - 28));
    // Even a healed wound does not clear abdominal massage before day 28.
    Bundle healed = caesarean(20);
    healed.woundStatus("healed", at(1));
    CHECK(outcomes(assessRecord(healed.json(), kAsOf))["abdominal"] == "defer");
}

TEST_CASE("PPM-TIME-02: from day 28 the caesarean wound status decides", "[rules][timing]") {
    SECTION("healed within 14 days: modify") {
        Bundle b = caesarean(31);
        b.woundStatus("healed", at(5));
        auto a = assessRecord(b.json(), kAsOf);
        CHECK(outcomes(a) == with(all("no-flag"), {{"abdominal", "modify"}, {"low-back", "modify"}}));
    }
    for (const char* bad : {"not-healed", "infected", "dehisced"}) {
        SECTION(std::string(bad) + ": block") {
            Bundle b = caesarean(31);
            b.woundStatus(bad, at(2));
            CHECK(outcomes(assessRecord(b.json(), kAsOf))["abdominal"] == "block");
        }
    }
    SECTION("healing: review") {
        Bundle b = caesarean(31);
        b.woundStatus("healing", at(2));
        CHECK(outcomes(assessRecord(b.json(), kAsOf))["abdominal"] == "review");
    }
    SECTION("missing: review, and named as a data gap") {
        auto a = assessRecord(caesarean(31).json(), kAsOf);
        CHECK(outcomes(a)["abdominal"] == "review");
        CHECK_FALSE(a.dataGaps.empty());
    }
    SECTION("older than 14 days counts as missing") {
        Bundle b = caesarean(40);
        b.woundStatus("healed", at(15));
        CHECK(outcomes(assessRecord(b.json(), kAsOf))["abdominal"] == "review");
    }
    SECTION("a status value the content does not know counts as missing: review, never cleared") {
        Bundle b = caesarean(31);
        b.woundStatus("looks-fine", at(2));
        CHECK(outcomes(assessRecord(b.json(), kAsOf))["abdominal"] == "review");
    }
    SECTION("the latest status counts") {
        Bundle b = caesarean(40);
        b.woundStatus("infected", at(10));
        b.woundStatus("healed", at(2));
        CHECK(outcomes(assessRecord(b.json(), kAsOf))["abdominal"] == "modify");
    }
}

TEST_CASE("PPM-TIME-02: a bad wound blocks abdominal massage before day 28 (block outranks defer)",
          "[rules][timing][precedence]") {
    Bundle b = caesarean(20);
    b.woundStatus("infected", at(1));
    auto a = assessRecord(b.json(), kAsOf);
    CHECK(outcomes(a)["abdominal"] == "block");
    CHECK(earliest(a, "abdominal").empty());
}

TEST_CASE("PPM-TIME-05: an unknown delivery mode is timed as a caesarean", "[rules][timing]") {
    Bundle early = Bundle::withBackground();
    early.deliveryDate(at(10));
    auto a = assessRecord(early.json(), kAsOf);
    CHECK(a.episode->mode == DeliveryMode::Unknown);
    CHECK(outcomes(a) == with(all("no-flag"), {{"abdominal", "defer"}, {"low-back", "modify"}}));
    CHECK(earliest(a, "abdominal") == daysBefore(10 - 28));

    Bundle late = Bundle::withBackground();
    late.deliveryDate(at(50));
    CHECK(outcomes(assessRecord(late.json(), kAsOf)) ==
          with(all("no-flag"), {{"abdominal", "review"}, {"low-back", "modify"}}));
}

TEST_CASE("PPM-POS-01: no prone lying until day 42 after a caesarean", "[rules][timing]") {
    CHECK(outcomes(assessRecord(caesarean(41).json(), kAsOf))["low-back"] == "modify");
    Bundle b = caesarean(42);
    b.woundStatus("healed", at(3));
    CHECK(outcomes(assessRecord(b.json(), kAsOf)) == with(all("no-flag"), {{"abdominal", "modify"}}));
    CHECK(outcomes(assessRecord(vaginal(3).json(), kAsOf))["low-back"] == "no-flag");
}

// ---- Escalate --------------------------------------------------------------------------

TEST_CASE("PPM-ESC-01: a DVT or PE escalates every type, suspected or confirmed", "[rules][escalate]") {
    for (auto code :
         {std::make_pair(kSct, "128053003"), std::make_pair(kSct, "59282003"), std::make_pair(kIcd10cm, "O87.1"),
          std::make_pair(kIcd10cm, "I82.401"), std::make_pair(kIcd10cm, "I26.99"), std::make_pair(kIcd10, "I80.2")}) {
        Bundle b = vaginal(20);
        b.condition(code.first, code.second, "active", "provisional");
        INFO(code.second);
        CHECK(outcomes(assessRecord(b.json(), kAsOf)) == all("escalate"));
    }
}

TEST_CASE("Data semantics: refuted, entered-in-error and resolved conditions do not count", "[rules][semantics]") {
    for (auto st : {std::make_pair("active", "refuted"), std::make_pair("active", "entered-in-error"),
                    std::make_pair("resolved", "confirmed"), std::make_pair("inactive", "confirmed")}) {
        Bundle b = vaginal(20);
        b.condition(kSct, "128053003", st.first, st.second);
        INFO(st.first << " " << st.second);
        CHECK(outcomes(assessRecord(b.json(), kAsOf)) == all("no-flag"));
    }
    Bundle absent = vaginal(20);
    absent.condition(kSct, "128053003", "", "");
    CHECK(outcomes(assessRecord(absent.json(), kAsOf)) == all("escalate"));
    Bundle relapse = vaginal(20);
    relapse.condition(kSct, "128053003", "relapse", "differential");
    CHECK(outcomes(assessRecord(relapse.json(), kAsOf)) == all("escalate"));
}

TEST_CASE("PPM-ESC-02/03/05: haemorrhage, sepsis and severe pre-eclampsia escalate", "[rules][escalate]") {
    for (auto code :
         {std::make_pair(kSct, "47821001"), std::make_pair(kIcd10cm, "O72.1"), std::make_pair(kSct, "91302008"),
          std::make_pair(kIcd10cm, "O85"), std::make_pair(kIcd10cm, "O86.04"), std::make_pair(kIcd10cm, "O86.12"),
          std::make_pair(kIcd10cm, "O86.4"), std::make_pair(kSct, "95605009"), std::make_pair(kSct, "15938005"),
          std::make_pair(kIcd10cm, "O15.2"), std::make_pair(kSct, "46764007"), std::make_pair(kIcd10cm, "O14.15")}) {
        Bundle b = vaginal(20);
        b.condition(code.first, code.second);
        INFO(code.second);
        CHECK(outcomes(assessRecord(b.json(), kAsOf)) == all("escalate"));
    }
}

TEST_CASE("PPM-ESC-06: the latest blood pressure within 7 days at 160/110 escalates", "[rules][escalate]") {
    for (auto bp : {std::make_pair(160.0, 90.0), std::make_pair(130.0, 110.0)}) {
        Bundle b = vaginal(20);
        b.bloodPressure(bp.first, bp.second, at(7));
        CHECK(outcomes(assessRecord(b.json(), kAsOf)) == all("escalate"));
    }
    Bundle old = vaginal(20);
    old.bloodPressure(170, 115, at(8));
    CHECK(outcomes(assessRecord(old.json(), kAsOf)) == all("no-flag"));
    Bundle settled = vaginal(20);  // the latest reading counts, not the worst
    settled.bloodPressure(170, 115, at(3));
    settled.bloodPressure(118, 76, at(1));
    CHECK(outcomes(assessRecord(settled.json(), kAsOf)) == all("no-flag"));
    Bundle separate = vaginal(20);  // separate systolic / diastolic observations
    separate.quantity("8480-6", 162, "mm[Hg]", at(1));
    CHECK(outcomes(assessRecord(separate.json(), kAsOf)) == all("escalate"));
}

TEST_CASE("PPM-ESC-04: fever with tachycardia, tachypnoea or hypotension escalates", "[rules][escalate]") {
    SECTION("heart rate > 100") {
        Bundle b = vaginal(20);
        b.quantity("8310-5", 38.0, "Cel", at(1)).quantity("8867-4", 101, "/min", at(1));
        CHECK(outcomes(assessRecord(b.json(), kAsOf)) == all("escalate"));
    }
    SECTION("respiratory rate > 21") {
        Bundle b = vaginal(20);
        b.quantity("8310-5", 38.4, "Cel", at(2)).quantity("9279-1", 22, "/min", at(2));
        CHECK(outcomes(assessRecord(b.json(), kAsOf)) == all("escalate"));
    }
    SECTION("systolic < 90") {
        Bundle b = vaginal(20);
        b.quantity("8310-5", 101.0, "[degF]", at(0)).bloodPressure(88, 50, at(0));
        CHECK(outcomes(assessRecord(b.json(), kAsOf)) == all("escalate"));
    }
    SECTION("a companion at the bound does not meet it: block, not escalate") {
        Bundle b = vaginal(20);
        b.quantity("8310-5", 38.2, "Cel", at(1)).quantity("8867-4", 100, "/min", at(1));
        CHECK(outcomes(assessRecord(b.json(), kAsOf)) == all("block"));
    }
}

// ---- Block -----------------------------------------------------------------------------

TEST_CASE("PPM-BLK-01: fever alone within 72 hours blocks every type", "[rules][block]") {
    Bundle b = vaginal(20);
    b.quantity("8310-5", 38.0, "Cel", at(3));
    CHECK(outcomes(assessRecord(b.json(), kAsOf)) == all("block"));
    Bundle f = vaginal(20);
    f.quantity("8310-5", 100.4, "[degF]", at(1));
    CHECK(outcomes(assessRecord(f.json(), kAsOf)) == all("block"));
    Bundle old = vaginal(20);
    old.quantity("8310-5", 39.0, "Cel", at(4));
    CHECK(outcomes(assessRecord(old.json(), kAsOf)) == all("no-flag"));
    Bundle below = vaginal(20);
    below.quantity("8310-5", 37.9, "Cel", at(1));
    CHECK(outcomes(assessRecord(below.json(), kAsOf)) == all("no-flag"));
}

TEST_CASE("Data semantics: preliminary, cancelled and future observations do not count", "[rules][semantics]") {
    for (const char* st : {"preliminary", "cancelled", "entered-in-error"}) {
        Bundle b = vaginal(20);
        b.quantity("8310-5", 39.0, "Cel", at(1), st);
        CHECK(outcomes(assessRecord(b.json(), kAsOf)) == all("no-flag"));
    }
    Bundle future = vaginal(20);
    future.quantity("8310-5", 39.0, "Cel", formatIsoDate(parseIsoDate(kAsOf)->plusDays(1)) + "T08:00:00Z");
    CHECK(outcomes(assessRecord(future.json(), kAsOf)) == all("no-flag"));
}

TEST_CASE("PPM-BLK-02 / PPM-REV-02: platelet thresholds, with UCUM units", "[rules][block][review][units]") {
    auto platelets = [](double v, const char* unit) {
        Bundle b = vaginal(20);
        b.quantity("777-3", v, unit, at(2));
        return outcomes(assessRecord(b.json(), kAsOf));
    };
    CHECK(platelets(49, "10*3/uL") == all("block"));
    CHECK(platelets(49, "10*9/L") == all("block"));
    CHECK(platelets(50, "10*3/uL") == all("review"));
    CHECK(platelets(99.9, "10*9/L") == all("review"));
    CHECK(platelets(100, "10*3/uL") == all("no-flag"));
    Bundle alt = vaginal(20);
    alt.quantity("26515-7", 30, "10*3/uL", at(7));
    CHECK(outcomes(assessRecord(alt.json(), kAsOf)) == all("block"));
    Bundle stale = vaginal(20);
    stale.quantity("777-3", 30, "10*3/uL", at(8));
    CHECK(outcomes(assessRecord(stale.json(), kAsOf)) == all("no-flag"));
}

TEST_CASE("rule 8: a value in a unit ppmg cannot convert is not used: review, naming the datum and its unit",
          "[rules][units][rule-8]") {
    Bundle b = vaginal(20);
    b.quantity("8310-5", 312.0, "K", at(1));
    auto a = assessRecord(b.json(), kAsOf);
    CHECK(outcomes(a) == all("review"));  // 1.0 gave no-flag: the value may be dangerous
    REQUIRE(hasFinding(a, "PPM-REV-07"));
    bool named = false;
    for (const auto& f : a.findings)
        for (const auto& e : f.evidence) named |= e.value.find("\"K\"") != std::string::npos;
    CHECK(named);
    bool gap = false;
    for (const auto& g : a.dataGaps) gap |= g.text.find("\"K\"") != std::string::npos;
    CHECK(gap);
    // A missing unit too; a newer usable reading makes the old one no rule's input.
    Bundle none = vaginal(20);
    none.quantity("8310-5", 39.5, "", at(1));
    CHECK(outcomes(assessRecord(none.json(), kAsOf)) == all("review"));
    Bundle newer = vaginal(20);
    newer.quantity("8310-5", 312.0, "K", at(2));
    newer.quantity("8310-5", 36.8, "Cel", at(1));
    CHECK(outcomes(assessRecord(newer.json(), kAsOf)) == all("no-flag"));
}

TEST_CASE("PPM-BLK-03: a caesarean wound complication blocks abdominal massage", "[rules][block]") {
    for (auto code : {std::make_pair(kIcd10cm, "O86.00"), std::make_pair(kIcd10cm, "O90.0"),
                      std::make_pair(kSct, "200125006"), std::make_pair(kIcd10, "O86.0")}) {
        Bundle b = caesarean(45);
        b.woundStatus("healed", at(1));
        b.condition(code.first, code.second);
        INFO(code.second);
        CHECK(outcomes(assessRecord(b.json(), kAsOf)) == with(all("no-flag"), {{"abdominal", "block"}}));
    }
}

TEST_CASE("PPM-BLK-04: a breast abscess blocks breast massage", "[rules][block]") {
    Bundle b = vaginal(20);
    b.condition(kIcd10cm, "O91.12");
    CHECK(outcomes(assessRecord(b.json(), kAsOf)) == with(all("no-flag"), {{"breast", "block"}}));
}

// ---- Review ----------------------------------------------------------------------------

TEST_CASE("PPM-REV-01: blood pressure 150/100 up to the escalate bound", "[rules][review]") {
    for (auto bp : {std::make_pair(150.0, 80.0), std::make_pair(159.0, 109.0), std::make_pair(120.0, 100.0)}) {
        Bundle b = vaginal(20);
        b.bloodPressure(bp.first, bp.second, at(2));
        auto a = assessRecord(b.json(), kAsOf);
        CHECK(outcomes(a) == all("review"));
        CHECK_FALSE(hasFinding(a, "PPM-PREC-03"));
    }
}

TEST_CASE("PPM-REV-03: warfarin needs an INR within 14 days of at most 3.0", "[rules][review]") {
    SECTION("no INR") {
        Bundle b = vaginal(20);
        b.medicationRequest(kRxNorm, "11289");
        auto a = assessRecord(b.json(), kAsOf);
        CHECK(outcomes(a) == all("review"));
        CHECK(hasFinding(a, "PPM-REV-03"));
        CHECK(hasFinding(a, "PPM-PREC-01"));
    }
    SECTION("INR above 3.0") {
        Bundle b = vaginal(20);
        b.medicationRequest(kRxNorm, "855332").quantity("6301-6", 3.4, "{INR}", at(3));
        CHECK(outcomes(assessRecord(b.json(), kAsOf)) == all("review"));
    }
    SECTION("INR in range: light pressure only") {
        Bundle b = vaginal(20);
        b.medicationRequest(kRxNorm, "11289").quantity("34714-6", 2.5, "{INR}", at(3));
        CHECK(outcomes(assessRecord(b.json(), kAsOf)) == all("modify"));
    }
    SECTION("INR older than 14 days counts as none") {
        Bundle b = vaginal(20);
        b.medicationRequest(kRxNorm, "11289").quantity("6301-6", 2.5, "{INR}", at(15));
        CHECK(outcomes(assessRecord(b.json(), kAsOf)) == all("review"));
    }
    SECTION("other anticoagulants need no INR") {
        Bundle b = vaginal(20);
        b.medicationRequest(kRxNorm, "1364430");
        CHECK(outcomes(assessRecord(b.json(), kAsOf)) == all("modify"));
    }
}

TEST_CASE("PPM-REV-04: a hypertensive disorder without a blood pressure in 7 days", "[rules][review]") {
    for (auto code : {std::make_pair(kSct, "398254007"), std::make_pair(kSct, "48194001"),
                      std::make_pair(kIcd10cm, "O13.5"), std::make_pair(kIcd10cm, "O16.5")}) {
        Bundle b = vaginal(20);
        b.condition(code.first, code.second, "active", "provisional");
        INFO(code.second);
        CHECK(outcomes(assessRecord(b.json(), kAsOf)) == all("review"));
        b.bloodPressure(124, 78, at(6));
        CHECK(outcomes(assessRecord(b.json(), kAsOf)) == all("no-flag"));
    }
}

TEST_CASE("PPM-REV-05: no Condition at all means the problem list was not provided", "[rules][review]") {
    Bundle b;
    b.procedure(kSct, "177184002", at(20)).medicationStatement(kRxNorm, "161");
    auto a = assessRecord(b.json(), kAsOf);
    CHECK(outcomes(a) == all("review"));
    CHECK(hasFinding(a, "PPM-REV-05"));
}

// ---- Modify ----------------------------------------------------------------------------

TEST_CASE("PPM-PREC-01: an active anticoagulant means light pressure only", "[rules][modify]") {
    for (auto med :
         {std::make_pair(kRxNorm, "67108"), std::make_pair(kRxNorm, "5224"), std::make_pair(kRxNorm, "1114195"),
          std::make_pair(kAtc, "B01AB05"), std::make_pair(kAtc, "B01AF01")}) {
        Bundle b = vaginal(20);
        b.medicationRequest(med.first, med.second, "on-hold");
        INFO(med.second);
        CHECK(outcomes(assessRecord(b.json(), kAsOf)) == all("modify"));
    }
    for (const char* st : {"completed", "stopped", "cancelled", "entered-in-error"}) {
        Bundle b = vaginal(20);
        b.medicationRequest(kRxNorm, "67108", st);
        CHECK(outcomes(assessRecord(b.json(), kAsOf)) == all("no-flag"));
    }
    Bundle intended = vaginal(20);
    intended.medicationStatement(kRxNorm, "67108", "intended");
    CHECK(outcomes(assessRecord(intended.json(), kAsOf)) == all("modify"));
}

TEST_CASE("PPM-PREC-02: no medication resource at all means anticoagulant status unknown", "[rules][modify]") {
    Bundle b;
    b.procedure(kSct, "177184002", at(20)).condition(kSct, "72892002", "resolved");
    auto a = assessRecord(b.json(), kAsOf);
    CHECK(outcomes(a) == all("modify"));
    CHECK(hasFinding(a, "PPM-PREC-02"));
}

TEST_CASE("PPM-PREC-03: blood pressure 140/90 below the review bound", "[rules][modify]") {
    Bundle b = vaginal(20);
    b.bloodPressure(140, 70, at(1));
    CHECK(outcomes(assessRecord(b.json(), kAsOf)) == all("modify"));
    Bundle d = vaginal(20);
    d.bloodPressure(128, 90, at(1));
    CHECK(outcomes(assessRecord(d.json(), kAsOf)) == all("modify"));
    Bundle n = vaginal(20);
    n.bloodPressure(139, 89, at(1));
    CHECK(outcomes(assessRecord(n.json(), kAsOf)) == all("no-flag"));
}

TEST_CASE("PPM-PREC-04/05: mastitis and diastasis recti modify their own type", "[rules][modify]") {
    Bundle m = vaginal(20);
    m.condition(kIcd10cm, "O91.22");
    CHECK(outcomes(assessRecord(m.json(), kAsOf)) == with(all("no-flag"), {{"breast", "modify"}}));
    Bundle d = vaginal(20);
    d.condition(kIcd10cm, "M62.08");
    CHECK(outcomes(assessRecord(d.json(), kAsOf)) == with(all("no-flag"), {{"abdominal", "modify"}}));
}

TEST_CASE("PPM-PREC-06: perineal trauma changes low-back positioning", "[rules][modify]") {
    Bundle c = vaginal(20);
    c.condition(kSct, "398019008");
    CHECK(outcomes(assessRecord(c.json(), kAsOf)) == with(all("no-flag"), {{"low-back", "modify"}}));
    Bundle icd = vaginal(60);
    icd.condition(kIcd10cm, "O70.1");
    CHECK(outcomes(assessRecord(icd.json(), kAsOf)) == with(all("no-flag"), {{"low-back", "modify"}}));
    Bundle epi = vaginal(20);
    epi.procedure(kSct, "85548006", at(20));
    CHECK(outcomes(assessRecord(epi.json(), kAsOf)) == with(all("no-flag"), {{"low-back", "modify"}}));
    Bundle late = vaginal(42);
    late.procedure(kSct, "85548006", at(42));
    CHECK(outcomes(assessRecord(late.json(), kAsOf)) == all("no-flag"));
}

TEST_CASE("PPM-PREC-07: an oil or latex allergy changes the product advice", "[rules][modify]") {
    Bundle b = vaginal(20);
    b.allergy(kSct, "300916003");
    auto a = assessRecord(b.json(), kAsOf);
    CHECK(outcomes(a) == all("modify"));
    CHECK(hasFinding(a, "PPM-PREC-07"));
    Bundle resolved = vaginal(20);
    resolved.allergy(kSct, "300916003", "resolved");
    CHECK(outcomes(assessRecord(resolved.json(), kAsOf)) == all("no-flag"));
}

// ---- Precedence ------------------------------------------------------------------------

TEST_CASE("Precedence: any escalate makes every type escalate and outranks block", "[rules][precedence]") {
    Bundle b = caesarean(20);
    b.condition(kIcd10cm, "O90.0").condition(kSct, "59282003");
    auto a = assessRecord(b.json(), kAsOf);
    CHECK(outcomes(a) == all("escalate"));
    CHECK(a.escalated());
    for (const auto& m : a.massages) CHECK_FALSE(m.earliestDate.has_value());
}

TEST_CASE("Precedence: defer outranks review, review outranks modify", "[rules][precedence]") {
    Bundle b;  // no Condition: every type review; vaginal day 6: abdominal defer
    b.procedure(kSct, "177184002", at(6)).medicationStatement(kRxNorm, "67108");
    auto a = assessRecord(b.json(), kAsOf);
    CHECK(outcomes(a) == with(all("review"), {{"abdominal", "defer"}}));
    CHECK(earliest(a, "abdominal") == daysBefore(6 - 14));
}

TEST_CASE("Every finding names its rule, outcome, types, data and references", "[rules][findings]") {
    Bundle b = vaginal(20);
    b.quantity("8310-5", 38.6, "Cel", "2025-11-14T07:00:00Z");
    auto a = assessRecord(b.json(), kAsOf);
    REQUIRE(hasFinding(a, "PPM-BLK-01"));
    for (const auto& f : a.findings) {
        if (f.rule->id != "PPM-BLK-01") continue;
        CHECK(f.outcome == Outcome::Block);
        CHECK(f.types.size() == 4);
        CHECK_FALSE(f.rule->references.empty());
        REQUIRE(f.evidence.size() == 1);
        CHECK(f.evidence[0].resourceType == "Observation");
        CHECK(f.evidence[0].code == "8310-5");
        CHECK(f.evidence[0].value == "38.6 Cel");
        CHECK(f.evidence[0].date == "2025-11-14T07:00:00Z");
    }
}

// ---- The delivery episode --------------------------------------------------------------

TEST_CASE("Delivery: any caesarean within a day of the latest record makes the mode caesarean", "[rules][delivery]") {
    Bundle b = Bundle::withBackground();
    b.procedure(kSct, "177184002", at(10)).procedure(kSct, "274130007", at(11));
    auto a = assessRecord(b.json(), kAsOf);
    CHECK(a.episode->mode == DeliveryMode::Caesarean);
    CHECK(*a.postpartumDay == 10);
    CHECK(earliest(a, "abdominal") == daysBefore(10 - 28));
}

TEST_CASE("Delivery: the most recent delivery defines the episode", "[rules][delivery]") {
    Bundle b = Bundle::withBackground();
    b.procedure(kSct, "11466000", at(300)).procedure(kSct, "48782003", at(5));
    auto a = assessRecord(b.json(), kAsOf);
    CHECK(a.episode->mode == DeliveryMode::Vaginal);
    CHECK(*a.postpartumDay == 5);
    CHECK(earliest(a, "abdominal") == daysBefore(5 - 14));
}

TEST_CASE("Delivery: an episiotomy marks a vaginal birth, a not-done procedure is no delivery", "[rules][delivery]") {
    Bundle epi = Bundle::withBackground();
    epi.procedure(kSct, "85548006", at(8));
    auto a = assessRecord(epi.json(), kAsOf);
    CHECK(a.episode->mode == DeliveryMode::Vaginal);
    Bundle notDone = Bundle::withBackground();
    notDone.procedure(kSct, "11466000", at(8), "not-done");
    CHECK(outcomes(assessRecord(notDone.json(), kAsOf)) == all("review"));
}

TEST_CASE("Delivery: older Synthea marks a birth by an obstetric admission and a postnatal visit",
          "[rules][delivery]") {
    Bundle b = Bundle::withBackground();
    b.encounter("183460006", at(50)).encounter("169762003", at(8));
    auto a = assessRecord(b.json(), kAsOf);
    REQUIRE(a.episode.has_value());
    CHECK(a.episode->mode == DeliveryMode::Unknown);
    CHECK(*a.postpartumDay == 50);
    CHECK_FALSE(a.episode->heuristics.empty());
    Bundle admissionOnly = Bundle::withBackground();
    admissionOnly.encounter("183460006", at(50));
    CHECK(outcomes(assessRecord(admissionOnly.json(), kAsOf)) == all("review"));
}

// ---- Choosing the patient --------------------------------------------------------------

TEST_CASE("A birth record: the delivery's subject is assessed and the baby's facts are ignored", "[rules][patients]") {
    std::string json = R"({"resourceType":"Bundle","type":"document","entry":[
      {"fullUrl":"http://x/Patient/baby","resource":{"resourceType":"Patient","id":"baby","gender":"female","birthDate":"2025-10-26"}},
      {"fullUrl":"http://x/Patient/mum","resource":{"resourceType":"Patient","id":"mum","gender":"female","birthDate":"1990-01-01"}},
      {"resource":{"resourceType":"Procedure","id":"p1","status":"completed","code":{"coding":[{"system":"http://snomed.info/sct","code":"11466000"}]},"subject":{"reference":"Patient/mum"},"performedDateTime":"2025-10-26"}},
      {"resource":{"resourceType":"Condition","id":"c1","code":{"coding":[{"system":"http://snomed.info/sct","code":"59282003"}]},"subject":{"reference":"Patient/baby"}}},
      {"resource":{"resourceType":"Condition","id":"c2","clinicalStatus":{"coding":[{"code":"resolved"}]},"code":{"coding":[{"system":"http://snomed.info/sct","code":"72892002"}]},"subject":{"reference":"http://x/Patient/mum"}}},
      {"resource":{"resourceType":"MedicationStatement","id":"m1","status":"active","medicationCodeableConcept":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"161"}]},"subject":{"reference":"Patient/mum"}}}
    ]})";
    auto a = assessRecord(json, kAsOf);
    CHECK(a.patient.source.id == "mum");
    CHECK(outcomes(a) == with(all("no-flag"), {{"abdominal", "defer"}, {"low-back", "modify"}}));
    // Asking for the baby: a child with no delivery of her own is out of scope.
    CHECK(outcomes(assessRecord(json, kAsOf, "baby")) == all("not-applicable"));
}

TEST_CASE("Several patients and no delivery: refused, naming the candidates", "[rules][patients]") {
    std::string json = R"({"resourceType":"Bundle","type":"collection","entry":[
      {"resource":{"resourceType":"Patient","id":"a","name":[{"family":"Ames","given":["Ann"]}]}},
      {"resource":{"resourceType":"Patient","id":"b","name":[{"family":"Bell","given":["Bea"]}]}}]})";
    try {
        assessRecord(json, kAsOf);
        FAIL("expected a refusal");
    } catch (const Error& e) {
        CHECK(e.status() == PPMG_E_AMBIGUOUS_PATIENT);
        CHECK_THAT(e.what(), Catch::Contains("Ann Ames") && Catch::Contains("Bea Bell"));
        CHECK_THAT(e.what(), !Catch::Contains("--patient"));  // the plugin does not name the host's flags
    }
    CHECK(assessRecord(json, kAsOf, "b").patient.source.id == "b");
    CHECK_THROWS_AS(assessRecord(json, kAsOf, "zzz"), Error);
}

TEST_CASE("Delivery: a procedure that does not state the mode (Synthea's Childbirth) is a delivery of unknown mode",
          "[rules][delivery]") {
    Bundle b = Bundle::withBackground();
    b.procedure(kSct, "66348005", at(12));
    auto a = assessRecord(b.json(), kAsOf);
    REQUIRE(a.episode.has_value());
    CHECK(a.episode->mode == DeliveryMode::Unknown);
    CHECK(outcomes(a) == with(all("no-flag"), {{"abdominal", "defer"}, {"low-back", "modify"}}));
    CHECK(earliest(a, "abdominal") == daysBefore(12 - 28));
}
