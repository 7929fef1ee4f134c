// The CDS Hooks service's content (`ppmg serve`): the discovery document, reading a hook request
// (its prefetch merged into one FHIR Bundle for the plugin), and turning the plugin's assessment
// JSON into CDS Hooks cards. No I/O and no networking here, so the mapping is testable alone.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ppmg/ppmg.h"

namespace ppmg::cds {

inline constexpr const char* kServiceId = "postpartum-massage-guidance";
// The ppmg local code system (also used in the CDA): rule ids and outcome codes.
inline constexpr const char* kLocalSystem = PPMG_CODE_SYSTEM_URI;
// The extension key carrying the content version in responses.
inline constexpr const char* kContentExtension = "ppmg.content";

struct ContentFacts {
    std::string contentVersion;
    std::string contentSha256;
    std::string pluginVersion;
};

// The content's words and order, as the plugin's assessment carries them ("content": its sign-off
// status, the outcomes in precedence order, the code systems' names, the display texts): every
// sentence of the discovery document and the cards comes from here.
struct ContentTexts {
    std::vector<std::string> outcomeOrder;                                // most severe first
    std::map<std::string, std::pair<std::string, std::string>> outcomes;  // code -> label, sentence
    std::map<std::string, std::string> systems;                           // code system URI -> name
    std::map<std::string, std::string> texts;                             // id -> text
    bool draft = true;                                                    // not signed off

    int rank(std::string_view outcome) const;       // its place in outcomeOrder (unknown: after all)
    std::string text(const std::string& id) const;  // "" when absent
    std::string label(std::string_view outcome) const;
    std::string sentence(std::string_view outcome) const;
    std::string systemName(std::string_view uri) const;  // the URI when the content has no name
    // The text with {name} placeholders filled in; whenAbsent when the content has no such text.
    std::string fill(const std::string& id, std::initializer_list<std::pair<const char*, std::string>> values,
                     const std::string& whenAbsent = {}) const;
};
// Reads them from an assessment (throws std::runtime_error when it has none, or lacks the outcome
// sentences, or is a draft without its draft-notice text).
ContentTexts readContentTexts(std::string_view assessmentJson);

// GET /cds-services: the service for patient-view and for encounter-discharge.
std::string discoveryJson(const ContentFacts& facts, const ContentTexts& texts);

// A hook call, read and checked (context.patientId is required, 400; prefetch "patient" must be
// that patient, 412); its prefetch put into one FHIR R4 collection Bundle, every resource as it
// came, as the command line would read them in one Bundle.
struct HookRequest {
    int status = 0;       // 0 = usable; otherwise the HTTP status to answer (400 or 412)
    std::string problem;  // why, for the OperationOutcome, when status != 0
    std::string hook;
    std::string hookInstance;
    std::string patientId;                 // context.patientId, which the prefetched Patient matches
    std::string bundle;                    // the merged Bundle: every resource, in order, none dropped
    size_t resources = 0;                  // resources in it
    std::vector<std::string> skippedKeys;  // prefetch keys that held no data (null, OperationOutcome)
};
HookRequest readHookRequest(std::string_view body);

struct CardOptions {
    ContentFacts facts;
    std::string sourceLabel;  // "" = the content's title
    std::string sourceUrl;    // absolute URL of the source (required by the cards)
    std::string guidanceUrl;  // absolute URL of the full guidance; "" = no links
    std::string patientId;    // when set, the assessment must be of this patient (else it throws)
};

struct Cards {
    std::string json;  // {"cards":[...],"extension":{...}}
    size_t count = 0;
    std::string indicator;  // the most severe indicator among the cards
};
// Builds the cards from the plugin's assessment JSON. Throws std::runtime_error when the JSON
// is not an assessment.
Cards cardsFromAssessment(std::string_view assessmentJson, const CardOptions& options);

// A FHIR OperationOutcome with one issue.
std::string operationOutcome(std::string_view severity, std::string_view code, std::string_view text);

// The extension object that names the content: {"ppmg.content":{...}} without the braces' key.
std::string contentExtensionJson(const ContentFacts& facts);

}  // namespace ppmg::cds
