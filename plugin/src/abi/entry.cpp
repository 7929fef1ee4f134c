// The C ABI: extern "C" shims that catch everything and map it to status codes. This is the
// only door into the plugin; nothing thrown inside ever crosses it.
#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <shared_mutex>
#include <type_traits>
#include <unordered_set>

#include "base/errors.hpp"
#include "guidance_engine.hpp"
#include "ppmg/ppmg.h"

struct ppmg_engine {
    std::unique_ptr<ppmg::core::GuidanceEngine> impl;
    std::string contentVersion, contentSha, pluginVersion;
};

namespace {

std::string loadedFrom();

// Live engines, so a destroyed or foreign handle is refused instead of dereferenced.
std::shared_mutex gLiveMutex;
std::unordered_set<const ppmg_engine*>& liveEngines() {
    static auto* set = new std::unordered_set<const ppmg_engine*>();  // never destroyed: safe at exit
    return *set;
}

bool isLive(const ppmg_engine* e) {
    std::shared_lock<std::shared_mutex> lock(gLiveMutex);
    return e && liveEngines().count(e) != 0;
}

char* dup(const std::string& s) {
    if (s.empty()) return nullptr;
    char* p = static_cast<char*>(std::malloc(s.size() + 1));
    if (p) std::memcpy(p, s.c_str(), s.size() + 1);
    return p;
}

// One allocation would be tidier, but each field is freed separately by error_free.
void setError(ppmg_error** out, ppmg_status status, const std::string& message,
              const ppmg::core::Location& where = {}) {
    if (!out) return;
    *out = nullptr;
    auto* e = static_cast<ppmg_error*>(std::calloc(1, sizeof(ppmg_error)));
    if (!e) return;
    e->struct_size = sizeof(ppmg_error);
    e->status = status;
    e->message = dup(message.empty() ? std::string("ppmg error") : message);
    e->file = dup(where.file);
    e->fhir_path = dup(where.fhirPath);
    e->resource_id = dup(where.resourceId);
    e->line = where.line;
    *out = e;
}

// Runs fn, turning every exception into a status and an error object.
template <class Fn>
ppmg_status guarded(ppmg_error** error, Fn&& fn) noexcept {
    if (error) *error = nullptr;
    try {
        return fn();
    } catch (const ppmg::core::Error& e) {
        setError(error, e.status(), e.what(), e.where());
        return e.status();
    } catch (const std::bad_alloc&) {
        setError(error, PPMG_E_NO_MEMORY, "out of memory");
        return PPMG_E_NO_MEMORY;
    } catch (const std::exception& e) {
        setError(error, PPMG_E_INTERNAL, std::string("internal error: ") + e.what());
        return PPMG_E_INTERNAL;
    } catch (...) {
        setError(error, PPMG_E_INTERNAL, "internal error: unknown exception");
        return PPMG_E_INTERNAL;
    }
}

// The smallest struct_size each caller-filled struct may have: its size in ABI 1.0 (a host built
// against an older minor passes its own, shorter struct; the members it lacks take defaults).
constexpr uint32_t kRequestSize10 = PPMG_REQUEST_SIZE_1_1;
constexpr uint32_t kOptionsSize10 = sizeof(ppmg_engine_options);
constexpr uint32_t kContentInfoSize10 = sizeof(ppmg_content_info);

ppmg_status checkRequest(const ppmg_engine* engine, const ppmg_request* request, ppmg_buffer** out) {
    if (out) *out = nullptr;
    if (!engine) throw ppmg::core::Error(PPMG_E_BAD_HANDLE, "the engine handle is NULL");
    if (!isLive(engine))
        throw ppmg::core::Error(PPMG_E_BAD_HANDLE, "the engine handle is not a live engine (destroyed?)");
    if (!request) throw ppmg::core::Error(PPMG_E_INVALID_ARGUMENT, "the request is NULL");
    if (request->struct_size < kRequestSize10)
        throw ppmg::core::Error(PPMG_E_INVALID_ARGUMENT, "ppmg_request.struct_size is " +
                                                             std::to_string(request->struct_size) + ", expected " +
                                                             std::to_string(kRequestSize10) + " (ABI 1.1) to " +
                                                             std::to_string(sizeof(ppmg_request)));
    if (!out) throw ppmg::core::Error(PPMG_E_INVALID_ARGUMENT, "the output pointer is NULL");
    if (!request->data && request->size)
        throw ppmg::core::Error(PPMG_E_INVALID_ARGUMENT, "request data is NULL but size is not 0");
    // A size no buffer can have, whatever the limits: nothing is read from it.
    const uintptr_t start = reinterpret_cast<uintptr_t>(request->data);
    if (request->size > static_cast<size_t>(PTRDIFF_MAX) || start + request->size < start)
        throw ppmg::core::Error(PPMG_E_INVALID_ARGUMENT, "request size " + std::to_string(request->size) +
                                                             " is larger than any buffer at that address can be");
    const ppmg_input_format input = request->input_format;
    if (input < PPMG_INPUT_AUTO || input > PPMG_INPUT_HL7V2)
        throw ppmg::core::Error(PPMG_E_INVALID_ARGUMENT, "unknown input_format " + std::to_string(input));
    const ppmg_output_format output = request->output_format;
    if (output < PPMG_OUTPUT_DEFAULT || output > PPMG_OUTPUT_MDM)
        throw ppmg::core::Error(PPMG_E_INVALID_ARGUMENT, "unknown output_format " + std::to_string(output));
    if (request->as_of && request->as_of[0] == '\0')
        throw ppmg::core::Error(PPMG_E_INVALID_ARGUMENT, "as_of is empty: give a YYYY-MM-DD date, or NULL for today");
    if (PPMG_STRUCT_HAS(request, ppmg_request, audience)) {
        const ppmg_audience audience = request->audience;
        if (audience != PPMG_AUDIENCE_CLINICIAN && audience != PPMG_AUDIENCE_PATIENT)
            throw ppmg::core::Error(PPMG_E_INVALID_ARGUMENT, "unknown audience " + std::to_string(audience));
    }
    if (PPMG_STRUCT_HAS(request, ppmg_request, language) && request->language && request->language[0] == '\0')
        throw ppmg::core::Error(PPMG_E_INVALID_ARGUMENT, "language is empty: give a BCP 47 tag, or NULL for \"en\"");
    return PPMG_OK;
}

ppmg::core::RequestSpec toSpec(const ppmg_request* r) {
    ppmg::core::RequestSpec s;
    s.data = std::string_view(r->data ? r->data : "", r->size);
    s.inputFormat = r->input_format;
    s.outputFormat = r->output_format;
    if (r->as_of) s.asOf = r->as_of;
    if (r->patient_id) s.patientId = r->patient_id;
    if (r->source_name) s.sourceName = r->source_name;
    // ABI 1.2 members, read only when the host's struct has them; otherwise their defaults.
    if (PPMG_STRUCT_HAS(r, ppmg_request, audience)) s.audience = r->audience;
    if (PPMG_STRUCT_HAS(r, ppmg_request, language) && r->language) s.language = r->language;
    return s;
}

// A buffer handed to the host: the ppmg_buffer the host sees, and the string the writer built,
// moved in rather than copied (a second large allocation and copy per call). ppmg_buffer is the
// first member of a standard-layout struct, so buffer_free gets the holder back from it.
// data[size] == '\0', as the header promises: a std::string keeps its terminator.
struct BufferHolder {
    ppmg_buffer buffer;
    std::string text;
};
static_assert(std::is_standard_layout_v<BufferHolder>, "buffer_free casts a ppmg_buffer* back to its holder");

ppmg_status toBuffer(std::string&& text, ppmg_buffer** out) {
    auto* h = new BufferHolder{{nullptr, 0}, std::move(text)};
    h->buffer.data = h->text.c_str();
    h->buffer.size = h->text.size();
    *out = &h->buffer;
    return PPMG_OK;
}

ppmg_status engineCreate(const ppmg_engine_options* options, ppmg_engine** out, ppmg_error** error) {
    return guarded(error, [&]() -> ppmg_status {
        if (!out) throw ppmg::core::Error(PPMG_E_INVALID_ARGUMENT, "the output pointer is NULL");
        *out = nullptr;
        ppmg::core::EngineConfig cfg;
        if (options) {
            if (options->struct_size < kOptionsSize10)
                throw ppmg::core::Error(PPMG_E_INVALID_ARGUMENT,
                                        "ppmg_engine_options.struct_size is " + std::to_string(options->struct_size) +
                                            ", expected at least " + std::to_string(kOptionsSize10));
            if (options->content_dir) cfg.contentDir = options->content_dir;
            if (options->custodian_name) cfg.custodianName = options->custodian_name;
            if (options->custodian_oid) cfg.custodianOid = options->custodian_oid;
            // 0 = the default; anything above a maximum is taken as the maximum (ppmg.h).
            const ppmg_limits& l = options->limits;
            if (l.max_input_bytes)
                cfg.limits.maxInputBytes = std::min<uint64_t>(l.max_input_bytes, PPMG_LIMIT_MAX_INPUT_BYTES);
            if (l.max_depth) cfg.limits.maxDepth = std::min<uint32_t>(l.max_depth, PPMG_LIMIT_MAX_DEPTH);
            if (l.max_resources)
                cfg.limits.maxResources = std::min<uint32_t>(l.max_resources, PPMG_LIMIT_MAX_RESOURCES);
            if (l.max_string_bytes)
                cfg.limits.maxStringBytes = std::min<uint32_t>(l.max_string_bytes, PPMG_LIMIT_MAX_STRING_BYTES);
        }
        // A host built before ABI 1.2 never calls init: ask the dynamic loader where this file is.
        if (cfg.contentDir.empty() && ppmg::core::pluginPath().empty()) ppmg::core::setPluginPath(loadedFrom());
        auto engine = std::make_unique<ppmg_engine>();
        engine->impl = std::make_unique<ppmg::core::GuidanceEngine>(std::move(cfg));
        engine->contentVersion = engine->impl->content().version;
        engine->contentSha = engine->impl->content().sha256;
        engine->pluginVersion = PPMG_VERSION;
        {
            std::unique_lock<std::shared_mutex> lock(gLiveMutex);
            liveEngines().insert(engine.get());
        }
        *out = engine.release();
        return PPMG_OK;
    });
}

void engineDestroy(ppmg_engine* engine) {
    if (!engine) return;
    {
        std::unique_lock<std::shared_mutex> lock(gLiveMutex);
        if (!liveEngines().erase(engine)) return;  // not ours, or already destroyed
    }
    delete engine;
}

ppmg_status assessCall(const ppmg_engine* engine, const ppmg_request* request, ppmg_buffer** out, ppmg_error** error) {
    return guarded(error, [&]() -> ppmg_status {
        checkRequest(engine, request, out);
        return toBuffer(engine->impl->assess(toSpec(request)), out);
    });
}

ppmg_status renderCall(const ppmg_engine* engine, const ppmg_request* request, ppmg_buffer** out, ppmg_error** error) {
    return guarded(error, [&]() -> ppmg_status {
        checkRequest(engine, request, out);
        return toBuffer(engine->impl->render(toSpec(request)), out);
    });
}

void bufferFree(ppmg_buffer* b);

ppmg_status assessAndRenderCall(const ppmg_engine* engine, const ppmg_request* request, ppmg_buffer** assessment,
                                ppmg_buffer** document, ppmg_error** error) {
    if (assessment) *assessment = nullptr;
    if (document) *document = nullptr;
    return guarded(error, [&]() -> ppmg_status {
        checkRequest(engine, request, assessment);
        if (!document) throw ppmg::core::Error(PPMG_E_INVALID_ARGUMENT, "the document output pointer is NULL");
        if (document == assessment)
            throw ppmg::core::Error(PPMG_E_INVALID_ARGUMENT,
                                    "the assessment and document output pointers are the same");
        ppmg::core::GuidanceEngine::Both both = engine->impl->assessAndRender(toSpec(request));
        ppmg_buffer* a = nullptr;
        toBuffer(std::move(both.assessment), &a);
        try {
            toBuffer(std::move(both.document), document);
        } catch (...) {
            bufferFree(a);
            throw;
        }
        *assessment = a;
        return PPMG_OK;
    });
}

ppmg_status contentInfo(const ppmg_engine* engine, ppmg_content_info* out) {
    return guarded(nullptr, [&]() -> ppmg_status {
        if (!engine || !isLive(engine)) return PPMG_E_BAD_HANDLE;
        if (!out || out->struct_size < kContentInfoSize10) return PPMG_E_INVALID_ARGUMENT;
        out->content_version = engine->contentVersion.c_str();
        out->content_sha256 = engine->contentSha.c_str();
        out->plugin_version = PPMG_VERSION;
        return PPMG_OK;
    });
}

void bufferFree(ppmg_buffer* b) {
    if (!b) return;
    delete reinterpret_cast<BufferHolder*>(b);  // every buffer comes from toBuffer
}

void errorFree(ppmg_error* e) {
    if (!e) return;
    std::free(const_cast<char*>(e->message));
    std::free(const_cast<char*>(e->file));
    std::free(const_cast<char*>(e->fhir_path));
    std::free(const_cast<char*>(e->resource_id));
    std::free(e);
}

const char* statusName(ppmg_status status) {
    switch (status) {  // any int32_t: a host may pass any value
        case PPMG_OK: return "PPMG_OK";
        case PPMG_E_INVALID_ARGUMENT: return "PPMG_E_INVALID_ARGUMENT";
        case PPMG_E_VERSION: return "PPMG_E_VERSION";
        case PPMG_E_CONTENT: return "PPMG_E_CONTENT";
        case PPMG_E_PARSE: return "PPMG_E_PARSE";
        case PPMG_E_NOT_FHIR: return "PPMG_E_NOT_FHIR";
        case PPMG_E_NO_PATIENT: return "PPMG_E_NO_PATIENT";
        case PPMG_E_AMBIGUOUS_PATIENT: return "PPMG_E_AMBIGUOUS_PATIENT";
        case PPMG_E_LIMIT: return "PPMG_E_LIMIT";
        case PPMG_E_ENCODING: return "PPMG_E_ENCODING";
        case PPMG_E_UNSUPPORTED: return "PPMG_E_UNSUPPORTED";
        case PPMG_E_BAD_HANDLE: return "PPMG_E_BAD_HANDLE";
        case PPMG_E_NO_MEMORY: return "PPMG_E_NO_MEMORY";
        case PPMG_E_INTERNAL: return "PPMG_E_INTERNAL";
    }
    return "PPMG_E_UNKNOWN";
}

const ppmg_core_api_v1 kCoreApi = {
    sizeof(ppmg_core_api_v1),
    engineCreate,
    engineDestroy,
    assessCall,
    renderCall,
    contentInfo,
    bufferFree,
    errorFree,
    statusName,
    assessAndRenderCall,
};

ppmg_status negotiate(uint32_t host) {
    // Same major; the host may be older (it then uses a prefix of our tables) but not newer.
    if (PPMG_ABI_MAJOR_OF(host) != PPMG_ABI_VERSION_MAJOR) return PPMG_E_VERSION;
    if (PPMG_ABI_MINOR_OF(host) > PPMG_ABI_VERSION_MINOR) return PPMG_E_VERSION;
    return PPMG_OK;
}

ppmg_status negotiateVersion(uint32_t* version) {
    if (!version) return PPMG_E_INVALID_ARGUMENT;
    const uint32_t host = *version;
    if (PPMG_ABI_MAJOR_OF(host) != PPMG_ABI_VERSION_MAJOR) {
        *version = PPMG_ABI_VERSION;
        return PPMG_E_VERSION;
    }
    // The lower minor: an older host uses a prefix of our tables, a newer one what we have.
    *version = PPMG_ABI_MINOR_OF(host) < PPMG_ABI_VERSION_MINOR ? host : PPMG_ABI_VERSION;
    return PPMG_OK;
}

ppmg_status init(const char* pluginPath) {
    return guarded(nullptr, [&]() -> ppmg_status {
        if (!pluginPath || !*pluginPath) return PPMG_E_INVALID_ARGUMENT;
        std::string path = pluginPath;
        if (path.front() != '/') {  // relative to the working directory now
            char cwd[PATH_MAX];
            if (!::getcwd(cwd, sizeof cwd)) return PPMG_E_INVALID_ARGUMENT;
            path = std::string(cwd) + "/" + path;
        }
        ppmg::core::setPluginPath(path);
        return PPMG_OK;
    });
}

const void* getApi(const char* id) {
    if (id && std::strcmp(id, PPMG_CORE_API_ID) == 0) return &kCoreApi;
    return nullptr;
}

}  // namespace

extern "C" PPMG_EXPORT const ppmg_plugin_entry ppmg_entry = {PPMG_ABI_VERSION, PPMG_VERSION,     negotiate,
                                                             getApi,           negotiateVersion, init};

namespace {

// This file's path as the dynamic loader recorded it when the host loaded it: how a host built
// before ABI 1.2, which never calls init, still gets the content installed beside the plugin.
std::string loadedFrom() {
    Dl_info info{};
    if (::dladdr(static_cast<const void*>(&ppmg_entry), &info) && info.dli_fname && *info.dli_fname)
        return info.dli_fname;
    return "";
}

}  // namespace
