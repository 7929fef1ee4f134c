// The clinical content, loaded once from content/ppmg-content.xml and immutable afterwards.
// Code holds the mechanisms; this model holds the medicine (codes, thresholds, texts, references).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/text_arena.hpp"

namespace ppmg::core {

enum class Outcome : uint8_t { Escalate, Block, Defer, Review, Modify, NoFlag, NotApplicable };

// Precedence: a lower rank is stronger (escalate > block > defer > review > modify > no-flag).
inline int outcomeRank(Outcome o) { return static_cast<int>(o); }
const char* outcomeCode(Outcome o);  // "escalate", ..., "not-applicable"
bool parseOutcome(const std::string& s, Outcome& out);

struct CodeSystem {
    std::string id;                    // short id used in content, e.g. "sct"
    std::string uri;                   // FHIR system, e.g. "http://snomed.info/sct"
    std::string oid;                   // CDA codeSystem OID
    std::string name;                  // "SNOMED CT"
    bool prefixMatch = false;          // ICD-10(-CM), ATC: match by prefix, dots removed
    std::vector<std::string> aliases;  // other names records use (HL7 v2 table 0396 mnemonics)
    std::string oidUrn;                // "urn:oid:" + oid
};

// True when the code, its dots ignored, starts with the prefix (ICD-10, ATC: prefix systems).
inline bool startsWithIgnoringDots(std::string_view code, std::string_view prefix) {
    size_t i = 0;
    for (char c : code) {
        if (i == prefix.size()) break;
        if (c == '.') continue;
        if (c != prefix[i]) break;
        ++i;
    }
    return i == prefix.size();
}

// A value set: codes by system; prefix systems hold dot-less prefixes.
struct ValueSet {
    std::string id;
    std::string name;
    // key: system uri; value: exact codes (or dot-less prefixes for prefix systems). Views into
    // text, so a record's codings (views too) are looked up without building a string.
    std::unordered_map<std::string_view, std::unordered_set<std::string_view>> exact;
    std::unordered_map<std::string_view, std::vector<std::string_view>> prefixes;
    std::shared_ptr<TextArena> text = std::make_shared<TextArena>();
    // Its bit in CodeIndex masks (ordinal < CodeIndex::kBits), or CodeIndex::kNotIndexed.
    size_t ordinal = static_cast<size_t>(-1);

    void addCode(std::string_view system, std::string_view code) {
        auto it = exact.find(system);
        if (it == exact.end()) it = exact.emplace(text->keep(system), std::unordered_set<std::string_view>{}).first;
        if (!it->second.count(code)) it->second.insert(text->keep(code));
    }
    void addPrefix(std::string_view system, std::string_view prefix) {
        auto it = prefixes.find(system);
        if (it == prefixes.end()) it = prefixes.emplace(text->keep(system), std::vector<std::string_view>{}).first;
        for (std::string_view p : it->second)
            if (p == prefix) return;
        it->second.push_back(text->keep(prefix));
    }
};

// Which value sets hold a coding, for all value sets at once: a record's facts are classified once
// per assessment (one lookup per coding) and every clause then tests a bit, instead of hashing the
// coding again for every clause that names a value set. Built when the content loads. Value sets
// past the first kBits (by id) are not indexed; the rule engine asks them directly.
class CodeIndex {
public:
    using Mask = uint64_t;
    static constexpr size_t kBits = 64;
    static constexpr size_t kNotIndexed = static_cast<size_t>(-1);

    // Numbers the value sets (ordinal, in id order) and indexes their codes.
    void build(std::unordered_map<std::string, ValueSet>& valueSets);

