// ppmg.hpp - a thin header-only C++17 RAII wrapper over the C ABI in ppmg.h.
// Exceptions exist only on this side of the boundary: ppmg::Exception carries the status
// and the error's location.
#ifndef PPMG_PPMG_HPP
#define PPMG_PPMG_HPP

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "ppmg/ppmg.h"

namespace ppmg {

class Exception : public std::runtime_error {
public:
    Exception(ppmg_status status, const std::string& message, std::string file = {}, std::string fhirPath = {},
              std::string resourceId = {}, int64_t line = 0)
        : std::runtime_error(message),
          status_(status),
          file_(std::move(file)),
          fhirPath_(std::move(fhirPath)),
          resourceId_(std::move(resourceId)),
          line_(line) {}
    ppmg_status status() const noexcept { return status_; }
    const std::string& file() const noexcept { return file_; }
    const std::string& fhirPath() const noexcept { return fhirPath_; }
    const std::string& resourceId() const noexcept { return resourceId_; }
    int64_t line() const noexcept { return line_; }  // 1-based line in the input, 0 when unknown

private:
    ppmg_status status_;
    std::string file_, fhirPath_, resourceId_;
    int64_t line_ = 0;
};

// True when a status refuses the request's input or arguments (the caller should fix what it sent:
// a command line exits 2); any other failure is the plugin's or its environment's.
inline bool isInputStatus(ppmg_status s) noexcept {
    switch (s) {
        case PPMG_E_INVALID_ARGUMENT:
        case PPMG_E_PARSE:
        case PPMG_E_NOT_FHIR:
        case PPMG_E_NO_PATIENT:
        case PPMG_E_AMBIGUOUS_PATIENT:
        case PPMG_E_LIMIT:
        case PPMG_E_ENCODING:
        case PPMG_E_UNSUPPORTED: return true;
        default: return false;
    }
}

namespace detail {
inline void check(const ppmg_core_api_v1& api, ppmg_status s, ppmg_error* e) {
    if (s == PPMG_OK) return;
    std::string msg = e && e->message ? e->message : (api.status_name ? api.status_name(s) : "ppmg error");
    std::string file = e && e->file ? e->file : "";
    std::string path = e && e->fhir_path ? e->fhir_path : "";
    std::string id = e && e->resource_id ? e->resource_id : "";
    const int64_t line = e ? e->line : 0;
    api.error_free(e);
    throw Exception(s, msg, file, path, id, line);
}
}  // namespace detail

// Options for a request; the record's bytes are borrowed for the call only.
struct Request {
    std::string_view data;
    ppmg_input_format inputFormat = PPMG_INPUT_AUTO;
    ppmg_output_format outputFormat = PPMG_OUTPUT_DEFAULT;
    std::string asOf;        // "" = today (sent as NULL)
    std::string patientId;   // "" = choose
    std::string sourceName;  // for error messages
    // ABI 1.2: a plugin that agreed on an older version is not asked for them (PPMG_E_UNSUPPORTED).
    ppmg_audience audience = PPMG_AUDIENCE_CLINICIAN;
    std::string language;  // "" = "en"
};

// Owns an engine; movable, not copyable. The api table must outlive it. abiVersion is the version
// the host agreed on with the plugin (ppmg::host::Plugin::abiVersion()): requests are sized for it.
class Engine {
public:
    explicit Engine(const ppmg_core_api_v1& api, const ppmg_engine_options* options = nullptr,
                    uint32_t abiVersion = PPMG_ABI_VERSION)
        : api_(&api), abiVersion_(abiVersion) {
        ppmg_engine_options defaults{};
        defaults.struct_size = sizeof defaults;
        ppmg_error* err = nullptr;
        // The status first: an argument list does not order its evaluations, and err must be
        // read after the call has set it.
        const ppmg_status s = api.engine_create(options ? options : &defaults, &engine_, &err);
        detail::check(api, s, err);
    }
    ~Engine() { reset(); }
    Engine(Engine&& o) noexcept : api_(o.api_), abiVersion_(o.abiVersion_), engine_(o.engine_) { o.engine_ = nullptr; }
    Engine& operator=(Engine&& o) noexcept {
        if (this != &o) {
            reset();
            api_ = o.api_;
            abiVersion_ = o.abiVersion_;
            engine_ = o.engine_;
            o.engine_ = nullptr;
        }
        return *this;
    }
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    std::string assess(const Request& r) const { return call(api_->assess, r); }
    std::string render(const Request& r) const { return call(api_->render, r); }

