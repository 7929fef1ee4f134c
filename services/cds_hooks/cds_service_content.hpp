// What `ppmg serve` reads from the content itself, besides what the engine does with it: the coded
// override reasons its cards offer, and what to fetch from a FHIR server (the Observation codes
// and date windows the rules use). Read from the same ppmg-content.xml the engine loaded, checked
// by its SHA-256, so the service never works from another content than the engine.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace ppmg::cds {

struct OverrideReason {
    std::string code;     // in the ppmg local code system
    std::string display;  // the content's text
};

// A code in FHIR terms: system URI and code.
using SystemCode = std::pair<std::string, std::string>;

// What a fetch from a FHIR server asks for, from the content (rule 21: the same facts as a full
// prefetch). The rules read Observations only through the measures, the delivery date
// Observation and the caesarean wound status; every clause that reads them has a window.
struct FetchPlan {
    std::vector<SystemCode> observationCodes;   // measures and wound status: read within a window
    std::vector<SystemCode> deliveryDateCodes;  // the delivery date Observation: read at any date
    int observationWindowDays = 0;              // the largest withinDays of any Observation clause
    bool prefixCodes = false;                   // a code system matched by prefix: no code filter
};

// A link to the mother's handout, in one of the content's handout languages: the label is the
// handout's title in that language and the language's own name (both from the content).
struct HandoutLanguage {
    std::string code;   // BCP 47, as `lang` takes it ("en", "zh-CN")
    std::string label;  // "Massage after your baby's birth (English)"
};

struct ServiceContent {
    std::string file;  // the ppmg-content.xml read
    std::string sha256;
    std::string version;
    std::string localSystem;  // the local code system's URI
    std::vector<OverrideReason> overrideReasons;
    std::vector<HandoutLanguage> handouts;  // in the content's order
    FetchPlan fetch;
};

// Reads DIR/ppmg-content.xml. Throws std::runtime_error naming the problem.
ServiceContent loadServiceContent(const std::string& contentDir);

// The content directory the engine uses: `option` (--content) when given; else, as the plugin
// finds it, <prefix>/<installRel> one or two levels above the plugin's directory; else
// `sourceDir` (a build tree).
std::string findContentDir(const std::string& option, const std::string& pluginPath, const std::string& installRel,
                           const std::string& sourceDir);

}  // namespace ppmg::cds