    // The value sets that hold the coding (exact code, or a dot-less prefix for prefix systems).
    Mask mask(std::string_view system, std::string_view code) const;
    // The value sets that hold any of the codings.
    template <class Codings>
    Mask maskOf(const Codings& codes) const {
        Mask m = 0;
        for (const auto& c : codes) m |= mask(c.system, c.code);
        return m;
    }
    static bool indexed(const ValueSet& vs) { return vs.ordinal < kBits; }
    static Mask bit(const ValueSet& vs) { return Mask{1} << vs.ordinal; }

private:
    // Views into the value sets' arenas (shared by copies of the sets).
    std::unordered_map<std::string_view, std::unordered_map<std::string_view, Mask>> exact_;
    std::unordered_map<std::string_view, std::vector<std::pair<std::string_view, Mask>>> prefixes_;
    std::vector<std::shared_ptr<TextArena>> keep_;  // the arenas the views point into
};

struct UnitConversion {
    std::string code;   // UCUM code as found in valueQuantity.code (or unit)
    double offset = 0;  // canonical = (value + offset) * scale
    double scale = 1;
};

// An observation measure: which codes, which canonical unit, which units convert.
struct Measure {
    std::string id;        // "temperature"
    std::string display;   // "Body temperature"
    std::string unit;      // canonical UCUM unit, "Cel"
    std::string valueSet;  // value set id of the observation / component codes
    std::vector<UnitConversion> units;
    // The longest window a rule reads it over (kNotRead: no rule reads it), found at load.
    int ruleWindowDays = kNotRead;
    static constexpr int kNotRead = -2;
};

// One clause of a rule's condition. Leaves read the record; allOf/anyOf/noneOf combine.
struct Clause {
    enum class Kind {
        AllOf,
        AnyOf,
        NoneOf,
        Condition,              // valueSet: an active Condition with a code in it
        Medication,             // valueSet: an active MedicationRequest/Statement
        Allergy,                // valueSet: an active AllergyIntolerance
        Observation,            // measure, withinDays, bounds: the latest value meets them
        NoObservation,          // measure, withinDays: no usable value in the window
        NoResource,             // resourceTypes: none of these resources in the input at all
        DeliveryMode,           // values: caesarean | vaginal | unknown
        PostpartumDay,          // bounds on the postpartum day
        WoundStatus,            // values (plus "missing"), withinDays: the latest status
        EpisodeProcedure,       // valueSet: a procedure in the delivery episode
        NoDelivery,             // no delivery on record at all
        FutureDelivery,         // a delivery dated after the as-of date
        LastDeliveryOlderThan,  // days
        PatientGender,          // values
        PatientAge,             // bounds on completed years
        UnusableUnit,           // a value a rule reads whose unit is missing or not convertible (rule 8)
        LaterPregnancy,         // a delivery record beyond the later-pregnancy window (rule 3)
        UndatedDelivery,        // a delivery-coded Condition or Observation without a date (rule 5)
        CaesareanWithin,        // days: a caesarean record less than N days old (rule 17)
        UncodedCondition,       // an active Condition with no coding at all (rule 9)
        UnknownSubject,         // values "one" | "several": facts of unknown subject, by patients (rule 20)
        UnknownMedication,      // a medication whose medicine is unknown (rule 20)
        UnreadableStatus        // a Condition or allergy whose status cannot be read (rule 19)
    };
    Kind kind = Kind::AllOf;
    std::vector<Clause> children;
    std::string valueSet;
    const ValueSet* valueSetRef = nullptr;  // Content::valueSets[valueSet], resolved at load
    std::string measure;
    std::vector<std::string> values;
    std::vector<std::string> resourceTypes;
    int withinDays = -1;
    int days = 0;
    // Bounds; NaN when absent. atLeast: >=, above: >, below: <, atMost: <=.
    double atLeast, above, below, atMost;
    Clause();
};

struct Rule {
    std::string id;           // "PPM-TIME-01"; several rows may share an id
    std::string derivedFrom;  // the research report's rule id it derives from ("" when none)
    std::string title;
    Outcome outcome = Outcome::NoFlag;
    std::vector<size_t> types;  // indexes into Content::massageTypes
    int earliestDay = -1;       // defer: earliest date = delivery + earliestDay
    std::string reason;         // why, in plain words
    std::string action;         // what to do: modification, or what the reviewer checks
    // The action as written for one massage type (rule 12), in place of action for that type.
    std::vector<std::pair<size_t, std::string>> typeActions;
    std::string gap;  // when the rule reads missing data: the data gap it names
    std::vector<std::string> references;
    Clause when;

    // The action for massage type t: its own wording when the content has one, else action.
    const std::string& actionFor(size_t t) const {
        for (const auto& [type, text] : typeActions)
            if (type == t) return text;
        return action;
    }
};

struct Benefit {
    std::string text;
    std::string grade;  // "Low", "Very low", ...
    std::vector<std::string> references;
};

struct MassageType {
    std::string code;          // "abdominal"
    std::string display;       // "Abdominal massage"
    std::string bodySiteCode;  // SNOMED body site
    std::string bodySiteDisplay;
    std::string timing;
    std::vector<std::string> technique;
    std::vector<std::string> precautions;
    std::vector<Benefit> benefits;
    std::vector<Benefit> notSupported;  // claims shown only as "not supported by evidence"
    std::vector<std::string> references;
};

struct Reference {
    std::string id;
    std::string citation;
    std::string url;
};

struct WarningSign {
    std::string id;
    std::string text;
};

struct DataGapDef {
    std::string id;
    std::string name;  // the gap by name, without advice ("" = text)
    std::string text;
    Clause when;
    // Its clauses name records (unknown subjects, undated deliveries, unreadable statuses): the gap
    // lists them after its text.
    bool namesData = false;
};

struct OutcomeText {
    std::string label;  // "Not yet"
    std::string text;   // "Not yet: ..." ({asOf} is replaced)
};

struct DeliveryConfig {
    std::string caesareanValueSet;
    std::string vaginalValueSet;
    std::string unspecifiedValueSet;  // delivery procedures that do not state the mode ("" = none)
    std::string dateObservationValueSet;
    std::string obstetricAdmissionValueSet;
    std::string postnatalVisitValueSet;
    int postnatalWindowDays = 84;
    int episodeWindowDays = 1;
    int laterPregnancyDays = 180;           // a delivery record further after the as-of date: a later pregnancy
    std::string methodObservationValueSet;  // delivery method observations (valued by mode), "" = none
    std::string woundStatusValueSet;        // the cs-wound-status observation code
    // Wound status values, worst first, with "missing" among them: those after it clear a flag.
    std::vector<std::string> woundStatusOrder;
};

// ---- the patient handout: every text in every language of the handout ---------------------------

// One text per language, by Handout::languages index (the loader refuses a missing one).
using Translated = std::vector<std::string>;

struct HandoutLanguage {
    std::string code;     // the request's language: "en", "zh-CN"
    std::string cdaCode;  // ClinicalDocument/languageCode: "en-US", "zh-CN"
    std::string name;     // "English", "简体中文"
    bool draft = true;    // not yet clinically (and, for a translation, linguistically) signed off
    std::string signOff;  // the record of that sign-off, as text
};

struct HandoutType {
    Translated name;
    std::vector<Translated> steps;
    std::vector<Translated> takeCare;
};

struct HandoutRuleText {
    std::string rule;  // rule id
    Outcome outcome = Outcome::NoFlag;
    std::vector<size_t> types;  // massage types it is written for (all of the rule's when empty)
    Translated text;
};

struct Handout {
    std::vector<HandoutLanguage> languages;  // [0] is the default ("en")
    std::map<std::string, Translated> phrases;
    std::vector<HandoutType> types;  // by Content::massageTypes index
    std::vector<HandoutRuleText> rules;
    std::vector<Translated> warningSigns;  // by Content::warningSigns index