    // The JSON assessment and the document (CDA, or HTML), from one reading of the record.
    struct Both {
        std::string assessment;
        std::string document;
    };
    // ABI 1.1; with an older plugin, the same from an assess call and a render call.
    bool hasAssessAndRender() const noexcept { return PPMG_CORE_API_HAS(api_, assess_and_render); }
    Both assessAndRender(const Request& r) const {
        if (!hasAssessAndRender()) {
            Request json = r;
            json.outputFormat = PPMG_OUTPUT_JSON;
            return Both{assess(json), render(r)};
        }
        const ppmg_request req = toRequest(r);
        ppmg_buffer* a = nullptr;
        ppmg_buffer* d = nullptr;
        ppmg_error* err = nullptr;
        const ppmg_status s = api_->assess_and_render(engine_, &req, &a, &d, &err);  // before err is read
        detail::check(*api_, s, err);
        Both out;
        try {
            out.assessment.assign(a->data, a->size);
            out.document.assign(d->data, d->size);
        } catch (...) {
            api_->buffer_free(a);
            api_->buffer_free(d);
            throw;
        }
        api_->buffer_free(a);
        api_->buffer_free(d);
        return out;
    }

    ppmg_content_info info() const {
        ppmg_content_info out{};
        out.struct_size = sizeof out;
        detail::check(*api_, api_->content_info(engine_, &out), nullptr);
        return out;
    }
    const ppmg_engine* handle() const noexcept { return engine_; }

private:
    using Call = ppmg_status (*)(const ppmg_engine*, const ppmg_request*, ppmg_buffer**, ppmg_error**);
    // The C request for r, sized for the agreed ABI; it borrows r's strings.
    ppmg_request toRequest(const Request& r) const {
        ppmg_request req{};
        if (PPMG_ABI_MINOR_OF(abiVersion_) >= 2) {
            req.struct_size = sizeof req;
            req.audience = r.audience;
            req.language = r.language.empty() ? nullptr : r.language.c_str();
        } else {
            if (r.audience != PPMG_AUDIENCE_CLINICIAN || !r.language.empty())
                throw Exception(PPMG_E_UNSUPPORTED, "the plugin speaks ABI " +
                                                        std::to_string(PPMG_ABI_MAJOR_OF(abiVersion_)) + "." +
                                                        std::to_string(PPMG_ABI_MINOR_OF(abiVersion_)) +
                                                        ", which has no audience or language (1.2)");
            req.struct_size = static_cast<uint32_t>(PPMG_REQUEST_SIZE_1_1);
        }
        req.data = r.data.data();
        req.size = r.data.size();
        req.input_format = r.inputFormat;
        req.output_format = r.outputFormat;
        req.as_of = r.asOf.empty() ? nullptr : r.asOf.c_str();
        req.patient_id = r.patientId.empty() ? nullptr : r.patientId.c_str();
        req.source_name = r.sourceName.empty() ? nullptr : r.sourceName.c_str();
        req.audience = r.audience;
        req.language = r.language.empty() ? nullptr : r.language.c_str();
        return req;
    }
    std::string call(Call fn, const Request& r) const {
        const ppmg_request req = toRequest(r);
        ppmg_buffer* out = nullptr;
        ppmg_error* err = nullptr;
        const ppmg_status s = fn(engine_, &req, &out, &err);  // before err is read (see above)
        detail::check(*api_, s, err);
        std::string result(out->data, out->size);
        api_->buffer_free(out);
        return result;
    }
    void reset() noexcept {
        if (engine_) api_->engine_destroy(engine_);
        engine_ = nullptr;
    }
    const ppmg_core_api_v1* api_;
    uint32_t abiVersion_;
    ppmg_engine* engine_ = nullptr;
};

}  // namespace ppmg

#endif  // PPMG_PPMG_HPP
