/* A stand-in for a plugin built against ABI 1.0 (before assess_and_render): its entry says 1.0,
 * it refuses hosts that need a newer minor, and its table stops before the 1.1 member. The tests
 * load it to check that an SDK-1.1 host still works with an older plugin, through the 1.0 calls.
 * Its "assessment" and "document" are fixed strings. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "ppmg/ppmg.h"

#define STUB_ABI ((1u << 16) | 0u)

struct ppmg_engine {
    int unused;
};

static ppmg_status copyOut(const char* text, ppmg_buffer** out) {
    size_t n = strlen(text);
    char* bytes = malloc(sizeof(ppmg_buffer) + n + 1);
    if (!bytes) return PPMG_E_NO_MEMORY;
    ppmg_buffer* b = (ppmg_buffer*)bytes;
    memcpy(bytes + sizeof(ppmg_buffer), text, n + 1);
    b->data = bytes + sizeof(ppmg_buffer);
    b->size = n;
    *out = b;
    return PPMG_OK;
}

static ppmg_status engineCreate(const ppmg_engine_options* options, ppmg_engine** out, ppmg_error** error) {
    (void)options;
    if (error) *error = NULL;
    *out = malloc(sizeof(ppmg_engine));
    return *out ? PPMG_OK : PPMG_E_NO_MEMORY;
}

static void engineDestroy(ppmg_engine* engine) { free(engine); }

static ppmg_status answer(const char* text, ppmg_buffer** out, ppmg_error** error) {
    if (error) *error = NULL;
    return copyOut(text, out);
}

static ppmg_status assess(const ppmg_engine* engine, const ppmg_request* request, ppmg_buffer** out,
                          ppmg_error** error) {
    (void)engine;
    (void)request;
    return answer("{\"applicable\":true,\"stub\":\"abi 1.0\"}", out, error);
}

static ppmg_status render(const ppmg_engine* engine, const ppmg_request* request, ppmg_buffer** out,
                          ppmg_error** error) {
    (void)engine;
    (void)request;
    return answer("<ClinicalDocument xmlns=\"urn:hl7-org:v3\"/>", out, error);
}

static ppmg_status contentInfo(const ppmg_engine* engine, ppmg_content_info* out) {
    (void)engine;
    out->content_version = "stub";
    out->content_sha256 = "0";
    out->plugin_version = "1.0.0-stub";
    return PPMG_OK;
}

static void bufferFree(ppmg_buffer* b) { free(b); }
static void errorFree(ppmg_error* e) { (void)e; }
static const char* statusName(ppmg_status s) { return s == PPMG_OK ? "PPMG_OK" : "PPMG_E_STUB"; }

static const ppmg_core_api_v1 kTable = {
    (uint32_t)offsetof(ppmg_core_api_v1, assess_and_render), /* the 1.0 table ends here */
    engineCreate,
    engineDestroy,
    assess,
    render,
    contentInfo,
    bufferFree,
    errorFree,
    statusName,
    NULL};

static ppmg_status negotiate(uint32_t host) {
    if (PPMG_ABI_MAJOR_OF(host) != 1u || PPMG_ABI_MINOR_OF(host) > 0u) return PPMG_E_VERSION;
    return PPMG_OK;
}

static const void* getApi(const char* id) { return id && strcmp(id, PPMG_CORE_API_ID) == 0 ? &kTable : NULL; }

/* The entry exactly as ABI 1.0 laid it out: it ends after get_api, so a host that read the 1.2
 * members (negotiate_version, init) without checking abi_version would read past it (and
 * AddressSanitizer, in the sanitizer stage, would say so). Exported under the name ppmg_entry; its
 * C name differs because ppmg.h declares ppmg_entry with the 1.2 type. */
struct entry_1_0 {
    uint32_t abi_version;
    const char* plugin_version;
    ppmg_status (*negotiate)(uint32_t host_abi_version);
    const void* (*get_api)(const char* id);
};
PPMG_STATIC_ASSERT(sizeof(struct entry_1_0) == offsetof(ppmg_plugin_entry, negotiate_version),
                   "the 1.0 entry is the 1.2 entry's prefix");
__attribute__((visibility("default")))
const struct entry_1_0 stub_entry __asm__("ppmg_entry") = {STUB_ABI, "1.0.0-stub", negotiate, getApi};