    // The index of a language by its code, or npos.
    size_t language(std::string_view code) const {
        for (size_t i = 0; i < languages.size(); ++i)
            if (languages[i].code == code) return i;
        return static_cast<size_t>(-1);
    }
    // A phrase in a language; the loader checks every phrase the writers use is there.
    const std::string& phrase(const std::string& id, size_t lang) const;
    // The text written for a finding of this rule and outcome, for massage type t, or nullptr.
    const Translated* ruleText(const std::string& rule, Outcome outcome, size_t t) const;
};

// The phrase ids the handout writer uses: the loader refuses content that lacks one.
extern const char* const kHandoutPhraseIds[];
extern const size_t kHandoutPhraseCount;

// Loaded once and shared read-only; not copyable, since clauses point at its value sets.
struct Content {
    Content() = default;
    Content(const Content&) = delete;
    Content& operator=(const Content&) = delete;

    std::string version;
    std::string sha256;
    std::string title;
    std::string signOff;    // the record of clinical sign-off, as text
    bool draft = true;      // signOff status is not "signed": every output says so (rule 16)
    std::string directory;  // where it was loaded from
    std::vector<CodeSystem> codeSystems;
    std::unordered_map<std::string, ValueSet> valueSets;
    CodeIndex codeIndex;  // over valueSets
    std::unordered_map<std::string, Measure> measures;
    std::vector<MassageType> massageTypes;
    std::vector<Rule> rules;
    std::vector<DataGapDef> dataGaps;
    std::vector<Reference> references;
    std::vector<WarningSign> warningSigns;
    std::string warningSignsIntro;
    std::string urgentText;
    std::array<OutcomeText, 7> outcomeTexts;  // by Outcome
    DeliveryConfig delivery;
    // Every wound status value the rules name; any other recorded value counts as missing.
    std::unordered_set<std::string> woundStatusValues;
    std::map<std::string, std::string> texts;       // other display texts by id
    std::map<std::string, std::string> unitLabels;  // a record's unit code -> as people write it
    Handout handout;                                // empty languages: no handout in this content

    const Reference* findReference(const std::string& id) const;
    const CodeSystem* systemByUri(std::string_view uri) const;
    // The system a coding names by uri, OID, urn:oid:OID or alias; nullptr when none.
    const CodeSystem* systemByName(std::string_view name) const;
    // Every name of every system (uri, OID, urn:oid:OID, aliases), built at load; the keys view the
    // systems' strings.
    std::unordered_map<std::string_view, const CodeSystem*> systemNames;
    const CodeSystem* systemById(const std::string& id) const;
    const std::string& text(const std::string& id) const;  // "" when absent
    // "38.9 Cel" -> "38.9 °C": a value whose last word is a unit code, with the unit as people write it.
    std::string readableValue(std::string_view value) const;
    // The data gap's name (rule 11), for a gap the rules or the data-gap list named.
    std::string gapName(const std::string& id, const std::string& text) const;
};

// True when any coding is in the value set (prefix systems: dot-less prefix match).
template <class Codings>
bool inValueSet(const ValueSet& vs, const Codings& codes);

// Loads <dir>/ppmg-content.xml, validates it against <dir>/schema/ppmg-content.xsd and
// checks its references. Throws ContentError with the file and a message.
std::shared_ptr<const Content> loadContent(const std::string& dir);

}  // namespace ppmg::core

#include "content/value_set_match.hpp"
