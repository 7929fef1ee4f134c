// What a writer needs besides the assessment and the content: who is writing, for whom, when.
#pragma once

#include <string>

namespace ppmg::core {

struct RenderContext {
    std::string pluginVersion;  // "1.0.0"
    std::string custodianName;  // the configurable custodian organisation
    std::string custodianOid;   // root of its identifiers
    std::string documentId;     // a UUID, lowercase, for ClinicalDocument/id/@root
    std::string effectiveTime;  // "20251115123000+0000": when the document was made
    bool patient = false;       // the handout for her (Content::handout) instead of the clinician's guidance
    size_t language = 0;        // Content::handout.languages index (the handout; the clinician's is English)
};

}  // namespace ppmg::core
